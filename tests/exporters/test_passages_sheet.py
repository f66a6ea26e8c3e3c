"""The Heatmap sheet as a reviewer reads it: a row per strongest passage, its words coloured."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from sqlalchemy import text

from exporters.evidence import evidence_for
from exporters.passages_sheet import FULL, HEADER, PassagesSheet
from exporters.scale import FONTS, shade
from exporters.sheets import clean
from exporters.workbook import ReviewWorkbook, write_review_workbook
from schema.codebook import default_codebook
from schema.database import open_database, session_scope
from schema.evidence import MAX_PASSAGE, Passage
from schema.views import ReviewData, ReviewRow, TokenSpan
from worker.results import review_data, token_spans

BLACK = "000000"
PARTNERS = (
    "The community   advisory board co-leads the study.\nMembers review every tool! "
    "The weather was fine. Nothing more here."
)
DESIGN = "We run focus groups with partners. Nothing else happens."


def _colours(value: object) -> tuple[str, list[str]]:
    """The cell's text and the font colour of every character."""
    assert isinstance(value, CellRichText), value
    chars, colours = [], []
    for run in value:
        assert isinstance(run, TextBlock)
        rgb = str(getattr(getattr(run.font, "color", None), "rgb", "") or "")[-6:]
        chars.append(run.text)
        colours.extend([rgb] * len(run.text))
    return "".join(chars), colours


def _spans(fields: dict[str, str], strong: dict[str, float]) -> list[TokenSpan]:
    """A token per word; the words in ``strong`` get their weight, the rest share what is
    left evenly."""
    places = [
        (name, m.start(), m.end(), m.group())
        for name, value in fields.items()
        for m in re.finditer(r"\w+(?:-\w+)?", value)
    ]
    rest = (1 - sum(strong.values())) / sum(word not in strong for *_, word in places)
    return [
        TokenSpan(i, word, name, start, end, strong.get(word, rest), None)
        for i, (name, start, end, word) in enumerate(places)
    ]


def _row(
    fields: dict[str, str], n_tokens: int, protocol_id: str = "P-1", item: int = 1
) -> ReviewRow:
    return ReviewRow(
        item_id=item, prediction_id=item, protocol_id=protocol_id, file="x.csv",
        fields=fields, level_index=4, level_code="4", confidence=0.7,
        probabilities=[0.06] * 5 + [0.7], faithfulness=None, n_tokens=n_tokens,
        tokens_cut=0, top_tokens=[],
    )  # fmt: skip


def _data(rows: list[ReviewRow]) -> ReviewData:
    return ReviewData(
        job_id="j1", model="m1", model_metrics={}, model_created_at="",
        data_fingerprint="", rows=rows, failures=[],
    )  # fmt: skip


def _sheet_rows(data: ReviewData, spans: dict[int, list[TokenSpan]], **kw: object) -> list[tuple]:
    out = io.BytesIO()
    ReviewWorkbook(data, default_codebook(), spans.__getitem__, **kw).write(out)  # type: ignore[arg-type]
    out.seek(0)
    sheet = load_workbook(out, rich_text=True)["Heatmap"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[1]) == HEADER
    return rows[2:]


def _expected_colours(passage: Passage, field: str, spans: list[TokenSpan], n: int) -> set[str]:
    """The words inside the passage at or above an even share."""
    return {
        field[s.start : s.end]
        for s in spans
        if s.field == passage.field
        and passage.start <= s.start
        and s.end <= passage.end
        and shade(s.weight * n) >= 1
    }


