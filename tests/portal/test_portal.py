"""The reviewer portal, served for real: sign-in, roles, CSRF, uploads, and a browser."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine, text

from cenr.cli import main
from schema.faithfulness import VERDICTS
from schema.second_look import STRENGTH_WORDS
from tests.browser import browser
from tests.conftest import PROTOCOLS_CSV, demo_rows, write_export
from tests.portal.conftest import PASSWORDS, SECRET, Portal, login_token, sign_in
from tests.worker.cluster import wait_until

__all__ = ["browser"]
STRENGTHS = {word.capitalize() for word in STRENGTH_WORDS}
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/health"), ("GET", "/static/{name}")}


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) the portal's routers serve."""
    from cenr.portal.app import api_routes

    return sorted((method, route.path) for route in api_routes() for method in route.methods)


def _csv_bytes(n: int, start: int = 0) -> bytes:
    buffer = io.StringIO()
    rows = demo_rows(n, start)
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _csrf(client: httpx.Client) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/api/me").json()["csrf_token"]}


def _wait_done(client: httpx.Client, job: str) -> dict[str, Any]:
    detail: dict[str, Any] = {}

    def done() -> bool:
        nonlocal detail
        detail = client.get(f"/api/jobs/{job}").json()
        return detail["status"] == "done"

    assert wait_until(done, 120), detail
    return detail


def test_every_route_refuses_anonymous_requests(portal: Portal, sqlite_service: str) -> None:
    """Every non-public route refuses anonymous requests, signed-in pages carry strict security
    headers, and passwords are stored only as Argon2 hashes."""
    routes = _routes()
    assert len(routes) >= 15
    anonymous = portal.client()
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "1", path)
        if (method, path) in PUBLIC:
            continue
        response = anonymous.request(method, url)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
            assert "sign in" in response.json()["error"]
        else:
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"] == "/login"
    assert anonymous.get("/static/portal.js").status_code == 303, "only the sign-in stylesheet"
    assert anonymous.get("/static/portal.css").status_code == 200
    assert anonymous.get("/health").json() == {"status": "ok"}
    assert anonymous.get("/api/openapi.json").status_code == 401
    assert anonymous.get("/docs").status_code == 404

    signed = portal.client("rob")
    spec = signed.get("/api/openapi.json").json()
    assert {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/reviews", "/login"} <= set(
        spec["paths"]
    )
    page = signed.get("/")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"

    engine = create_engine(sqlite_service)
    with engine.connect() as connection:
        hashes = connection.execute(text("SELECT password_hash FROM users")).scalars().all()
    engine.dispose()
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any(p in h for h in hashes for p in PASSWORDS.values())


def test_sign_in_roles_and_csrf(portal: Portal) -> None:
    """Bad sign-ins are refused, reviewers cannot create jobs or open the models page, and creating
    a job or signing out needs the session's CSRF token."""
    wrong = sign_in(portal.client(), "alice", "nope")
    assert wrong.status_code == 401
    assert "Wrong user name or password" in wrong.text
    nobody = sign_in(portal.client(), "eve", "x" * 12)
    assert nobody.status_code == 401

    rob = portal.client("rob")
    files = {"files": ("a.csv", _csv_bytes(2), "text/csv")}
    refused = rob.post("/api/jobs", files=files, headers=_csrf(rob))
    assert refused.status_code == 403
    assert "needs an admin" in refused.json()["error"]
    assert rob.get("/models").status_code == 403

    alice = portal.client("alice")
    assert alice.post("/api/jobs", files=files).status_code == 403, "no CSRF token"
    stale = alice.post("/api/jobs", files=files, headers={"X-CSRF-Token": "forged"})
    assert stale.status_code == 403
    created = alice.post("/api/jobs", files=files, headers=_csrf(alice))
    assert created.status_code == 201, created.text
    detail = _wait_done(alice, created.json()["job"])
    assert detail["done"] == 2
    assert "out_dir" not in detail, "no server paths"

    form_without_token = alice.post("/logout")
    assert form_without_token.status_code == 403
    token = _csrf(alice)["X-CSRF-Token"]
    assert alice.post("/logout", data={"csrf_token": token}).status_code == 303
    assert alice.get("/api/me").status_code == 401, "signed out"


