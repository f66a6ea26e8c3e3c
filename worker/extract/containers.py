"""Zip containers (DOCX, XLSX) and the errors that damaged files make parsers raise."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path
from xml.parsers.expat import ExpatError

from defusedxml.common import DefusedXmlException

from schema.errors import InputFileError

# What reading a member of a damaged zip can raise (bad CRC, truncated or corrupt deflate
# data, an unsupported compression method).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError)
# What the parsers (ElementTree, openpyxl, pypdf) raise on damaged input: besides their
# own errors, XML syntax errors (ParseError is a SyntaxError), an unknown encoding in an
# XML declaration (LookupError), and the type and value errors of code that trusts the
# file's structure. Caught only around those parsers' calls.
PARSER_ERRORS = (
    *ZIP_ERRORS, SyntaxError, ExpatError, LookupError, ValueError, TypeError, AttributeError,
    AssertionError, ArithmeticError, RecursionError,
)  # fmt: skip


def damaged(name: str, what: str, exc: BaseException) -> InputFileError:
    """The error for a file whose ``what`` (a part, a kind of file) could not be parsed."""
    if isinstance(exc, DefusedXmlException):
        return InputFileError(
            f"{name}: refused: the {what} declares a DTD or entities ({type(exc).__name__}); "
            "Office never writes them, and they can expand without bound or read other files"
        )
    if isinstance(exc, RecursionError):
        return InputFileError(f"{name}: damaged {what} (its objects refer to each other in a loop)")
    return InputFileError(f"{name}: damaged {what} ({type(exc).__name__}: {exc})")


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(4)
    except OSError as exc:
        raise InputFileError(f"{path.name}: cannot be read ({exc.strerror})") from exc


def check_zip(name: str, raw: bytes | Path, max_unzipped_bytes: int) -> zipfile.ZipFile:
    """Open a zip container (DOCX, XLSX; its bytes, or its file, of which only the
    directory is read), refusing encrypted, damaged or bomb archives. The unpacked size
    is the sum its directory declares: zipfile never unpacks a member past its declared
    size, so a directory that lies gets a damaged file, not more bytes."""
    head = raw[:4] if isinstance(raw, bytes) else _head(raw)
    if head == b"\xd0\xcf\x11\xe0":
        raise InputFileError(
            f"{name}: the file is password-protected (encrypted) or an old binary Office "
            "format; save it again without a password as .docx or .xlsx"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw) if isinstance(raw, bytes) else raw)
    except (*ZIP_ERRORS, ValueError) as exc:
        raise InputFileError(f"{name}: damaged or not an Office file ({exc})") from exc
    try:
        _check_members(name, archive.infolist(), max_unzipped_bytes)
    except InputFileError:
        archive.close()  # a file's handle, not left to the garbage collector
        raise
    return archive


def _check_members(name: str, members: list[zipfile.ZipInfo], max_unzipped_bytes: int) -> None:
    total = sum(m.file_size for m in members)
    if total > max_unzipped_bytes:
        raise InputFileError(
            f"{name}: unpacks to {total / 2**20:.0f} MB, over the limit of "
            f"{max_unzipped_bytes / 2**20:.0f} MB (CENR_MAX_UNZIPPED_MB); refused as a "
            "possible zip bomb"
        )
    if any(m.flag_bits & 0x1 for m in members):
        raise InputFileError(f"{name}: the archive is password-protected")