def test_a_row_per_passage_its_text_stored_and_its_strong_words_coloured() -> None:
    """Each stored passage is a row (ID, '4 Consult', the field's heading, its share) whose
    text is the stored passage, the words at or above an even share in their shade and
    every other character black."""
    fields = {"StudyTitle": "A study", "Partners": PARTNERS, "StudyDesign": DESIGN}
    spans = _spans(fields, {"co-leads": 0.3, "community": 0.1, "focus": 0.2, "review": 0.12})
    row = _row(fields, len(spans))
    evidence = evidence_for(row, spans)
    assert len(evidence.passages) == 3
    rows = _sheet_rows(_data([row]), {1: spans})
    assert len(rows) == len(evidence.passages)
    codebook = default_codebook()
    for values, passage in zip(rows, evidence.passages, strict=True):
        assert values[:3] == ("P-1", "4 Consult", codebook.field_name(passage.field))
        sentence, colours = _colours(values[4])
        assert sentence == passage.text
        coloured = {
            m.group()
            for m in re.finditer(r"\S+", sentence)
            if all(c != BLACK for c in colours[m.start() : m.end()])
        }
        field = fields[passage.field]
        expected = _expected_colours(passage, field, spans, len(spans))
        assert expected, "every passage here holds a strong word"
        assert {re.sub(r"[.!?]$", "", w) for w in coloured} == expected
        for m in re.finditer(r"\S+", sentence):
            word = re.sub(r"[.!?]$", "", m.group())
            if word in expected:
                span = next(s for s in spans if s.token == word)
                assert colours[m.start()] == FONTS[shade(span.weight * len(spans))]
            else:
                assert set(colours[m.start() : m.end()]) == {BLACK}, word
    assert [r[2] for r in rows][:2] == ["Partners", "Study design"]
    shares = [r[3] for r in rows]
    assert all(0 < s <= 1 for s in shares)
    assert sum(shares) <= 1 + 1e-9
    assert shares[0] == pytest.approx(evidence.passages[0].weight, abs=1e-4)


def test_a_cut_passage_keeps_its_marks_and_colours() -> None:
    """A sentence longer than a passage is quoted as a window with '...' on both ends; the
    cell reads the same, its strong word coloured, the marks black."""
    long = " ".join(["words"] * 60) + " decisive " + " ".join(["filler"] * 60) + "."
    fields = {"Background": long}
    spans = _spans(fields, {"decisive": 0.5})
    row = _row(fields, len(spans))
    [passage] = evidence_for(row, spans).passages
    assert passage.text.startswith("...")
    assert passage.text.endswith("...")
    assert passage.end - passage.start <= MAX_PASSAGE
    [values] = _sheet_rows(_data([row]), {1: spans})
    sentence, colours = _colours(values[4])
    assert sentence == passage.text
    at = sentence.index("decisive")
    assert set(colours[at : at + len("decisive")]) == {FONTS[shade(0.5 * len(spans))]}
    assert set(colours[:3]) == set(colours[-3:]) == {BLACK}
    assert colours.count(BLACK) == len(sentence) - len("decisive")
    assert values[3] == pytest.approx(passage.weight, abs=1e-4)


def test_a_field_changed_since_gives_the_stored_passage_black() -> None:
    """When the field no longer holds the stored passage, the stored text is shown, black."""
    fields = {"Partners": PARTNERS}
    spans = _spans(fields, {"co-leads": 0.6})
    row = _row(fields, len(spans))
    row.evidence = evidence_for(row, spans)
    for changed in ("Something else entirely, now. " + PARTNERS.upper(), "Short now."):
        row.fields = {"Partners": changed}
        rows = _sheet_rows(_data([row]), {1: spans})
        assert len(rows) == len(row.evidence.passages)
        for values, passage in zip(rows, row.evidence.passages, strict=True):
            sentence, colours = _colours(values[4])
            assert sentence == passage.text
            assert set(colours) == {BLACK}


def test_the_sheet_stops_at_the_row_limit_with_one_note() -> None:
    """Past the row limit the sheet says it is full, once, and adds nothing more."""
    fields = {"Partners": PARTNERS, "StudyDesign": DESIGN}
    spans = _spans(fields, {"co-leads": 0.3, "focus": 0.2, "review": 0.12})
    rows = [_row(fields, len(spans), f"P-{i}", i) for i in range(1, 9)]
    written = _sheet_rows(_data(rows), dict.fromkeys(range(1, 9), spans), heatmap_row_limit=12)
    notes = [r for r in written if r[0] == FULL]
    assert len(notes) == 1
    assert written[-1][0] == FULL
    assert len(written) + 2 <= 12 + 1
    assert {r[0] for r in written[:-1]} == {"P-1", "P-2", "P-3"}  # 3 passages each


def test_a_protocol_without_weight_has_one_row_saying_so() -> None:
    fields = {"Partners": PARTNERS}
    spans = [s._replace(weight=0.0) for s in _spans(fields, {})]
    [values] = _sheet_rows(_data([_row(fields, len(spans))]), {1: spans})
    assert values[:4] == ("P-1", "4 Consult", None, None)
    assert "no word carries weight" in str(values[4])


