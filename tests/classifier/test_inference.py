"""Batched inference: same answers as one-at-a-time, long documents kept, cuts recorded."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.faithfulness import annotate, perturbation_k
from classifier.model import ModelConfig, build_model
from classifier.tokenizer import TextRules, Vocabulary, tokenize
from schema.codebook import default_codebook
from schema.protocol import Protocol

WORDS = [
    "community", "advisory", "board", "steering", "committee", "recruitment", "flyers", "survey",
    "data",
]  # fmt: skip


def _protocol(n_words: int, seed: int) -> Protocol:
    rng = np.random.default_rng(seed)
    return Protocol(f"P{seed}", {"design": " ".join(rng.choice(WORDS, size=n_words))})


def _predictor(max_tokens: int = 8192, design: str = "bahdanau"):
    from classifier.inference import Predictor

    rules = TextRules(min_count=1)
    vocabulary = Vocabulary.build([tokenize(_protocol(200, 0), rules)], rules)
    codebook = default_codebook()
    config = ModelConfig(len(vocabulary), len(codebook.levels), attention=design)
    return Predictor(build_model(config), vocabulary, codebook, max_tokens=max_tokens, batch_size=8)


@pytest.mark.parametrize("design", ["bahdanau", "labelwise"])
def test_batched_predictions_equal_one_at_a_time(design: str) -> None:
    """Bucketed batches give each document the probabilities and weights it gets alone."""
    predictor = _predictor(design=design)
    protocols = [_protocol(n, seed) for seed, n in enumerate([3, 70, 15, 300, 64, 1, 129, 40, 9])]
    batched = predictor.predict(protocols)
    for protocol, prediction in zip(protocols, batched, strict=True):
        alone = predictor.predict([protocol])[0]
        np.testing.assert_allclose(prediction.probabilities, alone.probabilities, atol=1e-5)
        np.testing.assert_allclose(prediction.weights, alone.weights, atol=1e-5)
        assert len(prediction.weights) == len(prediction.tokens)
        assert prediction.protocol_id == protocol.protocol_id


def test_eight_thousand_token_document_is_scored_whole() -> None:
    """An 8,000-token protocol keeps every token and a weight for each."""
    prediction = _predictor().predict([_protocol(8000, 1)])[0]
    assert prediction.tokens_cut == 0
    assert len(prediction.tokens) == len(prediction.weights) == 8000
    assert prediction.weights.sum() == pytest.approx(1.0, abs=1e-4)


def test_configured_maximum_records_how_many_tokens_were_cut() -> None:
    """With max_tokens set, the prediction says how many tokens it did not score."""
    prediction = _predictor(max_tokens=100).predict([_protocol(250, 2)])[0]
    assert prediction.tokens_cut == 150
    assert len(prediction.weights) == 100


def test_labelwise_predictions_carry_every_levels_weights() -> None:
    """The label-wise model exposes a weight row per level; the shown row is the predicted one."""
    prediction = _predictor(design="labelwise").predict([_protocol(30, 3)])[0]
    assert prediction.weights_per_level is not None
    assert prediction.weights_per_level.shape == (6, 30)
    np.testing.assert_array_equal(
        prediction.weights, prediction.weights_per_level[prediction.level_index]
    )


def test_faithfulness_travels_with_each_prediction() -> None:
    """annotate() measures every document longer than one token at each fraction."""
    predictions = annotate(_predictor(), [_protocol(40, 4), _protocol(1, 5)])
    first = predictions[0].faithfulness
    assert first is not None
    assert [s.k for s in first.steps] == [perturbation_k(40, f) for f in (0.05, 0.1, 0.2)]
    assert [s.k for s in first.steps] == [2, 4, 8]
    assert first.score == pytest.approx((first.comprehensiveness + first.sufficiency) / 2)
    assert predictions[1].faithfulness is None
