"""The facts reasons state, computed from the consented data a page uses.

* :class:`TitleStats` -- per title, from the consented, in-window *training* events (the data
  the model was fitted on): how many viewers watched it (any event, weight 0 included), how
  many had it as a positive (weight > 0), and, when the data has explicit ratings, their
  mean. "Rarely watched" and "well liked" are read from here.
* :func:`contributions` -- how much each title of a viewer's consented history adds to the
  model's score of a candidate: exact for implicit ALS (the per-title terms of implicit's
  ``explain``, which sum to the score), for ItemKNN (similarity times weight) and for EASE
  (``w_j * B[j, i]``); for other
  models the cosine similarity of the title vectors, labelled as such.
* :func:`taste_clusters`, :class:`TasteGroups` -- the titles in a few clusters of similar
  titles (their model vectors), each training viewer's *main taste* (the cluster most of
  their liked titles fall in) and, per main taste, how many training viewers have it and
  how many of them liked each title: fixed at fit time, so "viewers who share your main
  taste" costs the same per page at any number of training viewers.
* :func:`closest_viewers` -- a viewer's nearest training viewers by history overlap and how
  many of them liked each title (O(training viewers) per viewer; no default row uses it).

The verifier (:func:`fairrec.audit.verify_page`) re-derives these facts on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from fairrec.models import single_threaded_blas
from fairrec.rows._contributions import (
    BASIS_ALS,
    BASIS_EASE,
    BASIS_KNN,
    BASIS_SIMILARITY,
    contributions,
    top_contributions,
)

__all__ = [
    "TitleStats",
    "title_stats",
    "popularity_share",
    "contributions",
    "top_contributions",
    "closest_viewers",
    "TasteGroups",
    "taste_clusters",
    "taste_groups",
    "main_tastes",
    "N_TASTES",
    "BASIS_ALS",
    "BASIS_KNN",
    "BASIS_EASE",
    "BASIS_SIMILARITY",
    "MIN_WATCHERS",
    "N_NEIGHBORS",
]

#: a title needs this many watchers before its liking share is stated or compared
MIN_WATCHERS = 5
#: "your closest viewers": how many
N_NEIGHBORS = 50
#: taste clusters of titles (at most; fewer for a catalog of fewer titles with vectors)
N_TASTES = 16

_CHUNK = 1 << 22  # floats per (viewers x titles x history) block


def popularity_share(watchers: np.ndarray) -> np.ndarray:
    """Share of the catalog's titles watched by *fewer* viewers than each title, in [0, 1).

    ``0.3`` reads "watched by fewer viewers than 70 % of the catalog's titles" does not
    hold; it reads "30 % of the titles have fewer viewers than this one". Ties share a value.
    """
    w = np.asarray(watchers)
    n = max(len(w), 1)
    return np.searchsorted(np.sort(w, kind="stable"), w, side="left") / n


@dataclass(frozen=True)
class TitleStats:
    """Per-title facts from the consented, in-window training events.

    Attributes
    ----------
    n_viewers : int
        Training viewers (consented, with an in-window event).
    watchers, likers : (n_items,) int arrays
        Distinct training viewers with any event / a positive (weight > 0) on the title.
    pop_share : (n_items,) array
        :func:`popularity_share` of ``watchers``.
    liking_measured : bool
        The training data holds non-positive events (weight 0), so ``likers / watchers``
        measures liking; without them every watcher is a positive and nothing is claimed.
    like_label : str
        How a positive reads: ``"rated it 4+"`` when explicit ratings define the positives
        (every positive rated at least 4, every other event below), else ``"liked it"``.
    mean_rating, n_ratings : arrays or None
        Mean explicit rating and number of ratings per title (events with a rating).
    liked_median, rating_median : float or None
        Median liked share / mean rating over titles with ``MIN_WATCHERS`` watchers or more.
    cache : dict
        What row kinds derive from these facts alone (e.g. the titles a row kind's rule
        makes eligible, a title's evidence), computed once and reused by every page served
        from them; not compared, not copied by ``dataclasses.replace``, never saved.
    """

    n_viewers: int
    watchers: np.ndarray
    likers: np.ndarray
    pop_share: np.ndarray
    liking_measured: bool
    like_label: str
    mean_rating: np.ndarray | None
    n_ratings: np.ndarray | None
    liked_median: float | None
    rating_median: float | None
    cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def liked_share(self) -> np.ndarray:
        """``likers / watchers`` (0 where nobody watched)."""
        return self.likers / np.maximum(self.watchers, 1)


def title_stats(
    train: sp.csr_matrix, item_ratings: tuple[np.ndarray, np.ndarray] | None = None
) -> TitleStats:
    """Title facts from a training matrix whose explicit zeros are non-positive events.

    Parameters
    ----------
    train : csr (n_viewers, n_items)
        Consented, in-window training events, duplicates summed; a stored 0 is a title
        watched without being a positive.
    item_ratings : (sum, count) arrays, optional
        Sum and number of explicit ratings per title over the same events.
    """
    n_items = train.shape[1]
    watchers = np.bincount(train.indices, minlength=n_items).astype(np.int64)
    likers = np.bincount(train.indices[train.data > 0], minlength=n_items).astype(np.int64)
    measured = bool(train.nnz and (train.data <= 0).any())
    enough = watchers >= MIN_WATCHERS
    share = likers / np.maximum(watchers, 1)
    liked_median = float(np.median(share[enough])) if measured and enough.any() else None
    mean = count = None
    rating_median = None
    label = "liked it"
    if item_ratings is not None:
        total, count = item_ratings
        count = count.astype(np.int64)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        ok = enough & (count > 0)
        if ok.any():
            rating_median = float(np.median(mean[ok]))
    return TitleStats(
        n_viewers=int(train.shape[0]),
        watchers=watchers,
        likers=likers,
        pop_share=popularity_share(watchers),
        liking_measured=measured,
        like_label=label,
        mean_rating=mean,
        n_ratings=count,
        liked_median=liked_median,
        rating_median=rating_median,
    )


def with_label(stats: TitleStats, label: str) -> TitleStats:
    """``stats`` with another :attr:`TitleStats.like_label`."""
    from dataclasses import replace

    return replace(stats, like_label=label)


_TRAIN_PARTS: dict[int, tuple] = {}


def _train_parts(train: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix]:
    """Binary ``train.T`` (n_items, n_train), row sizes and the binary positives, computed
    once per training matrix (the fitted state is immutable; cached by identity)."""
    hit = _TRAIN_PARTS.get(id(train))
    if hit is not None and hit[0] is train:
        return hit[1]
    tb = train.copy()
    tb.data = np.ones_like(tb.data)
    pos = train.copy()
    pos.data = (pos.data > 0).astype(np.float64)
    pos.eliminate_zeros()
    parts = (tb.T.tocsr(), np.diff(tb.indptr).astype(np.float64), pos)
    if len(_TRAIN_PARTS) >= 4:
        _TRAIN_PARTS.clear()
    _TRAIN_PARTS[id(train)] = (train, parts)
    return parts


def _overlap(histories: sp.csr_matrix, tbt: sp.csr_matrix, n_train: int) -> np.ndarray:
    """(u, n_train) float: the binary ``histories`` times the binary ``tbt`` -- titles each
    viewer has in common with each training viewer.

    Summed with ``bincount`` over the rows of ``tbt`` each viewer's entries select (no sparse
    product, no sort), for groups of viewers of at most ``_CHUNK`` gathered entries (a batch
    of viewers with popular histories gathers hundreds of millions)."""
    h = histories
    u = h.shape[0]
    out = np.zeros((u, n_train))
    lens = (tbt.indptr[h.indices + 1] - tbt.indptr[h.indices]).astype(np.int64)
    if not len(lens) or not lens.any():
        return out
    per_viewer = np.add.reduceat(np.concatenate([lens, [0]]), h.indptr[:-1])
    per_viewer[np.diff(h.indptr) == 0] = 0
    group = np.cumsum(per_viewer) // _CHUNK  # consecutive viewers, ~_CHUNK entries each
    bounds = np.flatnonzero(np.diff(group)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, u]):
        e0, e1 = h.indptr[lo], h.indptr[hi]
        ln = lens[e0:e1]
        total = int(ln.sum())
        if total == 0:
            continue
        starts = tbt.indptr[h.indices[e0:e1]]
        offs = np.repeat(starts - (np.cumsum(ln) - ln), ln)
        cols = tbt.indices[np.arange(total) + offs].astype(np.int64)
        if hi - lo > 1:
            viewer = np.repeat(np.arange(hi - lo), np.diff(h.indptr[lo : hi + 1]))
            cols += np.repeat(viewer, ln) * n_train
        out[lo:hi] = np.bincount(cols, minlength=(hi - lo) * n_train).reshape(hi - lo, n_train)
    return out


def _top_rows(who: np.ndarray, col: np.ndarray, val: np.ndarray, u: int, k: int) -> np.ndarray:
    """Per row, the columns of the ``k`` largest values, by value descending then column
    ascending (``-1`` padded): exactly the first ``k`` of a stable sort by ``-value``.

    ``(who, col, val)`` are the candidate entries (positive values), in row-major order. A
    partition finds each row's ``k``-th largest value; only the entries at or above it (ties
    kept) are sorted."""
    out = np.full((u, k), -1, dtype=np.int64)
    if len(who) == 0:
        return out
    cnt = np.bincount(who, minlength=u)
    start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    width = int(cnt.max())
    if width > k:
        # padded per-row values; padding is distinct and below every value (a partition
        # degrades on many equal entries)
        pad = np.empty((u, width))
        pad[:] = -1.0 - np.arange(width, dtype=np.float64)
        pad[who, np.arange(len(who)) - start[who]] = val
        kth = np.partition(pad, width - k, axis=1)[:, width - k]
        keep = val >= kth[who]
        who, col, val = who[keep], col[keep], val[keep]
    order = np.lexsort((col, -val, who))  # by row, value descending, column ascending
    who, col = who[order], col[order]
    first = np.searchsorted(who, np.arange(u))
    rank = np.arange(len(who)) - first[who]
    keep = rank < k
    out[who[keep], rank[keep]] = col[keep]
    return out


def _top_one(
    history: sp.csr_matrix, tbt: sp.csr_matrix, sizes: np.ndarray, self_row: int, k: int
) -> np.ndarray:
    """:func:`closest_viewers`'s neighbours of a single viewer (``k`` columns, ``-1``
    padded): the same overlap counts, keys and order as the grouped path, from one
    ``bincount`` of the training viewers the viewer's titles select."""
    out = np.full(k, -1, dtype=np.int64)
    titles = history.indices[history.indptr[0] : history.indptr[1]]
    starts, ln = tbt.indptr[titles], np.diff(tbt.indptr)[titles].astype(np.int64)
    total = int(ln.sum())
    if total == 0:
        return out
    at = np.arange(total) + np.repeat(starts - (np.cumsum(ln) - ln), ln)
    counts = np.bincount(tbt.indices[at], minlength=sizes.size)
    if 0 <= self_row < counts.size:
        counts[self_row] = 0  # the viewer's own training row is skipped
    col = np.flatnonzero(counts)  # a viewer sharing no title is never close
    o = counts[col].astype(np.float64)
    val = o * o / np.maximum(sizes[col], 1.0)  # cosine^2 * |H_u|: same order
    if col.size > k:  # only the entries at or above the k-th largest key are sorted
        kth = np.partition(val, col.size - k)[col.size - k]
        keep = val >= kth
        col, val = col[keep], val[keep]
    best = np.lexsort((col, -val))[:k]  # key descending, training row ascending
    out[: best.size] = col[best]
    return out


