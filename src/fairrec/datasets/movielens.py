"""Read a local copy of a MovieLens data set into a :class:`~fairrec.data.Dataset`.

fairrec never downloads MovieLens: its licence forbids redistribution, so you fetch it
yourself from https://grouplens.org/datasets/movielens/ and pass the extracted folder.

Three file layouts are recognised, whatever the folder is called:

============================  ======================  =====================================
layout                        ratings                 titles
============================  ======================  =====================================
100K (``ml-100k``)            ``u.data`` (tab)        ``u.item`` (``|``, latin-1, 19 genre
                                                      flags; names from ``u.genre``)
1M / 10M (``ml-1m``)          ``ratings.dat``         ``movies.dat`` (``::``, latin-1)
                              (``::``)
latest-small, 20M, 25M, 32M   ``ratings.csv``         ``movies.csv`` (CSV, UTF-8)
============================  ======================  =====================================

MovieLens holds explicit star ratings; fairrec works with implicit feedback. Every kept
rating becomes one event of weight 1 at its timestamp, and its stars are kept in the
:class:`Dataset`'s ``rating`` column (:attr:`Dataset.ratings`): ``min_rating=None`` keeps all
ratings ("the viewer watched it"), ``min_rating=4`` keeps only ratings of 4 stars or more
("the viewer liked it") as positives. With ``keep_below=True`` the ratings under
``min_rating`` are kept too, as events of weight 0 ("watched, not a positive"): models still
train on the positives only, while reasons can state measured liking ("92 % of the viewers
who rated it gave 4+") and "rarely watched" counts every viewer who rated the title.
"""

from __future__ import annotations

import csv
import io
import numbers
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec.data import Dataset
from fairrec.errors import DataError, param_error

__all__ = ["load_movielens", "ML100K_GENRES"]

#: The 19 genre names of MovieLens 100K, in the order of the flags of ``u.item``.
ML100K_GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

# Genre labels that mean "no genre".
_NO_GENRE = {"unknown", "(no genres listed)"}

# layout -> (ratings file, titles file)
_LAYOUTS: dict[str, tuple[str, str]] = {
    "100k": ("u.data", "u.item"),
    "1m": ("ratings.dat", "movies.dat"),
    "csv": ("ratings.csv", "movies.csv"),
}

_RATING_COLS = [C.USER, C.ITEM, "rating", C.TIME]
_RATING_DTYPES = {C.USER: np.int64, C.ITEM: np.int64, "rating": np.float32, C.TIME: np.int64}
_MAX_RATING = 5.0


