"""Model files: numpy ``.npz`` (loaded with ``allow_pickle=False``) + JSON, never pickle.

A model directory holds

* ``meta.json`` — format name and version, model kind and parameters, serving parameters,
  the SHA-256 of every other file (a tampered or truncated file is detected) and
  ``meta_sha256``, the SHA-256 of meta.json's own content (a flipped digit in a parameter is
  detected; a duplicated key is refused);
* ``arrays.npz`` — the model's arrays, the training rows (see below) and the serving
  histories;
* ``catalog.json`` — title ids, titles, genres, popularity, maturity;
* ``ids.json`` — external ids of the training rows and of the history viewers.

What a file holds is decided by consent and retention **at save time**:

* histories only of viewers with ``personalization`` now, only events inside the window;
* training rows (and user factors) only of viewers with ``training`` now, only cells whose
  oldest play is inside the window; user factors are re-solved from exactly those cells.
  Serving never reads them: they are kept only so that :meth:`Recommender.forget` with
  ``update_items=True`` can re-solve item vectors after :meth:`Recommender.load`;
* ``popularity`` counts, per title, the saved training viewers who played it (not the raw
  plays of the data, which include viewers who consented to nothing);
* no id of a viewer who is in neither of those two groups, and nothing of an erased one.

Aggregates learned at training time (item factors, ItemKNN similarities, Popularity counts)
are kept as trained: they change at the next training, or at ``forget``.

Loading checks every declared size against the bytes actually present before allocating
(an ``.npy`` header that declares more than its member holds, a ``factors`` parameter that
disagrees with the arrays), refuses non-regular files (a FIFO named ``ids.json`` would block
a reader) and compressed archive members, and reports every problem as a
:class:`~fairrec.errors.ModelFileError`.

Saving writes a temporary directory beside the destination and renames it into place, so an
interrupted save leaves the previous model loadable.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.data import Dataset
from fairrec.serving.gate import (
    PERSONALIZATION,
    retention_cutoff,
    saved_training,
    usable_events,
)
from fairrec.serving.load import load_from
from fairrec.serving.model_files import (
    _FILES,
    _SERVING,
    FORMAT,
    FORMAT_VERSION,
    _close,
    _meta_digest,
    _open_model,
    _sha256,
    _swap_into_place,
    _swap_lock,
    _write_json,
)
from fairrec.serving.state import FittedState, state_arrays

__all__ = [
    "save_recommender",
    "load_recommender",
    "consented_state",
    "consented_parts",
    "FORMAT",
    "FORMAT_VERSION",
]


def _saved_ratings(
    data: Dataset, fitted: Any, train: sp.csr_matrix, rows: np.ndarray, cutoff: Any
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-title sums and counts of the explicit ratings of the training cells the file
    holds (the same viewers and window as ``train``), or None without ratings."""
    if fitted.item_ratings_ is None or data.ratings is None:
        return None
    ids = np.asarray(fitted.train_user_ids_)[rows]
    idx = data.user_index(list(ids), on_unknown="ignore")
    row_of = np.full(data.n_users, -1, dtype=np.int64)
    row_of[idx[idx >= 0]] = np.flatnonzero(idx >= 0)
    r = row_of[data.users]
    ev = r >= 0
    if cutoff is not None and data.timestamps is not None:
        ev &= data.timestamps >= cutoff
    cells = np.repeat(np.arange(train.shape[0]), np.diff(train.indptr)) * data.n_items
    saved = np.sort(cells + train.indices)
    keys = r[ev] * data.n_items + data.items[ev]
    ev[np.flatnonzero(ev)[~np.isin(keys, saved)]] = False
    items = data.items[ev]
    total = np.bincount(items, weights=data.ratings[ev], minlength=data.n_items)
    return total.astype(np.float64), np.bincount(items, minlength=data.n_items).astype(np.int64)


