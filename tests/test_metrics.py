"""Tests of fairrec.metrics.

* every docstring example runs (hand-computed values);
* vectorized metrics equal slow, literal per-viewer reference implementations on random
  frames (hypothesis);
* properties: bounds, coverage of the whole catalog = 1, NDCG of the ideal ranking = 1,
  Gini of uniform exposure = 0;
* precision@10, NDCG@10 and MAP@10 equal implicit.evaluation's on the same ALS model/split;
* errors name the column / id at fault; 10,000 viewers x 6 metrics well under 5 s.
"""

from __future__ import annotations

import doctest
import importlib
import math
import pkgutil
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairrec.metrics as M
from fairrec.errors import DataError, ParameterError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GENRES = ["Drama", "Comedy", "Horror", "Doc"]


# ============================================================================ random frames
@st.composite
def frames(draw, max_users: int = 5, max_items: int = 7, str_ids: bool | None = None):
    """recs (distinct titles per viewer, increasing ranks with gaps), truth, train, genres."""
    n_items = draw(st.integers(1, max_items))
    n_users = draw(st.integers(1, max_users))
    if str_ids is None:
        str_ids = draw(st.booleans())
    item = (lambda i: f"i{i}") if str_ids else (lambda i: int(i) * 10)
    rows = []
    for u in range(n_users):
        perm = draw(st.permutations(range(n_items)))
        length = draw(st.integers(0, n_items))
        gaps = draw(st.lists(st.integers(1, 2), min_size=length, max_size=length))
        rows += [(u, item(i), int(r)) for i, r in zip(perm[:length], np.cumsum(gaps))]
    recs = pd.DataFrame(rows, columns=["user_id", "item_id", "rank"])
    pair = st.tuples(st.integers(0, n_users + 1), st.integers(0, n_items - 1))
    truth_rows = draw(st.lists(pair, max_size=15))
    train_rows = draw(st.lists(pair, min_size=1, max_size=25))
    truth = pd.DataFrame(
        [(u, item(i)) for u, i in truth_rows], columns=["user_id", "item_id"]
    ).astype({"user_id": np.int64})
    train = pd.DataFrame(
        [(u, item(i)) for u, i in train_rows], columns=["user_id", "item_id"]
    ).astype({"user_id": np.int64})
    genre_lists = draw(
        st.lists(
            st.lists(st.sampled_from(GENRES), max_size=3, unique=True),
            min_size=n_items,
            max_size=n_items,
        )
    )
    genres = pd.Series({item(i): g for i, g in enumerate(genre_lists)}, dtype=object)
    vectors = pd.DataFrame(
        draw(
            st.lists(
                st.lists(st.integers(-3, 3), min_size=3, max_size=3),
                min_size=n_items,
                max_size=n_items,
            )
        ),
        index=[item(i) for i in range(n_items)],
        dtype=float,
    )
    k = draw(st.one_of(st.none(), st.integers(1, 4)))
    return recs, truth, train, genres, vectors, k


# ============================================================================ references
def lists_of(recs: pd.DataFrame, k: int | None) -> dict:
    out: dict = defaultdict(list)
    for u, i, r in recs.sort_values(["user_id", "rank"]).itertuples(index=False):
        if k is None or r <= k:
            out[u].append((r, i))
    return out


def sets_of(df: pd.DataFrame) -> dict:
    out: dict = defaultdict(set)
    for u, i in df[["user_id", "item_id"]].itertuples(index=False):
        out[u].add(i)
    return out


def ref_accuracy(recs, truth, k):
    """Per truth viewer: precision (k and min), recall, ndcg, map, hit, min-denominator."""
    lists, tsets = lists_of(recs, k), sets_of(truth)
    res = {}
    for u, t in tsets.items():
        top = lists.get(u, [])
        c = k if k is not None else len(top)
        hits = [r for r, i in top if i in t]
        dcg = sum(1 / math.log2(r + 1) for r in hits)
        n_ideal = min(c, len(t))
        idcg = sum(1 / math.log2(r + 1) for r in range(1, n_ideal + 1))
        ap, seen = 0.0, 0
        for r, i in top:
            if i in t:
                seen += 1
                ap += seen / r
        res[u] = {
            "precision": len(hits) / c if c else 0.0,
            "precision_min": len(hits) / n_ideal if n_ideal else 0.0,
            "recall": len(hits) / len(t),
            "ndcg": dcg / idcg if idcg else 0.0,
            "map": ap / n_ideal if n_ideal else 0.0,
            "hit": float(len(hits) > 0),
            "hits": len(hits),
            "den_min": n_ideal,
        }
    return res


