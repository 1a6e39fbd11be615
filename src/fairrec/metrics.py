"""Accuracy, beyond-accuracy and page-level metrics over pandas frames.

Every metric is one function ``NAME(recs, train_or_truth, *, k=None, ...)`` working on
pandas frames:

* ``recs`` -- recommendations, one line per (viewer, title) with columns ``user_id``,
  ``item_id`` and ``rank`` (1-based position in the viewer's list);
* ``truth`` -- held-out interactions (``user_id``, ``item_id``), e.g. a split's test set;
* ``train`` -- the interactions the model learned from (``user_id``, ``item_id``): the
  source of item popularity, of viewer profiles and of co-occurrence similarity;
* ``pages`` -- for the page metrics, one line per slot of a home page with columns
  ``user_id``, ``row`` (0-based), ``position`` (0-based within the row) and ``item_id``.

Column names can be changed with the ``user_col``, ``item_col``, ``rank_col`` (``row_col``,
``position_col``) keywords. ``k=None`` uses every rank given; otherwise only lines with
``rank <= k`` (pages: ``position < k``) are kept.

Populations. Accuracy metrics average over the viewers of ``truth``: a viewer of ``truth``
with no recommendation scores 0 and viewers that only appear in ``recs`` are ignored.
Beyond-accuracy metrics average over the viewers of ``recs`` (those that need a profile: over
the viewers of ``recs`` with at least one ``train`` interaction). ``per_user=True`` returns
the per-viewer values as a :class:`pandas.Series` indexed by ``user_id`` instead of their mean
(what paired significance tests need). A metric whose population is empty returns ``nan``.

Where a metric also exists in the Recommenders library (``recommenders.evaluation.
python_evaluation``) or in ``implicit.evaluation``, fairrec uses the same definition, so
numbers are comparable across libraries; each docstring says so and notes the differences.

Internals are vectorized: ids are mapped to integer codes once with pandas, and everything
else is numpy/scipy work on code arrays (``bincount``, ``lexsort``, sparse products); there is
no Python loop over viewers or titles. :func:`all_metrics` computes many metrics with one
shared preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.errors import DataError, ParameterError, param_error

__all__ = [
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "hit_rate_at_k",
    "catalog_coverage",
    "distributional_coverage",
    "gini_index",
    "intra_list_diversity",
    "novelty",
    "unexpectedness",
    "serendipity",
    "miscalibration",
    "average_popularity",
    "popularity_lift",
    "long_tail_share",
    "ndcg_2d",
    "repeat_rate",
    "page_coverage",
    "row_coherence",
    "MetricSpec",
    "REGISTRY",
    "all_metrics",
]

_MAX_LISTED = 5
ItemFeatures = pd.DataFrame | pd.Series


# ============================================================================ validation
def _listing(values: Iterable[Any]) -> str:
    vals = list(values)
    shown = ", ".join(
        repr(v.item() if isinstance(v, np.generic) else v) for v in vals[:_MAX_LISTED]
    )
    more = f" (and {len(vals) - _MAX_LISTED} more)" if len(vals) > _MAX_LISTED else ""
    return shown + more


def _check_frame(df: Any, what: str, cols: Sequence[str]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame. Got {type(df).__name__} instead.")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"{what} has no column {_listing(missing)}; its columns are "
            f"{[str(c) for c in df.columns]}. Pass the column names by keyword "
            "(user_col=, item_col=, rank_col=, row_col=, position_col=)."
        )
    return df


def _id_kind(s: pd.Series, col: str, what: str) -> str | None:
    """'number' or 'string' (None for an empty column); raises on missing or odd ids."""
    if len(s) == 0:
        return None
    null = s.isna().to_numpy()
    if null.any():
        rows = np.flatnonzero(null)
        raise DataError(
            f"Column {col!r} of {what} has {len(rows)} missing id(s) at row(s) {_listing(rows)}."
        )
    if pd.api.types.is_bool_dtype(s):
        raise DataError(f"Column {col!r} of {what} holds booleans, not ids.")
    if pd.api.types.is_numeric_dtype(s):
        return "number"
    inferred = pd.api.types.infer_dtype(s, skipna=False)
    if inferred == "string":
        return "string"
    if inferred == "integer":
        return "number"
    raise DataError(
        f"Column {col!r} of {what} must hold str or int ids; found {inferred!r} values "
        f"such as {_listing(s.head(_MAX_LISTED).tolist())}."
    )


def _factorize(parts: list[tuple[pd.Series, str]], col: str) -> tuple[list[np.ndarray], pd.Index]:
    """Map several id columns to one code space (codes in order of first appearance)."""
    parts = [
        (s.astype(s.cat.categories.dtype) if isinstance(s.dtype, pd.CategoricalDtype) else s, w)
        for s, w in parts
    ]
    kinds = {what: _id_kind(s, col, what) for s, what in parts}
    seen = {k for k in kinds.values() if k is not None}
    if len(seen) > 1:
        detail = ", ".join(f"{kind} ids in {what}" for what, kind in kinds.items() if kind)
        raise DataError(
            f"Column {col!r} mixes id types across frames ({detail}); an int id never equals a "
            "str id, so nothing would match. Convert the ids to one type."
        )
    series = [s.reset_index(drop=True) for s, _ in parts]
    nonempty = [s for s in series if len(s)]  # empty parts would only perturb the dtype
    allv = pd.concat(nonempty, ignore_index=True) if nonempty else pd.Series([], dtype=object)
    codes, uniques = pd.factorize(allv, sort=False)
    out, start = [], 0
    for s in series:
        out.append(codes[start : start + len(s)].astype(np.int64))
        start += len(s)
    return out, pd.Index(uniques)


def _check_k(k: Any, owner: str) -> int | None:
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise param_error("k", owner, "None or an int >= 1", k)
    return int(k)


def _ranks(s: pd.Series, col: str, what: str, *, lowest: int) -> np.ndarray:
    try:
        v = pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"Column {col!r} of {what} must be numeric.") from exc
    bad = ~np.isfinite(v) | (v != np.round(v)) | (v < lowest)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"Column {col!r} of {what} must hold integers >= {lowest}; got "
            f"{_listing(s.to_numpy()[rows])} at row(s) {_listing(rows)}."
        )
    return v.astype(np.int64)


def _group_bounds(sorted_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and lengths of the runs of equal values in a sorted array."""
    n = len(sorted_groups)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return starts, lengths


def _duplicates(keys: np.ndarray) -> np.ndarray:
    """Positions of keys that repeat an earlier key."""
    if len(keys) == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    dup = np.r_[False, sk[1:] == sk[:-1]]
    return np.sort(order[dup])


