"""Whole-page quality on MovieLens 100K: fairrec's default page vs a page of plain ALS rows.

Split: per viewer, the last 20 % of positives (rating >= 4) by time are the test set.
Model: ALS(factors=64, iterations=15, random_state=0) fitted on the training part
(``--als regularization=10`` etc. changes it, for the page and every baseline alike).

- *Top picks* row: NDCG@10 of its first 10 titles vs plain ALS top-10 (same model).
- Whole page (all rows): catalog coverage (distinct titles shown to the test viewers / catalog)
  and mean novelty (-log2 of a title's share of training plays) vs a page of plain ALS rows
  of the same shape (same number of rows and titles per viewer, filled with the ALS ranking).
- Page metrics: 2D-nDCG (Felicioni et al. 2022) of both pages.

With ``--truth`` it reports instead whether the page's claims hold (issue 14), measured
from the raw ``u.data`` file, independently of fairrec's own evidence:

- *Hidden gems*: share whose mean rating (all raters) is >= the catalog median of the titles'
  mean ratings (goal >= 80 %), and their median popularity percentile among the catalog's
  titles (share of titles with fewer ratings; goal <= 30 %);
- *Outside your bubble*: genre distance of the row to the viewer's history (1 - cosine of the
  genre mixes) divided by Top picks' distance (goal >= 1.5);
- *Because you watched*: share of anchors (Top picks and Because-you-watched rows) that are
  the top contributor to the title's score per implicit's own ``ALS.explain`` (goal 100 %).

Usage::

    python benchmarks/page_quality.py --data ../shared/data/ml-100k
    python benchmarks/page_quality.py --synthetic 20000:10000
    python benchmarks/page_quality.py --truth --data ../shared/data/ml-100k
    python benchmarks/page_quality.py --data ../shared/data/ml-100k --frontier \
        1.0:0.8,0.9:0.8,0.8:0.8,0.7:0.8,0.8:0.9,0.8:0.6,0.7:0 --serendipity-oracle --bound

``--bound`` and the ceiling rows of ``--serendipity-oracle`` use the held-out data itself
(in-sample hit rates): they say what the catalog allows, not what fairrec achieves.
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
        "--als",
        default="",
        help="the candidate model's settings over the default 'factors=64,iterations=15,"
        "random_state=0', e.g. 'regularization=10' (page AND baseline use this model)",
    )
    ap.add_argument(
        "--sweep",
        default="",
        help="comma-separated 'cap:quantile' settings of the exploratory rows' popularity caps "
        "(BecauseYouWatched/OutsideYourBubble max_popularity : HiddenGems quantile), e.g. "
        "'1.0:0.8,0.9:0.7,0.8:0.6,0.7:0.5,0.6:0.5'; prints the novelty / 2D-nDCG trade-off",
    )
    ap.add_argument(
        "--frontier",
        default="",
        help="comma-separated 'cap:floor[:more]' exploration settings of the default page's "
        "exploratory rows (popularity bound : relevance floor : More picks depth in row "
        "sizes, 0 = no More picks row; see explored()), e.g. "
        "'0.8:0.8:1.5,0.8:0.8:0,0.8:0.8:2,1.0:0.8,0.9:0.8,0.7:0.8,0.8:0.9,0.8:0.6'; prints "
        "page recall and long-tail hits vs the plain list and saves "
        "benchmarks/results/frontier_recall_tail_<data>.png (the default marked)",
    )
    ap.add_argument(
        "--serendipity-oracle",
        action="store_true",
        help="also re-rank ALS's top titles by score x the serendipity metric's own "
        "unexpectedness (small catalogs: builds the item-item co-occurrence matrix)",
    )
    ap.add_argument(
        "--bound",
        action="store_true",
        help="also print what pages drawn from ALS's top 600 titles could reach with in-sample "
        "hit rates (the recall / long-tail / novelty trade-off of the catalog)",
    )
    ap.add_argument(
        "--truth", action="store_true", help="report whether the page's claims hold (issue 14)"
    )
    args = ap.parse_args()
    if args.truth:
        if args.data is None:
            ap.error("--truth needs --data (a MovieLens 100K folder)")
        truth_report(args.data, args.row_size)
        return
    if args.synthetic:
        n_users, n_items = (int(x) for x in args.synthetic.split(":"))
        data = fr.datasets.synthetic(n_users=n_users, n_items=n_items, seed=0)
    elif args.data is not None:
        data = fr.datasets.load_movielens(args.data, min_rating=4)
    else:
        data = fr.datasets.synthetic(n_users=5_000, n_items=3_000, seed=0)
    split = temporal_holdout(data, fraction=0.2)
    model = fr.models.ALS(**als_settings(args.als))
    print(f"model: {model!r}")
    rec = fr.Recommender(model=model, row_size=args.row_size).fit(split.train)
    truth = split.test_frame()
    train = split.train_frame()
    trained = set(train.user_id)
    users = [u for u in truth.user_id.unique() if u in trained]
    truth = truth[truth.user_id.isin(users)]

    pages = rec.home_batch(users, progress=False)
    pages = _typed(pages, users, data)

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
    per_row = np.ceil(plain.n.to_numpy(np.float64) / plain.rows.to_numpy(np.float64))
    rank0 = plain["rank"].to_numpy(np.int64) - 1
    plain["row"] = (rank0 // per_row).astype(int)
    plain["position"] = (rank0 % per_row).astype(int)

    def page_stats(frame: pd.DataFrame) -> dict:
        recs = frame.assign(rank=frame.groupby("user_id").cumcount() + 1)
        return {
            "titles/viewer": len(frame) / frame.user_id.nunique(),
            "catalog coverage": metrics.catalog_coverage(recs, catalog=data.item_ids),
            "mean novelty": metrics.novelty(recs, train),
            "2D-nDCG": metrics.ndcg_2d(frame, truth),
        }

    ours, base = page_stats(pages), page_stats(plain)
    # the plain list of the same length per viewer: page recall and long-tail hits
    same = plain[["user_id", "item_id"]]
    head = head_titles(train)
    hits_page, tail_page = hits(pages, truth, head)
    hits_plain, tail_plain = hits(same, truth, head)
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
    print(
        f"\n| held-out positives ({len(truth)}; {int((~truth.item_id.isin(head)).sum())} "
        "long-tail) | found | long-tail found |\n| --- | --- | --- |"
    )
    print(f"| plain ALS list, same length per viewer | {hits_plain} | {tail_plain} |")
    print(f"| fairrec default page | {hits_page} | {tail_page} |")
    print(
        f"| ratio | {hits_page / max(hits_plain, 1):.2f}x | {tail_page / max(tail_plain, 1):.2f}x |"
    )
    print(
        f"\npage recall {hits_page / len(truth):.4f} vs plain {hits_plain / len(truth):.4f} "
        f"({hits_page / max(hits_plain, 1):.2f}x); long-tail hits {tail_page} vs {tail_plain} "
        f"({tail_page / max(tail_plain, 1):.2f}x); coverage ceiling "
        f"{min(1.0, len(users) * ours['titles/viewer'] / data.n_items) / base['catalog coverage']:.2f}x"
    )
    print("row kinds shown:", pages.groupby("row_kind").user_id.nunique().to_dict())
    print("\n| row kind | pages | titles | held-out hits | long-tail hits |\n| --- | --- | --- | --- | --- |")
    for kind, rows in pages.groupby("row_kind"):
        h, t = hits(rows, truth, head)
        print(f"| {kind} | {rows.user_id.nunique()} | {len(rows)} | {h} | {t} |")
    pers = len(users)
    print(
        "hidden gems on "
        f"{100 * pages[pages.row_kind == 'hidden_gems'].user_id.nunique() / pers:.1f} % "
        "of personalized pages"
    )
    serendipity_report(rec, users, truth, train)
    if args.bound:
        allocation_bound(rec, users, truth, train, data, shape.n)
    if args.serendipity_oracle:
        serendipity_oracle(rec, users, truth, train, data)
    if args.sweep:
        sweep(rec, split.train, users, truth, train, data, args.sweep)
    if args.frontier:
        name = f"synthetic{args.synthetic.replace(':', 'x')}" if args.synthetic else "ml100k"
        frontier(rec, split.train, users, truth, train, data, args.frontier, name)


def als_settings(text: str) -> dict:
    """``ALS`` keyword arguments from ``'factors=128,alpha=10'`` over the benchmarks'
    ``factors=64, iterations=15, random_state=0``."""
    out: dict = {"factors": 64, "iterations": 15, "random_state": 0}
    for term in filter(None, text.split(",")):
        key, _, value = term.partition("=")
        value = value.strip()
        out[key.strip()] = int(value) if value.isdigit() else float(value)
    return out


def _typed(pages: pd.DataFrame, users: list, data) -> pd.DataFrame:
    """The page frame with the split's own id values (pages carry canonical ids)."""
    from fairrec.ids import canon_id

    pages = pages.copy()
    pages["user_id"] = pages.user_id.map({canon_id(u): u for u in users} | {u: u for u in users})
    first = data.item_ids[0]
    cast = type(first.item() if hasattr(first, "item") else first)
    pages["item_id"] = pages.item_id.map(cast)
    return pages


