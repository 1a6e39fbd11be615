"""Consent stores for tests: a real PostgreSQL server started here, and a ledger factory.

``pg_server`` (session) runs ``initdb`` + ``pg_ctl`` of the PostgreSQL binaries found on this
machine (``PATH``, ``/usr/lib/postgresql/*/bin``, ``/usr/local/bin``) in a temporary folder on
a free localhost port -- as the ``postgres`` system user when the tests run as root, since
PostgreSQL refuses to run as root. Without the binaries the PostgreSQL tests are skipped with
the reason; CI installs them (``.ci/run``). Never a mock.

``ledger_factory`` makes fresh ledgers on one store kind: ``memory``, ``jsonl``, ``sqlite``
or ``postgres``.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from fairrec.consent import ConsentLedger

KEY = b"test-key-0123456789abcdef"
STORE_KINDS = ["memory", "jsonl", "sqlite", "postgres"]
_counter = itertools.count()


def _pg_bin() -> Path | None:
    """Folder holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    candidates += [Path("/usr/local/bin"), Path("/usr/local/pgsql/bin")]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """A throwaway PostgreSQL server (trust auth on 127.0.0.1 only)."""

    def __init__(self) -> None:
        pytest.importorskip(
            "psycopg", reason='psycopg 3 is missing: pip install "fairrec[postgres]"'
        )
        folder = _pg_bin()
        if folder is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found; CI installs them")
        self.bin = folder
        self.root = Path(tempfile.mkdtemp(prefix="fairrec-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as an unprivileged user
            for name in ("postgres", "nobody"):
                try:
                    pw = pwd.getpwnam(name)
                except KeyError:
                    continue
                os.chown(self.root, pw.pw_uid, pw.pw_gid)
                self.prefix = [
                    "setpriv",
                    f"--reuid={pw.pw_uid}",
                    f"--regid={pw.pw_gid}",
                    "--clear-groups",
                    "--",
                ]
                break
            else:
                pytest.skip("running as root and no 'postgres' or 'nobody' user to run PostgreSQL")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "fairrec",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run(
            [*self.prefix, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c full_page_writes=off -c max_connections=60"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts, "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://fairrec@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(_counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def wipe(self, url: str) -> None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "DROP TABLE IF EXISTS fairrec_consent_events, fairrec_consent_seq, "
                "fairrec_consent_meta, fairrec_schema_migrations"
            )

    def close(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except Exception:  # noqa: BLE001 - best effort
            pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    server = PgServer()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server):
    return pg_server.new_database()


class LedgerFactory:
    """Fresh ledgers on one kind of store; ``make()`` wipes the previous store first."""

    def __init__(self, kind: str, folder: Path, pg: PgServer | None, request) -> None:
        self.kind = kind
        self.folder = folder
        self.pg = pg
        self.pg_db: str | None = None
        self.request = request
        self.opened: list[ConsentLedger] = []
        self.key = KEY if kind == "postgres" else None  # else the sidecar <path>.key

    def url(self) -> str:
        n = next(_counter)
        if self.kind == "jsonl":
            return str(self.folder / f"c{n}.jsonl")
        if self.kind == "sqlite":
            return f"sqlite:///{self.folder / f'c{n}.db'}"
        if self.pg_db is None:
            self.pg_db = self.pg.new_database()
        for led in self.opened:
            led.close()
        self.opened.clear()
        self.pg.wipe(self.pg_db)
        return self.pg_db

    def make(self, default: str = "deny", **kw) -> ConsentLedger:
        if self.kind == "memory":
            return ConsentLedger(default=default, **kw)
        led = ConsentLedger(default=default, store=self.url(), key=self.key, **kw)
        self.opened.append(led)
        return led

    def reopen(self, led: ConsentLedger, **kw) -> ConsentLedger:
        """A second ledger on the same store (another replica)."""
        if self.kind == "memory":
            return led
        spec = str(led.path) if led.path is not None else led.store.describe()
        if self.kind == "postgres":
            spec = self.pg_db
        other = ConsentLedger.load(spec, key=self.key, **kw)
        self.opened.append(other)
        return other

    def close(self) -> None:
        for led in self.opened:
            led.close()


@pytest.fixture(params=STORE_KINDS)
def ledger_factory(request, tmp_path):
    pg = request.getfixturevalue("pg_server") if request.param == "postgres" else None
    factory = LedgerFactory(request.param, tmp_path, pg, request)
    yield factory
    factory.close()
