"""The fit's bookkeeping (training matrix, oldest event per cell) against its definition.

``training_matrix`` looks viewers up in a table rather than sorting the events, and
``cell_oldest`` sorts the events by cell once (no binary search per event): both must give
what the plain definitions give, for events in any order, duplicates and ties included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fairrec.serving.gate import (
    NO_EVENT,
    cell_oldest,
    training_cells,
    training_matrix,
    training_oldest,
)

EVENTS = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 4), st.integers(-5, 5), st.integers(0, 3)),
    max_size=40,
)


def _dataset(events):
    import fairrec as fr

    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u, _, _, _ in events],
            "item_id": [f"i{i}" for _, i, _, _ in events],
            "weight": [float(w) for _, _, _, w in events],
            "time": pd.to_datetime([t for _, _, t, _ in events], unit="D", origin="2024-01-01"),
        }
    )
    catalog = pd.DataFrame({"item_id": [f"i{i}" for i in range(5)], "title": list("abcde")})
    return fr.Dataset.from_pandas(frame, catalog, weight_col="weight", time_col="time")


@settings(max_examples=40, deadline=None)
@given(events=EVENTS.filter(bool), keep=st.lists(st.booleans(), min_size=40, max_size=40))
def test_training_matrix_and_oldest_match_their_definition(events, keep):
    data = _dataset(events)
    mask = np.array(keep[: data.n_events], dtype=bool)
    train, rows = training_matrix(data, mask)
    users, items = data.users[mask], data.items[mask]
    # rows: the viewers with a kept event, in dataset order
    np.testing.assert_array_equal(rows, np.unique(users))
    want = sp.coo_matrix(
        (data.weights[mask], (np.searchsorted(rows, users), items)),
        shape=(len(rows), data.n_items),
    ).toarray()
    np.testing.assert_allclose(train.toarray(), want, rtol=1e-6, atol=1e-6)
    assert train.has_canonical_format
    oldest = training_oldest(data, mask, train, rows)
    assert oldest.nnz == train.nnz
    np.testing.assert_array_equal(oldest.indptr, train.indptr)
    np.testing.assert_array_equal(oldest.indices, train.indices)
    times = data.timestamps[mask].view(np.int64)
    r = np.searchsorted(rows, users)
    expect = {}
    for rr, it, t in zip(r.tolist(), items.tolist(), times.tolist()):
        expect[(rr, it)] = min(t, expect.get((rr, it), t))
    got = oldest.tocoo()
    assert {
        (a, b): c for a, b, c in zip(got.row.tolist(), got.col.tolist(), got.data.tolist())
    } == expect


@settings(max_examples=40, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(-(10**12), 10**12)),
        max_size=30,
    ),
    cells=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), max_size=20),
    shuffle=st.booleans(),
)
def test_cell_oldest_on_any_layout(events, cells, shuffle):
    """Cells no event falls in get NO_EVENT; unsorted or duplicate cells of ``like`` each
    get their cell's minimum; events outside ``like`` are ignored."""
    rows = np.array([e[0] for e in events], dtype=np.int64)
    items = np.array([e[1] for e in events], dtype=np.int64)
    times = np.array([e[2] for e in events], dtype=np.int64)
    cr = np.array([c[0] for c in cells], dtype=np.int64)
    ci = np.array([c[1] for c in cells], dtype=np.int64)
    order = np.lexsort((-ci if shuffle else ci, cr))  # reversed columns: unsorted indices
    indptr = np.concatenate(([0], np.cumsum(np.bincount(cr, minlength=4))))
    like = sp.csr_matrix((np.ones(len(cells)), ci[order], indptr), shape=(4, 5))
    out = cell_oldest(rows, items, times, like)
    np.testing.assert_array_equal(out.indices, like.indices)
    np.testing.assert_array_equal(out.indptr, like.indptr)
    expect = {}
    for r, i, t in zip(rows.tolist(), items.tolist(), times.tolist()):
        expect[(r, i)] = min(t, expect.get((r, i), t))
    cell_rows = np.repeat(np.arange(4), np.diff(like.indptr))
    want = [expect.get((r, i), NO_EVENT) for r, i in zip(cell_rows.tolist(), like.indices.tolist())]
    assert out.data.tolist() == want


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(-1, 5), st.integers(0, 4), st.integers(-(10**12), 10**12)),
        max_size=40,
    ),
    cells=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), max_size=20),
    block=st.integers(1, 50),
)
def test_cell_oldest_in_blocks_equals_the_definition(events, cells, block):
    """Events grouped by row are sorted in blocks cut at row boundaries: any block size
    gives each cell its minimum, rows outside ``like`` (negative, past its last row) are
    ignored, and a row with more events than a block is never split."""
    events = sorted(events, key=lambda e: e[0])  # grouped by row, as a dataset's are
    rows = np.array([e[0] for e in events], dtype=np.int64)
    items = np.array([e[1] for e in events], dtype=np.int64)
    times = np.array([e[2] for e in events], dtype=np.int64)
    cr = np.array([c[0] for c in cells], dtype=np.int64)
    ci = np.array([c[1] for c in cells], dtype=np.int64)
    order = np.lexsort((ci, cr))
    indptr = np.concatenate(([0], np.cumsum(np.bincount(cr, minlength=4))))
    like = sp.csr_matrix((np.ones(len(cells)), ci[order], indptr), shape=(4, 5))
    out = cell_oldest(rows, items, times, like, block=block)
    expect = {}
    for r, i, t in zip(rows.tolist(), items.tolist(), times.tolist()):
        expect[(r, i)] = min(t, expect.get((r, i), t))
    cell_rows = np.repeat(np.arange(4), np.diff(like.indptr))
    want = [expect.get((r, i), NO_EVENT) for r, i in zip(cell_rows.tolist(), like.indices.tolist())]
    assert out.data.tolist() == want
    # the same answer as one sort of every event (the unblocked path)
    assert out.data.tolist() == cell_oldest(rows, items, times, like, block=10**9).data.tolist()


