"""Availability of titles: licence windows and regions.

A catalog may carry three optional columns:

``available_from``
    First moment (UTC) the title may be shown; missing means "since always".
``available_until``
    The title may be shown strictly *before* this moment (UTC); missing means "for ever".
``regions``
    Where the title may be shown: a list of region codes or a ``"|"``-separated string
    (``"US|CA"``). Codes are compared case-insensitively (``"us" == "US"``). Missing or empty
    means every region.

A title is *available* at time ``now`` in ``region`` when
``available_from <= now < available_until`` and (``region`` is None or ``region`` is one of its
regions, or it lists none). ``region=None`` means the caller does not filter by region.

The table is keyed by canonical title id (:func:`fairrec.ids.canon_id`), so it survives a
model reload or :meth:`~fairrec.live_api.LiveServing.add_titles`; :meth:`AvailabilityTable.aligned`
aligns it with a snapshot's titles.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec.data.ids import canon_ids
from fairrec.errors import DataError, ParameterError

__all__ = ["AVAILABILITY_COLUMNS", "AvailabilityTable", "check_region"]

AVAILABILITY_COLUMNS = ("available_from", "available_until", "regions")

_MIN_NS = np.iinfo(np.int64).min
_MAX_NS = np.iinfo(np.int64).max


def check_region(region: Any, owner: str = "Recommender.home") -> str | None:
    """Validate and normalize a request's region code (upper case), or None."""
    if region is None:
        return None
    if not isinstance(region, str) or not region.strip() or "|" in region:
        raise ParameterError(
            f"{owner}: 'region' must be a non-empty region code string such as 'US' (or None). "
            f"Got {region!r} instead."
        )
    return region.strip().upper()


def _times(values: pd.Series, col: str, ids: np.ndarray, missing: int) -> np.ndarray:
    """A window column as int64 ns since the epoch (naive UTC); missing -> ``missing``."""
    out = np.full(len(values), missing, dtype=np.int64)
    present = values.notna().to_numpy()
    if not present.any():
        return out
    raw = values[present]
    try:
        if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            parsed = pd.to_datetime(raw.to_numpy(dtype=np.float64), unit="s", errors="coerce")
        else:
            parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    except (TypeError, ValueError, OverflowError):
        parsed = pd.to_datetime(raw.astype(str), errors="coerce", utc=True, format="mixed")
    parsed = pd.DatetimeIndex(parsed)
    bad = parsed.isna()
    if bad.any():
        shown = ", ".join(repr(v) for v in ids[present][bad][:5])
        raise DataError(
            f"Column {col!r} of catalog holds unparsable times for title(s) {shown}: "
            f"{list(raw[bad][:5])}."
        )
    if parsed.tz is not None:
        parsed = parsed.tz_convert("UTC").tz_localize(None)
    out[present] = parsed.as_unit("ns").asi8
    return out


