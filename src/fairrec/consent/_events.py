"""A consent event: one entry of the ledger's log, and its JSON form in the stores."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fairrec._durable import iso_ns, parse_iso_ns
from fairrec.consent._common import _CONSENT_OPS, _HASH_OPS, _USER_OPS
from fairrec.consent.purposes import PURPOSES
from fairrec.data.ids import canon_id
from fairrec.errors import ParameterError


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
        head: dict[str, Any] = {"seq": self.seq, "op": self.op, "at": iso_ns(self.t)}
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


def _str_list(obj: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = obj.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name!r} must be a list of strings")
    return tuple(value)


def _id_list(obj: Mapping[str, Any], name: str) -> tuple[str, ...]:
    try:
        return tuple(dict.fromkeys(canon_id(v, name) for v in _str_list(obj, name)))
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
    t = parse_iso_ns(obj.get("at"))
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
        user = canon_id(user)  # files written before ids had one canonical form
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
