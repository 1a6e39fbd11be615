"""Row kinds: each a title template, a candidate pool, a re-ranker and a reason.

Rows are computed for a *batch* of viewers at once (a single page is a batch of one), so
:meth:`Recommender.home` and :meth:`Recommender.home_batch` share every line of this code
and give identical pages. A row kind receives a :class:`RowContext` (candidates, scores,
item vectors, consented viewer data) and a ``taken`` mask of titles already placed on each
page, and returns a :class:`RowBatch`: ``(u, k)`` title indices padded with ``-1``.

Nothing here reads consent: the gate (:mod:`fairrec.gate`) already reduced each viewer's
data to what may be used, and row kinds that need history declare ``personal = True`` so
they only apply to viewers whose history may be used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from fairrec.errors import param_error
from fairrec.gate import ServingBatch
from fairrec.models import top_n
from fairrec.page import DATA_CATALOG_POPULARITY, DATA_STATED_INTERESTS, DATA_WATCH_HISTORY
from fairrec.rerank import MMR, LongTail, RerankContext, Serendipity

__all__ = [
    "RowContext",
    "RowBatch",
    "RowKind",
    "TopPicks",
    "BecauseYouWatched",
    "HiddenGems",
    "OutsideYourBubble",
    "StatedInterests",
    "DiversePopular",
    "PopularInGenre",
    "default_rows",
    "history_genre_mix",
]


@dataclass
class RowContext:
    """Everything a row kind may use for a batch of ``u`` viewers.

    Attributes
    ----------
    batch : ServingBatch
        The gate's output (consented history, interests, banned titles).
    cand, rel : (u, C) arrays
        Candidate title indices (``-1`` padded) and their relevance, seen and banned titles
        already removed. Personalized viewers' relevance comes from the model; the others'
        from catalog popularity (no personal data).
    rel_pct : (u, C) array
        Relevance as a percentile within the viewer's candidates, in [0, 1].
    scores : (u, n_items) array
        Full relevance over the catalog (``-inf`` where seen or banned).
    vectors : (n_items, d) array
        Unit-norm title vectors for similarity (model factors, or genres).
    genres : (n_items, g) array
        Multi-hot genres.
    popularity : (n_items,) array
        Plays per title in the training data; ``pop_pct`` its percentile in [0, 1];
        ``pop_order`` the titles from most to least played (ties by index).
    profile : (u, d) array
        Mean vector of the viewer's consented history (zeros without one).
    target : (u, g) array
        Genre distribution of the viewer's consented history.
    titles, genre_names : arrays of str
    k : int
        Row size.
    """

    batch: ServingBatch
    cand: np.ndarray
    rel: np.ndarray
    rel_pct: np.ndarray
    scores: np.ndarray
    vectors: np.ndarray
    genres: np.ndarray
    popularity: np.ndarray
    pop_pct: np.ndarray
    pop_order: np.ndarray
    profile: np.ndarray
    titles: np.ndarray
    genre_names: tuple[str, ...]
    k: int
    #: ``titles`` as Python strings (cheap per-title lookups for reasons); from ``titles``
    #: when not given
    title_list: list[str] | None = None

    def __post_init__(self) -> None:
        if self.title_list is None:
            self.title_list = self.titles.tolist()

    @property
    def n(self) -> int:
        return len(self.batch)

    @cached_property
    def target(self) -> np.ndarray:
        """(u, g) genre distribution of each viewer's consented history (zeros without one);
        computed when a row kind asks for it."""
        return history_genre_mix(self.batch.histories, self.genres)

    @cached_property
    def blocked(self) -> np.ndarray:
        """(u, n_items) titles that may not be placed: banned, or already seen."""
        return ~np.isfinite(self.scores)

    @cached_property
    def ar(self) -> np.ndarray:
        """``(u, 1)`` viewer positions, to index ``(u, ...)`` arrays row by row."""
        return np.arange(self.n)[:, None]

    @cached_property
    def cand_pop_pct(self) -> np.ndarray:
        """(u, C) popularity percentile of each candidate (padding: 1, above every cap)."""
        return np.where(self.cand >= 0, self.pop_pct[np.maximum(self.cand, 0)], 1.0)


@dataclass
class RowBatch:
    """One row for every viewer of a batch (``applies`` False where the row has no place)."""

    kind: str
    items: np.ndarray  # (u, k) int, -1 padded
    scores: np.ndarray  # (u, k) float
    titles: list[str]  # row title per viewer
    reason_kind: str
    reason_text: list[str]  # row-level reason per viewer
    data_used: list[tuple[str, ...]]  # per viewer
    applies: np.ndarray  # (u,) bool
    item_reason_text: np.ndarray | None = None  # (u, k) object, item-level reasons
    item_anchor: np.ndarray | None = None  # (u, k) object
    anchor: list[str | None] = field(default_factory=list)


def history_genre_mix(histories: Any, genres: np.ndarray) -> np.ndarray:
    """(u, g) share of each genre in each history row (weighted; zeros for an empty row).

    ``histories @ genres`` computed on the rows' nonzeros only: scipy's sparse-times-dense
    validates and converts the whole ``(n_items, g)`` operand on every call (~0.2 ms for
    20,000 titles).
    """
    h = histories
    mix = np.zeros((h.shape[0], genres.shape[1]))
    if h.nnz:
        contrib = genres[h.indices] * h.data[:, None]
        starts = h.indptr[:-1]
        nonempty = h.indptr[1:] > starts
        # segments between consecutive nonempty rows' starts are exactly those rows' entries
        mix[nonempty] = np.add.reduceat(contrib, starts[nonempty], axis=0)
    return mix / np.maximum(mix.sum(axis=1, keepdims=True), 1e-12)


def _gather_pool(
    ctx: RowContext, taken: np.ndarray, size: int | None, extra_valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First ``size`` candidates per viewer with validity (not taken, not padding)."""
    cand = ctx.cand if size is None else ctx.cand[:, :size]
    rel = ctx.rel[:, : cand.shape[1]]
    valid = cand >= 0
    valid &= ~taken[ctx.ar, np.maximum(cand, 0)]
    if extra_valid is not None:
        valid &= extra_valid[:, : cand.shape[1]]
    return cand, np.where(valid, rel, 0.0), valid


