"""Input checks of the metric frames, id codes, and the small array helpers of the kernels.

Ids are mapped to integer codes once with pandas (:func:`_factorize`); everything after that
is numpy work on code arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec._checks import MAX_LISTED, listing
from fairrec.errors import DataError

ItemFeatures = pd.DataFrame | pd.Series


def _check_frame(df: Any, what: str, cols: Sequence[str]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame. Got {type(df).__name__} instead.")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"{what} has no column {listing(missing)}; its columns are "
            f"{[str(c) for c in df.columns]}. Pass the column names by keyword "
            "(user_col=, item_col=, rank_col=, row_col=, position_col=)."
        )
    return df


def _id_kind(s: pd.Series, col: str, what: str) -> str | None:
    """'number' or 'string' (None for an empty column); raises on missing or odd ids."""
    if len(s) == 0:
        return None
    null = s.isna().to_numpy()
    if null.any():
        rows = np.flatnonzero(null)
        raise DataError(
            f"Column {col!r} of {what} has {len(rows)} missing id(s) at row(s) {listing(rows)}."
        )
    if pd.api.types.is_bool_dtype(s):
        raise DataError(f"Column {col!r} of {what} holds booleans, not ids.")
    if pd.api.types.is_numeric_dtype(s):
        return "number"
    inferred = pd.api.types.infer_dtype(s, skipna=False)
    if inferred == "string":
        return "string"
    if inferred == "integer":
        return "number"
    raise DataError(
        f"Column {col!r} of {what} must hold str or int ids; found {inferred!r} values "
        f"such as {listing(s.head(MAX_LISTED).tolist())}."
    )


def _factorize(parts: list[tuple[pd.Series, str]], col: str) -> tuple[list[np.ndarray], pd.Index]:
    """Map several id columns to one code space (codes in order of first appearance)."""
    parts = [
        (s.astype(s.cat.categories.dtype) if isinstance(s.dtype, pd.CategoricalDtype) else s, w)
        for s, w in parts
    ]
    kinds = {what: _id_kind(s, col, what) for s, what in parts}
    seen = {k for k in kinds.values() if k is not None}
    if len(seen) > 1:
        detail = ", ".join(f"{kind} ids in {what}" for what, kind in kinds.items() if kind)
        raise DataError(
            f"Column {col!r} mixes id types across frames ({detail}); an int id never equals a "
            "str id, so nothing would match. Convert the ids to one type."
        )
    series = [s.reset_index(drop=True) for s, _ in parts]
    nonempty = [s for s in series if len(s)]  # empty parts would only perturb the dtype
    allv = pd.concat(nonempty, ignore_index=True) if nonempty else pd.Series([], dtype=object)
    codes, uniques = pd.factorize(allv, sort=False)
    out, start = [], 0
    for s in series:
        out.append(codes[start : start + len(s)].astype(np.int64))
        start += len(s)
    return out, pd.Index(uniques)


def _ranks(s: pd.Series, col: str, what: str, *, lowest: int) -> np.ndarray:
    try:
        v = pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"Column {col!r} of {what} must be numeric.") from exc
    bad = ~np.isfinite(v) | (v != np.round(v)) | (v < lowest)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"Column {col!r} of {what} must hold integers >= {lowest}; got "
            f"{listing(s.to_numpy()[rows])} at row(s) {listing(rows)}."
        )
    return v.astype(np.int64)


def _group_bounds(sorted_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and lengths of the runs of equal values in a sorted array."""
    n = len(sorted_groups)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return starts, lengths


def _duplicates(keys: np.ndarray) -> np.ndarray:
    """Positions of keys that repeat an earlier key."""
    if len(keys) == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    dup = np.r_[False, sk[1:] == sk[:-1]]
    return np.sort(order[dup])


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(a, b).shape, dtype=np.float64)
    np.divide(a, b, out=out, where=b != 0)
    return out


def _row_normalize(m: sp.csr_array) -> sp.csr_array:
    m = sp.csr_array(m, dtype=np.float64)
    sums = np.asarray(m.sum(axis=1)).ravel()
    inv = _safe_div(np.ones_like(sums), sums)
    return sp.csr_array(sp.diags_array(inv) @ m)
