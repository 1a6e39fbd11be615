"""Issue 18 (fit ratio): canonical ids computed once per dataset and reused, the title
vocabulary's plain-ASCII fast path, and the flat list's one-viewer path."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fairrec as fr
from fairrec.data.ids import IdMap, canon_id, canon_ids
from fairrec.vocab import Vocabulary

_SPACE = re.compile(r"\s+")


def _title_key_definition(title: str) -> str:
    """The title matching key as documented: NFKC, format characters removed, whitespace
    collapsed and stripped."""
    text = unicodedata.normalize("NFKC", title)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SPACE.sub(" ", text).strip()


def test_canon_ids_returns_an_id_maps_canonical_array_as_is_and_it_is_read_only():
    m = IdMap([1, "02", "a"])
    assert canon_ids(m.canon) is m.canon
    assert m.canon.tolist() == ["1", "2", "a"]
    with pytest.raises(ValueError):
        m.canon[0] = "x"  # nobody can make the shared array non-canonical
    # a copy (or a selection) is not trusted: canonicalised like any other input
    other = np.array([" 01", "b"], dtype=object)
    assert canon_ids(other).tolist() == ["1", "b"]
    assert canon_ids(m.canon[[0, 2]]).tolist() == ["1", "a"]
    assert canon_ids(m.canon.copy()) is not m.canon


def test_fit_matches_consent_and_training_rows_by_canonical_id():
    """Ids spelled as ints in the data, as text in the ledger: the fit's consent decision and
    training-row index use the data's canonical ids (computed once)."""
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 40, n),
            "item_id": rng.integers(0, 30, n),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 9, n), "D"),
        }
    )
    data = fr.Dataset.from_pandas(frame, time_col="timestamp")
    ledger = fr.ConsentLedger(default="deny")
    granted = [u for u in data.user_ids.tolist() if u % 2 == 0]
    for u in granted:
        ledger.grant(f"０{u}" if u < 10 else f" {u} ", ["training", "personalization"])
    rec = fr.Recommender(model=fr.models.ALS(factors=4, iterations=2), consent=ledger)
    rec.fit(data, now="2024-02-01")
    trained = sorted(int(u) for u in rec.train_user_ids_)
    assert trained == sorted(u for u in granted if (frame["user_id"] == u).any())
    f = rec.fitted_state_
    assert f.train_index_ == {str(u): i for i, u in enumerate(rec.train_user_ids_.tolist())}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6))
def test_title_lookup_uses_the_documented_key(titles):
    ids = [f"t{i}" for i in range(len(titles))]
    vocab = Vocabulary(ids, titles, [], False)
    by_key: dict[str, list[int]] = {}
    for pos, t in enumerate(titles):
        by_key.setdefault(_title_key_definition(t), []).append(pos)
    for pos, t in enumerate(titles):
        hits = by_key[_title_key_definition(t)]
        if len(hits) == 1 and not t.strip().startswith("t"):
            assert vocab.item(t) == pos
            assert vocab.item(f" {t} ") == pos


def test_vocabulary_from_dataset_equals_one_built_from_the_raw_ids():
    frame = pd.DataFrame({"user_id": ["u1", "u2", "u2"], "item_id": [7, 8, 9]})
    catalog = pd.DataFrame(
        {"item_id": [7, 8, 9], "title": ["Alpha", "Beta  Two", "\u200bGamma"], "genres": [[]] * 3}
    )
    data = fr.Dataset.from_pandas(frame, catalog=catalog)
    fast = Vocabulary.from_dataset(data)
    slow = Vocabulary(data.item_ids, data.catalog["title"].tolist(), data.genre_names, False)
    for value in (7, "07", "８", "Alpha", "Beta Two", " beta two", "Gamma", 9):
        try:
            want = slow.item(value)
        except fr.errors.FairrecError as exc:
            with pytest.raises(type(exc)):
                fast.item(value)
        else:
            assert fast.item(value) == want


def test_one_viewer_flat_list_equals_its_batch_row():
    data = fr.datasets.synthetic(n_users=300, n_items=200, seed=3)
    rec = fr.Recommender(model=fr.models.ALS(factors=8, iterations=2, random_state=0)).fit(data)
    users = list(data.user_ids[:6])
    batch = rec.recommend_batch(users, k=9)
    for u in users:
        one = rec.recommend(u, k=9)
        want = batch[batch["user_id"] == u].drop(columns="user_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(one, want, check_exact=False, rtol=1e-6)
        assert isinstance(one.index, pd.RangeIndex)


_ID_CHARS = st.sampled_from(list("ab09+- ~!") + ["  ", "\n", "\t", "\u200b", "７", "é", "\x00"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_ID_CHARS, max_size=4).map("".join), min_size=1, max_size=5))
def test_canon_ids_of_many_equals_canon_id_of_each(values):
    """The many-ids path (one scan over all distinct ids when all are plain) gives each id's
    canonical form, and refuses what one id alone would refuse."""
    want, error = [], None
    for v in values:
        try:
            want.append(canon_id(v))
        except fr.errors.ParameterError as exc:
            error = exc
            break
    if error is not None:
        with pytest.raises(fr.errors.ParameterError):
            canon_ids(np.array(values, dtype=object))
    else:
        assert canon_ids(np.array(values, dtype=object)).tolist() == want
