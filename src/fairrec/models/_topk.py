"""The one top-k kernel of fairrec: the best ``n`` cells of each row of a score matrix.

Used by the candidate models (:func:`top_n`, exported as :func:`fairrec.models.top_n`) and by
the re-rankers (``fairrec.rerank``'s plain top-k, group orders and fills import the same
function from :mod:`fairrec.models`). One rule everywhere: descending score, ties by the
lower index (the internal position), a non-finite score counts as removed (``-1`` /
``-inf``); NaN ranks last.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from fairrec import _checks

__all__ = ["top_n"]

#: Every ``_SAMPLE_STRIDE``-th score of a row is sampled to guess a top-n threshold.
_SAMPLE_STRIDE = 8


def top_n(
    scores: np.ndarray,
    n: int,
    *,
    banned: sp.csr_matrix | None = None,
    exclude: sp.csr_matrix | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` per row with banned titles *removed* (never just pushed to the bottom).

    Parameters
    ----------
    scores : numpy.ndarray, shape (u, n_items)
        Modified in place: banned cells are set to ``-inf``.
    n : int
    banned, exclude : sparse (u, n_items) matrices or boolean arrays, optional
        Cells to remove (e.g. seen titles, titles a viewer excluded). A 1-D boolean array of
        length ``n_items`` applies to every row.

    Returns
    -------
    (indices, scores) : numpy.ndarray of shape (u, min(n, n_items))
        Sorted by descending score, ties by lower index; padded with ``-1`` / ``-inf``
        where fewer titles remain (a non-finite score counts as removed; NaN ranks last).

    Notes
    -----
    Small inputs (rows of at most ``_SORT_BELOW`` cells, ``_SORT_CELLS`` cells in all) are
    sorted whole with one stable sort, which costs less there than the selection below.
    Larger inputs are not sorted in full; rows of at most ``_SORT_BELOW`` cells take the exact
    threshold below at once (no sample). A threshold is guessed from a strided sample of each row
    and only the cells at or above it are sorted; where the guess keeps fewer than ``n``
    cells (or far too many), the exact ``n``-th largest score is the threshold instead.
    Every cell of the top ``n`` is at or above such a threshold, so the result is exact.
    """
    n = _checks.check_int(n, "n", "top_n")
    u, m = scores.shape
    for mask in (banned, exclude):
        _remove_cells(scores, mask)
    n = min(n, m)
    if u == 0 or n == 0 or scores.dtype.kind != "f":
        return _top_n_full(scores, n)
    if m <= _SORT_BELOW and u * m <= _SORT_CELLS:
        return _top_n_sorted(scores, n)
    if u == 1:
        idx, sc = _top_n_row(scores[0], n)
        return idx[None], sc[None]
    return _top_n_rows(scores, n)


#: :func:`top_n` sorts whole rows (one stable sort) when they hold at most ``_SORT_BELOW``
#: cells and the input at most ``_SORT_CELLS``: there one sort costs less than selecting.
#: Rows of at most ``_SORT_BELOW`` cells are not sampled: their exact threshold (a partition)
#: is cheap and keeps few cells to sort. ``benchmarks/bench_topk.py`` times both callers'
#: shapes against the kernels this one replaced. Every path gives the same result.
_SORT_BELOW = 512
_SORT_CELLS = 1 << 12


