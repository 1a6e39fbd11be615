"""The ConsentLedger: the event-sourced consent state of every viewer, over a store."""

from __future__ import annotations

import json
import math
import os
import secrets
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairrec._columns import TIME, USER
from fairrec.consent._common import (
    _CONSENT_OPS,
    _HASH_OPS,
    _TOMBSTONE_DOMAIN,
    DEFAULTS,
    FUTURE_TOLERANCE_NS,
    PURPOSES,
    ConsentFileWarning,
    _atomic_write,
    _canon_id,
    _canon_ids_array,
    _coerce_key,
    _iso,
    _key_path,
    _keyed_hash,
    _purpose,
    _purposes_arg,
    _read_key_file,
    _to_ns,
)
from fairrec.consent._events import (
    _EMPTY,
    _PURPOSE_SETS,
    ConsentState,
    _Event,
    _maturity_arg,
    _replay,
    _str_values,
    _timeline,
)
from fairrec.consent._store import (
    Batch,
    ConsentStore,
    JsonlStore,
    open_store,
    write_jsonl,
)
from fairrec.consent._table import (
    _parse_table,
    _row,
    _Table,
)
from fairrec.errors import (
    ConsentError,
    ConsentStaleError,
    ConsentStoreError,
    ParameterError,
    param_error,
)

__all__ = ["ConsentLedger"]

_BEFORE_ALL = -(2**63)

_ALL = _PURPOSE_SETS[(1 << len(PURPOSES)) - 1]


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


