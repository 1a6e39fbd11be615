"""Issue 15, third pass: one-change variants of the default page on MovieLens 100K.

Same split, model and baseline as ``page_quality.py`` (per viewer the last 20 % of positives
by time held out; ALS(factors=64, iterations=15, random_state=0); baseline: plain ALS list of
the same length per viewer, same fitted model). Each variant changes one row of
``fairrec.rows.default_rows()``:

- ``default``: the default page;
- ``gems-floor:F``: *Hidden gems* with ``min_relevance=F`` (catalog-relative floor);
- ``otm-floor:F``: *Off the mainstream* with ``min_relevance=F``;
- ``otm-share:S``: *Off the mainstream* with ``max_share=S`` (0.78 ~ the play-share head);
- ``otm-pure``: *Off the mainstream* ordered by relevance only (``MMR(lambda_=1.0)``);
- ``otm-first``: *Off the mainstream* built right after *Top picks*;
- ``otm-twice``: a second *Off the mainstream* row after the first;
- ``byw-floor:F``: *Because you watched* with ``min_relevance=F``.

Usage::

    python benchmarks/page_variants.py --data ../shared/data/ml-100k \
        default gems-floor:0.8 otm-floor:0.9 otm-share:0.78 otm-pure otm-first otm-twice \
        byw-floor:0.9
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import fairrec as fr
from fairrec import metrics
from fairrec import rows as R
from fairrec.rerank import MMR
from fairrec.splits import temporal_holdout

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_quality import _typed, head_titles, hits  # noqa: E402


def variant(name: str) -> list:
    """The default rows with the one change ``name`` names (see the module docstring)."""
    key, _, arg = name.partition(":")
    out = []
    for k in R.default_rows():
        if isinstance(k, R.HiddenGems) and key == "gems-floor":
            k = R.HiddenGems(max_items=k.max_items, min_relevance=float(arg))
        elif isinstance(k, R.OffTheMainstream) and key == "otm-floor":
            k = R.OffTheMainstream(min_relevance=float(arg))
        elif isinstance(k, R.OffTheMainstream) and key == "otm-share":
            k = R.OffTheMainstream(max_share=float(arg))
        elif isinstance(k, R.OffTheMainstream) and key == "otm-pure":
            k = R.OffTheMainstream(reranker=MMR(lambda_=1.0))
        elif isinstance(k, R.BecauseYouWatched) and key == "byw-floor":
            k = R.BecauseYouWatched(n_rows=k.n_rows, min_relevance=float(arg))
        out.append(k)
    otm = next(k for k in out if isinstance(k, R.OffTheMainstream))
    if key == "otm-first":
        out.remove(otm)
        out.insert(1, otm)
    elif key == "otm-twice":
        more = R.OffTheMainstream(title="More off the mainstream for you")
        out.insert(out.index(otm) + 1, more)
    elif key not in {"default", "gems-floor", "otm-floor", "otm-share", "otm-pure", "byw-floor"}:
        raise SystemExit(f"unknown variant {name!r}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("variants", nargs="+")
    args = ap.parse_args()
    data = fr.datasets.load_movielens(args.data, min_rating=4)
    split = temporal_holdout(data, fraction=0.2)
    model = fr.models.ALS(factors=64, iterations=15, random_state=0)
    rec = fr.Recommender(model=model, row_size=20).fit(split.train)
    truth, train = split.test_frame(), split.train_frame()
    trained = set(train.user_id)
    users = [u for u in truth.user_id.unique() if u in trained]
    truth = truth[truth.user_id.isin(users)]
    head = head_titles(train)
    share = train.item_id.value_counts(normalize=True)
    floor = 1 / len(train)
    ndcg_als = metrics.ndcg_at_k(rec.recommend_batch(users, k=10), truth, k=10)
    print(f"head: {len(head)} titles draw 80 % of the training plays; {len(users)} viewers")
    print(
        "\n| variant | titles/viewer | page recall vs plain | long-tail hits vs plain "
        "| novelty vs plain | coverage vs plain | Top picks NDCG@10 vs plain "
        "| pages with the changed row's kind |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    for name in args.variants:
        r = fr.Recommender.from_fitted(
            rec.model_,
            split.train,
            train_user_ids=rec.train_user_ids_,
            rows=variant(name),
            row_size=rec.row_size,
        )
        pages = _typed(r.home_batch(users, progress=False), users, data)
        n = pages.groupby("user_id").size()
        plain = r.recommend_batch(users, k=int(n.max()))
        plain = plain[plain["rank"] <= plain.user_id.map(n)]
        h, t = hits(pages, truth, head)
        hp, tp = hits(plain, truth, head)
        nov = (-np.log2(pages.item_id.map(share).fillna(floor))).mean()
        pnov = (-np.log2(plain.item_id.map(share).fillna(floor))).mean()
        top = pages[pages.row_kind == "top_picks"].assign(rank=lambda f: f.position + 1)
        ndcg = metrics.ndcg_at_k(top[["user_id", "item_id", "rank"]], truth, k=10) / ndcg_als
        cov = pages.item_id.nunique() / plain.item_id.nunique()
        shown = pages.groupby("row_kind").user_id.nunique()
        kinds = ", ".join(
            f"{k} {shown.get(k, 0)}"
            for k in ("because_you_watched", "hidden_gems", "off_the_mainstream")
        )
        print(
            f"| {name} | {len(pages) / len(users):.1f} | {h / hp:.3f}x ({h}/{hp}) | "
            f"{t / tp:.3f}x ({t}/{tp}) | {100 * (nov / pnov - 1):+.1f} % | {cov:.2f}x | "
            f"{ndcg:.3f}x | {kinds} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
