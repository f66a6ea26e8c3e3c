"""Temperature scaling recovers a known temperature and lowers calibration error."""

from __future__ import annotations

import numpy as np

from classifier.calibration import apply_temperature, expected_calibration_error, fit_temperature


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
