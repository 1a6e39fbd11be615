"""Checks of :func:`~fairrec.evaluation.evaluate`'s and :func:`~fairrec.evaluation.compare`'s
arguments, and the ground truth, features and viewers an evaluation uses (including the guard
that refuses a recommender or model fitted on its test pairs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec._checks import check_int
from fairrec.data import Dataset
from fairrec.errors import DataError, NotFittedError, ParameterError, param_error
from fairrec.evaluation._splits import Split

_FEATURES = ("genres", "vectors")


# ---------------------------------------------------------------------------- checks
def as_naive_utc(value: Any, owner: str) -> pd.Timestamp:
    """A datetime-like ``now`` as the naive UTC timestamp fairrec serves at (as the
    recommender reads its ``now=`` arguments)."""
    try:
        t = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise param_error("now", owner, "a datetime-like value or None", value) from exc
    if t is pd.NaT:
        raise param_error("now", owner, "a datetime-like value or None", value)
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t


def _check_k(k: Any, owner: str) -> int:
    return check_int(k, "k", owner)


def _check_n_candidates(n: Any, k: int, owner: str) -> int | None:
    return check_int(n, "n_candidates", owner, k, none=True, expected=f"None or an int >= k ({k})")


def _check_fitted(rec: Any, owner: str) -> None:
    from fairrec.recommender import Recommender

    if not isinstance(rec, Recommender):
        raise param_error("rec", owner, "a fitted fairrec.Recommender", type(rec).__name__)
    if not hasattr(rec, "model_"):
        raise NotFittedError(
            "This Recommender instance is not fitted yet. Call 'fit' with the training "
            f"side of a split before {owner}()."
        )


def _check_reranker(obj: Any, label: str, owner: str) -> Any:
    if obj is not None and not callable(getattr(obj, "rerank", None)):
        raise ParameterError(
            f"The method {label!r} of {owner} must be None, a fairrec.rerank re-ranker "
            f"(an object with a 'rerank' method), a re-ranker name or a config dict. "
            f"Got {obj!r} instead."
        )
    return obj


# ---------------------------------------------------------------------------- inputs
def _truth_frame(test: Any, owner: str) -> tuple[pd.DataFrame, Dataset | None]:
    """Ground truth (distinct user_id, item_id pairs) and the split's train side, if any."""
    if isinstance(test, Split):
        return test.test_frame()[[C.USER, C.ITEM]], test.train
    if isinstance(test, Dataset):
        truth = test.to_frame()[[C.USER, C.ITEM]]
    elif isinstance(test, pd.DataFrame):
        missing = [c for c in (C.USER, C.ITEM) if c not in test.columns]
        if missing:
            raise DataError(
                f"The test frame passed to {owner} lacks the column(s) {missing}; it needs "
                f"'{C.USER}' and '{C.ITEM}'. Got columns {list(test.columns)}."
            )
        truth = test[[C.USER, C.ITEM]]
        for col in (C.USER, C.ITEM):
            if truth[col].isna().any():
                raise DataError(f"The test frame passed to {owner} has missing '{col}' values.")
    else:
        raise DataError(
            f"{owner} needs a Split, a test Dataset or a frame with '{C.USER}' and "
            f"'{C.ITEM}'. Got {type(test).__name__} instead."
        )
    return truth.drop_duplicates(ignore_index=True), None


def _features(rec: Any, item_features: Any, owner: str) -> tuple[Any, pd.Series | None]:
    """Similarity features (for ILD, unexpectedness, serendipity) and genre lists."""
    catalog = rec.data_.catalog
    genres = pd.Series(
        list(catalog[C.GENRES]), index=pd.Index(catalog[C.ITEM]), name=C.GENRES, dtype=object
    )
    has_genres = bool(genres.map(len).gt(0).any())
    genre_lists = genres if has_genres else None
    if isinstance(item_features, (pd.Series, pd.DataFrame)):
        return item_features, genre_lists
    if item_features is None:
        item_features = "genres" if has_genres else "vectors"
    if item_features not in _FEATURES:
        expected = "'genres', 'vectors', None, or a Series/DataFrame indexed by item_id"
        raise param_error("item_features", owner, expected, item_features)
    if item_features == "genres":
        if not has_genres:
            raise DataError(
                "item_features='genres' but no title of the catalog has a genre; use "
                "item_features='vectors' (the model's item vectors)."
            )
        return genres, genre_lists
    vectors = pd.DataFrame(np.asarray(rec.vectors_, dtype=np.float64), index=genres.index)
    return vectors, genre_lists


