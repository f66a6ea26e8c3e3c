"""The hybrid's linear part: TF-IDF of words and word pairs, and pretrained word vectors,
whose logits are added to the attention model's, split exactly over the tokens.

A linear model over TF-IDF n-grams is what a research office would build itself, and
with a few hundred labelled protocols it is hard to beat (Wang & Manning, 2012; Mesnil
et al., 2014 add one to a neural model). Here it is a Keras layer in the same graph as
the attention network, so one model call still returns the probabilities and every
token's part. Its weights are those of a linear SVM fitted on the labelled protocols
first (:func:`fit_linear`) and stay fixed:

- each word gets the TF-IDF weight a ``TfidfVectorizer(sublinear_tf=True, min_df=2,
  ngram_range=(1, 2))`` gives it, ``(1 + ln count) * idf``, over the L2 norm of the
  protocol's whole vector, and a weight per level;
- each pair of neighbouring words in the labelled protocols' vocabulary of pairs (seen
  in at least 2 of them) the same, its part split half and half between its two words;
- optionally (``vectors``), each word's pretrained vector (WordLlama's,
  :func:`classifier.embeddings.pretrained_vectors`) times its TF-IDF weight, through one
  more fitted matrix to the levels: words the office never labelled still count through
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
from scipy import sparse
from sklearn.svm import LinearSVC

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


def tfidf_features(
    sequences: Sequence[np.ndarray], statistics: NgramStatistics, vocab_size: int
) -> sparse.csr_matrix:
    """The layer's features in NumPy, ``(n, vocab_size + n_bigrams + 1)``: words, then
    column ``vocab_size`` for "no known pair" (always 0), then the known pairs."""
    rows, columns, values = [], [], []
    for row, ids in enumerate(sequences):
        words, word_counts = np.unique(ids[ids > 1], return_counts=True)
        keys = bigram_keys(ids, vocab_size)
        where = np.searchsorted(statistics.bigram_keys, keys)
        where = np.minimum(where, max(0, len(statistics.bigram_keys) - 1))
        known = (
            keys[statistics.bigram_keys[where] == keys] if len(statistics.bigram_keys) else keys[:0]
        )
        pairs, pair_counts = np.unique(
            np.searchsorted(statistics.bigram_keys, known) + 1, return_counts=True
        )
        weights = np.concatenate(
            [
                (1 + np.log(word_counts)) * statistics.unigram_idf[words],
                (1 + np.log(pair_counts)) * statistics.bigram_idf[pairs],
            ]
        )
        norm = np.sqrt(np.sum(weights**2))
        rows.append(np.full(len(weights), row))
        columns.append(np.concatenate([words, vocab_size + pairs]))
        values.append(weights / norm if norm > 0 else weights)
    shape = (len(sequences), vocab_size + len(statistics.bigram_keys) + 1)
    return sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))), shape=shape
    )


def fit_linear(
    features: sparse.csr_matrix,
    labels: np.ndarray,
    sample_weight: np.ndarray,
    n_classes: int,
    c: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A linear SVM (``LinearSVC``: squared hinge, one level against the rest, penalty
    ``c``), the baseline a user would fit on these features: the weights
    ``(features, n_classes)`` and biases, its decision values being the logits. Levels
    absent from ``labels`` get no weight and a bias of -10: no evidence for them.

    On BBC News it beat logistic regression on the same features (fitted on the same 85%
    of the training split): macro-F1 0.9840 against 0.9796 (C 100) and 0.9773 (C 10) on
    split 7, 0.9890 against 0.9868 on split 13."""
    model = LinearSVC(C=c, random_state=seed)
    model.fit(features, labels, sample_weight=sample_weight)
    coef = np.zeros((features.shape[1], n_classes), dtype=np.float32)
    bias = np.full(n_classes, -10.0, dtype=np.float32)
    if len(model.classes_) == 2:  # one coefficient row: +/- half of it, the same softmax
        coef[:, model.classes_] = np.outer(model.coef_[0], [-0.5, 0.5])
        bias[model.classes_] = model.intercept_[0] * np.array([-0.5, 0.5])
    else:
        coef[:, model.classes_] = model.coef_.T
        bias[model.classes_] = model.intercept_
    return coef, bias


