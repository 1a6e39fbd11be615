"""The request-time fast paths give exactly what the straightforward computations give.

* ``top_n`` (sampled threshold, sort keys) against a full lexicographic sort of each row;
* the serving gate's direct CSR build against scipy's COO conversion (and the previous
  implementation of the recent-titles list);
* ``CatalogIndex.items_with_genres`` (dense masks) against the sparse column sum;
* ``check_interactions`` without its copy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import fairrec as fr
import fairrec.models._topk as topk_kernel
from fairrec.consent import ConsentState
from fairrec.errors import DataError
from fairrec.models import top_n
from fairrec.models._base import check_interactions
from fairrec.serving import gate

# ---------------------------------------------------------------- top_n


def _reference_top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort each whole row by (descending score, ascending index); NaN last."""
    u, m = scores.shape
    n = min(n, m)
    idx = np.full((u, n), -1, dtype=np.int64)
    sc = np.full((u, n), -np.inf, dtype=scores.dtype)
    for r in range(u):
        order = np.lexsort((np.arange(m), -scores[r]))[:n]
        vals = scores[r, order]
        ok = np.isfinite(vals)
        idx[r, ok] = order[ok]
        sc[r, ok] = vals[ok]
    return idx, sc


def _assert_same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]):
    assert got[0].dtype == np.int64 and got[1].dtype == want[1].dtype
    assert got[0].shape == want[0].shape and got[1].shape == want[1].shape
    np.testing.assert_array_equal(got[0], want[0])
    # bitwise: -0.0 must stay -0.0
    assert got[1].tobytes() == want[1].tobytes()


def _scores(rng: np.random.Generator, u: int, m: int, dtype, ties: int, special: float):
    if ties:  # few distinct values: many ties, also at the top-n boundary
        s = rng.integers(-ties, ties + 1, size=(u, m)).astype(np.float64) / 2
    else:
        s = rng.normal(size=(u, m))
    s = s.astype(dtype)
    cells = rng.random((u, m)) < special
    values = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], dtype=dtype)
    s[cells] = rng.choice(values, size=int(cells.sum()))
    return s


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    u=st.integers(0, 5),
    m=st.sampled_from([1, 2, 7, 40, 333, 1000, 2500]),
    n_frac=st.sampled_from([0.001, 0.01, 0.1, 0.3, 1.0, 1.5]),
    dtype=st.sampled_from([np.float32, np.float64]),
    ties=st.sampled_from([0, 0, 1, 3, 50]),
    special=st.sampled_from([0.0, 0.0, 0.01, 0.5, 0.97, 1.0]),
)
def test_top_n_equals_full_sort(seed, u, m, n_frac, dtype, ties, special):
    rng = np.random.default_rng(seed)
    s = _scores(rng, u, m, dtype, ties, special)
    n = max(1, int(n_frac * m))
    want = _reference_top_n(s, n)
    _assert_same(top_n(s.copy(), n), want)
    # the kernel's other paths for this size: selection with a sampled threshold, selection
    # with the exact threshold, one stable sort of whole rows
    for below, cells in ((0, 0), (10**9, 0), (10**9, 10**9)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(topk_kernel, "_SORT_BELOW", below)
            mp.setattr(topk_kernel, "_SORT_CELLS", cells)
            _assert_same(top_n(s.copy(), n), want)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), u=st.integers(1, 4), ties=st.sampled_from([0, 2]))
