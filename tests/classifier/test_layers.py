"""Attention layers: exact padding masks, one call for both outputs, config round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier.backend import keras
from classifier.layers import (
    AdditiveAttention,
    BahdanauAttention,
    LabelwiseAttention,
    WordDropout,
)
from classifier.model import ATTENTION_DESIGNS, ModelConfig, build_model

IDS = np.array([[5, 6, 7, 0, 0, 0], [8, 9, 10, 11, 12, 13], [4, 0, 0, 0, 0, 0]], dtype="int32")


def _model(design: str, **extra: object) -> keras.Model:
    return build_model(ModelConfig(vocab_size=50, n_classes=6, attention=design, **extra))


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("design", ATTENTION_DESIGNS)
def test_padding_gets_exactly_zero_weight_and_real_tokens_sum_to_one(
    design: str, skip: bool
) -> None:
    """Padding positions have weight 0.0 exactly; real positions sum to 1."""
    outputs = _model(design, embedding_skip=skip, word_dropout=0.2)(IDS, training=False)
    weights = outputs["attention"].numpy()
    if design == "labelwise":
        assert weights.shape == (3, 6, 6)
    else:
        weights = weights[:, None, :]
    mask = (IDS != 0)[:, None, :]
    assert np.all(weights[np.broadcast_to(~mask, weights.shape)] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-6)
    assert np.all(weights[np.broadcast_to(mask, weights.shape)] > 0.0)


@pytest.mark.parametrize("design", ATTENTION_DESIGNS)
def test_one_call_returns_probabilities_and_attention(design: str) -> None:
    """The model's single call yields logits, probabilities, attention and the heat-map
    weights together (the attention itself when it is the heat-map)."""
    outputs = _model(design)(IDS, training=False)
    assert set(outputs) == {"logits", "probabilities", "attention", "weights"}
    np.testing.assert_array_equal(outputs["weights"].numpy(), outputs["attention"].numpy())
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("design", ATTENTION_DESIGNS)
def test_padding_does_not_change_the_prediction(design: str) -> None:
    """The same document padded to different lengths gets the same outputs."""
    model = _model(design)
    short = model(IDS[:1, :3], training=False)
    long = model(np.pad(IDS[:1, :3], ((0, 0), (0, 61))), training=False)
    np.testing.assert_allclose(short["probabilities"], long["probabilities"], atol=1e-6)
    np.testing.assert_allclose(
        short["attention"].numpy(), long["attention"].numpy()[..., :3], atol=1e-6
    )


@pytest.mark.parametrize("design", ATTENTION_DESIGNS)
def test_model_save_load_round_trip_in_safe_mode(design: str, tmp_path: Path) -> None:
    """A saved model reloads with safe_mode=True and gives identical outputs."""
    model = _model(design)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True, compile=False)
    before, after = model(IDS, training=False), loaded(IDS, training=False)
    for key in before:
        np.testing.assert_array_equal(before[key].numpy(), after[key].numpy())


@pytest.mark.parametrize(
    "layer",
    [
        AdditiveAttention(),
        AdditiveAttention(bias="position", max_length=32, return_attention=False),
        BahdanauAttention(units=8),
        LabelwiseAttention(n_classes=4),
        WordDropout(0.25, seed=3),
    ],
)
def test_layer_config_round_trip(layer: keras.layers.Layer) -> None:
    """Each layer's serialized form rebuilds an equal layer."""
    rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == layer.get_config()


def test_position_bias_model_masks_padding() -> None:
    """The additive design with one bias per position also masks padding."""
    model = _model("additive", additive_bias="position", max_tokens=16)
    weights = model(IDS, training=False)["attention"].numpy()
    assert np.all(weights[IDS == 0] == 0.0)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: AdditiveAttention(bias="both"), "received bias='both'"),
        (lambda: AdditiveAttention(bias="position"), "received max_length=None"),
        (lambda: BahdanauAttention(units=0), "received units=0"),
        (lambda: LabelwiseAttention(n_classes=1), "received n_classes=1"),
    ],
)
def test_bad_layer_arguments_name_the_received_value(factory, message: str) -> None:
    """Invalid layer arguments raise ValueError showing the value received."""
    with pytest.raises(ValueError, match=message):
        factory()


def test_word_dropout_keeps_padding_and_leaves_inference_alone() -> None:
    """In training some real tokens become unknown (1), padding never; at inference none."""
    layer = WordDropout(0.5, seed=7)
    ids = np.tile(np.array([[5, 6, 7, 8, 9, 10, 0, 0]], dtype="int32"), (64, 1))
    dropped = layer(ids, training=True).numpy()
    assert np.all(dropped[:, 6:] == 0)
    assert set(np.unique(dropped[:, :6])) <= {1, 5, 6, 7, 8, 9, 10}
    assert 0.35 < (dropped[:, :6] == 1).mean() < 0.65
    np.testing.assert_array_equal(layer(ids, training=False).numpy(), ids)


def test_pieces_run_apart_and_join_back_exactly() -> None:
    """With the BiLSTM in pieces of 4 tokens, a token changes the states of its own piece
    only; padding across pieces changes nothing, and weights still cover every token."""
    model = _model("bahdanau", chunk_tokens=4, word_dropout=0.0)
    states = keras.Model(model.input, model.get_layer("joined").output)
    ids = np.array([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]], dtype="int32")
    changed = ids.copy()
    changed[0, 9] = 20  # third piece
    before, after = states(ids, training=False).numpy(), states(changed, training=False).numpy()
    np.testing.assert_array_equal(before[0, :8], after[0, :8])
    assert not np.allclose(before[0, 8:], after[0, 8:])
    padded = np.pad(ids, ((0, 0), (0, 7)))
    short, long = model(ids, training=False), model(padded, training=False)
    np.testing.assert_allclose(short["probabilities"], long["probabilities"], atol=1e-6)
    np.testing.assert_allclose(short["attention"], long["attention"].numpy()[:, :10], atol=1e-6)
    assert np.all(long["attention"].numpy()[:, 10:] == 0.0)
    assert states(padded, training=False).shape == (1, 17, 96)
