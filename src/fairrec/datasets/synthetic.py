"""A deterministic synthetic streaming catalog: fairrec's embedded default data set.

The generative model, in five steps (all vectorized; the only Python loop is over genres):

1. **Genres** — ``n_genres`` realistic streaming genres with Zipf-like prevalence
   (Drama and Comedy common, Western and Noir rare).
2. **Titles** — each title has 1–3 genres (45 % / 35 % / 20 %; primary genre drawn by
   prevalence, the others by prevalence without repetition), a popularity weight
   ``rank ** -popularity_skew`` over a random ranking of the titles (Zipf's law: with the
   defaults the top 20 % of 20,000 titles draw about 80 % of the plays; on smaller
   catalogs, where a viewer's distinct plays cover more of their genres, less: about
   68 % on 3,000 titles), a maturity rating in {0, 7, 13, 16, 18} that leans on the
   genres (Kids and Family low, Horror and Thriller high) and a readable generated name
   such as "The Silent Harbor" or "Clara and the Hidden Vault: Origins".
3. **Viewers** — each has 1–3 favourite genres with Dirichlet weights, a share
   ``exploration`` of plays spread over all genres by prevalence, a personal *niche*
   propensity (Beta-distributed with mean ``niche``) and a number of plays drawn from a
   log-normal law with mean ``mean_plays``.
4. **Plays** — for each play a genre is drawn from the viewer's tastes, then a title of
   that genre: proportionally to popularity, or uniformly among the genre's titles for a
   niche play. Each (viewer, title) pair is kept once (a viewer's first play of a title;
   rewatches are not generated), so every event has weight 1.
5. **Time** — plays are spread uniformly over ``days`` days from ``start`` and sorted by
   time within each viewer.

Viewer ids are ``"u0" .. "u{n_users-1}"``, title ids ``"i0" .. "i{n_items-1}"``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec.data import Dataset, build_catalog
from fairrec.errors import param_error

__all__ = ["GENRE_NAMES", "synthetic"]

#: The 25 genres of the synthetic catalog, most prevalent first; ``n_genres`` takes a prefix.
GENRE_NAMES: tuple[str, ...] = (
    "Drama",
    "Comedy",
    "Action",
    "Thriller",
    "Documentary",
    "Romance",
    "Crime",
    "Adventure",
    "Sci-Fi",
    "Horror",
    "Family",
    "Animation",
    "Mystery",
    "Fantasy",
    "Reality",
    "Kids",
    "Biography",
    "History",
    "Music",
    "Sport",
    "Anime",
    "Stand-Up",
    "War",
    "Western",
    "Noir",
)

# How much a genre pushes a title's maturity up (+) or down (-).
_MATURITY_LEAN = {
    "Kids": -3.0,
    "Family": -2.2,
    "Animation": -1.2,
    "Documentary": -0.6,
    "Music": -0.4,
    "Sport": -0.4,
    "Reality": -0.2,
    "Horror": 2.2,
    "Thriller": 1.3,
    "Crime": 1.3,
    "War": 1.2,
    "Noir": 0.9,
    "Stand-Up": 0.9,
    "Mystery": 0.4,
}
_MATURITY_LEVELS = np.array([0.0, 7.0, 13.0, 16.0, 18.0])
_MATURITY_CUTS = np.array([-1.6, -0.6, 0.6, 1.6])

_GENRE_COUNT_P = np.array([0.45, 0.35, 0.20])  # titles with 1, 2, 3 genres
_FAVOURITE_COUNT_P = np.array([0.3, 0.4, 0.3])  # viewers with 1, 2, 3 favourite genres
_GENRE_PREVALENCE_SKEW = 0.8
_PLAYS_SIGMA = 0.9  # log-normal spread of plays per viewer
_OVERSAMPLE = 1.3  # draws per missing play, to make up for repeated titles
_MAX_ROUNDS = 6  # rounds of draws for viewers still short of plays

_ADJECTIVES = (
    "Silent", "Midnight", "Broken", "Hidden", "Golden", "Crimson", "Distant", "Frozen",
    "Burning", "Electric", "Hollow", "Last", "Lost", "Wild", "Savage", "Quiet", "Secret",
    "Shattered", "Endless", "Velvet", "Iron", "Silver", "Scarlet", "Northern", "Fading",
    "Restless", "Wicked", "Gentle", "Bright", "Dark", "Lonely", "Sacred", "Infinite",
    "Stolen", "Forgotten", "Rising", "Falling", "Perfect", "Final", "Eternal", "Neon",
    "Paper", "Glass", "Winter", "Summer", "Little", "Brave", "Blind", "Cold", "Deep",
    "First", "Heavy", "Invisible", "Lucky", "Pale", "Rogue", "Steel", "Sweet", "Twisted",
    "Wandering", "Borrowed", "Hungry", "Red", "Blue", "Black", "White", "Violet", "Amber",
    "Emerald", "Copper", "Ancient", "Modern", "Strange", "Curious", "Reckless", "Tender",
    "Bitter", "Hollywood", "Southern", "Western", "Eastern", "Sleeping",
    "Dancing", "Howling", "Whispering", "Drifting", "Sunken", "Lunar", "Solar", "Arctic",
    "Tropical", "Phantom", "Royal", "Rebel", "Urban", "Crystal", "Shadow", "Thunder",
    "Morning",
)  # fmt: skip
_NOUNS = (
    "Harbor", "Protocol", "Empire", "River", "Garden", "Signal", "Kingdom", "Horizon",
    "Frontier", "Witness", "Promise", "Orchard", "Circuit", "Lighthouse", "Echo", "Crown",
    "Storm", "Voyage", "Station", "Mirror", "Island", "Letter", "Machine", "Legacy",
    "Summit", "Canyon", "Detective", "Stranger", "Orbit", "Paradise", "Covenant", "Archive",
    "Heist", "Outpost", "Requiem", "Carnival", "Labyrinth", "Tide", "Compass", "Ember",
    "Hunter", "Dynasty", "Valley", "Engine", "Code", "Season", "Road", "Sky", "Hour",
    "Night", "Game", "City", "House", "Heart", "Sea", "Fire", "Moon", "Star", "Wolf",
    "Rose", "Bridge", "Tower", "Forest", "Ghost", "Dream", "Frequency", "Alibi", "Verdict",
    "Sanctuary", "Parade", "Descent", "Anthem", "Atlas", "Cipher", "Deadline", "Exile",
    "Fortress", "Gambit", "Hideout", "Inheritance", "Journey", "Keeper", "Lullaby",
    "Mission", "Nomad", "Oath", "Pilgrim", "Quarry", "Rebellion", "Serenade", "Trail",
    "Uprising", "Vault", "Wanderer", "Prophecy", "Reunion", "Ritual", "Runaway", "Saga",
    "Dominion", "Eclipse", "Falcon", "Glacier", "Highway", "Inferno", "Jungle", "Kitchen",
    "Lagoon", "Meadow", "Nebula", "Odyssey", "Pact", "Quest", "Ransom", "Spiral", "Tempest",
    "Undertow", "Voltage", "Whisper", "Zenith", "Academy", "Ballad", "Cartel", "Diary",
    "Expedition", "Factory", "Getaway", "Hotel", "Interview", "Jury", "Knight", "Lesson",
    "Marathon", "Novel", "Opera", "Portrait", "Riddle", "Sentinel", "Theory", "Village",
)  # fmt: skip
_OF_WHAT = (
    "Tomorrow", "the North", "Ashes", "Glass", "the Deep", "Broken Things", "the Lost",
    "Silence", "the Sun", "Yesterday", "Thunder", "Salt", "Dust", "the Valley", "Tides",
    "Winter", "Iron", "Smoke", "Stars", "Memory", "the Dead", "Kings", "Fortune", "Honor",
    "the Moon", "Shadows", "Rain", "Gold", "Wolves", "the River", "Secrets", "Strangers",
    "the Night", "Light", "Blood", "Dreams", "the Coast", "the Empire", "Time", "Ghosts",
)  # fmt: skip
_NAMES = (
    "Clara", "Jonah", "Mara", "Felix", "Iris", "Theo", "Nora", "Milo", "Ada", "Leon",
    "Ruby", "Oscar", "Hazel", "Elias", "June", "Arlo", "Vera", "Silas", "Maya", "Hugo",
    "Lena", "Otto", "Zoe", "Victor", "Alma", "Rafael", "Nina", "Tobias", "Esme", "Dmitri",
    "Priya", "Kenji", "Amara", "Lucia", "Omar", "Sofia", "Ingrid", "Mateo", "Yara", "Ezra",
)  # fmt: skip
_SUFFIXES = (" II", " III", ": Origins", ": Reckoning", ": The Return", ": Part One",
             ": Redemption", ": Aftermath")  # fmt: skip
_SUFFIX_RATE = 0.12


def synthetic(
    n_users: int = 5_000,
    n_items: int = 3_000,
    *,
    seed: int = 0,
    n_genres: int = 20,
    mean_plays: float = 50.0,
    start: Any = "2025-01-01",
    days: int = 365,
    popularity_skew: float = 1.2,
    exploration: float = 0.15,
    niche: float = 0.05,
) -> Dataset:
    """Generate a deterministic synthetic streaming data set (see the module docstring).

    Parameters
    ----------
    n_users, n_items : int
        Number of viewers (every one has at least one play) and of titles.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same data set.
    n_genres : int, default 20
        Number of genres, 15 to 25, taken from :data:`GENRE_NAMES` in order. Every genre
        has at least one title when ``n_items >= n_genres``.
    mean_plays : float, default 50
        Mean number of distinct titles a viewer plays (log-normal; capped at half the
        catalog). The realized mean is a little lower, as repeated draws of the same title
        are dropped.
    start : str or datetime-like, default "2025-01-01"
        Start of the period over which plays are spread (naive UTC).
    days : int, default 365
        Length of that period in days.
    popularity_skew : float, default 1.2
        Exponent ``s`` of the Zipf law: the title of popularity rank ``r`` has weight
        ``r ** -s``. With the defaults the top 20 % of titles draw about 80 % of the plays
        on 20,000 titles, about 68 % on 3,000; ``0`` makes popularity flat within genres.
    exploration : float, default 0.15
        Share of plays outside the viewer's favourite genres (spread over all genres).
    niche : float, default 0.05
        Mean share of plays that pick a title uniformly within the genre rather than by
        popularity; each viewer's own share is Beta-distributed around it.

    Returns
    -------
    Dataset
        Events of weight 1, timestamps, and a catalog with ``item_id``, ``title``,
        ``genres``, ``maturity`` (0, 7, 13, 16 or 18) and ``popularity`` (play count).

    Raises
    ------
    fairrec.errors.ParameterError
        A parameter is out of range or of the wrong type.

    Examples
    --------
    >>> data = synthetic(200, 100, seed=1)
    >>> data.n_users, data.n_items
    (200, 100)
    >>> synthetic(200, 100, seed=1).items.tolist() == data.items.tolist()
    True
    """
    _check_int("n_users", n_users, 1, _MAX_INDEX)  # Dataset indices are int32
    _check_int("n_items", n_items, 1, _MAX_INDEX)
    _check_int("seed", seed, 0)
    _check_int("n_genres", n_genres, 15, 25)
    _check_real("mean_plays", mean_plays, 1.0, None, "a number >= 1")
    _check_int("days", days, 1, 100_000)
    _check_real("popularity_skew", popularity_skew, 0.0, 10.0, "a number in [0, 10]")
    _check_real("exploration", exploration, 0.0, 1.0, "a number in [0, 1]")
    _check_real("niche", niche, 0.0, 0.99, "a number in [0, 0.99]")
    start_ns = _check_start(start)
    if int(start_ns) + int(days) * 86_400 * 1_000_000_000 > np.iinfo(np.int64).max:
        # the last play would wrap around to 1677 in datetime64[ns]
        raise param_error(
            "start", "synthetic", f"a date at least days={days} days before 2262-04-11", start
        )

    rng = np.random.default_rng(seed)
    genre_names = np.asarray(GENRE_NAMES[:n_genres], dtype=object)
    prevalence = np.arange(1, n_genres + 1, dtype=np.float64) ** -_GENRE_PREVALENCE_SKEW
    prevalence /= prevalence.sum()

    item_genres, n_item_genres = _title_genres(rng, n_items, prevalence)
    pop_weight = (rng.permutation(n_items) + 1.0) ** -float(popularity_skew)
    maturity = _maturity(rng, item_genres, n_item_genres, genre_names)
    titles = _titles(rng, n_items)

    users, items = _plays(
        rng,
        n_users,
        n_items,
        item_genres,
        n_item_genres,
        pop_weight,
        prevalence,
        mean_plays=float(mean_plays),
        exploration=float(exploration),
        niche=float(niche),
    )
    span = int(days) * 86_400
    seconds = rng.integers(0, span, size=len(users), dtype=np.int64)
    order = np.argsort(users.astype(np.int64) * span + seconds, kind="stable")
    users, items, seconds = users[order], items[order], seconds[order]
    timestamps = (start_ns + seconds * 1_000_000_000).astype("datetime64[ns]")

    item_ids = np.char.add("i", np.arange(n_items).astype(str)).astype(object)
    user_ids = np.char.add("u", np.arange(n_users).astype(str)).astype(object)
    slot = np.arange(3)[None, :] < n_item_genres[:, None]
    genre_rows = np.where(slot, genre_names[np.maximum(item_genres, 0)], None)
    genres = [tuple(g for g in row if g is not None) for row in genre_rows.tolist()]
    catalog = pd.DataFrame(
        {
            C.ITEM: item_ids,
            C.TITLE: titles,
            C.GENRES: pd.Series(genres, dtype=object),
            C.MATURITY: maturity,
        }
    )
    # the catalog goes through the same validation/normalization as Dataset.from_pandas;
    # the events are valid by construction, so the dataset is assembled from arrays
    catalog = build_catalog(catalog, C.ITEM, item_ids, True)
    catalog[C.POPULARITY] = np.bincount(items, minlength=n_items).astype(np.float64)
    return Dataset(
        user_ids=user_ids,
        item_ids=catalog[C.ITEM].to_numpy(),
        users=users.astype(np.int32),
        items=items.astype(np.int32),
        weights=np.ones(len(users), dtype=np.float32),
        timestamps=timestamps,
        catalog=catalog,
    )


# ---------------------------------------------------------------------- catalog
def _top3(rng: np.random.Generator, n: int, prevalence: np.ndarray) -> np.ndarray:
    """Per row, 3 distinct genres drawn by prevalence without replacement (Gumbel top-k)."""
    keys = np.log(prevalence)[None, :] + rng.gumbel(size=(n, len(prevalence)))
    return np.argsort(-keys, axis=1)[:, :3]


def _title_genres(
    rng: np.random.Generator, n_items: int, prevalence: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_items, 3)`` genre indices (-1 past each title's count) and the counts."""
    n_genres = len(prevalence)
    genres = _top3(rng, n_items, prevalence)
    counts = rng.choice(np.arange(1, 4), size=n_items, p=_GENRE_COUNT_P)
    if n_items >= n_genres:  # every genre gets at least one title: one single-genre title each
        chosen = rng.choice(n_items, size=n_genres, replace=False)
        genres[chosen, 0] = np.arange(n_genres)
        counts[chosen] = 1
    genres[np.arange(3)[None, :] >= counts[:, None]] = -1
    return genres, counts