def test_top_n_masks_equal_full_sort(seed, u, ties):
    rng = np.random.default_rng(seed)
    m, n = 3000, int(rng.integers(1, 400))
    s = _scores(rng, u, m, np.float32, ties, 0.0)
    seen = sp.random(u, m, density=0.02, format="csr", random_state=rng, dtype=np.float32)
    excluded = rng.random((u, m)) < rng.choice([0.0, 0.1, 0.99])
    want = s.copy()
    want[seen.toarray() != 0] = -np.inf
    want[excluded] = -np.inf
    got_scores = s.copy()
    _assert_same(top_n(got_scores, n, banned=seen, exclude=excluded), _reference_top_n(want, n))
    assert got_scores.tobytes() == want.tobytes()  # banned cells set to -inf in place
    # also as COO, as csr_array and with a 1-D mask
    one_d = excluded[0]
    want = s.copy()
    want[seen.toarray() != 0] = -np.inf
    want[:, one_d] = -np.inf
    for banned in (seen.tocoo(), sp.csr_array(seen)):
        _assert_same(top_n(s.copy(), n, banned=banned, exclude=one_d), _reference_top_n(want, n))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "case",
    [
        "sampled",  # the guess keeps enough cells
        "periodic",  # the sample sees only the best cells: too few kept, exact threshold
        "flat",  # every cell ties: far too many kept, ties trimmed
        "mostly_banned",  # fewer than n cells left: padding
        "few_columns",  # no sampling at all
    ],
)
def test_top_n_every_path(case, dtype):
    rng = np.random.default_rng(0)
    u, m, n = 6, 4000, 100
    s = rng.normal(size=(u, m)).astype(dtype)
    if case == "periodic":
        s[:, ::8] += 100
    elif case == "flat":
        s[:] = 1.0
        s[:, 3000:] = 2.0
    elif case == "mostly_banned":
        s[:, 30:] = -np.inf
        s[1, :] = np.nan
    elif case == "few_columns":
        s = s[:, :300]
    want = _reference_top_n(s, n)
    _assert_same(top_n(s.copy(), n), want)
    for r in range(u):  # one row at a time takes another path: same rows
        _assert_same(top_n(s[r : r + 1].copy(), n), (want[0][r : r + 1], want[1][r : r + 1]))
    _assert_same(top_n(np.asfortranarray(s), n), want)


def test_top_n_batch_equals_single_rows_on_a_model():
    m = sp.random(300, 5000, density=0.01, format="csr", random_state=1, dtype=np.float32)
    model = fr.models.ALS(factors=8, iterations=3).fit(m)
    scores = model.score_histories(m[:40])
    batch = top_n(scores.copy(), 500, banned=m[:40])
    for r in range(40):
        one = top_n(scores[r : r + 1].copy(), 500, banned=m[r : r + 1])
        _assert_same(one, (batch[0][r : r + 1], batch[1][r : r + 1]))
    _assert_same(batch, _reference_top_n(np.where(m[:40].toarray() != 0, -np.inf, scores), 500))


def test_top_n_edge_shapes():
    empty = top_n(np.zeros((0, 10), dtype=np.float32), 3)
    assert empty[0].shape == (0, 3) and empty[0].dtype == np.int64
    assert empty[1].dtype == np.float32
    no_cols = top_n(np.zeros((2, 0)), 3)
    assert no_cols[0].shape == (2, 0)
    with pytest.raises(fr.errors.ParameterError):
        top_n(np.zeros((1, 4)), 0)


# ---------------------------------------------------------------- gate: history rows


def _reference_history_rows(data, user_idx, allowed, cutoff, n_items, n_recent):
    """One viewer at a time from masks over the whole event table (slow, obviously right):
    dense summed weights, and the distinct titles most recent first (later event first
    among equal times)."""
    u = len(user_idx)
    dense = np.zeros((u, n_items))
    recent = np.full((u, n_recent), -1, dtype=np.int64)
    for r, (idx, ok) in enumerate(zip(user_idx, allowed)):
        if not ok or idx < 0:
            continue
        ev = np.flatnonzero(data.users == idx)
        if cutoff is not None:
            ev = ev[data.timestamps[ev] >= cutoff]
        np.add.at(dense[r], data.items[ev], data.weights[ev])
        when = (lambda e: data.timestamps[e]) if data.timestamps is not None else (lambda e: 0)
        titles: list[int] = []
        for e in sorted(ev.tolist(), key=lambda e: (when(e), e), reverse=True):
            if data.items[e] not in titles:
                titles.append(int(data.items[e]))
        titles = titles[:n_recent]
        recent[r, : len(titles)] = titles
    return dense, recent


