"""Faithfulness of each heat-map: comprehensiveness and sufficiency, in one batched pass.

Attention weights are not automatically an explanation (Jain & Wallace, 2019, "Attention
is not Explanation"). Following ERASER (DeYoung et al., 2020), for each prediction and
each fraction in :data:`schema.faithfulness.FRACTIONS` of its tokens we build four
variants of the document and run them all through the model together:

- the document without its top-k weighted tokens, and without k random tokens
  (comprehensiveness: do the highlighted words matter more than random ones?);
- only its top-k tokens, and only k random tokens, in their original order
  (sufficiency: are the highlighted words enough on their own?).

Each variant is scored by the fall in the predicted level's calibrated log-odds from the
full text, computed from the logits (a probability of 1.000 cannot fall, log-odds can).
Random tokens are drawn ``random_draws`` times for the kept variants and
``removal_draws`` times for the removed ones, and averaged; the draws for the fractions
are nested (the 5% set is inside the 10% set), so the curve is comparable across k. A
removed variant is nearly the whole document and a kept one a fifth of it at most, so
the removal's random baseline is drawn once: on 200 long documents
(``bench/erasure_draws.py``) that left comprehensiveness as close to two draws as two
draws are to each other (median difference 0.23 nats per document either way) and cut
the measure's time by about 30%, while a second draw for the cheap kept variants keeps
sufficiency's noise where it was.
The record and its verdict are :class:`schema.faithfulness.Faithfulness`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from classifier.inference import EncodedDocument, Prediction, Predictor
from schema.faithfulness import CARRIES, FRACTIONS, Faithfulness, Perturbation
from schema.protocol import Protocol

DEFAULT_RANDOM_DRAWS = 2  # random draws for the kept variants (short: cheap)
DEFAULT_REMOVAL_DRAWS = 1  # for the removed variants (nearly the whole document each)


def perturbation_k(n_tokens: int, fraction: float) -> int:
    """How many tokens to remove or keep: ``ceil(fraction * n)``, at least 1 and at most
    ``n - 1`` (so that something is always removed and something kept); 0 below 2 tokens."""
    if n_tokens < 2:
        return 0
    return min(n_tokens - 1, max(1, math.ceil(fraction * n_tokens)))


def log_odds(logits: np.ndarray, level: int, temperature: float) -> float:
    """``log(p / (1 - p))`` of ``level`` under ``softmax(logits / T)``, without saturating."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    others = np.delete(scaled, level)
    return float(scaled[level] - logsumexp(others))


def measure_faithfulness(
    predictor: Predictor,
    documents: Sequence[EncodedDocument],
    predictions: Sequence[Prediction],
    *,
    fractions: Sequence[float] = FRACTIONS,
    random_draws: int = DEFAULT_RANDOM_DRAWS,
    removal_draws: int | None = DEFAULT_REMOVAL_DRAWS,
    seed: int = 0,
) -> None:
    """Fill ``prediction.faithfulness`` for every prediction, in one batched model pass.

    Documents of fewer than two tokens cannot lose or keep a part and stay at ``None``.
    ``removal_draws`` (at most ``random_draws``; None: as many) is how many of the random
    draws the removed variants use.
    """
    removal_draws = random_draws if removal_draws is None else min(removal_draws, random_draws)
    rng = np.random.default_rng(seed)
    variants: list[np.ndarray] = []
    # per prediction, per fraction: (fraction, k, and the indices into ``variants`` of
    # removed-top, kept-top, [removed-random], [kept-random])
    plans: dict[int, list[tuple[float, int, int, int, list[int], list[int]]]] = {}

    def add(ids: np.ndarray) -> int:
        variants.append(ids)
        return len(variants) - 1

    for index, (document, prediction) in enumerate(zip(documents, predictions, strict=True)):
        ids, n = document.ids, len(document.ids)
        if n < 2:
            continue
        order = np.argsort(-prediction.weights, kind="stable")
        draws = [rng.permutation(n) for _ in range(random_draws)]
        plan = []
        for fraction in fractions:
            k = perturbation_k(n, fraction)
            top = order[:k]
            removed_random = [add(np.delete(ids, d[:k])) for d in draws[:removal_draws]]
            kept_random = [add(ids[np.sort(d[:k])]) for d in draws]
            plan.append(
                (fraction, k, add(np.delete(ids, top)), add(ids[np.sort(top)]),
                 removed_random, kept_random)
            )  # fmt: skip
        plans[index] = plan
    if not variants:
        return
    logits, _, _ = predictor.run(variants)
    temperature = predictor.temperature
    for index, plan in plans.items():
        prediction = predictions[index]
        level = prediction.level_index
        assert prediction.logits is not None  # set by Predictor.predict_encoded
        full = log_odds(prediction.logits, level, temperature)

        def fall(variant: int, level: int = level, full: float = full) -> float:
            return full - log_odds(logits[variant], level, temperature)

        steps = tuple(
            Perturbation(
                fraction=fraction,
                k=k,
                removed_top=fall(removed_top),
                removed_random=float(np.mean([fall(v) for v in removed_random])),
                kept_top=fall(kept_top),
                kept_random=float(np.mean([fall(v) for v in kept_random])),
                removal_changes_level=int(np.argmax(logits[removed_top])) != level,
                keeping_keeps_level=int(np.argmax(logits[kept_top])) == level,
            )
            for fraction, k, removed_top, kept_top, removed_random, kept_random in plan
        )
        prediction.faithfulness = Faithfulness(log_odds=full, steps=steps)


def annotate(
    predictor: Predictor,
    protocols: Sequence[Protocol],
    seed: int = 0,
    erasure_seconds: list[float] | None = None,
) -> list[Prediction]:
    """Predict every protocol and attach its faithfulness; ``erasure_seconds[0]``, if
    given, gathers the seconds the measure took (for the service's stage timings)."""
    documents = [predictor.encode(p) for p in protocols]
    predictions = predictor.predict_encoded(protocols, documents)
    started = time.perf_counter()
    measure_faithfulness(predictor, documents, predictions, seed=seed)
    if erasure_seconds is not None:
        erasure_seconds[0] += time.perf_counter() - started
    return predictions


def summarise(predictions: Sequence[Prediction]) -> dict[str, float] | None:
    """Means of the parts over predictions, and the share whose heat-map carries its label
    (both parts at or above the verdict's threshold)."""
    measured = [p.faithfulness for p in predictions if p.faithfulness is not None]
    if not measured:
        return None
    return {
        "comprehensiveness": float(np.mean([f.comprehensiveness for f in measured])),
        "sufficiency": float(np.mean([f.sufficiency for f in measured])),
        "score": float(np.mean([f.score for f in measured])),
        "median_score": float(np.median([f.score for f in measured])),
        "share_carrying": float(np.mean([f.verdict == CARRIES for f in measured])),
        "share_positive": float(np.mean([f.score > 0 for f in measured])),
    }
