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
from fairrec.rerank import MMR, RerankContext, Serendipity

__all__ = [
    "RowContext",
    "RowBatch",
    "RowKind",
    "TopPicks",
    "BecauseYouWatched",
    "HiddenGems",
    "OffTheMainstream",
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
    evidence : EvidenceSource, optional
        The model, training data and title facts reasons are computed from (the
        Recommender always gives one; without it rows state only what the arrays show).
    item_ids : list, optional
        External title ids in index order (for the ``anchor_id`` of evidence).
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
    evidence: Any = None
    item_ids: list | None = None

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
    item_evidence: np.ndarray | None = None  # (u, k) object: dict per title, None padding
    evidence: list[dict | None] = field(default_factory=list)  # row-level, per viewer
    anchor_index: np.ndarray | None = None  # (u,) row anchor title index, -1 none


@dataclass
class EvidenceSource:
    """What reasons are computed from (built by the Recommender for each batch).

    Attributes
    ----------
    model : CandidateModel
        The fitted model the page's relevance comes from.
    positives : csr (u, n_items)
        The histories the model scored (consented, in-window, excluded titles removed,
        positives only).
    train : csr (n_train, n_items)
        Consented, in-window training events (a stored 0: watched, not a positive).
    train_rows : (u,) int
        Each viewer's own training row, ``-1`` if none.
    stats : fairrec.evidence.TitleStats
    """

    model: Any
    positives: Any
    train: Any
    train_rows: np.ndarray
    stats: Any
    cache: dict = field(default_factory=dict)


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


def _relevance_floor(ctx: RowContext, floor: float) -> np.ndarray | None:
    """(u, C) mask of candidates at or above the relevance floor: a relevance percentile
    among the viewer's candidates (``ctx.rel_pct``, the page's score). Viewers without
    personalization have no model relevance: the floor does not apply to them. None: no
    floor (0)."""
    if floor <= 0.0:
        return None
    return (ctx.rel_pct >= floor) | ~ctx.batch.personalized[:, None]


def _both(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    return a if b is None else a & b


def _check_floor(owner: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise param_error("min_relevance", owner, "in [0, 1)", value)


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


def _share_text(x: float) -> str:
    """A share as a percentage: ``"0.4 %"``, ``"12 %"``."""
    pct = 100.0 * float(x)
    return f"{pct:.1f} %" if pct < 10 else f"{pct:.0f} %"


def _id_of(ctx: RowContext, index: int) -> str:
    ids = ctx.item_ids
    return str(ids[index]) if ids is not None else str(index)


def _objects(values: list[list[Any]], shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for v, row in enumerate(values):
        out[v, : len(row)] = row
    return out


def _contributions(
    ctx: RowContext, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Per (viewer, title): the top contributing history title, its history column, its
    contribution and the sum of all contributions; plus the basis."""
    from fairrec.evidence import top_contributions

    ev = ctx.evidence
    if ev is not None:
        return top_contributions(ev.model, ev.positives, items, ctx.vectors, ev.cache)
    return top_contributions(None, ctx.batch.histories, items, ctx.vectors)


def _anchor_phrase(basis: str, anchor: str) -> str:
    from fairrec.evidence import BASIS_SIMILARITY

    if basis == BASIS_SIMILARITY:
        return f"Because you watched {anchor}, the title of your history most similar to it"
    return f"Because you watched {anchor}, the title of your history that adds most to its score"


class TopPicks(RowKind):
    """Most relevant titles with light MMR diversity; each title names the title of the
    viewer's consented history that contributes most to its score (its evidence holds the
    contribution; for models without an exact decomposition, the most similar title)."""

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
        anchor, _, value, total, basis = _contributions(ctx, items)
        names = ctx.title_list
        texts: list[list[Any]] = []
        anchors: list[list[Any]] = []
        evidence: list[list[Any]] = []
        for its, an, va, to in zip(items.tolist(), anchor.tolist(), value.tolist(), total.tolist()):
            t_row, a_row, e_row = [], [], []
            for it, a, v, tot in zip(its, an, va, to):
                if it < 0:
                    break
                if a >= 0:
                    t_row.append(_anchor_phrase(basis, names[a]) + " (your watch history)")
                    a_row.append(names[a])
                    e_row.append(
                        {
                            "anchor_id": _id_of(ctx, a),
                            "anchor": names[a],
                            "basis": basis,
                            "contribution": round(float(v), 6),
                            "model_score": round(float(tot), 6),
                        }
                    )
                else:
                    t_row.append("Close to your watch history as a whole (your watch history)")
                    a_row.append(None)
                    e_row.append({"anchor_id": None, "anchor": None, "basis": basis})
            texts.append(t_row)
            anchors.append(a_row)
            evidence.append(e_row)
        n = ctx.n
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=scores,
                titles=[self.title] * n,
                reason_kind=self.kind,
                reason_text=["The titles most relevant to you (your watch history)"] * n,
                data_used=[(DATA_WATCH_HISTORY,)] * n,
                applies=applies,
                item_reason_text=_objects(texts, items.shape),
                item_anchor=_objects(anchors, items.shape),
                item_evidence=_objects(evidence, items.shape),
                evidence=[{"basis": basis}] * n,
            )
        ]


class BecauseYouWatched(RowKind):
    """Titles for which one title of the consented history is the top contributor.

    For each eligible candidate the history title adding most to its score is found (exact
    per-title contributions for ALS and ItemKNN, similarity otherwise); each row's anchor is a
    history title that tops the most candidates, and the row shows only candidates it tops,
    so "because you watched X" is the fact its evidence states. Rows of one page have
    different anchors and disjoint titles.

    Parameters
    ----------
    n_rows : int, default 2
    pool : int, default 200
        Candidates considered per row.
    similarity_weight : float, default 0.7
        Weight of the similarity to the anchor against the viewer's relevance when ordering.
    max_popularity : float, default 0.8
        Only titles below this popularity percentile are eligible: the row explores the
        anchor's neighbourhood off the mainstream (1.0 disables the cap). On MovieLens 100K
        the titles above the 80th percentile draw about 80 % of the plays (the head).
    min_titles : int, default 3
        An anchor needs at least this many candidates it tops.
    min_relevance : float, default 0.8
        Relevance floor: only candidates whose relevance percentile among the viewer's
        candidates (the page's score) is at least this are eligible, so the row holds the
        viewer's relevant titles off the mainstream and is never filled with weak ones
        (0 disables the floor). With the default 1,000 candidates: the top 200. A viewer
        with too few such titles gets no row (rows are never padded).
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
        max_popularity: float = 0.8,
        min_titles: int = 3,
        min_relevance: float = 0.8,
    ) -> None:
        _check_pool("BecauseYouWatched", pool)
        _check_floor("BecauseYouWatched", min_relevance)
        self.min_relevance = min_relevance
        _check_cap("BecauseYouWatched", "max_popularity", max_popularity)
        self.max_popularity = max_popularity
        if not 0.0 <= similarity_weight <= 1.0:
            raise param_error(
                "similarity_weight", "BecauseYouWatched", "in [0, 1]", similarity_weight
            )
        _check_pool("BecauseYouWatched", min_titles)
        self.n_rows = n_rows
        self.pool = pool
        self.similarity_weight = similarity_weight
        self.reranker = reranker if reranker is not None else MMR(lambda_=0.9)
        self.n_recent = n_recent  # kept for compatibility; anchors come from contributions
        self.min_titles = min_titles

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        k = ctx.k
        cand, rel, eligible = _compact_pool(
            ctx,
            *_gather_pool(
                ctx,
                taken,
                None,
                _both(_below(ctx, self.max_popularity), _relevance_floor(ctx, self.min_relevance)),
            ),
            self.pool + (self.n_rows - 1) * k,
        )
        anchor_of, col_of, value, _, basis = _contributions(ctx, np.where(eligible, cand, -1))
        eligible = eligible & (anchor_of >= 0)
        u = ctx.n
        width = int(col_of.max()) + 1 if col_of.size and col_of.max() >= 0 else 0
        counts = np.zeros((u, max(width, 1)), dtype=np.int64)
        who, at = np.nonzero(eligible)
        np.add.at(counts, (who, col_of[who, at]), 1)
        # anchors: the history columns topping most candidates (ties: lower title index)
        order = np.argsort(-counts, axis=1, kind="stable")[:, : self.n_rows]
        top_counts = np.take_along_axis(counts, order, axis=1)
        vecs = ctx.vectors[np.maximum(cand, 0)]
        w = self.similarity_weight
        names = ctx.title_list
        rows = []
        for r in range(self.n_rows):
            if r < order.shape[1]:
                a_col = np.where(top_counts[:, r] >= self.min_titles, order[:, r], -1)
            else:
                a_col = np.full(u, -1)
            in_row = eligible & (col_of == a_col[:, None]) & (a_col[:, None] >= 0)
            first = np.argmax(in_row, axis=1)
            anchor = np.where(in_row.any(axis=1), anchor_of[ctx.ar[:, 0], first], -1)
            valid = in_row & (np.cumsum(in_row, axis=1) <= self.pool)
            to_anchor = np.matmul(vecs, ctx.vectors[np.maximum(anchor, 0)][:, :, None])[:, :, 0]
            score = w * to_anchor + (1 - w) * _normalize(rel, valid)
            picks = self._rerank(self.reranker, ctx, score, cand, valid, ctx.vectors, None, vecs)
            items, scores = _pick(ctx, cand, picks, rel)
            got = picks >= 0
            contrib = np.where(got, value[ctx.ar, np.maximum(picks, 0)], 0.0)
            applies = ctx.batch.personalized & (anchor >= 0)
            titles, texts, anchors, row_ev, item_ev = [], [], [], [], []
            for _v, (a, its, cs) in enumerate(
                zip(anchor.tolist(), items.tolist(), contrib.tolist())
            ):
                name = names[a] if a >= 0 else None
                anchors.append(name)
                titles.append(f"Because you watched {name}")
                texts.append(
                    f"Because you watched {name}: of your history, it adds most to each "
                    "title here (your watch history)"
                    if basis != "vector_similarity"
                    else f"Because you watched {name}: the title of your history most "
                    "similar to each title here (your watch history)"
                )
                aid = _id_of(ctx, a) if a >= 0 else None
                row_ev.append({"anchor_id": aid, "anchor": name, "basis": basis})
                item_ev.append(
                    [
                        {
                            "anchor_id": aid,
                            "anchor": name,
                            "basis": basis,
                            "contribution": round(c, 6),
                        }
                        for it, c in zip(its, cs)
                        if it >= 0
                    ]
                )
            text_arr = np.where(items >= 0, np.asarray(texts, dtype=object)[:, None], None)
            anchor_arr = np.where(items >= 0, np.asarray(anchors, dtype=object)[:, None], None)
            rows.append(
                RowBatch(
                    kind=self.kind,
                    items=items,
                    scores=scores,
                    titles=titles,
                    reason_kind=self.kind,
                    reason_text=texts,
                    data_used=[(DATA_WATCH_HISTORY,)] * u,
                    applies=applies,
                    anchor=anchors,
                    item_reason_text=text_arr,
                    item_anchor=anchor_arr,
                    item_evidence=_objects(item_ev, items.shape),
                    evidence=row_ev,
                    anchor_index=anchor,
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


def _stats(ctx: RowContext) -> Any:
    """The title facts of the batch (from the evidence source, or from the arrays)."""
    if ctx.evidence is not None:
        return ctx.evidence.stats
    from fairrec.evidence import TitleStats, popularity_share

    w = np.rint(ctx.popularity).astype(np.int64)
    return TitleStats(
        n_viewers=0,
        watchers=w,
        likers=w,
        pop_share=popularity_share(w),
        liking_measured=False,
        like_label="liked it",
        mean_rating=None,
        n_ratings=None,
        liked_median=None,
        rating_median=None,
    )


def _popularity_evidence(st: Any, i: int) -> dict[str, Any]:
    w = int(st.watchers[i])
    out: dict[str, Any] = {
        "watchers": w,
        "viewers": int(st.n_viewers),
        "popularity_share": round(float(st.pop_share[i]), 6),
    }
    if st.liking_measured:
        out["likers"] = int(st.likers[i])
        out["liked_share"] = round(float(st.liked_share[i]), 6)
    if st.mean_rating is not None and st.n_ratings[i] > 0:
        out["mean_rating"] = round(float(st.mean_rating[i]), 4)
        out["n_ratings"] = int(st.n_ratings[i])
    return out


def _watched_text(st: Any, i: int) -> str:
    w = int(st.watchers[i])
    if st.n_viewers:
        return f"watched by {_share_text(w / st.n_viewers)} of viewers ({w})"
    return f"watched by {w} viewer{'s' if w != 1 else ''}"


class HiddenGems(RowKind):
    """Rarely watched titles that viewers liked, relevant to the viewer.

    A title is eligible when fewer than ``quantile`` of the catalog's titles have fewer
    watchers than it (:func:`fairrec.evidence.popularity_share`), and -- when the data
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
        _check_pool("HiddenGems", min_watchers)
        if max_items is not None:
            _check_pool("HiddenGems", max_items)
        self.max_items = max_items
        self.pool = pool
        if not 0.0 < quantile <= 1.0:
            raise param_error("quantile", "HiddenGems", "in (0, 1]", quantile)
        if not 0.0 <= min_relevance < 1.0:
            raise param_error("min_relevance", "HiddenGems", "in [0, 1)", min_relevance)
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
        # large catalog the most relevant titles are rarely rare ones
        ok = self.eligible(st)[None, :] & ~ctx.blocked & ~taken
        pers = ctx.batch.personalized
        if self.min_relevance > 0 and pers.any():
            ok &= (ctx.scores >= _catalog_floor(ctx, self.min_relevance)) | ~pers[:, None]
        cand, rel = top_n(np.where(ok, ctx.scores, -np.inf), self.pool)
        valid = cand >= 0
        rel = np.where(valid, rel, 0.0)
        context = RerankContext(popularity=ctx.popularity[np.maximum(cand, 0)])
        on_genres = getattr(self.reranker, "similarity", None) == "jaccard"
        vectors = ctx.genres if on_genres else ctx.vectors
        score = _normalize(rel, valid) if on_genres else rel
        picks = self._rerank(self.reranker, ctx, score, cand, valid, vectors, context)
        if self.max_items is not None:
            picks = picks[:, : self.max_items]
        items, scores = _pick(ctx, cand, picks, rel)
        pers = ctx.batch.personalized
        n = ctx.n
        measured = st.liking_measured and st.liked_median is not None
        label = "your watch history"
        evidence, texts = [], []
        for v, its in enumerate(items.tolist()):
            lab = label if pers[v] else "no personal data"
            e_row, t_row = [], []
            for i in its:
                if i < 0:
                    break
                e_row.append(_popularity_evidence(st, i))
                if measured:
                    extra = ""
                    if st.mean_rating is not None and st.n_ratings[i] > 0:
                        extra = f", mean rating {st.mean_rating[i]:.1f}"
                    t_row.append(
                        f"A hidden gem: {_watched_text(st, i)}; "
                        f"{_share_text(st.liked_share[i])} of them {st.like_label}{extra} ({lab})"
                    )
                else:
                    t_row.append(f"Rarely watched: {_watched_text(st, i)} ({lab})")
            evidence.append(e_row)
            texts.append(t_row)
        rare = (
            f"no more viewers than {_share_text(1 - self.quantile)} of the catalog's titles have"
        )
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
                        "catalog's titles for you (your watch history)"
                        if p
                        else " (no personal data)"
                    )
                    for p in pers
                ],
                data_used=[
                    (DATA_WATCH_HISTORY,) if p else (DATA_CATALOG_POPULARITY,) for p in pers
                ],
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
    :func:`fairrec.evidence.popularity_share` states, as for *Hidden gems*) and its
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
        off = (st.pop_share < self.max_share)[np.maximum(ctx.cand, 0)] & (ctx.cand >= 0)
        off &= ctx.rel_pct >= self.min_relevance
        cand, rel, valid = _compact_pool(ctx, *_gather_pool(ctx, taken, None, off), self.pool)
        picks = self._rerank(self.reranker, ctx, rel, cand, valid, ctx.vectors)
        items, scores = _pick(ctx, cand, picks, rel)
        n = ctx.n
        texts, evidence = [], []
        for its in items.tolist():
            t_row, e_row = [], []
            for i in its:
                if i < 0:
                    break
                e_row.append(_popularity_evidence(st, i))
                t_row.append(
                    f"Off the mainstream: {_watched_text(st, i)}; "
                    f"{_share_text(st.pop_share[i])} of the catalog's titles have fewer viewers "
                    "(your watch history)"
                )
            texts.append(t_row)
            evidence.append(e_row)
        claim = (
            f"Among the top {_share_text(1 - self.min_relevance)} of your candidates, and "
            f"watched by fewer viewers than the most watched {_share_text(1 - self.max_share)} "
            "of the catalog's titles (your watch history)"
        )
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=scores,
                titles=[self.title] * n,
                reason_kind=self.kind,
                reason_text=[claim] * n,
                data_used=[(DATA_WATCH_HISTORY,)] * n,
                applies=ctx.batch.personalized.copy(),
                item_reason_text=_objects(texts, items.shape),
                item_anchor=np.full(items.shape, None, dtype=object),
                item_evidence=_objects(evidence, items.shape),
                evidence=[{"max_share": self.max_share, "min_relevance": self.min_relevance}] * n,
            )
        ]


def _catalog_floor(ctx: RowContext, q: float) -> np.ndarray:
    """(u, 1) each viewer's ``q`` quantile (lower) of the model scores of the titles that
    may be shown to them (unseen, not excluded)."""
    allowed = ~ctx.blocked
    count = allowed.sum(axis=1)
    asc = np.sort(np.where(allowed, ctx.scores, -np.inf), axis=1)
    n_items = ctx.scores.shape[1]
    at = n_items - count + np.floor(q * np.maximum(count - 1, 0)).astype(np.int64)
    thr = asc[ctx.ar[:, 0], np.minimum(at, n_items - 1)]
    return np.where(count > 0, thr, np.inf)[:, None]


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
    counts = np.bincount(rows * k + sig[h.indices], minlength=u * k).reshape(u, k)
    none_shared = counts.astype(np.float64) @ disjoint  # (u, K) titles sharing no genre
    got = none_shared[np.arange(u)[:, None], sig[np.maximum(items, 0)]]
    out = n_hist[:, None] - np.rint(got).astype(np.int64)
    return np.where(items >= 0, out, 0), n_hist


class OutsideYourBubble(RowKind):
    """Titles the viewer's closest viewers liked, in genres the viewer rarely watches.

    Eligible: liked by at least ``min_neighbors`` of the viewer's
    :data:`~fairrec.evidence.N_NEIGHBORS` closest training viewers
    (:func:`fairrec.evidence.closest_viewers`), with genres, and sharing a genre with at
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
        _check_pool("OutsideYourBubble", min_neighbors)
        if not 0.0 <= max_overlap <= 1.0:
            raise param_error("max_overlap", "OutsideYourBubble", "in [0, 1]", max_overlap)
        self.max_popularity = max_popularity
        self.reranker = reranker if reranker is not None else Serendipity()
        self.title = title
        self.pool = pool
        self.min_neighbors = min_neighbors
        self.max_overlap = max_overlap

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        from fairrec.evidence import N_NEIGHBORS, closest_viewers

        n = ctx.n
        ev = ctx.evidence
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
                    [(DATA_WATCH_HISTORY,)] * n,
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
                t_row.append(
                    f"{c} of your {k_} closest viewers liked it; {tail} (your watch history)"
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
                    f"Liked by at least {self.min_neighbors} of your {N_NEIGHBORS} closest "
                    f"viewers; at most {_share_text(self.max_overlap)} of the titles you "
                    "watched share a genre with each (your watch history)"
                ]
                * n,
                data_used=[(DATA_WATCH_HISTORY,)] * n,
                applies=ctx.batch.personalized.copy(),
                item_reason_text=_objects(texts, items.shape),
                item_anchor=np.full(items.shape, None, dtype=object),
                item_evidence=_objects(evidence, items.shape),
                evidence=[{"min_neighbors": self.min_neighbors, "max_overlap": self.max_overlap}]
                * n,
            )
        ]


class StatedInterests(RowKind):
    """Titles in the genres (or close to the titles) the viewer said they like.

    Applies only where ``stated_interests`` is granted. Relevance is the model's for
    personalized viewers, catalog popularity otherwise; the reason says which. Genres are
    named in the catalog's spelling (the Recommender matched them), titles by their title;
    a stated title the viewer also excluded is neither used nor named.
    """

    kind = "stated_interests"
    # the viewer told us they want this: rank the row above inferred ones of similar value
    value_bonus = 0.25

    def __init__(self, pool: int = 300, reranker: Any = None, min_similarity: float = 0.5) -> None:
        _check_pool("StatedInterests", pool)
        self.pool = pool
        self.reranker = reranker if reranker is not None else MMR(lambda_=0.8)
        self.min_similarity = min_similarity

    @staticmethod
    def _liked_items(ctx: RowContext) -> np.ndarray:
        b = ctx.batch
        return b.liked_items & ~b.banned

    def may_apply(self, ctx: RowContext) -> bool:
        b = ctx.batch
        return bool((b.interests & (b.liked_genres.any(1) | self._liked_items(ctx).any(1))).any())

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        b = ctx.batch
        liked_items = self._liked_items(ctx)
        in_genre = (b.liked_genres.astype(np.float32) @ ctx.genres.T) > 0  # (u, n_items)
        liked = in_genre.copy()
        near_sim = None
        if liked_items.any():
            # the most similar stated title per catalog title (exact, per stated title)
            sims = ctx.vectors @ ctx.vectors.T if ctx.vectors.shape[0] <= 4096 else None
            near_sim = np.full(liked.shape, -np.inf, dtype=np.float32)
            near_idx = np.full(liked.shape, -1, dtype=np.int64)
            who, what = np.nonzero(liked_items)
            for v, j in zip(who.tolist(), what.tolist()):  # stated titles: a handful per viewer
                s = sims[j] if sims is not None else ctx.vectors @ ctx.vectors[j]
                better = s > near_sim[v]
                near_sim[v] = np.where(better, s, near_sim[v])
                near_idx[v] = np.where(better, j, near_idx[v])
            liked |= near_sim >= self.min_similarity
        scores = np.where(liked & ~taken & np.isfinite(ctx.scores), ctx.scores, -np.inf)
        cand, rel = top_n(scores, self.pool)
        valid = cand >= 0
        rel = np.where(valid, rel, 0.0)
        picks = self._rerank(self.reranker, ctx, _normalize(rel), cand, valid, ctx.vectors)
        items, out = _pick(ctx, cand, picks, rel)
        applies = b.interests & (b.liked_genres.any(1) | liked_items.any(1))
        names, row_ev, texts, evidence, row_texts = [], [], [], [], []
        for v, its in enumerate(items.tolist()):
            g_names = sorted(ctx.genre_names[g] for g in np.flatnonzero(b.liked_genres[v]))
            t_names = [ctx.title_list[i] for i in np.flatnonzero(liked_items[v])]
            label = g_names + t_names
            names.append(", ".join(label[:3]) + (" and more" if len(label) > 3 else ""))
            row_ev.append({"genres": g_names, "titles": t_names})
            data = (
                "your stated interests and watch history"
                if b.personalized[v]
                else "your stated interests"
            )
            row_text = f"Matches your stated interest {names[-1]} ({data})"
            row_texts.append(row_text)
            t_row, e_row = [], []
            for i in its:
                if i < 0:
                    break
                matched = [
                    ctx.genre_names[g]
                    for g in np.flatnonzero(b.liked_genres[v] & (ctx.genres[i] > 0))
                ]
                if matched:
                    e_row.append({"genres": matched})
                    t_row.append(
                        row_text  # the row's reason says it all: printed once
                        if matched == label
                        else f"In {', '.join(matched)}, which you told us you like ({data})"
                    )
                else:
                    j = int(near_idx[v, i])
                    e_row.append(
                        {
                            "near_title": ctx.title_list[j],
                            "near_id": _id_of(ctx, j),
                            "similarity": round(float(near_sim[v, i]), 6),
                        }
                    )
                    t_row.append(
                        f"Close to {ctx.title_list[j]}, which you told us you like ({data})"
                    )
            texts.append(t_row)
            evidence.append(e_row)
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
                reason_text=row_texts,
                data_used=data_used,
                applies=applies,
                item_reason_text=_objects(texts, items.shape),
                item_anchor=np.full(items.shape, None, dtype=object),
                item_evidence=_objects(evidence, items.shape),
                evidence=row_ev,
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
        texts, evidence = _popular_reasons(ctx, items, "Popular")
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
                item_reason_text=texts,
                item_anchor=np.full(items.shape, None, dtype=object),
                item_evidence=evidence,
                evidence=[{"pool": self.pool}] * n,
            )
        ]


def _popular_reasons(
    ctx: RowContext, items: np.ndarray, head: str
) -> tuple[np.ndarray, np.ndarray]:
    st = _stats(ctx)
    texts, evidence = [], []
    for its in items.tolist():
        t_row, e_row = [], []
        for i in its:
            if i < 0:
                break
            e_row.append(_popularity_evidence(st, i))
            share = st.pop_share[i]
            t_row.append(
                f"{head}: {_watched_text(st, i)}; {_share_text(share)} of the catalog's "
                "titles have fewer viewers (no personal data)"
            )
        texts.append(t_row)
        evidence.append(e_row)
    return _objects(texts, items.shape), _objects(evidence, items.shape)


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
            texts, evidence = _popular_reasons(ctx, items, f"Popular in {name}")
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
                    item_reason_text=texts,
                    item_anchor=np.full(items.shape, None, dtype=object),
                    item_evidence=evidence,
                    evidence=[{"genre": name}] * n,
                )
            )
        return rows


def default_rows() -> list[RowKind]:
    """The default page: personalized rows, stated interests, and non-personal rows.

    Rows are built in this order, each from the candidates the earlier ones left: the themed
    rows first, then *Off the mainstream* takes what is left of the viewer's relevant
    candidates outside the head. *Hidden gems* shows at most half a row: rare titles are
    rarely the ones played next (benchmarks/RESULTS.md, "Surprising and relevant").
    """
    return [
        TopPicks(),
        BecauseYouWatched(n_rows=2),
        StatedInterests(),
        HiddenGems(max_items=10),
        OutsideYourBubble(),
        OffTheMainstream(),
        DiversePopular(),
        PopularInGenre(n_rows=2),
    ]
