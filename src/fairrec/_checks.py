"""Small typed validators of parameters, shared by every stage.

Each ``check_*`` returns the value in its plain Python type (``int``, ``float``, ``str``,
``bool``) or raises :class:`~fairrec.errors.ParameterError` with scikit-learn's wording,
naming the parameter, its owner and the value at fault::

    The 'k' parameter of MMR must be an int >= 1. Got 0 instead.

Booleans are never accepted as numbers (``True`` is an ``int`` to Python, not to a user),
NaN and infinities never as reals. ``expected=`` replaces the generated description when a
caller's existing message must stay word for word.

This module is the library's shared kernel (importable from any package, like
``fairrec._columns``); it imports nothing of fairrec but :mod:`fairrec.errors`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from fairrec.errors import param_error

__all__ = [
    "check_int",
    "check_real",
    "check_fraction",
    "check_choice",
    "check_bool",
    "check_time_ns",
    "is_int",
    "is_real",
    "listing",
]

MAX_LISTED = 5


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer (Python or numpy), and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """Whether ``value`` is a finite real number (int, float, numpy scalar), not a bool."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except (OverflowError, ValueError):  # an int too large for a float
        return False


def listing(values: Iterable[Any], limit: int = MAX_LISTED) -> str:
    """The first ``limit`` values for an error message, then how many more there are.

    Examples
    --------
    >>> listing(["a", 2, "c"], limit=2)
    "'a', 2 (and 1 more)"
    >>> listing(np.array([1, 2]))
    '1, 2'
    """
    vals = list(values)
    shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in vals[:limit])
    more = f" (and {len(vals) - limit} more)" if len(vals) > limit else ""
    return shown + more


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def check_int(
    value: Any,
    name: str,
    owner: str,
    low: int | None = 1,
    high: int | None = None,
    *,
    none: bool = False,
    expected: str | None = None,
) -> int | None:
    """``value`` as an ``int`` in ``[low, high]`` (``None`` bounds are open).

    Parameters
    ----------
    value : object
        The value given by the caller.
    name, owner : str
        The parameter's name and the function or class it belongs to (for the message).
    low, high : int or None, default 1 and None
        Inclusive bounds; the default is the common "an int >= 1".
    none : bool, default False
        Accept ``None`` (returned as is).
    expected : str, optional
        The description of a valid value in the message (default: generated from the bounds).

    Returns
    -------
    int or None

    Raises
    ------
    ParameterError
        ``value`` is not an integer (a bool is not), or lies outside the bounds.

    Examples
    --------
    >>> check_int(3, "k", "MMR")
    3
    >>> check_int(0, "k", "MMR")
    Traceback (most recent call last):
    ...
    fairrec.errors.ParameterError: The 'k' parameter of MMR must be an int >= 1. Got 0 instead.
    """
    if value is None and none:
        return None
    if expected is None:
        if low is not None and high is not None:
            expected = f"an int in [{low}, {high}]"
        elif low is not None:
            expected = f"an int >= {low}"
        elif high is not None:
            expected = f"an int <= {high}"
        else:
            expected = "an int"
        if none:
            expected = f"None or {expected}"
    if not is_int(value):
        raise param_error(name, owner, expected, value)
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise param_error(name, owner, expected, value)
    return v


def check_real(
    value: Any,
    name: str,
    owner: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    none: bool = False,
    expected: str | None = None,
) -> float | None:
    """``value`` as a finite ``float`` in the interval given by ``low`` and ``high``.

    Parameters
    ----------
    value : object
        The value given by the caller.
    name, owner : str
        The parameter's name and the function or class it belongs to.
    low, high : float or None
        Bounds (``None``: unbounded on that side). Inclusive unless ``low_open`` /
        ``high_open``.
    low_open, high_open : bool, default False
        Exclude the bound itself.
    none : bool, default False
        Accept ``None`` (returned as is).
    expected : str, optional
        The description of a valid value in the message (default: "a float in [low, high]").

    Returns
    -------
    float or None

    Raises
    ------
    ParameterError
        ``value`` is not a real number (bools, strings, NaN and infinities are not), or lies
        outside the interval.

    Examples
    --------
    >>> check_real(0.5, "lambda_", "MMR", 0, 1)
    0.5
    >>> check_real(1.5, "lambda_", "MMR", 0, 1)
    Traceback (most recent call last):
    ...
    fairrec.errors.ParameterError: The 'lambda_' parameter of MMR must be a float in [0, 1]. Got 1.5 instead.
    """
    if value is None and none:
        return None
    if expected is None:
        left = "(-inf" if low is None else ("(" if low_open else "[") + _fmt(low)
        right = "inf)" if high is None else _fmt(high) + (")" if high_open else "]")
        expected = f"a float in {left}, {right}"
        if none:
            expected = f"None or {expected}"
    if not is_real(value):
        raise param_error(name, owner, expected, value)
    v = float(value)
    if low is not None and (v < low or (low_open and v == low)):
        raise param_error(name, owner, expected, value)
    if high is not None and (v > high or (high_open and v == high)):
        raise param_error(name, owner, expected, value)
    return v


