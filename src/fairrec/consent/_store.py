"""Where a ConsentLedger keeps its events: the store interface, URLs, and the JSON-lines file.

A store holds the ledger's append-only event log (and nothing else: the tombstone key lives
apart, see the package documentation). Every write goes through :meth:`ConsentStore.
transaction`, which holds the store's exclusive write lock (a file lock, SQLite's ``BEGIN
IMMEDIATE``, PostgreSQL's row lock on the sequence counter) and first hands the ledger every
event written by others since its cursor, so the ledger validates a new event against the
newest state and numbers it ``last + 1``: sequence numbers are never reused and no event is
lost, however many writers share the store. Events are committed before the ledger publishes
them in memory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from fairrec.consent._common import _USER_OPS
from fairrec.consent._events import _decode_event, _Event
from fairrec.consent.keys import key_fingerprint
from fairrec.errors import (
    ConsentError,
    ParameterError,
)

try:  # POSIX advisory file locks; elsewhere the file is single-writer by documentation
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["ConsentStore", "open_store"]


@dataclass
class Batch:
    """Events a store returned: in sequence order, each with where it came from."""

    events: list[tuple[str, _Event]] = field(default_factory=list)
    cursor: Any = None
    last_seq: int = 0  # the store's sequence counter (>= every seq ever issued)
    reset: bool = False  # True: ``events`` is the whole log (the store was rewritten)


@dataclass
class Meta:
    """What :meth:`ConsentStore.open` found or created."""

    default: str
    key: bytes
    created: bool


class ConsentStore:
    """Base class of the stores a :class:`~fairrec.consent.ConsentLedger` can run on.

    fairrec ships :class:`JsonlStore` (a JSON-lines file, one process), ``SqliteStore``
    (several processes on one host) and ``PostgresStore`` (many hosts); pass one of them, or a
    URL, as ``ConsentLedger(store=...)``.
    """

    #: a ledger on this store follows other writers by default (a background poll)
    shared: bool = False

    def describe(self) -> str:
        """The store as text for messages (never a password)."""
        raise NotImplementedError

    def open(self, default: str | None, key: bytes | None) -> Meta:
        """Create the store (schema, header) if needed; check default and key fingerprint."""
        raise NotImplementedError

    def read(self, cursor: Any) -> Batch:
        """Events committed after ``cursor`` (``None``: all), without taking the write lock."""
        raise NotImplementedError

    def transaction(self, cursor: Any) -> Any:
        """Context manager: hold the write lock; yields a transaction whose ``batch`` holds
        the events committed by others after ``cursor``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections and file handles (the ledger can no longer write)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


def decode_records(
    records: list[tuple[str, dict[str, Any]]], where_prefix: str
) -> list[tuple[str, _Event]]:
    """File lines / database rows -> events (import lines expand), seqs strictly increasing."""
    out: list[tuple[str, _Event]] = []
    last_seq = 0
    for where, obj in records:
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
                f"{where_prefix}{where} is not a valid ledger event: {exc}."
            ) from None
        for ev in batch:
            if ev.seq <= last_seq:
                raise ConsentError(
                    f"{where_prefix}{where}: event numbers must increase (seq {ev.seq} after "
                    f"{last_seq}); the log was reordered or tampered with."
                )
            last_seq = ev.seq
            out.append((where, ev))
    return out


# --------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def open_store(spec: object) -> ConsentStore:
    """A store from a URL, a path, or a store object.

    * ``"sqlite:///relative/consent.db"``, ``"sqlite:////absolute/consent.db"`` or a path
      ending in ``.db`` / ``.sqlite`` / ``.sqlite3``: :class:`SqliteStore`;
    * ``"postgresql://user@host:5432/db"`` (or ``postgres://``): :class:`PostgresStore`;
    * ``"file:///absolute/consent.jsonl"`` or any other path: :class:`JsonlStore`.
    """
    if isinstance(spec, ConsentStore):
        return spec
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ParameterError(
            f"The 'store' parameter of ConsentLedger must be a URL, a path or a ConsentStore. "
            f"Got {spec!r} instead."
        )
    low = spec.lower()
    if low.startswith("sqlite:///"):
        from urllib.parse import parse_qsl

        from fairrec.consent._sql import SqliteStore

        rest, _, query = spec[len("sqlite:///") :].partition("?")
        options: dict[str, Any] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name == "synchronous":
                options["synchronous"] = value
            elif name == "busy_timeout":
                try:
                    options["busy_timeout"] = float(value)
                except ValueError:
                    raise ParameterError(f"busy_timeout must be seconds; got {value!r}.") from None
            else:
                raise ParameterError(
                    f"unknown option {name!r} in {spec!r}: sqlite URLs take synchronous= "
                    f"(FULL or NORMAL) and busy_timeout= (seconds)."
                )
        return SqliteStore(rest, **options)
    if low.startswith(("postgresql://", "postgres://")):
        from fairrec.consent._postgres import PostgresStore

        return PostgresStore(spec)
    if low.startswith("file://"):
        from fairrec.consent._jsonl import JsonlStore

        return JsonlStore(spec[len("file://") :])
    if re.match(r"^[a-z][a-z0-9+.-]*://", low):
        raise ParameterError(
            f"unknown consent store URL scheme in {redact(spec)!r}: use sqlite:///path, "
            f"postgresql://... or a path to a JSON-lines file."
        )
    if low.endswith(_SQLITE_SUFFIXES):
        from fairrec.consent._sql import SqliteStore

        return SqliteStore(spec)
    from fairrec.consent._jsonl import JsonlStore

    return JsonlStore(spec)


def redact(url: str) -> str:
    """A URL with its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def check_key(check: object, key: bytes, where: str) -> None:
    """Refuse a key whose fingerprint differs from the one the store was written with."""
    import hmac

    if not (
        isinstance(check, str)
        and check.isascii()  # compare_digest refuses non-ASCII str (a damaged header)
        and hmac.compare_digest(check, key_fingerprint(key, b"consent"))
    ):
        raise ConsentError(
            f"{where}: the key does not match the one this ledger was written with "
            f"(key fingerprint differs); tombstones would stop working."
        )
