"""Issue 15: variants of the default page, on MovieLens 100K or a synthetic catalog.

Same split, model and baseline as ``page_quality.py`` (per viewer the last 20 % of positives
by time held out; ALS(factors=64, iterations=15, random_state=0); baseline: plain ALS list of
the same length per viewer, same fitted model). With ``--validation`` the figures come from
a validation split carved the same way from the *training* part (the model refitted on the
rest): the page's settings are chosen there, never on the test split. Each variant is
``fairrec.rows.default_rows()`` with changes joined by ``+``:

- ``default``: the default page;
- ``ROW.PARAM=VALUE``: rebuild row ``ROW`` (``top``, ``more``, ``byw``, ``gems``,
  ``bubble``, ``otm``) with that parameter (a number, ``none``, or ``mmr:L`` /
  ``mmr-jaccard:L`` for an MMR re-ranker), e.g. ``byw.n_rows=2``, ``top.pool=40``;
- ``drop:ROW``: leave that row out; ``more@I``: insert a *More picks* row at place ``I``;
- ``gems-floor:F``, ``otm-floor:F``, ``otm-share:S``, ``otm-pure``, ``otm-first``,
  ``otm-twice``, ``byw-floor:F``: the third pass's one-row changes (RESULTS.md).

``--als`` changes the candidate model (keyword settings over the above, e.g.
``--als regularization=10``; the page and the baseline both use it); ``--by-history`` prints
each variant's figures per third of viewers by training history length (the issue's
"exploration by history length" lever). ``--rows`` prints each row kind's yield (held-out plays per title, median ALS rank);
``--shapes`` the frontier of pages drawn by rank alone (with and without a row of 10 titles
that find nothing, about a *Hidden gems* row); ``--speed N`` times ``home()`` and
``home_batch`` of N viewers per variant in CPU time.

Usage::

    python benchmarks/page_variants.py --data ../shared/data/ml-100k --validation --shapes \
        "top.pool=40+drop:more+byw.n_rows=2+otm.reranker=mmr:0.95" default more.pool=40
    python benchmarks/page_variants.py --data ../shared/data/ml-100k --validation --by-history \
        --als factors=64,alpha=1,regularization=10 default
    python benchmarks/page_variants.py --synthetic 20000:10000 --speed 200 default \
        "top.pool=40+drop:more+byw.n_rows=2+otm.reranker=mmr:0.95"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import fairrec as fr
from fairrec import metrics
from fairrec import rows as R
from fairrec.rerank import MMR
from fairrec.splits import temporal_holdout

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_quality import _typed, als_settings, head_titles, hits  # noqa: E402

ROWS = {
    "top": "TopPicks",
    "more": "MorePicks",
    "byw": "BecauseYouWatched",
    "gems": "HiddenGems",
    "bubble": "OutsideYourBubble",
    "otm": "OffTheMainstream",
}


def _value(text: str):
    """A parameter value: ``mmr:L`` / ``mmr-jaccard:L`` (an MMR re-ranker), ``none``, or a
    number."""
    if text.startswith("mmr"):
        kind, _, lam = text.partition(":")
        sim = "jaccard" if kind == "mmr-jaccard" else "cosine"
        return MMR(lambda_=float(lam), similarity=sim)
    if text == "none":
        return None
    return int(text) if text.isdigit() else float(text)


def _set(rows: list, term: str) -> None:
    """Apply one ``row.param=value`` change (the row rebuilt with its other parameters)."""
    lhs, _, rhs = term.partition("=")
    row, _, param = lhs.partition(".")
    cls = getattr(R, ROWS[row])
    for at, k in enumerate(rows):
        if type(k) is cls:
            rows[at] = cls(**(vars(k) | {param: _value(rhs)}))


def variant(name: str) -> list:
    """The default rows with the change(s) ``name`` names (see the module docstring)."""
    out = list(R.default_rows())
    for term in name.split("+"):
        if term.startswith("more@"):  # insert More picks at that place
            out.insert(int(term[5:]), R.MorePicks())
            continue
        if term.startswith("drop:"):
            out = [k for k in out if type(k).__name__ != ROWS[term[5:]]]
            continue
        if "=" in term:
            _set(out, term)
            continue
        key, _, arg = term.partition(":")
        for at, k in enumerate(out):
            if isinstance(k, R.HiddenGems) and key == "gems-floor":
                out[at] = R.HiddenGems(max_items=k.max_items, min_relevance=float(arg))
            elif isinstance(k, R.OffTheMainstream) and key == "otm-floor":
                out[at] = R.OffTheMainstream(min_relevance=float(arg))
            elif isinstance(k, R.OffTheMainstream) and key == "otm-share":
                out[at] = R.OffTheMainstream(max_share=float(arg))
            elif isinstance(k, R.OffTheMainstream) and key == "otm-pure":
                out[at] = R.OffTheMainstream(reranker=MMR(lambda_=1.0))
            elif isinstance(k, R.BecauseYouWatched) and key == "byw-floor":
                out[at] = R.BecauseYouWatched(n_rows=k.n_rows, min_relevance=float(arg))
        otm = next(k for k in out if isinstance(k, R.OffTheMainstream))
        if key == "otm-first":
            out.remove(otm)
            out.insert(1, otm)
        elif key == "otm-twice":
            more = R.OffTheMainstream(title="More off the mainstream for you")
            out.insert(out.index(otm) + 1, more)
        elif key not in {
            "default",
            "gems-floor",
            "otm-floor",
            "otm-share",
            "otm-pure",
            "byw-floor",
        }:
            raise SystemExit(f"unknown variant {name!r}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--synthetic", default="", help="'USERS:ITEMS' synthetic catalog instead")
    ap.add_argument(
        "--validation",
        action="store_true",
        help="evaluate on a validation split carved from the training part (the last 20 %% "
        "of each viewer's training positives; the model refitted on the rest): the "
        "held-out test split is not looked at",
    )
    ap.add_argument("--rows", action="store_true", help="also print each row kind's yield")
    ap.add_argument(
        "--shapes",
        action="store_true",
        help="also print what pages made of the viewer's ranks 1..Rh plus the non-head titles "
        "of ranks Rh+1..Rt reach, with and without 10 titles of no yield (a Hidden gems row)",
    )
    ap.add_argument(
        "--speed",
        type=int,
        default=0,
        help="also time home() for this many viewers per variant (thread CPU time per call, "
        "median and p90, variants interleaved over 3 rounds) and one home_batch of them",
    )
    ap.add_argument(
        "--als",
        default="",
        help="the candidate model's settings, e.g. 'factors=128,alpha=10,regularization=0.1' "
        "(over ALS(factors=64, iterations=15, random_state=0)); the page AND the plain-list "
        "baseline both use this model",
    )
    ap.add_argument(
        "--by-history",
        action="store_true",
        help="also print each variant's figures per third of viewers by training history "
        "length (short / middle / long): where more or less exploration would pay",
    )
    ap.add_argument("variants", nargs="*")
    args = ap.parse_args()
    if args.synthetic:
        n_users, n_items = (int(x) for x in args.synthetic.split(":"))
        data = fr.datasets.synthetic(n_users=n_users, n_items=n_items, seed=0)
    elif args.data is not None:
        data = fr.datasets.load_movielens(args.data, min_rating=4)
    else:
        raise SystemExit("give --data or --synthetic")
    split = temporal_holdout(data, fraction=0.2)
    if args.validation:
        split = temporal_holdout(split.train, fraction=0.2)
    model = fr.models.ALS(**als_settings(args.als))
    rec = fr.Recommender(model=model, row_size=20).fit(split.train)
    truth, train = split.test_frame(), split.train_frame()
    trained = set(train.user_id)
    users = [u for u in truth.user_id.unique() if u in trained]
    truth = truth[truth.user_id.isin(users)]
    head = head_titles(train)
    share = train.item_id.value_counts(normalize=True)
    floor = 1 / len(train)
    ndcg_als = metrics.ndcg_at_k(rec.recommend_batch(users, k=10), truth, k=10)
    on = "validation split (from the training part)" if args.validation else "test split"
    print(f"model: {model!r}")
    print(f"{on}; head: {len(head)} titles draw 80 % of the training plays; {len(users)} viewers")
    if args.shapes:
        shapes(rec, users, truth, head, data)
    if args.speed:
        speed(rec, split.train, users[: args.speed], args.variants)
        return
    print(
        "\n| variant | titles/viewer | page recall vs plain | long-tail hits vs plain "
        "| novelty vs plain | coverage vs plain | Top picks NDCG@10 vs plain "
        "| pages with the row kind |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
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
        plain = r.recommend_batch(users, k=max(int(n.max()), 600 if args.rows else 0))
        ranked = plain
        plain = plain[plain["rank"] <= plain.user_id.map(n)]
        h, t = hits(pages, truth, head)
        hp, tp = hits(plain, truth, head)
        nov = (-np.log2(pages.item_id.map(share).fillna(floor))).mean()
        pnov = (-np.log2(plain.item_id.map(share).fillna(floor))).mean()
        top = pages[pages.row_kind == "top_picks"].assign(rank=lambda f: f.position + 1)
        ndcg = metrics.ndcg_at_k(top[["user_id", "item_id", "rank"]], truth, k=10) / ndcg_als
        cov = pages.item_id.nunique() / plain.item_id.nunique()
        shown = pages.groupby("row_kind").user_id.nunique()
        kinds = ", ".join(f"{k} {v}" for k, v in shown.items())
        print(
            f"| {name} | {len(pages) / len(users):.1f} | {h / max(hp, 1):.3f}x ({h}/{hp}) | "
            f"{t / max(tp, 1):.3f}x ({t}/{tp}) | {100 * (nov / pnov - 1):+.1f} % ({nov:.2f} bits) | {cov:.2f}x "
            f"({pages.item_id.nunique()}) | "
            f"{ndcg:.3f}x | {kinds} |",
            flush=True,
        )
        if args.rows:
            row_yield(pages, ranked, truth, head)
        if args.by_history:
            by_history(pages, plain, truth, head, train)


def speed(rec, train_data, users: list, names: list[str], rounds: int = 3) -> None:
    """home() per viewer and home_batch for the same viewers, per variant, in CPU time."""
    import time

    recs = {
        name: fr.Recommender.from_fitted(
            rec.model_,
            train_data,
            train_user_ids=rec.train_user_ids_,
            rows=variant(name),
            row_size=rec.row_size,
        )
        for name in names
    }
    for r in recs.values():  # warm caches (title stats, contributions)
        r.home(users[0])
    per_call = {name: [] for name in names}
    batch = {name: [] for name in names}
    for _ in range(rounds):
        for name, r in recs.items():
            for u in users:
                t0 = time.thread_time()
                r.home(u)
                per_call[name].append(time.thread_time() - t0)
            t0 = time.process_time()
            r.home_batch(users, progress=False)
            batch[name].append(time.process_time() - t0)
    print(
        f"\n| variant | home() median ms | home() p90 ms | home_batch({len(users)}) s, median of "
        f"{rounds} |\n| --- | --- | --- | --- |"
    )
    for name in names:
        x = 1000 * np.asarray(per_call[name])
        print(
            f"| {name} | {np.median(x):.2f} | {np.percentile(x, 90):.2f} | "
            f"{np.median(batch[name]):.2f} |"
        )


def shapes(rec, users, truth, head, data, depth: int = 600) -> None:
    """Pages drawn from the plain ranking by rank alone: the viewer's ranks 1..``rh`` (head
    or not) plus the non-head titles of ranks ``rh + 1``..``rt``, with ``gems`` more titles
    that find nothing (about what a *Hidden gems* row of 10 finds: 0.1 % of them are played
    next). Figures vs the plain list of the same length per viewer, as above. No held-out
    knowledge chooses the titles: this is the frontier of rank-based allocations."""
    r = _typed(rec.recommend_batch(users, k=depth), users, data)
    pairs = set(zip(truth.user_id, truth.item_id))
    r["hit"] = [p in pairs for p in zip(r.user_id, r.item_id)]
    r["head"] = r.item_id.isin(head)
    print(
        "\n| rank-based page (Rh, Rt, titles of no yield) | titles/viewer | page recall vs plain "
        "| long-tail hits vs plain |\n| --- | --- | --- | --- |"
    )
    for gems in (0, 10):
        for rh in (20, 25, 30, 35, 40):
            for rt in (100, 150, 200):
                sel = (r["rank"] <= rh) | (~r["head"] & (r["rank"] <= rt))
                n = sel.groupby(r.user_id).sum() + gems
                plain = r[r["rank"] <= r.user_id.map(n)]
                h, t = r[sel].hit.sum(), (r[sel].hit & ~r[sel]["head"]).sum()
                hp, tp = plain.hit.sum(), (plain.hit & ~plain["head"]).sum()
                print(
                    f"| {rh}, {rt}, {gems} | {n.mean():.1f} | {h / hp:.3f}x | {t / max(tp, 1):.3f}x |"
                )


def by_history(pages, plain, truth, head, train) -> None:
    """Page recall and long-tail hits vs the plain list per third of viewers by the length
    of their training history, with each third's exploratory titles (rows other than *Top
    picks* / *More picks* / the non-personal rows) per page and their hits per title."""
    length = train.groupby("user_id").size()
    third = pd.qcut(length.rank(method="first"), 3, labels=["short", "middle", "long"])
    pairs = set(zip(truth.user_id, truth.item_id))
    explore = {"because_you_watched", "hidden_gems", "outside_your_bubble", "off_the_mainstream"}
    print(
        "| history third (plays) | viewers | page recall vs plain | long-tail hits vs plain "
        "| exploratory titles/page | their hit rate | Top/More picks hit rate |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in ("short", "middle", "long"):
        who = set(third.index[third == name])
        pg, pl = pages[pages.user_id.isin(who)], plain[plain.user_id.isin(who)]
        h, t = hits(pg, truth, head)
        hp, tp = hits(pl, truth, head)
        hit = np.array([x in pairs for x in zip(pg.user_id, pg.item_id)], dtype=bool)
        ex = pg.row_kind.isin(explore).to_numpy()
        tm = pg.row_kind.isin({"top_picks", "more_picks"}).to_numpy()
        span = length[length.index.isin(who)]
        print(
            f"| {name} ({span.min()}-{span.max()}) | {len(who)} | {h / max(hp, 1):.3f}x "
            f"({h}/{hp}) | {t / max(tp, 1):.3f}x ({t}/{tp}) | {ex.sum() / len(who):.1f} | "
            f"{hit[ex].mean():.4f} | {hit[tm].mean():.4f} |"
        )


def row_yield(pages, ranked, truth, head) -> None:
    """Per row kind: titles per page, held-out hits per title shown, long-tail hits, and the
    median rank of its titles in the viewer's plain ALS list (600 deep; deeper: 601)."""
    rank = ranked.set_index(["user_id", "item_id"])["rank"]
    pairs = set(zip(truth.user_id, truth.item_id))
    p = pages.assign(
        hit=[x in pairs for x in zip(pages.user_id, pages.item_id)],
        rank=rank.reindex(pd.MultiIndex.from_frame(pages[["user_id", "item_id"]]))
        .fillna(601)
        .to_numpy(),
    )
    p["tail_hit"] = p.hit & ~p.item_id.isin(head)
    g = p.groupby("row_kind")
    out = pd.DataFrame(
        {
            "titles": g.size(),
            "hits": g.hit.sum(),
            "hit rate": g.hit.mean().round(4),
            "long-tail hits": g.tail_hit.sum(),
            "median ALS rank": g["rank"].median(),
        }
    )
    print(out.to_string())


if __name__ == "__main__":
    main()
