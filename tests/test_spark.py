"""fairrec.spark: the training gate, ALS training and batch home pages on Spark (local mode).

The Spark tests are marked ``spark`` (deselect with ``-m "not spark"``) and skip with the
reason when pyspark, pyarrow or Java is missing. The two import tests run everywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import fairrec as fr
from _pages import assert_same_pages
from fairrec.errors import DataError, OptionalDependencyError, ParameterError, UnknownUserError
from fairrec.gate import training_events
from fairrec.ids import canon_id as canon
from fairrec.metrics import ndcg_at_k
from fairrec.page import FRAME_COLUMNS, FRAME_DTYPES
from fairrec.splits import random_holdout

pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
spark_test = pytest.mark.spark

NOW = pd.Timestamp("2025-11-01")


# ----------------------------------------------------------------------------- imports
def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_fairrec_never_imports_pyspark():
    res = _python(
        """
        import sys
        import fairrec as fr
        fr.Recommender, fr.ConsentLedger, fr.datasets.synthetic(n_users=20, n_items=10)
        assert "pyspark" not in sys.modules, "import fairrec imported pyspark"
        print("ok")
        """
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_fairrec_spark_without_pyspark_names_the_extra():
    res = _python(
        """
        import sys
        sys.modules["pyspark"] = None  # as if pyspark were not installed
        import fairrec as fr
        from fairrec.errors import OptionalDependencyError
        try:
            fr.spark
        except ImportError as exc:
            assert isinstance(exc, OptionalDependencyError), type(exc)
            print(exc)
        else:
            raise SystemExit("fairrec.spark imported without pyspark")
        """
    )
    assert res.returncode == 0, res.stderr
    assert 'pip install "fairrec[spark]"' in res.stdout
    assert "pyspark" in res.stdout
    assert issubclass(OptionalDependencyError, ImportError)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason='pyspark is not installed: pip install "fairrec[spark]"')
    pytest.importorskip("pyarrow", reason='pyarrow is not installed: pip install "fairrec[spark]"')
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("Spark needs Java 17+: no java on the PATH and no JAVA_HOME")
    from pyspark.sql import SparkSession

    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers run this interpreter
    session = (
        SparkSession.builder.master("local[2]")
        .appName("fairrec-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if saved is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = saved


@pytest.fixture(scope="module")
def data() -> fr.Dataset:
    return fr.datasets.synthetic(n_users=240, n_items=150, seed=5, mean_plays=15)


def _ledger(data: fr.Dataset, default: str) -> fr.ConsentLedger:
    """Every kind of consent state: grants, refusals, revocations, details, erasures."""
    ledger = fr.ConsentLedger(default=default)
    genres = data.genre_names
    for i, u in enumerate(data.user_ids):
        if i % 6 == 0:
            continue  # never asked: the ledger's default
        if i % 6 == 1:
            ledger.deny(u, ["training", "personalization"], at="2025-01-01")
            continue
        purposes = ["training", "personalization"] + (["stated_interests"] if i % 3 == 0 else [])
        ledger.grant(u, purposes, at="2025-01-01")
        if i % 6 == 2:
            ledger.revoke(u, "training", at="2025-03-01")
        if i % 6 == 4:
            ledger.revoke(u, "personalization", at="2025-03-01")
        if i % 5 == 0:
            ledger.exclude(u, genres=[genres[i % len(genres)]], max_maturity=13)
        if i % 3 == 0:
            ledger.state_interests(u, genres=[genres[(i + 1) % len(genres)]])
    for u in data.user_ids[[5, 9, 12]]:  # erased: a tombstone, whatever the default
        ledger.forget(u)
    return ledger


# ----------------------------------------------------------------------------- the gate
def _boundary_frame(data: fr.Dataset, seconds: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """The events, three of a viewer allowed to train moved just before, at and after the
    retention cut-off (one microsecond or one second apart)."""
    frame = data.to_frame()
    moved = np.flatnonzero(data.users == 3)[:3]  # viewer 3 granted training (see _ledger)
    frame["event"] = np.arange(len(frame))
    cutoff = NOW - pd.Timedelta(days=120)
    unit = pd.Timedelta(seconds=1) if seconds else pd.Timedelta(microseconds=1)
    ts = frame["timestamp"].to_numpy().copy()
    ts[moved] = (cutoff - unit, cutoff, cutoff + unit)
    frame["timestamp"] = ts
    if seconds:
        frame["timestamp"] = frame["timestamp"].to_numpy().astype("datetime64[s]").astype(np.int64)
    return frame, moved


@spark_test
@pytest.mark.parametrize("default", ["deny", "allow"])
@pytest.mark.parametrize("seconds", [False, True], ids=["timestamp", "unix_seconds"])
def test_spark_gate_drops_exactly_what_the_local_gate_drops(spark, data, default, seconds):
    from fairrec.spark import training_interactions

    frame, moved = _boundary_frame(data, seconds)
    local = fr.Dataset.from_pandas(frame, data.catalog, weight_col="weight", time_col="timestamp")
    ledger = _ledger(data, default)
    expected = training_events(local, ledger, NOW, 120)
    assert 0 < expected.sum() < len(expected)
    assert expected[moved].tolist() == [False, True, True]

    sdf = spark.createDataFrame(frame)
    kept = training_interactions(
        sdf, ledger, now=NOW, retention_days=120, time_col="timestamp", weight_col="weight"
    )
    assert kept.columns == sdf.columns
    got = np.sort(np.array([r[0] for r in kept.select("event").collect()], dtype=np.int64))
    np.testing.assert_array_equal(got, np.flatnonzero(expected))


@spark_test
def test_spark_gate_refuses_bad_input(spark, data):
    from fairrec.spark import training_interactions

    frame = data.to_frame().head(50)
    sdf = spark.createDataFrame(frame)
    with pytest.raises(DataError, match="no column 'viewer'"):
        training_interactions(sdf, user_col="viewer")
    with pytest.raises(DataError, match="retention_days is set"):
        training_interactions(sdf, retention_days=30)
    as_text = sdf.withColumn("timestamp", sdf["timestamp"].cast("string"))
    with pytest.raises(DataError, match="to_timestamp"):
        training_interactions(as_text, retention_days=30, time_col="timestamp")
    with pytest.raises(ParameterError, match="retention_days"):
        training_interactions(sdf, retention_days=-1, time_col="timestamp")
    holes = spark.createDataFrame(
        pd.DataFrame(
            {"user_id": ["u1", None, "u2"], "item_id": ["i1", "i2", "i3"], "weight": [1, 1, -2.0]}
        )
    )
    with pytest.raises(DataError, match="missing viewer id"):
        training_interactions(holes)
    with pytest.raises(DataError, match=r"invalid weight.*'u2'"):
        training_interactions(holes.dropna(subset=["user_id"]), weight_col="weight")


# ----------------------------------------------------------------------------- home pages
def _as_plain(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values(["user_id", "row", "position"], kind="stable").reset_index(drop=True)
    for col in FRAME_COLUMNS:
        if FRAME_DTYPES[col] == "string":
            out[col] = out[col].astype(object)
    return out[list(FRAME_COLUMNS)]


def _int_ids(data: fr.Dataset) -> fr.Dataset:
    frame = data.to_frame()
    frame["user_id"] = frame["user_id"].str[1:].astype(np.int64) + 1000
    return fr.Dataset.from_pandas(frame, data.catalog, weight_col="weight", time_col="timestamp")


@spark_test
@pytest.mark.parametrize("ids", ["str", "int"])
def test_home_pages_equal_local_home_batch(spark, data, ids):
    """Same pages, byte for byte: consent details, erased, unknown and ledger-only viewers,
    a viewer listed twice, str and integer ids, default and custom rows."""
    from fairrec.spark import home_pages, page_schema

    served = data if ids == "str" else _int_ids(data)
    ledger = _ledger(served, "deny")
    newcomer = "new-viewer" if ids == "str" else 99_999
    ledger.grant(newcomer, ["personalization", "stated_interests"], at="2025-01-01")
    ledger.state_interests(newcomer, genres=[served.genre_names[0]])
    rows = None if ids == "str" else [fr.rows.TopPicks(), fr.rows.DiversePopular()]
    rec = fr.Recommender(
        model=fr.models.ALS(factors=8, iterations=4, random_state=0),
        consent=ledger,
        retention_days=200,
        rows=rows,
        row_size=6,
        on_unknown="ignore",
    ).fit(served, now=NOW)
    stranger = "nobody" if ids == "str" else 123_456
    viewers = [*served.user_ids[:90].tolist(), newcomer, stranger, served.user_ids[3]]
    expected = rec.home_batch(viewers, now=NOW)
    assert expected["user_id"].nunique() == len(set(viewers))  # everyone got a page

    col = pd.Series(viewers, dtype=object if ids == "str" else np.int64)
    sdf = spark.createDataFrame(pd.DataFrame({"user_id": col, "other": 1.0}))
    pages = home_pages(sdf, rec, now=NOW, partitions=3)
    from pyspark.sql import types as T

    user_type = T.StringType() if ids == "str" else T.LongType()
    assert pages.schema == page_schema(user_type, T.StringType())
    got = pages.toPandas()
    assert list(got.columns) == list(FRAME_COLUMNS)
    assert_same_pages(_as_plain(got), _as_plain(expected))


@spark_test
def test_home_pages_match_other_spellings_of_a_viewer(spark, data):
    """A Spark string column matches the ledger by the canonical id, as the pandas side does."""
    from fairrec.spark import home_pages

    served = _int_ids(data)
    ledger = fr.ConsentLedger(default="deny")
    for u in served.user_ids:
        ledger.grant(u, ["training", "personalization"], at="2025-01-01")
    opted_out = int(served.user_ids[1])
    ledger.revoke(opted_out, "personalization", at="2025-02-01")
    rec = fr.Recommender(
        model=fr.models.ALS(factors=8, iterations=3, random_state=0), consent=ledger, row_size=6
    ).fit(served, now=NOW)
    who = int(served.user_ids[0])
    spellings = [str(who), f" 0{who}", f"{who}\u200b", f"+{who}", str(opted_out).zfill(8)]
    sdf = spark.createDataFrame(pd.DataFrame({"user_id": spellings}))
    got = home_pages(sdf, rec, now=NOW).toPandas()
    assert sorted(got.user_id.unique()) == sorted({str(who), str(opted_out)})
    for uid, n_pages in ((who, 4), (opted_out, 1)):
        expected = rec.home(uid, now=NOW).to_frame()
        page = got[got.user_id == str(uid)]
        assert len(expected) > 0 and len(page) == n_pages * len(expected)
        counts = page.groupby(["row", "position"])["item_id"].agg(lambda s: set(s))
        assert all(len(v) == 1 for v in counts), "every spelling got the same page"
        assert [next(iter(v)) for v in counts] == expected["item_id"].tolist()
    personalized = got.groupby("user_id")["data_used"].apply(
        lambda s: s.str.contains("watch_history").any()
    )
    assert personalized[str(who)] and not personalized[str(opted_out)]
    assert canon(spellings[1]) == str(who)


@spark_test
def test_home_pages_unknown_and_erased_viewers_raise_before_the_job(spark, data):
    from fairrec.spark import home_pages

    ledger = _ledger(data, "allow")
    rec = fr.Recommender(
        model=fr.models.ALS(factors=8, iterations=2), consent=ledger, on_unknown="raise"
    ).fit(data, now=NOW)
    erased = data.user_ids[9]
    for viewer in ("nobody", erased):
        sdf = spark.createDataFrame(pd.DataFrame({"user_id": [data.user_ids[0], viewer]}))
        with pytest.raises(UnknownUserError, match=repr(viewer)):
            home_pages(sdf, rec, now=NOW)
        with pytest.raises(UnknownUserError):
            rec.home_batch([data.user_ids[0], viewer], now=NOW)
    with pytest.raises(DataError, match="no column 'viewer'"):
        home_pages(sdf, rec, user_col="viewer")
    with pytest.raises(ParameterError, match="partitions"):
        home_pages(sdf, rec, partitions=0)


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def split():
    big = fr.datasets.synthetic(n_users=500, n_items=250, seed=2, mean_plays=25)
    return random_holdout(big, test_fraction=0.2, seed=0)


def _ndcg(rec: fr.Recommender, split) -> float:
    truth = split.test_frame()
    recs = rec.recommend_batch(truth["user_id"].unique().tolist(), k=10)
    return ndcg_at_k(recs, truth, k=10)


@spark_test
def test_fit_als_quality_close_to_implicit(spark, split):
    from fairrec.spark import fit_als

    train = split.train
    local = fr.Recommender(model=fr.models.ALS(factors=16, iterations=10, random_state=0)).fit(
        train
    )
    sdf = spark.createDataFrame(train.to_frame())
    remote = fit_als(sdf, data=train, factors=16, iterations=8, time_col="timestamp", num_blocks=2)
    assert isinstance(remote.model_, fr.models.ALS)
    assert remote.model_.item_vectors.shape == (train.n_items, 16)
    ours, theirs = _ndcg(remote, split), _ndcg(local, split)
    assert theirs > 0.05  # the task is learnable
    assert ours >= 0.9 * theirs, (ours, theirs)


@spark_test
def test_fit_als_trains_on_consented_viewers_and_serves_like_local(spark, data, tmp_path):
    from fairrec.spark import fit_als

    ledger = _ledger(data, "deny")
    sdf = spark.createDataFrame(data.to_frame())
    rec = fit_als(
        sdf,
        ledger,
        catalog=data.catalog,
        time_col="timestamp",
        retention_days=200,
        now=NOW,
        factors=8,
        iterations=5,
        num_blocks=2,
        row_size=6,
        clock=lambda: NOW,
    )
    mask = training_events(data, ledger, NOW, 200)
    allowed = sorted(set(data.user_ids[data.users[mask]]))
    assert sorted(rec.train_user_ids_.tolist()) == allowed
    assert rec.model_.user_factors_.shape == (len(allowed), 8)
    assert rec.consent_ is ledger and rec.retention_days == 200
    # a local Recommender serves it, and it survives a save / load
    viewer = data.user_ids[3]
    page = rec.home(viewer, now=NOW)
    assert page.personalized and len(page.rows) > 0
    rec.save(tmp_path / "model")
    again = fr.Recommender.load(tmp_path / "model", consent=ledger, clock=lambda: NOW)
    assert again.home(viewer, now=NOW).to_frame().equals(page.to_frame())


@spark_test
def test_fit_als_refuses_bad_input(spark, data):
    from fairrec.spark import fit_als

    frame = data.to_frame().head(100)
    frame.loc[0, "item_id"] = "not-a-title"
    sdf = spark.createDataFrame(frame)
    with pytest.raises(DataError, match="not-a-title"):
        fit_als(sdf, data=data, factors=4, iterations=1)
    with pytest.raises(ParameterError, match="'factors' parameter of fit_als"):
        fit_als(sdf, factors=0)
    with pytest.raises(ParameterError, match="not both"):
        fit_als(sdf, data=data, catalog=data.catalog)
    nobody = fr.ConsentLedger(default="deny")
    with pytest.raises(DataError, match="No interaction may be used for training"):
        fit_als(spark.createDataFrame(data.to_frame().head(100)), nobody, data=data)


@spark_test
def test_home_pages_when_nobody_may_be_personalized(spark, data):
    from fairrec.spark import home_pages

    ledger = fr.ConsentLedger(default="deny")  # training only: no history in the model file
    for u in data.user_ids:
        ledger.grant(u, "training", at="2025-01-01")
    rec = fr.Recommender(
        model=fr.models.ALS(factors=4, iterations=2), consent=ledger, on_unknown="ignore"
    ).fit(data, now=NOW)
    viewers = data.user_ids[:10].tolist()
    sdf = spark.createDataFrame(pd.DataFrame({"user_id": viewers}))
    got = home_pages(sdf, rec, now=NOW).toPandas()
    assert_same_pages(_as_plain(got), _as_plain(rec.home_batch(viewers, now=NOW)))


@spark_test
def test_evaluate_refuses_a_spark_model_trained_on_the_test_data(spark, data):
    """fit_als's model remembers its training pairs: served over split.train, it is refused."""
    from fairrec.errors import DataError
    from fairrec.spark import fit_als

    split = random_holdout(data, test_fraction=0.2, seed=0)
    sdf = spark.createDataFrame(data.to_frame())
    full = fit_als(sdf, data=data, factors=8, iterations=3, time_col="timestamp", num_blocks=2)
    rec = fr.Recommender.from_fitted(full.model_, split.train, train_user_ids=full.train_user_ids_)
    with pytest.raises(DataError, match="data the model was trained on"):
        fr.evaluate(rec, split, k=10)
