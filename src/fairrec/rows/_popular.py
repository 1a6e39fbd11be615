"""Non-personal rows: *Popular across genres* and *Popular in G*."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairrec._checks import check_bool
from fairrec.page import DATA_CATALOG_POPULARITY
from fairrec.rerank import MMR
from fairrec.rows._base import RowKind
from fairrec.rows._context import RowBatch, RowContext
from fairrec.rows._facts import (
    _data_note,
    _objects,
    _popularity_evidence,
    _share_text,
    _stats,
    _watched_text,
)
from fairrec.rows._pools import (
    _check_pool,
    _first_allowed,
    _normalize,
    _pick,
    mark_taken,
)

#: the data of every popular row: catalog popularity, no personal data of the viewer
_USED = (DATA_CATALOG_POPULARITY,)


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
        check_bool(only_unpersonalized, "only_unpersonalized", "DiversePopular")
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
                reason_text=[f"Popular across genres {_data_note(_USED)}"] * n,
                data_used=[_USED] * n,
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
                f"titles have fewer viewers {_data_note(_USED)}"
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
        _check_pool("PopularInGenre", n_rows, "n_rows")
        check_bool(only_unpersonalized, "only_unpersonalized", "PopularInGenre")
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
            mark_taken(local, items, applies)
            name = ctx.genre_names[g]
            texts, evidence = _popular_reasons(ctx, items, f"Popular in {name}")
            rows.append(
                RowBatch(
                    kind=self.kind,
                    items=items,
                    scores=np.where(items >= 0, np.log1p(scores), -np.inf),
                    titles=[f"Popular in {name}"] * n,
                    reason_kind=self.kind,
                    reason_text=[f"Popular in {name} {_data_note(_USED)}"] * n,
                    data_used=[_USED] * n,
                    applies=applies.copy(),
                    item_reason_text=texts,
                    item_anchor=np.full(items.shape, None, dtype=object),
                    item_evidence=evidence,
                    evidence=[{"genre": name}] * n,
                )
            )
        return rows
