"""Each text file's encoding, found on its own: UTF-8 first, a legacy file read in its own
encoding, and a UTF-8 file with a byte of another encoding refused where it is."""

from __future__ import annotations

import json

import pytest

from schema.errors import InputFileError
from worker.extract.source import Limits, extract_source

LIMITS = Limits()
HEADER = "Protocol ID,StudyTitle,Partners\n"
ROWS = [
    "P1,Café study,Community partners — co-design the survey\n",
    'P2,"A title over\ntwo lines",The advisory board meets monthly\n',
    "P3,The partner’s role,Residents co-lead recruitment\n",
    "P4,Naïve questions,Youth council reviews the instruments\n",
]
CSV_TEXT = HEADER + "".join(ROWS)


def _texts(found: list) -> dict[str, dict[str, str]]:
    return {e.external_id: e.protocol.fields for e in found if e.protocol is not None}


def test_a_utf8_csv_with_one_windows_byte_is_refused_naming_its_row() -> None:
    """One cp1252 apostrophe (0x92) in a UTF-8 CSV: refused, naming the file, the row (the
    third protocol, row 4 as a spreadsheet counts, after a two-line quoted title), the
    line and the byte, never read as mojibake."""
    raw = CSV_TEXT.encode("utf-8").replace("partner’s".encode(), b"partner\x92s")
    with pytest.raises(InputFileError) as refused:
        extract_source("irb_export.csv", raw, LIMITS)
    message = str(refused.value)
    offset = raw.index(b"\x92")
    assert message.startswith(f"irb_export.csv: row 4 (line 5, byte {offset + 1}): byte 0x92")
    assert "mixed encodings" in message


def test_a_whole_windows_1252_csv_is_read_right() -> None:
    """A CSV saved as Windows-1252 (curly quotes, a dash, accents) reads back exactly."""
    found = extract_source("irb_export.csv", CSV_TEXT.encode("cp1252"), LIMITS)
    texts = _texts(found)
    assert texts["P1"] == {
        "StudyTitle": "Café study", "Partners": "Community partners — co-design the survey",
    }  # fmt: skip
    assert texts["P3"]["StudyTitle"] == "The partner’s role"
    assert texts["P4"]["StudyTitle"] == "Naïve questions"


def test_each_file_gets_its_own_encoding() -> None:
    """A Windows-1252 text file, a Windows-1251 one and a UTF-8 one, each read in its own
    encoding (the detector, not one guess for every file)."""
    texts = {
        "cp1252": "Résumé: the Community Advisory Board co-designed the survey — “naïve”.",
        "cp1251": "Исследование: совет жителей района участвует в каждом этапе работы.",
        "utf-8": "Résumé: Исследование — “co-design”.",
    }
    for encoding, text in texts.items():
        [found] = extract_source(f"{encoding}.txt", text.encode(encoding), LIMITS)
        assert found.protocol is not None
        assert found.protocol.fields["text"] == text, encoding


def test_mixed_encodings_in_jsonl_and_text_name_the_line() -> None:
    """A JSONL file's rows are its lines; a text file's bad byte is named by line."""
    lines = [json.dumps({"id": f"J{i}", "text": f"Café partners {i}"}, ensure_ascii=False)
             for i in range(3)]  # fmt: skip
    raw = "\n".join(lines).encode("utf-8").replace(b"partners 2", b"partner\x92s 2")
    with pytest.raises(InputFileError, match=r"^protocols\.jsonl: row 3 \(line 3, byte \d+\)"):
        extract_source("protocols.jsonl", raw, LIMITS)
    text = "Résumé of the study.\nThe partner’s role.\n".encode().replace(b"\xe2\x80\x99", b"\x92")
    with pytest.raises(InputFileError, match=r"^notes\.md: line 2, byte \d+: byte 0x92"):
        extract_source("notes.md", text, LIMITS)


def test_a_binary_file_is_still_a_binary_file() -> None:
    """Random bytes with a text name are refused as binary, not as mixed encodings."""
    raw = bytes(range(256)) * 40
    with pytest.raises(InputFileError, match="looks like a binary file"):
        extract_source("photo.txt", raw, LIMITS)
