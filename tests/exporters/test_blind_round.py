"""A blind round: workbooks and pages with the protocol text alone, nothing the model said;
their levels imported marked blind, and the model's agreement with blind reviews set beside
its agreement with sighted ones.

The figures are worked out by hand in the comments (the model's levels of eight protocols
are set in the database so that they are known).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, text

from cenr.cli import main
from schema.codebook import default_codebook
from tests.browser import browser, open_page
from tests.exporters.conftest import fill_in

__all__ = ["browser"]  # the fixture, imported for pytest

MODEL_WORDS = ("P(", "Confidence", "Faithfulness", "heat-map", "Strongest", "Evidence",
               "Level name", "predicted", "least certain", "Heatmap")  # fmt: skip


def _sighted(exported: Path) -> dict[int, dict[str, object]]:
    """Row ID -> the model's output as the sighted workbook shows it."""
    review = load_workbook(exported)["Review"]
    header = [c.value for c in review[1]]
    return {
        values[0]: dict(zip(header, values, strict=True))
        for values in review.iter_rows(min_row=2, values_only=True)
    }


def _blind_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    """Every protocol to ana and to ben (overlap 1), blind, with a blind bundle."""
    out = tmp_path / "blind" / "round.xlsx"
    out.parent.mkdir()
    argv = ["export", "--xlsx", str(out), "--reviewers", "ana,ben", "--overlap", "1", "--blind",
            "--html", str(tmp_path / "blind" / "round.zip")]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    return {name: out.with_name(f"round-{name}.xlsx") for name in ("ana", "ben")}