def _events(seed: int, n_users: int, n_items: int, n_events: int, times: bool) -> fr.Dataset:
    rng = np.random.default_rng(seed)
    inter = pd.DataFrame(
        {
            "user_id": rng.integers(0, n_users, n_events).astype(str),
            # few titles: many repeated (viewer, title) pairs, summed by the CSR
            "item_id": rng.integers(0, n_items, n_events),
            # weights whose float32 sums depend on the order they are added in
            "weight": rng.choice([0.1, 0.7, 1.0, 3.3, 1e-3, 1e4], n_events),
            # few distinct times: ties broken by event order
            "time": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 5, n_events), "D"),
        }
    )
    catalog = pd.DataFrame({"item_id": np.arange(n_items)})
    return fr.Dataset.from_pandas(
        inter, catalog, weight_col="weight", time_col="time" if times else None
    )


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_events=st.integers(1, 400),
    n_items=st.integers(1, 12),
    times=st.booleans(),
    window=st.booleans(),
    n_recent=st.integers(1, 6),
    data=st.data(),
)
def test_history_rows_equal_a_per_viewer_reference(
    seed, n_events, n_items, times, window, n_recent, data
):
    ds = _events(seed, 6, n_items, n_events, times)
    u = data.draw(st.integers(0, 8))
    user_idx = np.array(
        data.draw(st.lists(st.integers(-1, ds.n_users - 1), min_size=u, max_size=u))
    )
    allowed = np.array(data.draw(st.lists(st.booleans(), min_size=u, max_size=u)), dtype=bool)
    cutoff = np.datetime64("2025-01-03") if (window and times) else None
    args = (ds, user_idx.astype(np.int64), allowed, cutoff, ds.n_items, n_recent)
    hist, recent = gate._history_rows(*args)
    want_dense, want_recent = _reference_history_rows(*args)
    assert isinstance(hist, sp.csr_matrix) and hist.shape == want_dense.shape
    assert hist.dtype == np.float32
    assert hist.has_canonical_format and hist.has_sorted_indices
    # one stored entry per (viewer, title) played (weights are positive), summed in float32
    assert hist.nnz == np.count_nonzero(want_dense)
    np.testing.assert_allclose(hist.toarray(), want_dense, rtol=1e-5)
    np.testing.assert_array_equal(recent, want_recent)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_events=st.integers(1, 300),
    n_items=st.sampled_from([3, 40, 5000]),  # many, some or no repeated titles per viewer
    times=st.booleans(),
    window=st.booleans(),
    n_recent=st.integers(0, 6),
)
def test_history_rows_of_one_viewer_equal_its_row_in_a_batch(
    seed, n_events, n_items, times, window, n_recent
):
    """The one-viewer path (titles sorted directly where none repeats) stores the same
    arrays, dtypes and recent titles as the batch path's row."""
    ds = _events(seed, 4, n_items, n_events, times)
    cutoff = np.datetime64("2025-01-03") if (window and times) else None
    both = np.arange(ds.n_users, dtype=np.int64)
    hist_b, recent_b = gate._history_rows(
        ds, both, np.ones(len(both), bool), cutoff, ds.n_items, n_recent
    )
    for v in range(ds.n_users):
        hist, recent = gate._history_rows(
            ds, both[v : v + 1], np.ones(1, bool), cutoff, ds.n_items, n_recent
        )
        row = hist_b[v]
        for got, want in ((hist.data, row.data), (hist.indices, row.indices)):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        assert hist.indptr.dtype == hist_b.indptr.dtype
        np.testing.assert_array_equal(hist.indptr, [0, row.nnz])
        assert hist.has_canonical_format
        np.testing.assert_array_equal(recent, recent_b[v : v + 1])


