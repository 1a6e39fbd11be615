"""The consent gate: which events may train the model, and what a request may use.

Two gates, one rule — data is used only for the purpose its viewer consented to, only inside
the retention window:

* :func:`training_events` keeps the events of viewers who granted ``training`` (and are not
  erased), newer than the retention cut-off. The training matrix built from them has one row
  per such viewer and none for anyone else, so a viewer who withdrew leaves no trace, not
  even an empty row that would shift a seeded initialisation.
* :func:`serving_batch` turns one immutable consent snapshot per viewer into everything a
  page may use: the consented, in-window history (empty without ``personalization``), the
  stated interests (only with ``stated_interests``), and the titles that must never appear
  (exclusions, maturity cap, dislikes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.consent.purposes import PERSONALIZATION, STATED_INTERESTS, TRAINING
from fairrec.data import Dataset
from fairrec.data.ids import IdMap

# the training matrix's functions moved to fairrec.serving.training; importable from here as
# before (documented there)
from fairrec.serving.training import (  # noqa: F401
    NO_EVENT,
    cell_oldest,
    training_cells,
    training_matrix,
    training_oldest,
)

__all__ = [
    "PERSONALIZATION",
    "TRAINING",
    "STATED_INTERESTS",
    "CatalogIndex",
    "ServingBatch",
    "retention_cutoff",
    "usable_events",
    "window_events",
    "training_events",
    "saved_training",
    "serving_batch",
]


#: Largest ``n_genres * n_items`` for which per-genre title masks are kept dense (bytes).
_DENSE_GENRE_LIMIT = 2**26


def retention_cutoff(now: pd.Timestamp, retention_days: float | None) -> np.datetime64 | None:
    """Oldest event time still usable at ``now`` (naive UTC), or None without a window."""
    if retention_days is None:
        return None
    ts = pd.Timestamp(now)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    try:
        return (ts - pd.Timedelta(days=retention_days)).to_datetime64()
    except (OverflowError, ValueError):  # incl. pandas' OutOfBounds errors
        # a window longer than datetime64[ns] can represent reaches back past every event
        return np.datetime64(np.iinfo(np.int64).min + 1, "ns")


def window_events(data: Dataset, now: pd.Timestamp, retention_days: float | None) -> np.ndarray:
    """Boolean mask over ``data``'s events inside the retention window at ``now``."""
    cutoff = retention_cutoff(now, retention_days)
    if cutoff is None:
        return np.ones(len(data.users), dtype=bool)
    return data.timestamps >= cutoff


def usable_events(
    data: Dataset, consent: Any, purpose: str, now: pd.Timestamp, retention_days: float | None
) -> np.ndarray:
    """Boolean mask over ``data``'s events that may be used for ``purpose`` at ``now``: the
    viewer grants ``purpose`` (and is not erased) and the event is inside the window.

    The one rule every batch path applies: the training matrix at fit time
    (:func:`training_events`) and what a model file holds at save time (histories for
    ``personalization``). A request applies it per viewer through :func:`serving_batch`.
    """
    # the data's canonical ids (computed once, kept by its id map): the ledger matches by
    # canonical form and takes them as they are
    allowed_users = np.asarray(consent.allowed_mask(data.user_map.canon, purpose), dtype=bool)
    mask = allowed_users[data.users]
    cutoff = retention_cutoff(now, retention_days)
    if cutoff is not None:
        mask &= data.timestamps >= cutoff
    return mask


def training_events(
    data: Dataset, consent: Any, now: pd.Timestamp, retention_days: float | None
) -> np.ndarray:
    """Boolean mask over ``data``'s events that the training gate lets through."""
    return usable_events(data, consent, TRAINING, now, retention_days)


def saved_training(
    train: sp.csr_matrix,
    oldest: sp.csr_matrix | None,
    train_user_ids: np.ndarray,
    consent: Any,
    now: pd.Timestamp,
    retention_days: float | None,
) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix | None]:
    """The training rows that may still be kept at ``now``: ``(matrix, row numbers, oldest)``.

    Rows of viewers with ``training`` consent now (never an erased one), cells whose oldest
    play is inside the retention window now; rows left empty are dropped. What a model
    file holds (:mod:`fairrec.serving.persist`).
    """
    ids = np.asarray(train_user_ids)
    keep = (
        np.asarray(consent.allowed_mask(ids, TRAINING), dtype=bool)
        if len(ids)
        else np.zeros(0, dtype=bool)
    )
    rows = np.flatnonzero(keep)
    sub = train[rows]
    old = oldest[rows] if oldest is not None else None
    cutoff = retention_cutoff(now, retention_days)
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
    return sub, rows[nonempty], old


