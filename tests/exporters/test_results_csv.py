"""predictions.csv: scores stay numbers, text that looks like a formula does not."""

from __future__ import annotations

import csv
from pathlib import Path

from exporters.results_csv import write_results
from schema.views import ResultRow


def _row(protocol_id: str, faithfulness: float | None) -> ResultRow:
    return ResultRow(
        file="export.csv", position=1, protocol_id=protocol_id, status="done", level_code="3",
        confidence=0.4567, probabilities=None, faithfulness=faithfulness, tokens_cut=0,
        top_tokens=[("board", 0.2)], error=None, fields=None,
    )  # fmt: skip


def test_a_negative_score_is_written_as_a_number_and_a_formula_as_text(tmp_path: Path) -> None:
    """A faithfulness of -0.13 reads back as the number -0.13 (a spreadsheet opens it as
    a number); an ID that starts like a formula is kept as text."""
    target = write_results(tmp_path / "p.csv", [_row("=1+1", -0.1304), _row("P2", None)])
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["faithfulness"] == "-0.13"
    assert rows[0]["confidence"] == "0.457"
    assert rows[0]["protocol_id"] == "'=1+1"
    assert rows[1]["faithfulness"] == ""