def out_of_fold_logits(
    features: sparse.csr_matrix,
    labels: np.ndarray,
    sample_weight: np.ndarray,
    n_classes: int,
    c: float,
    seed: int,
    folds: int = 5,
) -> np.ndarray:
    """Each protocol's linear logits from a fit on the other folds (stratified, seeded):
    what the linear part says about protocols it has not seen, for the attention part to
    learn from. In-sample logits are far too sure: on 250 BBC articles the attention
    part trained against them cost 3 points of macro-F1 (0.961 for a logistic regression
    alone, 0.930 with the attention part)."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(labels)[np.unique(labels)].min())
    if smallest < 2:  # a level seen once cannot be in two folds: the in-sample logits
        coef, bias = fit_linear(features, labels, sample_weight, n_classes, c, seed)
        return np.asarray(features @ coef + bias, dtype=np.float32)
    folds = min(folds, smallest)
    logits = np.zeros((features.shape[0], n_classes), dtype=np.float32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fitted, held in splitter.split(np.zeros(len(labels)), labels):
        coef, bias = fit_linear(
            features[fitted], labels[fitted], sample_weight[fitted], n_classes, c, seed
        )
        logits[held] = features[held] @ coef + bias
    return logits


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

    Its weights come from :meth:`fit`, a convex fit of this part alone, and stay fixed
    while the attention part trains on what it leaves (``classifier.training``).
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        n_bigrams: int,
        vector_dim: int = 0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.vocab_size, self.n_classes = int(vocab_size), int(n_classes)
        self.n_bigrams, self.vector_dim = int(n_bigrams), int(vector_dim)

    def build(self, input_shape: Any) -> None:
        levels = self.n_classes

        def fixed(name: str, shape: tuple[int, ...], dtype: str = "float32") -> Any:
            return self.add_weight(
                name=name, shape=shape, dtype=dtype, initializer="zeros", trainable=False
            )

        self.unigram_idf = fixed("unigram_idf", (self.vocab_size,))
        # One impossible key when there are no pairs keeps the lookup's shapes valid.
        self.bigram_keys = fixed("bigram_keys", (max(1, self.n_bigrams),), "int64")
        self.bigram_idf = fixed("bigram_idf", (self.n_bigrams + 1,))
        self.unigram = fixed("unigram", (self.vocab_size, levels))
        self.bigram = fixed("bigram", (self.n_bigrams + 1, levels))
        if self.vector_dim:
            self.vectors = fixed("vectors", (self.vocab_size, self.vector_dim))
            self.vector_kernel = fixed("vector_kernel", (self.vector_dim, levels))
        self.bias = fixed("bias", (levels,))

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

    def features(self, sequences: Sequence[np.ndarray]) -> sparse.csr_matrix:
        """This layer's inputs to its weights, in NumPy: the TF-IDF features and, with
        vectors, the TF-IDF-weighted sum of the word vectors."""
        statistics = NgramStatistics(
            self.unigram_idf.numpy(), self.bigram_keys.numpy()[: self.n_bigrams],
            self.bigram_idf.numpy(),
        )  # fmt: skip
        features = tfidf_features(sequences, statistics, self.vocab_size)
        if self.vector_dim:
            pooled = features[:, : self.vocab_size] @ self.vectors.numpy()
            features = sparse.hstack([features, sparse.csr_matrix(pooled)]).tocsr()
        return features

    def fit(self, features: sparse.csr_matrix, labels: np.ndarray, sample_weight: np.ndarray,
            c: float, seed: int) -> None:  # fmt: skip
        """Set the weights to the fit of this part alone (see :func:`fit_linear`)."""
        coef, bias = fit_linear(features, labels, sample_weight, self.n_classes, c, seed)
        words, pairs = self.vocab_size, self.vocab_size + self.n_bigrams + 1
        self.unigram.assign(coef[:words])
        self.bigram.assign(coef[words:pairs])
        if self.vector_dim:
            self.vector_kernel.assign(coef[pairs:])
        self.bias.assign(bias)

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

        word_weights = tf.gather(self.unigram, ids)
        if self.vector_dim:
            word_weights += tf.gather(self.vectors, ids) @ (self.vector_kernel)
        parts = word_scale[..., None] * word_weights
        pair_parts = 0.5 * pair_scale[..., None] * tf.gather(self.bigram, pair_index)
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
        }
