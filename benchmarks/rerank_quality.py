"""What each re-ranker buys, and costs, on MovieLens 100K.

Trains implicit's ALS on a per-user temporal 80/20 split of the ratings >= 4, takes the
200 best unseen candidates of every test viewer, re-ranks them into a top-10 with each
re-ranker (one batched call each) and reports, on the test viewers:

- accuracy on the held-out (later) positives: NDCG@10 and recall@10;
- miscalibration: KL(p || q~) between the viewer's training genre mix p and the list's genre
  mix q, smoothed q~ = 0.99 q + 0.01 p as in Steck (2018);
- tail share: share of recommended titles in the long tail (all but the most played titles
  that hold 80% of the training interactions, see fairrec.rerank.long_tail_mask);
- unexpectedness: mean cosine distance between a recommended title's ALS factor and the
  viewer's profile (the mean of the unit factors of the titles they watched);
- ILD: mean pairwise cosine distance within a list; coverage: distinct titles recommended.

Usage::

    python benchmarks/rerank_quality.py --data /path/to/ml-100k

Prints a markdown table. The split is implemented here (the evaluation module is separate).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.linalg  # noqa: F401  (load scipy's BLAS now, so threadpool_limits reaches it)
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from fairrec.rerank import (
    DPP,
    MMR,
    Calibrated,
    LongTail,
    RerankContext,
    Serendipity,
    TopK,
    long_tail_mask,
)

DEFAULT_DATA = Path("/work/shared/data/ml-100k")
ALPHA = 0.01  # Steck's smoothing, for the KL measure


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Ratings as an (m, 4) int array (user, item, rating, ts; 0-based ids) and genres."""
    ratings = np.loadtxt(path / "u.data", dtype=np.int64)
    ratings[:, :2] -= 1
    rows = (path / "u.item").read_text(encoding="latin-1").strip().splitlines()
    genres = np.array([[int(f) for f in r.split("|")[-19:]] for r in rows], dtype=np.float64)
    return ratings, genres


