"""Where one ``home()`` goes: median time of each serving stage and of each row kind.

Usage::

    python benchmarks/profile_home.py --users 100000 --items 20000 --viewers 300
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fairrec as fr
from fairrec.serving.assembly import assemble
from fairrec.serving.core import consent_states, row_context
from fairrec.serving.gate import serving_batch
from fairrec.serving.pages import build_page


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--viewers", type=int, default=300)
    args = ap.parse_args()
    threadpool_limits(1, "blas")
    data = fr.datasets.synthetic(n_users=args.users, n_items=args.items, seed=0)
    # serving cost does not depend on the number of ALS iterations: fit quickly
    rec = fr.Recommender(model=fr.models.ALS(factors=64, iterations=2)).fit(data)
    f = rec.fitted_state_
    stages = {
        k: [] for k in ("consent snapshot", "gate", "candidates", "rows + assembly", "page objects")
    }
    for u in list(data.user_ids[: args.viewers]):
        now = rec._now()
        t0 = time.perf_counter()
        states = consent_states(rec, [u], f)
        t1 = time.perf_counter()
        batch = serving_batch(
            [u], states, data=f.data_, catalog=f.catalog_, now=now, retention_days=None
        )
        t2 = time.perf_counter()
        ctx = row_context(rec, batch, f)
        t3 = time.perf_counter()
        pages = assemble(ctx, f.row_kinds_, min_items=10, max_rows=8)
        t4 = time.perf_counter()
        build_page(f, 0, batch, pages, now)
        t5 = time.perf_counter()
        for key, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            stages[key].append(dt)
    print("| stage | median ms |\n| --- | --- |")
    for key, values in stages.items():
        print(f"| {key} | {np.median(values) * 1e3:.3f} |")
    batch = serving_batch(
        [data.user_ids[0]],
        consent_states(rec, [data.user_ids[0]], f),
        data=f.data_,
        catalog=f.catalog_,
        now=rec._now(),
        retention_days=None,
    )
    ctx = row_context(rec, batch, f)
    print("\n| row kind (one viewer) | median ms |\n| --- | --- |")
    for kind in f.row_kinds_:
        taken = np.zeros((1, data.n_items), dtype=bool)
        times = []
        for _ in range(50):
            t0 = time.perf_counter()
            if kind.may_apply(ctx):
                kind.build(ctx, taken)
            times.append(time.perf_counter() - t0)
        print(f"| {type(kind).__name__} | {np.median(times) * 1e3:.3f} |")


if __name__ == "__main__":
    main()