@dataclass(frozen=True, eq=False)
class CatalogIndex:
    """Catalog arrays the gate needs, computed once per fit."""

    item_ids: np.ndarray
    genre_names: tuple[str, ...]
    item_genres: sp.csr_matrix  # (n_items, n_genres) multi-hot
    maturity: np.ndarray | None  # (n_items,) or None

    @classmethod
    def from_dataset(cls, data: Dataset) -> CatalogIndex:
        mat = data.catalog[C.MATURITY].to_numpy(np.float64) if C.MATURITY in data.catalog else None
        return cls(
            item_ids=data.item_ids,
            genre_names=tuple(data.genre_names),
            item_genres=data.item_genres.tocsc(),
            maturity=mat,
        )

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def genre_columns(self, names: Any) -> np.ndarray:
        lookup = {g: j for j, g in enumerate(self.genre_names)}
        return np.array(sorted({lookup[g] for g in names if g in lookup}), dtype=np.int64)

    def items_with_genres(self, names: Any) -> np.ndarray:
        """Boolean mask of titles having any of the named genres."""
        cols = self.genre_columns(names)
        if cols.size == 0:
            return np.zeros(self.n_items, dtype=bool)
        masks = self._genre_masks
        if masks is not None:
            return masks[cols[0]].copy() if cols.size == 1 else masks[cols].any(axis=0)
        return np.asarray(self.item_genres[:, cols].sum(axis=1)).ravel() > 0

    @cached_property
    def _genre_masks(self) -> np.ndarray | None:
        """``(n_genres, n_items)`` bool: the titles of each genre (None if too large).

        With non-negative weights a title has any of some genres exactly when its weights
        over them sum above zero, which is what the sparse fallback computes.
        """
        g = self.item_genres
        if len(self.genre_names) * self.n_items > _DENSE_GENRE_LIMIT or (
            g.nnz and not g.data.min() >= 0
        ):
            return None
        return np.ascontiguousarray(g.T.toarray() > 0)

    @cached_property
    def item_map(self) -> IdMap:
        """The titles' :class:`~fairrec.data.ids.IdMap`: the one id form shared with the
        data, the consent ledger and model files."""
        return IdMap(self.item_ids, "item_id")

    def item_positions(self, ids: Any) -> np.ndarray:
        """Indices of the titles named (any spelling of a str or int id); unknown ids are
        ignored."""
        if not ids:
            return np.empty(0, dtype=np.int64)
        pos = self.item_map.positions(list(ids))
        return pos[pos >= 0]

    def above_maturity(self, cap: Any) -> np.ndarray:
        """Titles rated above ``cap``. A cap that is not a number bans every rated title
        (the most restrictive reading of a limit fairrec cannot compare)."""
        if self.maturity is None:
            return np.zeros(self.n_items, dtype=bool)
        try:
            limit = float(cap)
        except (TypeError, ValueError):
            return np.ones(self.n_items, dtype=bool)
        return self.maturity > limit


@dataclass
class ServingBatch:
    """What a batch of page requests may use, derived from one consent snapshot per viewer.

    Attributes
    ----------
    user_ids : list
    states : list
        The consent snapshots the pages are built from (one consistent state per viewer).
    personalized : (u,) bool
        History may be used (``personalization`` granted now, viewer not erased).
    interests : (u,) bool
        Stated interests may be used (``stated_interests`` granted now).
    histories : csr (u, n_items)
        Consented, in-window history (empty rows where not personalized).
    recent : (u, H) int
        Distinct history titles, most recent first, ``-1`` padded (anchors, reasons).
    banned : (u, n_items) bool
        Titles that must never appear: exclusions, maturity cap, dislikes (with consent).
    liked_genres : (u, n_genres) bool
        Stated liked genres (only where ``interests``).
    liked_items : (u, n_items) bool
        Stated liked titles (only where ``interests``).
    """

    user_ids: list
    states: list
    personalized: np.ndarray
    interests: np.ndarray
    histories: sp.csr_matrix
    recent: np.ndarray
    banned: np.ndarray
    liked_genres: np.ndarray
    liked_items: np.ndarray

    def __len__(self) -> int:
        return len(self.user_ids)


