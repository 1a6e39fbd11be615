"""Conformance tests every candidate model runs (one mixin, many models), plus specifics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import fairrec as fr
from fairrec.errors import DataError, NotFittedError, ParameterError
from fairrec.models import top_n


def _matrix(n_users: int = 120, n_items: int = 60, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    m = sp.random(n_users, n_items, density=0.08, format="csr", random_state=rng, dtype=np.float32)
    m.data[:] = 1.0
    return m


class ModelConformance:
    """Invariants of the CandidateModel protocol."""

    def make(self) -> fr.models.CandidateModel:
        raise NotImplementedError

    def test_fit_returns_self_and_scores_shape(self):
        m = _matrix()
        model = self.make()
        assert model.fit(m) is model
        scores = model.score_histories(m[:5])
        assert scores.shape == (5, m.shape[1])
        assert np.all(np.isfinite(scores))

    def test_not_fitted_error_names_class(self):
        model = self.make()
        with pytest.raises(NotFittedError, match=type(model).__name__):
            model.candidates(_matrix()[:1], 5)

    def test_candidates_exclude_seen_and_excluded(self):
        m = _matrix()
        model = self.make().fit(m)
        exclude = np.zeros(m.shape[1], dtype=bool)
        exclude[:10] = True
        idx, scores = model.candidates(m[:8], m.shape[1] + 5, exclude=exclude)
        for row in range(8):
            got = idx[row][idx[row] >= 0]
            assert len(set(got)) == len(got)
            assert not set(got) & set(m[row].indices)
            assert not set(got) & set(range(10))
            # everything allowed is returned when n exceeds what is left, nothing else
            allowed = set(range(10, m.shape[1])) - set(m[row].indices)
            assert set(got) == allowed
            s = scores[row][idx[row] >= 0]
            assert np.all(np.diff(s) <= 0)

    def test_save_arrays_round_trip(self):
        m = _matrix()
        model = self.make().fit(m)
        clone = type(model)(**model.get_params())
        clone.set_arrays(model.get_arrays())
        np.testing.assert_array_equal(
            clone.candidates(m[:4], 10)[0], model.candidates(m[:4], 10)[0]
        )

    def test_history_columns_checked(self):
        model = self.make().fit(_matrix())
        with pytest.raises(DataError, match="columns"):
            model.candidates(sp.csr_matrix((1, 3), dtype=np.float32), 2)

    def test_bad_weights_rejected(self):
        m = _matrix()
        m.data[0] = np.nan
        with pytest.raises(DataError, match="finite"):
            self.make().fit(m)


class TestALS(ModelConformance):
    def make(self):
        return fr.models.ALS(factors=8, iterations=3, random_state=0)

    def test_same_seed_same_factors(self):
        m = _matrix()
        a = self.make().fit(m).get_arrays()
        b = self.make().fit(m).get_arrays()
        np.testing.assert_array_equal(a["item_factors"], b["item_factors"])

    def test_request_time_vector_uses_given_history_only(self):
        m = _matrix()
        model = self.make().fit(m)
        # a viewer whose history is emptied gets the zero vector: nothing stored leaks in
        empty = sp.csr_matrix((1, m.shape[1]), dtype=np.float32)
        np.testing.assert_allclose(model.user_vectors(empty), 0.0)

    def test_matches_raw_implicit(self):
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        m = _matrix()
        ours = self.make().fit(m)
        with threadpool_limits(1, "blas"):
            raw = AlternatingLeastSquares(
                factors=8, iterations=3, random_state=0, regularization=0.05
            )
            raw.fit(m, show_progress=False)
        np.testing.assert_allclose(ours.item_vectors, raw.item_factors, rtol=1e-6)

    @pytest.mark.parametrize(
        "param,value",
        [
            ("factors", 0),
            ("iterations", -1),
            ("regularization", -1.0),
            ("alpha", 0.0),
            ("factors", 2.5),
        ],
    )
    def test_bad_parameters(self, param, value):
        with pytest.raises(ParameterError, match=f"'{param}' parameter of ALS"):
            fr.models.ALS(**{param: value}).fit(_matrix())


class TestBPR(ModelConformance):
    def make(self):
        return fr.models.BPR(factors=8, iterations=10, random_state=0)


class TestPopularity(ModelConformance):
    def make(self):
        return fr.models.Popularity()

    def test_counts_distinct_viewers(self):
        m = sp.csr_matrix(np.array([[3, 0, 1], [1, 0, 0]], dtype=np.float32))
        model = fr.models.Popularity().fit(m)
        np.testing.assert_array_equal(model.counts_, [2, 0, 1])


class TestItemKNN(ModelConformance):
    def make(self):
        return fr.models.ItemKNN(neighbors=10)


@settings(max_examples=40, deadline=None)
@given(
    scores=st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=30),
    n=st.integers(1, 40),
    data=st.data(),
)
def test_top_n_never_returns_banned(scores, n, data):
    s = np.array([scores], dtype=np.float64)
    banned = np.array(
        data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores)))
    )
    idx, sc = top_n(s.copy(), n, exclude=banned)
    got = idx[0][idx[0] >= 0]
    assert not banned[got].any()
    assert len(got) == min(n, int((~banned).sum()))
    # sorted by score, ties by lower index
    keys = list(zip(-s[0][got], got))
    assert keys == sorted(keys)


def test_als_erasure_resolves_items_without_the_erased_viewers_and_no_private_writes():
    """Erasing training viewers with ``update_items`` re-solves the touched titles from the
    remaining viewers' factors only (the behaviour the old write to implicit's private
    ``_XtX`` served), now through implicit's public API: the re-solved factors equal
    implicit's own ``recalculate_item`` on a fresh model holding the kept factors, and differ
    from a solve that would still count the erased viewers."""
    import inspect

    from implicit.cpu.als import AlternatingLeastSquares

    import fairrec.models._base as mbase
    from fairrec.models import als as als_module

    m = _matrix(80, 40, seed=3)
    model = fr.models.ALS(factors=6, iterations=4, random_state=0, num_threads=1).fit(m)
    rows = np.array([0, 5, 17])
    keep = np.setdiff1d(np.arange(m.shape[0]), rows)
    rest = m[keep]
    touched = np.unique(m[rows].indices)
    before = model.get_arrays()
    erased = model.erase_rows(rows, rest, touched, update_items=True)
    # the original is not changed (copy on write)
    for name, arr in model.get_arrays().items():
        np.testing.assert_array_equal(arr, before[name])
    kept_users = before["user_factors"][keep]
    np.testing.assert_array_equal(erased.user_factors_, kept_users)
    # implicit's public view of the erased model reflects only the kept viewers
    np.testing.assert_allclose(erased.model_.XtX, kept_users.T @ kept_users, rtol=1e-5, atol=1e-5)
    assert erased.model_.user_norms.shape == (len(keep),)
    # the touched titles: as implicit itself solves them from the kept viewers
    fresh = AlternatingLeastSquares(factors=6, regularization=model.regularization, alpha=1.0)
    fresh.item_factors = before["item_factors"].copy()
    fresh.user_factors = kept_users.copy()
    item_users = sp.csr_matrix(rest.T.tocsr()[touched], dtype=np.float32)
    want = fresh.recalculate_item(touched, item_users)
    got = erased.item_vectors[touched]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # ... and not as a stale XtX (still counting the erased viewers) would solve them
    stale = AlternatingLeastSquares(factors=6, regularization=model.regularization, alpha=1.0)
    stale.item_factors = before["item_factors"].copy()
    stale.user_factors = before["user_factors"].copy()  # XtX over every viewer
    stale_users = sp.csr_matrix(
        sp.vstack([rest, sp.csr_matrix(m[rows].shape, dtype=np.float32)]).T.tocsr()[touched]
    )
    assert stale_users.shape[1] == m.shape[0]
    stale_solve = stale.recalculate_item(touched, _reorder_users(stale_users, keep, m.shape[0]))
    assert not np.allclose(got, stale_solve, rtol=1e-4, atol=1e-5)
    # untouched titles keep their factors
    untouched = np.setdiff1d(np.arange(m.shape[1]), touched)
    np.testing.assert_array_equal(erased.item_vectors[untouched], before["item_factors"][untouched])
    # no fairrec model writes implicit's private attributes
    for module in (mbase, als_module):
        source = inspect.getsource(module)
        assert "_XtX" not in source and "_user_norms" not in source and "_YtY" not in source


def _reorder_users(item_users: sp.csr_matrix, keep: np.ndarray, n_users: int) -> sp.csr_matrix:
    """Columns of ``item_users`` are [kept viewers..., erased viewers (empty)]: map them back
    to the training rows, so that a model holding every viewer's factors can solve them."""
    order = np.concatenate([keep, np.setdiff1d(np.arange(n_users), keep)])
    coo = item_users.tocoo()
    return sp.csr_matrix(
        (coo.data, (coo.row, order[coo.col])), shape=(item_users.shape[0], n_users)
    )


def test_als_gram64_follows_the_item_factors():
    """``ALS.gram64`` (the float64 ``YtY + reg * I`` of per-title explanations) is computed
    once per request-time solver and again after the item factors change in place
    (``update_items``, erasure)."""
    m = _matrix(60, 30, seed=5)
    model = fr.models.ALS(factors=5, iterations=3, random_state=0, num_threads=1).fit(m)

    def want(mod):
        y = mod.model_.item_factors
        yty = np.asarray(y.T @ y, dtype=np.float64)
        return yty + float(mod.regularization) * np.eye(y.shape[1])

    got = model.gram64
    assert got is model.gram64  # cached
    assert not got.flags.writeable
    np.testing.assert_allclose(got, want(model), rtol=1e-5, atol=1e-6)
    touched = np.unique(m[:4].indices)
    model.update_items(touched, sp.vstack([m[:4] * 0, m[4:]]).tocsr())  # rows 0-3 emptied
    np.testing.assert_allclose(model.gram64, want(model), rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.gram64, got)
