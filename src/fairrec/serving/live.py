"""Live serving state: plays and impressions observed after ``fit``, titles added after it,
and availability — everything a backend changes between two refits.

The state lives next to the fitted snapshot, never inside it: a model reload
(:meth:`~fairrec.live_api.LiveServing.reload`) swaps the snapshot and keeps the observed events, the
availability table and the serving configuration.

Observed events
    :class:`ObservedStore` keeps, per viewer (canonical id, :func:`fairrec.ids.canon_id`),
    one packed numpy record per event: time (int64 ns), title code (int32), weight
    (float32) and kind (int8: play or impression) — 17 bytes per event. A viewer holds at
    most ``max_events_per_viewer`` events; when a write goes past the cap, the oldest events
    (by event time) are dropped. Memory is therefore at most
    ``viewers_observed * (17 * max_events_per_viewer + ~250)`` bytes plus one interned string
    per distinct title observed. Events are stored only for viewers who granted
    ``personalization`` when they were observed; at request time they are used only if the
    viewer still has it, only inside the retention window and only up to ``now``;
    :meth:`ObservedStore.forget` (called by ``Recommender.forget``) deletes them. They are
    kept in memory only: no model file ever holds them.

Arrays of a viewer are never changed in place (a write builds a new array), so a request
reads a consistent set of events without holding the lock while it works.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.data.ids import canon_id, canon_ids
from fairrec.errors import DataError, ParameterError, UnknownItemError
from fairrec.serving.availability import AvailabilityTable
from fairrec.serving.gate import PERSONALIZATION, ServingBatch, retention_cutoff
from fairrec.serving.observed import (
    _KINDS,
    EVENT_COL,
    EVENT_DTYPE,
    IMPRESSION,
    PLAY,
    LiveConfig,
    ObservedStore,
)

__all__ = ["LiveConfig", "ObservedStore", "LiveBatch", "LiveState", "PLAY", "IMPRESSION"]


@dataclass
class LiveBatch(ServingBatch):
    """A :class:`~fairrec.gate.ServingBatch` with the live state applied.

    Attributes
    ----------
    observed : (u,) int
        Observed plays (events) used per viewer.
    impressions : (u,) int
        Impressions inside the impression window used per viewer (personalized viewers only).
    stale : (u, n_items) bool or None
        Titles shown often enough recently (without a play) to be left out of the next page.
    cold : (n_items,) bool or None
        Titles added without refit (cold-start vectors from their metadata).
    exempt : tuple of str
        Row kinds that may repeat stale titles among the strongest candidates.
    keep : float
        :attr:`LiveConfig.impression_keep`.
    """

    observed: np.ndarray | None = None
    impressions: np.ndarray | None = None
    stale: np.ndarray | None = None
    cold: np.ndarray | None = None
    exempt: tuple[str, ...] = ()
    keep: float = 0.0


class _Snapshot:
    """What the live state needs of one fitted snapshot (computed once per snapshot)."""

    def __init__(
        self,
        f: Any,
        availability: AvailabilityTable,
        cold: frozenset[str],
        prev: _Snapshot | None = None,
    ) -> None:
        ids = f.data_.item_ids
        self.item_ids = ids
        self.table = availability
        self._code_index = np.empty(0, dtype=np.int64)
        same = prev is not None and prev.item_ids is ids  # e.g. after forget(): same catalog
        if same:
            self.keys, self.index = prev.keys, prev.index
            self._code_index = prev._code_index
        elif (
            prev is not None
            and len(prev.item_ids) < len(ids)
            and np.array_equal(ids[: len(prev.item_ids)], prev.item_ids)
        ):  # titles appended (add_titles): canonicalize only the new ones
            self.keys = np.concatenate(
                [prev.keys, canon_ids(ids[len(prev.item_ids) :], "item ids")]
            )
            self.index = pd.Index(self.keys, dtype=object)
        else:
            self.keys = canon_ids(ids, "item ids")
            self.index = pd.Index(self.keys, dtype=object)
        if same and prev.table is availability:
            self.avail = prev.avail
        else:
            self.avail = availability.aligned(self.keys)
        self.cold = self.index.isin(list(cold)) if cold else None
        if self.cold is not None and not self.cold.any():
            self.cold = None
        self._lock = threading.Lock()

    def positions(self, item_keys: np.ndarray) -> np.ndarray:
        return self.index.get_indexer(pd.Index(item_keys, dtype=object))

    def code_index(self, codes: np.ndarray, store: ObservedStore) -> np.ndarray:
        """Snapshot title index of observed title codes (``-1``: not in this catalog)."""
        with self._lock:
            table = self._code_index
            if codes.size and int(codes.max()) >= len(table):
                keys = store.item_keys()
                table = self.positions(np.asarray(keys, dtype=object)).astype(np.int64)
                self._code_index = table
        return table[codes] if codes.size else np.empty(0, dtype=np.int64)


def _ns(t: pd.Timestamp) -> int:
    t = pd.Timestamp(t)
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return int(t.as_unit("ns").value)


def _user_key(user: Any) -> str | None:
    try:
        return canon_id(user)
    except ParameterError:
        return None


class LiveState:
    """Observed events, availability and cold-start marks of one Recommender."""

    def __init__(self, config: LiveConfig | None = None) -> None:
        self.config = config if config is not None else LiveConfig()
        self.config.validate()
        self.store = ObservedStore(self.config.max_events_per_viewer)
        self.availability = AvailabilityTable.empty()
        self.cold: frozenset[str] = frozenset()
        #: the catalog frame whose availability columns were read last
        self.catalog_seen: Any = None
        self._lock = threading.Lock()
        # held around "consent checked, events stored" and around erasure, so an event
        # observed while its viewer is being forgotten is never left behind
        self._write_lock = threading.RLock()
        self._snapshots: OrderedDict[tuple, tuple[Any, _Snapshot]] = OrderedDict()

    # ------------------------------------------------------------------ snapshot data
    def snapshot(self, f: Any) -> _Snapshot:
        with self._lock:
            avail, cold = self.availability, self.cold
            key = (id(f), id(avail), id(cold))
            got = self._snapshots.get(key)
            if got is not None and got[0] is f:
                return got[1]
            prev = next(reversed(self._snapshots.values()))[1] if self._snapshots else None
        snap = _Snapshot(f, avail, cold, prev)
        with self._lock:
            self._snapshots[key] = (f, snap)  # holds f: its id is not reused while cached
            while len(self._snapshots) > 4:
                self._snapshots.popitem(last=False)
        return snap

    def set_availability(self, table: AvailabilityTable | None, replace: bool = False) -> None:
        with self._lock:
            if replace:
                self.availability = table if table is not None else AvailabilityTable.empty()
            elif table is not None:
                self.availability = self.availability.merge(table)

    def mark_cold(self, keys: Sequence[str]) -> None:
        with self._lock:
            self.cold = self.cold | frozenset(keys)

    def clear_cold(self) -> None:
        with self._lock:
            self.cold = frozenset()

    def unavailable(self, f: Any, now: pd.Timestamp, region: str | None) -> np.ndarray | None:
        return self.snapshot(f).avail.unavailable(now, region)

    def restrict(
        self, batch: ServingBatch, f: Any, now: pd.Timestamp, region: str | None
    ) -> ServingBatch:
        """The batch with titles unavailable at ``now`` in ``region`` banned (in place).

        Applied after the history is final: an unavailable title the viewer watched stays in
        their history (their taste did not change), it only cannot be shown."""
        unavailable = self.snapshot(f).avail.unavailable(now, region)
        if unavailable is not None:
            batch.banned |= unavailable[None, :]
        return batch

    # ------------------------------------------------------------------ observing
    def observe(
        self,
        events: pd.DataFrame,
        f: Any,
        consent: Any,
        now: pd.Timestamp,
        retention_days: float | None,
        *,
        user_col: str = C.USER,
        item_col: str = C.ITEM,
        time_col: str | None = C.TIME,
        weight_col: str | None = C.WEIGHT,
    ) -> dict[str, int]:
        """Validate and store events; see :meth:`~fairrec.live_api.LiveServing.observe`."""
        from fairrec.data import parse_timestamps, parse_weights

        if not isinstance(events, pd.DataFrame):
            raise DataError(
                f"observe() needs a pandas DataFrame of events. Got {type(events).__name__}."
            )
        for col in (user_col, item_col):
            if col not in events.columns:
                raise DataError(
                    f"The events have no column {col!r}; their columns are "
                    f"{list(map(str, events.columns))}."
                )
        n = len(events)
        report = {"plays": 0, "impressions": 0, "not_consented": 0, "outside_window": 0}
        if n == 0:
            return report
        try:
            users = canon_ids(events[user_col], f"column {user_col!r} of the events")
            items = canon_ids(events[item_col], f"column {item_col!r} of the events")
        except ParameterError as exc:
            raise DataError(str(exc)) from exc
        snap = self.snapshot(f)
        pos = snap.positions(items)
        if (pos < 0).any():
            bad = pd.unique(items[pos < 0])[:5].tolist()
            raise UnknownItemError(
                f"Events name title id(s) not in the catalog: {bad}. Add them first "
                "(Recommender.add_titles)."
            )
        if EVENT_COL in events.columns:
            kind_raw = (
                events[EVENT_COL]
                .astype(object)
                .map(lambda v: v.strip().lower() if isinstance(v, str) else v)
            )
            kinds = kind_raw.map(_KINDS)
            if kinds.isna().any():
                bad = pd.unique(events[EVENT_COL][kinds.isna()])[:5].tolist()
                raise DataError(
                    f"Column {EVENT_COL!r} of the events must be 'play' or 'impression'; got {bad}."
                )
            kind = kinds.to_numpy(dtype=np.int8)
        else:
            kind = np.zeros(n, dtype=np.int8)
        if time_col is not None and time_col in events.columns:
            t = parse_timestamps(events[time_col], time_col).view(np.int64)
        else:
            t = np.full(n, _ns(now), dtype=np.int64)
        if weight_col is not None and weight_col in events.columns:
            w = parse_weights(events[weight_col], weight_col)
        else:
            w = np.ones(n, dtype=np.float32)
        with self._write_lock:
            return self._store_events(
                report, consent, users, items, t, w, kind, now, retention_days
            )

    def _store_events(
        self,
        report: dict[str, int],
        consent: Any,
        users: np.ndarray,
        items: np.ndarray,
        t: np.ndarray,
        w: np.ndarray,
        kind: np.ndarray,
        now: pd.Timestamp,
        retention_days: float | None,
    ) -> dict[str, int]:
        n = len(users)
        allowed = np.asarray(consent.allowed_mask(users, PERSONALIZATION), dtype=bool)
        cutoff = retention_cutoff(now, retention_days)
        inside = (
            np.ones(n, dtype=bool)
            if cutoff is None
            else t >= np.datetime64(cutoff, "ns").astype(np.int64)
        )
        keep = allowed & inside
        report["not_consented"] = int((~allowed).sum())
        report["outside_window"] = int((allowed & ~inside).sum())
        report["plays"] = int((keep & (kind == 0)).sum())
        report["impressions"] = int((keep & (kind == 1)).sum())
        if keep.any():
            rec = np.empty(int(keep.sum()), dtype=EVENT_DTYPE)
            rec["t"] = t[keep]
            rec["i"] = self.store.intern(items[keep])
            rec["w"] = w[keep]
            rec["k"] = kind[keep]
            self.store.add(users[keep], rec)
            if cutoff is not None:
                self.store.prune(
                    pd.unique(users[keep]).tolist(),
                    int(np.datetime64(cutoff, "ns").astype(np.int64)),
                )
        return report

    def forget(self, user: Any) -> None:
        key = _user_key(user)
        if key is not None:
            with self._write_lock:
                self.store.forget(key)

    # ------------------------------------------------------------------ serving
    def apply(
        self,
        batch: ServingBatch,
        f: Any,
        now: pd.Timestamp,
        retention_days: float | None,
    ) -> LiveBatch:
        """The batch with observed plays, impressions and cold marks applied (see
        :meth:`restrict` for availability)."""
        snap = self.snapshot(f)
        u = len(batch)
        n_items = batch.banned.shape[1]
        banned = batch.banned
        if not len(self.store) and snap.cold is None:
            return batch  # nothing observed, nothing new: the gate's batch as it is
        histories, recent, personalized = batch.histories, batch.recent, batch.personalized
        observed = np.zeros(u, dtype=np.int64)
        impressions = np.zeros(u, dtype=np.int64)
        stale = None
        consented = np.array(
            [PERSONALIZATION in s.purposes and not s.forgotten for s in batch.states], dtype=bool
        )
        if len(self.store) and consented.any():
            keys = [_user_key(x) if c else None for x, c in zip(batch.user_ids, consented)]
            got = self.store.events(keys)
            parts = [(v, ev) for v, ev in enumerate(got) if ev is not None and len(ev)]
            if parts:
                rows = np.concatenate([np.full(len(ev), v, dtype=np.int64) for v, ev in parts])
                ev = np.concatenate([ev for _, ev in parts])
                now_ns = _ns(now)
                keep = ev["t"] <= now_ns
                cutoff = retention_cutoff(now, retention_days)
                if cutoff is not None:
                    keep &= ev["t"] >= np.datetime64(cutoff, "ns").astype(np.int64)
                idx = snap.code_index(ev["i"].astype(np.int64), self.store)
                keep &= idx >= 0
                plays = keep & (ev["k"] == 0)
                if plays.any():
                    histories, recent = _merge_plays(
                        histories, recent, rows[plays], idx[plays], ev["w"][plays], ev["t"][plays]
                    )
                    observed = np.bincount(rows[plays], minlength=u)
                    personalized = consented & (np.diff(histories.indptr) > 0)
                window = int(self.config.impression_window_days * 86400 * 1e9)
                shown = keep & (ev["k"] == 1) & (ev["t"] >= now_ns - window)
                if shown.any():
                    impressions = np.bincount(rows[shown], minlength=u) * personalized
                    cell = rows[shown] * n_items + idx[shown]
                    cells, counts = np.unique(cell, return_counts=True)
                    cells = cells[counts >= self.config.impression_count]
                    if cells.size:
                        stale = np.zeros((u, n_items), dtype=bool)
                        stale[cells // n_items, cells % n_items] = True
        values = {fl.name: getattr(batch, fl.name) for fl in fields(ServingBatch)}
        values.update(banned=banned, histories=histories, recent=recent, personalized=personalized)
        return LiveBatch(
            **values,
            observed=observed,
            impressions=impressions,
            stale=stale,
            cold=snap.cold,
            exempt=self.config.impression_exempt,
            keep=self.config.impression_keep,
        )


def _merge_plays(
    histories: sp.csr_matrix,
    recent: np.ndarray,
    rows: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    times: np.ndarray,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Histories plus observed plays (weights summed) and recent titles, newest first."""
    u, n_items = histories.shape
    # one CSR from both entry lists (sorted, duplicates summed) without scipy's arithmetic
    ptr = histories.indptr
    r = np.concatenate([np.repeat(np.arange(u), np.diff(ptr)), rows])
    c = np.concatenate([histories.indices[ptr[0] : ptr[-1]], items]).astype(np.int64)
    w = np.concatenate([histories.data[ptr[0] : ptr[-1]], weights]).astype(np.float32)
    key = r * n_items + c
    o = np.argsort(key, kind="stable")
    key, w = key[o], w[o]
    start = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    cells = key[start]
    indptr = np.zeros(u + 1, dtype=np.int64)
    np.cumsum(np.bincount(cells // n_items, minlength=u), out=indptr[1:])
    merged = sp.csr_matrix(
        (np.add.reduceat(w, start), (cells % n_items).astype(np.int32), indptr.astype(np.int32)),
        shape=(u, n_items),
    )
    merged.has_sorted_indices = True
    h = recent.shape[1]
    if h == 0:
        return merged, recent
    # observed plays first (newest first), then the gate's recent titles in their order
    o = np.lexsort((-times, rows))
    r_obs, i_obs = rows[o], items[o]
    have = recent >= 0
    r_old = np.broadcast_to(np.arange(u)[:, None], recent.shape)[have]
    i_old = recent[have]
    r_all = np.concatenate([r_obs, r_old])
    i_all = np.concatenate([i_obs, i_old])
    prio = np.concatenate([np.arange(r_obs.size), r_obs.size + np.arange(r_old.size)])
    o = np.lexsort((prio, r_all))
    r_all, i_all = r_all[o], i_all[o]
    key = r_all * n_items + i_all
    _, first = np.unique(key, return_index=True)
    first.sort()
    r_all, i_all = r_all[first], i_all[first]
    rank = np.arange(r_all.size) - np.searchsorted(r_all, r_all, side="left")
    ok = rank < h
    out = np.full_like(recent, -1)
    out[r_all[ok], rank[ok]] = i_all[ok]
    return merged, out
