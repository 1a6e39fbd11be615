"""One meaning of ``head_share``: the ``long_tail_share`` metric and the ``LongTail`` re-ranker
select the same short head (the most played titles drawing ``head_share`` of the plays) from
the same play counts, with the same default."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from fairrec.metrics import long_tail_share
from fairrec.rerank import LongTail, RerankContext, long_tail_mask


def metric_tail(counts: np.ndarray, head_share: float | None) -> np.ndarray:
    """Which titles ``long_tail_share`` counts as tail: one single-title list per title."""
    n = len(counts)
    train = pd.DataFrame(
        {"user_id": np.arange(int(counts.sum())), "item_id": np.repeat(np.arange(n), counts)}
    )
    recs = pd.DataFrame({"user_id": np.arange(n), "item_id": np.arange(n), "rank": 1})
    kw = {} if head_share is None else {"head_share": head_share}
    per_title = long_tail_share(recs, train, per_user=True, **kw)
    return per_title.reindex(np.arange(n)).to_numpy() == 1.0


def reranker_tail(counts: np.ndarray, head_share: float | None) -> np.ndarray:
    """Which titles ``LongTail`` treats as tail, read from its choices: viewer ``r`` scores
    title ``r`` 0.9 and every other title 0; with a tail bonus of 0.5 (``lambda_=0.5``,
    ``P(tail) = 1``) title ``r`` comes first iff it is in the tail (or nothing is)."""
    n = len(counts)
    kw = {} if head_share is None else {"head_share": head_share}
    reranker = LongTail(lambda_=0.5, variant="binary", **kw)
    ctx = RerankContext(popularity=counts.astype(np.float64), tail_share=np.ones(n))
    picks = reranker.rerank(0.9 * np.eye(n), 1, context=ctx)
    return picks[:, 0] == np.arange(n)


def test_the_defaults_are_one_value():
    metric = inspect.signature(long_tail_share).parameters["head_share"].default
    mask = inspect.signature(long_tail_mask).parameters["head_share"].default
    assert metric == LongTail().head_share == mask == 0.8


def test_same_head_on_the_same_data_with_ties_at_the_boundary():
    # 10 + 6 + 6 + ... : the 80 % boundary falls inside a tie of 3s; ties never split
    counts = np.array([10, 6, 6, 3, 3, 3, 2, 1, 1, 1])
    tail = long_tail_mask(counts, 0.8)
    assert tail.tolist() == [False] * 6 + [True] * 4
    np.testing.assert_array_equal(metric_tail(counts, None), tail)
    np.testing.assert_array_equal(reranker_tail(counts, None), tail)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(1, 30), min_size=3, max_size=25),
    st.sampled_from([None, 0.2, 0.5, 0.8, 0.95]),
)
def test_metric_and_reranker_select_the_same_head(counts, head_share):
    counts = np.array(counts)
    expected = long_tail_mask(counts, 0.8 if head_share is None else head_share)
    got_metric = metric_tail(counts, head_share)
    np.testing.assert_array_equal(got_metric, expected)
    if expected.all() or not expected.any():
        return  # the re-ranker's choices cannot tell head from tail then
    np.testing.assert_array_equal(reranker_tail(counts, head_share), got_metric)
