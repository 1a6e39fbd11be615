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

from fairrec.rows._contributions import (
    BASIS_ALS,
    BASIS_EASE,
    BASIS_KNN,
    BASIS_SIMILARITY,
    contributions,
    top_contributions,
)
from fairrec.rows._tastes import (
    N_TASTES,
    TasteGroups,
    main_tastes,
    taste_clusters,
    taste_groups,
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
