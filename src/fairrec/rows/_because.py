"""*Because you watched X*: titles for which one history title is the top contributor."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairrec.page import DATA_WATCH_HISTORY
from fairrec.rerank import MMR
from fairrec.rows._base import RowKind
from fairrec.rows._context import RowBatch, RowContext
from fairrec.rows._facts import (
    _contributions,
    _data_note,
    _id_of,
    _objects,
)
from fairrec.rows._pools import (
    _below,
    _both,
    _check_cap,
    _check_floor,
    _check_pool,
    _check_share,
    _compact_pool,
    _gather_pool,
    _normalize,
    _pick,
    _relevance_floor,
)


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
        _check_share("BecauseYouWatched", "similarity_weight", similarity_weight)
        _check_pool("BecauseYouWatched", min_titles, "min_titles")
        _check_pool("BecauseYouWatched", n_rows, "n_rows")
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
        width = max(int(col_of.max()) + 1 if col_of.size else 0, 1)
        who, at = np.nonzero(eligible)
        counts = np.bincount(who * width + col_of[who, at], minlength=u * width)
        counts = counts.reshape(u, width)
        # anchors: the history columns topping most candidates (ties: lower title index)
        order = np.argsort(-counts, axis=1, kind="stable")[:, : self.n_rows]
        top_counts = counts[ctx.ar, order]
        vecs = ctx.vectors[np.maximum(cand, 0)]
        w = self.similarity_weight
        names = ctx.title_list
        used = (DATA_WATCH_HISTORY,)
        note = _data_note(used)
        rows = []
        for r in range(self.n_rows):
            if r < order.shape[1]:
                a_col = np.where(top_counts[:, r] >= self.min_titles, order[:, r], -1)
            else:
                a_col = np.full(u, -1)
            # an eligible candidate has a top contributor (col_of >= 0): a_col -1 matches none
            in_row = eligible & (col_of == a_col[:, None])
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
                    f"title here {note}"
                    if basis != "vector_similarity"
                    else f"Because you watched {name}: the title of your history most "
                    f"similar to each title here {note}"
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
                    data_used=[used] * u,
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
