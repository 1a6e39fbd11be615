"""The shared preprocessing of every metric: validated frames as integer codes (:class:`_Ctx`),
and the per-viewer result type (:class:`_Res`) the kernels return."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec._checks import check_int, listing
from fairrec.errors import DataError, ParameterError, param_error
from fairrec.metrics._inputs import (
    ItemFeatures,
    _check_frame,
    _duplicates,
    _factorize,
    _ranks,
)
from fairrec.metrics._similarity import _Similarity


class _Ctx:
    """Validated inputs mapped once to integer codes, with lazily derived arrays.

    ``lst`` is the list frame: recommendations (``rank``) or a page (``row``, ``position``).
    Lines are sorted by (viewer, rank) or (viewer, row, position) and cut at ``k``.
    """

    def __init__(
        self,
        lst: pd.DataFrame,
        truth: pd.DataFrame | None = None,
        train: pd.DataFrame | None = None,
        *,
        owner: str,
        k: int | None = None,
        catalog: Any = None,
        item_features: ItemFeatures | None = None,
        user_col: str = C.USER,
        item_col: str = C.ITEM,
        rank_col: str = C.RANK,
        page: bool = False,
        row_col: str = C.ROW,
        position_col: str = C.POSITION,
    ) -> None:
        self.owner = owner
        self.k = check_int(k, "k", owner, none=True)
        self.page = page
        self.item_features = item_features
        lst_name = "pages" if page else "recs"
        order_cols = [row_col, position_col] if page else [rank_col]
        _check_frame(lst, lst_name, [user_col, item_col, *order_cols])
        self.has_truth = truth is not None
        self.has_train = train is not None
        if truth is not None:
            _check_frame(truth, "truth", [user_col, item_col])
        if train is not None:
            _check_frame(train, "train", [user_col, item_col])
        empty = pd.Series([], dtype=object)
        truth_u = truth[user_col] if truth is not None else empty
        truth_i = truth[item_col] if truth is not None else empty
        train_u = train[user_col] if train is not None else empty
        train_i = train[item_col] if train is not None else empty
        self.has_catalog = catalog is not None
        if catalog is not None:
            if isinstance(catalog, (str, bytes)) or np.ndim(catalog) != 1:
                raise param_error("catalog", owner, "a 1-d array-like of item ids", catalog)
            cat = pd.Series(np.asarray(pd.Index(catalog).unique()))
        else:
            cat = empty
        (lu, tu, nu), self.user_index = _factorize(
            [(lst[user_col], lst_name), (truth_u, "truth"), (train_u, "train")], user_col
        )
        (li, ti, ni, ci), self.item_index = _factorize(
            [
                (lst[item_col], lst_name),
                (truth_i, "truth"),
                (train_i, "train"),
                (cat, "catalog"),
            ],
            item_col,
        )
        self.n_users = len(self.user_index)
        self.n_items = len(self.item_index)

        # ---- list frame: validate order columns, duplicates, cut at k, sort
        if page:
            row = _ranks(lst[row_col], row_col, lst_name, lowest=0)
            pos = _ranks(lst[position_col], position_col, lst_name, lowest=0)
            slot_key = (lu * (row.max(initial=0) + 1) + row) * (pos.max(initial=0) + 1) + pos
            dup = _duplicates(slot_key)
            if len(dup):
                raise DataError(
                    f"pages has {len(dup)} duplicated ({user_col}, {row_col}, {position_col}) "
                    f"slot(s), e.g. viewer {self.user_index[lu[dup[0]]]!r} row {row[dup[0]]} "
                    f"position {pos[dup[0]]}."
                )
            keep = np.ones(len(lu), bool) if self.k is None else pos < self.k
            order = np.lexsort((pos[keep], row[keep], lu[keep]))
            self.l_row = row[keep][order]
            self.l_pos = pos[keep][order]
            self.l_rank = np.zeros(len(order), np.int64)
        else:
            rank = _ranks(lst[rank_col], rank_col, lst_name, lowest=1)
            dup = _duplicates(lu * self.n_items + li)
            if len(dup):
                raise DataError(
                    f"recs has {len(dup)} duplicated ({user_col}, {item_col}) pair(s), e.g. "
                    f"viewer {self.user_index[lu[dup[0]]]!r} and title "
                    f"{self.item_index[li[dup[0]]]!r}. A list names each title once."
                )
            dup = _duplicates(lu * (rank.max(initial=0) + 1) + rank)
            if len(dup):
                raise DataError(
                    f"recs has {len(dup)} duplicated ({user_col}, {rank_col}) pair(s), e.g. "
                    f"viewer {self.user_index[lu[dup[0]]]!r} at rank {rank[dup[0]]}. "
                    "A list holds one title per rank."
                )
            keep = np.ones(len(lu), bool) if self.k is None else rank <= self.k
            order = np.lexsort((rank[keep], lu[keep]))
            self.l_rank = rank[keep][order]
            self.l_row = np.zeros(len(order), np.int64)
            self.l_pos = self.l_rank - 1
        self.l_user = lu[keep][order]
        self.l_item = li[keep][order]

        # ---- truth: distinct pairs
        tkey = np.unique(tu * self.n_items + ti)
        self.t_key = tkey
        self.t_user = tkey // self.n_items if self.n_items else tkey
        self.t_item = tkey % self.n_items if self.n_items else tkey
        # ---- train: every event (popularity counts events)
        self.tr_user = nu
        self.tr_item = ni
        self.catalog_codes = np.unique(ci)

    # ------------------------------------------------------------------ derived arrays
    @cached_property
    def l_len(self) -> np.ndarray:
        return np.bincount(self.l_user, minlength=self.n_users)

    @cached_property
    def t_len(self) -> np.ndarray:
        return np.bincount(self.t_user, minlength=self.n_users)

    @cached_property
    def hit(self) -> np.ndarray:
        """Per list line: is the (viewer, title) pair in truth?"""
        return np.isin(self.l_user * self.n_items + self.l_item, self.t_key)

    @cached_property
    def truth_users(self) -> np.ndarray:
        return np.flatnonzero(self.t_len > 0)

    @cached_property
    def list_users(self) -> np.ndarray:
        return np.flatnonzero(self.l_len > 0)

    @cached_property
    def item_counts(self) -> np.ndarray:
        """Train events per title (code space)."""
        return np.bincount(self.tr_item, minlength=self.n_items).astype(np.float64)

    @cached_property
    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (viewer, title) pairs of train, sorted by viewer."""
        key = np.unique(self.tr_user * self.n_items + self.tr_item)
        return key // max(self.n_items, 1), key % max(self.n_items, 1)

    @cached_property
    def h_len(self) -> np.ndarray:
        return np.bincount(self.history[0], minlength=self.n_users)

    @cached_property
    def profile_users(self) -> np.ndarray:
        """Viewers of the list frame with at least one train interaction."""
        return np.flatnonzero((self.l_len > 0) & (self.h_len > 0))

    @cached_property
    def catalog_mask(self) -> np.ndarray:
        """Titles of the catalog: ``catalog`` if given, else train titles plus listed titles."""
        mask = np.zeros(self.n_items, bool)
        if self.has_catalog:
            mask[self.catalog_codes] = True
            outside = ~mask[self.l_item]
            if outside.any():
                bad = pd.unique(self.item_index[self.l_item[outside]])
                raise DataError(
                    f"{len(bad)} recommended title(s) are not in the catalog: {listing(bad)}."
                )
        else:
            if not self.has_train:
                raise ParameterError(
                    f"{self.owner} needs the catalog: pass train (its titles are the catalog) "
                    "or catalog=<item ids>."
                )
            mask[self.tr_item] = True
            mask[self.l_item] = True
        return mask

    def require_train(self) -> None:
        if not self.has_train:
            raise ParameterError(f"{self.owner} needs the train interactions (train=...).")

    def require_truth(self) -> None:
        if not self.has_truth:
            raise ParameterError(f"{self.owner} needs the ground truth (truth=...).")

    @cached_property
    def similarity(self) -> _Similarity:
        return _Similarity(self, self.item_features)


@dataclass(frozen=True)
class _Res:
    """Per-viewer values over a population plus the reported aggregate."""

    users: np.ndarray | None  # user codes, or None for a global-only metric
    values: np.ndarray | None
    value: float


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def _per_user(users: np.ndarray, values: np.ndarray) -> _Res:
    keep = ~np.isnan(values)
    users, values = users[keep], values[keep]
    return _Res(users, values, _mean(values))


def _finish(ctx: _Ctx, res: _Res, per_user: bool, name: str) -> float | pd.Series:
    if not per_user:
        return res.value
    if res.users is None:
        raise ParameterError(
            f"{name} is a property of all lists together; it has no per-viewer values "
            "(per_user=True is not available)."
        )
    return pd.Series(res.values, index=ctx.user_index[res.users], name=name, dtype=np.float64)


def _columns(user_col: str, item_col: str, rank_col: str) -> dict[str, str]:
    return {"user_col": user_col, "item_col": item_col, "rank_col": rank_col}