def _below(ctx: RowContext, cap: float) -> np.ndarray | None:
    """(u, C) mask of candidates whose popularity percentile is below ``cap`` (None: no cap)."""
    if cap >= 1.0:
        return None
    return ctx.cand_pop_pct < cap


def _check_cap(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
        raise param_error(name, owner, "in (0, 1]", value)


def _compact_pool(
    ctx: RowContext, cand: np.ndarray, rel: np.ndarray, valid: np.ndarray, pool: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the first ``pool`` valid candidates of each viewer (relevance order preserved):
    re-rankers then work on ``pool`` columns, not on every candidate."""
    order = np.argsort(~valid, axis=1, kind="stable")[:, :pool]
    return cand[ctx.ar, order], rel[ctx.ar, order], valid[ctx.ar, order]


def _pick(
    ctx: RowContext, cand: np.ndarray, picks: np.ndarray, rel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Map re-ranker positions back to title indices and scores (``-1`` stays padding)."""
    got = picks >= 0
    safe = np.where(got, picks, 0)
    items = np.where(got, cand[ctx.ar, safe], -1)
    scores = np.where(got, rel[ctx.ar, safe], -np.inf)
    return items, scores


def _normalize(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Min-max scale each row of ``x`` to [0, 1] over its ``valid`` entries (all entries when
    ``valid`` is None; the others come out as they may)."""
    lo = (x if valid is None else np.where(valid, x, np.inf)).min(axis=1, keepdims=True)
    hi = (x if valid is None else np.where(valid, x, -np.inf)).max(axis=1, keepdims=True)
    span = hi - lo
    return (x - np.where(np.isfinite(lo), lo, 0.0)) / np.where(span > 0, span, 1.0)


class RowKind:
    """Base of row kinds: parameters in ``__init__``, work in :meth:`build`.

    Attributes
    ----------
    kind : str
        Machine-readable kind, also the reason kind.
    personal : bool
        The row uses the viewer's history: it only applies to personalized viewers.
    """

    kind: ClassVar[str] = "row"
    personal: ClassVar[bool] = False
    #: added to the row's expected value when rows are ordered on the page
    value_bonus: ClassVar[float] = 0.0

    def may_apply(self, ctx: RowContext) -> bool:
        """Cheap check: can the row apply to anyone in the batch? (else it is not built)"""
        return bool(ctx.batch.personalized.any()) if self.personal else True

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        """Rows for the batch; ``taken`` is the (u, n_items) mask of titles already placed."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def _rerank(
        self,
        reranker: Any,
        ctx: RowContext,
        rel: np.ndarray,
        cand: np.ndarray,
        valid: np.ndarray,
        vectors: np.ndarray,
        context: Any = None,
        gathered: np.ndarray | None = None,
    ) -> np.ndarray:
        """Positions chosen by ``reranker`` among ``cand``: (u, <= k), -1 padded.

        fairrec's own re-rankers take the arrays as they are (``_rerank_trusted``: the
        checks of ``rerank`` are for outside callers, and ``ctx.vectors`` rows are unit-norm
        already); any other re-ranker goes through its public ``rerank``.
        """
        fast = getattr(reranker, "_rerank_trusted", None)
        if fast is not None and vectors is ctx.vectors:
            if gathered is None and getattr(reranker, "_uses_vectors", True):
                gathered = vectors[np.maximum(cand, 0)]
            return fast(rel, valid, ctx.k, gathered, context)
        vecs = vectors[np.maximum(cand, 0)] if gathered is None else gathered
        return reranker.rerank(
            np.where(valid, rel, 0.0), ctx.k, vectors=vecs, context=context, valid=valid
        )


def _check_pool(owner: str, pool: Any) -> None:
    if isinstance(pool, bool) or not isinstance(pool, (int, np.integer)) or pool < 1:
        raise param_error("pool", owner, "an int >= 1", pool)


class TopPicks(RowKind):
    """Most relevant titles with light MMR diversity; each title says which watched title
    it is closest to."""

    kind = "top_picks"
    personal = True

    def __init__(self, pool: int = 200, reranker: Any = None, title: str = "Top picks for you"):
        _check_pool("TopPicks", pool)
        self.pool = pool
        self.reranker = reranker if reranker is not None else MMR(lambda_=0.85)
        self.title = title

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        cand, rel, valid = _gather_pool(ctx, taken, self.pool)
        picks = self._rerank(self.reranker, ctx, rel, cand, valid, ctx.vectors)
        items, scores = _pick(ctx, cand, picks, rel)
        applies = ctx.batch.personalized.copy()
        anchors = _closest_history(ctx, items)
        names = ctx.title_list
        anchor_titles = np.array(
            [[names[a] if a >= 0 else None for a in row] for row in anchors.tolist()],
            dtype=object,
        ).reshape(anchors.shape)
        texts = np.array(
            [
                [
                    "Close to your watch history (your watch history)"
                    if t is None
                    else f"Because you watched {t} (your watch history)"
                    for t in row
                ]
                for row in anchor_titles.tolist()
            ],
            dtype=object,
        ).reshape(anchors.shape)
        n = ctx.n
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=scores,
                titles=[self.title] * n,
                reason_kind=self.kind,
                reason_text=["Picked from your watch history (your watch history)"] * n,
                data_used=[(DATA_WATCH_HISTORY,)] * n,
                applies=applies,
                item_reason_text=texts,
                item_anchor=anchor_titles,
            )
        ]