def cos_vectors(features):
    if isinstance(features, pd.Series):

        def vec(i):
            return np.array([g in features[i] for g in GENRES], dtype=float)
    else:

        def vec(i):
            return features.loc[i].to_numpy(dtype=float)

    def cos(a, b):
        va, vb = vec(a), vec(b)
        na, nb = np.linalg.norm(va), np.linalg.norm(vb)
        return float(va @ vb / (na * nb)) if na > 0 and nb > 0 else 0.0

    return cos


def cos_cooc(train):
    users_of = defaultdict(set)
    for u, i in train[["user_id", "item_id"]].itertuples(index=False):
        users_of[i].add(u)

    def cos(a, b):
        ua, ub = users_of.get(a, set()), users_of.get(b, set())
        return len(ua & ub) / math.sqrt(len(ua) * len(ub)) if ua and ub else 0.0

    return cos


def ref_ild(recs, k, cos):
    out = {}
    for u, top in lists_of(recs, k).items():
        items = [i for _, i in top]
        pairs = [(a, b) for x, a in enumerate(items) for b in items[x + 1 :]]
        if pairs:
            out[u] = 1 - sum(cos(a, b) for a, b in pairs) / len(pairs)
    return out


def ref_unexpected(recs, train, truth, k, cos, relevant_only=False):
    hist, tsets = sets_of(train), sets_of(truth)
    out = {}
    for u, top in lists_of(recs, k).items():
        if not hist.get(u):
            continue
        vals = []
        for _, i in top:
            un = 1 - sum(cos(i, j) for j in hist[u]) / len(hist[u])
            vals.append(un * (i in tsets.get(u, set())) if relevant_only else un)
        out[u] = sum(vals) / len(vals)
    return out


def ref_miscalibration(recs, train, k, genres, alpha):
    hist = sets_of(train)

    def dist(items):
        acc = defaultdict(float)
        n = 0
        for i in items:
            if genres[i]:
                n += 1
                for g in genres[i]:
                    acc[g] += 1 / len(genres[i])
        return {g: v / n for g, v in acc.items()} if n else {}

    out = {}
    for u, top in lists_of(recs, k).items():
        if not hist.get(u):
            continue
        p = dist(hist[u])
        if not p:
            continue
        q = dist([i for _, i in top])
        out[u] = sum(
            pv * math.log(pv / ((1 - alpha) * q.get(g, 0.0) + alpha * pv)) for g, pv in p.items()
        )
    return out


def ref_popularity(recs, train, k):
    counts = train["item_id"].value_counts().to_dict()
    n = len(train)
    hist = sets_of(train)
    nov_lines, nov, arp, lift = [], {}, {}, {}
    for u, top in lists_of(recs, k).items():
        items = [i for _, i in top]
        nv = [-math.log2(max(counts.get(i, 0), 1) / n) for i in items]
        nov_lines += nv
        nov[u] = sum(nv) / len(nv)
        arp[u] = sum(counts.get(i, 0) / n for i in items) / len(items)
        if hist.get(u):
            p = sum(counts[j] / n for j in hist[u]) / len(hist[u])
            lift[u] = (arp[u], p)
    return nov_lines, nov, arp, lift


def ref_head(train, head_share, head_by):
    counts = train["item_id"].value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = counts.sum()
    if head_by == "items":
        return {i for i, _ in ranked[: math.ceil(head_share * len(ranked))]}
    head, covered = set(), 0
    for i, c in ranked:
        if covered < head_share * total:
            head.add(i)
        covered += c
    # the head draws head_share of the plays; a title as played as one in it is in it too
    least = min((counts[i] for i in head), default=math.inf)
    return {i for i, c in counts.items() if c >= least}


def assert_series(actual: pd.Series, expected: dict, tol: float = 1e-9):
    assert sorted(actual.index.tolist()) == sorted(expected), (actual, expected)
    for u, v in expected.items():
        assert actual[u] == pytest.approx(v, abs=tol), (u, actual[u], v)


