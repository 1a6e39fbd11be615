"""The serving core: viewers and their consent snapshots, the request gate, candidates
and the row context, and the rows of a batch of pages (:func:`serve`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec.data.ids import canon_id
from fairrec.errors import UnknownUserError
from fairrec.models import top_n
from fairrec.rows import EvidenceSource, RowContext
from fairrec.serving.gate import (
    ServingBatch,
    serving_batch,
)
from fairrec.serving.state import (
    FittedState,
    positives,
    unit_rows,
)

__all__ = [
    "viewers",
    "consent_states",
    "without_banned",
    "request_batch",
    "candidates",
    "profile",
    "row_context",
    "serve",
]


def without_banned(batch: ServingBatch) -> ServingBatch:
    """The batch with each viewer's banned titles removed from their history and recent
    titles (personalization ends for a viewer whose whole history is banned)."""
    h = batch.histories
    if not h.nnz or not batch.banned.any():
        return batch
    rows = np.repeat(np.arange(h.shape[0]), np.diff(h.indptr))
    keep = ~batch.banned[rows, h.indices]
    if keep.all():
        return batch
    counts = np.bincount(rows[keep], minlength=h.shape[0])
    indptr = np.zeros(h.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    hist = sp.csr_matrix((h.data[keep], h.indices[keep], indptr), shape=h.shape)
    recent = batch.recent
    if recent.size:
        ar = np.arange(recent.shape[0])[:, None]
        bad = (recent >= 0) & batch.banned[ar, np.maximum(recent, 0)]
        recent = np.where(bad, -1, recent)
        recent = np.take_along_axis(recent, np.argsort(recent < 0, axis=1, kind="stable"), 1)
    from dataclasses import replace

    return replace(
        batch, histories=hist, recent=recent, personalized=batch.personalized & (counts > 0)
    )


def viewers(users: Sequence[Any], f: FittedState) -> tuple[np.ndarray, list[Any]]:
    """Each viewer's index in the data (``-1``: none) and the id fairrec writes for them.

    Ids are matched by canonical form (:class:`fairrec.ids.IdMap`): ``1``, ``"1"`` and
    ``"01"`` are one viewer, written as the data spells it."""
    umap = f.data_.user_map
    if len(users) == 1:
        u0 = next(iter(users))
        idx = np.array([umap.position(u0)], dtype=np.int64)
        return idx, umap.names([u0], idx)
    users = list(users)
    idx = umap.positions(users) if users else np.empty(0, dtype=np.int64)
    return idx, umap.names(users, idx)


def consent_states(
    rec: Any, users: Sequence[Any], f: FittedState, data_idx: Any = None
) -> list[Any]:
    """One immutable consent snapshot per viewer; unknown viewers per ``on_unknown``."""
    vocab = f.vocab_
    # every genre / title / maturity limit matched to the catalog (VocabularyError if not)
    states = [vocab.resolve_state(rec._consent.state(u)) for u in users]
    if data_idx is None:
        data_idx = viewers(users, f)[0] if users else []
    unknown = [
        u
        for u, s, i in zip(users, states, data_idx)
        if s.forgotten or (i < 0 and u not in rec._consent)
    ]
    if unknown and rec.on_unknown != "ignore":
        shown = ", ".join(repr(u) for u in unknown[:5])
        msg = (
            f"Unknown viewer id(s): {shown}. They are not in the training data or the "
            "consent ledger (or were erased). Pass on_unknown='ignore' to serve them the "
            "non-personalized page."
        )
        if rec.on_unknown == "raise":
            raise UnknownUserError(msg)
        import warnings

        warnings.warn(msg, stacklevel=3)
    return states


def request_batch(
    rec: Any,
    users: Sequence[Any],
    now: pd.Timestamp,
    f: FittedState,
    region: str | None = None,
    *,
    n_recent: int = 20,
) -> ServingBatch:
    """One consent snapshot per viewer, reduced by the serving gate (and the live state:
    observed events, availability; :mod:`fairrec.live`).

    The batch names each viewer by the id fairrec writes for them (:meth:`_viewers`).
    A title the viewer excluded (by id, genre or maturity) is also dropped from the
    history the page is built from: it is never an anchor, a reason or evidence of taste.
    ``n_recent`` recent titles are kept per viewer (0 where the caller never reads them).
    """
    idx, resolved = viewers(users, f)
    batch = serving_batch(
        resolved,
        consent_states(rec, users, f, idx),
        data=f.data_,
        catalog=f.catalog_,
        now=now,
        retention_days=rec.retention_days,
        user_idx=idx,
        n_recent=n_recent,
    )
    live = rec._live_state()
    batch = live.apply(batch, f, now, rec.retention_days)  # observed plays, impressions
    batch = without_banned(batch)  # exclusions leave the history, observed plays too
    return live.restrict(batch, f, now, region)  # availability


def candidates(
    batch: ServingBatch, f: FittedState, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores over the catalog (model for personalized viewers, popularity otherwise)
    and the top ``n`` with seen and banned titles removed: ``(scores, cand, rel)``."""
    shape = (len(batch), f.data_.n_items)
    pers = batch.personalized
    pos = positives(batch.histories)
    if len(batch) and pers.all():  # (a sparse row selection costs ~50 us even of all rows)
        scores = f.model_.score_histories(pos)
        fresh = (
            isinstance(scores, np.ndarray)
            and scores.dtype == np.float32
            and scores.shape == shape
            and scores.flags.c_contiguous
            and scores.flags.owndata
            and scores.flags.writeable
        )
        if not fresh:  # a view or another dtype: copy (top_n writes into it)
            scores = np.array(scores, dtype=np.float32, order="C").reshape(shape)
    else:
        scores = np.empty(shape, dtype=np.float32)
        if pers.any():
            scores[pers] = f.model_.score_histories(pos[pers])
        if (~pers).any():
            scores[~pers] = f.log_popularity_[None, :]
    cand, rel = top_n(scores, min(n, f.data_.n_items), banned=batch.histories, exclude=batch.banned)
    return scores, cand, rel


