"""Maximal Marginal Relevance (Carbonell & Goldstein, SIGIR 1998)."""

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
    pad_short,
    prepare,
    trusted,
    vectors_of,
)
from fairrec.rerank._similarity import SIMILARITIES, Similarity

__all__ = ["MMR", "mmr"]


def mmr(
    scores: Any,
    vectors: Any,
    k: int,
    *,
    lambda_: float = 0.7,
    similarity: str = "cosine",
    valid: Any = None,
) -> np.ndarray:
    """Greedy MMR: each pick maximises ``lambda_ * rel - (1 - lambda_) * max_sim``.

    ``max_sim`` is the largest similarity between the candidate and the candidates already
    chosen; the first pick is the most relevant candidate (for ``lambda_ > 0``; with 0 every
    first objective is 0 and the first valid position wins). ``lambda_ = 1`` is plain top-k.
    Scores are used as given, so they should be on a scale comparable to the similarity
    (ALS scores, roughly in [0, 1], are).

    Parameters
    ----------
    scores : array of shape (n,) or (u, n)
        Candidate relevance.
    vectors : array of shape (n, d) or (u, n, d)
        Candidate representations (ALS factors for cosine, genre multi-hot for Jaccard).
    k : int
        Length of the list.
    lambda_ : float in [0, 1]
        Weight of relevance against redundancy.
    similarity : {"cosine", "jaccard"}
        How candidates are compared.
    valid : bool array of shape (n,) or (u, n), optional
        Candidates that may be chosen.

    Returns
    -------
    ndarray of int64
        Positions in display order: ``(min(k, n_valid),)`` for one viewer, ``(u, min(k, n))``
        padded with -1 for a batch.

    Examples
    --------
    Candidate 1 nearly duplicates candidate 0, so MMR shows candidate 2 second:

    >>> v = [[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]]
    >>> mmr([1.0, 0.95, 0.6], v, k=3, lambda_=0.5).tolist()
    [0, 2, 1]
    """
    return _mmr(scores, vectors, k, lambda_, similarity, valid, "mmr")


def _mmr(
    scores: Any,
    vectors: Any,
    k: Any,
    lambda_: Any,
    similarity: Any,
    valid: Any,
    owner: str,
) -> np.ndarray:
    lam = check_real(lambda_, "lambda_", owner, 0.0, 1.0)
    kind = check_choice(similarity, "similarity", owner, SIMILARITIES)
    batch = prepare(scores, k, valid, owner)
    vecs = vectors_of(vectors, batch, owner)
    return finish(_mmr_run(batch, Similarity(vecs, kind, owner), lam), batch)


def _mmr_run(batch: Batch, similar: Similarity, lam: float) -> np.ndarray:
    """(u, kk) picks of a validated batch, chunk by chunk."""
    picks = np.empty((batch.u, batch.kk), dtype=np.int64)
    for rows in chunks(batch, 1):
        picks[rows] = _mmr_kernel(
            batch.scores[rows], batch.valid[rows], similar.chunk(rows), batch.kk, lam
        )
    return picks


def _mmr_kernel(
    scores: np.ndarray, valid: np.ndarray, sim: Similarity, kk: int, lam: float
) -> np.ndarray:
    """Greedy MMR for a batch. The objective of a candidate only falls as picks are added:
    it is the minimum, over the picks so far, of ``lam * rel - (1 - lam) * sim(pick, .)``
    (the same number as ``lam * rel - (1 - lam) * max_sim``, rounding being monotone), so a
    step is one similarity row, one subtraction, one minimum and one argmax."""
    u, n = scores.shape
    if kk == 0 or u == 0:
        return np.full((u, kk), -1, dtype=np.int64)
    base = np.where(valid, scores, 0.0) * lam
    base[~valid] = -np.inf  # never chosen
    if u == 1 and sim.kind != "jaccard":
        return pad_short(_mmr_one(base[0], sim, kk, 1.0 - lam)[None, :], valid)
    if u == 1 and sim.binary:
        return pad_short(_mmr_one_binary_jaccard(base[0], sim, kk, 1.0 - lam)[None, :], valid)
    # folded into the chosen vector: (1 - lam) * sim(j, .), in the vectors' precision
    c = np.full(u, 1.0 - lam, dtype=sim.v.dtype if sim.kind != "jaccard" else np.float64)
    return pad_short(_greedy_rows(base, kk, lambda j: sim.rows(j, c)), valid)


