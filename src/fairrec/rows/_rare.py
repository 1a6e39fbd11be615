"""Rows of less watched titles: *Hidden gems* (rare and liked) and *Off the mainstream* (the
viewer's relevant titles outside the head)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairrec.models import top_n
from fairrec.page import DATA_CATALOG_POPULARITY, DATA_WATCH_HISTORY
from fairrec.rerank import MMR, RerankContext
from fairrec.rows._base import RowKind
from fairrec.rows._context import RowBatch, RowContext
from fairrec.rows._facts import (
    _data_note,
    _objects,
    _per_title,
    _popularity_evidence,
    _share_text,
    _stats,
    _watched_text,
)
from fairrec.rows._pools import (
    _catalog_floor,
    _check_cap,
    _check_floor,
    _check_pool,
    _compact_pool,
    _floor_at_most,
    _gather_pool,
    _normalize,
    _pick,
    _row_counts,
)


class HiddenGems(RowKind):
    """Rarely watched titles that viewers liked, relevant to the viewer.

    A title is eligible when fewer than ``quantile`` of the catalog's titles have fewer
    watchers than it (:func:`fairrec.rows.evidence.popularity_share`), and -- when the data
    measures liking (non-positive events, e.g. ``load_movielens(..., keep_below=True)``) --
    at least ``min_watchers`` training viewers watched it and its liked share is at least the
    catalog's median (and its mean rating at least the median, with explicit ratings).
    Without such data the row is titled "Off the beaten path" and claims only plays.

    Parameters
    ----------
    quantile : float, default 0.35
        On MovieLens 100K (``keep_below=True``) the gems' median popularity percentile is
        then about 30 % (benchmarks/RESULTS.md, "Truthful pages").
    min_relevance : float, default 0.5
        Relevance floor (personalized viewers): the title's model score is at least the
        ``min_relevance`` quantile of the viewer's scores over the titles that may be shown
        (the whole catalog, unseen and not excluded). Gems are taken from the whole catalog,
        so a gem may lie beyond the viewer's ``n_candidates`` (its page score is then 0).
    min_watchers : int, default 5
        Watchers a title needs before its liked share is compared (when liking is measured).
    reranker : re-ranker, default ``MMR(lambda_=0.5, similarity="jaccard")`` on genres
        (a re-ranker with ``similarity="jaccard"`` gets the genre rows, any other the model's
        title vectors)
    max_items : int, optional
        Show at most this many gems (default: the row size). Rare titles are rarely the
        ones a viewer plays next, so a shorter row keeps the page relevant.
    """

    kind = "hidden_gems"

    def __init__(
        self,
        quantile: float = 0.35,
        min_relevance: float = 0.5,
        reranker: Any = None,
        pool: int = 300,
        min_watchers: int = 5,
        max_items: int | None = None,
    ) -> None:
        _check_pool("HiddenGems", pool)
        _check_pool("HiddenGems", min_watchers, "min_watchers")
        if max_items is not None:
            _check_pool("HiddenGems", max_items, "max_items")
        self.max_items = max_items
        self.pool = pool
        _check_cap("HiddenGems", "quantile", quantile)
        _check_floor("HiddenGems", min_relevance)
        self.quantile = quantile
        self.min_relevance = min_relevance
        self.min_watchers = min_watchers
        # spread over genres: a gem row dominated by the genre of the rows above it would be
        # dropped by the page's genre-diversity rule (assembly, ``max_rows_per_genre``)
        default = MMR(lambda_=0.5, similarity="jaccard")
        self.reranker = reranker if reranker is not None else default

    def eligible(self, st: Any) -> np.ndarray:
        """(n_items,) titles whose facts make the row's claim true."""
        ok = st.pop_share < self.quantile
        if st.liking_measured and st.liked_median is not None:
            # enough raters for the liked share to mean something
            ok &= (st.watchers >= self.min_watchers) & (st.liked_share >= st.liked_median)
            if st.mean_rating is not None and st.rating_median is not None:
                ok &= np.nan_to_num(st.mean_rating, nan=-np.inf) >= st.rating_median
        return ok

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        st = _stats(ctx)
        # the pool comes from the whole catalog, not only the viewer's top candidates: on a
        # large catalog the most relevant titles are rarely rare ones. Only the eligible
        # titles' columns are read (ascending title order: top_n's ties still break by
        # the lower title index)
        elig = _eligible_titles(self, st)
        sub = ctx.scores[:, elig]
        ok = np.isfinite(sub)  # not seen, not banned (ctx.blocked)
        ok &= ~taken[:, elig]
        sub = np.where(ok, sub, -np.inf)
        idx, rel = top_n(sub, self.pool)
        pers = ctx.batch.personalized
        if self.min_relevance > 0 and pers.any():
            idx, rel = _floored(ctx, self.min_relevance, self.pool, sub, idx, rel, pers)
        width = min(self.pool, ctx.scores.shape[1])
        cand, rel = _in_catalog(elig, idx, rel, width)
        valid = cand >= 0
        rel = np.where(valid, rel, 0.0)
        context = None  # MMR reads no context
        if type(self.reranker) is not MMR:
            context = RerankContext(popularity=ctx.popularity[np.maximum(cand, 0)])
        on_genres = getattr(self.reranker, "similarity", None) == "jaccard"
        vectors = ctx.genres if on_genres else ctx.vectors
        score = _normalize(rel, valid) if on_genres else rel
        k = None
        if self.max_items is not None and type(self.reranker) is MMR:
            # greedy MMR's first picks do not depend on how many follow: pick only those shown
            k = min(ctx.k, self.max_items)
        picks = self._rerank(self.reranker, ctx, score, cand, valid, vectors, context, k=k)
        if self.max_items is not None:
            picks = picks[:, : self.max_items]
        items, scores = _pick(ctx, cand, picks, rel)
        pers = ctx.batch.personalized
        n = ctx.n
        measured = st.liking_measured and st.liked_median is not None
        used = [(DATA_WATCH_HISTORY,) if p else (DATA_CATALOG_POPULARITY,) for p in pers]
        evidence, texts = [], []
        lines: dict[str, Any] = {}  # the data note -> its titles' cached evidence and texts
        for v, its in enumerate(items.tolist()):
            lab = _data_note(used[v])
            get = lines.get(lab)
            if get is None:
                get = lines[lab] = _per_title(
                    st, ("hidden_gems", measured, lab), lambda i, lab=lab: _gem_line(st, i, lab)
                )
            e_row, t_row = [], []
            for i in its:
                if i < 0:
                    break
                e, t = get(i)
                e_row.append(e)
                t_row.append(t)
            evidence.append(e_row)
            texts.append(t_row)
        rare = f"no more viewers than {_share_text(1 - self.quantile)} of the catalog's titles have"
        if measured:
            titles = ["Hidden gems for you" if p else "Hidden gems" for p in pers]
            claim = f"Hidden gems: each watched by {rare}, and liked by at least the median share"
        else:
            titles = ["Off the beaten path for you" if p else "Off the beaten path" for p in pers]
            claim = f"Rarely watched: each watched by {rare}"
        row_ev = {
            "quantile": self.quantile,
            "min_watchers": self.min_watchers,
            "liking_measured": bool(measured),
            "liked_median": None if st.liked_median is None else round(st.liked_median, 6),
            "rating_median": None if st.rating_median is None else round(st.rating_median, 4),
        }
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=scores,
                titles=titles,
                reason_kind=self.kind,
                reason_text=[
                    claim
                    + (
                        f", and in the top {_share_text(1 - self.min_relevance)} of the "
                        "catalog's titles for you"
                        if p
                        else ""
                    )
                    + f" {_data_note(u)}"
                    for p, u in zip(pers, used)
                ],
                data_used=used,
                applies=np.ones(n, dtype=bool),
                item_reason_text=_objects(texts, items.shape),
                item_anchor=np.full(items.shape, None, dtype=object),
                item_evidence=_objects(evidence, items.shape),
                evidence=[row_ev] * n,
            )
        ]


