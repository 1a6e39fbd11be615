"""Regression tests of the evaluation audit: serving time, and models fitted on test data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fairrec as fr
import fairrec.metrics as M
from fairrec.errors import DataError

K = 10


def _als() -> fr.models.ALS:
    return fr.models.ALS(factors=8, iterations=4, random_state=0)


@pytest.fixture(scope="module")
def data():
    # events over 2025; the clocks below are years later
    return fr.datasets.synthetic(n_users=120, n_items=90, seed=5, mean_plays=15)


@pytest.fixture(scope="module")
def split(data):
    return fr.evaluation.temporal_holdout(data, fraction=0.2)


@pytest.fixture(scope="module")
def end(split):
    return pd.Timestamp(split.train.timestamps.max())


# ---------------------------------------------------------------- finding 1: serving time
def test_evaluate_serves_at_the_end_of_the_training_data(split, end):
    """A retention window is applied at the split's time, not at the wall clock.

    Before the fix, evaluate served at the clock: with a clock years after the data, every
    history fell out of the 365-day window and every list was the popularity fallback.
    """
    late = pd.Timestamp("2031-06-01")
    rec = fr.Recommender(model=_als(), consent=None, retention_days=365, clock=lambda: late).fit(
        split.train, now=end
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no viewer falls back: nothing to warn about
        row = fr.evaluate(rec, split, k=K, metrics=["ndcg", "recall"])
    truth = split.test_frame()
    users = truth["user_id"].unique().tolist()
    lists = rec.recommend_batch(users, k=K, now=end)
    assert (lists["reason"] != "Among the most watched titles (no personal data)").all()
    expected = M.ndcg_at_k(lists, truth, k=K)
    assert row["ndcg@10"].iloc[0] == pytest.approx(expected, rel=1e-9)
    assert row.attrs["now"] == end and row.attrs["n_fallback"] == 0
    # and served at the clock, the same recommender really is the fallback for everyone
    stale = rec.recommend_batch(users, k=K)
    assert (stale["reason"] == "Among the most watched titles (no personal data)").all()
    assert M.ndcg_at_k(stale, truth, k=K) < expected


def test_evaluate_now_parameter_and_fallback_warning(split, end):
    rec = fr.Recommender(model=_als(), consent=None, retention_days=2).fit(split.train, now=end)
    with pytest.warns(UserWarning, match=r"have no event inside the retention window \(2 days"):
        row = fr.evaluate(rec, split, k=K, metrics=["ndcg"])
    n_eval = int(row["n_users"].iloc[0])
    assert 0 < row.attrs["n_fallback"] <= n_eval
    # served a year later still, nobody has data: all of them are said to fall back
    with pytest.warns(UserWarning, match=f"of {n_eval} evaluated viewers, {n_eval} have no"):
        later = fr.evaluate(rec, split, k=K, metrics=["ndcg"], now=end + pd.Timedelta(days=400))
    assert later.attrs["n_fallback"] == n_eval
    with pytest.raises(fr.errors.ParameterError, match="'now' parameter"):
        fr.evaluate(rec, split, now="not a time")


def test_evaluate_reads_now_as_the_recommender_does(split, end):
    """A tz-aware ``now`` is served at its UTC instant (as ``Recommender.home(now=...)``
    reads it): evaluation keeps no time rule of its own that could drift from serving's."""
    rec = fr.Recommender(model=_als(), consent=None).fit(split.train, now=end)
    local = (end + pd.Timedelta(hours=1)).tz_localize("UTC").tz_convert("Asia/Tokyo")
    row = fr.evaluate(rec, split, k=K, metrics=["ndcg"], now=local)
    assert row.attrs["now"] == end + pd.Timedelta(hours=1)
    assert row.attrs["now"].tzinfo is None


