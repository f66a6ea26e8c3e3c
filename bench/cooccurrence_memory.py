"""Peak memory and time of the co-occurrence count behind the corpus word vectors,
summed in one pass (the first version) against in chunks (the default), same process.

    .venv/bin/python bench/cooccurrence_memory.py [--docs 2000] [--tokens 8000]

The corpus is synthetic: Zipf-distributed word ids over a 20,000-word vocabulary, the
size of a research office's protocols at the issue's 8,000-token length.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from classifier.embeddings import cooccurrence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--tokens", type=int, default=8000)
    parser.add_argument("--vocabulary", type=int, default=20_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sequences = [
        (np.minimum(rng.zipf(1.2, args.tokens), args.vocabulary - 2) + 1).astype(np.int32)
        for _ in range(args.docs)
    ]
    runs = {"one pass": 10**15, "chunked (default)": None}
    peaks = {}
    for name, chunk in runs.items():
        tracemalloc.start()
        start = time.perf_counter()
        if chunk is None:
            counts = cooccurrence(sequences, args.vocabulary, window=5)
        else:
            counts = cooccurrence(sequences, args.vocabulary, window=5, chunk_pairs=chunk)
        seconds = time.perf_counter() - start
        peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"{name:<18} peak {peaks[name]:7.0f} MiB  {seconds:6.1f} s  pairs {counts.nnz:,}")
    print(f"peak ratio chunked / one pass: {peaks['chunked (default)'] / peaks['one pass']:.3f}")


if __name__ == "__main__":
    main()
