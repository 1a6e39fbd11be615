"""fairrec.evaluate / fairrec.compare / fairrec.plot.tradeoff and the quickstart example."""

from __future__ import annotations

import importlib
import math
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import fairrec as fr
import fairrec.metrics as M
from fairrec.errors import DataError, NotFittedError, OptionalDependencyError, ParameterError
from fairrec.evaluation import metric_columns

ROOT = Path(__file__).resolve().parents[1]
K = 10
N_CAND = 40

BOUNDS = {
    "precision@10": (0, 1),
    "recall@10": (0, 1),
    "ndcg@10": (0, 1),
    "map@10": (0, 1),
    "hit_rate@10": (0, 1),
    "coverage": (0, 1),
    "distributional_coverage": (0, math.log2(200)),
    "gini": (0, 1),
    "ild": (0, 1),  # genre multi-hot cosine is in [0, 1]
    "novelty": (0, math.inf),
    "unexpectedness": (0, 1),
    "serendipity": (0, 1),
    "miscalibration": (0, math.log(100)),
    "arp": (0, 1),
    "popularity_lift": (-1, math.inf),
    "long_tail_share": (0, 1),
}


def _model() -> fr.models.ALS:
    return fr.models.ALS(factors=8, iterations=4, random_state=0)


@pytest.fixture(scope="module")
def split(small_data):
    return fr.evaluation.temporal_holdout(small_data, fraction=0.2)


@pytest.fixture(scope="module")
def offline(split):
    return fr.Recommender(model=_model()).fit(split.train)


@pytest.fixture(scope="module")
def table(split, offline):
    methods = {
        "als": None,
        "topk": fr.rerank.TopK(),
        "mmr": fr.rerank.MMR(lambda_=0.5),
        "cal": {"reranker": "calibrated", "lambda_": 0.8},
    }
    return fr.compare(methods, split=split, recommender=offline, n_candidates=N_CAND)


# ---------------------------------------------------------------------------- evaluate
def test_evaluate_one_row_all_metrics_in_bounds(split, offline):
    row = fr.evaluate(offline, split, k=K)
    assert row.shape[0] == 1
    assert list(row.columns) == [*metric_columns(K), "n_users", "seconds"]
    assert set(BOUNDS) == set(metric_columns(K))
    for col, (low, high) in BOUNDS.items():
        v = row[col].iloc[0]
        assert np.isfinite(v), col
        assert low - 1e-9 <= v <= high + 1e-9, (col, v)
    truth = split.test_frame()
    has_train = truth["user_id"].isin(split.train_frame()["user_id"])
    assert row["n_users"].iloc[0] == truth.loc[has_train, "user_id"].nunique()
    assert row["seconds"].iloc[0] > 0


def test_evaluate_equals_metrics_on_the_same_lists(split, offline):
    mmr = fr.rerank.MMR(lambda_=0.6)
    row = fr.evaluate(offline, split, k=K, reranker=mmr, n_candidates=N_CAND)
    truth = split.test_frame()
    users = truth["user_id"].unique().tolist()
    recs = offline.recommend_batch(users, k=K, reranker=mmr, n_candidates=N_CAND)
    train = split.train_frame()
    genres = offline.data_.catalog.set_index("item_id")["genres"]
    assert row["ndcg@10"].iloc[0] == pytest.approx(M.ndcg_at_k(recs, truth, k=K))
    assert row["novelty"].iloc[0] == pytest.approx(M.novelty(recs, train, k=K))
    assert row["ild"].iloc[0] == pytest.approx(M.intra_list_diversity(recs, item_features=genres))
    assert row["miscalibration"].iloc[0] == pytest.approx(
        M.miscalibration(recs, train, item_features=genres, k=K)
    )
    assert row.index[0] == repr(mmr)


def test_evaluate_accepts_test_dataset_or_frame(split, offline):
    ref = fr.evaluate(offline, split, k=5, metrics=["ndcg@5", "novelty", "ild"])
    assert list(ref.columns) == ["ndcg@5", "ild", "novelty", "n_users", "seconds"]
    for test in (split.test, split.test_frame()[["user_id", "item_id"]]):
        got = fr.evaluate(offline, test, k=5, metrics=["ndcg_at_k", "novelty", "ild"])
        pd.testing.assert_frame_equal(got.drop(columns="seconds"), ref.drop(columns="seconds"))


def test_evaluate_vectors_as_item_features(split, offline):
    by_genre = fr.evaluate(offline, split, metrics=["ild", "miscalibration"])
    by_vec = fr.evaluate(offline, split, metrics=["ild", "miscalibration"], item_features="vectors")
    assert by_vec["ild"].iloc[0] != pytest.approx(by_genre["ild"].iloc[0])
    assert 0 <= by_vec["ild"].iloc[0] <= 2
    # miscalibration always compares genre mixes
    assert by_vec["miscalibration"].iloc[0] == pytest.approx(by_genre["miscalibration"].iloc[0])


