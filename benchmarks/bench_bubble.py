"""Cost of the *Outside your bubble* row alone as the training viewers grow.

Per scale (synthetic viewers x 20k titles, ALS 64 factors, 2 iterations, one BLAS thread):
thread CPU ms of ``OutsideYourBubble.build`` for one viewer (median of 100 viewers) and per
viewer in one 300-viewer batch, and how many of the 300 viewers get the row.

Usage::

    python benchmarks/bench_bubble.py --scales 10000,30000,100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fairrec as fr
from fairrec.rows import OutsideYourBubble
from fairrec.serving.core import consent_states, row_context
from fairrec.serving.gate import serving_batch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", default="10000,30000,100000")
    ap.add_argument("--items", type=int, default=20_000)
    args = ap.parse_args()
    threadpool_limits(1, "blas")
    print("| training viewers | one viewer (ms) | batch, per viewer (ms) | rows shown |")
    print("| --- | --- | --- | --- |")
    for users in (int(x) for x in args.scales.split(",")):
        data = fr.datasets.synthetic(n_users=users, n_items=args.items, seed=0)
        rec = fr.Recommender(model=fr.models.ALS(factors=64, iterations=2)).fit(data)
        f = rec.fitted_state_
        kind = next(k for k in f.row_kinds_ if isinstance(k, OutsideYourBubble))

        def ctx_of(ids: list, rec=rec, f=f):
            b = serving_batch(
                ids,
                consent_states(rec, ids, f),
                data=f.data_,
                catalog=f.catalog_,
                now=rec._now(),
                retention_days=None,
            )
            return row_context(rec, b, f)

        ids = list(data.user_ids[:300])
        ctxs = [ctx_of([u]) for u in ids[:100]]
        taken = np.zeros((1, data.n_items), dtype=bool)
        for c in ctxs[:3]:  # warm caches
            kind.build(c, taken)
        times = []
        for c in ctxs:
            t0 = time.thread_time()
            kind.build(c, taken)
            times.append(time.thread_time() - t0)
        batch = ctx_of(ids)
        t0 = time.thread_time()
        rows = kind.build(batch, np.zeros((len(ids), data.n_items), dtype=bool))
        per = (time.thread_time() - t0) / len(ids)
        shown = int((rows[0].items[:, 0] >= 0).sum()) if rows[0].items.shape[1] else 0
        print(
            f"| {users:,} | {np.median(times) * 1e3:.2f} | {per * 1e3:.2f} | {shown}/{len(ids)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
