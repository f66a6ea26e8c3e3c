"""Which passes of the erasure test matter: its random baseline drawn twice (the old
default) against once, and once for the removed variants only (the default), on long
documents, same model, same run.

    .venv/bin/python bench/erasure_draws.py [--test 200] [--seed 13] [--repeats 2]

Trains the default model on the long regime of ``bench/regimes.py`` (BBC articles planted
in about 2,000 words of filler; 300 to train), then measures the faithfulness of
``--test`` held-out documents with each configuration and the erasure seeds 13 and 14
(two runs of the two-draw test differ by the noise floor). For each pair it prints how
often the verdict agrees, the median absolute difference of comprehensiveness and of
sufficiency per document (nats), and the means; and the seconds of one measure with
each configuration (medians of ``--repeats``, alternated), with their ratio to two draws.
A configuration keeps "the same meaning" if its differences from two draws are within
the two-draw runs' differences from each other.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import numpy as np
from bbc import load_bbc
from regimes import long_tasks

from classifier.faithfulness import measure_faithfulness
from classifier.inference import Prediction, Predictor
from classifier.training import TrainingOptions, train
from schema.faithfulness import Faithfulness


def measured(
    predictor: Predictor,
    documents: Sequence,
    protocols: Sequence,
    draws: tuple[int, int],
    seed: int,
) -> tuple[list[Faithfulness | None], float]:
    """The records and seconds of one measure, ``draws`` = (removal draws, kept draws)."""
    predictions: list[Prediction] = predictor.predict_encoded(protocols, documents)
    started = time.perf_counter()
    measure_faithfulness(predictor, documents, predictions, removal_draws=draws[0],
                         random_draws=draws[1], seed=seed)  # fmt: skip
    return [p.faithfulness for p in predictions], time.perf_counter() - started


def compare(name: str, a: list[Faithfulness | None], b: list[Faithfulness | None]) -> None:
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    agree = np.mean([x.verdict == y.verdict for x, y in pairs])
    comp = np.median([abs(x.comprehensiveness - y.comprehensiveness) for x, y in pairs])
    suff = np.median([abs(x.sufficiency - y.sufficiency) for x, y in pairs])
    print(f"{name:34s} verdict agrees {agree:6.1%}   |d comp| {comp:.3f}   |d suff| {suff:.3f}")


def means(name: str, a: list[Faithfulness | None]) -> None:
    kept = [x for x in a if x is not None]
    comp = np.mean([x.comprehensiveness for x in kept])
    suff = np.mean([x.sufficiency for x in kept])
    print(f"{name:34s} comprehensiveness {comp:+.3f}   sufficiency {suff:+.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--test", type=int, default=200, help="held-out documents measured")
    parser.add_argument("--seed", type=int, default=13, help="the model's seed")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    protocols, names = load_bbc()
    [task] = long_tasks(protocols, names)
    trained = train(task.train, task.train_labels.tolist(), task.codebook,
                    TrainingOptions(seed=args.seed), progress=None)  # fmt: skip
    predictor = Predictor(trained.model, trained.vocabulary, task.codebook, 8192)
    test = task.test[: args.test]
    documents = [predictor.encode(p) for p in test]
    print(f"long regime, {len(test)} held-out documents, "
          f"{np.mean([len(d.ids) for d in documents]):.0f} tokens on average")  # fmt: skip

    configurations = {"two draws (the old default)": (2, 2), "one draw": (1, 1),
                      "one removal draw, two kept (the default)": (1, 2)}  # fmt: skip
    runs = {(draws, seed): measured(predictor, documents, test, draws, seed)
            for draws in configurations.values() for seed in (13, 14)}  # fmt: skip
    for name, draws in configurations.items():
        means(name, runs[draws, 13][0])
    compare("two draws: seed 13 vs 14 (noise)", runs[(2, 2), 13][0], runs[(2, 2), 14][0])
    for name, draws in list(configurations.items())[1:]:
        for seed in (13, 14):
            compare(f"{name} vs two, seed {seed}", runs[draws, seed][0], runs[(2, 2), seed][0])
        compare(f"{name}: seed 13 vs 14", runs[draws, 13][0], runs[draws, 14][0])

    times: dict[tuple[int, int], list[float]] = {draws: [] for draws in configurations.values()}
    for _ in range(args.repeats):
        for draws in configurations.values():
            times[draws].append(measured(predictor, documents, test, draws, 13)[1])
    base = statistics.median(times[2, 2])
    for name, draws in configurations.items():
        seconds = statistics.median(times[draws])
        print(f"seconds per measure, {name}: {seconds:.1f} (ratio {seconds / base:.2f})")


if __name__ == "__main__":
    main()