def _set_cookies(response: httpx.Response, name: str) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]


def test_sign_in_needs_the_forms_own_token(portal: Portal) -> None:
    """Login CSRF: a foreign page cannot post the sign-in form to sign a victim into the
    attacker's account, because the post needs the token of the victim's own form, which
    matches only the victim's own server-signed ``cenr_login`` cookie."""
    from cenr.portal.auth import login_cookie

    alice = {"username": "alice", "password": PASSWORDS["alice"]}
    client = portal.client()
    form = client.get("/login")
    [cookie] = _set_cookies(form, "cenr_login")
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/login", "max-age=3600"} <= flags, cookie
    assert not _set_cookies(form, "cenr_session"), "no session before signing in"
    token = login_token(client)  # asserts the form's hidden field
    assert login_token(client) == token, "reloading the form keeps the cookie's token"

    def holding(cookie: str) -> httpx.Client:
        """A client whose ``cenr_login`` cookie was not set by this server's ``GET /login``."""
        planted = portal.client()
        planted.cookies.set("cenr_login", cookie)
        return planted

    other_key = login_cookie("x" * 48, None)  # another server's, or a made-up key
    with pytest.MonkeyPatch.context() as clock:
        now = time.time()
        clock.setattr(time, "time", lambda: now - 2 * 3600)
        expired = login_cookie(SECRET, None)  # this server's, two hours old
    other, fresh = portal.client(), portal.client()
    attempts: list[tuple[str, httpx.Client, str | None]] = [
        ("no token", client, None),
        ("empty", client, ""),
        ("forged", client, "forged"),
        ("cut short", client, token[:-1]),
        ("not ASCII", client, "é" * len(token)),
        ("another client's", client, login_token(other)),
        ("no cookie of its own", fresh, token),
        ("an unsigned cookie of the sender's choosing", holding("chosen"), "chosen"),
        ("a made-up signature", holding(f"{token}.AAAAAA.forged"), token),
        ("a cookie signed with another key", holding(other_key[1]), other_key[0]),
        ("an expired cookie", holding(expired[1]), expired[0]),
    ]
    for what, sender, sent in attempts:
        data = alice if sent is None else {**alice, "csrf_token": sent}
        response = sender.post("/login", data=data)
        assert response.status_code == 403, (what, response.status_code)
        assert "sign-in security token is missing or stale" in response.text, what
        assert sender.get("/api/me").status_code == 401, f"{what}: not signed in"

    wrong = client.post("/login", data={**alice, "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401
    assert f'value="{token}"' in wrong.text, "a wrong password leaves the form usable"
    signed = client.post("/login", data={**alice, "csrf_token": token})
    assert signed.status_code == 303, signed.text
    assert "max-age=0" in _set_cookies(signed, "cenr_login")[0].lower(), "the cookie is deleted"
    assert "cenr_login" not in client.cookies
    assert client.get("/api/me").json()["username"] == "alice"

    rob = {"username": "rob", "password": PASSWORDS["rob"]}
    stale = client.post("/login", data={**rob, "csrf_token": token})
    assert stale.status_code == 403, "signing in used the token up"
    assert client.get("/api/me").json()["username"] == "alice", "nothing changed"

    api = portal.client()
    header = api.post("/login", data=rob, headers={"X-CSRF-Token": login_token(api)})
    assert header.status_code == 303, "API clients may send the token as a header"
    assert api.get("/api/me").json()["username"] == "rob"


def test_the_sign_in_page_leaves_a_signed_in_session_alone(portal: Portal) -> None:
    """The session cookie is SameSite=Strict: a signed-in user who follows a link from
    another site (a job link in an email) arrives without it and is sent to ``/login``.
    That page must not set a session cookie of its own, which would replace the one the
    browser holds and sign the user out."""
    alice = portal.client("alice")
    session = alice.cookies["cenr_session"]
    again = alice.get("/login")  # same-site, the cookie sent
    assert again.status_code == 200
    assert not _set_cookies(again, "cenr_session")
    assert alice.get("/api/me").status_code == 200, "still signed in"

    def cross_site(path: str) -> httpx.Response:
        """A request as the browser sends it from another site: no SameSite=Strict cookie
        (its response's cookies are stored all the same)."""
        request = alice.build_request("GET", path)
        del request.headers["cookie"]
        return alice.send(request)

    link = cross_site("/jobs/emailed-job")
    assert (link.status_code, link.headers["location"]) == (303, "/login")
    arrived = cross_site("/login")
    assert arrived.status_code == 200
    assert _set_cookies(arrived, "cenr_login"), "the form still gets its token"
    assert not _set_cookies(arrived, "cenr_session"), "the session cookie is left alone"
    assert alice.cookies["cenr_session"] == session
    assert alice.get("/api/me").json()["username"] == "alice", "still signed in"
    assert alice.get("/").status_code == 200


def _browser_signs_in(browser: Any, portal: Portal, user: str) -> None:
    """A fresh browser session signs in through the form and reaches the jobs page."""
    browser.delete_all_cookies()
    browser.get(f"{portal.url}/login")
    browser.find_element(By.ID, "username").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(PASSWORDS[user])
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "jobs"))


