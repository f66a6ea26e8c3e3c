"""Out-of-sample probabilities by cross-validation: each protocol's calibrated
probabilities from a model trained, the same way as the service's, without it.

A model's probabilities for the protocols it was trained on are no evidence about their
labels: it has fit them. Suspect-label checks (``cenr review issues``) need the model's
view of each label from a model that never saw it, so the reviewed protocols are split
into ``folds`` parts, stratified by level (fewer parts when a level has fewer protocols
than ``folds``), a model is trained on all parts but one, and it scores the part it did
not see.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, TextIO

import numpy as np
from sklearn.model_selection import StratifiedKFold

from classifier.inference import Predictor
from classifier.training import TrainingOptions, train
from schema.codebook import Codebook
from schema.errors import TrainingDataError
from schema.protocol import Protocol

MIN_PER_LEVEL = 3  # so that each training part keeps two of every level (training's minimum)


@dataclass(frozen=True)
class OutOfFold:
    """Probabilities ``(n, levels)`` in input order, and how they were made."""

    probabilities: np.ndarray
    folds: int


def thin_levels(labels: Sequence[int], minimum: int = MIN_PER_LEVEL) -> set[int]:
    """Level indices with fewer than ``minimum`` protocols: too few to cross-validate."""
    return {level for level, n in Counter(labels).items() if n < minimum}


def out_of_fold_probabilities(
    protocols: Sequence[Protocol],
    labels: Sequence[int],
    codebook: Codebook,
    options: TrainingOptions,
    folds: int = 5,
    progress: TextIO | Literal["stderr"] | None = "stderr",
) -> OutOfFold:
    """Each protocol's probabilities from a model trained on the other folds; a line a fold
    to ``progress`` (``"stderr"``: the process's standard error when called, not when this
    module was imported, which under a test's capture may be a stream since closed).

    Raises:
        TrainingDataError: fewer than two levels, a level with fewer than
            :data:`MIN_PER_LEVEL` protocols, or a training part too small to train.
    """
    labels_array = np.asarray(labels, dtype=np.int64)
    counts = Counter(labels_array.tolist())
    if len(counts) < 2:
        raise TrainingDataError(
            f"the {len(labels)} protocol(s) have one level: cross-validation needs two or more"
        )
    thin = sorted(thin_levels(labels_array.tolist()))
    if thin:
        codes = ", ".join(codebook.levels[i].code for i in thin)
        raise TrainingDataError(
            f"level(s) {codes} have fewer than {MIN_PER_LEVEL} protocols to cross-validate"
        )
    k = max(2, min(folds, min(counts.values())))  # every part holds every level
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=options.seed)
    probabilities = np.zeros((len(protocols), len(codebook.levels)), dtype=np.float64)
    for number, (kept, held) in enumerate(splitter.split(labels_array, labels_array), start=1):
        if progress is not None:
            print(
                f"fold {number}/{k}: training on {len(kept)} protocol(s), scoring {len(held)}",
                file=sys.stderr if progress == "stderr" else progress,
            )
        # early stopping's validation share must hold one of every level: on a few dozen
        # protocols the model's 15% may not
        levels = len(np.unique(labels_array[kept]))
        share = max(options.validation_size, (levels + 0.5) / len(kept))
        if share > 0.5:
            raise TrainingDataError(
                f"{len(kept)} protocols per training part are too few for {levels} levels: "
                "review more protocols, or use fewer --folds"
            )
        fold_options = replace(options, seed=options.seed + number, validation_size=share)
        trained = train(
            [protocols[i] for i in kept],
            labels_array[kept].tolist(),
            codebook,
            fold_options,
            progress=None,
        )
        predictor = Predictor(trained.model, trained.vocabulary, codebook, options.max_tokens)
        scored = predictor.predict([protocols[i] for i in held])
        for index, prediction in zip(held, scored, strict=True):
            probabilities[index] = prediction.probabilities
    return OutOfFold(probabilities, k)
