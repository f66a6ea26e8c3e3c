"""LibreOffice for the workbook tests: a workbook converted (and so recalculated) or sorted
as a reviewer's spreadsheet program would. Each call runs its own headless soffice with a
private user profile, so tests in parallel do not share one. A missing LibreOffice fails
the test with what to install (the CI and `make services` install it), never skips it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL = "LibreOffice is missing: apt-get install libreoffice-calc python3-uno"
UNO_PYTHON = "/usr/bin/python3"  # the system Python, which has the `uno` module
SORT_SCRIPT = Path(__file__).with_name("office_sort.py")


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.fail(INSTALL)
    return found


def _profile(work: Path) -> str:
    return f"-env:UserInstallation={(work / 'lo-profile').resolve().as_uri()}"


def convert(path: Path, out_dir: Path, to: str = "xlsx") -> Path:
    """``path`` opened and saved again by LibreOffice (``xlsx``: its formulas recalculated,
    there being no cached values; ``pdf``: printed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [soffice(), _profile(out_dir), "--headless", "--norestore", "--convert-to", to,
         "--outdir", str(out_dir), str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    target = out_dir / f"{path.stem}.{to}"
    assert done.returncode == 0, done.stdout + done.stderr
    assert target.is_file(), done.stdout + done.stderr
    return target


def sort_rows(path: Path, target: Path, sheet: str, column: int, rows: int, columns: int) -> str:
    """Sort rows 2..``rows`` + 1 of ``sheet`` by 0-based ``column``, ascending, in a headless
    LibreOffice driven through UNO (XSortable, as Data > Sort does); save as ``target``.
    Returns what the script printed."""
    if not Path(UNO_PYTHON).is_file():
        pytest.fail(INSTALL)
    done = subprocess.run(
        [UNO_PYTHON, str(SORT_SCRIPT), soffice(), _profile(target.parent), str(path.resolve()),
         str(target.resolve()), sheet, str(column), str(rows), str(columns)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
