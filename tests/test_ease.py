"""fairrec.models.EASE: closed form, request-time scoring, memory guard, model files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import fairrec as fr
from fairrec.errors import DataError, ModelMemoryError, NotFittedError, ParameterError


def _matrix() -> sp.csr_matrix:
    rng = np.random.default_rng(0)
    dense = (rng.random((12, 7)) < 0.4).astype(np.float32) * rng.integers(1, 4, (12, 7))
    dense[:, 6] = 0.0  # a title nobody played
    return sp.csr_matrix(dense)


def _closed_form(x: np.ndarray, l2: float) -> np.ndarray:
    """Steck (2019), eq. 8, in float64: B = I - P diag(1/diag(P)), P = (XᵀX + l2 I)⁻¹."""
    g = x.T @ x + l2 * np.eye(x.shape[1])
    p = np.linalg.inv(g)
    b = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
    return b


@pytest.mark.parametrize("l2", [0.5, 3.0, 50.0])
def test_ease_equals_the_closed_form(l2):
    m = _matrix()
    model = fr.models.EASE(l2=l2).fit(m)
    b = _closed_form(m.toarray().astype(np.float64), l2)
    assert model.weights_.dtype == np.float32
    np.testing.assert_allclose(model.weights_, b, rtol=1e-4, atol=1e-5)
    assert np.all(np.diag(model.weights_) == 0.0)
    # it is the least-squares solution: B minimises ||X - XB||² + l2 ||B||² under diag(B)=0,
    # so its gradient vanishes off the diagonal
    x = m.toarray().astype(np.float64)
    grad = -x.T @ (x - x @ b) + l2 * b
    off = ~np.eye(7, dtype=bool)
    assert np.abs(grad[off]).max() < 1e-8 * max(1.0, np.abs(x.T @ x).max())
    # scores are the history times B, from the history given, nothing stored per viewer
    h = sp.csr_matrix(np.array([[1, 0, 2, 0, 0, 0, 0], [0] * 7], dtype=np.float32))
    np.testing.assert_allclose(model.score_histories(h), h.toarray() @ b, rtol=1e-4, atol=1e-5)
    assert not model.score_histories(h)[1].any()  # empty history: all zeros


def test_ease_score_depends_only_on_the_given_history():
    m = _matrix()
    model = fr.models.EASE(l2=2.0).fit(m)
    a = model.score_histories(m[:3])
    b = model.score_histories(m[[0, 1, 2]])
    np.testing.assert_array_equal(a, b)
    cut = m[:1].copy()
    cut.data[:] = 0.0
    cut.eliminate_zeros()
    assert not model.score_histories(cut).any()  # history withdrawn -> nothing personal


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "1", True, None])
def test_ease_bad_l2(bad):
    with pytest.raises(ParameterError, match="'l2' parameter of EASE"):
        fr.models.EASE(l2=bad).fit(_matrix())


def test_ease_memory_guard_states_the_figure():
    m = sp.csr_matrix((np.ones(1, np.float32), ([0], [0])), shape=(1, 2000))
    # 12 * 2000² bytes = 0.04 GiB (shown with two decimals)
    with pytest.raises(ModelMemoryError, match=r"2000 titles needs about 0\.04 GiB") as info:
        fr.models.EASE(memory_limit_gb=0.01).fit(m)
    assert "0.01 GiB of memory_limit_gb" in str(info.value)
    assert isinstance(info.value, MemoryError)
    assert fr.models.EASE.memory_needed(2000) == 12 * 2000**2
    with pytest.raises(ParameterError, match="memory_limit_gb"):
        fr.models.EASE(memory_limit_gb=-1).fit(m)


def test_ease_unfitted_and_bad_histories():
    model = fr.models.EASE()
    with pytest.raises(NotFittedError):
        model.score_histories(_matrix())
    model.fit(_matrix())
    with pytest.raises(DataError, match="7 columns"):
        model.score_histories(sp.csr_matrix((1, 5), dtype=np.float32))
    with pytest.raises(DataError, match="sparse"):
        model.score_histories(np.ones((1, 7)))


def test_ease_serves_pages_and_respects_revocation(small_data):
    ledger = fr.ConsentLedger(default="allow")
    rec = fr.Recommender(model=fr.models.EASE(l2=20.0), consent=ledger, row_size=6)
    rec.fit(small_data)
    user = small_data.user_ids[0]
    assert rec.home(user).rows
    personal = rec.recommend(user, k=10)
    ledger.revoke(user, "personalization")
    generic = rec.recommend(user, k=10)
    assert (generic["reason"] == "Among the most watched titles (no personal data)").all()
    assert not personal["item_id"].equals(generic["item_id"])


def test_ease_model_file_holds_the_weights_only(tmp_path, small_data):
    rec = fr.Recommender(model=fr.models.EASE(l2=20.0), row_size=6).fit(small_data)
    rec.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "arrays.npz", allow_pickle=False) as z:
        model_keys = sorted(k for k in z.files if k.startswith("model/"))
        assert model_keys == ["model/weights"]
        assert z["model/weights"].shape == (small_data.n_items, small_data.n_items)
    loaded = fr.Recommender.load(tmp_path / "m")
    assert isinstance(loaded.model_, fr.models.EASE) and loaded.model_.l2 == 20.0
    users = small_data.user_ids[:5]
    pd.testing.assert_frame_equal(rec.recommend_batch(users), loaded.recommend_batch(users))
    # the in-memory record of training pairs never reaches the file
    assert not hasattr(loaded.model_, "training_pairs_")


def test_ease_non_square_weights_are_refused():
    model = fr.models.EASE()
    with pytest.raises(ValueError, match="square"):
        model.set_arrays({"weights": np.zeros((3, 4), np.float32)})


def test_ease_weights_too_large_for_float32_raise_data_error():
    m = sp.csr_matrix(np.array([[1e20, 1.0], [1.0, 0.0]], dtype=np.float32))
    with pytest.raises(DataError, match="raise 'l2' or rescale"):
        fr.models.EASE(l2=1.0).fit(m)
