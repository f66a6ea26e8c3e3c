"""Suspect labels and reviewer quality from out-of-sample probabilities: pure functions
over arrays, with cleanlab doing the statistics.

Two signals, as cleanlab implements them:

- **Confident learning** (``cleanlab.filter.find_label_issues``, pruned by the estimated
  noise rate): a label is an issue when the model, trained without the protocol, is more
  confident of another level than labels of that level usually get. Its per-protocol
  score is the *self-confidence*, the out-of-sample probability of the label itself
  (``cleanlab.rank.get_label_quality_scores``): hand-checkable from the probabilities.
- **Multi-annotator consensus** (CROWDLAB, ``cleanlab.multiannotator``): with two or more
  reviewers, each protocol's consensus level and the quality of that consensus weigh
  the reviewers' agreement with each other and with the model, and each reviewer gets an
  estimated quality. With one reviewer the consensus is theirs and its quality the
  self-confidence; reviewer quality is then undefined.

The *suspect score* is ``1 - quality``: 0 for a label the reviewers and the model agree
on, near 1 for one they all doubt. The label scored is the agreed level (adjudicated or
unanimous), else the consensus.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.multiannotator import get_label_quality_multiannotator
from cleanlab.rank import get_label_quality_scores

from schema.codebook import Codebook


@dataclass(frozen=True)
class Rated:
    """One reviewed protocol: each reviewer's level index, and the agreed one if any."""

    ratings: dict[str, int]
    agreed: int | None
    basis: str  # "adjudicated", "unanimous" or "disputed"


@dataclass(frozen=True)
class Scored:
    label: int  # the level scored: agreed, else the consensus
    consensus: int
    self_confidence: float  # the out-of-sample probability of ``label``
    quality: float
    flagged: bool
    reason: str

    @property
    def suspect_score(self) -> float:
        return round(1.0 - self.quality, 6)


@dataclass(frozen=True)
class ReviewerQuality:
    reviewer: str
    n: int
    quality: float | None  # CROWDLAB's annotator quality; None with one reviewer
    agreement: float | None  # with the consensus
    worst_level: str | None
    note: str = ""


def _majority(ratings: dict[str, int]) -> int:
    """The most common level; a tie goes to the median of the tied levels (ordinal)."""
    counts: dict[int, int] = {}
    for level in ratings.values():
        counts[level] = counts.get(level, 0) + 1
    best = max(counts.values())
    tied = sorted(level for level, n in counts.items() if n == best)
    return tied[(len(tied) - 1) // 2]


def training_label(rated: Rated) -> int:
    """The level a cross-validation model learns for this protocol."""
    return rated.agreed if rated.agreed is not None else _majority(rated.ratings)


def _reason(rated: Rated, label: int, probs: np.ndarray, codebook: Codebook) -> str:
    code = codebook.levels
    if rated.basis == "disputed":
        said = ", ".join(f"{r} {code[v].code}" for r, v in sorted(rated.ratings.items()))
        head = f"reviewers split ({said}); consensus {code[label].code}"
    else:
        n = len(rated.ratings)
        head = f"{rated.basis} {code[label].code} ({n} reviewer{'s' if n != 1 else ''})"
    top = int(np.argmax(probs))
    if top == label:
        return (
            f"{head}; a model trained without it agrees ({probs[label]:.2f} on {code[label].code})"
        )
    return (
        f"{head}; a model trained without it puts {probs[top]:.2f} on {code[top].code} and "
        f"{probs[label]:.2f} on {code[label].code}"
    )


def score_labels(
    rounds: Sequence[Rated], probabilities: np.ndarray, codebook: Codebook
) -> tuple[list[Scored], list[ReviewerQuality], list[str]]:
    """Each protocol's scored label, the reviewers' quality, and cleanlab's warnings (in
    words, for the report) for ``probabilities`` ``(n, levels)`` made out of sample."""
    reviewers = sorted({r for rated in rounds for r in rated.ratings})
    probs = np.asarray(probabilities, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        consensus = [training_label(rated) for rated in rounds]
        quality: np.ndarray
        stats: list[ReviewerQuality]
        if len(reviewers) >= 2:
            matrix = np.full((len(rounds), len(reviewers)), np.nan)
            for row, rated in enumerate(rounds):
                for column, reviewer in enumerate(reviewers):
                    if reviewer in rated.ratings:
                        matrix[row, column] = rated.ratings[reviewer]
            result = get_label_quality_multiannotator(matrix, probs, verbose=False)
            table = result["label_quality"]
            consensus = [int(v) for v in table["consensus_label"]]
            quality = table["consensus_quality_score"].to_numpy(dtype=np.float64)
            annotators = result["annotator_stats"]
            stats = [
                ReviewerQuality(
                    reviewer,
                    int(annotators.loc[column, "num_examples_labeled"]),
                    round(float(annotators.loc[column, "annotator_quality"]), 6),
                    round(float(annotators.loc[column, "agreement_with_consensus"]), 6),
                    codebook.levels[int(annotators.loc[column, "worst_class"])].code,
                )
                for column, reviewer in enumerate(reviewers)
            ]
        else:
            stats = [
                ReviewerQuality(
                    reviewer,
                    len(rounds),
                    None,
                    None,
                    None,
                    "undefined: one reviewer (reviewer quality needs two or more)",
                )
                for reviewer in reviewers
            ]
        labels = np.array(
            [
                rated.agreed if rated.agreed is not None else c
                for rated, c in zip(rounds, consensus, strict=True)
            ]
        )
        self_confidence = get_label_quality_scores(labels, probs, method="self_confidence")
        if len(reviewers) < 2:
            quality = self_confidence
        flagged = find_label_issues(labels, probs, n_jobs=1)
    scored = [
        Scored(
            int(label),
            int(agreed_or),
            round(float(conf), 6),
            round(float(q), 6),
            bool(flag),
            _reason(rated, int(label), probs[i], codebook),
        )
        for i, (rated, label, agreed_or, conf, q, flag) in enumerate(
            zip(rounds, labels, consensus, self_confidence, quality, flagged, strict=True)
        )
    ]
    notes = sorted({" ".join(str(w.message).split()) for w in caught})
    return scored, stats, notes
