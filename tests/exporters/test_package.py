"""The reviewer's package and the protocol page: one click from a workbook row to its
protocol's page, offline, after unzipping; and a page that puts the evidence first."""

from __future__ import annotations

import html
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.by import By

from cenr.cli import main
from exporters.html_bundle import write_html_bundle
from exporters.links import page_path
from exporters.package import add_workbooks
from schema.codebook import default_codebook
from schema.evidence import evidence_of
from schema.views import ReviewData, ReviewRow, TokenSpan
from tests.browser import browser, open_page
from tests.conftest import demo_rows, write_export

__all__ = ["browser"]  # the fixture, imported for pytest

SHADED_SPAN = re.compile(r"<span[^>]*\bclass=\"s0\"")


class Page(HTMLParser):
    """A page's elements with their ancestors: for each ``id``, whether a closed
    ``<details>`` hides it, and the sections' headings in order."""

    VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "wbr"})

    def __init__(self, text: str) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.hidden: dict[str, bool] = {}  # id -> inside a closed <details>
        self.paragraphs: list[tuple[str, bool]] = []  # (text, folded) of each p.text
        self.headings: list[str] = []
        self.hrefs: list[str] = []
        self._text: list[str] | None = None
        self._heading: list[str] | None = None
        self.feed(text)

    def _folded(self) -> bool:
        return any(tag == "details" and "open" not in attrs for tag, attrs in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if named.get("id"):
            self.hidden[str(named["id"])] = self._folded()
        if tag == "a" and named.get("href"):
            self.hrefs.append(str(named["href"]))
        if tag == "p" and "text" in (named.get("class") or "").split():
            self._text = []
        if tag == "h3":
            self._heading = []
        if tag not in self.VOID:
            self.stack.append((tag, named))

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._text is not None:
            self.paragraphs.append(("".join(self._text), self._folded()))
            self._text = None
        if tag == "h3" and self._heading is not None:
            self.headings.append("".join(self._heading).replace("evidence field", "").strip())
            self._heading = None
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for collecting in (self._text, self._heading):
            if collecting is not None:
                collecting.append(data)


def _unzip(archive_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive_path) as archive:
        names = archive.namelist()
        for name in names:  # opens on Windows and macOS: relative, forward slashes, ASCII
            assert name.isascii(), name
            assert not name.startswith("/"), name
            assert ":" not in name, name
            assert "\\" not in name, name
            assert ".." not in name.split("/"), name
        archive.extractall(into)
    [root] = {name.split("/")[0] for name in names}
    return into / root


def _linked_rows(workbook: Path) -> list[tuple[str, str]]:
    """Each Review row's (Protocol ID, hyperlink target)."""
    book = load_workbook(workbook)  # not read-only: hyperlinks need the full reader
    sheet = book["Review"]
    header = [cell.value for cell in sheet[1]]
    column = header.index("Protocol ID") + 1
    rows = []
    for row in range(2, sheet.max_row + 1):
        cell = sheet.cell(row, column)
        if cell.value is None:
            continue
        assert cell.hyperlink is not None, f"{workbook.name} row {row}: no link to its page"
        rows.append((str(cell.value), str(cell.hyperlink.target)))
    return rows


@pytest.mark.parametrize("per_workbook", [50, 3])
def test_each_rows_protocol_id_opens_its_page_in_the_unzipped_package(
    sqlite_service: str, tmp_path: Path, per_workbook: int
) -> None:
    """After `cenr run`, review-html.zip unzips to one folder holding the review
    workbook(s) beside protocols/; every Review row's Protocol ID links, relative to its
    workbook, to an existing page that shows that protocol."""
    write_export(tmp_path / "inbox" / "export.csv", demo_rows(7))
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "inbox"), "--out", str(out),
                 "--per-workbook", str(per_workbook)]) == 0  # fmt: skip
    beside = sorted(p.name for p in out.glob("review*.xlsx"))
    assert beside == (["review.xlsx"] if per_workbook > 7 else ["review-1.xlsx", "review-2.xlsx",
                                                               "review-3.xlsx"])  # fmt: skip
    root = _unzip(out / "review-html.zip", tmp_path / "unzipped")
    packed = sorted(p.name for p in root.glob("*.xlsx"))
    assert packed == beside, "the package holds the workbooks written beside it"
    for name in packed:
        assert (root / name).read_bytes() == (out / name).read_bytes()
    seen = set()
    for workbook in root.glob("*.xlsx"):
        for protocol_id, target in _linked_rows(workbook):
            assert not target.startswith(("/", "file:", "http")), target
            assert "\\" not in target, target
            page = (workbook.parent / target).resolve()
            assert page.is_file(), f"{workbook.name}: {protocol_id} links to missing {target}"
            assert page.is_relative_to(root.resolve())
            title = Page(page.read_text(encoding="utf-8"))
            text = page.read_text(encoding="utf-8")
            assert f"<h1>{html.escape(protocol_id)}:" in text, (protocol_id, target)
            assert title.headings, target
            seen.add(protocol_id)
    assert len(seen) == 7


