"""The label history through a real portal: uploads are recorded under the signed-in user,
admins read it (JSON, CSV safe for spreadsheets, the protocol page), and a reviewer's
Discussion workbook is refused with 403 and changes nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from cenr.cli import main
from tests.exporters.conftest import fill_in
from tests.portal.conftest import Portal
from tests.portal.test_portal import _csrf, _three_protocol_job
from worker.review.history import os_user

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ADJUDICATION = ("Adjudicated level", "Rationale", "Adjudicator")
# a cell starting with = is a formula in the workbook itself; these start one in a CSV
FORMULA = '@SUM(1+1)*cmd|" /C calc"!A0'


def _assign(database: str, job: str, username: str) -> None:
    """Deal ``job`` to a reviewer (reviewers see only the jobs assigned to them)."""
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO job_assignments (job_id, user_id, assigned_at, assigned_by)"
                " SELECT :job, id, :at, 'alice' FROM users WHERE username = :user"
            ),
            {"job": job, "user": username, "at": datetime.now(UTC)},
        )
    engine.dispose()


def _upload(client: httpx.Client, job: str, path: Path) -> httpx.Response:
    files = {"workbook": (path.name, path.read_bytes(), XLSX)}
    return client.post(f"/api/jobs/{job}/reviews", files=files, headers=_csrf(client))


def _count(database: str, table: str) -> int:
    engine = create_engine(database)
    with engine.connect() as connection:
        n = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608 (the test's own)
    engine.dispose()
    return int(n or 0)


def _events(client: httpx.Client, job: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/jobs/{job}/history")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def test_the_portal_records_who_changed_which_level_and_shows_admins(
    portal: Portal, sqlite_service: str, tmp_path: Path
) -> None:
    """rob imports a level and changes it, alice rates the same protocol: each upload is an
    event by the signed-in user through the portal, named by the uploaded file's name.
    rob's upload of the Discussion workbook is 403 and stores nothing; alice's adjudicates.
    A removal on the command line joins the same history. Admins get it as JSON, as CSV
    (a formula-like rationale neutralised) and on the protocol page; rob gets none of it."""
    alice, rob = portal.client("alice"), portal.client("rob")
    job = _three_protocol_job(alice)
    _assign(sqlite_service, job, "rob")
    workbook = tmp_path / "review.xlsx"
    workbook.write_bytes(alice.get(f"/jobs/{job}/review.xlsx").content)
    rows = load_workbook(workbook)["Review"].iter_rows(min_row=2, values_only=True)
    first, protocol = next(rows)[:2]
    assert isinstance(first, int)

    steps: list[tuple[httpx.Client, str, object, str]] = [
        (rob, "rob.xlsx", "2", FORMULA),  # the Reviewer column says ben: filed under rob
        (rob, "rob-again.xlsx", "4", "read again"),
        (alice, "alice.xlsx", "1", ""),
    ]
    for client, name, level, rationale in steps:
        fill_in(workbook, tmp_path / name, {first: (level, rationale, "ben")})
        response = _upload(client, job, tmp_path / name)
        assert response.status_code == 200, response.text
        assert response.json()["file"] == name, "the report names the file, not the server's path"
    assert main(["review", "agreement", job, "--discussion", str(tmp_path / "d.xlsx")]) == 0
    discussion = tmp_path / "discussion.xlsx"
    fill_in(tmp_path / "d.xlsx", discussion, {first: ("3", "settled", "")}, "Discussion",
            ADJUDICATION)  # fmt: skip

    before = len(_events(alice, job))
    refused = _upload(rob, job, discussion)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == (
        "discussion.xlsx: a Discussion workbook sets adjudicated levels, which only an admin "
        "may import"
    )
    assert _count(sqlite_service, "adjudications") == 0
    assert len(_events(alice, job)) == before, "a refused upload leaves no event"
    settled = _upload(alice, job, discussion)
    assert settled.status_code == 200, settled.text
    assert (settled.json()["kind"], settled.json()["imported"]) == ("adjudication", 1)
    assert main(["review", "remove", job, "--protocol", str(protocol), "--reviewer", "alice"]) == 0

    events = _events(alice, job)
    cli = f"alice (os: {os_user()})"
    assert [(e["action"], e["protocol"], e["reviewer"], e["from_level"], e["to_level"],
             e["actor"], e["channel"], e["source"]) for e in events] == [
        ("imported", protocol, "rob", None, "2", "rob", "portal", "rob.xlsx"),
        ("changed", protocol, "rob", "2", "4", "rob", "portal", "rob-again.xlsx"),
        ("imported", protocol, "alice", None, "1", "alice", "portal", "alice.xlsx"),
        ("adjudicated", protocol, "alice", None, "3", "alice", "portal", "discussion.xlsx"),
        ("removed", protocol, "alice", "1", None, cli, "cli", ""),
    ]  # fmt: skip
    assert events[0]["rationale"] == FORMULA

    download = alice.get(f"/jobs/{job}/history.csv")
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    assert f'filename="history-{job}.csv"' in download.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert [(r["action"], r["from_level"], r["to_level"]) for r in table] == [
        (e["action"], e["from_level"] or "", e["to_level"] or "") for e in events
    ]
    assert table[0]["rationale"] == "'" + FORMULA, "a formula is shown, never run"
    assert all(r["source"] in ("", "rob.xlsx", "rob-again.xlsx", "alice.xlsx",
                               "discussion.xlsx") for r in table)  # fmt: skip

    page = alice.get(f"/jobs/{job}/protocols/{first}").text
    history = page.split('id="label-history"', 1)[1].split("</table>", 1)[0]
    assert history.count("<tr><td>") == len(events)
    assert "@SUM(1+1)*cmd|&#34; /C calc&#34;!A0" in history, "escaped, as given"
    assert f'href="/jobs/{job}/history.csv"' in page
    assert "Label history" not in rob.get(f"/jobs/{job}/protocols/{first}").text
    assert rob.get(f"/jobs/{job}/history.csv").status_code == 403
    assert rob.get(f"/api/jobs/{job}/history").status_code == 403
    assert alice.get("/api/jobs/0123456789abcdef/history").status_code == 404
