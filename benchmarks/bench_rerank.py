"""Latency of the fairrec.rerank re-rankers.

Three measurements, printed as markdown tables:

1. single call: median (and p90) latency of one ``rerank`` call per re-ranker at
   ``n`` candidates, ``k`` picks, ``d``-dimensional vectors (goal: < 1 ms at n=1000, k=20,
   d=64 on one core);
2. fast greedy DPP (``dpp_greedy``, incremental Cholesky) against the naive greedy
   reference that evaluates ``numpy.linalg.slogdet`` for every candidate at every step
   (target: >= 100x at n=1000, k=50), checking that both pick the same items;
3. one batched call for ``viewers`` viewers against a loop of single calls (target >= 5x),
   checking that the rows are identical.

BLAS is limited to one thread, so every call runs on one core (``--pin CORE`` also pins the
process; on a shared machine that can hurt more than it helps). Single calls also report
the median CPU time of the calling thread, which is less sensitive to other load.
Inputs are random but shaped like the real thing: relevance in [0, 1], Gaussian factors,
1-3 genres per title out of ``g``, Zipf-like popularity, 5% of each viewer's candidates
masked out as already seen.

Usage::

    python benchmarks/bench_rerank.py              # full run
    python benchmarks/bench_rerank.py --quick      # fewer repeats, smaller batch
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from fairrec.rerank import (
    DPP,
    MMR,
    Calibrated,
    LongTail,
    RerankContext,
    Serendipity,
    TopK,
    dpp_greedy,
)
from fairrec.rerank._reference import dpp_greedy_logdet


def rerankers() -> dict[str, Any]:
    return {
        "TopK()": TopK(),
        "MMR(lambda_=0.7)": MMR(lambda_=0.7),
        "DPP(theta=2)": DPP(),
        "DPP(theta=2, window=5)": DPP(window=5),
        "Calibrated(lambda_=0.5)": Calibrated(lambda_=0.5),
        "LongTail(lambda_=0.5)": LongTail(lambda_=0.5),
        "Serendipity()": Serendipity(),
    }


def inputs(
    rng: np.random.Generator, u: int | None, n: int, d: int, g: int
) -> tuple[np.ndarray, np.ndarray, RerankContext, np.ndarray | None]:
    """Scores ((n,) or (u, n)), shared vectors, a context and (batch only) a valid mask."""
    lead = () if u is None else (u,)
    scores = rng.random((*lead, n))
    vectors = rng.normal(size=(n, d))
    genres = np.zeros((n, g))
    for extra in range(3):  # 1-3 genres per title
        pick = rng.integers(0, g, n)
        keep = np.ones(n, bool) if extra == 0 else rng.random(n) < 0.4
        genres[np.arange(n)[keep], pick[keep]] = 1.0
    ctx = RerankContext(
        profile=rng.normal(size=(*lead, d)),
        genres=genres,
        target=rng.dirichlet(np.ones(g), size=u) if u is not None else rng.dirichlet(np.ones(g)),
        popularity=np.floor(1000.0 / np.arange(1, n + 1) ** 0.9)[rng.permutation(n)],
    )
    valid = None if u is None else rng.random((u, n)) >= 0.05
    return scores, vectors, ctx, valid


def timed(
    fn: Callable[[], Any],
    repeats: int,
    warmup: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> np.ndarray:
    """Seconds (``clock``) of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = np.empty(repeats)
    for i in range(repeats):
        start = clock()
        fn()
        out[i] = clock() - start
    return out


