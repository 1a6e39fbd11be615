"""How cost grows with the number of viewers: fit time, peak memory, ``home_batch`` pages/s.

Issue 18's cost-growth table and log-log plot. For each number of viewers in ``--scales``
(titles fixed by ``--items``, ~50 plays per viewer from ``fr.datasets.synthetic``), one fresh
child process:

1. builds the synthetic data set (not timed in the fit);
2. times ``Recommender(model=ALS(factors, iterations)).fit(data)`` (no consent ledger; wall
   clock and the process's CPU time, which a shared machine's load disturbs less) and,
   with the peak-RSS counter reset before it (``/proc/self/clear_refs``, Linux), reads the
   peak RSS during the fit (``VmHWM``), that peak less the RSS before the fit (what the fit
   itself needed, the data set excluded) and the whole process's peak;
3. samples, every 20 ms during the fit, the resident memory and the innermost fairrec /
   implicit / scipy function running, and keeps each function's resident-memory gain and
   highest RSS (where the fit's memory goes); lists where the resident memory goes after the fit: ``nbytes`` of the dataset's event
   arrays, the training matrix, its oldest-event matrix, the model's factors, the model's
   training-pair record and the rest of the fitted state's arrays;
4. times ``home_batch`` (``n_jobs=1``, one BLAS thread) on the same ``--batch-viewers``
   randomly drawn viewers at every scale (after a small warm-up batch), so pages/s shows
   how the per-page cost grows with the number of viewers.

Each scale's figures are merged into ``--results`` (JSON, keyed by viewers), so a large scale
can run on its own later and join the table; the table (with the log-log slope between
consecutive scales: 1 = linear, 0 = flat) and the plot (``--plot``) are made from every
scale in that file.

Usage::

    python benchmarks/bench_growth.py --scales 10000,100000              # CI-sized points
    python benchmarks/bench_growth.py --scales 1000000                  # the 1M point (~50M plays)
    python benchmarks/bench_growth.py --report-only                     # table + plot from JSON
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from _procmem import PROBES

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import json, os, re, sys, time
import numpy as np
""" + PROBES + r"""

def nbytes(obj):
    if obj is None:
        return 0
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if hasattr(obj, "indptr"):  # scipy CSR/CSC
        return obj.data.nbytes + obj.indices.nbytes + obj.indptr.nbytes
    return 0

import threading
from threadpoolctl import threadpool_limits
import fairrec as fr


class StageSampler(threading.Thread):
    # Every `interval` s: the resident memory and the innermost fairrec/implicit/scipy
    # function the main thread is in; keeps, per function, the highest RSS seen and the sum of
    # the RSS increases between samples taken in it (a sampling profile: it can miss a peak
    # between two samples and credit a rise to the function sampled just after it).

    def __init__(self, interval):
        super().__init__(daemon=True)
        self.interval, self.main = interval, threading.main_thread().ident
        self.peaks, self.halt = {}, threading.Event()
        self.page = os.sysconf("SC_PAGE_SIZE") / 2**20

    def where(self):
        frame = sys._current_frames().get(self.main)
        while frame is not None:
            path = frame.f_code.co_filename.replace(os.sep, "/")
            for pkg in ("/fairrec/", "/implicit/", "/scipy/"):
                if pkg in path:
                    tail = path.split(pkg, 1)[1]
                    return f"{pkg.strip('/')}/{tail}:{frame.f_code.co_name}"
            frame = frame.f_back
        return "(other)"

    def run(self):
        last = None
        with open("/proc/self/statm") as fh:
            while not self.halt.wait(self.interval):
                fh.seek(0)
                rss = int(fh.read().split()[1]) * self.page
                key = self.where()
                peak, grew = self.peaks.get(key, (0.0, 0.0))
                grew += max(rss - last, 0.0) if last is not None else 0.0
                self.peaks[key] = (max(peak, rss), grew)
                last = rss

    def stop(self):
        self.halt.set()
        self.join()

users, items, factors, iterations, batch, seed = map(int, sys.argv[1:7])
t0 = time.perf_counter()
data = fr.datasets.synthetic(n_users=users, n_items=items, seed=0)
t_data = time.perf_counter() - t0
rss_data, peak_data = rss_mb()
reset = reset_peak()
sampler = StageSampler(interval=0.02)
sampler.start()
t0, c0 = time.perf_counter(), time.process_time()
rec = fr.Recommender(
    model=fr.models.ALS(factors=factors, iterations=iterations, random_state=0)
).fit(data)
t_fit, c_fit = time.perf_counter() - t0, time.process_time() - c0
sampler.stop()
rss_fit, peak_fit = rss_mb()

# where the resident memory goes once fitted
f = rec.fitted_state_
model = rec.model_
events = {
    name: nbytes(getattr(data, name, None))
    for name in ("users", "items", "weights", "timestamps", "ratings")
}
parts = {
    "dataset events": sum(events.values()),
    "training matrix": nbytes(f.train_matrix_),
    "oldest-event matrix": nbytes(f.train_oldest_),
    "user factors": nbytes(model.model_.user_factors),
    "item factors": nbytes(model.model_.item_factors),
    "training-pair record": nbytes(getattr(getattr(model, "training_pairs_", None), "keys", None)),
}
counted = {id(getattr(f, k)) for k in ("train_matrix_", "train_oldest_")}
parts["other fitted arrays"] = sum(
    nbytes(v) for k, v in vars(f).items() if id(v) not in counted and k != "data_"
)

threadpool_limits(1, "blas")
rng = np.random.default_rng(seed)
viewers = list(rng.choice(data.user_ids, size=min(batch, data.n_users), replace=False))
rec.home_batch(viewers[:64], n_jobs=1, progress=False)  # warm-up
t0, c0 = time.perf_counter(), time.process_time()
frame = rec.home_batch(viewers, n_jobs=1, progress=False)
t_batch, c_batch = time.perf_counter() - t0, time.process_time() - c0
rss_end, peak_end = rss_mb()
print(json.dumps({
    "viewers": users, "titles": items, "events": int(data.n_events),
    "training_nnz": int(f.train_matrix_.nnz), "factors": factors, "iterations": iterations,
    "data_s": t_data, "fit_s": t_fit, "fit_cpu_s": c_fit, "batch_cpu_s": c_batch,
    "rss_before_fit_mb": rss_data, "peak_building_data_mb": peak_data,
    "peak_during_fit_mb": peak_fit if reset else None, "rss_after_fit_mb": rss_fit,
    "peak_process_mb": max(peak_data, peak_fit, peak_end),
    "resident_parts_mb": {k: v / 2**20 for k, v in parts.items()},
    "batch_viewers": len(viewers), "batch_s": t_batch,
    "pages_per_s": len(viewers) / t_batch, "batch_lines": len(frame),
    "python": sys.version.split()[0], "cpus": os.cpu_count(),
    "fit_rss_by_function_mb": dict(sorted(sampler.peaks.items(), key=lambda kv: -kv[1][1])[:10]),
}))
"""


