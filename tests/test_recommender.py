"""Recommender: fit, recommend, unknown viewers, model files (round trip and tampering)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import fairrec as fr
from conftest import small_model
from fairrec.errors import (
    DataError,
    ModelFileError,
    NotFittedError,
    ParameterError,
    UnknownUserError,
)


def test_recommend_frame_shape_and_seen_removed(fitted, small_data):
    uid = small_data.user_ids[0]
    recs = fitted.recommend(uid, k=15)
    assert list(recs.columns[:4]) == ["item_id", "title", "score", "rank"]
    assert list(recs["rank"]) == list(range(1, 16))
    assert recs.score.is_monotonic_decreasing
    seen = set(small_data.item_ids[small_data.items[small_data.users == 0]])
    assert not seen & set(recs.item_id)


def test_recommend_matches_raw_implicit_ranking(small_data):
    """Same parameters and seed: fairrec's top-10 equals implicit's recalculated top-10."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    rec = fr.Recommender(model=small_model()).fit(small_data)
    m = small_data.to_csr()
    with threadpool_limits(1, "blas"):
        raw = AlternatingLeastSquares(factors=8, iterations=4, random_state=0, regularization=0.05)
        raw.fit(m, show_progress=False)
        ids, _ = raw.recommend(
            np.arange(20), m[:20], N=10, filter_already_liked_items=True, recalculate_user=True
        )
    ours = rec.recommend_batch(small_data.user_ids[:20], k=10)
    got = ours.groupby("user_id", sort=False).item_id.apply(list)
    for row, uid in enumerate(small_data.user_ids[:20]):
        assert got[uid] == list(small_data.item_ids[ids[row]])


def test_recommend_with_each_reranker(fitted, small_data):
    uid = small_data.user_ids[1]
    for rr in (
        fr.rerank.MMR(lambda_=0.5),
        fr.rerank.DPP(),
        fr.rerank.Calibrated(),
        fr.rerank.LongTail(),
        fr.rerank.Serendipity(),
        fr.rerank.TopK(),
    ):
        recs = fitted.recommend(uid, k=10, reranker=rr)
        assert len(recs) == 10 and recs.item_id.is_unique


def test_unknown_user_raises_typed_error_or_falls_back(fitted):
    with pytest.raises(UnknownUserError, match="nobody"):
        fitted.recommend("nobody", k=5)
    with pytest.raises(UnknownUserError):
        fitted.home("nobody")
    fitted.on_unknown = "ignore"
    try:
        page = fitted.home("nobody")
        assert not page.personalized and len(page.rows) > 0
        assert len(fitted.recommend("nobody", k=5)) == 5
    finally:
        fitted.on_unknown = "raise"


def test_not_fitted_and_bad_parameters(small_data):
    with pytest.raises(NotFittedError, match="Recommender"):
        fr.Recommender().home("u1")
    with pytest.raises(ParameterError, match="'row_size' parameter of Recommender"):
        fr.Recommender(row_size=0).fit(small_data)
    with pytest.raises(ParameterError, match="retention_days"):
        fr.Recommender(retention_days=-3).fit(small_data)
    with pytest.raises(DataError, match="Dataset"):
        fr.Recommender().fit(pd.DataFrame({"user_id": [1]}))


def test_retention_needs_timestamps():
    data = fr.Dataset.from_pandas(pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]}))
    with pytest.raises(DataError, match="timestamps"):
        fr.Recommender(retention_days=30).fit(data)


