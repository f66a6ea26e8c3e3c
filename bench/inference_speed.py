"""Documents per second: the tutorials' per-document ``model.predict`` loop against the
project's batched, length-bucketed, compiled path. Same model, same documents, same run.

    .venv/bin/python bench/inference_speed.py [--tokens 512] [--docs 512] [--repeats 3]

Prints the median of ``--repeats`` timings for each path and their ratio. The model is
untrained (speed does not depend on the weights); its size is the default ModelConfig
unless ``--embedding-dim`` says otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from classifier.backend import keras
from classifier.inference import Predictor
from classifier.model import ATTENTION_DESIGNS, ModelConfig, build_model
from classifier.tokenizer import TextRules, Vocabulary
from schema.codebook import default_codebook


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--docs", type=int, default=512)
    parser.add_argument(
        "--loop-docs", type=int, default=40, help="documents timed in the slow loop"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--attention", choices=ATTENTION_DESIGNS, default="bahdanau")
    parser.add_argument("--embedding-dim", type=int, default=ModelConfig.embedding_dim)
    args = parser.parse_args()

    codebook = default_codebook()
    vocabulary = Vocabulary(["<pad>", "<unk>", *[f"w{i}" for i in range(20_000)]], TextRules())
    model = build_model(
        ModelConfig(
            len(vocabulary),
            len(codebook.levels),
            attention=args.attention,
            embedding_dim=args.embedding_dim,
        )
    )
    rng = np.random.default_rng(0)
    docs = [
        rng.integers(2, len(vocabulary), size=args.tokens).astype(np.int32)
        for _ in range(args.docs)
    ]
    predictor = Predictor(model, vocabulary, codebook, max_tokens=args.tokens)

    def loop() -> float:  # the tutorials: one padded document per model.predict call
        start = time.perf_counter()
        for ids in docs[: args.loop_docs]:
            padded = keras.utils.pad_sequences([ids], maxlen=args.tokens, padding="post")
            model.predict(padded, verbose=0)
        return args.loop_docs / (time.perf_counter() - start)

    def batched() -> float:
        start = time.perf_counter()
        predictor.run(docs)
        return len(docs) / (time.perf_counter() - start)

    loop(), batched()  # warm-up: tracing and first-call allocation
    loop_rates = [loop() for _ in range(args.repeats)]
    batch_rates = [batched() for _ in range(args.repeats)]
    slow, fast = statistics.median(loop_rates), statistics.median(batch_rates)
    print(
        f"attention={args.attention} embedding_dim={args.embedding_dim} "
        f"tokens/doc={args.tokens} repeats={args.repeats}"
    )
    runs = {name: ", ".join(f"{r:.1f}" for r in rates) for name, rates in
            (("loop", loop_rates), ("batched", batch_rates))}  # fmt: skip
    print(f"per-document model.predict loop: {slow:8.1f} docs/s  (runs: {runs['loop']})")
    print(f"batched, bucketed, compiled:     {fast:8.1f} docs/s  (runs: {runs['batched']})")
    print(f"ratio batched / loop:            {fast / slow:8.1f}x")


if __name__ == "__main__":
    main()