def test_the_label_wise_model_has_the_same_rows(tmp_path: Path) -> None:
    """With every level's weights asked for, the sheet is the same: the predicted level's
    passages (every level's weight is in the HTML bundle)."""
    from tests.exporters.labelwise import labelwise_data

    data, spans = labelwise_data()
    target = write_review_workbook(
        tmp_path / "lw.xlsx", data, default_codebook(), spans.__getitem__, all_levels=True
    )
    rows = list(load_workbook(target, rich_text=True)["Heatmap"].iter_rows(values_only=True))[2:]
    [values] = rows
    assert values[:4] == ("P-1", "5 Collaborate / shared governance", "Aims", 1)
    sentence, colours = _colours(values[4])
    assert sentence == data.rows[0].fields["Aims"]
    assert colours[: len("community")] == [FONTS[shade(0.9 * 6)]] * len("community")
    assert set(colours[len("community") :]) == {BLACK}


def test_the_sheet_class_counts_its_rows() -> None:
    """The class alone, as the workbook uses it: two rows of heading, then a row a passage."""
    from openpyxl import Workbook

    from exporters.sheets import StyledCells

    book = Workbook(write_only=True)
    fields = {"Partners": PARTNERS}
    spans = _spans(fields, {"co-leads": 0.6})
    sheet = PassagesSheet(book, StyledCells(), default_codebook(), row_limit=100)
    sheet.add(_row(fields, len(spans)), spans)
    assert sheet.rows == 2 + len(evidence_for(_row(fields, len(spans)), spans).passages)
    book.save(io.BytesIO())  # a write-only sheet left unsaved complains when collected


def test_an_exported_job_shows_each_protocols_stored_passages(
    exported: Path, sqlite_service: str
) -> None:
    """In a job run end to end, every protocol's stored passages are its rows, strongest
    first, their text the stored text, their shares at most the whole."""
    sheet = load_workbook(exported, rich_text=True)["Heatmap"]
    rows = list(sheet.iter_rows(values_only=True))[2:]
    engine = open_database(sqlite_service)
    with session_scope(engine) as session:
        data = review_data(session, session.scalar(text("SELECT id FROM jobs")))
        expected: list[tuple[str, str, Passage, set[str]]] = []
        for row in data.rows:
            spans = token_spans(session, row.prediction_id)
            for passage in evidence_for(row, spans).passages:
                field = row.fields[passage.field]
                strong = _expected_colours(passage, field, spans, row.n_tokens)
                expected.append((row.protocol_id, clean(passage.text), passage, strong))
    engine.dispose()
    assert len(rows) == len(expected)
    codebook = default_codebook()
    by_level = {row.protocol_id: codebook.choice(row.level_index) for row in data.rows}
    totals: dict[str, float] = {}
    for values, (protocol_id, quoted, passage, strong) in zip(rows, expected, strict=True):
        assert values[0] == protocol_id
        assert values[1] == by_level[protocol_id]
        assert values[2] == codebook.field_name(passage.field)
        sentence, colours = _colours(values[4])
        assert sentence == quoted
        if not strong:
            assert set(colours) == {BLACK}
        else:  # rebuilt from the field, not the stored text given black
            assert set(colours) - {BLACK}
        assert isinstance(values[3], float | int)
        totals[protocol_id] = totals.get(protocol_id, 0) + values[3]
    assert all(total <= 1 + 1e-6 for total in totals.values())
    assert sheet.freeze_panes == "A3"


def test_the_level_is_in_its_colour() -> None:
    """The model's level cell has the level's swatch, as in the Review sheet."""
    from exporters.palette import level_swatches

    fields = {"Partners": PARTNERS}
    spans = _spans(fields, {"co-leads": 0.6})
    out = io.BytesIO()
    data = _data([_row(fields, len(spans))])
    ReviewWorkbook(data, default_codebook(), {1: spans}.__getitem__).write(out)
    out.seek(0)
    sheet = load_workbook(out)["Heatmap"]
    swatch = level_swatches(6)[4]
    for (cell,) in sheet.iter_rows(min_row=3, min_col=2, max_col=2):
        assert cell.value == "4 Consult"
        assert cell.fill.fgColor.rgb[-6:] == swatch.fill
        assert cell.font.color.rgb[-6:] == swatch.text
