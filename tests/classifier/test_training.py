"""Training: reproducible for a seed, refuses data that cannot train."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.training import TrainingOptions, check_training_labels, train
from schema.codebook import default_codebook
from schema.errors import ConfigError, TrainingDataError
from worker.extract.tables import read_protocols

from ..conftest import PROTOCOLS_CSV

TEXT = ["StudyTitle", "Partners"]


def _demo(n: int):
    protocols = read_protocols(PROTOCOLS_CSV, TEXT, "Level", "Protocol ID")[:n]
    codebook = default_codebook()
    return protocols, [codebook.index_of(p.label) for p in protocols], codebook


def test_same_seed_and_data_give_the_same_model() -> None:
    """Two trainings with one seed end with identical weights and temperature."""
    protocols, labels, codebook = _demo(90)
    options = TrainingOptions(epochs=2, seed=5)
    first = train(protocols, labels, codebook, options, progress=None)
    second = train(protocols, labels, codebook, options, progress=None)
    assert first.calibration.temperature == second.calibration.temperature
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_restores_the_best_epoch() -> None:
    """Training stops after `patience` epochs without improvement, keeping the best."""
    protocols, labels, codebook = _demo(120)
    result = train(
        protocols, labels, codebook, TrainingOptions(epochs=40, patience=2, seed=1), progress=None
    )
    losses = result.history["val_loss"]
    assert result.best_epoch == int(np.argmin(losses)) + 1
    assert result.epochs_run == 40 or result.epochs_run - result.best_epoch == 2


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([], "no labelled protocols"),
        ([2, 2, 2, 2], "all 4 protocols have level 2"),
        ([0, 0, 1], "level\\(s\\) 1 have fewer than 2"),
    ],
)
def test_untrainable_labels_are_refused(labels: list[int], message: str) -> None:
    """Empty, single-class and too-thin data raise TrainingDataError with the reason."""
    with pytest.raises(TrainingDataError, match=message):
        check_training_labels(labels, default_codebook())


def test_batches_of_many_widths_train_and_validate() -> None:
    """Small batches over documents of varied length give many bucket widths; all run."""
    protocols, labels, codebook = _demo(90)
    long_fields = [
        type(p)(p.protocol_id, {**p.fields, "Partners": p.fields["Partners"] * (1 + i % 7)})
        for i, p in enumerate(protocols)
    ]
    result = train(
        long_fields, labels, codebook, TrainingOptions(epochs=2, batch_size=4), progress=None
    )
    assert result.epochs_run == 2


def test_protocols_without_words_are_named() -> None:
    """A protocol whose text columns hold no words is refused by ID."""
    protocols, labels, codebook = _demo(30)
    blank = type(protocols[0])("HM-EMPTY", {"StudyTitle": "  ", "Partners": "--"})
    with pytest.raises(
        TrainingDataError, match=r"1 protocol\(s\) with no words in their text columns: HM-EMPTY"
    ):
        train([*protocols, blank], [*labels, labels[0]], codebook, TrainingOptions(epochs=1))


def test_too_few_protocols_to_hold_out_every_level_is_explained() -> None:
    """A validation share smaller than the number of levels is a clear error."""
    protocols, labels, codebook = _demo(30)
    with pytest.raises(TrainingDataError, match="30 protocols are too few to hold out"):
        train(protocols, labels, codebook, TrainingOptions(epochs=1), progress=None)


def test_early_stopping_can_watch_validation_macro_f1() -> None:
    """With monitor='macro_f1' each epoch logs val_macro_f1 and the best epoch maximises it."""
    protocols, labels, codebook = _demo(90)
    result = train(
        protocols, labels, codebook, TrainingOptions(epochs=3, monitor="macro_f1"), progress=None
    )
    scores = result.history["val_macro_f1"]
    assert len(scores) == result.epochs_run
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert result.best_epoch == int(np.argmax(scores)) + 1


def test_unknown_monitor_is_refused() -> None:
    """A monitor other than loss or macro_f1 is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="not 'auc'"):
        TrainingOptions(monitor="auc")


def test_hybrid_fits_its_linear_part_first_and_weighs_the_attention_on_validation() -> None:
    """The linear part holds the logistic regression fitted on the training share alone,
    stays fixed while the attention part trains, and the attention's weight is one of the
    candidates, stored in the model."""
    from classifier.calibration import ATTENTION_WEIGHTS

    protocols, labels, codebook = _demo(90)
    result = train(protocols, labels, codebook, TrainingOptions(epochs=2, seed=3), progress=None)
    assert result.attention_weight in ATTENTION_WEIGHTS
    model = result.model
    assert float(model.get_layer("attention_weight").weight.numpy()) == result.attention_weight
    linear = model.get_layer("linear")
    assert not linear.trainable_weights
    # The same SVM fitted here on every labelled protocol, weighted as training weighs them.
    from sklearn.utils.class_weight import compute_class_weight

    from classifier.linear import fit_linear
    from classifier.tokenizer import tokenize
    from classifier.training import stratified_split

    options = TrainingOptions(epochs=2, seed=3)
    y = np.asarray(labels)
    train_idx, val_idx = stratified_split(y, options.validation_size, options.seed, "v")
    present = np.unique(y[train_idx])
    balanced = compute_class_weight("balanced", classes=present, y=y[train_idx])
    weight = dict(zip(present.tolist(), balanced.tolist(), strict=True))
    labelled = np.concatenate([train_idx, val_idx])
    rules = result.vocabulary.rules
    sequences = [result.vocabulary.encode(tokenize(protocols[i], rules)) for i in labelled]
    coef, _ = fit_linear(
        linear.features(sequences), y[labelled], np.array([weight[int(v)] for v in y[labelled]]),
        len(codebook.levels), options.linear_c, options.seed,
    )  # fmt: skip
    np.testing.assert_allclose(linear.unigram.numpy(), coef[: linear.vocab_size], atol=1e-6)


def test_attention_model_alone_keeps_the_attention_as_its_heatmap() -> None:
    """--linear none --heatmap attention is the model before the hybrid: no linear layer,
    no attention weight, and the heat-map is the attention itself."""
    protocols, labels, codebook = _demo(90)
    options = TrainingOptions(epochs=1, seed=3, linear="none", heatmap="attention")
    result = train(protocols, labels, codebook, options, progress=None)
    assert result.attention_weight is None
    names = {layer.name for layer in result.model.layers}
    assert "linear" not in names
    assert "evidence" not in names


def test_pretrained_vectors_without_their_package_stop_training_with_one_line(
    monkeypatch,
) -> None:
    """--linear-vectors needs the wordllama package; without it the error names it."""
    from classifier import embeddings

    monkeypatch.setattr(
        embeddings, "PRETRAINED", ("cenr_no_such_package", *embeddings.PRETRAINED[1:])
    )
    protocols, labels, codebook = _demo(90)
    with pytest.raises(ConfigError, match="pip install wordllama"):
        train(protocols, labels, codebook, TrainingOptions(epochs=1, linear_vectors=True),
              progress=None)  # fmt: skip
