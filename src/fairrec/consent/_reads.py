"""The read side of a :class:`~fairrec.consent.ConsentLedger`: states, single and bulk
consent decisions, the event table, explanations. Reads take no lock except to rebuild the
bulk index (:mod:`fairrec.consent._masks`)."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd

from fairrec._checks import check_time_ns
from fairrec._columns import TIME, USER
from fairrec.consent._common import _CONSENT_OPS
from fairrec.consent._core import _LedgerCore
from fairrec.consent._state import _EMPTY, _PURPOSE_SETS, ConsentState
from fairrec.consent.purposes import PURPOSES, canonical_purpose
from fairrec.data.ids import canon_id, canon_ids
from fairrec.errors import ConsentStaleError

_ALL = _PURPOSE_SETS[(1 << len(PURPOSES)) - 1]


class _LedgerReads(_LedgerCore):
    """Read methods of :class:`~fairrec.consent.ConsentLedger` (documented there)."""

    def state(self, user_id: str | int) -> ConsentState:
        """The viewer's current state as an immutable snapshot (a dict lookup, no lock).

        A viewer the ledger has never seen gets the default state (no purpose under
        ``"deny"``, every purpose under ``"allow"``); a forgotten viewer gets an empty state
        with ``forgotten=True``. While a followed store is out of reach for longer than
        ``max_staleness`` the answer is the fallback state (``stale=True``: nothing allowed).
        """
        u = canon_id(user_id)
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
        p = canonical_purpose(purpose, "ConsentLedger.allowed")
        if at is None:
            return p in self.state(user_id).purposes
        u = canon_id(user_id)
        t = check_time_ns(at, "at", "ConsentLedger.allowed")
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
        p = canonical_purpose(purpose, "ConsentLedger.allowed_mask")
        ids = canon_ids(user_ids)
        if self.stale:
            raise ConsentStaleError(
                f"ConsentLedger.allowed_mask: the consent store "
                f"{self._store.describe() if self._store else ''} has not been read for "
                f"{self.staleness:.1f} s (max_staleness={self._max_staleness:g} s); refusing a "
                f"bulk consent decision from state that may be out of date."
                + (f" Last error: {self._sync_error}" if self._sync_error else "")
            )
        t = None if at is None else check_time_ns(at, "at", "ConsentLedger.allowed_mask")
        return self._masks.mask(self, ids, p, t)

    def since(self, user_id: str | int, purpose: str) -> pd.Timestamp | None:
        """Start (UTC) of the viewer's current grant of ``purpose``; None if not granted.

        Under ``default="allow"`` a purpose allowed by default (never explicitly granted)
        has no start: None.
        """
        p = canonical_purpose(purpose, "ConsentLedger.since")
        return self.state(user_id).since.get(p)

    def is_forgotten(self, user_id: str | int) -> bool:
        """Whether the viewer was erased with :meth:`forget` (and not reinstated)."""
        u = canon_id(user_id)
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
        u = canon_id(user_id)
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
