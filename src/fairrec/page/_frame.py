"""The one writer of page frames: columns in, a frame with :data:`FRAME_DTYPES` out.

Both routes to a page frame end here: :func:`pages_to_frame` (and ``HomePage.to_frame``)
turn page objects into columns, and the serving stage's batch assembly turns its arrays into
the same columns without building objects; :func:`frame_from_columns` types them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from fairrec._columns import ITEM, POSITION, ROW, SCORE, TITLE, USER
from fairrec.errors import DataError
from fairrec.page._home import HomePage
from fairrec.page._schema import FRAME_COLUMNS, FRAME_DTYPES, data_used_cell, evidence_cell
from fairrec.page._validate import describe


def frame_from_columns(columns: Mapping[str, Any]) -> pd.DataFrame:
    """Write page lines given column by column as a frame with the page frame's schema.

    This is the one writer behind :meth:`HomePage.to_frame`, :func:`pages_to_frame` and the
    recommender's batch pages, so every page frame has the same columns, order and dtypes.

    Parameters
    ----------
    columns : mapping of str to sequence
        Exactly the columns of :data:`FRAME_COLUMNS`, one value per line, all of one length,
        lines already in their final order. Id columns (``user_id``, ``item_id``) hold plain
        ``int`` or ``str`` values (a numeric numpy array is converted to ``int``); the
        ``data_used`` and ``evidence`` cells are already written with
        :func:`data_used_cell` and :func:`evidence_cell`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FRAME_COLUMNS` with dtypes :data:`FRAME_DTYPES` and a ``RangeIndex``;
        empty, with the same schema, for zero lines.

    Raises
    ------
    DataError
        If a column is missing or unknown, the columns differ in length, or ``row`` or
        ``position`` holds anything but integers.

    Examples
    --------
    >>> frame_from_columns({name: [] for name in FRAME_COLUMNS}).shape
    (0, 12)
    """
    if not isinstance(columns, Mapping):
        raise DataError(
            f"columns must be a mapping of column name to values; got {describe(columns)}."
        )
    missing = [name for name in FRAME_COLUMNS if name not in columns]
    if missing:
        raise DataError(f"page frame columns {missing} are missing.")
    unknown = sorted(map(str, set(columns) - set(FRAME_COLUMNS)))
    if unknown:
        raise DataError(
            f"page frame has unknown column(s) {unknown}; expected {list(FRAME_COLUMNS)}."
        )
    lengths = {name: len(columns[name]) for name in FRAME_COLUMNS}
    if len(set(lengths.values())) > 1:
        raise DataError(f"page frame columns differ in length: {lengths}.")
    return pd.DataFrame(
        {name: _typed(name, columns[name], FRAME_DTYPES[name]) for name in FRAME_COLUMNS}
    )


def _typed(name: str, values: Any, dtype: str) -> Any:
    if dtype == "string":
        return pd.array(values, dtype="string")
    if dtype == "object":
        if isinstance(values, np.ndarray) and values.dtype != object:
            values = values.tolist()  # numpy integers -> int
        if isinstance(values, np.ndarray):
            return pd.Series(values, dtype=object, copy=False)
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return pd.Series(out, dtype=object)  # pandas >= 3 would infer "str" from an array
    if dtype == "int64":
        ints = np.asarray(values)
        if len(ints) and ints.dtype.kind not in "iu":  # 1.5 would be cut to 1 without a word
            raise DataError(f"page frame column {name!r} must hold ints; got dtype {ints.dtype}.")
        return ints.astype(np.int64, copy=False)
    return np.asarray(values, dtype=dtype)


def pages_to_frame(pages: Iterable[HomePage]) -> pd.DataFrame:
    """Concatenate many pages into one frame with the schema of :meth:`HomePage.to_frame`.

    Columns are built from flat lists in one pass, not by concatenating per-page frames,
    and written by :func:`frame_from_columns`.

    Parameters
    ----------
    pages : iterable of HomePage
        Pages, e.g. one per viewer of a batch.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FRAME_COLUMNS` with dtypes :data:`FRAME_DTYPES`, a ``RangeIndex``;
        empty (with the same schema) when there are no items.

    Raises
    ------
    DataError
        If an element of ``pages`` is not a :class:`HomePage`.
    """
    if isinstance(pages, HomePage):
        pages = (pages,)
    users: list[Any] = []
    row_idx: list[int] = []
    row_titles: list[str] = []
    row_kinds: list[str] = []
    positions: list[int] = []
    item_ids: list[Any] = []
    titles: list[str] = []
    scores: list[float] = []
    reason_kinds: list[str] = []
    reasons: list[str] = []
    data_used: list[str] = []
    evidence: list[str] = []
    joined: dict[tuple[str, ...], str] = {}
    for page_no, page in enumerate(pages):
        if not isinstance(page, HomePage):
            raise DataError(f"pages[{page_no}] must be a HomePage; got {describe(page)}.")
        user = page.user_id
        for index, row in enumerate(page.rows):
            n = len(row.items)
            if n == 0:
                continue
            users.extend([user] * n)
            row_idx.extend([index] * n)
            row_titles.extend([row.title] * n)
            row_kinds.extend([row.kind] * n)
            positions.extend(range(n))
            for item in row.items:
                reason = item.reason
                item_ids.append(item.item_id)
                titles.append(item.title)
                scores.append(item.score)
                reason_kinds.append(reason.kind)
                reasons.append(reason.text)
                cats = reason.data_used
                text = joined.get(cats)
                if text is None:
                    text = joined[cats] = data_used_cell(cats)
                data_used.append(text)
                evidence.append(evidence_cell(reason.evidence))
    return frame_from_columns(
        {
            USER: users,
            ROW: row_idx,
            "row_title": row_titles,
            "row_kind": row_kinds,
            POSITION: positions,
            ITEM: item_ids,
            TITLE: titles,
            SCORE: scores,
            "reason_kind": reason_kinds,
            "reason": reasons,
            "data_used": data_used,
            "evidence": evidence,
        }
    )
