"""fairrec.compare with candidate models, paired statistics, Holm, and fairrec.plot.comparison."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import fairrec as fr
import fairrec.metrics as M
from fairrec.errors import DataError, ParameterError
from fairrec.evaluation._paired import DECIMALS, holm, paired

K = 10


def _als() -> fr.models.ALS:
    return fr.models.ALS(factors=8, iterations=4, random_state=0)


@pytest.fixture(scope="module")
def split(small_data):
    return fr.evaluation.temporal_holdout(small_data, fraction=0.2)


@pytest.fixture(scope="module")
def table(split):
    return fr.compare_models(
        {
            "als": _als(),
            "pop": fr.models.Popularity(),
            "ease": fr.models.EASE(l2=30.0),
            "ease+mmr": {"model": fr.models.EASE(l2=30.0), "reranker": "mmr", "lambda_": 0.5},
        },
        split=split,
        correction="holm",
        metrics=["ndcg", "recall", "coverage", "novelty"],
        n_candidates=40,
    )


def test_each_model_row_is_evaluate_of_that_model(split, table):
    assert list(table.index) == ["als", "pop", "ease", "ease+mmr"]
    end = split.train.timestamps.max()
    for name, model in [("pop", fr.models.Popularity()), ("ease", fr.models.EASE(l2=30.0))]:
        rec = fr.Recommender(model=model, consent=None).fit(split.train, now=end)
        row = fr.evaluate(rec, split, k=K, metrics=["ndcg", "recall", "coverage", "novelty"])
        for col in ("ndcg@10", "recall@10", "coverage", "novelty"):
            assert table.loc[name, col] == pytest.approx(row[col].iloc[0]), (name, col)
    assert (table["n_users"] == table["n_users"].iloc[0]).all()
    assert table.attrs["baseline"] == "als"


def test_paired_statistics_against_the_baseline(split, table):
    truth = split.test_frame()
    users = truth["user_id"].unique().tolist()
    end = split.train.timestamps.max()
    per = {}
    for name, model in [("als", _als()), ("ease", fr.models.EASE(l2=30.0))]:
        rec = fr.Recommender(model=model, consent=None).fit(split.train, now=end)
        lists = rec.recommend_batch(users, k=K, now=end)
        per[name] = M.ndcg_at_k(lists, truth, k=K, per_user=True)
    a, b = per["als"].align(per["ease"], join="inner")
    d = np.round(b.to_numpy() - a.to_numpy(), DECIMALS)
    n = d.size
    mean, sd = d.mean(), d.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    row = table.loc["ease"]
    assert row["ndcg@10_diff"] == pytest.approx(mean)
    assert row["ndcg@10_diff"] == pytest.approx(row["ndcg@10"] - table.loc["als", "ndcg@10"])
    assert row["ndcg@10_ci_low"] == pytest.approx(mean - half)
    assert row["ndcg@10_ci_high"] == pytest.approx(mean + half)
    assert row["ndcg@10_effect"] == pytest.approx(mean / sd)
    assert row["ndcg@10_p"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    # the baseline row has no statistics; coverage (global) has none at all
    assert table.loc["als", [c for c in table.columns if c.startswith("ndcg@10_")]].isna().all()
    assert not any(c.startswith("coverage_") for c in table.columns)


def test_holm_column_and_statement(table):
    for col in ("ndcg@10", "recall@10", "novelty"):
        p = table[f"{col}_p"].to_numpy()[1:]
        assert np.allclose(table[f"{col}_p_holm"].to_numpy()[1:], holm(p), equal_nan=True)
        assert (table[f"{col}_p_holm"].to_numpy()[1:] >= p - 1e-15).all()
    assert "holm" in table.attrs["correction"] and "3 methods" in table.attrs["correction"]
    plain = fr.compare_models(
        {"pop": fr.models.Popularity(), "ease": fr.models.EASE(l2=30.0)},
        split=fr.evaluation.temporal_holdout(fr.datasets.synthetic(80, 60, seed=1), fraction=0.2),
        metrics=["ndcg"],
    )
    assert "ndcg@10_p_holm" not in plain.columns
    assert plain.attrs["correction"].startswith("none")


def test_holm_by_hand():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 (m = 4): 0.04, 0.09, max(0.08, 0.09), 0.5
    assert np.allclose(holm(p), [0.04, 0.09, 0.09, np.nan, 0.5], equal_nan=True)


def test_wilcoxon_does_not_depend_on_float_noise():
    """Differences equal up to 1e-16 (other float paths) give the same ranks and p-value."""
    rng = np.random.default_rng(0)
    idx = pd.RangeIndex(60)
    a = pd.Series(rng.random(60), index=idx)
    delta = np.repeat([0.0, 0.1, 0.2, -0.1], 15)  # ties and zeros in exact arithmetic
    b = a + delta
    noisy = b + rng.choice([-1, 0, 1], 60) * 1e-16 * (1 + a)  # ~1 ulp either way
    clean = paired(a, b, "wilcoxon")
    assert paired(a, noisy, "wilcoxon") == clean
    expected = stats.wilcoxon(np.round(delta, DECIMALS)).pvalue
    assert clean["p"] == pytest.approx(expected)
    same = paired(a, a + rng.choice([-1, 1], 60) * 1e-17, "wilcoxon")
    assert same["p"] == 1.0 and same["diff"] == 0.0 and same["effect"] == 0.0


def test_constant_shift_and_tiny_samples():
    a = pd.Series([0.1, 0.2, 0.3])
    s = paired(a, a + 0.05, "ttest")
    assert s["p"] == 0.0 and s["effect"] == math.inf
    assert s["ci_low"] == pytest.approx(0.05) and s["ci_high"] == pytest.approx(0.05)
    one = paired(a.iloc[:1], a.iloc[:1] + 1, "ttest")
    assert one["diff"] == pytest.approx(1.0) and math.isnan(one["p"])


def test_baseline_by_name_and_bad_arguments(split):
    t = fr.compare(
        {"pop": fr.models.Popularity(), "ease": fr.models.EASE(l2=30.0)},
        split=split,
        baseline="ease",
        metrics=["ndcg"],
        test="wilcoxon",
    )
    assert math.isnan(t.loc["ease", "ndcg@10_p"]) and 0 <= t.loc["pop", "ndcg@10_p"] <= 1
    assert t.loc["pop", "ndcg@10_diff"] < 0
    with pytest.raises(ParameterError, match="'baseline' parameter"):
        fr.compare({"pop": fr.models.Popularity()}, split=split, baseline="nope")
    with pytest.raises(ParameterError, match="'correction' parameter"):
        fr.compare({"pop": fr.models.Popularity()}, split=split, correction="bonferroni")
    with pytest.raises(ParameterError, match="'model' must be"):
        fr.compare({"x": {"model": "ease"}}, split=split)
    with pytest.raises(ParameterError, match="no 'reranker' key"):
        fr.compare({"x": {"model": fr.models.EASE(), "lambda_": 0.5}}, split=split)
    with pytest.raises(ParameterError, match="compare_models must be"):
        fr.compare_models({"x": "mmr"}, split=split)


def test_comparison_plot(table):
    pytest.importorskip("matplotlib")
    fig = fr.plot.comparison(table, ["ndcg@10", "novelty"])
    assert len(fig.axes) == 2
    assert "Holm" in fig.axes[0].get_xlabel()
    assert fig._repr_png_()[:4] == b"\x89PNG"
    with pytest.raises(DataError, match="lacks"):
        fr.plot.comparison(table, ["coverage"])