class ConsentLedger:
    """Purpose-bound, timestamped consent per viewer, with exclusions, interests and erasure.

    See the package documentation (``help(fairrec.consent)``) for the event model, the
    ordering rule, the stores, the file format, the import table format, the key trade-off
    and thread safety.

    Parameters
    ----------
    default : {"deny", "allow"} or None, default "deny"
        What a viewer without events is allowed: nothing (privacy by default) or everything
        until they revoke it (an existing opt-out regime). ``None``: the default recorded in
        an existing store (``"deny"`` for a new one). An existing store created with another
        default is refused.
    path : str or Path, optional
        A JSON-lines file (the :class:`~fairrec.consent.JsonlStore`). If it exists it is
        loaded and every later event is appended to it; if not it is created.
    key : bytes, str or Path, optional
        Secret key (>= 16 bytes) of the keyed hash in tombstones; a ``pathlib.Path`` names a
        key file (hex, as fairrec writes ``<path>.key``). ``None``: read or create the store's
        sidecar ``<path>.key`` (mode 0600; JSON-lines and SQLite), or a random in-memory key
        when there is no store. A PostgreSQL store needs ``key=``.
    store : str, Path or ConsentStore, optional
        Where the events live, instead of ``path``: ``"sqlite:///consent.db"``,
        ``"postgresql://user@host/db"``, a JSON-lines path, or a store object.
    follow : bool, optional
        Apply events written by other processes in the background (poll every
        ``poll_interval`` seconds). Default: True for SQLite and PostgreSQL, False for a
        JSON-lines file and an in-memory ledger. Writes always catch up first, whatever this.
    poll_interval : float, default 0.1
        Seconds between two polls of a followed store.
    max_staleness : float, default 1.0
        The bound: when a followed store has not been read successfully for longer than this
        (it is down, unreachable or locked), :meth:`state` and :meth:`allowed` answer the
        fallback -- nothing allowed, no stated interests, the last known exclusions, marked
        ``stale=True`` -- and :meth:`allowed_mask` raises
        :class:`~fairrec.errors.ConsentStaleError`. A page is therefore never personalized
        from consent older than ``max_staleness``.

    Examples
    --------
    >>> consent = ConsentLedger(default="deny")
    >>> consent.grant("u42", ["personalization", "training"], at="2024-01-01")
    >>> consent.allowed("u42", "training")
    True
    >>> consent.revoke("u42", "training", at="2024-02-01")
    >>> consent.allowed("u42", "training"), consent.allowed("u42", "training", at="2024-01-15")
    (False, True)
    """

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
        if default is not None and default not in DEFAULTS:
            raise param_error("default", "ConsentLedger", "one of 'deny', 'allow'", default)
        for name, value in (("poll_interval", poll_interval), ("max_staleness", max_staleness)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value <= 0
            ):
                raise param_error(name, "ConsentLedger", "a number of seconds > 0", value)
        if poll_interval >= max_staleness:
            raise ParameterError(
                f"The 'poll_interval' parameter of ConsentLedger must be smaller than "
                f"max_staleness ({max_staleness!r}). Got {poll_interval!r} instead."
            )
        if path is not None and store is not None:
            raise ParameterError("ConsentLedger takes path= or store=, not both.")
        if isinstance(key, os.PathLike):
            key = _read_key_file(Path(key))
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
        self._cache: tuple[int, dict[Any, Any]] | None = None
        self._path: Path | None = None
        self._store: ConsentStore | None = None
        self._cursor: Any = None
        self._closed = False
        self._poll_interval = float(poll_interval)
        self._max_staleness = float(max_staleness)
        self._synced_at = time.monotonic()
        self._sync_error: BaseException | None = None
        self._stop = threading.Event()
        given = _coerce_key(key, "ConsentLedger")
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
            return _canon_id(user_id) in self._states
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

    def __enter__(self) -> ConsentLedger:
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

    # ---------------------------------------------------------------------- mutations
    def grant(self, user_id: str | int, purposes: str | Iterable[str], at: object = None) -> None:
        """Record that ``user_id`` consents to ``purposes`` (a name or a list) from ``at``.

        Raises
        ------
        UnknownPurposeError
            A purpose is not one of :data:`PURPOSES`.
        ConsentError
            The viewer was forgotten (see :meth:`reinstate`), or a revoke / deny of the same
            purpose is recorded at the identical time (conflicting events).
        """
        self._consent_event("grant", user_id, purposes, at)

    def revoke(self, user_id: str | int, purposes: str | Iterable[str], at: object = None) -> None:
        """Withdraw an earlier grant of ``purposes``; effective from ``at`` (default: now).

        Under ``default="deny"`` revoking a purpose with no grant before ``at`` raises
        ``ConsentError`` ("revoke before grant"); record a refusal with :meth:`deny`.
        """
        self._consent_event("revoke", user_id, purposes, at)

    def deny(self, user_id: str | int, purposes: str | Iterable[str], at: object = None) -> None:
        """Record a refusal of ``purposes`` (valid with or without an earlier grant)."""
        self._consent_event("deny", user_id, purposes, at)

    def exclude(
        self,
        user_id: str | int,
        genres: Iterable[str] | str | None = None,
        items: Iterable[str | int] | str | int | None = None,
        max_maturity: str | int | None = None,
        *,
        at: object = None,
    ) -> None:
        """Never show these genres / titles (or anything above ``max_maturity``) to the viewer.

        Exclusions apply to every page, personalized or not. ``max_maturity`` replaces an
        earlier one; clear it with ``include(user, clear_maturity=True)``.
        """
        owner = "ConsentLedger.exclude"
        g = _str_values(genres, "genres", owner)
        i = _str_values(items, "items", owner, ids=True)
        m = _maturity_arg(max_maturity, owner)
        if not g and not i and m is None:
            raise ConsentError(f"{owner}: nothing to exclude (give genres, items or max_maturity).")
        self._user_event(user_id, owner, at, "exclude", genres=g, items=i, max_maturity=m)

    def include(
        self,
        user_id: str | int,
        genres: Iterable[str] | str | None = None,
        items: Iterable[str | int] | str | int | None = None,
        *,
        clear_maturity: bool = False,
        at: object = None,
    ) -> None:
        """Undo exclusions of genres / titles; ``clear_maturity=True`` lifts the maturity cap."""
        owner = "ConsentLedger.include"
        g = _str_values(genres, "genres", owner)
        i = _str_values(items, "items", owner, ids=True)
        if not g and not i and not clear_maturity:
            raise ConsentError(
                f"{owner}: nothing to include (give genres, items or clear_maturity)."
            )
        self._user_event(
            user_id, owner, at, "include", genres=g, items=i, clear_maturity=bool(clear_maturity)
        )

    def state_interests(
        self,
        user_id: str | int,
        genres: Iterable[str] | str | None = None,
        items: Iterable[str | int] | str | int | None = None,
        disliked_genres: Iterable[str] | str | None = None,
        disliked_items: Iterable[str | int] | str | int | None = None,
        *,
        replace: bool = False,
        at: object = None,
    ) -> None:
        """Record what the viewer told us they like / dislike (zero-party data).

        By default the statement is added: a liked genre or title leaves the disliked set and
        vice versa. ``replace=True`` replaces all four sets with what is given (``None``
        meaning empty), so ``state_interests(u, replace=True)`` clears them. The Recommender
        uses stated interests only while the ``stated_interests`` purpose is allowed.
        """
        owner = "ConsentLedger.state_interests"
        lg = _str_values(genres, "genres", owner)
        li = _str_values(items, "items", owner, ids=True)
        dg = _str_values(disliked_genres, "disliked_genres", owner)
        di = _str_values(disliked_items, "disliked_items", owner, ids=True)
        both = (set(lg) & set(dg)) | (set(li) & set(di))
        if both:
            raise ConsentError(
                f"{owner}: {sorted(both)!r} cannot be both liked and disliked in one statement."
            )
        if not (lg or li or dg or di or replace):
            raise ConsentError(f"{owner}: nothing stated (give genres, items or disliked ones).")
        self._user_event(
            user_id,
            owner,
            at,
            "interests",
            genres=lg,
            items=li,
            disliked_genres=dg,
            disliked_items=di,
            replace=bool(replace),
        )

    def forget(self, user_id: str | int, *, at: object = None) -> bool:
        """Erase a viewer: every event and detail goes, from memory and from the store.

        A tombstone holding only a keyed hash of the id remains, so later grants or imports of
        the same id (in any spelling of it) are refused (see :meth:`reinstate`). A JSON-lines
        file is rewritten atomically and never again contains the raw id; a database deletes
        the viewer's rows in the same transaction that adds the tombstone. Forgetting an id
        the ledger never saw still leaves a tombstone (a person may ask never to be imported).

        Returns
        -------
        bool
            True if a tombstone was created, False if the viewer was already forgotten.
        """
        u = _canon_id(user_id)
        h = self._hash(u)

        def build(tx: Any) -> tuple[bool, Callable[[], None] | None]:
            if h in self._tombstones:
                return False, None
            t = self._time(at, "ConsentLedger.forget")
            ev = _Event(self._next_seq(), t, "forget", hash=h)
            had_events = u in self._by_user
            new_log = [e for e in self._log if e.user != u] if had_events else list(self._log)
            if tx is not None:
                tx.erase(u, ev, new_log, had_events)

            def publish() -> None:
                self._log = [*new_log, ev]
                self._erase_local(u, h, ev)

            return True, publish

        return self._write(build)

    def reinstate(self, user_id: str | int, *, at: object = None) -> bool:
        """Lift the tombstone of a forgotten viewer who came back of their own accord.

        This is the only way to record consent for an erased id again. It grants nothing: the
        viewer starts from the ledger's default and must :meth:`grant` anew.

        Returns
        -------
        bool
            True if a tombstone was lifted, False if the viewer was not forgotten.
        """
        u = _canon_id(user_id)
        h = self._hash(u)

        def build(tx: Any) -> tuple[bool, Callable[[], None] | None]:
            if h not in self._tombstones:
                return False, None
            t = self._time(at, "ConsentLedger.reinstate")
            ev = _Event(self._next_seq(), t, "reinstate", hash=h)
            if tx is not None:
                tx.append([ev], False, t)
            return True, lambda: self._apply_hash(ev)

        return self._write(build)

    # ---------------------------------------------------------------------- reads
    def state(self, user_id: str | int) -> ConsentState:
        """The viewer's current state as an immutable snapshot (a dict lookup, no lock).

        A viewer the ledger has never seen gets the default state (no purpose under
        ``"deny"``, every purpose under ``"allow"``); a forgotten viewer gets an empty state
        with ``forgotten=True``. While a followed store is out of reach for longer than
        ``max_staleness`` the answer is the fallback state (``stale=True``: nothing allowed).
        """
        u = _canon_id(user_id)
        if self._follow and time.monotonic() - self._synced_at > self._max_staleness:
            return self._stale_state(u)
        st = self._states.get(u)
        if st is not None:
            return st
        if self._tombstones and self._hash(u) in self._tombstones:
            return ConsentState(user_id=u, forgotten=True, version=self._version)
        return ConsentState(
            user_id=u,
            purposes=_ALL if self._allow else _EMPTY,
            version=self._version,
        )

    def allowed(self, user_id: str | int, purpose: str, at: object = None) -> bool:
        """Whether ``purpose`` is allowed for the viewer now, or at time ``at``.

        With ``at``, the answer replays the viewer's timeline: the last event of that
        purpose in force at ``at`` (by effective time, see the ordering rule) decides, else
        the default. A forgotten viewer is never allowed anything (their history is erased);
        a stale ledger (see ``max_staleness``) allows nothing.
        """
        p = _purpose(purpose, "ConsentLedger.allowed")
        if at is None:
            return p in self.state(user_id).purposes
        u = _canon_id(user_id)
        t = _to_ns(at, "at", "ConsentLedger.allowed")
        if self.stale:
            return False
        events = self._by_user.get(u)
        if events is None:
            return p in self.state(u).purposes
        verdict: bool | None = None
        for ev in events:
            if ev.t > t:
                break
            if ev.void:
                continue
            if ev.op in _CONSENT_OPS and p in ev.purposes:
                verdict = ev.op == "grant"
        return self._allow if verdict is None else verdict

    def allowed_mask(self, user_ids: object, purpose: str, at: object = None) -> np.ndarray:
        """Vectorized :meth:`allowed` over many viewers: a boolean array, one per id.

        Ids are matched as strings (``42`` and ``"42"`` are the same viewer). The lookup is a
        hash-index probe per id (pandas), rebuilt once per ledger version.

        Raises
        ------
        ConsentStaleError
            The ledger follows a shared store it has not read for longer than
            ``max_staleness``: a bulk decision (training, saving a model) is refused rather
            than made from consent that may be out of date.
        """
        p = _purpose(purpose, "ConsentLedger.allowed_mask")
        ids = _canon_ids_array(user_ids)
        if self.stale:
            raise ConsentStaleError(
                f"ConsentLedger.allowed_mask: the consent store "
                f"{self._store.describe() if self._store else ''} has not been read for "
                f"{self.staleness:.1f} s (max_staleness={self._max_staleness:g} s); refusing a "
                f"bulk consent decision from state that may be out of date."
                + (f" Last error: {self._sync_error}" if self._sync_error else "")
            )
        if at is not None:
            t = _to_ns(at, "at", "ConsentLedger.allowed_mask")
            granted, refused, known, tombstones = self._at_index(p, t)
        else:
            granted, refused, known, tombstones = self._now_index(p)
        if not self._allow:
            return granted.get_indexer(ids) >= 0
        mask = refused.get_indexer(ids) < 0
        if tombstones and len(ids):
            unknown = np.flatnonzero(mask & (known.get_indexer(ids) < 0))
            if unknown.size:
                key = self._key
                gone = np.fromiter(
                    (_keyed_hash(key, _TOMBSTONE_DOMAIN, s) in tombstones for s in ids[unknown]),
                    dtype=bool,
                    count=unknown.size,
                )
                mask[unknown[gone]] = False
        return mask

    def since(self, user_id: str | int, purpose: str) -> pd.Timestamp | None:
        """Start (UTC) of the viewer's current grant of ``purpose``; None if not granted.

        Under ``default="allow"`` a purpose allowed by default (never explicitly granted)
        has no start: None.
        """
        p = _purpose(purpose, "ConsentLedger.since")
        return self.state(user_id).since.get(p)

    def is_forgotten(self, user_id: str | int) -> bool:
        """Whether the viewer was erased with :meth:`forget` (and not reinstated)."""
        u = _canon_id(user_id)
        return bool(self._tombstones) and self._hash(u) in self._tombstones

    def users(self) -> list[str]:
        """Known viewers (with at least one event), sorted; forgotten viewers are not listed."""
        with self._lock:
            return sorted(self._states)

    def events(self) -> pd.DataFrame:
        """The event log as a DataFrame, sorted by time (forgotten viewers' events are gone).

        Columns: ``seq`` (int, recording order), ``timestamp`` (UTC), ``user_id``,
        ``action`` (grant / revoke / deny / exclude / include / interests), ``purpose`` (one
        row per purpose for consent actions, else missing) and ``detail`` (JSON text of the
        genres / items / maturity / interests of other actions, else missing). Tombstones are
        not listed (they carry no viewer id); see :attr:`n_forgotten`.
        """
        with self._lock:
            log = list(self._log)
        rows: list[tuple[int, int, str, str, str | None, str | None]] = []
        for ev in log:
            if ev.user is None:
                continue
            if ev.op in _CONSENT_OPS:
                rows.extend((ev.seq, ev.t, ev.user, ev.op, p, None) for p in ev.purposes)
            else:
                detail = json.dumps(ev.detail(), ensure_ascii=False, sort_keys=True)
                rows.append((ev.seq, ev.t, ev.user, ev.op, None, detail))
        frame = pd.DataFrame(
            rows, columns=["seq", TIME, USER, "action", "purpose", "detail"]
        ).astype({"seq": "int64", TIME: "int64"})
        frame[TIME] = pd.to_datetime(frame[TIME].to_numpy(), unit="ns", utc=True)
        return frame.sort_values([TIME, "seq"], kind="stable").reset_index(drop=True)

    def explain(self, user_id: str | int) -> dict[str, Any]:
        """What the ledger allows for this viewer, on what basis and since when (JSON-ready).

        ``purposes`` maps each purpose to ``{"allowed", "since", "basis"}`` where basis is
        ``"consent"`` (an explicit grant), ``"default"`` (allowed by ``default="allow"``),
        ``"withdrawn"`` (revoked), ``"refused"`` (denied), ``"not granted"`` (never granted
        under ``default="deny"``), ``"erased"`` (forgotten) or ``"store unreachable"`` (the
        followed store has not been read for longer than ``max_staleness``: nothing is
        allowed until it is; ``stale`` is then True).
        """
        u = _canon_id(user_id)
        st = self.state(u)
        events = self._by_user.get(u, ())
        last: dict[str, str] = {}
        for ev in events:
            if ev.op in _CONSENT_OPS and not ev.void:
                for p in ev.purposes:
                    last[p] = ev.op
        purposes: dict[str, dict[str, Any]] = {}
        for p in PURPOSES:
            if st.forgotten:
                basis = "erased"
            elif st.stale:
                basis = "store unreachable"
            elif p in st.since:
                basis = "consent"
            elif p in st.purposes:
                basis = "default"
            else:
                basis = {"revoke": "withdrawn", "deny": "refused"}.get(
                    last.get(p, ""), "not granted"
                )
            since = st.since.get(p)
            purposes[p] = {
                "allowed": p in st.purposes,
                "since": since.isoformat() if since is not None else None,
                "basis": basis,
            }
        snap = st.to_dict()
        return {
            "user_id": st.user_id,
            "default": self._default,
            "forgotten": st.forgotten,
            "purposes": purposes,
            "exclusions": {
                "genres": snap["excluded_genres"],
                "items": snap["excluded_items"],
                "max_maturity": snap["max_maturity"],
            },
            "stated_interests": {
                "liked_genres": snap["liked_genres"],
                "liked_items": snap["liked_items"],
                "disliked_genres": snap["disliked_genres"],
                "disliked_items": snap["disliked_items"],
            },
            "version": st.version,
            "stale": st.stale,
        }

    # ---------------------------------------------------------------------- import
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        default: str = "deny",
        path: str | os.PathLike[str] | None = None,
        key: bytes | str | None = None,
        *,
        on_forgotten: str = "raise",
    ) -> ConsentLedger:
        """A new ledger holding the events of a consent table (see :meth:`import_frame`)."""
        ledger = cls(default=default, path=path, key=key)
        ledger.import_frame(df, on_forgotten=on_forgotten)
        return ledger

    def import_frame(self, df: pd.DataFrame, *, on_forgotten: str = "raise") -> int:
        """Import a consent table exported from a consent-management platform, atomically.

        The table format is documented in the module docstring (``help(fairrec.consent)``):
        columns ``user_id``, ``action``, ``purpose``, optional ``timestamp``, ``genre``,
        ``item_id``, ``max_maturity``. All rows are validated first; on the first bad row
        ``ConsentError`` (``UnknownPurposeError`` for a purpose) names the row number
        (0-based position) and column, and neither the ledger nor its file changes. The
        import is written to the file as one line.

        Parameters
        ----------
        df : pandas.DataFrame
            The consent table.
        on_forgotten : {"raise", "skip"}, default "raise"
            Rows of forgotten viewers: refuse the whole import, or skip those rows with a
            warning that gives their count (never their ids).

        Returns
        -------
        int
            Number of events recorded (duplicates of recorded events are skipped).
        """
        if on_forgotten not in ("raise", "skip"):
            raise param_error(
                "on_forgotten", "ConsentLedger.import_frame", "one of 'raise', 'skip'", on_forgotten
            )
        parsed = _parse_table(df)
        if parsed is None:
            return 0

        def build(tx: Any) -> tuple[int, Callable[[], None] | None]:
            drafts = self._check_table(df, parsed, on_forgotten)
            if not drafts:
                return 0, None
            events = [_Event(self._next_seq(), *d) for d in drafts]
            if tx is not None:
                tx.append(events, True, self._now())
            return len(events), lambda: self._apply(events)

        return self._write(build)

    # ---------------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the whole log to a JSON-lines file ``path`` atomically (header first).

        Unless the ledger's key was passed in by the caller, it is also written to
        ``<path>.key`` (mode 0600). The ledger keeps writing to its own store (if any).
        """
        target = Path(path)
        with self._lock:
            if not self._key_given:
                key_file = _key_path(target)
                if not key_file.exists() or _read_key_file(key_file) != self._key:
                    _atomic_write(key_file, [(self._key.hex() + "\n").encode("ascii")])
            write_jsonl(target, self._default, self._key, list(self._log))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | ConsentStore,
        key: bytes | str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> ConsentLedger:
        """Open an existing ledger: a JSON-lines file, a store URL or a store object.

        The default is read from the store (the file's header, the database's metadata);
        later events are written to it. The key is ``key`` or the sidecar ``<path>.key``.
        ``options`` are passed on (``follow``, ``poll_interval``, ``max_staleness``).
        """
        spec = path
        if isinstance(spec, os.PathLike):
            spec = os.fspath(spec)
        if isinstance(spec, str):
            store = open_store(spec)
            if isinstance(store, JsonlStore):
                target = store.path
                if not target.is_file():
                    raise ConsentError(f"no consent ledger file at {target}.")
                with open(target, "rb") as fh:
                    first = fh.readline()
                try:
                    header = json.loads(first.decode("utf-8"))
                    default = header["default"]
                except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                    raise ConsentError(
                        f"{target}: line 1 is not a fairrec consent ledger header."
                    ) from None
                if default not in DEFAULTS:
                    raise ConsentError(f"{target}: line 1 has an unknown default {default!r}.")
                return cls(default=default, path=target, key=key, **options)
            spec = store
        return cls(default=None, store=spec, key=key, **options)

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
            self._cache = None
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
        self._cache = None
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
        self._cache = None
        self._log = log
        self._tombstones = tombstones
        self._by_user = by_user
        self._has = has
        self._hashes = dict(user_hash)
        self._states = states
        return erased_found

    # ---------------------------------------------------------------------- internals
    def _hash(self, canon_user: str) -> str:
        return _keyed_hash(self._key, _TOMBSTONE_DOMAIN, canon_user)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _now(self) -> int:
        t = max(time.time_ns(), self._last_now + 1)
        self._last_now = t
        return t

    def _time(self, at: object, owner: str) -> int:
        if at is None:
            return self._now()
        t = _to_ns(at, "at", owner)
        if t > time.time_ns() + FUTURE_TOLERANCE_NS:
            raise ConsentError(f"{owner}: the time {_iso(t)} is in the future.")
        return t

    def _check_not_forgotten(self, u: str, owner: str) -> None:
        if self._tombstones and self._hash(u) in self._tombstones:
            raise ConsentError(
                f"{owner}: this viewer was erased with forget(); an erased viewer cannot be "
                f"resurrected by a new event. If the person came back and consents anew, call "
                f"reinstate(user_id) first."
            )

    def _consent_event(self, op: str, user_id: object, purposes: object, at: object) -> None:
        owner = f"ConsentLedger.{op}"
        u = _canon_id(user_id)
        ps = _purposes_arg(purposes, owner)

        def build(tx: Any) -> tuple[None, Callable[[], None]]:
            self._check_not_forgotten(u, owner)
            t = self._time(at, owner)
            existing = self._by_user.get(u, ())
            for p in ps:
                if op == "grant":
                    for ev in existing:
                        if ev.t == t and ev.op in ("revoke", "deny") and p in ev.purposes:
                            raise ConsentError(
                                f"{owner}: conflicting events: viewer {u!r} already has a "
                                f"{ev.op!r} of {p!r} at the identical time {_iso(t)}; a "
                                f"withdrawal stays in force over a grant of the same time. "
                                f"Record the new grant with a later time."
                            )
                elif (
                    op == "revoke"
                    and not self._allow
                    and not any(ev.op == "grant" and p in ev.purposes for ev in existing)
                ):
                    who = "unknown viewer" if not existing else "viewer"
                    raise ConsentError(
                        f"{owner}: revoke before grant: {who} {u!r} has no grant of {p!r} "
                        f"to withdraw (default='deny'). Use deny() to record a refusal."
                    )
            ev = _Event(self._next_seq(), t, op, u, ps)
            if tx is not None:
                tx.append([ev], False, t)
            return None, lambda: self._apply([ev])

        self._write(build)

    def _user_event(self, user_id: object, owner: str, at: object, op: str, **fields: Any) -> None:
        u = _canon_id(user_id)

        def build(tx: Any) -> tuple[None, Callable[[], None]]:
            self._check_not_forgotten(u, owner)
            t = self._time(at, owner)
            ev = _Event(self._next_seq(), t, op, u, **fields)
            if tx is not None:
                tx.append([ev], False, t)
            return None, lambda: self._apply([ev])

        self._write(build)

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
        self._cache = None

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

    def _now_index(self, p: str) -> tuple[pd.Index, pd.Index, pd.Index, frozenset[str]]:
        with self._lock:
            version = self._version
            if self._cache is None or self._cache[0] != version:
                self._cache = (version, {})
            cache = self._cache[1]
            key = ("now", p)
            if key not in cache:
                known = np.fromiter(self._states, dtype=object, count=len(self._states))
                has = self._has[p]
                granted = np.fromiter(has, dtype=object, count=len(has))
                refused = (
                    known[~pd.Index(known, dtype=object).isin(granted)]
                    if self._allow
                    else known[:0]
                )
                cache[key] = (
                    pd.Index(granted, dtype=object),
                    pd.Index(refused, dtype=object),
                    pd.Index(known, dtype=object),
                    frozenset(self._tombstones),
                )
            return cache[key]

    def _at_index(self, p: str, t: int) -> tuple[pd.Index, pd.Index, pd.Index, frozenset[str]]:
        with self._lock:
            version = self._version
            if self._cache is None or self._cache[0] != version:
                self._cache = (version, {})
            cache = self._cache[1]
            key = ("events", p)
            if key not in cache:
                rows = [
                    (ev.user, ev.t, ev.seq, ev.op == "grant")
                    for line in self._by_user.values()
                    for ev in line
                    if ev.op in _CONSENT_OPS and p in ev.purposes and not ev.void
                ]
                frame = pd.DataFrame(rows, columns=["user", "t", "seq", "granted"])
                frame = frame.astype(
                    {"user": object, "t": "int64", "seq": "int64", "granted": bool}
                )
                cache[key] = frame.sort_values(["t", "seq"], kind="stable")
            frame = cache[key]
            known = np.fromiter(self._states, dtype=object, count=len(self._states))
            tombstones = frozenset(self._tombstones)
        past = frame[frame["t"].to_numpy() <= t].drop_duplicates("user", keep="last")
        granted = past["user"].to_numpy()[past["granted"].to_numpy()]
        refused = past["user"].to_numpy()[~past["granted"].to_numpy()]
        return (
            pd.Index(granted, dtype=object),
            pd.Index(refused, dtype=object),
            pd.Index(known, dtype=object),
            tombstones,
        )

    def _check_table(self, df: pd.DataFrame, parsed: _Table, on_forgotten: str) -> list[tuple]:
        """Stateful validation of a parsed table (lock held): returns event drafts
        ``(t, op, user, purposes, genres, items, max_maturity, clear_maturity, disliked_genres,
        disliked_items, replace)`` in row order, or raises ConsentError naming the row."""
        n = len(parsed.users)
        keep = np.ones(n, dtype=bool)
        if self._tombstones:
            codes, uniques = pd.factorize(parsed.users)
            gone_u = np.array([self._hash(u) in self._tombstones for u in uniques], dtype=bool)
            gone = gone_u[codes]
            if gone.any():
                if on_forgotten == "raise":
                    row = int(np.flatnonzero(gone)[0])
                    raise ConsentError(
                        f"{_row(df, row)}, column 'user_id': this viewer was erased with "
                        f"forget(); a re-import cannot resurrect them. Call reinstate() after a "
                        f"new, explicit consent by the person, or import with "
                        f"on_forgotten='skip'. Nothing was imported."
                    )
                warnings.warn(
                    f"{int(gone.sum())} row(s) of forgotten viewers were skipped.",
                    ConsentFileWarning,
                    stacklevel=3,
                )
                keep &= ~gone
        # one draft per row
        drafts: dict[int, tuple] = {}
        keys: dict[tuple, int] = {}
        affected = set(parsed.users[keep].tolist())
        existing_keys: set[tuple] = set()
        existing_effect: dict[tuple[str, str, int], bool] = {}
        first_grant: dict[tuple[str, str], int] = {}
        for u in affected:
            for ev in self._by_user.get(u, ()):
                if ev.op in _CONSENT_OPS:
                    for p in ev.purposes:
                        existing_keys.add(ev.dedupe_key((p,)))
                        existing_effect[(u, p, ev.t)] = ev.op == "grant"
                        if ev.op == "grant":  # received before the import: any time counts
                            first_grant[(u, p)] = _BEFORE_ALL
                else:
                    existing_keys.add(ev.dedupe_key())
        row_effect: dict[tuple[str, str, int], int] = {}
        revokes: list[tuple[str, str, int, int]] = []
        for r in np.flatnonzero(keep).tolist():
            u = parsed.users[r]
            op = parsed.ops[r]
            t = int(parsed.times[r])
            g = parsed.genres[r]
            i = parsed.items[r]
            m = parsed.maturity[r]
            if op in _CONSENT_OPS:
                d = (t, op, u, (parsed.purposes[r],))
            elif op == "exclude":
                d = (t, op, u, (), (g,) if g else (), (i,) if i else (), m)
            elif op == "include":
                d = (t, op, u, (), (g,) if g else (), (i,) if i else (), None, m is not None)
            else:  # like / dislike -> interests
                like = op == "like"
                d = (
                    t,
                    "interests",
                    u,
                    (),
                    (g,) if g and like else (),
                    (i,) if i and like else (),
                    None,
                    False,
                    (g,) if g and not like else (),
                    (i,) if i and not like else (),
                )
            ev = _Event(0, *d)
            k = ev.dedupe_key()
            if k in existing_keys or k in keys:
                continue  # an exact duplicate: importing the same export twice is harmless
            keys[k] = r
            if op in _CONSENT_OPS:
                p = parsed.purposes[r]
                eff = op == "grant"
                clash = existing_effect.get((u, p, t))
                if clash is not None and eff and not clash:  # (a withdrawal row wins a grant)
                    raise ConsentError(
                        f"{_row(df, r)}, column 'action': conflicting events: viewer {u!r} "
                        f"already has a {'grant' if clash else 'revoke/deny'} of {p!r} at the "
                        f"identical time {_iso(t)} in the ledger. Nothing was imported."
                    )
                other = row_effect.get((u, p, t))
                hint = (
                    " (rows without a timestamp share the import time)" if t == parsed.now else ""
                )
                if other is not None and (parsed.ops[other] == "grant") != eff:
                    raise ConsentError(
                        f"{_row(df, r)}, column 'action': conflicting events: {_row(df, other)} "
                        f"and this row give opposite actions for viewer {u!r} and purpose "
                        f"{p!r} at the identical time {_iso(t)}{hint}. Nothing was imported."
                    )
                row_effect[(u, p, t)] = r
                if op == "revoke":
                    revokes.append((u, p, t, r))
                if eff:
                    first_grant[(u, p)] = min(first_grant.get((u, p), t), t)
            drafts[r] = d
        if not self._allow:
            for u, p, t, r in revokes:
                if not first_grant.get((u, p), t) < t:
                    raise ConsentError(
                        f"{_row(df, r)}, column 'action': revoke before grant: viewer {u!r} has "
                        f"no grant of {p!r} before {_iso(t)} (default='deny'). Use a "
                        f"'denied' / 'opt-out' action to record a refusal. Nothing was imported."
                    )
        # numbered in time order, so the receive order inside one import follows its times
        return [drafts[r] for r in sorted(drafts, key=lambda r: (drafts[r][0], r))]
