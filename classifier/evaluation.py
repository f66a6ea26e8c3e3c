"""The evaluation report: accuracy, macro-F1, per-level scores, confusion matrix, ECE.

Plain numbers in a dict, so the CLI can print them as a table or as one JSON line,
and the registry can save them with the model. The coarse three-level view of the
codebook (not CEnR / limited / engaged) is reported beside the fine levels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from classifier.calibration import expected_calibration_error, reliability
from schema.codebook import Codebook


def evaluation_report(
    labels: np.ndarray, probabilities: np.ndarray, codebook: Codebook
) -> dict[str, Any]:
    """Scores of ``probabilities`` (``(n, levels)``) against true level indices ``labels``."""
    labels = np.asarray(labels)
    predicted = np.asarray(probabilities).argmax(axis=1)
    indices = list(range(len(codebook.levels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=indices, zero_division=0
    )
    report: dict[str, Any] = {
        "n": len(labels),
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(
            f1_score(labels, predicted, labels=indices, average="macro", zero_division=0)
        ),
        "per_class": {
            level.code: {
                "name": level.name,
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, level in enumerate(codebook.levels)
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=indices).tolist(),
        "ece": expected_calibration_error(probabilities, labels),
        "reliability": reliability(probabilities, labels),
    }
    if codebook.coarse:
        coarse_true = np.array([codebook.coarse_index(i) for i in labels], dtype=int)
        coarse_pred = np.array([codebook.coarse_index(i) for i in predicted], dtype=int)
        coarse_indices = list(range(len(codebook.coarse)))
        report["coarse"] = {
            "accuracy": float(accuracy_score(coarse_true, coarse_pred)),
            "macro_f1": float(
                f1_score(
                    coarse_true,
                    coarse_pred,
                    labels=coarse_indices,
                    average="macro",
                    zero_division=0,
                )
            ),
        }
    return report