def _closest_history(ctx: RowContext, items: np.ndarray) -> np.ndarray:
    """For each chosen title, the most similar title of the viewer's recent history."""
    recent = ctx.batch.recent
    if recent.shape[1] == 0:
        return np.full(items.shape, -1)
    rv = ctx.vectors[np.maximum(recent, 0)]  # (u, H, d)
    iv = ctx.vectors[np.maximum(items, 0)]  # (u, k, d)
    sim = np.matmul(iv, rv.transpose(0, 2, 1))  # (u, k, H)
    sim[np.broadcast_to(recent[:, None, :] < 0, sim.shape)] = -np.inf
    best = sim.argmax(axis=2)
    anchors = recent[ctx.ar, best]
    has = recent[:, :1] >= 0  # a viewer with any recent title
    return np.where((items >= 0) & has, anchors, -1)


class BecauseYouWatched(RowKind):
    """Titles similar to one title of the consented history, one row per anchor.

    Anchors are recent history titles; each further anchor is the recent title least similar
    to the anchors already used, so the rows cover different corners of the viewer's taste.

    Parameters
    ----------
    n_rows : int, default 2
    pool : int, default 200
        Candidates considered per row.
    similarity_weight : float, default 0.7
        Weight of the similarity to the anchor against the viewer's relevance.
    max_popularity : float, default 0.7
        Only titles below this popularity percentile are eligible: the row explores the
        anchor's neighbourhood off the mainstream (1.0 disables the cap). On MovieLens 100K
        this cap (with the same one on *Outside your bubble* and ``HiddenGems(quantile=0.5)``)
        trades page 2D-nDCG for novelty; see benchmarks/RESULTS.md.
    """

    kind = "because_you_watched"
    personal = True

    def __init__(
        self,
        n_rows: int = 2,
        pool: int = 200,
        similarity_weight: float = 0.7,
        reranker: Any = None,
        n_recent: int = 10,
        max_popularity: float = 0.7,
    ) -> None:
        _check_pool("BecauseYouWatched", pool)
        _check_cap("BecauseYouWatched", "max_popularity", max_popularity)
        self.max_popularity = max_popularity
        if not 0.0 <= similarity_weight <= 1.0:
            raise param_error(
                "similarity_weight", "BecauseYouWatched", "in [0, 1]", similarity_weight
            )
        self.n_rows = n_rows
        self.pool = pool
        self.similarity_weight = similarity_weight
        self.reranker = reranker if reranker is not None else MMR(lambda_=0.9)
        self.n_recent = n_recent

    def _anchors(self, ctx: RowContext) -> np.ndarray:
        recent = ctx.batch.recent[:, : self.n_recent]
        u, h = recent.shape
        anchors = np.full((u, self.n_rows), -1, dtype=np.int64)
        if h == 0:
            return anchors
        rv = ctx.vectors[np.maximum(recent, 0)]
        ar = np.arange(u)
        free = recent >= 0  # a recent title not used as an anchor yet
        closeness = None
        for r in range(self.n_rows):  # loop over rows, vectorized over viewers
            score = np.where(free, -closeness if r else -np.arange(h), -np.inf)
            best = score.argmax(axis=1)
            ok = free[ar, best]
            anchors[:, r] = np.where(ok, recent[ar, best], -1)
            free[ar, best] = False
            if r + 1 < self.n_rows:
                sim = np.matmul(rv, rv[ar, best][:, :, None])[:, :, 0]
                closeness = sim if r == 0 else np.maximum(closeness, sim)
        return anchors

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        anchors = self._anchors(ctx)
        k = ctx.k
        # One pool for all the rows: the first ``pool`` free candidates of each row are among
        # the first ``pool + (n_rows - 1) * k`` eligible ones, whatever earlier rows took.
        cand, rel, eligible = _compact_pool(
            ctx,
            *_gather_pool(ctx, taken, None, _below(ctx, self.max_popularity)),
            self.pool + (self.n_rows - 1) * k,
        )
        vecs = ctx.vectors[np.maximum(cand, 0)]
        to_anchor = np.matmul(vecs, ctx.vectors[np.maximum(anchors, 0)].transpose(0, 2, 1))
        w = self.similarity_weight
        free = eligible.copy()  # not taken by an earlier row of this kind
        rows = []
        for r in range(self.n_rows):
            anchor = anchors[:, r]
            valid = free & (np.cumsum(free, axis=1) <= self.pool)
            score = w * to_anchor[:, :, r] + (1 - w) * _normalize(rel, valid)
            picks = self._rerank(self.reranker, ctx, score, cand, valid, ctx.vectors, None, vecs)
            items, scores = _pick(ctx, cand, picks, rel)
            applies = ctx.batch.personalized & (anchor >= 0)
            who, at = np.nonzero((picks >= 0) & applies[:, None])
            free[who, picks[who, at]] = False
            names = [ctx.title_list[a] if a >= 0 else None for a in anchor.tolist()]
            rows.append(
                RowBatch(
                    kind=self.kind,
                    items=items,
                    scores=scores,
                    titles=[f"Because you watched {t}" for t in names],
                    reason_kind=self.kind,
                    reason_text=[f"Because you watched {t} (your watch history)" for t in names],
                    data_used=[(DATA_WATCH_HISTORY,)] * ctx.n,
                    applies=applies,
                    anchor=names,
                )
            )
        return rows


