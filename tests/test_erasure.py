"""Erasure reaches everything, for every model kind (issue 13, findings 4, 5 and 7).

``forget`` removes the viewer's events, training row, factor row, their share of counts and
similarities, catalog statistics and audit lines -- or is refused before the ledger
changes. ``explain_data_use`` tells the truth about what still uses a viewer's data.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import fairrec as fr
from fairrec.audit import AuditLog
from fairrec.errors import UnknownUserError


@pytest.fixture(scope="module")
def data() -> fr.Dataset:
    return fr.datasets.synthetic(n_users=70, n_items=50, seed=11, mean_plays=10)


MODELS = {
    "als": lambda: fr.models.ALS(factors=6, iterations=3, random_state=0),
    "bpr": lambda: fr.models.BPR(factors=6, iterations=5, random_state=0),
    "ease": lambda: fr.models.EASE(l2=50.0),
    "itemknn": lambda: fr.models.ItemKNN(neighbors=10),
    "popularity": lambda: fr.models.Popularity(),
}


def _without(data: fr.Dataset, user) -> fr.Dataset:
    return data.select(data.users != data.user_index([user])[0])


# ------------------------------------------------------------------ every model kind
@pytest.mark.parametrize("update_items", [False, True])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_forget_reaches_every_model_kind(tmp_path, data, kind, update_items):
    """Counts and similarities (Popularity, ItemKNN) are recomputed exactly whatever
    ``update_items`` says; factor rows go; learned item factors follow ``update_items``."""
    user = data.user_ids[3]
    rec = fr.Recommender(model=MODELS[kind]()).fit(data)
    touched = data.items[data.users == 3]
    pop_before = rec.popularity_.copy()
    rows_before = rec.train_matrix_.shape[0]
    rec.forget(user, update_items=update_items)
    assert user not in rec.train_user_ids_.tolist()
    assert rec.train_matrix_.shape[0] == rows_before - 1
    assert user not in rec.data_.user_ids.tolist()  # events and id-map entry gone
    assert rec.data_.n_events == data.n_events - int((data.users == 3).sum())
    # catalog statistics: the viewer's plays no longer count
    np.testing.assert_allclose(
        rec.popularity_[np.unique(touched)], pop_before[np.unique(touched)] - 1
    )
    arrays = rec.model_.get_arrays()
    if "user_factors" in arrays:  # finding 4: BPR kept the row; factors and ids misaligned
        assert arrays["user_factors"].shape[0] == rec.train_matrix_.shape[0]
    if kind in ("itemknn", "popularity"):  # exact: as if never trained on the viewer
        fresh = fr.Recommender(model=MODELS[kind]()).fit(_without(data, user))
        for name, value in fresh.model_.get_arrays().items():
            np.testing.assert_allclose(arrays[name], value, rtol=1e-5, atol=1e-6)
    rec.save(tmp_path / "m")
    loaded = fr.Recommender.load(tmp_path / "m")
    assert user not in loaded.train_user_ids_.tolist()
    with pytest.raises(UnknownUserError):
        rec.home(user)


def test_finding4_bpr_forget_drops_the_factor_row(tmp_path, data):
    rec = fr.Recommender(model=MODELS["bpr"]()).fit(data)
    n = rec.model_.get_arrays()["user_factors"].shape[0]
    rec.forget(data.user_ids[0])
    assert rec.model_.get_arrays()["user_factors"].shape[0] == n - 1
    rec.save(tmp_path / "m")
    loaded = fr.Recommender.load(tmp_path / "m")
    assert loaded.model_.get_arrays()["user_factors"].shape[0] == len(loaded.train_user_ids_)


def test_forget_on_a_model_fitted_elsewhere(data):
    """The Spark path: Recommender.from_fitted with ids in another spelling."""
    rec = fr.Recommender(model=MODELS["als"]()).fit(data)
    other = fr.Recommender.from_fitted(
        rec.model_, data, train_user_ids=list(rec.train_user_ids_), consent=None
    )
    user = data.user_ids[5]
    other.forget(user, update_items=True)
    assert user not in other.train_user_ids_.tolist()
    assert other.model_.user_factors_.shape[0] == other.train_matrix_.shape[0]


def test_forget_refused_before_the_ledger_changes(data, monkeypatch):
    ledger = fr.ConsentLedger(default="allow")
    rec = fr.Recommender(model=MODELS["als"](), consent=ledger).fit(data)
    user = data.user_ids[2]

    def boom(*args, **kwargs):
        raise MemoryError("no room to erase")

    monkeypatch.setattr(type(rec.model_), "erase_rows", boom)
    with pytest.raises(MemoryError):
        rec.forget(user, update_items=True)
    assert not ledger.is_forgotten(user)
    assert user in rec.train_user_ids_.tolist()
    rec.home(user)  # still served: nothing changed


# ------------------------------------------------------------------ finding 5: audit log
def test_finding5_request_in_flight_writes_no_line_after_forget(tmp_path, data, monkeypatch):
    from fairrec.serving import pages

    log = AuditLog(tmp_path / "audit.jsonl", key=b"k" * 32)
    rec = fr.Recommender(model=MODELS["als"](), audit_log=log, on_unknown="ignore").fit(data)
    user = data.user_ids[4]
    serve = pages.serve

    def serve_then_erase(r, users, now, f, *rest):
        out = serve(r, users, now, f, *rest)  # the page is built from the state before erasure
        rec.forget(user)  # ... and forget() completes before its audit line is written
        return out

    monkeypatch.setattr(pages, "serve", serve_then_erase)
    rec.home(user)
    monkeypatch.undo()
    h = log.viewer_hash(user)
    assert h not in set(AuditLog.read(log.path)["viewer"])


def test_finding5_no_pseudonym_for_an_erased_viewer_with_on_unknown_ignore(tmp_path, data):
    log = AuditLog(tmp_path / "audit.jsonl", key=b"k" * 32)
    rec = fr.Recommender(model=MODELS["als"](), audit_log=log, on_unknown="ignore").fit(data)
    user = data.user_ids[6]
    rec.home(user)
    rec.forget(user)
    rec.home(user)
    rec.home_batch([user, data.user_ids[7]], as_pages=True)
    viewers = set(AuditLog.read(log.path)["viewer"])
    assert log.viewer_hash(user) not in viewers
    assert log.viewer_hash(data.user_ids[7]) in viewers


def test_finding5_concurrent_requests_and_forget(tmp_path, data):
    log = AuditLog(tmp_path / "audit.jsonl", key=b"k" * 32, fsync=False)
    rec = fr.Recommender(model=MODELS["popularity"](), audit_log=log, on_unknown="ignore")
    rec.fit(data)
    user = data.user_ids[8]
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            rec.home(user)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    rec.forget(user)
    stop.set()
    for t in threads:
        t.join()
    assert log.viewer_hash(user) not in set(AuditLog.read(log.path)["viewer"])


# ------------------------------------------------------------------ finding 7
def test_finding7_after_revoking_training_the_report_says_until_the_next_training(data):
    ledger = fr.ConsentLedger(default="deny")
    for u in data.user_ids:
        ledger.grant(u, ["training", "personalization"])
    rec = fr.Recommender(model=MODELS["als"](), consent=ledger).fit(data)
    user = data.user_ids[1]
    ledger.revoke(user, "training")
    report = rec.explain_data_use(user)
    training = [ln for ln in report.text.splitlines() if ln.startswith("- training")][0]
    assert "none of your data is used" not in report.text
    assert "until the next training" in training
    assert report["trained_on_your_data"] and report["training_data_until"] == "the next training"
    assert report["purposes"]["training"]["data"] == ["watch_history"]
    # after the next training the model no longer uses them, and the report says so
    rec.fit(data)
    report = rec.explain_data_use(user)
    assert not report["trained_on_your_data"]
    assert "none of your data is used for it" in report.text


def test_finding7_no_stated_interests_row_claimed_without_a_ledger(data):
    rec = fr.Recommender(model=MODELS["als"]()).fit(data)
    report = rec.explain_data_use(data.user_ids[0])
    assert "a row built from" not in report.text
    assert "stated no interests" in report.text
    assert report["purposes"]["stated_interests"]["data"] == []
    assert "stated_interests" not in report["data_categories"]


@pytest.mark.parametrize("purposes", [[], ["personalization"], ["training"], ["stated_interests"]])
def test_report_matches_the_page_served(data, purposes):
    ledger = fr.ConsentLedger(default="deny")
    user = data.user_ids[9]
    for u in data.user_ids:
        if u != user:
            ledger.grant(u, ["training", "personalization"])
    if purposes:
        ledger.grant(user, purposes)
    ledger.state_interests(user, genres=[data.genre_names[0]])
    rec = fr.Recommender(model=MODELS["als"](), consent=ledger).fit(data)
    when = data.timestamps.max()
    page = rec.home(user, now=when)
    report = rec.explain_data_use(user, now=when)
    assert report["page_data_used"] == sorted(page.data_used)
    assert report["purposes"]["personalization"]["data"] == (
        ["watch_history"] if page.personalized else []
    )
    if not page.personalized:
        assert report["history_events_used"] == 0


@pytest.mark.parametrize("kind", ["als", "ease", "popularity"])
def test_report_for_an_erased_viewer_never_claims_nothing_is_used(data, kind):
    rec = fr.Recommender(model=MODELS[kind](), on_unknown="ignore").fit(data)
    user = data.user_ids[10]
    rec.forget(user)
    report = rec.explain_data_use(user)
    training = [ln for ln in report.text.splitlines() if ln.startswith("- training")][0]
    assert "erased" in training and "none of your data is used" not in report.text
    if kind in ("als", "ease"):  # learned vectors / weights keep their share until then
        assert "until the next training" in training
    else:
        assert "removed from every count" in training
    assert not report["trained_on_your_data"] and report["history_events_used"] == 0
