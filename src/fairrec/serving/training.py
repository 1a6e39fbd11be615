"""The training matrix: the kept events as one CSR row per training viewer, and the oldest
play summed into each of its cells (what a model file may keep is decided by it).

:mod:`fairrec.serving.gate` decides *which* events may train (consent, retention window);
this module turns the events it keeps into the matrices the model is fitted on and the
retention rule reads, with array operations over the events (no loop over viewers or plays).
The names are re-exported by :mod:`fairrec.serving.gate`, where they lived before.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from fairrec.data import Dataset

__all__ = [
    "training_matrix",
    "training_oldest",
    "training_cells",
    "cell_oldest",
    "NO_EVENT",
]


def _event_rows(data: Dataset, mask: np.ndarray, rows: np.ndarray | None) -> tuple:
    """Matrix row of each masked event, the mask reduced to the listed viewers, and the
    viewer index of each matrix row."""
    if rows is None:  # one row per viewer with a kept event, in dataset order
        users = data.users[mask]
        # each event's row is its viewer's rank among the viewers with a kept event: a table
        # over the viewers (np.unique(..., return_inverse=True) sorted every event)
        present = np.zeros(data.n_users, dtype=bool)
        present[users] = True
        rank = np.cumsum(present, dtype=np.int64) - 1
        return rank[users], mask, np.flatnonzero(present).astype(users.dtype, copy=False)
    rows = np.asarray(rows, dtype=np.int64)
    row_of_user = np.full(data.n_users, -1, dtype=np.int64)
    row_of_user[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
    mask = mask & (row_of_user[data.users] >= 0)
    return row_of_user[data.users[mask]], mask, rows


def training_matrix(
    data: Dataset, mask: np.ndarray, rows: np.ndarray | None = None
) -> tuple[sp.csr_matrix, np.ndarray]:
    """CSR training matrix of the masked events and the dataset index of each of its rows.

    Rows are the viewers with at least one kept event, in dataset order, or with ``rows``
    (viewer indices, ``-1``: a viewer absent from the data, an empty row) exactly those, in
    that order; duplicates summed.
    """
    row_of_event, mask, rows_users = _event_rows(data, mask, rows)
    shape = (len(rows_users), data.n_items)
    weights = data.weights[mask].astype(np.float32, copy=False)
    items = data.items[mask]
    if row_of_event.size and bool((row_of_event[1:] >= row_of_event[:-1]).all()):
        # events already grouped by row (a dataset's events are grouped by viewer): the CSR
        # arrays directly, no COO -> CSR conversion; sum_duplicates sorts each row's titles
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of_event, minlength=shape[0]), out=indptr[1:])
        m = sp.csr_matrix((weights, items, indptr), shape=shape)
    else:
        m = sp.csr_matrix((weights, (row_of_event, items)), shape=shape, dtype=np.float32)
    m.sum_duplicates()
    return m, rows_users


def training_oldest(
    data: Dataset, mask: np.ndarray, train: sp.csr_matrix, rows: np.ndarray
) -> sp.csr_matrix | None:
    """Time (int64 ns) of the oldest event summed into each cell of a training matrix.

    ``train`` and ``rows`` are :func:`training_matrix`'s output for ``mask``. The result has
    the sparsity of ``train``, so it can be row-sliced along with it; ``None`` when the data
    has no timestamps. A model file keeps a cell only while its oldest event is inside the
    retention window, so no play older than the window is ever written.
    """
    if data.timestamps is None:
        return None
    row_of_event, mask, _ = _event_rows(data, mask, rows)
    return cell_oldest(row_of_event, data.items[mask], data.timestamps[mask].view(np.int64), train)


def training_cells(
    data: Dataset, mask: np.ndarray, rows: np.ndarray | None = None, *, block: int = 1 << 20
) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix | None]:
    """:func:`training_matrix` and :func:`training_oldest` of ``mask`` from one sort.

    Returns ``(train, rows, oldest)``, equal to ``training_matrix(data, mask, rows)`` and
    ``training_oldest`` of it (``oldest`` is ``None`` without timestamps). When the kept
    events are grouped by matrix row (a dataset's events are grouped by viewer), the events
    of about ``block`` at a time, cut at row boundaries, are put in cell order by one stable
    ``argsort`` of their cell keys, and each cell's weight sum and oldest time are reduced
    from that order (``np.add.reduceat`` / ``np.minimum.reduceat``): one sort instead of
    scipy's per-row sort of the matrix's titles plus a second sort for the times. Duplicate
    cells' weights are summed in event order. Otherwise the two functions are called.
    """
    row_of_event, kept, rows_users = _event_rows(data, mask, rows)
    grouped = row_of_event.size < 2 or bool((row_of_event[1:] >= row_of_event[:-1]).all())
    if not grouped or data.timestamps is None:
        train, rows_users = training_matrix(data, mask, rows)
        return train, rows_users, training_oldest(data, mask, train, rows_users)
    n_rows, n_items, n = len(rows_users), data.n_items, row_of_event.size
    # the event arrays as they are when every event is kept (no copies of 50M plays)
    every = bool(kept.all())
    items = data.items if every else data.items[kept]
    weights = (data.weights if every else data.weights[kept]).astype(np.float32, copy=False)
    times = (data.timestamps if every else data.timestamps[kept]).view(np.int64)
    cut = np.searchsorted(row_of_event, np.arange(n_rows + 1), side="left")
    counts = np.zeros(n_rows, dtype=np.int64)
    # the cells, written block after block (at most one per event)
    index_dtype = np.int32 if n_items <= np.iinfo(np.int32).max else np.int64
    out_items = np.empty(n, dtype=index_dtype)
    out_weights = np.empty(n, dtype=np.float32)
    out_times = np.empty(n, dtype=np.int64)
    lo = at = 0
    while lo < n:
        hi = min(lo + max(int(block), 1), n)
        r0 = int(row_of_event[lo])
        hi = int(cut[int(row_of_event[hi - 1]) + 1])  # whole rows only
        key = (row_of_event[lo:hi] - r0).astype(np.int64) * n_items + items[lo:hi]
        order, starts, ukeys = _cell_runs(key)
        del key
        cell_row = ukeys // n_items
        del ukeys
        counts[r0 : r0 + int(cell_row[-1]) + 1] = np.bincount(cell_row)
        end = at + starts.size
        out_items[at:end] = items[lo:hi][order[starts]]
        np.add.reduceat(weights[lo:hi][order], starts, out=out_weights[at:end])
        np.minimum.reduceat(times[lo:hi][order], starts, out=out_times[at:end])
        at, lo = end, hi
    if at < n:  # duplicate cells were summed: the arrays to their length
        out_items, out_weights, out_times = (
            out_items[:at].copy(),
            out_weights[:at].copy(),
            out_times[:at].copy(),
        )
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    shape = (n_rows, n_items)
    # scipy picks the index dtype (int32 when it fits), as for training_matrix's matrix
    train = sp.csr_matrix((out_weights, out_items, indptr), shape=shape)
    oldest = sp.csr_matrix((out_times, train.indices.copy(), train.indptr.copy()), shape=shape)
    train.has_sorted_indices = True
    train.has_canonical_format = True
    return train, rows_users, oldest


#: The time :func:`cell_oldest` gives a cell no event falls in (int64 ns): older than any
#: retention window, so such a cell is never kept.
NO_EVENT = np.iinfo(np.int64).min + 1


def cell_oldest(
    rows: np.ndarray,
    items: np.ndarray,
    times: np.ndarray,
    like: sp.csr_matrix,
    *,
    block: int = 1 << 20,
) -> sp.csr_matrix:
    """Per cell of ``like``, the smallest of ``times`` among the events ``(rows, items)``.

    The events are put in cell order by a stable ``argsort`` of their cell keys and each
    cell's minimum is taken with ``np.minimum.reduceat``; no sort by time, no search per
    event. Events grouped by row (as a dataset's are, viewer by viewer) are sorted in blocks
    of about ``block`` events cut at row boundaries, so the sort's temporaries stay the size
    of a block instead of the size of the data (a 1M-viewer fit sorted 50M keys at once).
    A cell of ``like`` no event falls in gets :data:`NO_EVENT`; events outside ``like``'s
    cells are ignored.
    """
    rows = np.asarray(rows).astype(np.int64, copy=False)
    items = np.asarray(items).astype(np.int64, copy=False)
    times = np.asarray(times).astype(np.int64, copy=False)
    n = like.nnz
    best = np.full(n, NO_EVENT, dtype=np.int64)
    grouped = rows.size < 2 or bool((rows[1:] >= rows[:-1]).all())
    if not grouped:  # any order: one sort of every event
        _oldest_into(best, rows, items, times, like, 0, like.shape[0])
    else:
        # block edges at row boundaries: the event starting each row's first block
        cut = np.searchsorted(rows, np.arange(like.shape[0] + 1), side="left")
        lo = 0
        while lo < rows.size:
            hi = min(lo + max(int(block), 1), rows.size)
            r0 = max(int(rows[lo]), 0)  # (negative rows are no cell's: ignored)
            r1 = int(rows[hi - 1]) + 1  # rows [r0, r1) are whole in events [lo, hi)
            hi = int(cut[r1]) if r1 < cut.size else rows.size
            if r0 < like.shape[0]:  # events of rows past like's are ignored
                r1 = min(r1, like.shape[0])
                _oldest_into(best, rows[lo:hi], items[lo:hi], times[lo:hi], like, r0, r1)
            lo = hi
    return sp.csr_matrix((best, like.indices[:n].copy(), like.indptr.copy()), shape=like.shape)


def _cell_runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The events' cell order: ``(order, starts, ukeys)`` -- the stable ``argsort`` of the
    cell keys, where each cell's run of events starts in that order, and the cells' keys
    (ascending, each once)."""
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(key.size, dtype=bool)
    np.not_equal(key[1:], key[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return order, starts, key[starts]


def _oldest_into(
    best: np.ndarray,
    rows: np.ndarray,
    items: np.ndarray,
    times: np.ndarray,
    like: sp.csr_matrix,
    r0: int,
    r1: int,
) -> None:
    """Write into ``best`` the oldest time of each cell of ``like``'s rows ``[r0, r1)``;
    ``rows`` lie in that range except in the unblocked call (``r0=0, r1=all rows``)."""
    n_items = like.shape[1]
    inside = (rows >= r0) & (rows < r1)
    if not inside.all():
        rows, items, times = rows[inside], items[inside], times[inside]
    order, starts, ukeys = _cell_runs((rows - r0) * n_items + items)
    umin = np.minimum.reduceat(times[order], starts) if starts.size else times[:0].copy()
    del order, starts
    c0, c1 = int(like.indptr[r0]), int(like.indptr[r1])
    per_row = np.diff(like.indptr[r0 : r1 + 1])
    cell_keys = np.repeat(np.arange(r1 - r0, dtype=np.int64) * n_items, per_row)
    cell_keys += like.indices[c0:c1]
    if np.array_equal(cell_keys, ukeys):  # the usual case: like is these events' matrix
        best[c0:c1] = umin
    elif ukeys.size:  # other cells, other order, duplicate cells: look each cell up
        pos = np.minimum(np.searchsorted(ukeys, cell_keys), ukeys.size - 1)
        hit = ukeys[pos] == cell_keys
        best[c0:c1][hit] = umin[pos[hit]]
