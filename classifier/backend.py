"""Pin Keras to the TensorFlow backend and quieten TensorFlow's start-up chatter.

Imported for its side effects before the first ``import keras`` in this package.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # INFO/WARNING lines about CPU features
# oneDNN reorders float sums between runs; off, so the same seed gives the same model.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras
import tensorflow as tf

__all__ = ["keras", "seed_everything", "tf"]


def seed_everything(seed: int) -> None:
    """Make initialisation, shuffling and dropout repeatable for ``seed``."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
