"""Construction of a :class:`~fairrec.data.Dataset` from pandas frames: columns validated,
ids mapped to dense indices, the catalog completed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec._checks import listing
from fairrec.data._validate import (
    _canonical,
    _check_utf8,
    _factorize_ids,
    _factorize_raw,
    _ids,
    _missing,
    _require_columns,
    _require_frame,
    parse_genres,
    parse_ratings,
    parse_timestamps,
    parse_weights,
)
from fairrec.data.ids import IdMap
from fairrec.errors import DataError

__all__ = ["build_catalog", "from_frames"]


def from_frames(
    interactions: pd.DataFrame,
    catalog: pd.DataFrame | None,
    *,
    user_col: str,
    item_col: str,
    weight_col: str | None,
    time_col: str | None,
    strict: bool,
    rating_col: str | None,
) -> tuple[dict[str, Any], IdMap, IdMap]:
    """The validated arrays of a dataset (the keyword arguments of ``Dataset``) and its
    viewer and title id maps; see :meth:`Dataset.from_pandas`."""
    interactions = _require_frame(interactions, "interactions")
    cols = [user_col, item_col] + [c for c in (weight_col, time_col, rating_col) if c is not None]
    _require_columns(interactions, cols, "interactions")
    u_raw = _ids(interactions[user_col], user_col, "interactions")
    i_raw = _ids(interactions[item_col], item_col, "interactions")
    n = len(interactions)
    w = (
        parse_weights(interactions[weight_col], weight_col)
        if weight_col is not None
        else np.ones(n, dtype=np.float32)
    )
    ts = parse_timestamps(interactions[time_col], time_col) if time_col is not None else None
    ratings = (
        parse_ratings(interactions[rating_col], rating_col) if rating_col is not None else None
    )

    # ids are canonicalised once per distinct value, not once per event
    user_codes, user_ids, user_canon = _factorize_ids(u_raw, user_col, "interactions")
    i_codes, i_uniques = _factorize_raw(i_raw)
    i_canon = _canonical(i_uniques, item_col, "interactions")
    cat = build_catalog(
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
        raise DataError(f"Interactions name titles not in the catalog: {listing(bad)}.")
    item_index = pd.Index(item_map.external)

    if "popularity" not in cat.columns or cat["popularity"].isna().all():
        pop = np.bincount(items, minlength=len(cat)).astype(np.float64)
        cat["popularity"] = pop
    fields = dict(
        user_ids=np.asarray(user_ids),
        item_ids=item_index.to_numpy(),
        users=user_codes.astype(np.int32),
        items=items.astype(np.int32),
        weights=w,
        timestamps=ts,
        catalog=cat,
        ratings=ratings,
    )
    user_map = IdMap._from_canonical(fields["user_ids"], user_canon, "user_id")
    return fields, user_map, item_map


def build_catalog(
    catalog: pd.DataFrame | None,
    item_col: str,
    item_ids: np.ndarray,
    strict: bool,
    *,
    item_canon: np.ndarray | None = None,
    item_counts: np.ndarray | None = None,
) -> pd.DataFrame:
    """Validate a catalog and complete it for the titles of the interactions.

    The catalog frame of a :class:`~fairrec.data.Dataset`: one line per title in index
    order with ``item_id``, ``title``, ``genres`` (tuple of str), and ``popularity`` /
    ``maturity`` when given. Titles of the interactions missing from ``catalog`` raise
    (``strict=True``) or are added (see :meth:`Dataset.from_pandas`).

    Parameters
    ----------
    catalog : pandas.DataFrame or None
        The catalog given by the caller; None: the titles of the interactions.
    item_col : str
        The title id column of ``catalog``.
    item_ids : numpy.ndarray
        The interaction titles: one per event, or the distinct ones in order of first
        appearance together with ``item_canon`` and ``item_counts``.
    strict : bool
        Refuse interaction titles that are not in ``catalog``.
    item_canon, item_counts : numpy.ndarray, optional
        The canonical forms of the distinct ``item_ids`` and their numbers of events.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    fairrec.errors.DataError
        Missing or duplicated ids (two spellings of one id are duplicates), unknown titles
        under ``strict``, text that cannot be written as UTF-8, invalid popularity or
        maturity values.
    """
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
                f"{listing(pd.unique(pd.Series(shown, dtype=object)))}."
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
            u_codes, unknown, _ = _factorize_ids(item_ids[unknown_mask], item_col, "interactions")
            if strict:
                raise DataError(
                    f"{len(unknown)} interaction title(s) are not in the catalog "
                    f"(column {item_col!r}): {listing(unknown)}. Add them to the catalog "
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
                f"Column 'popularity' of catalog is invalid for title(s) {listing(bad)}."
            )
        else:
            cat[C.POPULARITY] = pop
    if C.MATURITY in cat.columns:
        mat = pd.to_numeric(cat[C.MATURITY], errors="coerce")
        if mat.isna().any():
            bad = cat[C.ITEM].to_numpy()[mat.isna().to_numpy()]
            raise DataError(
                f"Column 'maturity' of catalog must be numeric; missing for {listing(bad)}."
            )
        values = mat.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():  # would also break the JSON model file
            bad = cat[C.ITEM].to_numpy()[~np.isfinite(values)]
            raise DataError(
                f"Column 'maturity' of catalog must be finite; infinite for {listing(bad)}."
            )
        cat[C.MATURITY] = values
    return cat
