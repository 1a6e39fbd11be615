"""The consent ledger on shared stores: processes, crashes, outages, migration (issue 16), and
the ledger-level regressions of issue 13 (withdrawal wins, one id form, the ledger file).

Every SQLite and PostgreSQL test runs against a real database: a file, and a PostgreSQL
server started by the ``pg_server`` fixture (``tests/consent_stores.py``).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import unicodedata
import warnings
from pathlib import Path

import pandas as pd
import pytest

from _procs import spawn, wait_line
from consent_stores import KEY
from fairrec.cli import main as cli_main
from fairrec.consent import ConsentFileWarning, ConsentLedger
from fairrec.consent._jsonl import _check_line
from fairrec.errors import (
    ConsentError,
    ConsentStaleError,
    ConsentStoreError,
    ConsentStoreUnavailableError,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ["sqlite", "postgres"]


@pytest.fixture(params=SHARED)
def shared_url(request, tmp_path):
    """A fresh shared store URL (SQLite file or PostgreSQL database) and the key to use."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'consent.db'}", None
    return request.getfixturevalue("pg_url"), KEY


def _key_arg(key):
    return repr(key) if key is not None else "None"


_child, _wait_line = spawn, wait_line

# ------------------------------------------------------------------------------ two processes

_SERVER = """
    import sys, time
    import fairrec as fr
    from fairrec.consent import ConsentLedger
    url, key, viewer = sys.argv[1], eval(sys.argv[2]), sys.argv[3]
    data = fr.datasets.synthetic(n_users=40, n_items=60, seed=1, mean_plays=12)
    ledger = ConsentLedger.load(url, key=key, poll_interval=0.05, max_staleness=1.0)
    rec = fr.Recommender(model=fr.models.ALS(factors=4, iterations=2, random_state=0),
                         consent=ledger, row_size=5).fit(data)
    user = type(data.user_ids[0])(viewer)
    print("ready", flush=True)
    end = time.time() + 30
    while time.time() < end:
        asked = time.time()  # the request's start: the claim is about pages asked for later
        page = rec.home(user)
        print("page", repr(asked), int(page.personalized), page.consent_version, flush=True)
        time.sleep(0.01)
"""


def test_revoke_in_one_process_reaches_the_next_page_of_another_within_the_bound(shared_url):
    import fairrec as fr

    url, key = shared_url
    data = fr.datasets.synthetic(n_users=40, n_items=60, seed=1, mean_plays=12)
    ledger = ConsentLedger(store=url, key=key)
    ids = [str(u) for u in data.user_ids]
    ledger.import_frame(
        pd.DataFrame(
            {
                "user_id": ids * 2,
                "action": "grant",
                "purpose": ["training"] * len(ids) + ["personalization"] * len(ids),
            }
        )
    )
    viewer = ids[0]
    proc = _child(_SERVER, url, _key_arg(key), viewer)
    try:
        _wait_line(proc, "ready")
        lines = _wait_line(proc, "page")
        assert lines[-1].split()[2] == "1"  # personalized before the revoke
        ledger.revoke(viewer, "personalization")
        revoked_at, version = time.time(), ledger.version
        pages = []
        while True:
            t, personalized, v = _wait_line(proc, "page")[-1].split()[1:]
            pages.append((float(t), personalized == "1", int(v)))
            if float(t) > revoked_at + 1.5:
                break
    finally:
        proc.kill()
        proc.communicate()
        ledger.close()
    after = [p for p in pages if p[0] > revoked_at]
    first = next(p for p in after if not p[1])
    delay = first[0] - revoked_at
    assert delay <= 1.0, delay  # the bound (max_staleness); typically ~ poll_interval
    assert first[2] >= version  # the page names the consent version it was built from
    # from the first non-personalized page on, never personalized again
    assert not any(p[1] for p in after if p[0] >= first[0])
    # and every page served more than the bound after the revoke is non-personalized
    assert not any(p[1] for p in after if p[0] > revoked_at + 1.0)


# ------------------------------------------------------------------------------ many writers

