"""Fitting: train a model on the interactions the training gate lets through
(:func:`fit`), or serve a model fitted elsewhere (:func:`from_fitted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from fairrec.data import Dataset
from fairrec.errors import DataError
from fairrec.models import ALS, CandidateModel
from fairrec.serving.gate import (
    cell_oldest,
    retention_cutoff,
    training_events,
    training_matrix,
    training_oldest,
)
from fairrec.serving.state import (
    install,
    item_ratings,
    positives,
)

__all__ = ["fit", "from_fitted"]


def fit(rec: Any, data: Dataset, now: Any = None) -> Any:
    """Train ``rec``'s model on the consented, in-window events of ``data`` (see :meth:`Recommender.fit`)."""
    from fairrec.consent import ConsentLedger

    rec._validate()
    if not isinstance(data, Dataset):
        raise DataError(f"fit() needs a fairrec.Dataset. Got {type(data).__name__} instead.")
    if rec.retention_days is not None and data.timestamps is None:
        raise DataError(
            "retention_days is set but the dataset has no timestamps "
            "(pass time_col= to Dataset.from_pandas)."
        )
    consent = rec.consent if rec.consent is not None else ConsentLedger(default="allow")
    when = rec._now(now)
    mask = training_events(data, consent, when, rec.retention_days)
    train, rows = training_matrix(data, mask)
    oldest = training_oldest(data, mask, train, rows)
    if train.shape[0] == 0:
        raise DataError(
            "No interaction may be used for training: no viewer with 'training' consent "
            "has events inside the retention window."
        )
    # a fresh copy (scikit-learn's clone): fitting never changes the caller's model
    # object, which another Recommender may be serving with
    model = type(rec.model)(**rec.model.get_params()) if rec.model is not None else ALS()
    model.fit(positives(train))
    install(
        rec,
        model=model,
        data=data,
        consent=consent,
        train=train,
        train_user_ids=data.user_ids[rows],
        fitted_at=when,
        train_oldest=oldest,
        item_ratings=item_ratings(data, mask),
    )
    return rec


def from_fitted(
    cls,
    model: CandidateModel,
    data: Dataset,
    *,
    train_user_ids: Sequence[Any],
    consent: Any = None,
    fitted_at: Any = None,
    **params: Any,
) -> Any:
    """A ``cls`` instance serving ``model`` (see :meth:`Recommender.from_fitted`)."""
    rec = cls(model=model, consent=consent, **params)
    rec._validate()
    if not model.is_fitted() or model.n_items_ != data.n_items:
        raise DataError(
            f"from_fitted() needs a model fitted on the {data.n_items} titles of the data."
        )
    from fairrec.consent import ConsentLedger

    when = rec._now(fitted_at)
    ids = np.empty(len(train_user_ids), dtype=object)
    ids[:] = list(train_user_ids)
    rows = data.user_index(ids, on_unknown="ignore")
    # the model's rows are named by the data's own spelling of each id
    ids[rows >= 0] = data.user_ids[rows[rows >= 0]]
    mask = np.zeros(data.n_users, dtype=bool)
    mask[rows[rows >= 0]] = True
    order = np.full(data.n_users, -1, dtype=np.int64)
    order[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
    ev = mask[data.users]
    cutoff = retention_cutoff(when, rec.retention_days)
    if cutoff is not None:
        ev &= data.timestamps >= cutoff  # the training matrix respects the window too
    train = sp.csr_matrix(
        (data.weights[ev], (order[data.users[ev]], data.items[ev])),
        shape=(len(ids), data.n_items),
        dtype=np.float32,
    )
    train.sum_duplicates()
    oldest = None
    if data.timestamps is not None:
        oldest = cell_oldest(
            order[data.users[ev]], data.items[ev], data.timestamps[ev].view(np.int64), train
        )
    install(
        rec,
        model=model,
        data=data,
        consent=consent if consent is not None else ConsentLedger(default="allow"),
        train=train,
        train_user_ids=ids,
        fitted_at=when,
        train_oldest=oldest,
        item_ratings=item_ratings(data, ev),
    )
    return rec
