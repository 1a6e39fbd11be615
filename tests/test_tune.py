"""fairrec.tune and rolling_folds: no fit on a validation window, same seed -> same trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

import fairrec as fr
from fairrec.errors import ParameterError
from fairrec.evaluation import rolling_folds
from fairrec.tuning import candidates


@pytest.fixture(scope="module")
def data():
    return fr.datasets.synthetic(n_users=120, n_items=80, seed=2, mean_plays=15)


class SpyEASE(fr.models.EASE):
    """EASE that records the column sums of every matrix it is fitted on."""

    fits: list[np.ndarray] = []

    def fit(self, user_items: sp.csr_matrix) -> SpyEASE:
        SpyEASE.fits.append(np.asarray(user_items.sum(axis=0)).ravel())
        return super().fit(user_items)


def _colsums(ds: fr.Dataset) -> np.ndarray:
    return np.bincount(ds.items, weights=ds.weights, minlength=ds.n_items)


@pytest.mark.parametrize("per_viewer", [False, True])
def test_rolling_folds_train_on_the_past_only(data, per_viewer):
    folds = rolling_folds(data, n_folds=3, test_fraction=0.1, per_viewer=per_viewer)
    assert len(folds) == 3
    for f in folds:
        assert f.test.n_events > 0
        tr = set(zip(f.train.users.tolist(), f.train.items.tolist()))
        te = set(zip(f.test.users.tolist(), f.test.items.tolist()))
        assert not tr & te
        if not per_viewer:
            assert f.train.timestamps.max() < f.test.timestamps.min()
        else:  # per viewer: every train title before every validation title of the viewer
            tr_end = pd.Series(f.train.timestamps).groupby(f.train.users).max()
            te_start = pd.Series(f.test.timestamps).groupby(f.test.users).min()
            both = tr_end.index.intersection(te_start.index)
            assert (tr_end[both] <= te_start[both]).all()
    # the folds roll forward
    assert folds[0].train.n_events < folds[1].train.n_events < folds[2].train.n_events
    with pytest.raises(ParameterError, match="below 1"):
        rolling_folds(data, n_folds=5, test_fraction=0.2)


def test_tune_never_fits_on_a_validation_fold(data):
    SpyEASE.fits.clear()
    folds = rolling_folds(data, n_folds=3, test_fraction=0.1)
    res = fr.tune(SpyEASE(), {"l2": [5.0, 50.0]}, data, split=folds, progress=False)
    assert len(SpyEASE.fits) == 2 * 3 + 1  # every candidate on every fold, then the refit
    for i, seen in enumerate(SpyEASE.fits[:-1]):
        fold = folds[i % 3]
        # what was fitted is exactly the fold's train side: not one validation event more
        np.testing.assert_allclose(seen, _colsums(fold.train))
        late = _colsums(fold.test) > 0
        assert not np.allclose(seen[late], (_colsums(fold.train) + _colsums(fold.test))[late])
    np.testing.assert_allclose(SpyEASE.fits[-1], _colsums(data))  # the refit: all of data
    assert isinstance(res.best_model, SpyEASE) and res.best_model.is_fitted()
    assert res.best_params["l2"] in (5.0, 50.0)
    assert res.trials["rank"].tolist() in ([1, 2], [2, 1])
    best = res.trials.loc[res.trials["rank"] == 1, "mean_ndcg@10"].iloc[0]
    assert res.best_score == pytest.approx(best)
    assert res.best_score == pytest.approx(res.trials["mean_ndcg@10"].max())


def test_tune_fold_scores_are_evaluate_on_the_fold(data):
    folds = rolling_folds(data, n_folds=2, test_fraction=0.15)
    res = fr.tune(fr.models.EASE(), {"l2": [20.0]}, data, split=folds, progress=False)
    for j, fold in enumerate(folds):
        end = fold.train.timestamps.max()
        rec = fr.Recommender(model=fr.models.EASE(l2=20.0), consent=None).fit(fold.train, now=end)
        row = fr.evaluate(rec, fold, k=10, metrics=["ndcg"])
        assert res.trials[f"fold{j}_ndcg@10"].iloc[0] == pytest.approx(row["ndcg@10"].iloc[0])


def test_same_seed_same_trials(data):
    space = {"l2": stats.loguniform(1.0, 1000.0)}
    runs = [
        fr.tune(fr.models.EASE(), space, data, split=2, n_iter=3, random_state=7, progress=False)
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(
        runs[0].trials.drop(columns="fit_seconds"),
        runs[1].trials.drop(columns="fit_seconds"),
        check_exact=False,
        rtol=1e-9,
    )
    other = candidates(space, n_iter=3, random_state=8)
    assert [c["l2"] for c in other] != runs[0].trials["param_l2"].tolist()


def test_candidates_grid_and_random():
    grid = {"factors": [8, 16], "regularization": [0.01, 0.1]}
    assert candidates(grid) == [
        {"factors": 8, "regularization": 0.01},
        {"factors": 8, "regularization": 0.1},
        {"factors": 16, "regularization": 0.01},
        {"factors": 16, "regularization": 0.1},
    ]
    drawn = candidates(grid, n_iter=3, random_state=0)
    assert len(drawn) == 3 and len({tuple(c.items()) for c in drawn}) == 3  # no repeats
    assert drawn == candidates(grid, n_iter=3, random_state=0)
    assert len(candidates(grid, n_iter=10)) == 4  # the whole grid, once each
    mixed = candidates({"l2": stats.uniform(1, 9), "x": [1, 2]}, n_iter=5, random_state=1)
    assert all(1 <= c["l2"] <= 10 and c["x"] in (1, 2) for c in mixed)
    assert all(type(c["l2"]) is float for c in mixed)  # plain values: model files stay JSON
    with pytest.raises(ParameterError, match="need n_iter"):
        candidates({"l2": stats.uniform(1, 9)})
    with pytest.raises(ParameterError, match="non-empty list"):
        candidates({"l2": []})


def test_tune_bad_arguments(data):
    with pytest.raises(ParameterError, match="no parameter"):
        fr.tune(fr.models.EASE(), {"alpha": [1.0]}, data, progress=False)
    with pytest.raises(ParameterError, match="'metric' parameter"):
        fr.tune(fr.models.EASE(), {"l2": [1.0]}, data, metric="speed", progress=False)
    with pytest.raises(ParameterError, match="'model' parameter"):
        fr.tune("EASE", {"l2": [1.0]}, data, progress=False)
    with pytest.raises(ParameterError, match="'split' parameter"):
        fr.tune(fr.models.EASE(), {"l2": [1.0]}, data, split="folds", progress=False)


def test_tune_fits_through_a_consent_ledger(data):
    """With a ledger, viewers without 'training' consent never reach a candidate's fit."""
    SpyEASE.fits.clear()
    ledger = fr.ConsentLedger(default="allow")
    out = data.user_ids[:40]
    for u in out:
        ledger.revoke(u, "training")
    folds = rolling_folds(data, n_folds=2, test_fraction=0.1)
    fr.tune(SpyEASE(), {"l2": [5.0]}, data, split=folds, progress=False, consent=ledger)
    kept = ~np.isin(data.users, np.arange(40))
    for fold, seen in zip(folds, SpyEASE.fits[:2]):
        tr = fold.train
        mask = ~np.isin(tr.users, np.arange(40))
        expected = np.bincount(tr.items[mask], weights=tr.weights[mask], minlength=tr.n_items)
        np.testing.assert_allclose(seen, expected)
    np.testing.assert_allclose(
        SpyEASE.fits[-1],
        np.bincount(data.items[kept], weights=data.weights[kept], minlength=data.n_items),
    )
