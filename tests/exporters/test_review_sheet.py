"""The Review sheet in the order of a reviewer's work, built from hand-made protocols (no
model, no database): columns, one colour per level, confidence bands, the second look,
links to the protocols' pages, the technical columns folded away."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from exporters import review_format as rf
from exporters.links import page_path
from exporters.palette import band_swatch, level_swatches
from exporters.workbook import ReviewWorkbook, write_review_workbook
from schema.codebook import default_codebook
from schema.second_look import band
from schema.views import ReviewData, ReviewRow, TokenSpan

CODEBOOK = default_codebook()
FORMULA = '=HYPERLINK("http://evil.example","click")'


def protocol(
    item: int, level: int, confidence: float, weighed: str = "Partners", pid: str = ""
) -> tuple[ReviewRow, list[TokenSpan]]:
    """A protocol of three fields whose weight lies in ``weighed``."""
    fields = {
        "StudyTitle": f"Study {item}",
        "Background": "Asthma is common in the county and clinics see it every week.",
        "Partners": "The community advisory board co-designs the study with us.",
    }
    spans, position = [], 0
    for name, text in fields.items():
        at = 0
        for word in text.split():
            start = text.index(word, at)
            at = start + len(word)
            weight = 0.2 if name == weighed else 0.001
            spans.append(TokenSpan(position, word, name, start, at, weight, None))
            position += 1
    probabilities = [(1 - confidence) / 5] * 6
    probabilities[level] = confidence
    row = ReviewRow(
        item_id=item, prediction_id=100 + item, protocol_id=pid or f"P-{item:03d}",
        file="export.csv", fields=fields, level_index=level, level_code=str(level),
        confidence=confidence, probabilities=probabilities, faithfulness=None,
        n_tokens=len(spans), tokens_cut=0, top_tokens=[(spans[-1].token, 0.2)],
    )  # fmt: skip
    return row, spans


def job(made: list[tuple[ReviewRow, list[TokenSpan]]]) -> tuple[ReviewData, Any]:
    data = ReviewData(
        job_id="j1", model="hand-made", model_metrics={}, model_created_at="",
        data_fingerprint="", rows=sorted((r for r, _ in made), key=lambda r: r.confidence),
        failures=[],
    )  # fmt: skip
    spans = {r.prediction_id: s for r, s in made}
    return data, spans.__getitem__


def every_level() -> list[tuple[ReviewRow, list[TokenSpan]]]:
    """Three protocols of each of the six levels, of assorted confidence."""
    confidences = (0.95, 0.7, 0.45)
    return [
        protocol(1 + level * 3 + k, level, confidences[k]) for level in range(6) for k in range(3)
    ]


def _write(tmp_path: Path, made: list[tuple[ReviewRow, list[TokenSpan]]], **kw: Any) -> Path:
    data, spans_of = job(made)
    target = tmp_path / "review.xlsx"
    with target.open("wb") as out:
        ReviewWorkbook(data, CODEBOOK, spans_of, **kw).write(out)
    return target


def _rows(path: Path) -> tuple[list[str], list[dict[str, Any]], Any]:
    review = load_workbook(path)["Review"]
    header = [c.value for c in review[1]]
    rows = [dict(zip(header, r, strict=True)) for r in review.iter_rows(min_row=2)]
    return header, rows, review


def test_columns_follow_the_work(tmp_path: Path) -> None:
    """Who and what, the model's level, how sure, the second look, the reviewer's three
    columns, the evidence, then the technical columns; a blind workbook keeps ID, title,
    the reviewer's columns and the text."""
    data, spans_of = job(every_level())
    header, _, review = _rows(write_review_workbook(tmp_path / "r.xlsx", data, CODEBOOK, spans_of))
    assert header == [
        "Row ID", "Protocol ID", "Title", "Model level", "Confidence", "Needs a second look",
        "Reviewer level", "Rationale", "Reviewer", "Evidence by field", "Strongest passages",
        "Heat-map strength", "Chance of 0 No partnership", "Chance of 1 Any partnership",
        "Chance of 2 Provides access", "Chance of 3 Minimally informs", "Chance of 4 Consult",
        "Chance of 5 Collaborate / shared governance", "Faithfulness (nats)",
        "Comprehensiveness (nats)", "Sufficiency (nats)", "Strongest words", "Protocol text",
    ]  # fmt: skip
    assert header == [c.name for c in rf.review_columns(CODEBOOK)]
    strength = review.cell(1, header.index("Heat-map strength") + 1).comment
    assert strength.text.startswith("strong: The shading explains"), "each word explained"
    assert "not measured: " in strength.text
    assert review.freeze_panes == "D2", "Protocol ID and title stay in view"
    assert review.column_dimensions["A"].hidden
    technical = [i for i, n in enumerate(header, 1) if n.startswith("Chance") or "nats" in n]
    technical += [header.index("Strongest words") + 1, header.index("Protocol text") + 1]
    for index in technical:  # folded away at the right: one outline group, hidden
        dimension = review.column_dimensions[review.cell(1, index).column_letter]
        assert (dimension.outlineLevel, dimension.hidden) == (1, True), index
    for name in ("Model level", "Reviewer level", "Evidence by field"):
        letter = review.cell(1, header.index(name) + 1).column_letter
        assert not review.column_dimensions[letter].hidden, name
    assert review.print_title_rows == "$1:$1"
    assert review.print_area == f"'Review'!$A$1:$I${len(every_level()) + 1}"
    assert 25 <= review.row_dimensions[2].height <= 32, "about fifteen protocols a screen"

    blind, _, _ = _rows(_write(tmp_path, every_level(), blind=True))
    assert blind == ["Row ID", "Protocol ID", "Title", "Reviewer level", "Rationale",
                     "Reviewer", "Protocol text"]  # fmt: skip


