"""What a returned workbook's hidden ``_cenr`` sheet says, read back as it was written: a
workbook dealt to nobody names no reviewer (an empty cell is not the name "None")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cenr.cli import main
from tests.exporters.conftest import fill_in


def test_a_part_dealt_to_nobody_files_no_level_under_none(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A job split by size (no reviewers) returns with a level but no Reviewer name: the row
    is refused for want of a reviewer, never stored under "None"; with --reviewer it is
    stored under that name."""
    assert main(["export", "--xlsx", str(tmp_path / "part.xlsx"), "--per-workbook", "5"]) == 0
    capsys.readouterr()
    [first, *_] = sorted(tmp_path.glob("part-*.xlsx"))
    identity = dict(load_workbook(first)["_cenr"].iter_rows(values_only=True))
    assert not identity.get("reviewer")
    row_id = next(load_workbook(first)["Review"].iter_rows(min_row=2, values_only=True))[0]
    filled = tmp_path / "filled.xlsx"
    fill_in(first, filled, {row_id: ("3", "partners advise", "")})

    assert main(["review", "import", str(filled), "--json"]) == 1  # a row refused
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["imported"] == 0
    assert "no reviewer" in report["rejected"][0]["reason"]
    assert main(["review", "history", "--json"]) == 0
    events = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["events"]
    assert not [e for e in events if e["reviewer"] == "None"]

    assert main(["review", "import", str(filled), "--reviewer", "ana", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["imported"] == 1