def test_a_link_from_another_site_keeps_the_browser_signed_in(portal: Portal, browser: Any) -> None:
    """The same in Chromium: a link on a page of another site (an opaque ``data:`` page)
    arrives without the session cookie, is redirected to the sign-in page, and afterwards
    the browser still holds its session."""
    _browser_signs_in(browser, portal, "rob")
    session = browser.get_cookie("cenr_session")["value"]

    link = f'<a id="job" href="{portal.url}/jobs/emailed-job">your review job</a>'
    browser.get("data:text/html," + quote(link))
    browser.find_element(By.ID, "job").click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url == f"{portal.url}/login")
    assert browser.get_cookie("cenr_session")["value"] == session, "the session is kept"
    browser.get(f"{portal.url}/")
    assert browser.find_elements(By.ID, "jobs"), "still signed in"


def test_sessions_expire() -> None:
    """A session older than the maximum age, or signed in at a time still to come, gives no
    user and is cleared."""
    from cenr.portal.auth import session_user

    for at in (int(time.time()) - 3 * 3600, int(time.time()) + 3600):  # too old, still to come
        store = {"sid": "x", "at": at, "csrf": "x"}
        assert session_user(None, store, max_hours=2) is None  # type: ignore[arg-type]
        assert store == {}, "the stale session is dropped"


def test_uploads_are_checked_and_cannot_escape(portal: Portal) -> None:
    """An uploaded file name cannot escape the upload folder, and a file of a refused type, too
    large, hidden or not a workbook is refused."""
    alice = portal.client("alice")
    headers = _csrf(alice)
    escaping = {
        "files": ("../../../../tmp/escape.txt", b"community partners co-lead", "text/plain")
    }
    created = alice.post("/api/jobs", files=escaping, headers=headers)
    assert created.status_code == 201, created.text
    detail = _wait_done(alice, created.json()["job"])
    assert [p["file"] for p in detail["protocols"]] == ["escape.txt"]
    assert not Path("/tmp/escape.txt").exists()
    assert not any(portal.uploads.rglob("*")) or all(p.is_dir() for p in portal.uploads.rglob("*"))

    bad_type = alice.post("/api/jobs", files={"files": ("run.exe", b"MZ", "x")}, headers=headers)
    assert bad_type.status_code == 400
    assert "type .exe is not accepted" in bad_type.json()["error"]
    big = alice.post("/api/jobs", files={"files": ("big.txt", b"a " * 600_000, "text/plain")},
                     headers=headers)  # fmt: skip
    assert big.status_code == 400
    assert "larger than the upload limit of 1 MB" in big.json()["error"]
    hidden = alice.post("/api/jobs", files={"files": (".env", b"x", "text/plain")}, headers=headers)
    assert hidden.status_code == 400

    rob = portal.client("rob")
    other = alice.get("/api/jobs").json()[-1]["job"]
    assert main(["review", "assign", other, "rob"]) == 0
    foreign = rob.post(
        f"/api/jobs/{other}/reviews",
        files={"workbook": ("r.xlsx", b"not a workbook", "application/octet-stream")},
        headers=_csrf(rob),
    )
    assert foreign.status_code == 400
    assert "not a readable .xlsx workbook" in foreign.json()["error"]