def test_history_rows_leave_the_dataset_alone():
    ds = _events(0, 4, 5, 200, True)
    before = [a.copy() for a in (ds.users, ds.items, ds.weights, ds.timestamps, *ds._by_user)]
    for idx in ([0], [2], [0, 1, 2, 3]):
        gate._history_rows(ds, np.array(idx), np.ones(len(idx), bool), None, ds.n_items, 5)
    after = (ds.users, ds.items, ds.weights, ds.timestamps, *ds._by_user)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_serving_batch_of_one_equals_its_row_in_a_batch(small_data):
    catalog = gate.CatalogIndex.from_dataset(small_data)
    genres = list(catalog.genre_names)
    users = [small_data.user_ids[3], "not-a-viewer", small_data.user_ids[7]]
    states = [
        ConsentState(
            user_id=str(users[0]),
            purposes=frozenset({"personalization", "stated_interests"}),
            excluded_genres=frozenset(genres[:2]),
            disliked_genres=frozenset(genres[2:3]),
            liked_genres=frozenset(genres[3:4]),
        ),
        ConsentState(user_id="not-a-viewer", purposes=frozenset({"personalization"})),
        ConsentState(user_id=str(users[2]), purposes=frozenset({"personalization"})),
    ]
    now = pd.Timestamp("2026-01-01")
    kw = dict(data=small_data, catalog=catalog, now=now, retention_days=200.0)
    batch = gate.serving_batch(users, states, **kw)
    assert batch.personalized.tolist() == [True, False, True]
    for r in range(3):
        one = gate.serving_batch([users[r]], [states[r]], **kw)
        for name in ("personalized", "interests", "recent", "banned", "liked_genres"):
            np.testing.assert_array_equal(getattr(one, name)[0], getattr(batch, name)[r])
        assert (one.histories != batch.histories[r]).nnz == 0


# ---------------------------------------------------------------- gate: genres


def _catalog(seed: int, n_items: int, n_genres: int) -> gate.CatalogIndex:
    rng = np.random.default_rng(seed)
    multi_hot = sp.random(n_items, n_genres, density=0.2, format="csc", random_state=rng)
    multi_hot.data[:] = 1.0
    return gate.CatalogIndex(
        item_ids=np.arange(n_items),
        genre_names=tuple(f"g{j}" for j in range(n_genres)),
        item_genres=multi_hot,
        maturity=None,
    )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_items=st.integers(1, 300),
    n_genres=st.integers(1, 12),
    names=st.sets(st.sampled_from([f"g{j}" for j in range(14)] + ["unknown"]), max_size=5),
)
def test_items_with_genres_equals_sparse_column_sum(seed, n_items, n_genres, names):
    catalog = _catalog(seed, n_items, n_genres)
    cols = catalog.genre_columns(names)
    want = (
        np.asarray(catalog.item_genres[:, cols].sum(axis=1)).ravel() > 0
        if cols.size
        else np.zeros(n_items, dtype=bool)
    )
    got = catalog.items_with_genres(names)
    assert got.dtype == bool and got.shape == (n_items,)
    np.testing.assert_array_equal(got, want)
    got[:] = True  # a fresh array each call: the cached masks are not handed out
    np.testing.assert_array_equal(catalog.items_with_genres(names), want)


def test_items_with_genres_sparse_fallback(monkeypatch):
    monkeypatch.setattr(gate, "_DENSE_GENRE_LIMIT", 0)
    catalog = _catalog(1, 50, 4)
    assert catalog._genre_masks is None
    want = np.asarray(catalog.item_genres[:, [0, 2]].sum(axis=1)).ravel() > 0
    np.testing.assert_array_equal(catalog.items_with_genres(["g0", "g2"]), want)


# ---------------------------------------------------------------- check_interactions


