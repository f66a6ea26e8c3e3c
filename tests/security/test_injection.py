"""Hostile document text through the real pipeline, checked in the files it writes.

Protocol IDs, titles, text and file names carry spreadsheet formulas, CSV-injection
payloads and HTML/script; `cenr run` classifies them and the checks read the outputs a
reviewer opens: predictions.csv, review.xlsx (and its raw XML), the HTML bundle (parsed,
and one page in headless Chromium), and the Discussion workbook.
"""

from __future__ import annotations

import csv
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from openpyxl import load_workbook
from selenium.webdriver.common.by import By

from cenr.cli import main
from exporters.cells import FORMULA_STARTS
from tests.browser import open_page
from tests.conftest import demo_rows, last_json_line, write_export
from tests.exporters.conftest import fill_in

FORMULAS = [
    '=HYPERLINK("http://x","y")', "=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)",
    "\t=1+2", "\r=1+2",
]  # fmt: skip
MARKUP = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>',
    "javascript:alert(1)",
]  # fmt: skip
PAYLOADS = FORMULAS + MARKUP
FILE_NAMES = [  # a file name cannot hold "/", so no closing tag here
    "=1+2", "@SUM(1)", "-2+3", "+cmd|' -C calc'!A0", "\t=1+2", "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>', "javascript:alert(1)",
]  # fmt: skip
GOOD_TEXT = (
    "The community advisory board co-designed the study, shares governance of the data "
    "and co-authors every publication with the research team."
)
CHART_RANGE = re.compile(r"'?\w+'?!\$?[A-Z]+\$?\d+(:\$?[A-Z]+\$?\d+)?")
OWN_LINK = re.compile(r"protocols/[0-9]{5}\.html")
_REFERENCE = r"(?:Review!)?\$?[A-Z]{1,3}\$?[0-9]+(?::\$?[A-Z]{1,3}\$?[0-9]+)?"
OWN_FORMULA = re.compile(  # the Summary's own: counts over the Review sheet, nothing else
    rf'=(?:(?:COUNT|COUNTA|COUNTIF|COUNTIFS|SUMPRODUCT|SUM)\(|\(|\)|,|[-+*=]|"\?\*"|""|{_REFERENCE}|[0-9]+)+'
)
INJECTED = "script:not([src]), [onerror], [onload], img[src='x'], a[href^='javascript']"
ALERT_SPY = "window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));"


