"""Length buckets: every document once, bounded padding and batch memory."""

from __future__ import annotations

import numpy as np

from classifier.batching import BUCKET, bucket_length, length_batches, pad_batch


def test_every_index_appears_once_and_budget_holds() -> None:
    """Batches partition the documents and respect the token budget."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 9000, size=500).tolist()
    batches = length_batches(lengths, batch_size=64, token_budget=65_536)
    assert sorted(i for b in batches for i in b) == list(range(500))
    for batch in batches:
        width = bucket_length(max(lengths[i] for i in batch))
        assert len(batch) <= 64
        assert len(batch) == 1 or len(batch) * width <= 65_536


def test_shuffled_batches_are_seeded() -> None:
    """The same generator seed gives the same training batches."""
    lengths = list(range(1, 300))
    a = length_batches(lengths, 16, rng=np.random.default_rng(3))
    b = length_batches(lengths, 16, rng=np.random.default_rng(3))
    assert a == b


def test_pad_batch_pads_to_bucket_with_zeros() -> None:
    """Rows are right-padded with 0 to a multiple of the bucket size."""
    batch = pad_batch([np.array([3, 4], dtype=np.int32), np.array([5] * 70, dtype=np.int32)])
    assert batch.shape == (2, 2 * BUCKET)
    assert batch[0, :2].tolist() == [3, 4]
    assert not batch[0, 2:].any()
