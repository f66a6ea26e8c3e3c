"""Agreement statistics over reviewers' ratings: pure functions, no database.

Nominal: Cohen's kappa per pair and Fleiss' kappa over all (a level is right or wrong).
Ordinal: levels 0-5 are ordered, so a 4 against a 5 is a small disagreement and a 0
against a 5 a large one. Cohen's kappa weighted linearly (``|i - j|``) and quadratically
(``(i - j)^2``) per pair comes from scikit-learn's ``cohen_kappa_score``, and
Krippendorff's alpha (ordinal) over every reviewer, missing ratings allowed, from the
``krippendorff`` package. Ratings here are level *indices* on the codebook's scale (its
levels in order), so a level nobody used still counts in the distances.

Each statistic is ``None`` where it is undefined, with the reason from :func:`why_undefined`:
one reviewer, or no protocol two reviewers both rated, or every rating the same (chance
agreement is then total and the ratio 0/0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

WEIGHTINGS = ("linear", "quadratic")


def fleiss_kappa(ratings: list[list[str]]) -> float | None:
    """Fleiss' kappa for items each rated by the same number (>= 2) of raters."""
    if not ratings or len(ratings[0]) < 2:
        return None
    n = len(ratings[0])
    categories = sorted({r for item in ratings for r in item})
    counts = [[item.count(c) for c in categories] for item in ratings]
    p_item = [(sum(x * x for x in row) - n) / (n * (n - 1)) for row in counts]
    p_bar = sum(p_item) / len(ratings)
    shares = [sum(row[j] for row in counts) / (len(ratings) * n) for j in range(len(categories))]
    p_e = sum(p * p for p in shares)
    return None if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters over the same items (None when chance agreement is 1)."""
    if not a:
        return None
    categories = set(a) | set(b)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
    expected = sum((a.count(c) / len(a)) * (b.count(c) / len(b)) for c in categories)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def _defined(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def weighted_kappa(a: Sequence[int], b: Sequence[int], n_levels: int, weights: str) -> float | None:
    """Cohen's kappa of two raters' level indices, weighted ``linear`` or ``quadratic``
    over the whole scale ``0 .. n_levels - 1``; None when undefined (no items, or an
    expected disagreement of 0: both raters gave one and the same level throughout)."""
    if weights not in WEIGHTINGS:
        raise ValueError(f"weights must be one of {WEIGHTINGS}, not {weights!r}")
    if len(a) == 0 or len(set(a) | set(b)) < 2:
        return None
    value = cohen_kappa_score(
        list(a), list(b), labels=list(range(n_levels)), weights=weights,
        replace_undefined_by=np.nan,
    )  # fmt: skip
    return _defined(float(value))


def krippendorff_alpha(units: Sequence[Sequence[int | None]], n_levels: int) -> float | None:
    """Krippendorff's alpha, ordinal, over ``units`` (one list of raters' level indices per
    protocol, ``None`` where a rater did not rate it); None when undefined (fewer than two
    units with two ratings, or a single level used throughout)."""
    pairable = [[v for v in unit if v is not None] for unit in units]
    pairable = [values for values in pairable if len(values) >= 2]
    if not pairable or len({v for values in pairable for v in values}) < 2:
        return None
    width = max(len(unit) for unit in units)
    data = np.full((width, len(units)), np.nan)
    for column, unit in enumerate(units):
        for row, value in enumerate(unit):
            if value is not None:
                data[row, column] = value
    alpha = krippendorff.alpha(
        reliability_data=data, level_of_measurement="ordinal",
        value_domain=list(range(n_levels)),
    )  # fmt: skip
    return _defined(float(alpha))


def why_undefined(n_reviewers: int, n_shared: int, n_levels_used: int) -> str | None:
    """In words, why an agreement statistic cannot be computed (None when it can)."""
    if n_reviewers == 0:
        return "undefined: no reviews"
    if n_reviewers < 2:
        return "undefined: one reviewer (agreement needs two or more)"
    if n_shared == 0:
        return "undefined: no protocol was rated by two reviewers"
    if n_levels_used < 2:
        return "undefined: every rating is the same level, so chance agreement is total"
    return None