def _viewers(truth: pd.DataFrame, train: pd.DataFrame, rec: Any, owner: str) -> pd.DataFrame:
    """Keep test viewers with training interactions; refuse truth the model cannot rank."""
    known = rec.data_.item_index(truth[C.ITEM].to_numpy(dtype=object), on_unknown="ignore")
    if (known < 0).any():
        bad = truth[C.ITEM].to_numpy(dtype=object)[known < 0]
        shown = ", ".join(repr(b) for b in pd.unique(bad)[:5])
        raise DataError(
            f"{int((known < 0).sum())} test interaction(s) name titles the recommender's "
            f"catalog does not hold (e.g. {shown}); fit it on the train side of the same data."
        )
    # the recommender never shows a title in the viewer's history (its own data), so a
    # test pair found there can never be a hit: the model was fitted on the test data
    seen = rec.data_.to_frame()[[C.USER, C.ITEM]].drop_duplicates()
    leak = truth.merge(seen, on=[C.USER, C.ITEM])
    if len(leak):
        example = tuple(leak.iloc[0])
        raise DataError(
            f"{len(leak)} of {len(truth)} test (viewer, title) pairs are in the data the "
            f"recommender was fitted on (e.g. {example!r}); titles a viewer has seen are never "
            "recommended, so they could never count as hits. Fit it on the train side of a split "
            "(fairrec.evaluation.temporal_holdout / random_holdout / time_cut)."
        )
    _refuse_model_leak(rec, truth, known)
    keep = truth[C.USER].isin(pd.unique(train[C.USER]))
    truth = truth[keep].reset_index(drop=True)
    if truth.empty:
        raise DataError(f"{owner}: no test viewer has a training interaction; nothing to evaluate.")
    return truth


def _refuse_model_leak(rec: Any, truth: pd.DataFrame, items: np.ndarray) -> None:
    """Refuse test pairs that are in the data the *model* was trained on.

    A recommender built with ``from_fitted`` may serve a model fitted on more data than its
    own training matrix (e.g. the full data set, test side included): the pairs are compared
    with the model's own record of its training pairs (``training_pairs_``, kept by every
    fairrec model's ``fit``; see :class:`fairrec.models.TrainingPairs`), or with the recommender's
    training matrix where the model has no record (a loaded model file holds that matrix).
    """
    from fairrec.data.ids import canon_ids
    from fairrec.models import TrainingPairs

    f = rec.fitted_state_  # one snapshot for every read below
    train_ids = np.asarray(f.train_user_ids_, dtype=object)
    record = getattr(f.model_, "training_pairs_", None)
    if not isinstance(record, TrainingPairs):
        record = TrainingPairs.of(f.train_matrix_)  # a loaded (or foreign) model: its matrix
    elif record.n_rows != len(train_ids) or record.n_items != f.data_.n_items:
        raise DataError(
            f"The recommender's model was fitted on {record.n_rows} viewer rows, but "
            f"{len(train_ids)} training viewer ids were given (from_fitted's "
            "train_user_ids must list the model's training viewers in the order of its "
            "rows); cannot check that the model never saw the test pairs."
        )
    canon = pd.Index(canon_ids(train_ids))
    first = ~canon.duplicated(keep="first")
    rows = pd.Index(canon[first]).get_indexer(canon_ids(truth[C.USER].to_numpy(dtype=object)))
    rows = np.where(rows >= 0, np.flatnonzero(first)[np.maximum(rows, 0)], -1)
    checked, found = record.seen(rows, items)
    if found.any():
        example = tuple(truth.iloc[int(np.flatnonzero(found)[0])])
        sampled = "" if record.stride == 1 else " sampled"
        raise DataError(
            f"{int(found.sum())} of {int(checked.sum())}{sampled} test (viewer, title) "
            f"pairs are in the data the model was trained on (e.g. {example!r}): it was "
            "fitted on test data, so its scores would be inflated. Fit the model on the "
            "train side of a split (fairrec.evaluation.temporal_holdout / random_holdout "
            "/ time_cut) and pass only that side to Recommender.from_fitted."
        )
