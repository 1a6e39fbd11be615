"""Batch home pages on Spark (local mode) against ``Recommender.home_batch`` on the same machine.

One synthetic catalog, one realistic consent ledger (default deny; every viewer grants
training and personalization, 30 % exclude a genre, 20 % also grant stated interests and
state one), one ALS recommender fitted locally with ``implicit``. Then, for every viewer:

- ``home_batch``: ``rec.home_batch(viewers, n_jobs=N)`` in slices of ``--slice`` viewers (the
  frames are dropped; slicing only bounds memory), pages per second;
- ``home_pages``: ``fairrec.spark.home_pages(viewers_df, rec)`` on ``local[N]``, written to
  Spark's ``noop`` sink (every page is built and converted to Spark rows, nothing is
  collected). The time includes the driver side (consent table, model files, broadcast), the
  join and the rebuild of the model in each Python worker: everything a batch job pays.
- optionally (``--fit``) the training time of ``fit_als`` (MLlib) against ``implicit``.

Both sides use N cores and one BLAS thread per worker. Medians over ``--repeats``.

Usage::

    python benchmarks/bench_spark.py --viewers 100000 --items 10000 --repeats 3 --check
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import fairrec as fr  # noqa: E402

NOW = pd.Timestamp("2026-01-01")


def _ledger(data: fr.Dataset, seed: int = 0) -> fr.ConsentLedger:
    """The consent mix of bench_home.py: realistic details on a default-deny ledger."""
    rng = np.random.default_rng(seed)
    ledger = fr.ConsentLedger(default="deny")
    genres = data.genre_names
    draws = rng.random((data.n_users, 3))
    for u, (a, b, c) in zip((str(u) for u in data.user_ids), draws):
        purposes = ["training", "personalization"] + (["stated_interests"] if c < 0.2 else [])
        ledger.grant(u, purposes, at="2025-01-01")
        if a < 0.3:
            ledger.exclude(u, genres=[genres[int(b * len(genres))]], at="2025-01-01")
        if c < 0.2:
            ledger.state_interests(u, genres=[genres[int(a * len(genres))]], at="2025-01-01")
    return ledger


def _session(master: str, partitions: int) -> object:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(master)
        .appName("fairrec-bench-spark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--viewers", type=int, default=100_000, help="synthetic viewers (all paged)")
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--cores", type=int, default=2, help="local[N] and home_batch n_jobs")
    ap.add_argument("--partitions", type=int, default=None, help="home_pages partitions")
    ap.add_argument("--slice", type=int, default=10_000, help="viewers per home_batch call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--fit", action="store_true", help="also time fit_als against implicit")
    ap.add_argument("--check", action="store_true", help="count Spark's page lines (one more run)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated")

    t0 = time.perf_counter()
    data = fr.datasets.synthetic(n_users=args.viewers, n_items=args.items, seed=0)
    print(f"{data} built in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    ledger = _ledger(data)
    print(f"ledger of {len(ledger)} viewers built in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    model = fr.models.ALS(factors=64, iterations=args.iterations, random_state=0)
    rec = fr.Recommender(model=model, consent=ledger).fit(data, now=NOW)
    fit_local = time.perf_counter() - t0
    print(f"implicit ALS fit in {fit_local:.1f} s")
    viewers = data.user_ids.tolist()

    # ---------------------------------------------------------------- home_batch
    local_rates, lines = [], 0
    for r in range(args.repeats):
        t0 = time.perf_counter()
        lines = 0
        for start in range(0, len(viewers), args.slice):
            chunk = viewers[start : start + args.slice]
            lines += len(rec.home_batch(chunk, now=NOW, n_jobs=args.cores, progress=False))
        dt = time.perf_counter() - t0
        local_rates.append(len(viewers) / dt)
        print(f"repeat {r}: home_batch {dt:.1f} s, {local_rates[-1]:.0f} pages/s, {lines} lines")

    # ---------------------------------------------------------------- home_pages
    from fairrec.spark import fit_als, home_pages

    partitions = args.partitions or 2 * args.cores
    t0 = time.perf_counter()
    spark = _session(f"local[{args.cores}]", partitions)
    print(f"Spark {spark.version} session in {time.perf_counter() - t0:.1f} s")
    sdf = spark.createDataFrame(pd.DataFrame({"user_id": pd.Series(viewers, dtype=object)}))
    sdf = sdf.cache()
    sdf.count()
    spark_rates, prep = [], []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        pages = home_pages(sdf, rec, now=NOW, partitions=partitions)
        t1 = time.perf_counter()
        pages.write.format("noop").mode("overwrite").save()
        dt = time.perf_counter() - t0
        spark_rates.append(len(viewers) / dt)
        prep.append(t1 - t0)
        print(
            f"repeat {r}: home_pages {dt:.1f} s (driver side {t1 - t0:.1f} s), "
            f"{spark_rates[-1]:.0f} pages/s"
        )
    if args.check:
        spark_lines = home_pages(sdf, rec, now=NOW, partitions=partitions).count()
        assert spark_lines == lines, (spark_lines, lines)
        print(f"line counts agree: {lines} page lines from both")

    model_bytes = _model_size(rec)
    print(f"\nmodel files broadcast: {model_bytes / 2**20:.0f} MiB; {lines} page lines")
    print("\n| measure | median over repeats |")
    print("| --- | --- |")
    print(f"| home_batch n_jobs={args.cores} (pages/s) | {statistics.median(local_rates):.0f} |")
    print(
        f"| home_pages local[{args.cores}], {partitions} partitions (pages/s) | "
        f"{statistics.median(spark_rates):.0f} |"
    )
    print(f"| home_pages driver side (s) | {statistics.median(prep):.1f} |")
    ratio = statistics.median(spark_rates) / statistics.median(local_rates)
    print(f"| home_pages / home_batch | {ratio:.2f} |")

    if args.fit:
        frame = data.to_frame()
        events = spark.createDataFrame(frame).cache()
        events.count()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fit_als(
                events,
                ledger,
                data=data,
                time_col="timestamp",
                now=NOW,
                factors=64,
                iterations=args.iterations,
                num_blocks=2 * args.cores,
            )
            times.append(time.perf_counter() - t0)
            print(f"fit_als {times[-1]:.1f} s")
        print(f"| implicit ALS fit (s, once) | {fit_local:.1f} |")
        print(f"| fit_als local[{args.cores}] (s) | {statistics.median(times):.1f} |")
    spark.stop()


def _model_size(rec: fr.Recommender) -> int:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        rec.save(Path(tmp) / "m")
        return sum(p.stat().st_size for p in (Path(tmp) / "m").iterdir())


if __name__ == "__main__":
    main()
