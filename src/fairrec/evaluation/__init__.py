"""Offline evaluation: one call for all metrics, and paired comparisons of re-rankers.

* :func:`evaluate` -- top-``k`` lists of a fitted :class:`~fairrec.Recommender` for the
  viewers of a test set, scored with every accuracy and beyond-accuracy metric of
  :mod:`fairrec.metrics` at once: a one-row :class:`pandas.DataFrame`.
* :func:`compare` -- one recommender fitted once, several re-rankers (or none) applied to
  the *same* candidates of the *same* viewers, one row per method, with a paired
  significance test per metric against the first method (p-values in ``<metric>_p``).
* The splits of :mod:`fairrec.splits` are re-exported here
  (``fairrec.evaluation.temporal_holdout`` etc.).

Metric columns (``k`` is the cut-off)::

    precision@k  recall@k  ndcg@k  map@k  hit_rate@k      accuracy, test viewers
    coverage  distributional_coverage  gini                whole set of lists
    ild  novelty  unexpectedness  serendipity              per list
    miscalibration  arp  popularity_lift  long_tail_share  per list

See :mod:`fairrec.metrics` for each definition. Similarity-based metrics (``ild``,
``unexpectedness``, ``serendipity``) compare titles by their genres by default;
``miscalibration`` always uses genres.

Which viewers. The evaluated viewers are those of the test set with at least one training
interaction (a model cannot rank for a viewer it knows nothing of); their number is the
``n_users`` column. Accuracy metrics average over them (a viewer with no hit scores 0).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec import metrics as M
from fairrec.data import Dataset
from fairrec.errors import DataError, NotFittedError, ParameterError, param_error
from fairrec.splits import Split, random_holdout, rolling_folds, temporal_holdout, time_cut

__all__ = [
    "evaluate",
    "compare",
    "compare_models",
    "metric_columns",
    "higher_is_better",
    "Split",
    "random_holdout",
    "temporal_holdout",
    "time_cut",
    "rolling_folds",
]

#: registry name -> column name template (``{k}`` is the cut-off)
_COLUMN = {
    "precision_at_k": "precision@{k}",
    "recall_at_k": "recall@{k}",
    "ndcg_at_k": "ndcg@{k}",
    "map_at_k": "map@{k}",
    "hit_rate_at_k": "hit_rate@{k}",
    "catalog_coverage": "coverage",
    "distributional_coverage": "distributional_coverage",
    "gini_index": "gini",
    "intra_list_diversity": "ild",
    "novelty": "novelty",
    "unexpectedness": "unexpectedness",
    "serendipity": "serendipity",
    "miscalibration": "miscalibration",
    "average_popularity": "arp",
    "popularity_lift": "popularity_lift",
    "long_tail_share": "long_tail_share",
}
_SHORT = {tmpl.split("@")[0]: name for name, tmpl in _COLUMN.items()}
_FEATURES = ("genres", "vectors")
_TESTS = ("ttest", "wilcoxon")
_OWNER_E = "evaluate"
_OWNER_C = "compare"


# ---------------------------------------------------------------------------- names
def _column(name: str, k: int) -> str:
    return _COLUMN[name].format(k=k)


def metric_columns(k: int = 10) -> list[str]:
    """Column names of every metric, in the order :func:`evaluate` reports them.

    Examples
    --------
    >>> metric_columns(10)[:3]
    ['precision@10', 'recall@10', 'ndcg@10']
    """
    return [_column(n, k) for n in M.REGISTRY]


def higher_is_better(column: str) -> bool | None:
    """Whether larger values of a metric column are better (``None``: no direction).

    Accepts a column name of :func:`evaluate` (``"ndcg@10"``, ``"ild"``) or a name of
    :data:`fairrec.metrics.REGISTRY`; unknown names give ``None``.

    Examples
    --------
    >>> higher_is_better("ndcg@10"), higher_is_better("miscalibration"), higher_is_better("arp")
    (True, False, None)
    """
    name = _registry_name(column)
    return None if name is None else M.REGISTRY[name].higher_is_better


def _registry_name(label: Any) -> str | None:
    if not isinstance(label, str):
        return None
    if label in M.REGISTRY:
        return label
    return _SHORT.get(label.split("@")[0])


def _metric_names(metrics: Any, owner: str) -> list[str] | None:
    if metrics is None:
        return None
    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise param_error("metrics", owner, "a list of metric names or None", metrics)
    names, bad = [], []
    for m in metrics:
        n = _registry_name(m)
        (bad if n is None else names).append(m if n is None else n)
    if bad:
        raise param_error(
            "metrics",
            owner,
            f"names among {metric_columns(10)} (any @k) or {list(M.REGISTRY)}",
            bad,
        )
    return [n for n in M.REGISTRY if n in names]


# ---------------------------------------------------------------------------- checks
def _check_k(k: Any, owner: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise param_error("k", owner, "an int >= 1", k)
    return int(k)


def _check_n_candidates(n: Any, k: int, owner: str) -> int | None:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < k:
        raise param_error("n_candidates", owner, f"None or an int >= k ({k})", n)
    return int(n)


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
    fairrec model's ``fit``; see :mod:`fairrec.models._pairs`), or with the recommender's
    training matrix where the model has no record (a loaded model file holds that matrix).
    """
    from fairrec.ids import canon_ids
    from fairrec.models._pairs import TrainingPairs

    f = rec._fitted
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


