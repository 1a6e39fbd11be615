"""Calibrated recommendations (Steck, RecSys 2018).

Greedily builds the list ``I`` maximising ``(1 - lambda) * sum_{i in I} s(i) -
lambda * KL(p || q~(I))``, where ``p`` is the viewer's genre distribution, ``q(I)`` the genre
distribution of the list (the mean of its titles' ``p(g|i)``) and ``q~ = (1 - alpha) q +
alpha p`` the smoothing of the paper (``alpha = 0.01``), which keeps the divergence finite.

Each step needs the divergence of "list + candidate" for every candidate. Only the genres
of the candidate change, so it is computed as the divergence of the list's baseline plus a
correction over the candidate's few non-zero genres, summed per title with ``bincount``; for
multi-hot genres the corrections take few distinct values and are tabulated, so a step costs
O(g * max genres) logarithms and an O(nnz) gather instead of O(n g) logarithms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from fairrec.errors import DataError
from fairrec.rerank._base import (
    RerankContext,
    check_real,
    chunks,
    finish,
    pad_short,
    per_viewer,
    prepare,
    require,
    take,
)

__all__ = ["Calibrated", "calibrated"]


def calibrated(
    scores: Any,
    genres: Any,
    target: Any,
    k: int,
    *,
    lambda_: float = 0.5,
    alpha: float = 0.01,
    valid: Any = None,
) -> np.ndarray:
    """Steck's calibrated re-ranking: relevance against KL(p || q~) over genres.

    Parameters
    ----------
    scores : array of shape (n,) or (u, n)
        Candidate relevance.
    genres : array of shape (n, g) or (u, n, g)
        Non-negative genre weights of the candidates (e.g. multi-hot); each row is
        normalised to ``p(g|i)``. A title without genres leaves the list's distribution as is.
    target : array of shape (g,) or (u, g)
        The viewer's genre distribution ``p(g|u)`` (normalised here; all zeros: nothing to
        calibrate to, the result is plain top-k).
    k : int
        Length of the list.
    lambda_ : float in [0, 1], default 0.5
        Weight of calibration (0: plain top-k; 1: ignore relevance except to break ties by
        position).
    alpha : float in (0, 1], default 0.01
        Smoothing ``q~ = (1 - alpha) q + alpha p``.
    valid : bool array of shape (n,) or (u, n), optional
        Candidates that may be chosen.

    Returns
    -------
    ndarray of int64
        Positions in display order: ``(min(k, n_valid),)`` for one viewer, ``(u, min(k, n))``
        padded with -1 for a batch.

    Examples
    --------
    The viewer watches comedy and drama half and half; the three best candidates are comedies:

    >>> genres = [[1, 0], [1, 0], [1, 0], [0, 1]]
    >>> calibrated([0.9, 0.8, 0.7, 0.5], genres, [0.5, 0.5], k=2, lambda_=0.5).tolist()
    [0, 3]
    """
    return _calibrated(scores, genres, target, k, lambda_, alpha, valid, "calibrated")


def _nonneg(arr: np.ndarray, name: str, owner: str) -> None:
    if (arr < 0).any():
        at = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise DataError(f"{owner}: {name!r} must be non-negative; found {arr[at]!r} at {at}.")


def _normalise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``x`` scaled to sum to 1 (zero rows stay zero), and which rows are non-zero."""
    total = x.sum(axis=-1)
    if not np.isfinite(total).all():  # huge weights: scale first so the sum cannot overflow
        x = x / np.maximum(x.max(axis=-1, keepdims=True), 1e-300)
        total = x.sum(axis=-1)
    nonzero = total > 0
    out = np.zeros_like(x)
    np.divide(x, total[..., None], out=out, where=nonzero[..., None])
    return out, nonzero


def _calibrated(
    scores: Any,
    genres: Any,
    target: Any,
    k: Any,
    lambda_: Any,
    alpha: Any,
    valid: Any,
    owner: str,
) -> np.ndarray:
    lam = check_real(lambda_, "lambda_", owner, 0.0, 1.0)
    alpha = check_real(alpha, "alpha", owner, 0.0, 1.0, low_open=True)
    batch = prepare(scores, k, valid, owner)
    what = "candidate genre weights of shape (n, g)"
    gen = per_viewer(
        require(genres, "'genres'", owner, what), "genres", owner, batch, (batch.n, None)
    )
    g = gen.shape[-1]
    what = "the viewer's genre distribution of shape (g,)"
    tgt = per_viewer(require(target, "'target'", owner, what), "target", owner, batch, (g,))
    _nonneg(gen, "genres", owner)
    _nonneg(tgt, "target", owner)
    p_item, has = _normalise(gen)
    p_user, _ = _normalise(tgt)
    picks = np.full((batch.u, batch.kk), -1, dtype=np.int64)
    for rows in chunks(batch, g):
        picks[rows] = _calibrated_kernel(
            batch.scores[rows],
            batch.valid[rows],
            take(p_item, rows, 2),
            take(has, rows, 1),
            take(p_user, rows, 1),
            batch.kk,
            lam,
            alpha,
        )
    return finish(picks, batch)