def single_calls(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    scores, vectors, ctx, _ = inputs(rng, None, args.n, args.d, args.genres)
    print(
        f"\n### Single call: n={args.n} candidates, k={args.k}, d={args.d}, "
        f"g={args.genres} genres, {args.repeats} calls each\n"
    )
    print("| re-ranker | median (us) | p10 (us) | p90 (us) | median CPU (us) | < 1 ms |")
    print("|---|---:|---:|---:|---:|:---:|")
    for name, reranker in rerankers().items():

        def call(reranker: Any = reranker) -> Any:
            return reranker.rerank(scores, args.k, vectors=vectors, context=ctx)

        t = timed(call, args.repeats) * 1e6
        cpu = float(np.median(timed(call, args.repeats, 0, time.thread_time))) * 1e6
        med = float(np.median(t))
        print(
            f"| {name} | {med:.0f} | {np.percentile(t, 10):.0f} | {np.percentile(t, 90):.0f} "
            f"| {cpu:.0f} | {'yes' if med < 1000 else 'no'} |"
        )


def dpp_versus_naive(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed + 1)
    n, k = args.n, args.dpp_k
    v = rng.normal(size=(n, args.d))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = np.exp(2.0 * rng.random(n))
    fast = timed(lambda: dpp_greedy(q, v, k), args.repeats // 4 or 1)
    naive = timed(lambda: dpp_greedy_logdet(q, v, k), args.naive_repeats, warmup=0)
    same = np.array_equal(dpp_greedy(q, v, k), dpp_greedy_logdet(q, v, k))
    ratio = np.median(naive) / np.median(fast)
    print(f"\n### Fast greedy DPP vs naive slogdet greedy: n={n}, k={k}, d={args.d}\n")
    print("| implementation | median (ms) | calls |")
    print("|---|---:|---:|")
    print(f"| dpp_greedy (incremental Cholesky) | {np.median(fast) * 1e3:.2f} | {len(fast)} |")
    print(
        f"| naive greedy, one batched slogdet per step | {np.median(naive) * 1e3:.1f} "
        f"| {len(naive)} |"
    )
    print(f"\nspeed-up: **{ratio:.0f}x** (target >= 100x); same picks: {same}")


def batch_versus_loop(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed + 2)
    u = args.viewers
    scores, vectors, ctx, valid = inputs(rng, u, args.n, args.d, args.genres)
    assert valid is not None
    singles = [
        RerankContext(
            profile=ctx.profile[i],
            genres=ctx.genres,
            target=ctx.target[i],
            popularity=ctx.popularity,
        )
        for i in range(u)
    ]
    print(
        f"\n### Batch of {u} viewers vs a loop of {u} single calls: n={args.n}, k={args.k}, "
        f"d={args.d} (shared candidate vectors, per-viewer scores, masks, profiles, "
        f"genre targets)\n"
    )
    print("| re-ranker | batch (ms) | loop (ms) | speed-up | rows identical |")
    print("|---|---:|---:|---:|:---:|")
    for name, reranker in rerankers().items():

        def batch(reranker: Any = reranker) -> np.ndarray:
            return reranker.rerank(scores, args.k, vectors=vectors, context=ctx, valid=valid)

        def loop(reranker: Any = reranker) -> list[np.ndarray]:
            return [
                reranker.rerank(
                    scores[i], args.k, vectors=vectors, context=singles[i], valid=valid[i]
                )
                for i in range(u)
            ]

        tb = float(np.median(timed(batch, args.batch_repeats, warmup=1)))
        tl = float(np.median(timed(loop, args.batch_repeats, warmup=0)))
        same = np.array_equal(batch(), np.array(loop()))
        print(f"| {name} | {tb * 1e3:.1f} | {tl * 1e3:.1f} | {tl / tb:.1f}x | {same} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="candidates per viewer")
    parser.add_argument("--k", type=int, default=20, help="row length")
    parser.add_argument("--d", type=int, default=64, help="vector dimension")
    parser.add_argument("--genres", type=int, default=20, help="number of genres")
    parser.add_argument("--repeats", type=int, default=300, help="single calls timed")
    parser.add_argument("--dpp-k", type=int, default=50, help="k of the DPP comparison")
    parser.add_argument("--naive-repeats", type=int, default=3)
    parser.add_argument("--viewers", type=int, default=1000, help="batch size")
    parser.add_argument("--batch-repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pin", type=int, default=None, metavar="CORE", help="pin the process to this CPU core"
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.viewers, args.batch_repeats, args.naive_repeats = 30, 100, 1, 1
    pinned = "not pinned"
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
        pinned = f"pinned to core {args.pin}"
    with threadpool_limits(1):
        blas = ", ".join(
            f"{i['internal_api']} {i.get('version') or ''} ({i['num_threads']} thread)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        )
        print(
            f"numpy {np.__version__}; BLAS: {blas}; Python {platform.python_version()}; "
            f"{platform.processor() or platform.machine()}; {pinned}; "
            f"{os.cpu_count()} CPUs visible"
        )
        single_calls(args)
        dpp_versus_naive(args)
        batch_versus_loop(args)


if __name__ == "__main__":
    main()
