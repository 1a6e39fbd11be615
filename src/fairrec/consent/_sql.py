"""Consent stores on a database: the shared SQL store and SQLite (stdlib ``sqlite3``, WAL);
PostgreSQL (psycopg 3) is in ``_postgres``.

Schema (created and versioned by fairrec; ``fairrec_schema_migrations`` lists the applied
migrations, a database written by a newer fairrec is refused):

* ``fairrec_consent_events(seq BIGINT PRIMARY KEY, op, user_id, at, body)``: one row per
  event, ``body`` the event's JSON; an erasure deletes the viewer's rows and adds a
  ``forget`` row holding only the keyed hash;
* ``fairrec_consent_seq(id = 1, last_seq)``: the sequence counter. A writer locks it (SQLite:
  ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT ... FOR UPDATE``) for the whole transaction, so
  writers commit one at a time in sequence order and a reader polling ``seq > cursor`` never
  skips an event;
* ``fairrec_consent_meta(name, value)``: format, default, key fingerprint, creation time and,
  after ``fairrec consent migrate``, where the events came from.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fairrec._durable import iso_ns
from fairrec.consent._common import FORMAT
from fairrec.consent._events import _Event
from fairrec.consent._store import Batch, ConsentStore, Meta, check_key, decode_records
from fairrec.consent.keys import key_file_for, key_fingerprint, load_or_create_key, read_key_file
from fairrec.consent.purposes import DEFAULTS
from fairrec.errors import (
    ConsentError,
    ConsentStoreError,
    ConsentStoreUnavailableError,
)

__all__ = ["SqliteStore", "SCHEMA_VERSION"]

_MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "consent events, sequence counter, metadata",
        [
            "CREATE TABLE fairrec_consent_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE fairrec_consent_seq (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "last_seq BIGINT NOT NULL)",
            "INSERT INTO fairrec_consent_seq (id, last_seq) VALUES (1, 0)",
            "CREATE TABLE fairrec_consent_events (seq BIGINT PRIMARY KEY, op TEXT NOT NULL, "
            "user_id TEXT, at TEXT NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX fairrec_consent_events_user ON fairrec_consent_events (user_id)",
        ],
    ),
]
SCHEMA_VERSION = _MIGRATIONS[-1][0]


class _SqlStore(ConsentStore):
    """What SQLite and PostgreSQL share; subclasses supply connections and locking."""

    shared = True
    _ph = "?"

    def __init__(self) -> None:
        self._conn: Any = None
        self._mutex = threading.RLock()  # one connection, used by one thread at a time
        self._default: str | None = None

    # -- to override
    def _connect(self) -> Any:
        raise NotImplementedError

    def _unavailable(self, exc: BaseException) -> bool:
        raise NotImplementedError

    @contextmanager
    def _write_txn(self, conn: Any) -> Iterator[Any]:
        raise NotImplementedError

    def _key_for(self, created: bool, given: bytes | None) -> bytes:
        raise NotImplementedError

    def _schema_lock(self, cur: Any) -> None:
        """Serialize schema creation between processes (inside the write transaction)."""

    # -- shared
    def _q(self, sql: str) -> str:
        return sql.replace("?", self._ph)

    @contextmanager
    def _conn_guard(self) -> Iterator[Any]:
        """The connection, with store errors mapped to typed consent errors."""
        with self._mutex:
            try:
                if self._conn is None:
                    self._conn = self._connect()
                yield self._conn
            except ConsentError:
                raise
            except Exception as exc:
                if self._is_db_error(exc):
                    if self._unavailable(exc):
                        self._drop()
                        raise ConsentStoreUnavailableError(
                            f"the consent store {self.describe()} is unavailable: "
                            f"{str(exc).strip() or type(exc).__name__}"
                        ) from None
                    raise ConsentStoreError(
                        f"the consent store {self.describe()} failed: {str(exc).strip()}"
                    ) from None
                raise

    def _is_db_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass

    def close(self) -> None:
        with self._mutex:
            self._drop()

    def open(self, default: str | None, key: bytes | None) -> Meta:
        with self._conn_guard() as conn, self._write_txn(conn) as cur:
            self._schema_lock(cur)
            cur.execute(
                "CREATE TABLE IF NOT EXISTS fairrec_schema_migrations (version INTEGER PRIMARY "
                "KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            cur.execute("SELECT version FROM fairrec_schema_migrations")
            applied = {int(r[0]) for r in cur.fetchall()}
            newer = [v for v in applied if v > SCHEMA_VERSION]
            if newer:
                raise ConsentStoreError(
                    f"{self.describe()}: the consent schema is at version {max(newer)}, newer "
                    f"than this fairrec knows ({SCHEMA_VERSION}); upgrade fairrec."
                )
            for version, name, statements in _MIGRATIONS:
                if version in applied:
                    continue
                for sql in statements:
                    cur.execute(sql)
                cur.execute(
                    self._q(
                        "INSERT INTO fairrec_schema_migrations (version, name, applied_at) "
                        "VALUES (?, ?, ?)"
                    ),
                    (version, name, iso_ns(time.time_ns())),
                )
            cur.execute("SELECT name, value FROM fairrec_consent_meta")
            meta = dict(cur.fetchall())
            created = "format" not in meta
            real_key = self._key_for(created, key)
            if created:
                meta = {
                    "format": FORMAT,
                    "default": default or "deny",
                    "key_check": key_fingerprint(real_key, b"consent"),
                    "created": iso_ns(time.time_ns()),
                }
                cur.executemany(
                    self._q("INSERT INTO fairrec_consent_meta (name, value) VALUES (?, ?)"),
                    list(meta.items()),
                )
            else:
                if meta.get("format") != FORMAT or meta.get("default") not in DEFAULTS:
                    raise ConsentStoreError(f"{self.describe()}: not a fairrec consent store.")
                if default is not None and meta["default"] != default:
                    raise ConsentError(
                        f"{self.describe()}: the store was created with "
                        f"default={meta['default']!r} but the ledger was opened with "
                        f"default={default!r}; use ConsentLedger.load(url) or pass the same "
                        f"default."
                    )
                check_key(meta.get("key_check"), real_key, self.describe())
        self._default = meta["default"]
        return Meta(meta["default"], real_key, created)

    def meta(self) -> dict[str, str]:
        """The store's metadata table."""
        with self._conn_guard() as conn:
            cur = conn.cursor()
            cur.execute("SELECT name, value FROM fairrec_consent_meta")
            return dict(cur.fetchall())

    def _fetch(self, cur: Any, after: int) -> Batch:
        cur.execute(
            self._q("SELECT seq, body FROM fairrec_consent_events WHERE seq > ? ORDER BY seq"),
            (after,),
        )
        return self._decode_rows(cur.fetchall(), after)

    def _decode_rows(self, rows: list[Any], after: int) -> Batch:
        records = []
        for seq, body in rows:
            try:
                obj = json.loads(body)
                if not isinstance(obj, dict) or obj.get("seq") != seq:
                    raise ValueError
            except ValueError:
                raise ConsentStoreError(
                    f"{self.describe()}: event seq {seq} has a damaged body."
                ) from None
            records.append((f"seq {seq}", obj))
        events = decode_records(records, f"{self.describe()}: ")
        last = events[-1][1].seq if events else after
        return Batch(events, max(last, after), last, after == 0)

    def read(self, cursor: Any) -> Batch:
        after = int(cursor or 0)
        with self._conn_guard() as conn:
            cur = conn.cursor()
            return self._fetch(cur, after)

    @contextmanager
    def transaction(self, cursor: Any) -> Iterator[_SqlTx]:
        after = int(cursor or 0)
        with self._conn_guard() as conn, self._write_txn(conn) as cur:
            cur.execute("SELECT last_seq FROM fairrec_consent_seq WHERE id = 1" + self._for_update)
            (last_seq,) = cur.fetchone()
            batch = self._fetch(cur, after)
            batch.last_seq = int(last_seq)
            tx = _SqlTx(self, cur, batch)
            yield tx
        self._after_commit(tx)

    _for_update = ""

    def _after_commit(self, tx: _SqlTx) -> None:
        """Hook run after a transaction committed."""

    def insert_rows(self, cur: Any, events: list[_Event]) -> None:
        cur.executemany(
            self._q(
                "INSERT INTO fairrec_consent_events (seq, op, user_id, at, body) "
                "VALUES (?, ?, ?, ?, ?)"
            ),
            [
                (
                    ev.seq,
                    ev.op,
                    ev.user,
                    iso_ns(ev.t),
                    json.dumps(ev.to_json(), separators=(",", ":"), ensure_ascii=False),
                )
                for ev in events
            ],
        )
        cur.execute(
            self._q("UPDATE fairrec_consent_seq SET last_seq = ? WHERE id = 1"),
            (max(ev.seq for ev in events),),
        )


