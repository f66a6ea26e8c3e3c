"""Zip containers (DOCX, XLSX) and the errors that damaged files make parsers raise."""

from __future__ import annotations

import io
import zipfile
import zlib
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


def check_zip(name: str, raw: bytes, max_unzipped_bytes: int) -> zipfile.ZipFile:
    """Open a zip container (DOCX, XLSX), refusing encrypted, damaged or bomb archives."""
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(
            f"{name}: the file is password-protected (encrypted) or an old binary Office "
            "format; save it again without a password as .docx or .xlsx"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = archive.infolist()
    except (*ZIP_ERRORS, ValueError) as exc:
        raise InputFileError(f"{name}: damaged or not an Office file ({exc})") from exc
    total = sum(m.file_size for m in members)
    if total > max_unzipped_bytes:
        raise InputFileError(
            f"{name}: unpacks to {total / 2**20:.0f} MB, over the limit of "
            f"{max_unzipped_bytes / 2**20:.0f} MB (CENR_MAX_UNZIPPED_MB); refused as a "
            "possible zip bomb"
        )
    if any(m.flag_bits & 0x1 for m in members):
        raise InputFileError(f"{name}: the archive is password-protected")
    return archive
