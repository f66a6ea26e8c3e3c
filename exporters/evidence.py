"""What of a heat-map a reviewer sees first: the prediction's evidence by field and its
strongest passages (stored with it; :mod:`schema.evidence`).
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