def mean_or_nan(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def approx_or_nan(actual: float, expected: float, tol: float = 1e-9) -> None:
    if math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert actual == pytest.approx(expected, abs=tol)


# ============================================================================ docstrings
def test_docstring_examples_run_and_hold():
    failed = attempted = 0
    for info in pkgutil.iter_modules(M.__path__, prefix="fairrec.metrics."):
        result = doctest.testmod(
            importlib.import_module(info.name), optionflags=doctest.NORMALIZE_WHITESPACE
        )
        failed += result.failed
        attempted += result.attempted
    assert failed == 0
    assert attempted >= 60  # every public metric carries a worked example


def _documented_parameters(doc: str) -> set[str]:
    """Parameter names of a numpydoc ``Parameters`` section (``a, b : type`` lines)."""
    section = doc.split("Parameters\n    ----------\n", 1)[1].split("\n\n", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("    ") and not line.startswith("     "):
            names |= {n.strip() for n in line.split(" : ")[0].split(",")}
    return names


@pytest.mark.parametrize("name", [n for n in M.__all__ if callable(getattr(M, n))])
def test_shared_parameter_text_is_filled_in(name):
    """The shared blocks (written once in metrics/_doc.py) are filled into every docstring:
    no placeholder is left, and every parameter of the signature is documented."""
    import inspect
    import re

    fn = getattr(M, name)
    if isinstance(fn, type):
        return
    doc = fn.__doc__
    assert not re.search(r"^ *\{\w+\}$", doc, flags=re.MULTILINE), doc
    wanted = set(inspect.signature(fn).parameters)
    assert wanted <= _documented_parameters(doc), wanted - _documented_parameters(doc)


def test_shared_doc_refuses_an_unknown_placeholder():
    from fairrec.metrics._doc import shared_doc

    def f():
        """Doc.

        Parameters
        ----------
        {no_such_block}
        """

    with pytest.raises(KeyError, match="no_such_block"):
        shared_doc(f)


# ============================================================================ accuracy
@SETTINGS
@given(frames())
def test_accuracy_metrics_equal_reference(data):
    recs, truth, _, _, _, k = data
    ref = ref_accuracy(recs, truth, k)
    checks = {
        "precision": M.precision_at_k(recs, truth, k=k, per_user=True),
        "precision_min": M.precision_at_k(recs, truth, k=k, per_user=True, denominator="min"),
        "recall": M.recall_at_k(recs, truth, k=k, per_user=True),
        "ndcg": M.ndcg_at_k(recs, truth, k=k, per_user=True),
        "map": M.map_at_k(recs, truth, k=k, per_user=True),
        "hit": M.hit_rate_at_k(recs, truth, k=k, per_user=True),
    }
    for name, series in checks.items():
        assert_series(series, {u: r[name] for u, r in ref.items()})
        assert ((series >= 0) & (series <= 1 + 1e-12)).all()
    approx_or_nan(M.ndcg_at_k(recs, truth, k=k), mean_or_nan(r["ndcg"] for r in ref.values()))
    approx_or_nan(M.map_at_k(recs, truth, k=k), mean_or_nan(r["map"] for r in ref.values()))
    den = sum(r["den_min"] for r in ref.values())
    pooled = sum(r["hits"] for r in ref.values()) / den if den else float("nan")
    approx_or_nan(M.precision_at_k(recs, truth, k=k, denominator="min"), pooled)


@SETTINGS
@given(frames(), st.data())
def test_ndcg_of_ideal_ranking_is_one(data, more):
    _, truth, _, _, _, k = data
    truth = truth.drop_duplicates()
    if len(truth) == 0:
        return
    truth = truth.astype({"item_id": str})
    rows = []
    for u, items in sets_of(truth).items():
        ordered = sorted(items) + [f"filler{x}" for x in range(3)]  # held-out titles first
        rows += [(u, i, r + 1) for r, i in enumerate(ordered)]
    ideal = pd.DataFrame(rows, columns=["user_id", "item_id", "rank"])
    kk = more.draw(st.integers(1, 6))
    assert M.ndcg_at_k(ideal, truth, k=kk) == pytest.approx(1.0)
    assert M.map_at_k(ideal, truth, k=kk) == pytest.approx(1.0)
    assert M.hit_rate_at_k(ideal, truth, k=kk) == 1.0


def test_population_and_cutoff_by_hand():
    recs = pd.DataFrame(
        {"user_id": ["a", "a", "a", "x"], "item_id": [1, 2, 3, 1], "rank": [1, 3, 5, 1]}
    )
    truth = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": [3, 9, 1]})
    # viewer "x" is only in recs: ignored; viewer "b" has no list: counts 0
    s = M.recall_at_k(recs, truth, per_user=True)
    assert s.to_dict() == {"a": 0.5, "b": 0.0}
    assert s.name == "recall_at_k"
    # k=4 keeps ranks 1 and 3 only: the hit at rank 5 is cut
    assert M.recall_at_k(recs, truth, k=4) == 0.0
    # k=None: the list is judged at its own length (3 lines): 1 hit / 3
    assert M.precision_at_k(recs, truth, per_user=True)["a"] == pytest.approx(1 / 3)
    # ranks are positions as given: hit at rank 5 -> 1/log2(6); ideal over min(3, 2) = 2
    expected = (1 / math.log2(6)) / (1 + 1 / math.log2(3))
    assert M.ndcg_at_k(recs, truth, per_user=True)["a"] == pytest.approx(expected)


def test_custom_column_names():
    recs = pd.DataFrame({"viewer": [1, 1], "title": ["a", "b"], "pos": [1, 2]})
    truth = pd.DataFrame({"viewer": [1], "title": ["b"]})
    cols = {"user_col": "viewer", "item_col": "title", "rank_col": "pos"}
    assert M.precision_at_k(recs, truth, k=2, **cols) == 0.5
    categorical = recs.astype({"viewer": "category", "title": "category"})
    assert M.precision_at_k(categorical, truth, k=2, **cols) == 0.5
    with pytest.raises(DataError, match="'rank'"):
        M.precision_at_k(recs, truth, user_col="viewer", item_col="title")


# ============================================================================ implicit equivalence
def test_precision_ndcg_map_equal_implicit_evaluation():
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.evaluation import (
        mean_average_precision_at_k,
        ndcg_at_k,
        precision_at_k,
        train_test_split,
    )
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    n_users, n_items = 300, 200
    # low-rank taste structure so that the model finds real hits
    logits = rng.normal(size=(n_users, 4)) @ rng.normal(size=(4, n_items)) - 3.0
    dense = rng.random((n_users, n_items)) < 1 / (1 + np.exp(-logits))
    user_items = sp.csr_matrix(dense.astype(np.float32))
    train, test = train_test_split(user_items, train_percentage=0.8, random_state=7)
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=16, iterations=5, random_state=0, num_threads=1)
        model.fit(train, show_progress=False)
        kw = {"K": 10, "show_progress": False}
        p_ref = precision_at_k(model, train, test, **kw)
        n_ref = ndcg_at_k(model, train, test, **kw)
        m_ref = mean_average_precision_at_k(model, train, test, **kw)
        users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int32)
        ids, _ = model.recommend(users, train[users], N=10)
    recs = pd.DataFrame(
        {
            "user_id": np.repeat(users, 10),
            "item_id": ids.ravel(),
            "rank": np.tile(np.arange(1, 11), len(users)),
        }
    )
    coo = test.tocoo()
    truth = pd.DataFrame({"user_id": coo.row, "item_id": coo.col})
    assert p_ref > 0.05  # a meaningful comparison: many hits
    assert M.precision_at_k(recs, truth, k=10, denominator="min") == pytest.approx(p_ref, abs=1e-6)
    assert M.ndcg_at_k(recs, truth, k=10) == pytest.approx(n_ref, abs=1e-6)
    assert M.map_at_k(recs, truth, k=10) == pytest.approx(m_ref, abs=1e-6)
    # the Recommenders-style precision differs (macro hits / k) and is no larger here
    assert M.precision_at_k(recs, truth, k=10) != pytest.approx(p_ref, abs=1e-6)


