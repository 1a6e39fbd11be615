"""The row kinds' fast paths give exactly what their definitions give.

* ``_catalog_floor`` (a partition) against the quantile it documents (a full sort);
* *Hidden gems*' relevance floor applied after the top-n (only where it may bite) against
  the floor applied to every score first;
* the valid head of a pool by counting (``_first_valid``) against the stable compaction;
* the catalog's genre sets by bit codes (up to 64 genres) and by rows (more);
* *Hidden gems*' top-n over the eligible titles' columns against a top-n of the whole
  catalog with the other titles masked;
* the contributions' viewer groups (history lengths within a spread) and a batch's
  contributions against each viewer's alone;
* a title's cached evidence and texts against fresh ones.
"""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairrec as fr
from fairrec.models import top_n
from fairrec.rows import HiddenGems, OffTheMainstream
from fairrec.rows import _contributions as contrib_mod
from fairrec.rows._facts import _popularity_evidence, _watched_text
from fairrec.rows._pools import (
    _catalog_floor,
    _compact_pool,
    _first_valid,
    _genre_sets,
    _kth_smallest,
)
from fairrec.rows._rare import _floored, _in_catalog
from fairrec.rows.evidence import top_contributions
from fairrec.serving.core import request_batch, row_context

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
SEED = st.integers(0, 2**32 - 1)


def _ctx(scores: np.ndarray) -> types.SimpleNamespace:
    """What ``_catalog_floor`` reads of a RowContext."""
    u = scores.shape[0]
    return types.SimpleNamespace(
        scores=scores, blocked=~np.isfinite(scores), n=u, ar=np.arange(u)[:, None]
    )


def _floor_by_sort(scores: np.ndarray, q: float) -> np.ndarray:
    """The documented quantile: rank ``floor(q * (count - 1))`` of the allowed scores in
    ascending order, each viewer alone; ``inf`` without any."""
    out = []
    for row in scores:
        allowed = np.sort(row[np.isfinite(row)])
        if allowed.size == 0:
            out.append(np.inf)
        else:
            out.append(allowed[int(np.floor(q * (allowed.size - 1)))])
    return np.asarray(out, dtype=scores.dtype)[:, None]


