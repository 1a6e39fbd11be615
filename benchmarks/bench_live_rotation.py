"""Seven days without a play: page rotation from impressions vs Top-picks accuracy.

Every test viewer opens the app once a day for 7 days and plays nothing; each day's page is
recorded with ``Recommender.observe(..., event="impression")``. Reported per configuration:

- day-over-day page overlap: |today's titles ∩ yesterday's| / |today's titles|, per viewer
  (median, 95th percentile, max, share of viewers at most 0.5);
- Top-picks NDCG@10 (its first 10 titles, as in ``page_quality.py``) on day 1 and the mean of
  days 2-7, and their ratio, against the held-out test plays.

Configurations: the default ``LiveConfig()`` (a title shown once in the last 7 days leaves every
row; Top picks may still repeat it among the viewer's 10 most relevant candidates, half its
row) and ``LiveConfig(impression_exempt=())`` (Top picks rotates fully too).

Split: per viewer, the last 20 % of positives (rating >= 4) by time are the test set; ALS(64
factors, 15 iterations, random_state=0) on the rest; rows of 20 titles.

Usage::

    python benchmarks/bench_live_rotation.py --data ../shared/data/ml-100k
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import fairrec as fr
from fairrec import metrics
from fairrec.live import LiveConfig
from fairrec.splits import temporal_holdout

DAY0 = pd.Timestamp("2026-01-05")


def simulate(rec: fr.Recommender, users: list, truth: pd.DataFrame, days: int) -> dict:
    overlaps, ndcg = [], []
    prev: dict = {}
    for d in range(days):
        now = DAY0 + pd.Timedelta(days=d)
        frame = rec.home_batch(users, now=now, progress=False)
        for col in ("user_id", "item_id"):  # the test frame's id types
            if frame[col].dtype != truth[col].dtype:
                frame[col] = frame[col].astype(truth[col].dtype)
        top = frame[(frame.row_kind == "top_picks") & (frame.position < 10)].copy()
        top["rank"] = top.position + 1
        ndcg.append(metrics.ndcg_at_k(top[["user_id", "item_id", "rank"]], truth, k=10))
        shown = {u: set(g) for u, g in frame.groupby("user_id").item_id}
        if prev:
            overlaps.append(
                np.array([len(shown[u] & prev.get(u, set())) / max(len(shown[u]), 1) for u in shown])
            )
        prev = shown
        rec.observe(
            pd.DataFrame(
                {
                    "user_id": frame.user_id,
                    "item_id": frame.item_id,
                    "event": "impression",
                    "timestamp": now,
                }
            ),
            now=now,
        )
    ov = np.concatenate(overlaps)
    return {
        "overlap median": float(np.median(ov)),
        "overlap p95": float(np.percentile(ov, 95)),
        "overlap max": float(ov.max()),
        "viewer-days with overlap <= 0.5": float((ov <= 0.5).mean()),
        "top picks NDCG@10 day 1": ndcg[0],
        "top picks NDCG@10 days 2-7": float(np.mean(ndcg[1:])),
        "ratio": float(np.mean(ndcg[1:]) / ndcg[0]) if ndcg[0] else float("nan"),
    }


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default if default.exists() else None)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--row-size", type=int, default=20)
    args = ap.parse_args()
    if args.data is not None:
        data = fr.datasets.load_movielens(args.data, min_rating=4)
    else:
        data = fr.datasets.synthetic(n_users=2_000, n_items=3_000, seed=0)
    split = temporal_holdout(data, fraction=0.2)
    truth = split.test_frame()
    trained = set(split.train_frame().user_id)
    users = [u for u in truth.user_id.unique() if u in trained]
    truth = truth[truth.user_id.isin(users)]
    model = fr.models.ALS(factors=64, iterations=15, random_state=0)
    print(f"data: {data}; test viewers: {len(users)}; row size {args.row_size}; {args.days} days")
    results = {}
    for name, cfg in (
        ("default (Top picks keeps its strongest half)", LiveConfig()),
        ("every row rotates", LiveConfig(impression_exempt=())),
    ):
        rec = fr.Recommender(model=model, row_size=args.row_size, live=cfg).fit(split.train)
        results[name] = simulate(rec, users, truth, args.days)
    names = list(results)
    print("\n| measure | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for key in results[names[0]]:
        print(f"| {key} | " + " | ".join(f"{results[n][key]:.4f}" for n in names) + " |")


if __name__ == "__main__":
    main()
