"""Hostile input files, generated on demand: each is small in code, some huge in bytes.

Every :class:`Case` names a file, builds its bytes and says how extraction must end:
with text containing ``text``, or with an error whose message matches ``error``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from tests.worker.files import (
    PDF_FONT,
    W_NAMESPACE,
    docx_bytes,
    docx_with_document,
    encrypted_pdf_bytes,
    pdf_from_objects,
    pdf_text_stream,
    xlsx_bytes,
    zip_bomb_docx,
    zip_bytes,
)
from worker.extract.source import Limits

MILLION = 1_000_000
WORDS = "The community advisory board co-designed the survey with tenants"
EMOJI = "😀🎉👍🏽👩‍👩‍👧‍👦🇺🇳 ❤️ 🔥" * 20
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad" * 50
ARABIC = "شاركت اللجنة المجتمعية في تصميم الدراسة مع الباحثين"
HEBREW = "הוועדה הקהילתית שותפה בתכנון המחקר"


@dataclass(frozen=True)
class Case:
    name: str  # the file name as submitted; its extension picks the reader
    build: Callable[[], bytes]
    error: str | None = None  # a regex the error message matches after "<name>: "
    text: str | None = None  # or a piece of the extracted text
    limits: Limits = field(default_factory=Limits)
    seconds: float = 5.0  # extraction must end within this


def _document(body: str, doctype: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
        f'<w:document xmlns:w="{W_NAMESPACE}"><w:body>{body}</w:body></w:document>'
    )


def billion_laughs_docx() -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    doctype = f"<!DOCTYPE w:document [{entities}]>"
    return docx_with_document(_document("<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>", doctype))


def xxe_docx() -> bytes:
    doctype = '<!DOCTYPE w:document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    return docx_with_document(_document("<w:p><w:r><w:t>&secret;</w:t></w:r></w:p>", doctype))


def deeply_nested_docx(depth: int = 20_000) -> bytes:
    """Paragraphs nested ``depth`` deep (text boxes nest legitimately, a few levels)."""
    opening = "<w:p><w:r><w:t>level</w:t></w:r><w:r><w:txbxContent>" * depth
    closing = "</w:txbxContent></w:r></w:p>" * depth
    return docx_with_document(_document(opening + closing))


_FONTS = "/Font << /F1 5 0 R >>"


def _pdf(
    contents: str = "4 0 R", resources: str = _FONTS, *more: str, trailer_extra: str = ""
) -> bytes:
    """Catalog, page tree, one page (object 3) showing text stream 4 in font 5, and more."""
    return pdf_from_objects(
        [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {contents} "
            f"/Resources << {resources} >> >>",
            pdf_text_stream(WORDS),
            PDF_FONT,
            *more,
        ],
        trailer_extra,
    )


def pdf_self_reference() -> bytes:
    """The page's contents is object 6, whose value is a reference to object 6."""
    return _pdf("6 0 R", _FONTS, "6 0 R")


def pdf_kids_loop() -> bytes:
    """The page tree's only kid is a /Pages node whose kid is the root again."""
    return pdf_from_objects(
        [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
        ]
    )


def pdf_prev_loop() -> bytes:
    """The trailer's /Prev points at its own xref table."""
    return _pdf(trailer_extra="/Prev {xref} ")


def pdf_xobject_loop() -> bytes:
    """A form XObject that draws itself."""
    form = "/X1 Do"
    return _pdf(
        "4 0 R",
        f"{_FONTS} /XObject << /X1 6 0 R >>",
        "<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject "
        f"<< /X1 6 0 R >> >> /Length {len(form)} >>\nstream\n{form}\nendstream",
    )


@cache
def million_row_csv() -> bytes:
    return b"Protocol ID,Abstract\n" + b"".join(b"P%d,tenant board\n" % i for i in range(MILLION))


@cache
def million_row_xlsx() -> bytes:
    return xlsx_bytes([("Protocol ID", "Abstract"), *((f"P{i}", "x") for i in range(MILLION))])


def _with_member_replaced(raw: bytes, member: str, old: str, new: str) -> bytes:
    """A copy of zip ``raw`` with ``old`` replaced by ``new`` in one member."""
    archive = zipfile.ZipFile(io.BytesIO(raw))
    parts = {n: archive.read(n) for n in archive.namelist()}
    parts[member] = parts[member].replace(old.encode(), new.encode())
    return zip_bytes(parts)


def far_row_xlsx() -> bytes:
    """A sheet whose second data row is numbered a billion (openpyxl pads the gap)."""
    raw = xlsx_bytes([("Protocol ID", "Abstract"), ("P1", WORDS), ("P2", WORDS)])
    return _with_member_replaced(
        raw, "xl/worksheets/sheet1.xml", '<row r="3">', '<row r="1000000000">'
    )


