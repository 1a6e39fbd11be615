"""``home_pages``: batch home pages for a Spark DataFrame of viewers.

How the work is split
---------------------
* **The model travels once, as a model file.** The driver writes the fitted recommender with
  :meth:`Recommender.save` (npz + JSON; histories only of viewers with ``personalization``
  consent, inside the retention window) and broadcasts the files' bytes. Each Python worker
  rebuilds it once with :meth:`Recommender.load` (checksums and shapes validated) and keeps
  it for every later partition of the same broadcast. No live object (the recommender and
  the ledger hold locks) crosses the wire; Spark's pickling only carries bytes.
* **The consent ledger is joined in.** The driver turns the ledger into a table, one line
  per viewer it knows (the viewer's :class:`ConsentState` as JSON), plus the viewers of the
  training data and any viewer erased by a tombstone; it is left-joined to the viewers, so
  each partition carries exactly the consent snapshots of its own viewers. A viewer the
  ledger does not know gets the ledger's default, exactly as :meth:`ConsentLedger.state`.
* **Pages are built by ``mapInPandas``** with :meth:`Recommender.home_batch` (the very code
  that serves locally), so the pages are the local pages. Unknown viewers are handled on the
  driver before the job (``on_unknown="raise"`` raises :class:`UnknownUserError` naming them,
  ``"warn"`` warns), then served the non-personalized page.
"""

from __future__ import annotations

import copy
import functools
import json
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fairrec import _columns as C
from fairrec.consent import PURPOSES, ConsentLedger, ConsentState
from fairrec.errors import DataError, NotFittedError, ParameterError, UnknownUserError, param_error
from fairrec.models import single_threaded_blas
from fairrec.page import FRAME_COLUMNS, FRAME_DTYPES
from fairrec.serving.availability import check_region
from fairrec.spark._frames import KEY, id_key, listing, require_frame

__all__ = ["home_pages", "page_schema", "consent_table"]

_STATE, _KNOWN, _GONE = "_fairrec_state", "_fairrec_known", "_fairrec_forgotten"
_SPARK_TYPES = {
    "string": T.StringType(),
    "object": T.StringType(),
    "int64": T.LongType(),
    "float64": T.DoubleType(),
}
#: viewers per home_batch call inside a partition (bounds the size of each output batch)
_SLICE = 2048


def page_schema(
    user_id_type: T.DataType | None = None, item_id_type: T.DataType | None = None
) -> T.StructType:
    """Spark schema of :func:`home_pages`: :data:`fairrec.page.FRAME_COLUMNS`, same types.

    Parameters
    ----------
    user_id_type, item_id_type : pyspark.sql.types.DataType, optional
        The type of the ``user_id`` and ``item_id`` columns: ``StringType()`` (the default)
        or ``LongType()``. :func:`home_pages` keeps the type of the viewers' column for
        ``user_id`` and the catalog's id type for ``item_id``, as ``home_batch`` does.

    Returns
    -------
    pyspark.sql.types.StructType
    """
    ids = {C.USER: user_id_type or T.StringType(), C.ITEM: item_id_type or T.StringType()}
    return T.StructType(
        [
            T.StructField(c, ids.get(c) or _SPARK_TYPES[FRAME_DTYPES[c]], True)
            for c in FRAME_COLUMNS
        ]
    )


def _id_type(integral: bool) -> T.DataType:
    return T.LongType() if integral else T.StringType()


# --------------------------------------------------------------------------- driver side
def _state_json(state: ConsentState) -> str:
    return json.dumps(state.to_dict(), ensure_ascii=False, separators=(",", ":"))


def consent_table(rec: Any, extra_forgotten: list[str] | None = None) -> pd.DataFrame:
    """The per-viewer consent table joined to the viewers (driver side, pandas).

    One line per viewer the ledger knows (``state``: the snapshot as JSON), per viewer of
    the recommender's data (``known``), and per id in ``extra_forgotten`` (erased viewers the
    ledger only knows by tombstone). Keys are canonical string ids.
    """
    ledger = rec.consent_
    users = ledger.users()
    states = [ledger.state(u) for u in users]
    for u in extra_forgotten or ():
        users.append(u)
        states.append(ledger.state(u))
    table = pd.DataFrame(
        {
            KEY: pd.Series(users, dtype=object),
            _STATE: pd.Series([_state_json(s) for s in states], dtype=object),
            _GONE: np.array([s.forgotten for s in states], dtype=bool),
        }
    )
    data_keys = np.asarray(rec.data_.user_map.canon, dtype=object)  # the one id form
    in_ledger = pd.Index(table[KEY]).get_indexer(pd.Index(data_keys, dtype=object)) >= 0
    extra = pd.DataFrame(
        {
            KEY: pd.Series(data_keys[~in_ledger], dtype=object),
            _STATE: pd.Series([None] * int((~in_ledger).sum()), dtype=object),
            _GONE: np.zeros(int((~in_ledger).sum()), dtype=bool),
        }
    )
    table = pd.concat([table, extra], ignore_index=True).drop_duplicates(KEY)
    # known: in the ledger (forgotten ones included: they are reported as erased) or the data
    table[_KNOWN] = True
    return table