_WRITER = """
    import sys
    from fairrec.consent import ConsentLedger
    url, key, k, n = sys.argv[1], eval(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    ledger = ConsentLedger.load(url, key=key, follow=False)
    for i in range(n):
        u = f"w{k}-u{i % 25}"
        if i % 5 == 4:
            ledger.exclude(u, genres=[f"g{i % 3}"])
        elif i % 2:
            ledger.deny(u, ["personalization"])
        else:
            ledger.grant(u, ["personalization", "training"])
    print("done", flush=True)
"""


def _expected_states(writers: int, n: int) -> dict:
    ref = ConsentLedger()
    for k in range(writers):
        for i in range(n):
            u = f"w{k}-u{i % 25}"
            if i % 5 == 4:
                ref.exclude(u, genres=[f"g{i % 3}"])
            elif i % 2:
                ref.deny(u, ["personalization"])
            else:
                ref.grant(u, ["personalization", "training"])
    return {u: _core(ref.state(u)) for u in ref.users()}


def _core(state) -> tuple:
    return (sorted(state.purposes), sorted(state.excluded_genres), state.forgotten)


def _seqs(url: str, key) -> list[int]:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :].split("?")[0]) as conn:
            return [
                r[0] for r in conn.execute("SELECT seq FROM fairrec_consent_events ORDER BY seq")
            ]
    import psycopg

    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT seq FROM fairrec_consent_events ORDER BY seq")]


@pytest.mark.slow
def test_eight_writer_processes_lose_nothing_and_never_reuse_a_number(shared_url):
    url, key = shared_url
    if url.startswith("sqlite:///"):  # a SIGKILL-safe (not power-cut-safe) WAL, for speed
        url += "?synchronous=NORMAL"
    writers, n = 8, 1000
    ConsentLedger(store=url, key=key, follow=False).close()  # create the schema once
    procs = [_child(_WRITER, url, _key_arg(key), str(k), str(n)) for k in range(writers)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "done" in out, err[-3000:]
    seqs = _seqs(url, key)
    assert len(seqs) == writers * n
    assert seqs == list(range(1, writers * n + 1))  # unique, and none lost
    expected = _expected_states(writers, n)
    readers = [ConsentLedger.load(url, key=key, follow=False) for _ in range(2)]
    reader_proc = _child(
        """
        import sys, json
        from fairrec.consent import ConsentLedger
        led = ConsentLedger.load(sys.argv[1], key=eval(sys.argv[2]), follow=False)
        print(json.dumps({u: [sorted(led.state(u).purposes), sorted(led.state(u).excluded_genres)]
                          for u in led.users()}), led.version)
        """,
        url,
        _key_arg(key),
    )
    out, err = reader_proc.communicate(timeout=120)
    assert reader_proc.returncode == 0, err[-3000:]
    states, version = out.rsplit(" ", 1)
    assert int(version) == writers * n
    other = json.loads(states)
    for led in readers:
        assert led.version == writers * n
        assert {u: _core(led.state(u)) for u in led.users()} == expected
        led.close()
    assert {u: (p, g, False) for u, (p, g) in other.items()} == expected


def test_two_writers_on_one_ledger_file_never_reuse_a_number_or_lose_a_revoke(tmp_path):
    """Issue 13, finding 8: A.revoke(u1) then B.forget(u2) on one file lost the revoke, and
    a reused sequence number made the file unreadable."""
    path = tmp_path / "consent.jsonl"
    a = ConsentLedger(path=path)
    b = ConsentLedger(path=path)  # a second writer, opened before the first writes
    a.grant("u1", ["personalization", "training"])
    b.grant("u2", "training")  # b has not seen a's event: it must not reuse seq 1
    a.revoke("u1", "personalization")
    b.forget("u2")  # rewrites the file: a's revoke must survive
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConsentFileWarning)
        back = ConsentLedger.load(path)
    seqs = [ev.seq for ev in back._log]
    assert seqs == [1, 3, 4]  # u2's grant (2) went with the erasure; nothing reused
    assert back.state("u1").purposes == {"training"}
    assert back.is_forgotten("u2")
    assert a.refresh() == b.version  # both writers end with the same state
    assert a.state("u1").purposes == b.state("u1").purposes == {"training"}


