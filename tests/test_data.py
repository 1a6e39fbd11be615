"""Tests of fairrec.Dataset: every validation error, id round-trips, selection helpers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairrec import _columns as C
from fairrec.data import Dataset, parse_genres
from fairrec.errors import (
    DataError,
    FairrecError,
    ParameterError,
    UnknownItemError,
    UnknownUserError,
)
from fairrec.ids import canon_id


@pytest.fixture
def interactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["u2", "u1", "u2", "u3", "u1"],
            "item_id": ["a", "b", "a", "c", "c"],
            "weight": [1.0, 2.0, 0.5, 3.0, 0.0],
            "timestamp": [
                "2024-01-01T00:00:00Z",
                "2024-01-02",
                "2024-01-03 12:00",
                "2024-02-01",
                "2024-03-01",
            ],
        }
    )


@pytest.fixture
def catalog() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "title": ["Alpha", "Beta", "Gamma", "Delta"],
            "genres": ["Drama|Comedy", ["Horror"], (), None],
            "maturity": [0, 13, 18, 7],
        }
    )


@pytest.fixture
def data(interactions: pd.DataFrame, catalog: pd.DataFrame) -> Dataset:
    return Dataset.from_pandas(interactions, catalog, weight_col="weight", time_col="timestamp")


def raises_data(match: str):
    return pytest.raises(DataError, match=match)


# ---------------------------------------------------------------------- happy path
def test_from_pandas_maps_ids_in_order(data: Dataset) -> None:
    assert data.user_ids.tolist() == ["u2", "u1", "u3"]  # order of first appearance
    assert data.item_ids.tolist() == ["a", "b", "c", "d"]  # catalog order
    assert data.users.tolist() == [0, 1, 0, 2, 1]
    assert data.items.tolist() == [0, 1, 0, 2, 2]
    assert data.users.dtype == np.int32 and data.items.dtype == np.int32
    assert data.weights.dtype == np.float32
    assert data.weights.tolist() == [1.0, 2.0, 0.5, 3.0, 0.0]
    assert (data.n_users, data.n_items, data.n_events, len(data)) == (3, 4, 5, 5)
    assert "n_users=3" in repr(data)


def test_catalog_is_normalized(data: Dataset) -> None:
    cat = data.catalog
    assert list(cat.columns[:4]) == ["item_id", "title", "genres", "maturity"]
    assert cat["genres"].tolist() == [("Drama", "Comedy"), ("Horror",), (), ()]
    assert cat["popularity"].tolist() == [2.0, 1.0, 2.0, 0.0]  # events per title
    assert cat["maturity"].dtype == np.float64
    assert data.genre_names == ["Comedy", "Drama", "Horror"]
    m = data.item_genres.toarray()
    assert m.shape == (4, 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])


def test_timestamps_become_naive_utc(data: Dataset) -> None:
    assert data.timestamps.dtype == np.dtype("datetime64[ns]")
    assert data.timestamps[0] == np.datetime64("2024-01-01T00:00:00")
    assert data.timestamps[2] == np.datetime64("2024-01-03T12:00:00")


def test_numeric_timestamps_are_unix_seconds_exactly() -> None:
    secs = [978300760, 1700000001, 0]
    df = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [1, 1, 2], "ts": secs})
    d = Dataset.from_pandas(df, time_col="ts")
    expected = pd.to_datetime(np.array(secs, dtype=np.int64), unit="s").as_unit("ns")
    np.testing.assert_array_equal(d.timestamps, expected.to_numpy())


def test_timezone_aware_timestamps_are_converted_to_utc() -> None:
    ts = pd.Series(pd.to_datetime(["2024-06-01 12:00"]).tz_localize("Europe/Paris"))
    df = pd.DataFrame({"user_id": [1], "item_id": [1], "ts": ts})
    d = Dataset.from_pandas(df, time_col="ts")
    assert d.timestamps[0] == np.datetime64("2024-06-01T10:00:00")


def test_without_catalog_or_time() -> None:
    df = pd.DataFrame({"user_id": [5, 6, 5], "item_id": [10, 20, 10]})
    d = Dataset.from_pandas(df)
    assert d.item_ids.tolist() == [10, 20]
    assert d.catalog["title"].tolist() == ["10", "20"]
    assert d.catalog["genres"].tolist() == [(), ()]
    assert d.timestamps is None
    assert d.weights.tolist() == [1.0, 1.0, 1.0]
    assert d.to_csr().toarray().tolist() == [[2.0, 0.0], [0.0, 1.0]]


def test_float_ids_that_are_integers_are_accepted() -> None:
    df = pd.DataFrame({"user_id": [1.0, 2.0], "item_id": [3.0, 4.0]})
    d = Dataset.from_pandas(df)
    assert d.user_ids.tolist() == [1, 2] and d.user_ids.dtype.kind == "i"


def test_custom_column_names_and_missing_titles() -> None:
    df = pd.DataFrame({"viewer": ["x"], "movie": [7], "plays": [4]})
    cat = pd.DataFrame({"movie": [7, 8], "title": ["Seven", None]})
    d = Dataset.from_pandas(df, cat, user_col="viewer", item_col="movie", weight_col="plays")
    assert d.catalog["item_id"].tolist() == [7, 8]
    assert d.catalog["title"].tolist() == ["Seven", "8"]  # a missing title becomes the id
    assert d.weights.tolist() == [4.0]


def test_catalog_popularity_is_kept(interactions: pd.DataFrame) -> None:
    cat = pd.DataFrame({"item_id": ["a", "b", "c"], "popularity": [10, 20, 30]})
    d = Dataset.from_pandas(interactions, cat)
    assert d.catalog["popularity"].tolist() == [10.0, 20.0, 30.0]


# ---------------------------------------------------------------------- validation errors
def test_errors_are_fairrec_errors() -> None:
    assert issubclass(DataError, FairrecError) and issubclass(DataError, ValueError)


@pytest.mark.parametrize("bad", [None, [("u", "i")], np.zeros((2, 2))])
def test_interactions_must_be_a_frame(bad: object) -> None:
    with raises_data("interactions must be a pandas DataFrame"):
        Dataset.from_pandas(bad)  # type: ignore[arg-type]


def test_catalog_must_be_a_frame(interactions: pd.DataFrame) -> None:
    with raises_data("catalog must be a pandas DataFrame. Got dict"):
        Dataset.from_pandas(interactions, {"item_id": ["a"]})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [
        ({"user_col": "viewer"}, "'viewer'"),
        ({"item_col": "title_id"}, "'title_id'"),
        ({"weight_col": "rating"}, "'rating'"),
        ({"time_col": "when"}, "'when'"),
    ],
)
def test_missing_interaction_columns(
    interactions: pd.DataFrame, kwargs: dict, missing: str
) -> None:
    with raises_data(f"interactions has no column {missing}; its columns are"):
        Dataset.from_pandas(interactions, **kwargs)


def test_missing_catalog_id_column(interactions: pd.DataFrame) -> None:
    with raises_data("catalog has no column 'item_id'"):
        Dataset.from_pandas(interactions, pd.DataFrame({"movie": ["a"]}))


@pytest.mark.parametrize("col", ["user_id", "item_id"])
@pytest.mark.parametrize("missing", [None, np.nan])
def test_missing_ids(interactions: pd.DataFrame, col: str, missing: object) -> None:
    df = interactions.astype({col: object})
    df.loc[3, col] = missing
    with raises_data(rf"Column '{col}' of interactions has 1 missing id\(s\).*row\(s\) 3"):
        Dataset.from_pandas(df)


def test_missing_catalog_ids(interactions: pd.DataFrame) -> None:
    cat = pd.DataFrame({"item_id": ["a", None, "c"]})
    with raises_data(r"Column 'item_id' of catalog has 1 missing id\(s\)"):
        Dataset.from_pandas(interactions, cat)


def test_non_integer_float_ids() -> None:
    df = pd.DataFrame({"user_id": [1.0, 2.5], "item_id": [1, 2]})
    with raises_data("Column 'user_id' of interactions holds non-integer float ids: 2.5"):
        Dataset.from_pandas(df)


@pytest.mark.parametrize(
    ("values", "shown"),
    [([1, "a", 2.5], "2.5"), ([True, False], "True"), ([1, True], "True"), ([(1,), (2,)], "(1,)")],
)
def test_ids_that_are_neither_str_nor_int(values: list, shown: str) -> None:
    df = pd.DataFrame({"user_id": pd.Series(values, dtype=object), "item_id": [1] * len(values)})
    with raises_data(
        rf"Column 'user_id' of interactions holds ids that are neither str nor int: .*{shown}"
    ):
        Dataset.from_pandas(df)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(-1.0, "-1.0"), (np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")],
)
def test_invalid_weights(interactions: pd.DataFrame, value: float, shown: str) -> None:
    df = interactions.copy()
    df.loc[2, "weight"] = value
    with raises_data(
        rf"Column 'weight' holds 1 invalid weight\(s\) \(negative, NaN or inf\): {shown} at row\(s\) 2"
    ):
        Dataset.from_pandas(df, weight_col="weight")


def test_several_invalid_weights_are_counted(interactions: pd.DataFrame) -> None:
    df = interactions.assign(weight=[-1.0, -2.0, np.nan, 1.0, -3.0])
    with raises_data(r"holds 4 invalid weight\(s\).*row\(s\) 0, 1, 2, 4"):
        Dataset.from_pandas(df, weight_col="weight")


@pytest.mark.parametrize("bad", ["lots", "1,5"])
def test_non_numeric_weights(interactions: pd.DataFrame, bad: str) -> None:
    df = interactions.assign(weight=["1", "2", bad, "3", "0"])
    with raises_data(f"Column 'weight' holds non-numeric weights: '{bad}'"):
        Dataset.from_pandas(df, weight_col="weight")


def test_numeric_strings_are_valid_weights(interactions: pd.DataFrame) -> None:
    df = interactions.assign(weight=["1", "2", "0.5", "3", "0"])
    d = Dataset.from_pandas(df, weight_col="weight")
    assert d.weights.tolist() == [1.0, 2.0, 0.5, 3.0, 0.0]


def test_unparsable_timestamps(interactions: pd.DataFrame) -> None:
    df = interactions.copy()
    df.loc[1, "timestamp"] = "last tuesday"
    with raises_data("Column 'timestamp' holds unparsable timestamps: 'last tuesday'"):
        Dataset.from_pandas(df, time_col="timestamp")


def test_missing_timestamps(interactions: pd.DataFrame) -> None:
    df = interactions.copy()
    df.loc[4, "timestamp"] = None
    with raises_data(r"Column 'timestamp' has 1 missing timestamp\(s\) at row\(s\) 4"):
        Dataset.from_pandas(df, time_col="timestamp")


def test_non_finite_numeric_timestamps() -> None:
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2], "ts": [1.0e9, np.inf]})
    with raises_data("Column 'ts' holds non-finite timestamps: inf"):
        Dataset.from_pandas(df, time_col="ts")


def test_out_of_range_numeric_timestamps() -> None:
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2], "ts": [1.0e9, 1.0e30]})
    with raises_data("Column 'ts' holds unparsable timestamps: 1e[+]?30"):
        Dataset.from_pandas(df, time_col="ts")


def test_unknown_titles_are_listed_up_to_five(catalog: pd.DataFrame) -> None:
    df = pd.DataFrame(
        {"user_id": [1] * 9, "item_id": ["a", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x1"]}
    )
    with pytest.raises(DataError) as err:
        Dataset.from_pandas(df, catalog)
    msg = str(err.value)
    assert "7 interaction title(s) are not in the catalog (column 'item_id')" in msg
    assert "'x1', 'x2', 'x3', 'x4', 'x5' (and 2 more)" in msg
    assert "'x6'" not in msg and "strict=False" in msg


def test_titles_of_another_spelling_are_the_catalog_title(catalog: pd.DataFrame) -> None:
    # one identity (issue 13): int 1 and the catalog's "01" are one title, kept as spelled
    # by the catalog
    df = pd.DataFrame({"user_id": [1, 1], "item_id": [1, " 2"]})
    d = Dataset.from_pandas(df, catalog.assign(item_id=["01", "2", "3", "4"]))
    assert d.item_ids.tolist() == ["01", "2", "3", "4"]
    assert d.items.tolist() == [0, 1]


def test_strict_false_adds_unknown_titles(catalog: pd.DataFrame) -> None:
    df = pd.DataFrame({"user_id": [1, 2, 2, 3], "item_id": ["a", "zz", "zz", "yy"]})
    d = Dataset.from_pandas(df, catalog, strict=False)
    assert d.item_ids.tolist() == ["a", "b", "c", "d", "zz", "yy"]
    added = d.catalog.iloc[4:]
    assert added["title"].tolist() == ["zz", "yy"]
    assert added["genres"].tolist() == [(), ()]
    assert added["popularity"].tolist() == [2.0, 1.0]
    assert added["maturity"].tolist() == [18.0, 18.0]  # unrated: the catalog's highest
    assert d.items.tolist() == [0, 4, 4, 5]


def test_strict_false_with_catalog_popularity(catalog: pd.DataFrame) -> None:
    cat = catalog.assign(popularity=[5.0, 6.0, 7.0, 8.0])
    df = pd.DataFrame({"user_id": [1, 2, 2], "item_id": ["a", "new", "new"]})
    d = Dataset.from_pandas(df, cat, strict=False)
    assert d.catalog["popularity"].tolist() == [5.0, 6.0, 7.0, 8.0, 2.0]


def test_duplicated_catalog_ids(interactions: pd.DataFrame) -> None:
    cat = pd.DataFrame({"item_id": ["a", "b", "c", "b", "a"]})
    with raises_data("Column 'item_id' of catalog holds duplicated ids: 'b', 'a'"):
        Dataset.from_pandas(interactions, cat)


@pytest.mark.parametrize(
    ("genres", "match"),
    [
        ([["Drama", 3], (), ()], "non-string genre 3"),
        ([42, (), ()], "Column 'genres' must hold lists of str or '\\|'-separated strings. Got 42"),
        ([{"Drama"}, (), ()], "Got \\{'Drama'\\}"),
    ],
)
def test_bad_genres(interactions: pd.DataFrame, genres: list, match: str) -> None:
    cat = pd.DataFrame({"item_id": ["a", "b", "c"], "genres": pd.Series(genres, dtype=object)})
    with raises_data(match):
        Dataset.from_pandas(interactions, cat)


def test_missing_genres_of_any_kind_are_empty(interactions: pd.DataFrame) -> None:
    cat = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "genres": pd.Series(["Drama| Comedy |", None, None], dtype=pd.StringDtype()),
        }
    )
    d = Dataset.from_pandas(interactions, cat)
    assert d.catalog["genres"].tolist() == [("Drama", "Comedy"), (), ()]
    assert parse_genres(np.nan) == () and parse_genres(pd.NA) == ()
    assert parse_genres(np.array(["A", " "])) == ("A",)


def test_bad_catalog_popularity(interactions: pd.DataFrame) -> None:
    cat = pd.DataFrame({"item_id": ["a", "b", "c"], "popularity": [1.0, -1.0, np.inf]})
    with raises_data("Column 'popularity' of catalog is invalid for title\\(s\\) 'b', 'c'"):
        Dataset.from_pandas(interactions, cat)


def test_bad_catalog_maturity(interactions: pd.DataFrame) -> None:
    cat = pd.DataFrame({"item_id": ["a", "b", "c"], "maturity": [0, "PG", 18]})
    with raises_data("Column 'maturity' of catalog must be numeric; missing for 'b'"):
        Dataset.from_pandas(interactions, cat)


# ---------------------------------------------------------------------- round trip (property)
_int_ids = st.integers(min_value=-(2**62), max_value=2**62)


def _valid_id(v: str) -> bool:
    try:
        canon_id(v)
    except ParameterError:
        return False
    return True


# any text that is a valid id (issue 13: one canonical form, fairrec.ids); pools are unique by
# canonical form, as a Dataset refuses two spellings of one id
_str_ids = st.text(min_size=1, max_size=6).filter(_valid_id)
_id_kinds = st.sampled_from(["int", "str", "mixed"])


def _pool(draw: st.DrawFn, kind: str, n: int) -> list:
    if kind == "int":
        ids = st.lists(_int_ids, min_size=n, max_size=n, unique=True)
    elif kind == "str":
        ids = st.lists(_str_ids, min_size=n, max_size=n, unique_by=canon_id)
    else:
        ids = st.lists(st.one_of(_int_ids, _str_ids), min_size=n, max_size=n, unique_by=canon_id)
    return draw(ids)


@st.composite
def _events(draw: st.DrawFn) -> tuple[list, list, list, list | None]:
    n_users, n_items = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    users = _pool(draw, draw(_id_kinds), n_users)
    items = _pool(draw, draw(_id_kinds), n_items)
    n = draw(st.integers(1, 30))
    u = draw(st.lists(st.sampled_from(users), min_size=n, max_size=n))  # duplicates galore
    i = draw(st.lists(st.sampled_from(items), min_size=n, max_size=n))
    w = draw(st.lists(st.integers(0, 1000).map(float), min_size=n, max_size=n))
    with_catalog = draw(st.booleans())
    catalog = draw(st.permutations(items)) if with_catalog else None
    return u, i, w, catalog


def _key(v: object) -> tuple[str, object]:
    """An id with its kind, so that the int 1 and the str "1" stay apart."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return ("int", int(v))
    assert isinstance(v, str), f"id {v!r} of type {type(v).__name__} came back"
    return ("str", v)