# ============================================================================ context
class _Ctx:
    """Validated inputs mapped once to integer codes, with lazily derived arrays.

    ``lst`` is the list frame: recommendations (``rank``) or a page (``row``, ``position``).
    Lines are sorted by (viewer, rank) or (viewer, row, position) and cut at ``k``.
    """

    def __init__(
        self,
        lst: pd.DataFrame,
        truth: pd.DataFrame | None = None,
        train: pd.DataFrame | None = None,
        *,
        owner: str,
        k: int | None = None,
        catalog: Any = None,
        item_features: ItemFeatures | None = None,
        user_col: str = C.USER,
        item_col: str = C.ITEM,
        rank_col: str = C.RANK,
        page: bool = False,
        row_col: str = C.ROW,
        position_col: str = C.POSITION,
    ) -> None:
        self.owner = owner
        self.k = _check_k(k, owner)
        self.page = page
        self.item_features = item_features
        lst_name = "pages" if page else "recs"
        order_cols = [row_col, position_col] if page else [rank_col]
        _check_frame(lst, lst_name, [user_col, item_col, *order_cols])
        self.has_truth = truth is not None
        self.has_train = train is not None
        if truth is not None:
            _check_frame(truth, "truth", [user_col, item_col])
        if train is not None:
            _check_frame(train, "train", [user_col, item_col])
        empty = pd.Series([], dtype=object)
        truth_u = truth[user_col] if truth is not None else empty
        truth_i = truth[item_col] if truth is not None else empty
        train_u = train[user_col] if train is not None else empty
        train_i = train[item_col] if train is not None else empty
        self.has_catalog = catalog is not None
        if catalog is not None:
            if isinstance(catalog, (str, bytes)) or np.ndim(catalog) != 1:
                raise param_error("catalog", owner, "a 1-d array-like of item ids", catalog)
            cat = pd.Series(np.asarray(pd.Index(catalog).unique()))
        else:
            cat = empty
        (lu, tu, nu), self.user_index = _factorize(
            [(lst[user_col], lst_name), (truth_u, "truth"), (train_u, "train")], user_col
        )
        (li, ti, ni, ci), self.item_index = _factorize(
            [
                (lst[item_col], lst_name),
                (truth_i, "truth"),
                (train_i, "train"),
                (cat, "catalog"),
            ],
            item_col,
        )
        self.n_users = len(self.user_index)
        self.n_items = len(self.item_index)

        # ---- list frame: validate order columns, duplicates, cut at k, sort
        if page:
            row = _ranks(lst[row_col], row_col, lst_name, lowest=0)
            pos = _ranks(lst[position_col], position_col, lst_name, lowest=0)
            slot_key = (lu * (row.max(initial=0) + 1) + row) * (pos.max(initial=0) + 1) + pos
            dup = _duplicates(slot_key)
            if len(dup):
                raise DataError(
                    f"pages has {len(dup)} duplicated ({user_col}, {row_col}, {position_col}) "
                    f"slot(s), e.g. viewer {self.user_index[lu[dup[0]]]!r} row {row[dup[0]]} "
                    f"position {pos[dup[0]]}."
                )
            keep = np.ones(len(lu), bool) if self.k is None else pos < self.k
            order = np.lexsort((pos[keep], row[keep], lu[keep]))
            self.l_row = row[keep][order]
            self.l_pos = pos[keep][order]
            self.l_rank = np.zeros(len(order), np.int64)
        else:
            rank = _ranks(lst[rank_col], rank_col, lst_name, lowest=1)
            dup = _duplicates(lu * self.n_items + li)
            if len(dup):
                raise DataError(
                    f"recs has {len(dup)} duplicated ({user_col}, {item_col}) pair(s), e.g. "
                    f"viewer {self.user_index[lu[dup[0]]]!r} and title "
                    f"{self.item_index[li[dup[0]]]!r}. A list names each title once."
                )
            dup = _duplicates(lu * (rank.max(initial=0) + 1) + rank)
            if len(dup):
                raise DataError(
                    f"recs has {len(dup)} duplicated ({user_col}, {rank_col}) pair(s), e.g. "
                    f"viewer {self.user_index[lu[dup[0]]]!r} at rank {rank[dup[0]]}. "
                    "A list holds one title per rank."
                )
            keep = np.ones(len(lu), bool) if self.k is None else rank <= self.k
            order = np.lexsort((rank[keep], lu[keep]))
            self.l_rank = rank[keep][order]
            self.l_row = np.zeros(len(order), np.int64)
            self.l_pos = self.l_rank - 1
        self.l_user = lu[keep][order]
        self.l_item = li[keep][order]

        # ---- truth: distinct pairs
        tkey = np.unique(tu * self.n_items + ti)
        self.t_key = tkey
        self.t_user = tkey // self.n_items if self.n_items else tkey
        self.t_item = tkey % self.n_items if self.n_items else tkey
        # ---- train: every event (popularity counts events)
        self.tr_user = nu
        self.tr_item = ni
        self.catalog_codes = np.unique(ci)

    # ------------------------------------------------------------------ derived arrays
    @cached_property
    def l_len(self) -> np.ndarray:
        return np.bincount(self.l_user, minlength=self.n_users)

    @cached_property
    def t_len(self) -> np.ndarray:
        return np.bincount(self.t_user, minlength=self.n_users)

    @cached_property
    def hit(self) -> np.ndarray:
        """Per list line: is the (viewer, title) pair in truth?"""
        return np.isin(self.l_user * self.n_items + self.l_item, self.t_key)

    @cached_property
    def truth_users(self) -> np.ndarray:
        return np.flatnonzero(self.t_len > 0)

    @cached_property
    def list_users(self) -> np.ndarray:
        return np.flatnonzero(self.l_len > 0)

    @cached_property
    def item_counts(self) -> np.ndarray:
        """Train events per title (code space)."""
        return np.bincount(self.tr_item, minlength=self.n_items).astype(np.float64)

    @cached_property
    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (viewer, title) pairs of train, sorted by viewer."""
        key = np.unique(self.tr_user * self.n_items + self.tr_item)
        return key // max(self.n_items, 1), key % max(self.n_items, 1)

    @cached_property
    def h_len(self) -> np.ndarray:
        return np.bincount(self.history[0], minlength=self.n_users)

    @cached_property
    def profile_users(self) -> np.ndarray:
        """Viewers of the list frame with at least one train interaction."""
        return np.flatnonzero((self.l_len > 0) & (self.h_len > 0))

    @cached_property
    def catalog_mask(self) -> np.ndarray:
        """Titles of the catalog: ``catalog`` if given, else train titles plus listed titles."""
        mask = np.zeros(self.n_items, bool)
        if self.has_catalog:
            mask[self.catalog_codes] = True
            outside = ~mask[self.l_item]
            if outside.any():
                bad = pd.unique(self.item_index[self.l_item[outside]])
                raise DataError(
                    f"{len(bad)} recommended title(s) are not in the catalog: {_listing(bad)}."
                )
        else:
            if not self.has_train:
                raise ParameterError(
                    f"{self.owner} needs the catalog: pass train (its titles are the catalog) "
                    "or catalog=<item ids>."
                )
            mask[self.tr_item] = True
            mask[self.l_item] = True
        return mask

    def require_train(self) -> None:
        if not self.has_train:
            raise ParameterError(f"{self.owner} needs the train interactions (train=...).")

    def require_truth(self) -> None:
        if not self.has_truth:
            raise ParameterError(f"{self.owner} needs the ground truth (truth=...).")

    @cached_property
    def similarity(self) -> _Similarity:
        return _Similarity(self, self.item_features)


# ============================================================================ results
@dataclass(frozen=True)
class _Res:
    """Per-viewer values over a population plus the reported aggregate."""

    users: np.ndarray | None  # user codes, or None for a global-only metric
    values: np.ndarray | None
    value: float


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def _per_user(users: np.ndarray, values: np.ndarray) -> _Res:
    keep = ~np.isnan(values)
    users, values = users[keep], values[keep]
    return _Res(users, values, _mean(values))


def _finish(ctx: _Ctx, res: _Res, per_user: bool, name: str) -> float | pd.Series:
    if not per_user:
        return res.value
    if res.users is None:
        raise ParameterError(
            f"{name} is a property of all lists together; it has no per-viewer values "
            "(per_user=True is not available)."
        )
    return pd.Series(res.values, index=ctx.user_index[res.users], name=name, dtype=np.float64)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(a, b).shape, dtype=np.float64)
    np.divide(a, b, out=out, where=b != 0)
    return out


# ============================================================================ accuracy kernels
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


# ============================================================================ beyond-accuracy kernels
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
    counts = ctx.item_counts
    id_rank = np.empty(ctx.n_items, dtype=np.int64)
    id_rank[np.asarray(ctx.item_index.argsort())] = np.arange(ctx.n_items)
    order = np.lexsort((id_rank, -counts))  # most popular first, ties by item id
    head = np.zeros(ctx.n_items, bool)
    total = counts.sum()
    if total == 0:
        return head
    if head_by == "interactions":
        cum_before = np.cumsum(counts[order]) - counts[order]
        head[order[(cum_before < head_share * total) & (counts[order] > 0)]] = True
    else:
        n_pop = int((counts > 0).sum())
        n_head = int(np.ceil(head_share * n_pop))
        head[order[:n_head]] = True
    return head


def _b_long_tail_share(ctx: _Ctx, head_share: float = 0.2, head_by: str = "interactions") -> _Res:
    ctx.require_train()
    if not (isinstance(head_share, (int, float)) and 0 < head_share < 1):
        raise param_error("head_share", "long_tail_share", "a float in (0, 1)", head_share)
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
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise param_error("alpha", "miscalibration", "a float in (0, 1)", alpha)
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


def _row_normalize(m: sp.csr_array) -> sp.csr_array:
    m = sp.csr_array(m, dtype=np.float64)
    sums = np.asarray(m.sum(axis=1)).ravel()
    inv = _safe_div(np.ones_like(sums), sums)
    return sp.csr_array(sp.diags_array(inv) @ m)


# ============================================================================ item features
def _genre_matrix(features: pd.Series) -> tuple[sp.csr_array, pd.Index]:
    """Multi-hot (n_features_rows, n_genres) matrix of a Series of genre lists."""
    from fairrec.data import parse_genres

    parsed = features.map(parse_genres)
    lengths = parsed.map(len).to_numpy(dtype=np.int64)
    flat = parsed.explode().dropna()
    codes, genres = pd.factorize(flat.astype(object), sort=True)
    indptr = np.r_[0, np.cumsum(lengths)]
    m = sp.csr_array(
        (np.ones(len(codes)), codes.astype(np.int64), indptr),
        shape=(len(features), len(genres)),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m, pd.Index(genres)


def _features_matrix(ctx: _Ctx, needed: np.ndarray) -> np.ndarray | sp.csr_array:
    """Item features aligned to the item code space (rows of titles not listed are zero)."""
    f = ctx.item_features
    if not isinstance(f, (pd.DataFrame, pd.Series)):
        raise DataError(
            "item_features must be a DataFrame of numeric columns indexed by item_id, or a "
            f"Series of genre lists indexed by item_id. Got {type(f).__name__} instead."
        )
    if f.index.has_duplicates:
        dup = pd.unique(f.index[f.index.duplicated()])
        raise DataError(f"item_features has duplicated item id(s) in its index: {_listing(dup)}.")
    pos = ctx.item_index.get_indexer(f.index)
    has = np.zeros(ctx.n_items, bool)
    has[pos[pos >= 0]] = True
    missing = needed[~has[needed]]
    if len(missing):
        raise DataError(
            f"item_features has no row for {len(missing)} title(s): "
            f"{_listing(ctx.item_index[missing])}."
        )
    rows = np.flatnonzero(pos >= 0)
    if isinstance(f, pd.Series):
        m, _ = _genre_matrix(f.iloc[rows])
        perm = sp.csr_array(
            (np.ones(len(rows)), (pos[rows], np.arange(len(rows)))),
            shape=(ctx.n_items, len(rows)),
        )
        return sp.csr_array(perm @ m)
    num = f.iloc[rows]
    nonnum = [c for c in num.columns if not pd.api.types.is_numeric_dtype(num[c])]
    if nonnum:
        raise DataError(
            f"item_features column(s) {_listing(nonnum)} are not numeric; pass vectors as "
            "numeric columns or genres as a Series of lists."
        )
    vals = num.to_numpy(dtype=np.float64)
    if not np.isfinite(vals).all():
        bad = num.index[~np.isfinite(vals).all(axis=1)]
        raise DataError(f"item_features holds NaN or inf for title(s) {_listing(bad)}.")
    out = np.zeros((ctx.n_items, vals.shape[1]))
    out[pos[rows]] = vals
    return out


def _genre_weights(ctx: _Ctx, needed: np.ndarray) -> sp.csr_array:
    """p(g|i): item-genre weights normalized per item (uniform over a title's genres)."""
    m = _features_matrix(ctx, needed)
    if isinstance(m, np.ndarray):
        if (m < 0).any():
            raise DataError("item_features used as genre weights must be non-negative.")
        m = sp.csr_array(m)
    return _row_normalize(m)


def _rowdot(a: Any, b: Any) -> np.ndarray:
    if sp.issparse(a):
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", a, b)


def _sq_norms(a: Any) -> np.ndarray:
    return _rowdot(a, a)


class _Similarity:
    """Cosine similarity between titles: of feature vectors when ``item_features`` is given
    (Recommenders' ``item_sim_measure="item_feature_vector"``), else of train co-occurrence
    (Recommenders' default ``"item_cooccurrence_count"``: |U_i & U_j| / sqrt(|U_i| |U_j|))."""

    def __init__(self, ctx: _Ctx, item_features: ItemFeatures | None) -> None:
        self.ctx = ctx
        self.vectors = item_features is not None
        if item_features is None and not ctx.has_train:
            raise ParameterError(
                f"{ctx.owner} needs item_features (vectors or genres) or train (for "
                "co-occurrence similarity)."
            )

    @cached_property
    def _unit(self) -> np.ndarray | sp.csr_array:
        ctx = self.ctx
        needed = np.union1d(ctx.l_item, ctx.history[1] if ctx.has_train else [])
        m = _features_matrix(ctx, needed.astype(np.int64))
        inv = _safe_div(np.ones(m.shape[0]), np.sqrt(_sq_norms(m)))
        if sp.issparse(m):
            return sp.csr_array(sp.diags_array(inv) @ m)
        return m * inv[:, None]

    @cached_property
    def _cooc_unit(self) -> sp.csc_array:
        """Train-viewer x title binary matrix with unit-norm columns."""
        ctx = self.ctx
        hu, hi = ctx.history
        x = sp.csc_array((np.ones(len(hu)), (hu, hi)), shape=(ctx.n_users, ctx.n_items))
        counts = np.bincount(hi, minlength=ctx.n_items).astype(np.float64)
        inv = _safe_div(np.ones_like(counts), np.sqrt(counts))
        return sp.csc_array(x @ sp.diags_array(inv))

    def group_mean_pair_sim(
        self, groups: np.ndarray, items: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean similarity over the distinct-title pairs of each group (sorted by group).

        Returns the groups with >= 2 titles and their mean pairwise similarity.
        """
        key = groups * self.ctx.n_items + items
        first = np.sort(np.unique(key, return_index=True)[1])  # drop repeats within a group
        groups, items = groups[first], items[first]
        starts, lengths = _group_bounds(groups)
        ok = lengths >= 2
        n_pairs = lengths * (lengths - 1) / 2.0
        if self.vectors:
            u = self._unit
            gmat = sp.csr_array(
                (
                    np.ones(len(items)),
                    (np.repeat(np.arange(len(starts)), lengths), np.arange(len(items))),
                ),
                shape=(len(starts), len(items)),
            )
            rows = u[items]
            s = gmat @ rows
            sum_sq = np.bincount(
                np.repeat(np.arange(len(starts)), lengths),
                weights=_sq_norms(rows),
                minlength=len(starts),
            )
            pair_sum = (_sq_norms(s) - sum_sq) / 2.0
        else:
            a, b, pg = _pairs(starts, lengths)
            sims = self._cooc_sims(items[a], items[b])
            pair_sum = np.bincount(pg, weights=sims, minlength=len(starts))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = pair_sum / n_pairs
        return groups[starts][ok], mean[ok]

    def mean_sim_to_history(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Per (viewer, title) line: mean similarity of the title to the viewer's distinct
        train titles (``nan`` for a viewer without train history)."""
        ctx = self.ctx
        hu, hi = ctx.history
        n = ctx.n_users
        h_len = ctx.h_len.astype(np.float64)
        hist = sp.csr_array((np.ones(len(hu)), (hu, hi)), shape=(n, ctx.n_items))
        if self.vectors:
            u = self._unit
            prof = hist @ u  # sum of unit vectors of the history
            prof_rows = prof[users]
            if sp.issparse(prof_rows):
                prof_rows = prof_rows.toarray()
            rows = u[items]
            rows = rows.toarray() if sp.issparse(rows) else rows
            total = np.einsum("ij,ij->i", rows, prof_rows)
        else:
            # one (line, history title) pair per similarity, in chunks of ~2M pairs
            h_start = np.r_[0, np.cumsum(ctx.h_len)[:-1]]
            cnt = ctx.h_len[users]
            hist_items = hi[np.isin(hu, users)]
            gram, ia, ib_of = self._cooc_gram(items, hist_items)
            total = np.zeros(len(users))
            bounds = np.searchsorted(np.cumsum(cnt), np.arange(0, cnt.sum(), 2_000_000), "right")
            for lo, hi_ in zip(bounds, np.r_[bounds[1:], len(users)]):
                c = cnt[lo:hi_]
                line = np.repeat(np.arange(lo, hi_), c)
                off = np.arange(len(line)) - np.repeat(np.cumsum(c) - c, c)
                j = hi[np.repeat(h_start[users[lo:hi_]], c) + off]
                sims = _sorted_lookup(gram.indptr, gram.indices, gram.data, ib_of[j], ia[line])
                total[lo:hi_] = np.bincount(line - lo, weights=sims, minlength=hi_ - lo)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(h_len[users] > 0, total / h_len[users], np.nan)

    def _cooc_gram(
        self, a: np.ndarray, b: np.ndarray
    ) -> tuple[sp.csc_array, np.ndarray, np.ndarray]:
        """Co-occurrence cosines between the titles of ``a`` (rows) and of ``b`` (columns).

        Returns the (distinct a) x (distinct b) matrix as CSC with sorted row indices, the
        row of each element of ``a`` and a map from title code to column (-1 if absent).
        """
        x = self._cooc_unit
        ua, ia = _dense_unique(a, self.ctx.n_items)
        ub, _ = _dense_unique(b, self.ctx.n_items)
        col_of = np.full(self.ctx.n_items, -1, dtype=np.int64)
        col_of[ub] = np.arange(len(ub))
        gram = sp.csc_array(x[:, ua].T @ x[:, ub])  # CSR -> CSC sorts the row indices
        return gram, ia, col_of

    def _cooc_sims(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Co-occurrence cosine of title pairs (a[t], b[t])."""
        if len(a) == 0:
            return np.zeros(0)
        gram, ia, col_of = self._cooc_gram(a, b)
        return _sorted_lookup(gram.indptr, gram.indices, gram.data, col_of[b], ia)


def _dense_unique(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(codes, return_inverse=True) for codes in [0, n), in O(len + n)."""
    present = np.zeros(n, bool)
    present[codes] = True
    uniq = np.flatnonzero(present)
    remap = np.cumsum(present) - 1
    return uniq, remap[codes]


def _sorted_lookup(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, major: np.ndarray, minor: np.ndarray
) -> np.ndarray:
    """Values at (major, minor) of a compressed matrix with sorted indices (0 where absent).

    A vectorized binary search: about log2(longest row) numpy steps over all queries.
    """
    lo = indptr[major].astype(np.int64)
    end = indptr[major + 1].astype(np.int64)
    hi = end.copy()
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        go_right = active & (indices[np.minimum(mid, len(indices) - 1)] < minor)
        lo = np.where(go_right, mid + 1, lo)
        hi = np.where(active & ~go_right, mid, hi)
    found = lo < end
    found[found] = indices[lo[found]] == minor[found]
    out = np.zeros(len(major))
    out[found] = data[lo[found]]
    return out


def _pairs(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (a, b) line pairs with a < b inside each group of a grouped array, and their group."""
    n = int(lengths.sum())
    if n == 0:
        z = np.zeros(0, np.int64)
        return z, z, z
    grp = np.repeat(np.arange(len(starts)), lengths)
    offset = np.arange(n) - np.repeat(starts, lengths)
    cnt = np.repeat(lengths, lengths) - offset - 1
    a = np.repeat(np.arange(n), cnt)
    block = np.cumsum(cnt) - cnt
    b = a + 1 + (np.arange(len(a)) - np.repeat(block, cnt))
    return a, b, grp[a]


# ============================================================================ page kernels
def _p_ndcg_2d(ctx: _Ctx, alpha: float = 1.0, beta: float = 1.0) -> _Res:
    ctx.require_truth()
    for name, v in (("alpha", alpha), ("beta", beta)):
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
            raise param_error(name, "ndcg_2d", "a float > 0", v)
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


# ============================================================================ public functions
def _columns(user_col: str, item_col: str, rank_col: str) -> dict[str, str]:
    return {"user_col": user_col, "item_col": item_col, "rank_col": rank_col}


def precision_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    denominator: str = "k",
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Precision at k: the share of the top-k slots holding a held-out title.

    With ``denominator="k"`` (default, Recommenders' ``precision_at_k``)::

        P@k = mean over viewers u of truth of |top_k(u) & T(u)| / k

    With ``denominator="min"`` (``implicit.evaluation.precision_at_k``), hits are pooled over
    viewers and divided by the pooled number of achievable hits::

        P@k = sum_u |top_k(u) & T(u)| / sum_u min(k, |T(u)|)

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank`` (rank 1-based).
    truth : pandas.DataFrame
        ``user_id, item_id``; duplicated pairs count once.
    k : int, optional
        Cut-off; ``None`` judges each list at its own length.
    denominator : {"k", "min"}
        ``"k"``: macro average of hits / k (Recommenders, Spark). ``"min"``: micro average
        with denominators ``min(k, |T(u)|)``, equal to implicit's precision to rounding;
        per-viewer values are then ``hits / min(k, |T(u)|)``.
    per_user : bool
        Return a Series of per-viewer values (indexed by ``user_id``) instead of the mean.

    Returns
    -------
    float or pandas.Series
        In [0, 1]. Viewers of ``truth`` without recommendations count as 0.

    Examples
    --------
    Viewer 1 gets a, b, c and watched b and z; viewer 2 gets a, d and watched a; viewer 3
    watched q but got no list. At k = 2: hits are 1, 1, 0, so P@2 = (1/2 + 1/2 + 0) / 3.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> round(precision_at_k(recs, truth, k=2), 4)
    0.3333

    implicit's pooled form: (1 + 1 + 0) / (min(2, 2) + min(2, 1) + min(2, 1)) = 2 / 4.

    >>> precision_at_k(recs, truth, k=2, denominator="min")
    0.5
    """
    if denominator not in ("k", "min"):
        raise param_error("denominator", "precision_at_k", "'k' or 'min'", denominator)
    ctx = _Ctx(recs, truth, owner="precision_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, _k_precision(ctx, denominator), per_user, "precision_at_k")


def recall_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Recall at k: the share of a viewer's held-out titles found in the top k.

    ::

        R@k = mean over viewers u of truth of |top_k(u) & T(u)| / |T(u)|

    Same definition as Recommenders' ``recall_at_k`` (which averages over viewers present
    in both frames; fairrec counts a viewer of ``truth`` without a list as 0).

    Parameters
    ----------
    recs, truth : pandas.DataFrame
        See :func:`precision_at_k`.
    k : int, optional
        Cut-off; ``None`` uses every rank.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    Viewer 1 finds b of {b, z} (1/2), viewer 2 finds a of {a} (1), viewer 3 nothing (0).

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> recall_at_k(recs, truth, k=2)
    0.5
    >>> recall_at_k(recs, truth, k=2, per_user=True).tolist()
    [0.5, 1.0, 0.0]
    """
    ctx = _Ctx(recs, truth, owner="recall_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, _k_recall(ctx), per_user, "recall_at_k")


def ndcg_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Normalized discounted cumulative gain at k, binary relevance.

    ::

        DCG@k(u)  = sum over ranks r <= k holding a title of T(u) of 1 / log2(r + 1)
        IDCG@k(u) = sum_{r=1}^{min(k, |T(u)|)} 1 / log2(r + 1)
        NDCG@k    = mean over viewers u of truth of DCG@k(u) / IDCG@k(u)

    Identical to ``implicit.evaluation.ndcg_at_k`` and to Recommenders' ``ndcg_at_k`` with its
    default ``score_type="binary"`` (its ``discfun_type`` cancels in the ratio). With
    ``k=None`` the cut-off is each list's length.

    Parameters
    ----------
    recs, truth : pandas.DataFrame
        See :func:`precision_at_k`.
    k : int, optional
        Cut-off; ``None`` uses every rank.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1]; 1 when the held-out titles fill the top ranks.

    Examples
    --------
    Viewer 1: b at rank 2 -> DCG = 1/log2(3) = 0.6309, IDCG = 1 + 1/log2(3) = 1.6309, ratio
    0.3869. Viewer 2: a at rank 1 -> 1. Viewer 3: 0. Mean: 1.3869 / 3 = 0.4623.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> round(ndcg_at_k(recs, truth, k=3), 4)
    0.4623
    """
    ctx = _Ctx(recs, truth, owner="ndcg_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, _k_ndcg(ctx), per_user, "ndcg_at_k")


def map_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Mean average precision at k.

    ::

        AP@k(u) = (1 / min(k, |T(u)|)) * sum over hit ranks r <= k of P@r(u)
        MAP@k   = mean over viewers u of truth of AP@k(u)

    where ``P@r(u)`` is the number of hits at ranks <= r divided by r. Same definition as
    Recommenders' ``map_at_k`` (Spark's) and ``implicit.evaluation.mean_average_precision_at_k``.
    With ``k=None`` the normalizer is ``min(len(list), |T(u)|)``.

    Parameters
    ----------
    recs, truth : pandas.DataFrame
        See :func:`precision_at_k`.
    k : int, optional
        Cut-off; ``None`` uses every rank.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    Viewer 1: one hit at rank 2 -> P@2 = 1/2, normalized by min(3, 2) = 2 -> 0.25.
    Viewer 2: hit at rank 1 -> 1. Viewer 3: 0. MAP@3 = 1.25 / 3.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> round(map_at_k(recs, truth, k=3), 4)
    0.4167
    """
    ctx = _Ctx(recs, truth, owner="map_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, _k_map(ctx), per_user, "map_at_k")


def hit_rate_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Hit rate at k: the share of viewers with at least one held-out title in the top k.

    ::

        HR@k = mean over viewers u of truth of 1[|top_k(u) & T(u)| > 0]

    Parameters
    ----------
    recs, truth : pandas.DataFrame
        See :func:`precision_at_k`.
    k : int, optional
        Cut-off; ``None`` uses every rank.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    Viewers 1 and 2 have a hit in their top 2, viewer 3 has no list: 2 / 3.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> round(hit_rate_at_k(recs, truth, k=2), 4)
    0.6667
    >>> hit_rate_at_k(recs, truth, k=1)  # only viewer 2's first title is a hit
    0.3333333333333333
    """
    ctx = _Ctx(recs, truth, owner="hit_rate_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, _k_hit_rate(ctx), per_user, "hit_rate_at_k")


def catalog_coverage(
    recs: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    catalog: Any = None,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float:
    """Catalog coverage: the share of the catalog recommended to at least one viewer.

    ::

        coverage = |{titles in some top-k list} & catalog| / |catalog|

    The catalog is ``catalog`` when given (a recommended title outside it raises
    :class:`~fairrec.errors.DataError`), else the titles of ``train`` plus the recommended
    titles. This is Recommenders' ``catalog_coverage`` (distinct recommended / distinct train
    titles, Shani & Gunawardana 2010) whenever every recommended title occurs in train.

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame, optional
        ``user_id, item_id``; needed unless ``catalog`` is given.
    k : int, optional
        Cut-off.
    catalog : array-like, optional
        The ids of every title that could be recommended.

    Returns
    -------
    float
        In [0, 1]; 1 when every title is recommended to someone.

    Examples
    --------
    Titles a, b, c, d are recommended out of a catalog of 8:

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> catalog_coverage(recs, catalog=list("abcdefgh"))
    0.5
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="catalog_coverage",
        k=k,
        catalog=catalog,
        **_columns(user_col, item_col, rank_col),
    )
    return _b_catalog_coverage(ctx).value


def distributional_coverage(
    recs: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float:
    """Distributional coverage: Shannon entropy (bits) of how recommendations spread over titles.

    ::

        p(i) = (number of top-k slots holding i) / (number of top-k slots)
        H    = - sum_i p(i) log2 p(i)

    Recommenders' ``distributional_coverage`` (Shani & Gunawardana 2010, eq. 21). 0 when every
    slot shows the same title; ``log2(n)`` when ``n`` titles are shown equally often.

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame, optional
        Not used; accepted so that every metric has the call shape ``(recs, train_or_truth)``
        (Recommenders' function takes it too).
    k : int, optional
        Cut-off.

    Returns
    -------
    float
        In [0, log2(number of distinct recommended titles)]; ``nan`` for no recommendation.

    Examples
    --------
    Slots show a twice and b, c, d once: p = (2/5, 1/5, 1/5, 1/5),
    H = 0.4 log2(2.5) + 3 * 0.2 log2(5) = 1.9219 bits.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> round(distributional_coverage(recs), 4)
    1.9219
    """
    ctx = _Ctx(
        recs,
        None,
        None,
        owner="distributional_coverage",
        k=k,
        **_columns(user_col, item_col, rank_col),
    )
    return _b_distributional_coverage(ctx).value


def gini_index(
    recs: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    catalog: Any = None,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float:
    """Gini index of exposure: how unequally top-k slots are spread over the catalog.

    With ``x_(1) <= ... <= x_(n)`` the number of top-k slots of each of the ``n`` catalog
    titles (never-recommended titles count with 0)::

        G = sum_{j=1}^{n} (2j - n - 1) x_(j) / (n * sum_j x_(j))

    0 when every title gets the same exposure, ``(n - 1) / n`` when one title gets it all. The
    catalog is chosen as in :func:`catalog_coverage`. (Recommenders has no Gini index.)

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame, optional
        Its titles form the catalog unless ``catalog`` is given.
    k : int, optional
        Cut-off.
    catalog : array-like, optional
        The ids of every title that could be recommended.

    Returns
    -------
    float
        In [0, 1); ``nan`` for no recommendation.

    Examples
    --------
    Catalog a, b, c, d; exposures a: 2, b: 1, c: 1, d: 0. Sorted x = (0, 1, 1, 2), n = 4:
    G = (-3*0 - 1*1 + 1*1 + 3*2) / (4 * 4) = 6 / 16.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": list("abac"),
    ...                      "rank": [1, 2, 1, 2]})
    >>> gini_index(recs, catalog=list("abcd"))
    0.375
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="gini_index",
        k=k,
        catalog=catalog,
        **_columns(user_col, item_col, rank_col),
    )
    return _b_gini(ctx).value


def intra_list_diversity(
    recs: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Intra-list diversity: one minus the mean pairwise similarity of a list's titles.

    ::

        ILD(u) = 1 - (2 / (n (n - 1))) * sum_{i < j in top_k(u)} cos(i, j)
        ILD    = mean over viewers with >= 2 recommended titles of ILD(u)

    ``cos`` is the cosine of feature vectors when ``item_features`` is given (numeric columns,
    or genre lists taken as multi-hot vectors), else the co-occurrence cosine
    ``|U_i & U_j| / sqrt(|U_i| |U_j|)`` over the viewers of ``train`` (distinct pairs). These
    are Recommenders' ``diversity`` with ``item_sim_measure="item_feature_vector"`` and
    ``"item_cooccurrence_count"`` (Zhang et al. 2012, eq. 3; Ziegler et al. 2005). A title
    with an all-zero vector has similarity 0 to everything.

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame, optional
        Needed for co-occurrence similarity (when ``item_features`` is None).
    k : int, optional
        Cut-off.
    item_features : pandas.DataFrame or pandas.Series, optional
        Indexed by ``item_id``: numeric vector columns, or genre lists (tuples, lists or
        ``"|"``-separated strings).
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1] for non-negative features and co-occurrence; in [0, 2] for signed vectors.

    Examples
    --------
    Viewer 1 gets a (Drama), b (Drama), c (Comedy): pair cosines 1, 0, 0 -> ILD = 1 - 1/3.
    Viewer 2 gets a (Drama), d (Drama|Comedy): cosine 1/sqrt(2) -> ILD = 0.2929.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"],
    ...                     "d": ["Drama", "Comedy"]})
    >>> intra_list_diversity(recs, item_features=genres, per_user=True).round(4).tolist()
    [0.6667, 0.2929]
    >>> round(intra_list_diversity(recs, item_features=genres), 4)
    0.4798
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="intra_list_diversity",
        k=k,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    return _finish(ctx, _b_ild(ctx), per_user, "intra_list_diversity")


def novelty(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Novelty: mean self-information of recommended titles, in bits.

    ::

        nov(i)  = -log2(count_train(i) / |train|)
        novelty = mean over all top-k slots of nov(i)

    Recommenders' ``novelty`` (Castells et al. 2011, item-choice model). ``count_train``
    counts train lines (events). A title absent from train is counted as seen once (the
    rarest finite popularity) rather than dropped. ``per_user=True`` gives each viewer's mean
    over their own list; the overall value averages over slots, so viewers with longer lists
    weigh more (the two agree when all lists have the same length).

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame
        ``user_id, item_id``.
    k : int, optional
        Cut-off.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In ``[0, log2(|train|)]``.

    Examples
    --------
    Train has 4 events: a three times, b once. nov(a) = -log2(3/4) = 0.415,
    nov(b) = -log2(1/4) = 2. Slots show a, b, a: (0.415 + 2 + 0.415) / 3 = 0.9434.

    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 2, 3, 3], "item_id": list("aaab")})
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2], "item_id": list("aba"), "rank": [1, 2, 1]})
    >>> round(novelty(recs, train), 4)
    0.9434
    """
    ctx = _Ctx(recs, None, train, owner="novelty", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, _b_novelty(ctx), per_user, "novelty")


def unexpectedness(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Unexpectedness: how far recommended titles are from the viewer's history.

    ::

        unexp(u, i)     = 1 - mean over j in H(u) of cos(i, j)
        unexpectedness  = mean over viewers (with a history) of the mean over top_k(u)

    ``H(u)`` is the set of distinct titles of ``u`` in ``train``; ``cos`` is as in
    :func:`intra_list_diversity`. This is Recommenders' ``serendipity`` with every
    recommendation marked relevant (its default ``col_relevance=None``), i.e. the
    "unexpectedness" factor of Zhang et al. 2012. Viewers without train history are left out.

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame
        ``user_id, item_id``: viewer histories (and co-occurrence similarity).
    k : int, optional
        Cut-off.
    item_features : pandas.DataFrame or pandas.Series, optional
        Vectors or genre lists indexed by ``item_id``; ``None`` uses train co-occurrence.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1] for non-negative features and co-occurrence; in [0, 2] for signed vectors.

    Examples
    --------
    Viewer 1 watched a (Drama) and c (Comedy) and gets b (Drama) and d (Drama|Comedy):
    unexp(b) = 1 - (1 + 0)/2 = 0.5; unexp(d) = 1 - (0.7071 + 0.7071)/2 = 0.2929. Mean 0.3964.

    >>> import pandas as pd
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"],
    ...                     "d": ["Drama", "Comedy"]})
    >>> train = pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "c"]})
    >>> recs = pd.DataFrame({"user_id": [1, 1], "item_id": ["b", "d"], "rank": [1, 2]})
    >>> round(unexpectedness(recs, train, item_features=genres), 4)
    0.3964
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="unexpectedness",
        k=k,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    return _finish(ctx, _b_unexpectedness(ctx), per_user, "unexpectedness")


def serendipity(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    train: pd.DataFrame,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Serendipity: unexpectedness counted only for recommendations that turn out relevant.

    ::

        ser(u, i)   = unexp(u, i) * rel(u, i),   rel(u, i) = 1[i in T(u)]
        serendipity = mean over viewers (with a history) of the mean over top_k(u) of ser

    Recommenders' ``user_item_serendipity`` / ``user_serendipity`` / ``serendipity`` (Zhang et
    al. 2012; Yan 2020) with ``col_relevance`` set to membership of the pair in ``truth``;
    ``unexp`` is as in :func:`unexpectedness`. Viewers without train history are left out.

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    truth : pandas.DataFrame
        ``user_id, item_id``: what counts as relevant.
    train : pandas.DataFrame
        ``user_id, item_id``: viewer histories (and co-occurrence similarity).
    k : int, optional
        Cut-off.
    item_features : pandas.DataFrame or pandas.Series, optional
        Vectors or genre lists indexed by ``item_id``; ``None`` uses train co-occurrence.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1] for non-negative features and co-occurrence; in [0, 2] for signed vectors.

    Examples
    --------
    As in :func:`unexpectedness`, but only d was watched afterwards:
    (0.5 * 0 + 0.2929 * 1) / 2 = 0.1464.

    >>> import pandas as pd
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"],
    ...                     "d": ["Drama", "Comedy"]})
    >>> train = pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "c"]})
    >>> recs = pd.DataFrame({"user_id": [1, 1], "item_id": ["b", "d"], "rank": [1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1], "item_id": ["d"]})
    >>> round(serendipity(recs, truth, train=train, item_features=genres), 4)
    0.1464
    """
    ctx = _Ctx(
        recs,
        truth,
        train,
        owner="serendipity",
        k=k,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    return _finish(ctx, _b_serendipity(ctx), per_user, "serendipity")


def miscalibration(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    item_features: ItemFeatures,
    k: int | None = None,
    alpha: float = 0.01,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Miscalibration (Steck 2018): KL divergence of the list's genres from the history's.

    ::

        p(g|i) = 1 / |genres(i)| for each genre of i (or normalized genre weights)
        p(g|u) = mean over j in H(u) of p(g|j)          (distinct train titles)
        q(g|u) = mean over i in top_k(u) of p(g|i)      (q = 0 if no listed title has genres)
        MC(u)  = sum_g p(g|u) ln( p(g|u) / ((1 - alpha) q(g|u) + alpha p(g|u)) )

    averaged over viewers of ``recs`` whose history has at least one genre. Natural log, as
    in Steck's paper; history and list titles weigh the same (no rank weights). Titles
    without genres are left out of the means. (Recommenders has no miscalibration metric.)

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame
        ``user_id, item_id``: viewer histories.
    item_features : pandas.Series or pandas.DataFrame
        Genre lists indexed by ``item_id``, or non-negative genre weights (one column per
        genre).
    k : int, optional
        Cut-off.
    alpha : float
        Smoothing in (0, 1) that keeps the divergence finite (Steck uses 0.01).
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, ln(1/alpha)]; 0 when the list's genre mix equals the history's.

    Examples
    --------
    History a (Drama), c (Comedy): p = (1/2, 1/2). List b (Drama), e (Drama): q = (1, 0).
    MC = 0.5 ln(0.5 / 0.995) + 0.5 ln(0.5 / 0.005) = 1.9585.

    >>> import pandas as pd
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"], "e": ["Drama"]})
    >>> train = pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "c"]})
    >>> recs = pd.DataFrame({"user_id": [1, 1], "item_id": ["b", "e"], "rank": [1, 2]})
    >>> round(miscalibration(recs, train, item_features=genres), 4)
    1.9585
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="miscalibration",
        k=k,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    return _finish(ctx, _b_miscalibration(ctx, alpha), per_user, "miscalibration")


