"""Shared steps of row kinds: candidate pools, popularity caps and relevance floors, mapping
re-ranker picks back to titles, the ``taken`` mask, and parameter checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairrec._checks import check_fraction, check_int
from fairrec.rows._context import RowContext


def _gather_pool(
    ctx: RowContext, taken: np.ndarray, size: int | None, extra_valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First ``size`` candidates per viewer with validity (not taken, not padding)."""
    cand = ctx.cand if size is None else ctx.cand[:, :size]
    rel = ctx.rel[:, : cand.shape[1]]
    valid = cand >= 0
    valid &= ~_cells(taken, ctx.ar, cand)
    if extra_valid is not None:
        valid &= extra_valid[:, : cand.shape[1]]
    return cand, np.where(valid, rel, 0.0), valid


def _cells(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``x[rows, np.maximum(cols, 0)]`` for a 2-d ``x``, ``(u, 1)`` ``rows`` and ``(u, m)``
    ``cols``: one take of the cells' C-order flat indices (a 2-d fancy index costs ~3x as
    much on a batch's (u, n_items) mask)."""
    return np.take(x, np.maximum(cols, 0) + rows * x.shape[1])


def _row_counts(mask: np.ndarray) -> np.ndarray:
    """``np.count_nonzero(mask, axis=1)`` of a 2-d bool array; one row counted flat (several
    times faster than the per-axis count)."""
    if mask.shape[0] == 1:
        return np.array([np.count_nonzero(mask)])
    return np.count_nonzero(mask, axis=1)


def _below(ctx: RowContext, cap: float) -> np.ndarray | None:
    """(u, C) mask of candidates whose popularity percentile is below ``cap`` (None: no cap)."""
    if cap >= 1.0:
        return None
    return ctx.cand_pop_pct < cap


def _relevance_floor(ctx: RowContext, floor: float) -> np.ndarray | None:
    """(u, C) mask of candidates at or above the relevance floor: a relevance percentile
    among the viewer's candidates (``ctx.rel_pct``, the page's score). Viewers without
    personalization have no model relevance: the floor does not apply to them. None: no
    floor (0)."""
    if floor <= 0.0:
        return None
    return (ctx.rel_pct >= floor) | ~ctx.batch.personalized[:, None]


def _both(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    return a if b is None else a & b


# Parameter checks of the row kinds (fairrec._checks, the shared validators; the wording of
# the messages is the row kinds' own). Each raises ParameterError naming the parameter.


def _check_floor(owner: str, value: Any, name: str = "min_relevance") -> float:
    """A relevance floor or other share in [0, 1)."""
    return check_fraction(value, name, owner, high_open=True, expected="in [0, 1)")


def _check_cap(owner: str, name: str, value: Any) -> float:
    """A popularity cap or other share in (0, 1]."""
    return check_fraction(value, name, owner, low_open=True, expected="in (0, 1]")


def _check_share(owner: str, name: str, value: Any) -> float:
    """A share in [0, 1]."""
    return check_fraction(value, name, owner, expected="in [0, 1]")


def _compact_pool(
    ctx: RowContext, cand: np.ndarray, rel: np.ndarray, valid: np.ndarray, pool: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the first ``pool`` valid candidates of each viewer (relevance order preserved):
    re-rankers then work on ``pool`` columns, not on every candidate."""
    order = np.argsort(~valid, axis=1, kind="stable")[:, :pool]
    return cand[ctx.ar, order], rel[ctx.ar, order], valid[ctx.ar, order]


def _first_valid(valid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first ``size`` valid positions, in order: ``(u, w)`` positions (0 where a
    row has fewer) and the ``(u, w)`` mask of the real ones, ``w`` the most any row keeps.

    The valid head of :func:`_compact_pool`'s order (a stable sort puts the valid entries
    first, in order), found by counting instead of sorting; the invalid tail is left out.
    """
    u = valid.shape[0]
    if u == 1:
        at = np.flatnonzero(valid[0])[:size]
        return at[None, :], np.ones((1, at.size), dtype=bool)
    total = _row_counts(valid)
    count = np.minimum(total, size)
    w = int(count.max()) if u else 0
    live = np.arange(w) < count[:, None]
    rows, cols = np.nonzero(valid)
    rank = np.arange(rows.size) - np.repeat(np.cumsum(total) - total, total)  # place in row
    keep = rank < w  # w <= size: the first count[row] of each row
    at = np.zeros((u, w), dtype=np.int64)
    at[rows[keep], rank[keep]] = cols[keep]
    return at, live


def _pick(
    ctx: RowContext, cand: np.ndarray, picks: np.ndarray, rel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Map re-ranker positions back to title indices and scores (``-1`` stays padding)."""
    got = picks >= 0
    safe = np.where(got, picks, 0)
    items = np.where(got, cand[ctx.ar, safe], -1)
    scores = np.where(got, rel[ctx.ar, safe], -np.inf)
    return items, scores


def _normalize(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Min-max scale each row of ``x`` to [0, 1] over its ``valid`` entries (all entries when
    ``valid`` is None; the others come out as they may)."""
    lo = (x if valid is None else np.where(valid, x, np.inf)).min(axis=1, keepdims=True)
    hi = (x if valid is None else np.where(valid, x, -np.inf)).max(axis=1, keepdims=True)
    span = hi - lo
    return (x - np.where(np.isfinite(lo), lo, 0.0)) / np.where(span > 0, span, 1.0)


def _genre_sets(genres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each title's genre-set id (``(n_items,)`` int64) and the ``(K, g)`` bool rows of the K
    distinct genre sets (genres > 0) in ascending id order.

    Up to 64 genres, a set is found as the integer whose bit ``j`` is genre ``j`` (one 1-d
    unique, ~20x faster than a unique of the bool rows; the ids number the sets in another
    order, and callers use them only as ids); beyond, by a unique of the rows.
    """
    on = genres > 0
    n_genres = on.shape[1]
    if n_genres > 64:
        sets, inverse = np.unique(on, axis=0, return_inverse=True)
        return inverse.ravel().astype(np.int64), sets
    bits = np.left_shift(np.uint64(1), np.arange(n_genres, dtype=np.uint64))
    codes = np.bitwise_or.reduce(np.where(on, bits, np.uint64(0)), axis=1)
    uniq, inverse = np.unique(codes, return_inverse=True)
    sets = (uniq[:, None] & bits[None, :]) != 0
    return inverse.ravel().astype(np.int64), sets


#: :func:`_set_jaccard` keeps a table for catalogs of at most this many distinct genre sets
#: (``(K, K)`` float64: 32 MiB at the cap; 1,054 sets, 8.5 MiB, for 20,000 synthetic titles;
#: tables of at most four catalog arrays are kept)
_SET_TABLE_MAX = 2048

_SET_TABLES: dict[int, tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]] = {}


def _set_jaccard(genres: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Each title's genre-set id (``(n_items,)`` int64) and the ``(K, K)`` float64 Jaccard
    index of the K distinct genre sets, for binary (0/1) ``genres``; None for other genres
    or more than ``_SET_TABLE_MAX`` sets. Cached per catalog array.

    The index is :class:`~fairrec.rerank._similarity.Similarity`'s for binary rows: the
    intersection and union sizes as exact float64 integers, their quotient, 0 where the
    union is empty -- so a lookup gives the bits a product of the rows would.
    """
    hit = _SET_TABLES.get(id(genres))
    if hit is not None and hit[0] is genres:
        return hit[1]
    out = None
    g = np.asarray(genres)
    if g.ndim == 2 and g.shape[1] and bool(((g == 0) | (g == 1)).all()):
        inverse, sets = _genre_sets(g)
        if len(sets) <= _SET_TABLE_MAX:
            rows = sets.astype(np.float64)
            table = rows @ rows.T  # intersection sizes
            size = rows.sum(axis=1)
            union = size[:, None] + size[None, :]
            union -= table
            # an empty union has an empty intersection: 0 / 1 is Similarity's 0 there
            np.maximum(union, 1.0, out=union)
            np.divide(table, union, out=table)
            out = (inverse, table)
    if len(_SET_TABLES) > 3:  # a few catalogs (each refit has its own array), not a leak
        _SET_TABLES.clear()
    _SET_TABLES[id(genres)] = (genres, out)
    return out


def _check_pool(owner: str, value: Any, name: str = "pool") -> int:
    """A pool size or other count: an int >= 1."""
    out = check_int(value, name, owner)
    assert out is not None
    return out


def _first_allowed(order: np.ndarray, blocked: np.ndarray, pool: int, scan: int = 4) -> np.ndarray:
    """Per viewer, the first ``pool`` titles of a shared ``order`` that are not ``blocked``.

    Only the first ``scan * pool`` titles of the order are looked at (the pool of a popular
    row needs no more); ``-1`` pads a viewer for whom fewer are allowed there.
    """
    head = order[: scan * pool]
    ok = ~blocked[:, head]
    pos = np.cumsum(ok, axis=1) - 1
    sel = ok & (pos < pool)
    out = np.full((blocked.shape[0], min(pool, len(head))), -1, dtype=np.int64)
    rows, cols = np.nonzero(sel)
    out[rows, pos[rows, cols]] = head[cols]
    return out


def mark_taken(taken: np.ndarray, items: np.ndarray, applies: np.ndarray) -> None:
    """Mark a row's titles as placed on each page, in place.

    Page assembly calls it after each row so that later rows never repeat a title; a row
    kind that builds several rows (e.g. one per genre) calls it between them.

    Parameters
    ----------
    taken : ndarray of bool, shape (u, n_items)
        Titles already placed on each viewer's page; updated in place.
    items : ndarray of int, shape (u, k)
        The row's title indices per viewer, ``-1`` padded (:attr:`RowBatch.items`).
    applies : ndarray of bool, shape (u,)
        Viewers the row is shown to (:attr:`RowBatch.applies`); the others' pages are left
        as they are.
    """
    who, at = np.nonzero((items >= 0) & applies[:, None])
    taken[who, items[who, at]] = True


def _catalog_floor(ctx: RowContext, q: float, rows: np.ndarray | None = None) -> np.ndarray:
    """(u, 1) each viewer's ``q`` quantile (lower) of the model scores of the titles that
    may be shown to them (unseen, not excluded): the score of rank
    ``floor(q * (count - 1))`` in ascending order among the ``count`` allowed titles
    (``inf`` when none is allowed). An order statistic (:func:`_kth_smallest`), not a sort
    of every viewer's scores. With ``rows`` (viewer positions): those viewers' floors only,
    ``(len(rows), 1)``."""
    scores, blocked = ctx.scores, ctx.blocked
    if rows is not None:
        scores, blocked = scores[rows], blocked[rows]
    allowed = ~blocked
    count = np.count_nonzero(allowed, axis=1)
    rank = np.floor(q * np.maximum(count - 1, 0)).astype(np.int64)
    n_items = scores.shape[1]
    # blocked titles count as -inf, below every allowed one: the rank among all cells
    at = np.minimum(n_items - count + rank, n_items - 1)
    thr = np.empty(len(at), dtype=scores.dtype)
    # blocks of viewers: each row's order statistic is its own, and a block's passes over
    # its scores stay in cache (a 256-viewer batch at 20k titles is 20 MB)
    for lo in range(0, len(at), _FLOOR_BLOCK):
        part = slice(lo, lo + _FLOOR_BLOCK)
        thr[part] = _kth_smallest(np.where(allowed[part], scores[part], -np.inf), at[part])
    return np.where(count > 0, thr, np.inf)[:, None]


def _floor_at_most(ctx: RowContext, q: float, x: np.ndarray) -> np.ndarray:
    """(u,) whether each viewer's :func:`_catalog_floor` is certainly at most ``x[v]`` (a
    finite score of the scores' dtype), by one count instead of an order statistic.

    The floor is the cell of rank ``n_items - count + rank`` (ascending) of the viewer's
    scores with the blocked cells at ``-inf``, so it is at most ``x`` exactly when more than
    that many cells are at most ``x``. The cells counted here are the allowed ones at most
    ``x`` and the blocked ones that hold ``-inf``; a blocked cell holding ``+inf`` or NaN is
    not counted, which can only make the answer a wrong False (the caller then computes the
    floor), never a wrong True.
    """
    n_items = ctx.scores.shape[1]
    count = n_items - _row_counts(ctx.blocked)
    rank = np.floor(q * np.maximum(count - 1, 0)).astype(np.int64)
    at_most = _row_counts(ctx.scores <= x[:, None])
    return (count > 0) & (at_most > n_items - count + rank)


#: viewers per block of :func:`_catalog_floor`
_FLOOR_BLOCK = 32


#: :func:`_kth_smallest` samples every ``_KTH_STRIDE``-th cell of rows longer than
#: ``_KTH_SAMPLE_ABOVE`` cells
_KTH_STRIDE = 8
_KTH_SAMPLE_ABOVE = 2048


def _kth_smallest(x: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(u,) the value of rank ``at[v]`` (0-based, ascending) of each row of ``x``, exactly.

    ``x`` is a (u, m) float array without NaN. Long rows are not partitioned whole: a sorted
    strided sample brackets each row's rank with a band of values about four standard
    deviations wide, the cells below the band are counted, and only the cells inside it are
    sorted. A row whose band misses its rank (improbable) gets the exact partition of the
    row; so does every row when rows are short.
    """
    u, m = x.shape
    out = np.empty(u, dtype=x.dtype)
    if u == 0:
        return out
    redo = np.ones(u, dtype=bool)
    if u == 1 and m > _KTH_SAMPLE_ABOVE:  # one row: the same band, on 1-d arrays
        got = _kth_of_row(x[0], int(at[0]))
        if got is not None:
            out[0] = got
            return out
    elif m > _KTH_SAMPLE_ABOVE:
        sample = np.sort(x[:, ::_KTH_STRIDE], axis=1)
        ns = sample.shape[1]
        margin = int(2.0 * np.sqrt(ns)) + 2  # 4 sd of a binomial sample rank, at most
        centre = (at * ns) // m
        lo_at, hi_at = centre - margin, centre + margin
        ar = np.arange(u)
        lo = np.where(lo_at >= 0, sample[ar, np.clip(lo_at, 0, ns - 1)], -np.inf)
        hi = np.where(hi_at < ns, sample[ar, np.clip(hi_at, 0, ns - 1)], np.inf)
        below = np.count_nonzero(x < lo[:, None], axis=1)
        band = (x >= lo[:, None]) & (x <= hi[:, None])
        flat = np.flatnonzero(band)
        rows = flat // m
        counts = np.bincount(rows, minlength=u)
        pos = at - below
        ok = (pos >= 0) & (pos < counts)
        if ok.any():
            start = np.cumsum(counts) - counts
            table = np.full((u, int(counts.max())), np.inf, dtype=x.dtype)
            table[rows, np.arange(flat.size) - start[rows]] = x.ravel()[flat]
            table.sort(axis=1)
            got = table[ar, np.clip(pos, 0, table.shape[1] - 1)]
            out[ok] = got[ok]
        redo = ~ok
    if redo.any():
        sub, k = x[redo], at[redo]
        lo_k, hi_k = int(k.min()), int(k.max())
        part = np.partition(sub, [lo_k, hi_k] if hi_k > lo_k else lo_k, axis=1)
        mid = np.sort(part[:, lo_k : hi_k + 1], axis=1)
        out[redo] = mid[np.arange(len(k)), k - lo_k]
    return out


def _kth_of_row(row: np.ndarray, k: int) -> Any:
    """:func:`_kth_smallest` of one long row by its sampled band, or None when the band
    misses rank ``k``."""
    sample = row[::_KTH_STRIDE]
    ns = sample.size
    margin = int(2.0 * np.sqrt(ns)) + 2
    centre = (k * ns) // row.size
    lo_at, hi_at = centre - margin, centre + margin
    kth = [r for r in (lo_at, hi_at) if 0 <= r < ns]
    part = np.partition(sample, kth) if kth else sample
    lo = part[lo_at] if lo_at >= 0 else -np.inf
    hi = part[hi_at] if hi_at < ns else np.inf
    below = int(np.count_nonzero(row < lo))
    band = row[(row >= lo) & (row <= hi)]
    pos = k - below
    if not 0 <= pos < band.size:
        return None
    return np.partition(band, pos)[pos]