def _column(values: list) -> pd.Series:
    if all(isinstance(v, str) for v in values) or all(isinstance(v, int) for v in values):
        return pd.Series(values)
    return pd.Series(values, dtype=object)


@given(_events())
@settings(max_examples=150, deadline=None)
def test_round_trip_ids_and_summed_weights(case: tuple) -> None:
    u, i, w, catalog_ids = case
    df = pd.DataFrame({"user_id": _column(u), "item_id": _column(i), "weight": w})
    cat = None if catalog_ids is None else pd.DataFrame({"item_id": _column(catalog_ids)})
    d = Dataset.from_pandas(df, cat, weight_col="weight")

    # ids of every event come back, with their type (int stays int, str stays str)
    assert [_key(v) for v in d.user_ids[d.users]] == [_key(v) for v in u]
    assert [_key(v) for v in d.item_ids[d.items]] == [_key(v) for v in i]
    if catalog_ids is not None:
        assert [_key(v) for v in d.item_ids] == [_key(v) for v in catalog_ids]

    # the CSR matrix holds the summed weight of every (viewer, title) pair
    expected: dict[tuple, float] = {}
    for uu, ii, ww in zip(u, i, w):
        key = (_key(uu), _key(ii))
        expected[key] = expected.get(key, 0.0) + ww
    m = d.to_csr().tocoo()
    got = {
        (_key(d.user_ids[r]), _key(d.item_ids[c])): float(v)
        for r, c, v in zip(m.row, m.col, m.data)
    }
    assert got == expected
    assert d.to_csr().nnz == len(expected)
    np.testing.assert_allclose(d.to_csr().sum(), sum(w))

    # id maps invert
    np.testing.assert_array_equal(d.user_index(list(d.user_ids)), np.arange(d.n_users))
    np.testing.assert_array_equal(d.item_index(list(d.item_ids)), np.arange(d.n_items))


