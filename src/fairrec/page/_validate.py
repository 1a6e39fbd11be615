"""Field checks of the page objects: each raises ``DataError`` naming the field and the value."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from fairrec.errors import DataError
from fairrec.page._schema import SEP

#: ``object.__new__``: an instance whose fields the trusted constructors set
new = object.__new__


def set_field(obj: object, name: str, value: object) -> None:
    """Set a field of a frozen dataclass (its normalised value, in ``__post_init__``)."""
    object.__setattr__(obj, name, value)


def describe(value: object) -> str:
    """``repr`` of a value cut to 60 characters, with its type: for error messages."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def check_str(value: object, name: str, *, allow_empty: bool = False) -> str:
    if type(value) is str and (allow_empty or value[:1].strip()):
        return value  # fast path: a plain str that does not start with whitespace
    if not isinstance(value, str):
        raise DataError(f"{name} must be a str; got {describe(value)}.")
    if not allow_empty and not value.strip():
        raise DataError(f"{name} must be a non-empty str; got {value!r}.")
    return str(value)  # plain str, also for numpy.str_


def check_id(value: object, name: str) -> str | int:
    if (type(value) is str and value) or type(value) is int:
        return value  # fast path
    if isinstance(value, str):
        if not value:
            raise DataError(f"{name} must be a non-empty str or an int; got ''.")
        return str(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise DataError(f"{name} must be a str or an int; got {describe(value)}.")
    return int(value)


def check_tuple(value: object, name: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise DataError(f"{name} must be a tuple or list; got {describe(value)}.")
    return tuple(value)


def check_categories(value: object, name: str) -> tuple[str, ...]:
    out: list[str] = []
    for i, category in enumerate(check_tuple(value, name)):
        category = check_str(category, f"{name}[{i}]")
        if SEP in category:
            raise DataError(f"{name}[{i}] must not contain {SEP!r}; got {category!r}.")
        if category not in out:
            out.append(category)
    return tuple(out)


def check_score(value: object, name: str) -> float:
    if type(value) is float and math.isfinite(value):
        return value  # fast path
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise DataError(f"{name} must be a real number; got {describe(value)}.")
    score = float(value)
    if not math.isfinite(score):
        raise DataError(f"{name} must be finite; got {score!r}.")
    return score


def check_evidence(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise DataError(f"{name} must be a dict or None; got {describe(value)}.")
    try:
        text = json.dumps(dict(value), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must hold JSON values only (str keys); {exc}.") from None
    return json.loads(text)


def check_timestamp(value: object) -> pd.Timestamp:
    if isinstance(value, (bool, np.bool_, numbers.Number)):
        raise DataError(f"HomePage.generated_at must be a timestamp; got {describe(value)}.")
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"HomePage.generated_at must be a timestamp; got {describe(value)} ({exc})."
        ) from None
    if ts is pd.NaT or pd.isna(ts):
        raise DataError(f"HomePage.generated_at must be a timestamp; got {describe(value)}.")
    return ts


def check_consent_version(value: object) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise DataError(f"HomePage.consent_version must be an int or None; got {describe(value)}.")
    return int(value)