# ============================================================================ beyond accuracy
@SETTINGS
@given(frames())
def test_coverage_gini_entropy_equal_reference(data):
    recs, _, train, _, _, k = data
    top = [(u, i) for u, lst in lists_of(recs, k).items() for _, i in lst]
    catalog = set(train["item_id"]) | {i for _, i in top}
    shown = {i for _, i in top}
    assert M.catalog_coverage(recs, train, k=k) == pytest.approx(len(shown) / len(catalog))
    counts = pd.Series([i for _, i in top], dtype=object).value_counts()
    if len(top):
        p = counts.to_numpy() / len(top)
        assert M.distributional_coverage(recs, k=k) == pytest.approx(-(p * np.log2(p)).sum())
        assert 0 <= M.distributional_coverage(recs, k=k) <= np.log2(len(shown)) + 1e-12
        x = np.sort([counts.get(i, 0) for i in catalog]).astype(float)
        n = len(x)
        ref = sum((2 * (j + 1) - n - 1) * x[j] for j in range(n)) / (n * x.sum())
        g = M.gini_index(recs, train, k=k)
        assert g == pytest.approx(ref)
        assert 0 <= g < 1
    else:
        assert math.isnan(M.gini_index(recs, train, k=k))
        assert math.isnan(M.distributional_coverage(recs, k=k))