def head_titles(train: pd.DataFrame, share: float = 0.8) -> set:
    """The head: the most played titles that together draw ``share`` of the training plays."""
    counts = train.item_id.value_counts()
    cum = counts.cumsum() / counts.sum()
    n_head = int(np.searchsorted(cum.to_numpy(), share, side="left")) + 1
    return set(counts.index[:n_head])


def hits(frame: pd.DataFrame, truth: pd.DataFrame, head: set) -> tuple[int, int]:
    """Held-out positives found anywhere in ``frame``, and those outside ``head``."""
    got = frame[["user_id", "item_id"]].drop_duplicates().merge(truth[["user_id", "item_id"]])
    return len(got), int((~got.item_id.isin(head)).sum())


def allocation_bound(rec, users, truth, train, data, length: pd.Series, depth: int = 600):
    """The trade-off any page of the same length per viewer drawn from ALS's top ``depth``
    titles faces, with knowledge no page has: each title's chance of being played next is
    the hit rate *measured on the held-out data* at its ALS rank (a moving mean over 15
    ranks). Titles are chosen by ``p_hit * (1 + lam * outside_head) + mu * novelty_bits``;
    each row of the table is one (lam, mu). Page figures vs the plain list of the same
    length, as above."""
    ranked = rec.recommend_batch(users, k=depth)[["user_id", "item_id", "rank"]]
    ranked = _typed(ranked, users, data)
    ranked = ranked[ranked["rank"] <= depth]
    pairs = set(zip(truth.user_id, truth.item_id))
    ranked["hit"] = [p in pairs for p in zip(ranked.user_id, ranked.item_id)]
    head = head_titles(train)
    ranked["outside"] = ~ranked.item_id.isin(head)
    share = train.item_id.value_counts(normalize=True)
    ranked["bits"] = -np.log2(ranked.item_id.map(share).fillna(1 / len(train)))
    curve = ranked.groupby("rank").hit.mean().rolling(15, center=True, min_periods=1).mean()
    p_hit = ranked["rank"].map(curve).to_numpy()
    n = ranked.user_id.map(length).to_numpy()

    def figures(chosen: pd.DataFrame) -> tuple:
        hit = chosen.hit.sum()
        return (
            hit,
            (chosen.hit & chosen.outside).sum(),
            chosen.bits.mean(),
            chosen.item_id.nunique(),
        )

    plain = figures(ranked[ranked["rank"].to_numpy() <= n])
    print(
        f"\n| in-sample allocation bound from ALS's top {depth} (lam, mu) | page recall vs plain "
        "| long-tail hits vs plain | novelty vs plain | coverage vs plain |\n"
        "| --- | --- | --- | --- | --- |"
    )
    for lam in (0.0, 1.0, 2.0, 3.0):
        for mu in (0.0, 0.002, 0.004, 0.006):
            key = p_hit * (1.0 + lam * ranked.outside.to_numpy()) + mu * ranked.bits.to_numpy()
            q = ranked.assign(key=key).sort_values(
                ["user_id", "key", "rank"], ascending=[True, False, True], kind="stable"
            )
            q = q[q.groupby("user_id").cumcount().to_numpy() < q.user_id.map(length).to_numpy()]
            h, t, b, c = figures(q)
            print(
                f"| {lam:g}, {mu:g} | {h / plain[0]:.2f}x | {t / max(plain[1], 1):.2f}x | "
                f"{100 * (b / plain[2] - 1):+.1f} % | {c / plain[3]:.2f}x |"
            )


