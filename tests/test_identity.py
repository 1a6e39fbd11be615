"""One identity for a viewer (issue 13, findings 1 and 6, and the output-dtype decision).

``1``, ``"1"``, ``"01"``, ``" 1"``, fullwidth ``"１"`` and ``"1\\u200b"`` are one viewer
everywhere: Dataset, ledger, gate, recommender, model files, audit log, tombstones. A Dataset
that spells one id in two ways is a DataError. Frames keep the data's id dtype.
"""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pandas as pd
import pytest

import fairrec as fr
from fairrec.errors import DataError, UnknownUserError

SPELLINGS = [1, "1", "01", " 1", "\uff11", "1\u200b", np.int64(1)]


def int_ids(data: fr.Dataset) -> fr.Dataset:
    """The synthetic data with integer viewer and title ids (as MovieLens has)."""
    frame = data.to_frame()
    frame["user_id"] = frame["user_id"].str[1:].astype(np.int64) + 1
    frame["item_id"] = frame["item_id"].str[1:].astype(np.int64) + 1
    cat = data.catalog.copy()
    cat["item_id"] = cat["item_id"].str[1:].astype(np.int64) + 1
    return fr.Dataset.from_pandas(frame, cat, weight_col="weight", time_col="timestamp")


@pytest.fixture(scope="module")
def idata() -> fr.Dataset:
    return int_ids(fr.datasets.synthetic(n_users=80, n_items=60, seed=5, mean_plays=12))


def _model() -> fr.models.ALS:
    return fr.models.ALS(factors=6, iterations=3, random_state=0)


def _ledger(data: fr.Dataset) -> fr.ConsentLedger:
    ledger = fr.ConsentLedger(default="deny")
    for u in data.user_ids:
        ledger.grant(u, ["training", "personalization"])
    return ledger


# ------------------------------------------------------------------ Dataset
def test_dataset_refuses_two_spellings_of_one_viewer():
    df = pd.DataFrame({"user_id": [1, "01", 2], "item_id": ["a", "b", "a"]})
    with pytest.raises(DataError, match="spells one id in several ways"):
        fr.Dataset.from_pandas(df)
    nfd = unicodedata.normalize("NFD", "jos\u00e9")
    df = pd.DataFrame({"user_id": ["jos\u00e9", nfd], "item_id": ["a", "b"]})
    with pytest.raises(DataError, match="several ways"):
        fr.Dataset.from_pandas(df)


def test_dataset_refuses_two_spellings_of_one_title():
    df = pd.DataFrame({"user_id": [1, 2], "item_id": ["a", "b"]})
    with pytest.raises(DataError, match="duplicated ids.*spelling"):
        fr.Dataset.from_pandas(df, pd.DataFrame({"item_id": ["a", "b", " a"]}))


def test_dataset_lookup_by_any_spelling(idata):
    assert idata.user_index(SPELLINGS).tolist() == [0] * len(SPELLINGS)


# ------------------------------------------------------------------ finding 1
def test_finding1_forget_by_string_spelling_erases_the_int_viewer(tmp_path, idata):
    rec = fr.Recommender(model=_model()).fit(idata)
    assert 1 in rec.train_user_ids_.tolist()
    n_rows = rec.model_.user_factors_.shape[0]
    rec.forget("1", update_items=True)
    assert rec.model_.user_factors_.shape[0] == n_rows - 1 == rec.train_matrix_.shape[0]
    assert 1 not in rec.train_user_ids_.tolist()
    assert 1 not in rec.data_.user_ids.tolist()
    assert rec.data_.n_events == idata.n_events - int((idata.users == 0).sum())
    rec.save(tmp_path / "m")
    ids = json.loads((tmp_path / "m" / "ids.json").read_text())
    assert 1 not in ids["train_user_ids"] and 1 not in ids["history_user_ids"]
    for spelling in SPELLINGS:
        with pytest.raises(UnknownUserError):
            rec.home(spelling)


def test_finding1_explain_data_use_same_for_every_spelling(idata):
    rec = fr.Recommender(model=_model(), consent=_ledger(idata)).fit(idata)
    reports = [rec.explain_data_use(s) for s in SPELLINGS]
    first = reports[0]
    assert first["trained_on_your_data"] and first["history_events_used"] > 0
    for r in reports[1:]:
        assert r["text"] == first["text"]
        assert r["user_id"] == 1


def test_finding1_home_same_page_for_every_spelling(idata):
    for consent in (_ledger(idata), None):
        rec = fr.Recommender(model=_model(), consent=consent, row_size=5).fit(idata)
        when = pd.Timestamp("2026-01-01")
        pages = [rec.home(s, now=when) for s in SPELLINGS]
        assert pages[0].personalized
        for p in pages:
            assert p.user_id == 1
            assert p.to_dict() == pages[0].to_dict()


# ------------------------------------------------------------------ finding 6
@pytest.mark.parametrize("variant", [" 1", "01", "\uff11", "1\u200b", 1, np.int64(1), "+1"])
def test_finding6_tombstone_holds_for_every_spelling(variant):
    ledger = fr.ConsentLedger(default="allow")
    ledger.grant("1", "training")
    ledger.forget("1")
    assert ledger.is_forgotten(variant)
    assert ledger.state(variant).forgotten
    with pytest.raises(fr.errors.ConsentError):
        ledger.grant(variant, "training")


def test_finding6_nfd_reimport_does_not_reach_training():
    nfc, nfd = "jos\u00e9", unicodedata.normalize("NFD", "jos\u00e9")
    assert nfc != nfd
    ledger = fr.ConsentLedger(default="allow")
    ledger.forget(nfc)
    assert ledger.is_forgotten(nfd)
    df = pd.DataFrame(
        {"user_id": [nfd, nfd, "ann", "ann", "bob"], "item_id": ["a", "b", "a", "c", "b"]}
    )
    data = fr.Dataset.from_pandas(df)
    assert not ledger.allowed_mask(data.user_ids, "training")[0]
    rec = fr.Recommender(model=fr.models.Popularity(), consent=ledger).fit(data)
    assert rec.train_user_ids_.tolist() == ["ann", "bob"]


# ------------------------------------------------------------------ output dtypes
def test_frames_keep_the_data_id_dtype_and_metrics_work(idata):
    rec = fr.Recommender(model=_model(), row_size=5).fit(idata)
    users = [1, "2", " 03"]
    recs = rec.recommend_batch(users, k=5)
    assert recs["user_id"].dtype == np.int64 and recs["item_id"].dtype == np.int64
    assert set(recs["user_id"]) == {1, 2, 3}
    one = rec.recommend("01", k=3)
    assert one["item_id"].dtype == np.int64
    frame = rec.home_batch(users)
    assert set(frame["user_id"]) == {1, 2, 3}
    assert all(type(v) is int for v in frame["item_id"])
    page = rec.home(" 2")
    d = page.to_dict()
    assert d["user_id"] == 2 and all(
        type(it["item_id"]) is int for r in d["rows"] for it in r["items"]
    )
    truth = idata.to_frame()
    # fairrec.metrics joins fairrec's own output with the data's frames without casts
    assert 0.0 <= fr.metrics.precision_at_k(recs, truth, k=5) <= 1.0
    assert 0.0 <= fr.metrics.hit_rate_at_k(recs, truth, k=5) <= 1.0
    assert fr.metrics.catalog_coverage(recs, catalog=idata.item_ids) > 0
    assert 0.0 <= fr.metrics.ndcg_2d(frame, truth) <= 1.0  # the page frame joins too
