"""Metric kernels: each takes the shared :class:`~fairrec.metrics._context._Ctx` and returns
a :class:`~fairrec.metrics._context._Res` (per-viewer values and the reported aggregate).

The public functions and :func:`~fairrec.metrics.all_metrics` call these; the formulas are in
the public functions' docstrings.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from fairrec._checks import check_fraction, check_real
from fairrec.errors import ParameterError, param_error
from fairrec.metrics._context import _Ctx, _mean, _per_user, _Res
from fairrec.metrics._inputs import _group_bounds, _row_normalize, _safe_div
from fairrec.metrics._similarity import _genre_weights
from fairrec.rerank import long_tail_mask

#: the default share of train plays drawn by the short head (the ``LongTail`` re-ranker's)
HEAD_SHARE = 0.8


# ---------------------------------------------------------------------------- accuracy
def _cutoff(ctx: _Ctx) -> np.ndarray:
    """Per viewer: the list length the metric is judged at (k, else the list's length)."""
    if ctx.k is not None:
        return np.full(ctx.n_users, ctx.k, dtype=np.int64)
    return ctx.l_len


def _hits(ctx: _Ctx) -> np.ndarray:
    return np.bincount(ctx.l_user, weights=ctx.hit, minlength=ctx.n_users)


def _k_precision(ctx: _Ctx, denominator: str = "k") -> _Res:
    ctx.require_truth()
    users = ctx.truth_users
    hits = _hits(ctx)[users]
    if denominator == "k":
        vals = _safe_div(hits, _cutoff(ctx)[users])
        return _Res(users, vals, _mean(vals))
    den = np.minimum(_cutoff(ctx)[users], ctx.t_len[users]).astype(np.float64)
    vals = _safe_div(hits, den)
    total = den.sum()
    return _Res(users, vals, float(hits.sum() / total) if total else float("nan"))


def _k_recall(ctx: _Ctx) -> _Res:
    ctx.require_truth()
    users = ctx.truth_users
    vals = _hits(ctx)[users] / ctx.t_len[users]
    return _Res(users, vals, _mean(vals))


def _k_hit_rate(ctx: _Ctx) -> _Res:
    ctx.require_truth()
    users = ctx.truth_users
    vals = (_hits(ctx)[users] > 0).astype(np.float64)
    return _Res(users, vals, _mean(vals))


def _log2_discount(positions: np.ndarray) -> np.ndarray:
    return 1.0 / np.log2(positions + 1.0)


def _k_ndcg(ctx: _Ctx) -> _Res:
    ctx.require_truth()
    users = ctx.truth_users
    dcg = np.bincount(
        ctx.l_user, weights=ctx.hit * _log2_discount(ctx.l_rank), minlength=ctx.n_users
    )[users]
    n_ideal = np.minimum(_cutoff(ctx)[users], ctx.t_len[users])
    cum = np.r_[0.0, np.cumsum(_log2_discount(np.arange(1, n_ideal.max(initial=0) + 1)))]
    vals = _safe_div(dcg, cum[n_ideal])
    return _Res(users, vals, _mean(vals))


def _k_map(ctx: _Ctx) -> _Res:
    ctx.require_truth()
    users = ctx.truth_users
    hit = ctx.hit.astype(np.float64)
    starts, lengths = _group_bounds(ctx.l_user)
    csum = np.cumsum(hit)
    before = np.repeat(csum[starts] - hit[starts], lengths)  # hits before each viewer's list
    prec_at_hit = np.where(ctx.hit, (csum - before) / ctx.l_rank, 0.0)
    ap = np.bincount(ctx.l_user, weights=prec_at_hit, minlength=ctx.n_users)[users]
    vals = _safe_div(ap, np.minimum(_cutoff(ctx)[users], ctx.t_len[users]))
    return _Res(users, vals, _mean(vals))


# ---------------------------------------------------------------------------- beyond accuracy
def _b_catalog_coverage(ctx: _Ctx) -> _Res:
    mask = ctx.catalog_mask
    shown = np.zeros(ctx.n_items, bool)
    shown[ctx.l_item] = True
    return _Res(None, None, float((shown & mask).sum() / mask.sum()) if mask.any() else 0.0)


def _b_distributional_coverage(ctx: _Ctx) -> _Res:
    counts = np.bincount(ctx.l_item, minlength=ctx.n_items)
    counts = counts[counts > 0].astype(np.float64)
    if counts.sum() == 0:
        return _Res(None, None, float("nan"))
    p = counts / counts.sum()
    return _Res(None, None, float(max(0.0, -(p * np.log2(p)).sum())))


def _gini(x: np.ndarray) -> float:
    n = len(x)
    total = x.sum()
    if n == 0 or total == 0:
        return float("nan")
    xs = np.sort(x)
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * xs).sum() / (n * total))