_FILE_WRITER = """
    import sys
    from fairrec.consent import ConsentLedger
    path, k = sys.argv[1], int(sys.argv[2])
    ledger = ConsentLedger.load(path)
    for i in range(150):
        ledger.grant(f"p{k}-{i % 10}", "training") if i % 2 == 0 else ledger.deny(f"p{k}-{i % 10}", "training")
    print("done", flush=True)
"""


def test_two_writer_processes_on_one_ledger_file_take_turns(tmp_path):
    path = tmp_path / "consent.jsonl"
    ConsentLedger(path=path).close()
    procs = [_child(_FILE_WRITER, str(path), str(k)) for k in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
    back = ConsentLedger.load(path)
    assert [ev.seq for ev in back._log] == list(range(1, 301))


def test_a_flipped_digit_in_a_ledger_line_is_refused(tmp_path):
    """Issue 13, finding 8: lines had no integrity check (a changed time loaded silently)."""
    path = tmp_path / "consent.jsonl"
    led = ConsentLedger(path=path)
    led.grant("u1", "training", at="2024-01-01T00:00:05Z")
    led.revoke("u1", "training", at="2024-01-02T00:00:05Z")
    data = path.read_bytes()
    assert data.count(b"2024-01-02T00:00:05") == 1
    path.write_bytes(data.replace(b"2024-01-02T00:00:05", b"2024-01-03T00:00:05"))
    with pytest.raises(ConsentError, match="line 3 fails its checksum"):
        ConsentLedger.load(path)


# ------------------------------------------------------------------------------ crashes

_KILLED_WRITER = """
    import sys, time
    import pandas as pd
    from fairrec.consent import ConsentLedger
    url, key = sys.argv[1], eval(sys.argv[2])
    ledger = ConsentLedger.load(url, key=key, follow=False)
    cls = type(ledger.store)
    real = cls.insert_rows
    state = {"batches": 0}
    def slow_insert(self, cur, events):
        if len(events) > 1:
            state["batches"] += 1
            if state["batches"] == 4:  # the 4th import: half its rows, then hang mid-transaction
                real(self, cur, events[: len(events) // 2])
                print("mid", flush=True)
                time.sleep(60)
        return real(self, cur, events)
    cls.insert_rows = slow_insert
    for b in range(100):
        users = [f"b{b}-{i}" for i in range(40)]
        ledger.import_frame(pd.DataFrame({"user_id": users, "action": "grant",
                                          "purpose": "training"}))
        print("ok", ledger.version, flush=True)
        ledger.grant(f"single{b}", "training")
        print("ok", ledger.version, flush=True)
"""


def test_sigkill_mid_transaction_keeps_every_committed_event_and_no_partial_one(shared_url):
    url, key = shared_url
    ConsentLedger(store=url, key=key, follow=False).close()
    proc = _child(_KILLED_WRITER, url, _key_arg(key))
    lines = _wait_line(proc, "mid")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    reported = [int(line.split()[1]) for line in lines if line.startswith("ok")]
    assert len(reported) == 6  # 3 imports and 3 grants committed before the kill
    back = ConsentLedger.load(url, key=key, follow=False)
    seqs = _seqs(url, key)
    assert seqs == list(range(1, reported[-1] + 1))  # every committed event, nothing more
    assert back.version == reported[-1]
    batches = {}
    for u in back.users():
        if u.startswith("b"):
            batches.setdefault(u.split("-")[0], 0)
            batches[u.split("-")[0]] += 1
    assert batches == {"b0": 40, "b1": 40, "b2": 40}  # the 4th import left no row at all
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    back.grant("after-crash", "training")  # the store takes writes again
    assert back.version == reported[-1] + 1
    back.close()


# ------------------------------------------------------------------------------ outages


def test_postgres_down_gives_typed_errors_and_the_non_personalized_fallback(pg_server):
    url = pg_server.new_database()
    led = ConsentLedger(store=url, key=KEY, poll_interval=0.05, max_staleness=0.5)
    led.grant("u1", ["personalization", "training", "stated_interests"])
    led.exclude("u1", genres=["Horror"])
    led.state_interests("u1", genres=["Drama"])
    assert not led.stale and led.state("u1").purposes
    pg_server.stop()
    try:
        with pytest.raises(ConsentStoreUnavailableError, match="unavailable"):
            led.grant("u2", "training")
        time.sleep(0.8)
        assert led.stale and isinstance(led.sync_error, ConsentStoreUnavailableError)
        st_ = led.state("u1")
        assert st_.stale and st_.purposes == frozenset()  # no personalization, no interests
        assert st_.liked_genres == frozenset() and st_.excluded_genres == {"Horror"}
        assert not led.allowed("u1", "personalization")
        assert not led.allowed("u1", "training", at=pd.Timestamp.now(tz="UTC"))
        info = led.explain("u1")
        assert info["stale"] and info["purposes"]["training"] == {
            "allowed": False,
            "since": None,
            "basis": "store unreachable",  # not "not granted": the grant is there, unread
        }
        with pytest.raises(ConsentStaleError, match="max_staleness"):
            led.allowed_mask(["u1"], "training")
        assert isinstance(ConsentStaleError("x"), ConsentError)
    finally:
        pg_server.start()
    deadline = time.monotonic() + 10
    while led.stale and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not led.stale and led.state("u1").purposes  # the follower reconnected
    led.grant("u2", "training")
    led.close()


def test_recommender_serves_the_non_personalized_page_while_the_store_is_out_of_reach(tmp_path):
    import fairrec as fr

    data = fr.datasets.synthetic(n_users=30, n_items=50, seed=2, mean_plays=10)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    led = ConsentLedger(store=url, poll_interval=0.05, max_staleness=0.3)
    ids = [str(u) for u in data.user_ids]
    led.import_frame(pd.DataFrame({"user_id": ids, "action": "grant", "purpose": "training"}))
    led.grant(ids[0], "personalization")
    rec = fr.Recommender(
        model=fr.models.ALS(factors=4, iterations=2, random_state=0), consent=led, row_size=5
    ).fit(data)
    user = data.user_ids[0]
    assert rec.home(user).personalized
    # the database goes out of reach (a volume unmounted, a file moved by an operator)
    db = tmp_path / "c.db"
    db.rename(tmp_path / "away.db")
    led.store.close()  # the open connection goes; the next poll cannot reconnect
    try:
        time.sleep(0.8)
        assert led.stale and isinstance(led.sync_error, ConsentStoreUnavailableError)
        page = rec.home(user)
        assert not page.personalized and "watch_history" not in page.data_used
        with pytest.raises(ConsentStoreUnavailableError):
            led.grant(ids[1], "personalization")
        with pytest.raises(ConsentStaleError):  # bulk decisions are refused, not guessed
            fr.Recommender(model=fr.models.ALS(factors=4, iterations=1), consent=led).fit(data)
        with pytest.raises(ConsentStaleError):
            rec.save(tmp_path / "model")
        assert not db.exists()  # a reconnect never creates an empty database in its place
    finally:
        (tmp_path / "away.db").rename(db)
    deadline = time.monotonic() + 10
    while led.stale and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rec.home(user).personalized
    led.close()


# ------------------------------------------------------------------------------ schema, erasure


def test_schema_is_versioned_and_a_newer_one_is_refused(shared_url):
    url, key = shared_url
    ConsentLedger(store=url, key=key).close()
    insert = (
        "INSERT INTO fairrec_schema_migrations (version, name, applied_at) VALUES (99, 'x', 'y')"
    )
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            assert [
                r[0] for r in conn.execute("SELECT version FROM fairrec_schema_migrations")
            ] == [1]
            conn.execute(insert)
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            assert [
                r[0] for r in conn.execute("SELECT version FROM fairrec_schema_migrations")
            ] == [1]
            conn.execute(insert)
    with pytest.raises(ConsentStoreError, match="version 99, newer"):
        ConsentLedger.load(url, key=key)


def test_shared_store_refuses_a_wrong_key_or_default(shared_url):
    url, key = shared_url
    ConsentLedger(store=url, key=key).close()
    with pytest.raises(ConsentError, match="key does not match"):
        ConsentLedger(store=url, key=b"w" * 32)
    with pytest.raises(ConsentError, match="default='deny'"):
        ConsentLedger(default="allow", store=url, key=key)


def test_sqlite_erasure_leaves_no_raw_id_in_the_database_files(tmp_path):
    db = tmp_path / "c.db"
    led = ConsentLedger(store=f"sqlite:///{db}")
    secret = "alice-7f3c2e"
    led.grant(secret, ["training", "personalization"])
    led.exclude(secret, genres=["Horror"])
    led.grant("bob", "training")
    led.forget(secret)
    led.close()
    for f in tmp_path.iterdir():
        assert secret.encode() not in f.read_bytes(), f.name
    assert ConsentLedger.load(f"sqlite:///{db}").is_forgotten(secret)


# ------------------------------------------------------------------------------ issue 13


@pytest.mark.parametrize("default", ["deny", "allow"])
def test_withdrawal_wins_over_a_grant_stamped_ahead(ledger_factory, default):
    """Issue 13, finding 2: a grant stamped up to 5 minutes ahead outranked a later
    withdrawal (revoke raised "revoke before grant", deny was ignored, and under
    default="allow" revoke was ignored)."""
    led = ledger_factory.make(default=default)
    ahead = pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=4)
    for u in ("r", "d"):
        led.grant(u, ["personalization", "training"], at=ahead)
    led.revoke("r", "personalization")  # now: must not raise, must take effect
    led.deny("d", "personalization")
    time.sleep(0.01)
    for u in ("r", "d"):
        assert not led.allowed(u, "personalization")
        assert led.allowed(u, "training")
        assert not led.allowed(u, "personalization", at=ahead + pd.Timedelta(minutes=1))
        assert led.explain(u)["purposes"]["personalization"]["allowed"] is False
    assert led.allowed_mask(["r", "d"], "personalization").tolist() == [False, False]
    # a grant received after the withdrawal is a new consent and takes effect
    led.grant("r", "personalization")
    assert led.allowed("r", "personalization")


