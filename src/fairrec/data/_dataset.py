"""The :class:`Dataset`: validated interactions and catalog, with dense id maps.

Construction and validation live in :mod:`fairrec.data._build` and
:mod:`fairrec.data._validate`; this module holds the object and its accessors and views.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec._checks import check_choice
from fairrec.data._build import build_catalog, from_frames
from fairrec.data.ids import IdMap
from fairrec.errors import DataError

__all__ = ["Dataset"]


class Dataset:
    """Implicit-feedback interactions plus a title catalog, with dense id maps.

    Build one with :meth:`from_pandas` (or :func:`fairrec.datasets.load_movielens`,
    :func:`fairrec.datasets.synthetic`). A dataset is treated as immutable: selection
    helpers return new datasets that share the id maps and catalog.

    Attributes
    ----------
    user_ids, item_ids : numpy.ndarray
        External ids in index order.
    users, items : numpy.ndarray of int32
        Viewer and title index of every event.
    weights : numpy.ndarray of float32
        Weight of every event (1.0 per play unless a weight column was given).
    timestamps : numpy.ndarray of datetime64[ns] or None
        Time of every event (naive UTC), or ``None`` when the data has no time column.
    ratings : numpy.ndarray of float32 or None
        Explicit feedback of every event next to its implicit weight (e.g. MovieLens stars),
        or ``None`` when the data has none. The weight still defines positives: an event of
        weight 0 is a title the viewer watched (or rated) without it counting as a positive.
    catalog : pandas.DataFrame
        One line per title in index order: ``item_id``, ``title``, ``genres`` (tuple of str),
        ``popularity`` and optionally ``maturity``.
    """

    def __init__(
        self,
        *,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        users: np.ndarray,
        items: np.ndarray,
        weights: np.ndarray,
        timestamps: np.ndarray | None,
        catalog: pd.DataFrame,
        ratings: np.ndarray | None = None,
    ) -> None:
        self.user_ids = user_ids
        self.item_ids = item_ids
        self.users = users
        self.items = items
        self.weights = weights
        self.timestamps = timestamps
        self.catalog = catalog
        self.ratings = ratings

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_pandas(
        cls,
        interactions: pd.DataFrame,
        catalog: pd.DataFrame | None = None,
        *,
        user_col: str = C.USER,
        item_col: str = C.ITEM,
        weight_col: str | None = None,
        time_col: str | None = None,
        strict: bool = True,
        rating_col: str | None = None,
    ) -> Dataset:
        """Validate pandas frames and build a dataset.

        Parameters
        ----------
        interactions : pandas.DataFrame
            One line per event (a play, a rating turned positive, ...).
        catalog : pandas.DataFrame, optional
            One line per title with ``item_col`` and optionally ``title``, ``genres`` (list of
            str or ``"|"``-separated string), ``popularity`` and ``maturity``. Without it the
            catalog is the set of titles seen in ``interactions``.
        user_col, item_col : str
            Id columns (ids may be str or int).
        weight_col : str, optional
            Non-negative finite implicit-feedback weights. Default: 1 per event.
            Duplicate (viewer, title) events are **summed** by :meth:`to_csr`.
        time_col : str, optional
            Event times: datetimes, ISO strings, or numbers read as Unix seconds.
        rating_col : str, optional
            Explicit feedback per event (finite numbers, e.g. stars), kept as
            :attr:`ratings` next to the implicit weight; reasons then state measured
            liking ("92 % of them rated it 4+") instead of plays only.
        strict : bool, default True
            If True, an interaction whose title is not in the catalog raises
            :class:`~fairrec.errors.DataError` listing up to 5 ids; if False such titles are
            added to the catalog (title = the id, no genres; if the catalog has a
            ``popularity`` column, their popularity is their number of events; if it has a
            ``maturity`` column, they get the catalog's highest maturity, so that a maturity
            exclusion never lets an unrated title through).

        Returns
        -------
        Dataset

        Raises
        ------
        fairrec.errors.DataError
            Missing columns, missing ids, invalid weights or timestamps, duplicated catalog
            ids, or unknown titles (with ``strict=True``).
        """
        fields, user_map, item_map = from_frames(
            interactions,
            catalog,
            user_col=user_col,
            item_col=item_col,
            weight_col=weight_col,
            time_col=time_col,
            strict=strict,
            rating_col=rating_col,
        )
        out = cls(**fields)
        out.__dict__["user_map"] = user_map  # cached_property values, computed on the way
        out.__dict__["item_map"] = item_map
        return out

    @staticmethod
    def _build_catalog(
        catalog: pd.DataFrame | None,
        item_col: str,
        item_ids: np.ndarray,
        strict: bool,
        *,
        item_canon: np.ndarray | None = None,
        item_counts: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Deprecated private name of :func:`fairrec.data.build_catalog` (kept for callers
        written before the ``fairrec.data`` package)."""
        return build_catalog(
            catalog, item_col, item_ids, strict, item_canon=item_canon, item_counts=item_counts
        )

    @property
    def n_users(self) -> int:
        """Number of viewers."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of titles in the catalog."""
        return len(self.item_ids)

    @property
    def n_events(self) -> int:
        """Number of interaction events."""
        return len(self.users)

    def __len__(self) -> int:
        return self.n_events

    def __repr__(self) -> str:
        return (
            f"Dataset(n_users={self.n_users}, n_items={self.n_items}, n_events={self.n_events}, "
            f"timestamps={'yes' if self.timestamps is not None else 'no'})"
        )

    @cached_property
    def user_map(self) -> IdMap:
        """The viewers' :class:`~fairrec.ids.IdMap` (ids matched by canonical form)."""
        return IdMap(self.user_ids, "user_id")

    @cached_property
    def item_map(self) -> IdMap:
        """The titles' :class:`~fairrec.ids.IdMap` (ids matched by canonical form)."""
        return IdMap(self.item_ids, "item_id")

    def user_index(self, ids: Any, on_unknown: str = "raise") -> np.ndarray:
        """Map external viewer ids to indices.

        Parameters
        ----------
        ids : scalar or array-like
            Any spelling of the ids (matched by canonical form, :mod:`fairrec.ids`).
        on_unknown : {"raise", "warn", "ignore"}
            ``"raise"``: an :class:`~fairrec.errors.UnknownUserError` naming the ids;
            ``"ignore"``: unknown ids map to ``-1``.
        """
        return _lookup(self.user_map, ids, on_unknown)

    def item_index(self, ids: Any, on_unknown: str = "raise") -> np.ndarray:
        """Map external title ids to indices (see :meth:`user_index`)."""
        return _lookup(self.item_map, ids, on_unknown)

    @cached_property
    def genre_names(self) -> list[str]:
        """Sorted list of the catalog's genres."""
        return sorted({g for gs in self.catalog[C.GENRES] for g in gs})

    @cached_property
    def item_genres(self) -> sp.csr_matrix:
        """Multi-hot ``(n_items, n_genres)`` float32 CSR matrix of the catalog's genres."""
        index = {g: j for j, g in enumerate(self.genre_names)}
        lists = self.catalog[C.GENRES].tolist()
        lengths = np.fromiter((len(g) for g in lists), dtype=np.int64, count=len(lists))
        cols = np.fromiter(
            (index[g] for gs in lists for g in gs), dtype=np.int64, count=int(lengths.sum())
        )
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        data = np.ones(len(cols), dtype=np.float32)
        m = sp.csr_matrix((data, cols, indptr), shape=(self.n_items, len(self.genre_names)))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    # ------------------------------------------------------------------ matrices and frames
    def to_csr(self, dtype: Any = np.float32) -> sp.csr_matrix:
        """The ``(n_users, n_items)`` interaction matrix; duplicate events are summed."""
        m = sp.csr_matrix(
            (self.weights.astype(dtype, copy=False), (self.users, self.items)),
            shape=(self.n_users, self.n_items),
        )
        m.sum_duplicates()
        return m

    def to_frame(self) -> pd.DataFrame:
        """Events as a frame with external ids: ``user_id, item_id, weight, timestamp``
        (and ``rating`` when the data has :attr:`ratings`)."""
        cols = {
            C.USER: self.user_ids[self.users],
            C.ITEM: self.item_ids[self.items],
            C.WEIGHT: self.weights,
            C.TIME: self.timestamps if self.timestamps is not None else pd.NaT,
        }
        if self.ratings is not None:
            cols[C.RATING] = self.ratings
        return pd.DataFrame(cols)

    # ------------------------------------------------------------------ selection
    def select(self, mask: np.ndarray) -> Dataset:
        """Keep the events where ``mask`` is True; id maps and catalog are shared.

        Parameters
        ----------
        mask : numpy.ndarray of bool, shape (n_events,)
        """
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (self.n_events,):
            raise DataError(
                f"select() needs a boolean mask of shape ({self.n_events},). "
                f"Got dtype {mask.dtype} and shape {mask.shape} instead."
            )
        out = Dataset(
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            users=self.users[mask],
            items=self.items[mask],
            weights=self.weights[mask],
            timestamps=self.timestamps[mask] if self.timestamps is not None else None,
            catalog=self.catalog,
            ratings=self.ratings[mask] if self.ratings is not None else None,
        )
        for shared in ("user_map", "item_map"):  # same ids: the maps are shared too
            if shared in self.__dict__:
                out.__dict__[shared] = self.__dict__[shared]
        return out

    def event_mask(
        self,
        *,
        users: Any = None,
        items: Any = None,
        since: Any = None,
        until: Any = None,
    ) -> np.ndarray:
        """Boolean mask over events: viewers in ``users`` (external ids or a bool mask over
        viewer indices), titles in ``items``, and ``since <= time < until``."""
        mask = np.ones(self.n_events, dtype=bool)
        if users is not None:
            umask = self._as_index_mask(users, self.n_users, self.user_index)
            mask &= umask[self.users]
        if items is not None:
            imask = self._as_index_mask(items, self.n_items, self.item_index)
            mask &= imask[self.items]
        if since is not None or until is not None:
            if self.timestamps is None:
                raise DataError("This dataset has no timestamps; it cannot be filtered by time.")
            if since is not None:
                mask &= self.timestamps >= _to_naive_utc(since)
            if until is not None:
                mask &= self.timestamps < _to_naive_utc(until)
        return mask

    def filter(self, **kwargs: Any) -> Dataset:
        """:meth:`select` the events that :meth:`event_mask` keeps (same keywords)."""
        return self.select(self.event_mask(**kwargs))

    @staticmethod
    def _as_index_mask(sel: Any, n: int, lookup: Any) -> np.ndarray:
        arr = np.asarray(sel)
        if arr.dtype == bool and arr.shape == (n,):
            return arr
        idx = lookup(arr if arr.ndim else [sel], on_unknown="ignore")
        out = np.zeros(n, dtype=bool)
        out[idx[idx >= 0]] = True
        return out

    # ------------------------------------------------------------------ events by viewer
    @cached_property
    def events_by_user(self) -> tuple[np.ndarray, np.ndarray]:
        """The events grouped by viewer, as ``(order, indptr)``.

        ``order[indptr[u] : indptr[u + 1]]`` are the positions of viewer index ``u``'s events,
        in event order (CSR-style: ``indptr`` has ``n_users + 1`` entries). Computed once per
        dataset; the arrays are shared, do not modify them.

        Examples
        --------
        >>> ds = Dataset.from_pandas(pd.DataFrame({"user_id": ["a", "b", "a"], "item_id": [1, 2, 3]}))
        >>> order, indptr = ds.events_by_user
        >>> order[indptr[0] : indptr[1]].tolist()
        [0, 2]
        """
        order = np.argsort(self.users, kind="stable")
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.users, minlength=self.n_users), out=indptr[1:])
        order.flags.writeable = False
        indptr.flags.writeable = False
        return order, indptr

    @property
    def _by_user(self) -> tuple[np.ndarray, np.ndarray]:
        """Deprecated private name of :attr:`events_by_user`."""
        return self.events_by_user

    def events_of(self, user: int) -> np.ndarray:
        """Event positions of one viewer index, in event order."""
        order, indptr = self.events_by_user
        return order[indptr[user] : indptr[user + 1]]


def _to_naive_utc(t: Any) -> np.datetime64:
    ts = pd.Timestamp(t)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_datetime64()


def _lookup(idmap: IdMap, ids: Any, on_unknown: str) -> np.ndarray:
    check_choice(on_unknown, "on_unknown", "Dataset", ("raise", "warn", "ignore"))
    return idmap.positions(ids, on_unknown=on_unknown)