def _first_allowed(order: np.ndarray, blocked: np.ndarray, pool: int, scan: int = 4) -> np.ndarray:
    """Per viewer, the first ``pool`` titles of a shared ``order`` that are not ``blocked``.

    Only the first ``scan * pool`` titles of the order are looked at (the pool of a popular
    row needs no more); ``-1`` pads a viewer for whom fewer are allowed there.
    """
    head = order[: scan * pool]
    ok = ~blocked[:, head]
    pos = np.cumsum(ok, axis=1) - 1
    sel = ok & (pos < pool)
    out = np.full((blocked.shape[0], min(pool, len(head))), -1, dtype=np.int64)
    rows, cols = np.nonzero(sel)
    out[rows, pos[rows, cols]] = head[cols]
    return out


def _mark(taken: np.ndarray, items: np.ndarray, applies: np.ndarray) -> None:
    who, at = np.nonzero((items >= 0) & applies[:, None])
    taken[who, items[who, at]] = True


class HiddenGems(RowKind):
    """Relevant titles below a popularity quantile, re-ranked for the long tail.

    For viewers without personalization the relevance is catalog popularity, so the row
    becomes "well-liked titles off the beaten path" with no personal data.

    Parameters
    ----------
    quantile : float, default 0.5
        Titles whose popularity percentile is below this are eligible.
    min_relevance : float, default 0.5
        Minimum relevance percentile among the viewer's candidates (personalized only).
    """

    kind = "hidden_gems"

    def __init__(
        self,
        quantile: float = 0.5,
        min_relevance: float = 0.5,
        reranker: Any = None,
        pool: int = 300,
    ) -> None:
        _check_pool("HiddenGems", pool)
        self.pool = pool
        if not 0.0 < quantile <= 1.0:
            raise param_error("quantile", "HiddenGems", "in (0, 1]", quantile)
        if not 0.0 <= min_relevance < 1.0:
            raise param_error("min_relevance", "HiddenGems", "in [0, 1)", min_relevance)
        self.quantile = quantile
        self.min_relevance = min_relevance
        self.reranker = reranker if reranker is not None else LongTail(lambda_=0.5)

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        tail = ctx.cand_pop_pct < self.quantile
        relevant = (ctx.rel_pct >= self.min_relevance) | ~ctx.batch.personalized[:, None]
        cand, rel, valid = _compact_pool(
            ctx, *_gather_pool(ctx, taken, None, tail & relevant), self.pool
        )
        context = RerankContext(popularity=ctx.popularity[np.maximum(cand, 0)])
        picks = self._rerank(self.reranker, ctx, rel, cand, valid, ctx.vectors, context)
        items, scores = _pick(ctx, cand, picks, rel)
        pers = ctx.batch.personalized
        n = ctx.n
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=scores,
                titles=["Hidden gems for you" if p else "Hidden gems" for p in pers],
                reason_kind=self.kind,
                reason_text=[
                    "A hidden gem: rarely watched, close to your taste (your watch history)"
                    if p
                    else "A hidden gem: well liked but rarely watched (no personal data)"
                    for p in pers
                ],
                data_used=[
                    (DATA_WATCH_HISTORY,) if p else (DATA_CATALOG_POPULARITY,) for p in pers
                ],
                applies=np.ones(n, dtype=bool),
            )
        ]


