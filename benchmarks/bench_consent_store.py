"""Consent stores: write throughput, propagation delay between processes, home() overhead.

For each store -- in memory, JSON-lines file, SQLite (WAL; ``synchronous=FULL``, the default,
and ``NORMAL``), PostgreSQL -- this measures:

1. **throughput**: grant / revoke events per second written by one process (each event one
   transaction: lock, catch up, validate, append, commit);
2. **propagation delay** (SQLite and PostgreSQL): a second *process* follows the store
   (default ``poll_interval=0.1``); this process writes events at random moments and the
   follower reports when each became visible in its ledger (``ledger.version``). Both
   processes read the same host clock; p50 / p99 over ``--events-delay`` events;
3. **home() p50** of one recommender whose ledger is on that store vs the same recommender on
   the in-memory ledger (rounds alternate between the two; ratio of medians; goal <= 1.15).

PostgreSQL: ``--postgres URL`` (an empty database), else a throwaway server is started with
the test helper (``tests/consent_stores.py``: initdb + pg_ctl, fsync on) when the PostgreSQL
binaries are installed; otherwise it is skipped and said so.

Usage::

    python benchmarks/bench_consent_store.py            # the figures in RESULTS.md
    python benchmarks/bench_consent_store.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import fairrec as fr  # noqa: E402
from fairrec.consent import ConsentLedger  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = b"bench-key-0123456789abcdef"


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def throughput(make, n: int) -> float:
    led = make()
    users = [f"t{i}" for i in range(50)]
    t0 = time.perf_counter()
    for i in range(n):
        u = users[i % 50]
        if i % 100 < 50:
            led.grant(u, ["personalization", "training"])
        else:
            led.revoke(u, "personalization") if i % 2 else led.grant(u, "training")
    dt = time.perf_counter() - t0
    led.close()
    return n / dt


_FOLLOWER = """
    import sys, time
    from fairrec.consent import ConsentLedger
    url, key, n = sys.argv[1], eval(sys.argv[2]), int(sys.argv[3])
    led = ConsentLedger.load(url, key=key)
    print("ready", led.version, flush=True)
    seen = led.version
    while True:
        v = led.version
        if v != seen:
            now = time.time()
            for k in range(seen + 1, v + 1):
                print("seen", k, repr(now), flush=True)
            seen = v
            if seen >= n:
                break
        time.sleep(0.0005)
