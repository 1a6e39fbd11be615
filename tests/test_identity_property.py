"""Property (issue 13): over random ledgers and random spellings of a viewer id, ``home``,
``recommend``, ``explain_data_use``, ``forget`` and ``save`` agree on who the viewer is, and
after ``forget`` no file, frame or audit line written afterwards holds the viewer's id or
history."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairrec as fr
from fairrec.audit import AuditLog
from fairrec.errors import UnknownUserError

PURPOSES = ["training", "personalization", "stated_interests"]
N_USERS, N_ITEMS = 10, 14


def _data() -> fr.Dataset:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(1, N_USERS + 1) * 7, 5)  # int ids 7, 14, ..., 70
    items = rng.integers(1, N_ITEMS + 1, size=users.size) * 3
    when = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 90, users.size), "D")
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": when})
    catalog = pd.DataFrame(
        {
            "item_id": np.arange(1, N_ITEMS + 1) * 3,
            "genres": [["Drama"] if i % 2 else ["Comedy"] for i in range(N_ITEMS)],
        }
    )
    return fr.Dataset.from_pandas(frame, catalog, time_col="timestamp")


DATA = _data()
VIEWERS = DATA.user_ids.tolist()


def spellings(v: int) -> st.SearchStrategy:
    fullwidth = "".join(chr(0xFF10 + int(c)) for c in str(v))
    nfkc_variants = [
        v,
        np.int64(v),
        str(v),
        "0" + str(v),
        f" {v} ",
        fullwidth,
        f"{v}\u200b",
        "\ufeff" + str(v),
        f"+{v}",
    ]
    return st.sampled_from(nfkc_variants)


@st.composite
def scenario(draw):
    default = draw(st.sampled_from(["deny", "allow"]))
    target = draw(st.sampled_from(VIEWERS))
    grants = {
        v: draw(st.lists(st.sampled_from(PURPOSES), unique=True, max_size=3)) for v in VIEWERS
    }
    revokes = {
        v: draw(st.lists(st.sampled_from(PURPOSES), unique=True, max_size=2)) for v in VIEWERS
    }
    interests = draw(st.booleans())
    names = [draw(spellings(target)) for _ in range(7)]
    others = {v: draw(spellings(v)) for v in VIEWERS}
    return default, target, grants, revokes, interests, names, others


def _ledger(default, grants, revokes, interests, others) -> fr.ConsentLedger:
    ledger = fr.ConsentLedger(default=default)
    t0 = pd.Timestamp("2025-03-01", tz="UTC")
    for v in VIEWERS:
        name = others[v]  # the ledger hears each viewer under some spelling
        if grants[v]:
            ledger.grant(name, grants[v], at=t0)
        if revokes[v]:
            ledger.deny(name, revokes[v], at=t0 + pd.Timedelta(hours=1))
        if interests:
            ledger.state_interests(name, genres=["Drama"], at=t0)
    return ledger


def _file_ids(path: Path) -> tuple[list, list]:
    ids = json.loads((path / "ids.json").read_text())
    return ids["train_user_ids"], ids["history_user_ids"]


MODELS = {
    "als": lambda: fr.models.ALS(factors=3, iterations=2, random_state=0),
    "bpr": lambda: fr.models.BPR(factors=3, iterations=3, random_state=0),
    "ease": lambda: fr.models.EASE(l2=50.0),
    "itemknn": lambda: fr.models.ItemKNN(neighbors=5),
    "popularity": lambda: fr.models.Popularity(),
}


@settings(
    max_examples=24,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario(), st.sampled_from(["raise", "ignore"]), st.sampled_from(sorted(MODELS)))
def test_every_entry_point_agrees_on_the_viewer(tmp_path_factory, case, on_unknown, kind):
    default, v, grants, revokes, interests, names, others = case
    tmp = tmp_path_factory.mktemp("prop")
    ledger = _ledger(default, grants, revokes, interests, others)
    log = AuditLog(tmp / "audit.jsonl", key=b"k" * 32, fsync=False)
    when = pd.Timestamp("2025-04-15")
    rec = fr.Recommender(
        model=MODELS[kind](),
        consent=ledger,
        audit_log=log,
        on_unknown=on_unknown,
        row_size=3,
        min_row_items=1,
        clock=lambda: when,
    )
    try:
        rec.fit(DATA)
    except fr.errors.DataError:  # nobody may be trained on
        return
    allowed = {p: ledger.allowed(v, p) for p in PURPOSES}

    page = rec.home(names[0])
    recs = rec.recommend(names[1], k=3)
    report = rec.explain_data_use(names[2])
    batch = rec.recommend_batch([names[3]], k=3)
    assert page.user_id == report["user_id"] == v
    assert set(batch["user_id"]) <= {v} and batch["user_id"].dtype == np.int64
    assert report["trained_on_your_data"] == allowed["training"]
    assert page.personalized == allowed["personalization"]
    assert report["page_data_used"] == sorted(page.data_used)
    assert ("personalization" in report["purposes"]) and (
        report["purposes"]["personalization"]["data"]
        == (["watch_history"] if page.personalized else [])
    )
    if not allowed["personalization"]:
        assert "watch_history" not in page.data_used and len(recs) <= 3
    assert rec.explain_data_use(names[4])["text"] == report["text"]

    rec.save(tmp / "before")
    train_ids, hist_ids = _file_ids(tmp / "before")
    assert (v in train_ids) == allowed["training"]
    assert (v in hist_ids) == allowed["personalization"]
    assert not any(isinstance(x, str) for x in train_ids + hist_ids)  # one spelling: the data's

    # ---- erasure by yet another spelling
    rec.forget(names[5], update_items=True)
    h = log.viewer_hash(v)
    others_ids = [u for u in VIEWERS if u != v]
    frame = rec.home_batch(others_ids)
    flat = rec.recommend_batch(others_ids, k=3)
    if on_unknown == "raise":
        with pytest.raises(UnknownUserError):
            rec.home(names[6])
        with pytest.raises(UnknownUserError):
            rec.explain_data_use(names[6])
    else:
        late = rec.home(names[6])
        assert not late.personalized and "watch_history" not in late.data_used
    rec.save(tmp / "after")

    assert v not in set(frame["user_id"]) and v not in set(flat["user_id"])
    train_ids, hist_ids = _file_ids(tmp / "after")
    assert v not in train_ids and v not in hist_ids
    with np.load(tmp / "after" / "arrays.npz") as z:
        assert z["train/indptr"].size == len(train_ids) + 1
        if "model/user_factors" in z.files:
            assert z["model/user_factors"].shape[0] == len(train_ids)
        assert z["history/users"].size == 0 or z["history/users"].max() < len(hist_ids)
    text = (tmp / "after" / "ids.json").read_text()
    assert str(v) not in json.loads(text)["train_user_ids"]
    assert h not in set(AuditLog.read(log.path)["viewer"])
    assert v not in rec.data_.user_ids.tolist() and v not in rec.train_user_ids_.tolist()
    for spelling in names:
        assert ledger.is_forgotten(spelling)
