"""Shared helpers of the consent ledger and the audit log: purposes, ids, times, keys, files."""

from __future__ import annotations

import hmac
import os
import re
import secrets
import stat
import warnings
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from fairrec._checks import check_time_ns
from fairrec._durable import (
    JsonlScan,
    append_synced,
    atomic_write,
    fsync_dir,
    json_line,
    repair_tail,
    scan_jsonl,
)
from fairrec.errors import ConsentError, ParameterError, UnknownPurposeError
from fairrec.ids import canon_id, canon_ids

PURPOSES: tuple[str, ...] = ("personalization", "training", "stated_interests")
DEFAULTS: tuple[str, ...] = ("deny", "allow")
FORMAT = "fairrec-consent"
FORMAT_VERSION = 2  # 2: every line carries a checksum ("crc")
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
    """The project's one canonical id form (:func:`fairrec.ids.canon_id`)."""
    return canon_id(value, what)


def _canon_ids_array(values: object, what: str = "user_ids") -> np.ndarray:
    """Vectorized :func:`_canon_id` (:func:`fairrec.ids.canon_ids`): an object array of str."""
    return canon_ids(values, what)


def _to_ns(value: object, name: str, owner: str) -> int:
    """A datetime-like (or Unix seconds) -> nanoseconds since the epoch, UTC."""
    return check_time_ns(value, name, owner)


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


_dumps = json_line
_append_bytes = append_synced
_atomic_write = atomic_write
_fsync_dir = fsync_dir
_repair_tail = repair_tail


def _scan_jsonl(
    path: Path,
    what: str,
    error: type[Exception] = ConsentError,
    *,
    data: bytes | None = None,
    first_line: int = 1,
    base: int = 0,
) -> JsonlScan:
    """:func:`fairrec._durable.scan_jsonl` with the consent ledger's error and warning."""
    return scan_jsonl(
        path,
        what,
        error,
        warning=ConsentFileWarning,
        data=data,
        first_line=first_line,
        base=base,
    )