def _table_frame(spark: Any, table: pd.DataFrame) -> DataFrame:
    schema = T.StructType(
        [
            T.StructField(KEY, T.StringType(), False),
            T.StructField(_STATE, T.StringType(), True),
            T.StructField(_GONE, T.BooleanType(), False),
            T.StructField(_KNOWN, T.BooleanType(), False),
        ]
    )
    if table.empty:
        return spark.createDataFrame([], schema=schema)
    return spark.createDataFrame(table[[KEY, _STATE, _GONE, _KNOWN]], schema=schema)


def _tombstoned(ledger: ConsentLedger, keyed: DataFrame) -> list[str]:
    """Viewer ids erased by a tombstone (not in the ledger any more), among the viewers."""
    if not ledger.n_forgotten:
        return []
    spark = keyed.sparkSession
    known = _table_frame(
        spark,
        pd.DataFrame(
            {
                KEY: pd.Series(ledger.users(), dtype=object),
                _STATE: None,
                _GONE: False,
                _KNOWN: True,
            }
        ),
    ).select(KEY)
    others = keyed.select(KEY).distinct().join(known, KEY, "left_anti").toPandas()[KEY]
    return [k for k in others.dropna().tolist() if ledger.is_forgotten(k)]


def _model_files(rec: Any, when: pd.Timestamp) -> dict[str, bytes]:
    """The recommender's model directory as ``{file name: bytes}``, saved as of ``when``."""
    snapshot = copy.copy(rec)  # same fitted state; the clock pinned to the pages' time
    snapshot.clock = lambda: when
    with tempfile.TemporaryDirectory(prefix="fairrec-spark-") as tmp:
        target = Path(tmp) / "model"
        snapshot.save(target)
        return {p.name: p.read_bytes() for p in sorted(target.iterdir()) if p.is_file()}


def _check_unknown(joined: DataFrame, user_col: str, policy: str) -> None:
    unknown = F.col(_GONE) | ~F.col(_KNOWN)
    rows = joined.filter(unknown).select(user_col).limit(6).collect()
    if not rows:
        return
    ids = [r[0] for r in rows]
    msg = (
        f"Unknown viewer id(s): {listing(ids)}. They are not in the training data or the "
        "consent ledger (or were erased). Pass on_unknown='ignore' to serve them the "
        "non-personalized page."
    )
    if policy == "raise":
        raise UnknownUserError(msg)
    warnings.warn(msg, stacklevel=3)


