"""Who may do what, walked on a real `cenr serve`: every route of the portal as anonymous,
as a reviewer the job is not assigned to, as one it is, and as an admin, checked against
README's table (findings 4 and 5 of the roles issue: reviewers saw every job and every
other reviewer's levels)."""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from cenr.cli import main
from tests.portal.conftest import PASSWORDS, Portal, login_token
from tests.portal.test_portal import _csrf, _routes, _three_protocol_job, _wait_done

ROLES = ("anonymous", "reviewer, not assigned", "reviewer, assigned", "admin")
README = Path(__file__).parents[2] / "docs" / "security.md"  # README links it
CAROL = "carol-has-her-own-long-passphrase"


def readme_table() -> dict[tuple[str, str], dict[str, str]]:
    """(method, path) -> role -> the answer README promises."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Who may do what", 1)[1].split("\n## ", 1)[0]
    table: dict[tuple[str, str], dict[str, str]] = {}
    for line in section.splitlines():
        found = re.match(r"\| `(GET|POST) (\S+)`[^|]*\|(.*)\|\s*$", line)
        if found:
            cells = [c.strip() for c in found.group(3).split("|")]
            assert len(cells) == len(ROLES), line
            table[(found.group(1), found.group(2))] = dict(zip(ROLES, cells, strict=True))
    return table


def _add_user(name: str, password: str) -> None:
    stdin = sys.stdin
    sys.stdin = io.StringIO(password + "\n")
    try:
        assert main(["users", "add", name, "--role", "reviewer", "--password-stdin"]) == 0
    finally:
        sys.stdin = stdin


def _sign_in(portal: Portal, user: str, password: str) -> httpx.Client:
    client = portal.client()
    data = {"username": user, "password": password, "csrf_token": login_token(client)}
    assert client.post("/login", data=data).status_code == 303
    return client


def _job(admin: httpx.Client) -> tuple[str, int]:
    """A finished job of three protocols, and the item of its first."""
    job = _three_protocol_job(admin)
    return job, int(_wait_done(admin, job)["protocols"][0]["item"])


def _request(
    portal: Portal, role: str, client: httpx.Client, method: str, path: str, ctx: dict[str, Any]
) -> httpx.Response:
    """``method path`` as ``client``, with what the route needs to get past its guards."""
    url = path.format(job_id=ctx["job"], item_id=ctx["item"], name="portal.js")
    signed_in = role != "anonymous"
    headers = _csrf(client) if signed_in and method == "POST" else {}
    if (method, path) == ("POST", "/login"):
        fresh = portal.client()
        user = "alice" if role in ("anonymous", "admin") else "rob"
        data = {"username": user, "password": PASSWORDS[user], "csrf_token": login_token(fresh)}
        return fresh.post(url, data=data)
    if (method, path) == ("POST", "/logout"):
        fresh = _sign_in(portal, *ctx["credentials"][role]) if signed_in else client
        return fresh.post(url, headers=_csrf(fresh) if signed_in else {})
    if method == "GET":
        return client.get(url, headers=headers)
    if path.endswith("/jobs"):
        files = [("files", ("q.txt", b"a protocol to classify", "text/plain"))]
        return client.post(url, files=files, headers=headers)
    if path.endswith("/reviews"):
        upload = ("review.xlsx", ctx["workbook"], "application/octet-stream")
        return client.post(url, files={"workbook": upload}, headers=headers)
    if path.endswith("/assignments"):
        if path.startswith("/api/"):
            return client.post(url, json={"users": ["rob"]}, headers=headers)
        return client.post(url, data={"users": "rob", "action": "assign"}, headers=headers)
    if path.endswith("/rounds"):
        if path.startswith("/api/"):
            return client.post(url, json={"reviewers": ["rob"]}, headers=headers)
        return client.post(url, data={"reviewers": "rob", "overlap": "0"}, headers=headers)
    if path.endswith("/models"):
        upload = ("model.zip", b"not a zip", "application/zip")
        return client.post(url, files={"archive": upload}, headers=headers)
    raise AssertionError(f"no request written for {method} {path}: add one")


def _answer(response: httpx.Response, path: str) -> str:
    """What the answer was, in the table's words."""
    status = response.status_code
    location = response.headers.get("location", "")
    if path.startswith("/api/") and status == 401:
        return "sign in"
    if status == 303 and location == "/login":
        return "sign in"
    if status in (403, 404):
        return str(status)
    assert status < 500, (path, status, response.text[:300])
    return "yes"  # 2xx, 3xx, or the request's own 400/422 after every guard


