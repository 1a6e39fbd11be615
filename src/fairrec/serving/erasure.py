"""Erasure: ``forget`` a viewer everywhere fairrec holds them (model surgery first, then
the ledger, the live state, the audit log, and the fitted state without them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fairrec.data import Dataset
from fairrec.data.ids import canon_id
from fairrec.serving.gate import (
    retention_cutoff,
)
from fairrec.serving.state import (
    FittedState,
    install,
    positives,
)

__all__ = ["forget", "ratings_without"]


def forget(rec: Any, user: Any, update_items: bool = False) -> None:
    """Erase ``user`` (see :meth:`Recommender.forget`)."""
    rec._require_fitted()
    canon = canon_id(user)  # a ParameterError here changes nothing
    with rec._lock:
        f = rec._fitted
        data = f.data_
        idx = data.user_map.position(canon)
        if idx >= 0:  # their events and their entry in the id map go
            keep_ev = data.users != idx
            users = data.users[keep_ev]
            data = Dataset(
                user_ids=np.delete(data.user_ids, idx),
                item_ids=data.item_ids,
                users=(users - (users > idx)).astype(np.int32),
                items=data.items[keep_ev],
                weights=data.weights[keep_ev],
                timestamps=data.timestamps[keep_ev] if data.timestamps is not None else None,
                catalog=data.catalog,
                ratings=data.ratings[keep_ev] if data.ratings is not None else None,
            )
        train, oldest, train_users = f.train_matrix_, f.train_oldest_, f.train_user_ids_
        row = f.train_index_.get(canon, -1)
        model = f.model_
        if row >= 0:
            touched = train.indices[train.indptr[row] : train.indptr[row + 1]].copy()
            keep = np.ones(train.shape[0], dtype=bool)
            keep[row] = False
            train = train[keep]
            oldest = oldest[keep] if oldest is not None else None
            train_users = train_users[keep]
            model = f.model_.erase_rows(
                np.array([row]), positives(train), touched, update_items=update_items
            )
        rec._consent.forget(user)
        rec._live_state().forget(user)
        if rec.audit_log is not None and hasattr(rec.audit_log, "erase"):
            rec.audit_log.erase(user)
        fitted = FittedState.build(
            model=model,
            data=data,
            train=train,
            train_user_ids=train_users,
            fitted_at=f.fitted_at_,
            train_oldest=oldest,
            item_ratings=ratings_without(rec, f, idx, row >= 0),
            like_label=f.like_label,
            row_kinds=f.row_kinds_,
        )
        install(rec, fitted, rec._consent)


def ratings_without(rec: Any, f: FittedState, idx: int, trained: bool) -> Any:
    """The per-title rating sums of the training events, less an erased viewer's."""
    ratings = f.item_ratings_
    if ratings is None or not trained or idx < 0 or f.data_.ratings is None:
        return ratings
    d = f.data_
    ev = d.events_of(idx)
    cutoff = retention_cutoff(f.fitted_at_, rec.retention_days)
    if cutoff is not None:
        ev = ev[d.timestamps[ev] >= cutoff]
    items = d.items[ev]
    total = ratings[0] - np.bincount(items, weights=d.ratings[ev], minlength=d.n_items)
    count = ratings[1] - np.bincount(items, minlength=d.n_items)
    return np.where(count > 0, total, 0.0), np.maximum(count, 0)
