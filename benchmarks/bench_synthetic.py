"""Time and measure the memory of ``fairrec.datasets.synthetic`` at streaming scale.

Usage::

    python benchmarks/bench_synthetic.py [--users 100000] [--items 20000]
                                         [--mean-plays 50] [--repeats 3]

Each run happens in a fresh subprocess, so that its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, interpreter and imports included) is its
own. Prints every run, the median wall time of ``synthetic(...)``, the largest peak RSS,
the number of events, the share of plays drawn by the top 20 % of titles and the time of
``Dataset.to_csr()`` on the result. Exits with status 1 if the median time exceeds
``--max-seconds`` (60) or the peak RSS exceeds ``--max-gb`` (4).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys


def child(users: int, items: int, mean_plays: float, seed: int) -> None:
    import resource
    import time

    import numpy as np

    from fairrec.datasets import synthetic

    start = time.perf_counter()
    data = synthetic(users, items, seed=seed, mean_plays=mean_plays)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    data.to_csr()
    csr_seconds = time.perf_counter() - start
    pop = np.sort(data.catalog["popularity"].to_numpy())[::-1]
    head = float(pop[: max(1, len(pop) // 5)].sum() / pop.sum())
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    if sys.platform == "darwin":  # bytes on macOS
        rss_kib //= 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "csr_seconds": csr_seconds,
                "rss_gib": rss_kib / 2**20,
                "events": data.n_events,
                "head_share": head,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--mean-plays", type=float, default=50.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--max-gb", type=float, default=4.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.users, args.items, args.mean_plays, args.seed)
        return 0

    cmd = [
        sys.executable,
        __file__,
        "--child",
        f"--users={args.users}",
        f"--items={args.items}",
        f"--mean-plays={args.mean_plays}",
        f"--seed={args.seed}",
    ]
    runs = []
    print(
        f"synthetic({args.users:,}, {args.items:,}, mean_plays={args.mean_plays:g}), "
        f"{args.repeats} runs, one subprocess each"
    )
    for k in range(args.repeats):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        runs.append(run)
        print(
            f"  run {k + 1}: {run['seconds']:6.2f} s, peak RSS {run['rss_gib']:.2f} GiB, "
            f"{run['events']:,} events, head share {run['head_share']:.3f}, "
            f"to_csr {run['csr_seconds']:.2f} s"
        )
    median = statistics.median(r["seconds"] for r in runs)
    peak = max(r["rss_gib"] for r in runs)
    print(f"median time {median:.2f} s (limit {args.max_seconds:g} s)")
    print(f"peak RSS    {peak:.2f} GiB (limit {args.max_gb:g} GB)")
    ok = median < args.max_seconds and peak * 2**30 < args.max_gb * 1e9
    print("OK" if ok else "OVER THE LIMIT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
