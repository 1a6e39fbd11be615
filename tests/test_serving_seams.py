"""The serving stage's public seams (issue 17): the fitted state as plain arrays and back,
one consent gate for fit / from_fitted / model files, model capabilities as methods of
``CandidateModel`` (no probing), and the API items a new user trips on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import fairrec as fr
from fairrec.errors import DataError, ModelCapabilityError, ModelFileError, NotFittedError
from fairrec.models import CandidateModel
from fairrec.serving import FittedState
from fairrec.serving.persist import consented_state
from fairrec.serving.state import install

NOW = pd.Timestamp("2025-12-31")


@pytest.fixture(scope="module")
def rated() -> fr.Dataset:
    """Small data with times, ratings (4+ is a positive) and maturity."""
    rng = np.random.default_rng(3)
    n = 600
    users = rng.integers(0, 40, n)
    items = rng.integers(0, 30, n)
    stars = rng.integers(1, 6, n)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in users],
            "item_id": items,
            "weight": (stars >= 4).astype(float),
            "time": pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 200, n), "D"),
            "stars": stars.astype(float),
        }
    )
    catalog = pd.DataFrame(
        {
            "item_id": np.arange(30),
            "title": [f"Title {i}" for i in range(30)],
            "genres": [["Drama", "Comedy", "Horror"][i % 3 : i % 3 + 1] for i in range(30)],
            "maturity": [float(i % 4) * 6 for i in range(30)],
        }
    )
    return fr.Dataset.from_pandas(
        frame, catalog, weight_col="weight", time_col="time", rating_col="stars"
    )


MODELS = {
    "als": lambda: fr.models.ALS(factors=4, iterations=3, random_state=0),
    "bpr": lambda: fr.models.BPR(factors=4, iterations=3, random_state=0),
    "ease": lambda: fr.models.EASE(l2=20.0),
    "itemknn": lambda: fr.models.ItemKNN(neighbors=5),
    "popularity": lambda: fr.models.Popularity(),
}


def _same_state(a: FittedState, b: FittedState) -> None:
    assert (a.train_matrix_ != b.train_matrix_).nnz == 0
    assert a.train_matrix_.shape == b.train_matrix_.shape
    if a.train_oldest_ is None:
        assert b.train_oldest_ is None
    else:
        assert (a.train_oldest_ != b.train_oldest_).nnz == 0
    assert list(a.train_user_ids_) == list(b.train_user_ids_)
    da, db = a.data_, b.data_
    assert list(da.user_ids) == list(db.user_ids) and list(da.item_ids) == list(db.item_ids)
    for name in ("users", "items", "weights", "timestamps", "ratings"):
        x, y = getattr(da, name), getattr(db, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)
    assert a.titles_py_ == b.titles_py_ and a.genre_tuples_ == b.genre_tuples_
    assert a.fitted_at_ == b.fitted_at_ and a.like_label == b.like_label
    np.testing.assert_allclose(a.popularity_, b.popularity_)
    ma, mb = a.model_.get_arrays(), b.model_.get_arrays()
    assert set(ma) == set(mb) and type(a.model_) is type(b.model_)
    for k in ma:
        np.testing.assert_allclose(ma[k], mb[k], rtol=1e-6, atol=1e-6, err_msg=k)
    if a.item_ratings_ is None:
        assert b.item_ratings_ is None
    else:
        for x, y in zip(a.item_ratings_, b.item_ratings_):
            np.testing.assert_allclose(x, y)


# ------------------------------------------------------------------ FittedState
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_fitted_state_round_trips_through_plain_arrays(rated, kind):
    rec = fr.Recommender(model=MODELS[kind](), row_size=5, retention_days=400).fit(rated, NOW)
    state = rec.fitted_state_
    arrays, meta = state.to_arrays()
    # plain numeric arrays and JSON metadata: nothing that needs pickle
    assert all(isinstance(v, np.ndarray) and v.dtype.kind in "biuf" for v in arrays.values())
    meta = json.loads(json.dumps(meta, allow_nan=False))
    back = FittedState.from_arrays(arrays, meta)
    _same_state(state, back)
    assert back.like_label == "rated it 4+"  # read from the ratings, kept through the arrays
    # and serving from the rebuilt state gives the same page
    other = fr.Recommender(model=MODELS[kind](), row_size=5, retention_days=400)
    install(other, back, rec.consent_)
    user = rated.user_ids[0]
    p, q = rec.home(user, NOW), other.home(user, NOW)
    assert [r.title for r in p.rows] == [r.title for r in q.rows]
    assert [[i.item_id for i in r.items] for r in p.rows] == [
        [i.item_id for i in r.items] for r in q.rows
    ]


def test_from_arrays_names_what_is_malformed(rated):
    arrays, meta = fr.Recommender(model=MODELS["popularity"]()).fit(rated, NOW).fitted_state_.to_arrays()
    broken = {k: v for k, v in arrays.items() if k != "train/indptr"}
    with pytest.raises(ModelFileError, match="train/indptr"):
        FittedState.from_arrays(broken, meta)
    with pytest.raises(ModelFileError, match="Unknown model kind 'pickle'"):
        FittedState.from_arrays(arrays, {**meta, "model": {"kind": "pickle", "params": {}}})
    short = dict(arrays, **{"history/ratings": arrays["history/ratings"][:-1]})
    with pytest.raises(ModelFileError, match="history/ratings"):
        FittedState.from_arrays(short, meta)


def test_the_saved_state_is_the_consented_state(rated, tmp_path):
    """The model file is the fitted state reduced by the ledger at save time: its arrays
    are exactly consented_state(...).to_arrays(), and nothing of a withdrawn viewer."""
    ledger = fr.ConsentLedger(default="allow")
    rec = fr.Recommender(model=MODELS["als"](), consent=ledger, clock=lambda: NOW).fit(rated)
    gone, hidden = rated.user_ids[0], rated.user_ids[1]
    ledger.revoke(gone, ["training"], at=NOW)
    ledger.revoke(hidden, ["personalization"], at=NOW)
    kept = consented_state(rec.fitted_state_, ledger, NOW, None)
    assert gone not in list(kept.train_user_ids_) and gone in list(kept.data_.user_ids)
    assert hidden not in list(kept.data_.user_ids) and hidden in list(kept.train_user_ids_)
    assert kept.model_.user_rows() == kept.train_matrix_.shape[0]
    rec.save(tmp_path / "m")
    loaded = fr.Recommender.load(tmp_path / "m", consent=ledger)
    _same_state(kept, loaded.fitted_state_)


# ------------------------------------------------------------------ one gate route
def test_from_fitted_rebuilds_the_training_matrix_fit_built(rated):
    ledger = fr.ConsentLedger(default="allow")
    ledger.revoke(rated.user_ids[2], ["training"], at=NOW)
    rec = fr.Recommender(model=MODELS["als"](), consent=ledger, retention_days=120).fit(
        rated, NOW
    )
    ids = list(rec.train_user_ids_)
    assert rated.user_ids[2] not in ids
    other = fr.Recommender.from_fitted(
        rec.model_,
        rated,
        train_user_ids=ids[::-1],  # any order: rows follow the given ids
        consent=ledger,
        fitted_at=NOW,
        retention_days=120,
    )
    order = np.arange(len(ids))[::-1]
    assert (other.train_matrix_ != rec.train_matrix_[order]).nnz == 0
    assert (other.train_oldest_ != rec.train_oldest_[order]).nnz == 0
    np.testing.assert_allclose(other.item_ratings_[0], rec.item_ratings_[0])


def test_dataset_events_by_user_is_the_public_grouping(rated):
    order, indptr = rated.events_by_user
    assert len(indptr) == rated.n_users + 1
    for u in (0, 5, rated.n_users - 1):
        np.testing.assert_array_equal(order[indptr[u] : indptr[u + 1]], rated.events_of(u))
        assert (rated.users[order[indptr[u] : indptr[u + 1]]] == u).all()


# ------------------------------------------------------------------ model capabilities
class Plain(CandidateModel):
    """A custom model that implements only the abstract methods."""

    kind = "plain"

    def __init__(self) -> None:  # no parameters
        pass

    def fit(self, user_items: sp.csr_matrix) -> Plain:
        self.counts_ = np.asarray(user_items.sum(axis=0), dtype=np.float32).ravel()
        self.n_items_ = user_items.shape[1]
        return self

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.counts_, (histories.shape[0], 1))

    def get_arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts_}

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.counts_ = arrays["counts"]
        self.n_items_ = len(self.counts_)


def test_a_model_without_erase_rows_refuses_forget_before_anything_changes(rated):
    ledger = fr.ConsentLedger(default="allow")
    rec = fr.Recommender(model=Plain(), consent=ledger).fit(rated, NOW)
    user = rated.user_ids[3]
    with pytest.raises(ModelCapabilityError, match="Plain does not implement erase_rows"):
        rec.forget(user)
    assert not ledger.is_forgotten(user)
    assert user in list(rec.train_user_ids_)


def test_a_model_without_with_new_items_refuses_add_titles(rated):
    rec = fr.Recommender(model=Plain()).fit(rated, NOW)
    new = pd.DataFrame({"item_id": [999], "title": ["New"], "genres": [["Drama"]]})
    with pytest.raises(ModelCapabilityError, match="refit it with the new titles"):
        rec.add_titles(new, now=NOW)
    assert rec.data_.n_items == rated.n_items


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_builtin_models_implement_the_capabilities(rated, kind):
    model = MODELS[kind]()
    for method in ("erase_rows", "with_new_items"):
        assert getattr(type(model), method) is not getattr(CandidateModel, method), method
    rec = fr.Recommender(model=model).fit(rated, NOW)
    rec.add_titles(
        pd.DataFrame({"item_id": [999], "title": ["New"], "genres": [["Drama"]]}), now=NOW
    )
    assert rec.model_.n_items_ == rated.n_items + 1
    rec.forget(rated.user_ids[4])
    assert rec.model_.user_rows() in (None, rec.train_matrix_.shape[0])


# ------------------------------------------------------------------ API a new user trips on
def test_rec_model_after_fit_is_the_template_and_says_where_the_fitted_one_is(rated):
    template = fr.models.ALS(factors=4, iterations=2, random_state=0)
    rec = fr.Recommender(model=template).fit(rated, NOW)
    assert rec.model is template and not template.is_fitted()
    assert rec.model_.is_fitted() and rec.model_ is not template
    with pytest.raises(NotFittedError, match=r"rec\.model_"):
        rec.model.item_vectors  # noqa: B018


def test_a_window_that_excludes_every_play_names_the_window_and_now(rated):
    rec = fr.Recommender(retention_days=30, clock=lambda: pd.Timestamp("2026-12-01"))
    with pytest.raises(DataError) as err:
        rec.fit(rated)
    msg = str(err.value)
    assert "retention_days=30" in msg and "fit(data, now=...)" in msg
    assert "2026-12-01" in msg  # the time of fitting it used
    newest = pd.Timestamp(rated.timestamps.max()).isoformat()
    assert newest in msg
    rec.fit(rated, now=pd.Timestamp(rated.timestamps.max()))  # the fix the message gives


def test_no_training_consent_is_named_as_such(rated):
    ledger = fr.ConsentLedger(default="deny")
    with pytest.raises(DataError, match="no viewer in the data has 'training' consent"):
        fr.Recommender(consent=ledger, retention_days=30).fit(rated, NOW)


def test_flat_list_reasons_of_new_titles_claim_no_history_without_personalization(rated):
    """A cold-start title on a non-personalized flat list keeps the "no personal data"
    reason (its place comes from popularity); only personalized lines say it is estimated
    from the viewer's history."""
    ledger = fr.ConsentLedger(default="allow")
    user = rated.user_ids[5]
    rec = fr.Recommender(model=MODELS["als"](), consent=ledger).fit(rated, NOW)
    rec.add_titles(
        pd.DataFrame({"item_id": [900, 901], "title": ["N1", "N2"], "genres": [["Drama"]] * 2}),
        now=NOW,
    )
    k = rec.data_.n_items
    mine = rec.recommend(user, k=k, now=NOW)
    new = mine[mine["item_id"].isin([900, 901])]
    assert len(new) and new["reason"].str.startswith("New on the catalog").all()
    ledger.revoke(user, ["personalization"], at=NOW)
    plain = rec.recommend(user, k=k, now=NOW + pd.Timedelta(seconds=1))
    assert {900, 901} <= set(plain["item_id"])
    assert (plain["reason"] == "Among the most watched titles (no personal data)").all()
