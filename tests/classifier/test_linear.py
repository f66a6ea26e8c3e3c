"""The hybrid's linear part: TF-IDF exactly as scikit-learn computes it, and token parts
that add up to the logits of the whole model."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.backend import keras, tf
from classifier.batching import pad_batch
from classifier.linear import TfidfLinear, bigram_keys, ngram_statistics
from classifier.model import ATTENTION_DESIGNS, ModelConfig, build_model
from schema.errors import ConfigError

VOCAB = 12
# Every word is in at least two documents (as the vocabulary's min_count makes it), pairs
# may be in one: only those in two or more are features, as with min_df=2.
DOCS = [
    [2, 3, 4, 2, 2, 5],
    [3, 4, 6, 7, 7],
    [5, 6, 2, 3, 4, 8, 9],
    [8, 9, 10, 11, 10, 11, 1, 5],
    [7, 11, 10, 9, 8, 6],
    [1, 2, 3],
]


def _sequences() -> list[np.ndarray]:
    return [np.array(d, dtype=np.int32) for d in DOCS]


def _sklearn_features() -> tuple[np.ndarray, list[str]]:
    # The unknown word (id 1) is no feature: it is left out of the text, which also breaks
    # the pairs across it, as bigram_keys does.
    texts = [" ".join("|" if i == 1 else f"w{i}" for i in d) for d in DOCS]
    # The analyzer makes words and pairs as ngram_range=(1, 2) would, but "|" splits the
    # text so that no pair spans the unknown word.
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, analyzer=_ngrams, lowercase=False)
    matrix = vectorizer.fit_transform(texts).toarray()
    return matrix, list(vectorizer.get_feature_names_out())


def _ngrams(text: str) -> list[str]:
    grams: list[str] = []
    for run in text.split("|"):
        words = run.split()
        grams += words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    return grams


def test_bigram_keys_leave_out_padding_and_the_unknown_word() -> None:
    """Pairs touching id 0 or 1 are not keys; the rest are left * vocab + right."""
    keys = bigram_keys(np.array([2, 3, 1, 4, 5, 0]), 10)
    assert keys.tolist() == [23, 45]


def test_layer_reproduces_scikit_learns_tfidf_features() -> None:
    """With one output per feature, the logits are exactly TfidfVectorizer's features."""
    sequences = _sequences()
    statistics = ngram_statistics(sequences, VOCAB)
    expected, names = _sklearn_features()
    pair_names = [f"w{k // VOCAB} w{k % VOCAB}" for k in statistics.bigram_keys]
    assert sorted(pair_names) == sorted(n for n in names if " " in n)
    n_features = VOCAB + len(pair_names)
    layer = TfidfLinear(VOCAB, n_features, len(pair_names))
    layer.build((None, None))
    layer.set_statistics(statistics, None)
    unigram = np.zeros((VOCAB, n_features), dtype=np.float32)
    unigram[np.arange(VOCAB), np.arange(VOCAB)] = 1.0
    bigram = np.zeros((len(pair_names) + 1, n_features), dtype=np.float32)
    bigram[1 + np.arange(len(pair_names)), VOCAB + np.arange(len(pair_names))] = 1.0
    layer.unigram.assign(unigram)
    layer.bigram.assign(bigram)
    logits, parts = layer(tf.constant(pad_batch(sequences)))
    logits = logits.numpy()
    for column, name in enumerate(names):
        ours = (
            logits[:, int(name[1:])]
            if " " not in name
            else logits[:, VOCAB + pair_names.index(name)]
        )
        np.testing.assert_allclose(ours, expected[:, column], rtol=1e-5, atol=1e-6)
    assert np.all(logits[:, :2] == 0.0)  # padding and unknown are no features
    np.testing.assert_allclose(parts.numpy().sum(axis=1), logits, rtol=1e-5, atol=1e-6)


def test_same_document_alone_or_padded_in_a_batch_gets_the_same_logits() -> None:
    """Counts are per row: the batch a protocol shares does not change its features."""
    sequences = _sequences()
    statistics = ngram_statistics(sequences, VOCAB)
    layer = TfidfLinear(VOCAB, 3, len(statistics.bigram_keys))
    layer.build((None, None))
    layer.set_statistics(statistics, None)
    rng = np.random.default_rng(0)
    layer.unigram.assign(rng.normal(size=(VOCAB, 3)).astype(np.float32))
    layer.bigram.assign(rng.normal(size=(len(statistics.bigram_keys) + 1, 3)).astype(np.float32))
    together, _ = layer(tf.constant(pad_batch(sequences)))
    for row, ids in enumerate(sequences):
        alone, _ = layer(tf.constant(ids[None, :]))
        np.testing.assert_allclose(alone.numpy()[0], together.numpy()[row], rtol=1e-5, atol=1e-6)


def _hybrid(design: str, **extra: object) -> tuple[keras.Model, list[np.ndarray]]:
    sequences = _sequences()
    statistics = ngram_statistics(sequences, VOCAB)
    config = ModelConfig(
        vocab_size=VOCAB, n_classes=4, attention=design, linear="tfidf",
        n_bigrams=len(statistics.bigram_keys), vector_dim=5, heatmap="contributions",
        chunk_tokens=4, **extra,  # type: ignore[arg-type]
    )  # fmt: skip
    model = build_model(config)
    rng = np.random.default_rng(1)
    layer = model.get_layer("linear")
    layer.set_statistics(statistics, rng.normal(size=(VOCAB, 5)).astype(np.float32))
    for weight in (layer.unigram, layer.bigram, layer.vector_kernel, layer.bias):
        weight.assign(rng.normal(size=weight.shape).astype(np.float32))
    return model, sequences


