"""``fit_als``: implicit-feedback ALS trained by Spark MLlib, served by the local Recommender.

The consented interactions (:func:`~fairrec.spark.training_interactions`) are mapped to
fairrec's dense indices (viewers and titles in the order of the :class:`~fairrec.Dataset`
the recommender serves from), duplicate (viewer, title) events are summed like
:func:`fairrec.serving.training.training_matrix` does, and MLlib's ``ALS(implicitPrefs=True)`` learns the
factors. They are collected into numpy and installed in a :class:`fairrec.models.ALS`, so the
result is an ordinary fitted :class:`~fairrec.Recommender` (``home``, ``save``, ``load``...).

MLlib and ``implicit`` (which serves the request-time viewer vectors) differ in two
conventions, both documented on :func:`fit_als`:

* confidence: MLlib uses ``c = 1 + alpha * r``; implicit uses ``c = alpha * r`` (it expects
  the confidence itself). The request-time solve uses ``alpha = 1 + alpha_mllib``, the same
  confidence for unit weights (plays).
* regularization: MLlib scales ``regParam`` by each viewer's (and title's) number of
  interactions (ALS-WR); implicit's is a constant. The request-time solve uses
  ``regParam x`` the mean number of titles per training viewer: the same penalty for the
  average viewer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fairrec import _columns as C
from fairrec.data import Dataset
from fairrec.data.ids import canon_ids
from fairrec.errors import DataError, ParameterError, param_error
from fairrec.models import ALS
from fairrec.spark._frames import (
    KEY,
    id_key,
    listing,
    require_column,
    require_frame,
    time_micros,
)
from fairrec.spark._gate import check_retention, naive_utc, training_interactions

__all__ = ["fit_als"]

_U, _I, _R = "_fairrec_u", "_fairrec_i", "_fairrec_r"
_WHAT = "the interactions"


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise param_error(name, "fit_als", f"an int >= {low}", value)
    return int(value)


def _check_float(value: Any, name: str, low: float, strict: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and bool(np.isfinite(value)) and (value > low if strict else value >= low)
    if not ok:
        raise param_error(
            name, "fit_als", f"a finite number {'>' if strict else '>='} {low}", value
        )
    return float(value)


def _collect_dataset(
    df: DataFrame,
    catalog: pd.DataFrame | None,
    user_col: str,
    item_col: str,
    weight_col: str | None,
    time_col: str | None,
) -> Dataset:
    """Collect every interaction to the driver as a validated :class:`Dataset`."""
    cols = [F.col(user_col), F.col(item_col)]
    if weight_col is not None:
        cols.append(F.col(weight_col))
    unit = None
    if time_col is not None:
        expr, unit = time_micros(df, time_col, _WHAT)
        cols.append(expr)
    frame = df.select(*cols).toPandas()
    if unit == "us":
        frame[time_col] = pd.to_datetime(frame[time_col].to_numpy(dtype="int64"), unit="us")
    return Dataset.from_pandas(
        frame,
        catalog,
        user_col=user_col,
        item_col=item_col,
        weight_col=weight_col,
        time_col=time_col,
    )


def _id_frame(df: DataFrame, ids: np.ndarray, col: str) -> DataFrame:
    """Spark frame ``(KEY: canonical str id, col: dense index)`` in ``ids`` order."""
    keys = canon_ids(ids, "ids")
    schema = T.StructType(
        [T.StructField(KEY, T.StringType(), False), T.StructField(col, T.IntegerType(), False)]
    )
    pdf = pd.DataFrame({KEY: keys, col: np.arange(len(ids), dtype=np.int32)})
    return df.sparkSession.createDataFrame(pdf, schema=schema)


def _unmatched(keys: DataFrame, ids: DataFrame) -> list[Any]:
    rows = keys.join(ids, KEY, "left_anti").limit(6).collect()
    return [r[0] for r in rows]


def fit_als(
    spark_interactions: DataFrame,
    consent: Any = None,
    *,
    data: Dataset | None = None,
    catalog: pd.DataFrame | None = None,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    weight_col: str | None = None,
    time_col: str | None = None,
    retention_days: float | None = None,
    now: Any = None,
    factors: int = 64,
    reg_param: float = 0.1,
    alpha: float = 1.0,
    iterations: int = 15,
    seed: int = 0,
    num_blocks: int | None = None,
    **params: Any,
) -> Any:
    """Train implicit ALS with Spark MLlib on consented interactions; serve it locally.

    The consent gate runs in Spark (:func:`training_interactions`: viewers with
    ``training`` consent, events inside the retention window); duplicate (viewer, title)
    events are summed; ``pyspark.ml.recommendation.ALS(implicitPrefs=True)`` learns the
    factors, which are collected into numpy. The result is a fitted
    :class:`fairrec.Recommender` (built with :meth:`Recommender.from_fitted`) that serves
    pages, recomputes viewer vectors from consented history at request time, and saves and
    loads like any other.

    Parameters
    ----------
    spark_interactions : pyspark.sql.DataFrame
        One line per event: ``user_col`` and ``item_col`` (str or integral ids), optionally
        ``weight_col`` (non-negative numbers; default 1 per event) and ``time_col``
        (timestamp, timestamp_ntz or Unix seconds).
    consent : ConsentLedger, optional
        Decides who may train the model (``training``) and is the ledger the returned
        recommender serves with. ``None``: every purpose allowed.
    data : Dataset, optional
        The local dataset the recommender serves histories and the catalog from; it must
        hold every title and every training viewer of ``spark_interactions`` (normally the
        same interactions). Default: every interaction is collected to the driver and
        validated with :meth:`Dataset.from_pandas` (with ``catalog``).
    catalog : pandas.DataFrame, optional
        The title catalog when ``data`` is not given (see :meth:`Dataset.from_pandas`).
    user_col, item_col, weight_col, time_col : str
        Column names.
    retention_days : float, optional
        Events older than this before ``now`` never train the model; also the serving
        window of the returned recommender.
    now : datetime-like, optional
        Time of fitting (default: the ``clock`` serving parameter if given, else now, UTC).
    factors : int, default 64
        MLlib ``rank``.
    reg_param : float, default 0.1
        MLlib ``regParam`` (MLlib's default). MLlib scales it by each viewer's / title's
        number of interactions (ALS-WR), so it is not comparable with an ``implicit``
        regularization: 0.1 on a viewer with 50 titles is a penalty of 5. The request-time
        solve (``implicit``, constant penalty) uses ``reg_param`` x the mean number of
        titles per training viewer, the penalty MLlib gives the average viewer.
    alpha : float, default 1.0
        MLlib ``alpha``: confidence ``1 + alpha * weight``. The request-time solve uses
        ``implicit``'s ``alpha = 1 + alpha`` (confidence ``alpha * weight``), the same
        confidence for unit weights.
    iterations : int, default 15
        MLlib ``maxIter``.
    seed : int, default 0
        MLlib ``seed`` (factor initialisation).
    num_blocks : int, optional
        MLlib ``numUserBlocks`` and ``numItemBlocks`` (default: MLlib's, 10).
    **params
        :class:`Recommender` serving parameters (``row_size``, ``on_unknown``, ...).

    Returns
    -------
    fairrec.Recommender
        Fitted; ``model_`` is a :class:`fairrec.models.ALS` holding the MLlib factors,
        ``train_user_ids_`` the viewers whose plays trained it (in the factors' order).

    Raises
    ------
    fairrec.errors.DataError
        Invalid columns, ids, weights or times; a title outside the catalog; a training
        viewer missing from ``data``; no interaction allowed for training.
    fairrec.errors.ParameterError
        A parameter out of range.
    """
    from pyspark.ml.recommendation import ALS as SparkALS

    from fairrec.recommender import Recommender

    df = require_frame(spark_interactions, "spark_interactions")
    factors = _check_int(factors, "factors", 1)
    iterations = _check_int(iterations, "iterations", 1)
    seed = _check_int(seed, "seed", 0)
    reg_param = _check_float(reg_param, "reg_param", 0.0)
    alpha = _check_float(alpha, "alpha", 0.0)
    if num_blocks is not None:
        num_blocks = _check_int(num_blocks, "num_blocks", 1)
    retention = check_retention(retention_days, "fit_als")
    if data is not None and not isinstance(data, Dataset):
        raise param_error("data", "fit_als", "a fairrec Dataset or None", type(data).__name__)
    if data is not None and catalog is not None:
        raise ParameterError("fit_als: pass either data= (a Dataset) or catalog=, not both.")
    ukey = id_key(df, user_col, _WHAT, "user_col")
    ikey = id_key(df, item_col, _WHAT, "item_col")
    if weight_col is not None:
        require_column(df, weight_col, _WHAT, "weight_col")
    clock = params.get("clock")
    when = naive_utc(now if now is not None or clock is None else clock())

    gated = training_interactions(
        df,
        consent,
        now=when,
        retention_days=retention,
        user_col=user_col,
        time_col=time_col,
        weight_col=weight_col,
    )
    if data is None:
        data = _collect_dataset(df, catalog, user_col, item_col, weight_col, time_col)
    users = _id_frame(df, data.user_ids, _U)
    items = F.broadcast(_id_frame(df, data.item_ids, _I))
    weight = F.col(weight_col).cast("double") if weight_col is not None else F.lit(1.0)
    events = gated.select(ukey.alias("_u"), ikey.alias("_i"), weight.alias(_R))

    # one pass: map ids to dense indices (unmatched ids kept as null), sum duplicate events
    grouped = (
        events.join(items, events["_i"] == items[KEY], "left")
        .select("_u", "_i", _I, _R)
        .join(users, F.col("_u") == users[KEY], "left")
        .groupBy(_U, _I)
        .agg(F.sum(_R).cast("float").alias(_R))
        .persist()
    )
    try:
        valid = F.col(_U).isNotNull() & F.col(_I).isNotNull()
        counts = grouped.agg(
            F.sum(valid.cast("long")).alias("pairs"),
            F.sum((valid & (F.col(_R) > 0)).cast("long")).alias("positive"),
            F.countDistinct(F.when(valid, F.col(_U))).alias("viewers"),
            F.sum(F.col(_I).isNull().cast("long")).alias("bad_items"),
            F.sum(F.col(_U).isNull().cast("long")).alias("bad_users"),
        ).collect()[0]
        if counts["bad_items"]:
            bad = _unmatched(events.select(F.col("_i").alias(KEY)).distinct(), items)
            raise DataError(f"Title id(s) not in the catalog: {listing(bad)}.")
        if counts["bad_users"]:
            bad = _unmatched(events.select(F.col("_u").alias(KEY)).distinct(), users)
            raise DataError(
                f"Training viewer(s) missing from data=: {listing(bad)}. data must hold the "
                "interactions the recommender serves from (normally the same ones)."
            )
        if not counts["pairs"]:
            raise DataError(
                "No interaction may be used for training: no viewer with 'training' consent "
                "has events inside the retention window."
            )
        ratings = grouped.filter(valid)
        als = SparkALS(
            rank=factors,
            maxIter=iterations,
            regParam=reg_param,
            alpha=alpha,
            implicitPrefs=True,
            userCol=_U,
            itemCol=_I,
            ratingCol=_R,
            seed=seed,
            nonnegative=False,
            coldStartStrategy="nan",
        )
        if num_blocks is not None:
            als = als.setNumUserBlocks(num_blocks).setNumItemBlocks(num_blocks)
        fitted = als.fit(ratings)
        user_f = fitted.userFactors.toPandas()
        item_f = fitted.itemFactors.toPandas()
    finally:
        grouped.unpersist()

    order = np.argsort(user_f["id"].to_numpy(), kind="stable")
    user_rows = user_f["id"].to_numpy()[order]
    user_factors = _stack(user_f["features"].to_numpy()[order], factors)
    item_factors = np.zeros((data.n_items, factors), dtype=np.float32)
    item_factors[item_f["id"].to_numpy()] = _stack(item_f["features"].to_numpy(), factors)

    mean_titles = counts["positive"] / max(counts["viewers"], 1)
    model = ALS(
        factors=factors,
        regularization=reg_param * mean_titles,
        alpha=1.0 + alpha,
        iterations=iterations,
        random_state=seed,
    )
    model.set_arrays({"item_factors": item_factors, "user_factors": user_factors})
    rec = Recommender.from_fitted(
        model,
        data,
        train_user_ids=data.user_ids[user_rows],
        consent=consent,
        fitted_at=when,
        retention_days=retention,
        **params,
    )
    # the model remembers what it was trained on, as a locally fitted one does: evaluate()
    # then refuses this model served over another split's train side (see models._pairs)
    model.record_training(rec.train_matrix_)
    return rec


def _stack(vectors: np.ndarray, factors: int) -> np.ndarray:
    if len(vectors) == 0:
        return np.zeros((0, factors), dtype=np.float32)
    return np.ascontiguousarray(np.stack([np.asarray(v) for v in vectors]), dtype=np.float32)