"""


def propagation(url: str, key: bytes | None, n: int) -> tuple[float, float]:
    writer = ConsentLedger.load(url, key=key, follow=False)
    base = writer.version
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_FOLLOWER), url, repr(key), str(base + n)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stdout.readline()
    assert line.startswith("ready"), line
    rng = np.random.default_rng(0)
    committed: dict[int, float] = {}
    for i in range(n):
        time.sleep(float(rng.uniform(0.02, 0.06)))
        writer.grant(f"p{i % 20}", "personalization") if i % 2 == 0 else writer.deny(
            f"p{i % 20}", "personalization"
        )
        committed[writer.version] = time.time()
    seen: dict[int, float] = {}
    for line in proc.stdout:
        parts = line.split()
        if parts and parts[0] == "seen":
            seen[int(parts[1])] = float(parts[2])
    proc.wait(timeout=30)
    writer.close()
    delays = [seen[k] - committed[k] for k in committed if k in seen]
    assert len(delays) == n, (len(delays), n)
    return _pct(delays, 50) * 1000, _pct(delays, 99) * 1000


def home_ratio(ledgers: dict[str, ConsentLedger], data, calls: int, rounds: int) -> dict:
    model = fr.models.ALS(factors=32, iterations=4, random_state=0)
    base = fr.Recommender(model=model, consent=ledgers["memory"], row_size=20).fit(data)
    recs = {}
    for name, led in ledgers.items():
        recs[name] = fr.Recommender.from_fitted(
            base.model_, data, train_user_ids=base.train_user_ids_, consent=led, row_size=20
        )
    rng = np.random.default_rng(1)
    viewers = [data.user_ids[i] for i in rng.integers(0, data.n_users, calls)]
    for rec in recs.values():  # warm up
        for u in viewers[:50]:
            rec.home(u)
    times: dict[str, list[float]] = {name: [] for name in recs}
    names = list(recs)
    for r in range(rounds):
        for i, u in enumerate(viewers):  # every viewer on every store, in rotating order
            k = (i + r) % len(names)
            for name in names[k:] + names[:k]:
                t0 = time.perf_counter()
                recs[name].home(u)
                times[name].append(time.perf_counter() - t0)
    p50 = {name: statistics.median(v) * 1000 for name, v in times.items()}
    return {name: (p50[name], p50[name] / p50["memory"]) for name in recs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--postgres", help="URL of an empty PostgreSQL database")
    ap.add_argument("--events", type=int, default=2000, help="events per store (throughput)")
    ap.add_argument("--events-delay", type=int, default=200, help="events timed (propagation)")
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument(
        "--calls", type=int, default=400, help="viewers per round (each served by every store)"
    )
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.quick:
        args.events, args.events_delay, args.users, args.items = 200, 30, 500, 300
        args.calls, args.rounds = 50, 2
    tmp = Path(tempfile.mkdtemp(prefix="fairrec-bench-consent-"))
    server = None
    pg_url = args.postgres
    pg_note = ""
    if pg_url is None:
        try:
            sys.path.insert(0, str(ROOT / "tests"))
            import pytest  # noqa: F401  (the helper skips through pytest)

            from consent_stores import PgServer

            class _Durable(PgServer):
                def start(self) -> None:  # fsync on, like a real server
                    opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
                    self._run(
                        "pg_ctl",
                        "-D",
                        str(self.data),
                        "-l",
                        str(self.root / "log"),
                        "-o",
                        opts,
                        "-w",
                        "start",
                    )

            server = _Durable()
            pg_url = server.new_database()
            pg_note = "local throwaway server (fsync on)"
        except BaseException as exc:  # noqa: BLE001 - pytest.skip raises BaseException
            print(f"PostgreSQL skipped: {exc}")
    else:
        pg_note = "given URL"
    stores = {
        "memory": (lambda: ConsentLedger(), None),
        "jsonl": (lambda: ConsentLedger(store=str(tmp / f"t{time.time_ns()}.jsonl")), None),
        "sqlite FULL": (
            lambda: ConsentLedger(store=f"sqlite:///{tmp}/t{time.time_ns()}.db", follow=False),
            None,
        ),
        "sqlite NORMAL": (
            lambda: ConsentLedger(
                store=f"sqlite:///{tmp}/t{time.time_ns()}.db?synchronous=NORMAL", follow=False
            ),
            None,
        ),
    }
    if pg_url:
        stores["postgres"] = (lambda: ConsentLedger(store=pg_url, key=KEY, follow=False), KEY)
    print(f"throughput: {args.events} grant/revoke events per store, one process")
    rates = {}
    for name, (make, _) in stores.items():
        rates[name] = throughput(make, args.events)
        print(f"  {name:14s} {rates[name]:10.0f} events/s")

    print(
        f"propagation: {args.events_delay} events, writer process -> follower process "
        f"(poll_interval 0.1 s, max_staleness 1.0 s)"
    )
    delay_urls = {"sqlite FULL": (f"sqlite:///{tmp}/prop.db", None)}
    if pg_url:
        delay_urls["postgres"] = (pg_url, KEY)
    delays = {}
    for name, (url, key) in delay_urls.items():
        ConsentLedger(store=url, key=key, follow=False).close()
        delays[name] = propagation(url, key, args.events_delay)
        print(f"  {name:14s} p50 {delays[name][0]:6.1f} ms  p99 {delays[name][1]:6.1f} ms")

    print(
        f"home() p50: {args.users} viewers x {args.items} titles, ALS 32 factors, "
        f"{args.rounds} rounds x {args.calls} calls per store, alternating"
    )
    data = fr.datasets.synthetic(n_users=args.users, n_items=args.items, seed=0)
    ids = [str(u) for u in data.user_ids]
    table = pd.DataFrame(
        {
            "user_id": ids * 2,
            "action": "grant",
            "purpose": ["training"] * len(ids) + ["personalization"] * len(ids),
        }
    )
    ledgers = {"memory": ConsentLedger()}
    ledgers["jsonl"] = ConsentLedger(store=str(tmp / "home.jsonl"))
    ledgers["sqlite"] = ConsentLedger(store=f"sqlite:///{tmp}/home.db")
    if pg_url:
        if server is not None:
            pg_home = server.new_database()
        else:
            pg_home = pg_url
        ledgers["postgres"] = ConsentLedger(store=pg_home, key=KEY)
    for led in ledgers.values():
        led.import_frame(table)
    result = home_ratio(ledgers, data, args.calls, args.rounds)
    for name, (p50, ratio) in result.items():
        print(f"  {name:14s} p50 {p50:6.3f} ms  ratio vs memory {ratio:5.3f}")
    for led in ledgers.values():
        led.close()
    if server is not None:
        server.close()
    print(f"PostgreSQL: {pg_note or 'not measured'}")


if __name__ == "__main__":
    main()
