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
from fairrec.availability import AvailabilityTable
from fairrec.errors import DataError, ParameterError, UnknownItemError, param_error
from fairrec.gate import PERSONALIZATION, ServingBatch, retention_cutoff
from fairrec.ids import canon_id, canon_ids

__all__ = ["LiveConfig", "ObservedStore", "LiveBatch", "LiveState", "PLAY", "IMPRESSION"]

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
        from fairrec.data import _timestamps, _weights

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
            t = _timestamps(events[time_col], time_col).view(np.int64)
        else:
            t = np.full(n, _ns(now), dtype=np.int64)
        if weight_col is not None and weight_col in events.columns:
            w = _weights(events[weight_col], weight_col)
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


#: Row kinds that declare the viewer's watch history on every personalized page (fairrec's
#: own; a custom kind qualifies by ``personal = True``). Impressions, the viewer's viewing
#: activity, only shape rows that say they use it.
HISTORY_ROW_KINDS = frozenset(
    {
        "top_picks",
        "because_you_watched",
        "hidden_gems",
        "outside_your_bubble",
        "stated_interests",
        "more_like_this",
    }
)


def row_skip(ctx: Any, kind: Any) -> np.ndarray | None:
    """``(u, n_items)`` titles a row kind must leave out for the live state (None: none).

    Stale titles (see :class:`LiveConfig`): for personalized viewers, in row kinds that
    declare the watch history (:data:`HISTORY_ROW_KINDS` or ``personal = True``) — so a row
    labelled "no personal data" is never shaped by impressions; an exempt row kind may still
    use the stale titles among the viewer's ``round(keep * row_size)`` most relevant
    candidates. Cold-start titles: in every row kind that does not declare
    ``shows_new_titles`` (their reasons could not say that the title's place is estimated
    from its metadata).
    """
    batch = ctx.batch
    stale = getattr(batch, "stale", None)
    cold = getattr(batch, "cold", None)
    skip = None
    name = getattr(kind, "kind", None)
    if stale is not None and (name in HISTORY_ROW_KINDS or getattr(kind, "personal", False)):
        skip = stale & batch.personalized[:, None]
        keep = int(round(batch.keep * ctx.k)) if name in batch.exempt else 0
        if keep > 0:  # the viewer's strongest candidates may repeat
            top = ctx.cand[:, :keep]
            ok = top >= 0
            who = np.broadcast_to(np.arange(len(batch))[:, None], top.shape)[ok]
            skip[who, top[ok]] = False
    if cold is not None and not getattr(kind, "shows_new_titles", False):
        skip = (
            cold[None, :] | skip
            if skip is not None
            else np.broadcast_to(cold, (len(batch), cold.size))
        )
    return skip


# ---------------------------------------------------------------------- new titles
def cold_start_vectors(
    factors: np.ndarray, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray
) -> np.ndarray:
    """Vectors of new titles: the mean factor row of the fitted titles sharing a genre.

    Parameters
    ----------
    factors : (n, d) item factors of the current titles.
    genres : (n, g) multi-hot genres of the current titles (in the new genre space).
    new_genres : (m, g) multi-hot genres of the new titles.
    fitted : (n,) bool, titles whose factors were fitted (not cold-start themselves).

    A new title with no genre shared by any fitted title gets the mean of every fitted title.
    """
    src = np.ascontiguousarray(factors[fitted], dtype=np.float32)
    g_src = (genres[fitted] > 0).astype(np.float32)
    # one mean per distinct genre set of the new titles (catalogs reuse a few hundred sets)
    sets, inverse = np.unique(new_genres > 0, axis=0, return_inverse=True)
    share = ((sets.astype(np.float32) @ g_src.T) > 0).astype(np.float32)  # (sets, n_fitted)
    counts = share.sum(axis=1, keepdims=True)
    means = (share @ src) / np.maximum(counts, 1)
    overall = src.mean(axis=0) if len(src) else np.zeros(factors.shape[1], np.float32)
    means = np.where(counts > 0, means, overall[None, :])[np.ravel(inverse)]
    return means.astype(factors.dtype)


