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
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.data import Dataset
from fairrec.serving.gate import PERSONALIZATION, TRAINING, retention_cutoff
from fairrec.serving.load import load_from
from fairrec.serving.model_files import (
    _FILES,
    _SERVING,
    FORMAT,
    FORMAT_VERSION,
    _close,
    _meta_digest,
    _open_model,
    _plain,
    _sha256,
    _swap_into_place,
    _swap_lock,
    _write_json,
)

__all__ = ["save_recommender", "load_recommender", "FORMAT", "FORMAT_VERSION"]


def _saved_training(
    rec: Any, fitted: Any, cutoff: np.datetime64 | None
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray | None]:
    """The training rows a file may hold now: ``(matrix, row numbers, oldest-times)``.

    Rows of viewers with ``training`` consent at save time (never an erased one), cells whose
    oldest play is inside the retention window at save time; rows left empty are dropped.
    """
    train = fitted.train_matrix_
    oldest = fitted.train_oldest_
    ids = np.asarray(fitted.train_user_ids_)
    keep = (
        np.asarray(rec.consent_.allowed_mask(ids, TRAINING), dtype=bool)
        if len(ids)
        else np.zeros(0, dtype=bool)
    )
    rows = np.flatnonzero(keep)
    sub = train[rows]
    old = oldest[rows] if oldest is not None else None
    if cutoff is not None and old is not None:
        ok = old.data >= np.datetime64(cutoff, "ns").view(np.int64)
        indptr = np.zeros(sub.shape[0] + 1, dtype=np.int64)
        row_of = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
        np.cumsum(np.bincount(row_of[ok], minlength=sub.shape[0]), out=indptr[1:])
        sub = sp.csr_matrix((sub.data[ok], sub.indices[ok], indptr), shape=sub.shape)
        old = sp.csr_matrix((old.data[ok], old.indices[ok], indptr.copy()), shape=old.shape)
    nonempty = np.diff(sub.indptr) > 0
    sub = sub[nonempty]
    old = old[nonempty] if old is not None else None
    return sub, rows[nonempty], (old.data.astype(np.int64) if old is not None else None)


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


def save_recommender(rec: Any, path: Any) -> None:
    """Write ``rec`` to directory ``path`` atomically (see module docstring)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fitted = rec._fitted  # one consistent snapshot, even if a forget() runs meanwhile
    data: Dataset = fitted.data_
    now = rec._now()
    cutoff = retention_cutoff(now, rec.retention_days)

    # serving histories: only viewers with personalization consent now, in window
    allowed = np.asarray(rec.consent_.allowed_mask(data.user_ids, PERSONALIZATION), dtype=bool)
    keep = allowed[data.users]
    if cutoff is not None:
        keep &= data.timestamps >= cutoff
    hist_users, hist_rows = np.unique(data.users[keep], return_inverse=True)

    # training rows: only viewers with training consent now, cells in window
    train, train_rows, train_oldest = _saved_training(rec, fitted, cutoff)
    arrays: dict[str, np.ndarray] = {
        f"model/{k}": np.asarray(v)
        for k, v in fitted.model_.saved_arrays(train_rows, train).items()
    }
    arrays.update(
        {
            "train/data": train.data.astype(np.float32),
            "train/indices": train.indices.astype(np.int64),
            "train/indptr": train.indptr.astype(np.int64),
            "history/users": hist_rows.astype(np.int64),
            "history/items": data.items[keep].astype(np.int64),
            "history/weights": data.weights[keep].astype(np.float32),
        }
    )
    if train_oldest is not None:
        arrays["train/oldest"] = train_oldest
    if data.timestamps is not None:
        arrays["history/timestamps"] = data.timestamps[keep].astype("datetime64[ns]").view(np.int64)
    ratings = _saved_ratings(data, fitted, train, train_rows, cutoff)
    if ratings is not None:  # per-title rating sums of the saved training cells only
        arrays["stats/rating_sum"], arrays["stats/rating_count"] = ratings

    cat = data.catalog
    # catalog statistics from the saved (consented, in-window) training rows only
    popularity = np.bincount(train.indices, minlength=data.n_items).astype(np.float64)
    catalog = {
        "item_ids": _plain(data.item_ids),
        "titles": cat[C.TITLE].astype(str).tolist(),
        "genres": [list(g) for g in cat[C.GENRES].tolist()],
        "popularity": [float(x) for x in popularity],
    }
    if C.MATURITY in cat:
        catalog["maturity"] = [float(x) for x in cat[C.MATURITY].to_numpy(np.float64)]
    catalog["like_label"] = fitted.stats_.like_label
    ids = {
        "train_user_ids": _plain(np.asarray(fitted.train_user_ids_)[train_rows]),
        "history_user_ids": _plain(data.user_ids[hist_users]),
    }
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
            "model": {"kind": fitted.model_.kind, "params": fitted.model_.get_params()},
            "serving": {k: getattr(rec, k) for k in _SERVING},
            "fitted_at": fitted.fitted_at_.isoformat(),
            "saved_at": now.isoformat(),
            "n_items": int(data.n_items),
            "has_timestamps": data.timestamps is not None,
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