def load_movielens(
    path: str | os.PathLike[str], min_rating: float | None = None, *, keep_below: bool = False
) -> Dataset:
    """Load a local MovieLens folder (100K, 1M, 10M, latest-small, 20M, 25M or 32M).

    The layout is detected from the files present (see the module docstring). ``path`` may
    be the extracted folder itself or a parent folder holding exactly one MovieLens folder
    (e.g. ``~/data`` containing ``ml-100k``). Nothing is ever downloaded.

    Parameters
    ----------
    path : str or path-like
        The MovieLens folder, or a folder containing exactly one.
    min_rating : float, optional
        Keep only ratings ``>= min_rating`` (in stars, 0 to 5) as implicit positives. By
        default every rating is kept. Each kept rating becomes one event of weight 1; its
        stars are kept in the ``rating`` column (:attr:`Dataset.ratings`).
    keep_below : bool, default False
        Also keep the ratings below ``min_rating``, as events of weight 0 (watched, not a
        positive). Needs ``min_rating``.

    Returns
    -------
    Dataset
        Viewer ids and title ids are the MovieLens integer ids; event times are the rating
        timestamps (UTC). The catalog holds every title of the titles file (also those
        with no kept rating, whose popularity is 0): ``item_id``, ``title`` (as MovieLens
        writes it, e.g. ``"Toy Story (1995)"``), ``genres`` (tuple of str; "unknown" and
        "(no genres listed)" become no genre), ``year`` (nullable int, from the title or,
        for 100K, the release date) and ``popularity`` (number of kept events).

    Raises
    ------
    fairrec.errors.DataError
        The path does not exist, is no MovieLens layout (the message lists the expected
        files), or a file is malformed (the message names the file and, where known, the
        line).
    fairrec.errors.ParameterError
        ``min_rating`` is not a number in [0, 5].

    Examples
    --------
    >>> data = load_movielens("~/data/ml-100k", min_rating=4)  # doctest: +SKIP
    >>> data.catalog.loc[0, "title"]  # doctest: +SKIP
    'Toy Story (1995)'
    """
    if min_rating is not None and (
        isinstance(min_rating, bool)
        or not isinstance(min_rating, numbers.Real)
        or not 0.0 <= float(min_rating) <= _MAX_RATING
    ):
        raise param_error("min_rating", "load_movielens", "a number in [0, 5] or None", min_rating)
    if not isinstance(keep_below, (bool, np.bool_)):
        raise param_error("keep_below", "load_movielens", "a bool", keep_below)
    if keep_below and min_rating is None:
        raise param_error(
            "keep_below", "load_movielens", "False when min_rating is None", keep_below
        )
    folder, layout = _locate(Path(os.path.expanduser(os.fspath(path))))
    ratings_file, titles_file = (folder / name for name in _LAYOUTS[layout])
    if layout == "100k":
        ratings = _read_100k_ratings(ratings_file)
        catalog = _read_100k_titles(titles_file, folder / "u.genre")
    elif layout == "1m":
        ratings = _read_1m_ratings(ratings_file)
        catalog = _read_1m_titles(titles_file)
    else:
        ratings = _read_csv_ratings(ratings_file)
        catalog = _read_csv_titles(titles_file)

    weight_col = None
    if min_rating is not None:
        positive = ratings["rating"].to_numpy() >= float(min_rating)
        if not positive.any():
            raise DataError(f"No rating in {ratings_file} is >= {min_rating}; nothing to load.")
        if keep_below:
            ratings = ratings.assign(**{C.WEIGHT: positive.astype(np.float32)})
            weight_col = C.WEIGHT
        else:
            ratings = ratings.loc[positive]
    ratings = ratings.assign(**{C.TIME: pd.to_datetime(ratings[C.TIME].to_numpy(), unit="s")})
    year = _years(catalog)
    catalog = catalog.drop(columns="_release_year", errors="ignore").assign(year=year)
    try:
        return Dataset.from_pandas(
            ratings,
            catalog,
            time_col=C.TIME,
            strict=True,
            weight_col=weight_col,
            rating_col="rating",
        )
    except DataError as exc:
        raise DataError(
            f"MovieLens files {ratings_file.name} / {titles_file.name} in {folder}: {exc}"
        ) from exc


# ---------------------------------------------------------------------- layout detection
def _layout_of(folder: Path) -> str | None:
    """The layout whose files are all in ``folder``; DataError if only part of one is."""
    for layout, files in _LAYOUTS.items():
        present = [f for f in files if (folder / f).is_file()]
        if len(present) == len(files):
            return layout
        if present:
            missing = [f for f in files if f not in present]
            raise DataError(
                f"{folder} looks like a MovieLens folder ({present[0]} is there) but "
                f"{', '.join(missing)} is missing."
            )
    return None


def _locate(path: Path) -> tuple[Path, str]:
    if not path.exists():
        raise DataError(
            f"MovieLens path {str(path)!r} does not exist. fairrec never downloads MovieLens: "
            "get it from https://grouplens.org/datasets/movielens/ and pass the extracted folder."
        )
    if not path.is_dir():
        raise DataError(
            f"MovieLens path {str(path)!r} is a file, not a folder; pass the extracted folder "
            "(e.g. ml-100k/), not an archive or a single file."
        )
    layout = _layout_of(path)
    if layout is not None:
        return path, layout
    found = []
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        child_layout = _layout_of(child)
        if child_layout is not None:
            found.append((child, child_layout))
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(repr(p.name) for p, _ in found)
        raise DataError(
            f"{str(path)!r} holds several MovieLens folders ({names}); pass one of them."
        )
    expected = "; ".join(" + ".join(files) for files in _LAYOUTS.values())
    raise DataError(
        f"{str(path)!r} is no MovieLens folder: expected one of the file pairs {expected} "
        "(100K; 1M/10M; latest-small/20M/25M/32M), in it or in exactly one sub-folder such "
        "as ml-100k."
    )


