"""Where a heat-map's weight sits, in words a reviewer can read before the whole text.

A protocol of 2,000 words shows its first screen of boilerplate; the passage that drove
the label may be a page further down. These helpers name each field's share of the
weight and quote the sentences around the strongest tokens, for the Review sheet and the
HTML pages. They read only the fields' text and the stored token spans.
"""

from __future__ import annotations

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
    ``n`` different sentences, each cut to :data:`MAX_PASSAGE` characters around its token."""
    found: list[tuple[str, str]] = []
    seen: set[tuple[str, int]] = set()
    for span in sorted(spans, key=lambda s: -s.weight):
        text = fields.get(span.field) or ""
        if span.end > len(text) or span.weight <= 0:
            continue
        start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, span.start)), default=0)
        after = _SENTENCE_END.search(text, span.end)
        end = after.end() if after else len(text)
        if (span.field, start) in seen:
            continue
        seen.add((span.field, start))
        sentence = text[start:end].strip()
        if len(sentence) > MAX_PASSAGE:
            middle = span.start - start
            low = max(0, middle - MAX_PASSAGE // 2)
            sentence = "..." + text[start + low : start + low + MAX_PASSAGE].strip() + "..."
        found.append((span.field, " ".join(sentence.split())))
        if len(found) == n:
            break
    return found