def check_fraction(
    value: Any,
    name: str,
    owner: str,
    *,
    low_open: bool = False,
    high_open: bool = False,
    expected: str | None = None,
) -> float:
    """``value`` as a float in ``[0, 1]`` (ends excluded with ``low_open`` / ``high_open``).

    Raises
    ------
    ParameterError
        As :func:`check_real`.

    Examples
    --------
    >>> check_fraction(1, "keep", "LiveConfig")
    1.0
    >>> check_fraction(0.0, "head_share", "LongTail", low_open=True, high_open=True)
    Traceback (most recent call last):
    ...
    fairrec.errors.ParameterError: The 'head_share' parameter of LongTail must be a float in (0, 1). Got 0.0 instead.
    """
    out = check_real(
        value, name, owner, 0.0, 1.0, low_open=low_open, high_open=high_open, expected=expected
    )
    assert out is not None
    return out


def check_choice(
    value: Any, name: str, owner: str, choices: Iterable[str], *, none: bool = False
) -> str | None:
    """``value`` if it is one of ``choices`` (exact match), else ParameterError listing them.

    Examples
    --------
    >>> check_choice("raise", "on_forgotten", "ConsentLedger.import_frame", ("raise", "skip"))
    'raise'
    """
    options = tuple(choices)
    if value is None and none:
        return None
    if not isinstance(value, str) or value not in options:
        expected = "one of " + ", ".join(repr(c) for c in options)
        if none:
            expected += " or None"
        raise param_error(name, owner, expected, value)
    return value


def check_bool(value: Any, name: str, owner: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (numpy bools too), else ParameterError.

    Examples
    --------
    >>> check_bool(False, "fsync", "AuditLog")
    False
    """
    if not isinstance(value, (bool, np.bool_)):
        raise param_error(name, owner, "True or False", value)
    return bool(value)


def check_time_ns(value: Any, name: str, owner: str) -> int:
    """A point in time as integer nanoseconds since the Unix epoch, UTC.

    ``value`` is a datetime, pandas Timestamp, numpy datetime64, ISO-8601 string or Unix
    seconds (int or float); a naive time is read as UTC.

    Raises
    ------
    ParameterError
        ``value`` is none of those (a bool is not a time), is NaT, or lies outside the range
        of nanosecond timestamps (1677 to 2262).

    Examples
    --------
    >>> check_time_ns("1970-01-01T00:00:01Z", "at", "ConsentLedger.grant")
    1000000000
    >>> check_time_ns(1.5, "at", "ConsentLedger.grant")
    1500000000
    """
    expected = "a datetime, pandas Timestamp, ISO-8601 string or Unix seconds"
    if isinstance(value, (bool, np.bool_)):
        raise param_error(name, owner, expected, value)
    try:
        if isinstance(value, (int, float, np.integer, np.floating)):
            ts = pd.Timestamp(float(value), unit="s", tz="UTC")
        else:
            ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        raise param_error(name, owner, expected, value) from None
    if ts is pd.NaT or pd.isna(ts):
        raise param_error(name, owner, expected, value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    try:
        return int(ts.as_unit("ns").value)
    except (OverflowError, pd.errors.OutOfBoundsDatetime, ValueError):
        raise param_error(name, owner, "a time between 1677 and 2262", value) from None
