"""*Top picks for you*: the most relevant titles, each with the history title that adds most
to its score."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairrec.page import DATA_WATCH_HISTORY
from fairrec.rerank import MMR
from fairrec.rows._base import RowKind
from fairrec.rows._context import RowBatch, RowContext
from fairrec.rows._facts import (
    _anchor_phrase,
    _contributions,
    _data_note,
    _id_of,
    _objects,
)
from fairrec.rows._pools import (
    _check_pool,
    _gather_pool,
    _pick,
)


class TopPicks(RowKind):
    """Most relevant titles with light MMR diversity; each title names the title of the
    viewer's consented history that contributes most to its score (its evidence holds the
    contribution; for models without an exact decomposition, the most similar title).

    Parameters
    ----------
    pool : int, optional
        The row's relevance floor: it picks among the viewer's ``pool`` most relevant
        candidates only (default: the row size, so the row holds exactly the viewer's most
        relevant titles and the re-ranker's light diversity only orders them; a larger pool
        lets it leave some out for titles further down, never further than ``pool``). The
        row's reason ("the titles most relevant to you") stays true and the row keeps the
        model's accuracy (benchmarks/RESULTS.md, "Surprising and relevant").
    reranker : re-ranker, default ``MMR(lambda_=0.85)``
    title : str, default "Top picks for you"
    """

    kind = "top_picks"
    personal = True
    #: the row's claim, stated in its reason
    claim = "The titles most relevant to you"

    def __init__(
        self, pool: int | None = None, reranker: Any = None, title: str = "Top picks for you"
    ) -> None:
        if pool is not None:
            _check_pool("TopPicks", pool)
        self.pool = pool
        self.reranker = reranker if reranker is not None else MMR(lambda_=0.85)
        self.title = title

    def depth(self, k: int) -> int:
        """How many of the viewer's most relevant candidates the row picks among, for row
        size ``k`` (``pool``, else the row size)."""
        return self.pool or k

    def build(self, ctx: RowContext, taken: np.ndarray) -> list[RowBatch]:
        cand, rel, valid = _gather_pool(ctx, taken, self.depth(ctx.k))
        picks = self._rerank(self.reranker, ctx, rel, cand, valid, ctx.vectors)
        items, scores = _pick(ctx, cand, picks, rel)
        applies = ctx.batch.personalized.copy()
        anchor, _, value, total, basis = _contributions(ctx, items)
        names = ctx.title_list
        used = (DATA_WATCH_HISTORY,)
        note = _data_note(used)
        texts: list[list[Any]] = []
        anchors: list[list[Any]] = []
        evidence: list[list[Any]] = []
        # an anchor's reason text and id, made once per anchor (a history title tops many)
        said: dict[int, tuple[str, str]] = {}
        for its, an, va, to in zip(items.tolist(), anchor.tolist(), value.tolist(), total.tolist()):
            t_row, a_row, e_row = [], [], []
            for it, a, v, tot in zip(its, an, va, to):
                if it < 0:
                    break
                if a >= 0:
                    got = said.get(a)
                    if got is None:
                        got = said[a] = (
                            f"{_anchor_phrase(basis, names[a])} {note}",
                            _id_of(ctx, a),
                        )
                    t_row.append(got[0])
                    a_row.append(names[a])
                    e_row.append(
                        {
                            "anchor_id": got[1],
                            "anchor": names[a],
                            "basis": basis,
                            "contribution": round(v, 6),  # a Python float (tolist)
                            "model_score": round(tot, 6),
                        }
                    )
                else:
                    t_row.append(f"Close to your watch history as a whole {note}")
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
                reason_text=[f"{self.claim} {note}"] * n,
                data_used=[used] * n,
                applies=applies,
                item_reason_text=_objects(texts, items.shape),
                item_anchor=_objects(anchors, items.shape),
                item_evidence=_objects(evidence, items.shape),
                evidence=[{"basis": basis}] * n,
            )
        ]


class MorePicks(TopPicks):
    """*More picks for you*: the viewer's next most relevant titles, after *Top picks*.

    Built right after :class:`TopPicks`, it holds the viewer's most relevant candidates
    that no earlier row placed, among the viewer's ``pool`` most relevant candidates
    (default: one and a half times the row size; with the default *Top picks* above it,
    the viewer's ranks ``row_size + 1`` to ``1.5 * row_size``). Like *Top picks*, each
    title names the title of the viewer's history that adds most to its score. The row
    keeps on the page the model's hits just below *Top picks*, which are far more often
    played next than the long-tail titles the exploratory rows hold
    (benchmarks/RESULTS.md, "Surprising and relevant").

    Parameters
    ----------
    pool : int, optional
        Only the viewer's ``pool`` most relevant candidates are eligible (default: one and
        a half times the row size).
    reranker : re-ranker, default ``MMR(lambda_=0.85)``
    title : str, default "More picks for you"
    """

    kind = "more_picks"
    claim = "Your most relevant titles after the rows above"

    def __init__(
        self, pool: int | None = None, reranker: Any = None, title: str = "More picks for you"
    ) -> None:
        super().__init__(pool=pool, reranker=reranker, title=title)

    def depth(self, k: int) -> int:
        """``pool``, else one and a half times the row size ``k``."""
        return self.pool or k + k // 2
