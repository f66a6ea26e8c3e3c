"""The model card in plain words: the workbook's Model sheet and the bundle's model.html."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from openpyxl import load_workbook

from exporters.html_bundle import HtmlBundle
from exporters.model_card import minute, model_card, points
from exporters.rendering import render
from exporters.workbook import ReviewWorkbook
from schema.codebook import default_codebook
from tests.exporters.labelwise import labelwise_data

FINGERPRINT = "9f2c" * 16
METRICS = {
    "n": 60,
    "accuracy": 0.8517477111405004,
    "macro_f1": 0.9095315349305163,
    "ece": 0.04765144437551498,
    "coarse": {"accuracy": 0.9666666666666667, "macro_f1": 0.96},
    "per_class": {
        "0": {"name": "No partnership", "precision": 0.9230769230769231, "recall": 1.0,
              "f1": 0.96, "support": 12},
        "4": {"name": "Consult", "precision": 0.875, "recall": 0.7,
              "f1": 0.7777777777777778, "support": 10},
    },
    "calibration": {
        "temperature": 0.3537675065174127, "method": "smoothed accuracy",
        "ece_before": 0.03058066528666954, "ece_after": 0.00993346595720756,
        "note": "the temperature (0.35374) is set so the mean confidence is 0.89473684",
    },
    "training": {"n_train": 240, "linear": "tfidf", "attention_weight": 0.2},
}  # fmt: skip
# what a reviewer should not meet outside the Technical section
JARGON = re.compile(r"bahdanau|\bECE\b|SHA-256|labelwise|tf-?idf", re.IGNORECASE)
LONG_FLOAT = re.compile(r"\d\.\d{4,}")
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+|\d{2}:\d{2}:\d{2}")


def _data():  # type: ignore[no-untyped-def]
    data, spans = labelwise_data()
    data = replace(
        data, model="cenr-2026-12", attention="bahdanau", model_metrics=METRICS,
        model_created_at="2026-12-04T14:03:27.123456+00:00", data_fingerprint=FINGERPRINT,
    )  # fmt: skip
    return data, spans


def _plain(text: str) -> None:
    assert not JARGON.search(text), JARGON.search(text)
    assert not LONG_FLOAT.search(text), LONG_FLOAT.search(text)
    assert not MICROSECONDS.search(text), MICROSECONDS.search(text)


def test_the_card_speaks_plainly_and_keeps_the_figures_apart() -> None:
    data, _ = _data()
    card = model_card(data, default_codebook())
    facts = dict(card.facts)
    for name, value in [*card.facts, *[(r[0], " ".join(r[1:])) for r in card.per_level]]:
        _plain(f"{name} {value}")
    assert facts["Trained"] == "2026-12-04 14:03 UTC"
    assert facts["Right level"].startswith("85% ")
    assert facts["Average over the levels"].startswith("91% ")
    assert facts["Right broad group"].startswith("97% ")
    assert facts["Confidence"].startswith(
        "How far confidence matches accuracy: off by 3 points on average, 1 after calibration"
    )
    assert facts["How it reads a protocol"].startswith("Attention over words")
    assert card.per_level[0] == ("0 No partnership", "92%", "100%", "96%", "12")
    technical = dict(card.technical)
    assert technical["Attention design"] == "bahdanau"
    assert technical["Training data fingerprint (SHA-256)"] == FINGERPRINT
    assert technical["Calibration temperature"] == "0.354 (smoothed accuracy)"
    assert technical["Validation ECE before / after calibration"] == "0.031 / 0.01"
    assert technical["Calibration note"] == (
        "the temperature (0.354) is set so the mean confidence is 0.895"
    )
    for _, value in card.technical:
        assert not LONG_FLOAT.search(value)


def test_a_model_without_figures_gives_a_short_card() -> None:
    data, _ = _data()
    card = model_card(replace(data, model_metrics={}, model_created_at=""), default_codebook())
    assert [name for name, _ in card.facts] == ["Model", "How it reads a protocol", "Trained"]
    assert card.per_level == []
    assert [name for name, _ in card.technical] == [
        "Attention design", "Linear part", "Training data fingerprint (SHA-256)",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("error", "words"), [(0.004, "less than 1 point"), (0.012, "1 point"), (0.36, "36 points")]
)
def test_calibration_error_in_points(error: float, words: str) -> None:
    assert points(error) == words


def test_times_to_the_minute_in_utc() -> None:
    assert minute("2026-12-04T14:03:59.999999+02:00") == "2026-12-04 12:03 UTC"
    assert minute("2026-12-04T14:03:27") == "2026-12-04 14:03 UTC"
    assert minute("") == ""


def test_the_model_sheet_puts_the_figures_under_technical() -> None:
    """The workbook's Model sheet: plain words, then Technical with the fingerprint, the
    temperature and the raw calibration errors; no number is a raw float."""
    data, spans = _data()
    out = io.BytesIO()
    ReviewWorkbook(data, default_codebook(), spans.__getitem__).write(out)
    out.seek(0)
    rows = list(load_workbook(out)["Model"].iter_rows(values_only=True))
    first = [r[0] for r in rows]
    assert first[0] == "About the model"
    technical = first.index("Technical")
    assert technical > first.index("Each level, on the tested protocols") > 0
    for row in rows:
        assert all(value is None or isinstance(value, str) for value in row), row
    for row in rows[:technical]:
        _plain(" ".join(v for v in row if v))
    after = " ".join(v for row in rows[technical:] for v in row if v)
    assert FINGERPRINT in after
    assert "bahdanau" in after
    assert "0.354" in after
    assert dict((r[0], r[1]) for r in rows)["Trained"] == "2026-12-04 14:03 UTC"


def test_the_bundles_model_page_puts_the_figures_under_technical() -> None:
    data, spans = _data()
    bundle = HtmlBundle(data, default_codebook(), spans.__getitem__)
    page = render("bundle/model.html", **bundle.model_context())
    plain, technical = page.split("<h2>Technical</h2>")
    _plain(re.sub(r"<[^>]+>", " ", plain))
    assert "2026-12-04 14:03 UTC" in plain
    assert "85%" in plain
    assert FINGERPRINT in technical
    assert "bahdanau" in technical
    assert "0.354 (smoothed accuracy)" in technical