def _entries(
    p_item: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero genre weights of the candidates, as flat entries.

    Returns ``(row, col, weight, level, levels)``: entry ``e`` says that candidate row
    ``row[e]`` (of ``p_item`` flattened to (rows, g), so ``row // n`` is the viewer when
    genres are per viewer) has weight ``weight[e] == levels[level[e]]`` on genre ``col[e]``;
    ``levels`` are the distinct weights. Entries come in (row, genre) order.
    """
    g = p_item.shape[-1]
    flat = np.flatnonzero(p_item)
    weight = p_item.ravel()[flat]
    row, col = np.divmod(flat, g)
    count = np.bincount(row)[row]  # genres of the entry's title
    if np.array_equal(weight, 1.0 / count):  # multi-hot rows: the weights are 1 / count
        used = np.flatnonzero(np.bincount(count))[::-1]  # ascending weight
        lookup = np.zeros(used[0] + 1, dtype=np.int64) if used.size else np.zeros(1, np.int64)
        lookup[used] = np.arange(used.size)
        return row, col, weight, lookup[count], 1.0 / used
    levels, level = _levels(weight)
    return row, col, weight, level, levels


def _levels(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``weight`` (sorted) and each entry's index among them."""
    ordered = np.sort(weight)
    keep = np.empty(ordered.size, dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    levels = ordered[keep]
    return levels, np.searchsorted(levels, weight)


def _calibrated_kernel(
    scores: np.ndarray,
    valid: np.ndarray,
    p_item: np.ndarray,
    has: np.ndarray,
    p_user: np.ndarray,
    kk: int,
    lam: float,
    alpha: float,
) -> np.ndarray:
    u, n = scores.shape
    picks = np.full((u, kk), -1, dtype=np.int64)
    if kk == 0 or u == 0:
        return picks
    g = p_item.shape[-1]
    ar = np.arange(u)
    shared = p_item.ndim == 2
    p = np.empty((u, g))
    p[...] = p_user
    pos = p > 0
    ap = alpha * p
    logp = np.zeros((u, g))
    np.log(p, out=logp, where=pos)
    entropy = (p * logp).sum(axis=1)[:, None]  # sum p log p; KL = entropy - sum p log q~
    mixed = not has.all()  # some titles have no genre: they leave the list's mix as is
    row, col, weight, level, levels = _entries(p_item)
    n_lv = levels.size
    # The correction of a candidate sums, over its genres g with weight w,
    #     p_g * (log((acc_g + w) c1 + alpha p_g) - log(acc_g c1 + alpha p_g)).
    # With few distinct weights (multi-hot genres: w = 1 / genre count) it is tabulated per
    # (viewer, weight, genre) and summed through a sparse 0/1 matrix; otherwise computed per
    # (viewer, entry) and summed with bincount. Both evaluate the same expression and add a
    # title's terms in the same order (genre order, from 0.0), so they agree to the last bit
    # whatever the batch.
    table = (1 if shared else u) * n_lv * g <= row.size
    if shared:  # the same entries for each viewer, viewer by viewer
        viewer = np.repeat(ar, row.size)
        row = np.tile(row, u) + viewer * n
        col, weight, level = np.tile(col, u), np.tile(weight, u), np.tile(level, u)
    else:
        viewer = row // n
    if table:
        # title i of viewer v sums the table cells (v, its weight level, its genres): a 0/1
        # sparse matrix, entries in genre order, applied as a sparse matrix-vector product
        # (a single viewer gathers and bincounts instead: same sums, less overhead)
        cells = (viewer * n_lv + level) * g + col
        if u > 1:
            indptr = np.zeros(u * n + 1, dtype=np.int64)
            np.cumsum(np.bincount(row, minlength=u * n), out=indptr[1:])
            shape = (u * n, u * n_lv * g)
            gather = sp.csr_array((np.ones(row.size), cells, indptr), shape=shape)
        lg = np.zeros((u, n_lv, g))
        lv = levels[None, :, None]
        p3, ap3 = p[:, None, :], ap[:, None, :]
        pos3 = np.broadcast_to(pos[:, None, :], (u, n_lv, g))
    else:
        slot = viewer * g + col
        p_e = p.ravel()[slot]
        ap_e = alpha * p_e
        pos_e = p_e > 0
        lg = np.zeros(row.size)
    base = np.where(valid, scores, 0.0) * (1.0 - lam)
    base -= lam * entropy  # objective = (1 - lam) rel - lam KL, KL = entropy - sum p log q~
    base[~valid] = -np.inf
    acc = np.zeros((u, g))  # summed p(g|i) of the list
    mass = np.zeros(u)  # number of titles with genres in the list
    a1 = np.zeros((u, g))  # log q~(g) if a title with genres joins the list
    a0 = np.zeros((u, g))  # log q~(g) if a title without genres joins
    tmp = np.empty((u, g))
    for t in range(kk):
        c1 = ((1.0 - alpha) / (mass + 1.0))[:, None]
        np.multiply(acc, c1, out=tmp)
        tmp += ap
        np.log(tmp, out=a1, where=pos)
        logsum = (p * a1).sum(axis=1)[:, None]
        if table:
            arg = acc[:, None, :] + lv
            arg *= c1[:, :, None]
            arg += ap3
            np.log(arg, out=lg, where=pos3)
            lg -= a1[:, None, :]
            lg *= p3
            if u > 1:
                corr = (gather @ lg.ravel()).reshape(u, n)
            else:
                corr = np.bincount(row, weights=lg.ravel()[cells], minlength=n)[None, :]
        else:
            arg = acc.ravel()[slot]
            arg += weight
            arg *= c1.ravel()[viewer] if u > 1 else c1[0, 0]
            arg += ap_e
            np.log(arg, out=lg, where=pos_e)
            lg -= a1.ravel()[slot]
            lg *= p_e
            corr = np.bincount(row, weights=lg, minlength=u * n).reshape(u, n)
        logsum = logsum + corr
        if mixed:
            np.multiply(acc, ((1.0 - alpha) / np.maximum(mass, 1.0))[:, None], out=tmp)
            tmp += ap
            np.log(tmp, out=a0, where=pos)
            logsum = np.where(has, logsum, (p * a0).sum(axis=1)[:, None])
        obj = logsum * lam
        obj += base
        j = obj.argmax(axis=1)
        picks[:, t] = j
        base[ar, j] = -np.inf
        if t + 1 < kk:
            acc += p_item[j] if shared else p_item[ar, j]
            mass += has[j] if shared else has[ar, j]
    return pad_short(picks, valid)


@dataclass(frozen=True, kw_only=True)
class Calibrated:
    """Calibrated re-ranker (Steck 2018); see :func:`calibrated`.

    Needs ``context.genres`` (candidate genre weights) and ``context.target`` (the viewer's
    genre distribution from history).

    Parameters
    ----------
    lambda_ : float in [0, 1], default 0.5
        Weight of calibration against relevance (0: plain top-k).
    alpha : float in (0, 1], default 0.01
        Smoothing of the list's distribution towards ``p``, as in the paper.

    Raises
    ------
    ParameterError
        At construction, naming the parameter and the value, e.g. ``Calibrated(alpha=0)``.
    """

    lambda_: float = 0.5
    alpha: float = 0.01
    #: the genre weights come in ``context.genres``; ``vectors`` are not read
    uses_vectors: ClassVar[bool] = False

    def __post_init__(self) -> None:
        owner = "Calibrated"
        object.__setattr__(self, "lambda_", check_real(self.lambda_, "lambda_", owner, 0.0, 1.0))
        alpha = check_real(self.alpha, "alpha", owner, 0.0, 1.0, low_open=True)
        object.__setattr__(self, "alpha", alpha)

    def rerank(
        self,
        scores: Any,
        k: int,
        *,
        vectors: Any = None,
        context: RerankContext | None = None,
        valid: Any = None,
    ) -> np.ndarray:
        """Re-rank ``scores`` to match the viewer's genre mix; ``vectors`` is not used."""
        owner = "Calibrated"
        ctx = context if context is not None else RerankContext()
        what = "candidate genre weights of shape (n, g)"
        require(ctx.genres, "context.genres", owner, what)
        what = "the viewer's genre distribution of shape (g,)"
        require(ctx.target, "context.target", owner, what)
        return _calibrated(
            scores, ctx.genres, ctx.target, k, self.lambda_, self.alpha, valid, owner
        )

    def rerank_trusted(
        self,
        scores: np.ndarray,
        valid: np.ndarray,
        k: int,
        vectors: np.ndarray | None = None,
        context: RerankContext | None = None,
    ) -> np.ndarray:
        """:meth:`rerank` for arrays fairrec built itself (see
        :class:`~fairrec.rerank.TrustedReranker`): ``(u, n)`` scores and mask and the
        ``context`` fields :meth:`rerank` needs. Calibration has no separate fast path: this is
        :meth:`rerank` on the same arrays. Returns ``(u, min(k, n))`` positions padded with
        -1."""
        return self.rerank(np.where(valid, scores, 0.0), k, context=context, valid=valid)
