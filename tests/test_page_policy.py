"""Issue 15: the page stays relevant while it surfaces the long tail. These tests pin the
properties the page's figures rely on (benchmarks/page_quality.py measures the figures):
exploratory rows are never filled below their relevance floor, the allocation row takes
the most relevant titles the themed rows left, and every such claim is checked by the
verifier."""

from __future__ import annotations

import numpy as np
import pytest

import fairrec as fr
from fairrec.audit import verify_page
from fairrec.errors import ParameterError
from fairrec.page import HomePage
from fairrec.rerank import MMR
from fairrec.rows import (
    BecauseYouWatched,
    HiddenGems,
    MorePicks,
    OffTheMainstream,
    OutsideYourBubble,
    TopPicks,
    default_rows,
)
from fairrec.rows.evidence import popularity_share

NOW = "2030-01-01"


@pytest.fixture(scope="module")
def data() -> fr.Dataset:
    return fr.datasets.synthetic(n_users=300, n_items=400, seed=5, mean_plays=25)


def _rec(data, rows, **kw) -> fr.Recommender:
    return fr.Recommender(
        model=fr.models.ALS(factors=8, iterations=4, random_state=0),
        consent=fr.ConsentLedger(default="allow"),
        rows=rows,
        row_size=8,
        **kw,
    ).fit(data, now=NOW)


def _share(data) -> np.ndarray:
    watchers = np.bincount(data.to_csr().indices, minlength=data.n_items)
    return popularity_share(watchers)


@pytest.mark.parametrize("floor", [0.0, 0.6, 0.9])
def test_because_you_watched_never_below_its_floor_or_above_its_cap(data, floor):
    rec = _rec(data, [TopPicks(), BecauseYouWatched(min_relevance=floor, max_popularity=0.8)])
    frame = rec.home_batch(list(data.user_ids[:60]), now=NOW)
    byw = frame[frame.row_kind == "because_you_watched"]
    assert len(byw)  # the property is exercised
    # the page's score is the relevance percentile the floor is stated in
    assert byw.score.ge(floor - 1e-9).all()
    pct = pd_series(rec._fitted.pop_pct_, data)
    assert pct.reindex(byw.item_id).lt(0.8).all()


def pd_series(values, data):
    import pandas as pd

    return pd.Series(values, index=pd.Index(data.item_ids))


def test_off_the_mainstream_never_below_its_floor_nor_in_the_head(data):
    rows = [TopPicks(), OffTheMainstream(max_share=0.7, min_relevance=0.75)]
    rec = _rec(data, rows)
    frame = rec.home_batch(list(data.user_ids[:60]), now=NOW)
    off = frame[frame.row_kind == "off_the_mainstream"]
    assert len(off)
    assert off.score.ge(0.75 - 1e-9).all()
    share = pd_series(_share(data), data)
    assert share.reindex(off.item_id).lt(0.7).all()


def _default_off_the_mainstream() -> OffTheMainstream:
    return next(k for k in default_rows() if isinstance(k, OffTheMainstream))


@pytest.mark.parametrize(
    "row",
    [
        OffTheMainstream(max_share=0.8, min_relevance=0.6, reranker=MMR(lambda_=1.0)),
        _default_off_the_mainstream(),
    ],
    ids=["pure-relevance", "default"],
)
def test_off_the_mainstream_takes_the_most_relevant_titles_left(data, row):
    """The allocation row: with a pure-relevance re-ranker (the default page's), its titles
    are exactly the most relevant eligible candidates the earlier rows did not place, in
    relevance order."""
    rec = _rec(data, [TopPicks(), MorePicks(), row], n_candidates=400)
    share = _share(data)
    users = list(data.user_ids[:30])
    frame = rec.home_batch(users, now=NOW)
    plain = rec.recommend_batch(users, k=400)
    checked = 0
    for u in users:
        page = frame[frame.user_id == u]
        off = page[page.row_kind == "off_the_mainstream"]
        if off.empty:
            continue
        placed = set(page[page.row_kind != "off_the_mainstream"].item_id)
        ranked = plain[plain.user_id == u].sort_values("rank")
        n = len(ranked)
        pct = 1.0 - (ranked["rank"].to_numpy() - 1) / n
        idx = data.item_index(list(ranked.item_id))
        ok = (pct >= row.min_relevance) & (share[idx] < row.max_share)
        ok &= ~ranked.item_id.isin(placed).to_numpy()
        want = list(ranked.item_id[ok][: len(off)])
        assert list(off.sort_values("position").item_id) == want
        checked += 1
    assert checked