def _greedy_rows(base: np.ndarray, kk: int, penalty: Any) -> np.ndarray:
    """The greedy loop of MMR for a batch: ``(u, kk)`` picks from ``base`` (``(u, n)``,
    ``lam * rel``, ``-inf`` where never chosen), each pick ``j`` (``(u,)``) lowering every
    objective to at most ``base - penalty(j)`` (``penalty``: the picks' similarity rows
    times ``1 - lam``). The objective only falls as picks are added, so a step is one
    similarity row, one subtraction, one minimum and one argmax."""
    ar = np.arange(base.shape[0])
    obj = base.copy()
    pen = np.empty(base.shape)
    picks = []
    for t in range(kk):
        j = obj.argmax(axis=1)
        picks.append(j)
        if t + 1 < kk:
            np.subtract(base, penalty(j), out=pen)
            if t:
                np.minimum(obj, pen, out=obj)
            else:
                obj, pen = pen, obj
        obj[ar, j] = -np.inf
    return np.stack(picks, axis=1)


def _greedy_one(base: np.ndarray, kk: int, penalty: Any) -> np.ndarray:
    """:func:`_greedy_rows` for one viewer on 1-d arrays (``j`` an int): the same arithmetic,
    fewer numpy calls per step."""
    obj = base.copy()
    pen = np.empty_like(base)
    picks = []
    for t in range(kk):
        j = int(obj.argmax())
        picks.append(j)
        if t + 1 < kk:
            np.subtract(base, penalty(j), out=pen)
            if t:
                np.minimum(obj, pen, out=obj)
            else:
                obj, pen = pen, obj
        obj[j] = -np.inf
    return np.array(picks, dtype=np.int64)


def _mmr_one(base: np.ndarray, sim: Similarity, kk: int, c: float) -> np.ndarray:
    """:func:`_mmr_kernel` for one viewer and a dot-product similarity, on 1-d arrays.

    The same arithmetic (``c`` folded into the chosen vector, the same matrix-vector
    product per step), so the picks equal the batch kernel's; a step costs a few
    microseconds instead of a dozen numpy calls on 2-d arrays. ``base`` is ``lam * rel``
    with ``-inf`` at invalid candidates. (No scaled copy of the ``(n, d)`` vectors: a fresh
    large array per call costs more in page faults than the products it would save.)
    """
    v = sim.v if sim.shared else sim.v[0]  # (n, d)
    return _greedy_one(base, kk, lambda j: v @ (v[j] * c))


def _mmr_one_binary_jaccard(base: np.ndarray, sim: Similarity, kk: int, c: float) -> np.ndarray:
    """:func:`_mmr_kernel` for one viewer and the Jaccard index of binary rows, on 1-d arrays.

    The same numbers as the batch kernel: with 0/1 rows the intersections and union sizes
    are exact integers whichever way they are summed (in the rows' dtype, as there), and
    each similarity is their quotient (0 where the union is empty) times ``c`` -- as
    :meth:`Similarity.rows` computes it.
    """
    v = sim.v if sim.shared else sim.v[0]  # (n, g)
    size = sim.size if sim.shared else sim.size[0]  # (n,): row sums, exact integers
    sim_row = np.empty(base.shape)
    union = np.empty(base.shape, dtype=size.dtype)  # the batch kernel's dtypes throughout

    def penalty(j: int) -> np.ndarray:
        inter = v @ v[j]
        np.add(size, size[j], out=union)
        union[...] -= inter
        # an empty union has an empty intersection: 0 / 1 is the kernel's 0
        np.maximum(union, 1, out=union)
        np.divide(inter, union, out=sim_row)
        sim_row[...] *= c
        return sim_row

    return _greedy_one(base, kk, penalty)


