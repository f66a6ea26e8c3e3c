"""Classification speed of the default model against the one before it, side by side in
one run: tokens per second, the erasure test (faithfulness) included, as ``cenr run``
classifies. Same documents, alternating, medians of ``--repeats``.

    .venv/bin/python bench/default_speed.py [--docs 48] [--tokens 3000] [--repeats 3]

Speed does not depend on the weights, so both models are untrained, built from their
configurations over a 20,000-word vocabulary:

- before: BiLSTM + Bahdanau attention, corpus vectors, width 64, the attention as the
  heat-map (``--linear none --heatmap attention``);
- now: the same plus the linear TF-IDF part, with 150,000 word pairs (BBC News's
  training share has 40,000 seen twice or more), and the exact token parts as the heat-map.

The target of issue 16: now at no less than half the tokens per second of before.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from classifier.faithfulness import measure_faithfulness
from classifier.inference import EncodedDocument, Predictor
from classifier.linear import ngram_statistics
from classifier.model import ModelConfig, build_model
from classifier.tokenizer import TextRules, Token, Vocabulary
from schema.codebook import default_codebook
from schema.protocol import Protocol

VOCABULARY = 20_000
PAIRS = 150_000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=48)
    parser.add_argument("--tokens", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    codebook = default_codebook()
    vocabulary = Vocabulary(["<pad>", "<unk>", *[f"w{i}" for i in range(VOCABULARY)]], TextRules())
    rng = np.random.default_rng(0)
    # Zipf-like ids, as in text: frequent words repeat, so counts and pairs are realistic.
    ranks = np.minimum(rng.zipf(1.1, size=(args.docs, args.tokens)), VOCABULARY) + 1
    documents = [
        EncodedDocument([Token("w", "w", "text", 0, 1)] * args.tokens, row.astype(np.int32), 0)
        for row in ranks
    ]
    protocols = [Protocol(f"d{i}", {"text": ""}) for i in range(args.docs)]
    statistics_ = ngram_statistics([d.ids for d in documents] * 2, len(vocabulary))
    pairs = rng.choice(
        np.arange(2 * len(vocabulary), len(vocabulary) ** 2, dtype=np.int64), PAIRS, replace=False
    )
    keys = np.unique(np.concatenate([statistics_.bigram_keys, pairs]))
    idf = np.ones(len(keys) + 1, dtype=np.float32)

    def predictor(**config: object) -> Predictor:
        model = build_model(ModelConfig(len(vocabulary), len(codebook.levels), **config))  # type: ignore[arg-type]
        if config.get("linear") == "tfidf":
            layer = model.get_layer("linear")
            layer.set_statistics(type(statistics_)(statistics_.unigram_idf, keys, idf), None)
            layer.unigram.assign(rng.normal(size=layer.unigram.shape).astype(np.float32))
            layer.bigram.assign(rng.normal(size=layer.bigram.shape).astype(np.float32))
        return Predictor(model, vocabulary, codebook, max_tokens=args.tokens)

    models = {
        "before: attention, heat-map = attention": predictor(),
        "now: hybrid, heat-map = token parts": predictor(
            linear="tfidf", n_bigrams=len(keys), heatmap="contributions"
        ),
    }

    def classify(p: Predictor) -> Callable[[], None]:
        def run() -> None:
            predictions = p.predict_encoded(protocols, documents)
            measure_faithfulness(p, documents, predictions)

        return run

    cases = {name: classify(p) for name, p in models.items()}
    cases.update(
        {
            f"{name}, prediction alone": (
                lambda p=p: p.predict_encoded(protocols, documents) and None
            )
            for name, p in models.items()
        }
    )
    for run in cases.values():  # trace every shape once before timing
        run()
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    tokens = args.docs * args.tokens
    first = statistics.median(timings[next(iter(models))])
    print(f"{args.docs} documents x {args.tokens} tokens, medians of {args.repeats}, "
          f"erasure test included unless 'prediction alone'")  # fmt: skip
    print(f"{'case':<58} {'s':>7} {'tokens/s':>10} {'speed vs before':>16}")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:<58} {median:>7.2f} {tokens / median:>10.0f} {first / median:>16.2f}")


if __name__ == "__main__":
    main()
