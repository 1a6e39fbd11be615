"""``compare`` and ``compare_models``: several methods on the same split and viewers, one row
each, with paired statistics against a baseline."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairrec import metrics as M
from fairrec.data import Dataset
from fairrec.errors import DataError, ParameterError, param_error
from fairrec.evaluation._inputs import _check_fitted, _check_k, _check_n_candidates
from fairrec.evaluation._methods import _OWNER_C, _default_split, _method, _train_end
from fairrec.evaluation._names import column, metric_names
from fairrec.evaluation._paired import DECIMALS, holm, paired
from fairrec.evaluation._setup import _row, _Setup
from fairrec.evaluation._splits import Split

_TESTS = ("ttest", "wilcoxon")
_CORRECTIONS = ("holm",)
#: statistics columns added per metric against the baseline (see _paired.py)
_STATS = ("diff", "ci_low", "ci_high", "effect")


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
    names = metric_names(metrics, _OWNER_C)
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
            col = column(n, k)
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
        col = column(n, k)
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
            column(n, k): M.REGISTRY[n].higher_is_better
            for n in M.REGISTRY
            if column(n, k) in table.columns
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
