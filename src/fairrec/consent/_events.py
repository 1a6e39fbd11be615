"""Consent events, their JSON form, and the immutable per-viewer snapshot (ConsentState)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from fairrec.consent._common import (
    _CONSENT_OPS,
    _HASH_OPS,
    _USER_OPS,
    PURPOSES,
    _canon_id,
    _iso,
    _parse_iso,
    _purpose,
    _ts,
    _utf8_text,
)
from fairrec.errors import ParameterError, param_error

# --------------------------------------------------------------------------------------------
# events and snapshots
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    """One entry of the log. ``t`` is nanoseconds since the epoch, UTC."""

    seq: int
    t: int
    op: str
    user: str | None = None
    purposes: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()  # exclude / include: genres; interests: liked genres
    items: tuple[str, ...] = ()  # exclude / include: titles; interests: liked titles
    max_maturity: str | int | None = None
    clear_maturity: bool = False
    disliked_genres: tuple[str, ...] = ()
    disliked_items: tuple[str, ...] = ()
    replace: bool = False
    hash: str | None = None
    void: bool = False  # a grant voided by a later-received withdrawal (not stored)

    def detail(self) -> dict[str, Any]:
        if self.op in _CONSENT_OPS:
            return {"purposes": list(self.purposes)}
        if self.op == "exclude":
            out: dict[str, Any] = {"genres": list(self.genres), "items": list(self.items)}
            if self.max_maturity is not None:
                out["max_maturity"] = self.max_maturity
            return out
        if self.op == "include":
            out = {"genres": list(self.genres), "items": list(self.items)}
            if self.clear_maturity:
                out["clear_maturity"] = True
            return out
        if self.op == "interests":
            return {
                "liked_genres": list(self.genres),
                "liked_items": list(self.items),
                "disliked_genres": list(self.disliked_genres),
                "disliked_items": list(self.disliked_items),
                "replace": self.replace,
            }
        return {"hash": self.hash}

    def to_json(self) -> dict[str, Any]:
        head: dict[str, Any] = {"seq": self.seq, "op": self.op, "at": _iso(self.t)}
        if self.user is not None:
            head["user"] = self.user
        return head | self.detail()

    def dedupe_key(self, purposes: tuple[str, ...] | None = None) -> tuple:
        """Identity of the event apart from its seq (``purposes`` overrides, for expansion)."""
        return (
            self.t,
            self.op,
            self.user,
            self.purposes if purposes is None else purposes,
            self.genres,
            self.items,
            self.max_maturity,
            self.clear_maturity,
            self.disliked_genres,
            self.disliked_items,
            self.replace,
        )


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


def _str_list(obj: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = obj.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name!r} must be a list of strings")
    return tuple(value)


def _id_list(obj: Mapping[str, Any], name: str) -> tuple[str, ...]:
    try:
        return tuple(dict.fromkeys(_canon_id(v, name) for v in _str_list(obj, name)))
    except ParameterError as exc:
        raise ValueError(str(exc)) from None


def _decode_event(obj: Mapping[str, Any]) -> _Event:
    """A JSON object of the file -> an _Event (ValueError when malformed)."""
    op = obj.get("op")
    seq = obj.get("seq")
    if not isinstance(op, str) or op not in _USER_OPS | _HASH_OPS:
        raise ValueError(f"unknown op {op!r}")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < 2**63:
        raise ValueError(f"bad seq {seq!r}")
    t = _parse_iso(obj.get("at"))
    if not -(2**63) < t < 2**63:  # nanoseconds must fit datetime64[ns] (1677 to 2262)
        raise ValueError(f"time {obj.get('at')!r} is outside 1677..2262")
    if op in _HASH_OPS:
        h = obj.get("hash")
        if not isinstance(h, str) or not re.fullmatch(r"[0-9a-f]{64}", h):
            raise ValueError("a tombstone needs a 64-hex-digit 'hash'")
        return _Event(seq, t, op, hash=h)
    user = obj.get("user")
    if not isinstance(user, str) or not user.strip():
        raise ValueError(f"bad user {user!r}")
    try:
        user = _canon_id(user)  # files written before ids had one canonical form
    except ParameterError as exc:
        raise ValueError(str(exc)) from None
    if op in _CONSENT_OPS:
        purposes = _str_list(obj, "purposes")
        if not purposes or any(p not in PURPOSES for p in purposes):
            raise ValueError(f"bad purposes {purposes!r}")
        return _Event(seq, t, op, user, purposes)
    if op in ("exclude", "include"):
        maturity = obj.get("max_maturity")
        if maturity is not None and (
            isinstance(maturity, bool) or not isinstance(maturity, (str, int))
        ):
            raise ValueError(f"bad max_maturity {maturity!r}")
        return _Event(
            seq,
            t,
            op,
            user,
            genres=_str_list(obj, "genres"),
            items=_id_list(obj, "items"),
            max_maturity=maturity if op == "exclude" else None,
            clear_maturity=bool(obj.get("clear_maturity", False)) if op == "include" else False,
        )
    return _Event(
        seq,
        t,
        op,
        user,
        genres=_str_list(obj, "liked_genres"),
        items=_id_list(obj, "liked_items"),
        disliked_genres=_str_list(obj, "disliked_genres"),
        disliked_items=_id_list(obj, "disliked_items"),
        replace=bool(obj.get("replace", False)),
    )


def _frozen(values: Iterable[Any] | None) -> frozenset:
    return frozenset(values) if values is not None else frozenset()


@dataclass(frozen=True, slots=True)
class ConsentState:
    """An immutable snapshot of one viewer's consent state.

    Build a page from one snapshot: it reflects one consistent state of the ledger, never
    half of a revocation that happens while the page is assembled.

    Attributes
    ----------
    user_id : str
        The viewer id (canonical string form).
    purposes : frozenset of str
        The purposes allowed now (explicit grants, plus every purpose not revoked under
        ``default="allow"``).
    since : Mapping[str, pandas.Timestamp]
        For each purpose allowed by an explicit grant, the start of the current grant (UTC).
        Read-only.
    excluded_genres, excluded_items : frozenset of str
        Never shown to this viewer, on any page.
    max_maturity : str, int or None
        The highest maturity rating the viewer accepts (compared with the catalog's own
        ratings by the Recommender), or None for no limit.
    liked_genres, liked_items, disliked_genres, disliked_items : frozenset of str
        Stated interests (zero-party data), usable while ``stated_interests`` is allowed.
    forgotten : bool
        The viewer was erased; every other field is empty.
    version : int
        The ledger version this snapshot was taken at: the sequence number of the last
        event the ledger had applied (the same number on every replica of a shared store).
    stale : bool
        The ledger follows a shared store and has not heard from it for longer than its
        ``max_staleness``: this is the fallback state (no purpose allowed, no stated
        interests; the last known exclusions still apply), never a personalized one.
    """

    user_id: str
    purposes: frozenset[str] = frozenset()
    since: Mapping[str, pd.Timestamp] = field(
        default_factory=lambda: MappingProxyType({}), hash=False, compare=True
    )
    excluded_genres: frozenset[str] = frozenset()
    excluded_items: frozenset[str] = frozenset()
    max_maturity: str | int | None = None
    liked_genres: frozenset[str] = frozenset()
    liked_items: frozenset[str] = frozenset()
    disliked_genres: frozenset[str] = frozenset()
    disliked_items: frozenset[str] = frozenset()
    forgotten: bool = False
    version: int = 0
    stale: bool = False

    def __post_init__(self) -> None:
        for name in (
            "purposes",
            "excluded_genres",
            "excluded_items",
            "liked_genres",
            "liked_items",
            "disliked_genres",
            "disliked_items",
        ):
            value = getattr(self, name)
            if type(value) is not frozenset:
                object.__setattr__(self, name, _frozen(value))
        if not isinstance(self.since, MappingProxyType):
            object.__setattr__(self, "since", MappingProxyType(dict(self.since)))

    def allows(self, purpose: str) -> bool:
        """Whether ``purpose`` is allowed in this snapshot (UnknownPurposeError if unknown)."""
        return _purpose(purpose, "ConsentState.allows") in self.purposes

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: sets as sorted lists, times as ISO-8601 UTC strings."""
        return {
            "user_id": self.user_id,
            "purposes": [p for p in PURPOSES if p in self.purposes],
            "since": {p: self.since[p].isoformat() for p in PURPOSES if p in self.since},
            "excluded_genres": sorted(self.excluded_genres),
            "excluded_items": sorted(self.excluded_items),
            "max_maturity": self.max_maturity,
            "liked_genres": sorted(self.liked_genres),
            "liked_items": sorted(self.liked_items),
            "disliked_genres": sorted(self.disliked_genres),
            "disliked_items": sorted(self.disliked_items),
            "forgotten": self.forgotten,
            "version": self.version,
            "stale": self.stale,
        }


