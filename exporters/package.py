"""The reviewer's package: the HTML bundle with the job's review workbook(s) inside it.

The bundle zip (:mod:`exporters.html_bundle`) unzips to one folder, ``cenr-JOB/``, with
``index.html`` and ``protocols/NNNNN.html``. Adding the review workbooks at
``cenr-JOB/review*.xlsx`` makes that folder the reviewer's package: each workbook row's
Protocol ID links to ``protocols/NNNNN.html`` relative to the workbook
(:func:`exporters.links.page_path`), so after unzipping, one click opens the protocol's
page, offline, wherever the folder is (names are ASCII, links relative with forward
slashes: Windows and macOS alike).

The workbooks are written beside the bundle (by other processes, for a big job), so they
are added afterwards: the bundle is copied under a temporary name, the workbooks appended
(stored: an xlsx is a zip already), and the copy renamed onto the bundle, so no reader
sees half a package.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

from exporters.files import atomic_target


def package_root(bundle: Path) -> str:
    """The bundle's one top folder (``cenr-JOB``)."""
    with zipfile.ZipFile(bundle) as archive:
        roots = {name.split("/", 1)[0] for name in archive.namelist()}
    if len(roots) != 1:
        raise ValueError(f"{bundle.name}: not an HTML bundle (top folders: {sorted(roots)})")
    return roots.pop()


def safe_name(name: str) -> str:
    """A workbook's name inside the package: its own name when it is plain ASCII without
    a path, else letters, digits, ``-``, ``_``, ``.`` and ``()`` kept, the rest ``_``."""
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "-_.() ") else "_" for c in name)
    return kept.strip(" .") or "review.xlsx"


def add_workbooks(bundle: Path, workbooks: Sequence[Path]) -> Path:
    """Put ``workbooks`` into ``bundle`` at ``cenr-JOB/<name>`` (one folder with the
    pages), replacing a workbook of that name a previous run put there; returns
    ``bundle``."""
    if not workbooks:
        return bundle
    root = package_root(bundle)
    wanted = {f"{root}/{safe_name(path.name)}": path for path in workbooks}
    with zipfile.ZipFile(bundle) as archive:
        present = set(archive.namelist())
    with atomic_target(bundle) as temporary:
        if present & set(wanted):  # a re-export: copy the rest, entry by entry
            with (
                zipfile.ZipFile(bundle) as source,
                zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as target,
            ):
                for info in source.infolist():
                    if info.filename not in wanted:
                        with source.open(info) as reading, target.open(info, "w") as writing:
                            shutil.copyfileobj(reading, writing)
                _append(target, wanted)
        else:
            shutil.copyfile(bundle, temporary)
            with zipfile.ZipFile(temporary, "a") as target:
                _append(target, wanted)
    return bundle


def _append(archive: zipfile.ZipFile, wanted: dict[str, Path]) -> None:
    for name, path in sorted(wanted.items()):
        archive.write(path, name, compress_type=zipfile.ZIP_STORED)
