"""The faithfulness record of one prediction, and the sentence a reviewer reads about it.

Plain Python (no TensorFlow, no SQLAlchemy), so the exporters, the portal and the CLI can
all word the verdict the same way from what is stored with a prediction. How the numbers
are measured is in :mod:`classifier.faithfulness`.

All figures are in *nats of log-odds* of the predicted level's calibrated probability,
``log(p / (1 - p))``, computed from the logits so they never saturate the way a
probability of 1.000 does. A difference of 1 nat means the odds of the predicted level
change by a factor of e (about 2.7).

- ``comprehensiveness``: how much more the log-odds fall when the most-weighted tokens are
  removed than when as many random tokens are removed (mean over the fractions).
- ``sufficiency``: how much less the log-odds fall when *only* the most-weighted tokens are
  kept than when only as many random tokens are kept (mean over the fractions).
- ``score``: their mean, the one figure shown beside each heat-map.

Both parts are positive when the heat-map points at the words the model relied on, and
about zero when the highlighted words matter no more than random ones.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# Fractions of a protocol's tokens removed or kept, as in ERASER's area over the
# perturbation curve (DeYoung et al., 2020).
FRACTIONS = (0.05, 0.1, 0.2)
# A part counts as shown when the highlighted words beat random ones by at least this
# many nats: the odds of the level move by a factor of e**1 = 2.7 more than for random words.
THRESHOLD = 1.0
# The one explanation the workbook, the HTML pages and the portal give beside the score.
EXPLANATION = (
    "Faithfulness is how strongly the highlighted words drive the label, in nats of "
    "log-odds (1 nat: the odds of the level change 2.7 times). It is the mean of two "
    "parts, each over the top 5%, 10% and 20% of words: comprehensiveness (removing the "
    "highlighted words weakens the label more than removing as many random words) and "
    "sufficiency (keeping only the highlighted words holds the label better than keeping "
    "as many random words). Both parts at 1 or more: the heat-map carries the label; "
    "about 0: it does not explain it."
)
VERSION = 2  # detail written before version 2 held a drop in probability, not log-odds


@dataclass(frozen=True)
class Perturbation:
    """One fraction's measurements, each a fall in log-odds (nats) from the full text."""

    fraction: float
    k: int
    removed_top: float
    removed_random: float
    kept_top: float
    kept_random: float
    # Does the predicted level change when the top-k tokens are removed, and does it stay
    # when only they are kept?
    removal_changes_level: bool
    keeping_keeps_level: bool


@dataclass(frozen=True)
class Faithfulness:
    """Comprehensiveness and sufficiency of one prediction's heat-map, with their parts."""

    log_odds: float  # of the predicted level on the full text
    steps: tuple[Perturbation, ...]

    @property
    def comprehensiveness(self) -> float:
        return _mean([s.removed_top - s.removed_random for s in self.steps])

    @property
    def sufficiency(self) -> float:
        return _mean([s.kept_random - s.kept_top for s in self.steps])

    @property
    def score(self) -> float:
        return (self.comprehensiveness + self.sufficiency) / 2

    @property
    def verdict(self) -> str:
        return verdict(self.comprehensiveness, self.sufficiency)

    def to_detail(self) -> dict[str, Any]:
        """What is stored beside the score (``predictions.faithfulness_detail``)."""
        return {
            "version": VERSION,
            "log_odds": self.log_odds,
            "comprehensiveness": self.comprehensiveness,
            "sufficiency": self.sufficiency,
            "steps": [asdict(s) for s in self.steps],
        }

    @classmethod
    def from_detail(cls, detail: dict[str, Any] | None) -> Faithfulness | None:
        """The record back from stored detail; ``None`` for none or an older version."""
        if not detail or detail.get("version") != VERSION:
            return None
        steps = tuple(Perturbation(**s) for s in detail["steps"])
        return cls(log_odds=float(detail["log_odds"]), steps=steps)


CARRIES = (
    "The highlighted words carry this label: removing them weakens it far more than "
    "removing random words, and keeping only them keeps it."
)
MATTERS = (
    "The highlighted words matter but are not the whole story: removing them weakens "
    "this label, yet keeping only them does not hold it."
)
SUFFICES = (
    "The highlighted words are enough for this label, but the rest of the text "
    "supports it too: removing them changes little."
)
UNEXPLAINED = (
    "The heat-map does not explain this label: the highlighted words change it no more "
    "than random words do."
)
VERDICTS = (CARRIES, MATTERS, SUFFICES, UNEXPLAINED)


def verdict(comprehensiveness: float, sufficiency: float) -> str:
    """One plain sentence on what the heat-map shows, from the two parts (nats)."""
    removing = comprehensiveness >= THRESHOLD
    keeping = sufficiency >= THRESHOLD
    if removing:
        return CARRIES if keeping else MATTERS
    return SUFFICES if keeping else UNEXPLAINED


def verdict_of_detail(detail: dict[str, Any] | None) -> str:
    """The verdict for stored detail, or why there is none."""
    record = Faithfulness.from_detail(detail)
    if record is not None:
        return record.verdict
    if detail:
        return "No verdict: measured by an older erasure test; classify again to measure it."
    return "Not measured (the protocol has too few tokens, or the test was switched off)."


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0
