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
from fairrec.data.ids import canon_ids
from fairrec.models import CandidateModel
from fairrec.rows import default_rows
from fairrec.serving.gate import (
    CatalogIndex,
)

__all__ = [
    "FittedState",
    "FITTED_FIELDS",
    "install",
    "plain",
    "state_arrays",
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
    """Everything a fitted :class:`~fairrec.recommender.Recommender` serves from.

    Made by ``fit``, ``from_fitted``, ``load``, ``forget`` and ``add_titles`` (always through
    :meth:`build`) and swapped in as one reference: a request takes the reference once and
    reads only from it, so a concurrent ``forget`` or refit never gives it half-old,
    half-new state. It is immutable; a change builds a new state. ``rec.fitted_state_`` is
    the state in service, and the fitted attributes of a Recommender (``rec.model_``,
    ``rec.data_``, ...) read from it.

    :meth:`to_arrays` / :meth:`from_arrays` turn it into plain numpy arrays plus JSON-able
    metadata and back (no pickle); model files are these arrays, reduced first to what the
    consent ledger allows at save time (:mod:`fairrec.serving.persist`).

    Attributes
    ----------
    data_ : Dataset
        The events and catalog served from (the viewers' histories).
    catalog_ : CatalogIndex
        Catalog arrays of the gate (genres, maturity, id positions).
    train_matrix_ : scipy.sparse.csr_matrix, shape (n_train, n_items)
        The consented, in-window training events, one row per training viewer; a stored 0
        is a title watched without being a positive.
    train_oldest_ : scipy.sparse.csr_matrix or None
        Time (int64 ns) of the oldest play in each cell of ``train_matrix_`` (None without
        timestamps).
    train_user_ids_ : numpy.ndarray
        External id of each training row.
    train_index_ : dict
        Canonical id (:func:`fairrec.ids.canon_id`) -> training row.
    vectors_ : numpy.ndarray, shape (n_items, d)
        Unit item vectors for similarity (the model's, else multi-hot genres).
    genres_ : numpy.ndarray, shape (n_items, n_genres)
        Multi-hot genres (float32).
    popularity_, log_popularity_, pop_pct_, pop_order_ : numpy.ndarray
        Training viewers who watched each title, its log1p, its share, the titles by
        decreasing popularity.
    titles_, titles_py_, item_ids_py_, item_ids_obj_, genre_tuples_ : array or list
        The catalog's titles, ids and genres in the forms serving writes them.
    fitted_at_ : pandas.Timestamp
        Time of fitting (naive UTC).
    row_kinds_ : list of RowKind
        The page's row configuration.
    model_ : CandidateModel
        The fitted candidate model.
    vocab_ : Vocabulary
        Genre, title and maturity names of the catalog (for consent states).
    stats_ : TitleStats
        Per-title statistics of the training rows (evidence on reasons).
    item_ratings_ : tuple of numpy.ndarray or None
        Per-title sum and count of explicit ratings of the training events.
    tastes_ : TasteGroups
        The titles' taste clusters (from ``vectors_`` only) and the training viewers grouped
        by main taste with per-group liked counts (:class:`fairrec.rows.evidence.TasteGroups`;
        derived from ``train_matrix_`` on every build, never saved).
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
    tastes_: Any

    @classmethod
    def build(
        cls,
        *,
        model: CandidateModel,
        data: Dataset,
        train: sp.csr_matrix,
        train_user_ids: Any,
        fitted_at: pd.Timestamp,
        train_oldest: sp.csr_matrix | None = None,
        item_ratings: tuple[np.ndarray, np.ndarray] | None = None,
        like_label: str | None = None,
        row_kinds: Sequence[Any] | None = None,
        train_user_canon: np.ndarray | None = None,
    ) -> FittedState:
        """The state of ``model`` fitted on ``train`` (everything else derived here).

        Parameters
        ----------
        model : CandidateModel
            Fitted on the positives of ``train``, over ``data``'s titles.
        data : Dataset
            Histories to serve from and the catalog.
        train : scipy.sparse.csr_matrix
            The consented, in-window training events (one row per training viewer).
        train_user_ids : array-like
            External id of each row of ``train``.
        fitted_at : pandas.Timestamp
        train_oldest : scipy.sparse.csr_matrix, optional
            Oldest play time (int64 ns) per cell of ``train``.
        item_ratings : tuple of numpy.ndarray, optional
            Per-title sum and count of explicit ratings of the training events.
        like_label : str, optional
            How a positive is described in reasons (default: read from ``data``'s ratings).
        row_kinds : sequence of RowKind, optional
            Default :func:`fairrec.rows.default_rows`.
        train_user_canon : numpy.ndarray, optional
            The canonical form of each of ``train_user_ids`` when the caller has it (a fit:
            the data's id map keeps them); computed here otherwise.
        """
        from fairrec.rows.evidence import taste_clusters, taste_groups, title_stats, with_label
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
        titles = data.catalog[C.TITLE].to_numpy(dtype=str)
        item_ids_py = data.item_ids.tolist()
        train_user_ids = np.asarray(train_user_ids)
        unit = unit_rows(vectors)
        return cls(
            data_=data,
            catalog_=catalog,
            train_matrix_=train,
            train_oldest_=train_oldest,
            train_user_ids_=train_user_ids,
            train_index_={
                c: i
                for i, c in enumerate(
                    (
                        train_user_canon
                        if train_user_canon is not None
                        else canon_ids(train_user_ids, "train_user_ids")
                    ).tolist()
                )
            }
            if len(train_user_ids)
            else {},
            vectors_=unit,
            genres_=genres,
            popularity_=popularity,
            log_popularity_=np.log1p(popularity).astype(np.float32),
            pop_pct_=stats.pop_share,
            pop_order_=np.argsort(-popularity, kind="stable"),
            titles_=titles,
            titles_py_=[str(t) for t in titles],
            item_ids_py_=item_ids_py,
            item_ids_obj_=object_array(item_ids_py),
            genre_tuples_=[tuple(g) for g in data.catalog[C.GENRES]],
            fitted_at_=fitted_at,
            row_kinds_=list(row_kinds) if row_kinds is not None else default_rows(),
            model_=model,
            vocab_=Vocabulary.from_dataset(data),
            stats_=stats,
            item_ratings_=item_ratings,
            tastes_=taste_groups(train, taste_clusters(unit)),
        )

    @property
    def like_label(self) -> str | None:
        """How a positive is described in reasons (e.g. ``"rated it 4+"``), or None."""
        return self.stats_.like_label

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The state as plain numpy arrays and JSON-able metadata (the model-file layout).

        Returns
        -------
        arrays : dict of str to numpy.ndarray
            ``model/<name>`` (:meth:`CandidateModel.get_arrays
            <fairrec.models.CandidateModel.get_arrays>`), ``train/data``, ``train/indices``,
            ``train/indptr``, ``train/oldest`` (with timestamps), ``history/users``,
            ``history/items``, ``history/weights``, ``history/timestamps`` (with
            timestamps), ``history/ratings`` (with ratings), ``stats/rating_sum`` and
            ``stats/rating_count`` (with rating sums); numeric dtypes only.
        meta : dict
            ``model`` (``kind``, ``params``), ``fitted_at`` (ISO), ``n_items``,
            ``has_timestamps``, ``catalog`` (``item_ids``, ``titles``, ``genres``,
            ``popularity``, ``maturity`` when rated, ``like_label``) and ``ids``
            (``train_user_ids``, ``history_user_ids``): ``json.dumps`` writes it as is.

        Examples
        --------
        >>> import fairrec as fr
        >>> data = fr.datasets.synthetic(n_users=60, n_items=40, seed=0)
        >>> rec = fr.Recommender(model=fr.models.Popularity()).fit(data)
        >>> arrays, meta = rec.fitted_state_.to_arrays()
        >>> back = fr.serving.FittedState.from_arrays(arrays, meta)
        >>> (back.train_matrix_ != rec.train_matrix_).nnz
        0
        """
        return state_arrays(
            model=self.model_,
            data=self.data_,
            train=self.train_matrix_,
            train_user_ids=self.train_user_ids_,
            fitted_at=self.fitted_at_,
            train_oldest=self.train_oldest_,
            item_ratings=self.item_ratings_,
            like_label=self.like_label,
        )

    @classmethod
    def from_arrays(
        cls,
        arrays: dict[str, np.ndarray],
        meta: dict[str, Any],
        *,
        row_kinds: Sequence[Any] | None = None,
    ) -> FittedState:
        """Rebuild a state from :meth:`to_arrays` output, checking every array and entry.

        Parameters
        ----------
        arrays, meta
            As :meth:`to_arrays` returns them (e.g. read back from a model file).
        row_kinds : sequence of RowKind, optional
            The row configuration (not part of the arrays; default
            :func:`fairrec.rows.default_rows`).

        Raises
        ------
        ModelFileError
            An array or entry is missing, malformed, or disagrees with another (each
            message names it), or the model cannot score with its arrays.
        """
        from fairrec.serving.load import state_parts

        return cls.build(**state_parts(arrays, meta), row_kinds=row_kinds)


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


def state_arrays(
    *,
    model: CandidateModel,
    data: Dataset,
    train: sp.csr_matrix,
    train_user_ids: Any,
    fitted_at: pd.Timestamp,
    train_oldest: sp.csr_matrix | None = None,
    item_ratings: tuple[np.ndarray, np.ndarray] | None = None,
    like_label: str | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:meth:`FittedState.to_arrays` of the state :meth:`FittedState.build` would make of
    these parts, without building it (what a model file writes)."""
    arrays: dict[str, np.ndarray] = {
        f"model/{k}": np.asarray(v) for k, v in model.get_arrays().items()
    }
    arrays.update(
        {
            "train/data": train.data.astype(np.float32),
            "train/indices": train.indices.astype(np.int64),
            "train/indptr": train.indptr.astype(np.int64),
            "history/users": data.users.astype(np.int64),
            "history/items": data.items.astype(np.int64),
            "history/weights": data.weights.astype(np.float32),
        }
    )
    if train_oldest is not None:
        arrays["train/oldest"] = train_oldest.data.astype(np.int64)
    if data.timestamps is not None:
        arrays["history/timestamps"] = data.timestamps.astype("datetime64[ns]").view(np.int64)
    if data.ratings is not None:
        arrays["history/ratings"] = np.asarray(data.ratings, dtype=np.float64)
    if item_ratings is not None:
        arrays["stats/rating_sum"] = np.asarray(item_ratings[0], dtype=np.float64)
        arrays["stats/rating_count"] = np.asarray(item_ratings[1], dtype=np.int64)
    cat = data.catalog
    popularity = (
        cat[C.POPULARITY].to_numpy(np.float64)
        if C.POPULARITY in cat
        else np.bincount(train.indices, minlength=data.n_items).astype(np.float64)
    )
    catalog: dict[str, Any] = {
        "item_ids": plain(data.item_ids),
        "titles": cat[C.TITLE].astype(str).tolist(),
        "genres": [list(g) for g in cat[C.GENRES].tolist()],
        "popularity": [float(x) for x in popularity],
    }
    if C.MATURITY in cat:
        catalog["maturity"] = [float(x) for x in cat[C.MATURITY].to_numpy(np.float64)]
    catalog["like_label"] = like_label
    meta = {
        "model": {"kind": model.kind, "params": model.get_params()},
        "fitted_at": fitted_at.isoformat(),
        "n_items": int(data.n_items),
        "has_timestamps": data.timestamps is not None,
        "catalog": catalog,
        "ids": {
            "train_user_ids": plain(np.asarray(train_user_ids)),
            "history_user_ids": plain(data.user_ids),
        },
    }
    return arrays, meta


def plain(values: np.ndarray) -> list[Any]:
    """An id array as a JSON-able list (numpy scalars as Python ints / strs)."""
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(values).tolist()]


def install(rec: Any, fitted: FittedState, consent: Any) -> None:
    """Swap ``fitted`` (and the ledger in force) into ``rec``: one reference swap, so readers
    see all old or all new (shared by ``fit``, ``load``, ``forget`` and ``add_titles``)."""
    rec._live_catalog(fitted.data_.catalog)
    with rec._lock:
        rec._consent = consent
        rec._fitted = fitted