def billion_laughs_xlsx() -> bytes:
    raw = xlsx_bytes([("Protocol ID", "Abstract"), ("P1", WORDS)], shared_strings=True)
    doctype = '<!DOCTYPE sst [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
    return _with_member_replaced(raw, "xl/sharedStrings.xml", "?><sst", f"?>{doctype}<sst")


def jsonl(*records: dict[str, str]) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


def csv_with_huge_field(megabytes: int = 10) -> bytes:
    field = ("community " * (megabytes * 2**20 // 10)).strip()
    return f'Protocol ID,Abstract\nBIG,"{field}"\nP2,tenant board\n'.encode()


SMALL_ZIP_LIMIT = Limits(max_unzipped_bytes=20 * 2**20)
XLSX_ROW_LIMIT = Limits(max_rows=10_000)

CASES = [
    # Word documents
    Case("billion_laughs.docx", billion_laughs_docx, error=r"declares a DTD or entities"),
    Case("xxe.docx", xxe_docx, error=r"declares a DTD or entities"),
    Case("nested.docx", deeply_nested_docx, text="level\nlevel"),
    Case(
        "zip_bomb.docx",
        lambda: zip_bomb_docx(30),
        error=r"unpacks to 30 MB.*zip bomb",
        limits=SMALL_ZIP_LIMIT,
    ),
    Case("emoji.docx", lambda: docx_bytes(EMOJI), error=r"no words \(only emoji"),
    Case("rtl.docx", lambda: docx_bytes(HEBREW, ARABIC), text=f"{HEBREW}\n{ARABIC}"),
    Case("empty.docx", lambda: b"", error=r"the file is empty"),
    # PDFs
    Case("self_reference.pdf", pdf_self_reference, error=r"no text layer .*cannot be read"),
    Case("kids_loop.pdf", pdf_kids_loop, error=r"damaged or unreadable PDF .*cyclic"),
    Case("prev_loop.pdf", pdf_prev_loop, text=WORDS),
    Case("xobject_loop.pdf", pdf_xobject_loop, text=WORDS),
    Case("locked.pdf", lambda: encrypted_pdf_bytes(WORDS), error=r"password-protected"),
    # Tables
    Case(
        "million.csv",
        million_row_csv,
        error=r"more than 100000 rows, over the limit of 50000 \(CENR_MAX_ROWS\)",
    ),
    Case(
        "million.xlsx",
        million_row_xlsx,
        limits=XLSX_ROW_LIMIT,
        error=r"more than 20000 rows, over the limit of 10000 \(CENR_MAX_ROWS\)",
    ),
    Case("far_row.xlsx", far_row_xlsx, text=WORDS),
    Case(
        "billion_laughs.xlsx",
        billion_laughs_xlsx,
        error=r"refused: the Excel workbook declares a DTD",
    ),
    Case(
        "deep.jsonl",
        lambda: b'{"abstract": ' + b"[" * 100_000,
        error=r"line 1 is nested too deeply",
    ),
    Case("huge_field.csv", csv_with_huge_field, text="community community"),
    Case(
        "nul.jsonl", lambda: jsonl({"id": "N\x001", "abstract": f"{WORDS}\x00!"}), text=f"{WORDS}!"
    ),
    # Excel's escape for NUL is kept as written by openpyxl: it never becomes a NUL.
    Case(
        "nul.xlsx",
        lambda: xlsx_bytes([("ID", "Abstract"), ("N1", f"{WORDS}_x0000_")], True),
        text=f"{WORDS}_x0000_",
    ),
    Case(
        "surrogate.jsonl",
        lambda: b'{"id": "S1", "abstract": "tenants \\ud800 board"}',
        text="tenants \ufffd board",
    ),
    # Plain text
    Case("emoji.txt", lambda: EMOJI.encode(), error=r"no words \(only emoji"),
    Case("zero_width.md", lambda: ZERO_WIDTH.encode(), error=r"no words \(only emoji"),
    Case("arabic.txt", lambda: ARABIC.encode(), text=ARABIC),
    Case("hebrew_utf16.txt", lambda: HEBREW.encode("utf-16"), text=HEBREW),
    Case("nul.txt", lambda: f"{WORDS}\x00{WORDS}".encode(), error=r"binary file"),
    Case("late_nul.txt", lambda: (f"{WORDS}\n" * 2000 + "\x00").encode(), error=r"binary file"),
    Case("binary.txt", lambda: bytes(range(256)) * 40, error=r"binary file"),
]
