"""Attention layers over BiLSTM states, each masking padding exactly.

The three designs the project grew from, as registered, serializable Keras layers:

- :class:`AdditiveAttention`: ``score_t = tanh(h_t W + b)``, one weight per token;
  ``b`` is a scalar or, with a fixed maximum length, one bias per position.
- :class:`BahdanauAttention`: ``score_t = v . tanh(W1 h_t + W2 q)`` with ``q`` the
  BiLSTM's final state, one weight per token.
- :class:`LabelwiseAttention`: one distribution per class (``W`` is features x classes),
  producing per-class logits, so each level has its own evidence.

Every layer takes an explicit boolean ``mask`` (True for real tokens). Padding gets
exactly zero weight and the weights over real tokens sum to one. With
``return_attention=True`` (the default) a layer returns ``(output, weights)``.
"""

from __future__ import annotations

from typing import Any

from classifier.backend import keras

ops = keras.ops

_NEG_INF = -1e9  # exp() of this underflows to exactly 0.0 in float32


def masked_softmax(scores: Any, mask: Any | None) -> Any:
    """Softmax over the last axis that gives exactly 0 where ``mask`` is False.

    Args:
        scores: ``(batch, ..., time)`` float scores.
        mask: ``(batch, time)`` booleans, broadcast over the middle axes; None for no mask.
    Returns:
        Weights of the shape of ``scores``, summing to 1 over real tokens.
    """
    if mask is None:
        return ops.softmax(scores, axis=-1)
    mask = ops.cast(mask, "bool")
    while len(mask.shape) < len(scores.shape):
        mask = ops.expand_dims(mask, axis=1)
    scores = ops.where(mask, scores, ops.full_like(scores, _NEG_INF))
    weights = ops.softmax(scores, axis=-1)
    return ops.where(mask, weights, ops.zeros_like(weights))


@keras.saving.register_keras_serializable(package="cenr")
class PaddingMask(keras.layers.Layer):
    """``token_ids != 0``: True for real tokens, False for padding."""

    def call(self, token_ids: Any) -> Any:
        return ops.not_equal(token_ids, 0)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


@keras.saving.register_keras_serializable(package="cenr")
class WordDropout(keras.layers.Layer):
    """In training, replace each real token by the unknown id with probability ``rate``.

    Dropping whole words (Iyyer et al., 2015) keeps a small-data model from leaning on a
    handful of tokens; padding stays padding, and inference is untouched.
    """

    def __init__(self, rate: float, unknown_id: int = 1, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), received rate={rate!r}")
        self.rate, self.unknown_id, self.seed = rate, unknown_id, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, token_ids: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0.0:
            return token_ids
        drop = keras.random.uniform(ops.shape(token_ids), seed=self.seed_generator) < self.rate
        drop = ops.logical_and(drop, ops.not_equal(token_ids, 0))
        return ops.where(drop, ops.full_like(token_ids, self.unknown_id), token_ids)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rate": self.rate,
            "unknown_id": self.unknown_id,
            "seed": self.seed,
        }


class _Attention(keras.layers.Layer):
    """Shared plumbing: the ``return_attention`` switch and config round-trip."""

    def __init__(self, return_attention: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.return_attention = bool(return_attention)
        # The mask is taken explicitly in call(); outputs carry no time axis to mask.
        self.supports_masking = True

    def compute_mask(self, inputs: Any, mask: Any | None = None) -> None:
        return None

    def _result(self, output: Any, weights: Any) -> Any:
        return (output, weights) if self.return_attention else output

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "return_attention": self.return_attention}