@pytest.mark.parametrize("design", ATTENTION_DESIGNS)
def test_heatmap_is_each_levels_share_of_the_evidence(design: str) -> None:
    """Every design: one weight row per level, zero on padding, summing to one (or zero
    where no token's part is above the levels' mean), and a token's weight is its part
    above that mean, as the parts are recomputed here."""
    model, sequences = _hybrid(design)
    ids = pad_batch(sequences)
    outputs = model(ids, training=False)
    weights = outputs["weights"].numpy()
    assert weights.shape == (len(sequences), 4, ids.shape[1])
    assert np.all(weights[np.broadcast_to((ids == 0)[:, None, :], weights.shape)] == 0.0)
    assert np.all(weights >= 0.0)
    totals = weights.sum(axis=-1)
    assert np.all(np.isclose(totals, 1.0, rtol=1e-5) | (totals == 0.0))
    assert np.isclose(totals, 1.0).mean() > 0.5
    parts = keras.Model(model.input, model.get_layer("hybrid_parts").output)(ids).numpy()
    above = np.maximum(parts - parts.mean(axis=-1, keepdims=True), 0.0) * (ids != 0)[..., None]
    shares = above / np.maximum(above.sum(axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(weights, shares.transpose(0, 2, 1), atol=1e-5)


@pytest.mark.parametrize("design", ATTENTION_DESIGNS)
def test_token_parts_add_up_to_the_models_logits(design: str) -> None:
    """The attention part's and the linear part's token parts, plus the biases, are the
    logits the model returns: the heat-map is an exact split, not an approximation."""
    model, sequences = _hybrid(design)
    ids = pad_batch(sequences)
    logits = model(ids, training=False)["logits"].numpy()
    parts = keras.Model(model.input, model.get_layer("hybrid_parts").output)(ids).numpy()
    bias = model.get_layer("linear").bias.numpy()
    if design == "labelwise":  # its bias sits outside the token parts
        bias = bias + model.get_layer("attention").output_bias.numpy()
    np.testing.assert_allclose(parts.sum(axis=1) + bias, logits, rtol=1e-4, atol=1e-4)


def test_hybrid_saves_and_loads_in_safe_mode(tmp_path: Path) -> None:
    """The int64 pair keys, idf and vectors round-trip through model.keras."""
    model, sequences = _hybrid("bahdanau")
    ids = pad_batch(sequences)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    for key in ("logits", "weights"):
        np.testing.assert_allclose(
            loaded(ids, training=False)[key].numpy(), model(ids, training=False)[key].numpy(),
            rtol=1e-6, atol=1e-6,
        )  # fmt: skip


def test_a_linear_part_cannot_be_painted_by_attention_alone() -> None:
    """The attention weights do not show a linear part, so that pair is refused by name."""
    with pytest.raises(ConfigError, match="not painted by the attention"):
        ModelConfig(vocab_size=5, n_classes=2, linear="tfidf", heatmap="attention")
    with pytest.raises(ConfigError, match="unknown linear part"):
        ModelConfig(vocab_size=5, n_classes=2, linear="svm", heatmap="contributions")


def test_out_of_fold_logits_come_from_fits_without_the_protocol() -> None:
    """Each protocol's logits are those of a fit on the other folds, not on itself."""
    from sklearn.model_selection import StratifiedKFold

    from classifier.linear import fit_linear, out_of_fold_logits, tfidf_features

    rng = np.random.default_rng(4)
    sequences = [rng.integers(2, VOCAB, size=12).astype(np.int32) for _ in range(30)]
    labels = np.arange(30) % 3
    weights = np.ones(30)
    features = tfidf_features(sequences, ngram_statistics(sequences, VOCAB), VOCAB)
    logits = out_of_fold_logits(features, labels, weights, 4, c=10.0, seed=2, folds=5)
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=2)
    for fitted, held in splitter.split(np.zeros(30), labels):
        coef, bias = fit_linear(features[fitted], labels[fitted], weights[fitted], 4, 10.0, 2)
        np.testing.assert_allclose(logits[held], features[held] @ coef + bias, rtol=1e-5)
    coef, bias = fit_linear(features, labels, weights, 4, 10.0, 2)
    assert not np.allclose(logits, features @ coef + bias, atol=1e-3)
    assert np.all(logits[:, 3] == -10.0)  # the level with no protocols: no evidence


def test_attention_weight_follows_what_the_validation_split_shows() -> None:
    """Right but soft linear logits with noisy attention ones give weight 0; linear
    logits that know nothing with right attention ones give weight 1."""
    from classifier.calibration import choose_attention_weight

    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    right = np.eye(3)[labels] * 0.5
    noise = rng.normal(scale=4.0, size=(60, 3))
    assert choose_attention_weight(noise, right, labels)[0] == 0.0
    assert choose_attention_weight(right * 8, np.zeros((60, 3)), labels)[0] == 1.0