def test_top_picks_and_more_picks_hold_the_most_relevant_titles(data):
    """By default *Top picks* holds exactly the viewer's row-size most relevant titles and
    *More picks* (built next) exactly the following half row, whatever their re-rankers do
    to the order."""
    rows = [TopPicks(reranker=MMR(lambda_=0.2)), MorePicks(reranker=MMR(lambda_=0.2))]
    rec = _rec(data, rows, n_candidates=400)
    users = list(data.user_ids[:40])
    frame = rec.home_batch(users, now=NOW)
    k = rec.row_size
    plain = rec.recommend_batch(users, k=k + k // 2)
    checked = 0
    for u in users:
        page, ranked = frame[frame.user_id == u], plain[plain.user_id == u]
        top = set(page[page.row_kind == "top_picks"].item_id)
        more = set(page[page.row_kind == "more_picks"].item_id)
        if not more:
            continue
        assert top == set(ranked[ranked["rank"] <= k].item_id)
        assert more == set(ranked[ranked["rank"] > k].item_id)
        checked += 1
    assert checked > 30


def test_more_picks_never_below_its_floor(data):
    """*More picks* picks among the viewer's ``pool`` most relevant candidates only, and never
    repeats a title of the rows above it."""
    rows = [TopPicks(), MorePicks(pool=16, reranker=MMR(lambda_=0.1))]
    rec = _rec(data, rows, n_candidates=400, min_row_items=1)
    users = list(data.user_ids[:40])
    frame = rec.home_batch(users, now=NOW)
    more = frame[frame.row_kind == "more_picks"]
    assert len(more)
    plain = rec.recommend_batch(users, k=16)
    allowed = set(zip(plain.user_id, plain.item_id))
    assert all(pair in allowed for pair in zip(more.user_id, more.item_id))
    assert not frame.duplicated(["user_id", "item_id"]).any()


@pytest.mark.parametrize("pool", [None, 12])
def test_top_picks_never_below_its_floor(data, pool):
    """Top picks picks among the viewer's ``pool`` most relevant titles (default: the row
    size) however strongly its re-ranker diversifies."""
    rec = _rec(data, [TopPicks(pool=pool, reranker=MMR(lambda_=0.2))], n_candidates=400)
    users = list(data.user_ids[:40])
    frame = rec.home_batch(users, now=NOW)
    top = frame[frame.row_kind == "top_picks"]
    assert len(top)
    depth = pool or rec.row_size
    plain = rec.recommend_batch(users, k=depth)
    allowed = set(zip(plain.user_id, plain.item_id))
    assert all(pair in allowed for pair in zip(top.user_id, top.item_id))
    # the floor binds: without it this re-ranker reaches further down the ranking
    wide = _rec(data, [TopPicks(pool=400, reranker=MMR(lambda_=0.2))], n_candidates=400)
    deep = wide.home_batch(users, now=NOW)
    deep = deep[deep.row_kind == "top_picks"]
    assert not all(pair in allowed for pair in zip(deep.user_id, deep.item_id))


def test_hidden_gems_row_is_capped(data):
    rec = _rec(data, [HiddenGems(max_items=3)], min_row_items=1)
    frame = rec.home_batch(list(data.user_ids[:40]), now=NOW)
    gems = frame[frame.row_kind == "hidden_gems"]
    assert len(gems) and gems.groupby("user_id").size().max() <= 3


def test_default_page_allocates_after_the_themed_rows():
    kinds = [type(k) for k in default_rows()]
    assert kinds[:2] == [TopPicks, MorePicks]  # the model's hits first, then the themes
    assert kinds.index(OffTheMainstream) > kinds.index(BecauseYouWatched)
    assert kinds.index(OffTheMainstream) > kinds.index(HiddenGems)
    assert kinds.index(OffTheMainstream) > kinds.index(OutsideYourBubble)


def test_verifier_checks_off_the_mainstream_claims(data):
    led = fr.ConsentLedger(default="allow")
    rec = fr.Recommender(
        model=fr.models.ALS(factors=8, iterations=4, random_state=0),
        consent=led,
        rows=[TopPicks(), MorePicks(), OffTheMainstream(min_relevance=0.5)],
        row_size=8,
    ).fit(data, now=NOW)
    pages = ((u, rec.home(u, now=NOW)) for u in data.user_ids[:40])
    u, page = next(
        (u, p) for u, p in pages if {"more_picks", "off_the_mainstream"} <= {r.kind for r in p.rows}
    )
    assert verify_page(page, data, led, recommender=rec) == []
    more = next(r for r in page.rows if r.kind == "more_picks")
    assert all(it.reason.evidence["anchor_id"] is not None for it in more)
    d = page.to_dict()
    item = next(r for r in d["rows"] if r["kind"] == "more_picks")["items"][0]
    hist = set(data.to_frame().query("user_id == @u").item_id)
    wrong = next(i for i in data.item_ids if i not in hist)
    item["reason"]["evidence"]["anchor_id"] = wrong  # not in the history: a false anchor
    bad = verify_page(HomePage.from_dict(d), data, led, recommender=rec)
    assert bad
    d = page.to_dict()
    off = next(r for r in d["rows"] if r["kind"] == "off_the_mainstream")
    off["items"][0]["score"] = 0.1  # below the row's floor
    bad = verify_page(HomePage.from_dict(d), data, led, recommender=rec)
    assert any(v.check == "claim" and "floor" in v.message for v in bad)
    d = page.to_dict()
    off = next(r for r in d["rows"] if r["kind"] == "off_the_mainstream")
    off["reason"]["evidence"]["max_share"] = 0.01  # a claim no title meets
    bad = verify_page(HomePage.from_dict(d), data, led, recommender=rec)
    assert any(v.check == "claim" and "mainstream" in v.message for v in bad)


@pytest.mark.parametrize(
    "make",
    [
        lambda: BecauseYouWatched(min_relevance=1.0),
        lambda: BecauseYouWatched(min_relevance=-0.1),
        lambda: OffTheMainstream(min_relevance="0.5"),
        lambda: OffTheMainstream(max_share=0.0),
        lambda: HiddenGems(max_items=0),
    ],
)
def test_bad_floors_are_typed_errors(make):
    with pytest.raises(ParameterError):
        make()
