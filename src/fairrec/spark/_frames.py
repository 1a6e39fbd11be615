"""Checks and column expressions on Spark DataFrames shared by the Spark entry points.

Ids are matched between Spark and fairrec in their canonical string form
(:func:`fairrec.ids.canon_id`, the one every part of fairrec uses): an integral column cast to
string (``42`` -> ``"42"``), a string column canonicalised by a vectorized pandas UDF
(``"01"``, ``" 1"`` and fullwidth ``"１"`` all become ``"1"``); an id that has no canonical
form (empty, control characters) gets a null key and so matches no viewer or title.
Times are compared with naive-UTC cut-offs the way :mod:`fairrec.data` reads them: a
``TimestampType`` value is an instant (its UTC time is used, whatever the session time
zone), a ``TimestampNTZType`` value is a wall-clock time read as UTC, and a number is Unix
seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fairrec.errors import DataError, ParameterError

__all__ = [
    "KEY",
    "require_frame",
    "require_column",
    "id_key",
    "time_filter",
    "time_micros",
    "weight_problems",
    "listing",
]

#: name of the canonical string id column added to joined frames
KEY = "_fairrec_key"

_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_FRACTIONAL = (T.FloatType, T.DoubleType, T.DecimalType)


def listing(values: list[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" (and {len(values) - limit} more)" if len(values) > limit else "")


def require_frame(df: Any, what: str) -> DataFrame:
    """``df`` must be a (classic) Spark DataFrame."""
    if not isinstance(df, DataFrame):
        raise DataError(f"{what} must be a Spark DataFrame. Got {type(df).__name__} instead.")
    return df


def require_column(df: DataFrame, col: str, what: str, param: str) -> T.StructField:
    """The schema field of column ``col``; a DataError naming the columns if it is absent."""
    if not isinstance(col, str):
        raise ParameterError(f"The {param!r} parameter must be a column name. Got {col!r}.")
    for f in df.schema.fields:
        if f.name == col:
            return f
    raise DataError(f"{what} has no column {col!r} ({param}); its columns are {df.columns}.")


def _canon_text_ids(values: pd.Series) -> pd.Series:
    """Canonical form of each string id (None where there is none); runs on the executors.

    Each distinct id is canonicalised once (``pd.factorize``), so the cost follows the number
    of distinct ids in the batch, not its length.
    """
    from fairrec.data.ids import canon_id

    def one(v: Any) -> Any:
        try:
            return canon_id(v)
        except ParameterError:
            return None

    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    canon = np.array([one(v) for v in uniques] + [None], dtype=object)
    return pd.Series(canon[codes], index=values.index, dtype=object)


_CANON_UDF: Any = None


def _canon_udf() -> Any:
    global _CANON_UDF
    if _CANON_UDF is None:
        _CANON_UDF = F.pandas_udf(_canon_text_ids, T.StringType())
    return _CANON_UDF


def id_key(df: DataFrame, col: str, what: str, param: str) -> Column:
    """Canonical string form of an id column (str or integral; anything else is refused)."""
    field = require_column(df, col, what, param)
    if isinstance(field.dataType, T.StringType):
        return _canon_udf()(F.col(col))
    if isinstance(field.dataType, _INTEGRAL):
        return F.col(col).cast("string")
    raise DataError(
        f"Column {col!r} of {what} holds {field.dataType.simpleString()} ids; fairrec ids are "
        "strings or integers (cast the column first)."
    )


def _time_field(df: DataFrame, col: str, what: str) -> T.DataType:
    dtype = require_column(df, col, what, "time_col").dataType
    if isinstance(dtype, (T.TimestampType, T.TimestampNTZType, *_INTEGRAL, *_FRACTIONAL)):
        return dtype
    raise DataError(
        f"Column {col!r} of {what} holds {dtype.simpleString()} values; event times must be a "
        "timestamp, timestamp_ntz or Unix seconds (parse strings with "
        "pyspark.sql.functions.to_timestamp first: Spark reads a zone-less string in the "
        "session time zone, fairrec in UTC)."
    )


def time_filter(df: DataFrame, col: str, cutoff: np.datetime64, what: str) -> Column:
    """``col >= cutoff`` (naive UTC ``datetime64``), exact to the microsecond.

    Spark keeps times in microseconds: an event at ``t`` microseconds is kept when
    ``t * 1000 >= cutoff_ns``, i.e. ``t >= ceil(cutoff_ns / 1000)``; whole Unix seconds
    likewise compare with ``ceil(cutoff_ns / 1e9)``.
    """
    dtype = _time_field(df, col, what)
    ns = int(pd.Timestamp(cutoff).as_unit("ns").value)
    c = F.col(col)
    if isinstance(dtype, T.TimestampType):
        return c >= F.expr(f"timestamp_micros({-(-ns // 1000)})")
    if isinstance(dtype, T.TimestampNTZType):
        iso = pd.Timestamp(-(-ns // 1000), unit="us").strftime("%Y-%m-%dT%H:%M:%S.%f")
        return c >= F.expr(f"CAST('{iso}' AS TIMESTAMP_NTZ)")
    if isinstance(dtype, _INTEGRAL):
        return c >= F.lit(-(-ns // 1_000_000_000))
    return c >= F.lit(ns / 1e9)


def time_micros(df: DataFrame, col: str, what: str) -> tuple[Column, str]:
    """An expression to collect ``col`` with, and how to read it: "us", "naive" or "s"."""
    dtype = _time_field(df, col, what)
    if isinstance(dtype, T.TimestampType):
        return F.unix_micros(F.col(col)).alias(col), "us"
    if isinstance(dtype, T.TimestampNTZType):
        return F.col(col), "naive"
    return F.col(col), "s"


def weight_problems(df: DataFrame, col: str, what: str) -> Column:
    """True where a weight is missing, NaN, infinite or negative (after a type check)."""
    dtype = require_column(df, col, what, "weight_col").dataType
    if not isinstance(dtype, (*_INTEGRAL, *_FRACTIONAL)):
        raise DataError(
            f"Column {col!r} of {what} holds {dtype.simpleString()} values; weights must be "
            "numbers."
        )
    w = F.col(col).cast("double")
    return w.isNull() | F.isnan(w) | (w < 0) | (w == float("inf"))
