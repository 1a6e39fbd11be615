"""The training consent gate as Spark joins and filters.

The same rule as :func:`fairrec.gate.training_events`: an interaction may train the model
only if its viewer granted ``training`` (and was not erased) and it is not older than the
retention window. The viewers' consent is decided once on the driver with
:meth:`ConsentLedger.allowed_mask` over the distinct viewer ids (one small collect: one line
per viewer), then applied to the interactions with a semi- or anti-join against the smaller
of the allowed / refused id sets, broadcast when it is small. Nothing but the viewer ids
leaves the cluster.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fairrec import _columns as C
from fairrec.errors import DataError, param_error
from fairrec.serving.gate import TRAINING, retention_cutoff
from fairrec.spark._frames import (
    KEY,
    id_key,
    listing,
    require_frame,
    time_filter,
    weight_problems,
)

__all__ = ["training_interactions", "naive_utc", "check_retention"]

#: id sets up to this size are broadcast to every executor for the consent join
BROADCAST_IDS = 2_000_000

_WHAT = "the interactions"


def naive_utc(now: Any = None) -> pd.Timestamp:
    """``now`` (default: the current time) as a naive-UTC Timestamp."""
    try:
        t = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    except (TypeError, ValueError):
        raise param_error("now", "fairrec.spark", "a datetime-like or None", now) from None
    if t is pd.NaT:
        raise param_error("now", "fairrec.spark", "a datetime-like or None", now)
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t


def check_retention(retention_days: Any, owner: str) -> float | None:
    r = retention_days
    if r is None:
        return None
    if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) or not r > 0:
        raise param_error("retention_days", owner, "a number > 0 or None", r)
    return float(r)


def _user_summary(
    df: DataFrame, key: Any, time_col: str | None, weight_col: str | None
) -> pd.DataFrame:
    """One line per distinct viewer key, with the counts of invalid times and weights."""
    aggs = [F.count(F.lit(1)).alias("n")]
    if time_col is not None:
        aggs.append(F.sum(F.col(time_col).isNull().cast("long")).alias("bad_time"))
    if weight_col is not None:
        aggs.append(F.sum(weight_problems(df, weight_col, _WHAT).cast("long")).alias("bad_w"))
    summary = df.groupBy(key.alias(KEY)).agg(*aggs).toPandas()
    missing = summary[KEY].isna().to_numpy()
    if missing.any():
        n = int(summary["n"].to_numpy()[missing].sum())
        raise DataError(f"The interactions have {n} event(s) with a missing viewer id (NaN/None).")
    if time_col is not None and summary["bad_time"].sum() > 0:
        bad = summary.loc[summary["bad_time"] > 0, KEY].tolist()
        raise DataError(
            f"Column {time_col!r} of the interactions has {int(summary['bad_time'].sum())} "
            f"missing timestamp(s), for viewer(s) {listing(bad)}."
        )
    if weight_col is not None and summary["bad_w"].sum() > 0:
        bad = summary.loc[summary["bad_w"] > 0, KEY].tolist()
        raise DataError(
            f"Column {weight_col!r} of the interactions holds {int(summary['bad_w'].sum())} "
            f"invalid weight(s) (missing, negative, NaN or inf), for viewer(s) {listing(bad)}."
        )
    return summary


def _key_frame(df: DataFrame, keys: np.ndarray) -> DataFrame:
    schema = T.StructType([T.StructField(KEY, T.StringType(), False)])
    frame = df.sparkSession.createDataFrame(
        pd.DataFrame({KEY: pd.Series(keys, dtype=object)}), schema=schema
    )
    return F.broadcast(frame) if len(keys) <= BROADCAST_IDS else frame


def training_interactions(
    spark_interactions: DataFrame,
    consent: Any = None,
    *,
    now: Any = None,
    retention_days: float | None = None,
    user_col: str = C.USER,
    time_col: str | None = None,
    weight_col: str | None = None,
) -> DataFrame:
    """The interactions the training gate lets through, as a (lazy) Spark DataFrame.

    Keeps exactly the events :func:`fairrec.gate.training_events` keeps on the same data:
    those of viewers with ``training`` consent now (not erased), not older than
    ``retention_days`` before ``now``.

    Parameters
    ----------
    spark_interactions : pyspark.sql.DataFrame
        One line per event; other columns pass through unchanged.
    consent : ConsentLedger, optional
        ``None``: every viewer allowed (as ``Recommender(consent=None)``).
    now : datetime-like, optional
        Time of the gate (default: now, UTC); naive times are UTC.
    retention_days : float, optional
        Events older than this are dropped (needs ``time_col``).
    user_col, time_col, weight_col : str
        Viewer id column (str or integral); event time column (timestamp, timestamp_ntz or
        Unix seconds); weight column (only validated here).

    Returns
    -------
    pyspark.sql.DataFrame
        The kept events, with the columns of ``spark_interactions``.

    Raises
    ------
    fairrec.errors.DataError
        A column is missing or of the wrong type, a viewer id or a time is missing, a
        weight is invalid, or ``retention_days`` is set without ``time_col``.
    """
    df = require_frame(spark_interactions, "spark_interactions")
    retention = check_retention(retention_days, "training_interactions")
    if retention is not None and time_col is None:
        raise DataError(
            "retention_days is set but no time_col names the interactions' event times."
        )
    if consent is not None and not hasattr(consent, "allowed_mask"):
        raise param_error("consent", "training_interactions", "a ConsentLedger or None", consent)
    when = naive_utc(now)
    key = id_key(df, user_col, _WHAT, "user_col")
    summary = _user_summary(df, key, time_col, weight_col)
    out = df
    if consent is not None:
        keys = summary[KEY].to_numpy(dtype=object)
        allowed = np.asarray(consent.allowed_mask(keys, TRAINING), dtype=bool)
        if not allowed.all():
            keyed = df.withColumn(KEY, key)
            if not allowed.any():
                out = df.limit(0)
            elif allowed.sum() <= (~allowed).sum():
                out = keyed.join(_key_frame(df, keys[allowed]), KEY, "left_semi").drop(KEY)
            else:
                out = keyed.join(_key_frame(df, keys[~allowed]), KEY, "left_anti").drop(KEY)
    cutoff = retention_cutoff(when, retention)
    if cutoff is not None:
        out = out.filter(time_filter(df, time_col, cutoff, _WHAT))
    return out
