"""What computing every reason's evidence costs at serving time, on MovieLens 100K.

ALS(64 factors, 15 iterations, random_state=0) on ``load_movielens(min_rating=4)``, default
rows; the median of 3 ``home_batch`` runs over all 943 viewers and the p50 of ``home()``
over 100 viewers. Run it once with this checkout's ``src`` and once with another version's
(e.g. ``git archive <commit> src | tar -x -C /tmp/old``) on ``PYTHONPATH`` to compare::

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_page_evidence.py \\
        --data ../shared/data/ml-100k
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import fairrec as fr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    data = fr.datasets.load_movielens(args.data, min_rating=4)
    rec = fr.Recommender(model=fr.models.ALS(factors=64, iterations=15, random_state=0)).fit(data)
    users = list(data.user_ids)
    batch = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        rec.home_batch(users, progress=False)
        batch.append(time.perf_counter() - t)
    single = []
    for u in users[:100]:
        t = time.perf_counter()
        rec.home(u)
        single.append(time.perf_counter() - t)
    print(
        f"fairrec {fr.__file__}: home_batch({len(users)}) median {np.median(batch):.2f} s; "
        f"home() p50 {1000 * np.median(single):.1f} ms"
    )


if __name__ == "__main__":
    main()
