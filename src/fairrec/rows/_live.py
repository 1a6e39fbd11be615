"""Row kinds of live serving: "New for you" (titles added without refit) and "More like"
(nearest neighbours of the latest watched title by the model's vectors).

Add them to a recommender's rows, e.g. ``rows=default_rows() + [NewForYou(), MoreLikeThis()]``.
(Formerly ``fairrec.live_rows``, which still re-exports them.)
"""

from __future__ import annotations

import numpy as np

from fairrec.models import top_n
from fairrec.page import DATA_STATED_INTERESTS, DATA_WATCH_HISTORY, describe_data_used
from fairrec.rows._base import RowKind
from fairrec.rows._context import RowBatch, RowContext
from fairrec.rows._facts import _data_note

__all__ = ["NewForYou", "MoreLikeThis"]


class NewForYou(RowKind):
    """Titles added without refit (:meth:`~fairrec.live_api.LiveServing.add_titles`) that match the viewer's
    consented genres: stated liked genres (with ``stated_interests``) and the genres of the
    consented history (with ``personalization``). Nothing else is used.

    A title's rank is the number of its genres the viewer said they like plus the share of
    its genres in the viewer's history. The reason says the title is new, which data matched
    it, and that its place is estimated from its genres (it has no plays yet).
    """

    kind = "new_for_you"
    #: may show cold-start titles (every other row kind leaves them out)
    shows_new_titles = True
    value_bonus = 0.25

    def __init__(self, title: str = "New for you") -> None:
        self.title = title

    def may_apply(self, ctx: RowContext) -> bool:
        b = ctx.batch
        cold = getattr(b, "cold", None)
        if cold is None:
            return False
        return bool(((b.interests & b.liked_genres.any(axis=1)) | b.personalized).any())

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        b = ctx.batch
        n = ctx.n
        cold_idx = np.flatnonzero(b.cold)
        g = ctx.genres[cold_idx].astype(np.float32)  # (m, genres)
        liked = (b.liked_genres & b.interests[:, None]).astype(np.float32)
        hist = (ctx.target * b.personalized[:, None]).astype(np.float32)
        s_liked = liked @ g.T  # (u, m)
        s_hist = hist @ g.T
        score = s_liked + s_hist
        ok = (score > 0) & ~ctx.blocked[:, cold_idx] & ~taken[:, cold_idx]
        cand, sc = top_n(np.where(ok, score, -np.inf).astype(np.float32), ctx.k)
        got = cand >= 0
        safe = np.maximum(cand, 0)
        items = np.where(got, cold_idx[safe], -1)
        used_liked = (np.take_along_axis(s_liked, safe, axis=1) > 0) & got
        used_hist = (np.take_along_axis(s_hist, safe, axis=1) > 0) & got
        data_used = []
        texts = []
        for a, h in zip(used_liked.any(axis=1).tolist(), used_hist.any(axis=1).tolist()):
            cats = tuple(c for c, on in ((DATA_STATED_INTERESTS, a), (DATA_WATCH_HISTORY, h)) if on)
            data_used.append(cats)
            label = describe_data_used(cats)
            texts.append(
                f"New on the catalog, matched by genre to {label}; no plays yet, so its place "
                f"is estimated from its genres {_data_note(cats)}"
            )
        applies = got.any(axis=1) & (used_liked.any(axis=1) | used_hist.any(axis=1))
        return [
            RowBatch(
                kind=self.kind,
                items=items,
                scores=np.where(got, sc, -np.inf),
                titles=[self.title] * n,
                reason_kind=self.kind,
                reason_text=texts,
                data_used=data_used,
                applies=applies,
            )
        ]


class MoreLikeThis(RowKind):
    """The nearest neighbours, by the model's item vectors, of the viewer's most recently
    watched title (the same similarity as :meth:`~fairrec.live_api.LiveServing.similar` for factor models).

    Parameters
    ----------
    title : str
        Row title template; ``{title}`` is the watched title.
    """

    kind = "more_like_this"
    personal = True

    def __init__(self, title: str = "More like {title}") -> None:
        self.title = title

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        b = ctx.batch
        anchor = b.recent[:, 0] if b.recent.shape[1] else np.full(ctx.n, -1)
        applies = b.personalized & (anchor >= 0)
        av = ctx.vectors[np.maximum(anchor, 0)]  # (u, d)
        sim = np.asarray(av @ ctx.vectors.T, dtype=np.float32)
        cand, sc = top_n(sim, ctx.k, exclude=ctx.blocked | taken)
        names = [ctx.title_list[a] if a >= 0 else None for a in anchor.tolist()]
        used = (DATA_WATCH_HISTORY,)
        return [
            RowBatch(
                kind=self.kind,
                items=cand,
                scores=sc,
                titles=[self.title.format(title=t) for t in names],
                reason_kind=self.kind,
                reason_text=[f"More like {t}, which you watched {_data_note(used)}" for t in names],
                data_used=[used] * ctx.n,
                applies=applies,
                # no ``anchor``: an anchor claims to be the top contributor to a title's
                # score (fairrec.verify); this row claims similarity to the latest title
            )
        ]
