"""The model card in plain words: what the workbook's ``Model`` sheet and the HTML
bundle's ``model.html`` say of the model that made the levels.

A reviewer reads how the model reads a protocol, when it was trained, on how many
protocols it was tested and how often it was right, and how far its confidence can be
taken at its word, with numbers rounded as people say them (``90%``, ``2026-12-04 14:03
UTC``, ``off by 5 points``). The figures a data scientist checks (the attention design,
the training data's fingerprint, the calibration temperature, the expected calibration
errors) are kept apart, under ``Technical``, each to at most three decimals.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook

from exporters.sheets import StyledCells, fit_to_width, set_widths
from schema.codebook import Codebook
from schema.second_look import percent
from schema.views import ReviewData

# how each attention design reads a protocol, in words
READS = {
    "bahdanau": "attention over words: it weighs every word, and the shading shows the weights",
    "additive": "attention over words: it weighs every word, and the shading shows the weights",
    "labelwise": "attention over words, for each level apart: every level weighs every word",
}
LINEAR = "beside a model of which words and word pairs a protocol uses"
VALUE_WIDTH = 90  # characters: the Model sheet's second column
_LONG_FIGURE = re.compile(r"\d+\.\d{4,}")


@dataclass(frozen=True)
class ModelCard:
    """The card's facts as ``(name, value)`` in words; ``technical`` last, apart."""

    facts: list[tuple[str, str]] = field(default_factory=list)
    per_level: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    technical: list[tuple[str, str]] = field(default_factory=list)


def minute(stamp: str | None) -> str:
    """``2026-12-04 14:03 UTC`` from a stored ISO time (naive times are UTC); the text
    unchanged when it is not one, empty for none."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def share(value: float | None) -> str:
    """A score as a percentage (:func:`schema.second_look.percent`), all or none of it
    whole: ``100%``, ``0%``."""
    if value is not None and value in (0, 1):
        return f"{value * 100:.0f}%"
    return percent(value)


def points(error: float) -> str:
    """An expected calibration error as percentage points: ``3 points``."""
    value = round(error * 100)
    if value < 1:
        return "less than 1 point"
    return "1 point" if value == 1 else f"{value} points"


def figure(value: Any, places: int = 3) -> str:
    """A technical number to at most ``places`` decimals (``0.354``), empty for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _LONG_FIGURE.sub(lambda m: f"{float(m.group()):.{places}f}", str(value))
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{places}f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def reads(attention: str, training: dict[str, Any]) -> str:
    """How the model reads a protocol, in words."""
    words = READS.get(attention, "attention over words")
    linear = training.get("linear")
    if linear and linear != "none":
        words += f"; {LINEAR}"
    return words[:1].upper() + words[1:]


def calibration_words(metrics: dict[str, Any]) -> str:
    """How far confidence matches accuracy: ``off by 36 points on average, 7 after
    calibration``; empty when the model saved no such figures."""
    calibration = metrics.get("calibration") or {}
    before, after = calibration.get("ece_before"), calibration.get("ece_after")
    if before is None or after is None:
        return ""
    after_words = points(after).replace(" points", "").replace(" point", "")
    return (
        f"How far confidence matches accuracy: off by {points(before)} on average, "
        f"{after_words} after calibration (checked on protocols kept aside in training)"
    )