def test_check_interactions_float32_csr_is_used_as_is():
    m = sp.random(5, 8, density=0.4, format="csr", random_state=0, dtype=np.float32)
    snapshot = (m.data.copy(), m.indices.copy(), m.indptr.copy())
    assert check_interactions(m, "x") is m
    for a, b in zip(snapshot, (m.data, m.indices, m.indptr)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.astype(np.float64),
        lambda m: m.tocoo(),
        lambda m: sp.csr_array(m),
        lambda m: m.tocsc(),
    ],
)
def test_check_interactions_converts_others(make):
    m = sp.random(5, 8, density=0.4, format="csr", random_state=0, dtype=np.float32)
    got = check_interactions(make(m), "x")
    assert type(got) is sp.csr_matrix and got.dtype == np.float32
    assert (got != m).nnz == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1.0, -1e-30])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_interactions_rejects_bad_weights(bad, dtype):
    m = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]], dtype=dtype))
    m.data[1] = bad
    with pytest.raises(DataError, match="finite and non-negative"):
        check_interactions(m, "x")


def test_check_interactions_rejects_dense():
    with pytest.raises(DataError, match="scipy.sparse"):
        check_interactions(np.ones((2, 2), dtype=np.float32), "x")


def test_scoring_leaves_the_history_matrix_unchanged():
    m = sp.random(60, 40, density=0.1, format="csr", random_state=0, dtype=np.float32)
    model = fr.models.ALS(factors=4, iterations=2).fit(m)
    h = sp.csr_matrix(
        (np.array([1.0, 2.0, 1.0], np.float32), np.array([7, 3, 7]), np.array([0, 3])),
        shape=(1, 40),
    )  # unsorted, with a repeat
    snapshot = (h.data.copy(), h.indices.copy(), h.indptr.copy())
    model.candidates(h, 10)
    for a, b in zip(snapshot, (h.data, h.indices, h.indptr)):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- page assembly