def extend_model(model: Any, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray) -> Any:
    """A copy of ``model`` serving ``len(new_genres)`` more titles (the model is unchanged).

    Factor models (ALS, BPR) get :func:`cold_start_vectors` rows; ItemKNN and EASE get titles
    with no neighbours / zero weights (they score 0 until a refit); Popularity gets a count of
    0. Other models raise ParameterError. Like the copy ``forget`` makes, the copy has no
    record of training pairs (the evaluation guard then reads the recommender's matrix).
    """
    arrays = {k: np.asarray(v) for k, v in model.get_arrays().items()}
    m = len(new_genres)
    if "item_factors" in arrays:
        f = arrays["item_factors"]
        arrays["item_factors"] = np.vstack([f, cold_start_vectors(f, genres, new_genres, fitted)])
    elif "sim_indptr" in arrays:
        ptr = arrays["sim_indptr"]
        arrays["sim_indptr"] = np.concatenate([ptr, np.full(m, ptr[-1], dtype=ptr.dtype)])
        n = len(ptr) - 1 + m
        sim = sp.csr_matrix(
            (arrays["sim_data"], arrays["sim_indices"], arrays["sim_indptr"]), shape=(n, n)
        )
        arrays = {
            "sim_data": sim.data,
            "sim_indices": sim.indices.astype(np.int64),
            "sim_indptr": sim.indptr.astype(np.int64),
        }
    elif set(arrays) == {"weights"} and arrays["weights"].ndim == 2:  # EASE: no co-occurrence
        w = arrays["weights"]
        n = w.shape[0]
        out_w = np.zeros((n + m, n + m), dtype=w.dtype)
        out_w[:n, :n] = w
        arrays["weights"] = out_w
    elif set(arrays) == {"counts"}:
        arrays["counts"] = np.concatenate([arrays["counts"], np.zeros(m, dtype=np.float32)])
    else:
        raise ParameterError(
            f"add_titles() does not know how to extend a {type(model).__name__} model; "
            "refit it with the new titles instead."
        )
    out = type(model)(**model.get_params())
    out.set_arrays(arrays)
    return out


#: reason of a cold-start title in a flat list
COLD_REASON = (
    "New on the catalog: no plays yet, its place is estimated from its genres (your watch history)"
)


def cold_reasons(reason: np.ndarray, items: np.ndarray, batch: Any) -> np.ndarray:
    """Flat-list reasons with cold-start titles marked as such (personalized lines only;
    for the others the non-personal reason stays true: no personal data is used)."""
    cold = getattr(batch, "cold", None)
    if cold is None or items.size == 0:
        return reason
    hit = cold[items] & (reason != "Popular across genres (no personal data)")
    if not hit.any():
        return reason
    return np.where(hit, COLD_REASON, reason)


def explain_live(batch: Any) -> tuple[dict[str, int], list[str]]:
    """What a viewer's data-use report says about observed events (first viewer of a batch).

    Returns ``({"plays": n, "impressions": m}, lines)``: the observed plays used as watch
    history and the impressions used to leave shown titles out, with a sentence when any.
    """
    plays = getattr(batch, "observed", None)
    shown = getattr(batch, "impressions", None)
    info = {
        "plays": int(plays[0]) if plays is not None and len(plays) else 0,
        "impressions": int(shown[0]) if shown is not None and len(shown) else 0,
    }
    lines = []
    if info["plays"] or info["impressions"]:
        lines.append(
            f"- Since the model was fitted, {info['plays']} play(s) and {info['impressions']} "
            "impression(s) (titles shown to you) are used: plays as watch history, "
            "impressions to avoid showing you the same titles again."
        )
    return info, lines
