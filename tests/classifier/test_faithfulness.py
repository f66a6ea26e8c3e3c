"""Comprehensiveness and sufficiency on a hand-set model whose every answer is computable.

The model is a weighted bag of words: each token id has a hand-set attention score and a
hand-set vector of class scores; the logits are the attention-weighted sum of the vectors.
So the log-odds of any document, and of any variant with tokens removed or kept, follow
from a few lines of numpy, and the measured parts can be checked against them.
"""

from __future__ import annotations

import numpy as np
import pytest

from classifier.backend import keras
from classifier.faithfulness import annotate, log_odds, measure_faithfulness, perturbation_k
from classifier.inference import Predictor
from classifier.layers import PaddingMask, TemperatureSoftmax, masked_softmax
from classifier.tokenizer import PAD, UNKNOWN, TextRules, Vocabulary
from schema.codebook import default_codebook
from schema.faithfulness import FRACTIONS, THRESHOLD, Faithfulness, verdict, verdict_of_detail
from schema.protocol import Protocol

N_CLASSES = 6
FILLER, EVIDENCE = 2, 3  # token ids (0 padding, 1 unknown)
SCORES = np.array([0.0, 0.0, 0.0, np.log(40.0)])  # the evidence word draws the attention
VALUES = np.zeros((4, N_CLASSES))
VALUES[FILLER, 0] = 1.0  # filler says level 0, weakly
VALUES[EVIDENCE, 5] = 12.0  # the evidence word says level 5, strongly
TEMPERATURE = 2.0


class _Pool(keras.layers.Layer):
    def call(self, inputs, mask=None):  # type: ignore[no-untyped-def]
        scores, values, keep = inputs
        weights = masked_softmax(keras.ops.squeeze(scores, -1), keep)
        return keras.ops.sum(weights[..., None] * values, axis=1), weights


def _hand_set_model() -> keras.Model:
    ids = keras.Input(shape=(None,), dtype="int32")
    keep = PaddingMask()(ids)
    score = keras.layers.Embedding(4, 1, name="score")
    value = keras.layers.Embedding(4, N_CLASSES, name="value")
    logits, weights = _Pool()([score(ids), value(ids), keep])
    probabilities = TemperatureSoftmax(name="probabilities")(logits)
    outputs = {"logits": logits, "probabilities": probabilities, "attention": weights}
    model = keras.Model(ids, outputs)
    model.get_layer("score").set_weights([SCORES[:, None]])
    model.get_layer("value").set_weights([VALUES])
    model.get_layer("probabilities").temperature.assign(TEMPERATURE)
    return model


def _expected_logits(ids: np.ndarray) -> np.ndarray:
    weights = np.exp(SCORES[ids])
    weights /= weights.sum()
    return (weights[:, None] * VALUES[ids]).sum(axis=0)


def _predictor() -> Predictor:
    vocabulary = Vocabulary([PAD, UNKNOWN, "filler", "evidence"], TextRules(min_count=1))
    return Predictor(_hand_set_model(), vocabulary, default_codebook(), max_tokens=1000)


def _document(n: int, evidence_at: int | None) -> Protocol:
    words = ["filler"] * n
    if evidence_at is not None:
        words[evidence_at] = "evidence"
    return Protocol(f"doc{n}", {"text": " ".join(words)})


def test_log_odds_do_not_saturate_where_the_probability_does() -> None:
    """A logit lead of 60 is a probability of exactly 1.0 in float32, but finite log-odds."""
    logits = np.array([60.0, 0, 0, 0, 0, 0])
    assert np.float32(np.exp(60) / (np.exp(60) + 5)) == 1.0
    assert log_odds(logits, 0, 1.0) == pytest.approx(60 - np.log(5))
    assert log_odds(logits, 0, 2.0) == pytest.approx(30 - np.log(5))
    assert log_odds(logits, 1, 1.0) == pytest.approx(-np.log(np.exp(60) + 4))


def test_parts_equal_the_hand_computed_falls_for_the_top_tokens() -> None:
    """Removing or keeping the top-k tokens of a hand-set model falls exactly as computed."""
    predictor = _predictor()
    n = 40
    prediction = annotate(predictor, [_document(n, evidence_at=17)])[0]
    assert prediction.level_index == 5
    ids = np.full(n, FILLER)
    ids[17] = EVIDENCE
    full = log_odds(_expected_logits(ids), 5, TEMPERATURE)
    record = prediction.faithfulness
    assert record is not None
    assert record.log_odds == pytest.approx(full, abs=1e-4)
    assert [s.fraction for s in record.steps] == list(FRACTIONS)
    for step in record.steps:
        k = perturbation_k(n, step.fraction)
        assert step.k == k
        # the top-k are the evidence word and k - 1 fillers (ties keep text order)
        removed = np.full(n - k, FILLER)
        kept = np.array([EVIDENCE] + [FILLER] * (k - 1))
        assert step.removed_top == pytest.approx(
            full - log_odds(_expected_logits(removed), 5, TEMPERATURE), abs=1e-4
        )
        assert step.kept_top == pytest.approx(
            full - log_odds(_expected_logits(kept), 5, TEMPERATURE), abs=1e-4
        )
        assert step.removal_changes_level  # only fillers left: level 0
        assert step.keeping_keeps_level
    assert record.comprehensiveness > THRESHOLD
    assert record.sufficiency > THRESHOLD
    assert record.verdict == verdict(record.comprehensiveness, record.sufficiency)
    assert record.verdict.startswith("The highlighted words carry this label")


