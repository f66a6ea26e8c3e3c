"""Word vectors from the training texts: counts, PPMI, SVD, and their use in training."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.embeddings import cooccurrence, corpus_vectors, ppmi
from classifier.training import TrainingOptions, train
from schema.errors import ConfigError

from .test_training import _demo


def test_cooccurrence_is_symmetric_weighted_by_distance_and_skips_padding() -> None:
    counts = cooccurrence([np.array([2, 3, 4, 1, 3, 0, 0])], vocab_size=5, window=2)
    dense = counts.toarray()
    np.testing.assert_array_equal(dense, dense.T)
    assert dense[2, 3] == 1.0  # neighbours
    assert dense[2, 4] == 0.5  # two apart
    assert dense[3, 4] == 1.5  # "3 4" adjacent, then "4 1 3": two apart
    assert dense[:2].sum() == 0
    assert dense[:, :2].sum() == 0


def test_ppmi_keeps_only_associations_above_chance() -> None:
    # 2 and 3 always together, 4 and 5 always together, never across.
    sequences = [np.array([2, 3, 2, 3]), np.array([4, 5, 4, 5])] * 5
    association = ppmi(cooccurrence(sequences, 6, window=1)).toarray()
    assert association[2, 3] > 0
    assert association[4, 5] > 0
    assert association[2, 4] == 0
    assert association[3, 5] == 0
    assert (association >= 0).all()


def test_words_sharing_contexts_get_similar_vectors() -> None:
    rng = np.random.default_rng(0)
    # Words 2-4 appear among contexts 10-19, words 5-7 among contexts 20-29.
    sequences = []
    for _ in range(300):
        group = int(rng.integers(2))
        word = int(rng.integers(3)) + 2 + 3 * group
        contexts = rng.integers(10, 20, size=4) + 10 * group
        sequences.append(np.array([contexts[0], contexts[1], word, contexts[2], contexts[3]]))
    vectors = corpus_vectors(sequences, vocab_size=30, dim=8, seed=1)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
    same, other = unit[2] @ unit[3], unit[2] @ unit[5]
    assert same > 0.8 > other
    np.testing.assert_array_equal(vectors[0], 0.0)  # padding row
    np.testing.assert_array_equal(vectors, corpus_vectors(sequences, 30, 8, seed=1))


def test_a_corpus_without_any_pair_still_gives_a_random_start() -> None:
    vectors = corpus_vectors([np.array([2]), np.array([1, 1])], vocab_size=4, dim=3, seed=2)
    assert vectors.shape == (4, 3)
    assert np.abs(vectors).max() <= 0.05


def test_training_starts_from_corpus_vectors_reproducibly() -> None:
    protocols, labels, codebook = _demo(90)
    options = TrainingOptions(epochs=1, seed=5, embedding_init="corpus")
    first = train(protocols, labels, codebook, options, progress=None)
    second = train(protocols, labels, codebook, options, progress=None)
    random_start = train(
        protocols, labels, codebook, TrainingOptions(epochs=1, seed=5, embedding_init="random"),
        progress=None,
    )  # fmt: skip
    embedding = first.model.get_layer("embedding").embeddings.numpy()
    np.testing.assert_array_equal(embedding, second.model.get_layer("embedding").embeddings.numpy())
    assert not np.allclose(embedding, random_start.model.get_layer("embedding").embeddings.numpy())


def test_unknown_embedding_start_is_refused() -> None:
    with pytest.raises(ConfigError, match="not 'glove'"):
        TrainingOptions(embedding_init="glove")
