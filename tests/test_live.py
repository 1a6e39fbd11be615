"""Live serving (issue 19): observed plays and impressions, session pages, new titles,
availability, "more like this" and hot model swap."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairrec as fr
from fairrec.errors import DataError, ParameterError, UnknownItemError
from fairrec.live import EVENT_DTYPE, LiveConfig
from fairrec.rows import (
    BecauseYouWatched,
    MoreLikeThis,
    NewForYou,
    OffTheMainstream,
    default_rows,
)

NOW = pd.Timestamp("2025-07-01")
SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _model(seed: int = 0) -> fr.models.ALS:
    return fr.models.ALS(factors=8, iterations=4, random_state=seed)


def _rows() -> list:
    return [*default_rows(), NewForYou(), MoreLikeThis()]


def _rec(data, consent=None, **kw) -> fr.Recommender:
    kw.setdefault("row_size", 8)
    kw.setdefault("rows", _rows())
    return fr.Recommender(model=_model(), consent=consent, clock=lambda: NOW, **kw).fit(data)


def _ids(page) -> list[tuple]:
    return [(r.kind, tuple(i.item_id for i in r.items)) for r in page.rows]


def _all_items(page) -> set:
    return {i.item_id for r in page.rows for i in r.items}


def _unseen(data, u: int, n: int = 1) -> list:
    seen = set(data.item_ids[data.items[data.users == u]].tolist())
    return [i for i in data.item_ids.tolist() if i not in seen][:n]


@pytest.fixture(scope="module")
def data(small_data):
    return small_data


# ---------------------------------------------------------------- (1) observe
def test_observed_play_changes_next_page_and_is_counted(data):
    rec = _rec(data)
    u = data.user_ids[4]
    before = rec.home(u)
    used = rec.explain_data_use(u)["history_events_used"]
    new = _unseen(data, 4, 3)
    report = rec.observe(pd.DataFrame({"user_id": [u] * 3, "item_id": new}))
    assert report["plays"] == 3
    after = rec.home(u)
    assert _ids(after) != _ids(before)
    assert not set(new) & _all_items(after)  # played titles are seen now
    report = rec.explain_data_use(u)
    assert report["history_events_used"] == used + 3
    assert report["live_events_used"] == {"plays": 3, "impressions": 0}
    assert "3 play(s) and 0 impression(s)" in report.text
    # the flat list re-solves the vector from the same history
    assert not set(new) & set(rec.recommend(u, 20)["item_id"])
    # the re-solved vector is the exact solve on history + observed plays
    hist = rec._gate([u], NOW, rec._fitted).histories
    solved = rec.model_.user_vectors(hist)
    expect = rec.model_.solver.recalculate_user(np.arange(1), hist)
    np.testing.assert_allclose(solved, expect, rtol=1e-4, atol=1e-5)
    assert hist.nnz == used + 3


def test_observed_plays_without_personalization_change_nothing(data):
    ledger = fr.ConsentLedger(default="deny")
    for u in data.user_ids:
        ledger.grant(u, ["personalization", "training"], at="2024-01-01")
    u = data.user_ids[5]
    ledger.revoke(u, "personalization", at="2025-01-01")
    rec = _rec(data, ledger)
    before = rec.home(u)
    report = rec.observe(pd.DataFrame({"user_id": [u, u], "item_id": _unseen(data, 5, 2)}))
    assert report == {"plays": 0, "impressions": 0, "not_consented": 2, "outside_window": 0}
    assert len(rec.live_state_.store) == 0
    assert _ids(rec.home(u)) == _ids(before)
    assert rec.explain_data_use(u)["history_events_used"] == 0
    assert rec.explain_data_use(u)["live_events_used"] == {"plays": 0, "impressions": 0}

    # stored while consented, unused once withdrawn
    v = data.user_ids[6]
    base = _ids(rec.home(v))
    rec.observe(pd.DataFrame({"user_id": [v], "item_id": _unseen(data, 6, 1)}))
    assert _ids(rec.home(v)) != base
    ledger.revoke(v, "personalization", at="2025-02-01")
    page = rec.home(v)
    assert not page.personalized and rec.explain_data_use(v)["history_events_used"] == 0


def test_observed_play_of_an_excluded_title_is_never_evidence(data):
    ledger = fr.ConsentLedger(default="allow")
    rec = _rec(data, ledger)
    u = data.user_ids[17]
    hidden = _unseen(data, 17, 1)[0]
    ledger.exclude(u, items=[hidden])
    used = rec.explain_data_use(u)["history_events_used"]
    rec.observe(pd.DataFrame({"user_id": [u], "item_id": [hidden]}))
    assert rec.explain_data_use(u)["history_events_used"] == used
    name = data.catalog["title"][data.item_ids.tolist().index(hidden)]
    page = rec.home(u)
    assert hidden not in _all_items(page)
    assert all(name not in r.reason.text and name not in r.title for r in page.rows)
    assert all(name not in i.reason.text for r in page.rows for i in r.items)


def test_forget_removes_observed_plays_and_they_are_never_saved(data, tmp_path):
    rec = _rec(data)
    u = data.user_ids[7]
    rec.save(tmp_path / "before")
    rec.observe(pd.DataFrame({"user_id": [u, u], "item_id": _unseen(data, 7, 2)}))
    rec.save(tmp_path / "after")
    with (
        np.load(tmp_path / "before" / "arrays.npz") as a,
        np.load(tmp_path / "after" / "arrays.npz") as b,
    ):
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])
    assert rec.live_state_.store.events(["u7"])[0] is not None
    rec.forget(u)
    assert rec.live_state_.store.events(["u7"])[0] is None
    assert rec.live_state_.store.n_events() == 0
    # an erased viewer's later events are not stored
    assert rec.observe(pd.DataFrame({"user_id": ["u7"], "item_id": ["i1"]}))["plays"] == 0
    assert rec.live_state_.store.n_events() == 0


def test_batch_pages_use_observed_plays_like_single_pages(data):
    rec = _rec(data)
    users = list(data.user_ids[20:26])
    rows = [(u, i) for k, u in enumerate(users[:4]) for i in _unseen(data, 20 + k, 2)]
    rec.observe(pd.DataFrame(rows, columns=["user_id", "item_id"]))
    rec.batch_size = 4
    batch = rec.home_batch(users, as_pages=True)
    assert [_ids(p) for p in batch] == [_ids(rec.home(u)) for u in users]
    frame = rec.recommend_batch(users, 10)
    for u in users:
        assert frame[frame.user_id == u].item_id.tolist() == rec.recommend(u, 10).item_id.tolist()


def test_observed_ids_are_canonical_and_bad_input_is_named(data):
    rec = _rec(data)
    item = _unseen(data, 8, 1)[0]
    rec.observe(pd.DataFrame({"user_id": ["u\u200b8"], "item_id": [" " + item]}))
    assert rec.explain_data_use("u8")["history_events_used"] == int(
        len(np.unique(data.items[data.users == 8])) + 1
    )
    # any spelling of the viewer reaches the same observed plays; erasure by another spelling
    assert rec.explain_data_use("\uff558")["live_events_used"]["plays"] == 1
    assert _ids(rec.home(" u8")) == _ids(rec.home("u8"))
    with pytest.raises(UnknownItemError, match="nope"):
        rec.observe(pd.DataFrame({"user_id": ["u8"], "item_id": ["nope"]}))
    with pytest.raises(DataError, match="event"):
        rec.observe(pd.DataFrame({"user_id": ["u8"], "item_id": [item], "event": ["click"]}))
    with pytest.raises(DataError, match="user_id"):
        rec.observe(pd.DataFrame({"item_id": [item]}))
    rec.forget("\uff558")
    assert rec.live_state_.store.n_events() == 0


def test_observed_plays_respect_retention_and_clock(data):
    rec = _rec(data, retention_days=30)
    u = data.user_ids[9]
    old, future = _unseen(data, 9, 2)
    rep = rec.observe(
        pd.DataFrame(
            {"user_id": [u, u], "item_id": [old, future], "timestamp": ["2025-01-01", "2025-07-10"]}
        )
    )
    assert rep["outside_window"] == 1 and rep["plays"] == 1
    plain = _rec(data, retention_days=30)

    def used(r, now):
        return r.explain_data_use(u, now=now)["history_events_used"]

    # the future-stamped play (a skewed clock) counts only once its time has come
    assert used(rec, NOW) == used(plain, NOW)
    assert used(rec, "2025-07-11") == used(plain, "2025-07-11") + 1
    assert future not in _all_items(rec.home(u, now="2025-07-11"))
    # and it leaves the retention window like any play
    assert used(rec, "2025-09-01") == used(plain, "2025-09-01")


def test_memory_is_capped_oldest_dropped(data):
    rec = _rec(data, live=LiveConfig(max_events_per_viewer=5))
    u = data.user_ids[10]
    items = _unseen(data, 10, 8)
    times = pd.date_range("2025-06-01", periods=8, freq="D")[::-1]  # newest first
    rec.observe(pd.DataFrame({"user_id": [u] * 8, "item_id": items, "timestamp": times}))
    ev = rec.live_state_.store.events(["u10"])[0]
    assert len(ev) == 5
    assert ev["t"].min() == times[4].value  # the 3 oldest were dropped
    assert rec.live_state_.store.nbytes() == 5 * EVENT_DTYPE.itemsize == 85
    with pytest.raises(ParameterError):
        fr.Recommender(live=LiveConfig(max_events_per_viewer=0)).fit(data)
    with pytest.raises(ParameterError, match="impression_keep"):
        fr.Recommender(live=LiveConfig(impression_keep=1.5)).fit(data)


# ---------------------------------------------------------------- (6) impressions
def _page_titles(page) -> list:
    return [i.item_id for r in page.rows for i in r.items]


@pytest.mark.parametrize("user", [0, 11, 42])
def test_seven_days_without_playing_rotate_the_page(user):
    data = fr.datasets.synthetic(n_users=200, n_items=1500, seed=5, mean_plays=20)
    rec = fr.Recommender(model=_model(), row_size=10, clock=lambda: NOW).fit(data)
    u = data.user_ids[user]
    prev = None
    top = None
    for day in range(7):
        now = NOW + pd.Timedelta(days=day)
        page = rec.home(u, now=now)
        shown = _page_titles(page)
        tp = [r for r in page.rows if r.kind == "top_picks"]
        if prev is not None:
            overlap = len(set(shown) & set(prev)) / len(set(shown))
            assert overlap <= 0.5, (day, overlap)
            if tp:  # Top picks keeps its strongest titles, and repeats at most half a row
                mine = [i.item_id for i in tp[0].items]
                assert mine[0] == top[0]
                assert len(set(mine) & set(prev)) <= 5
        elif tp:
            top = [i.item_id for i in tp[0].items]
        rec.observe(
            pd.DataFrame({"user_id": u, "item_id": shown, "event": "impression", "timestamp": now}),
            now=now,
        )
        prev = shown


def test_impressions_follow_consent_window_and_erasure(data):
    ledger = fr.ConsentLedger(default="allow")
    rec = _rec(data, ledger, live=LiveConfig(impression_count=2, impression_window_days=3))
    u = data.user_ids[12]
    page = rec.home(u)
    hidden = [i.item_id for r in page.rows if r.kind != "top_picks" for i in r.items]
    imp = pd.DataFrame({"user_id": u, "item_id": hidden, "event": "impression"})
    rec.observe(imp.assign(timestamp=NOW - pd.Timedelta(days=1)))
    assert not set(hidden) - _all_items(rec.home(u))  # once: below the count, page unchanged
    rec.observe(imp.assign(timestamp=NOW))
    assert not set(hidden) & _all_items(rec.home(u))  # twice in the window: left out
    assert rec.explain_data_use(u)["live_events_used"]["impressions"] == 2 * len(hidden)
    # outside the 3-day window they count no more
    later = NOW + pd.Timedelta(days=4)
    assert set(hidden) & _all_items(rec.home(u, now=later))
    rec.forget(u)
    assert rec.live_state_.store.n_events() == 0
    # without personalization, impressions are not stored
    v = data.user_ids[13]
    ledger.revoke(v, "personalization")
    assert rec.observe(imp.assign(user_id=v))["not_consented"] == len(imp)
    # a consented viewer with no history yet: impressions are kept for later, but a page of
    # "no personal data" rows is not shaped by them
    ledger.grant("newbie", "personalization")
    cold_page = rec.home("newbie")
    assert not cold_page.personalized
    shown = pd.DataFrame(
        {"user_id": "newbie", "item_id": sorted(_all_items(cold_page)), "event": "impression"}
    )
    rec.observe(pd.concat([shown, shown]))
    assert _ids(rec.home("newbie")) == _ids(cold_page)


# ---------------------------------------------------------------- (2) session pages
def test_home_for_a_session_history_stores_nothing(data):
    ledger = fr.ConsentLedger(default="allow")
    rec = _rec(data, ledger)
    u = 14
    ev = np.flatnonzero(data.users == u)
    ev = ev[np.argsort(data.timestamps[ev], kind="stable")]
    history = data.item_ids[data.items[ev]].tolist()
    version = ledger.version
    page = rec.home_for(history)
    assert page.user_id == "anonymous" and page.personalized
    assert len(rec.live_state_.store) == 0 and ledger.version == version
    own = rec.home(data.user_ids[u])
    top = lambda p: [i.item_id for i in next(r for r in p.rows if r.kind == "top_picks").items]  # noqa: E731
    assert top(page) == top(own)
    assert not set(history) & _all_items(page)
    assert not rec.home_for([]).personalized
    with pytest.raises(UnknownItemError):
        rec.home_for(["nope"])


# ---------------------------------------------------------------- (3) new titles
def test_new_title_appears_for_a_matching_stated_interest(data):
    ledger = fr.ConsentLedger(default="deny")
    fan, other = data.user_ids[15], data.user_ids[16]
    ledger.grant(fan, "stated_interests", at="2024-01-01")
    ledger.state_interests(fan, genres=["Documentary"], at="2024-01-01")
    ledger.grant(other, "training", at="2024-01-01")
    ledger.state_interests(other, genres=["Documentary"], at="2024-01-01")  # purpose not granted
    for v in data.user_ids[20:]:
        ledger.grant(v, ["training", "personalization"], at="2024-01-01")
    rec = _rec(data, ledger, min_row_items=1, on_unknown="ignore")
    rec.add_titles(
        pd.DataFrame(
            {
                "item_id": ["doc-new", "x-new"],
                "title": ["A New Doc", "Other"],
                "genres": [["Documentary"], ["NoSuchGenreYet"]],
            }
        )
    )
    page = rec.home(fan)
    rows = [r for r in page.rows if r.kind == "new_for_you"]
    assert rows and [i.item_id for i in rows[0].items] == ["doc-new"]
    assert "New on the catalog" in rows[0].reason.text
    assert "estimated from its genres" in rows[0].reason.text
    assert rows[0].reason.data_used == ("stated_interests",)
    assert "doc-new" not in _all_items(rec.home(other))
    # cold-start titles appear in no other row kind
    for v in data.user_ids[20:40]:
        p = rec.home(v)
        for r in p.rows:
            if r.kind != "new_for_you":
                assert not {"doc-new", "x-new"} & {i.item_id for i in r.items}
    # its vector is the mean of the fitted titles sharing its genre
    docs = np.flatnonzero(rec.catalog_.items_with_genres(["Documentary"]))
    docs = docs[docs < data.n_items]
    f = rec.model_.item_vectors
    np.testing.assert_allclose(f[data.n_items], f[docs].mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        f[data.n_items + 1], f[: data.n_items].mean(axis=0), rtol=1e-5, atol=1e-6
    )
    sim = rec.similar("doc-new", 3)
    assert len(sim) == 3
    assert rec.similar(data.item_ids[0], 300)["cold_start"].sum() == 2
    with pytest.raises(DataError, match="already"):
        rec.add_titles(pd.DataFrame({"item_id": [" doc-new"]}))
    # flat lists mark a cold-start title in its reason
    flat = rec.recommend(data.user_ids[20], 200)
    marked = flat[flat.item_id.isin(["doc-new", "x-new"])]
    assert len(marked) and marked.reason.str.startswith("New on the catalog").all()
    assert not flat[~flat.item_id.isin(["doc-new", "x-new"])].reason.str.startswith("New").any()


@pytest.mark.parametrize(
    "model",
    [
        fr.models.BPR(factors=8, iterations=5, random_state=0),
        fr.models.ItemKNN(neighbors=10),
        fr.models.Popularity(),
        fr.models.EASE(l2=50.0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_add_titles_for_every_model(data, model):
    ledger = fr.ConsentLedger(default="allow")
    ledger.state_interests("u1", genres=["Documentary"])
    # max_rows=20: with the default rows' Off the mainstream (issue 15) this page has 9 rows
    rec = fr.Recommender(
        model=model, consent=ledger, rows=_rows(), row_size=8, min_row_items=1, max_rows=20
    )
    rec.fit(data)
    rec.add_titles(pd.DataFrame({"item_id": ["new"], "genres": [["Documentary"]]}))
    assert rec.model_.n_items_ == data.n_items + 1
    page = rec.home("u1")
    where = {r.kind for r in page.rows if "new" in {i.item_id for i in r.items}}
    assert where == {"new_for_you"}
    assert len(rec.recommend("u1", 10)) == 10


def test_pages_with_live_rows_pass_the_verifier(data):
    from fairrec.verify import verify_page

    ledger = fr.ConsentLedger(default="allow")
    for v in data.user_ids[:20]:
        ledger.grant(v, "stated_interests")
        ledger.state_interests(v, genres=["Drama"])
    ledger.exclude(data.user_ids[3], genres=["Comedy"])
    rec = _rec(data, ledger, min_row_items=1, max_rows=20)
    rec.add_titles(pd.DataFrame({"item_id": ["n1"], "genres": [["Drama"]]}))
    kinds = set()
    for u in data.user_ids[:30]:
        page = rec.home(u)
        kinds |= {r.kind for r in page.rows}
        assert verify_page(page, rec.data_, ledger, recommender=rec) == []
    assert {"new_for_you", "more_like_this"} <= kinds


def test_add_titles_keeps_maturity_caps(data):
    cat = data.catalog.copy()
    assert "maturity" in cat.columns
    ledger = fr.ConsentLedger(default="allow")
    ledger.exclude("u1", max_maturity=13)
    rec = _rec(data, ledger, min_row_items=1)
    rec.add_titles(pd.DataFrame({"item_id": ["unrated"], "genres": [["Drama"]]}))
    assert rec.data_.catalog["maturity"].iloc[-1] == cat["maturity"].max()
    assert "unrated" not in _all_items(rec.home("u1"))
    assert "unrated" not in set(rec.similar(data.item_ids[0], 500, user="u1")["item_id"])


def test_add_titles_keeps_the_ratings_and_their_per_title_sums(data):
    plays = pd.DataFrame(
        {
            "user_id": data.user_ids[data.users],
            "item_id": data.item_ids[data.items],
            "timestamp": data.timestamps,
            "rating": np.where(np.arange(data.n_events) % 3 == 0, 2.0, 5.0),
        }
    )
    rated = fr.Dataset.from_pandas(
        plays, time_col="timestamp", rating_col="rating", catalog=data.catalog
    )
    rec = _rec(rated)
    before = rec.fitted_state_.item_ratings_
    assert before is not None
    rec.add_titles(pd.DataFrame({"item_id": ["new-rated"], "genres": [["Drama"]]}))
    state = rec.fitted_state_
    assert state.data_.ratings is not None
    np.testing.assert_array_equal(state.data_.ratings, rated.ratings)
    total, count = state.item_ratings_
    assert len(total) == len(count) == rated.n_items + 1
    np.testing.assert_allclose(total[:-1], before[0])
    assert count[-1] == 0 and total[-1] == 0


# ---------------------------------------------------------------- (4) availability
def _availability(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = NOW + pd.to_timedelta(rng.integers(-60, 30, n), unit="D")
    end = start + pd.to_timedelta(rng.integers(1, 90, n), unit="D")
    regions = [
        None if r == 0 else ["US"] if r == 1 else "de|fr" if r == 2 else ["US", "DE"]
        for r in rng.integers(0, 4, n)
    ]
    return pd.DataFrame(
        {
            "available_from": np.where(rng.random(n) < 0.3, pd.NaT, start),
            "available_until": np.where(rng.random(n) < 0.3, pd.NaT, end),
            "regions": regions,
        }
    )


def _unavailable(cat: pd.DataFrame, now: pd.Timestamp, region: str | None) -> set:
    out = set()
    for row in cat.itertuples():
        lo, hi, reg = row.available_from, row.available_until, row.regions
        if (pd.notna(lo) and now < lo) or (pd.notna(hi) and now >= hi):
            out.add(row.item_id)
        elif region is not None and reg is not None:
            codes = reg.split("|") if isinstance(reg, str) else reg
            if region.upper() not in {c.upper() for c in codes}:
                out.add(row.item_id)
    return out


@pytest.fixture(scope="module")
def windowed(data):
    cat = data.catalog.drop(columns=["popularity"]).reset_index(drop=True)
    cat = pd.concat([cat, _availability(len(cat), 0)], axis=1)
    frame = data.to_frame()
    d = fr.Dataset.from_pandas(frame, cat, time_col="timestamp")
    ledger = fr.ConsentLedger(default="allow")
    for v in d.user_ids[:40]:
        ledger.grant(v, "stated_interests")
        ledger.state_interests(v, genres=["Drama", "Comedy"])
    for v in d.user_ids[30:80]:  # non-personalized pages: the popularity row kinds
        ledger.revoke(v, "personalization")
    # max_rows high enough that every applicable row kind is on the page; in region FR only
    # a few dozen titles are available, so the default rows' relevance floors (the viewer's
    # top 20 %) would leave nothing below Top picks and More picks: the floors are lowered,
    # the row kinds are the same
    rows = [
        type(k)(**(vars(k) | {"min_relevance": 0.0}))
        if type(k) in (BecauseYouWatched, OffTheMainstream)
        else k
        for k in _rows()
    ]
    rec = _rec(d, ledger, min_row_items=1, max_rows=20, rows=rows)
    rec.add_titles(
        pd.DataFrame(
            {
                "item_id": ["n1", "n2"],
                "title": ["Fresh One", "Fresh Two"],
                "genres": [["Drama"], ["Comedy"]],
                "available_from": [NOW + pd.Timedelta(days=5), None],
                "regions": [None, ["FR"]],
            }
        )
    )
    full = pd.concat(
        [
            cat,
            pd.DataFrame(
                {
                    "item_id": ["n1", "n2"],
                    "available_from": [NOW + pd.Timedelta(days=5), None],
                    "available_until": [None, None],
                    "regions": [None, ["FR"]],
                }
            ),
        ],
        ignore_index=True,
    )
    return d, rec, full


@SETTINGS
@given(
    day=st.integers(-70, 120),
    region=st.sampled_from([None, "US", "de", "FR", "JP"]),
    users=st.lists(st.integers(0, 299), min_size=1, max_size=4, unique=True),
    first=st.sampled_from([0, 35, 50]),  # one viewer each: interests, both, not personalized
)
def test_unavailable_titles_never_appear_or_are_cited(windowed, day, region, users, first):
    d, rec, cat = windowed
    users = [first] + [u for u in users if u != first]
    now = NOW + pd.Timedelta(days=day)
    bad = _unavailable(cat, now, region)
    titles = dict(zip(rec.data_.catalog["item_id"], rec.data_.catalog["title"]))
    ids = [d.user_ids[u] for u in users]
    pages = rec.home_batch(ids, now=now, region=region, as_pages=True)
    frame = rec.home_batch(ids, now=now, region=region)
    assert not bad & set(frame["item_id"])
    for u, page in zip(users, pages):
        shown = _all_items(page)
        assert not bad & shown
        history = set(d.item_ids[d.items[d.users == u]].tolist())
        cited_ok = {titles[i] for i in history}
        for r in page.rows:
            for it in r.items:
                for text in (it.reason.text, r.reason.text, r.title):
                    for b in bad - history:
                        name = titles[b]
                        if name in text and not any(name in c for c in cited_ok):
                            raise AssertionError(f"{name!r} cited in {text!r}")
                if it.reason.anchor is not None:
                    assert it.reason.anchor in cited_ok
        assert not bad & set(rec.recommend(d.user_ids[u], 30, now=now, region=region)["item_id"])
        anchor = d.item_ids[d.items[d.users == u][0]]
        sim = rec.similar(anchor, 50, user=d.user_ids[u], now=now, region=region)
        assert not bad & set(sim["item_id"])
    assert not bad & set(rec.similar(d.item_ids[0], 80, now=now, region=region)["item_id"])
    session = rec.home_for(list(d.item_ids[:5]), now=now, region=region)
    assert not bad & _all_items(session)


def test_availability_property_covers_every_row_kind(windowed):
    d, rec, _ = windowed
    pages = rec.home_batch(list(d.user_ids[:80]), now=NOW, region="FR", as_pages=True)
    kinds = {r.kind for p in pages for r in p.rows}
    assert kinds >= {k.kind for k in _rows()}, kinds


def test_availability_errors_are_named(data):
    rec = _rec(data)
    with pytest.raises(DataError, match="i3"):
        rec.set_availability(
            pd.DataFrame(
                {
                    "item_id": ["i3"],
                    "available_from": ["2025-02-01"],
                    "available_until": ["2025-01-01"],
                }
            )
        )
    with pytest.raises(DataError, match="unparsable"):
        rec.set_availability(pd.DataFrame({"item_id": ["i3"], "available_from": ["someday"]}))
    with pytest.raises(ParameterError, match="region"):
        rec.home("u1", region=3)
    rec.set_availability(pd.DataFrame({"item_id": ["i3"], "available_until": ["2025-01-01"]}))
    assert "i3" not in set(rec.similar("i4", 199)["item_id"])
    # an update survives erasures and new titles (the catalog is not read again over it)
    rec.forget("u3")
    rec.add_titles(pd.DataFrame({"item_id": ["z1"], "genres": [["Drama"]]}))
    assert "i3" not in set(rec.similar("i4", 200)["item_id"])
    assert "i3" in set(rec.similar("i4", 200, now="2024-12-31")["item_id"])


@pytest.mark.spark
def test_spark_pages_respect_availability(windowed):
    pyspark = pytest.importorskip("pyspark")
    from fairrec.spark import home_pages

    d, rec, cat = windowed
    spark = pyspark.sql.SparkSession.builder.master("local[1]").getOrCreate()
    now = NOW + pd.Timedelta(days=3)
    viewers = spark.createDataFrame(pd.DataFrame({"user_id": list(d.user_ids[:6])}))
    frame = home_pages(viewers, rec, now=now, region="US", partitions=1).toPandas()
    bad = _unavailable(cat, now, "US")
    assert len(frame) and not bad & set(frame["item_id"])
    local = rec.home_batch(list(d.user_ids[:6]), now=now, region="US")
    assert sorted(frame["item_id"]) == sorted(local["item_id"].astype(str))


# ---------------------------------------------------------------- (5) similar
def test_similar_is_the_models_nearest_neighbours(data):
    rec = _rec(data)
    item = data.item_ids[3]
    got = rec.similar(item, 10)
    ids, scores = rec.model_.model_.similar_items(3, N=11)
    ids, scores = ids[ids != 3][:10], scores[ids != 3][:10]
    assert got["item_id"].tolist() == data.item_ids[ids].tolist()
    np.testing.assert_allclose(got["score"], scores, rtol=1e-4, atol=1e-5)
    assert got["rank"].tolist() == list(range(1, 11))
    ledger = fr.ConsentLedger(default="allow")
    rec2 = _rec(data, ledger)
    ledger.exclude("u2", items=[got["item_id"][0]], genres=["Horror"])
    mine = rec2.similar(item, 10, user="u2")
    assert got["item_id"][0] not in set(mine["item_id"])
    horror = set(
        rec2.data_.catalog.loc[rec2.data_.catalog["genres"].map(lambda g: "Horror" in g), "item_id"]
    )
    assert not horror & set(mine["item_id"])
    knn = fr.Recommender(model=fr.models.ItemKNN(neighbors=5)).fit(data)
    s = knn.similar(item, 5)
    row = knn.model_.similarity_[3].toarray().ravel()
    row[3] = -np.inf
    np.testing.assert_allclose(s["score"], np.sort(row)[::-1][:5], rtol=1e-5)
    with pytest.raises(UnknownItemError):
        rec.similar("nope")
    # the row kind: the same neighbours of the latest watched title, seen titles removed
    alone = _rec(data, rows=[MoreLikeThis()])
    ev = np.flatnonzero(data.users == 2)
    last = data.items[ev[np.lexsort((-ev, -data.timestamps[ev].view(np.int64)))[0]]]
    seen = set(data.item_ids[data.items[ev]].tolist())
    near = [i for i in alone.similar(data.item_ids[last], 199)["item_id"] if i not in seen]
    (row,) = alone.home("u2").rows
    assert row.kind == "more_like_this"
    assert [i.item_id for i in row.items] == near[: len(row.items)] and len(row.items) == 8
    assert (
        row.reason.text
        == f"More like {data.catalog['title'][last]}, which you watched (your watch history)"
    )


# ---------------------------------------------------------------- (7) hot swap
def test_reload_under_eight_threads_loses_nothing_and_mixes_nothing(data, tmp_path):
    a = fr.Recommender(model=_model(0), row_size=8, clock=lambda: NOW).fit(data)
    b = fr.Recommender(model=_model(7), row_size=8, clock=lambda: NOW).fit(data)
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    users = list(data.user_ids[:24])
    ra = fr.Recommender.load(tmp_path / "a", clock=lambda: NOW)
    rb = fr.Recommender.load(tmp_path / "b", clock=lambda: NOW)
    want_a = {u: _ids(ra.home(u)) for u in users}
    want_b = {u: _ids(rb.home(u)) for u in users}
    assert sum(want_a[u] != want_b[u] for u in users) >= len(users) // 2
    rec = fr.Recommender.load(tmp_path / "a", clock=lambda: NOW)
    stop = threading.Event()
    results: list = []
    errors: list = []

    def serve(k: int) -> None:
        i = k
        while not stop.is_set():
            u = users[i % len(users)]
            i += 7
            try:
                results.append((u, _ids(rec.home(u))))
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    others = list(data.user_ids[30:40])

    def observe_and_serve() -> None:  # other viewers' plays arrive meanwhile
        k = 0
        while not stop.is_set():
            u = others[k % len(others)]
            try:
                rec.observe(pd.DataFrame({"user_id": [u], "item_id": [data.item_ids[k % 200]]}))
                rec.home(u)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            k += 1

    threads = [threading.Thread(target=serve, args=(k,)) for k in range(8)]
    threads.append(threading.Thread(target=observe_and_serve))
    for t in threads:
        t.start()
    try:
        for n in range(8):
            rec.reload(tmp_path / ("b" if n % 2 == 0 else "a"))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert len(results) >= 8
    for u, got in results:
        assert got in (want_a[u], want_b[u])
    # a bad model file changes nothing
    (tmp_path / "bad").mkdir()
    with pytest.raises(fr.errors.ModelFileError):
        rec.reload(tmp_path / "bad")
    assert _ids(rec.home(users[0])) == want_a[users[0]]
