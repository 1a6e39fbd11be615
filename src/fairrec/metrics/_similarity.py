"""Similarity between titles for the diversity, surprise, calibration and coherence metrics.

Cosines of feature vectors (numeric columns, or genre lists as multi-hot vectors) or of train
co-occurrence, computed on sparse matrices and looked up with a vectorized binary search.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec._checks import listing
from fairrec.errors import DataError, ParameterError
from fairrec.metrics._inputs import (
    ItemFeatures,
    _group_bounds,
    _row_normalize,
    _safe_div,
)

if TYPE_CHECKING:
    from fairrec.metrics._context import _Ctx


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
        raise DataError(f"item_features has duplicated item id(s) in its index: {listing(dup)}.")
    pos = ctx.item_index.get_indexer(f.index)
    has = np.zeros(ctx.n_items, bool)
    has[pos[pos >= 0]] = True
    missing = needed[~has[needed]]
    if len(missing):
        raise DataError(
            f"item_features has no row for {len(missing)} title(s): "
            f"{listing(ctx.item_index[missing])}."
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
            f"item_features column(s) {listing(nonnum)} are not numeric; pass vectors as "
            "numeric columns or genres as a Series of lists."
        )
    vals = num.to_numpy(dtype=np.float64)
    if not np.isfinite(vals).all():
        bad = num.index[~np.isfinite(vals).all(axis=1)]
        raise DataError(f"item_features holds NaN or inf for title(s) {listing(bad)}.")
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