def average_popularity(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Average recommendation popularity (ARP, Abdollahpouri et al.), as a share of train.

    ::

        pop(i) = count_train(i) / |train|
        ARP    = mean over viewers of recs of the mean over top_k(u) of pop(i)

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame
        ``user_id, item_id``; popularity counts train lines (events).
    k : int, optional
        Cut-off.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    pop(a) = 3/4, pop(b) = 1/4. Viewer 1 gets a, b (mean 1/2), viewer 2 gets a (3/4).

    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 2, 3, 3], "item_id": list("aaab")})
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2], "item_id": list("aba"), "rank": [1, 2, 1]})
    >>> average_popularity(recs, train)
    0.625
    """
    ctx = _Ctx(
        recs, None, train, owner="average_popularity", k=k, **_columns(user_col, item_col, rank_col)
    )
    return _finish(ctx, _b_average_popularity(ctx), per_user, "average_popularity")


def popularity_lift(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Popularity lift (Abdollahpouri et al. 2020): how much more popular lists are than profiles.

    ::

        GAP_q = mean over viewers of the mean pop(i) over top_k(u)
        GAP_p = mean over viewers of the mean pop(j) over H(u)   (distinct train titles)
        lift  = (GAP_q - GAP_p) / GAP_p

    over viewers of ``recs`` with a train history; ``pop`` as in :func:`average_popularity`.
    Per viewer (``per_user=True``) the same ratio of the viewer's two means; note the overall
    lift is a ratio of means, not the mean of the per-viewer ratios.

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame
        ``user_id, item_id``.
    k : int, optional
        Cut-off.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [-1, inf); 0 when lists are as popular as profiles, > 0 when more popular.

    Examples
    --------
    pop(a) = 3/4, pop(b) = 1/4. Viewer 3's history is {a, b} (mean 1/2); viewer 3 gets a
    (3/4): lift = (3/4 - 1/2) / (1/2) = 0.5.

    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 2, 3, 3], "item_id": list("aaab")})
    >>> recs = pd.DataFrame({"user_id": [3], "item_id": ["a"], "rank": [1]})
    >>> popularity_lift(recs, train)
    0.5
    """
    ctx = _Ctx(
        recs, None, train, owner="popularity_lift", k=k, **_columns(user_col, item_col, rank_col)
    )
    return _finish(ctx, _b_popularity_lift(ctx), per_user, "popularity_lift")


