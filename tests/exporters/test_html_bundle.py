"""The HTML bundle, opened from the file system in headless Chromium as a reviewer would."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from cenr.cli import main
from exporters.html_bundle import CSP, HtmlBundle, write_html_bundle
from exporters.links import page_path
from exporters.rendering import render
from exporters.scale import FILLS, shade
from schema.codebook import default_codebook
from schema.database import open_database, session_scope
from schema.views import TokenSpan
from tests.browser import browser, open_page
from tests.conftest import demo_rows, write_export
from tests.exporters.labelwise import labelwise_data
from worker.results import review_data, token_spans

__all__ = ["browser"]  # the fixture, imported for pytest

SCRIPT = '<script>window.pwned = "script"</script>'
IMAGE = '<img src="x" onerror="window.pwned = \'img\'">'


@pytest.fixture
def bundle(sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A job with hostile text in every field a page shows, exported and unzipped."""
    rows = demo_rows(10)
    rows[0]["StudyTitle"] = f"Title {SCRIPT} with a script"
    rows[1]["AimsGoals"] = f"Aims {IMAGE} with an image"
    rows[2]["Protocol ID"] = f'"><b id="bold">{SCRIPT}'
    rows[3]["Partners"] = '</p></section><iframe src="https://evil.example"></iframe>'
    write_export(tmp_path / "inbox" / "export.csv", rows)
    (tmp_path / "inbox" / f"{IMAGE}.txt").write_text("")  # a failure whose file name is HTML
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out")]) == 1
    target = tmp_path / "pages.zip"
    assert main(["export", "--html", str(target)]) == 0
    assert f"export: {target}" in capsys.readouterr().out
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        [root] = {name.split("/")[0] for name in names}
        assert all(".." not in name and not name.startswith("/") for name in names)
        archive.extractall(tmp_path / "unzipped")
    return tmp_path / "unzipped" / root


def _no_script_ran(chrome: Any) -> None:
    assert chrome.execute_script("return document.body.dataset.ready") == "1", "our script ran"
    assert chrome.execute_script("return window.pwned === undefined"), "document text ran"
    assert not chrome.find_elements(By.CSS_SELECTOR, "iframe, #bold, .text img, td img")


def test_bundle_structure_and_security(bundle: Path) -> None:
    """The bundle holds an index, a model page and one page per protocol, each with a strict content
    security policy and no inline script, hostile markup or remote resource."""
    assert {p.name for p in bundle.iterdir()} == {"index.html", "model.html", "assets", "protocols"}
    assert len(list((bundle / "protocols").glob("*.html"))) == 10
    for html_file in bundle.rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        assert "Content-Security-Policy" in text
        assert "script-src 'self'" in text
        assert "<script>window" not in text
        assert '<img src="x"' not in text
        assert "https://" not in text.replace("https://evil.example", ""), "nothing remote"


def test_index_renders_sorts_and_filters(bundle: Path, browser: Any) -> None:
    """The index page lists every protocol least certain first, shows hostile text as text, lists
    the failures, and sorts and filters in the browser."""
    messages = open_page(browser, (bundle / "index.html").as_uri())
    assert not [m for m in messages if m["level"] == "SEVERE"], messages
    _no_script_ran(browser)
    table = browser.find_element(By.ID, "protocols")
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 10
    assert SCRIPT in table.text, "hostile text is shown as text"
    failures = browser.find_element(By.ID, "failures").text
    assert f"{IMAGE}.txt" in failures

    def column(name: str) -> list[str]:
        headings = [th.text.strip(" ↕↑↓") for th in table.find_elements(By.CSS_SELECTOR, "th")]
        at = headings.index(name)
        cells = table.find_elements(By.CSS_SELECTOR, f"tbody tr td:nth-child({at + 1})")
        return [c.get_attribute("data-value") or c.text for c in cells if c.is_displayed()]

    confidence = [float(v) for v in column("Confidence")]
    assert confidence == sorted(confidence), "least certain first"
    button = table.find_element(By.XPATH, ".//th[.//button[contains(., 'Confidence')]]//button")
    button.click()  # ascending (already), then descending
    button.click()
    assert [float(v) for v in column("Confidence")] == sorted(confidence, reverse=True)
    header = button.find_element(By.XPATH, "./..")
    assert header.get_attribute("aria-sort") == "descending"
    table.find_element(By.XPATH, ".//th//button[contains(., 'Protocol ID')]").click()
    ids = column("Protocol ID")
    assert ids == sorted(ids, key=str.lower)

    levels = [cell.split()[0] for cell in column("Level")]
    wanted = max(set(levels), key=levels.count)
    Select(browser.find_element(By.ID, "level-filter")).select_by_value(wanted)
    assert {cell.split()[0] for cell in column("Level")} == {wanted}
    assert browser.find_element(By.ID, "shown").text == str(levels.count(wanted))
    Select(browser.find_element(By.ID, "level-filter")).select_by_value("")
    browser.find_element(By.ID, "filter").send_keys("with a script")
    assert len(column("Title")) == 1
    assert browser.find_element(By.ID, "shown").text == "1"