def test_compare_serves_at_the_split_time_too(split, end):
    late = pd.Timestamp("2031-06-01")
    rec = fr.Recommender(model=_als(), consent=None, retention_days=365, clock=lambda: late).fit(
        split.train, now=end
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = fr.compare({"a": None}, split=split, recommender=rec, n_candidates=20)
    row = fr.evaluate(rec, split, k=K)
    assert table.loc["a", "ndcg@10"] == pytest.approx(row["ndcg@10"].iloc[0])
    assert table.attrs["now"] == end


# ---------------------------------------------------------------- finding 2: model leakage
@pytest.mark.parametrize(
    "model", [_als(), fr.models.EASE(l2=10.0), fr.models.ItemKNN(neighbors=10)], ids=repr
)
def test_from_fitted_with_a_model_fitted_on_the_test_data_is_refused(data, split, model):
    """Before the fix, only the recommender's own data was compared with the test pairs."""
    full = fr.Recommender(model=model, consent=None).fit(data)
    rec = fr.Recommender.from_fitted(full.model_, split.train, train_user_ids=full.train_user_ids_)
    with pytest.raises(DataError, match="data the model was trained on"):
        fr.evaluate(rec, split, k=K)
    with pytest.raises(DataError, match="data the model was trained on"):
        fr.compare({"m": None}, split=split, recommender=rec, n_candidates=20)
    # the honest route is accepted: a model fitted on the train side only
    honest = fr.Recommender(model=model, consent=None).fit(split.train)
    ok = fr.Recommender.from_fitted(
        honest.model_, split.train, train_user_ids=honest.train_user_ids_
    )
    assert 0.0 <= fr.evaluate(ok, split, k=K)["ndcg@10"].iloc[0] <= 1.0


def test_model_leak_found_under_other_spellings_of_the_ids(data, split):
    full = fr.Recommender(model=_als(), consent=None).fit(data)
    spelled = [
        f" 0{u}" if isinstance(u, (int, np.integer)) else f"{u} " for u in full.train_user_ids_
    ]
    rec = fr.Recommender.from_fitted(full.model_, split.train, train_user_ids=spelled)
    with pytest.raises(DataError, match="data the model was trained on"):
        fr.evaluate(rec, split, k=K)


def test_model_leak_found_with_a_sampled_record(data, split, monkeypatch):
    from fairrec.models import _pairs

    monkeypatch.setattr(_pairs, "MAX_KEYS", 64)  # keep ~64 of the pairs: a hash sample
    full = fr.Recommender(model=fr.models.Popularity(), consent=None).fit(data)
    assert full.model_.training_pairs_.stride > 1
    rec = fr.Recommender.from_fitted(full.model_, split.train, train_user_ids=full.train_user_ids_)
    with pytest.raises(DataError, match="sampled test"):
        fr.evaluate(rec, split, k=K)


def test_a_record_that_does_not_match_the_training_ids_is_refused(data, split):
    full = fr.Recommender(model=fr.models.EASE(l2=10.0), consent=None).fit(split.train)
    rec = fr.Recommender.from_fitted(
        full.model_, split.train, train_user_ids=full.train_user_ids_[:5]
    )
    with pytest.raises(DataError, match="cannot check that the model never saw"):
        fr.evaluate(rec, split, k=K)


def test_a_loaded_model_is_checked_against_its_saved_training_matrix(tmp_path, split):
    rec = fr.Recommender(model=fr.models.EASE(l2=10.0), consent=None).fit(split.train)
    rec.save(tmp_path / "m")
    loaded = fr.Recommender.load(tmp_path / "m")
    assert not hasattr(loaded.model_, "training_pairs_")
    a = fr.evaluate(rec, split, k=K, metrics=["ndcg"])
    b = fr.evaluate(loaded, split, k=K, metrics=["ndcg"])
    assert b["ndcg@10"].iloc[0] == pytest.approx(a["ndcg@10"].iloc[0])


def test_training_pairs_record_is_exact_on_small_data():
    import scipy.sparse as sp

    from fairrec.models._pairs import TrainingPairs

    m = sp.csr_matrix(np.array([[1, 0, 2], [0, 0, 1]], dtype=np.float32))
    rec = TrainingPairs.of(m)
    checked, found = rec.seen(np.array([0, 0, 1, 1, -1, 5]), np.array([0, 1, 2, 0, 0, 0]))
    assert checked.tolist() == [True, True, True, True, False, False]
    assert found.tolist() == [True, False, True, False, False, False]


@settings(max_examples=40, deadline=None)
@given(
    cells=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 6), st.sampled_from([0.0, 1.0, 2.5])),
        max_size=40,
    ),
    canonical=st.booleans(),
    max_keys=st.sampled_from([4, 1 << 20]),
    block=st.sampled_from([1, 3, 1 << 22]),
)
def test_training_pairs_keys_are_the_sorted_unique_positive_cells(
    cells, canonical, max_keys, block
):
    """The record skips np.unique for a canonical CSR and samples it block by block of rows:
    same keys either way, also for a matrix with unsorted indices and duplicate cells."""
    import scipy.sparse as sp

    from fairrec.models import _pairs

    rows = np.array([c[0] for c in cells], dtype=np.int64)
    cols = np.array([c[1] for c in cells], dtype=np.int64)
    vals = np.array([c[2] for c in cells], dtype=np.float32)
    # reversed order inside each row and duplicate cells kept: a non-canonical CSR
    order = np.lexsort((-cols, rows))
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=6))))
    m = sp.csr_matrix((vals[order], cols[order], indptr), shape=(6, 7))
    if canonical:
        m.sum_duplicates()
    want = np.unique(rows[order][vals[order] > 0] * 7 + cols[order][vals[order] > 0])
    stride = max(1, -(-want.size // max_keys))
    old = _pairs.MAX_KEYS, _pairs._BLOCK
    _pairs.MAX_KEYS, _pairs._BLOCK = max_keys, block
    try:
        rec = _pairs.TrainingPairs.of(m)
    finally:
        _pairs.MAX_KEYS, _pairs._BLOCK = old
    assert rec.stride == stride
    np.testing.assert_array_equal(
        rec.keys, want[_pairs._in_sample(want.astype(np.uint64), stride)].astype(np.uint64)
    )
