"""The consent ledger: purpose-bound, timestamped consent, exclusions, stated interests, erasure.

A :class:`ConsentLedger` records what each viewer allowed, refused, excluded and told us, as an
**event log**. Every question fairrec asks about a viewer's data ("may I personalize this
page?", "may this viewer's interactions train the shared model?", "what was allowed on
1 March?") is answered from that log.

Purposes
--------
``PURPOSES = ("personalization", "training", "stated_interests")``

* ``personalization``: use the viewer's history for the viewer's own page;
* ``training``: use the viewer's interactions to train the shared model;
* ``stated_interests``: use what the viewer told us (zero-party data: liked / disliked genres
  and titles).

Purpose names are matched case-insensitively, with ``-`` or a space read as ``_`` and the
British ``personalisation`` accepted. Anything else raises :class:`~fairrec.errors.
UnknownPurposeError`, whose message lists the valid purposes.

Defaults
--------
``default="deny"`` (privacy by default): a purpose is allowed only after a grant. A viewer the
ledger has never seen gets no purpose. ``default="allow"`` is for an existing opt-out regime
(a legal basis other than consent, e.g. legitimate interest, documented by the operator):
every purpose is allowed until the viewer revokes or refuses it. Under both defaults a
forgotten (erased) viewer has no purpose at all, at any time.

Events and time
---------------
Consent actions are ``grant`` (give consent), ``revoke`` (withdraw a consent given earlier)
and ``deny`` (record a refusal; valid at any time). Under ``default="deny"`` a ``revoke`` of a
purpose that was never granted before it raises ``ConsentError("... revoke before grant
...")``; use :meth:`ConsentLedger.deny` to record a refusal instead. Every event carries a
UTC timestamp (``at``: a datetime, pandas Timestamp, ISO-8601 string or Unix seconds; naive
times are read as UTC; ``None`` means now). Timestamps more than five minutes in the future are
refused.

The log is ordered by time. An event dated *earlier* than events already recorded for the same
viewer and purpose (a late export from a consent-management platform) is **inserted at its
place in time**, so ``allowed(user, purpose, at=t)`` always answers what was allowed at ``t``
from the events dated at or before ``t``; the current state is the state after the latest
event. Two events of the same viewer and purpose at the identical timestamp with opposite
effects (a grant and a revoke / deny) are a conflict: ``ConsentError``. Events at the same
timestamp with the same effect are applied in the order they were recorded.

Exclusions and stated interests
-------------------------------
:meth:`ConsentLedger.exclude` records genres, titles and a maximum maturity rating the viewer
never wants to see; they apply to **every** page, personalized or not, whatever the purposes.
:meth:`ConsentLedger.include` undoes them. :meth:`ConsentLedger.state_interests` records
liked / disliked genres and titles; the Recommender uses them only while ``stated_interests``
is allowed. Ids (viewers and titles) are compared as strings: ``42``, ``np.int64(42)`` and
``"42"`` are the same id. Genres and maturity ratings are stored as given.

Erasure
-------
:meth:`ConsentLedger.forget` removes every event and detail of a viewer, from memory and from
the JSON-lines file (rewritten atomically: temporary file in the same folder, flush, fsync,
``os.replace``). What remains is a **tombstone** holding only ``HMAC-SHA256(key, id)``, so a
later grant or re-import of that viewer is refused with ``ConsentError`` instead of silently
resurrecting them. :meth:`ConsentLedger.reinstate` lifts a tombstone when the person comes back
of their own accord; it grants nothing.

Keys. The tombstone hash needs a secret key that outlives the process. With ``key=None`` and a
``path``, the ledger keeps a random 32-byte key in a sidecar file ``<path>.key`` (mode 0600),
created on first use. The key is deliberately *not* in the ledger file: viewer ids are often
enumerable (``u1``, ``u2``, ...), so anyone holding both the file and the key could test which
ids were erased. Keeping the key apart (or passing your own ``key=`` from a secret store, in
which case no sidecar is written) means a leaked ledger file alone reveals nothing about
erased viewers. The trade-off: **lose the key and tombstones can no longer be checked**; the
ledger then refuses to open the file (it stores a short key fingerprint in its header and also
refuses a wrong key) rather than silently stop protecting erased viewers.

Persistence
-----------
The file is JSON lines. Line 1 is a header::

    {"format": "fairrec-consent", "version": 1, "default": "deny", "key_check": "...",
     "created": "2024-05-01T10:00:00+00:00"}

Each further line is one transaction, appended with flush + ``os.fsync`` under the ledger's
lock, e.g. ``{"seq": 7, "op": "grant", "at": "...", "user": "u42", "purposes":
["training"]}``; a bulk import is one line ``{"op": "import", "at": ..., "n": 3, "events":
[...]}`` so that a crash never leaves half an import on disk. On load, a torn **last** line
(a crash mid-append) is reported with a :class:`ConsentFileWarning` naming the line, skipped,
and cut from the file before the next append; every complete event is kept. A malformed line
anywhere else is corruption: ``ConsentError`` naming the line. One process should write a
given file at a time.

Import table format
-------------------
:meth:`ConsentLedger.import_frame` / :meth:`ConsentLedger.from_frame` take a long table, one
event per row (column names matched case-insensitively; other columns are ignored):

==============  ========  ==============================================================
column          required  meaning
==============  ========  ==============================================================
user_id         yes       viewer id (str or int; integral floats from a column with
                          missing values are read as ints)
action          yes       see below
purpose         for consent rows   one of the purposes; empty for other rows
timestamp       no        ISO-8601 string, datetime, or Unix seconds; empty -> the time of
                          the import (one time for all such rows)
genre           no        a genre, for exclude / include / like / dislike rows
item_id         no        a title id, for exclude / include / like / dislike rows
max_maturity    no        exclude: the highest maturity rating allowed; include: any value
                          clears it
==============  ========  ==============================================================

Actions (case-insensitive; ``-`` and spaces read as ``_``):

* grant: ``grant granted allow allowed accept accepted opt_in optin consent consented given
  yes y true 1`` (and ``True`` in a boolean column);
* revoke (withdraw an earlier grant): ``revoke revoked withdraw withdrawn``;
* deny (a refusal, valid without an earlier grant): ``deny denied reject rejected decline
  declined refuse refused opt_out optout no n false 0`` (and ``False``);
* ``exclude`` / ``include`` (exclusions) and ``like`` / ``dislike`` (stated interests).

Any other action raises ``ConsentError`` naming the row and the column. An import is atomic:
every row is validated first (ids, actions, purposes, timestamps, conflicts, revoke before
grant, forgotten viewers) and on the first bad row ``ConsentError`` names the row and column
and the ledger (memory and file) is unchanged. Rows identical to an event already recorded
(same viewer, action, purpose or target, and timestamp) are skipped, so re-importing the same
export is harmless. Rows without a timestamp share the import time, so a table that both
grants and revokes the same purpose of a viewer without timestamps is a conflict.

Thread safety
-------------
Mutations take one re-entrant lock (validate, append to the file, then publish). Each viewer's
state is an immutable :class:`ConsentState` replaced as a whole (copy-on-write), so
:meth:`ConsentLedger.state` and ``allowed(user, purpose)`` are a dict lookup without a lock
and a page built from one snapshot sees one consistent state, never half a revocation.
:meth:`ConsentLedger.allowed_mask` takes the lock only to rebuild a per-version index.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import re
import secrets
import stat
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from fairrec._columns import ITEM, TIME, USER
from fairrec.errors import ConsentError, ParameterError, UnknownPurposeError, param_error
from fairrec.ids import canon_id, canon_ids

__all__ = ["PURPOSES", "ConsentLedger", "ConsentState", "ConsentFileWarning"]

PURPOSES: tuple[str, ...] = ("personalization", "training", "stated_interests")
DEFAULTS: tuple[str, ...] = ("deny", "allow")
FORMAT = "fairrec-consent"
FORMAT_VERSION = 1
FUTURE_TOLERANCE_NS = 5 * 60 * 1_000_000_000  # timestamps up to 5 minutes ahead are clock skew

_CONSENT_OPS = frozenset({"grant", "revoke", "deny"})
_USER_OPS = _CONSENT_OPS | {"exclude", "include", "interests"}
_HASH_OPS = frozenset({"forget", "reinstate"})
_TOMBSTONE_DOMAIN = b"fairrec:tombstone:"
_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)

_PURPOSE_ALIASES = {p: p for p in PURPOSES} | {
    "personalisation": "personalization",
    "stated_interest": "stated_interests",
}
_ACTION_ALIASES: dict[str, str] = {}
for _canon, _spellings in {
    "grant": "grant granted allow allowed accept accepted opt_in optin consent consented "
    "given yes y true 1",
    "revoke": "revoke revoked withdraw withdrawn",
    "deny": "deny denied reject rejected decline declined refuse refused opt_out optout "
    "no n false 0",
    "exclude": "exclude excluded",
    "include": "include included",
    "like": "like liked",
    "dislike": "dislike disliked",
}.items():
    for _s in _spellings.split():
        _ACTION_ALIASES[_s] = _canon


class ConsentFileWarning(UserWarning):
    """A consent or audit file needed repair on load (e.g. a torn last line was skipped)."""


# --------------------------------------------------------------------------------------------
# small helpers shared with fairrec.audit
# --------------------------------------------------------------------------------------------


def _norm_word(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def _purpose(value: object, where: str = "") -> str:
    """Canonical purpose name, or UnknownPurposeError listing the valid ones."""
    if isinstance(value, str):
        canon = _PURPOSE_ALIASES.get(_norm_word(value))
        if canon is not None:
            return canon
    prefix = f"{where}: " if where else ""
    raise UnknownPurposeError(
        f"{prefix}unknown purpose {value!r}. Valid purposes: {', '.join(PURPOSES)}."
    )


def _purposes_arg(purposes: object, owner: str) -> tuple[str, ...]:
    """A str or an iterable of str -> tuple of canonical purposes (order kept, no repeats)."""
    if isinstance(purposes, str):
        items: list[object] = [purposes]
    elif isinstance(purposes, Iterable):
        items = list(purposes)
    else:
        raise UnknownPurposeError(
            f"{owner}: purposes must be a purpose name or a list of them; got {purposes!r}. "
            f"Valid purposes: {', '.join(PURPOSES)}."
        )
    out = tuple(dict.fromkeys(_purpose(p, owner) for p in items))
    if not out:
        raise ConsentError(f"{owner}: no purpose given. Valid purposes: {', '.join(PURPOSES)}.")
    return out


def _utf8_text(value: str, what: str) -> str:
    """``value`` if it can be written to a UTF-8 file (no lone surrogates), else ParameterError."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ParameterError(
            f"{what} must be valid Unicode text; got {value!r}, which holds a lone surrogate "
            f"and cannot be written to a file."
        ) from None
    return value


