"""What the faithfulness pass costs beside the prediction itself, and what chunking the
BiLSTM saves. Same documents, same run, alternating, medians of ``--repeats``.

    .venv/bin/python bench/faithfulness_cost.py [--docs 48] [--tokens 2000] [--repeats 3]

For an untrained model of the default configuration (speed does not depend on the
weights) it times, on ``--docs`` random documents of ``--tokens`` tokens:

- the prediction alone (one batched pass);
- the prediction plus the faithfulness measure as shipped (``schema.faithfulness.
  FRACTIONS``; one random draw for the removed variants, two for the kept ones: 15
  variants per document), and with two draws for the removed ones too (before, 18);
- the same at one fraction (10%) only, the old erasure test's single point (for scale);
- the prediction with the BiLSTM over the whole document (``chunk_tokens=0``) against
  pieces of ``ModelConfig.chunk_tokens``.

It prints seconds, tokens per second and each ratio to the prediction alone, and the
variant tokens the measure runs per document token.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from classifier.faithfulness import measure_faithfulness
from classifier.inference import EncodedDocument, Predictor
from classifier.model import ModelConfig, build_model
from classifier.tokenizer import TextRules, Token, Vocabulary
from schema.codebook import default_codebook
from schema.faithfulness import FRACTIONS
from schema.protocol import Protocol


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=48)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    codebook = default_codebook()
    vocabulary = Vocabulary(["<pad>", "<unk>", *[f"w{i}" for i in range(20_000)]], TextRules())
    rng = np.random.default_rng(0)
    documents = [
        EncodedDocument(
            [Token("w", "w", "text", 0, 1)] * args.tokens,
            rng.integers(2, len(vocabulary), size=args.tokens).astype(np.int32),
            0,
        )
        for _ in range(args.docs)
    ]
    protocols = [Protocol(f"d{i}", {"text": ""}) for i in range(args.docs)]

    def predictor(chunk_tokens: int) -> Predictor:
        config = ModelConfig(len(vocabulary), len(codebook.levels), chunk_tokens=chunk_tokens)
        return Predictor(build_model(config), vocabulary, codebook, max_tokens=args.tokens)

    chunked, whole = predictor(ModelConfig.chunk_tokens), predictor(0)

    def predict(p: Predictor) -> Callable[[], None]:
        return lambda: p.predict_encoded(protocols, documents) and None

    def with_measure(fractions: tuple[float, ...], removal_draws: int = 1) -> Callable[[], None]:
        def run() -> None:
            predictions = chunked.predict_encoded(protocols, documents)
            measure_faithfulness(chunked, documents, predictions, fractions=fractions,
                                 removal_draws=removal_draws)  # fmt: skip

        return run

    cases: dict[str, Callable[[], None]] = {
        "prediction alone": predict(chunked),
        f"prediction + faithfulness ({len(FRACTIONS)} fractions)": with_measure(FRACTIONS),
        "the same, two removal draws (before)": with_measure(FRACTIONS, removal_draws=2),
        "prediction + faithfulness (10% only)": with_measure((0.1,)),
        "prediction, BiLSTM over the whole document": predict(whole),
    }
    for run in cases.values():  # trace every shape once before timing
        run()
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    tokens = args.docs * args.tokens
    base = statistics.median(timings["prediction alone"])
    print(f"{args.docs} documents x {args.tokens} tokens, medians of {args.repeats}")
    print(f"{'case':<50} {'s':>7} {'tokens/s':>10} {'ratio':>6}")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:<50} {median:>7.2f} {tokens / median:>10.0f} {median / base:>6.2f}")
    per_token = sum(
        (1 + 1) * (1 - f) + (1 + 2) * f for f in FRACTIONS
    )  # per fraction: removed (1 - f), top and 1 random draw; kept (f), top and 2 draws
    print(f"variant tokens run by the measure per document token: {per_token:.1f}")


if __name__ == "__main__":
    main()
