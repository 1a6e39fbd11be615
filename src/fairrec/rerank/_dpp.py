"""Determinantal point process re-ranking: fast greedy MAP inference.

Chen, Zhang & Zhou, "Fast Greedy MAP Inference for Determinantal Point Process to Improve
Recommendation Diversity", NeurIPS 2018. The kernel is ``L = diag(q) S diag(q)``; each greedy
step adds the candidate with the largest marginal gain ``d_i^2 = det(L_{Y+i}) / det(L_Y)``.
The gains are kept up to date with an incremental Cholesky factorisation: one kernel row and
one ``(t, n)`` product per pick, O(n k^2 + n k d) in all, vectorised across viewers.

With a sliding ``window`` w, a pick only has to be diverse from the previous ``w - 1``
picks (Algorithm 2 of the paper), so long rows keep diversifying: when the oldest pick
leaves the window, the coefficients are updated by one orthogonal transform (a Householder
reflection built from the tracked inverse factor, applied to all candidates in one
``(w, w) @ (w, n)`` product; the paper applies the same kind of transform as w - 1 Givens
rotations, which would cost w Python steps per pick).

Numerical safety: the kernel is PSD by construction (a Gram matrix of the candidate vectors,
or the Jaccard kernel); a candidate whose gain falls to ``eps * L_ii`` or below lies, up to
rounding, in the span of the picks and is never chosen, and the greedy stops cleanly when
no candidate is left above that floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from fairrec import _checks
from fairrec.errors import DataError
from fairrec.rerank._base import (
    RerankContext,
    check_choice,
    check_k,
    check_real,
    chunks,
    fill_by_relevance,
    finish,
    per_viewer,
    prepare,
    vectors_of,
)
from fairrec.rerank._similarity import SIMILARITIES, Similarity

__all__ = ["DPP", "dpp_greedy"]

EPS = 1e-10


def _check_window(window: Any, owner: str) -> int | None:
    expected = "None or an int in the range [1, inf)"
    return _checks.check_int(window, "window", owner, 1, none=True, expected=expected)


def dpp_greedy(
    quality: Any,
    item_vectors: Any,
    k: int,
    *,
    window: int | None = None,
    eps: float = EPS,
) -> np.ndarray:
    """Greedy MAP inference for the DPP with kernel ``L = diag(q) V V^T diag(q)``.

    Parameters
    ----------
    quality : array of shape (n,)
        Positive item qualities ``q``.
    item_vectors : array of shape (n, d)
        Item vectors ``V``, normally unit-norm so that ``S = V V^T`` is a similarity with a
        unit diagonal; they are used as given.
    k : int
        Maximum number of items.
    window : int, optional
        Sliding window: each pick maximises the determinant over itself and the previous
        ``window - 1`` picks. ``None`` (default) conditions on all previous picks.
    eps : float, default 1e-10
        Numerical floor, relative to each item's own ``L_ii``: an item whose marginal gain
        is ``d_i^2 <= eps * L_ii`` lies, up to rounding, in the span of the items already
        chosen and is not picked (nor is an item with ``L_ii = 0``, a zero vector). The
        greedy stops when no item is left above its floor, returning fewer than ``k``.

    Returns
    -------
    ndarray of int64, shape (<= min(k, n),)
        Chosen indices in pick order; ties go to the lower index.

    Examples
    --------
    Item 1 duplicates item 0, so the DPP prefers the orthogonal item 2:

    >>> V = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    >>> dpp_greedy([1.0, 0.9, 0.5], V, k=3).tolist()
    [0, 2]
    """
    owner = "dpp_greedy"
    k = check_k(k, owner)
    win = _check_window(window, owner)
    eps = check_real(eps, "eps", owner, 0.0, None, low_open=True)
    batch = prepare(quality, k, None, owner, "quality")
    if not batch.single:
        raise DataError(
            f"{owner}: 'quality' must have shape (n,); got {batch.scores.shape}. "
            "Use DPP().rerank for a batch of viewers."
        )
    q = batch.scores
    if (q <= 0).any():
        at = int(np.argmax((q <= 0)[0]))
        raise DataError(
            f"{owner}: 'quality' must be positive; found {q[0, at]!r} at position {at}."
        )
    vecs = per_viewer(item_vectors, "item_vectors", owner, batch, (batch.n, None))
    if vecs.ndim == 3:
        vecs = vecs[0]
    sim = Similarity(vecs, "dot", owner)
    picks = _dpp_kernel(q, batch.valid, sim, batch.kk, eps, win)
    return finish(picks, batch)


def _dpp_kernel(
    q: np.ndarray,
    valid: np.ndarray,
    sim: Similarity,
    kk: int,
    eps: float,
    window: int | None,
) -> np.ndarray:
    """Batched fast greedy MAP. Returns (u, kk) picks, -1 after a viewer's gains vanish.

    ``c[:, l, i]`` is candidate ``i``'s coefficient on the ``l``-th conditioning pick in the
    Cholesky factorisation of ``L_Y``, and ``d2[:, i] = L_ii - sum_l c[:, l, i]^2`` its
    marginal gain; each pick adds one coefficient row (Chen et al., Algorithm 1).
    """
    u, n = q.shape
    picks = np.full((u, kk), -1, dtype=np.int64)
    if kk == 0 or u == 0 or n == 0:
        return picks
    ar = np.arange(u)
    cap = kk if window is None else min(window, kk)  # conditioning picks held at once
    diag = q * q * sim.diag()
    floor = eps * diag  # gains at or below this are rounding: the item is in the span
    d2 = diag.copy()
    d2[~valid] = -np.inf  # -inf: not available (invalid or already chosen)
    c = np.zeros((u, cap, n))
    sq = np.empty((u, n))
    if window is not None:
        # R^{-1} where L_W = R R^T for the conditioning picks W (R itself is not needed)
        inv = np.zeros((u, cap, cap))
        eye = np.eye(cap)
    active = np.ones(u, dtype=bool)
    everyone = True  # all viewers still active (the common case: no masking needed)
    m = 0  # size of the conditioning set
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for t in range(kk):
            j = d2.argmax(axis=1)
            best = d2[ar, j]
            weak = best <= floor[ar, j]  # best candidate in the span of the picks, or none
            if weak.any():  # rare: look past the candidates already in the span
                w = np.flatnonzero(weak)
                usable = np.where(d2[w] > floor[w], d2[w], -np.inf)
                j[w] = usable.argmax(axis=1)
                best[w] = usable[np.arange(len(w)), j[w]]
                stop = best == -np.inf
                if stop.any():
                    active &= ~stop
                    everyone = False
                    if not active.any():
                        break
            if everyone:
                picks[:, t] = j
                dj = np.sqrt(best)
            else:
                picks[:, t] = np.where(active, j, -1)
                dj = np.sqrt(np.where(active, best, 1.0))
            if t + 1 == kk:
                break
            e = sim.rows(j, q[ar, j])  # q_j S[j, :]
            e *= q  # kernel row L[j, :]
            cj = c[ar, :m, j]
            if m:
                e -= np.matmul(cj[:, None, :], c[:, :m, :])[:, 0, :]
            e = np.divide(e, dj[:, None], out=c[:, m, :])
            d2 -= np.square(e, out=sq)
            d2[ar, j] = -np.inf
            if window is not None:  # R gains the row [c_j, d_j]; R^{-1} the matching row
                row = np.matmul(cj[:, None, :], inv[:, :m, :m])[:, 0, :]
                np.divide(row, -dj[:, None], out=inv[:, m, :m])
                inv[:, m, m] = 1.0 / dj
            m += 1
            if window is not None and m >= window:
                m = window - 1
                _drop_oldest(inv, c, d2, m, eye)
    return picks


def _drop_oldest(inv: np.ndarray, c: np.ndarray, d2: np.ndarray, m: int, eye: np.ndarray) -> None:
    """Sliding window: remove the oldest of the ``m + 1`` conditioning picks.

    With ``L_W = R R^T`` and ``c = R^{-1} L[W, :]``, the kept picks span the rows ``B`` of
    ``R`` but the first. The unit vector ``z`` orthogonal to them is the first column of
    ``R^{-1}`` (normalised); a Householder reflection ``H`` maps it to the last axis, so that
    ``R H = [[a, s], [F, 0]]``: ``F`` factors the kept picks (``L_W' = F F^T``), ``F^{-1}`` is
    the block ``(H R^{-1})[:m, 1:]``, the kept picks' coefficients are ``(H c)[:m]`` and the
    last coefficient of ``H c``, what only the dropped pick explained, returns squared to the
    gains. Small batched products and one ``(m+1, m+1) @ (m+1, n)`` product: the orthogonal
    transform that the paper applies as Givens rotations.
    """
    size = m + 1
    z = inv[:, :size, 0]
    v = z / np.sqrt((z * z).sum(axis=1))[:, None]
    v[:, m] += np.copysign(1.0, v[:, m])  # now |v|^2 = 2 |v_m|, with |v_m| >= 1
    v /= np.sqrt(np.abs(v[:, m]))[:, None]  # so that H = I - 2 v v^T / |v|^2 = I - v v^T
    house = eye[:size, :size] - v[:, :, None] * v[:, None, :]
    coef = np.matmul(house, c[:, :size, :])
    c[:, :m, :] = coef[:, :m, :]
    d2 += np.square(coef[:, m, :])
    inv[:, :m, :m] = np.matmul(house, inv[:, :size, :size])[:, :m, 1:]
    inv[:, :m, m] = 0.0


@dataclass(frozen=True, kw_only=True)
class DPP:
    """Determinantal point process re-ranker (fast greedy MAP); see :func:`dpp_greedy`.

    The kernel is ``L = diag(q) S diag(q)`` with ``S`` the candidates' similarity (a PSD
    matrix: cosine of the normalised ``vectors``, or Jaccard) and
    ``q = exp(theta * (relevance - max relevance))`` per viewer (the shift only rescales
    ``L`` and keeps ``q`` in (0, 1]). When the determinant can grow no more (every remaining
    candidate lies in the span of the chosen ones, e.g. a duplicate genre set) the rest of
    the row is filled by relevance, so a row still has ``k`` titles.

    Parameters
    ----------
    theta : float >= 0, default 2.0
        Weight of relevance in the log-determinant: ``log det L_Y = 2 theta sum(rel) +
        log det S_Y``. 0 is pure diversity; large values approach top-k. ``theta = 2`` is
        ``theta = 0.8`` in Chen et al.'s parametrisation ``alpha = theta / (2 (1 - theta))``.
    window : int, optional
        Sliding window (see :func:`dpp_greedy`); ``None`` diversifies the whole row.
    similarity : {"cosine", "jaccard"}, default "cosine"
        Kernel on the candidate ``vectors``.
    eps : float, default 1e-10
        Relative floor of the marginal gain (see :func:`dpp_greedy`): the greedy inference
        stops when every remaining candidate lies, up to rounding, in the span of the
        chosen ones.

    Raises
    ------
    ParameterError
        At construction, naming the parameter and the value, e.g. ``DPP(theta=-1)``.
    """

    theta: float = 2.0
    window: int | None = None
    similarity: str = "cosine"
    eps: float = EPS
    #: :meth:`rerank_trusted` compares the candidates' ``vectors``
    uses_vectors: ClassVar[bool] = True

    def __post_init__(self) -> None:
        owner = "DPP"
        object.__setattr__(self, "theta", check_real(self.theta, "theta", owner, 0.0))
        object.__setattr__(self, "window", _check_window(self.window, owner))
        check_choice(self.similarity, "similarity", owner, SIMILARITIES)
        eps = check_real(self.eps, "eps", owner, 0.0, None, low_open=True)
        object.__setattr__(self, "eps", eps)

    def rerank(
        self,
        scores: Any,
        k: int,
        *,
        vectors: Any = None,
        context: RerankContext | None = None,
        valid: Any = None,
    ) -> np.ndarray:
        """Re-rank ``scores`` with the DPP; needs ``vectors``. ``context`` is not used."""
        owner = "DPP"
        theta, win, kind, eps = self.theta, self.window, self.similarity, self.eps
        batch = prepare(scores, k, valid, owner)
        vecs = vectors_of(vectors, batch, owner)
        s, ok = batch.scores, batch.valid
        top = np.max(np.where(ok, s, -np.inf), axis=1, initial=-np.inf, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            gap = np.maximum(np.where(ok, s, top) - top, -1e300)
            q = np.where(ok, np.exp(theta * gap), 0.0)
        picks = np.full((batch.u, batch.kk), -1, dtype=np.int64)
        width = max(batch.kk, vecs.shape[-1])
        similar = Similarity(vecs, kind, owner)
        for rows in chunks(batch, width):
            sim = similar.chunk(rows)
            picks[rows] = _dpp_kernel(q[rows], ok[rows], sim, batch.kk, eps, win)
        return finish(fill_by_relevance(picks, s, ok), batch)

    def rerank_trusted(
        self,
        scores: np.ndarray,
        valid: np.ndarray,
        k: int,
        vectors: np.ndarray | None = None,
        context: RerankContext | None = None,
    ) -> np.ndarray:
        """:meth:`rerank` for arrays fairrec built itself (see
        :class:`~fairrec.rerank.TrustedReranker`): ``(u, n)`` scores and mask, ``(u, n, d)``
        vectors. The DPP has no separate fast path: this is :meth:`rerank` on the same
        arrays. Returns ``(u, min(k, n))`` positions padded with -1."""
        return self.rerank(
            np.where(valid, scores, 0.0), k, vectors=vectors, context=context, valid=valid
        )