def _serving_time(rec: Any, train: Dataset | None, now: Any) -> pd.Timestamp:
    """When lists are served: ``now``, else the end of the training data, else the clock."""
    if now is not None:
        try:
            return rec._now(now)
        except (TypeError, ValueError) as exc:
            raise param_error("now", "evaluate", "a datetime-like value or None", now) from exc
    for ds in (train, rec.data_):
        if ds is not None and ds.timestamps is not None and ds.n_events:
            return pd.Timestamp(ds.timestamps.max())
    return rec._now()


class _Setup:
    """Everything shared by the methods of one evaluation: truth, train, features, viewers."""

    def __init__(
        self, rec: Any, test: Any, item_features: Any, owner: str, now: Any = None
    ) -> None:
        truth, train_ds = _truth_frame(test, owner)
        self.train = (train_ds if train_ds is not None else rec.data_).to_frame()[[C.USER, C.ITEM]]
        self.truth = _viewers(truth, self.train, rec, owner)
        self.users = pd.unique(self.truth[C.USER]).tolist()
        self.features, self.genres = _features(rec, item_features, owner)
        self.rec = rec
        self.now = _serving_time(rec, train_ds, now)
        self.n_fallback = self._say_fallback(owner)

    def _say_fallback(self, owner: str) -> int:
        """Warn about evaluated viewers the serving gate leaves no history at ``self.now``."""
        import warnings

        from fairrec.serving.gate import PERSONALIZATION

        no_consent = no_data = 0
        f, step = self.rec._fitted, self.rec.batch_size  # chunks bound the gate's memory
        for start in range(0, len(self.users), step):
            batch = self.rec._gate(self.users[start : start + step], self.now, f)
            consented = np.array(
                [PERSONALIZATION in s.purposes and not s.forgotten for s in batch.states],
                dtype=bool,
            )
            no_consent += int(np.count_nonzero(~consented))
            no_data += int(np.count_nonzero(consented & ~batch.personalized))
        parts = []
        if no_data:
            window = (
                f"inside the retention window ({self.rec.retention_days} days before {self.now})"
                if self.rec.retention_days is not None
                else f"before {self.now}"
            )
            parts.append(f"{no_data} have no event {window}")
        if no_consent:
            parts.append(f"{no_consent} have not granted 'personalization'")
        if parts:
            warnings.warn(
                f"{owner}: of {len(self.users)} evaluated viewers, {' and '.join(parts)}: "
                "their lists are the non-personalized fallback, scored as they are"
                + (
                    ". Pass now= (when the test period starts) or a longer retention_days "
                    "if that is not what you meant."
                    if no_data
                    else "."
                ),
                UserWarning,
                stacklevel=3,
            )
        return no_consent + no_data

    def recommend(
        self, reranker: Any, k: int, n_candidates: int | None
    ) -> tuple[pd.DataFrame, float]:
        start = time.perf_counter()
        recs = self.rec.recommend_batch(
            self.users, k=k, reranker=reranker, n_candidates=n_candidates, now=self.now
        )
        seconds = time.perf_counter() - start
        dup = recs.duplicated([C.USER, C.ITEM])
        if dup.any():
            first = recs.loc[dup, [C.USER, C.ITEM]].iloc[0]
            name = type(reranker).__name__ if reranker is not None else "top-k"
            raise DataError(
                f"{name} returned the same title twice in one list ({int(dup.sum())} "
                f"repeat(s), e.g. viewer {first[C.USER]!r}, title {first[C.ITEM]!r}); "
                "refusing to score a list with repeats."
            )
        return recs[[C.USER, C.ITEM, C.RANK]], seconds

    def score(
        self, recs: pd.DataFrame, k: int, names: list[str] | None, per_user: bool
    ) -> dict[str, Any]:
        """Metric name -> value (or per-viewer Series where ``per_user`` and available)."""
        names = list(M.REGISTRY) if names is None else names
        # miscalibration compares genre mixes; separately only when similarity uses others
        want_cal = "miscalibration" in names and self.features is not self.genres
        others = [n for n in names if n != "miscalibration" or not want_cal]
        out: dict[str, Any] = {}
        if others:
            out.update(
                M.all_metrics(
                    recs,
                    self.truth,
                    self.train,
                    k=k,
                    item_features=self.features,
                    metrics=others,
                    per_user=per_user,
                )
            )
        if want_cal:
            if self.genres is None:
                out["miscalibration"] = (
                    pd.Series(dtype=np.float64, name="miscalibration") if per_user else np.nan
                )
            else:
                out["miscalibration"] = M.miscalibration(
                    recs, self.train, item_features=self.genres, k=k, per_user=per_user
                )
        return {n: out[n] for n in M.REGISTRY if n in out}


