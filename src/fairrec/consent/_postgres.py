"""The consent store on PostgreSQL (psycopg 3, the ``postgres`` extra): many hosts.

The schema and the transaction protocol are those of the SQL store (``_sql``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fairrec._durable import iso_ns
from fairrec.consent._events import _Event
from fairrec.consent._sql import _SqlStore, _SqlTx
from fairrec.consent._store import redact
from fairrec.errors import (
    ConsentError,
    OptionalDependencyError,
)

__all__ = ["PostgresStore"]


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise OptionalDependencyError(
            'A PostgreSQL consent store needs psycopg 3: pip install "fairrec[postgres]".'
        ) from None
    return psycopg


class PostgresStore(_SqlStore):
    """The consent log in PostgreSQL (psycopg 3), shared by processes on many hosts.

    Parameters
    ----------
    url : str
        A libpq URL, ``postgresql://user:password@host:5432/dbname``. The tables are created
        in the connection's default schema when missing. There is no key file: every replica
        passes the same ``key=`` to the ledger.
    connect_timeout : float, default 2.0
        Seconds to wait for a connection before the store counts as unavailable.
    statement_timeout : float, default 10.0
        Server-side limit (seconds) of one statement, including waiting for another writer.
    """

    _ph = "%s"
    _for_update = " FOR UPDATE"

    def __init__(
        self, url: str, *, connect_timeout: float = 2.0, statement_timeout: float = 10.0
    ) -> None:
        super().__init__()
        self._psycopg = _psycopg()
        self.url = url
        self.connect_timeout = float(connect_timeout)
        self.statement_timeout = float(statement_timeout)

    def describe(self) -> str:
        return redact(self.url)

    def _connect(self) -> Any:
        return self._psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=max(1, round(self.connect_timeout)),
            options=f"-c statement_timeout={int(self.statement_timeout * 1000)}",
        )

    def _is_db_error(self, exc: BaseException) -> bool:
        return isinstance(exc, self._psycopg.Error)

    def _unavailable(self, exc: BaseException) -> bool:
        p = self._psycopg
        return isinstance(exc, (p.OperationalError, p.InterfaceError)) or (
            self._conn is not None and self._conn.closed
        )

    @contextmanager
    def _write_txn(self, conn: Any) -> Iterator[Any]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    def _schema_lock(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(7262019001)")

    @contextmanager
    def transaction(self, cursor: Any) -> Iterator[_SqlTx]:
        """One round trip to begin, lock the counter and read what others committed (three
        statements, each with its own snapshot under READ COMMITTED, so the read sees every
        transaction that held the lock before us), one per insert, one to commit."""
        after = int(cursor or 0)
        with self._conn_guard() as conn:
            cur = conn.cursor()
            try:
                cur.execute(
                    "BEGIN; SELECT last_seq FROM fairrec_consent_seq WHERE id = 1 FOR UPDATE; "
                    f"SELECT seq, body FROM fairrec_consent_events WHERE seq > {after:d} "
                    "ORDER BY seq"
                )
                cur.nextset()
                (last_seq,) = cur.fetchone()
                cur.nextset()
                batch = self._decode_rows(cur.fetchall(), after)
                batch.last_seq = int(last_seq)
                tx = _SqlTx(self, cur, batch)
                yield tx
                cur.execute("COMMIT")
            except BaseException:
                try:
                    if not conn.closed:
                        conn.rollback()
                except Exception:  # noqa: BLE001 - the connection is gone: nothing to undo
                    pass
                raise
            finally:
                cur.close()

    def insert_rows(self, cur: Any, events: list[_Event]) -> None:
        if len(events) > 500:  # large imports: the pipelined executemany
            return super().insert_rows(cur, events)
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(events))
        params: list[Any] = []
        for ev in events:
            params += [
                ev.seq,
                ev.op,
                ev.user,
                iso_ns(ev.t),
                json.dumps(ev.to_json(), separators=(",", ":"), ensure_ascii=False),
            ]
        params.append(max(ev.seq for ev in events))
        cur.execute(
            "WITH added AS (INSERT INTO fairrec_consent_events (seq, op, user_id, at, body) "
            f"VALUES {values}) UPDATE fairrec_consent_seq SET last_seq = %s WHERE id = 1",
            params,
        )

    def _key_for(self, created: bool, given: bytes | None) -> bytes:
        if given is None:
            raise ConsentError(
                f"{self.describe()}: a PostgreSQL consent store needs the tombstone key: pass "
                f"key= (the same secret on every replica, e.g. from your secret store, or "
                f"key=Path('consent.jsonl.key') to use the key file of a migrated ledger)."
            )
        return given