def test_tombstones_catch_every_spelling_of_an_id():
    """Issue 13, finding 6: after forget, ' 1', '01', fullwidth, zero-width and NFD spellings
    were accepted as new viewers, and an NFD re-import went back in under default="allow"."""
    led = ConsentLedger(default="allow")
    led.grant(1, "training")
    led.grant("josé", "training")
    led.forget("1")
    led.forget(unicodedata.normalize("NFC", "josé"))
    spellings = [1, "1", " 1", "01", "\uff11", "1\u200b", "+1"]
    for s in spellings:
        assert led.is_forgotten(s), repr(s)
        assert not led.allowed(s, "training")
        with pytest.raises(ConsentError, match="erased"):
            led.grant(s, "training")
    nfd = unicodedata.normalize("NFD", "josé")
    assert nfd != "josé" and led.is_forgotten(nfd)
    assert led.allowed_mask(spellings + [nfd], "training").tolist() == [False] * 8
    table = pd.DataFrame({"user_id": [nfd, "2"], "action": "grant", "purpose": "training"})
    with pytest.raises(ConsentError, match="erased"):
        led.import_frame(table)
    with pytest.warns(ConsentFileWarning, match="1 row"):
        assert led.import_frame(table, on_forgotten="skip") == 1
    assert led.users() == ["2"]


