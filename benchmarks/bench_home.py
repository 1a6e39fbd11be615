"""Home-page serving speed on the synthetic 100k x 20k catalog, and what consent costs.

- ``home()``: p50 / p99 latency of a default page (6+ rows x 20 titles from 1,000
  candidates) on one thread, over ``--viewers`` distinct viewers, repeated ``--repeats`` times
  (medians of the per-repeat percentiles are printed).
- ``home_batch()``: pages per second with ``n_jobs`` 1 and 2.
- BLAS is limited to ``--blas-threads`` (default 1) while serving, the configuration the README
  recommends for services: OpenBLAS threads waking for a 1 x 64 x 20,000 product cost more
  than the product itself.
- consent gate: median page latency with a realistic ledger (default deny, grants, 30 % with
  exclusions, 20 % with stated interests) over the same recommender with no ledger
  (``consent=None``: every purpose allowed, nothing excluded), same viewers, same run.

Usage::

    python benchmarks/bench_home.py --users 100000 --items 20000 --viewers 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fairrec as fr


def _latencies(rec: fr.Recommender, users: list) -> np.ndarray:
    out = np.empty(len(users))
    for i, u in enumerate(users):
        t0 = time.perf_counter()
        rec.home(u)
        out[i] = time.perf_counter() - t0
    return out * 1e3


def _ledger(data: fr.Dataset, seed: int = 0) -> fr.ConsentLedger:
    rng = np.random.default_rng(seed)
    ledger = fr.ConsentLedger(default="deny")
    genres = data.genre_names
    ids = [str(u) for u in data.user_ids]
    draws = rng.random((len(ids), 3))
    for u, (a, b, c) in zip(ids, draws):
        purposes = ["training", "personalization"] + (["stated_interests"] if c < 0.2 else [])
        ledger.grant(u, purposes)
        if a < 0.3:
            ledger.exclude(u, genres=[genres[int(b * len(genres))]])
        if c < 0.2:
            ledger.state_interests(u, genres=[genres[int(a * len(genres))]])
    return ledger


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--viewers", type=int, default=1_000)
    ap.add_argument("--batch-viewers", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads while serving (1: the recommended serving setup)",
    )
    args = ap.parse_args()

    t0 = time.perf_counter()
    data = fr.datasets.synthetic(n_users=args.users, n_items=args.items, seed=0)
    print(f"{data} built in {time.perf_counter() - t0:.1f} s")
    model = fr.models.ALS(factors=64, iterations=args.iterations, random_state=0)
    t0 = time.perf_counter()
    ledger = _ledger(data)
    print(f"ledger of {len(ledger)} viewers built in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    gated = fr.Recommender(model=model, consent=ledger).fit(data)
    print(f"fit in {time.perf_counter() - t0:.1f} s")
    # same fitted model, no ledger: nothing to enforce
    open_rec = fr.Recommender(model=gated.model_)
    open_rec._install(
        model=gated.model_,
        data=data,
        consent=fr.ConsentLedger(default="allow"),
        train=gated.train_matrix_,
        train_user_ids=gated.train_user_ids_,
        fitted_at=gated.fitted_at_,
    )

    # serving: one BLAS thread per request thread (parallelism comes from n_jobs/threads)
    threadpool_limits(args.blas_threads, "blas")
    rng = np.random.default_rng(1)
    users = list(rng.choice(data.user_ids, size=args.viewers, replace=False))
    for u in users[:20]:
        gated.home(u)
        open_rec.home(u)
    page = gated.home(users[0])
    print(
        f"default page: {len(page.rows)} rows, {len(page.items)} titles, "
        f"{gated.n_candidates} candidates"
    )

    p50, p99, ratio = [], [], []
    for r in range(args.repeats):
        lat = _latencies(gated, users)
        base = _latencies(open_rec, users)
        p50.append(np.percentile(lat, 50))
        p99.append(np.percentile(lat, 99))
        ratio.append(np.median(lat) / np.median(base))
        print(
            f"repeat {r}: home p50 {p50[-1]:.2f} ms, p99 {p99[-1]:.2f} ms; "
            f"no-ledger p50 {np.median(base):.2f} ms; ratio {ratio[-1]:.3f}"
        )
    print("\n| measure | median over repeats |")
    print("| --- | --- |")
    print(f"| home() p50 (ms) | {statistics.median(p50):.2f} |")
    print(f"| home() p99 (ms) | {statistics.median(p99):.2f} |")
    print(f"| consent ledger / no ledger, median latency | {statistics.median(ratio):.3f} |")

    batch_users = list(rng.choice(data.user_ids, size=args.batch_viewers, replace=False))
    for n_jobs in (1, 2):
        rates = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            frame = gated.home_batch(batch_users, n_jobs=n_jobs, progress=False)
            rates.append(len(batch_users) / (time.perf_counter() - t0))
        print(
            f"| home_batch n_jobs={n_jobs} (pages/s) | {statistics.median(rates):.0f} |"
            f"  ({len(frame)} lines)"
        )


if __name__ == "__main__":
    main()