@keras.saving.register_keras_serializable(package="cenr")
class AdditiveAttention(_Attention):
    """``softmax_t(tanh(h_t W + b))`` then the weighted sum of ``h``.

    Args:
        bias: ``"scalar"`` (one bias) or ``"position"`` (one per position, needs
            ``max_length``; longer inputs are an error).
        max_length: number of positions for ``bias="position"``.
    Call: ``states (batch, time, features)``, ``mask (batch, time)`` ->
        ``context (batch, features)``, ``weights (batch, time)``.
    """

    def __init__(self, bias: str = "scalar", max_length: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if bias not in ("scalar", "position"):
            raise ValueError(f"bias must be 'scalar' or 'position', received bias={bias!r}")
        if bias == "position" and not (isinstance(max_length, int) and max_length > 0):
            raise ValueError(
                f"bias='position' needs a positive max_length, received max_length={max_length!r}"
            )
        self.bias_kind = bias
        self.max_length = max_length

    def build(self, input_shape: Any) -> None:
        features = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(features, 1), initializer="glorot_uniform"
        )
        positions = 1 if self.bias_kind == "scalar" else self.max_length
        self.bias = self.add_weight(name="bias", shape=(positions,), initializer="zeros")

    def call(self, states: Any, mask: Any | None = None) -> Any:
        scores = ops.squeeze(ops.matmul(states, self.kernel), axis=-1)  # (batch, time)
        if self.bias_kind == "scalar":
            scores = scores + self.bias
        else:
            scores = scores + self.bias[: ops.shape(states)[1]]
        weights = masked_softmax(ops.tanh(scores), mask)
        context = ops.einsum("bt,btf->bf", weights, states)
        return self._result(context, weights)

    def compute_output_shape(self, input_shape: Any) -> Any:
        context = (input_shape[0], input_shape[-1])
        return (context, tuple(input_shape[:2])) if self.return_attention else context

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bias": self.bias_kind, "max_length": self.max_length}


@keras.saving.register_keras_serializable(package="cenr")
class BahdanauAttention(_Attention):
    """``softmax_t(v . tanh(W1 h_t + W2 q))`` then the weighted sum of ``h``.

    Args:
        units: width of the hidden scoring layer.
    Call: ``[states (batch, time, features), query (batch, query_features)]``,
        ``mask (batch, time)`` -> ``context (batch, features)``, ``weights (batch, time)``.
    """

    def __init__(self, units: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not (isinstance(units, int) and units > 0):
            raise ValueError(f"units must be a positive integer, received units={units!r}")
        self.units = units

    def build(self, input_shape: Any) -> None:
        states_shape, query_shape = input_shape
        self.w_states = self.add_weight(
            name="w_states", shape=(states_shape[-1], self.units), initializer="glorot_uniform"
        )
        self.w_query = self.add_weight(
            name="w_query", shape=(query_shape[-1], self.units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.v = self.add_weight(name="v", shape=(self.units, 1), initializer="glorot_uniform")

    def call(self, inputs: Any, mask: Any | None = None) -> Any:
        states, query = inputs
        if isinstance(mask, list | tuple):  # Keras may hand one mask per input
            mask = mask[0]
        keys = ops.matmul(states, self.w_states)  # (batch, time, units)
        queries = ops.expand_dims(ops.matmul(query, self.w_query), axis=1)  # (batch, 1, units)
        scores = ops.squeeze(ops.matmul(ops.tanh(keys + queries + self.bias), self.v), axis=-1)
        weights = masked_softmax(scores, mask)
        context = ops.einsum("bt,btf->bf", weights, states)
        return self._result(context, weights)

    def compute_output_shape(self, input_shape: Any) -> Any:
        states_shape = input_shape[0]
        context = (states_shape[0], states_shape[-1])
        return (context, tuple(states_shape[:2])) if self.return_attention else context

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="cenr")
class LabelwiseAttention(_Attention):
    """One attention distribution per class, each feeding that class's logit.

    ``weights[b, c] = softmax_t(h_t W[:, c])``, ``context[b, c] = sum_t weights h_t``,
    ``logit[b, c] = context[b, c] . U[c] + u[c]``.

    Args:
        n_classes: number of classes (levels).
    Call: ``states (batch, time, features)``, ``mask (batch, time)`` ->
        ``logits (batch, n_classes)``, ``weights (batch, n_classes, time)``.
    """

    def __init__(self, n_classes: int, return_parts: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not (isinstance(n_classes, int) and n_classes >= 2):
            raise ValueError(f"n_classes must be an integer >= 2, received n_classes={n_classes!r}")
        self.n_classes = n_classes
        self.return_parts = bool(return_parts)

    def build(self, input_shape: Any) -> None:
        features = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(features, self.n_classes), initializer="glorot_uniform"
        )
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(self.n_classes, features), initializer="glorot_uniform"
        )
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.n_classes,), initializer="zeros"
        )

    def call(self, states: Any, mask: Any | None = None) -> Any:
        scores = ops.transpose(ops.matmul(states, self.kernel), (0, 2, 1))  # (batch, C, time)
        weights = masked_softmax(scores, mask)
        contexts = ops.einsum("bct,btf->bcf", weights, states)
        logits = ops.sum(contexts * self.output_kernel, axis=-1) + self.output_bias
        if self.return_parts:
            # Each token's part in each logit, (batch, time, C); with the bias they sum
            # to the logits exactly.
            token_logits = ops.einsum("btf,cf->btc", states, self.output_kernel)
            parts = ops.transpose(weights, (0, 2, 1)) * token_logits
            return logits, weights, parts
        return self._result(logits, weights)

    def compute_output_shape(self, input_shape: Any) -> Any:
        logits = (input_shape[0], self.n_classes)
        weights = (input_shape[0], self.n_classes, input_shape[1])
        if self.return_parts:
            return logits, weights, (input_shape[0], input_shape[1], self.n_classes)
        return (logits, weights) if self.return_attention else logits

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "n_classes": self.n_classes,
            "return_parts": self.return_parts,
        }


