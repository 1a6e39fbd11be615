"""Where one ``home()`` goes: median time of each serving stage and of each row kind.

- stages of ``home()`` (consent snapshot, gate, candidates, rows + assembly, page objects),
  medians over ``--viewers`` viewers;
- each row kind's ``build`` inside those real pages (each row sees the titles the rows
  above it placed), median per page; with ``--batch N`` also per page of one ``home_batch``
  chunk of ``N`` viewers (the same row kinds on ``(N, ...)`` arrays), total / N.
- ``--clock cpu``: the calling thread's CPU time instead of wall clock (a shared machine).

Usage::

    python benchmarks/profile_home.py --users 100000 --items 20000 --viewers 300
    python benchmarks/profile_home.py --users 30000 --viewers 200 --batch 256 --clock cpu
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

import fairrec as fr
from fairrec.serving.assembly import assemble
from fairrec.serving.core import consent_states, request_batch, row_context
from fairrec.serving.gate import serving_batch
from fairrec.serving.pages import build_page


def _timed_kinds(kinds: list, clock, acc: dict) -> list:
    """Wrappers of the row kinds whose ``build`` adds its time to ``acc[name]``."""

    class Timed:
        def __init__(self, kind) -> None:
            self.kind = kind

        def may_apply(self, ctx):
            return self.kind.may_apply(ctx)

        @property
        def value_bonus(self):
            return self.kind.value_bonus

        @property
        def personal(self):
            return self.kind.personal

        def build(self, ctx, taken):
            t0 = clock()
            out = self.kind.build(ctx, taken)
            acc[type(self.kind).__name__].append(clock() - t0)
            return out

        def __getattr__(self, name):
            return getattr(self.kind, name)

    return [Timed(k) for k in kinds]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--viewers", type=int, default=300)
    ap.add_argument("--batch", type=int, default=0, help="also split one batch of N viewers")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = ap.parse_args()
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    threadpool_limits(1, "blas")
    data = fr.datasets.synthetic(n_users=args.users, n_items=args.items, seed=0)
    # serving cost does not depend on the number of ALS iterations: fit quickly
    rec = fr.Recommender(model=fr.models.ALS(factors=64, iterations=2)).fit(data)
    f = rec.fitted_state_
    stages = {
        k: [] for k in ("consent snapshot", "gate", "candidates", "rows + assembly", "page objects")
    }
    per_kind: dict[str, list[float]] = defaultdict(list)
    timed = _timed_kinds(f.row_kinds_, clock, per_kind)
    for u in list(data.user_ids[: args.viewers]):
        now = rec._now()
        t0 = clock()
        states = consent_states(rec, [u], f)
        t1 = clock()
        batch = serving_batch(
            [u], states, data=f.data_, catalog=f.catalog_, now=now, retention_days=None
        )
        t2 = clock()
        ctx = row_context(rec, batch, f)
        t3 = clock()
        pages = assemble(ctx, timed, min_items=10, max_rows=8)
        t4 = clock()
        build_page(f, 0, batch, pages, now)
        t5 = clock()
        for key, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            stages[key].append(dt)
    print(f"clock: {args.clock}; {args.users} viewers x {args.items} titles\n")
    print("| stage (one home()) | median ms |\n| --- | --- |")
    for key, values in stages.items():
        print(f"| {key} | {np.median(values) * 1e3:.3f} |")
    batch_kind: dict[str, list[float]] = defaultdict(list)
    if args.batch:
        users = list(data.user_ids[args.viewers : args.viewers + args.batch])
        b = request_batch(rec, users, rec._now(), f)
        ctx = row_context(rec, b, f)
        t0 = clock()
        assemble(ctx, _timed_kinds(f.row_kinds_, clock, batch_kind), min_items=10, max_rows=8)
        total = clock() - t0
    head = "| row kind | median ms per home() |"
    line = "| --- | --- |"
    if args.batch:
        head += f" ms per page, batch of {args.batch} |"
        line += " --- |"
    print(f"\n{head}\n{line}")
    for name, values in per_kind.items():
        # a kind building several rows is called once per page; sum within a page
        cell = f"| {name} | {np.median(values) * 1e3:.3f} |"
        if args.batch:
            cell += f" {sum(batch_kind.get(name, [0.0])) / args.batch * 1e3:.3f} |"
        print(cell)
    if args.batch:
        own = total - sum(sum(v) for v in batch_kind.values())
        print(f"| (assembly itself) | | {own / args.batch * 1e3:.3f} |")


if __name__ == "__main__":
    main()
