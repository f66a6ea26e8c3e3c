"""The BiLSTM + attention network, one graph for every attention design, optionally with
a linear TF-IDF part (``classifier/linear.py``) whose logits are added to it: the hybrid.

One model call returns the raw ``logits``, the calibrated ``probabilities``, the
``attention`` weights (``(batch, time)``, or ``(batch, levels, time)`` for the label-wise
design) and the heat-map ``weights``, so prediction and explanation can never drift
apart. The heat-map is either the attention itself (``heatmap="attention"``) or each
token's exact part in the logits (``heatmap="contributions"``): the attention part's
``a_t * (W h_t)`` (its logits are ``W (sum_t a_t h_t)``, so these sum to them exactly)
plus the linear part's, per level ``(batch, levels, time)``. A token's weight for a level
is its part above the mean over the levels (softmax ignores what all levels share), its
positive parts normalised to sum to one: the share of the evidence for that level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from classifier.backend import keras
from classifier.chunks import ChunkSequence, MaskedMean, UnchunkSequence
from classifier.layers import (
    AdditiveAttention,
    AttentionParts,
    AttentionWeight,
    BahdanauAttention,
    EvidenceShares,
    LabelwiseAttention,
    PaddingMask,
    TemperatureSoftmax,
    WordDropout,
)
from classifier.linear import TfidfLinear
from schema.errors import ConfigError

ATTENTION_DESIGNS = ("additive", "bahdanau", "labelwise")
LINEAR_PARTS = ("none", "tfidf")
HEATMAPS = ("attention", "contributions")


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of the network; saved with each model version."""

    vocab_size: int
    n_classes: int
    attention: str = "bahdanau"
    embedding_dim: int = 64
    lstm_units: int = 48
    attention_units: int = 64
    dropout: float = 0.3
    additive_bias: str = "scalar"
    max_tokens: int = 8192
    # Word dropout 0.2: BBC macro-F1 0.962 -> 0.986 on seed 13, but 0.955 on seed 14 (README).
    word_dropout: float = 0.2
    # Attend over [BiLSTM state; word embedding]: steadier across seeds and far more
    # faithful (erasing the top 10% drops p by ~0.3 instead of ~0.1 on BBC).
    embedding_skip: bool = True
    # Tokens per BiLSTM piece (classifier/chunks.py), 0 for the whole protocol in one
    # sequence: 4.4x faster training and inference on long protocols.
    chunk_tokens: int = 256
    # The hybrid (classifier/linear.py). These defaults are the models saved before it;
    # training's defaults (TrainingOptions) build the hybrid.
    linear: str = "none"
    n_bigrams: int = 0
    vector_dim: int = 0
    heatmap: str = "attention"

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("attention design", self.attention, ATTENTION_DESIGNS),
            ("linear part", self.linear, LINEAR_PARTS),
            ("heat-map", self.heatmap, HEATMAPS),
        ):
            if value not in choices:
                raise ConfigError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
        if self.linear != "none" and self.heatmap == "attention":
            raise ConfigError(
                f"a {self.linear} linear part is not painted by the attention weights: "
                "use --heatmap contributions, or --linear none"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_model(config: ModelConfig) -> keras.Model:
    """A fresh, compiled-ready model for ``config`` (input: int32 token ids, 0 = padding)."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    mask = PaddingMask(name="padding_mask")(token_ids)
    kept_ids = WordDropout(config.word_dropout, name="word_dropout")(token_ids)
    embedded = keras.layers.Embedding(
        config.vocab_size, config.embedding_dim, mask_zero=True, name="embedding"
    )(kept_ids)
    embedded = keras.layers.SpatialDropout1D(config.dropout, name="embedding_dropout")(embedded)
    bilstm = keras.layers.Bidirectional(
        keras.layers.LSTM(config.lstm_units, return_sequences=True, return_state=True),
        name="bilstm",
    )
    if config.chunk_tokens:
        pieces, piece_mask = ChunkSequence(config.chunk_tokens, name="pieces")([embedded, mask])
        piece_states = bilstm(pieces, mask=piece_mask)[0]
        states = UnchunkSequence(name="joined")([piece_states, embedded])
        query = MaskedMean(name="query")([states, mask])
    else:
        states, forward_h, _, backward_h, _ = bilstm(embedded)
        query = keras.layers.Concatenate(name="final_state")([forward_h, backward_h])
    if config.embedding_skip:
        # Attend over each token's BiLSTM state and its own embedding: the word itself
        # can carry the evidence, as in a weighted bag of words.
        states = keras.layers.Concatenate(name="states_and_embeddings")([states, embedded])

    parts = None
    if config.attention == "labelwise":
        attention = LabelwiseAttention(
            config.n_classes, return_parts=config.heatmap == "contributions", name="attention"
        )
        if config.heatmap == "contributions":
            logits, weights, parts = attention(states, mask=mask)
        else:
            logits, weights = attention(states, mask=mask)
    else:
        if config.attention == "additive":
            context, weights = AdditiveAttention(
                bias=config.additive_bias,
                max_length=config.max_tokens if config.additive_bias == "position" else None,
                name="attention",
            )(states, mask=mask)
        else:
            context, weights = BahdanauAttention(config.attention_units, name="attention")(
                [states, query], mask=mask
            )
        context = keras.layers.Dropout(config.dropout, name="context_dropout")(context)
        classes = keras.layers.Dense(config.n_classes, name="classes")
        logits = classes(context)
        if config.heatmap == "contributions":
            # W (sum_t a_t h_t) + b == sum_t a_t (W h_t + b): the weights sum to one.
            parts = AttentionParts(name="attention_parts")([weights, classes(states)])

    if config.linear == "tfidf":
        logits, parts = AttentionWeight(name="attention_weight")([logits, parts])
        linear_logits, linear_parts = TfidfLinear(
            config.vocab_size, config.n_classes, config.n_bigrams, config.vector_dim,
            name="linear",
        )(token_ids)  # fmt: skip
        logits = keras.layers.Add(name="hybrid_logits")([logits, linear_logits])
        parts = keras.layers.Add(name="hybrid_parts")([parts, linear_parts])
    heatmap = weights if parts is None else EvidenceShares(name="evidence")([parts, mask])

    probabilities = TemperatureSoftmax(name="probabilities")(logits)
    outputs = {
        "logits": logits,
        "probabilities": probabilities,
        "attention": weights,
        "weights": heatmap,
    }
    return keras.Model(token_ids, outputs, name=f"cenr_{config.attention}")


def attention_trainer(model: keras.Model) -> keras.Model:
    """For a hybrid: the attention part alone, its logits plus given linear ``offsets``
    (``(batch, levels)``, a second input), sharing the hybrid's layers. The linear part is
    fitted first, and the attention part learns from what it leaves (classifier.training).
    """
    attention_logits = model.get_layer("attention_weight").input[0]
    offsets = keras.Input(shape=(model.output["logits"].shape[-1],), name="linear_offsets")
    logits = keras.layers.Add(name="logits")([attention_logits, offsets])
    return keras.Model([model.input, offsets], {"logits": logits}, name="attention_trainer")


def attention_logits(model: keras.Model) -> keras.Model:
    """For a hybrid: ids -> the attention part's logits, before its weight."""
    logits = model.get_layer("attention_weight").input[0]
    return keras.Model(model.input, logits, name="attention_logits")


def set_attention_weight(model: keras.Model, weight: float) -> None:
    model.get_layer("attention_weight").weight.assign(float(weight))


def set_temperature(model: keras.Model, temperature: float) -> None:
    """Store the calibration temperature inside the model (saved with it)."""
    model.get_layer("probabilities").temperature.assign(float(temperature))


def get_temperature(model: keras.Model) -> float:
    return float(model.get_layer("probabilities").temperature.numpy())