def _row(values: Mapping[str, Any], k: int) -> dict[str, float]:
    return {_column(n, k): float(v) for n, v in values.items()}


# ---------------------------------------------------------------------------- evaluate
def evaluate(
    rec: Any,
    test: Any,
    k: int = 10,
    *,
    reranker: Any = None,
    n_candidates: int | None = None,
    metrics: Sequence[str] | None = None,
    item_features: Any = None,
    name: str | None = None,
    now: Any = None,
) -> pd.DataFrame:
    """Score a fitted recommender's top-``k`` lists on a test set, all metrics in one row.

    The lists are served *at the split's time*: by default the end of the training data
    (the last event of ``test.train`` for a Split, else of the recommender's data), not the
    wall clock, so a retention window is applied as it would have been when the test period
    began. Evaluated viewers whom the serving gate leaves no history (e.g. every event is
    older than ``retention_days`` at that time) get the non-personalized fallback, and a
    ``UserWarning`` says how many.

    Parameters
    ----------
    rec : Recommender
        Fitted on the train side of the split (for offline evaluation usually with
        ``consent=None``: every purpose allowed).
    test : Split, Dataset or pandas.DataFrame
        A :class:`~fairrec.splits.Split` (its test side is the ground truth, its train
        side gives popularity and viewer profiles), or the test side alone (a Dataset, or a
        frame with ``user_id, item_id``); then the recommender's own training data serves
        as train.
    k : int, default 10
        Length of every list.
    reranker : fairrec.rerank re-ranker, optional
        Re-rank the top ``n_candidates`` candidates (``None``: plain top-``k``).
    n_candidates : int, optional
        Candidates re-ranked per viewer (default: ``rec.n_candidates``); at least ``k``.
    metrics : list of str, optional
        Metric names (columns such as ``"ndcg@10"`` or ``"ild"``, or names of
        :data:`fairrec.metrics.REGISTRY`); default all.
    item_features : {"genres", "vectors"} or Series/DataFrame, optional
        What the similarity metrics (ILD, unexpectedness, serendipity) compare: genre sets
        (default when the catalog has genres), the model's unit item vectors, or your own
        features indexed by ``item_id``. Miscalibration always uses genres.
    name : str, optional
        Index label of the row (default: the re-ranker's repr, or ``"top-k"``).
    now : datetime-like, optional
        Serve the lists at this time (default: the end of the training data; the
        recommender's clock only when the data has no timestamps).

    Returns
    -------
    pandas.DataFrame
        One row: the metric columns (see the module docstring), ``n_users`` (viewers
        evaluated) and ``seconds`` (wall time to produce the lists). ``attrs`` holds
        ``now`` (the serving time) and ``n_fallback`` (evaluated viewers served the
        non-personalized fallback).

    Raises
    ------
    fairrec.errors.DataError
        Test pairs that are also training interactions -- of the recommender's data or of
        the data its *model* was trained on (a model fitted on the full data and served with
        ``Recommender.from_fitted(model, split.train, ...)`` is refused) --, test titles
        outside the catalog, or no test viewer with training data.
    fairrec.errors.NotFittedError
        ``rec`` is not fitted.

    Examples
    --------
    >>> import fairrec as fr
    >>> data = fr.datasets.synthetic(n_users=200, n_items=150, seed=0, mean_plays=15)
    >>> split = fr.evaluation.temporal_holdout(data, fraction=0.2)
    >>> rec = fr.Recommender(model=fr.models.ALS(factors=8, iterations=3, random_state=0))
    >>> row = fr.evaluate(rec.fit(split.train), split, k=10)
    >>> row.shape[0], bool(0.0 <= row["ndcg@10"].iloc[0] <= 1.0)
    (1, True)
    """
    k = _check_k(k, _OWNER_E)
    _check_fitted(rec, _OWNER_E)
    _check_reranker(reranker, "reranker", _OWNER_E)
    n_candidates = _check_n_candidates(n_candidates, k, _OWNER_E)
    names = _metric_names(metrics, _OWNER_E)
    setup = _Setup(rec, test, item_features, _OWNER_E, now=now)
    recs, seconds = setup.recommend(reranker, k, n_candidates)
    row = _row(setup.score(recs, k, names, per_user=False), k)
    row["n_users"] = len(setup.users)
    row["seconds"] = seconds
    label = name if name is not None else ("top-k" if reranker is None else repr(reranker))
    out = pd.DataFrame([row], index=pd.Index([label], name="method"))
    out = out.astype({"n_users": np.int64})
    out.attrs.update(now=setup.now, n_fallback=setup.n_fallback)
    return out


