"""How much each title of a viewer's consented history adds to the model's score of a
candidate (re-exported by :mod:`fairrec.rows.evidence`, which documents it): exact for
implicit ALS, ItemKNN and EASE, the cosine similarity of the title vectors for other models,
labelled by its basis."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

BASIS_ALS = "als_contribution"
BASIS_KNN = "knn_contribution"
BASIS_EASE = "ease_contribution"
BASIS_SIMILARITY = "vector_similarity"

_CHUNK = 1 << 22  # floats per (viewers x titles x history) block
#: a group of viewers (:func:`_chunks`) holds histories of at most _SPREAD times its shortest
#: one plus _SLACK entries: padding stays a fraction of the real entries
_SPREAD = 1.25
_SLACK = 8


def _padded_history(histories: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(u, H) history titles (-1 padded) and their weights, in column order."""
    h = histories
    if h.shape[0] == 1:  # one viewer: the row itself
        lo, hi = h.indptr[0], h.indptr[1]
        return h.indices[lo:hi].astype(np.int64)[None], h.data[lo:hi].astype(np.float64)[None]
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
    basis = _basis(model)
    if u == 1 and m and hist.shape[1] and basis == BASIS_ALS:
        # one page: 2-d arrays, no groups, no gathers
        return (*_top_one_als(model, hist, weight, items, cache), basis)
    anchor = np.full((u, m), -1, dtype=np.int64)
    col = np.full((u, m), -1, dtype=np.int64)
    value = np.zeros((u, m))
    total = np.zeros((u, m))
    if u == 1 and basis == BASIS_ALS:  # nothing to explain, or no history
        return anchor, col, value, total, basis
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


def _top_one_als(
    model: Any, hist: np.ndarray, weight: np.ndarray, items: np.ndarray, cache: dict | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`top_contributions` of one viewer with a non-empty history under ALS and at least
    one title to explain: ``(anchor, col, value, total)``, each ``(1, m)``. The same
    products and reductions as the batch path (its block of one viewer is this ``(m, H)``
    matrix), on 2-d arrays."""
    terms_t = cache.get("terms_t") if cache is not None else None
    if terms_t is None:  # (d, H): the viewer's entries, transposed once per page
        terms = _terms_cached(model, hist, weight, cache)
        terms_t = np.ascontiguousarray(terms.T)
        if cache is not None:
            cache["terms_t"] = terms_t
    it = items[0]
    c = model.item_factors64[np.maximum(it, 0)] @ terms_t  # (m, H)
    bad = it < 0
    if bad.any():
        c[bad] = -np.inf
    best = c.argmax(axis=1)  # first maximum: lowest title index (ascending columns)
    v = c[np.arange(len(it)), best]
    finite = np.isfinite(v)
    ok = finite & (v > 0)
    return (
        np.where(ok, hist[0, best], -1)[None],
        np.where(ok, best, -1)[None],
        np.where(finite, v, 0.0)[None],
        np.where(np.isfinite(c), c, 0.0).sum(axis=1)[None],
    )


def _terms_cached(
    model: Any, hist: np.ndarray, weight: np.ndarray, cache: dict | None
) -> np.ndarray:
    """:func:`_als_terms` of the batch, kept in ``cache`` (the rows of a page share them)."""
    terms = cache.get("terms") if cache is not None else None
    if terms is None:
        terms = _als_terms(model, hist, weight)
        if cache is not None:
            cache["terms"] = terms
    return terms


def _history_cached(histories: sp.csr_matrix, cache: dict | None) -> tuple[np.ndarray, np.ndarray]:
    if cache is not None and "hist" in cache:
        return cache["hist"]
    h = histories if histories.has_sorted_indices else histories.sorted_indices()
    got = _padded_history(h)
    if cache is not None:
        cache["hist"] = got
    return got


def _chunks(hist: np.ndarray, m: int) -> list[tuple[np.ndarray, int]]:
    """Viewer groups of similar history length (index arrays) and their width (the longest
    history in the group).

    Viewers are sorted by history length and cut greedily into groups whose padded block
    (viewers x ``m`` x width) holds at most ``_CHUNK`` floats and whose width is at most
    ``_SPREAD`` times the group's shortest history plus ``_SLACK``: a batch mixing short and
    very long histories is not padded to the longest one (the blocks, and the padded
    ``(viewers, width, d)`` gathers behind them, stay proportional to the real entries).
    A viewer's result does not depend on its group (padding is ``-inf`` / a zero weight).
    """
    lengths = (hist >= 0).sum(axis=1)
    u = len(lengths)
    if u == 1:
        return [(np.zeros(1, dtype=np.int64), int(lengths[0]))]
    order = np.argsort(lengths, kind="stable")
    ln = lengths[order]
    per = max(int(m), 1)
    out = []
    lo = 0
    while lo < u:
        # the widest group start ``lo`` allows: width within the spread ...
        hi = int(np.searchsorted(ln, _SPREAD * ln[lo] + _SLACK, side="right"))
        # ... and at most _CHUNK floats (count x m x width grows with the end: first failure)
        size = np.arange(1, hi - lo + 1) * per * np.maximum(ln[lo:hi], 1)
        over = np.flatnonzero(size > _CHUNK)
        hi = max(lo + (int(over[0]) if over.size else hi - lo), lo + 1)
        out.append((order[lo:hi], int(ln[hi - 1])))
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
    np.copyto(block, -np.inf, where=(it < 0)[:, :, None])
    np.copyto(block, -np.inf, where=(hi_ < 0)[:, None, :])
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
    solver = model.solver
    y = model.item_factors64
    d = y.shape[1]
    base = model.gram64  # YtY + reg * I in float64, once per solver
    if hist.shape[0] == 1 and hist.shape[1] and hist.min() >= 0:
        # one viewer, no padding: the group's arithmetic below on 2-d arrays
        conf = float(solver.alpha) * weight[0]
        yh = y[hist[0]]  # (H, d)
        a = base + (yh * (conf - True)[:, None]).T @ yh
        terms = np.linalg.solve(a, yh.T).T  # (H, d)
        terms *= conf[:, None]
        return terms
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
    hw = cache["hist"] if cache and "hist" in cache else (hist, None)
    terms = _terms_cached(model, *hw, cache)
    y = model.item_factors64
    lengths = (hist >= 0).sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    width = int(lengths[sl].max()) if len(sl) else 0
    cols = np.arange(width)[None, :]
    rows = np.where(cols < lengths[sl][:, None], starts[sl][:, None] + cols, 0)
    th = terms[rows] if len(terms) else np.zeros((len(sl), width, y.shape[1]))
    yi = y[np.maximum(items[sl], 0)]  # (s, m, d)
    return np.matmul(yi, np.ascontiguousarray(th.transpose(0, 2, 1)))


def _knn_block(model: Any, hist: np.ndarray, weight: np.ndarray, items: np.ndarray) -> np.ndarray:
    """ItemKNN scores are ``sum_j w_j * S[j, i]``: the terms themselves."""
    s = model.similarity_
    u, m = items.shape
    width = hist.shape[1]
    rows = np.broadcast_to(np.maximum(hist, 0)[:, None, :], (u, m, width)).ravel()
    cols = np.broadcast_to(np.maximum(items, 0)[:, :, None], (u, m, width)).ravel()
    vals = np.asarray(s[rows, cols]).ravel().astype(np.float64).reshape(u, m, width)
    return vals * weight[:, None, :]
