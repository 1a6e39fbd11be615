"""The ConsentLedger: the event-sourced consent state of every viewer, over a store."""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairrec._columns import TIME, USER
from fairrec.consent._common import (
    _CONSENT_OPS,
    _HASH_OPS,
    _TOMBSTONE_DOMAIN,
    _USER_OPS,
    DEFAULTS,
    FORMAT,
    FORMAT_VERSION,
    FUTURE_TOLERANCE_NS,
    PURPOSES,
    ConsentFileWarning,
    _append_bytes,
    _atomic_write,
    _canon_id,
    _canon_ids_array,
    _coerce_key,
    _dumps,
    _iso,
    _key_check,
    _key_path,
    _keyed_hash,
    _load_or_create_key,
    _purpose,
    _purposes_arg,
    _read_key_file,
    _repair_tail,
    _scan_jsonl,
    _to_ns,
)
from fairrec.consent._events import (
    _EMPTY,
    _PURPOSE_SETS,
    ConsentState,
    _decode_event,
    _Event,
    _maturity_arg,
    _order,
    _replay,
    _str_values,
)
from fairrec.consent._table import (
    _parse_table,
    _row,
    _Table,
)
from fairrec.errors import ConsentError, ParameterError, param_error

# --------------------------------------------------------------------------------------------
# the ledger
# --------------------------------------------------------------------------------------------


