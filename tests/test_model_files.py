"""Model files carry only what consent and retention allow at save time, and are read
defensively (issue 13, findings 3 and the model-file half of 8)."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pandas as pd
import pytest

import fairrec as fr
from fairrec.errors import ModelFileError


@pytest.fixture(scope="module")
def data() -> fr.Dataset:
    return fr.datasets.synthetic(n_users=60, n_items=40, seed=2, mean_plays=10, days=180)


def _model() -> fr.models.ALS:
    return fr.models.ALS(factors=4, iterations=2, random_state=0)


def _arrays(path) -> dict[str, np.ndarray]:
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _json(path, name):
    return json.loads((path / name).read_text(encoding="utf-8"))


def _forge(path, meta: dict) -> None:
    """Write meta.json as an attacker who knows the format would (checksum recomputed)."""
    try:
        from fairrec.persist import _meta_digest

        meta["meta_sha256"] = _meta_digest(meta)
    except ImportError:  # a fairrec without a meta checksum
        pass
    (path / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


# ------------------------------------------------------------------ finding 3
@pytest.mark.parametrize("kind", ["als", "bpr"])
def test_finding3_withdrawn_viewer_leaves_no_row_in_the_file(tmp_path, data, kind):
    ledger = fr.ConsentLedger(default="deny")
    for u in data.user_ids:
        ledger.grant(u, ["training", "personalization"])
    model = _model() if kind == "als" else fr.models.BPR(factors=4, iterations=3)
    rec = fr.Recommender(model=model, consent=ledger).fit(data)
    gone, partial = data.user_ids[0], data.user_ids[1]
    ledger.revoke(gone, ["training", "personalization"])
    ledger.revoke(partial, "personalization")  # still trains: a training row, no history
    rec.save(tmp_path / "m")
    ids = _json(tmp_path / "m", "ids.json")
    arrays = _arrays(tmp_path / "m")
    assert gone not in ids["train_user_ids"] and gone not in ids["history_user_ids"]
    assert partial in ids["train_user_ids"] and partial not in ids["history_user_ids"]
    n_rows = len(ids["train_user_ids"])
    assert arrays["train/indptr"].size == n_rows + 1
    assert arrays["model/user_factors"].shape[0] == n_rows == len(data.user_ids) - 1
    loaded = fr.Recommender.load(tmp_path / "m", consent=ledger)
    assert gone not in loaded.train_user_ids_.tolist()


def test_finding3_viewer_without_training_has_no_id_in_the_file(tmp_path, data):
    ledger = fr.ConsentLedger(default="deny")
    for u in data.user_ids[1:]:
        ledger.grant(u, ["training", "personalization"])
    stranger = data.user_ids[0]  # consented to nothing
    rec = fr.Recommender(model=_model(), consent=ledger).fit(data)
    rec.save(tmp_path / "m")
    text = "".join((tmp_path / "m" / n).read_text() for n in ("ids.json", "meta.json"))
    assert f'"{stranger}"' not in text


def test_finding3_retention_applied_at_save_time(tmp_path, data):
    fit_at = pd.Timestamp(data.timestamps.max()) + pd.Timedelta(days=1)
    save_at = fit_at + pd.Timedelta(days=60)
    clock = {"now": fit_at}
    rec = fr.Recommender(model=_model(), retention_days=90, clock=lambda: clock["now"])
    rec.fit(data)
    clock["now"] = save_at
    rec.save(tmp_path / "m")
    cutoff = (save_at - pd.Timedelta(days=90)).to_datetime64()
    arrays = _arrays(tmp_path / "m")
    ids = _json(tmp_path / "m", "ids.json")["train_user_ids"]
    train_rows = np.repeat(np.arange(len(ids)), np.diff(arrays["train/indptr"]))
    frame = data.to_frame()
    oldest = frame.groupby(["user_id", "item_id"])["timestamp"].min()
    saved = [
        oldest[(ids[r], data.item_ids[i])] for r, i in zip(train_rows, arrays["train/indices"])
    ]
    assert saved, "some training cells are inside the window"
    assert min(saved) >= cutoff  # no saved training cell holds a play older than the window
    hist = arrays["history/timestamps"].view("datetime64[ns]")
    assert hist.size == 0 or hist.min() >= cutoff
    # cells inside the window are all kept
    in_window = frame[frame["timestamp"] >= cutoff]
    expected = in_window.groupby(["user_id", "item_id"]).size()
    expected = expected[[oldest[k] >= cutoff for k in expected.index]]
    assert len(saved) == len(expected)


def test_finding3_catalog_popularity_only_from_consented_plays(tmp_path, data):
    ledger = fr.ConsentLedger(default="deny")
    stranger = data.user_ids[0]
    for u in data.user_ids[1:]:
        ledger.grant(u, ["training", "personalization"])
    rec = fr.Recommender(model=_model(), consent=ledger).fit(data)
    rec.save(tmp_path / "m")
    pop = np.asarray(_json(tmp_path / "m", "catalog.json")["popularity"])
    consenting = data.filter(users=list(data.user_ids[1:]))
    expected = np.bincount(
        np.unique(consenting.users * data.n_items + consenting.items) % data.n_items,
        minlength=data.n_items,
    )
    np.testing.assert_array_equal(pop, expected)
    # erased later: their plays leave the statistics of the next file
    victim = data.user_ids[1]
    rec.forget(victim)
    rec.save(tmp_path / "m2")
    pop2 = np.asarray(_json(tmp_path / "m2", "catalog.json")["popularity"])
    played = np.unique(data.items[data.users == 1])
    np.testing.assert_array_equal(pop2[played], pop[played] - 1)
    assert stranger not in rec.train_user_ids_.tolist()


def test_saved_and_loaded_model_can_still_erase_with_update_items(tmp_path, data):
    rec = fr.Recommender(model=_model(), retention_days=3650).fit(data)
    rec.save(tmp_path / "m")
    loaded = fr.Recommender.load(tmp_path / "m")
    user = data.user_ids[3]
    loaded.forget(user, update_items=True)
    loaded.save(tmp_path / "m")
    again = fr.Recommender.load(tmp_path / "m")
    assert user not in again.train_user_ids_.tolist()
    assert again.model_.user_factors_.shape[0] == again.train_matrix_.shape[0]


# ------------------------------------------------------------------ finding 8 (model files)
@pytest.fixture()
def saved(tmp_path, data):
    fr.Recommender(model=_model()).fit(data).save(tmp_path / "m")
    return tmp_path / "m"


def test_finding8_flipped_digit_in_meta_is_detected(saved):
    text = (saved / "meta.json").read_text()
    assert '"regularization": 0.05' in text
    (saved / "meta.json").write_text(
        text.replace('"regularization": 0.05', '"regularization": 0.06')
    )
    with pytest.raises(ModelFileError, match="meta.json does not match its checksum"):
        fr.Recommender.load(saved)


def test_finding8_duplicated_key_in_meta_is_refused(saved):
    text = (saved / "meta.json").read_text()
    doubled = text.replace('"serving": {', '"serving": {"row_size": 3, ', 1)
    assert doubled != text
    (saved / "meta.json").write_text(doubled)
    with pytest.raises(ModelFileError, match="twice"):
        fr.Recommender.load(saved)


def test_finding8_huge_declared_factors_is_a_typed_error(saved):
    meta = _json(saved, "meta.json")
    meta["model"]["params"]["factors"] = 10**12
    _forge(saved, meta)
    with pytest.raises(ModelFileError, match="factors"):
        fr.Recommender.load(saved)


def test_npy_header_declaring_more_than_it_holds_is_refused(saved):
    import hashlib
    import zipfile

    path = saved / "arrays.npz"
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    name = "model/item_factors.npy"
    raw = members[name]
    shape_txt = raw[: raw.index(b"\n")].decode("latin1")
    start = shape_txt.index("(")
    end = shape_txt.index(")", start)
    huge = shape_txt[: start + 1] + "4000000000, 4" + shape_txt[end:]
    huge = huge[: len(shape_txt)].ljust(len(shape_txt))  # keep the header length
    members[name] = huge.encode("latin1") + raw[len(shape_txt) :]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    meta = _json(saved, "meta.json")
    meta["sha256"]["arrays.npz"] = hashlib.sha256(path.read_bytes()).hexdigest()
    _forge(saved, meta)
    with pytest.raises(ModelFileError, match="declares"):
        fr.Recommender.load(saved)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_finding8_fifo_in_place_of_a_model_file_is_refused(saved):
    (saved / "ids.json").unlink()
    os.mkfifo(saved / "ids.json")
    result: dict[str, BaseException | None] = {}

    def load():
        try:
            fr.Recommender.load(saved)
            result["error"] = None
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(timeout=10)
    if t.is_alive():  # unblock the reader so the test process can end
        fd = os.open(saved / "ids.json", os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(timeout=5)
        pytest.fail("load() blocked on a FIFO")
    assert isinstance(result["error"], ModelFileError)
    assert "not a regular file" in str(result["error"])


def test_two_spellings_of_one_viewer_in_ids_json_are_refused(saved):
    import hashlib

    ids = _json(saved, "ids.json")
    assert len(ids["train_user_ids"]) >= 2
    first = ids["train_user_ids"][0]
    ids["train_user_ids"][1] = f" {first}"  # one viewer, two rows
    (saved / "ids.json").write_text(json.dumps(ids))
    meta = _json(saved, "meta.json")
    meta["sha256"]["ids.json"] = hashlib.sha256((saved / "ids.json").read_bytes()).hexdigest()
    _forge(saved, meta)
    with pytest.raises(ModelFileError, match="two spellings"):
        fr.Recommender.load(saved)