def model_card(data: ReviewData, codebook: Codebook) -> ModelCard:
    """The card of the job's model: plain facts, per-level scores and the technical
    figures (:class:`ModelCard`)."""
    metrics = data.model_metrics or {}
    training = metrics.get("training") or {}
    calibration = metrics.get("calibration") or {}
    facts: list[tuple[str, str]] = [
        ("Model", data.model),
        ("How it reads a protocol", reads(data.attention, training)),
        ("Trained", minute(data.model_created_at)),
    ]
    if training.get("n_train"):
        facts.append(("Trained on", f"{training['n_train']:,} protocols with a level"))
    if metrics.get("n"):
        facts.append(("Tested on", f"{metrics['n']:,} protocols kept out of training"))
    if metrics.get("accuracy") is not None:
        facts.append(("Right level", f"{share(metrics['accuracy'])} of the tested protocols"))
    if metrics.get("macro_f1") is not None:
        facts.append(
            ("Average over the levels", f"{share(metrics['macro_f1'])} (macro-F1: each "
             "level counts the same, however many protocols it has)")
        )  # fmt: skip
    coarse = metrics.get("coarse") or {}
    if coarse.get("accuracy") is not None and codebook.coarse:
        groups = ", ".join(group.name for group in codebook.coarse)
        facts.append(("Right broad group", f"{share(coarse['accuracy'])} ({groups})"))
    words = calibration_words(metrics)
    if words:
        facts.append(("Confidence", words))
    if metrics.get("ece") is not None:
        facts.append(
            ("Confidence on the tested protocols",
             f"off by {points(metrics['ece'])} on average, after calibration")
        )  # fmt: skip
    per_level = []
    for code, scores in (metrics.get("per_class") or {}).items():
        name = scores.get("name", "")
        per_level.append((
            f"{code} {name}".strip(), share(scores.get("precision")),
            share(scores.get("recall")), share(scores.get("f1")),
            f"{scores['support']:,}" if isinstance(scores.get("support"), int) else "",
        ))  # fmt: skip

    def pair(a: Any, b: Any) -> str:
        return f"{figure(a)} / {figure(b)}" if a is not None and b is not None else ""

    temperature = calibration.get("temperature")
    technical: list[tuple[str, str]] = [
        ("Attention design", data.attention),
        ("Linear part", str(training.get("linear", "none"))),
        ("Weight of the attention part beside it", figure(training.get("attention_weight"))),
        ("Training data fingerprint (SHA-256)", data.data_fingerprint),
        ("Held-out accuracy / macro-F1", pair(metrics.get("accuracy"), metrics.get("macro_f1"))),
        ("Held-out ECE (calibrated)", figure(metrics.get("ece"))),
        ("Calibration temperature", "" if temperature is None else
         f"{figure(temperature)} ({calibration.get('method', 'fitted')})"),
        ("Validation ECE before / after calibration",
         pair(calibration.get("ece_before"), calibration.get("ece_after"))),
        ("Calibration note", figure(calibration.get("note"))),
    ]  # fmt: skip
    return ModelCard(facts, per_level, [(name, value) for name, value in technical if value])


def level_words(precision: str, recall: str, f1: str, support: str) -> str:
    """A level's held-out scores in words."""
    words = (
        f"{precision} of the protocols it gave this level have it; it found {recall} of "
        f"those that have it (F1 {f1})"
    )
    return f"{words}; {support} tested" if support else words


def write_model_sheet(book: Workbook, cells: StyledCells, card: ModelCard) -> None:
    """The workbook's ``Model`` sheet: the card's facts, each level's scores in words,
    then the technical figures under a heading of their own."""
    sheet = book.create_sheet("Model")
    set_widths(sheet, (34, VALUE_WIDTH))
    fit_to_width(sheet)
    sections = [
        ("About the model", card.facts),
        ("Each level, on the tested protocols",
         [(level, level_words(*scores)) for level, *scores in card.per_level]),
        ("Technical", card.technical),
    ]  # fmt: skip
    row = 0
    for heading, pairs in sections:
        if not pairs:
            continue
        if row:
            sheet.append([])
            row += 1
        sheet.append(cells.header(sheet, [heading, ""]))
        row += 1
        for name, value in pairs:
            row += 1
            lines = max(1, min(6, math.ceil(len(value) / (VALUE_WIDTH - 4))))
            sheet.row_dimensions[row].height = lines * 15 + 3  # before the row
            sheet.append([cells.cell(sheet, name, "wrap"), cells.cell(sheet, value, "wrap")])
