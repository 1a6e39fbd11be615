"""*Because you like G*: titles in the genres (or close to the titles) the viewer stated."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairrec._checks import check_real
from fairrec.models import top_n
from fairrec.page import DATA_STATED_INTERESTS, DATA_WATCH_HISTORY
from fairrec.rerank import MMR
from fairrec.rows._base import RowKind
from fairrec.rows._context import RowBatch, RowContext
from fairrec.rows._facts import (
    _data_note,
    _id_of,
    _objects,
)
from fairrec.rows._pools import (
    _check_pool,
    _normalize,
)


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
        check_real(min_similarity, "min_similarity", "StatedInterests", -1.0, 1.0)
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

    def _choose(
        self,
        ctx: RowContext,
        liked_genres: np.ndarray,
        liked_items: np.ndarray,
        full_scores: np.ndarray,
        taken: np.ndarray,
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray]:
        """The row's titles for the viewers of the given (u', ...) arrays: the nearest
        stated title per catalog title (similarity, index; None without stated titles),
        the titles (u', <= k) and their relevance."""
        in_genre = (liked_genres.astype(np.float32) @ ctx.genres.T) > 0  # (u', n_items)
        liked = in_genre.copy()
        near_sim = near_idx = None
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
        scores = np.where(liked & ~taken & np.isfinite(full_scores), full_scores, -np.inf)
        cand, rel = top_n(scores, self.pool)
        valid = cand >= 0
        rel = np.where(valid, rel, 0.0)
        picks = self._rerank(self.reranker, ctx, _normalize(rel), cand, valid, ctx.vectors)
        got = picks >= 0
        safe = np.where(got, picks, 0)
        ar = np.arange(cand.shape[0])[:, None]
        items = np.where(got, cand[ar, safe], -1)
        out = np.where(got, rel[ar, safe], -np.inf)
        return near_sim, near_idx, items, out

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        b = ctx.batch
        liked_items = self._liked_items(ctx)
        applies = b.interests & (b.liked_genres.any(1) | liked_items.any(1))
        # the titles are chosen only for the viewers the row applies to (in a batch most
        # viewers stated nothing): each viewer's row depends on its own arrays alone
        who_applies = np.flatnonzero(applies)
        sub = who_applies if 0 < who_applies.size < applies.size else slice(None)
        near_sim, near_idx, sub_items, sub_out = self._choose(
            ctx, b.liked_genres[sub], liked_items[sub], ctx.scores[sub], taken[sub]
        )
        if isinstance(sub, slice):
            items, out = sub_items, sub_out
        else:
            items = np.full((ctx.n, sub_items.shape[1]), -1, dtype=sub_items.dtype)
            out = np.full((ctx.n, sub_out.shape[1]), -np.inf, dtype=sub_out.dtype)
            items[sub] = sub_items
            out[sub] = sub_out
        # the viewer's position in the arrays ``near_*`` (-1: not computed, no titles)
        at = np.full(ctx.n, -1, dtype=np.int64)
        at[sub] = np.arange(sub_items.shape[0])
        data_used = [
            (DATA_STATED_INTERESTS, DATA_WATCH_HISTORY) if p else (DATA_STATED_INTERESTS,)
            for p in b.personalized
        ]
        names, row_ev, texts, evidence, row_texts = [], [], [], [], []
        genre_names = ctx.genre_names
        has_genres = b.liked_genres.any(1).tolist()
        has_titles = liked_items.any(1).tolist()
        for v, its in enumerate(items.tolist()):
            liked_g = b.liked_genres[v]
            g_names = sorted(genre_names[g] for g in np.flatnonzero(liked_g)) if has_genres[v] else []
            t_names = (
                [ctx.title_list[i] for i in np.flatnonzero(liked_items[v])] if has_titles[v] else []
            )
            label = g_names + t_names
            names.append(", ".join(label[:3]) + (" and more" if len(label) > 3 else ""))
            row_ev.append({"genres": g_names, "titles": t_names})
            data = _data_note(data_used[v])
            row_text = f"Matches your stated interest {names[-1]} {data}"
            row_texts.append(row_text)
            t_row, e_row = [], []
            n_its = its.index(-1) if -1 in its else len(its)
            if n_its:
                # the stated genres of each title, in the catalog's genre order
                hits = ((ctx.genres[its[:n_its]] > 0) & liked_g).tolist()
            for t, i in enumerate(its[:n_its]):
                matched = [g for g, hit in zip(genre_names, hits[t]) if hit]
                if matched:
                    e_row.append({"genres": matched})
                    t_row.append(
                        row_text  # the row's reason says it all: printed once
                        if matched == label
                        else f"In {', '.join(matched)}, which you told us you like {data}"
                    )
                else:
                    j = int(near_idx[at[v], i])
                    e_row.append(
                        {
                            "near_title": ctx.title_list[j],
                            "near_id": _id_of(ctx, j),
                            "similarity": round(float(near_sim[at[v], i]), 6),
                        }
                    )
                    t_row.append(f"Close to {ctx.title_list[j]}, which you told us you like {data}")
            texts.append(t_row)
            evidence.append(e_row)
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
