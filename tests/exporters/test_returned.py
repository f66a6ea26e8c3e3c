"""Reading the Reviewer levels of a workbook already on disk, as an export does before it
writes over one: the streamed reader agrees with openpyxl, on the exporter's own inline
text and on what a reviewer's spreadsheet program saves (shared strings)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from exporters.returned import FilledLevel, FilledWorkbook, _with_openpyxl, filled_levels
from exporters.workbook import FORMAT

HEADER = ["Row ID", "Protocol ID", "Protocol text", "Reviewer level", "Rationale", "Reviewer"]


def _exported(path: Path, rows: int = 20, reviewer: str = "") -> Path:
    """A workbook shaped as the exporter writes it: write-only, coloured inline text."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Review")
    sheet.append(HEADER)
    fonts = [InlineFont(color="FF0000"), InlineFont(color="0000FF")]
    for i in range(rows):
        text = CellRichText([TextBlock(fonts[j % 2], f"word{j} ") for j in range(300)])
        sheet.append([100 + i, f"P{i}", text, None, None, None])
    identity = book.create_sheet("_cenr")
    for pair in (("format", FORMAT), ("job", "job1"), ("reviewer", reviewer)):
        identity.append(list(pair))
    book.save(path)
    return path


def _fill(path: Path, target: Path, levels: dict[int, tuple[object, str | None]]) -> Path:
    """A reviewer's spreadsheet program saving the file: every text a shared string."""
    book = load_workbook(path)
    for row, (level, name) in levels.items():
        book["Review"].cell(row, 4).value = level
        book["Review"].cell(row, 6).value = name
    book.save(target)
    return target


def test_the_streamed_reader_agrees_with_openpyxl(tmp_path: Path) -> None:
    """Blank, filled (shared strings, numbers, a name from the dealt-to reviewer), and a
    file that is no review workbook: the same answer either way."""
    blank = _exported(tmp_path / "blank.xlsx", reviewer="zed")
    assert filled_levels(blank) == _with_openpyxl(blank)
    assert filled_levels(blank) == FilledWorkbook("job1", [])

    filled = _fill(blank, tmp_path / "filled.xlsx", {2: ("3", "ana"), 9: (4, None), 21: ("x", "")})
    read = filled_levels(filled)
    assert read == _with_openpyxl(filled)
    assert read == FilledWorkbook("job1", [
        FilledLevel(2, 100, "3", "ana"), FilledLevel(9, 107, 4, "zed"),
        FilledLevel(21, 119, "x", "zed"),
    ])  # fmt: skip

    other = Workbook()
    other.active.append(["just", "a", "sheet"])
    other.save(tmp_path / "other.xlsx")
    assert filled_levels(tmp_path / "other.xlsx") is None
    (tmp_path / "text.xlsx").write_text("not a zip")
    assert filled_levels(tmp_path / "text.xlsx") is None
    assert filled_levels(tmp_path / "missing.xlsx") is None


def test_a_file_the_streamed_reader_cannot_follow_is_read_with_openpyxl(tmp_path: Path) -> None:
    """Cells without references (allowed, rare): openpyxl reads the file, no level is
    missed."""
    filled = _fill(_exported(tmp_path / "a.xlsx"), tmp_path / "b.xlsx", {3: ("2", "ana")})
    bare = tmp_path / "bare.xlsx"
    with zipfile.ZipFile(filled) as source, zipfile.ZipFile(bare, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb' r="[A-Z]+[0-9]+"', b"", data)
            target.writestr(item, data)
    read = filled_levels(bare)
    assert read is not None
    assert [(level.row, level.item_id, level.level) for level in read.levels] == [(3, 101, "2")]
