"""Parsing of the values a ledger method takes: ids, times, genre / title lists, ratings."""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import pandas as pd

from fairrec._checks import check_time_ns
from fairrec._durable import iso_ns
from fairrec.consent._common import FUTURE_TOLERANCE_NS
from fairrec.data.ids import canon_id
from fairrec.errors import ConsentError, ParameterError, param_error


def utf8_text(value: str, what: str) -> str:
    """``value`` if it can be written to a UTF-8 file (no lone surrogates), else ParameterError."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ParameterError(
            f"{what} must be valid Unicode text; got {value!r}, which holds a lone surrogate "
            f"and cannot be written to a file."
        ) from None
    return value


def as_timestamp(t_ns: int) -> pd.Timestamp:
    """A time in ns as a UTC pandas Timestamp."""
    return pd.Timestamp(t_ns, tz="UTC")


def event_time(at: object, owner: str) -> int:
    """The time ``at`` given for a new event, in ns; a time more than five minutes ahead of
    the clock is refused (ConsentError)."""
    t = check_time_ns(at, "at", owner)
    if t > time.time_ns() + FUTURE_TOLERANCE_NS:
        raise ConsentError(f"{owner}: the time {iso_ns(t)} is in the future.")
    return t


def str_values(values: object, name: str, owner: str, ids: bool = False) -> tuple[str, ...]:
    """None / a single value / an iterable -> tuple of non-empty strings (ids canonicalized)."""
    if values is None:
        return ()
    if isinstance(values, (str, int, np.integer)) and not isinstance(values, bool):
        seq: list[object] = [values]
    elif isinstance(values, Iterable):
        seq = list(values)
    else:
        raise ParameterError(f"{owner}: {name} must be a list of strings; got {values!r}.")
    out = []
    for v in seq:
        if ids:
            out.append(canon_id(v, f"{owner}: an entry of {name}"))
        elif isinstance(v, str) and v.strip():
            out.append(utf8_text(v, f"{owner}: an entry of {name}"))
        else:
            raise ParameterError(
                f"{owner}: {name} must hold non-empty strings; got {v!r} in {name}."
            )
    return tuple(dict.fromkeys(out))


def maturity_arg(value: object, owner: str) -> str | int | None:
    """A maturity rating given to :meth:`ConsentLedger.exclude` (str or int) or None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, np.integer)):
        raise param_error("max_maturity", owner, "a rating (str or int) or None", value)
    if isinstance(value, str):
        if not value.strip():
            raise param_error("max_maturity", owner, "a non-empty rating", value)
        return utf8_text(value, f"{owner}: max_maturity")
    return int(value)