@keras.saving.register_keras_serializable(package="cenr")
class AttentionParts(keras.layers.Layer):
    """``[weights (batch, time), token_logits (batch, time, C)]`` -> each token's part in
    the attention logits, ``weights_t * token_logits_t``, ``(batch, time, C)``."""

    def call(self, inputs: Any) -> Any:
        weights, token_logits = inputs
        return ops.expand_dims(weights, -1) * token_logits

    def compute_mask(self, inputs: Any, mask: Any | None = None) -> None:
        return None

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape[1]


@keras.saving.register_keras_serializable(package="cenr")
class AttentionWeight(keras.layers.Layer):
    """``[logits (batch, C), parts (batch, time, C)]`` -> both times one non-trainable
    ``weight``: how much a hybrid's attention part counts beside its linear part, chosen
    on the validation split after training (``classifier.training.choose_attention_weight``).
    Scaling the logits and their token parts together keeps the split exact."""

    def build(self, input_shape: Any) -> None:
        self.weight = self.add_weight(name="weight", shape=(), initializer="ones", trainable=False)

    def call(self, inputs: Any) -> Any:
        logits, parts = inputs
        return logits * self.weight, parts * self.weight

    def compute_mask(self, inputs: Any, mask: Any | None = None) -> None:
        return None

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="cenr")
class EvidenceShares(keras.layers.Layer):
    """``[parts (batch, time, C), mask (batch, time)]`` -> heat-map weights
    ``(batch, C, time)``: each token's part in level ``c``'s logit above its mean part over
    the levels, negative parts dropped, normalised to sum to one over the tokens (all
    zero when no token speaks for the level). Padding gets exactly zero."""

    def call(self, inputs: Any) -> Any:
        parts, mask = inputs
        above = parts - ops.mean(parts, axis=-1, keepdims=True)
        above = ops.relu(above) * ops.expand_dims(ops.cast(mask, parts.dtype), -1)
        shares = above / ops.maximum(ops.sum(above, axis=1, keepdims=True), 1e-12)
        return ops.transpose(shares, (0, 2, 1))

    def compute_mask(self, inputs: Any, mask: Any | None = None) -> None:
        return None

    def compute_output_shape(self, input_shape: Any) -> Any:
        parts_shape = input_shape[0]
        return (parts_shape[0], parts_shape[2], parts_shape[1])


@keras.saving.register_keras_serializable(package="cenr")
class TemperatureSoftmax(keras.layers.Layer):
    """``softmax(logits / T)`` with a non-trainable temperature set by calibration."""

    def build(self, input_shape: Any) -> None:
        self.temperature = self.add_weight(
            name="temperature", shape=(), initializer="ones", trainable=False
        )

    def call(self, logits: Any) -> Any:
        return ops.softmax(logits / self.temperature, axis=-1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape
