"""Maximal Marginal Relevance (Carbonell & Goldstein, SIGIR 1998)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fairrec.rerank._base import (
    RerankContext,
    check_choice,
    check_real,
    chunks,
    finish,
    pad_short,
    prepare,
    vectors_of,
)
from fairrec.rerank._similarity import SIMILARITIES, Similarity

__all__ = ["MMR", "mmr"]


def mmr(
    scores: Any,
    vectors: Any,
    k: int,
    *,
    lambda_: float = 0.7,
    similarity: str = "cosine",
    valid: Any = None,
) -> np.ndarray:
    """Greedy MMR: each pick maximises ``lambda_ * rel - (1 - lambda_) * max_sim``.

    ``max_sim`` is the largest similarity between the candidate and the candidates already
    chosen; the first pick is the most relevant candidate. ``lambda_ = 1`` is plain top-k.
    Scores are used as given, so they should be on a scale comparable to the similarity
    (ALS scores, roughly in [0, 1], are).

    Parameters
    ----------
    scores : array of shape (n,) or (u, n)
        Candidate relevance.
    vectors : array of shape (n, d) or (u, n, d)
        Candidate representations (ALS factors for cosine, genre multi-hot for Jaccard).
    k : int
        Length of the list.
    lambda_ : float in [0, 1]
        Weight of relevance against redundancy.
    similarity : {"cosine", "jaccard"}
        How candidates are compared.
    valid : bool array of shape (n,) or (u, n), optional
        Candidates that may be chosen.

    Returns
    -------
    ndarray of int64
        Positions in display order: ``(min(k, n_valid),)`` for one viewer, ``(u, min(k, n))``
        padded with -1 for a batch.

    Examples
    --------
    Candidate 1 nearly duplicates candidate 0, so MMR shows candidate 2 second:

    >>> v = [[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]]
    >>> mmr([1.0, 0.95, 0.6], v, k=3, lambda_=0.5).tolist()
    [0, 2, 1]
    """
    return _mmr(scores, vectors, k, lambda_, similarity, valid, "mmr")


def _mmr(
    scores: Any,
    vectors: Any,
    k: Any,
    lambda_: Any,
    similarity: Any,
    valid: Any,
    owner: str,
) -> np.ndarray:
    lam = check_real(lambda_, "lambda_", owner, 0.0, 1.0)
    kind = check_choice(similarity, "similarity", owner, SIMILARITIES)
    batch = prepare(scores, k, valid, owner)
    vecs = vectors_of(vectors, batch, owner)
    picks = np.full((batch.u, batch.kk), -1, dtype=np.int64)
    similar = Similarity(vecs, kind, owner)
    for rows in chunks(batch, 1):
        sim = similar.chunk(rows)
        picks[rows] = _mmr_kernel(batch.scores[rows], batch.valid[rows], sim, batch.kk, lam)
    return finish(picks, batch)


def _mmr_kernel(
    scores: np.ndarray, valid: np.ndarray, sim: Similarity, kk: int, lam: float
) -> np.ndarray:
    u, n = scores.shape
    picks = np.full((u, kk), -1, dtype=np.int64)
    if kk == 0 or u == 0:
        return picks
    ar = np.arange(u)
    base = np.where(valid, scores, 0.0) * lam
    base[~valid] = -np.inf  # -inf: invalid or already chosen
    c = 1.0 - lam
    obj = base
    maxsim = None
    tmp = np.empty((u, n))
    for t in range(kk):
        if t:
            np.multiply(maxsim, c, out=tmp)
            obj = np.subtract(base, tmp, out=tmp)
        j = obj.argmax(axis=1)
        picks[:, t] = j
        base[ar, j] = -np.inf
        if t + 1 < kk:
            s = sim.rows(j)
            maxsim = s if maxsim is None else np.maximum(maxsim, s, out=maxsim)
    return pad_short(picks, valid)


@dataclass(frozen=True, kw_only=True)
class MMR:
    """Maximal Marginal Relevance re-ranker; see :func:`mmr`.

    Parameters
    ----------
    lambda_ : float in [0, 1], default 0.7
        Weight of relevance (1: plain top-k) against similarity to what is already shown.
    similarity : {"cosine", "jaccard"}, default "cosine"
        How candidate ``vectors`` are compared.
    """

    lambda_: float = 0.7
    similarity: str = "cosine"

    def rerank(
        self,
        scores: Any,
        k: int,
        *,
        vectors: Any = None,
        context: RerankContext | None = None,
        valid: Any = None,
    ) -> np.ndarray:
        """Re-rank ``scores`` with MMR; needs ``vectors``. ``context`` is not used."""
        return _mmr(scores, vectors, k, self.lambda_, self.similarity, valid, "MMR")
