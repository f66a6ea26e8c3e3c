"""Length-bucketed batches: documents of similar length padded together.

Shared by training and inference. Padding each batch only to its bucket (a multiple of
``BUCKET``) instead of to the longest document keeps an 8,000-token protocol from
making every short one cost 8,000 LSTM steps, and bounds the number of distinct shapes
the compiled function sees. A batch holds at most ``token_budget`` padded tokens, so
long documents come in smaller batches and memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.tokenizer import PAD_ID

BUCKET = 64


def bucket_length(length: int) -> int:
    """``length`` rounded up to the next multiple of ``BUCKET`` (at least one bucket)."""
    return max(BUCKET, -(-length // BUCKET) * BUCKET)


def pad_batch(sequences: Sequence[np.ndarray]) -> np.ndarray:
    """Right-pad int32 id arrays to one bucket length: ``(batch, bucket_length(max))``."""
    width = bucket_length(max((len(s) for s in sequences), default=1))
    batch = np.full((len(sequences), width), PAD_ID, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = sequence
    return batch


def length_batches(
    lengths: Sequence[int],
    batch_size: int,
    token_budget: int = 65_536,
    rng: np.random.Generator | None = None,
) -> list[list[int]]:
    """Group indices into batches of similar length.

    Args:
        lengths: token count of each document.
        batch_size: most documents in one batch.
        token_budget: most padded tokens (documents x bucket length) in one batch.
        rng: when given, ties are broken at random and the batch order is shuffled
            (training); otherwise batches run shortest first (inference).
    Returns:
        Lists of indices into ``lengths``; every index appears exactly once.
    """
    jitter = rng.random(len(lengths)) if rng is not None else np.zeros(len(lengths))
    order = np.lexsort((jitter, np.asarray(lengths, dtype=np.int64)))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order.tolist():
        width = bucket_length(lengths[index])
        if current and (len(current) >= batch_size or (len(current) + 1) * width > token_budget):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    if rng is not None:
        rng.shuffle(batches)
    return batches
