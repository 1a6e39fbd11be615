"""Train/test splits of a :class:`~fairrec.data.Dataset`, with no leakage.

Three protocols, all vectorized (per-viewer ranking with ``numpy.lexsort``, no loop over
viewers) and deterministic:

* :func:`random_holdout` -- per viewer, a seeded random share of titles goes to test;
* :func:`temporal_holdout` -- per viewer, the last titles in time (last ``n`` or a fraction);
* :func:`time_cut` -- one global cut time: before it is train, after it is test;
* :func:`rolling_folds` -- several successive time folds for cross-validation (each fold
  trains on the past only and validates on the next window), as :func:`fairrec.tune` uses.

The unit that is split is the (viewer, title) *pair*: every event of a pair goes to the same
side, so a title a viewer has in train never appears in that viewer's test set. Train and
test share the original dataset's id maps and catalog, so indices agree between them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec._checks import check_fraction, check_int
from fairrec.data import Dataset
from fairrec.errors import DataError, ParameterError, param_error

__all__ = ["Split", "random_holdout", "temporal_holdout", "time_cut", "rolling_folds"]


class Split(NamedTuple):
    """The two sides of a split; unpacks as ``train, test = split``.

    Attributes
    ----------
    train, test : Dataset
        Event subsets of the same dataset (same id maps and catalog).
    """

    train: Dataset
    test: Dataset

    def train_frame(self) -> pd.DataFrame:
        """Train events with external ids: ``user_id, item_id, weight, timestamp``."""
        return self.train.to_frame()

    def test_frame(self) -> pd.DataFrame:
        """Test set as ground truth: one line per distinct (viewer, title) pair.

        Columns ``user_id, item_id, weight`` (summed over the pair's events) and
        ``timestamp`` (the pair's first event, ``NaT`` without timestamps), ordered by first
        event -- ready to pass as ``truth`` to :mod:`fairrec.metrics`.
        """
        t = self.test
        key = t.users.astype(np.int64) * max(t.n_items, 1) + t.items
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        first = first[order]
        weight = np.bincount(inv, weights=t.weights, minlength=len(order))[order]
        return pd.DataFrame(
            {
                C.USER: t.user_ids[t.users[first]],
                C.ITEM: t.item_ids[t.items[first]],
                C.WEIGHT: weight.astype(np.float32),
                C.TIME: t.timestamps[first] if t.timestamps is not None else pd.NaT,
            }
        )

    def __repr__(self) -> str:
        return f"Split(train={self.train!r}, test={self.test!r})"


# ---------------------------------------------------------------------------- helpers
def _check_data(data: Any, owner: str) -> Dataset:
    if not isinstance(data, Dataset):
        raise DataError(
            f"{owner} needs a fairrec Dataset (fairrec.Dataset.from_pandas(...)). "
            f"Got {type(data).__name__} instead."
        )
    return data


class _Pairs(NamedTuple):
    """Distinct (viewer, title) pairs of a dataset's events."""

    user: np.ndarray  # viewer index of each pair (pairs sorted by viewer, then title)
    first: np.ndarray  # position of each pair's first event
    of_event: np.ndarray  # pair of each event

    @property
    def n(self) -> int:
        return len(self.user)


def _pairs(data: Dataset) -> _Pairs:
    n_items = max(data.n_items, 1)
    key = data.users.astype(np.int64) * n_items + data.items
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    return _Pairs(uniq // n_items, first, inv.ravel())


def _n_test(n_pairs: np.ndarray, wanted: np.ndarray, min_train: int) -> np.ndarray:
    """Per viewer: how many pairs go to test, keeping at least ``min_train`` in train."""
    return np.clip(wanted, 0, np.maximum(n_pairs - min_train, 0))


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5).astype(np.int64)


def _take_per_user(
    pairs: _Pairs, order: np.ndarray, n_test: np.ndarray, *, from_end: bool
) -> np.ndarray:
    """Mark the first (or last) ``n_test[u]`` pairs of each viewer in ``order`` as test.

    ``order`` must list the pairs grouped by viewer (viewers ascending).
    """
    n_users = len(n_test)
    counts = np.bincount(pairs.user, minlength=n_users)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    u = pairs.user[order]
    pos = np.arange(pairs.n) - starts[u]
    if from_end:
        pos = counts[u] - 1 - pos
    test_pair = np.zeros(pairs.n, dtype=bool)
    test_pair[order] = pos < n_test[u]
    return test_pair


def _split(data: Dataset, test_event: np.ndarray, train_event: np.ndarray | None = None) -> Split:
    train_event = ~test_event if train_event is None else train_event
    return Split(train=data.select(train_event), test=data.select(test_event))


# ---------------------------------------------------------------------------- protocols
def random_holdout(
    data: Dataset,
    test_fraction: float = 0.2,
    seed: int | np.random.Generator = 0,
    min_train: int = 1,
) -> Split:
    """Per-viewer random holdout of titles.

    For each viewer with ``n`` distinct titles, ``round(test_fraction * n)`` titles (half
    rounded up) are drawn at random for test, but never so many that fewer than
    ``min_train`` remain in train. All events of a (viewer, title) pair go to the same side.

    Parameters
    ----------
    data : Dataset
    test_fraction : float
        Share of each viewer's titles held out, in (0, 1).
    seed : int or numpy.random.Generator
        Seed of the draw; the same seed and data give the same split.
    min_train : int
        Titles each viewer keeps in train (viewers with fewer titles get no test titles).

    Returns
    -------
    Split

    Examples
    --------
    >>> import pandas as pd
    >>> from fairrec.data import Dataset
    >>> df = pd.DataFrame({"user_id": ["u1"] * 5 + ["u2"] * 2, "item_id": list("abcdeab")})
    >>> train, test = random_holdout(Dataset.from_pandas(df), test_fraction=0.4, seed=1)
    >>> test.n_events  # u1: round(0.4 * 5) = 2 titles, u2: round(0.4 * 2) = 1 title
    3
    """
    data = _check_data(data, "random_holdout")
    f = check_fraction(
        test_fraction, "test_fraction", "random_holdout", low_open=True, high_open=True
    )
    min_train = check_int(min_train, "min_train", "random_holdout", 0)
    if isinstance(seed, np.random.Generator):
        rng = seed
    else:
        rng = np.random.default_rng(check_int(seed, "seed", "random_holdout", 0))
    pairs = _pairs(data)
    n_pairs = np.bincount(pairs.user, minlength=data.n_users)
    n_test = _n_test(n_pairs, _round_half_up(f * n_pairs), min_train)
    order = np.lexsort((rng.random(pairs.n), pairs.user))
    test_pair = _take_per_user(pairs, order, n_test, from_end=False)
    return _split(data, test_pair[pairs.of_event])


def temporal_holdout(
    data: Dataset,
    last_n: int | None = None,
    fraction: float | None = None,
    min_train: int = 1,
) -> Split:
    """Per-viewer temporal holdout: each viewer's most recent titles go to test.

    A (viewer, title) pair is dated by its first event (later re-plays of the title stay
    with it, on the same side); ties in time are broken by event order. For each viewer with
    ``n`` distinct titles, the last ``last_n`` -- or ``round(fraction * n)`` (half rounded
    up) -- titles go to test, keeping at least ``min_train`` titles in train.

    Parameters
    ----------
    data : Dataset
        Must have timestamps.
    last_n : int, optional
        Number of most recent titles held out per viewer (>= 1).
    fraction : float, optional
        Share of each viewer's titles held out, in (0, 1). Give exactly one of ``last_n``
        and ``fraction``.
    min_train : int
        Titles each viewer keeps in train.

    Returns
    -------
    Split

    Examples
    --------
    >>> import pandas as pd
    >>> from fairrec.data import Dataset
    >>> df = pd.DataFrame({"user_id": [1, 1, 1], "item_id": ["a", "b", "c"],
    ...                    "timestamp": [30, 10, 20]})
    >>> train, test = temporal_holdout(Dataset.from_pandas(df, time_col="timestamp"), last_n=1)
    >>> test.to_frame()["item_id"].tolist()
    ['a']
    """
    data = _check_data(data, "temporal_holdout")
    if (last_n is None) == (fraction is None):
        raise ParameterError(
            "temporal_holdout needs exactly one of last_n and fraction. "
            f"Got last_n={last_n!r}, fraction={fraction!r}."
        )
    min_train = check_int(min_train, "min_train", "temporal_holdout", 0)
    if data.timestamps is None:
        raise DataError(
            "temporal_holdout needs timestamps; build the Dataset with time_col=... "
            "or use random_holdout."
        )
    pairs = _pairs(data)
    n_pairs = np.bincount(pairs.user, minlength=data.n_users)
    if last_n is not None:
        wanted = np.full(data.n_users, check_int(last_n, "last_n", "temporal_holdout", 1))
    else:
        f = check_fraction(fraction, "fraction", "temporal_holdout", low_open=True, high_open=True)
        wanted = _round_half_up(f * n_pairs)
    n_test = _n_test(n_pairs, wanted, min_train)
    when = data.timestamps[pairs.first].astype(np.int64)
    order = np.lexsort((pairs.first, when, pairs.user))
    test_pair = _take_per_user(pairs, order, n_test, from_end=True)
    return _split(data, test_pair[pairs.of_event])


def time_cut(
    data: Dataset,
    at: Any,
    *,
    filter_cold_users: bool = True,
    filter_cold_items: bool = True,
) -> Split:
    """Global time cut: events before ``at`` are train, events at or after it are test.

    Test events of a (viewer, title) pair that already has an event before the cut are
    dropped: a re-play is no test target, and it cannot move to train, which must end at the
    cut (RecTools' ``filter_already_seen``). So no test pair is in train. Optionally (on by
    default, as in RecTools' ``TimeRangeSplitter``) test events of viewers or titles with no
    train event are dropped too: a collaborative model cannot score them.

    Parameters
    ----------
    data : Dataset
        Must have timestamps.
    at : datetime-like
        The cut: anything :class:`pandas.Timestamp` accepts; time-zone aware times are
        converted to UTC (the dataset's times are naive UTC).
    filter_cold_users, filter_cold_items : bool
        Drop test events of viewers / titles absent from train.

    Returns
    -------
    Split

    Examples
    --------
    >>> import pandas as pd
    >>> from fairrec.data import Dataset
    >>> df = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": ["a", "b", "a", "b"],
    ...                    "timestamp": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-01"]})
    >>> train, test = time_cut(Dataset.from_pandas(df, time_col="timestamp"), "2024-02-15")
    >>> train.n_events, test.n_events  # (1, a) re-played: dropped; viewer 2 is cold: dropped
    (2, 0)
    """
    data = _check_data(data, "time_cut")
    if data.timestamps is None:
        raise DataError("time_cut needs timestamps; build the Dataset with time_col=....")
    try:
        ts = pd.Timestamp(at)
    except (TypeError, ValueError) as exc:
        raise param_error("at", "time_cut", "a datetime-like value", at) from exc
    if ts is pd.NaT:
        raise param_error("at", "time_cut", "a datetime-like value", at)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    cut = ts.as_unit("ns").to_datetime64()
    train_event = data.timestamps < cut
    pairs = _pairs(data)
    seen = np.bincount(pairs.of_event, weights=train_event, minlength=pairs.n) > 0
    test_event = ~train_event & ~seen[pairs.of_event]
    if filter_cold_users:
        warm = np.bincount(data.users[train_event], minlength=data.n_users) > 0
        test_event &= warm[data.users]
    if filter_cold_items:
        warm = np.bincount(data.items[train_event], minlength=data.n_items) > 0
        test_event &= warm[data.items]
    return _split(data, test_event, train_event)


def rolling_folds(
    data: Dataset,
    n_folds: int = 3,
    test_fraction: float = 0.1,
    *,
    per_viewer: bool = False,
    min_train: int = 1,
) -> list[Split]:
    """Rolling-origin temporal cross-validation folds: train on the past, validate on the next.

    Global time (default): the cut times ``c_j`` are the quantiles ``1 - (n_folds - j) *
    test_fraction`` of the event times (``j = 0 .. n_folds - 1``). Fold ``j`` is
    :func:`time_cut` at ``c_j`` of the events before ``c_{j+1}`` (the last fold: of all
    events): train is every event before ``c_j``, validation the window ``[c_j, c_{j+1})``
    (pairs already seen, and viewers and titles with no train event, dropped). No fold ever
    trains on an event at or after its validation window starts.

    Per viewer (``per_viewer=True``): each viewer's titles ordered by first play as in
    :func:`temporal_holdout`, with ``m = round(test_fraction * n)`` for a viewer of ``n``
    titles; fold ``j`` validates on the titles ``(n_folds - j - 1) * m`` to ``(n_folds - j)
    * m`` from the end and trains on the earlier ones (later ones are left out); viewers
    with fewer than ``min_train`` earlier titles get no validation titles in that fold. This
    mimics a per-viewer temporal holdout (the protocol of many published benchmarks), with
    its known caveat: other viewers' later events are in train.

    Parameters
    ----------
    data : Dataset
        Must have timestamps.
    n_folds : int, default 3
    test_fraction : float, default 0.1
        Share of events (global) or of each viewer's titles (per viewer) per validation
        window; ``n_folds * test_fraction`` must be below 1.
    per_viewer : bool, default False
    min_train : int, default 1
        Per viewer only: titles a viewer keeps in a fold's train to be validated in it.

    Returns
    -------
    list of Split
        Oldest fold first.

    Examples
    --------
    >>> import fairrec as fr
    >>> data = fr.datasets.synthetic(n_users=100, n_items=80, seed=0, mean_plays=15)
    >>> folds = rolling_folds(data, n_folds=3, test_fraction=0.1)
    >>> all(f.train.timestamps.max() < f.test.timestamps.min() for f in folds)
    True
    """
    owner = "rolling_folds"
    data = _check_data(data, owner)
    n_folds = check_int(n_folds, "n_folds", owner, 1)
    f = check_fraction(test_fraction, "test_fraction", owner, low_open=True, high_open=True)
    if n_folds * f >= 1.0:
        raise ParameterError(
            f"rolling_folds: n_folds * test_fraction must be below 1 (the first fold needs "
            f"training data). Got {n_folds} * {f} = {n_folds * f:g}."
        )
    min_train = check_int(min_train, "min_train", owner, 0)
    if data.timestamps is None:
        raise DataError(f"{owner} needs timestamps; build the Dataset with time_col=....")
    if not per_viewer:
        ts = np.sort(data.timestamps)
        n = ts.size
        if n == 0:
            raise DataError(f"{owner}: the dataset has no events.")
        cuts = [
            ts[min(int(np.floor((1.0 - (n_folds - j) * f) * n)), n - 1)] for j in range(n_folds)
        ]
        folds = []
        for j, cut in enumerate(cuts):
            upto = data if j == n_folds - 1 else data.select(data.timestamps < cuts[j + 1])
            folds.append(time_cut(upto, pd.Timestamp(cut)))
        return folds
    pairs = _pairs(data)
    n_pairs = np.bincount(pairs.user, minlength=data.n_users)
    m = _round_half_up(f * n_pairs)
    when = data.timestamps[pairs.first].astype(np.int64)
    order = np.lexsort((pairs.first, when, pairs.user))
    counts = n_pairs
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    u = pairs.user[order]
    from_end = np.empty(pairs.n, dtype=np.int64)
    from_end[order] = counts[u] - 1 - (np.arange(pairs.n) - starts[u])
    pu = pairs.user
    folds = []
    for j in range(n_folds):
        lo = (n_folds - j - 1) * m[pu]
        hi = (n_folds - j) * m[pu]
        train_pair = from_end >= hi
        n_train = np.bincount(pu[train_pair], minlength=data.n_users)
        test_pair = (from_end >= lo) & (from_end < hi) & (n_train[pu] >= max(min_train, 1))
        folds.append(_split(data, test_pair[pairs.of_event], train_pair[pairs.of_event]))
    return folds