class OffTheMainstream(RowKind):
    """The viewer's most relevant titles outside the catalog's most watched ones.

    The page's allocation row: built after the themed rows, it takes what is left of the
    viewer's *relevant* candidates off the mainstream, so those reach the page without the
    rows being filled with weak titles. A title is eligible when fewer than ``max_share`` of
    the catalog's titles have fewer watchers than it (the share
    :func:`fairrec.rows.evidence.popularity_share` states, as for *Hidden gems*) and its
    relevance percentile among the viewer's candidates (the page's score) is at least
    ``min_relevance``. Titles keep the model's order (light MMR diversity). Each title's
    evidence states its watchers and popularity share; the row's evidence the two bounds.

    Parameters
    ----------
    max_share : float in (0, 1], default 0.8
        Outside the most watched ``1 - max_share`` of the catalog's titles (on MovieLens 100K
        the most watched fifth draws about 80 % of the plays, the usual head).
    min_relevance : float in [0, 1), default 0.8
        Relevance floor (with the default 1,000 candidates: the viewer's top 200).
    pool : int, default 300
    reranker : re-ranker, default ``MMR(lambda_=0.95)``
    title : str, default "Off the mainstream for you"
    """

    kind = "off_the_mainstream"
    personal = True

    def __init__(
        self,
        max_share: float = 0.8,
        min_relevance: float = 0.8,
        pool: int = 300,
        reranker: Any = None,
        title: str = "Off the mainstream for you",
    ) -> None:
        _check_cap("OffTheMainstream", "max_share", max_share)
        _check_floor("OffTheMainstream", min_relevance)
        _check_pool("OffTheMainstream", pool)
        self.max_share = max_share
        self.min_relevance = min_relevance
        self.pool = pool
        self.reranker = reranker if reranker is not None else MMR(lambda_=0.95)
        self.title = title

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        st = _stats(ctx)
        key = ("off_the_mainstream", self.max_share)
        below = st.cache.get(key) if hasattr(st, "cache") else None
        if below is None:  # depends on the title facts only
            below = st.pop_share < self.max_share
            if hasattr(st, "cache"):
                st.cache[key] = below
        off = below[np.maximum(ctx.cand, 0)] & (ctx.cand >= 0)
        off &= ctx.rel_pct >= self.min_relevance
        used = (DATA_WATCH_HISTORY,)
        cand, rel, valid = _compact_pool(ctx, *_gather_pool(ctx, taken, None, off), self.pool)
        picks = self._rerank(self.reranker, ctx, rel, cand, valid, ctx.vectors)
        items, scores = _pick(ctx, cand, picks, rel)
        n = ctx.n
        texts, evidence = [], []
        note = _data_note(used)
        get = _per_title(
            st,
            ("off_the_mainstream", note),
            lambda i: (
                _popularity_evidence(st, i),
                f"Off the mainstream: {_watched_text(st, i)}; "
                f"{_share_text(st.pop_share[i])} of the catalog's titles have fewer viewers "
                f"{note}",
            ),
        )
        for its in items.tolist():
            t_row, e_row = [], []
            for i in its:
                if i < 0:
                    break
                e, t = get(i)
                e_row.append(e)
                t_row.append(t)
            texts.append(t_row)
            evidence.append(e_row)
        claim = (
            f"Among the top {_share_text(1 - self.min_relevance)} of your candidates, and "
            f"watched by fewer viewers than the most watched {_share_text(1 - self.max_share)} "
            f"of the catalog's titles {_data_note(used)}"
        )
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=scores,
                titles=[self.title] * n,
                reason_kind=self.kind,
                reason_text=[claim] * n,
                data_used=[used] * n,
                applies=ctx.batch.personalized.copy(),
                item_reason_text=_objects(texts, items.shape),
                item_anchor=np.full(items.shape, None, dtype=object),
                item_evidence=_objects(evidence, items.shape),
                evidence=[{"max_share": self.max_share, "min_relevance": self.min_relevance}] * n,
            )
        ]


