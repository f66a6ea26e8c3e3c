"""The hybrid's linear part: TF-IDF of words and word pairs, and pretrained word vectors,
whose logits are added to the attention model's, split exactly over the tokens.

A linear model over TF-IDF n-grams is what a research office would build itself, and
with a few hundred labelled protocols it is hard to beat (Wang & Manning, 2012; Mesnil
et al., 2014 add one to a neural model). Here it is a Keras layer trained with the rest
of the network, so one model call still returns the probabilities and every token's part:

- each word gets the TF-IDF weight a ``TfidfVectorizer(sublinear_tf=True, min_df=2,
  ngram_range=(1, 2))`` gives it, ``(1 + ln count) * idf``, over the L2 norm of the
  protocol's whole vector, and a weight per level;
- each pair of neighbouring words in the training share's vocabulary of pairs (seen in
  at least 2 training protocols) the same, its part split half and half between its two
  words;
- optionally (``vectors``), each word's frozen pretrained vector (WordLlama's,
  :func:`classifier.embeddings.pretrained_vectors`) times its TF-IDF weight, through one
  trainable matrix to the levels: words the office never labelled still count through
  the words whose vectors they share.

A token's part in level ``c``'s logit is its unigram term plus half of each pair it is in:
the parts over all tokens plus the bias are exactly the logits, so they can be painted
with the attention part's (``classifier.model``). Padding and the unknown word have no
part (their idf is 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from classifier.backend import keras, tf

ops = keras.ops

MIN_DOCUMENTS = 2  # like min_df=2: a pair seen in one training protocol is noise


def bigram_keys(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """``left * vocab_size + right`` for each pair of neighbouring real words (int64);
    pairs with padding or the unknown word (ids 0 and 1) are left out."""
    ids = np.asarray(ids, dtype=np.int64)
    left, right = ids[:-1], ids[1:]
    keep = (left > 1) & (right > 1)
    return left[keep] * vocab_size + right[keep]


@dataclass(frozen=True)
class NgramStatistics:
    """Document frequencies of the training share, as the layer's fixed weights."""

    unigram_idf: np.ndarray  # (vocab_size,) float32, 0 for padding and unknown
    bigram_keys: np.ndarray  # (n_bigrams,) int64, sorted
    bigram_idf: np.ndarray  # (n_bigrams + 1,) float32, row 0 for "not a known pair"


def ngram_statistics(sequences: Sequence[np.ndarray], vocab_size: int) -> NgramStatistics:
    """Smoothed idf, ``ln((1 + n) / (1 + df)) + 1`` as scikit-learn computes it, of every
    vocabulary word and of every word pair in at least :data:`MIN_DOCUMENTS` protocols."""
    n = len(sequences)
    unigram_df = np.zeros(vocab_size, dtype=np.float64)
    pair_chunks = []
    for ids in sequences:
        unigram_df[np.unique(ids)] += 1
        pair_chunks.append(np.unique(bigram_keys(ids, vocab_size)))
    unigram_idf = np.log((1 + n) / (1 + unigram_df)) + 1.0
    unigram_idf[:2] = 0.0  # padding and unknown carry no evidence
    pairs = np.concatenate(pair_chunks) if pair_chunks else np.zeros(0, dtype=np.int64)
    keys, df = np.unique(pairs, return_counts=True)
    kept = df >= MIN_DOCUMENTS
    keys, df = keys[kept], df[kept]
    bigram_idf = np.concatenate([[0.0], np.log((1 + n) / (1 + df)) + 1.0])
    return NgramStatistics(
        unigram_idf.astype(np.float32), keys.astype(np.int64), bigram_idf.astype(np.float32)
    )


def _row_counts(keys: Any, valid: Any) -> Any:
    """For each position of ``keys (batch, time)`` (int64), how often its key occurs among
    the valid positions of its own row; 0 where not ``valid``."""
    batch, time = tf.shape(keys)[0], tf.shape(keys)[1]
    rows = tf.repeat(tf.range(tf.cast(batch, tf.int64)), time)
    flat = tf.reshape(keys, [-1])
    # Distinct (row, key) pairs (keys are below 2**32): no vocabulary-sized buffer needed.
    _, index = tf.unique(rows * 2**32 + flat)
    ones = tf.reshape(tf.cast(valid, tf.float32), [-1])
    totals = tf.math.unsorted_segment_sum(ones, index, tf.size(flat))
    return tf.reshape(tf.gather(totals, index), [batch, time]) * tf.cast(valid, tf.float32)