class ConsentLedger:
    """Purpose-bound, timestamped consent per viewer, with exclusions, interests and erasure.

    See the module documentation (``help(fairrec.consent)``) for the event model, the file
    format, the import table format, the key trade-off and thread safety.

    Parameters
    ----------
    default : {"deny", "allow"}, default "deny"
        What a viewer without events is allowed: nothing (privacy by default) or everything
        until they revoke it (an existing opt-out regime).
    path : str or Path, optional
        A JSON-lines file. If it exists it is loaded (its header's ``default`` must match)
        and every later event is appended to it; if not it is created.
    key : bytes or str, optional
        Secret key (>= 16 bytes) of the keyed hash in tombstones. ``None``: read or create
        ``<path>.key`` (mode 0600), or a random in-memory key when there is no ``path``.

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
        default: str = "deny",
        path: str | os.PathLike[str] | None = None,
        key: bytes | str | None = None,
    ) -> None:
        if default not in DEFAULTS:
            raise param_error("default", "ConsentLedger", "one of 'deny', 'allow'", default)
        self._default = default
        self._allow = default == "allow"
        self._lock = threading.RLock()
        self._log: list[_Event] = []  # seq order; hash-only events included
        self._by_user: dict[str, tuple[_Event, ...]] = {}  # per viewer, sorted by (t, seq)
        self._states: dict[str, ConsentState] = {}
        self._tombstones: dict[str, int] = {}  # keyed hash -> time of erasure
        self._has: dict[str, set[str]] = {p: set() for p in PURPOSES}
        self._seq = 0
        self._version = 0
        self._last_now = 0
        self._cache: tuple[int, dict[Any, Any]] | None = None
        self._path: Path | None = None
        given = _coerce_key(key, "ConsentLedger")
        self._key_given = given is not None
        if path is None:
            self._key = given if given is not None else secrets.token_bytes(32)
        else:
            self._attach(Path(path), given)

    # ---------------------------------------------------------------------- properties
    @property
    def default(self) -> str:
        """``"deny"`` or ``"allow"``: what a viewer without events is allowed."""
        return self._default

    @property
    def version(self) -> int:
        """Increments on every mutation; a cache keyed on it is valid until it changes."""
        return self._version

    @property
    def path(self) -> Path | None:
        """The JSON-lines file events are appended to, or None for an in-memory ledger."""
        return self._path

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
        where = f", path={str(self._path)!r}" if self._path else ""
        return (
            f"ConsentLedger(default={self._default!r}{where}; {len(self._states)} viewers, "
            f"{self.n_forgotten} forgotten, version {self._version})"
        )

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
        """Erase a viewer: every event and detail goes, from memory and from the file.

        A tombstone holding only a keyed hash of the id remains, so later grants or imports of
        the same id are refused (see :meth:`reinstate`). The file is rewritten atomically and
        never again contains the raw id. Forgetting an id the ledger never saw still leaves a
        tombstone (a person may ask never to be imported).

        Returns
        -------
        bool
            True if a tombstone was created, False if the viewer was already forgotten.
        """
        u = _canon_id(user_id)
        h = self._hash(u)
        with self._lock:
            if h in self._tombstones:
                return False
            t = self._time(at, "ConsentLedger.forget")
            ev = _Event(self._next_seq(), t, "forget", hash=h)
            had_events = u in self._by_user
            new_log = [e for e in self._log if e.user != u] if had_events else self._log
            new_log = [*new_log, ev]
            if self._path is not None:
                if had_events:
                    self._rewrite(self._path, new_log)
                else:
                    _append_bytes(self._path, _dumps(ev.to_json()))
            # publish: version first, then the tombstone, so a reader sees either the old
            # state (stamped with its own, older version) or "forgotten" stamped with the
            # version of this erasure -- never "forgotten" under a version from before it
            self._bump()
            self._tombstones[h] = t
            self._states.pop(u, None)
            self._by_user.pop(u, None)
            for members in self._has.values():
                members.discard(u)
            self._log = new_log
            return True

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
        with self._lock:
            if h not in self._tombstones:
                return False
            ev = _Event(
                self._next_seq(), self._time(at, "ConsentLedger.reinstate"), "reinstate", hash=h
            )
            if self._path is not None:
                _append_bytes(self._path, _dumps(ev.to_json()))
            self._log.append(ev)
            del self._tombstones[h]
            self._bump()
            return True

    # ---------------------------------------------------------------------- reads
    def state(self, user_id: str | int) -> ConsentState:
        """The viewer's current state as an immutable snapshot (a dict lookup, no lock).

        A viewer the ledger has never seen gets the default state (no purpose under
        ``"deny"``, every purpose under ``"allow"``); a forgotten viewer gets an empty state
        with ``forgotten=True``.
        """
        u = _canon_id(user_id)
        st = self._states.get(u)
        if st is not None:
            return st
        if self._tombstones and self._hash(u) in self._tombstones:
            return ConsentState(user_id=u, forgotten=True, version=self._version)
        return ConsentState(
            user_id=u,
            purposes=_PURPOSE_SETS[(1 << len(PURPOSES)) - 1] if self._allow else _EMPTY,
            version=self._version,
        )

    def allowed(self, user_id: str | int, purpose: str, at: object = None) -> bool:
        """Whether ``purpose`` is allowed for the viewer now, or at time ``at``.

        With ``at``, the answer replays the event log: the last event of that viewer and
        purpose dated at or before ``at`` decides, else the default. A forgotten viewer is
        never allowed anything (their history is erased).
        """
        p = _purpose(purpose, "ConsentLedger.allowed")
        if at is None:
            return p in self.state(user_id).purposes
        u = _canon_id(user_id)
        t = _to_ns(at, "at", "ConsentLedger.allowed")
        events = self._by_user.get(u)
        if events is None:
            return p in self.state(u).purposes
        verdict: bool | None = None
        for ev in events:
            if ev.t > t:
                break
            if ev.op in _CONSENT_OPS and p in ev.purposes:
                verdict = ev.op == "grant"
        return self._allow if verdict is None else verdict

    def allowed_mask(self, user_ids: object, purpose: str, at: object = None) -> np.ndarray:
        """Vectorized :meth:`allowed` over many viewers: a boolean array, one per id.

        Ids are matched as strings (``42`` and ``"42"`` are the same viewer). The lookup is a
        hash-index probe per id (pandas), rebuilt once per ledger version.
        """
        p = _purpose(purpose, "ConsentLedger.allowed_mask")
        ids = _canon_ids_array(user_ids)
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
        under ``default="deny"``) or ``"erased"`` (forgotten).
        """
        u = _canon_id(user_id)
        st = self.state(u)
        events = self._by_user.get(u, ())
        last: dict[str, str] = {}
        for ev in events:
            if ev.op in _CONSENT_OPS:
                for p in ev.purposes:
                    last[p] = ev.op
        purposes: dict[str, dict[str, Any]] = {}
        for p in PURPOSES:
            if st.forgotten:
                basis = "erased"
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
        with self._lock:
            drafts = self._check_table(df, parsed, on_forgotten)
            if not drafts:
                return 0
            events = [_Event(self._next_seq(), *d) for d in drafts]
            if self._path is not None:
                line = {
                    "op": "import",
                    "at": _iso(self._now()),
                    "n": len(events),
                    "events": [e.to_json() for e in events],
                }
                try:
                    _append_bytes(self._path, _dumps(line))
                except BaseException:
                    self._seq -= len(events)
                    raise
            self._apply(events)
            return len(events)

    # ---------------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the whole log to ``path`` atomically (JSON lines, header first).

        Unless the ledger's key was passed in by the caller, it is also written to
        ``<path>.key`` (mode 0600). The ledger keeps appending to its own ``path`` (if any).
        """
        target = Path(path)
        with self._lock:
            if not self._key_given:
                key_file = _key_path(target)
                if not key_file.exists() or _read_key_file(key_file) != self._key:
                    _atomic_write(key_file, [(self._key.hex() + "\n").encode("ascii")])
            self._rewrite(target, list(self._log))

    @classmethod
    def load(cls, path: str | os.PathLike[str], key: bytes | str | None = None) -> ConsentLedger:
        """Open a ledger file written by :meth:`save` or by a ledger with a ``path``.

        The default is read from the file's header; later events are appended to the file.
        The key is ``key`` or the sidecar ``<path>.key``.
        """
        target = Path(path)
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
        return cls(default=default, path=target, key=key)

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

    def _bump(self) -> None:
        self._version += 1
        self._cache = None

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
        with self._lock:
            self._check_not_forgotten(u, owner)
            t = self._time(at, owner)
            existing = self._by_user.get(u, ())
            granted = op == "grant"
            for p in ps:
                for ev in existing:
                    if (
                        ev.t == t
                        and ev.op in _CONSENT_OPS
                        and p in ev.purposes
                        and ((ev.op == "grant") != granted)
                    ):
                        raise ConsentError(
                            f"{owner}: conflicting events: viewer {u!r} already has a "
                            f"{ev.op!r} of {p!r} at the identical time {_iso(t)}."
                        )
                if (
                    op == "revoke"
                    and not self._allow
                    and not any(
                        ev.op == "grant" and p in ev.purposes and ev.t < t for ev in existing
                    )
                ):
                    who = "unknown viewer" if not existing else "viewer"
                    raise ConsentError(
                        f"{owner}: revoke before grant: {who} {u!r} has no grant of {p!r} "
                        f"before {_iso(t)}, so there is nothing to revoke (default='deny'). "
                        f"Use deny() to record a refusal."
                    )
            ev = _Event(self._next_seq(), t, op, u, ps)
            self._commit(ev)

    def _user_event(self, user_id: object, owner: str, at: object, op: str, **fields: Any) -> None:
        u = _canon_id(user_id)
        with self._lock:
            self._check_not_forgotten(u, owner)
            t = self._time(at, owner)
            ev = _Event(self._next_seq(), t, op, u, **fields)
            self._commit(ev)

    def _commit(self, ev: _Event) -> None:
        """Persist one validated event (append + fsync), then publish it (lock held)."""
        if self._path is not None:
            try:
                _append_bytes(self._path, _dumps(ev.to_json()))
            except BaseException:
                self._seq -= 1
                raise
        self._apply([ev])

    def _apply(self, events: list[_Event]) -> None:
        """Publish validated, persisted user events (caller holds the lock)."""
        version = self._version + 1
        touched: dict[str, list[_Event]] = {}
        for ev in events:
            self._log.append(ev)
            touched.setdefault(ev.user, []).append(ev)  # type: ignore[arg-type]
        for u, new in touched.items():
            merged = tuple(sorted((*self._by_user.get(u, ()), *new), key=_order))
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

    def _header(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "default": self._default,
            "key_check": _key_check(self._key, b"consent"),
            "created": _iso(time.time_ns()),
        }

    def _rewrite(self, target: Path, log: list[_Event]) -> None:
        chunks = [_dumps(self._header())]
        chunks.extend(_dumps(ev.to_json()) for ev in log)
        _atomic_write(target, chunks)

    def _attach(self, path: Path, given: bytes | None) -> None:
        key_file = _key_path(path)
        scan = _scan_jsonl(path, "consent ledger") if path.is_file() else None
        if scan is not None and scan.records and scan.records[0][0] != 1:
            raise ConsentError(f"{path}: line 1 is not a fairrec consent ledger header.")
        if scan is None or not scan.records:
            # a new ledger (or a file whose only line, the header, was torn): start afresh
            self._key = given if given is not None else _load_or_create_key(key_file)
            self._path = path
            self._rewrite(path, [])
            return
        header = scan.records[0][1]
        if header.get("format") != FORMAT:
            raise ConsentError(f"{path}: line 1 is not a fairrec consent ledger header.")
        if not isinstance(header.get("version"), int) or header["version"] > FORMAT_VERSION:
            raise ConsentError(
                f"{path}: format version {header.get('version')!r} is not supported by this "
                f"fairrec (reads up to {FORMAT_VERSION}); upgrade fairrec."
            )
        if header.get("default") != self._default:
            raise ConsentError(
                f"{path}: the file was written with default={header.get('default')!r} but the "
                f"ledger was opened with default={self._default!r}; use ConsentLedger.load(path) "
                f"or pass the same default."
            )
        if given is not None:
            key = given
        elif key_file.is_file():
            key = _read_key_file(key_file)
        else:
            raise ConsentError(
                f"{path}: the key file {key_file} is missing, so tombstones of erased viewers "
                f"cannot be checked. Restore it or pass key=."
            )
        check = header.get("key_check")
        if not (
            isinstance(check, str)
            and check.isascii()  # compare_digest refuses non-ASCII str (a damaged header)
            and hmac.compare_digest(check, _key_check(key, b"consent"))
        ):
            raise ConsentError(
                f"{path}: the key does not match the one this ledger was written with "
                f"(key fingerprint differs); tombstones would stop working."
            )
        self._key = key
        erased_found = self._replay_file(path, scan.records[1:])
        if scan.torn_line is not None or scan.needs_newline:
            _repair_tail(path, scan)
        self._path = path
        if erased_found:
            self._rewrite(path, self._log)

    def _replay_file(self, path: Path, records: list[tuple[int, dict[str, Any]]]) -> bool:
        """Rebuild memory from file lines; returns True if an erased viewer's events had to
        be dropped (then the caller rewrites the file)."""
        decoded: list[tuple[int, _Event]] = []
        last_seq = 0
        for lineno, obj in records:
            try:
                if obj.get("op") == "import":
                    inner = obj.get("events")
                    if not isinstance(inner, list) or obj.get("n") != len(inner):
                        raise ValueError("an import line needs 'events' and a matching 'n'")
                    batch = [_decode_event(e if isinstance(e, dict) else {}) for e in inner]
                    if any(e.op not in _USER_OPS for e in batch):
                        raise ValueError("an import holds only viewer events")
                else:
                    batch = [_decode_event(obj)]
            except ValueError as exc:
                raise ConsentError(
                    f"{path}: line {lineno} is not a valid ledger event: {exc}."
                ) from None
            for ev in batch:
                if ev.seq <= last_seq:
                    raise ConsentError(
                        f"{path}: line {lineno}: event numbers must increase (seq {ev.seq} after "
                        f"{last_seq}); the file was reordered or tampered with."
                    )
                last_seq = ev.seq
                decoded.append((lineno, ev))
        tombstones: dict[str, int] = {}
        erased_found = False
        if not any(ev.op in _HASH_OPS for _, ev in decoded):
            log = [ev for _, ev in decoded]
        else:  # replay erasures in file order: hash each viewer once
            log = []
            user_hash: dict[str, str] = {}
            for lineno, ev in decoded:
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
                            f"{path}: line {lineno} records an event for a viewer erased earlier "
                            f"in the file (no reinstate in between); refusing to resurrect them."
                        )
                log.append(ev)
        if erased_found:
            warnings.warn(
                f"{path}: events of an erased viewer were found before their tombstone; they "
                f"were dropped and the file rewritten.",
                ConsentFileWarning,
                stacklevel=4,
            )
        self._log = log
        self._tombstones = tombstones
        self._seq = last_seq
        grouped: dict[str, list[_Event]] = {}
        for ev in log:
            if ev.user is not None:
                grouped.setdefault(ev.user, []).append(ev)
        version = self._version + 1
        for u, evs in grouped.items():
            merged = tuple(sorted(evs, key=_order))
            self._by_user[u] = merged
            self._publish(u, _replay(u, merged, self._allow, version))
        self._version = version
        return erased_found

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
                    for ev in self._log
                    if ev.op in _CONSENT_OPS and p in ev.purposes
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
                        if ev.op == "grant":
                            first_grant[(u, p)] = min(first_grant.get((u, p), ev.t), ev.t)
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
                if clash is not None and clash != eff:
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
        return [drafts[r] for r in sorted(drafts)]
