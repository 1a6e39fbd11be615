"""Re-rankers: turn candidate scores into a row that is relevant *and* diverse.

One protocol for all (:class:`Reranker`)::

    reranker.rerank(scores, k, *, vectors=None, context=None, valid=None) -> positions

- ``scores``: relevance of the candidates, ``(n,)`` for one viewer or ``(u, n)`` for a batch;
  finite wherever ``valid`` (else :class:`~fairrec.errors.DataError`).
- ``vectors``: candidate representations, ``(n, d)`` shared or ``(u, n, d)`` per viewer
  (ALS factors with ``similarity="cosine"``, genre multi-hot rows with ``"jaccard"``).
- ``context``: a :class:`RerankContext` (history profile, genres, target genre mix,
  popularity, long-tail flags); a re-ranker missing what it needs names the field.
- ``valid``: bool mask; masked-out candidates (padding) are never chosen.

The result is int64 candidate positions in display order: ``(min(k, n_valid),)`` for one
viewer; ``(u, min(k, n))`` for a batch, padded with -1 where a viewer has fewer valid
candidates. Results are deterministic, ties going to the lower position, and a batch gives
the same rows as one call per viewer (computed vectorised across viewers; only the k picks
loop in Python).

Every fairrec re-ranker also implements :class:`TrustedReranker`: a fast path,
``rerank_trusted(scores, valid, k, vectors, context)``, for ``(u, n)`` arrays fairrec built
itself (the home-page rows use it), with the same result as ``rerank`` and no input checks.
Parameters are checked when a re-ranker is built: ``MMR(lambda_=1.5)`` raises
:class:`~fairrec.errors.ParameterError` naming ``lambda_`` and ``1.5`` right there.

Re-rankers (small frozen classes holding parameters; each calls a pure function):

- :class:`TopK` / :func:`topk`: plain relevance order, the baseline.
- :class:`MMR` / :func:`mmr`: maximal marginal relevance (Carbonell & Goldstein 1998).
- :class:`DPP` / :func:`dpp_greedy`: fast greedy DPP MAP inference (Chen et al. 2018).
- :class:`Calibrated` / :func:`calibrated`: genre calibration (Steck 2018).
- :class:`LongTail` / :func:`xquad`: head / tail xQuAD (Abdollahpouri et al. 2019).
- :class:`Serendipity` / :func:`serendipity`: relevance x unexpectedness above a floor.

:func:`by_name` builds one from a name (``"topk"``, ``"mmr"``, ``"dpp"``, ``"calibrated"``, ``"longtail"``, ``"serendipity"``),
as ``Recommender.recommend(reranker="mmr")`` and ``fairrec.compare`` accept.
"""

from __future__ import annotations

from fairrec.rerank._base import RerankContext, Reranker, TrustedReranker
from fairrec.rerank._calibrated import Calibrated, calibrated
from fairrec.rerank._dpp import DPP, dpp_greedy
from fairrec.rerank._longtail import LongTail, long_tail_mask, xquad
from fairrec.rerank._mmr import MMR, mmr
from fairrec.rerank._names import RERANKER_NAMES as RERANKER_NAMES
from fairrec.rerank._names import by_name
from fairrec.rerank._serendipity import Serendipity, serendipity
from fairrec.rerank._topk import TopK, topk

__all__ = [
    "DPP",
    "MMR",
    "Calibrated",
    "LongTail",
    "RerankContext",
    "Reranker",
    "Serendipity",
    "TopK",
    "TrustedReranker",
    "by_name",
    "calibrated",
    "dpp_greedy",
    "long_tail_mask",
    "mmr",
    "serendipity",
    "topk",
    "xquad",
]
