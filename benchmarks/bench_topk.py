"""The one top-k kernel (``fairrec.models.top_n``) against the two kernels it replaced.

Before issue 17, models used ``top_n`` (sampled threshold + partial sort) and re-rankers
their own ``topk_rows`` (one stable sort of small inputs, a partition otherwise). Both now call
``top_n``, which sorts small inputs whole and selects in larger ones. This script times, for
shapes each caller really passes, the shared kernel against each old kernel in the same run:

* **re-ranker shapes**: a chunk of ``u`` viewers x ``n`` candidates, ``k`` picks, float64
  (the public ``rerank``) or float32 (the rows' fast path); baseline: the old ``topk_rows``,
  copied below unchanged;
* **model shapes**: ``u`` viewers x the catalog, ``n_candidates`` kept, float32; baseline:
  the old ``top_n`` (the shared kernel with its small-input sort switched off, which is the
  old code path exactly).

Every result is checked equal to the baseline's. Reported: median microseconds per call
(old and shared timed alternately, so both see the same machine load) and the ratio
old / shared (> 1: the shared kernel is faster). Model shapes whose code did not change show
how much two timings of the same code differ on the machine at that moment.

Usage::

    python benchmarks/bench_topk.py            # full run
    python benchmarks/bench_topk.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fairrec.models._topk as kernel
from fairrec.models import top_n

# ------------------------------------------------------------------ the old re-ranker kernel
_SORT_BELOW = 1024
_SORT_CELLS = 1 << 14


def old_topk_rows(key: np.ndarray, kk: int) -> np.ndarray:
    """``fairrec.rerank._base.topk_rows`` before issue 17 (verbatim)."""
    u, n = key.shape
    if kk <= 0 or n == 0:
        return np.full((u, max(kk, 0)), -1, dtype=np.int64)
    neg = -key
    if n <= _SORT_BELOW and u * n <= _SORT_CELLS:
        out = np.argsort(neg, axis=1, kind="stable")[:, :kk]
        out[neg[np.arange(u)[:, None], out] == np.inf] = -1
        return out
    if kk < n:
        thr = np.partition(neg, kk - 1, axis=1)[:, kk - 1 : kk]
        take_mask = neg < thr
        eq = neg == thr
        need = kk - take_mask.sum(axis=1)
        excess = np.flatnonzero(eq.sum(axis=1) > need)
        if excess.size:
            sub = eq[excess]
            sub &= np.cumsum(sub, axis=1) <= need[excess, None]
            eq[excess] = sub
        take_mask |= eq
        cols = np.nonzero(take_mask)[1].reshape(u, kk)
    else:
        cols = np.broadcast_to(np.arange(n), (u, n))
    sel = np.take_along_axis(neg, cols, axis=1)
    order = np.argsort(sel, axis=1, kind="stable")
    out = np.take_along_axis(cols, order, axis=1).astype(np.int64)
    out[np.take_along_axis(key, out, axis=1) == -np.inf] = -1
    return out


def old_top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``fairrec.models.top_n`` before issue 17: the same code without the small-input sort
    and with every row long enough sampled (the old thresholds)."""
    saved = kernel._SORT_CELLS, kernel._SORT_BELOW
    kernel._SORT_CELLS, kernel._SORT_BELOW = 0, 0
    try:
        return top_n(scores, n)
    finally:
        kernel._SORT_CELLS, kernel._SORT_BELOW = saved


def medians_us(old, new, repeats: int) -> tuple[float, float]:
    """Median microseconds of ``old()`` and ``new()``, timed alternately (same load)."""
    for _ in range(2):
        old(), new()
    times = np.empty((repeats, 2))
    for i in range(repeats):
        for j, fn in enumerate((old, new)):
            t = time.perf_counter()
            fn()
            times[i, j] = time.perf_counter() - t
    a, b = np.median(times, axis=0) * 1e6
    return float(a), float(b)


RERANK_SHAPES = [  # (u, n, k): one viewer; a page batch's rows (pool 50-300); a big chunk
    (1, 50, 10),
    (1, 300, 20),
    (1, 1000, 20),
    (16, 100, 20),
    (64, 100, 20),
    (256, 60, 10),
    (256, 200, 20),
    (65, 1000, 20),
]
MODEL_SHAPES = [  # (u, catalog, n_candidates): home(), a page batch, small catalogs, large
    (1, 1682, 1000),
    (64, 1682, 1000),
    (256, 1682, 300),
    (16, 20000, 1000),
    (4, 300, 100),
    (64, 400, 100),
]


def _path(u: int, m: int, n: int) -> str:
    """Which path of the shared kernel a shape takes, and whether the old code took it too."""
    if m <= kernel._SORT_BELOW and u * m <= kernel._SORT_CELLS:
        return "one stable sort (new)"
    if m <= kernel._SORT_BELOW and m >= 4 * n:
        return "exact threshold (new: was sampled)"
    return "unchanged code (ratio = noise)"


def _gmean(x: list[float]) -> float:
    return float(np.exp(np.mean(np.log(x))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=200, help="timed calls per shape")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random scores")
    ap.add_argument("--quick", action="store_true", help="20 calls per shape")
    args = ap.parse_args()
    repeats = 20 if args.quick else args.repeats
    rng = np.random.default_rng(args.seed)
    print("\n### Re-ranker shapes: shared `top_n` vs the old `topk_rows`\n")
    print("| u x n, k | dtype | old topk_rows (us) | shared top_n (us) | old / shared |")
    print("| --- | --- | ---: | ---: | ---: |")
    ratios = []
    for u, n, k in RERANK_SHAPES:
        for dtype in (np.float64, np.float32):
            key = rng.random((u, n)).astype(dtype)
            key[rng.random((u, n)) < 0.05] = -np.inf  # seen / invalid candidates
            kk = min(k, n)
            assert (old_topk_rows(key, kk) == top_n(key, kk)[0]).all()
            old, new = medians_us(
                functools.partial(old_topk_rows, key, kk),
                functools.partial(top_n, key, kk),
                repeats,
            )
            ratios.append(old / new)
            print(
                f"| {u} x {n}, {k} | {dtype.__name__} | {old:.1f} | {new:.1f} | {old / new:.2f} |"
            )
    print(
        f"\nGeometric mean old / shared over re-ranker shapes: {np.exp(np.mean(np.log(ratios))):.2f}"
    )
    print("\n### Model shapes: shared `top_n` vs the old `top_n`\n")
    print(
        "| u x catalog, n_candidates | shared kernel's path | old top_n (us) | shared top_n (us)"
        " | old / shared |"
    )
    print("| --- | --- | ---: | ---: | ---: |")
    ratios_m = []
    for u, m, n in MODEL_SHAPES:
        scores = rng.normal(size=(u, m)).astype(np.float32)
        a, b = old_top_n(scores, n), top_n(scores, n)
        assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
        old, new = medians_us(
            functools.partial(old_top_n, scores, n),
            functools.partial(top_n, scores, n),
            max(5, repeats // 4),
        )
        path = _path(u, m, n)
        if not path.startswith("unchanged"):
            ratios_m.append(old / new)
        print(f"| {u} x {m}, {n} | {path} | {old:.1f} | {new:.1f} | {old / new:.2f} |")
    print(f"\nGeometric mean old / shared over the changed model shapes: {_gmean(ratios_m):.2f}")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
