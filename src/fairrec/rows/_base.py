"""The base class of row kinds."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fairrec.rerank import MMR, TrustedReranker
from fairrec.rows._context import RowBatch, RowContext
from fairrec.rows._pools import _set_jaccard

#: re-ranker class -> implements TrustedReranker (an isinstance check against a runtime
#: protocol costs ~40 us, paid once per class instead of once per row and request)
_TRUSTED: dict[type, bool] = {}


def _is_trusted(reranker: Any) -> bool:
    """Whether ``reranker``'s class implements :class:`~fairrec.rerank.TrustedReranker`."""
    cls = type(reranker)
    hit = _TRUSTED.get(cls)
    if hit is None:
        hit = _TRUSTED[cls] = isinstance(reranker, TrustedReranker)
    return hit


class RowKind:
    """Base of row kinds: parameters in ``__init__``, work in :meth:`build`.

    Attributes
    ----------
    kind : str
        Machine-readable kind, also the reason kind.
    personal : bool
        The row uses the viewer's history: it only applies to personalized viewers.
    """

    kind: ClassVar[str] = "row"
    personal: ClassVar[bool] = False
    #: added to the row's expected value when rows are ordered on the page
    value_bonus: ClassVar[float] = 0.0

    def may_apply(self, ctx: RowContext) -> bool:
        """Cheap check: can the row apply to anyone in the batch? (else it is not built)"""
        return bool(ctx.batch.personalized.any()) if self.personal else True

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        """Rows for the batch; ``taken`` is the (u, n_items) mask of titles already placed."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def _rerank(
        self,
        reranker: Any,
        ctx: RowContext,
        rel: np.ndarray,
        cand: np.ndarray,
        valid: np.ndarray,
        vectors: np.ndarray,
        context: Any = None,
        gathered: np.ndarray | None = None,
        k: int | None = None,
    ) -> np.ndarray:
        """Positions chosen by ``reranker`` among ``cand``: (u, <= k), -1 padded (``k``:
        the row size ``ctx.k`` unless given).

        A :class:`~fairrec.rerank.TrustedReranker` (every fairrec re-ranker) takes the
        arrays as they are through its public fast path
        :meth:`~fairrec.rerank.TrustedReranker.rerank_trusted` (the checks of ``rerank`` are
        for outside callers, and ``ctx.vectors`` rows are unit-norm already); any other
        re-ranker, or vectors other than ``ctx.vectors``, goes through its public ``rerank``
        -- except :class:`~fairrec.rerank.MMR` with ``similarity="jaccard"`` on ``ctx.genres``
        (*Hidden gems*), which gets the float64 arrays ``rerank`` would build, through the
        fast path (the same positions, without the checks); with binary genres the Jaccard
        index of each pair of the catalog's distinct genre sets is looked up
        (:meth:`~fairrec.rerank.MMR.rerank_on_sets`, the same positions again).
        """
        if k is None:
            k = ctx.k
        if vectors is ctx.vectors and _is_trusted(reranker):
            if gathered is None and reranker.uses_vectors:
                gathered = vectors[np.maximum(cand, 0)]
            return reranker.rerank_trusted(rel, valid, k, gathered, context)
        if vectors is ctx.genres and type(reranker) is MMR and reranker.similarity == "jaccard":
            # the genre rows with MMR's Jaccard index: what ``rerank`` computes (float64
            # scores and rows, padding masked) without its input checks
            score = np.where(valid, rel, 0.0).astype(np.float64, copy=False)
            tab = _set_jaccard(vectors) if gathered is None else None
            if tab is not None:  # binary genres: each pair's index looked up, not computed
                sets = tab[0][np.maximum(cand, 0)]
                return reranker.rerank_on_sets(score, valid, k, sets, tab[1])
            if gathered is None:
                gathered = vectors[np.maximum(cand, 0)].astype(np.float64)
            return reranker.rerank_trusted(score, valid, k, gathered, context)
        vecs = vectors[np.maximum(cand, 0)] if gathered is None else gathered
        return reranker.rerank(
            np.where(valid, rel, 0.0), k, vectors=vecs, context=context, valid=valid
        )
