"""Does `cenr review next`'s order pay? Simulated review rounds on BBC News.

    .venv/bin/python bench/review_order.py [--seeds 13 14 15] [--rounds 5] [--start 40]
        [--per-round 40] [--error 0.2] [--folds 3] [--epochs 12]

A pool of 1,200 BBC articles (5 topics) and a held-out test set of 500, stratified per
seed. Reviewers are simulated: a review gives the true topic with probability
``1 - error``, else another topic at random. Round 0 reviews ``--start`` random
articles; then each round reviews ``--per-round`` more, the model is retrained on the
labels so far (the service's classifier, its default options but ``--epochs``) and
scored on the test set (macro-F1), beside a TF-IDF + linear SVM trained on the same
labels. Two orders, side by side on the same seeds:

- **random**: the next articles at random among the unreviewed, one review each;
- **review next**: ``worker.review.next_round.priority_of`` over every article: an unreviewed
  one scores the round model's uncertainty (1 - margin of its calibrated
  probabilities); a reviewed one the larger of the reviewers' disagreement and its
  suspect score, from cleanlab on ``--folds``-fold cross-validated probabilities of the
  reviewed articles (``classifier.crossval``, ``worker.review.label_quality``), as
  ``cenr review issues`` computes it. The top ``--per-round`` are reviewed: an
  unreviewed article gets its first review; a reviewed one a second reviewer, and when
  the two disagree the coordinator adjudicates (the true topic), as the Discussion
  workbook does.

It prints, per round, the median over seeds of macro-F1 (model and SVM) and of the share
of training labels that are right, for each order, and the ratio of the orders.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bbc import load_bbc, svm_baseline  # noqa: E402

from classifier.crossval import out_of_fold_probabilities, thin_levels  # noqa: E402
from classifier.inference import Predictor  # noqa: E402
from classifier.training import TrainingOptions, train  # noqa: E402
from schema.codebook import Codebook, Level  # noqa: E402
from worker.review.label_quality import Rated, score_labels  # noqa: E402
from worker.review.next_round import disagreement, priority_of  # noqa: E402

POOL, TEST = 1200, 500


@dataclass
class State:
    """The reviews so far: article -> {reviewer: topic}, and the settled label."""

    reviews: dict[int, dict[str, int]]
    label: dict[int, int]


def _review(truth: int, n_levels: int, error: float, rng: np.random.Generator) -> int:
    if rng.random() >= error:
        return truth
    return int(rng.choice([level for level in range(n_levels) if level != truth]))


def _fit(pool, state: State, codebook: Codebook, options: TrainingOptions):
    items = sorted(state.label)
    trained = train([pool[i] for i in items], [state.label[i] for i in items], codebook,
                    options, progress=None)  # fmt: skip
    return Predictor(trained.model, trained.vocabulary, codebook, options.max_tokens)


def _suspects(pool, state: State, codebook: Codebook, options: TrainingOptions, folds: int):
    """Suspect score of each reviewed article, from cross-validated probabilities."""
    thin = thin_levels(list(state.label.values()))
    items = [i for i in sorted(state.label) if state.label[i] not in thin]
    labels = [state.label[i] for i in items]
    oof = out_of_fold_probabilities([pool[i] for i in items], labels, codebook, options,
                                    folds, progress=None)  # fmt: skip
    rated = []
    for i in items:
        reviews = {who: v for who, v in state.reviews[i].items() if who != "coordinator"}
        if "coordinator" in state.reviews[i]:
            rated.append(Rated(reviews, state.label[i], "adjudicated"))
        else:  # one review, or two that agree (two that differ are adjudicated at once)
            rated.append(Rated(reviews, state.label[i], "unanimous"))
    scored, _, _ = score_labels(rated, oof.probabilities, codebook)
    return {i: s.suspect_score for i, s in zip(items, scored, strict=True)}


def one_seed(args: argparse.Namespace, seed: int, order: str) -> list[dict[str, float]]:
    protocols, names = load_bbc()
    codebook = Codebook("bbc", tuple(Level(c, c) for c in sorted(set(names))))
    truth_all = np.array([codebook.index_of(n) for n in names])
    pool_idx, test_idx = train_test_split(
        np.arange(len(truth_all)), train_size=POOL, test_size=TEST, random_state=seed,
        stratify=truth_all,
    )  # fmt: skip
    pool = [protocols[i] for i in pool_idx]
    truth = truth_all[pool_idx]
    test = [protocols[i] for i in test_idx]
    test_truth = truth_all[test_idx]
    n_levels = len(codebook.levels)
    rng = np.random.default_rng(seed)
    options = replace(TrainingOptions(), seed=seed, epochs=args.epochs)
    state = State({}, {})
    for i in rng.choice(POOL, size=args.start, replace=False).tolist():
        state.reviews[i] = {"ana": _review(int(truth[i]), n_levels, args.error, rng)}
        state.label[i] = state.reviews[i]["ana"]
    rows = []
    for round_number in range(args.rounds + 1):
        started = time.perf_counter()
        predictor = _fit(pool, state, codebook, options)
        predicted = np.array([p.level_index for p in predictor.predict(test)])
        items = sorted(state.label)
        svm = svm_baseline([pool[i].text for i in items], np.array([state.label[i] for i in items]),
                           [p.text for p in test])  # fmt: skip
        rows.append({
            "round": round_number, "labels": len(state.label),
            "macro_f1": float(f1_score(test_truth, predicted, average="macro")),
            "svm_macro_f1": float(f1_score(test_truth, svm, average="macro")),
            "labels_right": float(np.mean([state.label[i] == truth[i] for i in items])),
        })  # fmt: skip
        if round_number == args.rounds:
            break
        if order == "random":
            unreviewed = [i for i in range(POOL) if i not in state.reviews]
            chosen = rng.choice(unreviewed, size=args.per_round, replace=False).tolist()
        else:
            suspect = _suspects(pool, state, codebook, options, args.folds)
            probabilities = {p_i: p.probabilities for p_i, p in
                             zip(range(POOL), predictor.predict(pool), strict=True)}  # fmt: skip
            scores = []
            for i in range(POOL):
                reviews = state.reviews.get(i, {})
                settled = "coordinator" in reviews
                spread = 0.0 if settled else disagreement(list(reviews.values()), n_levels)
                doubt = 0.0 if settled else suspect.get(i, 0.0)
                scores.append((-priority_of(probabilities[i], bool(reviews), spread, doubt), i))
            chosen = [i for _, i in sorted(scores)[: args.per_round]]
        for i in chosen:
            reviews = state.reviews.setdefault(i, {})
            if not reviews:
                reviews["ana"] = _review(int(truth[i]), n_levels, args.error, rng)
                state.label[i] = reviews["ana"]
            elif "ben" not in reviews:
                reviews["ben"] = _review(int(truth[i]), n_levels, args.error, rng)
                if reviews["ben"] != reviews["ana"]:
                    reviews["coordinator"] = int(truth[i])  # adjudicated
                state.label[i] = reviews.get("coordinator", reviews["ana"])
            else:
                reviews["coordinator"] = int(truth[i])
                state.label[i] = int(truth[i])
        print(f"  seed {seed} {order}: round {round_number} done in "
              f"{time.perf_counter() - started:.0f} s, {rows[-1]}", flush=True)  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--start", type=int, default=40)
    parser.add_argument("--per-round", type=int, default=40)
    parser.add_argument(
        "--error", type=float, default=0.2, help="a review's chance of a wrong topic"
    )
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    results = {order: [one_seed(args, seed, order) for seed in args.seeds]
               for order in ("random", "review next")}  # fmt: skip
    print(f"\nmedians over seeds {args.seeds}; reviews wrong {args.error:.0%} of the time")
    print("round  labels | random: F1  SVM-F1  right | review next: F1  SVM-F1  right | F1 ratio")
    for r in range(args.rounds + 1):
        line = []
        for order in ("random", "review next"):
            runs = [seed_rows[r] for seed_rows in results[order]]
            line.append(
                {
                    k: statistics.median(run[k] for run in runs)
                    for k in ("labels", "macro_f1", "svm_macro_f1", "labels_right")
                }
            )
        a, b = line
        print(f"{r:5d}  {a['labels']:6.0f} | {a['macro_f1']:.4f}  {a['svm_macro_f1']:.4f}  "
              f"{a['labels_right']:.3f} | {b['macro_f1']:.4f}  {b['svm_macro_f1']:.4f}  "
              f"{b['labels_right']:.3f} | {b['macro_f1'] / a['macro_f1']:.3f}x")  # fmt: skip


if __name__ == "__main__":
    main()
