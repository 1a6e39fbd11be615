"""Peak memory (RSS) of ``fit`` and of ``home_batch`` for growing numbers of viewers.

Every measurement runs in a fresh child process, started under ``/usr/bin/time -v`` when it
exists. Inside the child the peak of one phase is read from ``VmHWM`` in
``/proc/self/status`` after resetting it (``echo 5 > /proc/self/clear_refs``, Linux). The
reset also resets what ``/usr/bin/time -v`` and ``getrusage`` report ("Maximum resident set
size" is then the peak *since the reset*), so the whole process's peak is the larger of that
figure and ``VmHWM`` read just before the reset; both are printed.

* ``fit``: build the synthetic catalog (``--users`` x ``--items``), fit ALS
  (``--factors``, ``--iterations``) without a consent ledger, save the model for the next step.
  Reported: the whole process's peak, and the peak of ``fit`` alone above the RSS before it.
* ``home_batch``: load the saved model, serve ``N`` viewers (``--viewers``, comma-separated)
  in chunks of ``--batch-size``. Reported: RSS before the call, after it (the returned frame
  still alive) and its peak during the call; the frame's nominal size
  (``DataFrame.memory_usage(deep=True)``, which counts shared string objects once per
  reference and so overstates it); the output as held (RSS after - before); and what the
  call needed beyond its output (peak - after): that last figure should not grow with ``N``.

Usage::

    python benchmarks/bench_memory.py                                  # 100k x 20k; 10k, 100k
    python benchmarks/bench_memory.py --viewers 10000,50000 --model-dir /tmp/m   # reuse a fit
    python benchmarks/bench_memory.py --users 20000 --items 5000 --viewers 2000,8000  # smaller
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _procmem import PROBES

_CHILD_COMMON = """
import json, os, re, resource, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
""" + PROBES

_FIT_CHILD = """
import fairrec as fr
users, items, factors, iterations, out = sys.argv[1:6]
t0 = time.perf_counter()
data = fr.datasets.synthetic(n_users=int(users), n_items=int(items), seed=0)
t_data = time.perf_counter() - t0
rss_data, hwm_data = rss_mb()
reset = reset_peak()
t0 = time.perf_counter()
rec = fr.Recommender(
    model=fr.models.ALS(factors=int(factors), iterations=int(iterations), random_state=0)
).fit(data)
t_fit = time.perf_counter() - t0
rss_fit, hwm_fit = rss_mb()
rec.save(out)
print(json.dumps({
    "events": int(data.n_events), "data_s": t_data, "fit_s": t_fit,
    "rss_before_fit_mb": rss_data, "peak_building_data_mb": hwm_data,
    "peak_during_fit_mb": hwm_fit if reset else None, "rss_after_fit_mb": rss_fit,
    "peak_reset_worked": reset,
}))
"""

_BATCH_CHILD = """
import fairrec as fr
model, n, batch_size, n_jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rec = fr.Recommender.load(model, batch_size=batch_size)
ids = rec.data_.user_ids
users = [ids[i % len(ids)] for i in range(n)]
rec.home_batch(users[:batch_size], progress=False)  # warm caches
rss_before, hwm_load = rss_mb()
reset = reset_peak()
t0 = time.perf_counter()
frame = rec.home_batch(users, n_jobs=n_jobs, progress=False)
elapsed = time.perf_counter() - t0
rss_after, peak = rss_mb()
frame_mb = frame.memory_usage(deep=True).sum() / 2**20
print(json.dumps({
    "viewers": n, "distinct_viewers": min(n, len(ids)), "seconds": elapsed,
    "pages_per_s": n / elapsed, "lines": len(frame), "frame_mb": frame_mb,
    "rss_before_mb": rss_before, "peak_during_mb": peak if reset else None,
    "rss_after_mb": rss_after, "peak_reset_worked": reset, "peak_before_call_mb": hwm_load,
}))
"""


def _run_child(code: str, *args: str) -> tuple[dict, float | None, float]:
    """Run a child; its JSON result, /usr/bin/time's max RSS (MiB) and getrusage's (MiB)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, "-c", textwrap.dedent(_CHILD_COMMON + code), *args]
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if timer:
        cmd = [timer, "-v", *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    max_rss = None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if m:
        max_rss = int(m.group(1)) / 1024
    # RUSAGE_CHILDREN is the largest child so far: meaningful when this child is the largest
    return result, max_rss, max(after, before) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--viewers", default="10000,100000")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--model-dir", help="reuse (or keep) the fitted model here")
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args()

    tmp = None
    if args.model_dir:
        model_dir = Path(args.model_dir)
    else:
        tmp = tempfile.mkdtemp(prefix="fairrec-mem-")
        model_dir = Path(tmp) / "model"
    results: dict = {"args": vars(args)}
    if not model_dir.exists():
        fit, max_rss, usage = _run_child(
            _FIT_CHILD,
            str(args.users),
            str(args.items),
            str(args.factors),
            str(args.iterations),
            str(model_dir),
        )
        fit["time_v_max_rss_mb"] = max_rss
        fit["getrusage_children_mb"] = usage
        fit["process_peak_mb"] = max(max_rss or usage, fit["peak_building_data_mb"])
        results["fit"] = fit
        print(
            f"fit: {args.users} x {args.items}, {fit['events']} events, ALS factors "
            f"{args.factors}, {args.iterations} iterations: data {fit['data_s']:.0f} s, fit "
            f"{fit['fit_s']:.0f} s\n"
            f"  whole process peak (data generation, fit, save): {fit['process_peak_mb']:.0f} "
            f"MiB (/usr/bin/time -v since the reset: {max_rss or usage:.0f} MiB)\n"
            f"  peak while building the data: {fit['peak_building_data_mb']:.0f} MiB; "
            f"RSS before fit {fit['rss_before_fit_mb']:.0f} MiB; peak during fit "
            f"{fit['peak_during_fit_mb'] or float('nan'):.0f} MiB "
            f"(fit itself: +{(fit['peak_during_fit_mb'] or 0) - fit['rss_before_fit_mb']:.0f} MiB)"
        )
    else:
        print(f"reusing the model in {model_dir}")

    rows = []
    print(
        "\n| viewers | s | pages/s | frame lines | frame deep MiB | RSS before MiB | RSS after "
        "MiB | peak during MiB | output held (after - before) MiB | beyond the output (peak - "
        "after) MiB | process max RSS MiB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in [int(x) for x in args.viewers.split(",")]:
        res, max_rss, _ = _run_child(
            _BATCH_CHILD, str(model_dir), str(n), str(args.batch_size), str(args.n_jobs)
        )
        res["time_v_max_rss_mb"] = max_rss
        res["process_max_rss_mb"] = max(max_rss or 0.0, res["peak_before_call_mb"])
        res["output_held_mb"] = res["rss_after_mb"] - res["rss_before_mb"]
        res["beyond_output_mb"] = res["peak_during_mb"] - res["rss_after_mb"]
        rows.append(res)
        print(
            f"| {n} | {res['seconds']:.0f} | {res['pages_per_s']:.0f} | {res['lines']} | "
            f"{res['frame_mb']:.0f} | {res['rss_before_mb']:.0f} | {res['rss_after_mb']:.0f} | "
            f"{res['peak_during_mb']:.0f} | {res['output_held_mb']:.0f} | "
            f"{res['beyond_output_mb']:.0f} | {res['process_max_rss_mb']:.0f} |"
        )
    results["home_batch"] = rows
    if len(rows) >= 2:  # peak - before = a + b * lines: b is what one more line of output costs
        x = [r["lines"] for r in rows]
        y = [r["peak_during_mb"] - r["rss_before_mb"] for r in rows]
        n = len(x)
        mx, my = sum(x) / n, sum(y) / n
        b = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y)) / sum((xi - mx) ** 2 for xi in x)
        a = my - b * mx
        per_line = sum(r["frame_mb"] for r in rows) / sum(x)
        results["fit_peak_vs_lines"] = {"intercept_mb": a, "mb_per_1000_lines": 1000 * b}
        print(
            f"\npeak - before = {a:.0f} MiB + {1000 * b:.3f} MiB per 1,000 output lines "
            f"(the frame's nominal size: {1000 * per_line:.3f} MiB per 1,000 lines)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
