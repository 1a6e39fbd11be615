"""``Dataset``: interactions and catalog, external ids mapped to dense indices, validated.

External ids (str or int) exist only at the API edge; inside fairrec everything is a dense
index: viewers ``0 .. n_users-1`` in order of first appearance, titles ``0 .. n_items-1`` in
catalog order. Interactions are kept event by event (one entry per play, with its weight and
timestamp) so that consent and retention can be applied per event; :meth:`Dataset.to_csr`
sums the weights of duplicate (viewer, title) events into one cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.errors import DataError, ParameterError
from fairrec.ids import IdMap, canon_ids

__all__ = ["Dataset", "parse_genres"]

_MAX_LISTED = 5


def _listing(values: Iterable[Any]) -> str:
    vals = list(values)
    shown = ", ".join(
        repr(v.item() if isinstance(v, np.generic) else v) for v in vals[:_MAX_LISTED]
    )
    more = f" (and {len(vals) - _MAX_LISTED} more)" if len(vals) > _MAX_LISTED else ""
    return shown + more


def _require_frame(obj: Any, what: str) -> pd.DataFrame:
    if not isinstance(obj, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame. Got {type(obj).__name__} instead.")
    return obj


def _require_columns(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"{what} has no column {_listing(missing)}; its columns are {list(map(str, df.columns))}."
        )
    doubled = [c for c in dict.fromkeys(cols) if int((df.columns == c).sum()) > 1]
    if doubled:
        raise DataError(f"{what} has several columns named {_listing(doubled)}; keep one of each.")


def _ids(series: pd.Series, col: str, what: str) -> np.ndarray:
    """Validate an id column: no missing values, hashable scalars; returns an object/int array."""
    null = series.isna().to_numpy()
    if null.any():
        rows = np.flatnonzero(null)
        raise DataError(
            f"Column {col!r} of {what} has {len(rows)} missing id(s) (NaN/None) at row(s) "
            f"{_listing(rows)}."
        )
    values = series.to_numpy()
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            bad = values[~np.isfinite(values) | (values != np.round(values))]
            raise DataError(
                f"Column {col!r} of {what} holds non-integer float ids: {_listing(bad)}."
            )
        huge = np.abs(values) >= 2.0**63  # would wrap around silently in int64
        if huge.any():
            raise DataError(
                f"Column {col!r} of {what} holds float ids too large for 64-bit integers: "
                f"{_listing(values[huge])}."
            )
        values = values.astype(np.int64)
    elif values.dtype.kind not in "iu":
        values = values.astype(object)
        kind = pd.api.types.infer_dtype(values, skipna=False)
        if kind not in ("string", "integer"):
            # "mixed-integer" also covers ints mixed with floats, bools or other objects
            bad = [
                v
                for v in values
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (str, int, np.integer))
            ]
            if bad or kind != "mixed-integer":
                raise DataError(
                    f"Column {col!r} of {what} holds ids that are neither str nor int: "
                    f"{_listing(bad)}."
                )
        _check_text_ids(values, col, what)
    return values


def _check_text_ids(values: np.ndarray, col: str, what: str) -> None:
    """String ids must be writable as UTF-8 (consent and model files)."""
    _check_utf8([v for v in pd.unique(values) if isinstance(v, str)], col, what)


def _check_utf8(texts: list[str], col: str, what: str) -> None:
    """Text must be writable as UTF-8 (model and consent files): no lone surrogates."""
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        bad = []
        for v in texts:
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                bad.append(v)
        raise DataError(
            f"Column {col!r} of {what} holds text with lone surrogates, which cannot be "
            f"written to a file: {_listing(bad)}."
        ) from None


def _missing(value: Any) -> bool:
    """A missing scalar (None, NaN, NA, NaT); containers are never 'missing'."""
    if isinstance(value, (list, tuple, set, frozenset, dict, np.ndarray)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _weights(series: pd.Series, col: str) -> np.ndarray:
    try:
        w = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as exc:
        coerced = pd.to_numeric(series, errors="coerce")
        bad = series[coerced.isna() & series.notna()]
        raise DataError(
            f"Column {col!r} holds non-numeric weights: {_listing(bad.tolist())}."
        ) from exc
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"Column {col!r} holds {len(rows)} invalid weight(s) (negative, NaN or inf): "
            f"{_listing(w[rows])} at row(s) {_listing(rows)}."
        )
    huge = w > np.finfo(np.float32).max  # stored as float32: would silently become inf
    if huge.any():
        rows = np.flatnonzero(huge)
        raise DataError(
            f"Column {col!r} holds {len(rows)} weight(s) above 3.4e38, the float32 limit: "
            f"{_listing(w[rows])} at row(s) {_listing(rows)}."
        )
    return w.astype(np.float32)


def _ratings(series: pd.Series, col: str) -> np.ndarray:
    """Explicit feedback column: finite numbers (any scale), stored as float32."""
    try:
        r = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as exc:
        coerced = pd.to_numeric(series, errors="coerce")
        bad = series[coerced.isna() & series.notna()]
        raise DataError(
            f"Column {col!r} holds non-numeric ratings: {_listing(bad.tolist())}."
        ) from exc
    bad = ~np.isfinite(r) | (np.abs(r) > np.finfo(np.float32).max)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"Column {col!r} holds {len(rows)} invalid rating(s) (NaN, inf or beyond float32): "
            f"{_listing(r[rows])} at row(s) {_listing(rows)}."
        )
    return r.astype(np.float32)


def _timestamps(series: pd.Series, col: str) -> np.ndarray:
    """Parse a time column to naive-UTC ``datetime64[ns]``; numbers are Unix seconds."""
    if series.isna().any():
        rows = np.flatnonzero(series.isna().to_numpy())
        raise DataError(
            f"Column {col!r} has {len(rows)} missing timestamp(s) at row(s) {_listing(rows)}."
        )
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        vals = series.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(vals)):
            raise DataError(
                f"Column {col!r} holds non-finite timestamps: {_listing(vals[~np.isfinite(vals)])}."
            )
        parsed = pd.to_datetime(vals, unit="s", errors="coerce")
    else:
        try:
            parsed = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
        except (TypeError, ValueError, OverflowError):
            try:
                text = series.astype(object).map(str)
                parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
            except (TypeError, ValueError, OverflowError) as exc:
                raise DataError(f"Column {col!r} holds unparsable timestamps: {exc}.") from exc
    parsed = pd.DatetimeIndex(parsed)
    bad = parsed.isna()
    if bad.any():
        raise DataError(
            f"Column {col!r} holds unparsable timestamps: {_listing(series[bad].tolist())}."
        )
    if parsed.tz is not None:
        parsed = parsed.tz_convert("UTC").tz_localize(None)
    try:
        return parsed.as_unit("ns").to_numpy()
    except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataError(
            f"Column {col!r} holds timestamps outside the years 1677 to 2262, which fairrec "
            f"cannot represent (e.g. {parsed.min()} .. {parsed.max()})."
        ) from exc


def parse_genres(value: Any) -> tuple[str, ...]:
    """Normalize one catalog ``genres`` cell to a tuple of genre names.

    Accepts a list/tuple/array of str, a ``"|"``-separated string, or a missing value.

    Examples
    --------
    >>> parse_genres("Action|Sci-Fi")
    ('Action', 'Sci-Fi')
    >>> parse_genres(None)
    ()
    """
    if value is None or value is pd.NA:
        return ()
    if isinstance(value, str):
        return tuple(g.strip() for g in value.split("|") if g.strip())
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        out = []
        for g in value:
            if not isinstance(g, str):
                raise DataError(f"Column 'genres' holds a non-string genre {g!r}.")
            if g.strip():
                out.append(g.strip())
        return tuple(out)
    if isinstance(value, float) and np.isnan(value):
        return ()
    raise DataError(
        f"Column 'genres' must hold lists of str or '|'-separated strings. Got {value!r}."
    )


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
        interactions = _require_frame(interactions, "interactions")
        cols = [user_col, item_col] + [
            c for c in (weight_col, time_col, rating_col) if c is not None
        ]
        _require_columns(interactions, cols, "interactions")
        u_raw = _ids(interactions[user_col], user_col, "interactions")
        i_raw = _ids(interactions[item_col], item_col, "interactions")
        n = len(interactions)
        w = (
            _weights(interactions[weight_col], weight_col)
            if weight_col is not None
            else np.ones(n, dtype=np.float32)
        )
        ts = _timestamps(interactions[time_col], time_col) if time_col is not None else None
        ratings = _ratings(interactions[rating_col], rating_col) if rating_col is not None else None

        # ids are canonicalised once per distinct value, not once per event
        user_codes, user_ids, user_canon = _factorize_ids(u_raw, user_col, "interactions")
        i_codes, i_uniques = _factorize_raw(i_raw)
        i_canon = _canonical(i_uniques, item_col, "interactions")
        cat = cls._build_catalog(
            catalog,
            item_col,
            i_uniques,
            strict,
            item_canon=i_canon,
            item_counts=np.bincount(i_codes, minlength=len(i_uniques)),
        )
        item_map = IdMap(cat[C.ITEM].to_numpy(), "item_id")
        items = item_map.positions(i_canon)[i_codes]
        if (items < 0).any():  # guarded in _build_catalog
            bad = pd.unique(i_raw[items < 0])
            raise DataError(f"Interactions name titles not in the catalog: {_listing(bad)}.")
        item_index = pd.Index(item_map.external)

        if "popularity" not in cat.columns or cat["popularity"].isna().all():
            pop = np.bincount(items, minlength=len(cat)).astype(np.float64)
            cat["popularity"] = pop
        out = cls(
            user_ids=np.asarray(user_ids),
            item_ids=item_index.to_numpy(),
            users=user_codes.astype(np.int32),
            items=items.astype(np.int32),
            weights=w,
            timestamps=ts,
            catalog=cat,
            ratings=ratings,
        )
        out.__dict__["user_map"] = IdMap._from_canonical(out.user_ids, user_canon, "user_id")
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
        """The catalog frame for the interaction titles ``item_ids`` (one per event, or the
        distinct ones in order of first appearance with their canonical forms
        ``item_canon`` and numbers of events ``item_counts``)."""
        if item_canon is None or item_counts is None:
            codes, item_ids = _factorize_raw(item_ids)
            item_canon = _canonical(item_ids, item_col, "interactions")
            item_counts = np.bincount(codes, minlength=len(item_ids))
        if catalog is None:
            _, ids, _ = _factorize_ids(item_ids, item_col, "interactions")
            cat = pd.DataFrame({C.ITEM: ids})
        else:
            catalog = _require_frame(catalog, "catalog")
            _require_columns(catalog, [item_col], "catalog")
            ids = _ids(catalog[item_col], item_col, "catalog")
            canon = _canonical(ids, item_col, "catalog")
            dup = pd.Series(canon).duplicated().to_numpy()
            if dup.any():
                first = pd.Series(ids).groupby(canon).first()
                shown = [
                    v if first[c] == v else f"{first[c]!r} / {v!r}"
                    for c, v in zip(canon[dup], ids[dup])
                ]
                raise DataError(
                    f"Column {item_col!r} of catalog holds duplicated ids: "
                    f"{_listing(pd.unique(pd.Series(shown, dtype=object)))}."
                    + (
                        " Ids that differ only in spelling (1, '01', ' 1') are one id."
                        if any(first[c] != v for c, v in zip(canon[dup], ids[dup]))
                        else ""
                    )
                )
            cat = catalog.rename(columns={item_col: C.ITEM}).reset_index(drop=True).copy()
            cat[C.ITEM] = ids
            known = pd.Index(canon)
            unknown_mask = known.get_indexer(pd.Index(item_canon)) < 0
            if unknown_mask.any():
                u_codes, unknown, _ = _factorize_ids(
                    item_ids[unknown_mask], item_col, "interactions"
                )
                if strict:
                    raise DataError(
                        f"{len(unknown)} interaction title(s) are not in the catalog "
                        f"(column {item_col!r}): {_listing(unknown)}. Add them to the catalog "
                        "or pass strict=False to add them with no title or genres."
                    )
                extra = pd.DataFrame({C.ITEM: unknown})
                if C.POPULARITY in cat.columns:  # added titles: their number of events
                    extra[C.POPULARITY] = np.bincount(
                        u_codes, weights=item_counts[unknown_mask], minlength=len(unknown)
                    ).astype(np.float64)
                if C.MATURITY in cat.columns:  # unrated: treated as the most mature title
                    mat = pd.to_numeric(cat[C.MATURITY], errors="coerce")
                    extra[C.MATURITY] = float(mat.max()) if mat.notna().any() else np.nan
                cat = pd.concat([cat, extra], ignore_index=True)
        if C.TITLE not in cat.columns:
            cat[C.TITLE] = cat[C.ITEM].map(str)
        else:
            titles = [
                str(t) if isinstance(t, str) or not _missing(t) else str(i)
                for t, i in zip(cat[C.TITLE].tolist(), cat[C.ITEM].tolist())
            ]
            _check_utf8(titles, C.TITLE, "catalog")
            cat[C.TITLE] = titles
        if C.GENRES in cat.columns:
            genres = [parse_genres(g) for g in cat[C.GENRES].tolist()]
            _check_utf8([g for gs in genres for g in gs], C.GENRES, "catalog")
            cat[C.GENRES] = pd.Series(genres, dtype=object)
        else:
            cat[C.GENRES] = pd.Series([()] * len(cat), dtype=object)
        if C.POPULARITY in cat.columns:
            pop = pd.to_numeric(cat[C.POPULARITY], errors="coerce").to_numpy(dtype=np.float64)
            if np.isnan(pop).all():
                cat = cat.drop(columns=[C.POPULARITY])
            elif (~np.isfinite(pop) | (pop < 0)).any():
                bad = cat[C.ITEM].to_numpy()[~np.isfinite(pop) | (pop < 0)]
                raise DataError(
                    f"Column 'popularity' of catalog is invalid for title(s) {_listing(bad)}."
                )
            else:
                cat[C.POPULARITY] = pop
        if C.MATURITY in cat.columns:
            mat = pd.to_numeric(cat[C.MATURITY], errors="coerce")
            if mat.isna().any():
                bad = cat[C.ITEM].to_numpy()[mat.isna().to_numpy()]
                raise DataError(
                    f"Column 'maturity' of catalog must be numeric; missing for {_listing(bad)}."
                )
            values = mat.to_numpy(dtype=np.float64)
            if not np.isfinite(values).all():  # would also break the JSON model file
                bad = cat[C.ITEM].to_numpy()[~np.isfinite(values)]
                raise DataError(
                    f"Column 'maturity' of catalog must be finite; infinite for {_listing(bad)}."
                )
            cat[C.MATURITY] = values
        return cat

    # ------------------------------------------------------------------ sizes and maps
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

    @cached_property
    def _by_user(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.users, kind="stable")
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.users, minlength=self.n_users), out=indptr[1:])
        return order, indptr

    @property
    def events_by_user(self) -> tuple[np.ndarray, np.ndarray]:
        """The events grouped by viewer, as ``(order, indptr)``: ``order[indptr[u] :
        indptr[u + 1]]`` are the positions of viewer index ``u``'s events, in event order.
        Computed once per dataset; the arrays are shared, do not modify them."""
        return self._by_user

    def events_of(self, user: int) -> np.ndarray:
        """Event positions of one viewer index, in event order."""
        order, indptr = self._by_user
        return order[indptr[user] : indptr[user + 1]]


def _to_naive_utc(t: Any) -> np.datetime64:
    ts = pd.Timestamp(t)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_datetime64()


def _lookup(idmap: IdMap, ids: Any, on_unknown: str) -> np.ndarray:
    if on_unknown not in ("raise", "ignore", "warn"):
        from fairrec.errors import param_error

        raise param_error("on_unknown", "Dataset", "one of 'raise', 'warn', 'ignore'", on_unknown)
    return idmap.positions(ids, on_unknown=on_unknown)


def _canonical(values: np.ndarray, col: str, what: str) -> np.ndarray:
    """Canonical forms of an id column (:func:`fairrec.ids.canon_ids`); DataError if invalid."""
    try:
        return canon_ids(values, f"column {col!r} of {what}")
    except ParameterError as exc:
        raise DataError(str(exc)) from None


def _factorize_raw(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` keeping each id's type (ints stay ints in an object array)."""
    raw = np.asarray(raw)
    codes, uniques = pd.factorize(raw, sort=False)
    uniques = np.asarray(uniques)
    if raw.dtype.kind == "O" and uniques.dtype.kind != "O":
        uniques = uniques.astype(object)
    return codes, uniques


def _factorize_ids(
    raw: np.ndarray, col: str, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes by canonical id (order of first appearance), the external id of each code and
    its canonical form.

    Two different external spellings of one canonical id (``1`` and ``"01"``) are a
    :class:`DataError`: fairrec would otherwise have to pick which one is the viewer.
    """
    raw_codes, raw_uniques = _factorize_raw(raw)
    canon_u = _canonical(raw_uniques, col, what)
    ucodes, canon = pd.factorize(canon_u, sort=False)
    if len(canon) != len(raw_uniques):
        pairs = [
            " / ".join(repr(v) for v in raw_uniques[ucodes == c].tolist())
            for c in np.flatnonzero(np.bincount(ucodes) > 1)
        ]
        raise DataError(
            f"Column {col!r} of {what} spells one id in several ways: {_listing(pairs)}. "
            "fairrec treats them as one id (1 == '1' == '01' == ' 1'); keep one spelling."
        )
    # ucodes is a permutation of 0..k-1 in order of first appearance: the identity
    return raw_codes, raw_uniques, np.asarray(canon_u, dtype=object)