# ---------------------------------------------------------------------- robust reading
def _read(source: Path, *, data: Any = None, header: int | None, **kw: Any) -> pd.DataFrame:
    """``pd.read_csv`` (C engine) whose errors become DataErrors naming the file and line.

    ``data`` is an in-memory replacement for the file's text (same lines); ``header`` is
    ``0`` when the first line is a header.
    """
    kw.setdefault("keep_default_na", False)
    kw.setdefault("na_values", [""])
    kw.setdefault("index_col", False)  # never take an extra first field as an index
    try:
        with warnings.catch_warnings():
            # a first line longer than the others is only a warning for pandas
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(source if data is None else data, engine="c", header=header, **kw)
    except pd.errors.ParserWarning as exc:
        raise DataError(
            f"MovieLens file {source} is malformed: its first line has more fields than the "
            f"{len(kw.get('names') or [])} expected."
            if header is None
            else f"MovieLens file {source} is malformed: a line has more fields than its header."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"MovieLens file {source} is empty.") from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"MovieLens file {source} is not valid {kw.get('encoding')}: {exc}."
        ) from exc
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise DataError(f"MovieLens file {source} is malformed: {detail}") from exc
    except (ValueError, OverflowError) as exc:
        where = _first_bad_value(source, data, header, kw)
        raise DataError(f"MovieLens file {source} is malformed: {where or exc}") from exc


def _first_bad_value(source: Path, data: Any, header: int | None, kw: dict[str, Any]) -> str:
    """Re-read as text to name the first line whose value does not fit its column's type."""
    dtypes = kw.pop("dtype", {}) or {}
    if hasattr(data, "seek"):
        data.seek(0)
    try:
        raw = pd.read_csv(
            source if data is None else data, engine="c", header=header, dtype=str, **kw
        )
    except (ValueError, pd.errors.ParserError):
        return ""
    offset = 1 + (0 if header is None else header + 1)  # file line of raw row 0
    for col, dtype in dtypes.items():
        kind = np.dtype(dtype).kind
        if col not in raw.columns or kind not in "iuf":
            continue
        text = raw[col]
        num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(num)
        if kind in "iu":
            bad |= ~np.isfinite(num) | (num != np.round(num))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = text.iloc[row]
            want = "an integer" if kind in "iu" else "a number"
            shown = "nothing" if pd.isna(value) or value == "" else repr(value)
            return f"line {row + offset}, column {col!r} holds {shown}, not {want}."
    return ""


def _check_ratings(ratings: pd.DataFrame, source: Path, first_line: int) -> pd.DataFrame:
    r = ratings["rating"].to_numpy()
    bad = ~np.isfinite(r) | (r < 0) | (r > _MAX_RATING)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"MovieLens file {source}, line {row + first_line}: rating {float(r[row])!r} is not "
            "in [0, 5]."
        )
    return ratings


# ---------------------------------------------------------------------- 100K
def _read_100k_ratings(source: Path) -> pd.DataFrame:
    df = _read(source, sep="\t", names=_RATING_COLS, dtype=_RATING_DTYPES, header=None)
    return _check_ratings(df, source, 1)


def _genre_names_100k(source: Path) -> tuple[str, ...]:
    if not source.is_file():
        return ML100K_GENRES
    gen = _read(
        source,
        sep="|",
        names=["name", "index"],
        dtype={"name": str, "index": np.int64},
        header=None,
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
        skip_blank_lines=True,
    )
    order = np.argsort(gen["index"].to_numpy(), kind="stable")
    if not np.array_equal(gen["index"].to_numpy()[order], np.arange(len(gen))):
        raise DataError(f"MovieLens file {source}: genre indices are not 0 .. {len(gen) - 1}.")
    return tuple(gen["name"].to_numpy()[order].tolist())


def _read_100k_titles(source: Path, genre_file: Path) -> pd.DataFrame:
    names = _genre_names_100k(genre_file)
    flag_cols = [f"g{j}" for j in range(len(names))]
    cols = [C.ITEM, C.TITLE, "release", "video_release", "url", *flag_cols]
    dtypes: dict[str, Any] = dict.fromkeys(cols, str)
    dtypes.update({C.ITEM: np.int64, **dict.fromkeys(flag_cols, np.int8)})
    df = _read(
        source,
        sep="|",
        names=cols,
        dtype=dtypes,
        header=None,
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
    )
    flags = df[flag_cols].to_numpy()
    if not np.isin(flags, (0, 1)).all():
        row = int(np.flatnonzero(~np.isin(flags, (0, 1)).all(axis=1))[0])
        raise DataError(f"MovieLens file {source}, line {row + 1}: genre flags must be 0 or 1.")
    rows, cols_ = np.nonzero(flags)
    genre_arr = np.asarray(names, dtype=object)
    keep = ~np.isin(genre_arr[cols_], list(_NO_GENRE))
    genres = _group_genres(len(df), rows[keep], genre_arr[cols_][keep])
    release_year = df["release"].str.extract(r"(\d{4})\s*$", expand=False)
    return pd.DataFrame(
        {
            C.ITEM: df[C.ITEM].to_numpy(),
            C.TITLE: df[C.TITLE].fillna("").str.strip(),
            C.GENRES: genres,
            "_release_year": release_year,
        }
    )


