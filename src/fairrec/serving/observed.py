"""Observed events: live-serving settings (:class:`LiveConfig`) and the in-memory store of
plays and impressions observed after ``fit`` (:class:`ObservedStore`); see
:mod:`fairrec.serving.live` for how requests use them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairrec.errors import param_error

__all__ = ["LiveConfig", "ObservedStore", "PLAY", "IMPRESSION", "EVENT_DTYPE"]

PLAY = "play"
IMPRESSION = "impression"
_KINDS = {PLAY: 0, IMPRESSION: 1}
EVENT_COL = "event"

#: one observed event, packed (17 bytes)
EVENT_DTYPE = np.dtype([("t", "<i8"), ("i", "<i4"), ("w", "<f4"), ("k", "i1")])


@dataclass(frozen=True)
class LiveConfig:
    """Live-serving settings of a :class:`~fairrec.Recommender`.

    Parameters
    ----------
    max_events_per_viewer : int, default 1000
        Observed events (plays and impressions) kept per viewer; past it the oldest by event
        time are dropped.
    impression_count : int, default 1
        A title shown to a viewer at least this many times within ``impression_window_days``
        (and never played) is *stale*: the viewer's next personalized pages leave it out of
        every row kind that declares the watch history, except those in
        ``impression_exempt`` (see ``fairrec.live.row_skip``).
    impression_window_days : float, default 7.0
        How far back impressions count.
    impression_exempt : tuple of str, default ("top_picks",)
        Row kinds that may repeat the viewer's strongest stale titles (see
        ``impression_keep``); every other row rotates fully.
    impression_keep : float, default 0.5
        Share of an exempt row's size: an exempt row may repeat stale titles only among the
        viewer's ``round(impression_keep * row_size)`` most relevant candidates, so its top
        stays put and the rest of it rotates (0: it rotates fully; 1: a whole row of the
        strongest candidates may repeat).
    """

    max_events_per_viewer: int = 1000
    impression_count: int = 1
    impression_window_days: float = 7.0
    impression_exempt: tuple[str, ...] = ("top_picks",)
    impression_keep: float = 0.5

    def validate(self) -> None:
        for name in ("max_events_per_viewer", "impression_count"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise param_error(name, "LiveConfig", "an int >= 1", v)
        w = self.impression_window_days
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 < w < 1e5:
            raise param_error("impression_window_days", "LiveConfig", "a number in (0, 1e5)", w)
        ex = self.impression_exempt
        if not isinstance(ex, tuple) or not all(isinstance(k, str) for k in ex):
            raise param_error("impression_exempt", "LiveConfig", "a tuple of row kind names", ex)
        keep = self.impression_keep
        if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 <= keep <= 1:
            raise param_error("impression_keep", "LiveConfig", "a number in [0, 1]", keep)


class ObservedStore:
    """Per-viewer buffers of observed events (thread-safe; see the module docstring)."""

    def __init__(self, max_events_per_viewer: int) -> None:
        self.cap = int(max_events_per_viewer)
        self._lock = threading.Lock()
        self._events: dict[str, np.ndarray] = {}
        self._codes: dict[str, int] = {}
        self._keys: list[str] = []

    def intern(self, item_keys: np.ndarray) -> np.ndarray:
        """Codes of canonical title ids (new ids get new codes)."""
        with self._lock:
            codes = self._codes
            for k in pd.unique(item_keys).tolist():
                if k not in codes:
                    codes[k] = len(self._keys)
                    self._keys.append(k)
            # codes are positions in _keys
            return (
                pd.Index(self._keys, dtype=object)
                .get_indexer(pd.Index(item_keys, dtype=object))
                .astype(np.int32)
            )

    def item_keys(self) -> list[str]:
        with self._lock:
            return list(self._keys)

    def add(self, user_keys: np.ndarray, records: np.ndarray) -> None:
        """Append events (``EVENT_DTYPE`` records) to their viewers' buffers."""
        if len(records) == 0:
            return
        codes, uniques = pd.factorize(pd.Series(user_keys, dtype=object), sort=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        with self._lock:
            for g, key in enumerate(uniques.tolist()):  # one buffer per viewer
                new = records[order[bounds[g] : bounds[g + 1]]]
                old = self._events.get(key)
                merged = new if old is None else np.concatenate([old, new])
                if len(merged) > self.cap:
                    keep = np.argsort(merged["t"], kind="stable")[-self.cap :]
                    keep.sort()  # arrival order of the survivors
                    merged = merged[keep]
                merged.flags.writeable = False
                self._events[key] = merged

    def prune(self, user_keys: Sequence[str], cutoff_ns: int) -> None:
        """Drop the events of these viewers older than ``cutoff_ns`` (retention)."""
        with self._lock:
            for key in user_keys:
                ev = self._events.get(key)
                if ev is not None and (ev["t"] < cutoff_ns).any():
                    kept = ev[ev["t"] >= cutoff_ns]
                    kept.flags.writeable = False
                    if len(kept):
                        self._events[key] = kept
                    else:
                        del self._events[key]

    def events(self, user_keys: Sequence[str | None]) -> list[np.ndarray | None]:
        with self._lock:
            get = self._events.get
            return [get(k) if k is not None else None for k in user_keys]

    def forget(self, user_key: str) -> bool:
        """Delete every event of a viewer; True if there were some."""
        with self._lock:
            return self._events.pop(user_key, None) is not None

    def __len__(self) -> int:
        return len(self._events)

    def n_events(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._events.values())

    def nbytes(self) -> int:
        """Bytes held by the event records (the bound stated in the module docstring)."""
        with self._lock:
            return sum(v.nbytes for v in self._events.values())
