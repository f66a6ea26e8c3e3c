"""Builders of real input files for the tests: Word documents, PDFs, tables."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from xml.sax.saxutils import escape

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
W_NAMESPACE = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


_SHARED_STRINGS_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/>'
)


def zip_bytes(members: Mapping[str, str | bytes]) -> bytes:
    """A deflated zip of ``members`` (name -> content), the container of DOCX and XLSX."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx_with_document(document: str | bytes) -> bytes:
    """A DOCX whose word/document.xml is exactly ``document``."""
    return zip_bytes({"[Content_Types].xml": _CONTENT_TYPES, "word/document.xml": document})


def docx_bytes(*paragraphs: str) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{escape(p)}</w:t></w:r></w:p>" for p in paragraphs)
    return docx_with_document(
        f'{_XML_DECLARATION}<w:document xmlns:w="{W_NAMESPACE}">'
        f"<w:body>{body}</w:body></w:document>"
    )


def zip_bomb_docx(uncompressed_mb: int) -> bytes:
    """A valid-looking DOCX whose document part unpacks to ``uncompressed_mb`` MB."""
    return docx_with_document(b"<" + b" " * (uncompressed_mb * 2**20))


_XLSX_PARTS = {
    "[Content_Types].xml": (
        f'{_XML_DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
        'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
        'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'{_XML_DECLARATION}<Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        f'{_XML_DECLARATION}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets>'
        "</workbook>"
    ),
    "xl/_rels/workbook.xml.rels": (
        f'{_XML_DECLARATION}<Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        "</Relationships>"
    ),
}


def xlsx_bytes(rows: Iterable[Sequence[str]], shared_strings: bool = False) -> bytes:
    """An XLSX of string cells, its sheet XML written directly (fast for huge sheets).

    Cells are inline strings, or with ``shared_strings`` indexes into a shared-string
    table as Excel writes them. Text is XML-escaped but otherwise kept as given, so
    Excel's ``_xHHHH_`` escapes reach the reader.
    """
    strings: list[str] = []

    def cell(value: str) -> str:
        if not shared_strings:
            return f'<c t="inlineStr"><is><t>{escape(value)}</t></is></c>'
        strings.append(value)
        return f'<c t="s"><v>{len(strings) - 1}</v></c>'

    lines = [f'<row r="{r}">{"".join(map(cell, row))}</row>' for r, row in enumerate(rows, start=1)]
    parts = {**_XLSX_PARTS, "xl/worksheets/sheet1.xml": _spreadsheet("worksheet", lines)}
    if shared_strings:
        parts["xl/sharedStrings.xml"] = _spreadsheet(
            "sst", (f"<si><t>{escape(v)}</t></si>" for v in strings)
        )
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            "</Types>", _SHARED_STRINGS_TYPE + "</Types>"
        )
    return zip_bytes(parts)


def _spreadsheet(root: str, children: Iterable[str]) -> str:
    data = ("<sheetData>", "</sheetData>") if root == "worksheet" else ("", "")
    return (
        f'{_XML_DECLARATION}<{root} xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        f'2006/main">{data[0]}{"".join(children)}{data[1]}</{root}>'
    )


def pdf_from_objects(objects: Sequence[str], trailer_extra: str = "") -> bytes:
    """A PDF of numbered ``objects`` (1 is the catalog) with a correct xref table.

    ``trailer_extra`` is added to the trailer dictionary; ``{xref}`` in it stands for the
    xref table's own offset (so ``/Prev {xref}`` makes an xref chain that loops).
    """
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    extra = trailer_extra.format(xref=xref)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R {extra}>>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def pdf_text_stream(*lines: str) -> str:
    """A content stream object that shows ``lines`` in font /F1."""
    stream = (
        "BT /F1 11 Tf 50 780 Td 14 TL "
        + " ".join(
            "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
            for line in lines
        )
        + " ET"
    )
    return f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream"


PDF_FONT = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_bytes(*lines: str) -> bytes:
    """A one-page PDF with a real text layer (Helvetica), built by hand."""
    return pdf_from_objects(
        [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            "/Resources << /Font << /F1 5 0 R >> >> >>",
            pdf_text_stream(*lines),
            PDF_FONT,
        ]
    )


def encrypted_pdf_bytes(text: str, password: str = "s3cret") -> bytes:  # noqa: S107
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(text))))
    writer.encrypt(user_password=password, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