_EMPTY: frozenset[str] = frozenset()
_NO_SINCE: Mapping[str, pd.Timestamp] = MappingProxyType({})
# the 8 possible purpose sets, shared by all snapshots (fewer objects for 100k viewers)
_PURPOSE_SETS = {
    mask: frozenset(p for i, p in enumerate(PURPOSES) if mask >> i & 1)
    for mask in range(1 << len(PURPOSES))
}


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
        since=MappingProxyType({p: _ts(since[p]) for p in PURPOSES if p in since})
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


def _str_values(values: object, name: str, owner: str, ids: bool = False) -> tuple[str, ...]:
    """None / a single value / an iterable -> tuple of non-empty strings (ids canonicalized)."""
    if values is None:
        return ()
    if isinstance(values, (str, int, np.integer)) and not isinstance(values, bool):
        seq: list[object] = [values]
    elif isinstance(values, Iterable):
        seq = list(values)
    else:
        raise ParameterError(f"{owner}: {name} must be a list of strings; got {values!r}.")
    out = []
    for v in seq:
        if ids:
            out.append(_canon_id(v, f"{owner}: an entry of {name}"))
        elif isinstance(v, str) and v.strip():
            out.append(_utf8_text(v, f"{owner}: an entry of {name}"))
        else:
            raise ParameterError(
                f"{owner}: {name} must hold non-empty strings; got {v!r} in {name}."
            )
    return tuple(dict.fromkeys(out))


def _maturity_arg(value: object, owner: str) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, np.integer)):
        raise param_error("max_maturity", owner, "a rating (str or int) or None", value)
    if isinstance(value, str):
        if not value.strip():
            raise param_error("max_maturity", owner, "a non-empty rating", value)
        return _utf8_text(value, f"{owner}: max_maturity")
    return int(value)