def serendipity_report(rec, users, truth, train) -> None:
    """The ``Serendipity`` re-ranker vs plain ALS top-10 (same model, same candidates)."""
    plain = rec.recommend_batch(users, k=10)
    ser = rec.recommend_batch(users, k=10, reranker=fr.rerank.Serendipity())
    print(
        "\n| top-10 | NDCG@10 | serendipity | unexpectedness | novelty |\n| --- | --- | --- | --- | --- |"
    )
    figures = []
    for name, recs in (("plain ALS", plain), ("Serendipity()", ser)):
        f = (
            metrics.ndcg_at_k(recs, truth, k=10),
            metrics.serendipity(recs, truth, train=train, k=10),
            metrics.unexpectedness(recs, train, k=10),
            metrics.novelty(recs, train, k=10),
        )
        figures.append(f)
        print(f"| {name} | " + " | ".join(f"{x:.4f}" for x in f) + " |")
    (n0, s0, u0, _), (n1, s1, u1, _) = figures
    print(
        f"Serendipity vs plain: NDCG@10 {n1 / n0:.3f}x, serendipity {100 * (s1 / s0 - 1):+.1f} %, "
        f"unexpectedness {100 * (u1 / u0 - 1):+.1f} %"
    )


def explored(cap: float, floor: float, more: float | None = None) -> list:
    """The default rows with other exploration settings: ``cap`` the popularity bound of
    the exploratory rows (BecauseYouWatched / OutsideYourBubble ``max_popularity``,
    OffTheMainstream ``max_share``), ``floor`` their relevance floor (``min_relevance`` of
    BecauseYouWatched and OffTheMainstream), ``more`` the depth of *More picks* in row sizes
    (its ``pool``; 1 or less: no *More picks* row; None: the default's). Every other
    parameter stays the default's."""
    from fairrec import rows as R

    out = []
    for kind in R.default_rows():
        if isinstance(kind, R.BecauseYouWatched):
            kind = R.BecauseYouWatched(
                **(vars(kind) | {"max_popularity": cap, "min_relevance": floor})
            )
        elif isinstance(kind, R.OutsideYourBubble):
            kind = R.OutsideYourBubble(**(vars(kind) | {"max_popularity": cap}))
        elif isinstance(kind, R.OffTheMainstream):
            kind = R.OffTheMainstream(**(vars(kind) | {"max_share": cap, "min_relevance": floor}))
        elif isinstance(kind, R.MorePicks) and more is not None:
            if more <= 1:
                continue
            kind = _deeper(kind, more)
        out.append(kind)
    return out


