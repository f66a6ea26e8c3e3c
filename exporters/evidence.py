"""What of a heat-map a reviewer sees first: the prediction's evidence by field (stored
with it; :mod:`schema.evidence`) and the runs of tokens the Heatmap sheet shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from schema.evidence import Evidence, evidence_of
from schema.views import ReviewRow
from schema.views import TokenSpan as Span


def evidence_for(row: ReviewRow, spans: Sequence[Span]) -> Evidence:
    """The row's stored evidence; for a prediction stored before evidence was (migration
    0010 backfills only the shares), the same computed from its spans."""
    if row.evidence is not None and row.evidence.passages:
        return row.evidence
    return evidence_of(row.fields, spans, [span.weight for span in spans])


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
