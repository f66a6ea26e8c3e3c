"""A job exported for review, and a reviewer's hand on the workbook."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from cenr.cli import main
from tests.conftest import demo_rows, write_export

LONG = "community partners co-design every step of the study. " * 800  # 44,000 characters


@pytest.fixture
def exported(sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    rows = demo_rows(10)
    rows[0]["StudyTitle"] = '=HYPERLINK("http://evil.example","click")'
    rows[1]["AimsGoals"] = "bell\x07 and form\x0cfeed inside the text"
    rows[2]["Background"] = LONG
    write_export(tmp_path / "inbox" / "export.csv", rows)
    (tmp_path / "inbox" / "empty.txt").write_text("")
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out")]) == 1
    capsys.readouterr()
    return tmp_path / "out" / "review.xlsx"


def fill_in(
    path: Path,
    target: Path,
    decisions: dict[int, tuple[object, str, str]],
    sheet: str = "Review",
    columns_named: tuple[str, str, str] = ("Reviewer level", "Rationale", "Reviewer"),
) -> None:
    """A reviewer's edits: by row ID -> (level, rationale, name); rows then re-sorted."""
    book = load_workbook(path)
    review = book[sheet]
    header = [c.value for c in review[1]]
    columns = dict(
        zip(
            ("level", "rationale", "name"),
            (header.index(n) + 1 for n in columns_named),
            strict=True,
        )
    )
    rows = list(review.iter_rows(min_row=2, values_only=True))
    rows.reverse()  # reviewers sort: the import must match by ID, not position
    for index, values in enumerate(rows, start=2):
        for column, value in enumerate(values, start=1):
            review.cell(index, column).value = value
        level, rationale, reviewer = decisions.get(values[0], (None, None, None))
        review.cell(index, columns["level"]).value = level
        review.cell(index, columns["rationale"]).value = rationale
        review.cell(index, columns["name"]).value = reviewer
    book.save(target)