def _pct_reference(cand: np.ndarray, rel_pct: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Each title's ``rel_pct`` at its place among the viewer's candidates, else 0."""
    out = np.zeros(items.shape, dtype=np.float64)
    for v in range(items.shape[0]):
        place = {int(t): float(p) for t, p in zip(cand[v], rel_pct[v]) if t >= 0}
        for j, t in enumerate(items[v]):
            out[v, j] = place.get(int(t), 0.0) if t >= 0 else 0.0
    return out


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    u=st.integers(1, 5),
    n_items=st.integers(1, 60),
    c=st.integers(0, 30),
    w=st.integers(0, 12),
)
def test_candidate_pct_both_paths_equal_the_definition(seed, u, n_items, c, w):
    """The dense table (small batches) and the sorted lookup (large ones) give each title
    its relevance percentile among the viewer's candidates, 0 outside them."""
    from types import SimpleNamespace

    from fairrec.serving import assembly

    rng = np.random.default_rng(seed)
    c = min(c, n_items)
    cand = np.full((u, c), -1, dtype=np.int64)
    for v in range(u):
        k = int(rng.integers(0, c + 1))
        cand[v, :k] = rng.choice(n_items, size=k, replace=False)
    valid = cand >= 0
    count = valid.sum(axis=1, keepdims=True)
    rel_pct = np.where(valid, 1.0 - np.arange(c) / np.maximum(count, 1), 0.0)
    items = rng.integers(-1, n_items, size=(u, w))
    ctx = SimpleNamespace(cand=cand, rel_pct=rel_pct, scores=np.zeros((u, n_items)))
    want = _pct_reference(cand, rel_pct, items)
    dense = assembly._candidate_pct(ctx, items)
    before = assembly._DENSE_PCT_CELLS
    try:
        assembly._DENSE_PCT_CELLS = 0
        looked_up = assembly._candidate_pct(ctx, items)
    finally:
        assembly._DENSE_PCT_CELLS = before
    for got in (dense, looked_up):
        assert got.dtype == np.float64 and got.shape == items.shape
        assert got.tobytes() == want.tobytes()


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    u=st.integers(0, 4),
    r=st.integers(1, 6),
    k=st.integers(0, 8),
    n_genres=st.integers(1, 5),
    weighted=st.booleans(),
)
def test_dominant_genres_from_cached_rows_equal_the_product(seed, u, r, k, n_genres, weighted):
    """With the title facts' cache (the padded genre rows, multi-hot genres) the dominant
    genres are the bytes the product of the validity mask and the gathered genres gives;
    genres that are not whole numbers keep the product."""
    from types import SimpleNamespace

    from fairrec.serving import assembly

    rng = np.random.default_rng(seed)
    n_items = 12
    genres = (rng.random((n_items, n_genres)) < 0.4).astype(np.float32)
    if weighted:
        genres *= rng.random((n_items, n_genres)).astype(np.float32)
    items = rng.integers(-1, n_items, size=(u, r, k))
    bare = SimpleNamespace(genres=genres, evidence=None)
    stats = SimpleNamespace(cache={})
    cached = SimpleNamespace(genres=genres, evidence=SimpleNamespace(stats=stats))
    want = assembly._dominant_genres(bare, items, 0.6)
    for _ in range(2):  # building the cache, then reading it
        got = assembly._dominant_genres(cached, items, 0.6)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    padded = stats.cache["assembly_padded_genres"][1]
    assert (padded is None) == bool(weighted and (genres != np.round(genres)).any())


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_items=st.integers(1, 3000), c=st.integers(1, 40))
def test_candidate_pct_of_one_viewer_ignores_what_its_table_held(seed, n_items, c):
    """One viewer's lookup table is never cleared: whatever places its cells held before
    (here: memory just freed, full of plausible places), titles outside the candidates get
    0 and candidates their own percentile."""
    from types import SimpleNamespace

    from fairrec.serving import assembly

    rng = np.random.default_rng(seed)
    c = min(c, n_items)
    cand = np.full((1, c), -1, dtype=np.int64)
    k = int(rng.integers(0, c + 1))
    cand[0, :k] = rng.choice(n_items, size=k, replace=False)
    valid = cand >= 0
    rel_pct = np.where(valid, 1.0 - np.arange(c) / max(k, 1), 0.0)
    items = rng.integers(-1, n_items, size=(1, 25))
    ctx = SimpleNamespace(cand=cand, rel_pct=rel_pct, scores=np.zeros((1, n_items)))
    want = _pct_reference(cand, rel_pct, items)
    for place in (0, k - 1, c - 1, int(rng.integers(0, c))):
        junk = np.full(n_items, place, dtype=np.int64)
        del junk  # its memory is likely the table's next
        got = assembly._candidate_pct(ctx, items)
        assert got.dtype == np.float64 and got.tobytes() == want.tobytes()


def _genre_rule_reference(applies: np.ndarray, dominant: np.ndarray, cap: int) -> np.ndarray:
    """The rule as first written: row by row, count the earlier shown rows of its genre."""
    applies = applies.copy()
    for r in range(applies.shape[1]):
        g = dominant[:, r]
        earlier = (dominant[:, :r] == g[:, None]) & applies[:, :r] & (g[:, None] >= 0)
        applies[:, r] &= ~(earlier.sum(axis=1) >= cap)
    return applies


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    u=st.integers(0, 6),
    r=st.integers(0, 8),
    n_genres=st.integers(1, 4),
    cap=st.integers(1, 3),
)
def test_genre_cap_equals_the_row_by_row_rule(seed, u, r, n_genres, cap):
    from fairrec.serving import assembly

    rng = np.random.default_rng(seed)
    applies = rng.random((u, r)) < 0.8
    dominant = rng.integers(-1, n_genres, size=(u, r))
    got = applies.copy()
    assembly._cap_genres(got, dominant, cap, n_genres)
    np.testing.assert_array_equal(got, _genre_rule_reference(applies, dominant, cap))


def test_batch_pages_with_the_sorted_lookup_equal_single_pages(fitted, small_data, monkeypatch):
    """A batch above the dense-table size (forced here) gives every viewer the page that
    ``home()`` gives them."""
    from _pages import assert_same_pages
    from fairrec.page import pages_to_frame
    from fairrec.serving import assembly

    users = small_data.user_ids[:25].tolist()
    now = pd.Timestamp("2026-01-01")
    single = pages_to_frame([fitted.home(u, now=now) for u in users])
    monkeypatch.setattr(assembly, "_DENSE_PCT_CELLS", 0)
    assert_same_pages(fitted.home_batch(users, now=now), single)