def profile(batch: ServingBatch, f: FittedState) -> np.ndarray:
    """Each viewer's history profile: the unit mean vector of the recent titles."""
    recent = batch.recent
    rv = f.vectors_[np.maximum(recent, 0)]
    rv[recent < 0] = 0.0
    return unit_rows(rv.sum(axis=1))


#: n -> the relevance percentiles of a full list of n candidates (read only)
_FULL_PCT: dict[int, np.ndarray] = {}


def _full_rel_pct(n: int) -> np.ndarray:
    """``(1, n)`` relevance percentiles of a viewer with ``n`` valid candidates, computed
    as :func:`row_context` computes any viewer's (same operations, same bits), once per
    ``n``."""
    got = _FULL_PCT.get(n)
    if got is None:
        count = np.full((1, 1), n, dtype=np.int64)
        got = 1.0 - np.arange(n) / np.maximum(count, 1)
        got.flags.writeable = False
        _FULL_PCT[n] = got
    return got


def row_context(rec: Any, batch: ServingBatch, f: FittedState) -> RowContext:
    """Candidates and everything rows may use for a batch (after the gate)."""
    scores, cand, rel = candidates(batch, f, rec.n_candidates)
    valid = cand >= 0
    if valid.all():  # every viewer has a full list: one shared (read-only) row
        rel_pct = np.broadcast_to(_full_rel_pct(cand.shape[1]), cand.shape)
    else:
        count = valid.sum(axis=1, keepdims=True)
        rel_pct = np.where(valid, 1.0 - np.arange(cand.shape[1]) / np.maximum(count, 1), 0.0)
    rel = np.where(valid, rel, 0.0)
    return RowContext(
        batch=batch,
        cand=cand,
        rel=rel,
        rel_pct=rel_pct,
        scores=scores,
        vectors=f.vectors_,
        genres=f.genres_,
        popularity=f.popularity_,
        pop_pct=f.pop_pct_,
        pop_order=f.pop_order_,
        profile=profile(batch, f),
        titles=f.titles_,
        genre_names=f.catalog_.genre_names,
        k=rec.row_size,
        title_list=f.titles_py_,
        evidence=EvidenceSource(
            model=f.model_,
            positives=positives(batch.histories),
            train=f.train_matrix_,
            train_rows=np.array(
                [f.train_index_.get(canon_id(u), -1) for u in batch.user_ids], dtype=np.int64
            ),
            stats=f.stats_,
            tastes=f.tastes_,
        ),
        item_ids=f.item_ids_py_,
    )


def serve(
    rec: Any, users: Sequence[Any], now: pd.Timestamp, f: FittedState, region: str | None = None
) -> tuple[ServingBatch, Any]:
    from fairrec.serving.assembly import assemble

    batch = request_batch(rec, users, now, f, region)
    ctx = row_context(rec, batch, f)
    pages = assemble(
        ctx,
        f.row_kinds_,
        min_items=rec.min_row_items or max(3, rec.row_size // 2),
        max_rows=rec.max_rows,
    )
    return batch, pages
