"""Which passes of the erasure test matter: its random baseline drawn twice (as shipped)
against once, on long documents, same model, same run.

    .venv/bin/python bench/erasure_draws.py [--test 200] [--seed 13] [--repeats 2]

Trains the default model on the long regime of ``bench/regimes.py`` (BBC articles planted
in about 2,000 words of filler; 300 to train), then measures the faithfulness of
``--test`` held-out documents four times: two random draws with the erasure seed 13 and
with seed 14 (how much two runs of today's test differ: the noise floor), and one draw
with each seed. For each pair it prints how often the verdict agrees, the median absolute
difference of comprehensiveness and of sufficiency per document (nats), and the means;
and the seconds of one measure with each number of draws (medians of ``--repeats``,
alternated), with their ratio. One draw is "the same meaning" if its differences from two
draws are within the two-draw runs' differences from each other.
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
    predictor: Predictor, documents: Sequence, protocols: Sequence, draws: int, seed: int
) -> tuple[list[Faithfulness | None], float]:
    predictions: list[Prediction] = predictor.predict_encoded(protocols, documents)
    started = time.perf_counter()
    measure_faithfulness(predictor, documents, predictions, random_draws=draws, seed=seed)
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
    trained = train(task.train, task.train_labels, task.codebook,
                    TrainingOptions(seed=args.seed), progress=None)  # fmt: skip
    predictor = Predictor(trained.model, trained.vocabulary, task.codebook, 8192)
    test = task.test[: args.test]
    documents = [predictor.encode(p) for p in test]
    print(f"long regime, {len(test)} held-out documents, "
          f"{np.mean([len(d.ids) for d in documents]):.0f} tokens on average")  # fmt: skip

    runs = {(draws, seed): measured(predictor, documents, test, draws, seed)
            for draws in (2, 1) for seed in (13, 14)}  # fmt: skip
    means("two draws, seed 13 (today)", runs[2, 13][0])
    means("one draw, seed 13", runs[1, 13][0])
    compare("two draws: seed 13 vs 14 (noise)", runs[2, 13][0], runs[2, 14][0])
    compare("one draw vs two (seed 13)", runs[1, 13][0], runs[2, 13][0])
    compare("one draw vs two (seed 14)", runs[1, 14][0], runs[2, 14][0])
    compare("one draw: seed 13 vs 14", runs[1, 13][0], runs[1, 14][0])

    times: dict[int, list[float]] = {2: [], 1: []}
    for _ in range(args.repeats):
        for draws in (2, 1):
            times[draws].append(measured(predictor, documents, test, draws, 13)[1])
    two, one = statistics.median(times[2]), statistics.median(times[1])
    print(f"seconds per measure: two draws {two:.1f}, one draw {one:.1f}, ratio {one / two:.2f}")


if __name__ == "__main__":
    main()