def home_pages(
    spark_viewers: DataFrame,
    rec: Any,
    *,
    user_col: str = C.USER,
    now: Any = None,
    partitions: int | None = None,
    region: str | None = None,
) -> DataFrame:
    """Home pages of every viewer of a Spark DataFrame, as a Spark DataFrame.

    The same pages as :meth:`Recommender.home_batch` for the same viewers and time: the
    recommender is broadcast once (as its model files), the consent ledger is joined in
    (one consent snapshot per viewer), and each partition builds its viewers' pages with
    ``mapInPandas``. The job is lazy: pages are built when the result is written or
    collected.

    Parameters
    ----------
    spark_viewers : pyspark.sql.DataFrame
        One line per page to build (a viewer listed twice gets two pages); ``user_col``
        holds the viewer ids (str or integral, as in the recommender's data); other
        columns are ignored.
    rec : Recommender
        A fitted recommender (its ledger, rows and serving parameters are used).
    user_col : str, default "user_id"
    now : datetime-like, optional
        Time of the pages (retention window); default: the recommender's clock.
    region : str, optional
        Region code of these viewers: titles outside their licence window at ``now`` or not
        licensed in ``region`` are never shown (the recommender's availability table and
        cold-start marks travel with the model; its observed events, held in the driver's
        memory, do not: Spark pages use the histories in the model files).
    partitions : int, optional
        Partitions of the page job (default: twice Spark's default parallelism). The job
        is CPU-bound: a few partitions per executor core balance the load.

    Returns
    -------
    pyspark.sql.DataFrame
        Schema :func:`page_schema`: one line per (viewer, row, position) with the columns of
        :meth:`HomePage.to_frame` (``user_id`` as a string).

    Raises
    ------
    fairrec.errors.UnknownUserError
        With ``on_unknown="raise"``: a viewer neither in the data nor in the ledger, or
        erased (checked by a small Spark job before the pages).
    fairrec.errors.ParameterError
        ``rec`` is not a recommender, has an ``audit_log`` (pages built on executors are not
        written to the driver's audit log: audit the output instead), or ``partitions`` is
        invalid.
    """
    from fairrec.recommender import Recommender

    df = require_frame(spark_viewers, "spark_viewers")
    if not isinstance(rec, Recommender):
        raise param_error("rec", "home_pages", "a fitted fairrec.Recommender", type(rec).__name__)
    if not hasattr(rec, "model_"):
        raise NotFittedError(
            "This Recommender instance is not fitted yet. Call 'fit' with a Dataset first."
        )
    if rec.audit_log is not None:
        raise ParameterError(
            "home_pages cannot write the recommender's audit_log: pages are built on the "
            "Spark executors. Serve with a recommender without audit_log and audit the "
            "output DataFrame (one line per title shown, with its data categories)."
        )
    if not isinstance(rec.consent_, ConsentLedger):
        raise param_error("consent", "home_pages", "a ConsentLedger", type(rec.consent_).__name__)
    spark = df.sparkSession
    try:
        context = spark.sparkContext
    except Exception as exc:  # Spark Connect has no SparkContext, hence no broadcast
        raise ParameterError(
            "home_pages needs a classic SparkSession (it broadcasts the model through the "
            "SparkContext); Spark Connect sessions have none."
        ) from exc
    if partitions is None:
        partitions = 2 * context.defaultParallelism
    if (
        isinstance(partitions, bool)
        or not isinstance(partitions, (int, np.integer))
        or partitions < 1
    ):
        raise param_error("partitions", "home_pages", "an int >= 1 or None", partitions)
    when = rec.resolve_now(now)
    region = check_region(region, "home_pages")

    keyed = df.select(F.col(user_col), id_key(df, user_col, "spark_viewers", "user_col").alias(KEY))
    user_long = not isinstance(df.schema[user_col].dataType, T.StringType)
    item_long = np.asarray(rec.data_.item_ids).dtype.kind in "iu"
    table = consent_table(rec, _tombstoned(rec.consent_, keyed))
    joined = keyed.join(_table_frame(spark, table), KEY, "left").select(
        F.col(user_col),
        F.col(KEY),
        F.col(_STATE),
        F.coalesce(F.col(_GONE), F.lit(False)).alias(_GONE),
        F.coalesce(F.col(_KNOWN), F.lit(False)).alias(_KNOWN),
    )
    if rec.on_unknown != "ignore":
        _check_unknown(joined, user_col, rec.on_unknown)

    model = context.broadcast(_model_files(rec, when))
    build = functools.partial(
        _pages_of_batches,
        model=model,
        token=uuid.uuid4().hex,
        when=when,
        user_col=user_col,
        rows=list(rec.rows) if rec.rows is not None else None,
        allow=rec.consent_.default == "allow",
        version=rec.consent_.version,
        user_long=user_long,
        item_long=item_long,
        live=(rec.live_state_.availability.to_frame(), sorted(rec.live_state_.cold), region),
    )
    schema = page_schema(_id_type(user_long), _id_type(item_long))
    return joined.repartition(int(partitions)).mapInPandas(build, schema=schema)


