"""*Outside your bubble*: titles the viewers who share the viewer's main taste liked more
than viewers at large, in genres the viewer rarely watches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from fairrec._checks import check_real
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
    _first_valid,
    _gather_pool,
    _genre_sets,
    _normalize,
    _pick,
)
from fairrec.rows.evidence import main_tastes

_SIGNATURES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _genre_signatures(genres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each title's genre-set id and the (K, K) "share no genre" 0/1 matrix (float32: sums
    of its rows are exact integers up to 2**24 history titles, and half the bytes of float64
    make the batch's product twice as fast) of the K distinct genre sets (cached per catalog
    array)."""
    hit = _SIGNATURES.get(id(genres))
    if hit is not None and hit[0] is genres:
        return hit[1], hit[2]
    inverse, sigs = _genre_sets(genres)
    s = sigs.astype(np.float32)
    disjoint = ((s @ s.T) == 0).astype(np.float32)
    if len(_SIGNATURES) > 8:
        _SIGNATURES.clear()
    _SIGNATURES[id(genres)] = (genres, inverse, disjoint)
    return inverse, disjoint


def _none_shared(ctx: RowContext) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Per viewer and genre set: how many of the viewer's consented history titles share no
    genre with it (``(u, K)`` float32, exact integers; None without genres); each title's
    genre-set id; and the viewer's number of history titles."""
    h = ctx.batch.histories
    n_hist = np.diff(h.indptr).astype(np.int64)
    u = h.shape[0]
    if ctx.genres.shape[1] == 0:
        return None, np.zeros(0, dtype=np.int64), n_hist
    sig, disjoint = _genre_signatures(ctx.genres)
    k = disjoint.shape[0]
    if u * k <= 1 << 16 and h.nnz * k <= 1 << 20:
        # a few viewers: sum the rows of their history titles' genre sets (no sparse setup)
        rows = disjoint[sig[h.indices]]
        starts = h.indptr[:-1]
        out = np.zeros((u, k), dtype=disjoint.dtype)
        nonempty = h.indptr[1:] > starts
        if nonempty.any():
            out[nonempty] = np.add.reduceat(rows, starts[nonempty], axis=0)
        return out, sig, n_hist
    rows = np.repeat(np.arange(u), np.diff(h.indptr))
    # (u, K) history titles per genre set, sparse: a history holds a few dozen of the K sets,
    # so the product costs (history sets x K), not K x K per viewer
    ones = np.ones(rows.size, dtype=disjoint.dtype)
    counts = sp.csr_matrix((ones, (rows, sig[h.indices])), shape=(u, k))
    return np.asarray(counts @ disjoint), sig, n_hist


