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

from fairrec.serving.gate import NO_EVENT, cell_oldest, training_matrix, training_oldest

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