def long_tail_share(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    head_share: float = 0.2,
    head_by: str = "interactions",
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Long-tail share (APLT, Abdollahpouri et al. 2019): share of list slots given to tail titles.

    ::

        LT(u) = |top_k(u) & tail| / |top_k(u)|,   LT = mean over viewers of recs of LT(u)

    The head is defined from train popularity (ties broken by ascending item id):

    * ``head_by="interactions"`` (default): the most popular titles that together make up
      ``head_share`` of the train interactions (titles are added, most popular first, while
      the share of interactions already covered is below ``head_share``);
    * ``head_by="items"``: the ``ceil(head_share * n)`` most popular of the ``n`` titles with
      at least one train interaction (a quantile of titles).

    Everything else, including titles never seen in train, is the tail.

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    train : pandas.DataFrame
        ``user_id, item_id``.
    k : int, optional
        Cut-off.
    head_share : float
        In (0, 1).
    head_by : {"interactions", "items"}
        How ``head_share`` is read.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    Train: a 6 events, b 2, c 1, d 1 (10 in all). With ``head_share=0.5``, a alone covers
    60 % -> head = {a}. Viewer 1 gets a, c (1/2 tail), viewer 2 gets b, d (all tail).

    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": range(10), "item_id": list("aaaaaabbcd")})
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": list("acbd"),
    ...                      "rank": [1, 2, 1, 2]})
    >>> long_tail_share(recs, train, head_share=0.5)
    0.75
    """
    ctx = _Ctx(
        recs, None, train, owner="long_tail_share", k=k, **_columns(user_col, item_col, rank_col)
    )
    return _finish(ctx, _b_long_tail_share(ctx, head_share, head_by), per_user, "long_tail_share")


# ---------------------------------------------------------------------------- page metrics
def _page_ctx(
    pages: pd.DataFrame,
    truth: Any,
    train: Any,
    owner: str,
    k: Any,
    user_col: str,
    item_col: str,
    row_col: str,
    position_col: str,
    **kw: Any,
) -> _Ctx:
    return _Ctx(
        pages,
        truth,
        train,
        owner=owner,
        k=k,
        page=True,
        user_col=user_col,
        item_col=item_col,
        row_col=row_col,
        position_col=position_col,
        **kw,
    )


def ndcg_2d(
    pages: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    alpha: float = 1.0,
    beta: float = 1.0,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    row_col: str = C.ROW,
    position_col: str = C.POSITION,
) -> float | pd.Series:
    """Two-dimensional nDCG of a carousel page (Felicioni et al., Frontiers in Big Data 2022).

    A slot in row ``i`` at position ``j`` (both 0-based) is discounted by its row and by its
    position within the row, so attention fades to the right and downwards from the top-left
    corner::

        disc(i, j) = 1 / log2(alpha (i + 1) + beta (j + 1))
        DCG2D(u)   = sum over slots holding a title of T(u), first occurrence only, of disc
        IDCG2D(u)  = sum of the min(|T(u)|, #slots) largest disc among the page's slots
        nDCG2D     = mean over viewers u of truth of DCG2D(u) / IDCG2D(u)

    Binary relevance. With ``alpha = beta = 1`` this is the authors' definition (their code
    uses ``1 / log2(i + j + 2)`` for 0-based indices); a title repeated on the page earns only
    at its best-discounted slot, as in the authors' duplicate handling, and the ideal page
    puts the held-out titles in the best-discounted slots of the same page layout.

    Parameters
    ----------
    pages : pandas.DataFrame
        ``user_id, row, position, item_id`` (other columns are ignored).
    truth : pandas.DataFrame
        ``user_id, item_id``.
    k : int, optional
        Keep only the first ``k`` positions of each row.
    alpha, beta : float
        Weights of the row and the position in the discount (> 0, ``alpha + beta > 1``).
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    A 2 x 2 page [[a, b], [c, a]]; the viewer watched a and c. Discounts: (0,0) 1,
    (0,1) and (1,0) 1/log2(3) = 0.6309, (1,1) 1/2. DCG = 1 (a) + 0.6309 (c); the repeated a
    earns nothing. IDCG = 1 + 0.6309. nDCG2D = 1.

    >>> import pandas as pd
    >>> page = pd.DataFrame({"user_id": [1] * 4, "row": [0, 0, 1, 1],
    ...                      "position": [0, 1, 0, 1], "item_id": list("abca")})
    >>> ndcg_2d(page, pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "c"]}))
    1.0

    Watching only b (at (0, 1)): 0.6309 / 1.

    >>> round(ndcg_2d(page, pd.DataFrame({"user_id": [1], "item_id": ["b"]})), 4)
    0.6309
    """
    ctx = _page_ctx(pages, truth, None, "ndcg_2d", k, user_col, item_col, row_col, position_col)
    return _finish(ctx, _p_ndcg_2d(ctx, alpha, beta), per_user, "ndcg_2d")


def repeat_rate(
    pages: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    row_col: str = C.ROW,
    position_col: str = C.POSITION,
) -> float | pd.Series:
    """Repeats across rows: the share of a page's slots that repeat a title shown elsewhere.

    ::

        repeats(u) = 1 - (distinct titles on the page) / (slots on the page)

    averaged over the viewers of ``pages``. 0 when no title appears twice.

    Parameters
    ----------
    pages : pandas.DataFrame
        ``user_id, row, position, item_id``.
    k : int, optional
        Keep only the first ``k`` positions of each row.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1).

    Examples
    --------
    The page [[a, b], [c, a]] has 4 slots and 3 distinct titles: 1 - 3/4.

    >>> import pandas as pd
    >>> page = pd.DataFrame({"user_id": [1] * 4, "row": [0, 0, 1, 1],
    ...                      "position": [0, 1, 0, 1], "item_id": list("abca")})
    >>> repeat_rate(page)
    0.25
    """
    ctx = _page_ctx(pages, None, None, "repeat_rate", k, user_col, item_col, row_col, position_col)
    return _finish(ctx, _p_repeat_rate(ctx), per_user, "repeat_rate")


def page_coverage(
    pages: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    catalog: Any = None,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    row_col: str = C.ROW,
    position_col: str = C.POSITION,
) -> float:
    """Page coverage: the share of the catalog shown on at least one viewer's page.

    ::

        coverage = |{titles on some page} & catalog| / |catalog|

    :func:`catalog_coverage` for whole pages (a title shown in several rows counts once). The
    catalog is ``catalog`` when given, else the titles of ``train`` plus the titles shown.

    Parameters
    ----------
    pages : pandas.DataFrame
        ``user_id, row, position, item_id``.
    train : pandas.DataFrame, optional
        Its titles form the catalog unless ``catalog`` is given.
    k : int, optional
        Keep only the first ``k`` positions of each row.
    catalog : array-like, optional
        The ids of every title that could be shown.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    Pages show a, b, c out of a catalog of 6:

    >>> import pandas as pd
    >>> page = pd.DataFrame({"user_id": [1] * 4, "row": [0, 0, 1, 1],
    ...                      "position": [0, 1, 0, 1], "item_id": list("abca")})
    >>> page_coverage(page, catalog=list("abcdef"))
    0.5
    """
    ctx = _page_ctx(
        pages,
        None,
        train,
        "page_coverage",
        k,
        user_col,
        item_col,
        row_col,
        position_col,
        catalog=catalog,
    )
    return _b_catalog_coverage(ctx).value


def row_coherence(
    pages: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    row_col: str = C.ROW,
    position_col: str = C.POSITION,
) -> float | pd.Series:
    """Row coherence: how alike the titles of a row are (a titled row should hang together).

    ::

        coh(u, row) = mean over pairs of distinct titles i < j in the row of cos(i, j)
        coh(u)      = mean over the viewer's rows with >= 2 distinct titles
        coherence   = mean over viewers

    ``cos`` as in :func:`intra_list_diversity` (feature vectors, genres as multi-hot vectors,
    or train co-occurrence); a row's coherence is one minus its intra-list diversity.

    Parameters
    ----------
    pages : pandas.DataFrame
        ``user_id, row, position, item_id``.
    train : pandas.DataFrame, optional
        Needed for co-occurrence similarity (when ``item_features`` is None).
    k : int, optional
        Keep only the first ``k`` positions of each row.
    item_features : pandas.DataFrame or pandas.Series, optional
        Vectors or genre lists indexed by ``item_id``.
    per_user : bool
        Return per-viewer values (Series indexed by ``user_id``).

    Returns
    -------
    float or pandas.Series
        In [0, 1] for non-negative features and co-occurrence; in [-1, 1] for signed vectors.

    Examples
    --------
    Row 0 = a, b (Drama, Drama): 1. Row 1 = c, a (Comedy, Drama): 0. Mean 0.5.

    >>> import pandas as pd
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"]})
    >>> page = pd.DataFrame({"user_id": [1] * 4, "row": [0, 0, 1, 1],
    ...                      "position": [0, 1, 0, 1], "item_id": list("abca")})
    >>> row_coherence(page, item_features=genres)
    0.5
    """
    ctx = _page_ctx(
        pages,
        None,
        train,
        "row_coherence",
        k,
        user_col,
        item_col,
        row_col,
        position_col,
        item_features=item_features,
    )
    return _finish(ctx, _p_row_coherence(ctx), per_user, "row_coherence")


# ============================================================================ registry
@dataclass(frozen=True)
class MetricSpec:
    """How :func:`all_metrics` computes one metric.

    Attributes
    ----------
    name : str
        The public function's name.
    function : callable
        The public function.
    kernel : callable
        Internal kernel on the shared preprocessed inputs.
    needs : tuple of str
        Inputs required among ``"truth"``, ``"train"``, ``"item_features"``, ``"catalog"``
        (train or catalog) and ``"similarity"`` (item_features, or train for co-occurrence).
    per_user : bool
        Whether per-viewer values exist.
    higher_is_better : bool or None
        Direction for comparisons (None: no preferred direction).
    kind : str
        ``"accuracy"`` or ``"beyond"``.
    """

    name: str
    function: Callable[..., Any]
    kernel: Callable[..., _Res]
    needs: tuple[str, ...]
    per_user: bool
    higher_is_better: bool | None
    kind: str


def _spec(
    fn: Callable[..., Any],
    kernel: Callable[..., _Res],
    needs: tuple[str, ...],
    per_user: bool,
    better: bool | None,
    kind: str,
) -> MetricSpec:
    return MetricSpec(fn.__name__, fn, kernel, needs, per_user, better, kind)


REGISTRY: dict[str, MetricSpec] = {
    s.name: s
    for s in (
        _spec(precision_at_k, _k_precision, ("truth",), True, True, "accuracy"),
        _spec(recall_at_k, _k_recall, ("truth",), True, True, "accuracy"),
        _spec(ndcg_at_k, _k_ndcg, ("truth",), True, True, "accuracy"),
        _spec(map_at_k, _k_map, ("truth",), True, True, "accuracy"),
        _spec(hit_rate_at_k, _k_hit_rate, ("truth",), True, True, "accuracy"),
        _spec(catalog_coverage, _b_catalog_coverage, ("catalog",), False, True, "beyond"),
        _spec(distributional_coverage, _b_distributional_coverage, (), False, True, "beyond"),
        _spec(gini_index, _b_gini, ("catalog",), False, False, "beyond"),
        _spec(intra_list_diversity, _b_ild, ("similarity",), True, True, "beyond"),
        _spec(novelty, _b_novelty, ("train",), True, True, "beyond"),
        _spec(unexpectedness, _b_unexpectedness, ("train", "similarity"), True, True, "beyond"),
        _spec(serendipity, _b_serendipity, ("truth", "train", "similarity"), True, True, "beyond"),
        _spec(miscalibration, _b_miscalibration, ("train", "item_features"), True, False, "beyond"),
        _spec(average_popularity, _b_average_popularity, ("train",), True, None, "beyond"),
        _spec(popularity_lift, _b_popularity_lift, ("train",), True, False, "beyond"),
        _spec(long_tail_share, _b_long_tail_share, ("train",), True, True, "beyond"),
    )
}
"""Flat-list metrics by name (page metrics take page frames and are not listed)."""


def all_metrics(
    recs: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    catalog: Any = None,
    metrics: Sequence[str] | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> dict[str, float | pd.Series]:
    """Compute many metrics at once, sharing the preprocessing (id codes, hits, histories).

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    truth, train : pandas.DataFrame, optional
        Ground truth and training interactions.
    k : int, optional
        Cut-off for every metric.
    item_features : pandas.DataFrame or pandas.Series, optional
        Vectors or genre lists indexed by ``item_id``.
    catalog : array-like, optional
        Every title id that could be recommended.
    metrics : sequence of str, optional
        Names from :data:`REGISTRY`. Default: every metric whose inputs were given
        (similarity metrics only with ``item_features``; name them explicitly to use train
        co-occurrence instead). Naming a metric whose inputs are missing raises
        :class:`~fairrec.errors.ParameterError`.
    per_user : bool
        Per-viewer Series for the metrics that have them (the others stay floats).

    Returns
    -------
    dict
        Metric name -> value (or per-viewer Series), in :data:`REGISTRY` order. Metrics take
        their default options (``precision_at_k`` with ``denominator="k"``).

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2], "item_id": list("aba"), "rank": [1, 2, 1]})
    >>> truth = pd.DataFrame({"user_id": [1, 2], "item_id": ["b", "c"]})
    >>> out = all_metrics(recs, truth, metrics=["precision_at_k", "recall_at_k"], k=2)
    >>> out
    {'precision_at_k': 0.25, 'recall_at_k': 0.5}
    """
    have = {
        "truth": truth is not None,
        "train": train is not None,
        "item_features": item_features is not None,
        "catalog": train is not None or catalog is not None,
        "similarity": item_features is not None or train is not None,
    }
    if metrics is None:
        default = {**have, "similarity": item_features is not None}
        names = [n for n, s in REGISTRY.items() if all(default[x] for x in s.needs)]
    else:
        names = list(metrics)
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            raise param_error("metrics", "all_metrics", f"names from {sorted(REGISTRY)}", unknown)
        for n in names:
            missing = [x for x in REGISTRY[n].needs if not have[x]]
            if missing:
                what = {"similarity": "item_features or train", "catalog": "train or catalog"}
                raise ParameterError(
                    f"Metric {n!r} needs {', '.join(what.get(x, x) for x in missing)}; not given."
                )
    ctx = _Ctx(
        recs,
        truth,
        train,
        owner="all_metrics",
        k=k,
        catalog=catalog,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    out: dict[str, float | pd.Series] = {}
    for n in REGISTRY:
        if n in names:
            spec = REGISTRY[n]
            out[n] = _finish(ctx, spec.kernel(ctx), per_user and spec.per_user, n)
    return out
