"""Erasure test: does removing the most-attended tokens change the prediction?

Attention weights are not automatically an explanation (Jain & Wallace, 2019, "Attention
is not Explanation"). Following ERASER's comprehensiveness (DeYoung et al., 2020), for
each prediction we delete the top-k attended tokens and measure how far the predicted
level's probability falls, and compare with deleting k random tokens. Only when the
first drop is clearly larger does the heat-map point at words the model relied on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from classifier.inference import EncodedDocument, Faithfulness, Prediction, Predictor
from schema.protocol import Protocol

DEFAULT_FRACTION = 0.1
DEFAULT_RANDOM_DRAWS = 2


def erasure_k(n_tokens: int, fraction: float = DEFAULT_FRACTION) -> int:
    """How many tokens to erase from a document of ``n_tokens``: ``ceil(fraction * n)``."""
    return max(1, math.ceil(fraction * n_tokens)) if n_tokens > 1 else 0


def measure_faithfulness(
    predictor: Predictor,
    documents: Sequence[EncodedDocument],
    predictions: Sequence[Prediction],
    *,
    fraction: float = DEFAULT_FRACTION,
    random_draws: int = DEFAULT_RANDOM_DRAWS,
    seed: int = 0,
) -> None:
    """Fill ``prediction.faithfulness`` for every prediction, in one batched pass.

    Documents of one token cannot lose a token and are left at ``None``.
    """
    rng = np.random.default_rng(seed)
    variants: list[np.ndarray] = []
    owners: list[tuple[int, bool]] = []  # (prediction index, is the top-k variant)
    ks: dict[int, int] = {}
    for index, (document, prediction) in enumerate(zip(documents, predictions, strict=True)):
        n = len(document.ids)
        k = erasure_k(n, fraction)
        if k == 0:
            continue
        ks[index] = k
        top = np.argsort(-prediction.weights, kind="stable")[:k]
        variants.append(np.delete(document.ids, top))
        owners.append((index, True))
        for _ in range(random_draws):
            variants.append(np.delete(document.ids, rng.choice(n, size=k, replace=False)))
            owners.append((index, False))
    if not variants:
        return
    _, probabilities, _ = predictor.run(variants)
    top_drop: dict[int, float] = {}
    random_drops: dict[int, list[float]] = {i: [] for i in ks}
    for (index, is_top), probs in zip(owners, probabilities, strict=True):
        prediction = predictions[index]
        drop = prediction.confidence - float(probs[prediction.level_index])
        if is_top:
            top_drop[index] = drop
        else:
            random_drops[index].append(drop)
    for index, k in ks.items():
        drops = random_drops[index]
        predictions[index].faithfulness = Faithfulness(
            k=k, top_drop=top_drop[index], random_drop=float(np.mean(drops)) if drops else 0.0
        )


def annotate(
    predictor: Predictor, protocols: Sequence[Protocol], seed: int = 0
) -> list[Prediction]:
    """Predict every protocol and attach its erasure-test faithfulness."""
    documents = [predictor.encode(p) for p in protocols]
    predictions = predictor.predict_encoded(protocols, documents)
    measure_faithfulness(predictor, documents, predictions, seed=seed)
    return predictions


def summarise(predictions: Sequence[Prediction]) -> dict[str, float] | None:
    """Mean drops over predictions and the share whose top-k drop beats random."""
    measured = [p.faithfulness for p in predictions if p.faithfulness is not None]
    if not measured:
        return None
    return {
        "top_drop": float(np.mean([f.top_drop for f in measured])),
        "random_drop": float(np.mean([f.random_drop for f in measured])),
        "score": float(np.mean([f.score for f in measured])),
        "share_positive": float(np.mean([f.score > 0 for f in measured])),
    }
