"""Turn the bytes of a text file into text, telling encodings apart and refusing binaries.

Order: a byte-order mark (UTF-8, UTF-16, UTF-32) wins; then UTF-16 without a mark is
recognised by its pattern of zero bytes; then strict UTF-8; then Windows-1252 (a
superset of Latin-1's printable range, what Word and Excel on Windows write); then
Latin-1, which decodes anything. Text with NUL or many control characters is a binary
file with a text name, and is refused rather than classified as gibberish.

Text from every other reader goes through :func:`clean_text`, so no NUL (which
PostgreSQL text columns refuse) and no lone surrogate (which cannot be encoded as UTF-8)
ever reaches storage.
"""

from __future__ import annotations

import codecs
import re

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


def detect_encoding(raw: bytes) -> str:
    """The encoding :func:`decode_text` would use for ``raw``."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    utf16 = _guess_utf16(raw)
    if utf16:
        return utf16
    for name in ("utf-8", "cp1252"):
        try:
            raw.decode(name)
            return name
        except UnicodeDecodeError:
            continue
    return "latin-1"


def decode_text(raw: bytes, name: str) -> str:
    """Text of a file's bytes; :class:`InputFileError` naming ``name`` for binary content."""
    encoding = detect_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:  # a BOM followed by broken UTF-16/32
        raise InputFileError(f"{name}: not valid {encoding} text: {exc.reason}") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    sample = text[:65536]
    controls = sum(1 for c in sample if c < " " and c not in _ALLOWED_CONTROLS)
    if "\x00" in text or controls > max(2, len(sample) // 100):
        raise InputFileError(
            f"{name}: looks like a binary file, not text (control bytes in the content); "
            "submit the original document (.pdf, .docx) or a plain-text export"
        )
    return text


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