def temporal_split(
    ratings: np.ndarray, n_users: int, n_items: int, test_share: float = 0.2, min_pos: int = 5
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per-user temporal split of the positives (rating >= 4).

    Each viewer's positives are ordered by time (ties by item id); the last
    ``floor(test_share * count)`` of them are test for viewers with at least ``min_pos``
    positives, everything else is training.
    """
    pos = ratings[ratings[:, 2] >= 4]
    order = np.lexsort((pos[:, 1], pos[:, 3], pos[:, 0]))
    pos = pos[order]
    users = pos[:, 0]
    counts = np.bincount(users, minlength=n_users)
    start = np.cumsum(counts) - counts
    rank = np.arange(len(pos)) - start[users]
    n_test = np.where(counts >= min_pos, np.floor(test_share * counts), 0).astype(np.int64)
    is_test = rank >= counts[users] - n_test[users]

    def matrix(mask: np.ndarray) -> sp.csr_matrix:
        ones = np.ones(int(mask.sum()))
        return sp.csr_matrix((ones, (users[mask], pos[mask, 1])), shape=(n_users, n_items))

    return matrix(~is_test), matrix(is_test)


def genre_mix(rows: np.ndarray) -> np.ndarray:
    """Mean of the rows' genre distributions over the titles that have genres (..., k, g)."""
    tot = rows.sum(-1, keepdims=True)
    dist = np.divide(rows, tot, out=np.zeros_like(rows), where=tot > 0)
    mass = (tot > 0).sum(-2)
    return dist.sum(-2) / np.maximum(mass, 1)


def kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) row-wise, 0 log 0 = 0."""
    ratio = np.divide(p, q, out=np.ones_like(p), where=p > 0)
    return (p * np.log(ratio)).sum(-1)


def unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def evaluate(
    recs: np.ndarray,
    test: sp.csr_matrix,
    users: np.ndarray,
    genres: np.ndarray,
    target: np.ndarray,
    tail: np.ndarray,
    factors: np.ndarray,
    profile: np.ndarray,
) -> dict[str, float]:
    """Accuracy and beyond-accuracy measures of (u, k) recommended item ids."""
    k = recs.shape[1]
    truth = test[users].toarray() > 0
    hits = np.take_along_axis(truth, recs, 1)
    n_true = truth.sum(1)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.minimum(n_true, k) - 1]
    ndcg = (hits * discount).sum(1) / ideal
    recall = hits.sum(1) / n_true
    mix = genre_mix(genres[recs])
    miscal = kl(target, (1 - ALPHA) * mix + ALPHA * target)
    f = unit(factors[recs])
    unexp = 1.0 - np.einsum("ukd,ud->uk", f, unit(profile))
    sims = np.einsum("ukd,ujd->ukj", f, f)
    ild = (1.0 - sims).sum((1, 2)) / (k * (k - 1))
    return {
        "NDCG@10": float(ndcg.mean()),
        "recall@10": float(recall.mean()),
        "KL(p||q)": float(miscal.mean()),
        "tail share": float(tail[recs].mean()),
        "unexpectedness": float(unexp.mean()),
        "ILD": float(ild.mean()),
        "coverage": float(len(np.unique(recs))),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ml-100k folder")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--regularization", type=float, default=0.05)
    parser.add_argument("--head-share", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (args.data / "u.data").exists():
        parser.error(f"no MovieLens 100K at {args.data} (pass --data)")

    import implicit.als  # heavy import, only here

    ratings, genres = load(args.data)
    n_users, n_items = int(ratings[:, 0].max()) + 1, len(genres)
    train, test = temporal_split(ratings, n_users, n_items)
    with threadpool_limits(1, "blas"):  # implicit checks the BLAS threads when built
        model = implicit.als.AlternatingLeastSquares(
            factors=args.factors,
            regularization=args.regularization,
            iterations=args.iterations,
            random_state=args.seed,
        )
        model.fit(train, show_progress=False)
    user_f = np.asarray(model.user_factors, dtype=np.float64)
    item_f = np.asarray(model.item_factors, dtype=np.float64)

    users = np.flatnonzero((np.asarray(test.sum(1)).ravel() > 0) & (train.getnnz(1) > 0))
    seen = train[users].toarray() > 0
    full = user_f[users] @ item_f.T
    cand = TopK().rerank(full, args.candidates, valid=~seen)  # best unseen titles
    scores = np.take_along_axis(full, cand, 1)

    counts = np.asarray(train.sum(0)).ravel()
    tail = long_tail_mask(counts, args.head_share)
    history = train[users]
    n_hist = np.asarray(history.sum(1))
    target = genre_mix_sparse(history, genres)
    profile = np.asarray(history @ unit(item_f)) / n_hist
    context = RerankContext(
        profile=profile,
        genres=genres[cand],
        target=target,
        popularity=counts[cand],
        tail=tail[cand],
        tail_share=np.asarray(history @ tail.astype(np.float64)).ravel() / n_hist.ravel(),
    )
    vectors = item_f[cand]
    rerankers = {
        "ALS top-10 (TopK)": TopK(),
        "MMR(lambda_=0.7)": MMR(lambda_=0.7),
        "DPP(theta=2)": DPP(),
        "DPP(theta=2, window=5)": DPP(window=5),
        "Calibrated(lambda_=0.5)": Calibrated(lambda_=0.5),
        "Calibrated(lambda_=0.9)": Calibrated(lambda_=0.9),
        "LongTail(lambda_=0.5)": LongTail(lambda_=0.5),
        "LongTail(lambda_=0.9)": LongTail(lambda_=0.9),
        "Serendipity(weight=1, floor=0.8)": Serendipity(),
        "Serendipity(weight=3, floor=0.8)": Serendipity(weight=3.0),
    }
    print(
        f"MovieLens 100K: {len(users)} test viewers, {train.nnz} train / {test.nnz} test "
        f"positives, {args.candidates} candidates each, ALS factors={args.factors}, "
        f"reg={args.regularization}, iterations={args.iterations}; long tail = "
        f"{int(tail.sum())} of {n_items} titles (head holds {args.head_share:.0%} of plays)\n"
    )
    names = ["NDCG@10", "recall@10", "KL(p||q)", "tail share", "unexpectedness", "ILD"]
    print("| re-ranker | " + " | ".join(names) + " | coverage | batch ms |")
    print("|---" * (len(names) + 3) + "|")
    with threadpool_limits(1, "blas"):
        for label, reranker in rerankers.items():
            reranker.rerank(scores[:10], args.k, vectors=vectors[:10], context=head(context))
            start = time.perf_counter()
            picks = reranker.rerank(scores, args.k, vectors=vectors, context=context)
            ms = (time.perf_counter() - start) * 1e3
            recs = np.take_along_axis(cand, picks, 1)
            m = evaluate(recs, test, users, genres, target, tail, item_f, profile)
            cells = " | ".join(f"{m[c]:.4f}" for c in names)
            print(f"| {label} | {cells} | {m['coverage']:.0f} | {ms:.0f} |")


def head(context: RerankContext, rows: int = 10) -> RerankContext:
    """The first ``rows`` viewers of a batch context (for a warm-up call)."""
    return RerankContext(
        **{f: getattr(context, f)[:rows] for f in ("profile", "genres", "target", "tail")},
        popularity=context.popularity[:rows],
        tail_share=context.tail_share[:rows],
    )


def genre_mix_sparse(history: sp.csr_matrix, genres: np.ndarray) -> np.ndarray:
    """Each viewer's genre mix p(g|u): the mean p(g|i) over watched titles with genres."""
    tot = genres.sum(1, keepdims=True)
    dist = np.divide(genres, tot, out=np.zeros_like(genres), where=tot > 0)
    has = (tot[:, 0] > 0).astype(np.float64)
    return np.asarray(history @ dist) / np.maximum(np.asarray(history @ has)[:, None], 1.0)


if __name__ == "__main__":
    main()
