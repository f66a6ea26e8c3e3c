"""The review workbook in LibreOffice, as a coordinator and a reviewer use it: the Summary's
formulas counting a filled-in Review sheet once recalculated, and the Review sheet sorted
(Data > Sort) with the levels still importing by row ID. LibreOffice must be installed
(these tests fail, never skip, without it: tests/exporters/office.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from cenr.cli import main
from tests.exporters.conftest import fill_in
from tests.exporters.office import convert, sort_rows
from tests.exporters.test_review_sheet import CODEBOOK, _write, every_level

CHOICES = CODEBOOK.choices


def _summary(path: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    """The Summary's figures by label, and the rows of its reviewer-by-model matrix."""
    rows = [list(r) for r in load_workbook(path, data_only=True)["Summary"].iter_rows(
        values_only=True)]  # fmt: skip
    figures: dict[str, Any] = {}
    for row in rows:  # the first of each label: a level's count, before the matrix
        figures.setdefault(str(row[0]), row[1])
    top = next(i for i, r in enumerate(rows) if str(r[0]).startswith("Reviewer level (rows)"))
    assert rows[top][1 : 1 + len(CHOICES)] == CHOICES
    return figures, rows[top + 1 : top + 2 + len(CHOICES)]


@pytest.mark.slow
def test_the_summary_counts_what_the_reviewers_filled_in(tmp_path: Path) -> None:
    """After a reviewer's levels (names from the drop-down) and LibreOffice's recalculation,
    the Summary counts protocols, reviewed, left, second looks (and those left), agreement,
    each model level, and the reviewer-by-model matrix, as counted here by hand."""
    source = _write(tmp_path, every_level())
    book = load_workbook(source)
    review = book["Review"]
    header = [c.value for c in review[1]]
    at = {name: header.index(name) for name in ("Model level", "Needs a second look")}
    level_column = header.index("Reviewer level") + 1
    given: dict[int, tuple[str, str, bool]] = {}  # row -> (model, reviewer, flagged)
    for number, values in enumerate(review.iter_rows(min_row=2, values_only=True), start=2):
        model, flagged = values[at["Model level"]], values[at["Needs a second look"]] is not None
        if number % 3 == 0:
            continue  # left to review
        mine = model if number % 2 == 0 else CHOICES[(CHOICES.index(model) + 1) % 6]
        review.cell(number, level_column).value = mine
        given[number] = (model, mine, flagged)
    flagged_rows = [
        n for n, v in enumerate(review.iter_rows(min_row=2, values_only=True), start=2)
        if v[at["Needs a second look"]] is not None
    ]  # fmt: skip
    filled = tmp_path / "filled" / "review.xlsx"
    filled.parent.mkdir()
    book.save(filled)

    figures, matrix = _summary(convert(filled, tmp_path / "calc"))
    n = len(every_level())
    assert figures["Protocols in this workbook"] == n
    assert figures["Reviewed (a Reviewer level chosen)"] == len(given)
    assert figures["Left to review"] == n - len(given)
    assert figures["Need a second look"] == len(flagged_rows) > 0
    assert figures["... of them left to review"] == len(set(flagged_rows) - set(given)) > 0
    agree = sum(model == mine for model, mine, _ in given.values())
    assert figures["Reviewer and model agree"] == agree > 0
    assert figures["Reviewer and model differ"] == len(given) - agree > 0
    for choice in CHOICES:
        assert figures[choice] == 3, "each model level: three protocols"  # the first table
    pairs = Counter((mine, model) for model, mine, _ in given.values())
    for row in matrix[:-1]:
        mine = row[0]
        assert row[1:7] == [pairs[(mine, model)] for model in CHOICES], mine
        assert row[7] == sum(pairs[(mine, model)] for model in CHOICES)
    assert matrix[-1][0] == "Reviewed"
    assert matrix[-1][7] == len(given)


def test_reviewers_sort_in_libreoffice_and_the_names_import_back(
    exported: Path, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reviewer picks '4 Consult'-style names (one types a plain code), LibreOffice sorts
    the Review sheet by confidence as exported (no sheet protection stands in the way);
    the rows moved, and the import stores each level's code against its row ID."""
    review = load_workbook(exported)["Review"]
    header = [c.value for c in review[1]]
    before = [r[0] for r in review.iter_rows(min_row=2, values_only=True)]
    ids = before[:4]
    decisions = {
        ids[0]: ("4 Consult", "advisory board consulted", "ana"),
        ids[1]: ("5 Collaborate / shared governance", "CAB co-leads", "ana"),
        ids[2]: ("0 no partnership", "case differs from the list", "ana"),
        ids[3]: ("2", "a plain code still imports", "ana"),
    }
    filled = tmp_path / "filled.xlsx"
    fill_in(exported, filled, decisions)
    sorted_path = tmp_path / "sorted" / "review.xlsx"
    sorted_path.parent.mkdir()
    printed = sort_rows(
        filled, sorted_path, "Review", header.index("Confidence"), len(before), len(header)
    )
    assert "protected: False" in printed
    moved = load_workbook(sorted_path)["Review"]
    rows = list(moved.iter_rows(min_row=2, values_only=True))
    confidences = [r[header.index("Confidence")] for r in rows]
    assert confidences == sorted(confidences), "sorted, least certain first again"
    filled_order = [r[0] for r in load_workbook(filled)["Review"].iter_rows(
        min_row=2, values_only=True)]  # fmt: skip
    assert filled_order == list(reversed(before)), "the reviewer's file: most certain first"
    assert [r[0] for r in rows] == before, "the rows moved back"
    level_at = header.index("Reviewer level")
    assert {r[0]: r[level_at] for r in rows if r[level_at]} == {
        i: d[0] for i, d in decisions.items()
    }, "each level stayed on its protocol's row"
    assert moved.cell(2, 2).hyperlink is not None, "the links move with their rows"

    assert main(["review", "import", str(sorted_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report["imported"], report["rejected"]) == (4, [])
    engine = create_engine(sqlite_service)
    with engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT job_item_id, level_code FROM reviews")).all())
    engine.dispose()
    assert stored == {ids[0]: "4", ids[1]: "5", ids[2]: "0", ids[3]: "2"}
