"""Extraction: every supported type, every encoding, and every kind of bad file."""

from __future__ import annotations

import codecs
import re

import pytest

from schema.errors import ColumnError, InputFileError
from tests.worker.files import (
    docx_bytes,
    encrypted_pdf_bytes,
    pdf_bytes,
    zip_bomb_docx,
)
from worker.extract.source import Limits, extract_source

LIMITS = Limits()
TEXT = "Résumé: the Community Advisory Board co-designed the survey — “naïve” café owners."


@pytest.mark.parametrize(
    "raw",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # with BOM
        TEXT.encode("utf-16-le"),  # without BOM
        TEXT.encode("cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "utf-16-le-no-bom", "windows-1252"],
)
def test_text_encodings_are_detected_not_mangled(raw: bytes) -> None:
    """Text in UTF-8 with or without a BOM, UTF-16 with or without a BOM, or Windows-1252 is read
    back exactly."""
    [found] = extract_source("protocol.txt", raw, LIMITS)
    assert found.protocol is not None
    assert found.protocol.fields["text"] == TEXT


def test_latin1_text_is_read() -> None:
    """A Latin-1 Markdown file is read back exactly."""
    text = "Partenaires: comité de quartier, université"
    [found] = extract_source("p.md", text.encode("latin-1"), LIMITS)
    assert found.protocol is not None
    assert found.protocol.fields["text"] == text


def test_docx_and_pdf_text_is_extracted() -> None:
    """The paragraphs of a DOCX and the lines of a PDF are extracted as text, and a protocol's ID is
    its file's base name."""
    [docx] = extract_source(
        "a b/ü protocol.docx", docx_bytes("Aims & goals", "Partners: CAB"), LIMITS
    )
    assert docx.protocol is not None
    assert docx.protocol.fields["text"] == "Aims & goals\nPartners: CAB"
    assert docx.external_id == "ü protocol.docx"
    [pdf] = extract_source("p.pdf", pdf_bytes("Community partners (CAB)", "co-led"), LIMITS)
    assert pdf.protocol is not None
    assert pdf.protocol.fields["text"] == "Community partners (CAB)\nco-led"


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("empty.txt", b"", "the file is empty"),
        ("blank.txt", b"  \n\n ", "the file is empty"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file"),
        ("bad.docx", b"PK\x03\x04 not really a zip", "damaged or not an Office file"),
        ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "password-protected"),
        ("notword.docx", None, "no word/document.xml"),
        ("bad.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "damaged or unreadable PDF"),
        ("fake.pdf", b"hello, I am text", "not a PDF file"),
        ("scan.pdf", pdf_bytes(), "no text layer"),
        ("locked.pdf", encrypted_pdf_bytes("secret plans"), "password-protected"),
        ("notes.doc", b"text", "unsupported file type .doc"),
        ("README", b"text", "unsupported file type (no extension)"),
    ],
)
def test_bad_files_fail_with_the_file_and_the_reason(
    name: str, raw: bytes | None, message: str
) -> None:
    """An empty, binary, damaged, password-protected, textless or unsupported file fails with an
    error naming the file and the reason."""
    if raw is None:  # a zip that is not a Word document
        import io
        import zipfile

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "hi")
        raw = buffer.getvalue()
    with pytest.raises(InputFileError, match=f"^{re.escape(name)}: .*{re.escape(message)}"):
        extract_source(name, raw, LIMITS)


def test_zip_bomb_docx_is_refused_before_unpacking() -> None:
    """A small DOCX that would unpack to 300 MB is refused as a zip bomb."""
    bomb = zip_bomb_docx(300)
    assert len(bomb) < 2 * 2**20  # small on disk
    with pytest.raises(InputFileError, match=r"unpacks to 300 MB.*zip bomb"):
        extract_source("bomb.docx", bomb, LIMITS)


