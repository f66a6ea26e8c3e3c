"""The reviewer's afternoon in the portal, served for real: a blind round dealt from the
job page, the reviewer's blind workbook (nothing the model said) filled in and returned
through the portal and stored blind; the coordinator's counts moving with it; levels in
the one palette's colours; and the second-look flag with its reasons."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from schema.codebook import default_codebook
from tests.browser import browser, open_page
from tests.exporters.conftest import fill_in
from tests.portal.conftest import Portal
from tests.portal.test_portal import _csrf, _three_protocol_job, _wait_done
from tests.worker.cluster import wait_until

__all__ = ["browser"]  # the fixture, imported for pytest
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MODEL_WORDS = ("P(", "Confidence", "Faithfulness", "heat-map", "Strongest", "Evidence",
               "Level name", "predicted", "least certain", "Heatmap")  # fmt: skip


def _form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)


def _counts(page: str) -> dict[str, int]:
    """The coordinator's counts on the job page."""
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', page)}


def _sql(database: str, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(database)
    with engine.begin() as connection:
        result = connection.execute(text(statement), params)
        rows = list(result) if result.returns_rows else []
    engine.dispose()
    return rows


def test_a_blind_round_dealt_from_the_job_page(
    portal: Portal, sqlite_service: str, tmp_path: Path
) -> None:
    """alice deals a blind round to rob on the job page (CSRF-checked form); rob is assigned,
    his workbook holds the protocols' text alone (no level, confidence, probability or
    heat-map sheet), he returns it filled in through the portal, his level is stored blind,
    and the coordinator's counts move: one more reviewed, one fewer left."""
    alice, rob = portal.client("alice"), portal.client("rob")
    job = _three_protocol_job(alice)
    page = alice.get(f"/jobs/{job}").text
    assert f'action="/jobs/{job}/rounds"' in page
    before = _counts(page)
    assert before["protocols"] == 3
    assert before["reviewed"] == 0
    assert before["left"] == 3
    assert rob.get(f"/jobs/{job}").status_code == 404  # not assigned yet

    form = {"reviewers": "rob", "overlap": "0", "blind": "true"}
    refused = alice.post(f"/jobs/{job}/rounds", data=form)  # no token
    assert refused.status_code == 403
    dealt = alice.post(f"/jobs/{job}/rounds", data={**form, "csrf_token": _form_token(page)})
    assert dealt.status_code == 303, dealt.text
    assert dealt.headers["location"] == f"/jobs/{job}#round"
    page = alice.get(f"/jobs/{job}").text
    assert "Dealt to rob" in page
    assert "<strong>blind</strong>" in page
    assert alice.get(f"/api/jobs/{job}").json()["round"]["blind"] is True

    # rob: assigned, told it is blind, and his page shows nothing the model said
    mine = rob.get(f"/jobs/{job}")
    assert mine.status_code == 200
    assert "A blind round" in mine.text
    assert "chip level" not in mine.text
    detail = rob.get(f"/api/jobs/{job}").json()
    assert detail["blind"] is True
    assert all(p["level"] is None and p["confidence"] is None and p["model"] is None
               for p in detail["protocols"])  # fmt: skip

    response = rob.get(f"/jobs/{job}/review.xlsx")
    assert response.status_code == 200, response.text
    assert f"review-{job}-rob.xlsx" in response.headers["content-disposition"]
    workbook = tmp_path / "rob.xlsx"
    workbook.write_bytes(response.content)
    book = load_workbook(workbook)
    assert "Heatmap" not in book.sheetnames
    assert "Model" not in book.sheetnames
    assert book.sheetnames == ["Review", "Summary", "Codebook", "Failed", "_cenr"]
    header = [c.value for c in book["Review"][1]]
    assert {"Row ID", "Protocol ID", "Reviewer level", "Rationale", "Reviewer"} <= set(header)
    for column in header:  # the protocol's own columns and the reviewer's, nothing else
        assert not any(word in str(column) for word in ("Level", "Confidence", "P(")), column
    identity = dict(book["_cenr"].iter_rows(values_only=True))
    assert identity["blind"] is True
    assert identity["reviewer"] == "rob"
    sighted = alice.get(f"/api/jobs/{job}").json()["protocols"]
    model_levels = {p["level"] for p in sighted}
    figures = {f"{p['confidence']:.2f}" for p in sighted} | {
        f"{p['confidence'] * 100:.0f}%" for p in sighted
    }
    names = {level.name for level in default_codebook().levels}
    for sheet in book.worksheets:
        if sheet.title in ("Codebook", "_cenr"):
            continue
        for cells in sheet.iter_rows():
            for cell in cells:
                assert not isinstance(cell.value, float), (sheet.title, cell.coordinate)
                if sheet.title == "Review" and cell.column == 1:
                    continue  # the row ID
                shown = str(cell.value or "")
                assert shown not in model_levels, (sheet.title, cell.coordinate, shown)
                for word in (*names, *MODEL_WORDS, *figures):
                    assert word not in shown, (sheet.title, cell.coordinate, word)

    # his package (pages and workbook) and his protocol page: blind too
    package = rob.get(f"/jobs/{job}/review-html.zip")
    assert package.status_code == 200, package.text
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        files = archive.namelist()
        pages = [archive.read(n).decode() for n in files if n.endswith(".html")]
    assert [n.rsplit("/", 1)[-1] for n in files if n.endswith(".xlsx")] == [
        f"review-{job}-rob.xlsx"
    ]
    assert not [n for n in files if n.endswith("model.html")]
    item = detail["protocols"][0]["item"]
    pages.append(rob.get(f"/jobs/{job}/protocols/{item}").text)
    for shown in pages:
        assert 'class="s' not in shown  # no token shaded
        for word in (*names, "Confidence", "Probability", "heat-map", "Strongest"):
            assert word not in shown, word

    # rob returns it filled in, through the portal: stored blind, under rob
    rows = list(book["Review"].iter_rows(min_row=2, values_only=True))
    first = rows[0][0]
    filled = tmp_path / "rob-filled.xlsx"
    fill_in(workbook, filled, {first: (3, "reads as a consultation", "rob")})
    returned = rob.post(
        f"/api/jobs/{job}/reviews", headers=_csrf(rob),
        files={"workbook": (filled.name, filled.read_bytes(), XLSX)},
    )  # fmt: skip
    assert returned.status_code == 200, returned.text
    stored: list[Any] = []

    def committed() -> bool:  # the session commits as the response goes out
        stored[:] = _sql(sqlite_service, "SELECT reviewer, level_code, blind FROM reviews "
                         "WHERE job_id = :job", job=job)  # fmt: skip
        return bool(stored)

    wait_until(committed, 10)
    assert [(r[0], bool(r[2])) for r in stored] == [("rob", True)], returned.text

    coordinators = alice.get(f"/jobs/{job}").text
    assert re.search(r'<span class="chip level3( differs)?" title="rob: 3 [^"]*">rob: 3</span>',
                     coordinators)  # fmt: skip
    after = _counts(coordinators)
    assert after["reviewed"] == 1
    assert after["left"] == 2
    model_level = next(p["level"] for p in sighted if p["item"] == first)
    assert after["disagreements"] == (0 if model_level == stored[0][1] else 1)
    progress = alice.get(f"/api/jobs/{job}").json()["progress"]
    assert progress["reviewed"] == 1
    assert progress["reviews"] == 1


def test_the_api_deals_a_round_and_refuses_what_cannot_be_dealt(portal: Portal) -> None:
    """`POST /api/jobs/{job}/rounds` is the form's twin (listed in OpenAPI): it assigns
    and records the round, with each reviewer's number of workbooks; a name that is no
    portal user, an overlap past 1 or a reviewer's request are refused, nothing stored.
    Dealt sighted, rob's workbook shows the model's level again."""
    alice, rob = portal.client("alice"), portal.client("rob")
    job = _three_protocol_job(alice)
    url = f"/api/jobs/{job}/rounds"
    assert url.replace(job, "{job_id}") in alice.get("/api/openapi.json").json()["paths"]
    nobody = alice.post(url, json={"reviewers": ["rob", "nobody"]}, headers=_csrf(alice))
    assert nobody.status_code == 400
    assert "no portal user 'nobody'" in nobody.json()["error"]
    assert alice.get(f"/api/jobs/{job}").json()["round"] is None
    assert alice.get(f"/api/jobs/{job}").json()["reviewers"] == []
    too_much = alice.post(url, json={"reviewers": ["rob"], "overlap": 1.5}, headers=_csrf(alice))
    assert too_much.status_code == 422
    dealt = alice.post(url, json={"reviewers": ["rob"], "blind": False}, headers=_csrf(alice))
    assert dealt.status_code == 200, dealt.text
    body = dealt.json()
    assert body["reviewers"] == ["rob"]
    assert body["blind"] is False
    assert body["workbooks"] == {"rob": 1}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d\+00:00", body["dealt_at"])
    assert rob.post(url, json={"reviewers": ["rob"]}, headers=_csrf(rob)).status_code == 403
    book = load_workbook(io.BytesIO(rob.get(f"/jobs/{job}/review.xlsx").content))
    assert "Heatmap" in book.sheetnames
    assert "blind" not in dict(book["_cenr"].iter_rows(values_only=True))


def test_the_job_page_colours_levels_and_flags_a_second_look(
    portal: Portal, sqlite_service: str
) -> None:
    """The palette is served with the portal's stylesheet; the job page shows the model's
    level as a chip '4 Consult' of the level's class, confidence as a percentage in its
    band, the heat-map's strength in words, and a protocol made unsure (confidence 0.31)
    is flagged for a second look with the reason, and counted."""
    alice = portal.client("alice")
    job = _three_protocol_job(alice)
    css = alice.get("/static/portal.css")
    assert css.status_code == 200
    assert ".level0 {" in css.text
    assert ".band-low {" in css.text
    assert ".levels6 .level5 {" in css.text
    assert portal.client().get("/static/portal.css").status_code == 200  # the sign-in page's

    detail = _wait_done(alice, job)
    item = detail["protocols"][0]["item"]
    _sql(sqlite_service, "UPDATE predictions SET confidence = 0.31 WHERE id = (SELECT p.id "
         "FROM predictions p JOIN job_items i ON i.document_id = p.document_id "
         "WHERE i.id = :item)", item=item)  # fmt: skip
    page = alice.get(f"/jobs/{job}")
    assert "style=" not in page.text  # the policy allows no inline style
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    codebook = default_codebook()
    chips = re.findall(r'<span class="chip level(\d)">([^<]+)</span>', page.text)
    assert len(chips) == 3
    for index, shown in chips:
        assert shown == codebook.choice(int(index))
    assert 'class="levels6"' in page.text
    assert '<span class="chip band-low">31%</span>' in page.text
    row = next(r for r in page.text.split("<tr") if f'/protocols/{item}"' in r)
    assert "Needs a second look" in row
    assert "unsure (31%)" in row
    assert re.search(r"<td>(strong|moderate|weak|not measured)</td>", row)
    assert _counts(page.text)["second_look"] >= 1
    model = next(p for p in alice.get(f"/api/jobs/{job}").json()["protocols"]
                 if p["item"] == item)["model"]  # fmt: skip
    assert model["band"] == "low"
    assert model["percent"] == "31%"
    assert "unsure (31%)" in model["second_look"]
    protocol = alice.get(f"/jobs/{job}/protocols/{item}").text  # the shared page's flag
    assert "Needs a second look" in protocol
    assert "unsure (31%)" in protocol


def test_the_admins_job_page_in_a_browser(portal: Portal, browser: Any, tmp_path: Path) -> None:
    """The job page as the coordinator sees it, in headless Chromium: the palette applies
    (a level chip has the level's colour), the page's script runs without a console error,
    and a screenshot is kept for a person to look at."""
    from selenium.webdriver.common.by import By

    alice = portal.client("alice")
    job = _three_protocol_job(alice)
    alice.post(f"/api/jobs/{job}/rounds", json={"reviewers": ["rob"], "blind": True},
               headers=_csrf(alice))  # fmt: skip
    exported = tmp_path / "alice.xlsx"  # the coordinator's own level for one protocol
    exported.write_bytes(alice.get(f"/jobs/{job}/review.xlsx").content)
    first = next(load_workbook(exported)["Review"].iter_rows(min_row=2, values_only=True))[0]
    fill_in(exported, tmp_path / "filled.xlsx", {first: (2, "access only", "alice")})
    upload = {"workbook": ("filled.xlsx", (tmp_path / "filled.xlsx").read_bytes(), XLSX)}
    alice.post(f"/api/jobs/{job}/reviews", headers=_csrf(alice), files=upload)
    browser.delete_all_cookies()
    open_page(browser, f"{portal.url}/login")
    browser.find_element(By.NAME, "username").send_keys("alice")
    browser.find_element(By.NAME, "password").send_keys("alice-admin-password")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    messages = open_page(browser, f"{portal.url}/jobs/{job}")
    assert not [m for m in messages if m["level"] == "SEVERE"], messages
    chip = browser.find_element(By.CSS_SELECTOR, "#protocols .chip")
    assert chip.value_of_css_property("background-color") not in ("", "rgba(0, 0, 0, 0)")
    assert browser.find_element(By.ID, "round-progress").is_displayed()
    shot = tmp_path / "job-page.png"  # kept by pytest for a person to look at
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 120, 4000))
    browser.execute_script("window.scrollTo(0, 0)")
    try:
        browser.save_screenshot(str(shot))
    finally:
        browser.set_window_size(1280, 1000)  # the session's browser, as the others expect
    assert shot.stat().st_size > 10_000
