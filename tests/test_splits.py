"""Tests of fairrec.splits: no leakage, exact per-viewer counts, determinism, time order."""

from __future__ import annotations

import doctest
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairrec.data import Dataset
from fairrec.errors import DataError, ParameterError
from fairrec.splits import Split, random_holdout, temporal_holdout, time_cut

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def datasets(draw, with_time: bool = True):
    """Interactions with repeated (viewer, title) pairs and tied timestamps."""
    n = draw(st.integers(0, 60))
    users = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    df = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in users],
            "item_id": items,
            "ts": [1_700_000_000 + 3600 * t for t in times],
        }
    )
    return Dataset.from_pandas(df, time_col="ts" if with_time else None)


def pairs(d: Dataset) -> set:
    return set(zip(d.users.tolist(), d.items.tolist()))


def events(d: Dataset) -> Counter:
    ts = d.timestamps.astype(np.int64).tolist() if d.timestamps is not None else [0] * d.n_events
    return Counter(zip(d.users.tolist(), d.items.tolist(), d.weights.tolist(), ts))


def pairs_per_user(d: Dataset) -> dict:
    out: dict = defaultdict(set)
    for u, i in zip(d.users.tolist(), d.items.tolist()):
        out[u].add(i)
    return out


def check_partition(data: Dataset, split: Split) -> None:
    train, test = split
    assert train.user_ids is data.user_ids and test.item_ids is data.item_ids
    assert not pairs(train) & pairs(test), "a test (viewer, title) pair is also in train"
    assert events(train) + events(test) == events(data)


# ---------------------------------------------------------------------------- random holdout
@SETTINGS
@given(datasets(), st.sampled_from([0.1, 0.2, 0.5, 0.9]), st.integers(0, 3), st.integers(0, 3))
def test_random_holdout_no_leakage_and_exact_counts(data, fraction, min_train, seed):
    split = random_holdout(data, test_fraction=fraction, seed=seed, min_train=min_train)
    check_partition(data, split)
    all_p, test_p = pairs_per_user(data), pairs_per_user(split.test)
    for u, items in all_p.items():
        n = len(items)
        expected = min(int(np.floor(fraction * n + 0.5)), max(n - min_train, 0))
        assert len(test_p.get(u, set())) == expected
    again = random_holdout(data, test_fraction=fraction, seed=seed, min_train=min_train)
    assert events(again.test) == events(split.test)


def test_random_holdout_seed_changes_the_draw_and_generator_is_accepted():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user_id": rng.integers(0, 50, 2000), "item_id": rng.integers(0, 300, 2000)})
    data = Dataset.from_pandas(df)
    a = random_holdout(data, seed=0)
    b = random_holdout(data, seed=1)
    assert pairs(a.test) != pairs(b.test)
    assert a.test.n_events == pytest.approx(0.2 * data.n_events, rel=0.1)
    c = random_holdout(data, seed=np.random.default_rng(0))
    check_partition(data, c)


# ---------------------------------------------------------------------------- temporal holdout
@SETTINGS
@given(
    datasets(), st.one_of(st.integers(1, 4), st.sampled_from([0.2, 0.5, 0.75])), st.integers(0, 2)
)
def test_temporal_holdout_takes_the_latest_titles(data, amount, min_train):
    kw = {"last_n": amount} if isinstance(amount, int) else {"fraction": amount}
    split = temporal_holdout(data, min_train=min_train, **kw)
    check_partition(data, split)
    # a pair is dated by its first event; ties by event order
    first: dict = {}
    for pos, (u, i, t) in enumerate(
        zip(data.users.tolist(), data.items.tolist(), data.timestamps.astype(np.int64).tolist())
    ):
        first.setdefault((u, i), (t, pos))
    test_p = pairs(split.test)
    for u, items in pairs_per_user(data).items():
        n = len(items)
        wanted = amount if isinstance(amount, int) else int(np.floor(amount * n + 0.5))
        expected = min(wanted, max(n - min_train, 0))
        ranked = sorted(items, key=lambda i: first[(u, i)])
        assert {(u, i) for i in ranked[n - expected :]} == {p for p in test_p if p[0] == u}


def test_temporal_holdout_by_hand_with_replays_and_ties():
    df = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 1, 2, 2],
            "item_id": ["a", "b", "c", "a", "d", "a", "b"],
            "ts": [10, 20, 30, 40, 30, 5, 5],
        }
    )
    data = Dataset.from_pandas(df, time_col="ts")
    train, test = temporal_holdout(data, last_n=2)
    # viewer 1: first plays a@10, b@20, c@30, d@30 (c before d by event order) -> c, d;
    # the re-play of a at 40 stays with a in train. viewer 2: tie at 5 -> b (later event).
    got = sorted(zip(test.to_frame()["user_id"], test.to_frame()["item_id"]))
    assert got == [(1, "c"), (1, "d"), (2, "b")]
    assert train.n_events == 4