def test_old_ledger_files_are_read_with_canonical_ids_and_upgraded(tmp_path):
    path = tmp_path / "old.jsonl"
    key = b"k" * 32
    from fairrec.consent.keys import key_fingerprint

    header = {
        "format": "fairrec-consent",
        "version": 1,
        "default": "deny",
        "key_check": key_fingerprint(key, b"consent"),
        "created": "2024-01-01T00:00:00+00:00",
    }
    event = {
        "seq": 1,
        "op": "grant",
        "at": "2024-01-01T00:00:00+00:00",
        "user": "007",
        "purposes": ["training"],
    }
    path.write_text(json.dumps(header) + "\n" + json.dumps(event) + "\n")
    led = ConsentLedger.load(path, key=key)
    assert led.users() == ["7"] and led.allowed(7, "training")
    lines = path.read_bytes().splitlines()
    assert json.loads(lines[0])["version"] == 2  # rewritten as format 2: checksums on every line
    assert all(_check_line(line) for line in lines)
    assert ConsentLedger.load(path, key=key).users() == ["7"]


# ------------------------------------------------------------------------------ migration


def _jsonl_ledger(folder: Path) -> Path:
    path = folder / "consent.jsonl"
    led = ConsentLedger(path=path)
    led.grant("u1", ["training", "personalization"], at="2024-01-01T00:00:00Z")
    led.exclude("u1", genres=["Horror"])
    led.grant("gone", "training")
    led.forget("gone")
    led.import_frame(
        pd.DataFrame({"user_id": ["a", "b"], "action": ["grant", "deny"], "purpose": "training"})
    )
    led.close()
    return path


