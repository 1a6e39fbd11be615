"""Where a page's time goes: each serving stage and each row kind, per page, for single
``home()`` calls and for ``home_batch``, measured in place (the real calls, timed around).

Stages: the gate (consent snapshots, histories, exclusions, live state), the candidates
(model scores and the top ``n_candidates``), the rest of the row context, each row kind's
``build``, the assembly around the rows (checks after ranking, the ``taken`` mask, the
page score, genre diversity, row order), the page objects (``home``) or the frame
(``home_batch``), the audit line, and what is left of the call. Times are CPU time of the
calling thread (``--clock cpu``, the default: a shared machine's load barely moves it) or
wall clock; the table shows the mean per page over ``--viewers`` viewers, median of
``--repeats`` passes. The recommender has the realistic consent ledger of
``bench_home.py``.

Usage::

    python benchmarks/profile_home.py --users 30000 --items 20000 --viewers 200
    python benchmarks/profile_home.py --users 30000 --items 20000 --viewers 200 --batch 256
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_home import _ledger
from threadpoolctl import threadpool_limits

import fairrec as fr
from fairrec.serving import assembly, core, pages

#: (module, function name, stage) of every timed serving step
_STEPS = (
    (core, "request_batch", "gate"),
    (core, "candidates", "candidates"),
    (core, "row_context", "row context"),
    (assembly, "assemble", "assembly"),
    (pages, "build_page", "page objects"),
    (pages, "to_frame", "frame"),
    (pages, "audit_pages", "audit"),
)


class _Timer:
    """Adds the time spent in wrapped functions to named totals."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.total: dict[str, float] = defaultdict(float)

    def wrap(self, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = self.clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total[name] += self.clock() - t0

        return timed


def _instrument(rec: fr.Recommender, timer: _Timer) -> list[str]:
    """Time the serving steps and every row kind's ``build`` (in place, on these objects)."""
    for module, name, stage in _STEPS:
        setattr(module, name, timer.wrap(getattr(module, name), stage))
    kinds = []
    for kind in rec.fitted_state_.row_kinds_:
        label = "row: " + type(kind).__name__
        kind.build = timer.wrap(kind.build, label)  # an instance attribute: this object only
        kinds.append(label)
    return kinds


def _split(total: dict[str, float], kinds: list[str], n: int, batch: bool) -> dict[str, float]:
    """ms per page of each stage; nested stages are reported without what they contain."""
    ms = {k: v / n * 1e3 for k, v in total.items()}
    rows = sum(ms.get(k, 0.0) for k in kinds)
    out = {
        "gate": ms.get("gate", 0.0),
        "candidates": ms.get("candidates", 0.0),
        "row context (rest)": ms.get("row context", 0.0) - ms.get("candidates", 0.0),
    }
    out.update({k: ms.get(k, 0.0) for k in kinds})
    out["assembly (around the rows)"] = ms.get("assembly", 0.0) - rows
    out["frame" if batch else "page objects"] = ms.get("frame" if batch else "page objects", 0.0)
    out["audit"] = ms.get("audit", 0.0)
    outer = ("gate", "row context", "assembly", "frame" if batch else "page objects", "audit")
    out["rest of the call"] = ms["call"] - sum(ms.get(k, 0.0) for k in outer)
    out["whole call"] = ms["call"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--viewers", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--batch", type=int, default=0, help="also time home_batch of this many viewers"
    )
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    data = fr.datasets.synthetic(n_users=args.users, n_items=args.items, seed=0)
    # serving cost does not depend on the number of ALS iterations: fit quickly
    model = fr.models.ALS(factors=64, iterations=2, random_state=0)
    rec = fr.Recommender(model=model, consent=_ledger(data)).fit(data)
    threadpool_limits(1, "blas")
    rng = np.random.default_rng(1)
    users = list(rng.choice(data.user_ids, size=max(args.viewers, args.batch), replace=False))
    timer = _Timer(clock)
    kinds = _instrument(rec, timer)
    for u in users[:20]:  # warm-up
        rec.home(u)

    runs: dict[str, list[dict[str, float]]] = {"home()": [], "home_batch": []}
    for _ in range(args.repeats):
        timer.total.clear()
        t0 = clock()
        for u in users[: args.viewers]:
            rec.home(u)
        timer.total["call"] = clock() - t0
        runs["home()"].append(_split(timer.total, kinds, args.viewers, batch=False))
        if args.batch:
            timer.total.clear()
            t0 = clock()
            rec.home_batch(users[: args.batch], n_jobs=1, progress=False)
            timer.total["call"] = clock() - t0
            runs["home_batch"].append(_split(timer.total, kinds, args.batch, batch=True))
    shown = [name for name, r in runs.items() if r]
    print(
        f"{args.users:,} viewers x {args.items:,} titles; ms of {args.clock} time per page "
        f"(mean over the viewers, median of {args.repeats} passes); home_batch of "
        f"{args.batch} viewers in chunks of {rec.batch_size}, n_jobs=1\n"
    )
    print("| stage | " + " | ".join(shown) + " |")
    print("| --- |" + " --- |" * len(shown))
    stages = list(runs["home()"][0])
    if args.batch:
        stages.insert(stages.index("audit"), "frame")
    for stage in stages:
        cells = []
        for name in shown:
            values = [r[stage] for r in runs[name] if stage in r]
            cells.append(f"{statistics.median(values):.3f}" if values else "")
        print(f"| {stage} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
