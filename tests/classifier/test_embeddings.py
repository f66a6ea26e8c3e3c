"""Word vectors from the training texts: counts, PPMI, SVD, and their use in training."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.embeddings import cooccurrence, corpus_vectors, ppmi, pretrained_vectors
from classifier.training import TrainingOptions, train
from schema.errors import ConfigError

from .test_training import _demo


def test_cooccurrence_is_symmetric_weighted_by_distance_and_skips_padding() -> None:
    """Co-occurrence counts are symmetric, weight each pair by one over its distance, and leave out
    the padding and unknown ids."""
    counts = cooccurrence([np.array([2, 3, 4, 1, 3, 0, 0])], vocab_size=5, window=2)
    dense = counts.toarray()
    np.testing.assert_array_equal(dense, dense.T)
    assert dense[2, 3] == 1.0  # neighbours
    assert dense[2, 4] == 0.5  # two apart
    assert dense[3, 4] == 1.5  # "3 4" adjacent, then "4 1 3": two apart
    assert dense[:2].sum() == 0
    assert dense[:, :2].sum() == 0


def test_cooccurrence_summed_in_chunks_matches_one_pass() -> None:
    """Co-occurrence counts summed in small chunks equal those summed in a single pass."""
    rng = np.random.default_rng(3)
    sequences = [rng.integers(0, 40, size=rng.integers(1, 60)).astype(np.int32) for _ in range(50)]
    one_pass = cooccurrence(sequences, 40, window=3, chunk_pairs=10**9).toarray()
    chunked = cooccurrence(sequences, 40, window=3, chunk_pairs=7).toarray()
    assert one_pass.sum() > 0
    np.testing.assert_allclose(chunked, one_pass, rtol=1e-6)


def test_ppmi_keeps_only_associations_above_chance() -> None:
    """PPMI scores words that occur together above zero, words that never do at zero, and nothing
    below zero."""
    # 2 and 3 always together, 4 and 5 always together, never across.
    sequences = [np.array([2, 3, 2, 3]), np.array([4, 5, 4, 5])] * 5
    association = ppmi(cooccurrence(sequences, 6, window=1)).toarray()
    assert association[2, 3] > 0
    assert association[4, 5] > 0
    assert association[2, 4] == 0
    assert association[3, 5] == 0
    assert (association >= 0).all()


def test_words_sharing_contexts_get_similar_vectors() -> None:
    """Corpus vectors put words seen in the same contexts close together, keep the padding row zero,
    and are the same for the same seed."""
    rng = np.random.default_rng(0)
    # Words 2-4 appear among contexts 10-19, words 5-7 among contexts 20-29.
    sequences = []
    for _ in range(300):
        group = int(rng.integers(2))
        word = int(rng.integers(3)) + 2 + 3 * group
        contexts = rng.integers(10, 20, size=4) + 10 * group
        sequences.append(np.array([contexts[0], contexts[1], word, contexts[2], contexts[3]]))
    vectors = corpus_vectors(sequences, vocab_size=30, dim=8, seed=1)
    unit = _unit(vectors)
    same, other = unit[2] @ unit[3], unit[2] @ unit[5]
    assert same > 0.8 > other
    np.testing.assert_array_equal(vectors[0], 0.0)  # padding row
    np.testing.assert_array_equal(vectors, corpus_vectors(sequences, 30, 8, seed=1))


def test_a_corpus_without_any_pair_still_gives_a_random_start() -> None:
    """A corpus with no word pairs still gives a full-sized matrix of small random starting
    vectors."""
    vectors = corpus_vectors([np.array([2]), np.array([1, 1])], vocab_size=4, dim=3, seed=2)
    assert vectors.shape == (4, 3)
    assert np.abs(vectors).max() <= 0.05


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)


def test_pretrained_vectors_come_from_the_wheel_and_know_related_words() -> None:
    """No network: the vectors are read from the installed wordllama package's files."""
    groups = [["football", "goal", "league", "club"], ["shares", "profit"], ["election", "vote"]]
    forms = ["<pad>", "<unk>", *(word for group in groups for word in group)]
    vectors = pretrained_vectors(forms, dim=64, seed=4)
    np.testing.assert_array_equal(vectors[0], 0.0)
    assert np.abs(vectors[1]).max() <= 0.05  # unknown: a random start
    norms = np.linalg.norm(vectors[2:], axis=1)
    np.testing.assert_allclose(norms, 2 * 0.05 * np.sqrt(64 / 3), rtol=1e-5)
    cosine = _unit(vectors[2:]) @ _unit(vectors[2:]).T
    np.fill_diagonal(cosine, -np.inf)
    topic = [n for n, group in enumerate(groups) for _ in group]
    nearest = [topic[int(j)] for j in cosine.argmax(axis=1)]
    assert nearest == topic, "each word's nearest neighbour should share its topic"
    np.testing.assert_array_equal(vectors, pretrained_vectors(forms, 64, seed=4))


def test_pretrained_vectors_wider_than_the_table_keep_random_columns() -> None:
    """Asking for pretrained vectors wider than the 256 columns available fills the extra columns
    with a small random start."""
    vectors = pretrained_vectors(["<pad>", "<unk>", "protocol"], dim=300, seed=1)
    assert vectors.shape == (3, 300)
    assert np.abs(vectors[2, 256:]).max() <= 0.05
    assert np.abs(vectors[2, :256]).max() > 0


def test_pretrained_vectors_without_their_package_name_it(monkeypatch) -> None:
    """When the package holding the pretrained vectors is missing, the error names it and says how
    to install it."""
    from classifier import embeddings

    missing = ("cenr_no_such_package", *embeddings.PRETRAINED[1:])
    monkeypatch.setattr(embeddings, "PRETRAINED", missing)
    with pytest.raises(ConfigError, match="pip install wordllama"):
        pretrained_vectors(["<pad>", "<unk>", "protocol"], dim=8, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("start", ["corpus", "pretrained"])
def test_training_starts_from_word_vectors_reproducibly(start: str) -> None:
    """Training from corpus or pretrained word vectors gives the same embedding on each run, and one
    that differs from a random start."""
    protocols, labels, codebook = _demo(90)
    options = TrainingOptions(epochs=1, seed=5, embedding_init=start)
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
    """An unknown embedding start is refused with an error naming it."""
    with pytest.raises(ConfigError, match="not 'glove'"):
        TrainingOptions(embedding_init="glove")


@pytest.mark.parametrize("name", ["epochs", "embedding_dim"])
def test_training_counts_below_one_are_refused(name: str) -> None:
    """Zero epochs or a zero embedding size is refused with a message that it must be at least 1."""
    with pytest.raises(ConfigError, match=f"{name} must be at least 1, not 0"):
        TrainingOptions(**{name: 0})
