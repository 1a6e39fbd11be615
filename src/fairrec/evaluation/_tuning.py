"""Hyperparameter search with temporal cross-validation: :func:`tune`.

Documented, with the reasons for its numpy sampler, in :mod:`fairrec.tuning`, its public home.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from fairrec._checks import check_int
from fairrec.data import Dataset
from fairrec.errors import DataError, ParameterError, param_error
from fairrec.evaluation._evaluate import evaluate
from fairrec.evaluation._names import column, higher_is_better, registry_name
from fairrec.evaluation._splits import Split, rolling_folds

__all__ = ["tune", "TuneResult", "candidates"]

_OWNER = "tune"


class TuneResult(NamedTuple):
    """What :func:`tune` returns; unpacks as ``trials, best_model, best_params, best_score``.

    Attributes
    ----------
    trials : pandas.DataFrame
        One row per candidate, in the order tried: ``param_<name>`` columns, ``mean_<metric>``,
        ``std_<metric>``, ``fold<j>_<metric>`` per fold, ``fit_seconds`` (all folds) and
        ``rank`` (1 = best; ties by order tried). ``attrs`` holds ``metric``, ``k``,
        ``n_folds``, ``folds`` (train/validation sizes and time spans) and ``random_state``.
    best_model : CandidateModel
        The best candidate, fitted on all of ``data`` through a ``Recommender`` (with the
        ``consent`` given to :func:`tune`; its row order is that Recommender's).
    best_params : dict
        The best candidate's parameters (only those searched).
    best_score : float
        Its mean validation score.
    recommender : Recommender
        The Recommender that fitted ``best_model`` on ``data`` (at the end of ``data``),
        ready for :func:`fairrec.evaluate` on an outer split's test side.
    """

    trials: pd.DataFrame
    best_model: Any
    best_params: dict
    best_score: float
    recommender: Any


def _is_distribution(v: Any) -> bool:
    return callable(getattr(v, "rvs", None))


def _check_space(space: Any) -> list[dict[str, Any]]:
    spaces = [space] if isinstance(space, Mapping) else space
    if isinstance(spaces, (str, bytes)) or not isinstance(spaces, Sequence) or not spaces:
        raise param_error(
            "grid_or_distributions",
            _OWNER,
            "a dict name -> values (or a list of such dicts)",
            space,
        )
    out = []
    for sub in spaces:
        if not isinstance(sub, Mapping):
            raise param_error("grid_or_distributions", _OWNER, "dicts name -> values", sub)
        for name, values in sub.items():
            ok = _is_distribution(values) or (
                isinstance(values, Sequence) and not isinstance(values, (str, bytes)) and values
            )
            if not ok:
                raise ParameterError(
                    f"tune: the values of {name!r} must be a non-empty list or a scipy.stats "
                    f"distribution (with .rvs). Got {values!r} instead."
                )
        out.append(dict(sub))
    return out


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def candidates(
    grid_or_distributions: Any, n_iter: int | None = None, random_state: int | None = 0
) -> list[dict[str, Any]]:
    """The parameter candidates :func:`tune` tries, in order.

    Parameters
    ----------
    grid_or_distributions : dict or list of dict
        Name -> list of values, or -> a distribution with ``rvs`` (scipy.stats). A list of
        dicts is a union of grids (each candidate comes from one of them).
    n_iter : int, optional
        ``None``: every combination of the grid (lists only). Else ``n_iter`` candidates
        drawn at random: without replacement when every parameter is a list (fewer if the
        grid is smaller), else a uniformly chosen sub-grid, then each list drawn uniformly and
        each distribution sampled.
    random_state : int, optional
        Seed of :func:`numpy.random.default_rng`: the same seed gives the same candidates.

    Examples
    --------
    >>> candidates({"l2": [10.0, 100.0], "x": [1]})
    [{'l2': 10.0, 'x': 1}, {'l2': 100.0, 'x': 1}]
    >>> len(candidates({"l2": [1, 2, 3, 4]}, n_iter=2, random_state=0))
    2
    """
    spaces = _check_space(grid_or_distributions)
    lists_only = all(not _is_distribution(v) for s in spaces for v in s.values())
    n_iter = check_int(n_iter, "n_iter", _OWNER, none=True)
    if lists_only:
        grid = [dict(zip(s, combo)) for s in spaces for combo in itertools.product(*s.values())]
        if n_iter is None or n_iter >= len(grid):
            return [{k: _plain(v) for k, v in c.items()} for c in grid]
        rng = np.random.default_rng(random_state)
        pick = rng.choice(len(grid), size=int(n_iter), replace=False)
        return [{k: _plain(v) for k, v in grid[i].items()} for i in pick]
    if n_iter is None:
        raise ParameterError(
            "tune: distributions need n_iter (how many candidates to draw); a grid search "
            "takes lists of values only."
        )
    rng = np.random.default_rng(random_state)
    out = []
    for _ in range(int(n_iter)):
        s = spaces[int(rng.integers(len(spaces)))]
        out.append(
            {
                k: _plain(
                    v.rvs(random_state=rng) if _is_distribution(v) else v[int(rng.integers(len(v)))]
                )
                for k, v in s.items()
            }
        )
    return out


def _folds(data: Dataset, split: Any) -> list[Split]:
    if split is None:
        return rolling_folds(data)
    if isinstance(split, (int, np.integer)) and not isinstance(split, bool):
        return rolling_folds(data, n_folds=int(split))
    if callable(split):
        folds = split(data)
    else:
        folds = split
    if isinstance(folds, Split):
        folds = [folds]
    if not isinstance(folds, Sequence) or not folds or not all(isinstance(f, Split) for f in folds):
        raise param_error(
            "split",
            _OWNER,
            "None, a number of rolling time folds, a list of Splits or a callable data -> "
            "list of Splits",
            split,
        )
    return list(folds)


def _end(ds: Dataset) -> pd.Timestamp | None:
    return pd.Timestamp(ds.timestamps.max()) if ds.timestamps is not None and ds.n_events else None


def tune(
    model: Any,
    grid_or_distributions: Any,
    data: Dataset,
    split: int | Sequence[Split] | Callable[[Dataset], Sequence[Split]] | None = None,
    metric: str = "ndcg@10",
    n_iter: int | None = None,
    random_state: int | None = 0,
    *,
    k: int | None = None,
    progress: bool = True,
    consent: Any = None,
) -> TuneResult:
    """Search hyperparameters of a candidate model with temporal cross-validation.

    Every candidate (see :func:`candidates`) is fitted on the train side of every fold --
    the past only -- and scored on the fold's validation window with :func:`fairrec.evaluate`
    (served at the end of the fold's train side). The candidate with the best mean score
    (the metric's direction: :func:`fairrec.evaluation.higher_is_better`) is then refitted on
    all of ``data``. To report an honest score, pass only the train side of an outer split
    as ``data`` and evaluate the result on its test side: ``tune`` never sees it.

    Parameters
    ----------
    model : CandidateModel
        The model to tune: its parameters not searched keep their values.
    grid_or_distributions : dict or list of dict
        Parameter name -> list of values or a scipy.stats distribution.
    data : Dataset
        The data to cross-validate on (with timestamps for the default folds).
    split : int, list of Split or callable, optional
        The folds: default three rolling global-time folds of 10 % of the events each
        (:func:`fairrec.evaluation.rolling_folds`); an int for that many; a list of
        :class:`~fairrec.evaluation.Split`; or a callable ``data -> list of Split`` (e.g.
        ``lambda d: rolling_folds(d, per_viewer=True)``).
    metric : str, default "ndcg@10"
        A metric column of :func:`fairrec.evaluate`; its ``@k`` sets the list length.
    n_iter : int, optional
        Random search with this many candidates (default: the whole grid).
    random_state : int, optional
        Seed of the candidate draw: the same seed, data and folds give the same trials.
    k : int, optional
        List length (default: the metric's ``@k``, else 10).
    progress : bool, default True
        Show a progress bar (tqdm) over the fits.
    consent : ConsentLedger, optional
        Fit every candidate through this ledger's training gate (default ``None``: every
        viewer counts as having granted every purpose, as for offline benchmarks).

    Returns
    -------
    TuneResult
        ``trials`` (the table), ``best_model`` (fitted on ``data``), ``best_params``,
        ``best_score`` and the ``recommender`` that fitted it.

    Examples
    --------
    >>> import fairrec as fr
    >>> data = fr.datasets.synthetic(n_users=150, n_items=100, seed=0, mean_plays=15)
    >>> res = fr.tune(fr.models.EASE(), {"l2": [10.0, 100.0]}, data, progress=False)
    >>> list(res.trials["param_l2"]), res.best_params["l2"] in (10.0, 100.0)
    ([10.0, 100.0], True)
    """
    from tqdm.auto import tqdm

    from fairrec.models import CandidateModel
    from fairrec.recommender import Recommender

    if not isinstance(model, CandidateModel):
        raise param_error("model", _OWNER, "a fairrec.models model", model)
    if not isinstance(data, Dataset):
        raise DataError(f"tune needs a fairrec Dataset. Got {type(data).__name__} instead.")
    if registry_name(metric) is None or higher_is_better(metric) is None:
        raise param_error("metric", _OWNER, "a metric column such as 'ndcg@10'", metric)
    if k is None:
        at = str(metric).split("@")
        k = int(at[1]) if len(at) == 2 and at[1].isdigit() else 10
    grid = candidates(grid_or_distributions, n_iter, random_state)
    base = model.get_params()
    unknown = sorted({p for c in grid for p in c} - set(base))
    if unknown:
        raise ParameterError(
            f"tune: {type(model).__name__} has no parameter(s) {unknown}; it takes {sorted(base)}."
        )
    folds = _folds(data, split)
    higher = bool(higher_is_better(metric))
    col = column(registry_name(metric), k)

    scores = np.full((len(grid), len(folds)), np.nan)
    seconds = np.zeros(len(grid))
    bar = tqdm(total=len(grid) * len(folds), desc="tune", disable=not progress, leave=False)
    try:
        for i, params in enumerate(grid):
            for j, fold in enumerate(folds):
                start = time.perf_counter()
                rec = Recommender(
                    model=type(model)(**{**base, **params}), consent=consent, n_candidates=k
                )
                rec.fit(fold.train, now=_end(fold.train))
                seconds[i] += time.perf_counter() - start
                row = evaluate(rec, fold, k=k, metrics=[metric])
                scores[i, j] = float(row[col].iloc[0])
                bar.update(1)
    finally:
        bar.close()

    names = sorted({p for c in grid for p in c}, key=list(base).index)
    trials = pd.DataFrame({f"param_{n}": [c.get(n, base[n]) for c in grid] for n in names})
    label = col
    trials[f"mean_{label}"] = np.nanmean(scores, axis=1) if len(folds) else np.nan
    trials[f"std_{label}"] = np.nanstd(scores, axis=1, ddof=0)
    for j in range(len(folds)):
        trials[f"fold{j}_{label}"] = scores[:, j]
    trials["fit_seconds"] = seconds
    key = trials[f"mean_{label}"].to_numpy() * (-1.0 if higher else 1.0)
    order = np.lexsort((np.arange(len(grid)), np.nan_to_num(key, nan=np.inf)))
    rank = np.empty(len(grid), dtype=np.int64)
    rank[order] = np.arange(1, len(grid) + 1)
    trials["rank"] = rank
    trials.attrs.update(
        metric=label,
        k=k,
        n_folds=len(folds),
        random_state=random_state,
        folds=[
            {
                "train_events": int(f.train.n_events),
                "test_events": int(f.test.n_events),
                "train_end": str(_end(f.train)),
                "test_start": (
                    str(pd.Timestamp(f.test.timestamps.min()))
                    if f.test.timestamps is not None and f.test.n_events
                    else None
                ),
            }
            for f in folds
        ],
    )
    best = int(order[0])
    best_params = dict(grid[best])
    rec = Recommender(model=type(model)(**{**base, **best_params}), consent=consent)
    rec.fit(data, now=_end(data))
    return TuneResult(
        trials=trials,
        best_model=rec.model_,
        best_params=best_params,
        best_score=float(trials[f"mean_{label}"].iloc[best]),
        recommender=rec,
    )