def test_one_fill_per_level_and_per_confidence_band(tmp_path: Path) -> None:
    """Every Model level cell of a level has that level's fill, each level another; the
    level reads as its name; confidence is the number, shown as a percentage, filled by
    its band."""
    _, rows, _ = _rows(_write(tmp_path, every_level()))
    swatches = level_swatches(6)
    fills: dict[str, set[str]] = {}
    for row in rows:
        level = row["Model level"]
        assert level.value in CODEBOOK.choices
        fills.setdefault(level.value, set()).add(level.fill.fgColor.rgb[-6:])
        index = CODEBOOK.choices.index(level.value)
        assert level.font.color.rgb[-6:] == swatches[index].text
        confidence = row["Confidence"]
        assert isinstance(confidence.value, float)
        assert "%" in confidence.number_format
        assert confidence.fill.fgColor.rgb[-6:] == band_swatch(band(confidence.value)).fill
    assert all(len(f) == 1 for f in fills.values()), fills
    assert {next(iter(f)) for f in fills.values()} == {s.fill for s in swatches}
    assert len(fills) == 6
    assert len({band(r["Confidence"].value) for r in rows}) == 3


def test_evidence_in_the_background_needs_a_second_look(tmp_path: Path) -> None:
    """A sure level-4 prediction whose weight lies in the Background is flagged in words;
    the same with its weight in Partners is not; an unsure one says so with its figure."""
    made = [
        protocol(1, 4, 0.93, weighed="Background"),
        protocol(2, 4, 0.93, weighed="Partners"),
        protocol(3, 2, 0.52, weighed="Partners"),
    ]
    _, rows, _ = _rows(_write(tmp_path, made))
    said = {r["Row ID"].value: r["Needs a second look"].value for r in rows}
    assert said[1] is not None
    assert said[1].startswith("evidence outside Partners and Study design (")
    assert said[1].endswith("elsewhere)")
    assert said[2] is None, "nothing to say: blank"
    assert said[3] == "unsure (52%)"
    by_field = {r["Row ID"].value: r["Evidence by field"].value for r in rows}
    assert by_field[1].startswith("Background ")
    assert by_field[2].startswith("Partners ")
    assert {r["Heat-map strength"].value for r in rows} == {"not measured"}


def test_protocol_id_links_to_its_page_and_stays_text(tmp_path: Path) -> None:
    """The Protocol ID cell links to the protocol's page in the package (a relationship,
    never a formula), also when the ID looks like a formula; the blind workbook too."""
    made = [protocol(7, 3, 0.9), protocol(12, 1, 0.5, pid=FORMULA)]
    for blind in (False, True):
        _, rows, _ = _rows(_write(tmp_path, made, blind=blind))
        for row in rows:
            cell = row["Protocol ID"]
            assert cell.hyperlink.target == page_path(row["Row ID"].value)
            assert cell.data_type == "s"
        assert FORMULA in {r["Protocol ID"].value for r in rows}


def test_the_codebook_offers_names_the_drop_down_lists(tmp_path: Path) -> None:
    """The Reviewer level drop-down lists the Codebook sheet's choices ('4 Consult') over
    every row; the workbook's structure is locked, the Review sheet is not."""
    path = _write(tmp_path, every_level())
    book = load_workbook(path)
    review = book["Review"]
    [choice] = review.data_validations.dataValidation
    assert choice.formula1 == "=Codebook!$D$2:$D$7"
    assert str(choice.sqref) == f"G2:G{len(every_level()) + 1}"
    codebook = [[c.value for c in row] for row in book["Codebook"].iter_rows()]
    assert codebook[0] == ["Code", "Level", "Definition", "Choice"]
    assert [row[3] for row in codebook[1:]] == CODEBOOK.choices
    assert book.security.lockStructure
    assert not review.protection.sheet