def test_a_blind_workbook_holds_nothing_the_model_said(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every cell of every sheet is scanned: no level, level name, confidence, probability,
    verdict, evidence or shading of the model's; the reviewer's columns are there, and the
    hidden identity sheet says blind."""
    sighted = _sighted(exported)
    books = _blind_export(tmp_path, capsys)
    codebook = default_codebook()
    names = {level.name for level in codebook.levels}
    figures = set()
    for row in sighted.values():
        confidence = float(str(row["Confidence"]))
        figures |= {f"{confidence:.2f}", f"{confidence:.3f}", str(round(confidence, 4))}
    for name, path in books.items():
        book = load_workbook(path)
        assert book.sheetnames == ["Review", "Summary", "Codebook", "Failed", "_cenr"]
        review = book["Review"]
        header = [c.value for c in review[1]]
        assert header == ["Row ID", "Protocol ID", "Title", "Reviewer level", "Rationale",
                          "Reviewer", "Protocol text"]  # fmt: skip
        rows = list(review.iter_rows(min_row=2, values_only=True))
        assert sorted(r[0] for r in rows) == sorted(sighted), "every protocol (overlap 1)"
        assert [r[1] for r in rows] == sorted(r[1] for r in rows), "in Protocol ID order"
        assert {r[5] for r in rows} == {name}
        assert all(r[3] is None and r[4] is None for r in rows)
        for row in rows:  # ID, title and text are the protocol's own
            assert row[1] == sighted[row[0]]["Protocol ID"]
            assert row[2] == sighted[row[0]]["Title"]
        identity = dict(book["_cenr"].iter_rows(values_only=True))
        assert identity["blind"] is True
        assert identity["reviewer"] == name
        assert set(identity) == {
            "format", "job", "model", "exported_at", "part", "parts", "reviewer", "protocols",
            "shared", "job_protocols", "blind",
        }  # fmt: skip
        for sheet in book.worksheets:
            if sheet.title in ("Codebook", "_cenr"):  # every level alike; the identity
                continue
            for cells in sheet.iter_rows():
                for cell in cells:
                    value = cell.value
                    assert not isinstance(value, float), (sheet.title, cell.coordinate, value)
                    if cell.column == 1 and sheet.title == "Review":
                        continue  # the row ID
                    shown = str(value or "")
                    assert shown not in set(codebook.codes), (sheet.title, cell.coordinate)
                    for word in (*names, *MODEL_WORDS, *figures):
                        assert word not in shown, (sheet.title, cell.coordinate, word)
        # the text is black: no word shaded by weight (nor the cut marker, black too)
        with zipfile.ZipFile(path) as archive:
            sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
        assert set(_colours(sheet_xml)) == {"00000000"}


def _colours(xml: str) -> list[str]:
    return re.findall(r'<color rgb="([0-9A-F]+)"', xml)


def test_a_blind_bundle_holds_no_shading_and_no_model_level(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The blind bundle: an index of ID and title, pages of unshaded text, no model card."""
    sighted = _sighted(exported)
    _blind_export(tmp_path, capsys)
    names = {level.name for level in default_codebook().levels}
    with zipfile.ZipFile(tmp_path / "blind" / "round.zip") as archive:
        pages = {n: archive.read(n).decode() for n in archive.namelist() if n.endswith(".html")}
    assert not [n for n in pages if n.endswith("model.html")]
    protocols = [n for n in pages if "/protocols/" in n]
    assert len(protocols) == len(sighted)
    for page_name, page in pages.items():
        assert 'class="s' not in page, page_name  # no token shaded
        assert "data-level" not in page
        for word in (
            *names,
            "Predicted level",
            "Confidence",
            "Probability",
            "Faithfulness",
            "heat-map",
            "Strongest",
            "level-filter",
            "model card",
            "Reviewer levels",
        ):
            assert word not in page, (page_name, word)
    index = next(page for n, page in pages.items() if n.endswith("/index.html"))
    for row in sighted.values():
        assert str(row["Protocol ID"]) in index


def test_a_blind_bundle_works_in_the_browser_without_a_level_filter(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], browser: Any
) -> None:
    """The blind index's script runs (no level filter to read) and filters by words."""
    _blind_export(tmp_path, capsys)
    with zipfile.ZipFile(tmp_path / "blind" / "round.zip") as archive:
        archive.extractall(tmp_path / "pages")
    [root] = (tmp_path / "pages").iterdir()
    messages = open_page(browser, (root / "index.html").as_uri())
    assert not [m for m in messages if m["level"] == "SEVERE"], messages
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
    rows = browser.find_elements(By.CSS_SELECTOR, "#protocols tbody tr")
    assert len(rows) == 10
    wanted = rows[3].find_elements(By.TAG_NAME, "td")[1].text
    browser.find_element(By.ID, "filter").send_keys(wanted)
    assert browser.find_element(By.ID, "shown").text == "1"
    messages = open_page(browser, (root / "protocols" / "00001.html").as_uri())
    assert not [m for m in messages if m["level"] == "SEVERE"], messages
    assert not browser.find_elements(By.CSS_SELECTOR, "#heatmap span")


