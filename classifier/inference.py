"""Batched, length-bucketed inference through one compiled function.

The tutorials call ``model.predict`` once per document, padded to a fixed length. Here
documents are tokenized once, sorted into length buckets, and each batch goes through a
``tf.function`` traced once for any ``(batch, time)`` shape; one call returns the
calibrated probabilities and the attention weights of every token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from classifier.backend import keras, tf
from classifier.batching import length_batches, pad_batch
from classifier.layers import LabelwiseAttention
from classifier.tokenizer import Token, Vocabulary, tokenize_within
from schema.codebook import Codebook
from schema.evidence import Evidence, evidence_of
from schema.faithfulness import Faithfulness
from schema.protocol import Protocol


@dataclass
class Prediction:
    """The classifier's answer for one protocol.

    ``weights`` has one entry per token in ``tokens``: the heat-map for the predicted
    level (the attention, or each token's share of the evidence; ``classifier.model``).
    The label-wise model's every level's weights are in ``weights_per_level``, shape
    ``(levels, tokens)``. Tokens past ``max_tokens`` are not scored;
    ``tokens_cut`` says how many. ``logits`` are the raw scores before the calibration
    temperature.
    """

    protocol_id: str
    level_index: int
    level_code: str
    level_name: str
    probabilities: np.ndarray
    tokens: list[Token]
    weights: np.ndarray
    tokens_cut: int = 0
    weights_per_level: np.ndarray | None = None
    logits: np.ndarray | None = None
    faithfulness: Faithfulness | None = field(default=None)
    # each field's share of ``weights`` and the strongest passages (schema.evidence)
    evidence: Evidence | None = None

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.level_index])

    def strongest_tokens(self, n: int = 10) -> list[tuple[Token, float]]:
        order = np.argsort(-self.weights, kind="stable")[:n]
        return [(self.tokens[i], float(self.weights[i])) for i in order]


@dataclass
class EncodedDocument:
    """Token ids of one protocol, cut to the model's maximum length."""

    tokens: list[Token]
    ids: np.ndarray
    tokens_cut: int


class Predictor:
    """Runs a trained model over many protocols at once.

    Args:
        model: a model from :func:`classifier.model.build_model`.
        vocabulary: the vocabulary (and text rules) saved with it.
        codebook: the codebook saved with it.
        max_tokens: longest document scored; longer ones are cut and the cut recorded.
        batch_size: most documents per model call.
    """

    def __init__(
        self,
        model: keras.Model,
        vocabulary: Vocabulary,
        codebook: Codebook,
        max_tokens: int,
        batch_size: int = 64,
    ) -> None:
        self.model = model
        self.vocabulary = vocabulary
        self.codebook = codebook
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        # Only the label-wise design's reviewers are shown every level's evidence; a
        # hybrid's heat-map is per level too, and keeps the predicted level's row.
        self.per_level = any(isinstance(layer, LabelwiseAttention) for layer in model.layers)
        self._call = tf.function(
            lambda ids: model(ids, training=False),
            input_signature=[tf.TensorSpec([None, None], tf.int32)],
        )

    @property
    def temperature(self) -> float:
        """The calibration temperature stored in the model (1.0 if it has none)."""
        try:
            layer = self.model.get_layer("probabilities")
        except ValueError:
            return 1.0
        temperature = getattr(layer, "temperature", None)
        return 1.0 if temperature is None else float(np.asarray(temperature))

    def encode(self, protocol: Protocol) -> EncodedDocument:
        kept, cut = tokenize_within(protocol, self.vocabulary.rules, self.max_tokens)
        return EncodedDocument(kept, self.vocabulary.encode(kept), cut)

    def run(
        self, sequences: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Model outputs for id arrays, in input order.

        Returns:
            ``logits (n, levels)``, ``probabilities (n, levels)`` and, per document, its
            attention weights cut to its length: ``(tokens,)`` or ``(levels, tokens)``.
        """
        n_levels = len(self.codebook.levels)
        logits = np.zeros((len(sequences), n_levels), dtype=np.float32)
        probabilities = np.zeros((len(sequences), n_levels), dtype=np.float32)
        weights: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(sequences)
        lengths = [len(s) for s in sequences]
        for batch in length_batches(lengths, self.batch_size):
            outputs = self._call(tf.constant(pad_batch([sequences[i] for i in batch])))
            # "weights" is the heat-map; models saved before it have only "attention".
            batch_attention = outputs.get("weights", outputs["attention"]).numpy()
            logits[batch] = outputs["logits"].numpy()
            probabilities[batch] = outputs["probabilities"].numpy()
            for row, index in enumerate(batch):
                weights[index] = batch_attention[row, ..., : lengths[index]]
        return logits, probabilities, weights

    def predict(self, protocols: Sequence[Protocol]) -> list[Prediction]:
        """Level, probabilities and per-token weights for every protocol, in order."""
        documents = [self.encode(p) for p in protocols]
        return self.predict_encoded(protocols, documents)

    def predict_encoded(
        self, protocols: Sequence[Protocol], documents: Sequence[EncodedDocument]
    ) -> list[Prediction]:
        logits, probabilities, weights = self.run([d.ids for d in documents])
        predictions = []
        for protocol, document, scores, probs, attention in zip(
            protocols, documents, logits, probabilities, weights, strict=True
        ):
            level = int(np.argmax(probs))
            if attention.ndim == 2:
                weights_of_level = attention[level]
                per_level = attention if self.per_level else None
            else:
                weights_of_level, per_level = attention, None
            predictions.append(
                Prediction(
                    protocol_id=protocol.protocol_id,
                    level_index=level,
                    level_code=self.codebook.levels[level].code,
                    level_name=self.codebook.levels[level].name,
                    probabilities=probs,
                    tokens=document.tokens,
                    weights=weights_of_level,
                    tokens_cut=document.tokens_cut,
                    weights_per_level=per_level,
                    logits=scores,
                    evidence=evidence_of(protocol.fields, document.tokens, weights_of_level),
                )
            )
        return predictions
