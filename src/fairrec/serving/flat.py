"""Flat top-k lists (``recommend`` / ``recommend_batch``): candidates, an optional
re-ranker, and one reason per line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec.errors import param_error
from fairrec.page import DATA_CATALOG_POPULARITY, DATA_WATCH_HISTORY, data_label
from fairrec.rows import history_genre_mix
from fairrec.serving.availability import check_region
from fairrec.serving.cold import cold_reasons
from fairrec.serving.core import (
    candidates,
    profile,
    request_batch,
)
from fairrec.serving.state import (
    FittedState,
    id_column,
)

__all__ = ["recommend_batch", "recommend_chunk"]


def recommend_batch(
    rec: Any,
    users: Iterable[Any],
    k: int = 10,
    reranker: Any = None,
    *,
    now: Any = None,
    n_candidates: int | None = None,
    region: str | None = None,
    _with_user: bool = True,
) -> pd.DataFrame:
    """Flat top-``k`` lists (see :meth:`Recommender.recommend_batch`)."""
    rec._require_fitted()
    if isinstance(reranker, str):
        from fairrec.rerank import by_name

        reranker = by_name(reranker)
    elif reranker is not None and not callable(getattr(reranker, "rerank", None)):
        raise param_error(
            "reranker",
            "Recommender.recommend",
            "a re-ranker (fairrec.rerank), a re-ranker name such as 'mmr', or None",
            reranker,
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise param_error("k", "Recommender.recommend", "an int >= 1", k)
    users = list(users)
    when = rec._now(now)
    region = check_region(region, "Recommender.recommend")
    n_cand = n_candidates or max(rec.n_candidates if reranker is not None else k, k)
    f = rec._fitted
    frames = []
    for start in range(0, len(users), rec.batch_size):
        chunk = users[start : start + rec.batch_size]
        frames.append(recommend_chunk(rec, chunk, k, reranker, when, n_cand, f, region, _with_user))
    if not frames:
        return pd.DataFrame(columns=[C.USER, C.ITEM, C.TITLE, C.SCORE, C.RANK, "reason"])
    # one chunk (a single viewer): its frame as is (concat copies every column)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def recommend_chunk(
    rec: Any,
    users: list[Any],
    k: int,
    reranker: Any,
    now: pd.Timestamp,
    n_cand: int,
    f: FittedState,
    region: str | None = None,
    with_user: bool = True,
) -> pd.DataFrame:
    from fairrec.rerank import RerankContext

    # a flat list without a re-ranker never reads the recent titles (the re-ranker's
    # profile does): the gate skips ordering them
    batch = request_batch(rec, users, now, f, region, n_recent=0 if reranker is None else 20)
    u = len(users)
    pers = batch.personalized
    _, cand, rel = candidates(batch, f, n_cand)
    if reranker is not None:
        valid = cand >= 0
        safe = np.maximum(cand, 0)
        ctx = RerankContext(
            profile=profile(batch, f),
            genres=f.genres_[safe],
            target=history_genre_mix(batch.histories, f.genres_),
            popularity=f.popularity_[safe],
        )
        picks = reranker.rerank(
            np.where(valid, rel, 0.0), k, vectors=f.vectors_[safe], context=ctx, valid=valid
        )
        ok = picks >= 0
        sp_ = np.maximum(picks, 0)
        items = np.where(ok, np.take_along_axis(cand, sp_, axis=1), -1)
        sc = np.where(ok, np.take_along_axis(rel, sp_, axis=1), -np.inf)
    else:
        items, sc = cand[:, :k], rel[:, :k]
    ok = items >= 0
    if u == 1:  # one viewer (recommend()): no broadcasting, one reason for every line
        it = items[0][ok[0]]
        rows = np.zeros(it.size, dtype=np.intp)
        ranks = np.arange(1, it.size + 1, dtype=np.int64)
        scores = sc[0][ok[0]].astype(np.float64)
        personal = np.full(it.size, bool(pers[0]))
    else:
        rows = np.broadcast_to(np.arange(u)[:, None], items.shape)[ok]
        ranks = np.broadcast_to(np.arange(1, items.shape[1] + 1, dtype=np.int64), items.shape)[ok]
        it = items[ok]
        scores = sc[ok].astype(np.float64)
        personal = pers[rows]
    by = "" if reranker is None else f", re-ranked by {type(reranker).__name__}"
    reason = np.where(
        personal,
        f"Among the titles most relevant to you{by} ({data_label(DATA_WATCH_HISTORY)})",
        f"Among the most watched titles{by} ({data_label(DATA_CATALOG_POPULARITY)})",
    )
    reason = cold_reasons(reason, it, batch, personal)
    # recommend() (one viewer) builds its frame without the user column rather than
    # dropping it afterwards (a pandas drop costs more than the model call)
    user_col = {C.USER: id_column(batch.user_ids, f.data_.user_ids)[rows]} if with_user else {}
    return flat_frame(
        {
            **user_col,
            C.ITEM: f.data_.item_ids[it],
            C.TITLE: f.titles_[it],
            C.SCORE: scores,
            C.RANK: ranks,
            "reason": reason,
        },
        it.size,
    )


def _text_dtype() -> Any:
    """The dtype pandas gives a column built from a numpy text array (``str`` in pandas 3)."""
    return pd.DataFrame({"a": np.array(["a"])}).dtypes["a"]


_TEXT_DTYPE = _text_dtype()


class _NotText(Exception):
    """An object column holding something else than ``str`` values."""


def _quick_frame(columns: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    """The frame of 1-D numeric, numpy-text and all-``str`` object columns, one block per
    column, through pandas' block constructor for libraries (``pandas.api.internals``,
    pandas >= 3) and pyarrow text arrays: about half the Python calls of the public
    constructor. Raises :class:`_NotText` for an object column of other values."""
    import pyarrow as pa
    from pandas.api.internals import create_dataframe_from_blocks

    blocks = []
    for j, values in enumerate(columns.values()):
        if values.dtype.kind == "O" and not values.size:
            raise _NotText  # pandas keeps an empty object column as object
        if values.dtype.kind in "UO":
            try:  # pyarrow takes only str (and None: a null) into a string array
                text = pa.array(values, type=pa.large_string())
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise _NotText from exc
            if text.null_count:
                raise _NotText
            block = pd.arrays.ArrowStringArray(text, dtype=_TEXT_DTYPE)
        else:
            block = values[None, :]
        blocks.append((block, np.array([j])))
    return create_dataframe_from_blocks(
        blocks, index=pd.RangeIndex(n), columns=pd.Index(list(columns))
    )


def _quick_frame_works() -> bool:
    """Whether :func:`_quick_frame` builds what the public constructor builds (a pandas or
    pyarrow without these constructors, or one that types a column otherwise: it is not
    used)."""
    sample = {
        "a": np.array(["x", "yz", ""]),
        "b": np.array([0.5, -1.0, np.inf]),
        "c": np.array([1, 2, 3], dtype=np.int64),
        "d": np.array(["p", "p", "q"]),
        "e": np.array([True, False, True]),
        "f": np.array(["i1", "ｉ2", "x\u200by"], dtype=object),
    }
    want = pd.DataFrame(sample, index=pd.RangeIndex(3), copy=False)
    try:
        pd.testing.assert_frame_equal(_quick_frame(sample, 3), want, check_exact=True)
        empty = {k: v[:0] for k, v in sample.items() if v.dtype != object}
        pd.testing.assert_frame_equal(
            _quick_frame(empty, 0), pd.DataFrame(empty, index=pd.RangeIndex(0)), check_exact=True
        )
    except Exception:  # noqa: BLE001 - any failure or difference: the public constructor
        return False
    return True


_QUICK = _quick_frame_works()


def flat_frame(columns: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    """``pd.DataFrame(columns)`` with a ``RangeIndex`` of ``n`` lines, the same frame.

    When every column is a 1-D numeric, numpy-text or all-``str`` object array (the flat
    lists' columns for text ids), the frame is built block by block
    (:func:`_quick_frame`), which runs about half the Python code of the public
    constructor (a 20-line list cost a fifth of ``recommend()`` through it). Checked once
    per process against the public constructor (:func:`_quick_frame_works`); any other
    column (ids that are not all ``str``), or a pandas or pyarrow where the check fails,
    takes the public constructor.
    """
    if _QUICK and all(
        isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind in "biufUO"
        for v in columns.values()
    ):
        try:
            return _quick_frame(columns, n)
        except _NotText:
            pass
    # every column is a fresh array: no copy, and the index given (pandas would infer it)
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