# ---------------------------------------------------------------------- id maps
def test_user_and_item_index(data: Dataset) -> None:
    assert data.user_index("u1").tolist() == [1]
    assert data.user_index(["u3", "u2"]).tolist() == [2, 0]
    assert data.item_index(np.array(["d", "a"])).tolist() == [3, 0]
    assert data.user_index([]).tolist() == []


def test_unknown_ids_raise_naming_them(data: Dataset) -> None:
    with pytest.raises(UnknownUserError, match="Unknown viewer id\\(s\\): 'nobody', 'u9'"):
        data.user_index(["u1", "nobody", "u9"])
    with pytest.raises(UnknownItemError, match="Unknown title id\\(s\\): 'zz'"):
        data.item_index("zz")
    with pytest.raises(KeyError):  # still a KeyError for callers that catch those
        data.item_index("zz")


def test_unknown_ids_ignore_and_warn(data: Dataset) -> None:
    assert data.user_index(["u1", "nobody"], on_unknown="ignore").tolist() == [1, -1]
    with pytest.warns(UserWarning, match="'nobody'"):
        assert data.user_index(["nobody"], on_unknown="warn").tolist() == [-1]
    with pytest.raises(ParameterError, match="The 'on_unknown' parameter of Dataset"):
        data.user_index("u1", on_unknown="skip")


