"""Uploaded files on their way to the disk: checked names, checked types, bounded size.

A file name from a browser is untrusted: only its last component is kept, characters
outside a small set become ``_``, names that are empty or start with a dot are refused,
and the final path is checked to lie inside the request's own new folder. Files are
copied in chunks and refused as soon as they pass the size limit, so an oversized upload
never fills the disk.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

from schema.errors import InputFileError

PROTOCOL_TYPES = (".txt", ".md", ".docx", ".pdf", ".csv", ".xlsx", ".jsonl")
WORKBOOK_TYPES = (".xlsx",)
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")
CHUNK = 1 << 20


def safe_name(name: str, allowed: tuple[str, ...]) -> str:
    """The file name to store ``name`` under, or InputFileError naming the problem."""
    base = _UNSAFE.sub("_", name.replace("\\", "/").split("/")[-1]).strip(" ")
    if not base or base.startswith(".") or len(base) > 200:
        raise InputFileError(f"{name!r}: not a usable file name")
    if Path(base).suffix.lower() not in allowed:
        raise InputFileError(
            f"{base}: type {Path(base).suffix or '(none)'} is not accepted; "
            f"upload {', '.join(allowed)}"
        )
    return base


def save_upload(
    stream: BinaryIO, name: str, folder: Path, limit: int, allowed: tuple[str, ...]
) -> Path:
    """Copy an uploaded file into ``folder`` (the request's own); returns its path. A
    second file of the same name gets a numbered name."""
    base = safe_name(name, allowed)
    target = (folder / base).resolve()
    number = 1
    while target.exists():
        number += 1
        target = (folder / f"{Path(base).stem} ({number}){Path(base).suffix}").resolve()
    if target.parent != folder.resolve():
        raise InputFileError(f"{name!r}: not a usable file name")
    written = 0
    with target.open("wb") as out:
        while chunk := stream.read(CHUNK):
            written += len(chunk)
            if written > limit:
                break
            out.write(chunk)
    if written > limit:
        target.unlink()
        raise InputFileError(f"{base}: larger than the upload limit of {limit / 2**20:.0f} MB")
    if written == 0:
        target.unlink()
        raise InputFileError(f"{base}: the file is empty")
    return target
