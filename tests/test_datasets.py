"""Tests of fairrec.datasets: MovieLens readers (on tiny files written here) and synthetic."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairrec as fr
from fairrec.data import Dataset
from fairrec.datasets import GENRE_NAMES, load_movielens, synthetic
from fairrec.errors import DataError, ParameterError

# ---------------------------------------------------------------------- tiny MovieLens files
# (user, item, rating, unix seconds); item 3 is never rated
RATINGS = [
    (1, 1, 5.0, 881250949),
    (1, 2, 3.0, 881250950),
    (2, 1, 4.0, 891717742),
    (2, 4, 1.0, 878887116),
    (3, 2, 4.5, 880606923),
    (3, 4, 4.0, 886397596),
]
GENRE_100K = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
              "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
              "Romance", "Sci-Fi", "Thriller", "War", "Western"]  # fmt: skip


def _flags(*names: str) -> str:
    return "|".join("1" if g in names else "0" for g in GENRE_100K)


def write_100k(folder: Path, *, with_genre_file: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ratings = [r for r in RATINGS if float(r[2]).is_integer()]  # 100K has whole stars
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in ratings))
    toy_story = _flags("Animation", "Children's", "Comedy")
    lines = [
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{toy_story}",
        f"2|Café Society (1995) (V)|01-Jan-1995||http://x|{_flags('Drama')}",
        f"3|unknown||||{_flags('unknown')}",
        f"4|Mystery Title|01-Jan-1997||http://x|{_flags('Mystery', 'Sci-Fi')}",
    ]
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    if with_genre_file:
        text = "".join(f"{g}|{j}\n" for j, g in enumerate(GENRE_100K)) + "\n"
        (folder / "u.genre").write_text(text, encoding="latin-1")
    return folder


def write_1m(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ratings = [r for r in RATINGS if float(r[2]).is_integer()]
    (folder / "ratings.dat").write_text(
        "".join(f"{u}::{i}::{int(r)}::{t}\n" for u, i, r, t in ratings)
    )
    movies = [
        "1::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Sci-Fi",
        '2::"Crêpes" & Co. (1999)::Comedy',
        "3::City of Lost Children, The (1995)::Adventure|Sci-Fi",
        "4::Untitled::(no genres listed)",
    ]
    (folder / "movies.dat").write_bytes(("\n".join(movies) + "\n").encode("latin-1"))
    return folder


def write_csv(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["userId,movieId,rating,timestamp"] + [f"{u},{i},{r},{t}" for u, i, r, t in RATINGS]
    (folder / "ratings.csv").write_text("\n".join(lines) + "\n")
    movies = [
        "movieId,title,genres",
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
        '2,"American President, The (1995)",Comedy|Drama|Romance',
        '3,"Babylon 5",Sci-Fi',
        "4,Cosmos (1980),(no genres listed)",
    ]
    (folder / "movies.csv").write_text("\n".join(movies) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """load_movielens never downloads: any connection attempt fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("fairrec tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _unix(t: int) -> np.datetime64:
    return np.datetime64(t, "s").astype("datetime64[ns]")


# ---------------------------------------------------------------------- MovieLens layouts
def test_100k_layout(tmp_path: Path) -> None:
    d = load_movielens(write_100k(tmp_path / "ml-100k"))
    assert isinstance(d, Dataset)
    assert d.n_events == 5 and d.user_ids.tolist() == [1, 2, 3]
    assert d.item_ids.tolist() == [1, 2, 3, 4]
    cat = d.catalog.set_index("item_id")
    assert cat.loc[1, "title"] == "Toy Story (1995)"
    assert cat.loc[2, "title"] == "Café Society (1995) (V)"  # latin-1, second parenthesis
    assert cat.loc[1, "genres"] == ("Animation", "Children's", "Comedy")
    assert cat.loc[3, "genres"] == ()  # "unknown" is no genre
    assert cat.loc[4, "genres"] == ("Mystery", "Sci-Fi")
    assert cat.loc[1, "year"] == 1995 and cat.loc[2, "year"] == 1995
    assert cat.loc[4, "year"] == 1997  # from the release date
    assert pd.isna(cat.loc[3, "year"])
    assert cat["popularity"].tolist() == [2.0, 1.0, 0.0, 2.0]
    assert d.weights.tolist() == [1.0] * 5
    expected = [_unix(t) for u, i, r, t in RATINGS if float(r).is_integer()]
    assert d.timestamps.tolist() == np.array(expected).tolist()


def test_100k_without_genre_file_uses_standard_names(tmp_path: Path) -> None:
    d = load_movielens(write_100k(tmp_path / "ml-100k", with_genre_file=False))
    assert d.catalog["genres"].iloc[0] == ("Animation", "Children's", "Comedy")


def test_100k_genre_file_names_are_used(tmp_path: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    names = ["unknown"] + [f"G{j}" for j in range(1, 19)]
    (folder / "u.genre").write_text("".join(f"{g}|{j}\n" for j, g in enumerate(names)))
    d = load_movielens(folder)
    assert d.catalog["genres"].iloc[0] == ("G3", "G4", "G5")


def test_1m_layout(tmp_path: Path) -> None:
    d = load_movielens(write_1m(tmp_path / "ml-1m"))
    cat = d.catalog.set_index("item_id")
    assert cat.loc[1, "title"] == "Star Wars: Episode IV - A New Hope (1977)"
    assert cat.loc[2, "title"] == '"Crêpes" & Co. (1999)'
    assert cat.loc[1, "genres"] == ("Action", "Adventure", "Sci-Fi")
    assert cat.loc[4, "genres"] == ()
    assert cat.loc[3, "year"] == 1995 and pd.isna(cat.loc[4, "year"])
    assert d.n_events == 5
    assert d.timestamps[0] == _unix(881250949)


def test_csv_layout(tmp_path: Path) -> None:
    d = load_movielens(write_csv(tmp_path / "ml-latest-small"))
    cat = d.catalog.set_index("item_id")
    assert cat.loc[2, "title"] == "American President, The (1995)"
    assert cat.loc[2, "genres"] == ("Comedy", "Drama", "Romance")
    assert cat.loc[4, "genres"] == ()  # "(no genres listed)"
    assert pd.isna(cat.loc[3, "year"]) and cat.loc[4, "year"] == 1980
    assert d.n_events == 6
    assert d.timestamps.tolist() == np.array([_unix(r[3]) for r in RATINGS]).tolist()
    assert d.catalog["year"].dtype == "Int64"


@pytest.mark.parametrize(
    ("min_rating", "kept"),
    [(None, 6), (0, 6), (4, 4), (4.5, 2), (5, 1)],
)
def test_min_rating_keeps_implicit_positives(tmp_path: Path, min_rating: float, kept: int) -> None:
    d = load_movielens(write_csv(tmp_path / "ml"), min_rating=min_rating)
    assert d.n_events == kept
    assert d.weights.tolist() == [1.0] * kept
    assert d.n_items == 4  # the catalog keeps every title
    assert d.catalog["popularity"].sum() == kept


def test_min_rating_on_100k(tmp_path: Path) -> None:
    d = load_movielens(write_100k(tmp_path / "ml-100k"), min_rating=4)
    pairs = list(zip(d.user_ids[d.users].tolist(), d.item_ids[d.items].tolist()))
    assert pairs == [(1, 1), (2, 1), (3, 4)]


def test_min_rating_removing_everything(tmp_path: Path) -> None:
    folder = write_csv(tmp_path / "ml")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,2.0,100\n")
    with pytest.raises(DataError, match="No rating in .*ratings.csv is >= 3"):
        load_movielens(folder, min_rating=3)


@pytest.mark.parametrize("bad", [-1, 5.5, float("nan"), "4", True, [4]])
def test_min_rating_out_of_range(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ParameterError, match="The 'min_rating' parameter of load_movielens"):
        load_movielens(write_csv(tmp_path / "ml"), min_rating=bad)  # type: ignore[arg-type]


def test_parent_folder_with_one_movielens_folder(tmp_path: Path) -> None:
    write_1m(tmp_path / "ml-1m")
    (tmp_path / "notes").mkdir()
    d = load_movielens(tmp_path)
    assert d.catalog["title"].iloc[0].startswith("Star Wars")
    assert load_movielens(str(tmp_path)).n_events == d.n_events  # str paths too


def test_parent_folder_with_several_movielens_folders(tmp_path: Path) -> None:
    write_1m(tmp_path / "ml-1m")
    write_csv(tmp_path / "ml-25m")
    with pytest.raises(DataError, match="several MovieLens folders \\('ml-1m', 'ml-25m'\\)"):
        load_movielens(tmp_path)


# ---------------------------------------------------------------------- MovieLens errors
def test_missing_path_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "ml-100k"
    with pytest.raises(DataError, match=re.escape(f"{str(path)!r} does not exist")) as err:
        load_movielens(path)
    assert "never downloads" in str(err.value)


def test_a_file_is_no_folder(tmp_path: Path) -> None:
    (tmp_path / "ml-100k.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_movielens(tmp_path / "ml-100k.zip")


def test_folder_that_is_no_movielens_layout(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="is no MovieLens folder") as err:
        load_movielens(tmp_path)
    msg = str(err.value)
    for name in ("u.data", "u.item", "ratings.dat", "movies.dat", "ratings.csv", "movies.csv"):
        assert name in msg


def test_incomplete_layout_names_the_missing_file(tmp_path: Path) -> None:
    folder = write_100k(tmp_path / "ml-100k")
    (folder / "u.item").unlink()
    with pytest.raises(DataError, match="u.data is there\\) but u.item is missing"):
        load_movielens(folder)


@pytest.mark.parametrize(
    ("writer", "file", "content", "match"),
    [
        (write_csv, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,100\n2,1,good,200\n",
         "ratings.csv is malformed: line 3, column 'rating' holds 'good', not a number"),
        (write_csv, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,100\n1,,3.0,5\n",
         "line 3, column 'movieId' holds nothing, not an integer"),
        (write_csv, "ratings.csv", "userId,movieId,rating,timestamp\n1.5,1,4.0,100\n",
         "line 2, column 'userId' holds '1.5', not an integer"),
        (write_csv, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,100\n1,2,4.0,100,7\n",
         "ratings.csv is malformed: .*line 3"),
        (write_csv, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,100,7\n1,2,4.0,100\n",
         "ratings.csv is malformed: a line has more fields than its header"),
        (write_csv, "ratings.csv", "user,movie,stars,time\n1,1,4.0,100\n",
         "ratings.csv must start with the header userId,movieId,rating,timestamp"),
        (write_csv, "ratings.csv", "", "ratings.csv is empty"),
        (write_csv, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,7.0,100\n",
         "ratings.csv, line 2: rating 7.0 is not in \\[0, 5\\]"),
        (write_csv, "movies.csv", "id,name\n1,x\n", "movies.csv must start with the header"),
        (write_csv, "movies.csv", "movieId,title,genres\nabc,Toy Story,Comedy\n",
         "movies.csv is malformed: line 2, column 'movieId' holds 'abc'"),
        (write_1m, "ratings.dat", "1::1::5::100\n1::2::4::100::9\n",
         "ratings.dat is malformed: .*line 2"),
        (write_1m, "ratings.dat", "1::1::5::100::9\n1::2::4::100\n",
         "ratings.dat is malformed: its first line has more fields than the 7 expected"),
        (write_1m, "ratings.dat", "1::1::5::100\n1:9:2::4::100\n",
         "ratings.dat is malformed: line 2 is not UserID::MovieID::Rating::Timestamp"),
        (write_1m, "ratings.dat", "1::1::5::100\n1::2::4\n",
         "line 2, column 'timestamp' holds nothing, not an integer"),
        (write_100k, "u.data", "1\t1\t5\t100\n1\t2\tx\t100\n",
         "u.data is malformed: line 2, column 'rating' holds 'x'"),
        (write_100k, "u.data", "1\t1\t5\t100\n1\t2\t4\t100\t9\n",
         "u.data is malformed: .*Expected 4 fields in line 2, saw 5"),
        (write_100k, "u.item", "1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n",
         "u.item is malformed: line 1, column 'g2' holds nothing, not an integer"),
        (write_100k, "u.item", "1|Toy Story (1995)|01-Jan-1995||http://x|" + "0|" * 18 + "2\n",
         "u.item, line 1: genre flags must be 0 or 1"),
    ],
)  # fmt: skip
def test_malformed_files_name_file_and_line(
    tmp_path: Path, writer: object, file: str, content: str, match: str
) -> None:
    folder = writer(tmp_path / "ml")  # type: ignore[operator]
    (folder / file).write_text(content)
    with pytest.raises(DataError, match=match):
        load_movielens(folder)


def test_ratings_of_titles_missing_from_the_titles_file(tmp_path: Path) -> None:
    folder = write_csv(tmp_path / "ml")
    with open(folder / "ratings.csv", "a") as f:
        f.write("9,77,4.0,100\n9,78,4.0,100\n")
    with pytest.raises(DataError, match="ratings.csv / movies.csv in .*not in the catalog.*77, 78"):
        load_movielens(folder)


def test_duplicated_titles_in_the_titles_file(tmp_path: Path) -> None:
    folder = write_csv(tmp_path / "ml")
    with open(folder / "movies.csv", "a") as f:
        f.write("2,Again (2000),Drama\n")
    with pytest.raises(DataError, match="movies.csv in .*duplicated ids: 2"):
        load_movielens(folder)


def test_public_namespace() -> None:
    assert fr.datasets.load_movielens is load_movielens
    assert fr.datasets.synthetic is synthetic


# ---------------------------------------------------------------------- synthetic
@pytest.fixture(scope="module")
def small() -> Dataset:
    return synthetic(1_500, 600, seed=3)


def test_synthetic_is_deterministic(small: Dataset) -> None:
    again = synthetic(1_500, 600, seed=3)
    for name in ("user_ids", "item_ids", "users", "items", "weights", "timestamps"):
        np.testing.assert_array_equal(getattr(small, name), getattr(again, name))
    pd.testing.assert_frame_equal(small.catalog, again.catalog)


def test_synthetic_seed_changes_everything(small: Dataset) -> None:
    other = synthetic(1_500, 600, seed=4)
    assert not small.catalog["title"].equals(other.catalog["title"])
    assert not small.catalog["genres"].equals(other.catalog["genres"])
    n = min(small.n_events, other.n_events)
    assert not np.array_equal(small.items[:n], other.items[:n])
    assert not np.array_equal(small.timestamps[:n], other.timestamps[:n])


def test_synthetic_shape_and_ids(small: Dataset) -> None:
    assert (small.n_users, small.n_items) == (1_500, 600)
    assert small.user_ids[:3].tolist() == ["u0", "u1", "u2"]
    assert small.item_ids[-1] == "i599"
    assert np.bincount(small.users, minlength=small.n_users).min() >= 1  # every viewer plays
    assert set(small.weights.tolist()) == {1.0}
    assert small.to_csr().max() == 1.0  # each (viewer, title) once
    assert abs(small.n_events / small.n_users - 50) < 5  # mean_plays=50


def test_synthetic_timestamps(small: Dataset) -> None:
    ts = small.timestamps
    assert ts.min() >= np.datetime64("2025-01-01") and ts.max() < np.datetime64("2026-01-01")
    assert (ts - ts.min()).max() > np.timedelta64(300, "D")  # spread over the year
    same_user = small.users[1:] == small.users[:-1]
    assert np.all(ts[1:][same_user] >= ts[:-1][same_user])  # in time order per viewer
    assert np.all(np.diff(small.users) >= 0)
    d = synthetic(50, 40, start="2020-06-01T00:00:00+02:00", days=10)
    assert d.timestamps.min() >= np.datetime64("2020-05-31T22:00")
    assert d.timestamps.max() < np.datetime64("2020-06-10T22:00")


@pytest.mark.parametrize("n_genres", [15, 20, 25])
def test_synthetic_genres(n_genres: int) -> None:
    d = synthetic(200, 400, seed=1, n_genres=n_genres, mean_plays=5)
    counts = d.catalog["genres"].map(len)
    assert counts.min() >= 1 and counts.max() <= 3
    assert set(counts) == {1, 2, 3}
    assert d.genre_names == sorted(GENRE_NAMES[:n_genres])  # every genre has titles
    assert all(len(set(g)) == len(g) for g in d.catalog["genres"])


def test_synthetic_head_share(small: Dataset) -> None:
    pop = np.sort(small.catalog["popularity"].to_numpy())[::-1]
    head = pop[: len(pop) // 5].sum() / pop.sum()
    assert head > 0.5  # loose: ~0.6 here, ~0.8 for 20,000 titles
    flat = synthetic(1_500, 600, seed=3, popularity_skew=0.0)
    pop_flat = np.sort(flat.catalog["popularity"].to_numpy())[::-1]
    assert pop_flat[:120].sum() / pop_flat.sum() < head - 0.1


def test_synthetic_tastes_matter(small: Dataset) -> None:
    """Viewers concentrate on their genres far more than random plays would."""

    def mean_top_lift(items: np.ndarray) -> float:
        d = small.select(np.ones(small.n_events, dtype=bool))
        d.items = items
        user_genre = (d.to_csr() @ small.item_genres).toarray()
        share = user_genre / user_genre.sum(axis=1, keepdims=True)
        overall = user_genre.sum(axis=0) / user_genre.sum()
        return float((share / overall).max(axis=1).mean())  # favourite genre vs everyone

    shuffled = np.random.default_rng(0).permutation(small.items)
    assert mean_top_lift(small.items) > 1.5 * mean_top_lift(shuffled)


def test_synthetic_catalog(small: Dataset) -> None:
    cat = small.catalog
    assert list(cat.columns) == ["item_id", "title", "genres", "maturity", "popularity"]
    assert cat["title"].is_unique
    assert cat["title"].str.fullmatch(r"[A-Z][A-Za-z' :,\-]+( \d+)?").all()
    assert set(cat["maturity"].unique()) <= {0.0, 7.0, 13.0, 16.0, 18.0}
    assert len(cat["maturity"].unique()) >= 4
    has = {g: cat["genres"].map(lambda gs, g=g: g in gs) for g in ("Kids", "Horror")}
    assert cat.loc[has["Kids"], "maturity"].mean() < cat.loc[has["Horror"], "maturity"].mean()
    assert np.array_equal(cat["popularity"], np.bincount(small.items, minlength=small.n_items))


def test_synthetic_matches_from_pandas(small: Dataset) -> None:
    """Built from arrays, but identical to what Dataset.from_pandas makes of it."""
    back = Dataset.from_pandas(
        small.to_frame(), small.catalog.drop(columns="popularity"), time_col="timestamp"
    )
    for name in ("user_ids", "item_ids", "users", "items", "weights", "timestamps"):
        got, want = getattr(back, name), getattr(small, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want)
    pd.testing.assert_frame_equal(back.catalog, small.catalog)


def test_synthetic_tiny_sizes() -> None:
    d = synthetic(1, 1, mean_plays=3)
    assert (d.n_users, d.n_items, d.n_events) == (1, 1, 1)
    d = synthetic(30, 5, seed=2)  # fewer titles than genres
    assert d.n_items == 5 and d.n_events >= 30
    assert d.to_csr().max() == 1.0


def test_synthetic_knobs() -> None:
    few = synthetic(300, 500, mean_plays=5)
    assert 4 < few.n_events / few.n_users < 6
    short = synthetic(100, 50, days=1, start="2024-02-29")
    assert short.timestamps.min() >= np.datetime64("2024-02-29")
    assert short.timestamps.max() < np.datetime64("2024-03-01")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_users": 0}, "n_users"),
        ({"n_users": 10.0}, "n_users"),
        ({"n_users": True}, "n_users"),
        ({"n_items": -5}, "n_items"),
        ({"seed": -1}, "seed"),
        ({"seed": "0"}, "seed"),
        ({"n_genres": 14}, "n_genres"),
        ({"n_genres": 26}, "n_genres"),
        ({"mean_plays": 0}, "mean_plays"),
        ({"mean_plays": float("inf")}, "mean_plays"),
        ({"days": 0}, "days"),
        ({"start": "someday"}, "start"),
        ({"start": None}, "start"),
        ({"popularity_skew": -1}, "popularity_skew"),
        ({"exploration": 1.5}, "exploration"),
        ({"niche": 1.0}, "niche"),
    ],
)
def test_synthetic_parameter_errors(kwargs: dict, name: str) -> None:
    with pytest.raises(ParameterError, match=f"The '{name}' parameter of synthetic must be"):
        synthetic(**{"n_users": 10, "n_items": 10, **kwargs})
