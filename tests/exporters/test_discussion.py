"""Disagreements go to a Discussion workbook; the adjudicated levels come back the same way."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cenr.cli import main
from schema.database import open_database, session_scope
from schema.tables import JobItem
from tests.exporters.conftest import fill_in
from worker.review.agreement import agreed_labels

ADJUDICATION = ("Adjudicated level", "Rationale", "Adjudicator")


def _review(exported: Path, tmp_path: Path, levels: dict[str, list[str]]) -> list[int]:
    """Reviewers fill in the first protocols of the workbook and import it; returns the
    row IDs they reviewed."""
    rows = list(load_workbook(exported)["Review"].iter_rows(min_row=2, values_only=True))
    n = len(next(iter(levels.values())))
    ids = [int(r[0]) for r in rows[:n]]  # type: ignore[arg-type]
    for name, given in levels.items():
        decisions = {i: (v, f"{name} says {v}", name) for i, v in zip(ids, given, strict=True)}
        fill_in(exported, tmp_path / f"{name}.xlsx", decisions)
        assert main(["review", "import", str(tmp_path / f"{name}.xlsx")]) == 0
    return ids


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["review", "agreement", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_disagreements_are_adjudicated_through_the_discussion_workbook(
    exported: Path, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Protocols the reviewers disagree on go to a discussion workbook whose adjudicated levels
    import once, are validated, are kept on re-export and become the agreed labels."""
    ids = _review(exported, tmp_path, {"ana": ["5", "5", "3", "1"], "ben": ["5", "3", "3", "2"]})
    capsys.readouterr()
    report = _report(capsys)
    assert report["disagreements"] == sorted([ids[1], ids[3]])
    assert report["adjudicated"] == []
    discussion = Path(report["discussion"])
    assert discussion == tmp_path / "out" / "discussion.xlsx"

    book = load_workbook(discussion)
    assert book.sheetnames == ["Discussion", "Agreement", "Codebook", "_cenr"]
    sheet = book["Discussion"]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Row ID", "Protocol ID", "Title", "Model level"]
    assert header[4:8] == ["ana: level", "ana: rationale", "ben: level", "ben: rationale"]
    assert header[-4:] == ["Protocol text", *ADJUDICATION]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {ids[1], ids[3]}
    assert rows[ids[1]][4:8] == ("5", "ana says 5", "3", "ben says 3"), "side by side"
    assert "StudyTitle: " in rows[ids[1]][8]
    assert sheet.column_dimensions["A"].hidden
    assert sheet.protection.sheet
    [choice] = sheet.data_validations.dataValidation
    assert choice.formula1 == "=Codebook!$D$2:$D$7", "the names, '4 Consult'"
    assert str(choice.sqref) == "J2:J3"

    # the adjudicator settles one protocol (and mistypes nothing), leaves the other open
    filled = tmp_path / "settled.xlsx"
    fill_in(discussion, filled, {ids[1]: ("4", "consulted, not shared", "cy")}, "Discussion",
            ADJUDICATION)  # fmt: skip
    assert main(["review", "import", str(filled), "--json"]) == 0
    imported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert imported["kind"] == "adjudication"
    assert (imported["imported"], imported["not_reviewed"], imported["rejected"]) == (1, 1, [])
    assert main(["review", "import", str(filled), "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["imported"], again["unchanged"]) == (0, 1), "the same file changes nothing"

    bad = tmp_path / "bad.xlsx"
    fill_in(discussion, bad, {ids[3]: ("7", "", "cy")}, "Discussion", ADJUDICATION)
    assert main(["review", "import", str(bad), "--json"]) == 1
    refused = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert refused["imported"] == 0
    at = [r[0] for r in load_workbook(bad)["Discussion"].iter_rows(values_only=True)]
    assert refused["rejected"][0]["row"] == at.index(ids[3]) + 1, "the row as the sheet has it"
    assert "7" in refused["rejected"][0]["reason"]

    report = _report(capsys)
    assert report["adjudicated"] == [ids[1]]
    assert report["pairs"][0]["n"] == 4, "an adjudication is not a rating"
    again_book = load_workbook(report["discussion"])["Discussion"]
    kept = {r[0]: r[-3:] for r in again_book.iter_rows(min_row=2, values_only=True)}
    assert kept[ids[1]] == ("4", "consulted, not shared", "cy"), "decisions so far are kept"
    assert kept[ids[3]] == (None, None, None)

    engine = open_database(sqlite_service)
    with session_scope(engine) as session:
        job_id = session.get_one(JobItem, ids[0]).job_id
        agreed = agreed_labels(session, [job_id])
    engine.dispose()
    assert {(a.item_id, a.level_code, a.basis) for a in agreed.labels} == {
        (ids[0], "5", "unanimous"), (ids[1], "4", "adjudicated"), (ids[2], "3", "unanimous"),
    }  # fmt: skip
    assert agreed.unresolved == 1

    assert main(["export", "--html", str(tmp_path / "pages.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "pages.zip") as archive:
        index = next(n for n in archive.namelist() if n.endswith("/index.html"))
        text = archive.read(index).decode()
    assert "4 (adjudicated by cy)" in text
    assert "5 (ana); 3 (ben)" in text


def test_no_disagreement_writes_no_discussion(
    exported: Path, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the reviewers agree on every protocol, no discussion workbook is written or reported."""
    _review(exported, tmp_path, {"ana": ["5", "3"], "ben": ["5", "3"]})
    capsys.readouterr()
    report = _report(capsys, "--discussion", str(tmp_path / "d.xlsx"))
    assert report["disagreements"] == []
    assert "discussion" not in report
    assert not (tmp_path / "d.xlsx").exists()
