"""Training: seeded stratified split, class weights, bucketed batches, early stopping,
then temperature calibration on the validation set.

Same seed and same data give the same model: the split, the initial weights, the batch
order and dropout all draw from ``seed``, and TensorFlow runs deterministic kernels.
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight
from tqdm import tqdm

from classifier.backend import keras, seed_everything, tf
from classifier.batching import length_batches, pad_batch
from classifier.calibration import Calibration, calibrate, choose_attention_weight
from classifier.embeddings import PRETRAINED_DIM, corpus_vectors, pretrained_vectors
from classifier.inference import Predictor
from classifier.linear import ngram_statistics, out_of_fold_logits
from classifier.model import (
    ModelConfig,
    attention_logits,
    attention_trainer,
    build_model,
    set_attention_weight,
    set_temperature,
)
from classifier.tokenizer import TextRules, Vocabulary, tokenize
from schema.codebook import Codebook
from schema.errors import ConfigError, TrainingDataError
from schema.protocol import Protocol

EMBEDDING_INITS = ("corpus", "random", "pretrained")


@dataclass(frozen=True)
class TrainingOptions:
    """How to train; saved with the model version."""

    attention: str = ModelConfig.attention
    epochs: int = 30
    # Protocols per step; 0 picks it from the training share's size (training_batch_size).
    batch_size: int = 0
    learning_rate: float = 2e-3
    patience: int = 8
    # What early stopping watches: "loss" (validation cross-entropy) or "macro_f1".
    monitor: str = "loss"
    validation_size: float = 0.15
    seed: int = 13
    max_tokens: int = 8192
    # Network defaults have one home, ModelConfig.
    embedding_dim: int = ModelConfig.embedding_dim
    lstm_units: int = ModelConfig.lstm_units
    dropout: float = ModelConfig.dropout
    min_count: int = 2
    word_dropout: float = ModelConfig.word_dropout
    embedding_skip: bool = ModelConfig.embedding_skip
    chunk_tokens: int = ModelConfig.chunk_tokens
    # Where the word vectors start: "corpus" (PPMI + SVD of the training texts),
    # "pretrained" (WordLlama's; best at embedding_dim 256) or "random". embeddings.py
    embedding_init: str = "corpus"
    # The hybrid (classifier/linear.py): a linear TF-IDF part added to the attention
    # model, "none" for the attention model alone; with pretrained word vectors in it or
    # not; the C of its linear SVM (the baseline's 1: larger fits the training share closer).
    linear: str = "tfidf"
    linear_vectors: bool = False
    linear_c: float = 1.0
    # What the heat-map paints: each token's exact part in the logits, or the attention.
    heatmap: str = "contributions"

    def __post_init__(self) -> None:
        for name in ("epochs", "embedding_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.embedding_init not in EMBEDDING_INITS:
            raise ConfigError(
                f"embedding_init must be one of {', '.join(EMBEDDING_INITS)}, "
                f"not {self.embedding_init!r}"
            )
        if self.monitor not in ("loss", "macro_f1"):
            raise ConfigError(f"monitor must be 'loss' or 'macro_f1', not {self.monitor!r}")
        # The network's own rules (design, linear part, heat-map) fail here, before any data.
        ModelConfig(
            vocab_size=2, n_classes=2, attention=self.attention, linear=self.linear,
            heatmap=self.heatmap,
        )  # fmt: skip
        if self.linear_c <= 0:
            raise ConfigError(f"linear_c must be positive, not {self.linear_c}")
        if self.linear_vectors and self.linear == "none":
            raise ConfigError(
                "pretrained vectors in the linear part need one: drop --linear-vectors "
                "or choose --linear tfidf"
            )


@dataclass
class TrainedModel:
    model: keras.Model
    vocabulary: Vocabulary
    config: ModelConfig
    epochs_run: int
    best_epoch: int
    calibration: Calibration
    history: dict[str, list[float]]
    # A hybrid's weight of the attention part beside the linear part (None: no hybrid).
    attention_weight: float | None = None


def _batches(
    sequences: Sequence[np.ndarray],
    labels: np.ndarray,
    sample_weight: np.ndarray | None,
    batch_size: int,
    seed: int | None,
    offsets: np.ndarray | None = None,
) -> tuple[tf.data.Dataset, int]:
    """Length-bucketed ``(ids, {"logits": labels}[, sample_weight])`` batches, and their count;
    with ``offsets`` (a hybrid's linear logits, ``(n, levels)``) the inputs are
    ``(ids, offsets)``.

    The signature is declared with a free time axis: inferring it from the first
    batches (as ``keras.utils.PyDataset`` does) fixes the width and breaks on the
    first longer bucket. With a seed, each pass over the data (epoch) reshuffles.
    """
    lengths = [len(s) for s in sequences]
    passes = itertools.count()

    def generate() -> Iterator[tuple[Any, ...]]:
        rng = None if seed is None else np.random.default_rng((seed, next(passes)))
        for batch in length_batches(lengths, batch_size, rng=rng):
            ids: Any = pad_batch([sequences[i] for i in batch])
            if offsets is not None:
                ids = (ids, offsets[batch])
            targets = {"logits": labels[batch]}
            if sample_weight is None:
                yield ids, targets
            else:
                yield ids, targets, sample_weight[batch]

    inputs: Any = tf.TensorSpec((None, None), tf.int32)
    if offsets is not None:
        inputs = (inputs, tf.TensorSpec((None, offsets.shape[1]), tf.float32))
    signature: tuple[Any, ...] = (inputs, {"logits": tf.TensorSpec((None,), tf.int32)})
    if sample_weight is not None:
        signature = (*signature, tf.TensorSpec((None,), tf.float32))
    steps = len(length_batches(lengths, batch_size))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    # A known length lets Keras end each epoch cleanly and re-run the generator.
    return dataset.apply(tf.data.experimental.assert_cardinality(steps)), steps


class _ValidationMacroF1(keras.callbacks.Callback):
    """Adds ``val_macro_f1`` to each epoch's logs, for early stopping to watch."""

    def __init__(self, logits: Callable[[], np.ndarray], labels: np.ndarray) -> None:
        super().__init__()
        self.logits, self.labels = logits, labels

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if logs is not None:
            predicted = self.logits().argmax(axis=1)
            logs["val_macro_f1"] = float(f1_score(self.labels, predicted, average="macro"))


class _ProgressBar(keras.callbacks.Callback):
    """One tqdm bar per epoch on stderr (stdout stays clean for ``--json``)."""

    def __init__(self, epochs: int, steps: int, stream: TextIO) -> None:
        super().__init__()
        self.epochs, self.steps, self.stream = epochs, steps, stream
        self.bar: tqdm[Any] | None = None

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.bar = tqdm(
            total=self.steps,
            desc=f"epoch {epoch + 1}/{self.epochs}",
            unit="batch",
            file=self.stream,
            leave=True,
            dynamic_ncols=True,
        )

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{(logs or {}).get('loss', float('nan')):.3f}")

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.bar is not None:
            logs = logs or {}
            self.bar.set_postfix(
                loss=f"{logs.get('loss', float('nan')):.3f}",
                val_loss=f"{logs.get('val_loss', float('nan')):.3f}",
            )
            self.bar.close()


def _attention_logits(
    model: keras.Model, sequences: Sequence[np.ndarray], batch_size: int
) -> np.ndarray:
    """A hybrid's attention-part logits (before its weight) for ``sequences``, in order."""
    part = attention_logits(model)
    logits = np.zeros((len(sequences), model.output["logits"].shape[-1]), dtype=np.float32)
    for batch in length_batches([len(s) for s in sequences], batch_size):
        logits[batch] = np.asarray(part(pad_batch([sequences[i] for i in batch]), training=False))
    return logits


def training_batch_size(n_train: int, largest: int = 32, smallest: int = 8) -> int:
    """Protocols per step: about 20 steps an epoch, between ``smallest`` and ``largest``.

    A few hundred labelled protocols in batches of 32 make 6 steps an epoch: on the demo's
    long protocols the loss had not moved when early stopping gave up after 6 epochs
    (macro-F1 0.06). In batches of 8 the same data trains (0.53-0.69). Thousands of
    protocols keep batches of 32.
    """
    return min(largest, max(smallest, n_train // 20))


def check_training_labels(
    labels: Sequence[int], codebook: Codebook, min_per_class: int = 2
) -> None:
    """Refuse data that cannot train or be split stratified, naming the problem."""
    counts = Counter(labels)
    if not labels:
        raise TrainingDataError("no labelled protocols to train on")
    if len(counts) < 2:
        only = codebook.levels[next(iter(counts))].code
        raise TrainingDataError(
            f"all {len(labels)} protocols have level {only}; training needs at least two levels"
        )
    thin = [codebook.levels[i].code for i, n in sorted(counts.items()) if n < min_per_class]
    if thin:
        raise TrainingDataError(
            f"level(s) {', '.join(thin)} have fewer than {min_per_class} protocols; "
            "add examples or merge levels in the codebook"
        )


def stratified_split(
    labels: Sequence[int] | np.ndarray, share: float, seed: int, purpose: str
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded split keeping each level's proportion; ``share`` is held out.

    Raises:
        TrainingDataError: too few protocols to hold out one of every level.
    """
    labels = np.asarray(labels)
    try:
        kept, held_out = train_test_split(
            np.arange(len(labels)), test_size=share, random_state=seed, stratify=labels
        )
    except ValueError as exc:
        raise TrainingDataError(
            f"{len(labels)} protocols are too few to hold out a stratified {purpose} set of "
            f"{share:.0%} covering {len(np.unique(labels))} levels ({exc}); "
            "add labelled protocols or give a separate --test file"
        ) from exc
    return kept, held_out


@dataclass
class _Prepared:
    """The labelled protocols as the model sees them, split for early stopping."""

    vocabulary: Vocabulary
    sequences: list[np.ndarray]
    labels: np.ndarray
    sample_weight: np.ndarray  # classes weighted inversely to their frequency
    train_idx: np.ndarray
    val_idx: np.ndarray

    @property
    def labelled(self) -> np.ndarray:
        return np.concatenate([self.train_idx, self.val_idx])

    def subset(self, idx: np.ndarray) -> list[np.ndarray]:
        return [self.sequences[i] for i in idx]


def _prepare(
    protocols: Sequence[Protocol], labels: Sequence[int], codebook: Codebook,
    options: TrainingOptions,
) -> _Prepared:  # fmt: skip
    """Tokens, the vocabulary of the training split, the split and the class weights."""
    check_training_labels(labels, codebook)
    rules = TextRules(min_count=options.min_count)
    token_lists = [tokenize(p, rules)[: options.max_tokens] for p in protocols]
    empty = [p.protocol_id for p, tokens in zip(protocols, token_lists, strict=True) if not tokens]
    if empty:
        raise TrainingDataError(
            f"{len(empty)} protocol(s) with no words in their text columns: {', '.join(empty[:5])}"
        )
    seed_everything(options.seed)
    label_array = np.asarray(labels, dtype=np.int32)
    train_idx, val_idx = stratified_split(
        label_array, options.validation_size, options.seed, "validation"
    )
    vocabulary = Vocabulary.build([token_lists[i] for i in train_idx], rules)
    sequences = [vocabulary.encode(t) for t in token_lists]
    present = np.unique(label_array[train_idx])
    weights = compute_class_weight("balanced", classes=present, y=label_array[train_idx])
    class_weight = dict(zip(present.tolist(), weights.tolist(), strict=True))
    sample_weight = np.array([class_weight[int(y)] for y in label_array], dtype=np.float32)
    return _Prepared(vocabulary, sequences, label_array, sample_weight, train_idx, val_idx)


def _model_config(
    options: TrainingOptions, n_words: int, n_classes: int, n_bigrams: int, vector_dim: int
) -> ModelConfig:
    return ModelConfig(
        vocab_size=n_words,
        n_classes=n_classes,
        attention=options.attention,
        max_tokens=options.max_tokens,
        embedding_dim=options.embedding_dim,
        lstm_units=options.lstm_units,
        dropout=options.dropout,
        word_dropout=options.word_dropout,
        embedding_skip=options.embedding_skip,
        chunk_tokens=options.chunk_tokens,
        linear=options.linear,
        n_bigrams=n_bigrams,
        vector_dim=vector_dim,
        heatmap=options.heatmap,
    )


def _fit_linear_part(
    model: keras.Model, data: _Prepared, statistics: Any, vectors: np.ndarray | None,
    options: TrainingOptions, n_classes: int,
) -> np.ndarray:  # fmt: skip
    """Fit a hybrid's linear part on every labelled protocol (as the SVM a user would fit
    is, with the idf and the word pairs), and return each protocol's out-of-fold linear
    logits: the attention part trains, stops early and is weighed against what the linear
    part says of protocols it has not seen."""
    labelled = data.labelled
    linear = model.get_layer("linear")
    linear.set_statistics(statistics, vectors)
    features = linear.features(data.subset(labelled))
    fit_args = (data.labels[labelled], data.sample_weight[labelled], options.linear_c, options.seed)
    linear.fit(features, *fit_args)
    offsets = np.zeros((len(data.sequences), n_classes), dtype=np.float32)
    offsets[labelled] = out_of_fold_logits(features, fit_args[0], fit_args[1], n_classes,
                                           *fit_args[2:])  # fmt: skip
    return offsets


def _initialise_embeddings(
    model: keras.Model, options: TrainingOptions, data: _Prepared, config: ModelConfig
) -> None:
    if options.embedding_init == "corpus":
        model.get_layer("embedding").embeddings.assign(
            corpus_vectors(data.subset(data.train_idx), len(data.vocabulary),
                           config.embedding_dim, options.seed)
        )  # fmt: skip
    elif options.embedding_init == "pretrained":
        model.get_layer("embedding").embeddings.assign(
            pretrained_vectors(data.vocabulary.forms, config.embedding_dim, options.seed)
        )


def _stopping(options: TrainingOptions) -> list[keras.callbacks.Callback]:
    """Early stopping on the validation split, and a step halved when it stalls (which
    steadies the noisy small-data curve)."""
    stopper = keras.callbacks.EarlyStopping(
        monitor=f"val_{options.monitor}",
        mode="min" if options.monitor == "loss" else "max",
        patience=options.patience,
        restore_best_weights=True,
    )
    slower = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=max(1, options.patience // 2), min_lr=1e-4
    )
    return [stopper, slower]


def train(
    protocols: Sequence[Protocol],
    labels: Sequence[int],
    codebook: Codebook,
    options: TrainingOptions,
    progress: TextIO | None = sys.stderr,
) -> TrainedModel:
    """Train a model on ``protocols`` with level indices ``labels``.

    A stratified ``validation_size`` share (seeded) drives early stopping and then the
    temperature fit. Classes are weighted inversely to their frequency.
    """
    data = _prepare(protocols, labels, codebook, options)
    vocabulary, train_idx, val_idx = data.vocabulary, data.train_idx, data.val_idx
    statistics = vectors = None
    if options.linear == "tfidf":
        statistics = ngram_statistics(data.subset(data.labelled), len(vocabulary))
        if options.linear_vectors:
            vectors = pretrained_vectors(vocabulary.forms, PRETRAINED_DIM, options.seed)
    config = _model_config(
        options, len(vocabulary), len(codebook.levels),
        0 if statistics is None else len(statistics.bigram_keys),
        0 if vectors is None else vectors.shape[1],
    )  # fmt: skip
    model = build_model(config)
    trainer, offsets = model, None
    if statistics is not None:
        offsets = _fit_linear_part(model, data, statistics, vectors, options, config.n_classes)
        trainer = attention_trainer(model)
    _initialise_embeddings(model, options, data, config)
    trainer.compile(
        optimizer=keras.optimizers.Adam(learning_rate=options.learning_rate, clipnorm=1.0),
        loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
    )
    batch_size = options.batch_size or training_batch_size(len(train_idx))
    train_batches, steps = _batches(
        data.subset(train_idx), data.labels[train_idx], data.sample_weight[train_idx],
        batch_size, seed=options.seed,
        offsets=None if offsets is None else offsets[train_idx],
    )  # fmt: skip
    val_sequences, val_labels = data.subset(val_idx), data.labels[val_idx]
    val_batches, _ = _batches(
        val_sequences, val_labels, None, batch_size, seed=None,
        offsets=None if offsets is None else offsets[val_idx],
    )  # fmt: skip
    predictor = Predictor(model, vocabulary, codebook, options.max_tokens)

    def validation_logits(attention_weight: float = 1.0) -> np.ndarray:
        """The validation split's logits, a hybrid's linear part out of fold."""
        if offsets is None:
            return predictor.run(val_sequences)[0]
        attention = _attention_logits(model, val_sequences, batch_size)
        return offsets[val_idx] + attention_weight * attention

    callbacks = _stopping(options)
    if options.monitor == "macro_f1":  # must run before the stopper reads the logs
        callbacks.insert(0, _ValidationMacroF1(validation_logits, val_labels))
    if progress is not None:
        callbacks.append(_ProgressBar(options.epochs, steps, progress))
    history = trainer.fit(
        train_batches,
        validation_data=val_batches,
        epochs=options.epochs,
        callbacks=callbacks,
        verbose=0,
        shuffle=False,  # the batches are already shuffled, seeded, once per epoch
    )
    losses = history.history["val_loss"]
    curve = np.asarray(history.history[f"val_{options.monitor}"])
    best_epoch = int(np.argmin(curve) if options.monitor == "loss" else np.argmax(curve)) + 1

    attention_weight = None
    if offsets is not None:
        attention_weight, _ = choose_attention_weight(
            _attention_logits(model, val_sequences, batch_size), offsets[val_idx], val_labels
        )
        set_attention_weight(model, attention_weight)
    calibration = calibrate(validation_logits(attention_weight or 0.0), val_labels)
    set_temperature(model, calibration.temperature)
    return TrainedModel(
        model=model,
        vocabulary=vocabulary,
        config=config,
        epochs_run=len(losses),
        best_epoch=best_epoch,
        calibration=calibration,
        attention_weight=attention_weight,
        history={k: [float(v) for v in vals] for k, vals in history.history.items()},
    )