def _regions(values: pd.Series, ids: np.ndarray) -> list[frozenset[str] | None]:
    out: list[frozenset[str] | None] = []
    for v, i in zip(values.tolist(), ids.tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
            continue
        if isinstance(v, str):
            parts = v.split("|")
        elif isinstance(v, (list, tuple, set, frozenset, np.ndarray)):
            parts = list(v)
        else:
            raise DataError(
                f"Column 'regions' of catalog must hold lists of region codes or '|'-separated "
                f"strings; title {i!r} has {v!r}."
            )
        codes = set()
        for p in parts:
            if not isinstance(p, str):
                raise DataError(
                    f"Column 'regions' of catalog: title {i!r} has a non-string code {p!r}."
                )
            if p.strip():
                codes.add(p.strip().upper())
        out.append(frozenset(codes) if codes else None)
    return out


@dataclass(frozen=True)
class AvailabilityTable:
    """Licence windows and regions by canonical title id (immutable; ``merge`` returns new).

    Attributes
    ----------
    keys : numpy.ndarray of str
        Canonical title ids.
    start, end : numpy.ndarray of int64
        Window as ns since the epoch (naive UTC); ``start`` inclusive, ``end`` exclusive.
    regions : list of frozenset or None
        Allowed region codes per title (None: everywhere).
    """

    keys: np.ndarray
    start: np.ndarray
    end: np.ndarray
    regions: tuple

    @classmethod
    def empty(cls) -> AvailabilityTable:
        return cls(np.empty(0, dtype=object), np.empty(0, np.int64), np.empty(0, np.int64), ())

    @classmethod
    def from_catalog(
        cls, catalog: pd.DataFrame, item_col: str = C.ITEM
    ) -> AvailabilityTable | None:
        """The availability columns of a catalog frame (None when it has none of them).

        Raises
        ------
        fairrec.errors.DataError
            An unparsable time, a window that ends before it starts, or a bad region cell;
            the message names the title.
        """
        present = [c for c in AVAILABILITY_COLUMNS if c in catalog.columns]
        if not present:
            return None
        if item_col not in catalog.columns:
            raise DataError(f"The catalog has no column {item_col!r}.")
        ids = catalog[item_col].to_numpy()
        try:
            keys = canon_ids(ids, "catalog item ids")
        except ParameterError as exc:
            raise DataError(str(exc)) from exc
        n = len(catalog)
        start = (
            _times(catalog["available_from"], "available_from", ids, _MIN_NS)
            if "available_from" in catalog.columns
            else np.full(n, _MIN_NS, dtype=np.int64)
        )
        end = (
            _times(catalog["available_until"], "available_until", ids, _MAX_NS)
            if "available_until" in catalog.columns
            else np.full(n, _MAX_NS, dtype=np.int64)
        )
        bad = end <= start
        if bad.any():
            shown = ", ".join(repr(v) for v in ids[bad][:5])
            raise DataError(
                f"Columns 'available_from'/'available_until' of catalog: the window of title(s) "
                f"{shown} ends before (or when) it starts."
            )
        regions = (
            tuple(_regions(catalog["regions"], ids))
            if "regions" in catalog.columns
            else (None,) * n
        )
        return cls(keys, start, end, regions)

    def merge(self, other: AvailabilityTable | None) -> AvailabilityTable:
        """This table updated with ``other``'s titles (``other`` wins for a title in both)."""
        if other is None or len(other.keys) == 0:
            return self
        keep = ~pd.Index(self.keys, dtype=object).isin(pd.Index(other.keys, dtype=object))
        return AvailabilityTable(
            np.concatenate([self.keys[keep], other.keys]),
            np.concatenate([self.start[keep], other.start]),
            np.concatenate([self.end[keep], other.end]),
            tuple(r for r, k in zip(self.regions, keep) if k) + tuple(other.regions),
        )

    def to_frame(self) -> pd.DataFrame:
        """The table as catalog columns (``item_id`` canonical), e.g. to ship to Spark."""

        def ts(a: np.ndarray, none: int) -> list:
            return [None if v == none else pd.Timestamp(int(v), unit="ns") for v in a.tolist()]

        return pd.DataFrame(
            {
                C.ITEM: self.keys.astype(object),
                "available_from": ts(self.start, _MIN_NS),
                "available_until": ts(self.end, _MAX_NS),
                "regions": [None if r is None else sorted(r) for r in self.regions],
            }
        )

    def __len__(self) -> int:
        return len(self.keys)

    # ------------------------------------------------------------------ per snapshot
    def aligned(self, item_keys: np.ndarray) -> _Aligned:
        """The table aligned with a snapshot's titles (canonical ids, in index order)."""
        pos = (
            pd.Index(self.keys, dtype=object).get_indexer(pd.Index(item_keys, dtype=object))
            if len(self.keys)
            else None
        )
        return _Aligned(self, pos, len(item_keys))


class _Aligned:
    """Availability of one snapshot's titles; region masks cached per region."""

    def __init__(self, table: AvailabilityTable, pos: np.ndarray | None, n: int) -> None:
        self.n = n
        self.restricted = pos is not None and bool((pos >= 0).any())
        if not self.restricted:
            return
        has = pos >= 0
        safe = np.maximum(pos, 0)
        self.start = np.where(has, table.start[safe], _MIN_NS)
        self.end = np.where(has, table.end[safe], _MAX_NS)
        self._regions = [table.regions[p] if p >= 0 else None for p in pos.tolist()]
        self._region_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _outside(self, region: str) -> np.ndarray:
        with self._lock:
            got = self._region_cache.get(region)
            if got is None:
                got = np.fromiter(
                    (r is not None and region not in r for r in self._regions),
                    dtype=bool,
                    count=self.n,
                )
                self._region_cache[region] = got
            return got

    def unavailable(self, now: pd.Timestamp, region: str | None) -> np.ndarray | None:
        """``(n_items,)`` bool of titles that may not be shown at ``now`` in ``region``
        (None when every title may)."""
        if not self.restricted:
            return None
        t = pd.Timestamp(now)
        if t.tzinfo is not None:
            t = t.tz_convert("UTC").tz_localize(None)
        ns = int(t.as_unit("ns").value)
        out = (self.start > ns) | (self.end <= ns)
        if region is not None:
            out |= self._outside(region)
        return out if out.any() else None