def _rgba(fill: str) -> str:
    red, green, blue = (int(fill[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red}, {green}, {blue}, 1)"


def test_protocol_pages_shade_tokens_by_weight_and_run_nothing(
    bundle: Path, sqlite_service: str, browser: Any
) -> None:
    """Each protocol page shades its tokens by their stored weights and shows hostile text without
    running it, and the model page's matrix image loads."""
    engine = open_database(sqlite_service)
    with session_scope(engine) as session:
        data = review_data(session, bundle.name.removeprefix("cenr-"))
        expected = {
            row.protocol_id: (row.n_tokens, token_spans(session, row.prediction_id))
            for row in data.rows
        }
    engine.dispose()
    shown = []
    codebook = default_codebook()
    for row in data.rows:
        messages = open_page(browser, (bundle / page_path(row.item_id)).as_uri())
        assert not [m for m in messages if m["level"] == "SEVERE"], messages
        _no_script_ran(browser)
        assert row.protocol_id in browser.find_element(By.TAG_NAME, "h1").text
        tokens = browser.find_elements(By.CSS_SELECTOR, ".text span[title]")
        n_tokens, spans = expected[row.protocol_id]
        # in the fields' order on the page (evidence fields first), shaded tokens only
        writer = HtmlBundle(data, codebook, lambda p: [])
        order = [name for name, _ in writer.ordered_fields(row.fields)]
        ranked = sorted(spans, key=lambda s: (order.index(s.field), s.start))
        shaded = [s for s in ranked if shade(s.weight * n_tokens) > 0]
        assert 0 < len(tokens) == len(shaded) < len(spans), "below an even share: no span"
        for token, span in list(zip(tokens, shaded, strict=True))[:40]:
            level = shade(span.weight * n_tokens)
            assert token.get_attribute("class") == f"s{level}"
            assert token.get_attribute("title").startswith(f"weight {span.weight:.4f}")
            colour = browser.execute_script(
                "return getComputedStyle(arguments[0]).backgroundColor", token
            )  # folded paragraphs' tokens too (not displayed, still styled)
            assert colour == _rgba(FILLS[level]).replace("rgba", "rgb").replace(", 1)", ")")
        fields = [h3.text for h3 in browser.find_elements(By.CSS_SELECTOR, "section h3")]
        assert [f.split(" evidence field")[0] for f in fields[:2]] == ["Partners", "Study design"]
        assert "StudyTitle" not in fields
        assert "Title" in fields
        # the level, its confidence and what the shading explains come first
        facts = [dt.text for dt in browser.find_elements(By.CSS_SELECTOR, "dl.facts dt")]
        assert facts[:4] == [
            "Model's level", "Confidence", "Does the shading explain it?", "Where the shading is"
        ]  # fmt: skip
        assert row.evidence is not None
        assert browser.find_element(By.ID, "evidence").text.startswith(
            writer.evidence_text(row.evidence.fields)
        )
        assert len(browser.find_elements(By.TAG_NAME, "meter")) == 6
        shown.append(browser.find_element(By.TAG_NAME, "body").text)
    assert SCRIPT in " ".join(shown), "shown as text, tokens and all"
    assert IMAGE in " ".join(shown)

    open_page(browser, (bundle / "model.html").as_uri())
    _no_script_ran(browser)
    picture = browser.find_element(By.CSS_SELECTOR, "img.matrix")
    assert browser.execute_script("return arguments[0].naturalWidth", picture) > 0, "it loads"


def test_the_policy_stops_script_that_escaping_missed(tmp_path: Path, browser: Any) -> None:
    """Defence in depth: even markup that reached a page unescaped does not run."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "cenr.js").write_text("document.body.dataset.ready = '1';")
    (tmp_path / "assets" / "cenr.css").write_text("")
    unescaped = Markup(SCRIPT + IMAGE + '<p style="x">p</p>')  # noqa: S704 (the point)
    page = render("bundle/page.html", csp=CSP, up="", page_title="t", content=unescaped)
    (tmp_path / "page.html").write_text(page)
    messages = open_page(browser, (tmp_path / "page.html").as_uri())
    assert browser.execute_script("return window.pwned === undefined")
    assert any("Content Security Policy" in m["message"] for m in messages), messages


def test_labelwise_pages_switch_between_levels(tmp_path: Path, browser: Any) -> None:
    """A label-wise protocol page shades the predicted level's evidence first and switches the
    shading to another level when chosen."""
    data, spans = labelwise_data()
    target = write_html_bundle(tmp_path / "lw.zip", data, default_codebook(), spans.__getitem__)
    with zipfile.ZipFile(target) as archive:
        archive.extractall(tmp_path)
    open_page(browser, (tmp_path / "cenr-j1" / "protocols" / "00001.html").as_uri())
    _no_script_ran(browser)

    def classes() -> list[str]:
        found = browser.find_elements(By.CSS_SELECTOR, ".text span[title]")
        return [t.get_attribute("class") for t in found]

    strong = f"s{shade(0.9 * 6)}"
    assert (strong, shade(0.02 * 6)) == ("s3", 0)
    # only words some level shades have a span; below an even share: no class at all
    assert classes() == [strong, ""], "the predicted level's evidence first"
    Select(browser.find_element(By.ID, "level-switch")).select_by_value("0")
    assert classes() == ["", strong]
    last = browser.find_elements(By.CSS_SELECTOR, ".text span[title]")[-1]
    assert last.get_attribute("title") == "weight 0.9000 for level 0"
    assert browser.find_element(By.ID, "showing").text.startswith("0 ")


def test_bundle_is_not_left_half_written(tmp_path: Path) -> None:
    """A bundle that fails while being written leaves neither a partial zip nor a temporary file
    behind."""
    data, spans = labelwise_data()

    def broken(prediction_id: int) -> list[TokenSpan]:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_html_bundle(tmp_path / "b.zip", data, default_codebook(), broken)
    assert list(tmp_path.iterdir()) == [], "no partial zip, no temporary file"
    assert HtmlBundle(data, default_codebook(), spans.__getitem__).labelwise
