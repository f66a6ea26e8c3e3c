"""Run the BiLSTM over fixed-length pieces of a long protocol, in parallel.

A recurrent layer steps through time one token after another, so a protocol of 3,000
tokens costs 3,000 sequential steps however many cores there are. Cut into pieces of
``length`` tokens that run side by side as rows of one batch, the same tokens cost
``length`` steps: on this project's 2-core machine a BiLSTM forward and backward pass
over 8 x 2,048 tokens took 0.51 s whole and 0.11 s as pieces of 256 (4.4x).

What is lost is recurrence across a piece boundary; the evidence for a CEnR level is a
phrase or a sentence, far shorter than a piece. Attention still runs over every token of
the whole protocol at once, so the heat-map and the one-call output are unchanged.
Pieces start at token 0, so a protocol is cut the same way alone or in a padded batch.
"""

from __future__ import annotations

from typing import Any

from classifier.backend import keras

ops = keras.ops


@keras.saving.register_keras_serializable(package="cenr")
class ChunkSequence(keras.layers.Layer):
    """``[states (batch, time, features), mask (batch, time)]`` -> pieces
    ``(batch * pieces, length, features)`` and their mask ``(batch * pieces, length)``;
    the time axis is padded (masked) up to a multiple of ``length``."""

    def __init__(self, length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not (isinstance(length, int) and length > 0):
            raise ValueError(f"length must be a positive integer, received {length!r}")
        self.length = length

    def call(self, inputs: Any) -> Any:
        states, mask = inputs
        time, features = ops.shape(states)[1], ops.shape(states)[2]
        pad = (-time) % self.length
        states = ops.pad(states, [[0, 0], [0, pad], [0, 0]])
        mask = ops.pad(ops.cast(mask, "int32"), [[0, 0], [0, pad]])
        pieces = ops.reshape(states, (-1, self.length, features))
        return pieces, ops.cast(ops.reshape(mask, (-1, self.length)), "bool")

    def compute_mask(self, inputs: Any, mask: Any | None = None) -> None:
        return None

    def compute_output_shape(self, input_shape: Any) -> Any:
        states_shape = input_shape[0]
        return (None, self.length, states_shape[-1]), (None, self.length)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "length": self.length}


@keras.saving.register_keras_serializable(package="cenr")
class UnchunkSequence(keras.layers.Layer):
    """``[pieces (batch * pieces, length, features), like (batch, time, ...)]`` ->
    ``(batch, time, features)``: the pieces joined back and the padding cut off."""

    def call(self, inputs: Any) -> Any:
        pieces, like = inputs
        batch, time = ops.shape(like)[0], ops.shape(like)[1]
        joined = ops.reshape(pieces, (batch, -1, ops.shape(pieces)[-1]))
        return joined[:, :time, :]

    def compute_mask(self, inputs: Any, mask: Any | None = None) -> None:
        return None

    def compute_output_shape(self, input_shape: Any) -> Any:
        pieces_shape, like_shape = input_shape
        return (like_shape[0], like_shape[1], pieces_shape[-1])


@keras.saving.register_keras_serializable(package="cenr")
class MaskedMean(keras.layers.Layer):
    """``[states (batch, time, features), mask (batch, time)]`` -> the mean over real
    tokens, ``(batch, features)``: the attention query when the BiLSTM runs in pieces and
    has no single final state."""

    def call(self, inputs: Any) -> Any:
        states, mask = inputs
        weights = ops.expand_dims(ops.cast(mask, states.dtype), -1)
        total = ops.sum(states * weights, axis=1)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs: Any, mask: Any | None = None) -> None:
        return None

    def compute_output_shape(self, input_shape: Any) -> Any:
        states_shape = input_shape[0]
        return (states_shape[0], states_shape[-1])