# ---------------------------------------------------------------------------- time cut
@SETTINGS
@given(datasets(), st.integers(0, 21), st.booleans(), st.booleans())
def test_time_cut_is_causal_and_leak_free(data, hour, cold_users, cold_items):
    at = pd.Timestamp(1_700_000_000 + 3600 * hour, unit="s")
    split = time_cut(data, at, filter_cold_users=cold_users, filter_cold_items=cold_items)
    train, test = split
    assert train.user_ids is data.user_ids
    assert not pairs(train) & pairs(test)
    assert (train.timestamps < at.to_datetime64()).all()
    assert (test.timestamps >= at.to_datetime64()).all()
    assert train.n_events == int((data.timestamps < at.to_datetime64()).sum())
    # exactly the later events that survive the filters
    train_users, train_items, seen = set(train.users), set(train.items), pairs(train)
    expected = Counter(
        e
        for e in events(data).elements()
        if e[3] >= at.value  # nanoseconds
        and (e[0], e[1]) not in seen
        and (not cold_users or e[0] in train_users)
        and (not cold_items or e[1] in train_items)
    )
    assert events(test) == expected


def test_time_cut_accepts_strings_and_aware_times():
    df = pd.DataFrame(
        {
            "user_id": [1, 1, 1],
            "item_id": ["a", "b", "c"],
            "ts": ["2024-01-01T00:00Z", "2024-01-01T12:00Z", "2024-01-02T00:00Z"],
        }
    )
    data = Dataset.from_pandas(df, time_col="ts")
    a = time_cut(data, "2024-01-01 06:00", filter_cold_items=False)
    b = time_cut(
        data, pd.Timestamp("2024-01-01 07:00", tz="Europe/Berlin"), filter_cold_items=False
    )  # = 06:00 UTC
    assert a.train.n_events == b.train.n_events == 1
    assert a.test.n_events == 2


# ---------------------------------------------------------------------------- Split helpers
def test_split_unpacks_and_test_frame_is_ground_truth():
    df = pd.DataFrame(
        {
            "user_id": ["x", "x", "x", "y"],
            "item_id": [1, 2, 2, 1],
            "w": [1.0, 2.0, 3.0, 1.0],
            "ts": [1, 2, 3, 4],
        }
    )
    data = Dataset.from_pandas(df, weight_col="w", time_col="ts")
    split = temporal_holdout(data, last_n=1, min_train=0)
    train, test = split
    frame = split.test_frame()
    assert list(frame.columns) == ["user_id", "item_id", "weight", "timestamp"]
    rows = sorted(zip(frame["user_id"], frame["item_id"], frame["weight"]))
    assert rows == [("x", 2, 5.0), ("y", 1, 1.0)]  # (x, 2) played twice: one line, summed
    assert frame.loc[frame["user_id"] == "x", "timestamp"].iloc[0] == pd.Timestamp(2, unit="s")
    assert len(split.train_frame()) == train.n_events == 1
    assert "Split(train=Dataset(" in repr(split)


def test_docstring_examples_run():
    import fairrec.evaluation._splits as defining  # the examples live where the code is

    result = doctest.testmod(defining)
    assert result.failed == 0 and result.attempted >= 6


def test_splitting_a_million_events():
    rng = np.random.default_rng(0)
    n = 1_000_000
    data = Dataset(
        user_ids=np.arange(20_000),
        item_ids=np.arange(5_000),
        users=rng.integers(0, 20_000, n).astype(np.int32),
        items=rng.integers(0, 5_000, n).astype(np.int32),
        weights=np.ones(n, np.float32),
        timestamps=(rng.integers(0, 10**9, n) * 10**9).astype("datetime64[ns]"),
        catalog=pd.DataFrame({"item_id": np.arange(5_000)}),
    )
    for split in (
        random_holdout(data, seed=0),
        temporal_holdout(data, fraction=0.2),
        time_cut(data, pd.Timestamp(5 * 10**8, unit="s")),
    ):
        assert split.train.n_events + split.test.n_events <= n


# ---------------------------------------------------------------------------- errors
def test_errors():
    df = pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "b"]})
    data = Dataset.from_pandas(df)
    with pytest.raises(ParameterError, match="'test_fraction' parameter of random_holdout"):
        random_holdout(data, test_fraction=1.0)
    with pytest.raises(ParameterError, match="'min_train'"):
        random_holdout(data, min_train=-1)
    with pytest.raises(ParameterError, match="'seed'"):
        random_holdout(data, seed="x")
    with pytest.raises(DataError, match="needs a fairrec Dataset"):
        random_holdout(df)
    with pytest.raises(ParameterError, match="exactly one of last_n and fraction"):
        temporal_holdout(data)
    with pytest.raises(ParameterError, match="exactly one"):
        temporal_holdout(data, last_n=1, fraction=0.5)
    with pytest.raises(DataError, match="needs timestamps"):
        temporal_holdout(data, last_n=1)
    with pytest.raises(DataError, match="needs timestamps"):
        time_cut(data, "2024-01-01")
    timed = Dataset.from_pandas(df.assign(ts=[1, 2]), time_col="ts")
    with pytest.raises(ParameterError, match="'last_n'"):
        temporal_holdout(timed, last_n=0)
    with pytest.raises(ParameterError, match="'fraction'"):
        temporal_holdout(timed, fraction=0.0)
    with pytest.raises(ParameterError, match="'at' parameter of time_cut"):
        time_cut(timed, "not a time")
    with pytest.raises(ParameterError, match="'at'"):
        time_cut(timed, None)