def _history_rows(
    data: Dataset | None,
    user_idx: np.ndarray,
    allowed: np.ndarray,
    cutoff: np.datetime64 | None,
    n_items: int,
    n_recent: int,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Gather the allowed viewers' in-window events into a CSR and their recent titles."""
    u = len(user_idx)
    recent = np.full((u, n_recent), -1, dtype=np.int64)
    if data is None or u == 0:
        return sp.csr_matrix((u, n_items), dtype=np.float32), recent
    take = allowed & (user_idx >= 0)
    if not take.any():  # nobody's history may be used (or the data holds no viewer)
        return sp.csr_matrix((u, n_items), dtype=np.float32), recent
    if u == 1:
        got = _history_row(data, int(user_idx[0]), cutoff, n_items, n_recent, recent)
        if got is not None:
            return got
        ev = data.events_of(int(user_idx[0]))  # a title repeats: the general path
        rows = np.zeros(ev.size, dtype=np.int64)
    else:
        order, indptr = data.events_by_user
        safe = np.where(take, user_idx, 0)
        starts = np.where(take, indptr[safe], 0)
        counts = np.where(take, indptr[safe + 1] - indptr[safe], 0)
        rows = np.repeat(np.arange(u), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        ev = order[np.repeat(starts, counts) + offsets]
    when = data.timestamps[ev] if data.timestamps is not None else None
    if cutoff is not None and ev.size:
        keep = when >= cutoff
        rows, ev, when = rows[keep], ev[keep], when[keep]
    items = data.items[ev]
    if ev.size and n_recent > 0:
        # most recent first (event order breaks ties), distinct titles per viewer
        when = (
            np.asarray(when, dtype="datetime64[ns]").view(np.int64)
            if when is not None
            else ev.astype(np.int64)
        )
        o = np.lexsort((-ev, -when, rows))
        r, it = rows[o], items[o]
        first = _first_occurrences(r.astype(np.int64) * n_items + it)
        r, it = r[first], it[first]
        rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
        ok = rank < n_recent
        recent[r[ok], rank[ok]] = it[ok]
    return _rows_csr(data.weights[ev], items, rows, u, n_items), recent


def _history_row(
    data: Dataset,
    user: int,
    cutoff: np.datetime64 | None,
    n_items: int,
    n_recent: int,
    recent: np.ndarray,
) -> tuple[sp.csr_matrix, np.ndarray] | None:
    """:func:`_history_rows` of one allowed viewer (data index ``user``) whose in-window
    titles are distinct, on 1-d arrays: the same CSR and recent titles (written into
    ``recent``, ``(1, n_recent)``). None where a title repeats (the general path sums it)."""
    ev = data.events_of(user)
    when = data.timestamps[ev] if data.timestamps is not None else None
    if cutoff is not None and ev.size:
        keep = when >= cutoff
        ev, when = ev[keep], when[keep]
    items = data.items[ev]
    # the titles in ascending order; where none repeats, that is what ``sum_duplicates``
    # makes of the row (its indices sorted, nothing to sum), without building it
    order = np.argsort(items, kind="stable")
    sorted_items = items[order]
    if sorted_items.size > 1 and not (sorted_items[1:] != sorted_items[:-1]).all():
        return None
    if ev.size and n_recent > 0:
        # most recent first (event order breaks ties); distinct titles, none to drop
        when = (
            np.asarray(when, dtype="datetime64[ns]").view(np.int64)
            if when is not None
            else ev.astype(np.int64)
        )
        it = items[np.lexsort((-ev, -when))[:n_recent]]
        recent[0, : it.size] = it
    index = np.int32 if ev.size < 2**31 else np.int64
    hist = sp.csr_matrix(
        (
            data.weights[ev[order]].astype(np.float32, copy=False),
            sorted_items.astype(index, copy=False),
            np.array([0, ev.size], dtype=index),
        ),
        shape=(1, n_items),
    )
    return hist, recent


def _rows_csr(
    weights: np.ndarray, items: np.ndarray, rows: np.ndarray, u: int, n_items: int
) -> sp.csr_matrix:
    """The ``(u, n_items)`` float32 CSR of events grouped by viewer (``rows`` ascending),
    repeated titles summed and each row's titles sorted."""
    # rows are grouped by viewer, in order: the (unsorted, duplicated) CSR arrays are direct
    row_ptr = np.zeros(u + 1, dtype=np.int32 if rows.size < 2**31 else np.int64)
    np.cumsum(np.bincount(rows, minlength=u), out=row_ptr[1:])
    hist = sp.csr_matrix((weights, items, row_ptr), shape=(u, n_items), dtype=np.float32)
    hist.sum_duplicates()  # sorts each row's titles and sums repeats, as a COO input would
    return hist


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Ascending positions of the first occurrence of each distinct value in ``keys``."""
    perm = np.argsort(keys, kind="stable")
    sorted_keys = keys[perm]
    first = np.empty(keys.size, dtype=bool)
    first[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    out = perm[first]
    out.sort()
    return out


def serving_batch(
    user_ids: Sequence[Any],
    states: Sequence[Any],
    *,
    data: Dataset | None,
    catalog: CatalogIndex,
    now: pd.Timestamp,
    retention_days: float | None,
    n_recent: int = 20,
    user_idx: np.ndarray | None = None,
) -> ServingBatch:
    """Apply the serving gate to a batch of viewers given their consent snapshots.

    ``user_idx`` (optional) is each viewer's index in ``data`` (``-1``: none), when the caller
    has already looked the ids up (by canonical form, :class:`fairrec.ids.IdMap`)."""
    u = len(user_ids)
    n_items = catalog.n_items
    n_genres = len(catalog.genre_names)
    personalized = np.array(
        [PERSONALIZATION in s.purposes and not s.forgotten for s in states], dtype=bool
    )
    interests = np.array(
        [STATED_INTERESTS in s.purposes and not s.forgotten for s in states], dtype=bool
    )
    if data is None or u == 0:
        user_idx = np.full(u, -1, dtype=np.int64)
    elif user_idx is not None:
        user_idx = np.asarray(user_idx, dtype=np.int64)
    elif u == 1:  # what user_index(..., on_unknown="ignore") returns, without its overhead
        user_idx = np.array([data.user_map.position(next(iter(user_ids)))], dtype=np.int64)
    else:
        user_idx = data.user_index(list(user_ids), on_unknown="ignore")
    cutoff = retention_cutoff(now, retention_days)
    histories, recent = _history_rows(data, user_idx, personalized, cutoff, n_items, n_recent)
    # a viewer with consent but no usable history is a cold start: the non-personal page
    personalized &= np.diff(histories.indptr) > 0

    banned = np.zeros((u, n_items), dtype=bool)
    liked_genres = np.zeros((u, n_genres), dtype=bool)
    liked_items = np.zeros((u, n_items), dtype=bool)
    # Consent details are per-viewer sets; only viewers who have any are visited.
    for row, s in enumerate(states):
        if s.excluded_genres:
            banned[row] |= catalog.items_with_genres(s.excluded_genres)
        if s.excluded_items:
            banned[row, catalog.item_positions(s.excluded_items)] = True
        if s.max_maturity is not None:
            banned[row] |= catalog.above_maturity(s.max_maturity)
        if interests[row]:
            if s.disliked_genres:
                banned[row] |= catalog.items_with_genres(s.disliked_genres)
            if s.disliked_items:
                banned[row, catalog.item_positions(s.disliked_items)] = True
            if s.liked_genres:
                liked_genres[row, catalog.genre_columns(s.liked_genres)] = True
            if s.liked_items:
                liked_items[row, catalog.item_positions(s.liked_items)] = True
    return ServingBatch(
        user_ids=list(user_ids),
        states=list(states),
        personalized=personalized,
        interests=interests,
        histories=histories,
        recent=recent,
        banned=banned,
        liked_genres=liked_genres,
        liked_items=liked_items,
    )