def run_scale(users: int, args: argparse.Namespace) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-c",
        textwrap.dedent(_CHILD),
        *map(
            str,
            (users, args.items, args.factors, args.iterations, args.batch_viewers, args.seed),
        ),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{users} viewers: child failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _slope(a: float, b: float, xa: float, xb: float) -> float:
    return math.log(b / a) / math.log(xb / xa)


def _own(r: dict) -> float:
    """Peak RSS during the fit above the RSS before it (MiB): what the fit itself needed."""
    return max(r["peak_during_fit_mb"] - r["rss_before_fit_mb"], 1.0)


def _cpu_page(r: dict) -> float:
    """CPU seconds per page of the timed ``home_batch``."""
    return r["batch_cpu_s"] / r["batch_viewers"]


def report(results: dict[str, dict], plot: Path | None) -> None:
    rows = sorted(results.values(), key=lambda r: r["viewers"])
    print(
        "| viewers | plays | fit (s) | fit CPU (s) | peak RSS during fit (MiB) | "
        "fit's own peak (MiB) | process peak (MiB) | home_batch pages/s (n_jobs=1) | "
        "pages per CPU-s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['viewers']:,} | {r['events']:,} | {r['fit_s']:.1f} | {r['fit_cpu_s']:.1f} | "
            f"{r['peak_during_fit_mb']:,.0f} | "
            f"{_own(r):,.0f} | {r['peak_process_mb']:,.0f} | "
            f"{r['pages_per_s']:.0f} | {r['batch_viewers'] / r['batch_cpu_s']:.0f} |"
        )
    if len(rows) > 1:
        print("\nlog-log slope between consecutive scales (1: linear in viewers, 0: flat)\n")
        print(
            "| from -> to | fit time | fit CPU time | fit's own peak | seconds per page | "
            "CPU seconds per page |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for a, b in zip(rows, rows[1:]):
            xa, xb = a["viewers"], b["viewers"]
            print(
                f"| {xa:,} -> {xb:,} | {_slope(a['fit_s'], b['fit_s'], xa, xb):.2f} | "
                f"{_slope(a['fit_cpu_s'], b['fit_cpu_s'], xa, xb):.2f} | "
                f"{_slope(_own(a), _own(b), xa, xb):.2f} | "
                f"{_slope(1 / a['pages_per_s'], 1 / b['pages_per_s'], xa, xb):.2f} | "
                f"{_slope(_cpu_page(a), _cpu_page(b), xa, xb):.2f} |"
            )
    big = rows[-1]
    print(f"\nresident after the fit, {big['viewers']:,} viewers (MiB):\n")
    print("| part | MiB |\n| --- | --- |")
    for k, v in sorted(big["resident_parts_mb"].items(), key=lambda kv: -kv[1]):
        print(f"| {k} | {v:,.0f} |")
    print(f"| process RSS after the fit | {big['rss_after_fit_mb']:,.0f} |")
    stages = big.get("fit_rss_by_function_mb")
    if stages:
        print(
            f"\nwhere the fit's memory goes, {big['viewers']:,} viewers: resident memory gained "
            "while the fit was inside each function, and the highest resident memory seen there "
            f"(sampled every 20 ms; RSS before the fit {big['rss_before_fit_mb']:,.0f} MiB)\n"
        )
        print("| innermost fairrec / implicit / scipy function | RSS gained (MiB) | peak RSS (MiB) |")
        print("| --- | --- | --- |")
        for k, (peak, grew) in stages.items():
            print(f"| `{k}` | {grew:,.0f} | {peak:,.0f} |")
    if plot is None:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - the plot extra is not installed
        print("matplotlib is not installed: no plot (pip install fairrec[plot])")
        return
    x = [r["viewers"] for r in rows]
    series = {
        "fit time (s)": [r["fit_s"] for r in rows],
        "fit CPU time (s)": [r["fit_cpu_s"] for r in rows],
        "fit's own peak RSS (GiB)": [_own(r) / 1024 for r in rows],
        "ms per page, home_batch n_jobs=1": [1e3 / r["pages_per_s"] for r in rows],
        "CPU ms per page": [1e3 * _cpu_page(r) for r in rows],
    }
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for (label, y), marker in zip(series.items(), "o^sdv"):
        ax.plot(x, y, marker=marker, label=label)
    # a linear-growth guide through the first fit-time point
    ax.plot(x, [series["fit time (s)"][0] * v / x[0] for v in x], "k:", lw=1, label="linear")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"viewers ({rows[0]['titles']:,} titles, ~50 plays each)")
    ax.set_title("fairrec cost growth (log-log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(plot, dpi=110)
    print(f"\nplot written to {plot}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", default="10000,100000", help="viewers, comma-separated")
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--batch-viewers", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results", type=Path, default=HERE / "results" / "growth.json")
    ap.add_argument("--plot", type=Path, default=HERE / "results" / "growth.png")
    ap.add_argument("--report-only", action="store_true", help="table + plot from --results")
    args = ap.parse_args()

    results: dict[str, dict] = {}
    if args.results.exists():
        results = json.loads(args.results.read_text())
    if not args.report_only:
        for users in (int(s) for s in args.scales.split(",") if s.strip()):
            r = run_scale(users, args)
            print(
                f"{users:,} viewers: fit {r['fit_s']:.1f} s, peak {r['peak_during_fit_mb']:,.0f} "
                f"MiB, {r['pages_per_s']:.0f} pages/s",
                flush=True,
            )
            # re-read before writing: another run (another scale) may have written meanwhile
            if args.results.exists():
                results = json.loads(args.results.read_text())
            results[str(users)] = r
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if results:
        report(results, args.plot)


if __name__ == "__main__":
    main()