def _mmr_on_sets(
    scores: np.ndarray,
    valid: np.ndarray,
    k: int,
    lambda_: float,
    sets: np.ndarray,
    table: np.ndarray,
) -> np.ndarray:
    """:meth:`MMR.rerank_trusted` with ``similarity="jaccard"`` for candidates whose binary
    rows are given by the id of their distinct row (``sets``, ``(u, n)``) and the Jaccard
    index of every pair of distinct rows (``table``, ``(K, K)`` float64: the intersection
    over the union, 0 for two empty rows, as ``Similarity`` computes it).

    The same positions as ``rerank_trusted`` on the rows themselves: each similarity is the
    same quotient of the same exact integers, looked up instead of computed, then scaled and
    subtracted as there. A step is a lookup of ``n`` cells instead of a product with the
    rows, a union and a division. Returns ``(u, min(k, n))`` positions padded with -1.
    """
    batch = trusted(scores, valid, k)
    u, kk = batch.u, batch.kk
    if kk == 0 or u == 0:
        return np.full((u, kk), -1, dtype=np.int64)
    lam = float(lambda_)
    base = np.where(batch.valid, batch.scores, 0.0) * lam
    base[~batch.valid] = -np.inf  # never chosen
    c = 1.0 - lam
    if u == 1:  # 1-d arrays: fewer numpy calls per step, the same arithmetic
        ids, row = sets[0], np.empty(base.shape[1])

        def penalty_one(j: int) -> np.ndarray:
            np.take(table[ids[j]], ids, out=row)
            row[...] *= c
            return row

        return pad_short(_greedy_one(base[0], kk, penalty_one)[None, :], batch.valid)
    ar, sim = np.arange(u), np.empty(base.shape)

    def penalty(j: np.ndarray) -> np.ndarray:
        np.take(table, sets[ar, j][:, None] * table.shape[1] + sets, out=sim)
        sim[...] *= c
        return sim

    return pad_short(_greedy_rows(base, kk, penalty), batch.valid)


@dataclass(frozen=True, kw_only=True)
class MMR:
    """Maximal Marginal Relevance re-ranker; see :func:`mmr`.

    Parameters
    ----------
    lambda_ : float in [0, 1], default 0.7
        Weight of relevance (1: plain top-k) against similarity to what is already shown.
    similarity : {"cosine", "jaccard"}, default "cosine"
        How candidate ``vectors`` are compared.

    Raises
    ------
    ParameterError
        At construction, naming the parameter and the value, e.g. ``MMR(lambda_=1.5)``.
    """

    lambda_: float = 0.7
    similarity: str = "cosine"
    #: :meth:`rerank_trusted` compares the candidates' ``vectors``
    uses_vectors: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "lambda_", check_real(self.lambda_, "lambda_", "MMR", 0.0, 1.0))
        check_choice(self.similarity, "similarity", "MMR", SIMILARITIES)

    def rerank(
        self,
        scores: Any,
        k: int,
        *,
        vectors: Any = None,
        context: RerankContext | None = None,
        valid: Any = None,
    ) -> np.ndarray:
        """Re-rank ``scores`` with MMR; needs ``vectors``. ``context`` is not used."""
        return _mmr(scores, vectors, k, self.lambda_, self.similarity, valid, "MMR")

    def rerank_trusted(
        self,
        scores: np.ndarray,
        valid: np.ndarray,
        k: int,
        vectors: np.ndarray | None = None,
        context: RerankContext | None = None,
    ) -> np.ndarray:
        """:meth:`rerank` for arrays fairrec built itself (the home-page rows): ``(u, n)``
        scores and mask, ``(u, n, d)`` vectors with unit-norm rows; no input checks (see
        :class:`~fairrec.rerank.TrustedReranker`). Returns ``(u, min(k, n))`` positions
        padded with -1."""
        similar = Similarity(vectors, self.similarity, "MMR", unit=True)
        return _mmr_run(trusted(scores, valid, k), similar, self.lambda_)

    def rerank_on_sets(
        self,
        scores: np.ndarray,
        valid: np.ndarray,
        k: int,
        sets: np.ndarray,
        table: np.ndarray,
    ) -> np.ndarray:
        """:meth:`rerank_trusted` with ``similarity="jaccard"`` on binary rows given as the
        ids of distinct rows, with the Jaccard index of every pair of them looked up.

        For arrays fairrec built itself (the home-page rows on the catalog's genre sets); no
        input checks.

        Parameters
        ----------
        scores, valid : ndarray of shape (u, n)
            Candidate relevance (finite wherever ``valid``) and the candidates that may be
            chosen.
        k : int
            Length of the list (>= 1).
        sets : ndarray of int, shape (u, n)
            Each candidate's row id (a padding candidate may hold any id).
        table : ndarray of float64, shape (K, K)
            The Jaccard index of each pair of the K distinct binary rows: intersection size
            over union size, 0 for two empty rows (as the ``"jaccard"`` similarity of
            :meth:`rerank_trusted` computes it).

        Returns
        -------
        ndarray of int64, shape (u, min(k, n))
            The positions :meth:`rerank_trusted` gives on the rows themselves, -1 padded.
        """
        return _mmr_on_sets(scores, valid, k, self.lambda_, sets, table)