def _deeper(kind, more: float):
    """*More picks* whose pool is ``more`` row sizes (the row size is known at build time)."""
    from fairrec import rows as R

    class Deeper(R.MorePicks):
        def depth(self, k: int) -> int:
            return int(round(more * k))

    return Deeper(reranker=kind.reranker, title=kind.title)


def frontier(rec, train_data, users, truth, train, data, spec: str, name: str) -> None:
    """Page recall vs long-tail hits (both vs the plain list of the same length per viewer)
    for other exploration settings of the same fitted model; saves the frontier plot."""
    from fairrec import rows as R

    head = head_titles(train)
    byw = next(k for k in R.default_rows() if isinstance(k, R.BecauseYouWatched))
    d_key = (byw.max_popularity, byw.min_relevance, 1.5)
    print(
        "\n| exploration (popularity cap : relevance floor : More picks depth) | titles/viewer "
        "| page recall vs plain | long-tail hits "
        "vs plain | novelty vs plain |\n| --- | --- | --- | --- | --- |"
    )
    share = train.item_id.value_counts(normalize=True)
    floor_ = 1 / len(train)
    table = {}
    for setting in spec.split(","):
        cap, floor, *rest = (float(x) for x in setting.split(":"))
        more = rest[0] if rest else 1.5
        kinds = explored(cap, floor, more)
        r = fr.Recommender.from_fitted(
            rec.model_,
            train_data,
            train_user_ids=rec.train_user_ids_,
            rows=kinds,
            row_size=rec.row_size,
        )
        pages = _typed(r.home_batch(users, progress=False), users, data)
        n = pages.groupby("user_id").size()
        plain = r.recommend_batch(users, k=int(n.max()))
        plain = plain[plain["rank"] <= plain.user_id.map(n)]
        h, t = hits(pages, truth, head)
        hp, tp = hits(plain, truth, head)
        nov = (-np.log2(pages.item_id.map(share).fillna(floor_))).mean()
        pnov = (-np.log2(plain.item_id.map(share).fillna(floor_))).mean()
        default = (cap, floor, more) == d_key
        label = f"{cap:g} : {floor:g} : {more:g}" + (" (default)" if default else "")
        table[label] = {
            "page recall vs plain": h / max(hp, 1),
            "long-tail hits vs plain": t / max(tp, 1),
        }
        print(
            f"| {label} | {len(pages) / len(users):.1f} | {h / max(hp, 1):.2f}x ({h}/{hp}) | "
            f"{t / max(tp, 1):.2f}x ({t}/{tp}) | {100 * (nov / pnov - 1):+.1f} % |"
        )
    frame = pd.DataFrame(table).T
    fig = fr.plot.tradeoff(
        frame,
        x="long-tail hits vs plain",
        y="page recall vs plain",
        x_higher=True,
        y_higher=True,
        title="Default page, exploration settings (popularity cap : relevance floor : "
        f"More picks depth), {name}",
    )
    out = Path(__file__).resolve().parent / "results" / f"frontier_recall_tail_{name}.png"
    fig.savefig(out, bbox_inches="tight")
    print(f"saved {out}")


