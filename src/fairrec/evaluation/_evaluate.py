"""``evaluate``: a fitted recommender's top-k lists on a test set, every metric in one row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairrec.evaluation._inputs import (
    _check_fitted,
    _check_k,
    _check_n_candidates,
    _check_reranker,
)
from fairrec.evaluation._names import metric_names
from fairrec.evaluation._setup import _row, _Setup

_OWNER_E = "evaluate"


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
    names = metric_names(metrics, _OWNER_E)
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
