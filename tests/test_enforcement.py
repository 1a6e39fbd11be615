"""Consent enforcement in the Recommender: the six properties of the consent issue.

(1) without personalization a page does not change when the history changes;
(2) excluded genres / titles never appear; (3) revoke -> next page non-personalized, no refit;
(4) forget + refit == never trained on the viewer; (5) reasons cite only consented data;
(6) interactions older than the retention window have no influence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairrec as fr
from conftest import small_model

PURPOSES = ["personalization", "training", "stated_interests"]
NOW = pd.Timestamp("2026-01-01")
SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _frames(data: fr.Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    inter = data.to_frame()
    cat = data.catalog[["item_id", "title", "genres", "maturity"]].copy()
    return inter, cat


def _fit(inter, cat, consent, retention_days=None, now=NOW) -> fr.Recommender:
    data = fr.Dataset.from_pandas(inter, cat, time_col="timestamp")
    rec = fr.Recommender(
        model=small_model(),
        consent=consent,
        retention_days=retention_days,
        row_size=6,
        on_unknown="ignore",
    )
    return rec.fit(data, now=now)


def _all_granted(data: fr.Dataset) -> fr.ConsentLedger:
    ledger = fr.ConsentLedger(default="deny")
    for u in data.user_ids:
        ledger.grant(u, ["personalization", "training"], at="2024-06-01")
    return ledger


@pytest.fixture(scope="module")
def base(small_data):
    inter, cat = _frames(small_data)
    return small_data, inter, cat


# ---------------------------------------------------------------- (1)
@SETTINGS
@given(user=st.integers(0, 299), seed=st.integers(0, 10_000), interests=st.booleans())
def test_without_personalization_history_changes_nothing(base, user, seed, interests):
    data, inter, cat = base
    uid = data.user_ids[user]
    ledger = _all_granted(data)
    ledger.revoke(uid, ["personalization", "training"], at="2025-01-01")
    if interests:
        ledger.grant(uid, "stated_interests", at="2025-01-01")
        ledger.state_interests(uid, genres=[data.genre_names[seed % len(data.genre_names)]])
    rng = np.random.default_rng(seed)
    other = inter[inter.user_id != uid]
    new_hist = pd.DataFrame(
        {
            "user_id": uid,
            "item_id": rng.choice(data.item_ids, size=15, replace=False),
            "weight": 1.0,
            "timestamp": pd.Timestamp("2025-06-01"),
        }
    )
    a = _fit(inter, cat, ledger).home(uid, now=NOW)
    b = _fit(pd.concat([other, new_hist], ignore_index=True), cat, ledger).home(uid, now=NOW)
    assert not a.personalized and not b.personalized
    assert a.to_dict()["rows"] == b.to_dict()["rows"]
    assert "watch_history" not in a.data_used


# ---------------------------------------------------------------- (2)
@SETTINGS
@given(
    user=st.integers(0, 299),
    genres=st.lists(st.integers(0, 19), max_size=3),
    n_items=st.integers(0, 30),
    purposes=st.lists(st.sampled_from(PURPOSES), unique=True),
    seed=st.integers(0, 1000),
)
def test_exclusions_never_appear(fitted, small_data, user, genres, n_items, purposes, seed):
    data = small_data
    uid = data.user_ids[user]
    ledger = fr.ConsentLedger(default="deny")
    if purposes:
        ledger.grant(uid, purposes)
    names = [data.genre_names[g % len(data.genre_names)] for g in genres]
    rng = np.random.default_rng(seed)
    items = [str(i) for i in rng.choice(data.item_ids, size=n_items, replace=False)]
    if names or items:
        ledger.exclude(uid, genres=names or None, items=items or None)
    if "stated_interests" in purposes:
        ledger.state_interests(uid, genres=[data.genre_names[0]])
    fitted._consent = ledger  # keep the fixture's model; swap the ledger only
    page = fitted.home(uid)
    banned_genres = set(names)
    for row in page.rows:
        for it in row.items:
            assert str(it.item_id) not in set(items)
            assert not banned_genres & set(it.genres)
    flat = fitted.recommend(uid, k=data.n_items + 50)  # N larger than the allowed catalog
    assert not set(flat.item_id.astype(str)) & set(items)
    genre_of = dict(zip(data.item_ids, data.catalog.genres))
    assert all(not banned_genres & set(genre_of[i]) for i in flat.item_id)


def test_n_larger_than_allowed_catalog_returns_only_allowed(fitted, small_data):
    data = small_data
    uid = data.user_ids[5]
    ledger = fr.ConsentLedger(default="allow")
    keep = set(map(str, data.item_ids[:10]))
    ledger.exclude(uid, items=[str(i) for i in data.item_ids[10:]])
    fitted._consent = ledger
    flat = fitted.recommend(uid, k=data.n_items * 2)
    seen = set(map(str, data.item_ids[data.items[data.users == 5]]))
    assert set(flat.item_id.astype(str)) == keep - seen
    page = fitted.home(uid)
    assert set(map(str, page.items)) <= keep - seen


# ---------------------------------------------------------------- (3)
def test_revoke_takes_effect_on_next_page_without_refit(base):
    data, inter, cat = base
    ledger = _all_granted(data)
    rec = _fit(inter, cat, ledger)
    uid = data.user_ids[7]
    before = rec.home(uid, now=NOW)
    assert before.personalized and "watch_history" in before.data_used
    arrays_before = {k: v.copy() for k, v in rec.model_.get_arrays().items()}
    ledger.revoke(uid, "personalization", at="2025-12-01")
    after = rec.home(uid, now=NOW)
    assert not after.personalized
    assert "watch_history" not in after.data_used
    assert all(it.reason.data_used == ("catalog_popularity",) for r in after.rows for it in r.items)
    for k, v in rec.model_.get_arrays().items():
        np.testing.assert_array_equal(v, arrays_before[k])  # no refit happened
    ledger.grant(uid, "personalization", at="2025-12-02")
    assert rec.home(uid, now=NOW).personalized


# ---------------------------------------------------------------- (4)
@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(user=st.integers(0, 299))
def test_forget_then_refit_equals_never_seen(base, user):
    data, inter, cat = base
    uid = data.user_ids[user]
    ledger = _all_granted(data)
    ledger.forget(uid)
    with_forgotten = _fit(inter, cat, ledger)
    without = _fit(inter[inter.user_id != uid], cat, _all_granted_except(data, uid))
    a, b = with_forgotten.model_.get_arrays(), without.model_.get_arrays()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert uid not in set(with_forgotten.train_user_ids_)


def _all_granted_except(data, uid):
    ledger = fr.ConsentLedger(default="deny")
    for u in data.user_ids:
        if u != uid:
            ledger.grant(u, ["personalization", "training"], at="2024-06-01")
    return ledger


def test_recommender_forget_removes_history_vector_and_can_update_items(base, tmp_path):
    data, inter, cat = base
    ledger = _all_granted(data)
    rec = _fit(inter, cat, ledger)
    uid = data.user_ids[11]
    items_before = rec.model_.item_vectors.copy()
    rows_before = rec.model_.user_factors_.shape[0]
    touched = np.unique(data.items[data.users == 11])
    rec.forget(uid, update_items=True)
    assert ledger.is_forgotten(uid)
    assert rec.model_.user_factors_.shape[0] == rows_before - 1
    assert uid not in set(rec.data_.user_ids[rec.data_.users])
    changed = np.flatnonzero(np.any(rec.model_.item_vectors != items_before, axis=1))
    assert len(changed) > 0 and set(changed) <= set(touched)
    with pytest.raises(fr.errors.UnknownUserError):
        rec.on_unknown = "raise"
        rec.home(uid, now=NOW)
    rec.save(tmp_path / "m")
    raw = b"".join(p.read_bytes() for p in (tmp_path / "m").iterdir())
    assert f'"{uid}"'.encode() not in raw


# ---------------------------------------------------------------- (5)
@SETTINGS
@given(
    user=st.integers(0, 299),
    purposes=st.lists(st.sampled_from(PURPOSES), unique=True),
    liked=st.integers(0, 19),
)
def test_reasons_cite_only_consented_data(fitted, small_data, user, purposes, liked):
    data = small_data
    uid = data.user_ids[user]
    ledger = fr.ConsentLedger(default="deny")
    if purposes:
        ledger.grant(uid, purposes)
    ledger.state_interests(uid, genres=[data.genre_names[liked % len(data.genre_names)]])
    fitted._consent = ledger
    page = fitted.home(uid)
    allowed = {"catalog_popularity", "catalog_metadata"}
    if "personalization" in purposes:
        allowed.add("watch_history")
    if "stated_interests" in purposes:
        allowed.add("stated_interests")
    history_titles = set(data.catalog.title.to_numpy()[data.items[data.users == user]])
    for row in page.rows:
        reasons = [row.reason] + [it.reason for it in row.items]
        for r in reasons:
            assert set(r.data_used) <= allowed, (r, purposes)
            if r.anchor is not None:
                assert "personalization" in purposes
                assert r.anchor in history_titles
            if "stated_interests" not in purposes:
                assert "stated interest" not in r.text
    assert set(page.data_used) <= allowed


# ---------------------------------------------------------------- (6)
@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), user=st.integers(0, 299))
def test_interactions_older_than_retention_have_no_influence(base, seed, user):
    data, inter, cat = base
    ledger = _all_granted(data)
    rng = np.random.default_rng(seed)
    old = pd.DataFrame(
        {
            "user_id": rng.choice(data.user_ids, size=300),
            "item_id": rng.choice(data.item_ids, size=300),
            "weight": 1.0,
            "timestamp": pd.Timestamp("2020-01-01"),
        }
    )
    a = _fit(inter, cat, ledger, retention_days=800)
    b = _fit(pd.concat([inter, old], ignore_index=True), cat, ledger, retention_days=800)
    for k, v in a.model_.get_arrays().items():
        np.testing.assert_array_equal(v, b.model_.get_arrays()[k])
    uid = data.user_ids[user]
    assert a.home(uid, now=NOW).to_dict()["rows"] == b.home(uid, now=NOW).to_dict()["rows"]


def test_training_matrix_holds_only_training_consented_viewers(base):
    data, inter, cat = base
    ledger = fr.ConsentLedger(default="deny")
    granted = list(data.user_ids[::3])
    for u in granted:
        ledger.grant(u, "training")
    rec = _fit(inter, cat, ledger)
    assert list(rec.train_user_ids_) == granted
    assert rec.train_matrix_.shape[0] == len(granted)


def test_no_training_consent_at_all_is_a_clear_error(base):
    data, inter, cat = base
    with pytest.raises(fr.errors.DataError, match="training"):
        _fit(inter, cat, fr.ConsentLedger(default="deny"))


def test_audit_log_records_pages_without_raw_ids(base, tmp_path):
    from fairrec.audit import AuditLog

    data, inter, cat = base
    ledger = _all_granted(data)
    log = AuditLog(tmp_path / "audit.jsonl", key=b"k" * 32)
    rec = _fit(inter, cat, ledger)
    rec.audit_log = log
    uid = data.user_ids[3]
    rec.home(uid, now=NOW)
    text = (tmp_path / "audit.jsonl").read_text()
    assert uid not in text
    frame = AuditLog.read(tmp_path / "audit.jsonl")
    assert len(frame) == 1
    assert "watch_history" in str(frame.iloc[0].to_dict())