def test_migrate_moves_a_file_into_a_shared_store_all_or_nothing(shared_url, tmp_path, capsys):
    url, key = shared_url
    path = _jsonl_ledger(tmp_path)
    source = ConsentLedger.load(path)
    args = ["consent", "migrate", "--from", str(path), "--to", url]
    assert cli_main(args) == 0
    assert "moved 5 events" in capsys.readouterr().out
    moved = ConsentLedger.load(url, key=Path(str(path) + ".key"))
    assert moved.users() == source.users() and moved.is_forgotten("gone")
    for u in source.users():
        assert moved.state(u).to_dict() == source.state(u).to_dict() | {
            "version": moved.state(u).version
        }
    assert moved.version == source.version
    with pytest.raises(ConsentStoreError, match="was moved to"):
        ConsentLedger.load(path)  # nobody keeps writing to the old file
    assert cli_main(args) == 0  # running it again is harmless
    moved.close()


def test_migrate_refuses_a_target_that_is_not_empty_or_an_older_copy(shared_url, tmp_path, capsys):
    url, key = shared_url
    path = _jsonl_ledger(tmp_path)
    other = ConsentLedger(store=url, key=Path(str(path) + ".key"))
    other.grant("someone-else", "training")
    other.close()
    assert cli_main(["consent", "migrate", "--from", str(path), "--to", url]) == 2
    assert "already holds 1 events" in capsys.readouterr().err
    assert ConsentLedger.load(path).users() == ["a", "b", "u1"]  # the source is unchanged


def test_migrate_resumes_after_a_crash_before_marking_and_refuses_a_stale_copy(
    tmp_path, monkeypatch, capsys
):
    from fairrec.consent import _migrate

    path = _jsonl_ledger(tmp_path)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    real = _migrate._compare

    def crash(*a, **k):
        real(*a, **k)
        raise KeyboardInterrupt  # the process dies after the copy, before the file is marked

    monkeypatch.setattr(_migrate, "_compare", crash)
    with pytest.raises(KeyboardInterrupt):
        _migrate.migrate(path, url, log=lambda *_: None)
    monkeypatch.undo()
    ConsentLedger.load(path).close()  # not marked yet: still a ledger
    done = _migrate.migrate(path, url, log=lambda *_: None)
    assert done["resumed"] and done["events"] == 5
    # a copy of an older state of the file is refused, naming the reason
    path2 = _jsonl_ledger(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path)
    url2 = f"sqlite:///{tmp_path / 'c2.db'}"
    monkeypatch.setattr(_migrate, "_compare", crash)
    with pytest.raises(KeyboardInterrupt):
        _migrate.migrate(path2, url2, log=lambda *_: None)
    monkeypatch.undo()
    ConsentLedger.load(path2).grant("late", "training")  # written after the copy
    with pytest.raises(ConsentStoreError, match="earlier state of the file"):
        _migrate.migrate(path2, url2, log=lambda *_: None)
