"""The state machine under a :class:`~fairrec.consent.ConsentLedger`: the in-memory log and
per-viewer snapshots, kept in step with the store (transactions, polling, erasures).

Every write runs ``build(tx)`` in one store transaction after applying what other writers
committed (:meth:`_LedgerCore._write`); memory is published only after the commit.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fairrec._checks import check_choice, check_real
from fairrec.consent._common import _HASH_OPS, _TOMBSTONE_DOMAIN, ConsentFileWarning
from fairrec.consent._events import _Event
from fairrec.consent._jsonl import JsonlStore
from fairrec.consent._masks import MaskIndex
from fairrec.consent._parse import event_time
from fairrec.consent._replay import _replay, _timeline
from fairrec.consent._state import ConsentState
from fairrec.consent._store import Batch, ConsentStore, open_store
from fairrec.consent.keys import coerce_key, keyed_hash, read_key_file
from fairrec.consent.purposes import DEFAULTS, PURPOSES
from fairrec.data.ids import canon_id
from fairrec.errors import ConsentError, ConsentStoreError, ParameterError

_SECONDS = "a number of seconds > 0"
_Self = TypeVar("_Self", bound="_LedgerCore")


def _follow_loop(ref: weakref.ref, stop: threading.Event, interval: float) -> None:
    """The follower thread: poll the shared store until the ledger is closed or gone."""
    while not stop.wait(interval):
        ledger = ref()
        if ledger is None:
            return
        try:
            ledger._poll()
        except Exception:  # noqa: BLE001 - kept in ledger.sync_error; readers go stale
            pass
        del ledger


class _LedgerCore:
    """In-memory state and store synchronisation of a ledger (see ConsentLedger)."""

    def __init__(
        self,
        default: str | None = "deny",
        path: str | os.PathLike[str] | None = None,
        key: bytes | str | os.PathLike[str] | None = None,
        *,
        store: str | os.PathLike[str] | ConsentStore | None = None,
        follow: bool | None = None,
        poll_interval: float = 0.1,
        max_staleness: float = 1.0,
    ) -> None:
        check_choice(default, "default", "ConsentLedger", DEFAULTS, none=True)
        for name, value in (("poll_interval", poll_interval), ("max_staleness", max_staleness)):
            check_real(value, name, "ConsentLedger", 0, low_open=True, expected=_SECONDS)
        if poll_interval >= max_staleness:
            raise ParameterError(
                f"The 'poll_interval' parameter of ConsentLedger must be smaller than "
                f"max_staleness ({max_staleness!r}). Got {poll_interval!r} instead."
            )
        if path is not None and store is not None:
            raise ParameterError("ConsentLedger takes path= or store=, not both.")
        if isinstance(key, os.PathLike):
            key = read_key_file(key)
        self._lock = threading.RLock()
        self._log: list[_Event] = []  # seq order; hash-only events included
        self._by_user: dict[str, tuple[_Event, ...]] = {}  # per viewer: the timeline
        self._states: dict[str, ConsentState] = {}
        self._tombstones: dict[str, int] = {}  # keyed hash -> time of erasure
        self._has: dict[str, set[str]] = {p: set() for p in PURPOSES}
        self._hashes: dict[str, str] = {}  # viewer -> keyed hash, filled when erasures arrive
        self._seq = 0  # the last sequence number issued (by anyone, as far as we know)
        self._version = 0  # the seq of the last event applied here
        self._last_now = 0
        self._masks = MaskIndex()  # the allowed_mask indexes, per version
        self._path: Path | None = None
        self._store: ConsentStore | None = None
        self._cursor: Any = None
        self._closed = False
        self._poll_interval = float(poll_interval)
        self._max_staleness = float(max_staleness)
        self._synced_at = time.monotonic()
        self._sync_error: BaseException | None = None
        self._stop = threading.Event()
        given = coerce_key(key, "ConsentLedger")
        self._key_given = given is not None
        if path is None and store is None:
            self._set_default(default or "deny")
            self._key = given if given is not None else secrets.token_bytes(32)
            self._follow = False
            return
        st = JsonlStore(path) if path is not None else open_store(store)
        try:
            meta = st.open(default, given)
            self._set_default(meta.default)
            self._key = meta.key
            self._store = st
            if isinstance(st, JsonlStore):
                self._path = st.path
            self._write(lambda tx: (None, None))  # read everything (and repair a torn tail)
        except BaseException:
            st.close()
            raise
        self._follow = st.shared if follow is None else bool(follow)
        if self._follow:
            thread = threading.Thread(
                target=_follow_loop,
                args=(weakref.ref(self), self._stop, self._poll_interval),
                name="fairrec-consent-follower",
                daemon=True,
            )
            thread.start()

    def _set_default(self, default: str) -> None:
        self._default = default
        self._allow = default == "allow"

    # ---------------------------------------------------------------------- properties
    @property
    def default(self) -> str:
        """``"deny"`` or ``"allow"``: what a viewer without events is allowed."""
        return self._default

    @property
    def version(self) -> int:
        """The sequence number of the last event applied: grows with every change, and is
        the same number on every replica that has applied the same events of a shared store."""
        return self._version

    @property
    def path(self) -> Path | None:
        """The JSON-lines file events are appended to, or None (in memory or a database)."""
        return self._path

    @property
    def store(self) -> ConsentStore | None:
        """The store the events live in, or None for an in-memory ledger."""
        return self._store

    @property
    def staleness(self) -> float:
        """Seconds since this ledger last read its store successfully (0 when not following)."""
        if not self._follow:
            return 0.0
        return max(0.0, time.monotonic() - self._synced_at)

    @property
    def stale(self) -> bool:
        """Whether reads answer the fallback (a followed store unread for > max_staleness)."""
        return self._follow and time.monotonic() - self._synced_at > self._max_staleness

    @property
    def sync_error(self) -> BaseException | None:
        """The error of the last failed background poll, or None after a successful one."""
        return self._sync_error

    @property
    def n_forgotten(self) -> int:
        """Number of tombstones (erased viewers) currently held."""
        return len(self._tombstones)

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, user_id: object) -> bool:
        try:
            return canon_id(user_id) in self._states
        except ParameterError:
            return False

    def __repr__(self) -> str:
        where = ""
        if self._path is not None:
            where = f", path={str(self._path)!r}"
        elif self._store is not None:
            where = f", store={self._store.describe()!r}"
        return (
            f"ConsentLedger(default={self._default!r}{where}; {len(self._states)} viewers, "
            f"{self.n_forgotten} forgotten, version {self._version})"
        )

    def close(self) -> None:
        """Stop following and release the store. Reads keep answering from memory (and go
        stale after ``max_staleness`` if the ledger was following); writes raise."""
        self._stop.set()
        with self._lock:
            self._closed = True
            if self._store is not None:
                self._store.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refresh(self) -> int:
        """Apply every event other processes wrote since the last read, now.

        Returns
        -------
        int
            The ledger version after the refresh.

        Raises
        ------
        ConsentStoreUnavailableError
            The store cannot be read now.
        """
        self._poll()
        return self._version

    # ---------------------------------------------------------------------- store sync
    def _write(self, build: Callable[[Any], tuple[Any, Callable[[], None] | None]]) -> Any:
        """Run ``build(tx)`` in one store transaction, after applying what others wrote.

        ``build`` validates against the up-to-date state, numbers its events and hands them
        to the transaction; it returns ``(result, publish)``. ``publish`` runs after the
        commit, so memory never shows an event the store does not hold.
        """
        with self._lock:
            if self._store is None:
                result, publish = build(None)
                if publish is not None:
                    publish()
                return result
            if self._closed:
                raise ConsentStoreError(
                    f"the ledger on {self._store.describe()} was closed; open it again to write."
                )
            t0 = time.monotonic()
            issued = self._seq
            try:
                with self._store.transaction(self._cursor) as tx:
                    self._ingest(tx.batch, tx)
                    self._cursor = tx.batch.cursor
                    issued = self._seq = max(self._seq, tx.batch.last_seq)
                    result, publish = build(tx)
            except BaseException:
                self._seq = issued  # numbers of a failed transaction are not used
                raise
            self._cursor = tx.cursor
            self._synced_at = max(self._synced_at, t0)
            if publish is not None:
                publish()
            return result

    def _poll(self) -> None:
        """Read and apply what other processes committed (the follower thread, refresh())."""
        if self._store is None:
            return
        t0 = time.monotonic()
        with self._lock:
            if self._closed:
                return
            try:
                batch = self._store.read(self._cursor)
                self._ingest(batch, None)
                self._cursor = batch.cursor
            except BaseException as exc:
                self._sync_error = exc
                raise
        self._synced_at = max(self._synced_at, t0)
        self._sync_error = None

    def _ingest(self, batch: Batch, tx: Any) -> None:
        """Apply a batch read from the store (lock held)."""
        if batch.reset:
            erased_found = self._rebuild([ev for _, ev in batch.events], batch.events)
            if erased_found:
                warnings.warn(
                    f"{self._store.describe() if self._store else 'the ledger'}: events of an "
                    f"erased viewer were found before their tombstone; they were dropped"
                    + (" and the file rewritten." if hasattr(tx, "rewrite") else "."),
                    ConsentFileWarning,
                    stacklevel=5,
                )
                if hasattr(tx, "rewrite"):
                    tx.rewrite(self._log)
        else:
            fresh = [ev for _, ev in batch.events if ev.seq > self._version]
            pending: list[_Event] = []
            for ev in fresh:
                if ev.op in _HASH_OPS:
                    if pending:
                        self._apply(pending)
                        pending = []
                    self._apply_hash(ev)
                else:
                    pending.append(ev)
            if pending:
                self._apply(pending)
        if batch.events:
            self._seq = max(self._seq, batch.events[-1][1].seq)

    def _apply_hash(self, ev: _Event) -> None:
        """Apply a forget / reinstate event (lock held)."""
        h = ev.hash
        if ev.op == "reinstate":
            self._log.append(ev)
            self._tombstones.pop(h, None)  # type: ignore[arg-type]
            self._version = max(self._version, ev.seq)
            self._masks.clear()
            return
        gone = None
        if self._by_user:
            for u in self._by_user:
                if u not in self._hashes:
                    self._hashes[u] = self._hash(u)
            gone = next((u for u, v in self._hashes.items() if v == h and u in self._by_user), None)
        if gone is not None:
            self._log = [e for e in self._log if e.user != gone]
        self._log.append(ev)
        self._erase_local(gone, h, ev)

    def _erase_local(self, u: str | None, h: str, ev: _Event) -> None:
        # publish: version first, then the tombstone, so a reader sees either the old
        # state (stamped with its own, older version) or "forgotten" stamped with the
        # version of this erasure -- never "forgotten" under a version from before it
        self._version = max(self._version, ev.seq)
        self._masks.clear()
        self._tombstones[h] = ev.t
        if u is not None:
            self._states.pop(u, None)
            self._by_user.pop(u, None)
            self._hashes.pop(u, None)
            for members in self._has.values():
                members.discard(u)

    def _rebuild(self, log_in: list[_Event], where: list[tuple[str, _Event]]) -> bool:
        """Replace memory by a whole log; returns True if an erased viewer's events had to be
        dropped (events before their tombstone)."""
        tombstones: dict[str, int] = {}
        erased_found = False
        user_hash: dict[str, str] = {}
        if not any(ev.op in _HASH_OPS for ev in log_in):
            log = list(log_in)
        else:  # replay erasures in order: hash each viewer once
            log = []
            for (place, _), ev in zip(where, log_in):
                if ev.op == "forget":
                    gone = {u for u, h in user_hash.items() if h == ev.hash}
                    if gone:  # events of this viewer survived erasure: erase them now
                        erased_found = True
                        log = [e for e in log if e.user not in gone]
                        for u in gone:
                            del user_hash[u]
                    tombstones[ev.hash] = ev.t  # type: ignore[index]
                elif ev.op == "reinstate":
                    tombstones.pop(ev.hash, None)  # type: ignore[arg-type]
                else:
                    u = ev.user
                    if u not in user_hash:
                        user_hash[u] = self._hash(u)  # type: ignore[arg-type]
                    if tombstones and user_hash[u] in tombstones:
                        raise ConsentError(
                            f"{self._store.describe() if self._store else ''}: {place} records "
                            f"an event for a viewer erased earlier in the log (no reinstate in "
                            f"between); refusing to resurrect them."
                        )
                log.append(ev)
        grouped: dict[str, list[_Event]] = {}
        for ev in log:
            if ev.user is not None:
                grouped.setdefault(ev.user, []).append(ev)
        version = max([self._version, *(ev.seq for ev in log_in)])
        by_user: dict[str, tuple[_Event, ...]] = {}
        states: dict[str, ConsentState] = {}
        has: dict[str, set[str]] = {p: set() for p in PURPOSES}
        for u, evs in grouped.items():
            line = _timeline(evs)
            by_user[u] = line
            st = _replay(u, line, self._allow, version)
            states[u] = st
            for p in st.purposes:
                has[p].add(u)
        self._version = version
        self._masks.clear()
        self._log = log
        self._tombstones = tombstones
        self._by_user = by_user
        self._has = has
        self._hashes = dict(user_hash)
        self._states = states
        return erased_found

    # ---------------------------------------------------------------------- internals
    def _hash(self, canon_user: str) -> str:
        return keyed_hash(self._key, _TOMBSTONE_DOMAIN, canon_user)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _now(self) -> int:
        t = max(time.time_ns(), self._last_now + 1)
        self._last_now = t
        return t

    def _time(self, at: object, owner: str) -> int:
        return self._now() if at is None else event_time(at, owner)

    def _check_not_forgotten(self, u: str, owner: str) -> None:
        if self._tombstones and self._hash(u) in self._tombstones:
            raise ConsentError(
                f"{owner}: this viewer was erased with forget(); an erased viewer cannot be "
                f"resurrected by a new event. If the person came back and consents anew, call "
                f"reinstate(user_id) first."
            )

    def _apply(self, events: list[_Event]) -> None:
        """Publish validated, committed user events (caller holds the lock)."""
        version = max(self._version, *(ev.seq for ev in events))
        touched: dict[str, list[_Event]] = {}
        for ev in events:
            self._log.append(ev)
            touched.setdefault(ev.user, []).append(ev)  # type: ignore[arg-type]
        for u, new in touched.items():
            merged = _timeline((*self._by_user.get(u, ()), *new))
            self._by_user[u] = merged
            self._publish(u, _replay(u, merged, self._allow, version))
        self._version = version
        self._masks.clear()

    def _publish(self, u: str, st: ConsentState) -> None:
        for p in PURPOSES:
            if p in st.purposes:
                self._has[p].add(u)
            else:
                self._has[p].discard(u)
        self._states[u] = st  # one atomic replacement: readers see old or new, never half

    def _stale_state(self, u: str) -> ConsentState:
        """The fallback while the followed store is out of reach: nothing allowed."""
        st = self._states.get(u)
        if st is None:
            forgotten = bool(self._tombstones) and self._hash(u) in self._tombstones
            return ConsentState(user_id=u, forgotten=forgotten, version=self._version, stale=True)
        return ConsentState(
            user_id=u,
            excluded_genres=st.excluded_genres,
            excluded_items=st.excluded_items,
            max_maturity=st.max_maturity,
            version=st.version,
            stale=True,
        )