@FAST
@given(
    seed=SEED,
    u=st.sampled_from([1, 1, 2, 5, 33, 70]),  # 33, 70: more than one block of viewers
    n=st.integers(1, 60),
    q=st.sampled_from([0.0, 0.2, 0.5, 0.8, 0.999]),
    p_blocked=st.sampled_from([0.0, 0.3, 0.9, 1.0]),
)
def test_catalog_floor_is_the_documented_quantile(seed, u, n, q, p_blocked):
    rng = np.random.default_rng(seed)
    scores = (rng.integers(-4, 5, size=(u, n)) / 4).astype(np.float32)  # many ties
    scores[rng.random((u, n)) < p_blocked] = -np.inf
    if u > 1:
        scores[0] = -np.inf  # a viewer with nothing allowed
    got = _catalog_floor(_ctx(scores), q)
    want = _floor_by_sort(scores, q)
    assert got.shape == (u, 1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("u", [1, 33, 65])
def test_catalog_floor_of_long_rows_in_blocks_is_the_documented_quantile(u):
    # long rows (the sampled band) over several blocks of viewers, a last block of one
    rng = np.random.default_rng(u)
    scores = rng.normal(size=(u, 3000)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    scores[-1, :2990] = -np.inf  # a viewer with few titles allowed
    for q in (0.0, 0.5, 0.9):
        np.testing.assert_array_equal(_catalog_floor(_ctx(scores), q), _floor_by_sort(scores, q))


@FAST
@given(
    seed=SEED,
    u=st.sampled_from([1, 2, 5, 40]),
    n=st.sampled_from([1, 7, 60, 3000]),
    pool=st.integers(1, 80),
    q=st.sampled_from([0.2, 0.5, 0.9, 0.999]),
    p_eligible=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    ties=st.booleans(),
)
def test_floor_after_the_top_n_equals_the_floor_first(seed, u, n, pool, q, p_eligible, ties):
    # Hidden gems takes the top pool of the eligible columns without the floor and applies
    # the floor only to viewers whose floor may lie above their lowest chosen score
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(u, n)).astype(np.float32)
    if ties:
        scores = np.round(scores * 2).astype(np.float32)
    scores[rng.random((u, n)) < rng.choice([0.0, 0.3, 0.95])] = -np.inf
    if u > 1:
        scores[0] = -np.inf  # nothing allowed
    if n > 1:
        scores[rng.random((u, n)) < 0.02] = rng.choice([np.inf, np.nan])  # blocked, not -inf
    titles = np.flatnonzero(rng.random(n) < p_eligible)
    pers = rng.random(u) < 0.8
    taken = rng.random((u, n)) < 0.1
    ctx = _ctx(scores)
    sub = scores[:, titles]
    ok = np.isfinite(sub) & ~taken[:, titles]
    want = top_n(
        np.where(ok & ((sub >= _catalog_floor(ctx, q)[:, :1]) | ~pers[:, None]), sub, -np.inf),
        pool,
    )
    masked = np.where(ok, sub, -np.inf)
    got = _floored(ctx, q, pool, masked, *top_n(masked, pool), pers)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@FAST
@given(
    seed=SEED,
    u=st.sampled_from([1, 1, 2, 7]),
    m=st.integers(0, 40),
    size=st.integers(1, 50),
    p=st.sampled_from([0.0, 0.2, 0.7, 1.0]),
)
def test_first_valid_is_the_valid_head_of_the_compacted_pool(seed, u, m, size, p):
    rng = np.random.default_rng(seed)
    valid = rng.random((u, m)) < p
    cand = rng.integers(0, 100, size=(u, m))
    ctx = types.SimpleNamespace(ar=np.arange(u)[:, None])
    want_cand, _, want_valid = _compact_pool(ctx, cand, cand * 1.0, valid, size)
    at, live = _first_valid(valid, size)
    count = np.minimum(valid.sum(axis=1), size)
    assert live.shape == at.shape and live.shape[1] == (count.max() if u else 0)
    np.testing.assert_array_equal(live.sum(axis=1), count)
    for v in range(u):
        np.testing.assert_array_equal(cand[v, at[v, live[v]]], want_cand[v, : count[v]])
        assert want_valid[v, : count[v]].all() and not want_valid[v, count[v] :].any()


@pytest.mark.parametrize("n_genres", [1, 5, 64, 65, 70])
def test_genre_set_ids_name_each_distinct_set_once(n_genres):
    rng = np.random.default_rng(n_genres)
    genres = (rng.random((300, n_genres)) < 0.3).astype(np.float32)
    genres[:40] = genres[40:80]  # repeated sets
    genres[5] = 0.0  # the empty set
    ids, sets = _genre_sets(genres)
    assert ids.dtype == np.int64 and ids.shape == (300,) and sets.dtype == bool
    np.testing.assert_array_equal(sets[ids], genres > 0)  # each title's own set
    assert len(np.unique(sets, axis=0)) == len(sets)  # each set once
    assert set(ids.tolist()) == set(range(len(sets)))


@FAST
@given(
    seed=SEED,
    u=st.sampled_from([1, 4]),
    m=st.sampled_from([2049, 3000, 6001]),
    layout=st.sampled_from(["normal", "ties", "blocked", "periodic", "sorted"]),
)
def test_kth_smallest_of_long_rows_equals_a_full_sort(seed, u, m, layout):
    # long rows take the sampled band: every layout, including ones that fool the strided
    # sample (a period of the stride, rows already sorted), must give the exact order statistic
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(u, m)).astype(np.float32)
    if layout == "ties":
        x = np.round(x * 2).astype(np.float32)
    elif layout == "blocked":
        x[rng.random((u, m)) < rng.choice([0.5, 0.99, 1.0])] = -np.inf
    elif layout == "periodic":
        x[:, ::8] += 100.0
    elif layout == "sorted":
        x.sort(axis=1)
    at = rng.integers(0, m, size=u)
    at[0] = rng.choice([0, m - 1, m // 2])
    np.testing.assert_array_equal(_kth_smallest(x, at), np.sort(x, axis=1)[np.arange(u), at])


@FAST
@given(
    seed=SEED,
    u=st.sampled_from([1, 3]),
    n=st.integers(1, 80),
    pool=st.integers(1, 100),
    p_eligible=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
)
def test_top_n_over_eligible_columns_equals_masked_whole_catalog(seed, u, n, pool, p_eligible):
    rng = np.random.default_rng(seed)
    scores = (rng.integers(-3, 4, size=(u, n)) / 2).astype(np.float32)
    scores[rng.random((u, n)) < 0.2] = -np.inf
    eligible = rng.random(n) < p_eligible
    ok = rng.random((u, n)) < 0.8
    titles = np.flatnonzero(eligible)
    full = top_n(np.where(ok & eligible, scores, -np.inf), pool)
    sub = top_n(np.where(ok[:, titles], scores[:, titles], -np.inf), pool)
    cand, rel = _in_catalog(titles, *sub, min(pool, n))
    np.testing.assert_array_equal(cand, full[0])
    np.testing.assert_array_equal(rel, full[1])


@FAST
@given(
    lengths=st.lists(st.integers(0, 400), min_size=1, max_size=60),
    m=st.sampled_from([1, 20, 220, 5000]),
)
def test_contribution_groups_cover_each_viewer_once_with_bounded_padding(lengths, m):
    lengths = np.asarray(lengths)
    hist = np.where(np.arange(max(lengths.max(), 1))[None, :] < lengths[:, None], 1, -1)
    groups = contrib_mod._chunks(hist, m)
    seen = np.concatenate([g for g, _ in groups])
    assert sorted(seen.tolist()) == list(range(len(lengths)))
    for g, width in groups:
        assert width == lengths[g].max()
        if len(g) > 1:
            assert width <= contrib_mod._SPREAD * lengths[g].min() + contrib_mod._SLACK
            assert len(g) * m * max(width, 1) <= contrib_mod._CHUNK


@pytest.fixture(scope="module")
def als_model():
    data = fr.datasets.synthetic(n_users=300, n_items=120, seed=4)
    rec = fr.Recommender(model=fr.models.ALS(factors=8, iterations=3)).fit(data)
    return rec.fitted_state_


def test_batch_contributions_equal_each_viewer_alone(als_model):
    f = als_model
    rng = np.random.default_rng(0)
    n_items = f.vectors_.shape[0]
    lengths = np.array([0, 1, 2, 3, 5, 9, 17, 30, 60, 100, 110, 4, 40])
    rows = [np.sort(rng.choice(n_items, size=n, replace=False)) for n in lengths]
    hist = sp.csr_matrix(
        (
            np.ones(lengths.sum()),
            np.concatenate(rows),
            np.concatenate([[0], np.cumsum(lengths)]),
        ),
        shape=(len(lengths), n_items),
    )
    items = rng.integers(-1, n_items, size=(len(lengths), 25))
    got = top_contributions(f.model_, hist, items, f.vectors_, {})
    assert len(contrib_mod._chunks(contrib_mod._padded_history(hist)[0], 25)) > 1
    for v in range(len(lengths)):
        one = top_contributions(f.model_, hist[v], items[v : v + 1], f.vectors_, {})
        np.testing.assert_allclose(got[2][v], one[2][0], rtol=1e-9, atol=1e-12)  # value
        np.testing.assert_allclose(got[3][v], one[3][0], rtol=1e-9, atol=1e-12)  # total
        np.testing.assert_array_equal(got[0][v], one[0][0])  # anchor
    assert (got[0][lengths == 0] == -1).all()


def test_cached_title_lines_are_fresh_and_equal_uncached():
    # Hidden gems / Off the mainstream keep each title's evidence and text with the title
    # facts: a second page gets the same lines, in dicts of its own
    data = fr.datasets.synthetic(n_users=300, n_items=120, seed=4)
    rec = fr.Recommender(model=fr.models.ALS(factors=8, iterations=3)).fit(data)
    fs = rec.fitted_state_
    users = list(data.user_ids[:40])
    now = pd.Timestamp.now(tz="UTC")

    def build(kind):
        ctx = row_context(rec, request_batch(rec, users, now, fs), fs)
        return kind.build(ctx, np.zeros((len(users), data.n_items), dtype=bool))[0]

    for kind in (HiddenGems(quantile=0.9, min_relevance=0.0), OffTheMainstream(min_relevance=0)):
        first = build(kind)
        placed = np.argwhere(first.items >= 0)
        assert len(placed) > 20
        for v, p in placed:
            first.item_evidence[v, p]["watchers"] = -1  # a reader changes its page
        again = build(kind)
        np.testing.assert_array_equal(again.items, first.items)
        for v, p in placed:
            i = int(again.items[v, p])
            assert again.item_evidence[v, p] == _popularity_evidence(fs.stats_, i)
            assert _watched_text(fs.stats_, i) in again.item_reason_text[v, p]


def test_title_facts_cache_starts_empty_with_every_fitted_state():
    # the cache holds what row kinds derive from the training data: a refit or an erasure
    # (a new fitted state, new facts) must not serve the old facts' entries
    data = fr.datasets.synthetic(n_users=300, n_items=120, seed=4)
    rec = fr.Recommender(model=fr.models.ALS(factors=8, iterations=3)).fit(data)
    stats = rec.fitted_state_.stats_
    assert stats.cache == {}
    rec.home(data.user_ids[0])
    assert stats.cache  # Hidden gems' eligible titles at least
    rec.forget(data.user_ids[1])
    assert rec.fitted_state_.stats_ is not stats
    assert rec.fitted_state_.stats_.cache == {}
    rec.fit(data)
    assert rec.fitted_state_.stats_.cache == {}


def test_hidden_gems_subclass_rule_is_not_taken_from_the_cache():
    # the eligible titles are cached per (facts, quantile, min_watchers) for HiddenGems' own
    # rule only: a subclass with another rule (same parameters) gets its own titles
    data = fr.datasets.synthetic(n_users=300, n_items=120, seed=4)
    rec = fr.Recommender(model=fr.models.ALS(factors=8, iterations=3)).fit(data)
    fs = rec.fitted_state_
    users = list(data.user_ids[:30])
    now = pd.Timestamp.now(tz="UTC")
    only = np.arange(0, data.n_items, 7)

    class FewGems(HiddenGems):
        def eligible(self, st):
            ok = np.zeros(len(st.watchers), dtype=bool)
            ok[only] = True
            return ok

    for kind in (HiddenGems(quantile=0.9, min_relevance=0.0), FewGems(quantile=0.9)):
        ctx = row_context(rec, request_batch(rec, users, now, fs), fs)
        row = kind.build(ctx, np.zeros((len(users), data.n_items), dtype=bool))[0]
        shown = row.items[row.items >= 0]
        assert shown.size
        if isinstance(kind, FewGems):
            assert np.isin(shown, only).all()
        else:
            assert not np.isin(shown, only).all()