# ---------------------------------------------------------------- flat lists


def test_flat_frame_is_the_public_constructors_frame():
    from fairrec.serving import flat

    columns = {
        "item_id": np.array(["a", "ｂ", "c\u200b", "nan"]),
        "title": np.array(["One", "", "None", "x y"]),
        "score": np.array([0.5, -np.inf, np.nan, 1e-9]),
        "rank": np.arange(1, 5, dtype=np.int64),
        "flag": np.array([True, False, True, True]),
    }
    want = pd.DataFrame(columns, index=pd.RangeIndex(4), copy=False)
    # Exact equality is right here: the values are given, not computed, and the frame must
    # carry them unchanged. Whether this pandas takes the block path (flat._QUICK) or the
    # public constructor depends on its version; both must give the same frame.
    pd.testing.assert_frame_equal(flat.flat_frame(columns, 4), want, check_exact=True)
    for empty in (
        {k: v[:0] for k, v in columns.items()},
        {k: v[:0] for k, v in dict(columns, item_id=columns["item_id"].astype(object)).items()},
    ):
        pd.testing.assert_frame_equal(
            flat.flat_frame(empty, 0),
            pd.DataFrame(empty, index=pd.RangeIndex(0)),
            check_exact=True,
        )
    for ids in (
        np.array(["a", "b", "c\x00", "ｄ"], dtype=object),  # all str: the quick path
        np.array([1, "b", 3.5, None], dtype=object),  # mixed: the public constructor
        np.array(["a", None, "c", "d"], dtype=object),
        np.array([1, 2, 3, 4], dtype=object),
    ):
        cols = dict(columns, item_id=ids)
        pd.testing.assert_frame_equal(
            flat.flat_frame(cols, 4),
            pd.DataFrame(cols, index=pd.RangeIndex(4), copy=False),
            check_exact=True,
        )


def test_flat_lists_are_the_same_without_the_quick_frame(fitted, small_data, monkeypatch):
    from fairrec.serving import flat

    users = small_data.user_ids[:5].tolist()
    now = pd.Timestamp("2026-01-01")
    quick = [fitted.recommend(u, k=7, now=now) for u in users]
    monkeypatch.setattr(flat, "_QUICK", False)
    for u, got in zip(users, quick):
        pd.testing.assert_frame_equal(got, fitted.recommend(u, k=7, now=now), check_exact=True)


# ---------------------------------------------------------------- home_batch chunks


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 700), batch_size=st.integers(1, 300), n_jobs=st.integers(1, 5))
def test_home_batch_chunks_are_even_bounded_and_shared(n, batch_size, n_jobs):
    from fairrec.serving.pages import _chunks

    users = list(range(n))
    chunks = _chunks(users, batch_size, n_jobs)
    assert [u for c in chunks for u in c] == users  # every viewer once, in order
    assert all(0 < len(c) <= batch_size for c in chunks)
    if chunks:
        sizes = [len(c) for c in chunks]
        assert max(sizes) - min(sizes) <= 1
        assert len(chunks) >= -(-n // batch_size)  # never more than batch_size per chunk
        assert len(chunks) % n_jobs == 0 or len(chunks) == n  # equal shares per thread


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_full_candidate_percentiles_are_the_general_formula(n):
    """The shared row of viewers with a full candidate list: the bytes of the general
    computation of ``row_context``, and read only."""
    from fairrec.serving import core

    cand = np.arange(n)[None]
    valid = cand >= 0
    count = valid.sum(axis=1, keepdims=True)
    want = np.where(valid, 1.0 - np.arange(n) / np.maximum(count, 1), 0.0)
    got = core._full_rel_pct(n)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    assert not got.flags.writeable and core._full_rel_pct(n) is got