class _SqlTx:
    def __init__(self, store: _SqlStore, cur: Any, batch: Batch) -> None:
        self.store = store
        self.cur = cur
        self.batch = batch
        self.cursor = batch.cursor
        self.erased = False

    def append(self, events: list[_Event], as_import: bool, now_ns: int) -> None:
        if events:
            self.store.insert_rows(self.cur, events)
            self.cursor = max(ev.seq for ev in events)

    def set_meta(self, items: dict[str, str]) -> None:
        """Set metadata entries (in this transaction)."""
        q = self.store._q
        for name, value in items.items():
            self.cur.execute(q("DELETE FROM fairrec_consent_meta WHERE name = ?"), (name,))
            self.cur.execute(
                q("INSERT INTO fairrec_consent_meta (name, value) VALUES (?, ?)"), (name, value)
            )

    def erase(self, user: str, forget: _Event, remaining: list[_Event], had_events: bool) -> None:
        if had_events:
            self.cur.execute(
                self.store._q("DELETE FROM fairrec_consent_events WHERE user_id = ?"), (user,)
            )
        self.append([forget], False, forget.t)
        self.erased = had_events


# --------------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------------


class SqliteStore(_SqlStore):
    """The consent log in one SQLite file (WAL), shared by processes on one host.

    Parameters
    ----------
    path : str or Path
        The database file (created with the schema when missing). The tombstone key lives in
        ``<path>.key`` unless the ledger is given ``key=``.
    busy_timeout : float, default 10.0
        Seconds a writer waits for another writer's transaction before
        :class:`~fairrec.errors.ConsentStoreUnavailableError`.
    synchronous : {"FULL", "NORMAL"}, default "FULL"
        SQLite's ``PRAGMA synchronous``: FULL fsyncs the WAL at every commit (a committed
        event survives a power cut); NORMAL survives a process crash only.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 10.0,
        synchronous: str = "FULL",
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.busy_timeout = float(busy_timeout)
        if synchronous.upper() not in ("FULL", "NORMAL"):
            raise ConsentError(f"synchronous must be 'FULL' or 'NORMAL'; got {synchronous!r}.")
        self.synchronous = synchronous.upper()

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    def reopen_url(self) -> str:
        """A URL that opens this store with the same options (for other processes)."""
        return (
            f"{self.describe()}?synchronous={self.synchronous}&busy_timeout={self.busy_timeout:g}"
        )

    def _connect(self) -> sqlite3.Connection:
        if self._default is None:  # the first open may create the file
            target, uri = str(self.path), False
        else:  # later reconnects never create an empty database in place of a missing one
            target, uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}?mode=rw", True
        conn = sqlite3.connect(
            target,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            uri=uri,
        )
        deadline = time.monotonic() + self.busy_timeout
        while True:  # switching to WAL needs a moment alone with the file
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise ConsentStoreError(f"{self.describe()}: cannot switch to WAL (got {mode!r}).")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA secure_delete=ON")  # erased rows are overwritten, not just unlinked
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass
        return conn

    def _unavailable(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError)

    @contextmanager
    def _write_txn(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            try:
                cur.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        cur.execute("COMMIT")

    def _key_for(self, created: bool, given: bytes | None) -> bytes:
        if given is not None:
            return given
        key_file = key_file_for(self.path)
        if created:
            return load_or_create_key(key_file)
        if not key_file.is_file():
            raise ConsentError(
                f"{self.describe()}: the key file {key_file} is missing, so tombstones of "
                f"erased viewers cannot be checked. Restore it or pass key=."
            )
        return read_key_file(key_file)

    def _after_commit(self, tx: _SqlTx) -> None:
        if tx.erased:  # old WAL frames may still hold the erased rows: fold and truncate
            try:
                with self._mutex:
                    if self._conn is not None:
                        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # readers still hold old frames; the next checkpoint folds them