def _floored(
    ctx: RowContext,
    q: float,
    pool: int,
    sub: np.ndarray,
    idx: np.ndarray,
    rel: np.ndarray,
    pers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The top ``pool`` of ``sub`` (:class:`HiddenGems`' eligible columns, ``-inf`` where not
    allowed) among the scores at or above the relevance floor ``q``
    (:func:`~fairrec.rows._pools._catalog_floor`) for the personalized viewers ``pers``,
    given ``idx, rel``: the top ``pool`` of ``sub`` without the floor.

    The floor only removes titles, and only titles below it: where it is at most the lowest
    score of a viewer's top ``pool`` (:func:`~fairrec.rows._pools._floor_at_most`, a count),
    that top ``pool`` is also the top ``pool`` of what the floor leaves (ties still by the
    lower title index). Only the other viewers' floors are computed (an order statistic of
    their whole catalog row) and their top ``pool`` taken again.
    """
    if rel.shape[1] == 0:
        return idx, rel
    n_top = _row_counts(np.isfinite(rel))
    redo = pers & (n_top > 0)  # a viewer with nothing to choose keeps nothing
    if not redo.any():
        return idx, rel
    lowest = rel[np.arange(len(rel)), np.maximum(n_top - 1, 0)]  # rel descends
    redo &= ~_floor_at_most(ctx, q, np.where(redo, lowest, 0))
    if redo.any():
        rows = np.flatnonzero(redo)
        part = sub[rows]
        part = np.where(part >= _catalog_floor(ctx, q, rows), part, -np.inf)
        idx, rel = idx.copy(), rel.copy()
        idx[rows], rel[rows] = top_n(part, pool)
    return idx, rel


def _gem_line(st: Any, i: int, note: str) -> tuple[dict[str, Any], str]:
    """A hidden gem's evidence and reason text (from the title facts alone)."""
    if st.liking_measured and st.liked_median is not None:
        extra = ""
        if st.mean_rating is not None and st.n_ratings[i] > 0:
            extra = f", mean rating {st.mean_rating[i]:.1f}"
        text = (
            f"A hidden gem: {_watched_text(st, i)}; "
            f"{_share_text(st.liked_share[i])} of them {st.like_label}{extra} {note}"
        )
    else:
        text = f"Rarely watched: {_watched_text(st, i)} {note}"
    return _popularity_evidence(st, i), text