def test_an_unknown_job_protocol_or_model_is_404(portal: Portal) -> None:
    """A job, protocol or model that does not exist answers 404, as a page and in the API,
    with the id in the message; a known job with an unknown protocol too."""
    alice = portal.client("alice")
    headers = _csrf(alice)
    for path in ("/api/jobs/nosuchjob", "/jobs/nosuchjob", "/jobs/nosuchjob/review.xlsx",
                 "/jobs/nosuchjob/review-html.zip", "/jobs/nosuchjob/protocols/1"):  # fmt: skip
        response = alice.get(path)
        assert response.status_code == 404, (path, response.status_code, response.text)
        if path.startswith("/api/"):
            assert "no job 'nosuchjob'" in response.json()["error"]
        else:
            assert "no job &#39;nosuchjob&#39;" in response.text
    workbook = {"workbook": ("r.xlsx", b"not a workbook", "application/octet-stream")}
    upload = alice.post("/api/jobs/nosuchjob/reviews", files=workbook, headers=headers)
    assert upload.status_code == 404, upload.text
    files = {"files": ("a.txt", b"community partners co-lead the study", "text/plain")}
    unknown_model = alice.post("/api/jobs", files=files, data={"model": "nosuch"}, headers=headers)
    assert unknown_model.status_code == 404, unknown_model.text
    assert "nosuch" in unknown_model.json()["error"]
    created = alice.post("/api/jobs", files=files, headers=headers)
    job = created.json()["job"]
    _wait_done(alice, job)
    missing = alice.get(f"/jobs/{job}/protocols/999999")
    assert missing.status_code == 404
    assert f"job {job} has no classified protocol 999999" in missing.text
    assert alice.get("/api/nothing-here").json() == {"error": "Not Found"}