def _b_gini(ctx: _Ctx) -> _Res:
    mask = ctx.catalog_mask
    exposure = np.bincount(ctx.l_item, minlength=ctx.n_items).astype(np.float64)[mask]
    return _Res(None, None, _gini(exposure))


def _item_share(ctx: _Ctx) -> np.ndarray:
    ctx.require_train()
    n = len(ctx.tr_item)
    return ctx.item_counts / n if n else ctx.item_counts


def _list_mean(ctx: _Ctx, per_line: np.ndarray, users: np.ndarray) -> np.ndarray:
    sums = np.bincount(ctx.l_user, weights=per_line, minlength=ctx.n_users)
    counts = np.bincount(ctx.l_user, weights=~np.isnan(per_line), minlength=ctx.n_users)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts)[users]


def _b_novelty(ctx: _Ctx) -> _Res:
    ctx.require_train()
    counts = ctx.item_counts
    n = max(len(ctx.tr_item), 1)
    # a title absent from train counts as seen once: the rarest finite popularity
    nov_item = -np.log2(np.maximum(counts, 1.0) / n)
    per_line = nov_item[ctx.l_item]
    users = ctx.list_users
    vals = _list_mean(ctx, per_line, users)
    return _Res(users, vals, float(per_line.mean()) if len(per_line) else float("nan"))


def _b_average_popularity(ctx: _Ctx) -> _Res:
    share = _item_share(ctx)
    users = ctx.list_users
    return _per_user(users, _list_mean(ctx, share[ctx.l_item], users))


def _b_popularity_lift(ctx: _Ctx) -> _Res:
    share = _item_share(ctx)
    users = ctx.profile_users
    q = _list_mean(ctx, share[ctx.l_item], users)
    hu, hi = ctx.history
    p = np.bincount(hu, weights=share[hi], minlength=ctx.n_users)[users] / ctx.h_len[users]
    vals = (q - p) / p
    value = (q.mean() - p.mean()) / p.mean() if len(users) else float("nan")
    return _Res(users, vals, float(value))


def _head_mask(ctx: _Ctx, head_share: float, head_by: str) -> np.ndarray:
    """The short head of train popularity; ``head_share`` is the share of plays it draws.

    The rule is :func:`fairrec.rerank.long_tail_mask`'s, the one the ``LongTail`` re-ranker
    uses: the most played titles whose plays add up to ``head_share`` of all train plays,
    widened to every title as popular as the least popular of them (ties never split).
    """
    counts = ctx.item_counts
    if head_by == "interactions":
        return ~long_tail_mask(counts, head_share)  # titles without a play are in the tail
    # deprecated head_by="items": a quantile of titles, ties by item id
    id_rank = np.empty(ctx.n_items, dtype=np.int64)
    id_rank[np.asarray(ctx.item_index.argsort())] = np.arange(ctx.n_items)
    order = np.lexsort((id_rank, -counts))  # most popular first, ties by item id
    head = np.zeros(ctx.n_items, bool)
    n_head = int(np.ceil(head_share * int((counts > 0).sum())))
    head[order[:n_head]] = True
    return head


def _b_long_tail_share(
    ctx: _Ctx, head_share: float = HEAD_SHARE, head_by: str = "interactions"
) -> _Res:
    ctx.require_train()
    head_share = check_fraction(
        head_share, "head_share", "long_tail_share", low_open=True, high_open=True
    )
    if head_by not in ("interactions", "items"):
        raise param_error("head_by", "long_tail_share", "'interactions' or 'items'", head_by)
    tail = ~_head_mask(ctx, float(head_share), head_by)
    users = ctx.list_users
    return _per_user(users, _list_mean(ctx, tail[ctx.l_item].astype(np.float64), users))


def _b_ild(ctx: _Ctx) -> _Res:
    groups, mean_sim = ctx.similarity.group_mean_pair_sim(ctx.l_user, ctx.l_item)
    return _per_user(groups, 1.0 - mean_sim)


def _unexpected_lines(ctx: _Ctx) -> np.ndarray:
    ctx.require_train()
    return 1.0 - ctx.similarity.mean_sim_to_history(ctx.l_user, ctx.l_item)