def _group_genres(n: int, rows: np.ndarray, names: np.ndarray) -> list[tuple[str, ...]]:
    """Tuples of genre names per row from (row, name) pairs sorted by row."""
    bounds = np.searchsorted(rows, np.arange(n + 1))
    return [tuple(names[bounds[i] : bounds[i + 1]].tolist()) for i in range(n)]


# ---------------------------------------------------------------------- 1M / 10M
def _read_1m_ratings(source: Path) -> pd.DataFrame:
    # "1::1193::5::978300760": with sep=":" the C parser sees 7 fields, every other one
    # empty; far faster than the python engine's regex separator.
    gaps = ["_1", "_2", "_3"]
    df = _read(
        source,
        sep=":",
        names=[C.USER, gaps[0], C.ITEM, gaps[1], "rating", gaps[2], C.TIME],
        dtype={**_RATING_DTYPES, **dict.fromkeys(gaps, np.float32)},
        header=None,
        quoting=csv.QUOTE_NONE,
    )
    filled = df[gaps].notna().to_numpy().any(axis=1)
    if filled.any():
        line = int(np.flatnonzero(filled)[0]) + 1
        raise DataError(
            f"MovieLens file {source} is malformed: line {line} is not "
            "UserID::MovieID::Rating::Timestamp."
        )
    return _check_ratings(df[_RATING_COLS], source, 1)


def _read_1m_titles(source: Path) -> pd.DataFrame:
    # titles may hold ':' but never '::' or a tab; turn the separator into a tab
    text = source.read_bytes().decode("latin-1").replace("::", "\t")
    df = _read(
        source,
        data=io.StringIO(text),
        sep="\t",
        names=[C.ITEM, C.TITLE, C.GENRES],
        dtype={C.ITEM: np.int64, C.TITLE: str, C.GENRES: str},
        header=None,
        quoting=csv.QUOTE_NONE,
    )
    return _titles_frame(df)


# ---------------------------------------------------------------------- latest / 20M / 25M
def _read_csv_ratings(source: Path) -> pd.DataFrame:
    head = _read(source, header=0, nrows=0, encoding="utf-8")
    expected = ["userId", "movieId", "rating", "timestamp"]
    if list(head.columns[:4]) != expected:
        raise DataError(
            f"MovieLens file {source} must start with the header {','.join(expected)}; "
            f"it has {','.join(map(str, head.columns))}."
        )
    df = _read(
        source,
        header=0,
        dtype=dict(zip(expected, _RATING_DTYPES.values())),
        encoding="utf-8",
    )
    df = df[expected].set_axis(_RATING_COLS, axis=1)
    return _check_ratings(df, source, 2)


def _read_csv_titles(source: Path) -> pd.DataFrame:
    expected = ["movieId", "title", "genres"]
    head = _read(source, header=0, nrows=0, encoding="utf-8")
    if list(head.columns[:3]) != expected:
        raise DataError(
            f"MovieLens file {source} must start with the header {','.join(expected)}; "
            f"it has {','.join(map(str, head.columns))}."
        )
    df = _read(
        source,
        header=0,
        dtype={"movieId": np.int64, "title": str, "genres": str},
        encoding="utf-8",
    )
    df = df[expected].set_axis([C.ITEM, C.TITLE, C.GENRES], axis=1)
    return _titles_frame(df)


def _titles_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Catalog frame from (item_id, title, "A|B" genres) text columns."""
    split = df[C.GENRES].fillna("").str.split("|")
    genres = [tuple(g for g in gs if g and g not in _NO_GENRE) for gs in split.tolist()]
    return pd.DataFrame(
        {
            C.ITEM: df[C.ITEM].to_numpy(),
            C.TITLE: df[C.TITLE].fillna("").str.strip(),
            C.GENRES: pd.Series(genres, dtype=object),
        }
    )


def _years(catalog: pd.DataFrame) -> pd.Series:
    """Release year from the last "(YYYY)" of the title, else the 100K release date."""
    year = catalog[C.TITLE].str.extract(r".*\((\d{4})(?:[-–]\d{0,4})?\)", expand=False)
    if "_release_year" in catalog.columns:
        year = year.fillna(catalog["_release_year"])
    return pd.to_numeric(year, errors="coerce").astype("Int64")