@SETTINGS
@given(st.integers(1, 30), st.integers(1, 5), st.booleans())
def test_full_catalog_coverage_is_one_and_uniform_exposure_gini_is_zero(n_items, reps, str_ids):
    items = [f"t{i}" if str_ids else i for i in range(n_items)]
    # viewer v gets titles v, v+1, ... (mod n): every title shown exactly `reps` times
    rows = (
        [(v, items[(v + r) % n_items], r + 1) for v in range(n_items) for r in range(reps)]
        if reps <= n_items
        else [(v, items[r], r + 1) for v in range(reps) for r in range(n_items)]
    )
    recs = pd.DataFrame(rows, columns=["user_id", "item_id", "rank"])
    assert M.catalog_coverage(recs, catalog=items) == 1.0
    assert M.page_coverage(recs.assign(row=0, position=recs["rank"] - 1), catalog=items) == 1.0
    assert M.gini_index(recs, catalog=items) == pytest.approx(0.0, abs=1e-12)
    assert M.distributional_coverage(recs) == pytest.approx(np.log2(n_items))
    # all exposure on one title of the catalog: Gini = (n - 1) / n
    one = pd.DataFrame({"user_id": range(3), "item_id": [items[0]] * 3, "rank": 1})
    assert M.gini_index(one, catalog=items) == pytest.approx((n_items - 1) / n_items)


@SETTINGS
@given(frames())
def test_popularity_metrics_equal_reference(data):
    recs, _, train, _, _, k = data
    nov_lines, nov, arp, lift = ref_popularity(recs, train, k)
    assert_series(M.novelty(recs, train, k=k, per_user=True), nov)
    approx_or_nan(M.novelty(recs, train, k=k), mean_or_nan(nov_lines))
    assert_series(M.average_popularity(recs, train, k=k, per_user=True), arp)
    assert_series(
        M.popularity_lift(recs, train, k=k, per_user=True),
        {u: (q - p) / p for u, (q, p) in lift.items()},
    )
    gq = mean_or_nan(q for q, _ in lift.values())
    gp = mean_or_nan(p for _, p in lift.values())
    approx_or_nan(M.popularity_lift(recs, train, k=k), (gq - gp) / gp if lift else math.nan)
    for v in nov_lines:
        assert 0 <= v <= math.log2(len(train)) + 1e-12
    assert (M.popularity_lift(recs, train, k=k, per_user=True) >= -1).all()


@SETTINGS
@given(frames(), st.sampled_from([0.1, 0.2, 0.5, 0.9]), st.sampled_from(["interactions", "items"]))
def test_long_tail_share_equals_reference(data, head_share, head_by):
    recs, _, train, _, _, k = data
    head = ref_head(train, head_share, head_by)
    expected = {
        u: sum(i not in head for _, i in top) / len(top) for u, top in lists_of(recs, k).items()
    }
    if head_by == "items":  # deprecated: head_share read as a share of titles
        with pytest.warns(FutureWarning, match=r"head_by='items'\) is deprecated"):
            got = M.long_tail_share(
                recs, train, k=k, head_share=head_share, head_by=head_by, per_user=True
            )
    else:
        got = M.long_tail_share(recs, train, k=k, head_share=head_share, per_user=True)
    assert_series(got, expected)
    assert ((got >= 0) & (got <= 1)).all()


@SETTINGS
@given(frames(), st.sampled_from(["genres", "vectors", "cooc"]))
def test_similarity_metrics_equal_reference(data, source):
    recs, truth, train, genres, vectors, k = data
    features = {"genres": genres, "vectors": vectors, "cooc": None}[source]
    cos = cos_cooc(train) if source == "cooc" else cos_vectors(features)
    upper = 2.0 if source == "vectors" else 1.0

    ild = M.intra_list_diversity(recs, train, k=k, item_features=features, per_user=True)
    assert_series(ild, ref_ild(recs, k, cos))
    assert ((ild >= -1e-12) & (ild <= upper + 1e-12)).all()

    un = M.unexpectedness(recs, train, k=k, item_features=features, per_user=True)
    assert_series(un, ref_unexpected(recs, train, truth, k, cos))
    assert ((un >= -1e-12) & (un <= upper + 1e-12)).all()

    ser = M.serendipity(recs, truth, train=train, k=k, item_features=features, per_user=True)
    assert_series(ser, ref_unexpected(recs, train, truth, k, cos, relevant_only=True))
    assert ((ser >= -1e-12) & (ser <= un + 1e-12)).all()


