"""Evidence by field: where a prediction's heat-map weight sits, in words a reviewer can
read before the whole text.

A protocol of 3,000 words shows its first screen of boilerplate; the passage that drove
the label may be a page further down. For every prediction the classifier names each
field's share of the heat-map's weight (``Partners 64%, StudyDesign 31%``) and quotes the
sentences around the strongest tokens. Both are computed once, when the protocol is
classified (:class:`classifier.inference.Predictor`), stored with the prediction (tables
``evidence_fields`` and ``evidence_passages``, so SQL can ask which field carries the
evidence for a level) and shown first by the workbook, the HTML pages and ``cenr predict``.

The functions read only the fields' text, each token's place (anything with ``field``,
``start`` and ``end``: the tokenizer's tokens, the stored spans) and the weights.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol as Typing

import numpy as np

# A sentence ends at . ! or ? before a space, or at a blank line; a single line break
# is a wrapped line inside a sentence (text files are often wrapped).
_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n\s*\n")
MAX_PASSAGE = 300  # characters: about two lines of a workbook cell
PASSAGES = 3  # stored per prediction; the workbook and pages show the first two


class Place(Typing):
    """Where a token is: its field and character span in that field's text."""

    @property
    def field(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class Passage:
    """A sentence (or a window of one) around one of the strongest tokens."""

    field: str
    start: int  # characters into the field's text
    end: int
    text: str  # whitespace collapsed; "..." where it was cut
    weight: float  # the heat-map weight of the tokens inside it


@dataclass(frozen=True)
class Evidence:
    """A prediction's weight by field (largest first; every field of the protocol, shares
    summing to 1, or all 0 when no token carries weight) and its strongest passages."""

    fields: list[tuple[str, float]] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)

    def describe(self) -> str:
        """``Partners 64%, StudyDesign 31%, Background 3%`` (fields under 1% left out)."""
        shown = [(name, share) for name, share in self.fields if share >= 0.01]
        return ", ".join(f"{name} {share:.0%}" for name, share in shown) or "no tokens"

    def quoted(self, n: int = 2) -> list[tuple[str, str]]:
        """The first ``n`` passages as ``(field, text)``."""
        return [(p.field, p.text) for p in self.passages[:n]]


def weight_by_field(
    places: Sequence[Place], weights: Sequence[float], names: Sequence[str] = ()
) -> list[tuple[str, float]]:
    """Each field's share of the weight, largest first (``names``: fields to list even
    when they hold no token, in that order among equals)."""
    shares: dict[str, float] = dict.fromkeys(names, 0.0)
    for place, weight in zip(places, weights, strict=True):
        shares[place.field] = shares.get(place.field, 0.0) + float(weight)
    total = sum(shares.values())
    return sorted(
        ((name, w / total if total > 0 else 0.0) for name, w in shares.items()),
        key=lambda x: -x[1],
    )


def strongest_passages(
    fields: Mapping[str, str],
    places: Sequence[Place],
    weights: Sequence[float],
    n: int = PASSAGES,
) -> list[Passage]:
    """The sentence around each of the strongest tokens, strongest first, at most ``n``
    different sentences, each cut to :data:`MAX_PASSAGE` characters around its token.

    Each field's sentence ends are found once and looked up by bisection, so a field with
    no sentence ends (a pasted table, say), whose every token shares one sentence, costs
    one pass and not one per token."""
    found: list[Passage] = []
    seen: set[tuple[str, int]] = set()
    ends: dict[str, list[int]] = {}
    for index in np.argsort(-np.asarray(weights, dtype=np.float64), kind="stable").tolist():
        place, weight = places[index], float(weights[index])
        text = fields.get(place.field) or ""
        if place.end > len(text) or weight <= 0:
            continue
        if place.field not in ends:
            ends[place.field] = [m.end() for m in _SENTENCE_END.finditer(text)]
        marks = ends[place.field]
        # the sentence: from the last end at or before the token's start (an end that
        # falls inside the token does not count) to the first end after the token
        before = bisect.bisect_right(marks, place.start)
        start = marks[before - 1] if before else 0
        if (place.field, start) in seen:
            continue
        seen.add((place.field, start))
        after = next((m for m in marks[before:] if m > place.end), None)
        end = after if after is not None else len(text)
        if end - start > MAX_PASSAGE:
            low = start + max(0, place.start - start - MAX_PASSAGE // 2)
            start, end = low, min(end, low + MAX_PASSAGE)
            quoted = "..." + text[start:end].strip() + "..."
        else:
            quoted = text[start:end].strip()
        found.append(Passage(place.field, start, end, " ".join(quoted.split()), 0.0))
        if len(found) == n:
            break
    return _weighed(found, places, weights)


def _weighed(
    found: list[Passage], places: Sequence[Place], weights: Sequence[float]
) -> list[Passage]:
    """The passages with the weight of the tokens that start inside them (one pass)."""
    if not found:
        return found
    inside = [0.0] * len(found)
    by_field: dict[str, list[int]] = {}
    for number, passage in enumerate(found):
        by_field.setdefault(passage.field, []).append(number)
    for place, weight in zip(places, weights, strict=True):
        for number in by_field.get(place.field, ()):
            if found[number].start <= place.start < found[number].end:
                inside[number] += float(weight)
    return [
        Passage(p.field, p.start, p.end, p.text, round(w, 6))
        for p, w in zip(found, inside, strict=True)
    ]


def evidence_of(
    fields: Mapping[str, str], places: Sequence[Place], weights: Sequence[float]
) -> Evidence:
    """A prediction's :class:`Evidence`: every field's share and the strongest passages."""
    return Evidence(
        weight_by_field(places, weights, list(fields)),
        strongest_passages(fields, places, weights),
    )
