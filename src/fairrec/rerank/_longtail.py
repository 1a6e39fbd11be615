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

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

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
    topk_rows,
    trusted,
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
        Share of all interactions (plays) that the head draws; the one meaning of
        ``head_share`` in fairrec (the :class:`LongTail` re-ranker and the
        :func:`~fairrec.metrics.long_tail_share` metric use this rule).

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
    return finish(_xquad_run(batch, in_tail, p_tail, lam, variant == "smooth"), batch)


def _xquad_run(
    batch: Batch, in_tail: np.ndarray, p_tail: np.ndarray, lam: float, smooth: bool
) -> np.ndarray:
    """(u, kk) picks of a validated batch, chunk by chunk (``in_tail`` (n,) or (u, n))."""
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
            smooth,
        )
    return picks


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
    """Greedy xQuAD without a per-step scan of the candidates.

    The coverage bonus takes one value per group, so every step takes the best remaining
    title of the tail or of the head: the row is a merge of the two groups' relevance
    orders. Which group step ``t`` takes depends only on how many tail titles ``a`` were
    taken before, so the decision for every ``(t, a)`` is computed at once; the walk then
    follows it (integer steps). Ties between the groups go to the lower position, as
    ``argmax`` gives.
    """
    u, n = scores.shape
    if kk == 0 or u == 0 or n == 0:
        return np.full((u, kk), -1, dtype=np.int64)
    base = np.where(valid, scores, 0.0) * (1.0 - lam)
    ar = np.arange(u)[:, None]
    groups = []
    for member in (valid & tail, valid & ~tail):
        key = np.where(member, base, -np.inf)
        order = topk_rows(key, kk)  # best first, ties by position; -1: group exhausted
        value = np.where(order >= 0, key[ar, np.maximum(order, 0)], -np.inf)
        if order.shape[1] < kk:  # fewer candidates than steps: pad (never reached)
            pad = kk - order.shape[1]
            order = np.pad(order, ((0, 0), (0, pad)))
            value = np.pad(value, ((0, 0), (0, pad)), constant_values=-np.inf)
        groups.append((order, value))
    (t_order, t_value), (h_order, h_value) = groups
    # decision table over (step t, tail titles taken a), a <= t
    cov_t, cov_h, head_at = _coverage_tables(kk, smooth)
    w_tail = (lam * p_tail)[:, None, None]
    w_head = (lam * (1.0 - p_tail))[:, None, None]
    ot = t_value[:, None, :] + w_tail * cov_t
    oh = h_value[:, head_at] + w_head * cov_h
    take_tail = (ot > oh) | ((ot == oh) & (t_order[:, None, :] < h_order[:, head_at]))
    took = _walk(take_tail)
    a = np.cumsum(took, axis=1) - took  # tail titles taken before each step
    picks = np.where(took, t_order[ar, a], h_order[ar, np.arange(kk) - a])
    return pad_short(picks, valid)


@functools.lru_cache(maxsize=64)
def _coverage_tables(kk: int, smooth: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xQuAD's coverage terms for (step t, tail titles taken a) and the head rank ``t - a``.

    ``cov_t = 1 - a / t`` and ``cov_h = a / t`` (smooth) or whether the group is still
    absent (binary); both 1 at the first step. Read-only, shared by every call.
    """
    steps = np.arange(kk, dtype=np.float64)[:, None]
    taken = np.arange(kk, dtype=np.float64)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        if smooth:
            cov_t = np.where(steps == 0, 1.0, 1.0 - taken / steps)
            cov_h = np.where(steps == 0, 1.0, taken / steps)  # = 1 - n_head / t
        else:
            cov_t = np.where(steps == 0, 1.0, (taken == 0).astype(np.float64))
            cov_h = np.where(steps == 0, 1.0, (taken == steps).astype(np.float64))
    head_at = np.clip(np.arange(kk)[:, None] - np.arange(kk)[None, :], 0, kk - 1)  # t - a
    for table in (cov_t, cov_h, head_at):
        table.flags.writeable = False
    return cov_t, cov_h, head_at


def _walk(take_tail: np.ndarray) -> np.ndarray:
    """Follow the (u, t, a) decision table from ``a = 0``: which steps take the tail."""
    u, kk, _ = take_tail.shape
    if u == 1:  # one viewer: integer steps on a list (numpy calls cost more than the walk)
        table = take_tail[0].tolist()
        a = 0
        path = []
        for t in range(kk):
            step = table[t][a]
            path.append(step)
            a += step
        return np.array([path], dtype=bool)
    flat = take_tail.reshape(u, kk * kk)
    a = np.zeros(u, dtype=np.int64)
    ar = np.arange(u)
    took = np.empty((u, kk), dtype=bool)
    for t in range(kk):
        step = flat[ar, t * kk + a]
        took[:, t] = step
        a += step
    return took


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
        Share of the plays the short head draws, when it is derived from popularity: the
        same meaning, rule and default as ``head_share`` of the
        :func:`~fairrec.metrics.long_tail_share` metric. The metric splits the catalog by
        train plays; to re-rank with that very split pass
        ``context.tail = long_tail_mask(catalog_plays, head_share)``.

    Raises
    ------
    ParameterError
        At construction, naming the parameter and the value, e.g. ``LongTail(variant="x")``.
    """

    lambda_: float = 0.5
    variant: str = "smooth"
    head_share: float = 0.8
    #: the rows need not gather candidate vectors for this re-ranker
    uses_vectors: ClassVar[bool] = False

    def __post_init__(self) -> None:
        owner = "LongTail"
        object.__setattr__(self, "lambda_", check_real(self.lambda_, "lambda_", owner, 0.0, 1.0))
        check_choice(self.variant, "variant", owner, VARIANTS)
        share = check_real(self.head_share, "head_share", owner, 0.0, 1.0)
        object.__setattr__(self, "head_share", share)

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

    def rerank_trusted(
        self,
        scores: np.ndarray,
        valid: np.ndarray,
        k: int,
        vectors: np.ndarray | None = None,
        context: RerankContext | None = None,
    ) -> np.ndarray:
        """:meth:`rerank` for arrays fairrec built itself (the home-page rows): ``(u, n)``
        scores and mask, ``(u, n)`` ``context.popularity`` or ``context.tail``; no input
        checks (see :class:`~fairrec.rerank.TrustedReranker`). Returns ``(u, min(k, n))``
        positions padded with -1."""
        owner = "LongTail"
        lam, variant = self.lambda_, self.variant
        ctx = context if context is not None else RerankContext()
        batch = trusted(scores, valid, k)
        if ctx.tail is not None:
            in_tail = np.asarray(ctx.tail, dtype=bool)
        else:
            pop = require(ctx.popularity, "context.popularity", owner, "candidate popularity")
            in_tail = _tail_rows(np.where(valid, pop, 0.0), self.head_share)
        p_tail = (
            np.full(batch.u, 0.5)
            if ctx.tail_share is None
            else np.broadcast_to(np.asarray(ctx.tail_share, dtype=np.float64), (batch.u,))
        )
        return _xquad_run(batch, in_tail, p_tail, lam, variant == "smooth")