@keras.saving.register_keras_serializable(package="cenr")
class TfidfLinear(keras.layers.Layer):
    """``token_ids (batch, time)`` -> ``logits (batch, levels)`` and each token's part
    ``(batch, time, levels)``; ``sum_t parts + bias == logits`` exactly.

    Args:
        vocab_size, n_classes: sizes of the vocabulary and the codebook.
        n_bigrams: word pairs in the training share's vocabulary (see ngram_statistics).
        vector_dim: width of the frozen pretrained vectors, 0 for none.
        l2: L2 penalty on the effective weights (training sets it from C and the data size).
        gain: the trainable weights are ``gain`` times the stored ones, so that Adam, whose
            steps are about the learning rate, reaches linear-model sized weights in a
            few epochs instead of a few hundred.
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        n_bigrams: int,
        vector_dim: int = 0,
        l2: float = 0.0,
        gain: float = 20.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_size, self.n_classes = int(vocab_size), int(n_classes)
        self.n_bigrams, self.vector_dim = int(n_bigrams), int(vector_dim)
        self.l2, self.gain = float(l2), float(gain)

    def build(self, input_shape: Any) -> None:
        penalty = keras.regularizers.L2(self.l2 * self.gain**2) if self.l2 else None
        levels = self.n_classes

        def fixed(name: str, shape: tuple[int, ...], dtype: str = "float32") -> Any:
            return self.add_weight(
                name=name, shape=shape, dtype=dtype, initializer="zeros", trainable=False
            )

        self.unigram_idf = fixed("unigram_idf", (self.vocab_size,))
        # One impossible key when there are no pairs keeps the lookup's shapes valid.
        self.bigram_keys = fixed("bigram_keys", (max(1, self.n_bigrams),), "int64")
        self.bigram_idf = fixed("bigram_idf", (self.n_bigrams + 1,))
        self.unigram = self.add_weight(
            name="unigram", shape=(self.vocab_size, levels), initializer="zeros",
            regularizer=penalty,
        )  # fmt: skip
        self.bigram = self.add_weight(
            name="bigram", shape=(self.n_bigrams + 1, levels), initializer="zeros",
            regularizer=penalty,
        )  # fmt: skip
        if self.vector_dim:
            self.vectors = fixed("vectors", (self.vocab_size, self.vector_dim))
            self.vector_kernel = self.add_weight(
                name="vector_kernel", shape=(self.vector_dim, levels), initializer="zeros",
                regularizer=penalty,
            )  # fmt: skip
        self.bias = self.add_weight(name="bias", shape=(levels,), initializer="zeros")

    def set_statistics(self, statistics: NgramStatistics, vectors: np.ndarray | None) -> None:
        """Fix the training share's idf, its word pairs and the pretrained vectors."""
        if len(statistics.bigram_keys) != self.n_bigrams:
            raise ValueError(
                f"{len(statistics.bigram_keys)} word pairs for a layer built for {self.n_bigrams}"
            )
        self.unigram_idf.assign(statistics.unigram_idf)
        keys = statistics.bigram_keys if self.n_bigrams else np.array([-1], dtype=np.int64)
        self.bigram_keys.assign(keys)
        self.bigram_idf.assign(statistics.bigram_idf)
        if self.vector_dim:
            if vectors is None or vectors.shape != (self.vocab_size, self.vector_dim):
                raise ValueError(f"vectors of shape ({self.vocab_size}, {self.vector_dim}) needed")
            self.vectors.assign(vectors)

    def call(self, token_ids: Any) -> Any:
        ids = tf.cast(token_ids, tf.int64)
        real = ids > 1  # padding and unknown have no part
        # Word pairs, found by binary search in the training share's sorted keys.
        left, right = ids[:, :-1], ids[:, 1:]
        pair = left * self.vocab_size + right
        position = tf.searchsorted(self.bigram_keys, tf.reshape(pair, [-1]), out_type=tf.int64)
        position = tf.minimum(position, tf.size(self.bigram_keys, out_type=tf.int64) - 1)
        known = tf.reshape(tf.gather(self.bigram_keys, position), tf.shape(pair)) == pair
        known = known & real[:, :-1] & real[:, 1:]
        pair_index = tf.where(known, tf.reshape(position, tf.shape(pair)) + 1, 0)

        word_count = _row_counts(ids, real)
        pair_count = _row_counts(pair_index, known)
        word_tfidf = (1.0 + tf.math.log(tf.maximum(word_count, 1.0))) * tf.gather(
            self.unigram_idf, ids
        )
        pair_tfidf = (1.0 + tf.math.log(tf.maximum(pair_count, 1.0))) * tf.gather(
            self.bigram_idf, pair_index
        )
        word_tfidf *= tf.cast(real, tf.float32)
        # Each distinct n-gram is in the vector once: a position holds 1/count of its square.
        squares = tf.reduce_sum(
            tf.math.divide_no_nan(word_tfidf**2, word_count), axis=1
        ) + tf.reduce_sum(tf.math.divide_no_nan(pair_tfidf**2, pair_count), axis=1)
        norm = tf.sqrt(tf.maximum(squares, 1e-12))[:, None]
        word_scale = tf.math.divide_no_nan(word_tfidf, word_count) / norm  # (batch, time)
        pair_scale = tf.math.divide_no_nan(pair_tfidf, pair_count) / norm  # (batch, time - 1)

        word_weights = tf.gather(self.unigram, ids) * self.gain
        if self.vector_dim:
            word_weights += tf.gather(self.vectors, ids) @ (self.vector_kernel * self.gain)
        parts = word_scale[..., None] * word_weights
        pair_parts = 0.5 * pair_scale[..., None] * tf.gather(self.bigram, pair_index) * self.gain
        no_pair = tf.zeros_like(pair_parts[:, :1])
        parts += tf.concat([pair_parts, no_pair], axis=1) + tf.concat([no_pair, pair_parts], axis=1)
        logits = tf.reduce_sum(parts, axis=1) + self.bias
        return logits, parts

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], self.n_classes), (*input_shape, self.n_classes)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "n_classes": self.n_classes,
            "n_bigrams": self.n_bigrams,
            "vector_dim": self.vector_dim,
            "l2": self.l2,
            "gain": self.gain,
        }