def test_random_tokens_average_to_their_expectation() -> None:
    """With many draws, the random parts approach their exact hypergeometric expectation:
    k random tokens include the evidence word with probability k / n."""
    predictor = _predictor()
    n = 30
    documents = [predictor.encode(_document(n, evidence_at=4))]
    predictions = predictor.predict_encoded([_document(n, 4)], documents)
    measure_faithfulness(
        predictor, documents, predictions, random_draws=400, removal_draws=None, seed=3
    )
    record = predictions[0].faithfulness
    assert record is not None
    base = np.full(n, FILLER)
    base[4] = EVIDENCE
    full = log_odds(_expected_logits(base), 5, TEMPERATURE)

    def fall(ids: np.ndarray) -> float:
        return full - log_odds(_expected_logits(ids), 5, TEMPERATURE)

    for step in record.steps:
        k, p = step.k, step.k / n
        with_evidence = fall(np.full(n - k, FILLER))
        without = fall(np.array([EVIDENCE] + [FILLER] * (n - k - 1)))
        expected = p * with_evidence + (1 - p) * without
        spread = abs(with_evidence - without) * np.sqrt(p * (1 - p) / 400)
        assert step.removed_random == pytest.approx(expected, abs=4 * spread + 1e-4)
        kept_with = fall(np.array([EVIDENCE] + [FILLER] * (k - 1)))
        kept_without = fall(np.full(k, FILLER))
        expected = p * kept_with + (1 - p) * kept_without
        spread = abs(kept_with - kept_without) * np.sqrt(p * (1 - p) / 400)
        assert step.kept_random == pytest.approx(expected, abs=4 * spread + 1e-4)
        # the top tokens beat random ones on both parts
        assert step.removed_top > step.removed_random
        assert step.kept_top < step.kept_random


def test_a_heat_map_over_interchangeable_words_explains_nothing() -> None:
    """When every token is the same word, any k tokens are as good as the top k: both
    parts are zero and the verdict says the heat-map does not explain the label."""
    prediction = annotate(_predictor(), [_document(25, evidence_at=None)])[0]
    record = prediction.faithfulness
    assert record is not None
    assert record.comprehensiveness == pytest.approx(0.0, abs=1e-5)
    assert record.sufficiency == pytest.approx(0.0, abs=1e-5)
    assert record.verdict.startswith("The heat-map does not explain this label")


def test_every_variant_goes_through_the_model_in_one_pass() -> None:
    """All documents' variants are run by a single Predictor.run call."""
    predictor = _predictor()
    protocols = [_document(n, n // 2) for n in (12, 50, 7)] + [_document(1, None)]
    documents = [predictor.encode(p) for p in protocols]
    predictions = predictor.predict_encoded(protocols, documents)
    calls: list[int] = []
    run = predictor.run

    def counted(sequences):  # type: ignore[no-untyped-def]
        calls.append(len(sequences))
        return run(sequences)

    predictor.run = counted  # type: ignore[method-assign]
    measure_faithfulness(predictor, documents, predictions, random_draws=2)
    # per document of two or more tokens: 3 fractions x (2 top + 1 removed random +
    # 2 kept random) variants
    assert calls == [3 * 3 * 5]
    measure_faithfulness(predictor, documents, predictions, random_draws=2, removal_draws=2)
    assert calls[-1] == 3 * 3 * 6, "both draws for the removed variants too"
    assert predictions[3].faithfulness is None  # one token: nothing to remove or keep


def test_perturbation_k_always_removes_and_keeps_something() -> None:
    """k is at least 1 and at most n - 1; a one-token text has none."""
    assert perturbation_k(1, 0.1) == 0
    assert perturbation_k(2, 0.2) == 1
    assert perturbation_k(40, 0.05) == 2
    assert perturbation_k(3000, 0.2) == 600


@pytest.mark.parametrize(
    ("comprehensiveness", "sufficiency", "start"),
    [
        (THRESHOLD, THRESHOLD, "The highlighted words carry this label"),
        (THRESHOLD + 2, THRESHOLD - 0.01, "The highlighted words matter but"),
        (0.2, THRESHOLD + 1, "The highlighted words are enough"),
        (0.0, -0.5, "The heat-map does not explain"),
    ],
)
def test_verdict_follows_the_documented_threshold(
    comprehensiveness: float, sufficiency: float, start: str
) -> None:
    """Each part counts as shown at THRESHOLD nats or more."""
    assert verdict(comprehensiveness, sufficiency).startswith(start)


def test_stored_detail_round_trips_and_older_detail_says_why_there_is_no_verdict() -> None:
    """The detail kept in the database gives back the record; a version-1 detail or none
    gives a sentence saying why there is no verdict."""
    prediction = annotate(_predictor(), [_document(20, evidence_at=3)])[0]
    record = prediction.faithfulness
    assert record is not None
    again = Faithfulness.from_detail(record.to_detail())
    assert again == record
    assert verdict_of_detail(record.to_detail()) == record.verdict
    old = {"k": 2, "top_drop": 0.1, "random_drop": 0.0}
    assert verdict_of_detail(old).startswith("No verdict: measured by an older erasure test")
    assert verdict_of_detail(None).startswith("Not measured")