def _canon_id(value: object, what: str = "user_id") -> str:
    """Canonical string form of a viewer or title id: :func:`fairrec.ids.canon_id`."""
    return canon_id(value, what)


def _canon_ids_array(values: object, what: str = "user_ids") -> np.ndarray:
    """Vectorized :func:`_canon_id` over an array-like: :func:`fairrec.ids.canon_ids`."""
    return canon_ids(values, what)


def _to_ns(value: object, name: str, owner: str) -> int:
    """A datetime-like (or Unix seconds) -> nanoseconds since the epoch, UTC."""
    expected = "a datetime, pandas Timestamp, ISO-8601 string or Unix seconds"
    if isinstance(value, (bool, np.bool_)):
        raise param_error(name, owner, expected, value)
    try:
        if isinstance(value, (int, float, np.integer, np.floating)):
            ts = pd.Timestamp(float(value), unit="s", tz="UTC")
        else:
            ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        raise param_error(name, owner, expected, value) from None
    if ts is pd.NaT or pd.isna(ts):
        raise param_error(name, owner, expected, value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    try:
        return int(ts.as_unit("ns").value)
    except (OverflowError, pd.errors.OutOfBoundsDatetime, ValueError):
        raise param_error(name, owner, "a time between 1677 and 2262", value) from None


def _ts(t_ns: int) -> pd.Timestamp:
    return pd.Timestamp(t_ns, tz=_UTC)


def _iso(t_ns: int) -> str:
    """ISO-8601 UTC text of a time in ns: seconds, then 9 fraction digits when not whole."""
    secs, frac = divmod(t_ns, 1_000_000_000)
    text = (_EPOCH_NAIVE + timedelta(seconds=secs)).isoformat()
    return f"{text}.{frac:09d}+00:00" if frac else f"{text}+00:00"


_ISO_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?\+00:00")


def _parse_iso(text: object) -> int:
    if not isinstance(text, str):
        raise ValueError(f"'at' must be an ISO-8601 string; got {text!r}")
    m = _ISO_RE.fullmatch(text)
    if m is not None:  # the form _iso writes: exact integer arithmetic, no pandas
        whole = datetime.fromisoformat(m[1]) - _EPOCH_NAIVE
        frac = int(m[2].ljust(9, "0")) if m[2] else 0
        return (whole // timedelta(seconds=1)) * 1_000_000_000 + frac
    ts = pd.Timestamp(text)
    if ts is pd.NaT or ts.tzinfo is None:
        raise ValueError(f"'at' must be an ISO-8601 time with a UTC offset; got {text!r}")
    return int(ts.tz_convert("UTC").as_unit("ns").value)


def _coerce_key(key: object, owner: str) -> bytes | None:
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise ParameterError(
            f"The 'key' parameter of {owner} must be bytes or str. "
            f"Got {type(key).__name__} instead."
        )
    if len(key) < 16:
        raise ParameterError(
            f"The 'key' parameter of {owner} must be at least 16 bytes long. "
            f"Got {len(key)} bytes instead."
        )
    return bytes(key)


def _key_path(path: Path) -> Path:
    return path.with_name(path.name + ".key")


def _read_key_file(key_file: Path) -> bytes:
    try:
        mode = key_file.stat().st_mode
        text = key_file.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConsentError(f"cannot read the key file {key_file}: {exc}") from None
    if len(key) < 16:
        raise ConsentError(f"the key file {key_file} holds fewer than 16 bytes.")
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(
            f"the key file {key_file} is readable by other users (mode {oct(mode & 0o777)}); "
            f"chmod 600 it.",
            ConsentFileWarning,
            stacklevel=4,
        )
    return key


def _load_or_create_key(key_file: Path) -> bytes:
    """Read ``key_file``; create it (random 32 bytes, hex, mode 0600) if it does not exist."""
    key = secrets.token_bytes(32)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(key_file)
    try:
        os.write(fd, (key.hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(key_file.parent)
    return key


def _key_check(key: bytes, domain: bytes) -> str:
    return hmac.digest(key, b"fairrec:key-check:" + domain, "sha256").hex()[:32]


def _keyed_hash(key: bytes, domain: bytes, canon_id: str) -> str:
    return hmac.digest(key, domain + canon_id.encode("utf-8"), "sha256").hex()


def _dumps(obj: Mapping[str, Any]) -> bytes:
    return (
        json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
    ).encode("utf-8")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _append_bytes(path: Path, data: bytes) -> None:
    """Append ``data`` with one write, then flush to disk (fsync)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, chunks: Iterable[bytes]) -> None:
    """Write a whole file atomically: temp file in the same folder, fsync, os.replace."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


@dataclass
class _Scan:
    """What :func:`_scan_jsonl` found in a JSON-lines file."""

    records: list[tuple[int, dict[str, Any]]]  # (1-based line number, object)
    good_len: int  # bytes up to the end of the last complete line
    torn_line: int | None  # the skipped torn last line, if any
    needs_newline: bool  # the last complete line lacks its "\n"


def _scan_jsonl(path: Path, what: str, error: type[Exception] = ConsentError) -> _Scan:
    """Parse a JSON-lines file; a torn last line warns and is skipped, others raise."""
    data = path.read_bytes()
    pieces = data.split(b"\n")
    last = max((i for i, p in enumerate(pieces) if p.strip()), default=-1)
    records: list[tuple[int, dict[str, Any]]] = []
    offset = good_len = 0
    torn: int | None = None
    needs_newline = False
    for i, raw in enumerate(pieces):
        has_newline = i < len(pieces) - 1
        end = offset + len(raw) + (1 if has_newline else 0)
        if raw.strip():
            try:
                obj = json.loads(raw.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("a line must hold a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                if i != last:
                    raise error(
                        f"{path}: line {i + 1} of the {what} is malformed ({exc}). Only a torn "
                        f"last line can be skipped; a bad line in the middle means the file is "
                        f"corrupted."
                    ) from None
                torn = i + 1
                warnings.warn(
                    f"{path}: line {i + 1} of the {what} is incomplete (a torn append, e.g. a "
                    f"crash while writing) and was skipped; the {len(records)} complete lines "
                    f"before it were kept.",
                    ConsentFileWarning,
                    stacklevel=3,
                )
                break
            records.append((i + 1, obj))
            good_len = end
            needs_newline = not has_newline
        offset = end
    return _Scan(records, good_len, torn, needs_newline)


def _repair_tail(path: Path, scan: _Scan) -> None:
    """Cut a torn last line and end the file with a newline, so the next append is clean."""
    if scan.torn_line is not None:
        os.truncate(path, scan.good_len)
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(size - 1, 0))
        tail = fh.read(1)
    if size and tail != b"\n":
        _append_bytes(path, b"\n")
    else:
        fd = os.open(path, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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


def _str_list(obj: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = obj.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name!r} must be a list of strings")
    return tuple(value)


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
            items=_str_list(obj, "items"),
            max_maturity=maturity if op == "exclude" else None,
            clear_maturity=bool(obj.get("clear_maturity", False)) if op == "include" else False,
        )
    return _Event(
        seq,
        t,
        op,
        user,
        genres=_str_list(obj, "liked_genres"),
        items=_str_list(obj, "liked_items"),
        disliked_genres=_str_list(obj, "disliked_genres"),
        disliked_items=_str_list(obj, "disliked_items"),
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
        The ledger version this snapshot was taken at.
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


# --------------------------------------------------------------------------------------------
# parsing of consent tables (stateless)
# --------------------------------------------------------------------------------------------

_TABLE_COLUMNS = (USER, "action", "purpose", TIME, "genre", ITEM, "max_maturity")


@dataclass
class _Table:
    users: np.ndarray  # object, canonical str
    ops: np.ndarray  # object: grant / revoke / deny / exclude / include / like / dislike
    purposes: np.ndarray  # object: canonical purpose or None
    times: np.ndarray  # int64 ns
    genres: np.ndarray  # object: str or None
    items: np.ndarray  # object: canonical str or None
    maturity: np.ndarray  # object: str / int or None
    now: int  # the import time given to rows without a timestamp


def _row(df: pd.DataFrame, pos: int) -> str:
    label = df.index[pos]
    if isinstance(label, (int, np.integer)) and int(label) == pos:
        return f"row {pos}"
    return f"row {pos} (index {label!r})"


class _BadCell(ValueError):
    pass


def _cell_missing(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _map_cells(
    df: pd.DataFrame, col: str | None, canon: str, fn: Any, required: bool
) -> np.ndarray:
    """Apply ``fn`` to each distinct value of a column (missing -> None), naming bad rows."""
    n = len(df)
    if col is None:
        return np.full(n, None, dtype=object)
    series = df[col]
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts, sets): name the first one
        for row, value in enumerate(series.tolist()):
            try:
                hash(value)
            except TypeError:
                raise ConsentError(
                    f"{_row(df, row)}, column {canon!r}: a cell holds {value!r} of type "
                    f"{type(value).__name__}; expected a single value. Nothing was imported."
                ) from None
        raise
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[-1] = None
    for j, value in enumerate(uniques):
        try:
            mapped[j] = None if _cell_missing(value) else fn(value)
        except (_BadCell, ParameterError, UnknownPurposeError) as exc:
            row = int(np.flatnonzero(codes == j)[0])
            msg = str(exc)
            if isinstance(exc, UnknownPurposeError):
                raise UnknownPurposeError(
                    f"{_row(df, row)}, column {canon!r}: {msg} Nothing was imported."
                ) from None
            raise ConsentError(
                f"{_row(df, row)}, column {canon!r}: {msg} Nothing was imported."
            ) from None
    out = mapped[codes]  # codes == -1 picks the trailing None
    if required:
        missing = np.flatnonzero(pd.isna(out))
        if missing.size:
            raise ConsentError(
                f"{_row(df, int(missing[0]))}, column {canon!r}: missing value. Nothing was "
                f"imported."
            )
    return out


def _table_id(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer():
            return str(int(value))
        raise _BadCell(f"id {value!r} is not a str or int")
    try:
        return _canon_id(value, "id")
    except ParameterError as exc:
        raise _BadCell(str(exc)) from None


def _table_action(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "grant" if value else "deny"
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return "grant" if int(value) else "deny"
    if isinstance(value, str):
        canon = _ACTION_ALIASES.get(_norm_word(value))
        if canon is not None:
            return canon
    raise _BadCell(
        f"unknown action {value!r}. Use grant / granted / opt-in, revoke / withdrawn, "
        f"deny / denied / opt-out, exclude, include, like or dislike."
    )


def _table_text(value: str, what: str) -> str:
    try:
        return _utf8_text(value, what)
    except ParameterError as exc:
        raise _BadCell(str(exc)) from None


def _table_genre(value: object) -> str:
    if isinstance(value, str):
        return _table_text(value, "a genre")
    raise _BadCell(f"a genre must be a string; got {value!r}")


def _table_maturity(value: object) -> str | int:
    if isinstance(value, str):
        return _table_text(value, "a maturity rating")
    if isinstance(value, (bool, np.bool_)):
        raise _BadCell(f"bad maturity rating {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise _BadCell(f"bad maturity rating {value!r}")


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _first_bad_time(series: pd.Series, present: np.ndarray) -> int:
    """Row of the first value that does not parse on its own (only on the error path)."""
    for r in np.flatnonzero(present).tolist():
        v = series.iloc[r]
        try:
            _to_ns(v, "timestamp", "import")
        except ParameterError:
            return int(r)
    return int(np.flatnonzero(present)[0]) if present.any() else 0


def _table_times(df: pd.DataFrame, col: str | None, now: int) -> np.ndarray:
    n = len(df)
    if col is None:
        return np.full(n, now, dtype=np.int64)
    series = df[col]
    present = ~series.map(_cell_missing).to_numpy(dtype=bool)
    try:
        if pd.api.types.is_bool_dtype(series):
            raise TypeError
        if pd.api.types.is_numeric_dtype(series):
            parsed = pd.to_datetime(series.astype("float64"), unit="s", utc=True, errors="coerce")
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            parsed = series.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(series):
            parsed = series.dt.tz_localize("UTC")
        else:  # strings, datetimes, and possibly numbers (Unix seconds) in one object column
            numeric = series.map(_is_number).to_numpy(dtype=bool) & present
            texts = series.where(present & ~numeric, None).astype(object)
            parsed = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
            if numeric.any():
                secs = pd.to_numeric(series.where(numeric, np.nan), errors="coerce")
                from_secs = pd.to_datetime(secs, unit="s", utc=True, errors="coerce")
                parsed = parsed.dt.as_unit("ns").where(~numeric, from_secs.dt.as_unit("ns"))
        parsed = parsed.dt.as_unit("ns")
    except (TypeError, ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        bad = _first_bad_time(series, present)
        raise ConsentError(
            f"{_row(df, bad)}, column 'timestamp': cannot read {series.iloc[bad]!r} as a time "
            f"between 1677 and 2262 (column dtype {series.dtype}); use ISO-8601 strings, "
            f"datetimes or Unix seconds. Nothing was imported."
        ) from None
    bad = np.flatnonzero(present & parsed.isna().to_numpy())
    if bad.size:
        r = int(bad[0])
        raise ConsentError(
            f"{_row(df, r)}, column 'timestamp': cannot read {series.iloc[r]!r} as a time "
            f"(use ISO-8601, a datetime or Unix seconds). Nothing was imported."
        )
    values = (
        parsed.array.asi8.copy()
        if hasattr(parsed.array, "asi8")
        else parsed.to_numpy().astype("int64")
    )
    values[~present] = now
    future = np.flatnonzero(values > time.time_ns() + FUTURE_TOLERANCE_NS)
    if future.size:
        r = int(future[0])
        raise ConsentError(
            f"{_row(df, r)}, column 'timestamp': {_iso(int(values[r]))} is in the future. "
            f"Nothing was imported."
        )
    return values.astype(np.int64)


def _parse_table(df: object) -> _Table | None:
    """Stateless parsing and validation of a consent table (None when it has no rows)."""
    if not isinstance(df, pd.DataFrame):
        raise ConsentError(f"a consent table must be a pandas DataFrame; got {type(df).__name__}.")
    found: dict[str, str] = {}
    for col in df.columns:
        if not isinstance(col, str):
            continue
        canon = _norm_word(col)
        if canon in _TABLE_COLUMNS:
            if canon in found:
                raise ConsentError(
                    f"the consent table has two columns for {canon!r}: {found[canon]!r} and "
                    f"{col!r}."
                )
            found[canon] = col
    for req in (USER, "action"):
        if req not in found:
            raise ConsentError(
                f"the consent table has no column {req!r} (columns: {list(df.columns)!r}); "
                f"required: 'user_id', 'action', and 'purpose' for grant/revoke rows."
            )
    if len(df) == 0:
        return None
    now = time.time_ns()
    users = _map_cells(df, found[USER], USER, _table_id, required=True)
    ops = _map_cells(df, found["action"], "action", _table_action, required=True)
    purposes = _map_cells(df, found.get("purpose"), "purpose", lambda v: _purpose(v), False)
    genres = _map_cells(df, found.get("genre"), "genre", _table_genre, False)
    items = _map_cells(df, found.get(ITEM), ITEM, _table_id, False)
    maturity = _map_cells(df, found.get("max_maturity"), "max_maturity", _table_maturity, False)
    times = _table_times(df, found.get(TIME), now)

    consent = np.isin(ops, list(_CONSENT_OPS))
    has_p = ~pd.isna(purposes)
    has_g = ~pd.isna(genres)
    has_i = ~pd.isna(items)
    has_m = ~pd.isna(maturity)
    likes = np.isin(ops, ["like", "dislike"])

    def fail(mask: np.ndarray, column: str, why: str) -> None:
        bad = np.flatnonzero(mask)
        if bad.size:
            r = int(bad[0])
            raise ConsentError(
                f"{_row(df, r)}, column {column!r}: {why.format(op=ops[r])} Nothing was imported."
            )

    fail(consent & ~has_p, "purpose", "a {op!r} row needs a purpose.")
    fail(~consent & has_p, "purpose", "a {op!r} row takes no purpose (leave it empty).")
    fail(consent & has_g, "genre", "a {op!r} row takes no genre.")
    fail(consent & has_i, ITEM, "a {op!r} row takes no item_id.")
    fail(consent & has_m, "max_maturity", "a {op!r} row takes no max_maturity.")
    fail(likes & has_m, "max_maturity", "a {op!r} row takes no max_maturity.")
    fail(
        ~consent & ~has_g & ~has_i & ~(has_m & ~likes),
        "genre",
        "a {op!r} row needs a genre, an item_id or (exclude / include) a max_maturity.",
    )
    return _Table(users, ops, purposes, times, genres, items, maturity, now)