def _maturity(
    rng: np.random.Generator, item_genres: np.ndarray, counts: np.ndarray, names: np.ndarray
) -> np.ndarray:
    lean = np.array([_MATURITY_LEAN.get(g, 0.0) for g in names] + [0.0])  # [-1] -> 0
    score = lean[item_genres].sum(axis=1) / np.sqrt(counts) + rng.normal(0.0, 0.8, len(counts))
    return _MATURITY_LEVELS[np.searchsorted(_MATURITY_CUTS, score)]


def _titles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Readable unique names, e.g. "The Silent Harbor", "Clara and the Hidden Vault II"."""
    adj = np.asarray(_ADJECTIVES)[rng.integers(len(_ADJECTIVES), size=n)]
    noun = np.asarray(_NOUNS)[rng.integers(len(_NOUNS), size=n)]
    noun2 = np.asarray(_NOUNS)[rng.integers(len(_NOUNS), size=n)]
    of_what = np.asarray(_OF_WHAT)[rng.integers(len(_OF_WHAT), size=n)]
    name = np.asarray(_NAMES)[rng.integers(len(_NAMES), size=n)]
    add = np.strings.add
    the_adj_noun = add(add("The ", adj), add(" ", noun))
    patterns = [  # (weight, names); ~1.3 million distinct names before suffixes
        (0.20, the_adj_noun),
        (0.14, add(add(adj, " "), noun)),
        (0.08, add(add(noun, " of "), of_what)),
        (0.05, add(add("The ", noun), add(" of ", of_what))),
        (0.12, add(add(noun, " "), noun2)),
        (0.06, add(add(name, "'s "), noun)),
        (0.04, add(add(add("A ", noun), " for "), name)),
        (0.16, add(add(the_adj_noun, " of "), of_what)),
        (0.15, add(add(name, " and "), np.strings.replace(the_adj_noun, "The ", "the ", 1))),
    ]
    probs = np.array([p for p, _ in patterns])
    which = rng.choice(len(patterns), size=n, p=probs / probs.sum())
    base = np.choose(which, [np.asarray(t, dtype=object) for _, t in patterns])
    has_suffix = rng.random(n) < _SUFFIX_RATE
    suffix = np.where(has_suffix, np.asarray(_SUFFIXES)[rng.integers(len(_SUFFIXES), size=n)], "")
    titles = pd.Series(add(base.astype(str), suffix), dtype=object)
    # no generated name ends in a digit, so " 2", " 3", ... make the names unique
    dup = titles.groupby(titles, sort=False).cumcount().to_numpy()
    numbered = add(add(titles.to_numpy().astype(str), " "), (dup + 1).astype(str))
    return np.where(dup > 0, numbered, titles.to_numpy().astype(str)).astype(object)


# ---------------------------------------------------------------------- plays
def _plays(
    rng: np.random.Generator,
    n_users: int,
    n_items: int,
    item_genres: np.ndarray,
    n_item_genres: np.ndarray,
    pop_weight: np.ndarray,
    prevalence: np.ndarray,
    *,
    mean_plays: float,
    exploration: float,
    niche: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (viewer, title) plays, in no particular order."""
    n_genres = len(prevalence)
    # viewers: number of plays, favourite genres with Dirichlet weights, niche propensity
    mu = np.log(mean_plays) - _PLAYS_SIGMA**2 / 2
    wanted = np.rint(rng.lognormal(mu, _PLAYS_SIGMA, n_users))
    wanted = np.clip(wanted, 1, max(1, n_items // 2)).astype(np.int64)
    favourites = _top3(rng, n_users, prevalence)
    n_fav = rng.choice(np.arange(1, 4), size=n_users, p=_FAVOURITE_COUNT_P)
    fav_w = rng.gamma(1.0, size=(n_users, 3)) * (np.arange(3)[None, :] < n_fav[:, None])
    niche_share = rng.beta(1.0, (1.0 - niche) / niche, n_users) if niche > 0 else np.zeros(n_users)

    # titles of each genre (a title with several genres is in several pools)
    member_item = np.repeat(np.arange(n_items), 3).reshape(n_items, 3)[item_genres >= 0]
    member_genre = item_genres[item_genres >= 0]
    by_genre = np.argsort(member_genre, kind="stable")
    pool_items = member_item[by_genre]
    pool_bounds = np.searchsorted(member_genre[by_genre], np.arange(n_genres + 1))
    pools = [pool_items[pool_bounds[g] : pool_bounds[g + 1]] for g in range(n_genres)]
    pool_p = [pop_weight[p] / pop_weight[p].sum() if len(p) else p for p in pools]
    present = np.flatnonzero([len(p) > 0 for p in pools])
    fav_cdf = np.cumsum(fav_w, axis=1) / fav_w.sum(axis=1, keepdims=True)

    def draw(user: np.ndarray) -> np.ndarray:
        """One title per entry of ``user``: a genre from the tastes, then a title in it."""
        total = len(user)
        slot = (rng.random(total)[:, None] > fav_cdf[user]).sum(axis=1)
        slot = np.minimum(slot, n_fav[user] - 1)
        genre = favourites[user, slot]
        explore = rng.random(total) < exploration
        genre[explore] = rng.choice(n_genres, size=int(explore.sum()), p=prevalence)
        if len(present) < n_genres:  # tiny catalogs: genres without titles map to others
            genre = np.where(np.isin(genre, present), genre, present[genre % len(present)])
        is_niche = rng.random(total) < niche_share[user]
        key = genre.astype(np.int64) * 2 + is_niche
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(2 * n_genres + 1))
        item = np.empty(total, dtype=np.int64)
        for g in range(n_genres):  # the only loop over data: over genres
            pool = pools[g]
            head = order[bounds[2 * g] : bounds[2 * g + 1]]
            tail = order[bounds[2 * g + 1] : bounds[2 * g + 2]]
            if len(head):
                item[head] = rng.choice(pool, size=len(head), p=pool_p[g])
            if len(tail):
                item[tail] = pool[rng.integers(len(pool), size=len(tail))]
        return item

    # Each viewer keeps the first `wanted` distinct titles of its draws; viewers short of
    # plays after a round (repeated titles) draw again, with a growing margin.
    user = np.empty(0, dtype=np.int32)
    item = np.empty(0, dtype=np.int64)
    for round_ in range(_MAX_ROUNDS):
        deficit = wanted - np.bincount(user, minlength=n_users)
        todo = deficit > 0
        if not todo.any():
            break
        n_draws = np.ceil(deficit[todo] * _OVERSAMPLE * 2**round_).astype(np.int64) + 2
        new_user = np.repeat(np.flatnonzero(todo).astype(np.int32), n_draws)
        new_item = draw(new_user)
        redo = todo[user]
        kept_user, kept_item = _first_distinct(
            np.concatenate([user[redo], new_user]),
            np.concatenate([item[redo], new_item]),
            wanted,
            n_items,
        )
        user = np.concatenate([user[~redo], kept_user])
        item = np.concatenate([item[~redo], kept_item])
    return user, item


def _first_distinct(
    user: np.ndarray, item: np.ndarray, wanted: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per viewer, the first ``wanted[user]`` distinct titles in draw order."""
    _, first = np.unique(user.astype(np.int64) * n_items + item, return_index=True)
    first.sort()
    first = first[np.argsort(user[first], kind="stable")]  # by viewer, draw order within
    user, item = user[first], item[first]
    starts = np.searchsorted(user, np.arange(len(wanted)))
    keep = np.arange(len(user)) - starts[user] < wanted[user]
    return user[keep], item[keep]


# ---------------------------------------------------------------------- validation
_MAX_INDEX = int(np.iinfo(np.int32).max)


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    ok = ok and value >= low and (high is None or value <= high)
    if not ok:
        expected = f"an int in [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise param_error(name, "synthetic", expected, value)


def _check_real(name: str, value: Any, low: float, high: float | None, expected: str) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and bool(np.isfinite(float(value))) and low <= float(value)
    ok = ok and (high is None or float(value) <= high)
    if not ok:
        raise param_error(name, "synthetic", expected, value)


def _check_start(start: Any) -> np.int64:
    try:
        ts = pd.Timestamp(start)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT or pd.isna(ts):
        raise param_error("start", "synthetic", "a date (e.g. '2025-01-01')", start)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    try:
        return np.int64(ts.as_unit("ns").value)
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        raise param_error(
            "start", "synthetic", "a date between 1677-09-22 and 2262-04-11", start
        ) from None
