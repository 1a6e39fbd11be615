"""Popularity-aware re-ranking: xQuAD over head / tail groups (Abdollahpouri et al. 2019).

"Managing Popularity Bias in Recommender Systems with Personalized Re-ranking" (FLAIRS 2019)
adapts xQuAD with two "aspects", the short head ``H`` and the long tail ``T``. Each greedy
step picks the candidate maximising::

    (1 - lambda) * rel(i) + lambda * sum_{c in {H, T}} P(c|u) * [i in c] * cover(c, S)

where ``P(c|u)`` is the share of the viewer's history in ``c`` and ``cover(c, S)`` says how
little the list ``S`` chosen so far already covers ``c``: ``1 - |S & c| / |S|`` (``"smooth"``,
the default) or ``[S & c is empty]`` (``"binary"``, the original xQuAD product).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fairrec.errors import DataError
from fairrec.rerank._base import (
    Batch,
    RerankContext,
    check_choice,
    check_real,
    chunks,
    finish,
    pad_short,
    per_viewer,
    prepare,
    require,
)

__all__ = ["LongTail", "long_tail_mask", "xquad"]

VARIANTS = ("smooth", "binary")


def long_tail_mask(popularity: Any, head_share: float = 0.8) -> np.ndarray:
    """Which items are in the long tail: all but the most popular ones holding ``head_share``.

    The short head is the smallest set of most popular items whose popularity adds up to at
    least ``head_share`` of the total, widened to every item as popular as its least popular
    member (so ties never split); items with zero popularity are always in the tail. The
    default, 0.8, is the Pareto split (the head holds 80% of the interactions; on
    MovieLens 100K that is about a fifth of the titles).

    Parameters
    ----------
    popularity : array of shape (n,) or (u, n)
        Non-negative popularity (e.g. interaction counts); a 2-d array is split row by row.
    head_share : float in [0, 1], default 0.8
        Share of all interactions that the head accounts for.

    Returns
    -------
    bool ndarray, same shape as ``popularity``
        True for long-tail items.

    Examples
    --------
    >>> long_tail_mask([50, 10, 30, 5, 5], head_share=0.5).tolist()
    [False, True, True, True, True]
    >>> long_tail_mask([50, 10, 30, 5, 5], head_share=0.6).tolist()
    [False, True, False, True, True]
    """
    owner = "long_tail_mask"
    share = check_real(head_share, "head_share", owner, 0.0, 1.0)
    pop = np.asarray(popularity)
    if pop.dtype == np.bool_ or not (
        np.issubdtype(pop.dtype, np.integer) or np.issubdtype(pop.dtype, np.floating)
    ):
        raise DataError(f"{owner}: 'popularity' must be a real numeric array, got {pop.dtype}.")
    pop = pop.astype(np.float64)
    if pop.ndim not in (1, 2):
        raise DataError(f"{owner}: 'popularity' must have shape (n,) or (u, n); got {pop.shape}.")
    if not np.isfinite(pop).all() or (pop < 0).any():
        raise DataError(f"{owner}: 'popularity' must be finite and non-negative.")
    return _tail_rows(np.atleast_2d(pop), share).reshape(pop.shape)


def _tail_rows(pop: np.ndarray, share: float) -> np.ndarray:
    u, n = pop.shape
    if n == 0:
        return np.zeros((u, 0), dtype=bool)
    desc = -np.sort(-pop, axis=1)
    before = np.cumsum(desc, axis=1) - desc  # popularity of the strictly earlier items
    need = share * desc.sum(axis=1, keepdims=True)
    in_head = before < need
    count = in_head.sum(axis=1)
    thr = desc[np.arange(u), np.maximum(count - 1, 0)][:, None]
    head = (pop >= thr) & (pop > 0) & (count > 0)[:, None]
    return ~head


def xquad(
    scores: Any,
    tail: Any,
    k: int,
    *,
    lambda_: float = 0.5,
    tail_share: Any = None,
    variant: str = "smooth",
    valid: Any = None,
) -> np.ndarray:
    """Personalised xQuAD over the short head and the long tail (see the module docstring).

    Parameters
    ----------
    scores : array of shape (n,) or (u, n)
        Candidate relevance, ideally in [0, 1] like the coverage bonus.
    tail : bool array of shape (n,) or (u, n)
        Whether each candidate is in the long tail.
    k : int
        Length of the list.
    lambda_ : float in [0, 1], default 0.5
        Weight of head / tail coverage (0: plain top-k).
    tail_share : float or array of shape (u,), optional
        ``P(tail | viewer)``, the share of the viewer's history in the long tail; 0.5 when
        absent (the non-personalised variant).
    variant : {"smooth", "binary"}, default "smooth"
        Coverage term: the share of the list outside the group, or whether the group is
        still absent from the list.
    valid : bool array of shape (n,) or (u, n), optional
        Candidates that may be chosen.

    Returns
    -------
    ndarray of int64
        Positions in display order: ``(min(k, n_valid),)`` for one viewer, ``(u, min(k, n))``
        padded with -1 for a batch.

    Examples
    --------
    >>> tail = [False, False, False, True]
    >>> xquad([0.9, 0.8, 0.7, 0.5], tail, k=3, lambda_=0.5).tolist()
    [0, 3, 1]
    """
    return _xquad(scores, tail, None, k, lambda_, tail_share, variant, 0.8, valid, "xquad")


def _xquad(
    scores: Any,
    tail: Any,
    popularity: Any,
    k: Any,
    lambda_: Any,
    tail_share: Any,
    variant: Any,
    head_share: Any,
    valid: Any,
    owner: str,
) -> np.ndarray:
    lam = check_real(lambda_, "lambda_", owner, 0.0, 1.0)
    variant = check_choice(variant, "variant", owner, VARIANTS)
    batch = prepare(scores, k, valid, owner)
    if tail is not None:
        in_tail = per_viewer(tail, "tail", owner, batch, (batch.n,), dtype=bool)
    else:
        share = check_real(head_share, "head_share", owner, 0.0, 1.0)
        pop = per_viewer(popularity, "popularity", owner, batch, (batch.n,))
        if (pop < 0).any():
            raise DataError(f"{owner}: 'popularity' must be non-negative.")
        pop = np.where(batch.valid, pop, 0.0)  # the split is over each viewer's candidates
        in_tail = _tail_rows(pop, share)
    p_tail = _tail_share(tail_share, batch, owner)
    in_tail = np.broadcast_to(in_tail, (batch.u, batch.n))
    picks = np.empty((batch.u, batch.kk), dtype=np.int64)
    for rows in chunks(batch, 1):
        picks[rows] = _xquad_kernel(
            batch.scores[rows],
            batch.valid[rows],
            in_tail[rows],
            p_tail[rows],
            batch.kk,
            lam,
            variant == "smooth",
        )
    return finish(picks, batch)


def _tail_share(value: Any, batch: Batch, owner: str) -> np.ndarray:
    if value is None:
        return np.full(batch.u, 0.5)
    share = per_viewer(value, "tail_share", owner, batch, ())
    if ((share < 0) | (share > 1)).any():
        raise DataError(f"{owner}: 'tail_share' must lie in [0, 1]; got {value!r}.")
    return np.broadcast_to(share, (batch.u,))


def _xquad_kernel(
    scores: np.ndarray,
    valid: np.ndarray,
    tail: np.ndarray,
    p_tail: np.ndarray,
    kk: int,
    lam: float,
    smooth: bool,
) -> np.ndarray:
    """Greedy xQuAD. The bonus takes one value per group, so each step compares the best
    tail candidate (plus the tail bonus) with the best head candidate (plus the head bonus):
    two argmaxes per step, no (u, n) arithmetic."""
    u, n = scores.shape
    picks = np.full((u, kk), -1, dtype=np.int64)
    if kk == 0 or u == 0 or n == 0:
        return picks
    ar = np.arange(u)
    base = np.where(valid, scores, 0.0) * (1.0 - lam)
    in_tail = np.where(valid & tail, base, -np.inf)  # -inf: other group, invalid or chosen
    in_head = np.where(valid & ~tail, base, -np.inf)
    w_tail = lam * p_tail
    w_head = lam * (1.0 - p_tail)
    n_tail = np.zeros(u)
    for t in range(kk):
        if t == 0:
            cov_t = cov_h = 1.0
        elif smooth:
            cov_t = 1.0 - n_tail / t
            cov_h = n_tail / t  # = 1 - n_head / t
        else:
            cov_t = (n_tail == 0).astype(np.float64)
            cov_h = (n_tail == t).astype(np.float64)  # no head title yet
        jt = in_tail.argmax(axis=1)
        jh = in_head.argmax(axis=1)
        ot = in_tail[ar, jt] + w_tail * cov_t
        oh = in_head[ar, jh] + w_head * cov_h
        take_tail = (ot > oh) | ((ot == oh) & (jt < jh))
        j = np.where(take_tail, jt, jh)
        picks[:, t] = j
        in_tail[ar, j] = -np.inf
        in_head[ar, j] = -np.inf
        n_tail += take_tail
    return pad_short(picks, valid)


@dataclass(frozen=True, kw_only=True)
class LongTail:
    """Long-tail re-ranker: personalised xQuAD over head / tail (see :func:`xquad`).

    Needs ``context.tail`` (bool, candidate in the long tail) or ``context.popularity``; from
    popularity, the head is derived over each viewer's valid candidates with
    :func:`long_tail_mask` (the most popular candidates holding ``head_share`` of the
    candidates' total popularity, 80% by default: the Pareto split). Pass ``tail`` for a
    catalog-level split. The optional
    ``context.tail_share`` personalises ``P(tail | viewer)`` (0.5 when absent).

    Parameters
    ----------
    lambda_ : float in [0, 1], default 0.5
        Weight of head / tail coverage against relevance (0: plain top-k).
    variant : {"smooth", "binary"}, default "smooth"
        Coverage term of xQuAD.
    head_share : float in [0, 1], default 0.8
        Share of interactions held by the head, when it is derived from popularity.
    """

    lambda_: float = 0.5
    variant: str = "smooth"
    head_share: float = 0.8

    def rerank(
        self,
        scores: Any,
        k: int,
        *,
        vectors: Any = None,
        context: RerankContext | None = None,
        valid: Any = None,
    ) -> np.ndarray:
        """Re-rank ``scores`` to give long-tail titles a share; ``vectors`` is not used."""
        owner = "LongTail"
        ctx = context if context is not None else RerankContext()
        if ctx.tail is None:
            what = "candidate popularity of shape (n,), or context.tail"
            require(ctx.popularity, "context.popularity", owner, what)
        return _xquad(
            scores,
            ctx.tail,
            ctx.popularity,
            k,
            self.lambda_,
            ctx.tail_share,
            self.variant,
            self.head_share,
            valid,
            owner,
        )
