"""Where a heat-map's weight sits, in words a reviewer can read before the whole text.

A protocol of 2,000 words shows its first screen of boilerplate; the passage that drove
the label may be a page further down. These helpers name each field's share of the
weight and quote the sentences around the strongest tokens, for the Review sheet and the
HTML pages. They read only the fields' text and the stored token spans.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence

from schema.views import TokenSpan as Span

# A sentence ends at . ! or ? before a space, or at a blank line; a single line break
# is a wrapped line inside a sentence (text files are often wrapped).
_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n\s*\n")
MAX_PASSAGE = 300  # characters: about two lines of a workbook cell


def weight_by_field(spans: Sequence[Span]) -> list[tuple[str, float]]:
    """Each field's share of the weight, largest first."""
    shares: dict[str, float] = {}
    for span in spans:
        shares[span.field] = shares.get(span.field, 0.0) + span.weight
    total = sum(shares.values()) or 1.0
    return sorted(((name, w / total) for name, w in shares.items()), key=lambda x: -x[1])


def describe_weight_by_field(spans: Sequence[Span]) -> str:
    """``Partners 64%, StudyDesign 31%, Background 3%`` (fields under 1% left out)."""
    shown = [(name, share) for name, share in weight_by_field(spans) if share >= 0.01]
    return ", ".join(f"{name} {share:.0%}" for name, share in shown) or "no tokens"


def strongest_passages(
    fields: Mapping[str, str], spans: Sequence[Span], n: int = 2
) -> list[tuple[str, str]]:
    """``(field, sentence)`` around each of the strongest tokens, strongest first, at most
    ``n`` different sentences, each cut to :data:`MAX_PASSAGE` characters around its token.

    Each field's sentence ends are found once and looked up by bisection, so a field with
    no sentence ends (a pasted table, say), whose every token shares one sentence, costs
    one pass and not one per token."""
    found: list[tuple[str, str]] = []
    seen: set[tuple[str, int]] = set()
    ends: dict[str, list[int]] = {}
    for span in sorted(spans, key=lambda s: -s.weight):
        text = fields.get(span.field) or ""
        if span.end > len(text) or span.weight <= 0:
            continue
        if span.field not in ends:
            ends[span.field] = [m.end() for m in _SENTENCE_END.finditer(text)]
        marks = ends[span.field]
        # the sentence: from the last end at or before the token's start (an end that
        # falls inside the token does not count) to the first end after the token
        before = bisect.bisect_right(marks, span.start)
        start = marks[before - 1] if before else 0
        if (span.field, start) in seen:
            continue
        seen.add((span.field, start))
        after = next((m for m in marks[before:] if m > span.end), None)
        end = after if after is not None else len(text)
        sentence = text[start:end].strip()
        if len(sentence) > MAX_PASSAGE:
            middle = span.start - start
            low = max(0, middle - MAX_PASSAGE // 2)
            sentence = "..." + text[start + low : start + low + MAX_PASSAGE].strip() + "..."
        found.append((span.field, " ".join(sentence.split())))
        if len(found) == n:
            break
    return found


def evidence_windows(spans: Sequence[Span], width: int, n: int) -> list[tuple[int, int]]:
    """At most ``n`` runs of ``width`` consecutive tokens (``(first, end)`` indices into
    ``spans``, in text order) around the strongest tokens, strongest first, none
    overlapping another: the part of a long protocol's heat-map worth a reviewer's look."""
    if not spans or n < 1:
        return []
    width = max(1, min(width, len(spans)))
    chosen: list[tuple[int, int]] = []
    for index in sorted(range(len(spans)), key=lambda i: -spans[i].weight):
        first = min(max(0, index - width // 2), len(spans) - width)
        if any(first < end and start < first + width for start, end in chosen):
            continue  # shown already, or its run would repeat tokens that are
        chosen.append((first, first + width))
        if len(chosen) == n:
            break
    return chosen
