"""Validation of the input columns of a :class:`~fairrec.data.Dataset` and of its ids.

Each check raises :class:`~fairrec.errors.DataError` naming the column, the values and the
rows at fault; nothing here builds a dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairrec._checks import listing
from fairrec.data.ids import canon_ids
from fairrec.errors import DataError, ParameterError


def _require_frame(obj: Any, what: str) -> pd.DataFrame:
    if not isinstance(obj, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame. Got {type(obj).__name__} instead.")
    return obj


def _require_columns(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"{what} has no column {listing(missing)}; its columns are {list(map(str, df.columns))}."
        )
    doubled = [c for c in dict.fromkeys(cols) if int((df.columns == c).sum()) > 1]
    if doubled:
        raise DataError(f"{what} has several columns named {listing(doubled)}; keep one of each.")


def _ids(series: pd.Series, col: str, what: str) -> np.ndarray:
    """Validate an id column: no missing values, hashable scalars; returns an object/int array."""
    null = series.isna().to_numpy()
    if null.any():
        rows = np.flatnonzero(null)
        raise DataError(
            f"Column {col!r} of {what} has {len(rows)} missing id(s) (NaN/None) at row(s) "
            f"{listing(rows)}."
        )
    values = series.to_numpy()
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            bad = values[~np.isfinite(values) | (values != np.round(values))]
            raise DataError(
                f"Column {col!r} of {what} holds non-integer float ids: {listing(bad)}."
            )
        huge = np.abs(values) >= 2.0**63  # would wrap around silently in int64
        if huge.any():
            raise DataError(
                f"Column {col!r} of {what} holds float ids too large for 64-bit integers: "
                f"{listing(values[huge])}."
            )
        values = values.astype(np.int64)
    elif values.dtype.kind not in "iu":
        values = values.astype(object)
        kind = pd.api.types.infer_dtype(values, skipna=False)
        if kind not in ("string", "integer"):
            # "mixed-integer" also covers ints mixed with floats, bools or other objects
            bad = [
                v
                for v in values
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (str, int, np.integer))
            ]
            if bad or kind != "mixed-integer":
                raise DataError(
                    f"Column {col!r} of {what} holds ids that are neither str nor int: "
                    f"{listing(bad)}."
                )
        _check_text_ids(values, col, what)
    return values


def _check_text_ids(values: np.ndarray, col: str, what: str) -> None:
    """String ids must be writable as UTF-8 (consent and model files)."""
    _check_utf8([v for v in pd.unique(values) if isinstance(v, str)], col, what)


def _check_utf8(texts: list[str], col: str, what: str) -> None:
    """Text must be writable as UTF-8 (model and consent files): no lone surrogates."""
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        bad = []
        for v in texts:
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                bad.append(v)
        raise DataError(
            f"Column {col!r} of {what} holds text with lone surrogates, which cannot be "
            f"written to a file: {listing(bad)}."
        ) from None


def _missing(value: Any) -> bool:
    """A missing scalar (None, NaN, NA, NaT); containers are never 'missing'."""
    if isinstance(value, (list, tuple, set, frozenset, dict, np.ndarray)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _numbers(series: pd.Series, col: str, what: str) -> np.ndarray:
    """A numeric column as float64, or DataError naming the cells that are not numbers."""
    try:
        return pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as exc:
        coerced = pd.to_numeric(series, errors="coerce")
        bad = series[coerced.isna() & series.notna()]
        raise DataError(
            f"Column {col!r} holds non-numeric {what}: {listing(bad.tolist())}."
        ) from exc


def parse_weights(series: pd.Series, col: str) -> np.ndarray:
    """Validate an implicit-feedback weight column: finite numbers >= 0, stored as float32.

    Parameters
    ----------
    series : pandas.Series
        The column.
    col : str
        Its name, for the error message.

    Returns
    -------
    numpy.ndarray of float32

    Raises
    ------
    fairrec.errors.DataError
        A weight is not a number, is negative, NaN or infinite, or exceeds float32 (the
        message names the values and rows).

    Examples
    --------
    >>> parse_weights(pd.Series([1, 2.5]), "weight").tolist()
    [1.0, 2.5]
    """
    w = _numbers(series, col, "weights")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"Column {col!r} holds {len(rows)} invalid weight(s) (negative, NaN or inf): "
            f"{listing(w[rows])} at row(s) {listing(rows)}."
        )
    huge = w > np.finfo(np.float32).max  # stored as float32: would silently become inf
    if huge.any():
        rows = np.flatnonzero(huge)
        raise DataError(
            f"Column {col!r} holds {len(rows)} weight(s) above 3.4e38, the float32 limit: "
            f"{listing(w[rows])} at row(s) {listing(rows)}."
        )
    return w.astype(np.float32)


def parse_ratings(series: pd.Series, col: str) -> np.ndarray:
    """Validate an explicit-feedback column: finite numbers (any scale), stored as float32.

    Raises
    ------
    fairrec.errors.DataError
        A rating is not a number, NaN, infinite or beyond float32.
    """
    r = _numbers(series, col, "ratings")
    bad = ~np.isfinite(r) | (np.abs(r) > np.finfo(np.float32).max)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"Column {col!r} holds {len(rows)} invalid rating(s) (NaN, inf or beyond float32): "
            f"{listing(r[rows])} at row(s) {listing(rows)}."
        )
    return r.astype(np.float32)


def parse_timestamps(series: pd.Series, col: str) -> np.ndarray:
    """Parse a time column to naive-UTC ``datetime64[ns]``; numbers are Unix seconds.

    Datetimes, ISO-8601 strings (with or without an offset; naive ones are UTC) and numbers
    are accepted.

    Raises
    ------
    fairrec.errors.DataError
        A time is missing, unparsable, not finite, or outside the years 1677 to 2262.

    Examples
    --------
    >>> parse_timestamps(pd.Series(["1970-01-01T01:00:00+01:00", 60]), "t").astype(int).tolist()
    [0, 60000000000]
    """
    if series.isna().any():
        rows = np.flatnonzero(series.isna().to_numpy())
        raise DataError(
            f"Column {col!r} has {len(rows)} missing timestamp(s) at row(s) {listing(rows)}."
        )
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        vals = series.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(vals)):
            raise DataError(
                f"Column {col!r} holds non-finite timestamps: {listing(vals[~np.isfinite(vals)])}."
            )
        parsed = pd.to_datetime(vals, unit="s", errors="coerce")
    else:
        values = series.astype(object).reset_index(drop=True)
        numbers = values.map(_is_number).to_numpy(dtype=bool)
        texts = values.where(~numbers, None) if numbers.any() else values
        try:
            parsed = pd.to_datetime(texts, errors="coerce", utc=True, format="mixed")
        except (TypeError, ValueError, OverflowError):
            try:
                text = texts.map(lambda v: v if v is None else str(v))
                parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
            except (TypeError, ValueError, OverflowError) as exc:
                raise DataError(f"Column {col!r} holds unparsable timestamps: {exc}.") from exc
        if numbers.any():  # numbers among text are Unix seconds too, as in a numeric column
            secs = pd.to_numeric(values.where(numbers, np.nan), errors="coerce")
            with np.errstate(invalid="ignore", over="ignore"):
                from_secs = pd.to_datetime(secs, unit="s", utc=True, errors="coerce")
            try:
                parsed = pd.Series(pd.DatetimeIndex(parsed).as_unit("ns")).where(
                    ~numbers, pd.Series(pd.DatetimeIndex(from_secs).as_unit("ns"))
                )
            except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
                raise _out_of_range(col, pd.DatetimeIndex(parsed)) from exc
    parsed = pd.DatetimeIndex(parsed)
    bad = parsed.isna()
    if bad.any():
        raise DataError(
            f"Column {col!r} holds unparsable timestamps: {listing(series[bad].tolist())}."
        )
    if parsed.tz is not None:
        parsed = parsed.tz_convert("UTC").tz_localize(None)
    try:
        return parsed.as_unit("ns").to_numpy()
    except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise _out_of_range(col, parsed) from exc


def _out_of_range(col: str, parsed: pd.DatetimeIndex) -> DataError:
    """The error for times outside what ``datetime64[ns]`` holds."""
    return DataError(
        f"Column {col!r} holds timestamps outside the years 1677 to 2262, which fairrec "
        f"cannot represent (e.g. {parsed.min()} .. {parsed.max()})."
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def parse_genres(value: Any) -> tuple[str, ...]:
    """Normalize one catalog ``genres`` cell to a tuple of genre names.

    Accepts a list/tuple/array of str, a ``"|"``-separated string, or a missing value.

    Examples
    --------
    >>> parse_genres("Action|Sci-Fi")
    ('Action', 'Sci-Fi')
    >>> parse_genres(None)
    ()
    """
    if value is None or value is pd.NA:
        return ()
    if isinstance(value, str):
        return tuple(g.strip() for g in value.split("|") if g.strip())
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        out = []
        for g in value:
            if not isinstance(g, str):
                raise DataError(f"Column 'genres' holds a non-string genre {g!r}.")
            if g.strip():
                out.append(g.strip())
        return tuple(out)
    if isinstance(value, float) and np.isnan(value):
        return ()
    raise DataError(
        f"Column 'genres' must hold lists of str or '|'-separated strings. Got {value!r}."
    )


def _canonical(values: np.ndarray, col: str, what: str) -> np.ndarray:
    """Canonical forms of an id column (:func:`fairrec.ids.canon_ids`); DataError if invalid."""
    try:
        return canon_ids(values, f"column {col!r} of {what}")
    except ParameterError as exc:
        raise DataError(str(exc)) from None


def _factorize_raw(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` keeping each id's type (ints stay ints in an object array)."""
    raw = np.asarray(raw)
    codes, uniques = pd.factorize(raw, sort=False)
    uniques = np.asarray(uniques)
    if raw.dtype.kind == "O" and uniques.dtype.kind != "O":
        uniques = uniques.astype(object)
    return codes, uniques


def _factorize_ids(
    raw: np.ndarray, col: str, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes by canonical id (order of first appearance), the external id of each code and
    its canonical form.

    Two different external spellings of one canonical id (``1`` and ``"01"``) are a
    :class:`DataError`: fairrec would otherwise have to pick which one is the viewer.
    """
    raw_codes, raw_uniques = _factorize_raw(raw)
    canon_u = _canonical(raw_uniques, col, what)
    ucodes, canon = pd.factorize(canon_u, sort=False)
    if len(canon) != len(raw_uniques):
        pairs = [
            " / ".join(repr(v) for v in raw_uniques[ucodes == c].tolist())
            for c in np.flatnonzero(np.bincount(ucodes) > 1)
        ]
        raise DataError(
            f"Column {col!r} of {what} spells one id in several ways: {listing(pairs)}. "
            "fairrec treats them as one id (1 == '1' == '01' == ' 1'); keep one spelling."
        )
    # ucodes is a permutation of 0..k-1 in order of first appearance: the identity
    return raw_codes, raw_uniques, np.asarray(canon_u, dtype=object)