def test_every_route_answers_each_role_as_readme_says(portal: Portal) -> None:
    table = readme_table()
    routes = set(_routes())
    assert set(table) == routes, (
        f"README's table and the portal differ: only in README {set(table) - routes}, "
        f"only served {routes - set(table)}"
    )
    alice = portal.client("alice")
    job, item = _job(alice)
    _add_user("carol", CAROL)
    assert main(["review", "assign", job, "rob"]) == 0
    workbook = alice.get(f"/jobs/{job}/review.xlsx").content
    clients = {
        "anonymous": portal.client(),
        "reviewer, not assigned": _sign_in(portal, "carol", CAROL),
        "reviewer, assigned": portal.client("rob"),
        "admin": alice,
    }
    ctx = {
        "job": job, "item": item, "workbook": workbook,
        "credentials": {
            "reviewer, not assigned": ("carol", CAROL),
            "reviewer, assigned": ("rob", PASSWORDS["rob"]),
            "admin": ("alice", PASSWORDS["alice"]),
        },
    }  # fmt: skip
    wrong = []
    for (method, path), promised in sorted(table.items()):
        for role in ROLES:
            response = _request(portal, role, clients[role], method, path, ctx)
            got = _answer(response, path)
            if got != promised[role]:
                wrong.append(f"{method} {path} as {role}: {got} ({response.status_code}), "
                             f"README says {promised[role]}")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def _workbook_text(content: bytes) -> str:
    book = load_workbook(io.BytesIO(content))
    return " ".join(
        str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
        for v in row if v is not None
    )  # fmt: skip


def _bundle_text(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as bundle:
        return " ".join(bundle.read(n).decode("utf-8", "replace") for n in bundle.namelist())


def test_a_reviewer_sees_only_assigned_jobs_and_only_their_own_levels(
    portal: Portal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 5: a reviewer listed, opened and downloaded every job, and the bundle showed
    the other reviewers' levels. Now an unassigned job is not listed and is 404; once
    assigned, rob's workbook, bundle and protocol page hold the model's output and his own
    level, not ana's, while the admin's hold both; removing the assignment hides it again."""
    alice = portal.client("alice")
    job, item = _job(alice)
    rob = portal.client("rob")
    assert job not in {j["job"] for j in rob.get("/api/jobs").json()}
    assert job not in rob.get("/").text
    for path in (f"/api/jobs/{job}", f"/jobs/{job}", f"/jobs/{job}/review.xlsx",
                 f"/jobs/{job}/review-html.zip", f"/jobs/{job}/protocols/{item}"):  # fmt: skip
        assert rob.get(path).status_code == 404, path

    workbook = tmp_path / "ana.xlsx"
    workbook.write_bytes(alice.get(f"/jobs/{job}/review.xlsx").content)
    book = load_workbook(workbook)
    sheet = book["Review"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("Reviewer level") + 1).value = 5
    sheet.cell(2, header.index("Rationale") + 1).value = "ana-private-rationale"
    book.save(workbook)
    assert main(["review", "import", str(workbook), "--reviewer", "ana"]) == 0

    assert main(["review", "assign", job, "rob"]) == 0
    assert "assigned to rob" in capsys.readouterr().out
    listed = rob.get("/").text
    assert listed.index(f"/jobs/{job}/review.xlsx") < listed.index(f'href="/jobs/{job}"'), (
        "a reviewer's job list shows their workbook first"
    )
    detail = rob.get(f"/api/jobs/{job}").json()
    assert "agreement" not in detail
    assert "reviewers" not in detail
    own = rob.get(f"/jobs/{job}/review.xlsx")
    assert own.status_code == 200
    assert "ana" not in _workbook_text(own.content).split()
    bundle = rob.get(f"/jobs/{job}/review-html.zip")
    assert bundle.status_code == 200
    assert ">ana<" not in _bundle_text(bundle.content)
    assert "ana-private-rationale" not in _bundle_text(bundle.content)
    page = rob.get(f"/jobs/{job}/protocols/{item}")
    assert page.status_code == 200
    assert ">ana<" not in page.text

    admins = alice.get(f"/jobs/{job}/review-html.zip").content
    assert "ana" in _bundle_text(admins)
    assert alice.get(f"/api/jobs/{job}").json()["reviewers"] == ["rob"]

    assert main(["review", "assign", job, "rob", "--remove"]) == 0
    assert rob.get(f"/api/jobs/{job}").status_code == 404
    assert main(["review", "assign", job, "nobody"]) == 1
    assert "no portal user 'nobody'" in capsys.readouterr().err


def test_export_with_reviewers_assigns_the_portal_users(
    portal: Portal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr export --reviewers` assigns the job to those dealt workbooks who are portal
    users, and says which are not."""
    alice = portal.client("alice")
    job, _ = _job(alice)
    out = tmp_path / "dealt.xlsx"
    code = main(["export", job, "--xlsx", str(out), "--reviewers", "rob,dora"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"job {job} assigned in the portal to rob" in printed
    assert "not portal users (files only): dora" in printed
    assert portal.client("rob").get(f"/api/jobs/{job}").status_code == 200