def test_int_ids_look_up_with_numpy_and_python_ints() -> None:
    d = Dataset.from_pandas(pd.DataFrame({"user_id": [10, 20], "item_id": [1, 2]}))
    assert d.user_index([20, np.int64(10)]).tolist() == [1, 0]
    # one identity (issue 13): every spelling of 10 is viewer 10
    assert d.user_index(["10", " 010", "\uff11\uff10"]).tolist() == [0, 0, 0]
    with pytest.raises(UnknownUserError):
        d.user_index("11")


# ---------------------------------------------------------------------- selection
def test_select_keeps_maps_and_catalog(data: Dataset) -> None:
    mask = np.array([True, False, True, False, True])
    s = data.select(mask)
    assert s.n_events == 3 and s.n_users == data.n_users and s.n_items == data.n_items
    assert s.users.tolist() == [0, 0, 1] and s.items.tolist() == [0, 0, 2]
    assert s.weights.tolist() == [1.0, 0.5, 0.0]
    assert s.timestamps.tolist() == data.timestamps[mask].tolist()
    assert s.catalog is data.catalog and s.user_ids is data.user_ids
    assert s.to_csr().shape == data.to_csr().shape
    assert data.select([True, False, True, False, True]).n_events == 3  # a list of bools


@pytest.mark.parametrize(
    "mask", [np.ones(4, dtype=bool), np.ones(5, dtype=int), np.ones((5, 1), dtype=bool)]
)
def test_select_rejects_bad_masks(data: Dataset, mask: object) -> None:
    with raises_data("select\\(\\) needs a boolean mask of shape \\(5,\\)"):
        data.select(mask)  # type: ignore[arg-type]