@pytest.fixture
def outputs(sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A `cenr run` over hostile protocols; returns its export folder."""
    inbox = tmp_path / "inbox"
    rows = demo_rows(len(PAYLOADS))
    for row, payload in zip(rows, PAYLOADS, strict=True):
        row["Protocol ID"] = payload
        row["StudyTitle"] = payload
        row["AimsGoals"] = f"{payload} {row['AimsGoals']}"
    write_export(inbox / "export.csv", rows)
    for index, name in enumerate(FILE_NAMES):
        text = f"{PAYLOADS[index % len(PAYLOADS)]} {GOOD_TEXT} {MARKUP[index % len(MARKUP)]}"
        (inbox / f"{name}.txt").write_text(text, encoding="utf-8")
    (inbox / "=2+2 <b>failed.txt").write_bytes(b"")  # a failure row, named by a payload
    out = tmp_path / "out"
    status = main(["run", str(inbox), "--out", str(out), "--model", "tiny"])
    printed = capsys.readouterr().out
    assert status == 1, printed  # the empty file fails; every other protocol is done
    done = len(PAYLOADS) + len(FILE_NAMES)
    assert f"{done} done, 1 failed" in printed
    return out


def _is_neutral(value: str) -> bool:
    return not value.startswith(FORMULA_STARTS)


def test_predictions_csv_neutralises_every_formula_cell(outputs: Path) -> None:
    """Every cell of predictions.csv that would start a formula is quoted so it stays text, while
    plain markup is left unchanged."""
    with (outputs / "predictions.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(PAYLOADS) + len(FILE_NAMES) + 1
    cells = [value for row in rows for value in row.values()]
    dangerous = [value for value in cells if not _is_neutral(value)]
    assert not dangerous, dangerous
    ids = {row["protocol_id"] for row in rows}
    for payload in FORMULAS:  # leading tabs and line breaks are trimmed from IDs
        assert "'" + payload.strip() in ids, f"{payload!r} is kept, as text"
    for payload in MARKUP:
        assert payload in ids, "plain text in a CSV needs no change"
    files = {row["file"] for row in rows}
    assert "'=1+2.txt" in files
    assert "'\t=1+2.txt" in files
    assert "'=2+2 <b>failed.txt" in files


def _xlsx_parts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith("rels")
                or n.endswith(".xml")}  # fmt: skip


def check_workbook(path: Path, expect_in_cells: list[str]) -> None:
    """No formula and no hyperlink of a document's anywhere in the workbook; payloads kept as
    text. The workbook's own are allowed, and only those: links to a protocol's page in the
    reviewer's package (``protocols/00012.html``) and the Summary's counting formulas over
    the Review sheet (no string in them but ``"?*"`` and ``""``)."""
    book = load_workbook(path)
    texts: list[str] = []
    for sheet in book.worksheets:
        for link in sheet._hyperlinks:  # type: ignore[attr-defined]
            assert OWN_LINK.fullmatch(link.target or ""), (sheet.title, link.target)
            assert not link.location, (sheet.title, link.location)
        for row in sheet.iter_rows():
            for cell in row:
                where = f"{sheet.title}!{cell.coordinate}"
                if cell.data_type == "f":
                    assert sheet.title == "Summary", f"{where} is a formula: {cell.value!r}"
                    assert OWN_FORMULA.fullmatch(str(cell.value)), (where, cell.value)
                if cell.hyperlink is not None:
                    assert OWN_LINK.fullmatch(cell.hyperlink.target or ""), where
                if isinstance(cell.value, str) and cell.data_type != "f":
                    texts.append(cell.value)
        for validation in sheet.data_validations.dataValidation:  # our own level lists
            assert validation.formula1 == "=Codebook!$D$2:$D$7", validation.formula1
    for payload in expect_in_cells:
        assert any(payload.strip() in text for text in texts), payload
    for name, xml in _xlsx_parts(path).items():
        for target in re.findall(r'Type="[^"]*relationships/hyperlink"[^>]*Target="([^"]*)"', xml):
            assert OWN_LINK.fullmatch(target), (name, target)
        formulas = re.findall(r"<(?:\w+:)?f(?: [^>]*)?>([^<]*)<", xml)
        if name.startswith("xl/charts/"):  # a chart's own series: ranges of its sheets
            assert all(CHART_RANGE.fullmatch(f) for f in formulas), (name, formulas)
        else:
            unescaped = [f.replace("&quot;", '"').replace("&amp;", "&") for f in formulas]
            assert all(OWN_FORMULA.fullmatch("=" + f) for f in unescaped), (name, formulas)
        assert "externalLink" not in xml, name


def test_review_workbook_holds_no_formula_or_link(outputs: Path) -> None:
    """The review workbook holds no formula or hyperlink, and shows formula-like IDs and the failed
    file's hostile name as typed text."""
    check_workbook(outputs / "review.xlsx", PAYLOADS)
    book = load_workbook(outputs / "review.xlsx")
    review = book["Review"]
    header = [c.value for c in review[1]]
    ids = [row[header.index("Protocol ID")] for row in review.iter_rows(min_row=2)]
    quoted = {c.value for c in ids if c.quotePrefix}
    assert {"=1+2", '=HYPERLINK("http://x","y")'} <= quoted, "shown as typed"
    failed = " ".join(str(c.value) for row in book["Failed"].iter_rows() for c in row)
    assert "=2+2 <b>failed.txt" in failed


class _Page(HTMLParser):
    """Every element with its attributes, and the text of inline scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_script += data


def _unzip(bundle: Path, into: Path) -> Path:
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        [root] = {name.split("/")[0] for name in names}
        for name in names:
            assert ".." not in name.split("/"), name
            assert not name.startswith("/"), name
            assert not any(p.strip() in name for p in PAYLOADS + FILE_NAMES), name
        archive.extractall(into)
    return into / root


def test_html_bundle_shows_payloads_only_as_text(outputs: Path, tmp_path: Path) -> None:
    """The HTML bundle's pages hold no inline script, event handler or script, data or remote link,
    and show the markup payloads only escaped."""
    root = _unzip(outputs / "review-html.zip", tmp_path / "bundle")
    pages = sorted(root.rglob("*.html"))
    assert len(pages) >= len(PAYLOADS) + len(FILE_NAMES) + 2
    everything = ""
    for path in pages:
        source = path.read_text(encoding="utf-8")
        everything += source
        parsed = _Page()
        parsed.feed(source)
        where = path.relative_to(root)
        assert not parsed.inline_script.strip(), where
        for tag, attrs in parsed.elements:
            handlers = [name for name in attrs if name.startswith("on")]
            assert not handlers, (where, tag, attrs)
            if tag == "script":
                assert attrs.get("src", "").endswith("assets/cenr.js"), (where, attrs)
            if tag in ("img", "svg", "iframe", "object", "embed"):
                assert attrs.get("src") != "x", (where, tag, attrs)
            for name in ("href", "src", "action", "formaction"):
                value = (attrs.get(name) or "").strip().lower()
                assert not value.startswith(("javascript:", "data:", "http")), (where, attrs)
    for payload in MARKUP[:3]:
        assert payload not in everything, f"{payload} reached a page unescaped"
        assert escape(payload) in everything, f"{payload} is not shown"


def test_a_page_runs_nothing_in_the_browser(outputs: Path, tmp_path: Path, browser: Any) -> None:
    """No page of the HTML bundle runs an injected script or alert in the browser, and each shows
    its markup payloads as text."""
    root = _unzip(outputs / "review-html.zip", tmp_path / "bundle")
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ALERT_SPY})
    shown = 0
    for page in [root / "index.html", *sorted((root / "protocols").glob("*.html"))]:
        open_page(browser, page.as_uri())
        assert browser.execute_script("return document.body.dataset.ready") == "1", page
        assert browser.execute_script("return window.__alerts") == [], page
        assert not browser.find_elements(By.CSS_SELECTOR, INJECTED), page
        shown += "alert(1)" in browser.find_element(By.TAG_NAME, "body").text
    # the index, the 4 rows and the 8 files that carry markup show it as text
    assert shown == 1 + len(MARKUP) + len(FILE_NAMES), "a page hid its payloads"


def test_discussion_workbook_keeps_reviewer_formulas_as_text(
    outputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reviewer names and rationales typed as formulas end up as text, with no formula or link, in
    the discussion workbook."""
    review = outputs / "review.xlsx"
    ids = [r[0] for r in load_workbook(review)["Review"].iter_rows(min_row=2, values_only=True)]
    given = (("ana", "5", "=1+2"), ("=ben", "1", '=HYPERLINK("http://x","y")'))
    for number, (name, level, rationale) in enumerate(given):
        returned = tmp_path / f"reviewer{number}.xlsx"
        fill_in(review, returned, {ids[0]: (level, rationale, name)})
        _typed_as_text(returned, {rationale, name})
        assert main(["review", "import", str(returned)]) == 0
    capsys.readouterr()
    assert main(["review", "agreement", "--json"]) == 0
    discussion = Path(last_json_line(capsys.readouterr().out)["discussion"])
    check_workbook(discussion, ["=1+2", '=HYPERLINK("http://x","y")', "=ben: level"])


def _typed_as_text(path: Path, values: set[str]) -> None:
    """What Excel saves when a reviewer types '=1+2: text, not a formula."""
    book = load_workbook(path)
    for row in book["Review"].iter_rows():
        for cell in row:
            if cell.value in values:
                cell.data_type = "s"
    book.save(path)