def consented_state(
    f: FittedState, consent: Any, now: pd.Timestamp, retention_days: float | None
) -> FittedState:
    """``f`` reduced to what may be kept at ``now`` (what a model file holds; see the module
    docstring): the gate's rules (:func:`~fairrec.serving.gate.usable_events`,
    :func:`~fairrec.serving.gate.saved_training`) applied to the fitted state."""
    return FittedState.build(
        **consented_parts(f, consent, now, retention_days), row_kinds=f.row_kinds_
    )


def consented_parts(
    f: FittedState, consent: Any, now: pd.Timestamp, retention_days: float | None
) -> dict[str, Any]:
    """The parts (:meth:`FittedState.build <fairrec.serving.FittedState.build>`'s
    arguments) of :func:`consented_state`; a save writes their
    ``state_arrays`` (:mod:`fairrec.serving.state`) without building the state."""
    data = f.data_
    # serving histories: only viewers with personalization consent now, in window
    keep = usable_events(data, consent, PERSONALIZATION, now, retention_days)
    hist_users, hist_rows = np.unique(data.users[keep], return_inverse=True)
    # training rows: only viewers with training consent now, cells in window
    train, rows, oldest = saved_training(
        f.train_matrix_, f.train_oldest_, f.train_user_ids_, consent, now, retention_days
    )
    model = type(f.model_)(**f.model_.get_params())
    model.set_arrays(f.model_.saved_arrays(rows, train))
    cat = data.catalog
    catalog = pd.DataFrame(
        {
            C.ITEM: data.item_ids,
            C.TITLE: cat[C.TITLE].astype(str).to_numpy(),
            C.GENRES: cat[C.GENRES].to_numpy(),
            # catalog statistics from the saved (consented, in-window) training rows only
            C.POPULARITY: np.bincount(train.indices, minlength=data.n_items).astype(np.float64),
        }
    )
    if C.MATURITY in cat:
        catalog[C.MATURITY] = cat[C.MATURITY].to_numpy(np.float64)
    kept = Dataset(
        user_ids=data.user_ids[hist_users],
        item_ids=data.item_ids,
        users=hist_rows.astype(np.int32),
        items=data.items[keep],
        weights=data.weights[keep],
        timestamps=data.timestamps[keep] if data.timestamps is not None else None,
        catalog=catalog,
    )
    cutoff = retention_cutoff(now, retention_days)
    return {
        "model": model,
        "data": kept,
        "train": train,
        "train_user_ids": np.asarray(f.train_user_ids_)[rows],
        "fitted_at": f.fitted_at_,
        "train_oldest": oldest,
        # per-title rating sums of the saved training cells only
        "item_ratings": _saved_ratings(data, f, train, rows, cutoff),
        "like_label": f.like_label,
    }


def save_recommender(rec: Any, path: Any) -> None:
    """Write ``rec`` to directory ``path`` atomically (see module docstring)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fitted = rec.fitted_state_  # one consistent snapshot, even if a forget() runs meanwhile
    now = rec._now()
    arrays, content = state_arrays(**consented_parts(fitted, rec.consent_, now, rec.retention_days))
    catalog, ids = content.pop("catalog"), content.pop("ids")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        with open(tmp / "arrays.npz", "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        _write_json(tmp / "catalog.json", catalog)
        _write_json(tmp / "ids.json", ids)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": content["model"],
            "serving": {k: getattr(rec, k) for k in _SERVING},
            "fitted_at": content["fitted_at"],
            "saved_at": now.isoformat(),
            "n_items": content["n_items"],
            "has_timestamps": content["has_timestamps"],
            "sha256": {name: _sha256(tmp / name) for name in _FILES},
        }
        meta["meta_sha256"] = _meta_digest(meta)
        _write_json(tmp / "meta.json", meta)
        with _swap_lock(target):  # two threads saving to one path take turns for the swap
            _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_recommender(cls: type, path: Any, consent: Any, overrides: dict[str, Any]) -> Any:
    """Load and validate a model directory written by :func:`save_recommender`."""
    root, handles = _open_model(Path(path))
    try:
        return load_from(cls, root, handles, consent, overrides)
    finally:
        _close(handles)
