"""fairrec's ALS against raw ``implicit``: same accuracy, and what the wrapper costs in fit time.

Part 1 (accuracy, MovieLens 100K by default): the same split, parameters and seed for a raw
``implicit.als.AlternatingLeastSquares`` and for ``fairrec.Recommender(model=ALS(...))``;
precision@10 and NDCG@10 from ``implicit.evaluation`` on both fitted models must agree to
1e-6, and fairrec's own serving path (request-time user vectors, fairrec.metrics) is reported
beside them.

Part 2 (speed, synthetic ``--users`` x ``--items``, default 100k x 20k): fit time of
``Recommender.fit`` (consent gate, training matrix, ALS, fitted state) over raw implicit's
``fit`` on the same matrix; median of ``--repeats`` runs each, interleaved, in one process;
wall-clock and the process's CPU time (all threads) are both reported.

Usage::

    python benchmarks/bench_fit.py --data ../shared/data/ml-100k --repeats 5
    python benchmarks/bench_fit.py --skip-accuracy --repeats 5     # the fit ratio only
    python benchmarks/bench_fit.py --skip-accuracy --repeats 5 --threads 1   # one ALS thread
    python benchmarks/bench_fit.py --memory --users 300000   # the bookkeeping's memory
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import fairrec as fr

PARAMS = dict(factors=64, regularization=0.05, alpha=1.0, iterations=15, random_state=0)


def _raw_als(**extra):
    from implicit.cpu.als import AlternatingLeastSquares

    from fairrec.models import single_threaded_blas

    with single_threaded_blas():
        return AlternatingLeastSquares(**PARAMS, **extra)


def accuracy(path: Path | None) -> None:
    from implicit.evaluation import ndcg_at_k, precision_at_k, train_test_split

    from fairrec.models import single_threaded_blas

    data = (
        fr.datasets.load_movielens(path, min_rating=4)
        if path is not None
        else fr.datasets.synthetic(n_users=5_000, n_items=3_000, seed=0)
    )
    full = data.to_csr()
    train, test = train_test_split(full, train_percentage=0.8, random_state=0)
    train, test = train.tocsr(), test.tocsr()
    # viewers with no training event have no row in fairrec's training matrix (by design);
    # drop them for both so that both models see exactly the same matrix
    present = np.flatnonzero(np.diff(train.indptr) > 0)
    train, test = train[present], test[present]
    user_ids = data.user_ids[present]

    raw = _raw_als()
    with single_threaded_blas():
        raw.fit(train, show_progress=False)

    # fairrec, from the same training interactions as a Dataset (ids kept in the same order)
    coo = train.tocoo()
    import pandas as pd

    frame = pd.DataFrame(
        {"user_id": user_ids[coo.row], "item_id": data.item_ids[coo.col], "weight": coo.data}
    )
    train_data = fr.Dataset.from_pandas(frame, data.catalog, weight_col="weight")
    rec = fr.Recommender(model=fr.models.ALS(**PARAMS)).fit(train_data)
    ours = rec.model_.model_
    same_rows = np.array_equal(train_data.user_ids, user_ids)

    with single_threaded_blas():
        p_raw = precision_at_k(raw, train, test, K=10, show_progress=False)
        n_raw = ndcg_at_k(raw, train, test, K=10, show_progress=False)
        # evaluate fairrec's fitted model through implicit's evaluation on the same matrices
        tr, te = rec.train_matrix_, test
        p_ours = precision_at_k(ours, tr, te, K=10, show_progress=False)
        n_ours = ndcg_at_k(ours, tr, te, K=10, show_progress=False)
    print(f"data: {data}  train nnz={train.nnz} test nnz={test.nnz}  rows aligned: {same_rows}")
    print("| model | precision@10 | ndcg@10 |")
    print("| --- | --- | --- |")
    print(f"| raw implicit ALS | {p_raw:.6f} | {n_raw:.6f} |")
    print(f"| fairrec ALS (implicit.evaluation) | {p_ours:.6f} | {n_ours:.6f} |")
    print(f"| abs. difference | {abs(p_raw - p_ours):.2e} | {abs(n_raw - n_ours):.2e} |")
    print("item factors identical:", np.array_equal(raw.item_factors, ours.item_factors))

    # fairrec's serving path: request-time (exact) user vectors, seen titles removed
    try:
        from fairrec import metrics
    except ImportError:  # pragma: no cover
        return
    test_coo = te.tocoo()
    truth = pd.DataFrame(
        {"user_id": train_data.user_ids[test_coo.row], "item_id": data.item_ids[test_coo.col]}
    )
    users = truth.user_id.unique()
    recs = rec.recommend_batch(users, k=10)
    p = metrics.precision_at_k(recs, truth, k=10, denominator="min")
    n = metrics.ndcg_at_k(recs, truth, k=10)
    print(f"| fairrec serving path (request-time vectors, fairrec.metrics) | {p:.6f} | {n:.6f} |")


def speed(
    repeats: int, users: int = 100_000, items: int = 20_000, threads: int | None = None
) -> None:
    from fairrec.models import single_threaded_blas

    # implicit's own thread count (all cores) unless --threads sets it for both fits
    extra = {} if threads is None else {"num_threads": threads}

    data = fr.datasets.synthetic(n_users=users, n_items=items, seed=0)
    matrix = data.to_csr()
    print(f"\nsynthetic: {data}; ALS threads: {threads or 'implicit default (all cores)'}")
    t_raw, t_ours, c_raw, c_ours = [], [], [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        raw = _raw_als(**extra)
        with single_threaded_blas():
            raw.fit(matrix, show_progress=False)
        t_raw.append(time.perf_counter() - t0)
        c_raw.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        fr.Recommender(model=fr.models.ALS(**PARAMS, **extra)).fit(data)
        t_ours.append(time.perf_counter() - t0)
        c_ours.append(time.process_time() - c0)
        print(
            f"repeat: raw {t_raw[-1]:.2f} s (CPU {c_raw[-1]:.2f} s), "
            f"fairrec {t_ours[-1]:.2f} s (CPU {c_ours[-1]:.2f} s)",
            flush=True,
        )
    m_raw, m_ours = statistics.median(t_raw), statistics.median(t_ours)
    print("| fit | median s | runs |")
    print("| --- | --- | --- |")
    print(f"| raw implicit ALS | {m_raw:.2f} | {', '.join(f'{t:.2f}' for t in t_raw)} |")
    print(f"| fairrec Recommender.fit | {m_ours:.2f} | {', '.join(f'{t:.2f}' for t in t_ours)} |")
    print(f"ratio fairrec / implicit (medians): {m_ours / m_raw:.3f}")
    # CPU seconds of the process (all threads): less sensitive to a shared machine's load
    cpu = statistics.median(c_ours) / statistics.median(c_raw)
    print(f"ratio of CPU time (medians): {cpu:.3f}")


def overhead(repeats: int, users: int = 100_000, items: int = 20_000) -> None:
    """fairrec's own cost around the model (``--overhead``): ``Recommender.fit`` minus raw
    implicit's fit, both one ALS iteration on one thread (``num_threads=1``), CPU seconds,
    interleaved. The first fairrec fit of a fresh dataset also builds its id maps (a
    ``Dataset.from_pandas`` builds them while loading; ``synthetic`` leaves them lazy)."""
    from implicit.cpu.als import AlternatingLeastSquares

    from fairrec.models import single_threaded_blas

    data = fr.datasets.synthetic(n_users=users, n_items=items, seed=0)
    matrix = data.to_csr()
    params = dict(PARAMS, iterations=1)
    print(f"\nsynthetic: {data}")
    first, extra = None, []
    for r in range(repeats):
        c0 = time.process_time()
        raw = AlternatingLeastSquares(num_threads=1, **params)
        with single_threaded_blas():
            raw.fit(matrix, show_progress=False)
        c_raw = time.process_time() - c0
        c0 = time.process_time()
        fr.Recommender(model=fr.models.ALS(num_threads=1, **params)).fit(data)
        c_ours = time.process_time() - c0
        print(
            f"repeat {r}: raw {c_raw:.3f} CPU s, fairrec {c_ours:.3f} CPU s, own {c_ours - c_raw:.3f}"
        )
        if r == 0:
            first = c_ours - c_raw
        else:
            extra.append(c_ours - c_raw)
    print(
        f"fairrec's own CPU s per fit: first fit {first:.3f}; later fits, median {statistics.median(extra):.3f}"
    )


def memory(users: int = 300_000, items: int = 20_000) -> None:
    """The fit's bookkeeping, what it allocates (``--memory``): transient peak beyond its
    result (``tracemalloc``, which numpy reports to) and CPU time of the training matrix with
    its oldest-play times (``training_cells``, one sort, against ``training_matrix`` +
    ``training_oldest``) and of the bubble row's taste groups (blocks of 4M cells against one
    block), on the same data in the same run."""
    import tracemalloc

    from fairrec.rows.evidence import taste_clusters, taste_groups
    from fairrec.serving.gate import training_cells, training_matrix, training_oldest

    data = fr.datasets.synthetic(n_users=users, n_items=items, seed=0)
    mask = np.ones(data.n_events, dtype=bool)
    _ = data.user_map  # the id maps, built outside the measured calls
    print(f"\nsynthetic: {data}")

    def two() -> tuple:
        train, rows = training_matrix(data, mask)
        return train, rows, training_oldest(data, mask, train, rows)

    def measure(label: str, f) -> object:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        c0 = time.process_time()
        out = f()
        cpu = time.process_time() - c0
        kept, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        mib = 2.0**20
        print(f"| {label} | {(peak - kept) / mib:,.0f} | {(kept - base) / mib:,.0f} | {cpu:.2f} |")
        return out

    print("| step | transient peak beyond the result (MiB) | result (MiB) | CPU s (traced) |")
    print("| --- | --- | --- | --- |")
    measure("training_matrix + training_oldest (two sorts)", two)
    train = measure("training_cells (one sort)", lambda: training_cells(data, mask))[0]
    taste = taste_clusters(np.random.default_rng(0).normal(size=(items, 16)).astype(np.float32))
    measure("taste_groups, one block", lambda: taste_groups(train, taste, block=train.nnz + 1))
    measure("taste_groups, blocks of 4M cells", lambda: taste_groups(train, taste))


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default if default.exists() else None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--users", type=int, default=100_000, help="viewers of the speed part")
    ap.add_argument("--items", type=int, default=20_000, help="titles of the speed part")
    ap.add_argument(
        "--overhead",
        action="store_true",
        help="only fairrec's own fit cost: fit minus raw fit, 1 iteration, 1 thread, CPU s",
    )
    ap.add_argument(
        "--threads", type=int, default=None, help="ALS threads of both fits (speed part)"
    )
    ap.add_argument(
        "--memory",
        action="store_true",
        help="only the fit bookkeeping's transient memory (tracemalloc), --users viewers",
    )
    args = ap.parse_args()
    if args.memory:
        memory(args.users, args.items)
        return
    if args.overhead:
        overhead(max(args.repeats, 2), args.users, args.items)
        return
    if not args.skip_accuracy:
        accuracy(args.data)
    if not args.skip_speed:
        speed(args.repeats, args.users, args.items, args.threads)


if __name__ == "__main__":
    main()
