"""The ordering rule of consent events and the replay of a viewer's log into a snapshot.

This module holds the **one** statement of the rule (the package docstring explains it to
users); the ledger's methods and the table import both call it:

* :func:`_timeline` -- *withdrawal always wins*: a revoke or deny voids every grant of the
  same viewer and purpose received before it and stamped at or after its own time;
* :func:`first_problem` -- which new events are refused: a grant at the identical time of a
  withdrawal (a conflict), opposite actions at one time inside one batch (a conflict), and,
  under ``default="deny"``, a revoke with no grant received before it ("revoke before
  grant");
* :func:`_replay` -- folds a timeline into the immutable :class:`ConsentState`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from fairrec.consent._common import _CONSENT_OPS
from fairrec.consent._events import _Event
from fairrec.consent._parse import as_timestamp
from fairrec.consent._state import _NO_SINCE, _PURPOSE_SETS, ConsentState
from fairrec.consent.purposes import PURPOSES


def _order(ev: _Event) -> tuple[int, int]:
    return (ev.t, ev.seq)


def _timeline(events: Iterable[_Event]) -> tuple[_Event, ...]:
    """One viewer's events as a timeline, where a withdrawal always wins.

    The ordering rule: events are taken in receive order (``seq``). A withdrawal (revoke or
    deny) of a purpose **voids every grant of that purpose received before it and stamped at
    or after the withdrawal's own time** (a grant stamped ahead by clock skew, a late
    withdrawal of a grant recorded later in time): such a grant is never in force, so no
    grant received before a withdrawal can outrank it, whatever its stamp. What remains is
    ordered by (stamped time, seq). A consent event of several purposes is split into one
    entry per purpose. Voided grants stay in the timeline (marked ``void``) so a re-import of
    the same grant is recognised as a duplicate.
    """
    grants: dict[str, list[int]] = {}
    out: list[_Event] = []
    for ev in sorted(events, key=lambda e: e.seq):
        if ev.op not in _CONSENT_OPS:
            out.append(ev)
            continue
        for p in ev.purposes:
            part = ev if len(ev.purposes) == 1 else dataclasses.replace(ev, purposes=(p,))
            if part.void:
                out.append(part)
                continue
            held = grants.setdefault(p, [])
            if ev.op == "grant":
                held.append(len(out))
            else:
                keep = []
                for i in held:
                    if out[i].t >= ev.t:
                        out[i] = dataclasses.replace(out[i], void=True)
                    else:
                        keep.append(i)
                grants[p] = keep
            out.append(part)
    out.sort(key=_order)
    return tuple(out)


@dataclass(frozen=True)
class Problem:
    """The first new consent event of a batch that the ordering rule refuses."""

    kind: str  # "conflict" or "revoke before grant"
    index: int  # position of the refused event in the batch
    user: str
    purpose: str
    t: int
    other: int | None = None  # the batch event it conflicts with (None: a recorded one)
    recorded_op: str | None = None  # the recorded withdrawal it conflicts with
    known_user: bool = True  # the viewer has recorded events


def first_problem(
    drafts: Sequence[tuple[str, str, str, int]],
    timelines: Mapping[str, tuple[_Event, ...]],
    allow: bool,
) -> Problem | None:
    """Check new consent events against the recorded ones; the first refused, or None.

    Parameters
    ----------
    drafts : sequence of (user, op, purpose, t)
        The new events of one batch (one method call, or the rows of one imported table),
        one entry per purpose, in the order they will be received. ``op`` is ``"grant"``,
        ``"revoke"`` or ``"deny"``; exact duplicates of recorded events are already removed.
    timelines : mapping
        Each viewer's recorded timeline (:func:`_timeline`).
    allow : bool
        The ledger's default is ``"allow"`` (no revoke-before-grant rule then).

    The rule:

    1. a grant at the identical time of a withdrawal (revoke or deny) of the same viewer and
       purpose is a **conflict** -- whether the withdrawal is recorded or earlier in the
       batch; a withdrawal at the time of a *recorded* grant simply wins;
    2. inside one batch, opposite actions for one viewer and purpose at the identical time
       are a **conflict** whatever their order (a table is a history, not a race);
    3. under ``default="deny"``, a revoke needs a grant of the purpose received before it: a
       recorded one (at any time: a later-stamped grant is voided by the revoke, see
       :func:`_timeline`) or one of the batch dated earlier -- else **revoke before grant**.

    Conflicts are reported before revoke-before-grant problems, each in batch order.
    """
    withdrawn: dict[tuple[str, str, int], str] = {}  # recorded withdrawals -> their op
    granted: set[tuple[str, str]] = set()  # recorded grants (any time)
    loaded: set[str] = set()

    def load(u: str) -> None:
        loaded.add(u)
        for ev in timelines.get(u, ()):
            if ev.op in _CONSENT_OPS:
                for p in ev.purposes:
                    if ev.op == "grant":
                        granted.add((u, p))
                    else:
                        withdrawn[(u, p, ev.t)] = ev.op

    latest: dict[tuple[str, str, int], int] = {}
    for idx, (u, op, p, t) in enumerate(drafts):
        if u not in loaded:
            load(u)
        grant = op == "grant"
        key = (u, p, t)
        if grant and key in withdrawn:
            return Problem("conflict", idx, u, p, t, recorded_op=withdrawn[key])
        other = latest.get(key)
        if other is not None and (drafts[other][1] == "grant") != grant:
            return Problem("conflict", idx, u, p, t, other=other)
        latest[key] = idx
    if allow:
        return None
    first_grant: dict[tuple[str, str], int] = {}
    for u, op, p, t in drafts:
        if op == "grant":
            first_grant[(u, p)] = min(first_grant.get((u, p), t), t)
    for idx, (u, op, p, t) in enumerate(drafts):
        if op == "revoke" and (u, p) not in granted and not first_grant.get((u, p), t) < t:
            return Problem("revoke before grant", idx, u, p, t, known_user=u in timelines)
    return None


def _replay(user: str, events: tuple[_Event, ...], allow: bool, version: int) -> ConsentState:
    """Fold one viewer's events, sorted by (time, seq), into a snapshot."""
    effect: dict[str, bool] = {}
    since: dict[str, int] = {}
    details = False
    for ev in events:
        if ev.void:
            continue
        if ev.op in _CONSENT_OPS:
            granted = ev.op == "grant"
            for p in ev.purposes:
                if not granted:
                    since.pop(p, None)
                elif p not in since:
                    since[p] = ev.t
                effect[p] = granted
        else:
            details = True
    mask = sum(1 << i for i, p in enumerate(PURPOSES) if effect.get(p, allow))
    state = ConsentState(
        user_id=user,
        purposes=_PURPOSE_SETS[mask],
        since=MappingProxyType({p: as_timestamp(since[p]) for p in PURPOSES if p in since})
        if since
        else _NO_SINCE,
        version=version,
    )
    if not details:
        return state
    ex_g: set[str] = set()
    ex_i: set[str] = set()
    maturity: str | int | None = None
    lg: set[str] = set()
    li: set[str] = set()
    dg: set[str] = set()
    di: set[str] = set()
    for ev in events:
        op = ev.op
        if op == "exclude":
            ex_g.update(ev.genres)
            ex_i.update(ev.items)
            if ev.max_maturity is not None:
                maturity = ev.max_maturity
        elif op == "include":
            ex_g.difference_update(ev.genres)
            ex_i.difference_update(ev.items)
            if ev.clear_maturity:
                maturity = None
        elif op == "interests":
            if ev.replace:
                lg, li = set(ev.genres), set(ev.items)
                dg, di = set(ev.disliked_genres), set(ev.disliked_items)
            else:
                lg = (lg - set(ev.disliked_genres)) | set(ev.genres)
                dg = (dg - set(ev.genres)) | set(ev.disliked_genres)
                li = (li - set(ev.disliked_items)) | set(ev.items)
                di = (di - set(ev.items)) | set(ev.disliked_items)
    return dataclasses.replace(
        state,
        excluded_genres=frozenset(ex_g),
        excluded_items=frozenset(ex_i),
        max_maturity=maturity,
        liked_genres=frozenset(lg),
        liked_items=frozenset(li),
        disliked_genres=frozenset(dg),
        disliked_items=frozenset(di),
    )