def test_cenr_export_puts_the_dealt_workbooks_in_the_package(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr export --xlsx --reviewers --html` (a blind round too): the package holds each
    reviewer's workbook beside the pages, and their links open pages of the package."""
    write_export(tmp_path / "inbox" / "export.csv", demo_rows(4))
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out")]) == 0
    target = tmp_path / "round" / "round.zip"
    assert main(["export", "--xlsx", str(tmp_path / "round" / "review.xlsx"), "--reviewers",
                 "ana,ben", "--blind", "--html", str(target)]) == 0  # fmt: skip
    capsys.readouterr()
    root = _unzip(target, tmp_path / "unzipped")
    assert sorted(p.name for p in root.glob("*.xlsx")) == ["review-ana.xlsx", "review-ben.xlsx"]
    for workbook in root.glob("*.xlsx"):
        rows = _linked_rows(workbook)
        assert rows
        for protocol_id, link in rows:
            page = (workbook.parent / link).read_text(encoding="utf-8")
            assert f"<h1>{html.escape(protocol_id)}:" in page
            assert "Model&#39;s level" not in page, "blind"
            assert "Confidence" not in page, "blind"


def test_every_page_of_a_run_puts_the_evidence_first_and_links_its_passages(
    sqlite_service: str, tmp_path: Path
) -> None:
    """On each page of a real run: Partners and Study design before Background, no span
    shaded s0, each passage link's anchor in the page and not folded away, paragraphs
    folded exactly when they hold no strong shading."""
    write_export(tmp_path / "inbox" / "export.csv", demo_rows(6))
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out")]) == 0
    root = _unzip(tmp_path / "out" / "review-html.zip", tmp_path / "unzipped")
    pages = sorted((root / "protocols").glob("*.html"))
    assert len(pages) == 6
    for path in pages:
        text = path.read_text(encoding="utf-8")
        page = Page(text)
        evidence = [h for h in ("Partners", "Study design") if h in page.headings]
        assert evidence, path.name  # (a protocol may leave one of them empty)
        assert page.headings[: len(evidence)] == evidence, path.name
        assert page.headings.index("Background") >= len(evidence)
        assert not SHADED_SPAN.search(text), "a token below an even share is plain text"
        links = [h for h in page.hrefs if h.startswith("#passage-")]
        assert links, path.name
        for link in links:
            assert link[1:] in page.hidden, f"{path.name}: no anchor for {link}"
            assert not page.hidden[link[1:]], f"{path.name}: {link} is folded away"
        assert "nats" not in text.split('id="technical"')[0], "figures only under Technical"


def _hand_made() -> tuple[ReviewData, dict[int, list[TokenSpan]]]:
    """Level 4, its weight all on the Background: one paragraph strongly shaded (both
    passages shown are in it), one lightly (the third passage, not shown), one below an
    even share; Partners and Study design hold none."""
    strong = "Community members co-designed the survey with us. Partners reviewed the consent."
    light = " ".join(["Earlier work in the county measured outcomes over several years"] * 3)
    plain = " ".join(["The hospital serves a rural population of farmers and their families"] * 3)
    background = f"{strong}\n\n{light}\n\n{plain}"
    spans = []
    n = 40
    for position, (word, weight) in enumerate([("Community", 0.3), ("reviewed", 0.2)]):
        start = background.index(word)
        spans.append(TokenSpan(position, word, "Background", start, start + len(word), weight,
                               None))  # fmt: skip
    start = background.index("Earlier")
    spans.append(TokenSpan(2, "Earlier", "Background", start, start + 7, 1.5 / n, None))
    start = background.index("hospital")
    spans.append(TokenSpan(3, "hospital", "Background", start, start + 8, 0.5 / n, None))
    row = ReviewRow(
        item_id=12, prediction_id=5, protocol_id="HM-1", file="hand.csv",
        fields={"StudyTitle": "A hand-made protocol", "Background": background,
                "StudyDesign": "A survey of 200 adults.", "Partners": "None named."},
        level_index=4, level_code="4", confidence=0.9958,
        probabilities=[0.001] * 4 + [0.9958, 0.0002],
        faithfulness=None, n_tokens=n, tokens_cut=0, top_tokens=[],
    )  # fmt: skip
    row.evidence = evidence_of(row.fields, spans, [s.weight for s in spans])  # as stored
    data = ReviewData(
        job_id="hand", model="m", model_metrics={}, model_created_at="",
        data_fingerprint="", rows=[row], failures=[],
    )  # fmt: skip
    return data, {5: spans}


def test_evidence_in_the_background_asks_for_a_second_look(tmp_path: Path) -> None:
    """A level-4 prediction whose weight lies in the Background: the page asks for a second
    look naming the evidence fields, shows 99.6% (never 1.00), puts the evidence fields
    first, keeps the strongly shaded paragraph open and folds the others."""
    data, spans = _hand_made()
    bundle = write_html_bundle(tmp_path / "b.zip", data, default_codebook(), spans.__getitem__)
    with zipfile.ZipFile(bundle) as archive:
        text = archive.read(f"cenr-hand/{page_path(12)}").decode("utf-8")
        index = archive.read("cenr-hand/index.html").decode("utf-8")
    page = Page(text)
    assert 'id="second-look"' in text
    notice = text.split('id="second-look"')[1].split("</div>")[0]
    assert "evidence outside Partners and Study design" in notice
    assert "99.6%" in text
    assert "1.00" not in text
    assert 'class="badge level4"' in text
    assert "band-high" in text
    assert page.headings == ["Partners", "Study design", "Title", "Background"]
    folded = {" ".join(body.split()[:2]): hidden for body, hidden in page.paragraphs}
    assert folded == {"None named.": False, "A survey": False, "A hand-made": False,
                      "Community members": False, "Earlier work": True,
                      "The hospital": True}, folded  # fmt: skip
    assert page.hidden["passage-1"] is False
    assert page.hidden["passage-2"] is False
    assert 'href="protocols/00012.html"' in index
    assert "evidence outside Partners and Study design" in index
    assert not SHADED_SPAN.search(text)
    assert ">hospital<" not in text, "below an even share: plain text"
    assert re.search(r'<span class="s1" title="weight [^"]*">Earlier</span>', text)


def test_a_reviewer_opens_a_folded_paragraph_and_follows_a_passage(
    tmp_path: Path, browser: Any
) -> None:
    """In the browser: a folded paragraph is hidden until its line is clicked; a strongest
    passage's link goes to its place in the text, which is shown."""
    data, spans = _hand_made()
    bundle = write_html_bundle(tmp_path / "b.zip", data, default_codebook(), spans.__getitem__)
    root = _unzip(bundle, tmp_path / "pages")
    messages = open_page(browser, (root / page_path(12)).as_uri())
    assert not [m for m in messages if m["level"] == "SEVERE"], messages
    fold = browser.find_element(By.CSS_SELECTOR, "#heatmap details.fold")
    hidden = fold.find_element(By.CSS_SELECTOR, "p.text")
    assert not hidden.is_displayed()
    fold.find_element(By.TAG_NAME, "summary").click()
    assert hidden.is_displayed()
    browser.find_element(By.CSS_SELECTOR, "ol.passages a").click()
    assert browser.execute_script("return location.hash") == "#passage-1"
    target = browser.find_element(By.ID, "passage-1")
    assert target.is_displayed()
    assert "Community" in target.text


def test_workbooks_added_again_replace_the_earlier_ones(tmp_path: Path) -> None:
    """A re-export puts each workbook in the package once, the newest, the pages kept, and
    leaves no temporary file behind."""
    data, spans = _hand_made()
    bundle = write_html_bundle(tmp_path / "b.zip", data, default_codebook(), spans.__getitem__)
    pages = set(zipfile.ZipFile(bundle).namelist())
    books = tmp_path / "books"
    books.mkdir()
    first, second = books / "review-1.xlsx", books / "review-2.xlsx"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    add_workbooks(bundle, [first, second])
    first.write_bytes(b"one, again")
    add_workbooks(bundle, [first])
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert archive.read("cenr-hand/review-1.xlsx") == b"one, again"
        assert archive.read("cenr-hand/review-2.xlsx") == b"two"
    assert sorted(names) == sorted(pages | {"cenr-hand/review-1.xlsx", "cenr-hand/review-2.xlsx"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip", "books"]
