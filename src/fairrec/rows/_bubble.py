"""*Outside your bubble*: titles the viewer's closest viewers liked, in genres the viewer
rarely watches."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from fairrec.page import DATA_WATCH_HISTORY
from fairrec.rerank import RerankContext, Serendipity
from fairrec.rows._base import RowKind
from fairrec.rows._context import RowBatch, RowContext
from fairrec.rows._facts import (
    _data_note,
    _objects,
    _share_text,
)
from fairrec.rows._pools import (
    _below,
    _check_cap,
    _check_pool,
    _check_share,
    _compact_pool,
    _gather_pool,
    _normalize,
    _pick,
)
from fairrec.rows.evidence import N_NEIGHBORS, closest_viewers

_SIGNATURES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _genre_signatures(genres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each title's genre-set id and the (K, K) "share no genre" 0/1 matrix (float64) of the
    K distinct genre sets (cached per catalog array)."""
    hit = _SIGNATURES.get(id(genres))
    if hit is not None and hit[0] is genres:
        return hit[1], hit[2]
    sigs, inverse = np.unique(genres > 0, axis=0, return_inverse=True)
    s = sigs.astype(np.float32)
    disjoint = ((s @ s.T) == 0).astype(np.float64)
    if len(_SIGNATURES) > 8:
        _SIGNATURES.clear()
    _SIGNATURES[id(genres)] = (genres, inverse.ravel(), disjoint)
    return inverse.ravel(), disjoint


def _genre_overlap(ctx: RowContext, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (viewer, title): how many titles of the viewer's consented history share a genre
    with it; and the viewer's number of history titles."""
    h = ctx.batch.histories
    n_hist = np.diff(h.indptr).astype(np.int64)
    u = h.shape[0]
    if ctx.genres.shape[1] == 0:
        return np.zeros(items.shape, dtype=np.int64), n_hist
    sig, disjoint = _genre_signatures(ctx.genres)
    k = disjoint.shape[0]
    rows = np.repeat(np.arange(u), np.diff(h.indptr))
    # (u, K) history titles per genre set, sparse: a history holds a few dozen of the K sets,
    # so the product costs (history sets x K), not K x K per viewer
    counts = sp.csr_matrix((np.ones(rows.size), (rows, sig[h.indices])), shape=(u, k))
    none_shared = np.asarray(counts @ disjoint)  # (u, K) titles sharing no genre
    got = none_shared[np.arange(u)[:, None], sig[np.maximum(items, 0)]]
    out = n_hist[:, None] - np.rint(got).astype(np.int64)
    return np.where(items >= 0, out, 0), n_hist


class OutsideYourBubble(RowKind):
    """Titles the viewer's closest viewers liked, in genres the viewer rarely watches.

    Eligible: liked by at least ``min_neighbors`` of the viewer's
    :data:`~fairrec.rows.evidence.N_NEIGHBORS` closest training viewers
    (:func:`fairrec.rows.evidence.closest_viewers`), with genres, and sharing a genre with at
    most ``max_overlap`` of the viewer's consented history titles. Each title's evidence
    states both counts.

    Parameters
    ----------
    reranker : re-ranker, default ``Serendipity()``
    title : str
    pool : int, default 300
        Candidates considered.
    max_popularity : float, default 0.8
        Only titles below this popularity percentile are eligible (1.0: no cap).
    min_neighbors : int, default 4
    max_overlap : float, default 0.33
    """

    kind = "outside_your_bubble"
    personal = True

    def __init__(
        self,
        reranker: Any = None,
        title: str = "Outside your bubble",
        pool: int = 300,
        max_popularity: float = 0.8,
        min_neighbors: int = 4,
        max_overlap: float = 0.33,
    ) -> None:
        _check_pool("OutsideYourBubble", pool)
        _check_cap("OutsideYourBubble", "max_popularity", max_popularity)
        _check_pool("OutsideYourBubble", min_neighbors, "min_neighbors")
        _check_share("OutsideYourBubble", "max_overlap", max_overlap)
        self.max_popularity = max_popularity
        self.reranker = reranker if reranker is not None else Serendipity()
        self.title = title
        self.pool = pool
        self.min_neighbors = min_neighbors
        self.max_overlap = max_overlap

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        n = ctx.n
        ev = ctx.evidence
        used = (DATA_WATCH_HISTORY,)
        note = _data_note(used)
        if ev is None:  # no training data to find close viewers in: the claim cannot hold
            empty = np.full((n, 0), -1, dtype=np.int64)
            return [
                RowBatch(
                    self.kind,
                    empty,
                    np.zeros((n, 0)),
                    [self.title] * n,
                    self.kind,
                    [""] * n,
                    [used] * n,
                    np.zeros(n, dtype=bool),
                )
            ]
        neighbors, liked = closest_viewers(ev.positives, ev.train, ev.train_rows)
        n_nb = (neighbors >= 0).sum(axis=1)
        cand0, rel0, valid0 = _gather_pool(ctx, taken, None, _below(ctx, self.max_popularity))
        safe = np.maximum(cand0, 0)
        lk = liked[ctx.ar, safe]
        has_genre = (ctx.genres.sum(axis=1) > 0)[safe]
        pre = valid0 & (lk >= self.min_neighbors) & has_genre
        cand1, rel1, valid1 = _compact_pool(ctx, cand0, rel0, pre, 2 * self.pool)
        overlap, n_hist = _genre_overlap(ctx, np.where(valid1, cand1, -1))
        ok = valid1 & (overlap <= self.max_overlap * n_hist[:, None])
        cand, rel, valid = _compact_pool(ctx, cand1, np.where(ok, rel1, 0.0), ok, self.pool)
        context = RerankContext(profile=ctx.profile)
        picks = self._rerank(self.reranker, ctx, _normalize(rel), cand, valid, ctx.vectors, context)
        items, scores = _pick(ctx, cand, picks, rel)
        ov_items, _ = _genre_overlap(ctx, items)
        texts, evidence = [], []
        for v, its in enumerate(items.tolist()):
            t_row, e_row = [], []
            for at, i in enumerate(its):
                if i < 0:
                    break
                c, o, h, k_ = int(liked[v, i]), int(ov_items[v, at]), int(n_hist[v]), int(n_nb[v])
                genres = [ctx.genre_names[g] for g in np.flatnonzero(ctx.genres[i] > 0)]
                e_row.append(
                    {
                        "neighbors": k_,
                        "neighbors_liked": c,
                        "history_titles": h,
                        "sharing_genre": o,
                        "genres": genres,
                    }
                )
                tail = (
                    "none of the titles you watched shares a genre with it"
                    if o == 0
                    else f"only {o} of the {h} titles you watched share a genre with it"
                )
                t_row.append(f"{c} of your {k_} closest viewers liked it; {tail} {note}")
            texts.append(t_row)
            evidence.append(e_row)
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=scores,
                titles=[self.title] * n,
                reason_kind=self.kind,
                reason_text=[
                    f"Liked by at least {self.min_neighbors} of your {N_NEIGHBORS} closest "
                    f"viewers; at most {_share_text(self.max_overlap)} of the titles you "
                    f"watched share a genre with each {note}"
                ]
                * n,
                data_used=[used] * n,
                applies=ctx.batch.personalized.copy(),
                item_reason_text=_objects(texts, items.shape),
                item_anchor=np.full(items.shape, None, dtype=object),
                item_evidence=_objects(evidence, items.shape),
                evidence=[{"min_neighbors": self.min_neighbors, "max_overlap": self.max_overlap}]
                * n,
            )
        ]
