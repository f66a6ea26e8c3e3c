"""Word vectors learnt from the training texts themselves, to start the embedding from.

No pretrained vectors can be downloaded here, and a small labelled set (a research
office's few hundred protocols) leaves most words seen a handful of times: a randomly
initialised embedding learns little about them. Counting which words occur near which
in the training texts and factorising the positive pointwise mutual information matrix
(Levy, Goldberg & Dagan, 2015: window weighting, context smoothing 0.75, SVD with
eigenvalue weighting 0.5) gives every vocabulary word a distributional vector first;
training then fine-tunes it. Only the training share is read, never validation or test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import randomized_svd

FIRST_WORD_ID = 2  # 0 is padding and 1 unknown: neither is a word with a context


def cooccurrence(
    sequences: Sequence[np.ndarray], vocab_size: int, window: int
) -> sparse.csr_matrix:
    """Symmetric word-by-word counts within ``window`` tokens, each pair weighted 1/distance."""
    rows, cols, values = [], [], []
    for ids in sequences:
        for distance in range(1, min(window, len(ids) - 1) + 1):
            left, right = ids[:-distance], ids[distance:]
            real = (left >= FIRST_WORD_ID) & (right >= FIRST_WORD_ID)
            rows.append(left[real])
            cols.append(right[real])
            values.append(np.full(int(real.sum()), 1.0 / distance, dtype=np.float32))
    if not rows:
        return sparse.csr_matrix((vocab_size, vocab_size), dtype=np.float32)
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(values)
    counts = sparse.coo_matrix((v, (r, c)), shape=(vocab_size, vocab_size)).tocsr()
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
    scaled to twice that start's norm, so fine-tuning moves them at a similar pace.
    """
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(vocab_size, dim)).astype(np.float32)
    matrix[0] = 0.0
    association = ppmi(cooccurrence(sequences, vocab_size, window))
    k = min(dim, vocab_size - 1)
    if association.nnz == 0 or k < 1:
        return matrix
    u, s, _ = randomized_svd(association, n_components=k, random_state=seed)
    vectors = u * np.sqrt(s)
    seen = np.asarray(association.getnnz(axis=1)).ravel() > 0
    norms = np.linalg.norm(vectors[seen], axis=1, keepdims=True)
    # Unit rows scaled to the random start's norm, times 2: direction carries the meaning.
    target = 2.0 * scale * np.sqrt(dim / 3.0)
    matrix[seen, :k] = (vectors[seen] / np.maximum(norms, 1e-12) * target).astype(np.float32)
    return matrix
