"""The fitted state: everything ``fit`` (or ``load`` / ``forget`` / ``add_titles``)
produces, built in one place and swapped in as one reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.data import Dataset
from fairrec.ids import canon_ids
from fairrec.models import CandidateModel
from fairrec.rows import default_rows
from fairrec.serving.gate import (
    CatalogIndex,
)

__all__ = [
    "FittedState",
    "FITTED_FIELDS",
    "install",
    "unit_rows",
    "object_array",
    "id_column",
    "positives",
    "item_ratings",
    "ratings_label",
]


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def object_array(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = [v.item() if isinstance(v, np.generic) else v for v in values]
    return out


def id_column(ids: Sequence[Any], like: np.ndarray) -> np.ndarray:
    """Viewer ids as a column of the data's id dtype (int64 when the data's ids and these
    are all ints), so fairrec's frames join with the data's own frames without casts."""
    if like.dtype.kind in "iu" and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in ids
    ):
        return np.asarray(ids, dtype=np.int64)
    return object_array(list(ids))


@dataclass(frozen=True)
class FittedState:
    """Everything ``fit`` (or ``load``/``forget``) produces, swapped in as one reference.

    A request takes the reference once and reads only from it, so a concurrent ``forget``
    or refit never gives it half-old, half-new state.
    """

    data_: Dataset
    catalog_: CatalogIndex
    train_matrix_: sp.csr_matrix
    train_oldest_: sp.csr_matrix | None
    train_user_ids_: np.ndarray
    train_index_: dict
    vectors_: np.ndarray
    genres_: np.ndarray
    popularity_: np.ndarray
    log_popularity_: np.ndarray
    pop_pct_: np.ndarray
    pop_order_: np.ndarray
    titles_: np.ndarray
    titles_py_: list
    item_ids_py_: list
    item_ids_obj_: np.ndarray
    genre_tuples_: list
    fitted_at_: pd.Timestamp
    row_kinds_: list
    model_: CandidateModel
    vocab_: Any
    stats_: Any
    item_ratings_: Any


FITTED_FIELDS = frozenset(f.name for f in fields(FittedState))


def positives(m: sp.csr_matrix) -> sp.csr_matrix:
    """``m`` without its stored zeros (titles watched without being a positive): what a
    model is fitted on and scores from."""
    if m.nnz and not (m.data > 0).all():
        m = m.copy()
        m.data[m.data < 0] = 0
        m.eliminate_zeros()
    return m


def item_ratings(data: Dataset, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Sum and count of explicit ratings per title over the events in ``mask``."""
    if data.ratings is None:
        return None
    items = data.items[mask]
    total = np.bincount(items, weights=data.ratings[mask], minlength=data.n_items)
    return total, np.bincount(items, minlength=data.n_items)


def ratings_label(data: Dataset) -> str | None:
    """``"rated it 4+"`` when the ratings split positives from the rest at 4 stars."""
    r = data.ratings
    if r is None or len(r) == 0:
        return None
    pos = data.weights > 0
    if not pos.any():
        return None
    t = float(r[pos].min())
    if (~pos).any() and not float(r[~pos].max()) < t:
        return None
    return f"rated it {t:g}+"


def install(
    rec: Any,
    *,
    model: CandidateModel,
    data: Dataset,
    consent: Any,
    train: sp.csr_matrix,
    train_user_ids: np.ndarray,
    fitted_at: pd.Timestamp,
    train_oldest: sp.csr_matrix | None = None,
    item_ratings: tuple[np.ndarray, np.ndarray] | None = None,
    like_label: str | None = None,
) -> None:
    """Set the fitted state (shared by ``fit`` and ``load``).

    ``train`` holds the consented, in-window training events; a stored 0 is a title
    watched without being a positive (the model was fitted on the positives only).
    """
    from fairrec.evidence import title_stats, with_label
    from fairrec.vocab import Vocabulary

    catalog = CatalogIndex.from_dataset(data)
    vectors = model.item_vectors
    genres = catalog.item_genres.toarray().astype(np.float32)
    if vectors is None:
        vectors = genres if genres.shape[1] else np.ones((data.n_items, 1), np.float32)
    stats = title_stats(train, item_ratings)
    label = like_label if like_label is not None else ratings_label(data)
    if label is not None:
        stats = with_label(stats, label)
    # popularity: training viewers who watched the title (positive or not)
    popularity = stats.watchers.astype(np.float64)
    pop_pct = stats.pop_share
    titles = data.catalog[C.TITLE].to_numpy(dtype=str)
    item_ids_py = data.item_ids.tolist()
    fitted = FittedState(
        data_=data,
        catalog_=catalog,
        train_matrix_=train,
        train_oldest_=train_oldest,
        train_user_ids_=train_user_ids,
        train_index_={
            c: i for i, c in enumerate(canon_ids(train_user_ids, "train_user_ids").tolist())
        }
        if len(train_user_ids)
        else {},
        vectors_=unit_rows(vectors),
        genres_=genres,
        popularity_=popularity,
        log_popularity_=np.log1p(popularity).astype(np.float32),
        pop_pct_=pop_pct,
        pop_order_=np.argsort(-popularity, kind="stable"),
        titles_=titles,
        titles_py_=[str(t) for t in titles],
        item_ids_py_=item_ids_py,
        item_ids_obj_=object_array(item_ids_py),
        genre_tuples_=[tuple(g) for g in data.catalog[C.GENRES]],
        fitted_at_=fitted_at,
        row_kinds_=list(rec.rows) if rec.rows is not None else default_rows(),
        model_=model,
        vocab_=Vocabulary.from_dataset(data),
        stats_=stats,
        item_ratings_=item_ratings,
    )
    rec._live_catalog(data.catalog)
    with rec._lock:
        rec._consent = consent
        rec._fitted = fitted  # one reference swap: readers see all old or all new