# ---------------------------------------------------------------------------- compare
_PLAIN = {"none", "plain", "als", "model"}


def _build(cls_or_name: Any, params: dict[str, Any], label: str) -> Any:
    from fairrec import rerank

    cls = cls_or_name
    if isinstance(cls_or_name, str):
        key = cls_or_name.lower()
        if key in _PLAIN and not params:
            return None
        if key not in rerank.RERANKER_NAMES:
            raise ParameterError(
                f"The method {label!r} of compare names an unknown re-ranker "
                f"{cls_or_name!r}; known: {sorted(rerank.RERANKER_NAMES)} (or 'none')."
            )
        cls = getattr(rerank, rerank.RERANKER_NAMES[key])
    if not isinstance(cls, type):
        raise ParameterError(
            f"The method {label!r} of compare: 'reranker' must be a re-ranker name or "
            f"class. Got {cls_or_name!r} instead."
        )
    try:
        return cls(**params)
    except TypeError as exc:
        raise ParameterError(
            f"The method {label!r} of compare: {cls.__name__} does not take {params!r} ({exc})."
        ) from None


def _resolve(label: str, spec: Any) -> Any:
    """A method spec -> re-ranker instance (or None for plain top-k)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return _build(spec, {}, label)
    if isinstance(spec, type):
        return _check_reranker(_build(spec, {}, label), label, _OWNER_C)
    if isinstance(spec, Mapping):
        params = dict(spec)
        if "reranker" not in params:
            raise ParameterError(
                f"The method {label!r} of compare is a dict without a 'reranker' key; "
                "write e.g. {'reranker': 'mmr', 'lambda_': 0.5}."
            )
        kind = params.pop("reranker")
        if kind is None:
            if params:
                raise ParameterError(
                    f"The method {label!r} of compare has no re-ranker but parameters "
                    f"{sorted(params)}."
                )
            return None
        return _check_reranker(_build(kind, params, label), label, _OWNER_C)
    return _check_reranker(spec, label, _OWNER_C)


def _default_split(data: Dataset) -> Split:
    if data.timestamps is not None:
        return temporal_holdout(data, fraction=0.2)
    return random_holdout(data, test_fraction=0.2, seed=0)


_CORRECTIONS = ("holm",)
#: statistics columns added per metric against the baseline (see fairrec._paired)
_STATS = ("diff", "ci_low", "ci_high", "effect")


def _method(label: str, spec: Any) -> tuple[Any, Any]:
    """A method spec -> ``(model or fitted Recommender or None, re-ranker or None)``.

    ``None`` as the first element means the default model of :func:`compare`.
    """
    from fairrec.models import CandidateModel
    from fairrec.recommender import Recommender

    if isinstance(spec, (CandidateModel, Recommender)):
        return spec, None
    if isinstance(spec, Mapping) and "model" in spec:
        params = dict(spec)
        model = params.pop("model")
        if not isinstance(model, (CandidateModel, Recommender)):
            raise ParameterError(
                f"The method {label!r} of compare: 'model' must be a fairrec.models model or "
                f"a fitted Recommender. Got {model!r} instead."
            )
        if not params:
            return model, None
        if "reranker" not in params:
            raise ParameterError(
                f"The method {label!r} of compare has parameters {sorted(params)} but no "
                "'reranker' key; write e.g. {'model': EASE(), 'reranker': 'mmr', "
                "'lambda_': 0.5}."
            )
        return model, _resolve(label, params)
    return None, _resolve(label, spec)


def _train_end(split: Split, now: Any) -> pd.Timestamp | None:
    if now is not None:
        try:
            t = pd.Timestamp(now)
        except (TypeError, ValueError) as exc:
            raise param_error("now", _OWNER_C, "a datetime-like value or None", now) from exc
        return t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t
    ts = split.train.timestamps
    return pd.Timestamp(ts.max()) if ts is not None and len(ts) else None


def compare(
    methods: Mapping[str, Any],
    data: Dataset | None = None,
    split: Split | None = None,
    k: int = 10,
    *,
    model: Any = None,
    recommender: Any = None,
    n_candidates: int = 200,
    test: str | None = "ttest",
    metrics: Sequence[str] | None = None,
    item_features: Any = None,
    baseline: str | None = None,
    correction: str | None = None,
    now: Any = None,
) -> pd.DataFrame:
    """Compare candidate models and re-rankers on the same split and viewers: one row each.

    Every method is served to the same test viewers of the same split at the same time (the
    end of the training data unless ``now`` is given, as in :func:`evaluate`) and scored with
    :func:`evaluate`'s metrics. A method is a re-ranker applied to the candidates of the
    default model (all such methods share its candidates), another candidate model (fitted
    once on ``split.train``, ``consent=None``), or a model together with a re-ranker.

    Every metric with per-viewer values is compared with the **baseline** method (default:
    the first) over the viewers both have a value for, by the paired difference
    ``d = round(method - baseline, 10)`` per viewer (rounded so that float noise of 1e-16
    neither counts as a difference nor breaks a tie of the Wilcoxon ranks):

    * ``<metric>_p`` -- two-sided p-value of the paired test (``nan`` on the baseline row,
      ``1.0`` for a method identical to the baseline on every viewer);
    * ``<metric>_p_holm`` -- with ``correction="holm"`` only: the p-value adjusted by Holm's
      step-down method over the family of methods compared with the baseline, per metric;
    * ``<metric>_diff`` -- the mean paired difference, method minus baseline;
    * ``<metric>_ci_low``, ``<metric>_ci_high`` -- its 95 % confidence interval (Student's t
      with n - 1 degrees of freedom);
    * ``<metric>_effect`` -- the effect size, Cohen's d_z = mean(d) / sd(d).

    Global metrics (``coverage``, ``distributional_coverage``, ``gini``) have one value per
    list set and get no statistics.

    Parameters
    ----------
    methods : dict
        Name -> method, in table order. A method is

        * ``None`` (plain top-``k`` of the default model), a :mod:`fairrec.rerank`
          re-ranker, a re-ranker name (``"mmr"``, ``"dpp"``, ``"calibrated"``,
          ``"longtail"``, ``"serendipity"``, ``"topk"``) or a config dict such as
          ``{"reranker": "mmr", "lambda_": 0.5}`` -- applied to the default model;
        * a candidate model (``fr.models.EASE()``) -- its plain top-``k``;
        * a fitted :class:`~fairrec.Recommender` (fitted on ``split.train``);
        * ``{"model": model, "reranker": ..., **params}`` -- a model and a re-ranker.
    data : Dataset, optional
        The interactions; split with ``split`` or, by default, a per-viewer temporal
        holdout of the last 20% of each viewer's titles (:func:`temporal_holdout` with
        ``fraction=0.2``; :func:`random_holdout` with ``test_fraction=0.2, seed=0`` when
        the data has no timestamps).
    split : Split, optional
        Use this split instead (then ``data`` may be omitted).
    k : int, default 10
        List length.
    model : CandidateModel, optional
        The default model (default ``ALS(factors=64, iterations=15, random_state=0)``).
    recommender : Recommender, optional
        An already fitted recommender to use as the default model instead of fitting one
        (it must have been fitted on ``split.train``; ``model`` is then ignored).
    n_candidates : int, default 200
        Candidates re-ranked per viewer (at least ``k``).
    test : {"ttest", "wilcoxon"} or None, default "ttest"
        Paired test of the rounded differences: one-sample t-test
        (:func:`scipy.stats.ttest_1samp`, equivalent to ``ttest_rel``) or Wilcoxon's
        signed-rank test (:func:`scipy.stats.wilcoxon`, zero differences dropped); ``None``
        for no statistics columns.
    metrics, item_features
        As in :func:`evaluate`.
    baseline : str, optional
        Name of the method the others are tested against (default: the first).
    correction : {"holm"} or None, default None
        Add Holm-adjusted p-values (``<metric>_p_holm``); ``_p`` stays uncorrected.
    now : datetime-like, optional
        Time the models are fitted and the lists served (default: the end of
        ``split.train``).

    Returns
    -------
    pandas.DataFrame
        Indexed by method name: the metric columns each followed by its statistics columns,
        then ``n_users`` and ``seconds`` (wall time to produce the method's lists,
        candidates included). ``table.attrs`` holds ``k``, ``n_candidates``, ``test``,
        ``baseline``, ``correction`` (``"none"`` or a sentence saying what was adjusted),
        ``decimals`` (of the rounding), ``now``, ``fit_seconds`` (all fits), ``split``
        (sizes) and ``higher_is_better`` (metric column -> direction).

    Examples
    --------
    >>> import fairrec as fr
    >>> data = fr.datasets.synthetic(n_users=200, n_items=150, seed=0, mean_plays=15)
    >>> table = fr.compare(
    ...     {"als": None, "mmr": fr.rerank.MMR(lambda_=0.5), "pop": fr.models.Popularity()},
    ...     data, model=fr.models.ALS(factors=8, iterations=3, random_state=0), n_candidates=50,
    ... )
    >>> list(table.index), bool(table.loc["mmr", "ild"] >= table.loc["als", "ild"])
    (['als', 'mmr', 'pop'], True)
    """
    from fairrec._paired import DECIMALS, holm, paired

    if not isinstance(methods, Mapping) or not methods:
        raise param_error("methods", _OWNER_C, "a non-empty dict name -> method", methods)
    k = _check_k(k, _OWNER_C)
    n_cand = _check_n_candidates(n_candidates, k, _OWNER_C)
    if n_cand is None:
        raise param_error("n_candidates", _OWNER_C, f"an int >= k ({k})", n_candidates)
    if test is not None and test not in _TESTS:
        raise param_error("test", _OWNER_C, "'ttest', 'wilcoxon' or None", test)
    if correction is not None and correction not in _CORRECTIONS:
        raise param_error("correction", _OWNER_C, "'holm' or None", correction)
    names = _metric_names(metrics, _OWNER_C)
    specs = {str(label): _method(str(label), spec) for label, spec in methods.items()}
    if len(specs) != len(methods):
        raise ParameterError("compare: two methods have the same name once made strings.")
    base = next(iter(specs)) if baseline is None else str(baseline)
    if base not in specs:
        raise param_error("baseline", _OWNER_C, f"one of the method names {list(specs)}", baseline)

    if split is None:
        if not isinstance(data, Dataset):
            raise DataError(
                f"compare needs a fairrec Dataset (or split=). Got {type(data).__name__} instead."
            )
        split = _default_split(data)
    elif not isinstance(split, Split):
        raise param_error("split", _OWNER_C, "a fairrec.evaluation.Split or None", split)
    when = _train_end(split, now)

    from fairrec.models import ALS
    from fairrec.recommender import Recommender

    fit_seconds = 0.0
    fitted: dict[int, Any] = {}  # id(model or recommender) -> fitted Recommender

    def served_by(m: Any) -> Any:
        nonlocal fit_seconds
        if id(m) not in fitted:
            if isinstance(m, Recommender):
                _check_fitted(m, _OWNER_C)
                fitted[id(m)] = m
            else:
                start = time.perf_counter()
                rec = Recommender(model=m, consent=None, n_candidates=n_cand)
                fitted[id(m)] = rec.fit(split.train, now=when)
                fit_seconds += time.perf_counter() - start
        return fitted[id(m)]

    default = recommender
    if default is None and any(m is None for m, _ in specs.values()):
        default = model if model is not None else ALS(factors=64, iterations=15, random_state=0)
    setups: dict[int, _Setup] = {}
    rows: list[dict[str, float]] = []
    per_user: dict[str, dict[str, Any]] = {}
    users: list[Any] | None = None
    for label, (m, reranker) in specs.items():
        rec = served_by(default if m is None else m)
        if id(rec) not in setups:
            setups[id(rec)] = _Setup(rec, split, item_features, _OWNER_C, now=when)
        setup = setups[id(rec)]
        users = setup.users if users is None else users
        recs, seconds = setup.recommend(reranker, k, n_cand)
        values = setup.score(recs, k, names, per_user=False)
        row = _row(values, k)
        if test is not None:
            per_user[label] = setup.score(
                recs, k, [n for n in values if M.REGISTRY[n].per_user], True
            )
        row["n_users"] = len(setup.users)
        row["seconds"] = seconds
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(list(specs), name="method"))

    stat_cols: dict[str, list[str]] = {}
    if test is not None:
        for n in per_user[base]:
            col = _column(n, k)
            res = {
                label: (
                    dict.fromkeys(("p", *_STATS), np.nan)
                    if label == base
                    else paired(per_user[base][n], per_user[label][n], test)
                )
                for label in specs
            }
            table[col + "_p"] = [res[label]["p"] for label in specs]
            extra = [col + "_p"]
            if correction == "holm":
                table[col + "_p_holm"] = holm(table[col + "_p"].to_numpy())
                extra.append(col + "_p_holm")
            for stat in _STATS:
                table[f"{col}_{stat}"] = [res[label][stat] for label in specs]
                extra.append(f"{col}_{stat}")
            stat_cols[col] = extra
    order = []
    for n in M.REGISTRY:
        col = _column(n, k)
        if col in table.columns:
            order += [col, *stat_cols.get(col, [])]
    table = table[[*order, "n_users", "seconds"]].astype({"n_users": np.int64})
    n_tested = len(specs) - 1
    table.attrs.update(
        k=k,
        n_candidates=n_cand,
        test=test,
        baseline=base,
        correction=(
            f"holm: '<metric>_p_holm' is Holm's step-down adjustment over the {n_tested} "
            f"methods compared with {base!r}, per metric; '<metric>_p' is uncorrected"
            if correction == "holm"
            else "none: p-values are not corrected for multiple comparisons"
        ),
        decimals=DECIMALS,
        now=next(iter(setups.values())).now,
        fit_seconds=fit_seconds,
        split={
            "train_events": int(split.train.n_events),
            "test_events": int(split.test.n_events),
            "test_viewers": len(users or []),
        },
        higher_is_better={
            _column(n, k): M.REGISTRY[n].higher_is_better
            for n in M.REGISTRY
            if _column(n, k) in table.columns
        },
    )
    return table


def compare_models(
    models: Mapping[str, Any],
    data: Dataset | None = None,
    split: Split | None = None,
    k: int = 10,
    **kwargs: Any,
) -> pd.DataFrame:
    """Compare candidate models: :func:`compare` with one model (or model + re-ranker) each.

    ``models`` maps a name to a :mod:`fairrec.models` model, a fitted Recommender or a
    ``{"model": ..., "reranker": ...}`` dict; every other argument is :func:`compare`'s.

    Examples
    --------
    >>> import fairrec as fr
    >>> data = fr.datasets.synthetic(n_users=200, n_items=150, seed=0, mean_plays=15)
    >>> table = fr.compare_models(
    ...     {"pop": fr.models.Popularity(), "ease": fr.models.EASE(l2=50.0)}, data,
    ...     correction="holm", metrics=["ndcg", "recall"],
    ... )
    >>> "ndcg@10_p_holm" in table.columns, table.attrs["baseline"]
    (True, 'pop')
    """
    from fairrec.models import CandidateModel
    from fairrec.recommender import Recommender

    if not isinstance(models, Mapping) or not models:
        raise param_error("models", "compare_models", "a non-empty dict name -> model", models)
    for label, spec in models.items():
        ok = isinstance(spec, (CandidateModel, Recommender)) or (
            isinstance(spec, Mapping) and "model" in spec
        )
        if not ok:
            raise ParameterError(
                f"The model {label!r} of compare_models must be a fairrec.models model, a "
                f"fitted Recommender or a dict with a 'model' key. Got {spec!r} instead."
            )
    return compare(models, data, split, k, **kwargs)