def test_files_over_the_size_limit_are_refused() -> None:
    """A file over the size limit is refused with its size and the limit."""
    raw = b"community partners " * (3 * 2**20 // 19)
    with pytest.raises(InputFileError, match=r"big.txt: 3.0 MB, over the limit of 2 MB"):
        extract_source("big.txt", raw, Limits(max_file_bytes=2 * 2**20))


def test_tables_have_a_limit_of_their_own() -> None:
    """A table is held to CENR_MAX_TABLE_MB, not the documents' limit, and the message
    names the setting that applies."""
    row = b"HM1," + b"community partners co-lead the study " * 8 + b"\n"
    raw = b"Protocol ID,Partners\n" + row * (3 * 2**20 // len(row))
    limits = Limits(max_file_bytes=2**20, max_table_bytes=2 * 2**20)
    with pytest.raises(InputFileError, match=r"year.csv: 3.0 MB, over the limit of 2 MB "
                       r"\(CENR_MAX_TABLE_MB\)"):  # fmt: skip
        extract_source("year.csv", raw, limits)
    with pytest.raises(InputFileError, match=r"\(CENR_MAX_FILE_MB\)"):
        extract_source("big.txt", b"community partners " * (2 * 2**20 // 19), limits)
    found = extract_source("year.csv", raw[: 2**20 + 2**19], Limits(max_file_bytes=2**20))
    assert len(found) > 1000, "1.5 MB of table under the 400 MB default, over the 1 MB one"


IRB_CSV = (
    "Protocol ID,StudyTitle,AimsGoals,Background,StudyDesign,Partners,Notes\n"
    'HM1,Garden study,Grow food,Food deserts,Survey,Community board,=HYPERLINK("x")\n'
    "HM2,Clinic study,Reduce visits,,Chart review,,\n"
)


def test_irb_export_columns_are_recognised() -> None:
    """An IRB export's ID and text columns are recognised by name, in order, and an empty cell gives
    an empty field."""
    found = extract_source("export.csv", IRB_CSV.encode(), LIMITS)
    assert [f.external_id for f in found] == ["HM1", "HM2"]
    assert found[0].protocol is not None
    assert list(found[0].protocol.fields) == [
        "StudyTitle", "AimsGoals", "Background", "StudyDesign", "Partners",
    ]  # fmt: skip
    assert found[1].protocol is not None
    assert found[1].protocol.fields["Background"] == ""


def test_configured_columns_win_and_missing_ones_are_named() -> None:
    """Configured text and ID columns replace the recognised ones, and a configured column the table
    lacks is named in the error."""
    found = extract_source("export.csv", IRB_CSV.encode(), LIMITS, ["Notes"], "Protocol ID")
    assert found[0].protocol is not None
    assert found[0].protocol.fields == {"Notes": '=HYPERLINK("x")'}
    with pytest.raises(ColumnError, match=r"export.csv: no column 'Summary'"):
        extract_source("export.csv", IRB_CSV.encode(), LIMITS, ["Summary"])


def test_table_without_text_columns_fails() -> None:
    """A table with no recognisable text column fails with a message pointing to `--text-column`."""
    raw = b"ID,Score,Date\n1,3,2026-01-01\n"
    with pytest.raises(ColumnError, match=r"scores.csv: no text column recognised.*--text-column"):
        extract_source("scores.csv", raw, LIMITS)


def test_thousands_of_empty_rows_are_skipped_and_rows_without_text_fail_alone() -> None:
    """Thousands of empty rows are skipped, and a row without text fails on its own with its row
    number and ID."""
    raw = IRB_CSV + ",,,,,,\n" * 5000 + "HM3,,,,,,note only\n"
    found = extract_source("export.csv", raw.encode(), LIMITS)
    assert [f.external_id for f in found] == ["HM1", "HM2", "HM3"]
    assert found[2].protocol is None
    assert found[2].error is not None
    assert "row 5004 (HM3) has no text" in found[2].error


def test_xlsx_rows_and_row_limit() -> None:
    """Each XLSX row becomes a protocol with its row number, and a sheet over the row limit is
    refused."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Protocol ID", "StudyTitle", "Partners"])
    for i in range(5):
        sheet.append([f"HM{i}", f"Study {i}", "Tribal council"])
    buffer = io.BytesIO()
    book.save(buffer)
    found = extract_source("export.xlsx", buffer.getvalue(), LIMITS)
    assert [f.position for f in found] == [2, 3, 4, 5, 6]
    with pytest.raises(InputFileError, match=r"export.xlsx: 5 rows, over the limit of 3"):
        extract_source("export.xlsx", buffer.getvalue(), Limits(max_rows=3))


def test_jsonl_in_utf16() -> None:
    """A UTF-16 JSON Lines file gives its protocol with the ID and text fields."""
    raw = '{"protocol_id": "J1", "abstract": "Church partners"}\n'.encode("utf-16")
    [found] = extract_source("rows.jsonl", raw, LIMITS)
    assert found.external_id == "J1"
    assert found.protocol is not None
    assert found.protocol.fields == {"abstract": "Church partners"}


def test_line_breaks_inside_fields_do_not_split_rows() -> None:
    """Form feeds, Unicode line separators and newlines inside a CSV or JSON Lines field do not
    split its row."""
    raw = 'Protocol ID,Abstract\nP1,"form\x0cfeed, line\u2028separator\nand newline"\nP2,next\n'
    found = extract_source("export.csv", raw.encode("utf-8"), LIMITS)
    assert [f.external_id for f in found] == ["P1", "P2"]
    jsonl = '{"id": "J1", "abstract": "a\u2028b\u0085c"}\r\n{"id": "J2", "abstract": "d"}\n'
    found = extract_source("rows.jsonl", jsonl.encode("utf-8"), LIMITS)
    assert [f.external_id for f in found] == ["J1", "J2"]