@SETTINGS
@given(frames(), st.sampled_from([0.01, 0.1, 0.5]))
def test_miscalibration_equals_reference(data, alpha):
    recs, _, train, genres, _, k = data
    got = M.miscalibration(recs, train, item_features=genres, k=k, alpha=alpha, per_user=True)
    assert_series(got, ref_miscalibration(recs, train, k, genres, alpha))
    assert ((got >= 0) & (got <= math.log(1 / alpha) + 1e-9)).all()


def test_miscalibration_is_zero_for_a_calibrated_list():
    genres = pd.Series({"a": ["Drama"], "b": ["Comedy"], "c": ["Drama"], "d": ["Comedy"]})
    train = pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "b"]})
    recs = pd.DataFrame({"user_id": [1, 1], "item_id": ["c", "d"], "rank": [1, 2]})
    assert M.miscalibration(recs, train, item_features=genres) == pytest.approx(0.0, abs=1e-12)


def test_cooccurrence_similarity_by_hand():
    # a: viewers {1, 2}; b: {2, 3}; c: {3}. cos(a, b) = 1/2, cos(a, c) = 0, cos(b, c) = 1/sqrt2
    train = pd.DataFrame({"user_id": [1, 2, 2, 3, 3], "item_id": list("aabbc")})
    recs = pd.DataFrame({"user_id": [9, 9, 9], "item_id": list("abc"), "rank": [1, 2, 3]})
    expected = 1 - (0.5 + 0 + 1 / math.sqrt(2)) / 3
    assert M.intra_list_diversity(recs, train) == pytest.approx(expected)
    # viewer 1 (history {a}) gets b and c: unexpectedness (1 - 1/2 + 1 - 0) / 2
    recs1 = pd.DataFrame({"user_id": [1, 1], "item_id": ["b", "c"], "rank": [1, 2]})
    assert M.unexpectedness(recs1, train) == pytest.approx(0.75)


# ============================================================================ pages
@st.composite
def pages(draw):
    n_users = draw(st.integers(1, 4))
    n_items = draw(st.integers(1, 6))
    rows = []
    for u in range(n_users):
        n_rows = draw(st.integers(1, 3))
        for r in range(n_rows):
            length = draw(st.integers(1, 4))
            items = draw(st.lists(st.integers(0, n_items - 1), min_size=length, max_size=length))
            rows += [(u, r, p, f"i{i}") for p, i in enumerate(items)]
    page = pd.DataFrame(rows, columns=["user_id", "row", "position", "item_id"])
    page["row_title"] = "ignored"
    truth_rows = draw(
        st.lists(st.tuples(st.integers(0, n_users), st.integers(0, n_items - 1)), max_size=10)
    )
    truth = pd.DataFrame(
        [(u, f"i{i}") for u, i in truth_rows], columns=["user_id", "item_id"]
    ).astype({"user_id": np.int64})
    genres = pd.Series(
        {
            f"i{i}": draw(st.lists(st.sampled_from(GENRES), max_size=2, unique=True))
            for i in range(n_items)
        },
        dtype=object,
    )
    return page, truth, genres


def ref_ndcg_2d(page, truth, alpha, beta):
    tsets = sets_of(truth)
    slots = defaultdict(list)
    for u, r, p, i in page[["user_id", "row", "position", "item_id"]].itertuples(index=False):
        slots[u].append((1 / math.log2(alpha * (r + 1) + beta * (p + 1)), r, i))
    out = {}
    for u, t in tsets.items():
        ss = sorted(slots.get(u, []), key=lambda x: (-x[0], x[1]))
        seen, dcg = set(), 0.0
        for d, _, i in ss:
            if i in t and i not in seen:
                dcg += d
            seen.add(i)
        idcg = sum(d for d, _, _ in ss[: len(t)])
        out[u] = dcg / idcg if idcg else 0.0
    return out


