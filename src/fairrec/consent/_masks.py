"""The indexes behind :meth:`ConsentLedger.allowed_mask`: one vectorized consent decision
for many viewers, rebuilt once per ledger version."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fairrec.consent._common import _CONSENT_OPS, _TOMBSTONE_DOMAIN
from fairrec.consent.keys import keyed_hash

if TYPE_CHECKING:  # pragma: no cover
    from fairrec.consent._core import _LedgerCore

_Index = tuple[pd.Index, pd.Index, pd.Index, frozenset[str]]


class MaskIndex:
    """Per-version caches of who is granted / refused a purpose (now, or at a time).

    The cache is keyed by the ledger version: any change of the ledger (a new version)
    makes the next lookup rebuild it; :meth:`clear` drops it at once.
    """

    def __init__(self) -> None:
        self._cache: tuple[int, dict[Any, Any]] | None = None

    def clear(self) -> None:
        """Drop every index (the ledger changed)."""
        self._cache = None

    def _entries(self, version: int) -> dict[Any, Any]:
        if self._cache is None or self._cache[0] != version:
            self._cache = (version, {})
        return self._cache[1]

    def mask(self, core: _LedgerCore, ids: np.ndarray, p: str, t: int | None) -> np.ndarray:
        """Whether purpose ``p`` is allowed (now, or at time ``t`` in ns) for each canonical
        id of ``ids``: a boolean array."""
        granted, refused, known, tombstones = (
            self._now_index(core, p) if t is None else self._at_index(core, p, t)
        )
        if not core._allow:
            return granted.get_indexer(ids) >= 0
        mask = refused.get_indexer(ids) < 0
        if tombstones and len(ids):
            unknown = np.flatnonzero(mask & (known.get_indexer(ids) < 0))
            if unknown.size:
                key = core._key
                gone = np.fromiter(
                    (keyed_hash(key, _TOMBSTONE_DOMAIN, s) in tombstones for s in ids[unknown]),
                    dtype=bool,
                    count=unknown.size,
                )
                mask[unknown[gone]] = False
        return mask

    def _now_index(self, core: _LedgerCore, p: str) -> _Index:
        with core._lock:
            cache = self._entries(core._version)
            key = ("now", p)
            if key not in cache:
                states = core._states
                known = np.fromiter(states, dtype=object, count=len(states))
                has = core._has[p]
                granted = np.fromiter(has, dtype=object, count=len(has))
                refused = (
                    known[~pd.Index(known, dtype=object).isin(granted)]
                    if core._allow
                    else known[:0]
                )
                cache[key] = (
                    pd.Index(granted, dtype=object),
                    pd.Index(refused, dtype=object),
                    pd.Index(known, dtype=object),
                    frozenset(core._tombstones),
                )
            return cache[key]

    def _at_index(self, core: _LedgerCore, p: str, t: int) -> _Index:
        with core._lock:
            cache = self._entries(core._version)
            key = ("events", p)
            if key not in cache:
                rows = [
                    (ev.user, ev.t, ev.seq, ev.op == "grant")
                    for line in core._by_user.values()
                    for ev in line
                    if ev.op in _CONSENT_OPS and p in ev.purposes and not ev.void
                ]
                frame = pd.DataFrame(rows, columns=["user", "t", "seq", "granted"])
                frame = frame.astype(
                    {"user": object, "t": "int64", "seq": "int64", "granted": bool}
                )
                cache[key] = frame.sort_values(["t", "seq"], kind="stable")
            frame = cache[key]
            states = core._states
            known = np.fromiter(states, dtype=object, count=len(states))
            tombstones = frozenset(core._tombstones)
        past = frame[frame["t"].to_numpy() <= t].drop_duplicates("user", keep="last")
        granted = past["user"].to_numpy()[past["granted"].to_numpy()]
        refused = past["user"].to_numpy()[~past["granted"].to_numpy()]
        return (
            pd.Index(granted, dtype=object),
            pd.Index(refused, dtype=object),
            pd.Index(known, dtype=object),
            tombstones,
        )