def _eligible_titles(kind: HiddenGems, st: Any) -> np.ndarray:
    """:meth:`HiddenGems.eligible` as ascending title indices, computed once per set of
    title facts and parameters (it depends on the training data only); a subclass that
    overrides ``eligible`` gets it computed every time."""
    key = ("hidden_gems", kind.quantile, kind.min_watchers)
    own_rule = type(kind).eligible is HiddenGems.eligible
    cache = getattr(st, "cache", None) if own_rule else None
    got = cache.get(key) if cache is not None else None
    if got is None:
        got = np.flatnonzero(kind.eligible(st))
        if cache is not None:
            cache[key] = got
    return got


def _in_catalog(
    titles: np.ndarray, idx: np.ndarray, rel: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~fairrec.models.top_n` of the columns ``titles`` as title indices, padded
    (``-1`` / ``-inf``) to ``width`` columns: what a top-n of the whole catalog gives when
    only those columns can be chosen."""
    cand = np.where(idx >= 0, titles[np.maximum(idx, 0)], -1)
    if cand.shape[1] < width:
        pad = width - cand.shape[1]
        cand = np.pad(cand, ((0, 0), (0, pad)), constant_values=-1)
        rel = np.pad(rel, ((0, 0), (0, pad)), constant_values=-np.inf)
    return cand, rel