@settings(max_examples=60, deadline=None)
@given(
    events=EVENTS.filter(bool),
    keep=st.lists(st.booleans(), min_size=40, max_size=40),
    listed=st.none() | st.lists(st.integers(-1, 7), max_size=9),
    block=st.integers(1, 50),
    grouped=st.booleans(),
)
def test_training_cells_equal_the_matrix_and_its_oldest_times(events, keep, listed, block, grouped):
    """The fit's one-sort bookkeeping gives what ``training_matrix`` and ``training_oldest``
    give, for any mask, listed rows (``from_fitted``'s order, unknown viewers, repeats fall
    back to the two functions) and block size: the same cells in the same layout and dtypes,
    the same oldest times, weight sums equal up to the order duplicates are added in."""
    if grouped:  # a viewer's events together (the one-sort path), else in any order
        events = sorted(events, key=lambda e: e[0])
    data = _dataset([(u, i, t, w / 3) for u, i, t, w in events])  # sums that round
    mask = np.array(keep[: data.n_events], dtype=bool)
    rows = None if listed is None else np.array([r if r < data.n_users else -1 for r in listed])
    want, want_rows = training_matrix(data, mask, rows)
    want_old = training_oldest(data, mask, want, want_rows)
    got, got_rows, got_old = training_cells(data, mask, rows, block=block)
    np.testing.assert_array_equal(got_rows, want_rows)
    for a, b in ((got, want), (got_old, want_old)):
        assert a.shape == b.shape
        assert a.indptr.dtype == b.indptr.dtype and a.indices.dtype == b.indices.dtype
        assert a.data.dtype == b.data.dtype
        np.testing.assert_array_equal(a.indptr, b.indptr)
        np.testing.assert_array_equal(a.indices, b.indices)
    assert got.has_canonical_format
    np.testing.assert_allclose(got.data, want.data, rtol=1e-6)
    assert got_old.data.tolist() == want_old.data.tolist()


def test_training_cells_sorts_once_when_events_are_grouped(monkeypatch):
    """A dataset grouped by viewer takes the one-sort path (the two functions are not
    called); one in any order falls back to them."""
    import fairrec.serving.training as gate

    events = [(0, 1, 3, 1), (0, 1, -2, 2), (0, 0, 1, 1), (1, 4, 0, 1), (2, 2, 5, 3)]
    calls = []
    real = gate.training_matrix
    monkeypatch.setattr(gate, "training_matrix", lambda *a, **k: calls.append(1) or real(*a, **k))
    train, rows, oldest = gate.training_cells(_dataset(events), np.ones(5, dtype=bool))
    assert calls == []
    assert train.toarray().tolist() == [[1, 3, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 3, 0, 0]]
    day = 86_400 * 10**9
    start = pd.Timestamp("2024-01-01").value
    assert ((oldest.data - start) // day).tolist() == [1, -2, 0, 5]
    gate.training_cells(_dataset(events[1:] + events[:1]), np.ones(5, dtype=bool))
    assert calls == [1]