def _top_n_sorted(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` by one stable sort of whole rows (small float inputs)."""
    idx = np.argsort(np.negative(scores), axis=1, kind="stable")[:, :n]  # NaN sorts last
    idx = idx.astype(np.int64, copy=False)
    if scores.shape[0] == 1:
        sc = scores[0, idx[0]][None]
    else:
        sc = np.take_along_axis(scores, idx, axis=1)
    removed = ~np.isfinite(sc)
    if removed.any():
        idx[removed] = -1
        sc[removed] = -np.inf
    return idx, sc


def _remove_cells(scores: np.ndarray, mask: sp.csr_matrix | np.ndarray | None) -> None:
    """Set the cells of ``mask`` (stored entries of a sparse matrix, or True) to ``-inf``."""
    if mask is None:
        return
    if sp.issparse(mask):
        mask = mask.tocsr()  # the matrix itself when already CSR
        indptr = mask.indptr
        cols = mask.indices[indptr[0] : indptr[-1]]
        if scores.shape[0] == 1 and indptr.size == 2:
            scores[0, cols] = -np.inf
        else:
            scores[np.repeat(np.arange(scores.shape[0]), np.diff(indptr)), cols] = -np.inf
        return
    mask = np.asarray(mask, dtype=bool)
    if mask.shape in (scores.shape, scores.shape[1:]) and not mask.any():
        return  # nothing to remove (a mask of another shape still raises below)
    if mask.ndim == 1:
        scores[:, mask] = -np.inf
    elif mask.shape == scores.shape:
        np.putmask(scores, mask, -np.inf)  # no index array (boolean indexing builds one)
    else:
        scores[mask] = -np.inf  # raises the usual IndexError for a mask of another shape


def _sample_plan(m: int, n: int) -> tuple[int, int] | None:
    """``(rank, cap)`` of the sampled threshold guess for rows of ``m`` cells, or None.

    The guess is the ``rank``-th largest sampled score: about ``n`` plus four standard
    deviations of cells lie at or above it. A guess keeping more than ``cap`` cells is poor.
    """
    n_sample = -(-m // _SAMPLE_STRIDE)
    expected = n * n_sample / m  # sampled cells expected among the top n
    rank = int(expected + 4.0 * math.sqrt(expected)) + 2
    if m < 4 * n or rank >= n_sample or m <= _SORT_BELOW:
        return None  # too few cells to skip (or short rows, partitioned fast): exact threshold
    return rank, 2 * _SAMPLE_STRIDE * rank + 64


def _guess_thresholds(scores: np.ndarray, rank: int, lowest: float) -> np.ndarray:
    """Each row's ``rank``-th largest sampled score, at least ``lowest``."""
    sample = np.negative(scores[..., ::_SAMPLE_STRIDE])  # negated: NaN sorts last
    sample.partition(rank - 1, axis=-1)
    return np.fmax(-sample[..., rank - 1], lowest)


def _nth_largest(scores: np.ndarray, n: int, lowest: float) -> np.ndarray:
    """Each row's ``n``-th largest score, at least ``lowest`` (also where NaN would be)."""
    neg = np.negative(scores)  # NaN sorts last
    neg.partition(n - 1, axis=-1)
    return np.fmax(-neg[..., n - 1], lowest)


def _finish(
    idx: np.ndarray, sc: np.ndarray, valid: np.ndarray | bool
) -> tuple[np.ndarray, np.ndarray]:
    """Mark padding and non-finite scores as removed (``-1`` / ``-inf``), in place."""
    removed = ~(np.isfinite(sc) & valid)
    idx[removed] = -1
    sc[removed] = -np.inf
    return idx, sc


def _top_n_row(row: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` of one row (1-D float ``row``, 1 <= ``n`` <= its length)."""
    lowest = np.finfo(row.dtype).min  # ``>= lowest`` keeps every cell above -inf
    plan = _sample_plan(row.size, n)
    cols = None
    if plan is not None:
        rank, cap = plan
        cols = np.flatnonzero(row >= _guess_thresholds(row, rank, lowest))
        if not n <= cols.size <= cap:
            cols = None
    if cols is None:
        cols = np.flatnonzero(row >= _nth_largest(row, n, lowest))
    keys = _sort_keys(row, cols)
    if keys is not None:
        keys.sort()
        top, _ = _decode(keys[:n], row.size)
    else:
        # cols ascend, so a stable sort breaks ties by the lower index
        top = cols[np.argsort(-row[cols], kind="stable")[:n]]
    if top.size == n:
        return _finish(top, row[top], True)
    idx = np.full(n, -1, dtype=np.int64)
    sc = np.full(n, -np.inf, dtype=row.dtype)
    idx[: top.size] = top
    sc[: top.size] = row[top]
    return _finish(idx, sc, idx >= 0)


def _top_n_rows(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` of several rows (float scores, 1 <= ``n`` <= the row length)."""
    u, m = scores.shape
    flat, counts = _top_cells(scores, n)
    rows, cols = np.divmod(flat, m)
    pos = np.arange(flat.size) - (np.cumsum(counts) - counts)[rows]  # place in its row
    width = max(int(counts.max()), n)
    keys = _sort_keys(scores, flat, m)
    if keys is not None:
        table = np.full((u, width), _PAD, dtype=np.uint64)
        table[rows, pos] = keys
        table.sort(axis=1)
        idx, valid = _decode(table[:, :n], m)
        idx[~valid] = 0
        sc = np.take(scores, idx + (np.arange(u) * m)[:, None])
        return _finish(idx, sc, valid)
    # kept cells ascend by index within a row, so a stable sort breaks ties by index
    neg = np.full((u, width), np.nan, dtype=scores.dtype)  # NaN padding sorts last
    neg[rows, pos] = -np.take(scores, flat)
    cand = np.full((u, width), -1, dtype=np.int64)
    cand[rows, pos] = cols
    order = np.argsort(neg, axis=1, kind="stable")[:, :n]
    idx = np.take_along_axis(cand, order, axis=1)
    sc = -np.take_along_axis(neg, order, axis=1)
    return _finish(idx, sc, idx >= 0)


#: Padding above every sort key (a key this large would be a NaN's, and NaN is never kept).
_PAD = np.iinfo(np.uint64).max


def _sort_keys(scores: np.ndarray, flat: np.ndarray, m: int | None = None) -> np.ndarray | None:
    """One unique uint64 per kept cell ordering as (descending score, ascending index).

    ``flat`` indexes ``scores`` flattened (row-major); keys hold the index within the row
    (``flat % m``, or ``flat`` itself for a 1-D row) in their low bits. A plain (fast,
    unstable) sort of the keys then is the exact order. None unless the scores are float32.
    """
    width = scores.shape[-1] if m is None else m
    if scores.dtype != np.float32 or width > 2**32:
        return None
    cols = flat if m is None else flat % m
    vals = scores[flat] if m is None else np.take(scores, flat)
    bits = (vals + np.float32(0.0)).view(np.int32)  # + 0.0: -0.0 ties 0.0
    # as unsigned ints, ``desc`` orders like the negated floats
    desc = bits ^ (~(bits >> np.int32(31)) & np.int32(0x7FFFFFFF))
    shift = np.uint64(_index_bits(width))
    return (desc.view(np.uint32).astype(np.uint64) << shift) | cols.astype(np.uint64)


def _index_bits(m: int) -> int:
    """Bits that hold an index below ``m``."""
    return max((m - 1).bit_length(), 1)


def _decode(keys: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices held by sort keys (int64) and where they are real keys (not padding)."""
    idx = (keys & np.uint64((1 << _index_bits(m)) - 1)).astype(np.int64)
    return idx, keys != _PAD


def _top_cells(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat (row-major) indices of a superset of each row's top ``n`` cells, and counts.

    A row keeps the cells at or above a threshold with at least ``n`` cells at or above it,
    or every cell above ``-inf`` where fewer remain (NaN is never kept). Where many cells
    tie at the threshold, only the lowest-index ties the top ``n`` can use are kept, which
    bounds the cells kept per row.
    """
    u, m = scores.shape
    lowest = np.finfo(scores.dtype).min
    plan = _sample_plan(m, n)
    if plan is not None:
        rank, cap = plan
        t = _guess_thresholds(scores, rank, lowest)
        keep = scores >= t[:, None]
        flat = np.flatnonzero(keep)
        counts = _row_counts(flat, u, m)
        redo = np.flatnonzero((counts < n) | (counts > cap))
        if redo.size:
            sub = scores[redo]
            t[redo] = _nth_largest(sub, n, lowest)
            keep[redo] = sub >= t[redo, None]
            flat = np.flatnonzero(keep)
            counts = _row_counts(flat, u, m)
    else:
        cap = 2 * n + 64
        t = _nth_largest(scores, n, lowest)
        flat = np.flatnonzero(scores >= t[:, None])
        counts = _row_counts(flat, u, m)
    if counts.max() > cap:
        # many cells tie at the threshold: keep those above it and the first needed ties
        row = flat // m
        above = np.take(scores, flat) > t[row]
        tied = np.cumsum(~above)
        before = np.concatenate(([0], tied))[np.cumsum(counts) - counts]  # ties before row
        need = n - (counts - np.bincount(row[~above], minlength=u))
        ok = above | (tied - before[row] <= need[row])
        flat = flat[ok]
        counts = np.bincount(row[ok], minlength=u)
    return flat, counts


def _row_counts(flat: np.ndarray, u: int, m: int) -> np.ndarray:
    """How many of the sorted flat indices ``flat`` fall in each of ``u`` rows of ``m``."""
    return np.diff(np.searchsorted(flat, np.arange(u + 1) * m))


def _top_n_full(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` by a partition of whole rows (empty input, non-float scores)."""
    u, m = scores.shape
    if n < m:
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    else:
        part = np.broadcast_to(np.arange(m), (u, m)).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    # sort by (-score, index) for a stable, deterministic order
    order = np.lexsort((part, -part_scores), axis=1) if u else part
    idx = np.take_along_axis(part, order, axis=1)
    sc = np.take_along_axis(part_scores, order, axis=1)
    removed = ~np.isfinite(sc)
    idx[removed] = -1
    sc[removed] = -np.inf
    return idx.astype(np.int64), sc
