"""Whole-page quality on MovieLens 100K: fairrec's default page vs a page of plain ALS rows.

Split: per viewer, the last 20 % of positives (rating >= 4) by time are the test set.
Model: ALS(factors=64, iterations=15, random_state=0) fitted on the training part.

- *Top picks* row: NDCG@10 of its first 10 titles vs plain ALS top-10 (same model).
- Whole page (all rows): catalog coverage (distinct titles shown to the test viewers / catalog)
  and mean novelty (-log2 of a title's share of training plays) vs a page of plain ALS rows
  of the same shape (same number of rows and titles per viewer, filled with the ALS ranking).
- Page metrics: 2D-nDCG (Felicioni et al. 2022) of both pages.

Usage::

    python benchmarks/page_quality.py --data ../shared/data/ml-100k
    python benchmarks/page_quality.py --synthetic 20000:10000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import fairrec as fr
from fairrec import metrics
from fairrec.splits import temporal_holdout


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default if default.exists() else None)
    ap.add_argument(
        "--synthetic",
        default="",
        help="'USERS:ITEMS': use fairrec's synthetic catalog of that size instead of --data "
        "(e.g. 20000:10000, a catalog much larger than a page, where coverage can grow)",
    )
    ap.add_argument("--row-size", type=int, default=20)
    ap.add_argument(
        "--sweep",
        default="",
        help="comma-separated 'cap:quantile' settings of the exploratory rows' popularity caps "
        "(BecauseYouWatched/OutsideYourBubble max_popularity : HiddenGems quantile), e.g. "
        "'1.0:0.8,0.9:0.7,0.8:0.6,0.7:0.5,0.6:0.5'; prints the novelty / 2D-nDCG trade-off",
    )
    args = ap.parse_args()
    if args.synthetic:
        n_users, n_items = (int(x) for x in args.synthetic.split(":"))
        data = fr.datasets.synthetic(n_users=n_users, n_items=n_items, seed=0)
    elif args.data is not None:
        data = fr.datasets.load_movielens(args.data, min_rating=4)
    else:
        data = fr.datasets.synthetic(n_users=5_000, n_items=3_000, seed=0)
    split = temporal_holdout(data, fraction=0.2)
    rec = fr.Recommender(
        model=fr.models.ALS(factors=64, iterations=15, random_state=0), row_size=args.row_size
    ).fit(split.train)
    truth = split.test_frame()
    train = split.train_frame()
    trained = set(train.user_id)
    users = [u for u in truth.user_id.unique() if u in trained]
    truth = truth[truth.user_id.isin(users)]

    pages = rec.home_batch(users, progress=False)
    pages["user_id"] = pages.user_id.map({str(u): u for u in users})
    cast = type(data.item_ids[0].item() if hasattr(data.item_ids[0], "item") else data.item_ids[0])
    pages["item_id"] = pages.item_id.map(cast)

    # Top picks vs plain ALS top-10
    top = pages[pages.row_kind == "top_picks"].copy()
    top["rank"] = top.position + 1
    plain10 = rec.recommend_batch(users, k=10)
    ndcg_top = metrics.ndcg_at_k(top[["user_id", "item_id", "rank"]], truth, k=10)
    ndcg_als = metrics.ndcg_at_k(plain10, truth, k=10)

    # a page of plain ALS rows of the same shape: the ALS ranking cut into rows
    shape = pages.groupby("user_id").agg(n=("item_id", "size"), rows=("row", "nunique"))
    n_max = int(shape.n.max())
    plain = rec.recommend_batch(users, k=n_max)
    plain = plain.merge(shape, left_on="user_id", right_index=True)
    plain = plain[plain["rank"] <= plain.n]
    per_row = np.ceil(plain.n / plain.rows)
    plain["row"] = ((plain["rank"] - 1) // per_row).astype(int)
    plain["position"] = ((plain["rank"] - 1) % per_row).astype(int)

    def page_stats(frame: pd.DataFrame) -> dict:
        recs = frame.assign(rank=frame.groupby("user_id").cumcount() + 1)
        return {
            "titles/viewer": len(frame) / frame.user_id.nunique(),
            "catalog coverage": metrics.catalog_coverage(recs, catalog=data.item_ids),
            "mean novelty": metrics.novelty(recs, train),
            "2D-nDCG": metrics.ndcg_2d(frame, truth),
        }

    ours, base = page_stats(pages), page_stats(plain)
    print(f"data: {data}; test viewers: {len(users)}; row size {args.row_size}")
    print("\n| row | NDCG@10 |\n| --- | --- |")
    print(f"| plain ALS top-10 | {ndcg_als:.4f} |")
    print(f"| fairrec Top picks (first 10) | {ndcg_top:.4f} |")
    print(f"| ratio | {ndcg_top / ndcg_als:.3f} |")
    print("\n| page | " + " | ".join(ours) + " |")
    print("| --- |" + " --- |" * len(ours))
    print("| plain ALS rows | " + " | ".join(f"{v:.4f}" for v in base.values()) + " |")
    print("| fairrec default page | " + " | ".join(f"{v:.4f}" for v in ours.values()) + " |")
    print(
        f"\ncoverage ratio {ours['catalog coverage'] / base['catalog coverage']:.2f}x, "
        f"novelty {100 * (ours['mean novelty'] / base['mean novelty'] - 1):+.1f} %"
    )
    print("row kinds shown:", pages.groupby("row_kind").user_id.nunique().to_dict())
    if args.sweep:
        sweep(rec, split.train, users, truth, train, data, args.sweep)


def sweep(rec, train_data, users, truth, train, data, spec: str) -> None:
    """Same fitted model, other popularity caps on the exploratory rows."""
    from fairrec import rows as R

    print(
        "\n| caps (rows : gems) | titles/viewer | novelty | vs plain | coverage | vs plain "
        "| 2D-nDCG | plain 2D-nDCG |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    share = train.item_id.value_counts(normalize=True)
    floor = 1 / len(train)
    for setting in spec.split(","):
        cap, gq = (float(x) for x in setting.split(":"))
        kinds = [
            R.TopPicks(),
            R.BecauseYouWatched(max_popularity=cap),
            R.StatedInterests(),
            R.HiddenGems(quantile=gq),
            R.OutsideYourBubble(max_popularity=cap),
            R.DiversePopular(),
            R.PopularInGenre(),
        ]
        r = fr.Recommender.from_fitted(
            rec.model_,
            train_data,
            train_user_ids=rec.train_user_ids_,
            rows=kinds,
            row_size=rec.row_size,
        )
        pages = r.home_batch(users, progress=False)
        pages["user_id"] = pages.user_id.map({str(u): u for u in users})
        cast = type(data.item_ids[0].item())
        pages["item_id"] = pages.item_id.map(cast)
        n = len(pages) // len(users)
        plain = r.recommend_batch(users, k=n)
        nov = (-np.log2(pages.item_id.map(share).fillna(floor))).mean()
        pnov = (-np.log2(plain.item_id.map(share).fillna(floor))).mean()
        cov = pages.item_id.nunique() / data.n_items
        pcov = plain.item_id.nunique() / data.n_items
        plain = plain.assign(
            row=(plain["rank"] - 1) // rec.row_size, position=(plain["rank"] - 1) % rec.row_size
        )
        print(
            f"| {cap:g} : {gq:g} | {n} | {nov:.2f} | {100 * (nov / pnov - 1):+.1f} % | "
            f"{cov:.3f} | {cov / pcov:.2f}x | {metrics.ndcg_2d(pages, truth):.4f} | "
            f"{metrics.ndcg_2d(plain, truth):.4f} |"
        )


if __name__ == "__main__":
    main()
