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
* :func:`closest_viewers` -- a viewer's nearest training viewers by history overlap and how
  many of them liked each title.

The verifier (:func:`fairrec.audit.verify_page`) re-derives these facts on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "TitleStats",
    "title_stats",
    "popularity_share",
    "contributions",
    "top_contributions",
    "closest_viewers",
    "BASIS_ALS",
    "BASIS_KNN",
    "BASIS_EASE",
    "BASIS_SIMILARITY",
    "MIN_WATCHERS",
    "N_NEIGHBORS",
]

BASIS_ALS = "als_contribution"
BASIS_KNN = "knn_contribution"
BASIS_EASE = "ease_contribution"
BASIS_SIMILARITY = "vector_similarity"
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


def _padded_history(histories: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(u, H) history titles (-1 padded) and their weights, in column order."""
    h = histories
    counts = np.diff(h.indptr)
    width = int(counts.max()) if len(counts) else 0
    items = np.full((h.shape[0], width), -1, dtype=np.int64)
    weights = np.zeros((h.shape[0], width), dtype=np.float64)
    if h.nnz:
        rows = np.repeat(np.arange(h.shape[0]), counts)
        pos = np.arange(h.nnz) - np.repeat(h.indptr[:-1], counts)
        items[rows, pos] = h.indices
        weights[rows, pos] = h.data
    return items, weights


def contributions(
    model: Any,
    histories: sp.csr_matrix,
    items: np.ndarray,
    vectors: np.ndarray,
    cache: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """What each history title adds to the score of each of ``items``, per viewer.

    Parameters
    ----------
    model : CandidateModel
        The fitted candidate model.
    histories : csr (u, n_items)
        The histories the scores were computed from (positives only).
    items : (u, m) int array
        Titles to explain, ``-1`` padded.
    vectors : (n_items, d) array
        Unit title vectors (the fallback basis).
    cache : dict, optional
        Per-batch cache (the viewers' solved ALS systems are reused across rows).

    Returns
    -------
    contrib : (u, m, H) float64
        ``contrib[v, i, j]``: what history title ``hist[v, j]`` adds to title ``items[v, i]``
        (``-inf`` for padding). For ALS and ItemKNN the terms sum to the model's score.
    hist : (u, H) int
        History titles in ascending title order, ``-1`` padded.
    basis : str
        :data:`BASIS_ALS`, :data:`BASIS_KNN` or :data:`BASIS_SIMILARITY`.
    """
    hist, weight = _history_cached(histories, cache)
    u, m = items.shape
    out = np.full((u, m, hist.shape[1]), -np.inf)
    basis = _basis(model)
    for sl, width in _chunks(hist, m):
        out[sl, :, :width] = _block(model, basis, hist, weight, items, vectors, sl, width, cache)
    return out, hist, basis


def top_contributions(
    model: Any,
    histories: sp.csr_matrix,
    items: np.ndarray,
    vectors: np.ndarray,
    cache: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Per (viewer, title): the history title adding most to its score.

    Computed block by block (viewers grouped by history length), without the full
    :func:`contributions` tensor. Ties break by the lower title index.

    Returns
    -------
    anchor : (u, m) int
        Title index of the top contributor; ``-1`` where nothing adds more than 0.
    col : (u, m) int
        Its column in the viewer's history (titles in ascending order); ``-1`` likewise.
    value, total : (u, m) float
        Its contribution and the sum of all contributions.
    basis : str
    """
    hist, weight = _history_cached(histories, cache)
    u, m = items.shape
    anchor = np.full((u, m), -1, dtype=np.int64)
    col = np.full((u, m), -1, dtype=np.int64)
    value = np.zeros((u, m))
    total = np.zeros((u, m))
    basis = _basis(model)
    for sl, width in _chunks(hist, m):
        if width == 0 or m == 0:
            continue
        c = _block(model, basis, hist, weight, items, vectors, sl, width, cache)
        best = c.argmax(axis=2)  # first maximum: lowest title index (ascending columns)
        v = np.take_along_axis(c, best[:, :, None], axis=2)[:, :, 0]
        ok = np.isfinite(v) & (v > 0)
        h = hist[sl][:, :width]
        anchor[sl] = np.where(ok, np.take_along_axis(h, best, axis=1), -1)
        col[sl] = np.where(ok, best, -1)
        value[sl] = np.where(np.isfinite(v), v, 0.0)
        total[sl] = np.where(np.isfinite(c), c, 0.0).sum(axis=2)
    return anchor, col, value, total, basis


def _history_cached(histories: sp.csr_matrix, cache: dict | None) -> tuple[np.ndarray, np.ndarray]:
    if cache is not None and "hist" in cache:
        return cache["hist"]
    h = histories if histories.has_sorted_indices else histories.sorted_indices()
    got = _padded_history(h)
    if cache is not None:
        cache["hist"] = got
    return got


def _chunks(hist: np.ndarray, m: int) -> list[tuple[np.ndarray, int]]:
    """Viewer groups of similar history length (index arrays) and their width, each block
    at most ``_CHUNK`` floats."""
    lengths = (hist >= 0).sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    out = []
    lo = 0
    u = len(order)
    while lo < u:
        hi = lo + 1
        while hi < u and (hi - lo + 1) * m * max(int(lengths[order[hi]]), 1) <= _CHUNK:
            hi += 1
        sl = order[lo:hi]
        out.append((sl, max(int(lengths[order[hi - 1]]), 0)))
        lo = hi
    return out


def _block(
    model: Any,
    basis: str,
    hist: np.ndarray,
    weight: np.ndarray,
    items: np.ndarray,
    vectors: np.ndarray,
    sl: np.ndarray,
    width: int,
    cache: dict | None,
) -> np.ndarray:
    """(s, m, width) contributions of the viewers ``sl`` (``-inf`` for padding)."""
    hi_, wi, it = hist[sl][:, :width], weight[sl][:, :width], items[sl]
    if width == 0:
        return np.full((len(sl), it.shape[1], 0), -np.inf)
    if basis == BASIS_ALS:
        if cache is None:
            cache = {"hist": (hist, weight)}
        cache.setdefault("hist", (hist, weight))
        block = _als_block(model, hist, items, sl, cache)
    elif basis == BASIS_KNN:
        block = _knn_block(model, hi_, wi, it)
    elif basis == BASIS_EASE:  # scores are h @ B: the terms are w_j * B[j, i]
        b = model.weights_
        block = (
            b[np.maximum(hi_, 0)[:, None, :], np.maximum(it, 0)[:, :, None]].astype(np.float64)
            * wi[:, None, :]
        )
    else:
        hv = vectors[np.maximum(hi_, 0)].astype(np.float64)
        iv = vectors[np.maximum(it, 0)].astype(np.float64)
        block = np.matmul(iv, hv.transpose(0, 2, 1))
    block[np.broadcast_to((it < 0)[:, :, None], block.shape)] = -np.inf
    block[np.broadcast_to((hi_ < 0)[:, None, :], block.shape)] = -np.inf
    return block


def _basis(model: Any) -> str:
    from fairrec.models import ALS, ItemKNN

    if isinstance(model, ALS):
        return BASIS_ALS
    if isinstance(model, ItemKNN):
        return BASIS_KNN
    if type(model).__name__ == "EASE" and getattr(model, "weights_", None) is not None:
        return BASIS_EASE
    return BASIS_SIMILARITY


def _als_terms(model: Any, hist: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``c_j * A_v^-1 y_j`` for every history entry ``(v, j)``, flat in row order:
    ``(n_entries, d)``, where ``A_v = YtY + reg*I + sum_j (c_j - 1) y_j y_j^T`` and
    ``c_j = alpha * w_j`` (implicit's ``user_linear_equation``). A title ``i``'s score terms
    are then ``y_i . term_j``."""
    solver = model._solver
    y = _factors64(solver)
    d = y.shape[1]
    base = np.asarray(solver.YtY, dtype=np.float64) + float(solver.regularization) * np.eye(d)
    lengths = (hist >= 0).sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    out = np.zeros((int(lengths.sum()), d))
    for sl, width in _chunks(hist, d):
        if width == 0:
            continue
        h = hist[sl][:, :width]
        ok = h >= 0
        conf = np.where(ok, float(solver.alpha) * weight[sl][:, :width], 0.0)
        yh = y[np.maximum(h, 0)]  # (s, H, d)
        a = base[None] + np.matmul((yh * (conf - ok)[:, :, None]).transpose(0, 2, 1), yh)
        terms = np.linalg.solve(a, yh.transpose(0, 2, 1)).transpose(0, 2, 1)  # (s, H, d)
        terms *= conf[:, :, None]
        rows = starts[sl][:, None] + np.arange(width)[None, :]
        out[rows[ok]] = terms[ok]
    return out


def _als_block(
    model: Any, hist: np.ndarray, items: np.ndarray, sl: np.ndarray, cache: dict | None
) -> np.ndarray:
    """implicit's ``explain`` terms of the viewers ``sl``: ``y_i . (c_j A^-1 y_j)``."""
    terms = cache.get("terms") if cache is not None else None
    if terms is None:
        terms = _als_terms(model, *(cache["hist"] if cache and "hist" in cache else (hist, None)))
        if cache is not None:
            cache["terms"] = terms
    y = _factors64(model._solver)
    lengths = (hist >= 0).sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    width = int(lengths[sl].max()) if len(sl) else 0
    cols = np.arange(width)[None, :]
    rows = np.where(cols < lengths[sl][:, None], starts[sl][:, None] + cols, 0)
    th = terms[rows] if len(terms) else np.zeros((len(sl), width, y.shape[1]))
    yi = y[np.maximum(items[sl], 0)]  # (s, m, d)
    return np.matmul(yi, np.ascontiguousarray(th.transpose(0, 2, 1)))


def _factors64(solver: Any) -> np.ndarray:
    """The item factors as float64, converted once per solver."""
    got = getattr(solver, "_fairrec_f64", None)
    if got is None or got[0] is not solver.item_factors:
        got = (solver.item_factors, np.asarray(solver.item_factors, dtype=np.float64))
        solver._fairrec_f64 = got
    return got[1]


def _knn_block(model: Any, hist: np.ndarray, weight: np.ndarray, items: np.ndarray) -> np.ndarray:
    """ItemKNN scores are ``sum_j w_j * S[j, i]``: the terms themselves."""
    s = model.similarity_
    u, m = items.shape
    width = hist.shape[1]
    rows = np.broadcast_to(np.maximum(hist, 0)[:, None, :], (u, m, width)).ravel()
    cols = np.broadcast_to(np.maximum(items, 0)[:, :, None], (u, m, width)).ravel()
    vals = np.asarray(s[rows, cols]).ravel().astype(np.float64).reshape(u, m, width)
    return vals * weight[:, None, :]


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
    # groups of viewers whose dense (viewers x n_train) overlap stays about _CHUNK floats
    step = max(1, _CHUNK // max(n_train, 1))
    for lo in range(0, u if kk else 0, step):
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