def serendipity_oracle(rec, users, truth, train, data) -> None:
    """Upper check for any relevance x unexpectedness re-ranker: re-rank each viewer's top
    ``depth`` ALS titles by ``score * unexp ** w`` where ``unexp`` is *the metric's own*
    unexpectedness (1 - mean co-occurrence cosine to the training history, computed exactly).
    Needs the (n_items, n_items) co-occurrence matrix: small catalogs only."""
    import scipy.sparse as sp

    ids = pd.Index(data.item_ids)
    uids = pd.Index(train.user_id.unique())
    x = sp.csr_matrix(
        (np.ones(len(train)), (uids.get_indexer(train.user_id), ids.get_indexer(train.item_id))),
        shape=(len(uids), len(ids)),
    )
    x.data[:] = 1.0
    norm = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
    xn = x @ sp.diags(1.0 / np.where(norm > 0, norm, 1.0))
    cos = (xn.T @ xn).toarray()
    ranked = rec.recommend_batch(users, k=100)
    ranked["i"] = ids.get_indexer(ranked.item_id)
    hist = train.groupby("user_id").item_id.apply(lambda s: ids.get_indexer(s))
    unexp = np.empty(len(ranked))
    for u, at in ranked.groupby("user_id").indices.items():
        unexp[at] = 1.0 - cos[np.ix_(ranked.i.to_numpy()[at], hist[u])].mean(axis=1)
    ranked["unexp"] = unexp
    similarity_report(rec, ranked, hist, train)

    def figures(recs):
        return (
            metrics.ndcg_at_k(recs, truth, k=10),
            metrics.serendipity(recs, truth, train=train, k=10),
            metrics.unexpectedness(recs, train, k=10),
        )

    base = figures(ranked[ranked["rank"] <= 10])
    print(
        "\n| oracle re-rank (depth, w) | NDCG@10 vs plain | serendipity vs plain "
        "| unexpectedness vs plain |\n| --- | --- | --- | --- |"
    )
    for depth in (30, 100):
        for w in (0.5, 1.0, 2.0):
            q = ranked[ranked["rank"] <= depth].copy()
            q["obj"] = q.score.clip(lower=0) * q.unexp**w
            q = q.sort_values(["user_id", "obj"], ascending=[True, False], kind="stable")
            q["rank"] = q.groupby("user_id").cumcount() + 1
            got = figures(q[q["rank"] <= 10])
            print(f"| {depth}, {w:g} | " + " | ".join(f"{a / b:.3f}x" for a, b in zip(got, base)))
    serendipity_ceiling(ranked, truth, train, figures, base)