class OutsideYourBubble(RowKind):
    """Serendipity: relevant for viewers like you, far from your own profile.

    Parameters
    ----------
    reranker : re-ranker, default ``Serendipity()``
    title : str
    pool : int, default 300
        Candidates considered.
    max_popularity : float, default 0.7
        Only titles below this popularity percentile are eligible (1.0: no cap).
    """

    kind = "outside_your_bubble"
    personal = True

    def __init__(
        self,
        reranker: Any = None,
        title: str = "Outside your bubble",
        pool: int = 300,
        max_popularity: float = 0.7,
    ) -> None:
        _check_pool("OutsideYourBubble", pool)
        _check_cap("OutsideYourBubble", "max_popularity", max_popularity)
        self.max_popularity = max_popularity
        self.reranker = reranker if reranker is not None else Serendipity()
        self.title = title
        self.pool = pool

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        cand, rel, valid = _compact_pool(
            ctx, *_gather_pool(ctx, taken, None, _below(ctx, self.max_popularity)), self.pool
        )
        context = RerankContext(profile=ctx.profile)
        picks = self._rerank(self.reranker, ctx, _normalize(rel), cand, valid, ctx.vectors, context)
        items, scores = _pick(ctx, cand, picks, rel)
        n = ctx.n
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=scores,
                titles=[self.title] * n,
                reason_kind=self.kind,
                reason_text=[
                    "Loved by viewers with similar taste, unlike what you usually watch "
                    "(your watch history)"
                ]
                * n,
                data_used=[(DATA_WATCH_HISTORY,)] * n,
                applies=ctx.batch.personalized.copy(),
            )
        ]