def closest_viewers(
    histories: sp.csr_matrix, train: sp.csr_matrix, self_rows: np.ndarray, k: int = N_NEIGHBORS
) -> tuple[np.ndarray, np.ndarray]:
    """Each viewer's ``k`` closest training viewers and how many of them liked each title.

    Closeness is the cosine of the binary histories (the titles watched in common over the
    square root of the product of the two history sizes); a training viewer sharing no title
    is never close; ties break by training row. The viewer's own training row is skipped.

    Returns
    -------
    neighbors : (u, k) int
        Training rows, ``-1`` padded.
    liked : (u, n_items) int
        Number of those neighbours with a positive (weight > 0) on each title.
    """
    u = histories.shape[0]
    n_train = train.shape[0]
    tbt, sizes, pos = _train_parts(train)
    kk = min(k, n_train)
    neighbors = np.full((u, k), -1, dtype=np.int64)
    if u == 1 and kk:  # one page: no dense (viewers x n_train) float matrix, no padding
        neighbors[0, :kk] = _top_one(histories, tbt, sizes, int(self_rows[0]), kk)
    # groups of viewers whose dense (viewers x n_train) overlap stays about _CHUNK floats
    step = max(1, _CHUNK // max(n_train, 1))
    for lo in range(0, u if kk and u > 1 else 0, step):
        hi = min(lo + step, u)
        overlap = _overlap(histories[lo:hi], tbt, n_train)  # titles watched in common
        who, col = np.nonzero(overlap > 0)  # a viewer sharing no title is never close
        o = overlap[who, col]
        val = o * o / np.maximum(sizes[col], 1.0)  # cosine^2 * |H_u|: same order
        keep = col != self_rows[lo:hi][who]  # the viewer's own training row is skipped
        neighbors[lo:hi, :kk] = _top_rows(who[keep], col[keep], val[keep], hi - lo, kk)
    ok = neighbors >= 0
    sel = sp.csr_matrix(
        (np.ones(int(ok.sum())), neighbors[ok], np.concatenate([[0], np.cumsum(ok.sum(axis=1))])),
        shape=(u, n_train),
    )
    liked = _overlap(sel, pos, pos.shape[1]).astype(np.int64)  # neighbours' positives, summed
    return neighbors, liked


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
