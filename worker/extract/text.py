"""Turn the bytes of a text file into text, telling encodings apart and refusing binaries.

Each file's encoding is found on its own. Order: a byte-order mark (UTF-8, UTF-16,
UTF-32) wins; then UTF-16 without a mark is recognised by its pattern of zero bytes;
then strict UTF-8, the first choice whenever the whole file decodes as UTF-8. A file that
is mostly UTF-8 with some bytes that are not (a paste from a Windows program into a UTF-8
file) is refused, naming the first bad byte's line (and, for a table, its row): decoded
either way, part of it would be mojibake. Any other file is in a legacy 8-bit encoding,
which charset-normalizer (a maintained detector) tells apart by how each decoding reads;
where it cannot tell Windows-1252 from its neighbours (they differ in a few letters),
Windows-1252 wins, what Word and Excel on Windows write in the offices this serves.
Text with NUL or many control characters is a binary file with a text name, and is
refused rather than classified as gibberish.

Text from every other reader goes through :func:`clean_text`, so no NUL (which
PostgreSQL text columns refuse) and no lone surrogate (which cannot be encoded as UTF-8)
ever reaches storage.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from schema.errors import InputFileError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A well-formed UTF-8 sequence of two to four bytes (RFC 3629's table).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_NON_ASCII = re.compile(rb"[\x80-\xff]")
# Mixed, not legacy, when at least one in MIXED_SHARE of the non-ASCII characters is
# well-formed UTF-8: a Windows-1252 file holds such a pair only by chance (an "Ã" before
# a symbol), a UTF-8 file with a pasted Windows quote mostly holds nothing else.
MIXED_SHARE = 10
WESTERN = "cp1252"  # preferred among the legacy encodings that read a file equally well
SAMPLE = 1 << 20  # characters of a legacy file whose mess is measured
MESS_TOLERANCE = 0.02


def _guess_utf16(raw: bytes) -> str | None:
    sample = raw[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _unicode_encoding(raw: bytes) -> str | None:
    """UTF-8/16/32 when a byte-order mark, the zero bytes or a clean decode say so."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    utf16 = _guess_utf16(raw)
    if utf16:
        return utf16
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "utf-8"


def legacy_encoding(raw: bytes) -> str:
    """The 8-bit encoding of bytes that are not Unicode: Windows-1252 when it reads them
    no worse than charset-normalizer's best reading (by the detector's own measure of
    mess: on short Western text the detector's pick among cp1250, cp1252, cp1257 and cp775
    is a coin toss), else the detector's best; Latin-1, which decodes anything, last."""
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    best = from_bytes(raw).best()
    try:
        western = raw.decode(WESTERN)
    except UnicodeDecodeError:
        return str(best.encoding) if best is not None else "latin-1"
    if best is None or mess_ratio(western[:SAMPLE], 1.0) <= best.chaos + MESS_TOLERANCE:
        return WESTERN
    return str(best.encoding)


def detect_encoding(raw: bytes) -> str:
    """The encoding :func:`decode_text` would use for ``raw`` (which may still refuse
    it: binary, or mixed encodings)."""
    return _unicode_encoding(raw) or legacy_encoding(raw)


def decode_text(raw: bytes, name: str, row_of: Callable[[str, int], int] | None = None) -> str:
    """Text of a file's bytes; :class:`InputFileError` naming ``name`` for binary content
    or mixed encodings (``row_of(text, line)``: the table row holding a line, for the
    message)."""
    encoding = _unicode_encoding(raw)
    if encoding is None:
        _refuse_binary(name, raw[:65536].decode("latin-1"), b"\x00" in raw)  # before guessing
        _refuse_mixed(name, raw, row_of)
        encoding = legacy_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:  # a BOM followed by broken UTF-16/32
        raise InputFileError(f"{name}: not valid {encoding} text: {exc.reason}") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    _refuse_binary(name, text[:65536], "\x00" in text)
    return text


def _refuse_binary(name: str, sample: str, has_nul: bool) -> None:
    controls = sum(1 for c in sample if c < " " and c not in _ALLOWED_CONTROLS)
    if has_nul or controls > max(2, len(sample) // 100):
        raise InputFileError(
            f"{name}: looks like a binary file, not text (control bytes in the content); "
            "submit the original document (.pdf, .docx) or a plain-text export"
        )


def _refuse_mixed(name: str, raw: bytes, row_of: Callable[[str, int], int] | None) -> None:
    """Refuse UTF-8 with bytes of another encoding in it, naming the first bad byte."""
    utf8 = len(_UTF8_MULTIBYTE.findall(raw))
    if not utf8:
        return
    others = len(_NON_ASCII.findall(_UTF8_MULTIBYTE.sub(b"", raw)))
    if utf8 * MIXED_SHARE < others:
        return  # a legacy file with a chance UTF-8-looking pair
    offset = _first_bad_byte(raw)
    line = raw.count(b"\n", 0, offset) + 1
    where = f"line {line}, byte {offset + 1}"
    if row_of is not None:
        where = f"row {row_of(raw.decode('utf-8', 'replace'), line)} ({where})"
    raise InputFileError(
        f"{name}: {where}: byte 0x{raw[offset]:02X} is not UTF-8, but the file's other "
        f"{utf8} non-ASCII character(s) are: mixed encodings, likely text pasted from a "
        "Windows program; save the whole file as UTF-8 (or fix that character) and submit "
        "it again"
    )


def _first_bad_byte(raw: bytes) -> int:
    """Where UTF-8 decoding of ``raw`` first fails (0 when it does not)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


def clean_text(text: str) -> str:
    """``text`` without NUL characters, lone surrogates replaced by U+FFFD.

    PDF text layers, JSON (``"\\u0000"``) and Excel's ``_x0000_`` escapes can all carry
    them; neither can be stored.
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    return text