class StatedInterests(RowKind):
    """Titles in the genres (or close to the titles) the viewer said they like.

    Applies only where ``stated_interests`` is granted. Relevance is the model's for
    personalized viewers, catalog popularity otherwise; the reason says which.
    """

    kind = "stated_interests"
    # the viewer told us they want this: rank the row above inferred ones of similar value
    value_bonus = 0.25

    def __init__(self, pool: int = 300, reranker: Any = None) -> None:
        _check_pool("StatedInterests", pool)
        self.pool = pool
        self.reranker = reranker if reranker is not None else MMR(lambda_=0.8)

    def may_apply(self, ctx: RowContext) -> bool:
        b = ctx.batch
        return bool((b.interests & (b.liked_genres.any(1) | b.liked_items.any(1))).any())

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        b = ctx.batch
        liked = (b.liked_genres.astype(np.float32) @ ctx.genres.T) > 0  # (u, n_items)
        if b.liked_items.any():
            sim = b.liked_items.astype(np.float32) @ ctx.vectors  # (u, d)
            near = (sim @ ctx.vectors.T) / np.maximum(b.liked_items.sum(1, keepdims=True), 1)
            liked |= near >= 0.5
        scores = np.where(liked & ~taken & np.isfinite(ctx.scores), ctx.scores, -np.inf)
        cand, rel = top_n(scores, self.pool)
        valid = cand >= 0
        rel = np.where(valid, rel, 0.0)
        picks = self._rerank(self.reranker, ctx, _normalize(rel), cand, valid, ctx.vectors)
        items, out = _pick(ctx, cand, picks, rel)
        applies = b.interests & (b.liked_genres.any(1) | b.liked_items.any(1))
        names = []
        for s in b.states:  # a label per viewer from their own stated interests
            liked_names = sorted(s.liked_genres) or sorted(map(str, s.liked_items))
            names.append(", ".join(liked_names[:3]) if liked_names else "")
        data_used = [
            (DATA_STATED_INTERESTS, DATA_WATCH_HISTORY) if p else (DATA_STATED_INTERESTS,)
            for p in b.personalized
        ]
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=out,
                titles=[f"Because you like {n}" for n in names],
                reason_kind=self.kind,
                reason_text=[
                    f"Matches your stated interest {n} ("
                    + ("your stated interests and watch history" if p else "your stated interests")
                    + ")"
                    for n, p in zip(names, b.personalized)
                ],
                data_used=data_used,
                applies=applies,
            )
        ]


