"""Parsing and validation of consent tables exported by consent-management platforms."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairrec._checks import check_time_ns
from fairrec._columns import ITEM, TIME, USER
from fairrec._durable import iso_ns
from fairrec.consent._common import _CONSENT_OPS, FUTURE_TOLERANCE_NS
from fairrec.consent._parse import utf8_text
from fairrec.consent.purposes import canonical_purpose, normalize_word
from fairrec.data.ids import canon_id
from fairrec.errors import ConsentError, ParameterError, UnknownPurposeError

# --------------------------------------------------------------------------------------------
# parsing of consent tables (stateless)
# --------------------------------------------------------------------------------------------

_TABLE_COLUMNS = (USER, "action", "purpose", TIME, "genre", ITEM, "max_maturity")

_ACTION_ALIASES: dict[str, str] = {
    spelling: action
    for action, spellings in {
        "grant": "grant granted allow allowed accept accepted opt_in optin consent consented "
        "given yes y true 1",
        "revoke": "revoke revoked withdraw withdrawn",
        "deny": "deny denied reject rejected decline declined refuse refused opt_out optout "
        "no n false 0",
        "exclude": "exclude excluded",
        "include": "include included",
        "like": "like liked",
        "dislike": "dislike disliked",
    }.items()
    for spelling in spellings.split()
}


@dataclass
class _Table:
    users: np.ndarray  # object, canonical str
    ops: np.ndarray  # object: grant / revoke / deny / exclude / include / like / dislike
    purposes: np.ndarray  # object: canonical purpose or None
    times: np.ndarray  # int64 ns
    genres: np.ndarray  # object: str or None
    items: np.ndarray  # object: canonical str or None
    maturity: np.ndarray  # object: str / int or None
    now: int  # the import time given to rows without a timestamp


def _row(df: pd.DataFrame, pos: int) -> str:
    label = df.index[pos]
    if isinstance(label, (int, np.integer)) and int(label) == pos:
        return f"row {pos}"
    return f"row {pos} (index {label!r})"


class _BadCell(ValueError):
    pass


def _cell_missing(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _map_cells(
    df: pd.DataFrame, col: str | None, canon: str, fn: Any, required: bool
) -> np.ndarray:
    """Apply ``fn`` to each distinct value of a column (missing -> None), naming bad rows."""
    n = len(df)
    if col is None:
        return np.full(n, None, dtype=object)
    series = df[col]
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts, sets): name the first one
        for row, value in enumerate(series.tolist()):
            try:
                hash(value)
            except TypeError:
                raise ConsentError(
                    f"{_row(df, row)}, column {canon!r}: a cell holds {value!r} of type "
                    f"{type(value).__name__}; expected a single value. Nothing was imported."
                ) from None
        raise
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[-1] = None
    for j, value in enumerate(uniques):
        try:
            mapped[j] = None if _cell_missing(value) else fn(value)
        except (_BadCell, ParameterError, UnknownPurposeError) as exc:
            row = int(np.flatnonzero(codes == j)[0])
            msg = str(exc)
            if isinstance(exc, UnknownPurposeError):
                raise UnknownPurposeError(
                    f"{_row(df, row)}, column {canon!r}: {msg} Nothing was imported."
                ) from None
            raise ConsentError(
                f"{_row(df, row)}, column {canon!r}: {msg} Nothing was imported."
            ) from None
    out = mapped[codes]  # codes == -1 picks the trailing None
    if required:
        missing = np.flatnonzero(pd.isna(out))
        if missing.size:
            raise ConsentError(
                f"{_row(df, int(missing[0]))}, column {canon!r}: missing value. Nothing was "
                f"imported."
            )
    return out


def _table_id(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer():
            return str(int(value))
        raise _BadCell(f"id {value!r} is not a str or int")
    try:
        return canon_id(value, "id")
    except ParameterError as exc:
        raise _BadCell(str(exc)) from None


def _table_action(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "grant" if value else "deny"
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return "grant" if int(value) else "deny"
    if isinstance(value, str):
        canon = _ACTION_ALIASES.get(normalize_word(value))
        if canon is not None:
            return canon
    raise _BadCell(
        f"unknown action {value!r}. Use grant / granted / opt-in, revoke / withdrawn, "
        f"deny / denied / opt-out, exclude, include, like or dislike."
    )


def _table_text(value: str, what: str) -> str:
    try:
        return utf8_text(value, what)
    except ParameterError as exc:
        raise _BadCell(str(exc)) from None


def _table_genre(value: object) -> str:
    if isinstance(value, str):
        return _table_text(value, "a genre")
    raise _BadCell(f"a genre must be a string; got {value!r}")


def _table_maturity(value: object) -> str | int:
    if isinstance(value, str):
        return _table_text(value, "a maturity rating")
    if isinstance(value, (bool, np.bool_)):
        raise _BadCell(f"bad maturity rating {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise _BadCell(f"bad maturity rating {value!r}")


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _first_bad_time(series: pd.Series, present: np.ndarray) -> int:
    """Row of the first value that does not parse on its own (only on the error path)."""
    for r in np.flatnonzero(present).tolist():
        v = series.iloc[r]
        try:
            check_time_ns(v, "timestamp", "import")
        except ParameterError:
            return int(r)
    return int(np.flatnonzero(present)[0]) if present.any() else 0


def _table_times(df: pd.DataFrame, col: str | None, now: int) -> np.ndarray:
    n = len(df)
    if col is None:
        return np.full(n, now, dtype=np.int64)
    series = df[col]
    present = ~series.map(_cell_missing).to_numpy(dtype=bool)
    try:
        if pd.api.types.is_bool_dtype(series):
            raise TypeError
        if pd.api.types.is_numeric_dtype(series):
            parsed = pd.to_datetime(series.astype("float64"), unit="s", utc=True, errors="coerce")
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            parsed = series.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(series):
            parsed = series.dt.tz_localize("UTC")
        else:  # strings, datetimes, and possibly numbers (Unix seconds) in one object column
            numeric = series.map(_is_number).to_numpy(dtype=bool) & present
            texts = series.where(present & ~numeric, None).astype(object)
            parsed = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
            if numeric.any():
                secs = pd.to_numeric(series.where(numeric, np.nan), errors="coerce")
                from_secs = pd.to_datetime(secs, unit="s", utc=True, errors="coerce")
                parsed = parsed.dt.as_unit("ns").where(~numeric, from_secs.dt.as_unit("ns"))
        parsed = parsed.dt.as_unit("ns")
    except (TypeError, ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        bad = _first_bad_time(series, present)
        raise ConsentError(
            f"{_row(df, bad)}, column 'timestamp': cannot read {series.iloc[bad]!r} as a time "
            f"between 1677 and 2262 (column dtype {series.dtype}); use ISO-8601 strings, "
            f"datetimes or Unix seconds. Nothing was imported."
        ) from None
    bad = np.flatnonzero(present & parsed.isna().to_numpy())
    if bad.size:
        r = int(bad[0])
        raise ConsentError(
            f"{_row(df, r)}, column 'timestamp': cannot read {series.iloc[r]!r} as a time "
            f"(use ISO-8601, a datetime or Unix seconds). Nothing was imported."
        )
    values = (
        parsed.array.asi8.copy()
        if hasattr(parsed.array, "asi8")
        else parsed.to_numpy().astype("int64")
    )
    values[~present] = now
    future = np.flatnonzero(values > time.time_ns() + FUTURE_TOLERANCE_NS)
    if future.size:
        r = int(future[0])
        raise ConsentError(
            f"{_row(df, r)}, column 'timestamp': {iso_ns(int(values[r]))} is in the future. "
            f"Nothing was imported."
        )
    return values.astype(np.int64)


def _parse_table(df: object) -> _Table | None:
    """Stateless parsing and validation of a consent table (None when it has no rows)."""
    if not isinstance(df, pd.DataFrame):
        raise ConsentError(f"a consent table must be a pandas DataFrame; got {type(df).__name__}.")
    found: dict[str, str] = {}
    for col in df.columns:
        if not isinstance(col, str):
            continue
        canon = normalize_word(col)
        if canon in _TABLE_COLUMNS:
            if canon in found:
                raise ConsentError(
                    f"the consent table has two columns for {canon!r}: {found[canon]!r} and "
                    f"{col!r}."
                )
            found[canon] = col
    for req in (USER, "action"):
        if req not in found:
            raise ConsentError(
                f"the consent table has no column {req!r} (columns: {list(df.columns)!r}); "
                f"required: 'user_id', 'action', and 'purpose' for grant/revoke rows."
            )
    if len(df) == 0:
        return None
    now = time.time_ns()
    users = _map_cells(df, found[USER], USER, _table_id, required=True)
    ops = _map_cells(df, found["action"], "action", _table_action, required=True)
    purposes = _map_cells(df, found.get("purpose"), "purpose", lambda v: canonical_purpose(v), False)
    genres = _map_cells(df, found.get("genre"), "genre", _table_genre, False)
    items = _map_cells(df, found.get(ITEM), ITEM, _table_id, False)
    maturity = _map_cells(df, found.get("max_maturity"), "max_maturity", _table_maturity, False)
    times = _table_times(df, found.get(TIME), now)

    consent = np.isin(ops, list(_CONSENT_OPS))
    has_p = ~pd.isna(purposes)
    has_g = ~pd.isna(genres)
    has_i = ~pd.isna(items)
    has_m = ~pd.isna(maturity)
    likes = np.isin(ops, ["like", "dislike"])

    def fail(mask: np.ndarray, column: str, why: str) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            r = int(bad[0])
            raise ConsentError(
                f"{_row(df, r)}, column {column!r}: {why.format(op=ops[r])} Nothing was imported."
            )

    fail(consent & ~has_p, "purpose", "a {op!r} row needs a purpose.")
    fail(~consent & has_p, "purpose", "a {op!r} row takes no purpose (leave it empty).")
    fail(consent & has_g, "genre", "a {op!r} row takes no genre.")
    fail(consent & has_i, ITEM, "a {op!r} row takes no item_id.")
    fail(consent & has_m, "max_maturity", "a {op!r} row takes no max_maturity.")
    fail(likes & has_m, "max_maturity", "a {op!r} row takes no max_maturity.")
    fail(
        ~consent & ~has_g & ~has_i & ~(has_m & ~likes),
        "genre",
        "a {op!r} row needs a genre, an item_id or (exclude / include) a max_maturity.",
    )
    return _Table(users, ops, purposes, times, genres, items, maturity, now)
