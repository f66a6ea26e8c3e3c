"""Whether a prediction needs a second look, and the plain words a reviewer reads first.

Plain Python over what is stored with a prediction (confidence, faithfulness detail, the
evidence's share by field), so the workbook, the HTML pages and the portal flag the same
protocols with the same words. Three signs join in the flag:

- **low confidence**: the calibrated confidence is in the low band (:data:`BANDS`);
- **a heat-map that does not carry its label**: faithfulness is weak (the highlighted
  words change the label little more than random ones, :func:`strength`);
- **evidence outside the codebook's evidence fields**: the codebook names where its
  evidence belongs (CEnR: Partners and Study design); a prediction above the first level
  with at most :data:`OUTSIDE` of its weight in those fields says so. A codebook without
  evidence fields (a set of topics) never raises this sign.

The words say what is measured: that the shading explains the model's choice, or does
not; never that the level is right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from schema.codebook import Codebook
from schema.faithfulness import CARRIES, MATTERS, SUFFICES, UNEXPLAINED, Faithfulness

# (band, words, lowest calibrated confidence in it), most sure first
BANDS = (
    ("high", "sure", 0.8),
    ("medium", "fairly sure", 0.6),
    ("low", "unsure", 0.0),
)
# a prediction above the first level whose evidence fields hold less than this share of
# the heat-map's weight: its evidence lies mostly elsewhere
OUTSIDE = 0.5

STRENGTH_WORDS = {
    "strong": "The shading explains the model's choice: removing the shaded words "
    "weakens it far more than removing random words, and they hold it alone.",
    "moderate": "The shading explains part of the model's choice: the shaded words "
    "matter, but do not decide it alone.",
    "weak": "The shading does not explain the model's choice: the shaded words change it "
    "little more than random words do.",
    "not measured": "Not measured: the protocol is too short, or the test was off.",
}
_BY_VERDICT = {CARRIES: "strong", MATTERS: "moderate", SUFFICES: "moderate", UNEXPLAINED: "weak"}


def band(confidence: float) -> str:
    """``high``, ``medium`` or ``low``."""
    for name, _, low in BANDS:
        if confidence >= low:
            return name
    return BANDS[-1][0]


def percent(value: float | None) -> str:
    """``87%``; below 1% and above 99% one decimal, so 0.9958 reads 99.6%: a share is
    ``100%`` or ``0%`` only when it is exactly that (``>99.9%``, ``<0.1%`` near them)."""
    if value is None:
        return ""
    share = value * 100
    if share in (0, 100) or 1 <= share <= 99:
        return f"{share:.0f}%"
    if share > 99.9:
        return ">99.9%"
    if share < 0.1:
        return "<0.1%"
    return f"{share:.1f}%"


def strength(detail: dict[str, Any] | None) -> str:
    """How well the heat-map explains the choice: ``strong``, ``moderate``, ``weak`` or
    ``not measured`` (from the stored faithfulness detail)."""
    record = Faithfulness.from_detail(detail)
    if record is None:
        return "not measured"
    return _BY_VERDICT[record.verdict]


@dataclass(frozen=True)
class SecondLook:
    """Why a prediction needs a second look (no reasons: it does not)."""

    reasons: list[str] = field(default_factory=list)
    outside_share: float | None = None  # weight outside the evidence fields, when flagged

    def __bool__(self) -> bool:
        return bool(self.reasons)

    def describe(self) -> str:
        """``Yes: unsure (54%); evidence outside Partners, Study design (80% elsewhere)``."""
        return "; ".join(self.reasons)


def evidence_outside(
    codebook: Codebook, level_index: int, shares: Sequence[tuple[str, float]]
) -> float | None:
    """The share of the weight outside the evidence fields when it is the most of it (a
    prediction above the first level of a codebook with evidence fields, of a protocol
    that has one of them: a plain-text file read as one field says nothing of where its
    evidence lies), else None."""
    if not codebook.evidence_fields or level_index == 0 or not shares:
        return None
    if not any(codebook.is_evidence_field(name) for name, _ in shares):
        return None
    total = sum(share for _, share in shares)
    if total <= 0:
        return None
    inside = sum(share for name, share in shares if codebook.is_evidence_field(name))
    outside = 1 - inside / total
    return outside if inside / total < OUTSIDE else None


def evidence_fields_text(codebook: Codebook) -> str:
    """``Partners and Study design``."""
    names = [codebook.field_name(f) for f in codebook.evidence_fields]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def second_look(
    codebook: Codebook,
    level_index: int,
    confidence: float,
    detail: dict[str, Any] | None,
    shares: Sequence[tuple[str, float]],
) -> SecondLook:
    """The reasons, in plain words, for which a prediction needs a second look."""
    reasons = []
    if band(confidence) == "low":
        reasons.append(f"unsure ({percent(confidence)})")
    if strength(detail) == "weak":
        reasons.append("the shading does not explain the choice")
    outside = evidence_outside(codebook, level_index, shares)
    if outside is not None:
        reasons.append(
            f"evidence outside {evidence_fields_text(codebook)} ({percent(outside)} elsewhere)"
        )
    return SecondLook(reasons, outside)
