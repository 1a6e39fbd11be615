"""Taste groups: the titles in a few clusters of similar titles, each training viewer's main
taste, and per main taste how many training viewers have it and liked each title.

Fixed at fit time from the training matrix and the model's title vectors, so "viewers who
share your main taste" (*Outside your bubble*) costs the same per page at any number of
training viewers. Re-exported by :mod:`fairrec.rows.evidence`, the public home of these names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fairrec.models import single_threaded_blas

__all__ = ["N_TASTES", "TasteGroups", "taste_clusters", "taste_groups", "main_tastes"]

#: taste clusters of titles (at most; fewer for a catalog of fewer titles with vectors)
N_TASTES = 16


def taste_clusters(
    vectors: np.ndarray, n_clusters: int = N_TASTES, iterations: int = 10
) -> np.ndarray:
    """Each title's taste cluster: a spherical k-means of the unit title vectors.

    Deterministic: k-means++ seeding with a fixed seed, then at most ``iterations`` rounds
    of "each centre the normalised sum of its titles, each title to the centre of highest
    cosine" (ties by centre index; a centre left without titles keeps its place; stops
    when no title changes centre). Titles with a zero vector get ``-1``. Reads only the
    title vectors (no viewer's row).

    Parameters
    ----------
    vectors : (n_items, d) array
        Title vectors (the fitted state's unit ``vectors_``).
    n_clusters : int, default :data:`N_TASTES`
        At most this many clusters (fewer when fewer titles have a vector).
    iterations : int, default 10

    Returns
    -------
    (n_items,) int64 array
        Cluster per title, ``-1`` for a zero vector.
    """
    v = np.asarray(vectors, dtype=np.float32)
    n = v.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or v.ndim != 2 or v.shape[1] == 0:
        return out
    norms = np.linalg.norm(v, axis=1)
    ok = np.flatnonzero(norms > 0)
    if ok.size == 0:
        return out
    x = v[ok] / norms[ok, None]
    k = int(min(n_clusters, ok.size))
    # small products: BLAS threads would only spin (about 3x the CPU time)
    with single_threaded_blas():
        out[ok] = _kmeans(x, k, iterations)
    return out


def _kmeans(x: np.ndarray, k: int, iterations: int) -> np.ndarray:
    """:func:`taste_clusters` of unit rows ``x`` (``k`` centres)."""
    rng = np.random.default_rng(0)
    centres = np.empty((k, x.shape[1]), dtype=np.float32)
    centres[0] = x[0]
    best = x @ x[0]  # highest cosine to a chosen centre so far
    for c in range(1, k):  # k-means++: the next centre far from the chosen ones
        w = np.maximum(1.0 - best.astype(np.float64), 0.0)
        total = w.sum()
        j = int(rng.choice(x.shape[0], p=w / total)) if total > 0 else c % x.shape[0]
        centres[c] = x[j]
        np.maximum(best, x @ x[j], out=best)
    x64 = x.astype(np.float64)
    cols = np.arange(x.shape[0])
    assign = np.argmax(x @ centres.T, axis=1)
    for _ in range(iterations):
        onehot = sp.csr_matrix((np.ones(assign.size), (assign, cols)), shape=(k, assign.size))
        sums = np.asarray(onehot @ x64)
        size = np.linalg.norm(sums, axis=1)
        filled = size > 0
        centres[filled] = (sums[filled] / size[filled, None]).astype(np.float32)
        new = np.argmax(x @ centres.T, axis=1)
        if np.array_equal(new, assign):  # converged: the next round would change nothing
            break
        assign = new
    return assign


def main_tastes(liked: sp.csr_matrix, title_taste: np.ndarray, n_tastes: int) -> np.ndarray:
    """Each row's main taste: the cluster (``title_taste``) holding the most of its liked
    titles (stored entries with a value > 0, each title once), ties to the lower cluster;
    ``-1`` for a row without a liked title in any cluster."""
    if not liked.has_canonical_format:  # each (row, title) once, summed
        liked = liked.copy()
        liked.sum_duplicates()
    if liked.shape[0] == 1:  # one row: its entries' rows are all 0
        rows = np.zeros(liked.nnz, dtype=np.int64)
    else:
        rows = np.repeat(np.arange(liked.shape[0], dtype=np.int64), np.diff(liked.indptr))
    return _main_of(liked, rows, title_taste, n_tastes)


def _main_of(
    m: sp.csr_matrix, rows: np.ndarray, title_taste: np.ndarray, n_tastes: int
) -> np.ndarray:
    """:func:`main_tastes` of a canonical ``m`` whose entries' rows are ``rows``."""
    u = m.shape[0]
    out = np.full(u, -1, dtype=np.int64)
    if n_tastes == 0 or not m.nnz:
        return out
    t = title_taste[m.indices]
    keep = (m.data > 0) & (t >= 0)
    if not keep.any():
        return out
    counts = np.bincount(rows[keep] * n_tastes + t[keep], minlength=u * n_tastes)
    counts = counts.reshape(u, n_tastes)
    has = counts.max(axis=1) > 0
    out[has] = np.argmax(counts[has], axis=1)  # first maximum: the lower cluster
    return out


@dataclass(frozen=True)
class TasteGroups:
    """The training viewers grouped by main taste (:func:`main_tastes`), fixed at fit time.

    Built from the consented, in-window training matrix and the model's title vectors only,
    and rebuilt with the rest of the fitted state by ``fit``, ``load``, ``forget`` and
    ``add_titles``: an erased viewer's row is in no count. Nothing here is saved in a model
    file (it is derived again on load).

    Attributes
    ----------
    title_taste : (n_items,) int
        Each title's taste cluster (:func:`taste_clusters`), ``-1`` none.
    n_tastes : int
        Number of clusters.
    viewer_taste : (n_train,) int
        Each training viewer's main taste, ``-1`` none.
    size : (n_tastes,) int
        Training viewers per main taste.
    liked : (n_tastes, n_items) int32
        Of those viewers, how many have a positive (weight > 0) on each title.
    """

    title_taste: np.ndarray
    n_tastes: int
    viewer_taste: np.ndarray
    size: np.ndarray
    liked: np.ndarray

    def group_counts(
        self, tastes: np.ndarray, own_rows: np.ndarray, items: np.ndarray, train: sp.csr_matrix
    ) -> tuple[np.ndarray, np.ndarray]:
        """For viewers of main taste ``tastes`` (``(u,)``, ``-1`` none) and their training
        rows ``own_rows`` (``-1`` none) of ``train`` (the matrix the groups were built from):
        the *other* training viewers of their main taste and how many of those liked each of
        ``items`` (``(u, k)``, ``-1`` padded; 0 there).

        Returns
        -------
        viewers : (u,) int64
        liked : (u, k) int64
        """
        if len(tastes) == 1:
            return self._group_counts_one(int(tastes[0]), int(own_rows[0]), items, train)
        has = tastes >= 0
        if not has.any():  # no viewer has a main taste (or there are no groups at all)
            return np.zeros(len(tastes), dtype=np.int64), np.zeros(items.shape, dtype=np.int64)
        g = np.maximum(tastes, 0)
        own = (own_rows >= 0) & has
        own = own & (self.viewer_taste[np.maximum(own_rows, 0)] == g) if own.any() else own
        viewers = np.where(has, self.size[g] - own, 0).astype(np.int64)
        if items.size == 0 or self.liked.size == 0:
            return viewers, np.zeros(items.shape, dtype=np.int64)
        safe = np.maximum(items, 0)
        # self.liked[g[:, None], safe], by the cells' flat indices (one take)
        liked = np.take(self.liked, safe + (g * self.liked.shape[1])[:, None]).astype(np.int64)
        if own.any():
            liked -= _row_liked(train, np.where(own, own_rows, -1), safe)
        ok = has[:, None] & (items >= 0)
        return viewers, np.where(ok, liked, 0)

    def _group_counts_one(
        self, taste: int, own_row: int, items: np.ndarray, train: sp.csr_matrix
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`group_counts` of one viewer (``items`` of shape ``(1, k)``): the same
        counts, with the viewer's taste and row as Python ints."""
        if taste < 0:
            return np.zeros(1, dtype=np.int64), np.zeros(items.shape, dtype=np.int64)
        own = own_row >= 0 and int(self.viewer_taste[own_row]) == taste
        viewers = np.array([int(self.size[taste]) - own], dtype=np.int64)
        if items.size == 0 or self.liked.size == 0:
            return viewers, np.zeros(items.shape, dtype=np.int64)
        safe = np.maximum(items, 0)
        liked = self.liked[taste][safe].astype(np.int64)
        if own:
            liked -= _row_liked(train, np.array([own_row]), safe)
        return viewers, np.where(items >= 0, liked, 0)


#: :func:`_row_liked` marks the viewers' positives in a (u, n_items) bool mask up to this
#: many cells (16 MB); beyond, it searches them
_DENSE_LIKED = 1 << 24


def _row_liked(m: sp.csr_matrix, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``(u, k)``: whether ``m[rows[v], items[v, j]] > 0`` (False where ``rows`` is -1), for a
    canonical ``m``. One binary search over the viewers' rows laid end to end (viewer ``v``'s
    titles offset by ``v * n_items``, so the keys ascend)."""
    if not m.has_canonical_format:
        m = m.copy()
        m.sum_duplicates()
    u = len(rows)
    out = np.zeros(items.shape, dtype=bool)
    live = rows >= 0
    if not live.any():
        return out
    n = m.shape[1]
    if u == 1:  # one row: a binary search of its own sorted titles
        lo, hi = m.indptr[rows[0]], m.indptr[rows[0] + 1]
        if hi > lo:
            cols = m.indices[lo:hi]
            pos = np.minimum(np.searchsorted(cols, items[0]), hi - lo - 1)
            out[0] = (cols[pos] == items[0]) & (m.data[lo:hi][pos] > 0)
        return out
    if u * n <= _DENSE_LIKED:
        # a few viewers: their positives marked in a (u, n_items) mask, then looked up
        r = np.where(live, rows, 0)
        lens = np.where(live, m.indptr[r + 1] - m.indptr[r], 0).astype(np.int64)
        at = np.arange(int(lens.sum())) + np.repeat(m.indptr[r] - (np.cumsum(lens) - lens), lens)
        who = np.repeat(np.arange(u, dtype=np.int64), lens)
        hit = m.data[at] > 0
        mask = np.zeros(u * n, dtype=bool)
        mask[m.indices[at][hit] + who[hit] * n] = True
        return np.take(mask, items + np.arange(u, dtype=np.int64)[:, None] * n)
    r = np.where(live, rows, 0)
    lens = np.where(live, m.indptr[r + 1] - m.indptr[r], 0).astype(np.int64)
    total = int(lens.sum())
    if total == 0:
        return out
    starts = m.indptr[r].astype(np.int64)
    at = np.arange(total) + np.repeat(starts - (np.cumsum(lens) - lens), lens)
    keys = m.indices[at].astype(np.int64) + np.repeat(np.arange(u, dtype=np.int64) * n, lens)
    q = items.astype(np.int64) + np.arange(u, dtype=np.int64)[:, None] * n
    pos = np.minimum(np.searchsorted(keys, q), total - 1)
    return (keys[pos] == q) & (m.data[at[pos]] > 0) & live[:, None]


def taste_groups(
    train: sp.csr_matrix,
    title_taste: np.ndarray,
    n_tastes: int | None = None,
    *,
    block: int = 1 << 22,
) -> TasteGroups:
    """The training viewers of ``train`` grouped by main taste (see :class:`TasteGroups`).

    Parameters
    ----------
    train : csr (n_train, n_items)
        Consented, in-window training events (a stored 0: watched, not a positive).
    title_taste : (n_items,) int
        :func:`taste_clusters` of the titles.
    n_tastes : int, optional
        Number of clusters (default: the largest cluster index + 1).
    block : int, default 2**22
        Stored cells per block of whole rows the counts are taken over: the per-cell
        temporaries stay the size of a block (a 1M-viewer fit has 50M cells). Any block
        size gives the same groups.
    """
    title_taste = np.asarray(title_taste, dtype=np.int64)
    n_items = train.shape[1]
    if n_tastes is None:
        n_tastes = int(title_taste.max()) + 1 if title_taste.size else 0
    if not train.has_canonical_format:
        train = train.copy()
        train.sum_duplicates()
    u = train.shape[0]
    viewer = np.full(u, -1, dtype=np.int64)
    liked = np.zeros(n_tastes * n_items, dtype=np.int64)
    edges = np.searchsorted(
        train.indptr, np.arange(max(int(block), 1), train.nnz, max(int(block), 1))
    )
    bounds = [0, *np.unique(np.clip(edges, 1, max(u, 1))).tolist(), u]
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        if r1 <= r0:
            continue
        block = train[r0:r1]
        rows = np.repeat(np.arange(r1 - r0, dtype=np.int64), np.diff(block.indptr))
        main = viewer[r0:r1] = _main_of(block, rows, title_taste, n_tastes)
        taste = main[rows]
        keep = (taste >= 0) & (block.data > 0)
        if keep.any():
            liked += np.bincount(
                taste[keep] * n_items + block.indices[keep], minlength=n_tastes * n_items
            )
    size = np.bincount(viewer[viewer >= 0], minlength=n_tastes).astype(np.int64)
    liked = liked.astype(np.int32)
    return TasteGroups(
        title_taste=title_taste,
        n_tastes=int(n_tastes),
        viewer_taste=viewer,
        size=size,
        liked=liked.reshape(n_tastes, n_items),
    )