def _overlap_at(
    none_shared: np.ndarray | None, sig: np.ndarray, n_hist: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """Per (viewer, title): how many of the viewer's history titles share a genre with it
    (0 for padding)."""
    if none_shared is None:
        return np.zeros(items.shape, dtype=np.int64)
    u, k = none_shared.shape
    # none_shared[v, sig[items[v, j]]], by the cells' flat indices (one take)
    got = np.take(none_shared, sig[np.maximum(items, 0)] + np.arange(u)[:, None] * k)
    out = n_hist[:, None] - np.rint(got).astype(np.int64)
    return np.where(items >= 0, out, 0)


def _genre_overlap(ctx: RowContext, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (viewer, title): how many titles of the viewer's consented history share a genre
    with it; and the viewer's number of history titles."""
    none_shared, sig, n_hist = _none_shared(ctx)
    return _overlap_at(none_shared, sig, n_hist, items), n_hist


_MASKS: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}


def _genre_masks(genres: np.ndarray) -> np.ndarray | None:
    """(n_items,) uint64: bit ``j`` of a title's mask set when its genre ``j`` is > 0; None
    for more than 64 genres. Cached per catalog array."""
    hit = _MASKS.get(id(genres))
    if hit is not None and hit[0] is genres:
        return hit[1]
    out = None
    if genres.shape[1] <= 64:
        bits = np.left_shift(np.uint64(1), np.arange(genres.shape[1], dtype=np.uint64))
        out = np.bitwise_or.reduce(np.where(genres > 0, bits, np.uint64(0)), axis=1)
        out = out.astype(np.uint64, copy=False)
    if len(_MASKS) > 8:
        _MASKS.clear()
    _MASKS[id(genres)] = (genres, out)
    return out


#: :func:`_sharing` compares genre masks pair by pair up to this many (history title, title)
#: pairs; beyond, it counts through the genre sets (:func:`_none_shared`)
_PAIRS_MAX = 1 << 18


def _sharing(ctx: RowContext, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_genre_overlap`: per (viewer, title of ``items``, ``-1`` padded), how many
    titles of the viewer's consented history share a genre with it (0 for padding); and
    the viewer's number of history titles.

    A few viewers and titles: each (history title, title) pair's genre masks are compared
    (two titles share a genre exactly when their masks share a bit); else the counts go
    through the catalog's genre sets. The same integers either way.
    """
    h = ctx.batch.histories
    u, m = items.shape
    small = h.nnz * m <= _PAIRS_MAX
    masks = _genre_masks(ctx.genres) if small and ctx.genres.shape[1] else None
    if masks is None:
        none_shared, sig, n_hist = _none_shared(ctx)
        return _overlap_at(none_shared, sig, n_hist, items), n_hist
    n_hist = np.diff(h.indptr).astype(np.int64)
    out = np.zeros((u, m), dtype=np.int64)
    if h.nnz == 0 or m == 0:
        return out, n_hist
    mine = masks[h.indices]  # (nnz,) the history titles' masks, viewer after viewer
    theirs = masks[np.maximum(items, 0)]
    if u == 1:
        out[0] = np.count_nonzero((mine[:, None] & theirs[0]) != 0, axis=0)
    else:
        share = (mine[:, None] & theirs[np.repeat(np.arange(u), n_hist)]) != 0
        starts = h.indptr[:-1]
        nonempty = n_hist > 0
        out[nonempty] = np.add.reduceat(share, starts[nonempty], axis=0, dtype=np.int64)
    return np.where(items >= 0, out, 0), n_hist


_NAMES: dict[int, tuple[np.ndarray, tuple[str, ...], dict[int, tuple[str, ...]]]] = {}


def _genre_names(genres: np.ndarray, names: tuple[str, ...]) -> Callable[[int], list[str]]:
    """``f(i)``: the names of title ``i``'s genres (those > 0), in genre order, as a fresh
    list; each title's names are looked up once per catalog array and names."""
    hit = _NAMES.get(id(genres))
    if hit is None or hit[0] is not genres or hit[1] != tuple(names):
        if len(_NAMES) > 8:
            _NAMES.clear()
        hit = _NAMES[id(genres)] = (genres, tuple(names), {})
    table = hit[2]

    def of(i: int) -> list[str]:
        got = table.get(i)
        if got is None:
            got = table[i] = tuple(names[j] for j in np.flatnonzero(genres[i] > 0))
        return list(got)

    return of


class OutsideYourBubble(RowKind):
    """Titles the viewers who share the viewer's main taste liked more than viewers at large,
    in genres the viewer rarely watches.

    *Main taste*: the titles are grouped at fit time into a few clusters of similar titles
    (:func:`fairrec.rows.evidence.taste_clusters` of the model's title vectors); a viewer's
    main taste is the cluster most of their liked titles fall in
    (:func:`fairrec.rows.evidence.main_tastes`; the viewer's consented history here, the
    training rows for the training viewers). The training viewers of each main taste and
    how many of them liked each title are counted once, at fit time
    (:class:`fairrec.rows.evidence.TasteGroups`), so the row costs the same per page at any
    number of training viewers.

    Eligible: liked (weight > 0) by at least ``min_neighbors`` of the *other* training
    viewers of the viewer's main taste, by a share of them at least ``min_lift`` times the
    share of all training viewers who liked it, with genres, and sharing a genre with at
    most ``max_overlap`` of the viewer's consented history titles. Each title's evidence
    states every count.

    Parameters
    ----------
    reranker : re-ranker, default ``Serendipity()``
    title : str
    pool : int, default 300
        Candidates considered.
    max_popularity : float, default 0.8
        Only titles below this popularity percentile are eligible (1.0: no cap).
    min_neighbors : int, default 2
        Viewers of the main taste who liked the title, at least.
    max_overlap : float, default 0.33
    min_lift : float, default 1.2
        The title's liked share among the viewers of the main taste, at least this many times
        its liked share among all training viewers (>= 1).
    """

    kind = "outside_your_bubble"
    personal = True

    def __init__(
        self,
        reranker: Any = None,
        title: str = "Outside your bubble",
        pool: int = 300,
        max_popularity: float = 0.8,
        min_neighbors: int = 2,
        max_overlap: float = 0.33,
        min_lift: float = 1.2,
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
        self.min_lift = _check_lift(min_lift)

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        n = ctx.n
        ev = ctx.evidence
        used = (DATA_WATCH_HISTORY,)
        note = _data_note(used)
        groups = getattr(ev, "tastes", None) if ev is not None else None
        if groups is None:  # no training data to group viewers by: the claim cannot hold
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
        tastes = main_tastes(ev.positives, groups.title_taste, groups.n_tastes)
        stats = ev.stats
        ar = ctx.ar
        cand0, rel0, valid0 = _gather_pool(ctx, taken, None, _below(ctx, self.max_popularity))
        has_genre = _has_genre(ctx.genres)
        pre = valid0 & (tastes >= 0)[:, None] & has_genre[np.maximum(cand0, 0)]
        # From here on only each viewer's valid candidates are carried, in relevance order
        # (-1 / 0 padded): the pools of 2 * pool and pool candidates are their first ones,
        # as the stable compactions give them; the invalid places are never shown or read
        at, live = _first_valid(pre, pre.shape[1])
        cand1 = np.where(live, cand0[ar, at], -1)
        n_group, lk = groups.group_counts(tastes, ev.train_rows, cand1, ev.train)
        n_all = max(int(stats.n_viewers), 1)
        lifted = lk * n_all >= self.min_lift * stats.likers[np.maximum(cand1, 0)] * n_group[:, None]
        in1, live2 = _first_valid(live & (lk >= self.min_neighbors) & lifted, 2 * self.pool)
        at2 = at[ar, in1]  # positions in cand0
        cand2 = np.where(live2, cand0[ar, at2], -1)
        overlap, n_hist = _sharing(ctx, cand2)
        ok = live2 & (overlap <= self.max_overlap * n_hist[:, None])
        at3, live3 = _first_valid(ok, self.pool)
        # the pool as the compactions gave it: `width` places, the valid candidates first,
        # score 0 elsewhere (the scores are normalized over the whole width, zeros included).
        # The invalid places hold title -1 where the compactions left other candidates: a
        # re-ranker picks no invalid place, and each valid place's similarity is the same
        # (a product per place, at the same position of a product of the same width)
        width = min(self.pool, pre.shape[1])
        w = at3.shape[1]
        cand = np.full((n, width), -1, dtype=cand0.dtype)
        cand[:, :w] = np.where(live3, cand2[ar, at3], -1)
        rel = np.zeros((n, width), dtype=rel0.dtype)
        rel[:, :w] = np.where(live3, rel0[ar, at2[ar, at3]], 0)
        valid = np.zeros((n, width), dtype=bool)
        valid[:, :w] = live3
        picks = self._rerank_some(ctx, rel, cand, valid, live3.any(axis=1))
        items, scores = _pick(ctx, cand, picks, rel)
        # each shown title's counts, carried from where they were computed
        got = picks >= 0
        safe = np.where(got, picks, 0)  # < w wherever got
        if w:
            place = at3[ar, np.minimum(safe, w - 1)]
            ov_items = np.where(got, overlap[ar, place], 0).tolist()
            liked_items = np.where(got, lk[ar, in1[ar, place]], 0).tolist()
        else:
            ov_items = liked_items = np.zeros(items.shape, dtype=np.int64).tolist()
        likers = stats.likers
        names_of = _genre_names(ctx.genres, ctx.genre_names)
        texts, evidence = [], []
        for v, its in enumerate(items.tolist()):
            t_row, e_row = [], []
            g, k_, h = int(tastes[v]), int(n_group[v]), int(n_hist[v])
            for at_, i in enumerate(its):
                if i < 0:
                    break
                c, o, a = liked_items[v][at_], ov_items[v][at_], int(likers[i])
                e_row.append(
                    {
                        "taste_group": g,
                        "group_viewers": k_,
                        "group_liked": c,
                        "all_viewers": n_all,
                        "all_liked": a,
                        "history_titles": h,
                        "sharing_genre": o,
                        "genres": names_of(i),
                    }
                )
                tail = (
                    "none of the titles you watched shares a genre with it"
                    if o == 0
                    else f"only {o} of the {h} titles you watched share a genre with it"
                )
                t_row.append(
                    f"{c} of the {k_} viewers who share your main taste liked it "
                    f"(of all {n_all} viewers: {a}); {tail} {note}"
                )
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
                    f"Liked by at least {self.min_neighbors} of the viewers who share your "
                    f"main taste (most of their liked titles are in the same cluster of "
                    f"similar titles as most of yours), and by at least {self.min_lift:g} "
                    f"times the share of all viewers who liked it; at most "
                    f"{_share_text(self.max_overlap)} of the titles you watched share a "
                    f"genre with each {note}"
                ]
                * n,
                data_used=[used] * n,
                applies=ctx.batch.personalized.copy(),
                item_reason_text=_objects(texts, items.shape),
                item_anchor=np.full(items.shape, None, dtype=object),
                item_evidence=_objects(evidence, items.shape),
                evidence=[
                    {
                        "min_neighbors": self.min_neighbors,
                        "max_overlap": self.max_overlap,
                        "min_lift": self.min_lift,
                    }
                ]
                * n,
            )
        ]

    def _rerank_some(
        self,
        ctx: RowContext,
        rel: np.ndarray,
        cand: np.ndarray,
        valid: np.ndarray,
        rows: np.ndarray,
    ) -> np.ndarray:
        """The re-ranker's ``(u, min(k, width))`` positions (-1 padded), run on the viewers
        ``rows`` (bool) only: a viewer without a valid candidate gets none (a re-ranker
        only ever picks valid candidates), and each viewer's picks are the viewer's own."""
        n, width = cand.shape
        picks = np.full((n, min(ctx.k, width)), -1, dtype=np.int64)
        if not rows.any():
            return picks
        score = _normalize(rel)
        profile = ctx.profile
        at: np.ndarray | slice = slice(None)
        if not rows.all():
            at = np.flatnonzero(rows)
            score, cand, valid, profile = score[at], cand[at], valid[at], profile[at]
        context = RerankContext(profile=profile)
        got = self._rerank(self.reranker, ctx, score, cand, valid, ctx.vectors, context)
        picks[at, : got.shape[1]] = got
        return picks


_HAS_GENRE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _has_genre(genres: np.ndarray) -> np.ndarray:
    """(n_items,) titles with at least one genre (cached per catalog array)."""
    hit = _HAS_GENRE.get(id(genres))
    if hit is not None and hit[0] is genres:
        return hit[1]
    out = genres.sum(axis=1) > 0
    if len(_HAS_GENRE) > 8:
        _HAS_GENRE.clear()
    _HAS_GENRE[id(genres)] = (genres, out)
    return out


def _check_lift(value: Any) -> float:
    """``min_lift``: a finite number >= 1."""
    out = check_real(value, "min_lift", "OutsideYourBubble", 1.0, None, expected=">= 1")
    assert out is not None
    return out