def test_a_reviewer_round_trip_in_the_browser(portal: Portal, browser: Any, tmp_path: Path) -> None:
    """In the browser an admin uploads an export, a reviewer downloads, fills in and returns the
    workbook, and the job page shows the agreement and a protocol's heat-map."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )

    # an admin uploads a spreadsheet export and waits for the job
    _browser_signs_in(browser, portal, "alice")
    export = write_export(tmp_path / "protocols <b>.csv", demo_rows(6))
    browser.find_element(By.ID, "files").send_keys(str(export))
    browser.find_element(By.CSS_SELECTOR, "#upload button").click()
    WebDriverWait(browser, 120).until(lambda b: b.find_elements(By.ID, "download-xlsx"))
    assert "6 done" in browser.find_element(By.ID, "job-status").text.replace("\n", " ")
    job_url = browser.current_url
    browser.find_element(By.ID, "assign-users").send_keys("rob")  # dealt to rob
    browser.find_element(By.CSS_SELECTOR, "#assign button[value=assign]").click()
    WebDriverWait(browser, 30).until(
        lambda b: "Assigned to rob" in b.find_element(By.ID, "reviewers").text
    )

    # a reviewer downloads the workbook, opens it, fills it in and returns it
    _browser_signs_in(browser, portal, "rob")
    browser.get(job_url)
    browser.find_element(By.ID, "download-xlsx").click()
    assert wait_until(  # the browser writes a .crdownload first and renames it when done
        lambda: any(downloads.glob("review-*.xlsx")) and not any(downloads.glob("*.crdownload")),
        60,
    )
    [workbook] = list(downloads.glob("review-*.xlsx"))
    book = load_workbook(workbook)
    sheet = book["Review"]
    header = [c.value for c in sheet[1]]
    assert sheet.max_row == 7
    level_at, name_at = header.index("Reviewer level") + 1, header.index("Reviewer") + 1
    with PROTOCOLS_CSV.open(encoding="utf-8") as handle:
        truth = {r["Protocol ID"]: r["Level"] for r in csv.DictReader(handle)}
    for row in range(2, 8):
        sheet.cell(row, level_at).value = truth[str(sheet.cell(row, 2).value)]
        sheet.cell(row, name_at).value = "someone else"  # the portal files it under rob
    reviewed = tmp_path / "reviewed.xlsx"
    book.save(reviewed)
    browser.find_element(By.ID, "workbook").send_keys(str(reviewed))
    browser.find_element(By.CSS_SELECTOR, "#review-upload button").click()
    report = WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "import-report"))
    assert report.text.startswith("6 imported, 0 unchanged, 0 rejected")

    # the heat-map of a protocol, in the page, with rob's own level
    browser.get(job_url)
    assert not browser.find_elements(By.ID, "agreement"), "agreement is the coordinator's"
    browser.find_element(By.CSS_SELECTOR, "#protocols tbody a").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "heatmap"))
    assert browser.find_elements(By.CSS_SELECTOR, "#heatmap .text span[title^='weight']")
    # the erasure test's verdict, folded under Technical (the page leads with plain words)
    assert browser.find_element(By.ID, "verdict").get_attribute("textContent") in VERDICTS
    assert browser.find_element(By.ID, "strength").text.split(".")[0] in STRENGTHS
    assert "(rob)" in browser.page_source

    # the coordinator sees the agreement
    _browser_signs_in(browser, portal, "alice")
    browser.get(job_url)
    agreement = browser.find_element(By.ID, "agreement").text
    assert "6 protocol(s) reviewed by 1 reviewer(s)" in agreement
    assert "model / rob" in browser.page_source
    problems = [m for m in browser.get_log("browser") if m["level"] == "SEVERE"]
    assert not [m for m in problems if "favicon" not in m["message"]], problems


def _zip(
    folder: Path, target: Path, top: str | None, extra: dict[str, bytes] | None = None
) -> Path:
    import zipfile

    with zipfile.ZipFile(target, "w") as archive:
        for path in folder.iterdir():
            archive.write(path, f"{top}/{path.name}" if top else path.name)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return target


def test_admins_add_a_model_by_uploading_its_folder(
    portal: Portal, trained_home: Path, tmp_path: Path
) -> None:
    """Only admins can add a model by uploading its zipped folder, and a duplicate, an unsafe member
    name, a folder without a model or a non-zip is refused."""
    folder = trained_home / "models" / "tiny"
    alice, rob = portal.client("alice"), portal.client("rob")
    upload = _zip(folder, tmp_path / "upload.zip", "tiny-copy")
    files = {"archive": ("upload.zip", upload.read_bytes(), "application/zip")}
    assert rob.post("/api/models", files=files, headers=_csrf(rob)).status_code == 403
    added = alice.post("/api/models", files=files, headers=_csrf(alice))
    assert added.status_code == 201, added.text
    assert added.json() == {"model": "tiny-copy"}
    assert "tiny-copy" in [m["name"] for m in alice.get("/api/models").json()]
    again = alice.post("/api/models", files=files, headers=_csrf(alice))
    assert again.status_code == 400
    assert "already registered" in again.json()["error"]

    evil = _zip(folder, tmp_path / "evil.zip", "evil", {"evil/../../escape.txt": b"x"})
    refused = alice.post(
        "/api/models", files={"archive": ("evil.zip", evil.read_bytes(), "application/zip")},
        headers=_csrf(alice),
    )  # fmt: skip
    assert refused.status_code == 400
    assert "unsafe member name" in refused.json()["error"]
    (tmp_path / "empty").mkdir()
    broken = _zip(tmp_path / "empty", tmp_path / "broken.zip", None, {"notes.txt": b"hi"})
    not_model = alice.post(
        "/api/models", files={"archive": ("broken.zip", broken.read_bytes(), "application/zip")},
        headers=_csrf(alice),
    )  # fmt: skip
    assert not_model.status_code == 400
    junk = alice.post(
        "/api/models", files={"archive": ("junk.zip", b"not a zip", "application/zip")},
        headers=_csrf(alice),
    )  # fmt: skip
    assert "not a zip archive" in junk.json()["error"]


@pytest.fixture
def two_per_workbook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENR_PER_WORKBOOK", "2")


def _three_protocol_job(admin: httpx.Client) -> str:
    """A finished job of three one-line text protocols, submitted by ``admin``."""
    files = [("files", (f"p{i}.txt", f"community partners co-lead study {i}".encode(),
                        "text/plain")) for i in range(3)]  # fmt: skip
    created = admin.post("/api/jobs", files=files, headers=_csrf(admin))
    assert created.status_code == 201, created.text
    job: str = created.json()["job"]
    _wait_done(admin, job)
    return job


def test_a_split_job_offers_each_workbook_least_certain_first(
    two_per_workbook: None, portal: Portal
) -> None:
    """With CENR_PER_WORKBOOK=2 a job of three protocols has two workbooks: the job page links
    both, `?part=2` downloads the second (the most certain protocol), and `?part=3` is 404."""
    import io as bytes_io

    from openpyxl import load_workbook

    alice = portal.client("alice")
    job = _three_protocol_job(alice)
    page = alice.get(f"/jobs/{job}").text
    assert "The review workbooks, least certain first (2)" in page
    assert f'href="/jobs/{job}/review.xlsx?part=2"' in page
    ids = []
    for part in (1, 2):
        response = alice.get(f"/jobs/{job}/review.xlsx", params={"part": part})
        assert response.status_code == 200
        assert f"review-{job}-{part}.xlsx" in response.headers["content-disposition"]
        book = load_workbook(bytes_io.BytesIO(response.content))
        ids.append([r[0] for r in book["Review"].iter_rows(min_row=2, values_only=True)])
        assert dict(book["_cenr"].iter_rows(values_only=True))["part"] == part
    assert [len(i) for i in ids] == [2, 1]
    missing = alice.get(f"/jobs/{job}/review.xlsx", params={"part": 3})
    assert missing.status_code == 404
    assert f"job {job} has 2 review workbook(s): no workbook 3" in missing.text


def test_the_job_page_shows_review_rounds_and_offers_what_to_review_next(portal: Portal) -> None:
    """The coordinator sees the job's agreement, its suspect labels (not checked yet: the
    command that checks them) and downloads the N protocols most worth a reviewer's time,
    which import back like the review workbook; N out of range is refused. An assigned
    reviewer sees none of it (it is made from every reviewer's levels)."""
    import io as bytes_io

    from openpyxl import load_workbook

    alice, rob = portal.client("alice"), portal.client("rob")
    job = _three_protocol_job(alice)
    assert main(["review", "assign", job, "rob"]) == 0
    page = alice.get(f"/jobs/{job}").text
    assert "Suspect labels" in page
    assert f"cenr review issues {job}" in page
    assert f'action="/jobs/{job}/next.xlsx"' in page
    reviewers = rob.get(f"/jobs/{job}").text
    assert "Suspect labels" not in reviewers
    assert "next.xlsx" not in reviewers
    assert rob.get(f"/jobs/{job}/next.xlsx", params={"n": 2}).status_code == 403
    response = alice.get(f"/jobs/{job}/next.xlsx", params={"n": 2})
    assert response.status_code == 200
    book = load_workbook(bytes_io.BytesIO(response.content))
    assert len(list(book["Review"].iter_rows(min_row=2))) == 2
    assert dict(book["_cenr"].iter_rows(values_only=True))["job"] == job
    assert "cenr review next" in book["Summary"]["A1"].value
    assert alice.get(f"/jobs/{job}/next.xlsx", params={"n": 0}).status_code == 422
    assert alice.get("/jobs/0123456789abcdef/next.xlsx").status_code == 404
    assert portal.client().get(f"/jobs/{job}/next.xlsx").status_code in (401, 303)
