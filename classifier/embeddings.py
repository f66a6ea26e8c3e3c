"""Where the word vectors start: learnt from the training texts, or pretrained.

A small labelled set (a research office's few hundred protocols) leaves most words seen
a handful of times: a randomly initialised embedding learns little about them. Two
starts give every vocabulary word a meaningful vector first; training fine-tunes it.

- ``corpus_vectors``: counting which words occur near which in the training texts and
  factorising the positive pointwise mutual information matrix (Levy, Goldberg & Dagan,
  2015: window weighting, context smoothing 0.75, SVD with eigenvalue weighting 0.5).
  Only the training share is read, never validation or test.
- ``pretrained_vectors``: WordLlama's token embeddings (``l2_supercat``, 256 dimensions,
  trained Matryoshka-style so the first ``dim`` columns stand alone), which ship inside
  the ``wordllama`` wheel on PyPI: nothing is downloaded at run time. A word's vector is
  the mean of its Llama-2 subword pieces' rows. Only the two data files are read,
  through ``tokenizers`` and ``safetensors``; WordLlama's own loader would try the network.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import randomized_svd

from schema.errors import ConfigError

FIRST_WORD_ID = 2  # 0 is padding and 1 unknown: neither is a word with a context


def cooccurrence(
    sequences: Sequence[np.ndarray], vocab_size: int, window: int, chunk_pairs: int = 2_000_000
) -> sparse.csr_matrix:
    """Symmetric word-by-word counts within ``window`` tokens, each pair weighted 1/distance.

    Pairs are summed into the sparse matrix every ``chunk_pairs`` or so, so memory stays
    bounded by the vocabulary's pairs, not by the length of the corpus.
    """
    counts = sparse.csr_matrix((vocab_size, vocab_size), dtype=np.float32)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    values: list[np.ndarray] = []
    pending = 0

    def flush() -> None:
        nonlocal counts, pending
        if rows:
            r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(values)
            counts = counts + sparse.coo_matrix((v, (r, c)), shape=counts.shape).tocsr()
            for parts in (rows, cols, values):
                parts.clear()
        pending = 0

    for ids in sequences:
        for distance in range(1, min(window, len(ids) - 1) + 1):
            left, right = ids[:-distance], ids[distance:]
            real = (left >= FIRST_WORD_ID) & (right >= FIRST_WORD_ID)
            rows.append(left[real])
            cols.append(right[real])
            values.append(np.full(int(real.sum()), 1.0 / distance, dtype=np.float32))
            pending += len(rows[-1])
        if pending >= chunk_pairs:
            flush()
    flush()
    return (counts + counts.T).tocsr()


def ppmi(counts: sparse.csr_matrix, smoothing: float = 0.75) -> sparse.csr_matrix:
    """Positive PMI of a co-occurrence matrix, the context distribution smoothed."""
    if counts.nnz == 0:
        return counts
    word = np.asarray(counts.sum(axis=1)).ravel()
    context = np.asarray(counts.sum(axis=0)).ravel() ** smoothing
    coo = counts.tocoo()
    # P(w, c) / (P(w) P_smoothed(c)) = n(w, c) * sum_c' n(c')^a / (n(w) * n(c)^a)
    pmi = np.log(coo.data * context.sum() / (word[coo.row] * context[coo.col]))
    keep = pmi > 0
    return sparse.csr_matrix(
        (pmi[keep].astype(np.float32), (coo.row[keep], coo.col[keep])), shape=counts.shape
    )


def _random_start(rows: int, dim: int, seed: int, scale: float) -> np.ndarray:
    """Keras's uniform start, padding row zero: what rows without a vector keep."""
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(rows, dim)).astype(np.float32)
    matrix[0] = 0.0
    return matrix


def _scaled_rows(vectors: np.ndarray, dim: int, scale: float) -> np.ndarray:
    """Unit rows times twice the random start's norm: the direction carries the meaning,
    and fine-tuning moves them at a similar pace to a random start."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    target = 2.0 * scale * np.sqrt(dim / 3.0)
    return (vectors / np.maximum(norms, 1e-12) * target).astype(np.float32)


def corpus_vectors(
    sequences: Sequence[np.ndarray],
    vocab_size: int,
    dim: int,
    seed: int,
    window: int = 5,
    scale: float = 0.05,
) -> np.ndarray:
    """An embedding matrix ``(vocab_size, dim)`` from PPMI + SVD of ``sequences``.

    The padding row is zero. The unknown id and words with no context keep a small random
    start, as Keras would have given them; every other row is the unit SVD direction
    scaled to twice that start's norm.
    """
    matrix = _random_start(vocab_size, dim, seed, scale)
    association = ppmi(cooccurrence(sequences, vocab_size, window))
    k = min(dim, vocab_size - 1)
    if association.nnz == 0 or k < 1:
        return matrix
    u, s, _ = randomized_svd(association, n_components=k, random_state=seed)
    vectors = u * np.sqrt(s)
    seen = np.asarray(association.getnnz(axis=1)).ravel() > 0
    matrix[seen, :k] = _scaled_rows(vectors[seen], dim, scale)
    return matrix


PRETRAINED_DIM = 256  # WordLlama's l2_supercat width
PRETRAINED = ("wordllama", "tokenizers/l2_supercat_tokenizer_config.json",
              "weights/l2_supercat_256.safetensors", "embedding.weight")  # fmt: skip


def pretrained_vectors(
    forms: Sequence[str], dim: int, seed: int, scale: float = 0.05
) -> np.ndarray:
    """An embedding matrix ``(len(forms), dim)`` from WordLlama's subword vectors.

    ``forms`` are the vocabulary's words by id (0 padding, 1 unknown). Padding is zero,
    the unknown id keeps a random start, and so do columns beyond the 256 WordLlama has.

    Raises:
        ConfigError: the ``wordllama`` package (a dependency) is not installed.
    """
    from importlib import resources

    package, tokenizer_file, weights_file, key = PRETRAINED
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = resources.files(package)
    except ModuleNotFoundError:
        raise ConfigError(
            "the pretrained word vectors ship in the wordllama package: pip install wordllama"
        ) from None
    tokenizer = Tokenizer.from_file(str(root / tokenizer_file))
    table = load_file(str(root / weights_file))[key]
    matrix = _random_start(len(forms), dim, seed, scale)
    k = min(dim, table.shape[1])
    words = list(forms[FIRST_WORD_ID:])
    if not words:
        return matrix
    vectors = np.zeros((len(words), k), dtype=np.float32)
    for row, encoding in enumerate(tokenizer.encode_batch(words, add_special_tokens=False)):
        if encoding.ids:  # every non-empty word has pieces (byte fallback)
            vectors[row] = table[encoding.ids, :k].astype(np.float32).mean(axis=0)
    matrix[FIRST_WORD_ID:, :k] = _scaled_rows(vectors, dim, scale)
    return matrix
