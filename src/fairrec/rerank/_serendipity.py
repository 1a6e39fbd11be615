"""Serendipity: relevant titles far from what the viewer usually watches.

A title's unexpectedness is its distance from the viewer's history profile,
``1 - sim(item, profile)`` (cosine distance in [0, 2], or Jaccard distance in [0, 1]).
Among the candidates above a relevance floor, titles are ordered by
``relevance * unexpectedness ** weight``; the candidates below the floor follow in order of
relevance, so a surprise is still something the viewer is likely to enjoy and a row is
always full.

Which similarity, and why: by default the cosine between a title's vector and the viewer's
history profile in the space the caller passes -- on fairrec's pages and in
:meth:`~fairrec.Recommender.recommend`, the candidate model's own title vectors and the unit
mean vector of the viewer's recent titles. That space is available for every candidate at
serving time, for any model with title vectors, without the (titles x titles)
co-occurrence matrix that the serendipity *metric* (:func:`fairrec.metrics.serendipity`,
Recommenders' definition) compares titles with. The two do not measure the same thing: on
MovieLens 100K the metric's co-occurrence unexpectedness of a viewer's top 100 candidates
follows their popularity (mean within-viewer Spearman -0.68 with log plays), hardly their
factor cosine to the history (-0.06). And re-ranking a relevance model's candidates cannot
buy much of that metric: it counts unexpectedness only on hits, so trading relevant titles
for less expected ones loses more hits than it gains in unexpectedness. Even with the
metric's own similarity and the hit rates measured on the held-out data, re-ranking ALS's
top 100 raises it by 9 % at most (benchmarks/RESULTS.md, "Surprising and relevant", the
``--serendipity-oracle`` rows). Use this re-ranker for what it does -- titles further from
the viewer's recent profile among the relevant ones -- and measure that with
``item_features`` set to the same vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from fairrec.rerank._base import (
    Batch,
    RerankContext,
    check_choice,
    check_real,
    chunks,
    finish,
    per_viewer,
    prepare,
    require,
    take,
    trusted,
    vectors_of,
)
from fairrec.rerank._similarity import SIMILARITIES, Similarity

__all__ = ["Serendipity", "serendipity"]

_BIG = float(np.finfo(np.float64).max)


def serendipity(
    scores: Any,
    vectors: Any,
    profile: Any,
    k: int,
    *,
    weight: float = 1.0,
    floor: float = 0.8,
    similarity: str = "cosine",
    valid: Any = None,
) -> np.ndarray:
    """Order candidates by relevance x unexpectedness above a relevance floor.

    Parameters
    ----------
    scores : array of shape (n,) or (u, n)
        Candidate relevance.
    vectors : array of shape (n, d) or (u, n, d)
        Candidate representations.
    profile : array of shape (d,) or (u, d)
        The viewer's history profile in the same space (e.g. the mean factor of the titles
        watched; genre shares for Jaccard).
    k : int
        Length of the list.
    weight : float >= 0, default 1.0
        Exponent of unexpectedness: the objective is ``rel * unexp ** weight`` (for a
        negative relevance, ``rel / unexp ** weight``, so more unexpected still ranks higher).
        0 gives all weight to relevance (plain top-k).
    floor : float in [0, 1], default 0.8
        Relevance floor as a quantile of the viewer's valid candidates' relevance: only
        candidates scoring at least that quantile (the ``lower`` method, so it is one of the
        scores) are boosted; 0 makes every candidate eligible.
    similarity : {"cosine", "jaccard"}, default "cosine"
        How candidates are compared with the profile.
    valid : bool array of shape (n,) or (u, n), optional
        Candidates that may be chosen.

    Returns
    -------
    ndarray of int64
        Positions in display order: ``(min(k, n_valid),)`` for one viewer, ``(u, min(k, n))``
        padded with -1 for a batch.

    Examples
    --------
    The viewer's profile points along the first axis; candidate 2 is relevant but different:

    >>> v = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]
    >>> serendipity([0.9, 0.8, 0.7, 0.1], v, [1.0, 0.0], k=3, floor=0.5).tolist()
    [2, 1, 0]
    """
    return _serendipity(
        scores, vectors, profile, k, weight, floor, similarity, valid, "serendipity"
    )


def _serendipity(
    scores: Any,
    vectors: Any,
    profile: Any,
    k: Any,
    weight: Any,
    floor: Any,
    similarity: Any,
    valid: Any,
    owner: str,
) -> np.ndarray:
    weight = check_real(weight, "weight", owner, 0.0)
    floor = check_real(floor, "floor", owner, 0.0, 1.0)
    kind = check_choice(similarity, "similarity", owner, SIMILARITIES)
    batch = prepare(scores, k, valid, owner)
    vecs = vectors_of(vectors, batch, owner)
    what = "the viewer's history profile of shape (d,)"
    prof = per_viewer(
        require(profile, "'profile'", owner, what), "profile", owner, batch, (vecs.shape[-1],)
    )
    return finish(
        _serendipity_run(batch, Similarity(vecs, kind, owner), prof, weight, floor), batch
    )


def _serendipity_run(
    batch: Batch, similar: Similarity, profile: np.ndarray, weight: float, floor: float
) -> np.ndarray:
    """(u, kk) picks of a validated batch, chunk by chunk (``profile`` (d,) or (u, d))."""
    d = similar.v.shape[-1]
    picks = np.empty((batch.u, batch.kk), dtype=np.int64)
    for rows in chunks(batch, d):
        here = np.empty((rows.stop - rows.start, d))
        here[...] = take(profile, rows, 1)
        picks[rows] = _serendipity_rows(
            batch.scores[rows],
            batch.valid[rows],
            similar.chunk(rows),
            here,
            batch.kk,
            weight,
            floor,
        )
    return picks


def _serendipity_rows(
    s: np.ndarray,
    ok: np.ndarray,
    sim: Similarity,
    profile: np.ndarray,
    kk: int,
    weight: float,
    floor: float,
) -> np.ndarray:
    u, n = s.shape
    if n == 0 or u == 0:
        return np.zeros((u, kk), dtype=np.int64)
    unexp = sim.against(profile)
    np.subtract(1.0, unexp, out=unexp)
    np.maximum(unexp, 0.0, out=unexp)
    # relevance floor: the `floor` quantile (lower method) of each viewer's valid scores
    count = ok.sum(axis=1)
    asc = np.sort(np.where(ok, s, np.inf), axis=1)
    at = np.floor(floor * np.maximum(count - 1, 0)).astype(np.int64)
    thr = asc[np.arange(u), np.minimum(at, n - 1)]
    eligible = ok & (s >= thr[:, None])
    boost = unexp**weight if weight != 1.0 else unexp
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        obj = np.where(s >= 0, s * boost, s / np.maximum(boost, 1e-300))
    np.clip(obj, -_BIG, _BIG, out=obj)
    return _boosted_then_relevant(obj, s, eligible, ok, kk)


def _boosted_then_relevant(
    obj: np.ndarray, s: np.ndarray, eligible: np.ndarray, ok: np.ndarray, kk: int
) -> np.ndarray:
    """``(u, kk)`` positions (``kk <= n``): the ``eligible`` candidates by descending (finite)
    ``obj``, then the other valid (``ok``) candidates by descending ``s``, ties by position,
    -1 padded.

    What ``fill_by_relevance(topk_rows(where(eligible, obj, -inf), kk), s, ok)`` gives (the
    top eligible ones; where fewer than ``kk``, every eligible one followed by the most
    relevant others), in one stable sort by (group, descending value) instead of two top-k
    passes and a fill.
    """
    u, n = s.shape
    group = np.where(eligible, 0, np.where(ok, 1, 2)).astype(np.int8)
    value = np.where(eligible, obj, s)
    order = np.lexsort((np.negative(value), group), axis=-1)[:, :kk].astype(np.int64)
    if u == 1:
        real = group[0, order[0]] < 2
        order[0, ~real] = -1
    else:
        order[np.take_along_axis(group, order, axis=1) == 2] = -1
    return order


@dataclass(frozen=True, kw_only=True)
class Serendipity:
    """Serendipity re-ranker: relevance x unexpectedness above a floor (see :func:`serendipity`).

    Needs ``vectors`` and ``context.profile`` (the viewer's history profile in the space of
    the vectors).

    Parameters
    ----------
    weight : float >= 0, default 1.0
        Exponent of unexpectedness (0: plain top-k).
    floor : float in [0, 1], default 0.8
        Relevance floor as a quantile of the viewer's candidates' relevance.
    similarity : {"cosine", "jaccard"}, default "cosine"
        How candidates are compared with the profile.

    Raises
    ------
    ParameterError
        At construction, naming the parameter and the value, e.g. ``Serendipity(floor=2)``.
    """

    weight: float = 1.0
    floor: float = 0.8
    similarity: str = "cosine"
    #: :meth:`rerank_trusted` compares the candidates' ``vectors`` with the profile
    uses_vectors: ClassVar[bool] = True

    def __post_init__(self) -> None:
        owner = "Serendipity"
        object.__setattr__(self, "weight", check_real(self.weight, "weight", owner, 0.0))
        object.__setattr__(self, "floor", check_real(self.floor, "floor", owner, 0.0, 1.0))
        check_choice(self.similarity, "similarity", owner, SIMILARITIES)

    def rerank(
        self,
        scores: Any,
        k: int,
        *,
        vectors: Any = None,
        context: RerankContext | None = None,
        valid: Any = None,
    ) -> np.ndarray:
        """Re-rank ``scores`` for serendipity; needs ``vectors`` and ``context.profile``."""
        owner = "Serendipity"
        ctx = context if context is not None else RerankContext()
        what = "the viewer's history profile of shape (d,)"
        require(ctx.profile, "context.profile", owner, what)
        return _serendipity(
            scores,
            vectors,
            ctx.profile,
            k,
            self.weight,
            self.floor,
            self.similarity,
            valid,
            owner,
        )

    def rerank_trusted(
        self,
        scores: np.ndarray,
        valid: np.ndarray,
        k: int,
        vectors: np.ndarray | None = None,
        context: RerankContext | None = None,
    ) -> np.ndarray:
        """:meth:`rerank` for arrays fairrec built itself (the home-page rows): ``(u, n)``
        scores and mask, ``(u, n, d)`` vectors with unit-norm rows, ``(u, d)``
        ``context.profile``; no input checks (see :class:`~fairrec.rerank.TrustedReranker`).
        Returns ``(u, min(k, n))`` positions padded with -1."""
        owner = "Serendipity"
        weight, floor, kind = self.weight, self.floor, self.similarity
        ctx = context if context is not None else RerankContext()
        what = "the viewer's history profile of shape (u, d)"
        profile = np.asarray(require(ctx.profile, "context.profile", owner, what))
        similar = Similarity(vectors, kind, owner, unit=True)
        return _serendipity_run(trusted(scores, valid, k), similar, profile, weight, floor)