def test_blind_levels_come_back_marked_and_agreement_sets_them_beside_sighted(
    exported: Path, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ana reviews four protocols sighted and four others blind, ben the first four blind.

    The model's levels of the eight are set to 0 2 5 5 and 0 2 5 5. Sighted, ana gives the
    model's levels: agreement 4/4, linear kappa 1. Blind, ana and ben each give 1 2 5 3:
    agreement 2/4, and (test_review_rounds' hand computation of 0 2 5 5 against 1 2 5 3)
    linear kappa 11/17; all blind reviews, the same eight pairs twice over: 4/8 and 11/17
    (a kappa is unchanged when every pair is counted twice).
    """
    sighted_ids = list(_sighted(exported))
    first, second = sighted_ids[:4], sighted_ids[4:8]
    engine = create_engine(sqlite_service)
    with engine.begin() as connection:
        for item, level in zip(first + second, ["0", "2", "5", "5"] * 2, strict=True):
            connection.execute(
                text(
                    "UPDATE predictions SET level_code = :level WHERE document_id = "
                    "(SELECT document_id FROM job_items WHERE id = :item)"
                ),
                {"level": level, "item": item},
            )
    model = ["0", "2", "5", "5"]
    fill_in(exported, tmp_path / "ana-sighted.xlsx",
            {i: (v, "", "ana") for i, v in zip(first, model, strict=True)})  # fmt: skip
    assert main(["review", "import", str(tmp_path / "ana-sighted.xlsx")]) == 0
    capsys.readouterr()
    assert main(["review", "agreement", "--json", "--discussion", str(tmp_path / "d.xlsx")]) == 0
    out = capsys.readouterr().out
    assert "no blind reviews" in out
    report = json.loads(out.strip().splitlines()[-1])["blind_vs_sighted"]
    assert report["blind_reviews"] == 0
    assert report["overall"]["blind"] == {"n": 0, "agreement": None, "linear_kappa": None}

    books = _blind_export(tmp_path, capsys)
    blind = ["1", "2", "5", "3"]
    fill_in(books["ana"], tmp_path / "ana-blind.xlsx",
            {i: (v, "", "") for i, v in zip(second, blind, strict=True)})  # fmt: skip
    fill_in(books["ben"], tmp_path / "ben-blind.xlsx",
            {i: (v, "", "") for i, v in zip(first, blind, strict=True)})  # fmt: skip
    for name in ("ana", "ben"):
        assert main(["review", "import", str(tmp_path / f"{name}-blind.xlsx")]) == 0
    assert main(["review", "import", str(tmp_path / "ana-blind.xlsx"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["imported"], again["unchanged"]) == (0, 4), "importing again: nothing"
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT job_item_id, reviewer, level_code, blind FROM reviews")
        ).all()
    engine.dispose()
    assert sorted((i, r, level, bool(b)) for i, r, level, b in stored) == sorted(
        [(i, "ana", v, False) for i, v in zip(first, model, strict=True)]
        + [(i, "ana", v, True) for i, v in zip(second, blind, strict=True)]
        + [(i, "ben", v, True) for i, v in zip(first, blind, strict=True)]
    )

    assert main(["review", "agreement", "--json", "--discussion", str(tmp_path / "d.xlsx")]) == 0
    out = capsys.readouterr().out
    rounds = json.loads(out.strip().splitlines()[-1])["blind_vs_sighted"]
    assert rounds["blind_reviews"] == 8
    by_name = {row["reviewer"]: row for row in rounds["reviewers"]}
    assert by_name["ana"]["sighted"] == {"n": 4, "agreement": 1.0, "linear_kappa": 1.0}
    for figures in (by_name["ana"]["blind"], by_name["ben"]["blind"]):
        assert figures["n"] == 4
        assert figures["agreement"] == pytest.approx(0.5)
        assert figures["linear_kappa"] == pytest.approx(11 / 17)
    assert by_name["ben"]["sighted"] == {"n": 0, "agreement": None, "linear_kappa": None}
    overall = rounds["overall"]
    assert overall["blind"]["n"] == 8
    assert overall["blind"]["agreement"] == pytest.approx(0.5)
    assert overall["blind"]["linear_kappa"] == pytest.approx(11 / 17)
    assert overall["sighted"] == {"n": 4, "agreement": 1.0, "linear_kappa": 1.0}
    assert (
        "model / all reviewers, blind: agreement 0.500, linear kappa 0.647 (n=8); "
        "sighted: agreement 1.000, linear kappa 1.000 (n=4)"
    ) in out


def test_blind_without_a_workbook_or_bundle_is_refused(
    cenr_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--blind says what the reviewers see: it needs --xlsx or --html (one line)."""
    assert main(["export", "--csv", str(cenr_home / "x.csv"), "--blind"]) == 1
    error = capsys.readouterr().err
    assert error.strip().splitlines() == [
        "cenr: error: --blind hides the model from reviewers: add --xlsx FILE or --html FILE.zip"
    ]
    assert main(["export", "--xlsx", str(cenr_home / "x.xlsx"), "--blind", "--all-levels"]) == 1
    assert "--all-levels shows the model's weights" in capsys.readouterr().err
