"""A record of the (training row, title) pairs a model was fitted on, for the leakage guard.

:func:`fairrec.evaluate` refuses a recommender whose *model* saw the test pairs. A
Recommender built with ``from_fitted`` serves a model fitted elsewhere, so the guard cannot
trust the recommender's own training matrix: every model remembers, at ``fit``, which pairs
it was fitted on. Small fits keep every pair (8 bytes each); above ``MAX_KEYS`` pairs a
deterministic hash sample of about ``MAX_KEYS`` pairs is kept, and the guard checks only the
test pairs that fall in the same sample (a pair is in the sample or not by its hash alone, so
a model fitted on the test data still shows about ``MAX_KEYS / nnz`` of them).

The record lives in memory only: it is never written to a model file, and a model restored
from arrays (``load``, or the copy ``forget`` makes) has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["TrainingPairs", "MAX_KEYS"]

#: most pairs kept (8 MiB of keys)
MAX_KEYS = 1 << 20

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _keys(rows: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    return rows.astype(np.uint64) * np.uint64(max(n_items, 1)) + items.astype(np.uint64)


def _in_sample(keys: np.ndarray, stride: int) -> np.ndarray:
    if stride == 1:
        return np.ones(keys.shape, dtype=bool)
    with np.errstate(over="ignore"):
        h = keys * _MIX
    h ^= h >> np.uint64(31)
    return h % np.uint64(stride) == 0


#: stored cells per block of rows when a canonical matrix is sampled block by block
_BLOCK = 1 << 22


def _row_blocks(indptr: np.ndarray, block: int) -> list[tuple[int, int]]:
    """Consecutive row ranges holding about ``block`` stored cells each (at least one row)."""
    n_rows = len(indptr) - 1
    if n_rows <= 0:
        return []
    cuts = np.searchsorted(indptr, np.arange(block, int(indptr[-1]), block), side="left")
    cuts = np.unique(np.clip(cuts, 1, n_rows))
    bounds = [0, *cuts.tolist(), n_rows]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _positive_keys(m: sp.csr_matrix, r0: int, r1: int) -> np.ndarray:
    """Keys of the stored cells with a weight > 0 in rows ``r0:r1``, in stored order
    (:func:`_keys` of their rows and titles, built row offset by row offset)."""
    lo, hi = int(m.indptr[r0]), int(m.indptr[r1])
    keys = np.repeat(
        np.arange(r0, r1, dtype=np.uint64) * np.uint64(max(m.shape[1], 1)),
        np.diff(m.indptr[r0 : r1 + 1]),
    )
    keys += m.indices[lo:hi].astype(np.uint64)
    pos = m.data[lo:hi] > 0
    return keys if pos.all() else keys[pos]


@dataclass(frozen=True)
class TrainingPairs:
    """Sorted keys ``row * n_items + item`` of the (sampled) training pairs."""

    keys: np.ndarray
    stride: int
    n_rows: int
    n_items: int

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> TrainingPairs:
        """The record of a CSR training matrix (stored cells with a weight > 0)."""
        m = matrix.tocsr()
        n_rows, n_items = m.shape
        # A canonical CSR (sorted, no duplicate cells: what fairrec's training matrix is)
        # lists its keys strictly increasing already, and its number of distinct positive
        # pairs is known up front: the sample is then taken block by block of rows (np.unique
        # on millions of keys was most of a fit's bookkeeping, and the full key arrays most
        # of its peak memory). Any other layout is sorted and deduplicated whole.
        n_pos = int(np.count_nonzero(m.data[: m.nnz] > 0))
        stride = max(1, -(-n_pos // MAX_KEYS))
        kept, last = [], -1
        for r0, r1 in _row_blocks(m.indptr, _BLOCK):
            keys = _positive_keys(m, r0, r1)
            if keys.size and (keys[0] <= last or not (keys[1:] > keys[:-1]).all()):
                break  # not canonical
            if keys.size:
                last = int(keys[-1])
                kept.append(keys[_in_sample(keys, stride)])
        else:
            keys = np.concatenate(kept) if kept else np.empty(0, dtype=np.uint64)
            return cls(keys=keys, stride=stride, n_rows=n_rows, n_items=n_items)
        keys = _positive_keys(m, 0, n_rows)
        keys.sort()
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
        stride = max(1, -(-keys.size // MAX_KEYS))
        keys = keys[_in_sample(keys, stride)]
        return cls(keys=keys, stride=stride, n_rows=n_rows, n_items=n_items)

    def seen(self, rows: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(checked, found)`` boolean masks over the given pairs.

        ``checked``: the pair could be looked up (a known row and title, in the sample);
        ``found``: it is one of the pairs the model was fitted on. ``rows`` are training-row
        positions (``-1``: a viewer the model has no row for), ``items`` title indices
        (``-1``: unknown).
        """
        rows = np.asarray(rows, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        checked = (rows >= 0) & (rows < self.n_rows) & (items >= 0) & (items < self.n_items)
        at = np.flatnonzero(checked)
        keys = _keys(rows[at], items[at], self.n_items)
        inside = _in_sample(keys, self.stride)
        checked[at[~inside]] = False
        at, keys = at[inside], keys[inside]
        found = np.zeros(rows.shape, dtype=bool)
        if keys.size and self.keys.size:
            pos = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
            found[at] = self.keys[pos] == keys
        return checked, found