def _bits(mask: np.ndarray) -> str:
    return "".join("1" if b else "0" for b in mask)


def test_event_mask_by_users_items_and_time(data: Dataset) -> None:
    # events: (u2, a, Jan 1), (u1, b, Jan 2), (u2, a, Jan 3), (u3, c, Feb 1), (u1, c, Mar 1)
    assert _bits(data.event_mask(users=["u1"])) == "01001"
    assert _bits(data.event_mask(users="u2")) == "10100"
    assert _bits(data.event_mask(users=np.array([False, False, True]))) == "00010"
    assert _bits(data.event_mask(items=["c", "unknown"])) == "00011"
    assert _bits(data.event_mask(since="2024-01-02", until="2024-02-01")) == "01100"
    paris = pd.Timestamp("2024-01-01 01:00", tz="Europe/Paris")  # 00:00 UTC
    assert _bits(data.event_mask(since=paris)) == "11111"
    assert _bits(data.event_mask(until=paris)) == "00000"
    assert _bits(data.event_mask(users=["u1"], items=["c"])) == "00001"
    assert _bits(data.event_mask()) == "11111"


def test_filter_and_time_without_timestamps(data: Dataset) -> None:
    f = data.filter(users=["u1", "u3"], since="2024-01-15")
    assert f.n_events == 2 and f.users.tolist() == [2, 1]
    no_time = Dataset.from_pandas(pd.DataFrame({"user_id": [1], "item_id": [1]}))
    with raises_data("no timestamps"):
        no_time.event_mask(since="2024-01-01")


def test_events_of_and_to_frame(data: Dataset) -> None:
    assert data.events_of(0).tolist() == [0, 2]
    assert data.events_of(1).tolist() == [1, 4]
    frame = data.to_frame()
    assert list(frame.columns) == [C.USER, C.ITEM, C.WEIGHT, C.TIME]
    assert frame[C.USER].tolist() == ["u2", "u1", "u2", "u3", "u1"]
    back = Dataset.from_pandas(frame, data.catalog, weight_col=C.WEIGHT, time_col=C.TIME)
    np.testing.assert_array_equal(back.users, data.users)
    np.testing.assert_array_equal(back.timestamps, data.timestamps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        no_time = Dataset.from_pandas(pd.DataFrame({"user_id": [1], "item_id": [1]})).to_frame()
    assert no_time[C.TIME].isna().all()