def test_evaluate_catalog_without_genres_uses_vectors():
    rng = np.random.default_rng(0)
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, 1500), "s")
    df = pd.DataFrame(
        {"user_id": rng.integers(0, 60, 1500), "item_id": rng.integers(0, 50, 1500), "ts": times}
    )
    data = fr.Dataset.from_pandas(df, time_col="ts")
    split = fr.evaluation.temporal_holdout(data, fraction=0.2)
    rec = fr.Recommender(model=fr.models.ALS(factors=4, iterations=2, random_state=0))
    row = fr.evaluate(rec.fit(split.train), split)
    assert np.isnan(row["miscalibration"].iloc[0])  # no genres: nothing to calibrate
    assert np.isfinite(row["ild"].iloc[0])  # similarity from the model's vectors
    vec = fr.evaluate(rec, split, item_features="vectors", metrics=["ild"])
    assert row["ild"].iloc[0] == pytest.approx(vec["ild"].iloc[0])
    with pytest.raises(DataError, match="no title of the catalog has a genre"):
        fr.evaluate(rec, split, item_features="genres")


def test_evaluate_refuses_a_recommender_fitted_on_the_test_data(small_data, split, fitted):
    with pytest.raises(DataError, match="data the recommender was fitted on"):
        fr.evaluate(fitted, split)


def test_evaluate_refuses_repeated_titles(split, offline):
    class Repeats:
        def rerank(self, scores, k, *, vectors=None, context=None, valid=None):
            return np.zeros((np.asarray(scores).shape[0], k), dtype=np.int64)

    with pytest.raises(DataError, match="same title twice"):
        fr.evaluate(offline, split, reranker=Repeats(), n_candidates=N_CAND)


def test_evaluate_bad_arguments(split, offline):
    with pytest.raises(NotFittedError):
        fr.evaluate(fr.Recommender(model=_model()), split)
    with pytest.raises(ParameterError, match="'k' parameter of evaluate"):
        fr.evaluate(offline, split, k=0)
    with pytest.raises(ParameterError, match="'metrics' parameter"):
        fr.evaluate(offline, split, metrics=["ndcg", "nope"])
    with pytest.raises(ParameterError, match="'item_features' parameter"):
        fr.evaluate(offline, split, item_features="colours")
    with pytest.raises(ParameterError, match="'n_candidates' parameter"):
        fr.evaluate(offline, split, k=10, n_candidates=5)
    with pytest.raises(DataError, match="lacks the column"):
        fr.evaluate(offline, pd.DataFrame({"user": [1]}))
    with pytest.raises(DataError, match="catalog does not hold"):
        fr.evaluate(offline, pd.DataFrame({"user_id": ["u1"], "item_id": ["no-such-title"]}))


# ---------------------------------------------------------------------------- compare
def test_compare_rows_are_evaluate_on_the_same_candidates(split, offline, table):
    assert list(table.index) == ["als", "topk", "mmr", "cal"]
    assert (table["n_users"] == table["n_users"].iloc[0]).all()
    for name, reranker in [("mmr", fr.rerank.MMR(lambda_=0.5)), ("als", None)]:
        row = fr.evaluate(offline, split, reranker=reranker, n_candidates=N_CAND)
        for col in metric_columns(K):
            assert table.loc[name, col] == pytest.approx(row[col].iloc[0], nan_ok=True), col
    # different re-rankers really differ
    assert table.loc["mmr", "ild"] > table.loc["als", "ild"]
    assert table.loc["cal", "miscalibration"] < table.loc["als", "miscalibration"]


def test_compare_p_values(split, offline, table):
    p_cols = [c for c in table.columns if c.endswith("_p")]
    global_only = {"coverage", "distributional_coverage", "gini"}
    assert {c[:-2] for c in p_cols} == set(metric_columns(K)) - global_only
    assert table.loc["als", p_cols].isna().all()  # the reference is not tested
    assert (table.loc["topk", p_cols] == 1.0).all()  # same lists as the reference
    values = table.loc[["mmr", "cal"], p_cols].to_numpy()
    assert ((values >= 0) & (values <= 1)).all()
    # the p-value is scipy's paired t-test over the per-viewer values
    truth = split.test_frame()
    users = truth["user_id"].unique().tolist()
    per = [
        M.ndcg_at_k(
            offline.recommend_batch(users, k=K, reranker=r, n_candidates=N_CAND),
            truth,
            k=K,
            per_user=True,
        )
        for r in (None, fr.rerank.MMR(lambda_=0.5))
    ]
    expected = stats.ttest_rel(per[1], per[0].reindex(per[1].index)).pvalue
    assert table.loc["mmr", "ndcg@10_p"] == pytest.approx(expected)


def test_compare_wilcoxon_no_test_and_default_split(small_data):
    methods = {"plain": "none", "mmr": "mmr"}
    wil = fr.compare(methods, small_data, model=_model(), n_candidates=N_CAND, test="wilcoxon")
    assert 0 <= wil.loc["mmr", "ndcg@10_p"] <= 1
    none = fr.compare(
        methods, small_data, model=_model(), n_candidates=N_CAND, test=None, metrics=["ndcg"]
    )
    assert list(none.columns) == ["ndcg@10", "n_users", "seconds"]
    # the default split is the per-viewer temporal 80/20 holdout
    expected = fr.evaluation.temporal_holdout(small_data, fraction=0.2)
    assert wil.attrs["split"]["test_events"] == expected.test.n_events
    assert wil.attrs["higher_is_better"]["miscalibration"] is False


