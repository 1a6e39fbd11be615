"""Fitting: train a model on the interactions the training gate lets through
(:func:`fit`), or serve a model fitted elsewhere (:func:`from_fitted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairrec.data import Dataset
from fairrec.errors import DataError
from fairrec.models import ALS, CandidateModel
from fairrec.serving.gate import (
    retention_cutoff,
    training_events,
    training_matrix,
    training_oldest,
    window_events,
)
from fairrec.serving.state import FittedState, install, item_ratings, positives
from fairrec.serving.training import training_cells

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
    train, rows, oldest = training_cells(data, mask)
    if train.shape[0] == 0:
        raise DataError(_nothing_to_train(data, consent, when, rec.retention_days))
    # a fresh copy (scikit-learn's clone): fitting never changes the caller's model
    # object, which another Recommender may be serving with
    model = type(rec.model)(**rec.model.get_params()) if rec.model is not None else ALS()
    model.fit(positives(train))
    fitted = FittedState.build(
        model=model,
        data=data,
        train=train,
        train_user_ids=data.user_ids[rows],
        fitted_at=when,
        train_oldest=oldest,
        item_ratings=item_ratings(data, mask),
        row_kinds=rec.rows,
        train_user_canon=data.user_map.canon[rows],
    )
    install(rec, fitted, consent)
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
    listed = np.zeros(data.n_users, dtype=bool)
    listed[rows[rows >= 0]] = True
    # the training matrix of the listed viewers, inside the window (the gate's rule)
    ev = listed[data.users] & window_events(data, when, rec.retention_days)
    train, _ = training_matrix(data, ev, rows=rows)
    fitted = FittedState.build(
        model=model,
        data=data,
        train=train,
        train_user_ids=ids,
        fitted_at=when,
        train_oldest=training_oldest(data, ev, train, rows),
        item_ratings=item_ratings(data, ev),
        row_kinds=rec.rows,
    )
    install(rec, fitted, consent if consent is not None else ConsentLedger(default="allow"))
    return rec


def _nothing_to_train(
    data: Dataset, consent: Any, when: pd.Timestamp, retention_days: float | None
) -> str:
    """Why the training gate let no event through: no consent, or a window that ends
    before the data (historical data fitted at today's clock)."""
    head = "No interaction may be used for training: "
    consented = training_events(data, consent, when, None)
    if not consented.any():
        return head + "no viewer in the data has 'training' consent (or every one is erased)."
    if retention_days is None or data.timestamps is None:  # (not reached: gate kept some)
        return head + "the training gate kept no event."
    cutoff = pd.Timestamp(retention_cutoff(when, retention_days))
    newest = pd.Timestamp(data.timestamps[consented].max())
    return head + (
        f"the retention window (retention_days={retention_days:g}) at the time of fitting "
        f"{when.isoformat()} starts {cutoff.isoformat()}, after the newest consented play "
        f"({newest.isoformat()}). For data collected in the past, fit at its time: "
        "fit(data, now=...) (e.g. now= the newest play's time), or widen retention_days."
    )