# --------------------------------------------------------------------------- executor side
class _BatchConsent:
    """The consent snapshots of one batch of viewers, in the ledger's reading interface.

    Serves :meth:`Recommender.home_batch` on an executor: ``state(u)`` is the joined
    snapshot (the ledger's default for a viewer it does not know), ``u in consent`` whether
    the viewer is known. Replaced batch by batch; a Python worker runs one task at a time.
    """

    def __init__(self, allow: bool, version: int) -> None:
        self._allow = allow
        self._version = version
        self._texts: dict[str, Any] = {}
        self._known: dict[str, bool] = {}

    def set_batch(self, keys: list[str], texts: list[Any], known: list[bool]) -> None:
        self._texts = dict(zip(keys, texts))
        self._known = dict(zip(keys, known))

    @staticmethod
    def _key(user_id: Any) -> str:
        from fairrec.data.ids import canon_id
        from fairrec.errors import ParameterError

        try:
            return canon_id(user_id)
        except ParameterError as exc:
            raise DataError(str(exc)) from None

    def state(self, user_id: Any) -> ConsentState:
        key = self._key(user_id)
        text = self._texts.get(key)
        if isinstance(text, str):
            return _state_from_json(text)
        purposes = frozenset(PURPOSES) if self._allow else frozenset()
        return ConsentState(user_id=key, purposes=purposes, version=self._version)

    def __contains__(self, user_id: Any) -> bool:
        return bool(self._known.get(self._key(user_id), False))


def _state_from_json(text: str) -> ConsentState:
    d = json.loads(text)
    return ConsentState(
        user_id=d["user_id"],
        purposes=frozenset(d["purposes"]),
        since={p: pd.Timestamp(t) for p, t in d["since"].items()},
        excluded_genres=d["excluded_genres"],
        excluded_items=d["excluded_items"],
        max_maturity=d["max_maturity"],
        liked_genres=d["liked_genres"],
        liked_items=d["liked_items"],
        disliked_genres=d["disliked_genres"],
        disliked_items=d["disliked_items"],
        forgotten=d["forgotten"],
        version=d["version"],
    )


#: the recommender rebuilt in this Python worker, by the token of its home_pages call
_LOADED: dict[str, Any] = {}


def _executor_recommender(
    model: Any, token: str, rows: Any, allow: bool, version: int, live: Any = None
) -> Any:
    rec = _LOADED.get(token)
    if rec is None:
        from fairrec.recommender import Recommender

        _LOADED.clear()
        overrides: dict[str, Any] = {"on_unknown": "ignore"}
        if rows is not None:
            overrides["rows"] = rows
        with tempfile.TemporaryDirectory(prefix="fairrec-spark-") as tmp:
            for name, blob in model.value.items():
                (Path(tmp) / name).write_bytes(blob)
            rec = Recommender.load(tmp, consent=_BatchConsent(allow, version), **overrides)
        if live is not None:  # availability and cold-start marks of the driver's recommender
            table, cold, _ = live
            if len(table):
                rec.set_availability(table, replace=True)
            rec.live_state_.mark_cold(cold)
        _LOADED[token] = rec
    return rec


def _pages_of_batches(
    batches: Iterator[pd.DataFrame],
    *,
    model: Any,
    token: str,
    when: pd.Timestamp,
    user_col: str,
    rows: Any,
    allow: bool,
    version: int,
    user_long: bool,
    item_long: bool,
    live: Any = None,
) -> Iterator[pd.DataFrame]:
    rec = _executor_recommender(model, token, rows, allow, version, live)
    region = live[2] if live is not None else None
    consent = rec.consent_
    for batch in batches:
        if batch[user_col].isna().any():
            raise DataError(f"Column {user_col!r} of spark_viewers has missing viewer ids.")
        for start in range(0, len(batch), _SLICE):
            part = batch.iloc[start : start + _SLICE]
            consent.set_batch(
                part[KEY].tolist(), part[_STATE].tolist(), part[_KNOWN].astype(bool).tolist()
            )
            with single_threaded_blas():  # one Spark task per core: no BLAS threads on top
                frame = rec.home_batch(
                    part[user_col].tolist(), now=when, progress=False, region=region
                )
            yield _arrow_ready(frame, {C.USER: user_long, C.ITEM: item_long})


def _arrow_ready(frame: pd.DataFrame, long_ids: dict[str, bool]) -> pd.DataFrame:
    """The page frame with plain object string columns and ids of the Spark column's type.

    pandas 3 keeps strings in (possibly chunked) Arrow arrays, which PySpark's pandas-to-Arrow
    conversion does not accept; object columns convert on every pandas and PySpark version.
    """

    def column(c: str) -> pd.Series:
        if c in long_ids:
            col = frame[c]
            return col.astype("int64") if long_ids[c] else col.map(str).astype(object)
        if FRAME_DTYPES[c] in ("string", "object"):
            return frame[c].astype(object)
        return frame[c]

    return pd.DataFrame({c: column(c) for c in FRAME_COLUMNS})
