"""Same pages, any path (README): BLAS threads, batch shapes, single calls and threads agree.

What a viewer sees must be identical; ``score`` may differ by float32 rounding (see
``tests/_pages.py``). The catalog is large enough that OpenBLAS splits the products over
threads and blocks them differently for one viewer and for a batch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import fairrec as fr
from _pages import assert_same_pages
from fairrec.page import pages_to_frame

NOW = pd.Timestamp("2026-01-01")


@pytest.fixture(scope="module")
def served():
    data = fr.datasets.synthetic(n_users=400, n_items=3_000, seed=11, mean_plays=25)
    ledger = fr.ConsentLedger(default="deny")
    for i, u in enumerate(data.user_ids):
        if i % 5 != 4:
            ledger.grant(u, ["training", "personalization"], at="2025-01-01")
        if i % 7 == 0:
            ledger.exclude(u, genres=[data.genre_names[i % len(data.genre_names)]])
        # stated interests: genres, titles, both, and stated without the purpose granted
        # (the row applies to some viewers of a batch, not to others)
        if i % 6 in (1, 3, 5):
            genre = data.genre_names[(i // 6) % len(data.genre_names)]
            titles = [data.item_ids[(7 * i) % len(data.item_ids)]] if i % 6 != 1 else None
            ledger.state_interests(u, genres=[genre] if i % 6 != 3 else None, items=titles)
            if i % 12 != 5:
                ledger.grant(u, "stated_interests", at="2025-01-01")
    rec = fr.Recommender(
        model=fr.models.ALS(factors=32, iterations=3, random_state=0),
        consent=ledger,
        row_size=10,
        on_unknown="ignore",
    ).fit(data, now=NOW)
    viewers = [*data.user_ids[:60].tolist(), "never-seen"]
    return rec, viewers


def _blas_threads() -> int:
    return max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=1)


def _single_pages(rec, viewers, threads: int) -> pd.DataFrame:
    with threadpool_limits(threads, user_api="blas"):
        return pages_to_frame([rec.home(u, now=NOW) for u in viewers])


def test_pages_agree_with_one_and_two_blas_threads(served):
    rec, viewers = served
    one = _single_pages(rec, viewers, 1)
    with threadpool_limits(2, user_api="blas"):
        threads_used = _blas_threads()
        two = pages_to_frame([rec.home(u, now=NOW) for u in viewers])
        batch_two = rec.home_batch(viewers, now=NOW)
    assert len(one) > 0 and one["user_id"].nunique() == len(viewers)
    assert threads_used == 2, "threadpoolctl could not give BLAS two threads"
    assert_same_pages(two, one)
    assert_same_pages(batch_two, one)


@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_pages_agree_for_any_batch_shape_and_worker_count(served, batch_size):
    rec, viewers = served
    single = _single_pages(rec, viewers, 1)
    old = rec.batch_size
    rec.batch_size = batch_size
    try:
        batch = rec.home_batch(viewers, now=NOW)
        threaded = rec.home_batch(viewers, now=NOW, n_jobs=2)
    finally:
        rec.batch_size = old
    assert_same_pages(batch, single)
    assert_same_pages(threaded, single)


def test_flat_lists_agree_single_and_batch(served):
    rec, viewers = served
    known = viewers[:-1]
    single = pd.concat(
        [rec.recommend(u, k=15, now=NOW).assign(user_id=u) for u in known], ignore_index=True
    )
    with threadpool_limits(2, user_api="blas"):
        batch = rec.recommend_batch(known, k=15, now=NOW).reset_index(drop=True)
    assert len(batch) == 15 * len(known)
    assert_same_pages(batch, single[list(batch.columns)])


def test_stated_interest_rows_are_in_the_compared_pages(served):
    """The batch above holds viewers the *stated interests* row applies to (by genre, by
    title) and viewers it does not: the pages compared include that row's reasons."""
    rec, viewers = served
    frame = rec.home_batch(viewers, now=NOW)
    stated = frame[frame["row_kind"] == "stated_interests"]
    assert 3 <= stated["user_id"].nunique() < len(viewers)
    assert stated["reason"].str.startswith("Close to ").any()
    assert stated["reason"].str.startswith(("In ", "Matches ")).any()


def test_the_comparison_fails_on_a_swapped_title(served):
    """The equality the other tests use can fail: a reordered row is caught."""
    rec, viewers = served
    frame = _single_pages(rec, viewers[:3], 1)
    swapped = frame.copy()
    swapped.loc[[0, 1], "item_id"] = swapped.loc[[1, 0], "item_id"].to_numpy()
    with pytest.raises(AssertionError, match="item_id"):
        assert_same_pages(swapped, frame)
    nudged = frame.copy()
    nudged.loc[0, "score"] = nudged.loc[0, "score"] * (1 + 1e-3) + 1e-3
    with pytest.raises(AssertionError, match="score"):
        assert_same_pages(nudged, frame)
    np.testing.assert_equal(len(frame), len(swapped))