def _b_unexpectedness(ctx: _Ctx) -> _Res:
    users = ctx.profile_users
    return _per_user(users, _list_mean(ctx, _unexpected_lines(ctx), users))


def _b_serendipity(ctx: _Ctx) -> _Res:
    ctx.require_truth()
    users = ctx.profile_users
    per_line = _unexpected_lines(ctx) * ctx.hit
    return _per_user(users, _list_mean(ctx, per_line, users))


def _b_miscalibration(ctx: _Ctx, alpha: float = 0.01) -> _Res:
    ctx.require_train()
    alpha = check_fraction(alpha, "alpha", "miscalibration", low_open=True, high_open=True)
    if ctx.item_features is None:
        raise ParameterError(
            "miscalibration needs item_features: genres per title (a Series of genre lists) "
            "or non-negative genre weights (a DataFrame indexed by item_id)."
        )
    hu, hi = ctx.history
    users = ctx.profile_users
    w = _genre_weights(ctx, np.union1d(hi[np.isin(hu, users)], ctx.l_item))
    n = ctx.n_users
    hist = sp.csr_array((np.ones(len(hu)), (hu, hi)), shape=(n, ctx.n_items))
    recs = sp.csr_array(
        (np.ones(len(ctx.l_user)), (ctx.l_user, ctx.l_item)), shape=(n, ctx.n_items)
    )
    p = _row_normalize(sp.csr_array(hist @ w)[users])
    q = _row_normalize(sp.csr_array(recs @ w)[users])
    pc = p.tocoo()
    qv = np.asarray(q[pc.row, pc.col]).ravel() if pc.nnz else np.zeros(0)
    pv = pc.data
    kl_terms = pv * np.log(pv / ((1.0 - alpha) * qv + alpha * pv))
    kl = np.bincount(pc.row, weights=kl_terms, minlength=len(users))
    has_p = np.bincount(pc.row, minlength=len(users)) > 0
    vals = np.where(has_p, np.maximum(kl, 0.0), np.nan)
    return _per_user(users, vals)


# ---------------------------------------------------------------------------- pages
def _p_ndcg_2d(ctx: _Ctx, alpha: float = 1.0, beta: float = 1.0) -> _Res:
    ctx.require_truth()
    for name, v in (("alpha", alpha), ("beta", beta)):
        check_real(v, name, "ndcg_2d", 0.0, None, low_open=True, expected="a float > 0")
    if alpha + beta <= 1:
        raise param_error(
            "alpha + beta", "ndcg_2d", "> 1 (the top-left slot needs log2 > 0)", alpha + beta
        )
    users = ctx.truth_users
    disc = 1.0 / np.log2(alpha * (ctx.l_row + 1) + beta * (ctx.l_pos + 1))
    # reading order: best-discounted slot first (ties: upper row first)
    order = np.lexsort((ctx.l_row, -disc, ctx.l_user))
    u, it, d, hit = ctx.l_user[order], ctx.l_item[order], disc[order], ctx.hit[order]
    first = np.zeros(len(u), bool)
    first[np.unique(u * ctx.n_items + it, return_index=True)[1]] = True  # repeats gain 0
    dcg = np.bincount(u, weights=d * (hit & first), minlength=ctx.n_users)
    starts, lengths = _group_bounds(u)
    r = np.arange(len(u)) - np.repeat(starts, lengths)  # slot rank within the page
    ideal = r < ctx.t_len[u]
    idcg = np.bincount(u, weights=d * ideal, minlength=ctx.n_users)
    vals = _safe_div(dcg[users], idcg[users])
    return _Res(users, vals, _mean(vals))


def _p_repeat_rate(ctx: _Ctx) -> _Res:
    users = ctx.list_users
    distinct = np.bincount(
        np.unique(ctx.l_user * ctx.n_items + ctx.l_item) // max(ctx.n_items, 1),
        minlength=ctx.n_users,
    )
    vals = 1.0 - distinct[users] / ctx.l_len[users]
    return _Res(users, vals, _mean(vals))


def _p_row_coherence(ctx: _Ctx) -> _Res:
    nrow = ctx.l_row.max(initial=0) + 1
    groups, mean_sim = ctx.similarity.group_mean_pair_sim(ctx.l_user * nrow + ctx.l_row, ctx.l_item)
    row_user = groups // nrow
    sums = np.bincount(row_user, weights=mean_sim, minlength=ctx.n_users)
    cnt = np.bincount(row_user, minlength=ctx.n_users)
    users = np.flatnonzero(cnt > 0)
    return _per_user(users, sums[users] / cnt[users])
