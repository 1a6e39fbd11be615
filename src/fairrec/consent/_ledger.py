"""The public API of :class:`ConsentLedger`: recording consent, exclusions, interests and
erasures, importing tables, saving and loading. Reads are in ``_reads``, the state machine
and store synchronisation in ``_core``, the ordering rule in ``_replay``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from fairrec._checks import check_choice
from fairrec._durable import atomic_write, iso_ns
from fairrec.consent._events import _Event
from fairrec.consent._import import table_drafts
from fairrec.consent._jsonl import JsonlStore, write_jsonl
from fairrec.consent._parse import maturity_arg, str_values
from fairrec.consent._reads import _LedgerReads
from fairrec.consent._replay import Problem, first_problem
from fairrec.consent._store import ConsentStore, open_store
from fairrec.consent._table import _parse_table
from fairrec.consent.keys import key_file_for, read_key_file
from fairrec.consent.purposes import DEFAULTS, canonical_purposes
from fairrec.data.ids import canon_id
from fairrec.errors import ConsentError

__all__ = ["ConsentLedger"]


class ConsentLedger(_LedgerReads):
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
        g = str_values(genres, "genres", owner)
        i = str_values(items, "items", owner, ids=True)
        m = maturity_arg(max_maturity, owner)
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
        g = str_values(genres, "genres", owner)
        i = str_values(items, "items", owner, ids=True)
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
        lg = str_values(genres, "genres", owner)
        li = str_values(items, "items", owner, ids=True)
        dg = str_values(disliked_genres, "disliked_genres", owner)
        di = str_values(disliked_items, "disliked_items", owner, ids=True)
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
        u = canon_id(user_id)
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
        u = canon_id(user_id)
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
        check_choice(on_forgotten, "on_forgotten", "ConsentLedger.import_frame", ("raise", "skip"))
        parsed = _parse_table(df)
        if parsed is None:
            return 0

        def build(tx: Any) -> tuple[int, Callable[[], None] | None]:
            drafts = table_drafts(self, df, parsed, on_forgotten)
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
                key_file = key_file_for(target)
                if not key_file.exists() or read_key_file(key_file) != self._key:
                    atomic_write(key_file, [(self._key.hex() + "\n").encode("ascii")])
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

    # ---------------------------------------------------------------------- helpers

    def _consent_event(self, op: str, user_id: object, purposes: object, at: object) -> None:
        owner = f"ConsentLedger.{op}"
        u = canon_id(user_id)
        ps = canonical_purposes(purposes, owner)

        def build(tx: Any) -> tuple[None, Callable[[], None]]:
            self._check_not_forgotten(u, owner)
            t = self._time(at, owner)
            problem = first_problem([(u, op, p, t) for p in ps], self._by_user, self._allow)
            if problem is not None:
                raise _refusal(owner, problem)
            ev = _Event(self._next_seq(), t, op, u, ps)
            if tx is not None:
                tx.append([ev], False, t)
            return None, lambda: self._apply([ev])

        self._write(build)

    def _user_event(self, user_id: object, owner: str, at: object, op: str, **fields: Any) -> None:
        u = canon_id(user_id)

        def build(tx: Any) -> tuple[None, Callable[[], None]]:
            self._check_not_forgotten(u, owner)
            t = self._time(at, owner)
            ev = _Event(self._next_seq(), t, op, u, **fields)
            if tx is not None:
                tx.append([ev], False, t)
            return None, lambda: self._apply([ev])

        self._write(build)


def _refusal(owner: str, problem: Problem) -> ConsentError:
    """The error for a consent event the ordering rule refuses (see ``_replay``)."""
    u, p, t = problem.user, problem.purpose, problem.t
    if problem.kind == "revoke before grant":
        who = "viewer" if problem.known_user else "unknown viewer"
        return ConsentError(
            f"{owner}: revoke before grant: {who} {u!r} has no grant of {p!r} "
            f"to withdraw (default='deny'). Use deny() to record a refusal."
        )
    return ConsentError(
        f"{owner}: conflicting events: viewer {u!r} already has a "
        f"{problem.recorded_op!r} of {p!r} at the identical time {iso_ns(t)}; a "
        f"withdrawal stays in force over a grant of the same time. "
        f"Record the new grant with a later time."
    )
