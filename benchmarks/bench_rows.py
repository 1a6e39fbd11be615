"""CPU cost of each row kind of the default page, per page, for one viewer and in a batch.

Each row kind's ``build`` is timed (thread CPU time) on the contexts ``home()`` and
``home_batch()`` build (``fairrec.serving.core.request_batch`` + ``row_context``), in page
order, each row seeing the titles the rows above it placed (``mark_taken``) -- the work a
page does, without the serving stages around it (``benchmarks/profile_home.py`` splits
those). Single: ``--viewers`` contexts of one viewer; batch: ``--viewers`` viewers in
contexts of ``--batch`` viewers. Every repeat builds fresh contexts (the per-batch caches
start empty); the table shows, per row kind, the median over ``--repeats`` of the mean CPU
ms per page. Synthetic catalog, ALS 64 factors (2 iterations: serving cost does not depend
on them), one BLAS thread.

Usage::

    python benchmarks/bench_rows.py --users 30000 --items 20000 --viewers 256 --batch 256
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

import fairrec as fr
from fairrec.rows import mark_taken
from fairrec.serving.core import request_batch, row_context


def _run(rec: fr.Recommender, groups: list[list], now) -> dict[str, float]:
    """CPU seconds per row kind over the pages of ``groups`` (one context per group)."""
    f = rec.fitted_state_
    acc: dict[str, float] = defaultdict(float)
    for group in groups:
        ctx = row_context(rec, request_batch(rec, group, now, f), f)
        taken = np.zeros(ctx.scores.shape, dtype=bool)
        for kind in f.row_kinds_:
            if not kind.may_apply(ctx):
                continue
            t0 = time.thread_time()
            rows = kind.build(ctx, taken)
            acc[type(kind).__name__] += time.thread_time() - t0
            for row in rows:
                mark_taken(taken, row.items, row.applies)
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=30_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--viewers", type=int, default=256)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    threadpool_limits(1, "blas")
    data = fr.datasets.synthetic(n_users=args.users, n_items=args.items, seed=0)
    rec = fr.Recommender(model=fr.models.ALS(factors=64, iterations=2)).fit(data)
    now = rec._now()
    ids = list(data.user_ids[: args.viewers])
    shapes = {
        "single": [[u] for u in ids],
        f"batch of {args.batch}": [ids[i : i + args.batch] for i in range(0, len(ids), args.batch)],
    }
    _run(rec, shapes["single"][:20], now)  # warm-up (imports, first-use caches)
    table: dict[str, dict[str, list[float]]] = {s: defaultdict(list) for s in shapes}
    for _ in range(args.repeats):
        for shape, groups in shapes.items():  # interleaved
            for name, sec in _run(rec, groups, now).items():
                table[shape][name].append(sec / len(ids) * 1e3)
    names = list(table["single"])
    print(f"{args.users} viewers x {args.items} titles; {len(ids)} pages; CPU ms per page")
    print(f"(median of {args.repeats} repeats)\n")
    print("| row kind | " + " | ".join(shapes) + " |")
    print("| --- |" + " --- |" * len(shapes))
    for name in names:
        cells = [f"{np.median(table[s][name]):.3f}" if table[s][name] else "-" for s in shapes]
        print(f"| {name} | " + " | ".join(cells) + " |")
    totals = [sum(np.median(v) for v in table[s].values()) for s in shapes]
    print("| all row kinds | " + " | ".join(f"{t:.3f}" for t in totals) + " |")


if __name__ == "__main__":
    main()