def similarity_report(rec, ranked, hist, train) -> None:
    """What the metric's co-occurrence unexpectedness follows among a viewer's candidates:
    mean within-viewer Spearman correlation with log plays, with the factor cosine to the
    mean vector of the history (the space ``Serendipity`` compares in), with the score."""
    from scipy.stats import spearmanr

    v = np.array(rec.model_.item_vectors, dtype=np.float64)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    logplays = np.log1p(ranked.item_id.map(train.item_id.value_counts()).fillna(0).to_numpy())
    cosine = np.empty(len(ranked))
    items = ranked.i.to_numpy()
    groups = ranked.groupby("user_id").indices
    for u, at in groups.items():
        m = v[hist[u]].mean(axis=0)
        cosine[at] = v[items[at]] @ m / max(np.linalg.norm(m), 1e-12)
    unexp, score = ranked.unexp.to_numpy(), ranked.score.to_numpy()
    rho = {"log plays": [], "factor cosine to the history": [], "model score": []}
    for at in groups.values():
        for name, x in zip(rho, (logplays, cosine, score)):
            rho[name].append(spearmanr(x[at], unexp[at])[0])
    print(
        "\nco-occurrence unexpectedness of the top-100 candidates, mean within-viewer Spearman "
        "with: " + ", ".join(f"{k} {np.nanmean(x):+.2f}" for k, x in rho.items())
    )


def serendipity_ceiling(ranked, truth, train, figures, base) -> None:
    """A ceiling for any re-ranker that sees the model's ranking and title popularity.

    Each of the viewer's top ``depth`` titles gets the hit rate *measured on the held-out
    data itself* for its rank (buckets of 5) and popularity decile: in-sample knowledge no
    re-ranker has. Re-ranking by ``p_hit * unexp ** w`` (``w = 1`` maximizes the expected
    serendipity under that knowledge, ``w = 0`` the expected hits) bounds what re-ranking
    ALS's candidates can do for the serendipity metric on this split."""
    q = ranked.copy()
    hit = (
        pd.Series(list(zip(q.user_id, q.item_id)))
        .isin(set(zip(truth.user_id, truth.item_id)))
        .to_numpy()
    )
    plays = q.item_id.map(train.item_id.value_counts()).fillna(0)
    q["pop_decile"] = pd.qcut(plays.rank(method="first"), 10, labels=False)
    q["rank_bucket"] = (q["rank"] - 1) // 5
    q["p_hit"] = (
        pd.Series(hit, index=q.index).groupby([q.rank_bucket, q.pop_decile]).transform("mean")
    )
    print(
        "\n| ceiling: re-rank by in-sample hit rate (depth, w) | NDCG@10 vs plain "
        "| serendipity vs plain | unexpectedness vs plain |\n| --- | --- | --- | --- |"
    )
    for depth in (30, 100):
        for w in (0.0, 1.0):
            d = q[q["rank"] <= depth].copy()
            d["obj"] = d.p_hit * d.unexp**w
            d = d.sort_values(
                ["user_id", "obj", "rank"], ascending=[True, False, True], kind="stable"
            )
            d["rank"] = d.groupby("user_id").cumcount() + 1
            got = figures(d[d["rank"] <= 10])
            print(f"| {depth}, {w:g} | " + " | ".join(f"{a / b:.3f}x" for a, b in zip(got, base)))


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
        pages = _typed(pages, users, data)
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