class DiversePopular(RowKind):
    """Popular titles spread across genres: no personal data, the cold-start row."""

    kind = "diverse_popular"

    def __init__(
        self,
        pool: int = 300,
        reranker: Any = None,
        title: str = "Popular across genres",
        only_unpersonalized: bool = True,
    ):
        _check_pool("DiversePopular", pool)
        self.pool = pool
        self.only_unpersonalized = only_unpersonalized
        self.reranker = reranker if reranker is not None else MMR(lambda_=0.5, similarity="jaccard")
        self.title = title

    def may_apply(self, ctx: RowContext) -> bool:
        return not self.only_unpersonalized or bool((~ctx.batch.personalized).any())

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        cand = _first_allowed(ctx.pop_order, ctx.blocked | taken, self.pool)
        valid = cand >= 0
        rel = np.where(valid, np.log1p(ctx.popularity[np.maximum(cand, 0)]), 0.0)
        picks = self._rerank(self.reranker, ctx, _normalize(rel), cand, valid, ctx.genres)
        items, scores = _pick(ctx, cand, picks, rel)
        n = ctx.n
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=scores,
                titles=[self.title] * n,
                reason_kind=self.kind,
                reason_text=["Popular across genres (no personal data)"] * n,
                data_used=[(DATA_CATALOG_POPULARITY,)] * n,
                applies=~ctx.batch.personalized if self.only_unpersonalized else np.ones(n, bool),
            )
        ]


class PopularInGenre(RowKind):
    """Most played titles of a genre, for viewers without personalization (no personal data).

    Genres are the catalog's most played ones, one row each, skipping genres the viewer
    excluded (their titles are banned, so such a row would be empty and is dropped).
    """

    kind = "popular_in_genre"

    def __init__(self, n_rows: int = 2, only_unpersonalized: bool = True) -> None:
        self.n_rows = n_rows
        self.only_unpersonalized = only_unpersonalized

    def may_apply(self, ctx: RowContext) -> bool:
        return not self.only_unpersonalized or bool((~ctx.batch.personalized).any())

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        genre_plays = ctx.popularity @ ctx.genres
        order = np.argsort(-genre_plays, kind="stable")[: self.n_rows]
        rows = []
        local = taken.copy()
        n = ctx.n
        applies = ~ctx.batch.personalized if self.only_unpersonalized else np.ones(n, bool)
        for g in order:
            genre_order = ctx.pop_order[ctx.genres[ctx.pop_order, g] > 0]
            items = _first_allowed(genre_order, ctx.blocked | local, ctx.k)
            scores = np.where(items >= 0, ctx.popularity[np.maximum(items, 0)], 0.0)
            _mark(local, items, applies)
            name = ctx.genre_names[g]
            rows.append(
                RowBatch(
                    kind=self.kind,
                    items=items,
                    scores=np.where(items >= 0, np.log1p(scores), -np.inf),
                    titles=[f"Popular in {name}"] * n,
                    reason_kind=self.kind,
                    reason_text=[f"Popular in {name} (no personal data)"] * n,
                    data_used=[(DATA_CATALOG_POPULARITY,)] * n,
                    applies=applies.copy(),
                )
            )
        return rows


def default_rows() -> list[RowKind]:
    """The default page: personalized rows, stated interests, and non-personal rows."""
    return [
        TopPicks(),
        BecauseYouWatched(n_rows=2),
        StatedInterests(),
        HiddenGems(),
        OutsideYourBubble(),
        DiversePopular(),
        PopularInGenre(n_rows=2),
    ]
