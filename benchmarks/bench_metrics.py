"""Time fairrec.metrics on synthetic lists: N viewers x 10 recommendations.

Usage::

    python benchmarks/bench_metrics.py [--users 10000] [--items 5000] [--repeats 5]

Prints the median wall time of (a) six metrics called one by one (precision@10, recall@10,
NDCG@10, MAP@10, novelty, intra-list diversity over genres), (b) the same six through
``all_metrics`` (one shared preprocessing), (c) all 16 registry metrics with genre
similarity and (d) 15 (no miscalibration) with train co-occurrence similarity. Data: Zipf-like popularity, 50 train events, 5 held-out titles and 10
recommendations (sampled by popularity, no repeats) per viewer, 1-3 of 18 genres per title.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from fairrec import metrics as M

SIX = ["precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "novelty", "intra_list_diversity"]


def _top_by_popularity(rng: np.random.Generator, n_users: int, log_p: np.ndarray, n: int):
    """n distinct titles per viewer, drawn by popularity (Gumbel top-n), in chunks."""
    out = []
    for start in range(0, n_users, 1000):
        m = min(1000, n_users - start)
        keys = log_p[None, :] + rng.gumbel(size=(m, len(log_p)))
        out.append(np.argpartition(-keys, n, axis=1)[:, :n])
    return np.vstack(out)


def make_data(n_users: int, n_items: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** 0.8
    p /= p.sum()
    log_p = np.log(p)
    train_items = rng.choice(n_items, size=n_users * 50, p=p)
    train = pd.DataFrame({"user_id": np.repeat(np.arange(n_users), 50), "item_id": train_items})
    truth_items = _top_by_popularity(rng, n_users, log_p, 5)
    truth = pd.DataFrame(
        {"user_id": np.repeat(np.arange(n_users), 5), "item_id": truth_items.ravel()}
    )
    rec_items = _top_by_popularity(rng, n_users, log_p, 10)
    recs = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n_users), 10),
            "item_id": rec_items.ravel(),
            "rank": np.tile(np.arange(1, 11), n_users),
        }
    )
    names = np.array([f"g{j}" for j in range(18)])
    n_g = rng.integers(1, 4, size=n_items)
    genres = pd.Series(
        [tuple(names[rng.choice(18, size=c, replace=False)]) for c in n_g], index=range(n_items)
    )
    return recs, truth, train, genres


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    recs, truth, train, genres = make_data(args.users, args.items)

    def one_by_one() -> None:
        M.precision_at_k(recs, truth, k=10)
        M.recall_at_k(recs, truth, k=10)
        M.ndcg_at_k(recs, truth, k=10)
        M.map_at_k(recs, truth, k=10)
        M.novelty(recs, train, k=10)
        M.intra_list_diversity(recs, train, k=10, item_features=genres)

    def shared() -> None:
        M.all_metrics(recs, truth, train, k=10, item_features=genres, metrics=SIX)

    def everything() -> None:
        M.all_metrics(recs, truth, train, k=10, item_features=genres)

    def everything_cooc() -> None:
        M.all_metrics(
            recs, truth, train, k=10, metrics=[n for n in M.REGISTRY if n != "miscalibration"]
        )

    print(f"{args.users} viewers x 10 recs, {args.items} titles, {len(train)} train events")
    print(f"six metrics, one call each : {_median_time(one_by_one, args.repeats):.3f} s (median)")
    print(f"six metrics, all_metrics   : {_median_time(shared, args.repeats):.3f} s (median)")
    n_all = len(M.all_metrics(recs.head(10), truth, train, item_features=genres))
    print(f"all {n_all} metrics, genres  : {_median_time(everything, args.repeats):.3f} s (median)")
    print(
        f"15 metrics, co-occurrence: {_median_time(everything_cooc, args.repeats):.3f} s (median)"
    )


if __name__ == "__main__":
    main()