def truth_report(path: Path, row_size: int) -> None:
    """Issue 14's figures on ml-100k, for both ways of loading it."""
    raw = pd.read_csv(Path(path) / "u.data", sep="\t", names=["user_id", "item_id", "rating", "t"])
    print(
        "| load | rows shown | gems >= median rating | gems' median popularity pct "
        "| bubble / top picks genre distance | anchors = top contributor |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for keep in (True, False):
        data = fr.datasets.load_movielens(path, min_rating=4, keep_below=keep)
        rec = fr.Recommender(
            model=fr.models.ALS(factors=64, iterations=15, random_state=0), row_size=row_size
        ).fit(data)
        pages = rec.home_batch(list(data.user_ids), progress=False, as_pages=True)
        figures = _truth_figures(raw, data, rec, pages)
        label = "`min_rating=4, keep_below=True`" if keep else "`min_rating=4`"
        print(f"| {label} | " + " | ".join(figures) + " |")


def _truth_figures(raw: pd.DataFrame, data, rec, pages) -> list[str]:
    ids = pd.Index(data.item_ids)
    mean = raw.groupby("item_id").rating.mean()
    median = float(mean.median())  # catalog median of the titles' mean ratings
    counts = raw.groupby("item_id").size().reindex(ids, fill_value=0).to_numpy()
    pct = np.searchsorted(np.sort(counts), counts, side="left") / len(counts)
    pct = pd.Series(pct, index=ids)
    gems = [it.item_id for p in pages for r in p.rows if r.kind == "hidden_gems" for it in r]
    # genre mixes
    names = data.genre_names
    g = np.zeros((data.n_items, len(names)))
    for i, gs in enumerate(data.catalog.genres):
        for x in gs:
            g[i, names.index(x)] = 1.0
    pos = data.to_csr()
    pos.data = (pos.data > 0).astype(float)
    pos.eliminate_zeros()
    solver = rec.fitted_state_.model_.solver

    def dist(items: list, hist_mix: np.ndarray) -> float:
        mix = g[data.item_index(items)].sum(axis=0)
        den = np.linalg.norm(mix) * np.linalg.norm(hist_mix)
        return 1.0 - float(mix @ hist_mix / den) if den > 0 else np.nan

    bubble, top, anchored, top_ok = [], [], 0, 0
    for p in pages:
        u = int(data.user_index([p.user_id])[0])
        hist = pos[u]
        hist_mix = g[hist.indices].sum(axis=0)
        kinds = {r.kind: r for r in p.rows}
        if "outside_your_bubble" in kinds and "top_picks" in kinds:
            bubble.append(dist(list(kinds["outside_your_bubble"].item_ids), hist_mix))
            top.append(dist(list(kinds["top_picks"].item_ids), hist_mix))
        for r in p.rows:
            for it in r:
                e = it.reason.evidence or {}
                if e.get("anchor_id") is None:
                    continue
                i = int(data.item_index([it.item_id])[0])
                _, contrib, _ = solver.explain(0, hist, i, N=hist.nnz)
                best = max(c for _, c in contrib)
                a = int(data.item_index([int(e["anchor_id"])])[0])
                mine = dict(contrib).get(a, -np.inf)
                anchored += 1
                top_ok += mine >= best - 1e-6 * max(1.0, abs(best))
    shown = {
        k: sum(any(r.kind == k for r in p.rows) for p in pages)
        for k in ("hidden_gems", "outside_your_bubble", "because_you_watched")
    }
    return [
        ", ".join(f"{k} {v}/{len(pages)}" for k, v in shown.items()),
        f"{100 * np.mean(mean.reindex(gems).to_numpy() >= median):.1f} % of {len(gems)} "
        f"(median {median:.2f})"
        if gems
        else "n/a",
        f"{100 * float(np.median(pct.reindex(gems))):.1f} %" if gems else "n/a",
        f"{np.nanmean(bubble):.3f} / {np.nanmean(top):.3f} = "
        f"{np.nanmean(bubble) / np.nanmean(top):.2f} ({len(bubble)} viewers)",
        f"{100 * top_ok / max(anchored, 1):.1f} % of {anchored}",
    ]


if __name__ == "__main__":
    main()
