"""Temperature scaling recovers a known temperature and lowers calibration error."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.calibration import (
    apply_temperature,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    reliability,
)


def test_fit_temperature_undoes_overconfidence() -> None:
    """Logits sharpened by 3x are fitted back to a temperature near 3, and ECE falls."""
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5))
    labels = np.array([rng.choice(5, p=p) for p in apply_temperature(true_logits, 1.0)])
    sharpened = 3.0 * true_logits
    temperature = fit_temperature(sharpened, labels)
    assert 2.6 < temperature < 3.4
    before = expected_calibration_error(apply_temperature(sharpened, 1.0), labels)
    after = expected_calibration_error(apply_temperature(sharpened, temperature), labels)
    assert after < before / 2


def test_ece_is_zero_for_confident_correct_predictions() -> None:
    """Certain and always right means no calibration gap."""
    probabilities = np.eye(3)[[0, 1, 2, 0]]
    assert expected_calibration_error(probabilities, np.array([0, 1, 2, 0])) == 0.0


def _logits(n: int, wrong: int, scale: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` confident predictions over 4 classes, ``wrong`` of them on the wrong class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=n)
    predicted = labels.copy()
    predicted[:wrong] = (labels[:wrong] + 1) % 4
    logits = rng.normal(scale=0.3, size=(n, 4))
    logits[np.arange(n), predicted] += scale
    return logits, labels


def test_a_separated_split_falls_back_to_the_smoothed_accuracy_and_says_so() -> None:
    """Every validation protocol right: the likelihood fit sharpens until every confidence
    is 1.000; instead the mean confidence is set to (n + 1) / (n + 2)."""
    logits, labels = _logits(36, wrong=0, scale=6.0)
    fitted = fit_temperature(logits, labels)
    assert fitted < 0.2
    assert apply_temperature(logits, fitted).max(axis=1).min() > 0.9999
    result = calibrate(logits, labels)
    assert result.method == "smoothed accuracy"
    assert "separated perfectly" in result.note
    assert "(36+1)/(36+2) = 0.974" in result.note
    mean = apply_temperature(logits, result.temperature).max(axis=1).mean()
    assert mean == pytest.approx(37 / 38, abs=1e-4)
    assert apply_temperature(logits, result.temperature).max() < 0.999


def test_few_mistakes_fall_back_too_and_enough_mistakes_are_fitted() -> None:
    """Two wrong of 60 is too few to fit on; fifteen wrong of 60 is fitted as usual."""
    few = calibrate(*_logits(60, wrong=2, scale=4.0))
    assert few.method == "smoothed accuracy"
    assert "only 2 wrong of 60" in few.note
    logits, labels = _logits(60, wrong=15, scale=4.0)
    enough = calibrate(logits, labels)
    assert enough.method == "fitted"
    assert enough.note == ""
    assert enough.temperature == pytest.approx(fit_temperature(logits, labels))
    assert enough.correct == 45


def test_a_tiny_split_falls_back_and_an_empty_one_stays_uncalibrated() -> None:
    """Ten protocols cannot fit a temperature; none leaves it at 1."""
    small = calibrate(*_logits(10, wrong=3, scale=3.0))
    assert small.method == "smoothed accuracy"
    assert "only 10 protocols" in small.note
    empty = calibrate(np.zeros((0, 4)), np.zeros(0, dtype=int))
    assert (empty.temperature, empty.method) == (1.0, "none")


def test_reliability_bins_count_every_prediction_with_their_accuracy() -> None:
    """Hand-checked bins: two predictions at 0.95 (one right), one at 0.55 (right)."""
    probabilities = np.array([[0.95, 0.05], [0.05, 0.95], [0.55, 0.45]])
    labels = np.array([0, 0, 0])
    points = reliability(probabilities, labels)
    assert [(p["n"], p["accuracy"]) for p in points] == [(1, 1.0), (2, 0.5)]
    assert points[0]["confidence"] == pytest.approx(0.55)
    assert points[1]["confidence"] == pytest.approx(0.95)
    assert (points[1]["low"], points[1]["high"]) == pytest.approx((0.9, 1.0))
