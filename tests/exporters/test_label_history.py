"""The label history through the command line: every import, change, removal and
adjudication of a level is an event saying who, when and from what; the history is
append-only."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from cenr.cli import main
from tests.exporters.conftest import fill_in

ADJUDICATION = ("Adjudicated level", "Rationale", "Adjudicator")


def _history(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["review", "history", *args, "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return out


def _import(
    exported: Path, target: Path, decisions: dict[int, tuple[object, str, str]], *args: str
) -> None:
    fill_in(exported, target, decisions)
    assert main(["review", "import", str(target), *args]) == 0


def test_every_change_of_a_level_is_in_the_history(
    exported: Path,
    sqlite_service: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ana imports two levels, changes one (the unchanged one is no event), ben rates the
    same protocol without --reviewer, ana's other level is removed, cy adjudicates and
    changes her mind: `cenr review history --json` lists each, oldest first, with the level
    before and after, the actor (the name given and the operating-system user, whatever
    USER says), the workbook's base name and the channel; --protocol narrows it; the text
    is one line an event."""
    os_user = pwd.getpwuid(os.getuid()).pw_name
    for name in ("USER", "LOGNAME"):  # what anyone can set is not who they are
        monkeypatch.setenv(name, "mallory")
    rows = list(load_workbook(exported)["Review"].iter_rows(min_row=2, max_row=3, values_only=True))
    (first, p1), (second, p2) = [(int(r[0]), str(r[1])) for r in rows]  # type: ignore[arg-type]
    ana_says = {first: ("2", "first look", "ana"), second: ("3", "partners named", "ana")}
    _import(exported, tmp_path / "ana.xlsx", ana_says, "--reviewer", "ana")
    ana_says[first] = ("4", "read again", "ana")
    (tmp_path / "again").mkdir()  # the same name in another folder: still ana.xlsx
    _import(exported, tmp_path / "again" / "ana.xlsx", ana_says, "--reviewer", "ana")
    _import(exported, tmp_path / "ben.xlsx", {first: ("1", "", "ben")})
    job = _history(capsys)["events"][0]["job"]
    assert main(["review", "remove", job, "--protocol", p2, "--reviewer", "ana"]) == 0
    assert main(["review", "remove", job, "--protocol", p2, "--reviewer", "ana"]) == 1
    assert "has no level of 'ana'" in capsys.readouterr().err

    assert main(["review", "agreement", job, "--discussion", str(tmp_path / "d.xlsx")]) == 0
    for level, name in (("3", "settled.xlsx"), ("5", "resettled.xlsx")):
        fill_in(tmp_path / "d.xlsx", tmp_path / name, {first: (level, "talked it over", "cy")},
                "Discussion", ADJUDICATION)  # fmt: skip
        assert main(["review", "import", str(tmp_path / name), "--reviewer", "cy"]) == 0

    history = _history(capsys, job)
    events = history["events"]
    got = [(e["action"], e["protocol"], e["reviewer"], e["from_level"], e["to_level"],
            e["actor"], e["source"], e["channel"]) for e in events]  # fmt: skip
    ana, cy, os_only = f"ana (os: {os_user})", f"cy (os: {os_user})", f"os: {os_user}"
    assert sorted(got[:2]) == sorted([
        ("imported", p1, "ana", None, "2", ana, "ana.xlsx", "cli"),
        ("imported", p2, "ana", None, "3", ana, "ana.xlsx", "cli"),
    ]), "one workbook's rows in either order"  # fmt: skip
    assert got[2:] == [
        ("changed", p1, "ana", "2", "4", ana, "ana.xlsx", "cli"),
        ("imported", p1, "ben", None, "1", os_only, "ben.xlsx", "cli"),
        ("removed", p2, "ana", "3", None, ana, "", "cli"),
        ("adjudicated", p1, "cy", None, "3", cy, "settled.xlsx", "cli"),
        ("adjudication changed", p1, "cy", "3", "5", cy, "resettled.xlsx", "cli"),
    ]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert all(e["at"].endswith("+00:00") and e["job"] == job for e in events)
    assert events[2]["rationale"] == "read again"
    assert str(tmp_path) not in json.dumps(history), "no path, only base names"

    narrowed = _history(capsys, "--protocol", p2)["events"]
    assert [(e["action"], e["protocol"]) for e in narrowed] == [("imported", p2), ("removed", p2)]
    assert main(["review", "history", job]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(events)
    said = f'job {job} {p1}: ana changed 2 -> 4 (by {ana}, cli, ana.xlsx): "read again"'
    assert said in lines[2]
    assert main(["review", "history", "0123456789abcdef"]) == 1
    assert "no job '0123456789abcdef'" in capsys.readouterr().err

    engine = create_engine(sqlite_service)
    with engine.connect() as connection:
        reviews = connection.execute(
            text("SELECT reviewer, level_code FROM reviews ORDER BY reviewer")
        ).all()
        assert [tuple(r) for r in reviews] == [("ana", "4"), ("ben", "1")], "ana's p2 is gone"
    for statement in ("UPDATE label_events SET to_level = '0'", "DELETE FROM label_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    engine.dispose()
    assert len(_history(capsys)["events"]) == len(events), "nothing was rewritten"
