"""Plain top-k by relevance: the baseline every other re-ranker is compared against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from fairrec.rerank._base import (
    RerankContext,
    chunks,
    finish,
    prepare,
    topk_rows,
    trusted,
)

__all__ = ["TopK", "topk"]


def topk(scores: Any, k: int, *, valid: Any = None) -> np.ndarray:
    """The ``k`` highest-scoring candidates, best first, ties broken by lower position.

    Parameters
    ----------
    scores : array of shape (n,) or (u, n)
        Relevance of each candidate (finite wherever ``valid``).
    k : int
        How many to return (at most ``n``).
    valid : bool array of shape (n,) or (u, n), optional
        Candidates that may be chosen.

    Returns
    -------
    ndarray of int64
        ``(min(k, n_valid),)`` positions for one viewer; ``(u, min(k, n))`` for a batch,
        padded with -1.

    Examples
    --------
    >>> topk([0.2, 0.9, 0.5, 0.9], k=3).tolist()
    [1, 3, 2]
    """
    return _topk(scores, k, valid, "topk")


def _topk(scores: Any, k: Any, valid: Any, owner: str) -> np.ndarray:
    batch = prepare(scores, k, valid, owner)
    picks = np.empty((batch.u, batch.kk), dtype=np.int64)
    for rows in chunks(batch, 1):
        picks[rows] = topk_rows(batch.scores[rows], batch.kk)
    return finish(picks, batch)


@dataclass(frozen=True, kw_only=True)
class TopK:
    """Sort candidates by score (stable): the "plain" recommender row.

    Examples
    --------
    >>> TopK().rerank([0.1, 0.3, 0.2], k=2).tolist()
    [1, 2]
    """

    #: plain relevance order: ``vectors`` are not read
    uses_vectors: ClassVar[bool] = False

    def rerank(
        self,
        scores: Any,
        k: int,
        *,
        vectors: Any = None,
        context: RerankContext | None = None,
        valid: Any = None,
    ) -> np.ndarray:
        """Return the top ``k`` positions; ``vectors`` and ``context`` are not used."""
        return _topk(scores, k, valid, "TopK")

    def rerank_trusted(
        self,
        scores: np.ndarray,
        valid: np.ndarray,
        k: int,
        vectors: np.ndarray | None = None,
        context: RerankContext | None = None,
    ) -> np.ndarray:
        """:meth:`rerank` for arrays fairrec built itself (see
        :class:`~fairrec.rerank.TrustedReranker`): ``(u, n)`` scores and mask; no input
        checks. Returns ``(u, min(k, n))`` positions padded with -1."""
        batch = trusted(scores, valid, k)
        return topk_rows(batch.scores, batch.kk)