@pytest.mark.parametrize("kind", ["als", "bpr", "popularity", "itemknn", "ease"])
def test_save_load_round_trip_identical(tmp_path, small_data, kind):
    model = {
        "ease": fr.models.EASE(l2=20.0),
        "als": small_model(),
        "bpr": fr.models.BPR(factors=8, iterations=5),
        "popularity": fr.models.Popularity(),
        "itemknn": fr.models.ItemKNN(neighbors=10),
    }[kind]
    rec = fr.Recommender(model=model, row_size=6).fit(small_data)
    rec.save(tmp_path / "model")
    loaded = fr.Recommender.load(tmp_path / "model")
    users = small_data.user_ids[:15]
    pd.testing.assert_frame_equal(
        rec.recommend_batch(users, k=10), loaded.recommend_batch(users, k=10)
    )
    now = pd.Timestamp("2026-01-01")
    assert rec.home(users[0], now=now).to_dict() == loaded.home(users[0], now=now).to_dict()
    # no pickle: every array loads with allow_pickle=False
    with np.load(tmp_path / "model" / "arrays.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_save_overwrites_atomically(tmp_path, fitted, small_data):
    fitted.save(tmp_path / "m")
    fitted.save(tmp_path / "m")  # replacing an existing model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert fr.Recommender.load(tmp_path / "m").data_.n_items == small_data.n_items


def test_histories_only_for_personalization_consent(tmp_path, small_data):
    ledger = fr.ConsentLedger(default="deny")
    for u in small_data.user_ids:
        ledger.grant(u, "training")
    ledger.grant(small_data.user_ids[0], "personalization")
    rec = fr.Recommender(model=small_model(), consent=ledger).fit(small_data)
    rec.save(tmp_path / "m")
    ids = json.loads((tmp_path / "m" / "ids.json").read_text())
    assert ids["history_user_ids"] == [small_data.user_ids[0]]


def _corrupt(path, name, fn):
    p = path / name
    p.write_bytes(fn(p.read_bytes()))


@pytest.mark.parametrize(
    "damage,match",
    [
        (lambda d: _corrupt(d, "arrays.npz", lambda b: b[: len(b) // 2]), "checksum"),
        (lambda d: _corrupt(d, "catalog.json", lambda b: b.replace(b"i1", b"i9", 1)), "checksum"),
        (lambda d: (d / "ids.json").unlink(), "missing"),
        (lambda d: _corrupt(d, "meta.json", lambda b: b"{not json"), "not valid JSON"),
        (
            lambda d: _corrupt(
                d, "meta.json", lambda b: b.replace(b'"format_version": 1', b'"format_version": 99')
            ),
            "version",
        ),
        (
            lambda d: _corrupt(d, "meta.json", lambda b: b.replace(b"fairrec-model", b"other")),
            "not a fairrec model",
        ),
    ],
)
def test_tampered_or_foreign_files_raise_model_file_error(tmp_path, fitted, damage, match):
    fitted.save(tmp_path / "m")
    damage(tmp_path / "m")
    with pytest.raises(ModelFileError, match=match):
        fr.Recommender.load(tmp_path / "m")


def test_tampered_arrays_with_forged_checksum_still_validated(tmp_path, fitted):
    import hashlib

    fitted.save(tmp_path / "m")
    d = tmp_path / "m"
    with np.load(d / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["model/item_factors"] = arrays["model/item_factors"][:-1]  # wrong shape
    np.savez(d / "arrays.npz", **arrays)
    meta = json.loads((d / "meta.json").read_text())
    meta["sha256"]["arrays.npz"] = hashlib.sha256((d / "arrays.npz").read_bytes()).hexdigest()
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="catalog size|match"):
        fr.Recommender.load(d)


def test_missing_directory(tmp_path):
    with pytest.raises(ModelFileError, match="No model directory"):
        fr.Recommender.load(tmp_path / "nope")


def test_interrupted_swap_leaves_previous_model_loadable(tmp_path, fitted):
    fitted.save(tmp_path / "m")
    # simulate a crash between the two renames of a second save
    (tmp_path / "m").rename(tmp_path / ".m.old-abc")
    with pytest.warns(UserWarning, match="interrupted save"):
        rec = fr.Recommender.load(tmp_path / "m")
    assert rec.data_.n_items == fitted.data_.n_items
    shutil.rmtree(tmp_path / ".m.old-abc")


def test_explain_data_use_dict_and_text(fitted, small_data):
    uid = small_data.user_ids[2]
    report = fitted.explain_data_use(uid)
    assert report["purposes"]["personalization"]["granted"]
    assert report["history_events_used"] > 0
    assert "Retention" in str(report)
    json.dumps(report)  # JSON-ready


def test_model_file_without_any_history_still_serves(tmp_path, small_data):
    """Nobody granted personalization: the file holds no history, pages are non-personal."""
    ledger = fr.ConsentLedger(default="deny")
    for u in small_data.user_ids:
        ledger.grant(u, "training")
    fr.Recommender(model=small_model(), consent=ledger).fit(small_data).save(tmp_path / "m")
    loaded = fr.Recommender.load(tmp_path / "m", consent=ledger, on_unknown="ignore")
    page = loaded.home(small_data.user_ids[0])
    assert not page.personalized and page.rows


def test_recommend_takes_the_reranker_names_compare_takes(fitted, small_data):
    """``recommend(reranker="mmr")`` is the MMR re-ranker, like ``fr.compare``'s "mmr"."""
    from fairrec.errors import ParameterError

    user = small_data.user_ids[0]
    by_name = fitted.recommend(user, k=8, reranker="MMR")
    by_object = fitted.recommend(user, k=8, reranker=fr.rerank.MMR())
    assert by_name["item_id"].tolist() == by_object["item_id"].tolist()
    assert "MMR" in by_name["reason"].iloc[0]
    with pytest.raises(ParameterError, match="known names: .*mmr"):
        fitted.recommend(user, k=8, reranker="mrm")
    with pytest.raises(ParameterError, match="reranker"):
        fitted.recommend(user, k=8, reranker=0.7)
    with pytest.raises(ParameterError, match="does not take"):
        fr.rerank.by_name("dpp", lambda_=0.5)