@SETTINGS
@given(pages(), st.sampled_from([(1.0, 1.0), (2.0, 0.5), (0.5, 1.0)]))
def test_page_metrics_equal_reference(data, ab):
    page, truth, genres = data
    alpha, beta = ab
    got = M.ndcg_2d(page, truth, alpha=alpha, beta=beta, per_user=True)
    assert_series(got, ref_ndcg_2d(page, truth, alpha, beta))
    assert ((got >= 0) & (got <= 1 + 1e-12)).all()

    rep = M.repeat_rate(page, per_user=True)
    expected = {u: 1 - g["item_id"].nunique() / len(g) for u, g in page.groupby("user_id")}
    assert_series(rep, expected)

    cos = cos_vectors(genres)
    per_user = {}
    for u, g in page.groupby("user_id"):
        vals = []
        for _, row in g.sort_values(["row", "position"]).groupby("row"):
            items = list(dict.fromkeys(row["item_id"]))
            pairs = [(a, b) for x, a in enumerate(items) for b in items[x + 1 :]]
            if pairs:
                vals.append(sum(cos(a, b) for a, b in pairs) / len(pairs))
        if vals:
            per_user[u] = sum(vals) / len(vals)
    assert_series(M.row_coherence(page, item_features=genres, per_user=True), per_user)


def test_ndcg_2d_ideal_page_is_one_and_flat_page_matches_ndcg():
    truth = pd.DataFrame({"user_id": [1, 1, 1], "item_id": ["a", "b", "c"]})
    # relevant titles in the three best slots of a 2 x 3 page: (0,0), (0,1), (1,0)
    page = pd.DataFrame(
        {
            "user_id": 1,
            "row": [0, 0, 0, 1, 1, 1],
            "position": [0, 1, 2, 0, 1, 2],
            "item_id": ["a", "b", "x", "c", "y", "z"],
        }
    )
    assert M.ndcg_2d(page, truth) == pytest.approx(1.0)
    # a single row: disc = 1/log2(j + 2) is the flat NDCG discount at rank j + 1
    flat = pd.DataFrame({"user_id": 1, "item_id": ["x", "a", "y", "b"], "rank": [1, 2, 3, 4]})
    one_row = flat.assign(row=0, position=flat["rank"] - 1)
    assert M.ndcg_2d(one_row, truth) == pytest.approx(M.ndcg_at_k(flat, truth))
    # k keeps the first k positions of each row
    assert M.ndcg_2d(one_row, truth, k=1) == 0.0


# ============================================================================ all_metrics
def test_all_metrics_matches_single_calls():
    rng = np.random.default_rng(3)
    n_users, n_items = 40, 25
    rows = [
        (u, i, r + 1)
        for u in range(n_users)
        for r, i in enumerate(rng.choice(n_items, size=6, replace=False))
    ]
    recs = pd.DataFrame(rows, columns=["user_id", "item_id", "rank"])
    truth = pd.DataFrame(
        {"user_id": rng.integers(0, n_users, 60), "item_id": rng.integers(0, n_items, 60)}
    )
    train = pd.DataFrame(
        {"user_id": rng.integers(0, n_users, 300), "item_id": rng.integers(0, n_items, 300)}
    )
    genres = pd.Series({i: [GENRES[i % 4], GENRES[(i * 7) % 4]] for i in range(n_items)})
    out = M.all_metrics(recs, truth, train, k=5, item_features=genres)
    assert list(out) == list(M.REGISTRY)
    for name, value in out.items():
        fn = M.REGISTRY[name].function
        kw = {"k": 5}
        if name in ("intra_list_diversity", "unexpectedness", "serendipity", "miscalibration"):
            kw["item_features"] = genres
        if name == "serendipity":
            single = fn(recs, truth, train=train, **kw)
        elif "truth" in M.REGISTRY[name].needs:
            single = fn(recs, truth, **kw)
        else:
            single = fn(recs, train, **kw)
        assert value == pytest.approx(single), name
    per = M.all_metrics(recs, truth, train, k=5, item_features=genres, per_user=True)
    assert isinstance(per["ndcg_at_k"], pd.Series) and isinstance(per["gini_index"], float)
    assert per["ndcg_at_k"].mean() == pytest.approx(out["ndcg_at_k"])
    # without features the similarity metrics are skipped unless asked for by name
    assert "intra_list_diversity" not in M.all_metrics(recs, truth, train, k=5)
    named = M.all_metrics(recs, truth, train, k=5, metrics=["intra_list_diversity"])
    assert named["intra_list_diversity"] == pytest.approx(M.intra_list_diversity(recs, train, k=5))
    with pytest.raises(ParameterError, match="miscalibration"):
        M.all_metrics(recs, truth, train, metrics=["miscalibration"])
    with pytest.raises(ParameterError, match="metrics"):
        M.all_metrics(recs, truth, metrics=["nope"])