def test_compare_bad_methods(small_data, split, offline):
    with pytest.raises(ParameterError, match="unknown re-ranker"):
        fr.compare({"x": "magic"}, split=split, recommender=offline)
    with pytest.raises(ParameterError, match="'rerank' method"):
        fr.compare({"x": 3}, split=split, recommender=offline)
    with pytest.raises(ParameterError, match="does not take"):
        fr.compare({"x": {"reranker": "mmr", "gamma": 1}}, split=split, recommender=offline)
    with pytest.raises(ParameterError, match="'methods' parameter"):
        fr.compare({}, small_data)
    with pytest.raises(ParameterError, match="'test' parameter"):
        fr.compare({"a": None}, split=split, recommender=offline, test="anova")


def test_evaluation_reexports_splits():
    from fairrec import splits

    assert fr.evaluation.temporal_holdout is splits.temporal_holdout
    assert fr.evaluation.random_holdout is splits.random_holdout
    assert fr.evaluation.time_cut is splits.time_cut
    assert fr.evaluation.Split is splits.Split
    assert fr.evaluation.rolling_folds is splits.rolling_folds
    assert sorted(splits.__all__) == sorted(
        ["Split", "random_holdout", "temporal_holdout", "time_cut", "rolling_folds"]
    )


def test_old_import_paths_keep_working_after_the_split_into_packages():
    """fairrec.metrics, fairrec.evaluation, fairrec.splits and fairrec.tuning became packages
    or aliases (issue 17): every public name keeps its import path and identity."""
    import importlib
    import pathlib

    from fairrec import metrics, tuning

    for name in metrics.__all__:
        assert getattr(metrics, name) is not None
    assert metrics.REGISTRY["ndcg_at_k"].function is metrics.ndcg_at_k
    assert fr.tune is tuning.tune is fr.evaluation.tune
    assert tuning.TuneResult is fr.evaluation.TuneResult
    assert tuning.candidates is fr.evaluation.candidates
    assert fr.evaluate is fr.evaluation.evaluate and fr.compare is fr.evaluation.compare
    assert fr.compare_models is fr.evaluation.compare_models
    for pkg in ("fairrec.metrics", "fairrec.evaluation"):  # one job per file, none oversized
        folder = pathlib.Path(importlib.import_module(pkg).__file__).parent
        sizes = {f.name: len(f.read_text().splitlines()) for f in folder.glob("*.py")}
        assert max(sizes.values()) <= 450, sizes


# ---------------------------------------------------------------------------- plot
def test_tradeoff_returns_a_figure(table):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    fig = fr.plot.tradeoff(table, x="ild", y="ndcg@10")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert "ild" in ax.get_xlabel() and "ndcg@10" in ax.get_ylabel()
    assert [t.get_text() for t in ax.texts] == list(table.index)
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    # drawing into given axes returns their figure; lower miscalibration is better
    other = Figure()
    ax2 = other.add_subplot()
    assert fr.plot.tradeoff(table, x="miscalibration", ax=ax2, annotate=False) is other
    assert "lower is better" in ax2.get_xlabel()
    with pytest.raises(DataError, match="'nope' is not in the table"):
        fr.plot.tradeoff(table, x="nope")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_pareto_front_is_exactly_the_undominated_points(points, x_higher, y_higher):
    pytest.importorskip("matplotlib")
    x, y = (np.array(v, dtype=float) for v in zip(*points))
    front = fr.plot.pareto_front(x, y, x_higher=x_higher, y_higher=y_higher)
    sx, sy = (x if x_higher else -x), (y if y_higher else -y)
    for i in range(len(x)):
        dominated = any(
            sx[j] >= sx[i] and sy[j] >= sy[i] and (sx[j] > sx[i] or sy[j] > sy[i])
            for j in range(len(x))
        )
        assert front[i] == (not dominated)


def test_plot_without_matplotlib_raises(monkeypatch):
    monkeypatch.delitem(sys.modules, "fairrec.plot", raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(OptionalDependencyError, match=r'pip install "fairrec\[plot\]"'):
        importlib.import_module("fairrec.plot")


def test_import_fairrec_never_imports_matplotlib():
    code = (
        "import sys, fairrec; fairrec.evaluate; fairrec.compare; fairrec.evaluation; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------- example
def test_quickstart_runs_small(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    script = runpy.run_path(str(ROOT / "examples" / "quickstart.py"))
    args = ["--users", "200", "--items", "150", "--factors", "8", "--iterations", "3"]
    table = script["main"]([*args, "--out", str(tmp_path)])
    assert (tmp_path / "quickstart_frontier.png").stat().st_size > 0
    assert table.shape[0] == 7 and "ndcg@10_p" in table.columns
    assert "Home page for viewer" in capsys.readouterr().out
