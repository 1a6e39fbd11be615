"""*Outside your bubble* by main taste (issue 18): the fit-time taste groups by their
definition, a viewer's own training row left out, and the counts kept true under erasure,
save/load (nothing new in the file) and ``add_titles``."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import fairrec as fr
from fairrec.audit import verify_page
from fairrec.data.ids import canon_id
from fairrec.rows import OutsideYourBubble
from fairrec.rows.evidence import main_tastes, taste_clusters, taste_groups

NOW = "2030-01-01"
ROWS = [OutsideYourBubble(min_neighbors=2, max_overlap=0.5, max_popularity=1.0, min_lift=1.0)]


@pytest.fixture(scope="module")
def data() -> fr.Dataset:
    return fr.datasets.synthetic(n_users=200, n_items=120, seed=5, mean_plays=20)


def _rec(data, ledger=None) -> fr.Recommender:
    model = fr.models.ALS(factors=8, iterations=3, random_state=0)
    return fr.Recommender(model=model, consent=ledger, rows=ROWS, row_size=8, min_row_items=1).fit(
        data, now=NOW
    )


def _reference(train: sp.csr_matrix, taste: np.ndarray, k: int):
    """Main tastes and per-group liked counts by their definition, one viewer at a time."""
    dense = train.toarray()
    theirs = []
    for row in dense:
        liked = np.flatnonzero(row > 0)
        c = taste[liked]
        c = c[c >= 0]
        theirs.append(int(np.bincount(c, minlength=k).argmax()) if c.size else -1)
    theirs = np.array(theirs, dtype=np.int64)
    liked = np.array([(dense[theirs == g] > 0).sum(axis=0) for g in range(k)]).reshape(
        k, train.shape[1]
    )
    return theirs, liked


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_taste_groups_by_definition_and_own_row_left_out(seed):
    rng = np.random.default_rng(seed)
    n_train, n_items, k = (
        int(rng.integers(1, 40)),
        int(rng.integers(1, 15)),
        int(rng.integers(1, 5)),
    )
    rows, cols = np.nonzero(rng.random((n_train, n_items)) < 0.4)
    w = rng.integers(-1, 3, len(rows)).astype(float)  # <= 0: watched, not a positive
    train = sp.csr_matrix((w, (rows, cols)), shape=(n_train, n_items))
    taste = rng.integers(-1, k, n_items)
    g = taste_groups(train, taste, k)
    theirs, liked = _reference(train, taste, k)
    assert (g.viewer_taste == theirs).all()
    assert (g.liked == liked).all()
    assert (g.size == np.bincount(theirs[theirs >= 0], minlength=k)).all()
    # counted block by block of whole rows (any block size): the same groups
    b = taste_groups(train, taste, k, block=int(rng.integers(1, 30)))
    assert (b.viewer_taste == theirs).all() and (b.liked == liked).all()
    assert (b.size == g.size).all() and b.liked.dtype == g.liked.dtype
    # viewers (histories, own training rows) asking for titles (-1 padded)
    u = int(rng.integers(1, 5))
    h = sp.csr_matrix((rng.random((u, n_items)) < 0.4).astype(float))
    own = rng.integers(-1, n_train, u)
    items = rng.integers(-1, n_items, (u, 6))
    mine = main_tastes(h, taste, k)
    viewers, got = g.group_counts(mine, own, items, train)
    dense = train.toarray()
    for v in range(u):
        others = [r for r in range(n_train) if theirs[r] == mine[v] and r != own[v]]
        assert viewers[v] == (len(others) if mine[v] >= 0 else 0)
        for j, i in enumerate(items[v]):
            want = 0 if i < 0 or mine[v] < 0 else int((dense[others, i] > 0).sum())
            assert got[v, j] == want


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), u=st.sampled_from([1, 2, 5]))
def test_own_row_liked_lookups_agree_with_the_matrix(seed, u):
    # the one-row search, the (u, n_items) mask and the search over rows laid end to end
    from fairrec.rows import _tastes

    rng = np.random.default_rng(seed)
    n_train, n_items = int(rng.integers(1, 30)), int(rng.integers(1, 25))
    rows, cols = np.nonzero(rng.random((n_train, n_items)) < 0.4)
    w = rng.integers(-1, 3, len(rows)).astype(float)  # <= 0: watched, not a positive
    train = sp.csr_matrix((w, (rows, cols)), shape=(n_train, n_items))
    own = rng.integers(-1, n_train, u)
    items = rng.integers(0, n_items, (u, 9))
    dense = train.toarray()
    want = np.where(own[:, None] >= 0, dense[np.maximum(own, 0)[:, None], items] > 0, False)
    dense_max = _tastes._DENSE_LIKED
    try:
        for cap in (dense_max, 0):
            _tastes._DENSE_LIKED = cap
            np.testing.assert_array_equal(_tastes._row_liked(train, own, items), want)
    finally:
        _tastes._DENSE_LIKED = dense_max


def test_taste_clusters_are_deterministic_and_skip_zero_vectors():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(60, 5)).astype(np.float32)
    v[[3, 7]] = 0.0
    a, b = taste_clusters(v, 8), taste_clusters(v.copy(), 8)
    assert (a == b).all()
    assert a[3] == a[7] == -1 and (np.delete(a, [3, 7]) >= 0).all() and a.max() < 8
    assert (taste_clusters(np.zeros((4, 3)), 8) == -1).all()
    assert taste_clusters(np.zeros((0, 3)), 8).size == 0
    assert set(taste_clusters(v[:5], 8).tolist()) <= set(range(5)) | {-1}


def test_pages_verify_and_batch_equals_single(data):
    rec = _rec(data)
    users = list(data.user_ids[:30])
    pages = rec.home_batch(users, now=NOW, as_pages=True)
    assert sum(len(r.items) for p in pages for r in p.rows) > 10
    for u, p in zip(users, pages):
        assert verify_page(p, data, None, recommender=rec) == []
        assert p.to_dict()["rows"] == rec.home(u, now=NOW).to_dict()["rows"]


def _counts_without(rec, row: int) -> None:
    """The fitted groups are the groups of the current training matrix, which lacks ``row``."""
    f = rec.fitted_state_
    want = taste_groups(f.train_matrix_, f.tastes_.title_taste, f.tastes_.n_tastes)
    assert (f.tastes_.liked == want.liked).all() and (f.tastes_.size == want.size).all()


@pytest.mark.parametrize("update_items", [False, True])
def test_forget_drops_the_viewer_from_every_count(data, update_items):
    rec = _rec(data)
    f = rec.fitted_state_
    t = f.tastes_
    # a training viewer with a main taste and liked titles
    row = int(np.flatnonzero(t.viewer_taste >= 0)[0])
    user = f.train_user_ids_[row]
    liked = f.train_matrix_[row]
    liked = liked.indices[liked.data > 0]
    before_size, before_liked = t.size.copy(), t.liked.copy()
    rec.forget(user, update_items=update_items)
    after = rec.fitted_state_.tastes_
    assert after.size.sum() == before_size.sum() - 1
    if not update_items:  # same title clusters: exactly their row leaves their group
        g = t.viewer_taste[row]
        assert after.size[g] == before_size[g] - 1
        assert (before_liked[g, liked] - after.liked[g, liked] == 1).all()
        rest = np.ones(before_liked.shape, dtype=bool)
        rest[g, liked] = False
        assert (after.liked[rest] == before_liked[rest]).all()
    _counts_without(rec, row)
    others = [u for u in data.user_ids[:15] if u != user]
    for p in rec.home_batch(others, now=NOW, as_pages=True):
        assert verify_page(p, rec.data_, None, recommender=rec) == []


def test_saved_file_holds_no_taste_data_and_load_rebuilds_it(tmp_path, data):
    ledger = fr.ConsentLedger(default="allow")
    rec = _rec(data, ledger)
    gone = data.user_ids[0]
    ledger.revoke(gone, "training")  # the saved training rows leave them out
    rec.save(tmp_path / "m")
    names = []
    for path in (tmp_path / "m").rglob("*"):
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as z:
                names += z.namelist()
        elif path.suffix == ".json":
            names += list(json.loads(path.read_text()))
    assert names and not [n for n in names if "taste" in n.lower()]
    loaded = fr.Recommender.load(tmp_path / "m", consent=ledger)
    f = loaded.fitted_state_
    assert gone not in f.train_user_ids_.tolist()
    assert (f.tastes_.title_taste == rec.fitted_state_.tastes_.title_taste).all()
    assert f.tastes_.size.sum() <= len(f.train_user_ids_) < len(data.user_ids)
    _counts_without(loaded, -1)
    for p in loaded.home_batch(list(data.user_ids[1:11]), now=NOW, as_pages=True):
        assert verify_page(p, loaded.data_, ledger, recommender=loaded) == []


def test_add_titles_extends_the_clusters_and_counts(data):
    rec = _rec(data)
    rec.add_titles(
        pd.DataFrame({"item_id": [10_001], "title": ["New one"], "genres": [["Drama"]]}), now=NOW
    )
    t = rec.fitted_state_.tastes_
    n = rec.data_.n_items
    assert t.title_taste.shape == (n,) and t.liked.shape == (t.n_tastes, n)
    assert t.liked[:, -1].sum() == 0  # nobody trained on it
    for p in rec.home_batch(list(data.user_ids[:10]), now=NOW, as_pages=True):
        assert verify_page(p, rec.data_, None, recommender=rec) == []


def test_min_lift_is_checked():
    with pytest.raises(fr.errors.ParameterError, match="min_lift"):
        OutsideYourBubble(min_lift=0.5)
    with pytest.raises(fr.errors.ParameterError, match="min_lift"):
        OutsideYourBubble(min_lift=float("nan"))


def test_live_plays_move_the_viewer_not_the_counts(data):
    """Observed plays count in the viewer's own main taste (their serving history), never in
    the fit-time counts other viewers' evidence states."""
    rec = _rec(data)
    before = rec.fitted_state_.tastes_
    u = data.user_ids[3]
    row = rec.fitted_state_.train_index_[canon_id(u)]
    seen = set(data.items[data.users == 3].tolist())
    new = [data.item_ids[i] for i in range(data.n_items) if i not in seen][:12]
    rec.observe(pd.DataFrame({"user_id": [u] * len(new), "item_id": new}), now=NOW)
    after = rec.fitted_state_.tastes_
    assert after is before  # nothing refitted, nothing recounted
    hist = rec._gate([u], NOW, rec._fitted).histories
    mine = main_tastes(hist, after.title_taste, after.n_tastes)
    page = rec.home(u, now=NOW)
    assert sum(len(r.items) for r in page.rows) > 0
    for r in page.rows:
        ids = [it.item_id for it in r.items]
        items = np.array([rec.data_.item_index(ids)])
        n, liked = after.group_counts(mine, np.array([row]), items, rec.train_matrix_)
        for it, c in zip(r.items, liked[0].tolist()):
            e = it.reason.evidence
            assert (e["taste_group"], e["group_viewers"], e["group_liked"]) == (
                int(mine[0]),
                int(n[0]),
                c,
            )


def test_group_counts_when_no_title_has_a_taste_cluster():
    """A catalog whose titles have no cluster (e.g. zero vectors) has no taste group: every
    viewer counts zero others, in a batch and alone (this raised IndexError in a batch)."""
    train = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))
    g = taste_groups(train, np.array([-1, -1]))
    assert g.n_tastes == 0 and (g.viewer_taste == -1).all()
    viewers, liked = g.group_counts(
        np.array([-1, -1]), np.array([0, -1]), np.array([[0, 1], [1, -1]]), train
    )
    assert viewers.tolist() == [0, 0] and liked.tolist() == [[0, 0], [0, 0]]
    one, liked_one = g.group_counts(np.array([-1]), np.array([1]), np.array([[0, 1]]), train)
    assert one.tolist() == [0] and liked_one.tolist() == [[0, 0]]