def test_ten_thousand_viewers_six_metrics_under_five_seconds():
    rng = np.random.default_rng(0)
    n_users, n_items, k = 10_000, 5_000, 10
    # distinct titles per viewer: an arithmetic progression with a per-viewer start/stride
    start = rng.integers(0, n_items, n_users)[:, None]
    stride = rng.choice([1, 3, 7, 9, 11], n_users)[:, None]
    items = (start + stride * np.arange(k)) % n_items
    recs = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n_users), k),
            "item_id": items.ravel(),
            "rank": np.tile(np.arange(1, k + 1), n_users),
        }
    )
    truth = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n_users), 5),
            "item_id": rng.integers(0, n_items, n_users * 5),
        }
    )
    train = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n_users), 30),
            "item_id": rng.zipf(1.3, n_users * 30) % n_items,
        }
    )
    genres = pd.Series({i: [GENRES[i % 4]] for i in range(n_items)})
    names = [
        "precision_at_k",
        "recall_at_k",
        "ndcg_at_k",
        "map_at_k",
        "novelty",
        "intra_list_diversity",
    ]
    out = M.all_metrics(recs, truth, train, k=k, item_features=genres, metrics=names)
    assert set(out) == set(names)


# ============================================================================ errors
def test_errors_name_what_is_wrong():
    recs = pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "b"], "rank": [1, 2]})
    truth = pd.DataFrame({"user_id": [1], "item_id": ["a"]})
    with pytest.raises(DataError, match="'rank'"):
        M.precision_at_k(recs.drop(columns="rank"), truth)
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        M.precision_at_k(recs.to_dict(), truth)
    with pytest.raises(DataError, match="duplicated.*'a'"):
        M.precision_at_k(pd.concat([recs, recs.assign(rank=[3, 4])]), truth)
    with pytest.raises(DataError, match="rank 1"):
        M.precision_at_k(recs.assign(rank=[1, 1]), truth)
    with pytest.raises(DataError, match="integers >= 1"):
        M.precision_at_k(recs.assign(rank=[0, 1]), truth)
    with pytest.raises(DataError, match="missing id"):
        M.precision_at_k(recs.assign(item_id=["a", None]), truth)
    with pytest.raises(DataError, match="mixes id types"):
        M.precision_at_k(recs, truth.assign(item_id=[7]))
    with pytest.raises(ParameterError, match="'k' parameter of precision_at_k"):
        M.precision_at_k(recs, truth, k=0)
    with pytest.raises(ParameterError, match="'denominator'"):
        M.precision_at_k(recs, truth, denominator="mean")
    with pytest.raises(ParameterError, match="catalog"):
        M.catalog_coverage(recs)
    with pytest.raises(ParameterError, match="'catalog'"):
        M.catalog_coverage(recs, catalog="abc")
    with pytest.raises(DataError, match="not in the catalog: 'b'"):
        M.catalog_coverage(recs, catalog=["a", "z"])
    with pytest.raises(DataError, match="no row for 1 title.*'b'"):
        M.intra_list_diversity(recs, item_features=pd.Series({"a": ["Drama"]}))
    with pytest.raises(ParameterError, match="item_features"):
        M.intra_list_diversity(recs)
    with pytest.raises(ParameterError, match="needs item_features"):
        M.miscalibration(recs, truth, item_features=None)
    with pytest.raises(ParameterError, match="'head_share'"):
        M.long_tail_share(recs, truth, head_share=1.5)
    page = pd.DataFrame(
        {"user_id": [1, 1], "row": [0, 0], "position": [0, 0], "item_id": ["a", "b"]}
    )
    with pytest.raises(DataError, match="duplicated.*slot"):
        M.repeat_rate(page)
    with pytest.raises(ParameterError, match="'alpha'"):
        M.ndcg_2d(page.assign(position=[0, 1]), truth, alpha=-1.0)


def test_per_user_on_a_global_metric_is_refused():
    recs = pd.DataFrame({"user_id": [1], "item_id": ["a"], "rank": [1]})
    from fairrec.metrics._context import _Ctx, _finish
    from fairrec.metrics._kernels import _b_gini

    ctx = _Ctx(recs, owner="t", catalog=["a"])
    with pytest.raises(ParameterError, match="per_user=True is not available"):
        _finish(ctx, _b_gini(ctx), True, "gini_index")
