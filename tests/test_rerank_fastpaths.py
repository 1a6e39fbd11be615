"""The home-page serving fast paths give exactly what the straightforward computations give.

* the re-rankers' ``rerank_trusted`` (used by the page rows) against their public ``rerank``;
* MMR's one-viewer 1-d kernel against a slow greedy reference and against the batch kernel;
* MMR on genre-set ids with a looked-up Jaccard table (*Hidden gems*) against
  ``rerank_trusted`` on the genre rows, and its first picks against a longer run's;
* Serendipity's order (one stable sort) against its top-k of the boosted candidates filled
  by relevance;
* xQuAD's decision-table walk: the one-viewer walk against the vectorized one;
* the one top-k kernel (``fairrec.models.top_n``) as models and re-rankers use it: every
  path against a stable sort;
* ``Similarity``'s one-viewer products against the stacked ones;
* ``history_genre_mix`` against ``histories @ genres``;
* the trusted page-object constructors against the validating ones;
* ``Recommender._candidates`` reusing (or copying) the model's score array.

Exactness: where two paths must agree bit for bit, the inputs are built so that no float
rounding can hide in the comparison (vectors whose rows are exactly unit-norm: signed
one-hot rows, rows with four entries of +-0.5, zero rows; scores on a grid of eighths, which
also makes ties frequent).
"""

from __future__ import annotations

import dataclasses
import types
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairrec as fr
import fairrec.models._topk as topk_kernel
import fairrec.rerank._base as rbase
from fairrec.models._base import CandidateModel
from fairrec.page import Item, Reason
from fairrec.rerank import MMR, LongTail, RerankContext, Serendipity, TopK, mmr, xquad
from fairrec.rerank._base import fill_by_relevance, topk_rows
from fairrec.rerank._longtail import _walk, _xquad_kernel
from fairrec.rerank._mmr import _mmr_kernel
from fairrec.rerank._serendipity import _boosted_then_relevant
from fairrec.rerank._similarity import Similarity
from fairrec.rows import RowContext, history_genre_mix
from fairrec.rows._pools import _set_jaccard

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
SEED = st.integers(0, 2**32 - 1)
D = 6  # vector width of the exact-unit rows


# --------------------------------------------------------------------------- inputs


def exact_unit_rows(
    rng: np.random.Generator, shape: tuple[int, ...], *, nonneg: bool = False
) -> np.ndarray:
    """Rows of width ``D`` whose norm is exactly 1 in float arithmetic (or 0): signed
    one-hot rows, rows with four entries of +-0.5, zero rows. Dot products of such rows are
    multiples of 1/4, so every similarity, and its scaling by a dyadic weight, is exact."""
    out = np.zeros((*shape, D))
    flat = out.reshape(-1, D)
    for row in flat:
        kind = rng.random()
        if kind < 0.15:
            continue  # zero row
        sign = 1.0 if nonneg else rng.choice([-1.0, 1.0])
        if kind < 0.6:
            row[rng.integers(D)] = sign
        else:
            at = rng.choice(D, size=4, replace=False)
            row[at] = 0.5 * (np.ones(4) if nonneg else rng.choice([-1.0, 1.0], size=4))
    return out


def grid_scores(rng: np.random.Generator, shape: tuple[int, ...], levels: int = 8) -> np.ndarray:
    """Scores in eighths: exact arithmetic and plenty of ties."""
    return rng.integers(-levels, levels + 1, size=shape) / 8.0


def random_valid(rng: np.random.Generator, u: int, n: int, p: float) -> np.ndarray:
    valid = rng.random((u, n)) < p
    if u > 1:
        valid[rng.random(u) < 0.2] = False  # some viewers without any candidate
    return np.ascontiguousarray(valid)


def garbage_where_invalid(rng: np.random.Generator, scores: np.ndarray, valid: np.ndarray):
    """The trusted paths ignore invalid cells: put non-finite junk there."""
    junk = rng.choice([np.nan, np.inf, -np.inf, 1e300], size=scores.shape)
    return np.where(valid, scores, junk)


def rows_picks(picks: np.ndarray) -> list[list[int]]:
    return [[int(j) for j in row if j >= 0] for row in picks]


def check_positions(picks: np.ndarray, valid: np.ndarray, kk: int) -> None:
    """Distinct valid positions first, then -1 padding; as many picks as valid candidates."""
    assert picks.dtype == np.int64 and picks.shape == (valid.shape[0], kk)
    for v, row in enumerate(picks):
        got = row[row >= 0]
        assert (row[: len(got)] == got).all() and (row[len(got) :] == -1).all()
        assert len(set(got.tolist())) == len(got)
        assert valid[v, got].all()
        assert len(got) == min(kk, int(valid[v].sum()))


# --------------------------------------------------------------------------- 1. trusted


TRUSTED = [
    TopK(),
    MMR(lambda_=0.0),
    MMR(lambda_=0.5),
    MMR(lambda_=1.0),
    MMR(lambda_=0.7),
    MMR(lambda_=0.25, similarity="jaccard"),
    LongTail(lambda_=0.0),
    LongTail(lambda_=0.5),
    LongTail(lambda_=1.0),
    LongTail(lambda_=0.5, variant="binary", head_share=0.5),
    LongTail(lambda_=1.0, variant="binary"),
    Serendipity(),
    Serendipity(weight=0.0),
    Serendipity(weight=2.0, floor=0.0),
    Serendipity(weight=0.5, floor=1.0),
    Serendipity(weight=1.0, floor=0.5, similarity="jaccard"),
]


def trusted_context(
    reranker: Any, rng: np.random.Generator, u: int, n: int
) -> RerankContext | None:
    if isinstance(reranker, Serendipity):
        nonneg = reranker.similarity == "jaccard"
        return RerankContext(profile=exact_unit_rows(rng, (u,), nonneg=nonneg))
    if isinstance(reranker, LongTail):
        share = rng.choice([None, "scalar", "per viewer"])
        tail_share = {
            None: None,
            "scalar": float(rng.integers(0, 5) / 4),
            "per viewer": rng.integers(0, 5, size=u) / 4,
        }[share]
        if rng.random() < 0.3:  # an explicit head / tail split takes precedence
            return RerankContext(tail=rng.random((u, n)) < 0.4, tail_share=tail_share)
        popularity = rng.integers(0, 6, size=(u, n)).astype(np.float64)
        return RerankContext(popularity=popularity, tail_share=tail_share)
    return None


def float32_is_exact(reranker: Any) -> bool:
    """Whether the similarities stay exact when the trusted path gets float32 vectors (the
    page rows pass float32 title vectors): cosine of exact-unit rows, scaled by a dyadic
    ``1 - lambda_``. Jaccard ratios such as 1/3, or a weight such as 0.3, round differently
    in float32 than in the public path's float64, which may break a tie the other way."""
    if getattr(reranker, "similarity", "cosine") == "jaccard":
        return False
    if isinstance(reranker, MMR):
        return float(4 * reranker.lambda_).is_integer()
    return True


@pytest.mark.parametrize("reranker", TRUSTED, ids=repr)
@FAST
@given(
    seed=SEED,
    u=st.sampled_from([1, 1, 2, 3, 6]),
    n=st.integers(0, 12),
    k=st.integers(1, 15),
    p=st.sampled_from([0.0, 0.4, 0.8, 1.0]),
    dtype=st.sampled_from([np.float64, np.float32]),
    one_per_chunk=st.sampled_from(["none", "trusted", "public"]),
)
def test_rerank_trusted_equals_public_rerank(reranker, seed, u, n, k, p, dtype, one_per_chunk):
    rng = np.random.default_rng(seed)
    jaccard = getattr(reranker, "similarity", "cosine") == "jaccard"
    scores = grid_scores(rng, (u, n))
    valid = random_valid(rng, u, n, p)
    vectors = exact_unit_rows(rng, (u, n), nonneg=jaccard)
    context = trusted_context(reranker, rng, u, n)
    raw = garbage_where_invalid(rng, scores, valid)
    if not float32_is_exact(reranker):
        dtype = np.float64
    with pytest.MonkeyPatch.context() as mp:
        # one viewer per chunk sends every viewer through the one-viewer kernels
        if one_per_chunk == "trusted":
            mp.setattr(rbase, "_CHUNK_PLANE", 1)
        got = reranker.rerank_trusted(raw, valid, k, vectors.astype(dtype), context)
    with pytest.MonkeyPatch.context() as mp:
        if one_per_chunk == "public":
            mp.setattr(rbase, "_CHUNK_PLANE", 1)
        want = reranker.rerank(
            np.where(valid, scores, 0.0), k, vectors=vectors, context=context, valid=valid
        )
    kk = min(k, n)
    assert want.shape == (u, kk)
    check_positions(got, valid, kk)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "reranker", [TopK(), MMR(lambda_=0.5), LongTail(), Serendipity()], ids=repr
)
def test_rerank_trusted_leaves_its_inputs_alone(reranker):
    rng = np.random.default_rng(0)
    u, n = 3, 9
    scores = grid_scores(rng, (u, n))
    valid = random_valid(rng, u, n, 0.7)
    vectors = exact_unit_rows(rng, (u, n))
    context = trusted_context(reranker, rng, u, n)
    copies = [scores.copy(), valid.copy(), vectors.copy()]
    reranker.rerank_trusted(scores, valid, 4, vectors, context)
    for before, after in zip(copies, [scores, valid, vectors]):
        np.testing.assert_array_equal(before, after)


# --------------------------------------------------------------------------- 2. MMR


def mmr_reference(
    rel: np.ndarray, valid: np.ndarray, vectors: np.ndarray, k: int, lam: float
) -> list[int]:
    """Greedy MMR, one pick at a time, straight from the definition: maximise
    ``lam * rel - (1 - lam) * max cosine to the picks so far`` (no picks yet: ``lam * rel``),
    ties to the lower position, invalid candidates never, stop when none is left."""
    picks: list[int] = []
    for _ in range(min(k, len(rel))):
        best, arg = -np.inf, -1
        for i in range(len(rel)):
            if not valid[i] or i in picks:
                continue
            redundancy = max((float(vectors[i] @ vectors[j]) for j in picks), default=0.0)
            value = lam * rel[i] - (1 - lam) * redundancy if picks else lam * rel[i]
            if arg < 0 or value > best:
                best, arg = value, i
        if arg < 0:
            break
        picks.append(arg)
    return picks


@FAST
@given(
    seed=SEED,
    u=st.sampled_from([1, 1, 2, 4]),
    n=st.integers(1, 14),
    k=st.integers(1, 16),
    lam=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
    p=st.sampled_from([0.3, 0.8, 1.0]),
    shared=st.booleans(),
)
def test_mmr_equals_slow_greedy_reference(seed, u, n, k, lam, p, shared):
    rng = np.random.default_rng(seed)
    rel = grid_scores(rng, (u, n))
    valid = random_valid(rng, u, n, p)
    vectors = exact_unit_rows(rng, (n,) if shared else (u, n))
    want = [
        mmr_reference(rel[v], valid[v], vectors if shared else vectors[v], k, lam) for v in range(u)
    ]
    batch = mmr(np.where(valid, rel, 0.0), vectors, k, lambda_=lam, valid=valid)
    check_positions(batch, valid, min(k, n))
    assert rows_picks(batch) == want
    for v in range(u):  # one viewer: the 1-d kernel
        one = mmr(rel[v], vectors if shared else vectors[v], k, lambda_=lam, valid=valid[v])
        assert one.tolist() == want[v]
    # the kernel itself on a (1, n) batch, shared and per-viewer vectors
    for v in range(u):
        vecs = vectors if shared else vectors[v : v + 1]
        s = np.where(valid[v : v + 1], rel[v : v + 1], -np.inf)
        got = _mmr_kernel(s, valid[v : v + 1], Similarity(vecs, "cosine"), min(k, n), lam)
        assert rows_picks(got) == [want[v]]


@FAST
@given(
    seed=SEED,
    u=st.integers(2, 6),
    n=st.integers(1, 40),
    k=st.integers(1, 20),
    d=st.sampled_from([2, 8, 33]),
    lam=st.floats(0.0, 1.0),
    layout=st.sampled_from(["shared", "per viewer", "per viewer, duplicates"]),
)
def test_mmr_single_viewer_calls_equal_rows_of_one_batch_call(seed, u, n, k, d, lam, layout):
    # (shared vectors with exact duplicate candidates are left out: the batch takes its
    # similarities from one matrix-matrix product, the 1-d kernel from matrix-vector ones,
    # which may round two identical rows differently and break their tie the other way)
    rng = np.random.default_rng(seed)
    shared = layout == "shared"
    vectors = rng.normal(size=(n, d) if shared else (u, n, d)).astype(np.float32)
    scores = rng.random((u, n))
    if layout.endswith("duplicates"):  # exact ties: identical candidates, equal scores
        vectors[:, 1::2, :] = vectors[:, 0:1, :]
        scores = np.round(scores * 4) / 4
    valid = rng.random((u, n)) < 0.8
    batch = mmr(scores, vectors, k, lambda_=lam, valid=valid)
    check_positions(batch, valid, min(k, n))
    for v in range(u):
        one = mmr(scores[v], vectors if shared else vectors[v], k, lambda_=lam, valid=valid[v])
        assert one.tolist() == rows_picks(batch[v : v + 1])[0], v


@pytest.mark.parametrize("call", ["mmr", "trusted"])
def test_mmr_lambda_zero_with_invalid_candidates_warns_nothing(call):
    # lambda_ = 0 times the -inf of an invalid candidate is NaN: it must not leak out as a
    # RuntimeWarning (an error under -W error) nor into the picks
    scores = np.array([[0.5, 0.25, 1.0, 0.75]])
    valid = np.array([[True, False, True, True]])
    vectors = np.eye(4)[None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if call == "mmr":
            got = mmr(scores, vectors, 3, lambda_=0.0, valid=valid)
        else:
            got = MMR(lambda_=0.0).rerank_trusted(scores, valid, 3, vectors)
    assert got.tolist() == [[0, 2, 3]]  # no relevance weight: orthogonal titles by position


@FAST
@given(
    seed=SEED,
    u=st.sampled_from([1, 1, 2, 5]),
    n=st.integers(0, 30),
    k=st.integers(1, 12),
    p=st.sampled_from([0.3, 0.8, 1.0]),
    lam=st.sampled_from([0.0, 0.25, 0.5, 0.7, 1.0]),
    g=st.sampled_from([1, 3, 6]),
)
def test_mmr_on_genre_sets_equals_rerank_trusted_on_genre_rows(seed, u, n, k, p, lam, g):
    rng = np.random.default_rng(seed)
    genres = (rng.random((40, g)) < 0.35).astype(np.float32)  # empty rows too
    genres[0] = 0.0
    cand = rng.integers(-1, 40, size=(u, n))
    scores = rng.integers(0, 9, size=(u, n)) / 8.0  # ties
    valid = random_valid(rng, u, n, p) & (cand >= 0)
    rows = genres[np.maximum(cand, 0)].astype(np.float64)
    want = MMR(lambda_=lam, similarity="jaccard").rerank_trusted(
        np.where(valid, scores, 0.0), valid, k, rows
    )
    sig, table = _set_jaccard(genres)
    reranker = MMR(lambda_=lam, similarity="jaccard")
    score = np.where(valid, scores, 0.0)
    got = reranker.rerank_on_sets(score, valid, k, sig[np.maximum(cand, 0)], table)
    np.testing.assert_array_equal(got, want)
    # greedy: the first picks of a longer run are the picks of a shorter one
    longer = reranker.rerank_on_sets(score, valid, k + 5, sig[cand], table)
    np.testing.assert_array_equal(longer[:, : got.shape[1]], got)


def test_genre_set_table_only_for_binary_genres():
    rng = np.random.default_rng(0)
    genres = (rng.random((50, 4)) < 0.5).astype(np.float32)
    sig, table = _set_jaccard(genres)
    rows = genres.astype(np.float64)
    inter = rows @ rows.T
    size = rows.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    want = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    np.testing.assert_array_equal(table[sig[:, None], sig[None, :]], want)
    assert _set_jaccard(genres * 0.5) is None  # weighted genres: Ruzicka, computed as before


@FAST
@given(
    seed=SEED,
    u=st.sampled_from([1, 1, 2, 6]),
    n=st.integers(1, 40),
    k=st.integers(1, 45),
    p=st.sampled_from([0.0, 0.3, 0.8, 1.0]),
    q=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_serendipity_order_equals_boosted_top_k_filled_by_relevance(seed, u, n, k, p, q, dtype):
    rng = np.random.default_rng(seed)
    kk = min(k, n)
    ok = random_valid(rng, u, n, p)
    s = np.where(ok, grid_scores(rng, (u, n), levels=3), -np.inf).astype(dtype)
    s[(s == 0) & (rng.random((u, n)) < 0.5)] = -0.0  # a tie of -0.0 with 0.0
    eligible = ok & (rng.random((u, n)) < q)
    obj = grid_scores(rng, (u, n), levels=3)
    obj[rng.random((u, n)) < 0.1] = -0.0
    want = fill_by_relevance(topk_rows(np.where(eligible, obj, -np.inf), kk), s, ok)
    got = _boosted_then_relevant(obj, s, eligible, ok, kk)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- 3. xQuAD


def xquad_reference(
    scores: np.ndarray,
    valid: np.ndarray,
    tail: np.ndarray,
    k: int,
    lam: float,
    p_tail: float,
    smooth: bool,
) -> list[int]:
    """Greedy xQuAD from the definition, one viewer, with a validity mask. The terms are
    written as the kernel groups them (``(lam * p) * cover``; the head's smooth cover as
    ``n_tail / t``) so that both round alike."""
    chosen: list[int] = []
    for _ in range(min(k, len(scores))):
        best, arg = -np.inf, -1
        t = len(chosen)
        n_t = sum(bool(tail[j]) for j in chosen)
        if t == 0:
            cov_t = cov_h = 1.0
        elif smooth:
            cov_t, cov_h = 1.0 - n_t / t, n_t / t
        else:
            cov_t, cov_h = float(n_t == 0), float(n_t == t)
        for i in range(len(scores)):
            if not valid[i] or i in chosen:
                continue
            bonus = (lam * p_tail) * cov_t if tail[i] else (lam * (1.0 - p_tail)) * cov_h
            value = scores[i] * (1.0 - lam) + bonus
            if arg < 0 or value > best:
                best, arg = value, i
        if arg < 0:
            break
        chosen.append(arg)
    return chosen


@FAST
@given(
    seed=SEED,
    u=st.integers(2, 7),
    n=st.integers(1, 16),
    k=st.integers(1, 20),
    lam=st.sampled_from([0.0, 0.25, 0.5, 1.0, 0.3]),
    smooth=st.booleans(),
    grid=st.booleans(),
    p_valid=st.sampled_from([0.2, 0.7, 1.0]),
    p_tail=st.sampled_from([0.0, 0.3, 0.7, 1.0]),
)
def test_xquad_one_viewer_walk_equals_vectorized_walk(
    seed, u, n, k, lam, smooth, grid, p_valid, p_tail
):
    rng = np.random.default_rng(seed)
    scores = grid_scores(rng, (u, n)) if grid else rng.random((u, n))
    valid = random_valid(rng, u, n, p_valid)
    tail = rng.random((u, n)) < p_tail
    share = rng.integers(0, 5, size=u) / 4 if grid else rng.random(u)
    kk = min(k, n)
    s = np.where(valid, scores, -np.inf)
    batch = _xquad_kernel(s, valid, tail, share, kk, lam, smooth)  # vectorized walk
    check_positions(batch, valid, kk)
    for v in range(u):
        row = slice(v, v + 1)
        one = _xquad_kernel(s[row], valid[row], tail[row], share[row], kk, lam, smooth)
        np.testing.assert_array_equal(one, batch[row])  # the u == 1 walk
        want = xquad_reference(scores[v], valid[v], tail[v], k, lam, float(share[v]), smooth)
        assert rows_picks(batch[row]) == [want]
    # the public function on the batch, and one viewer at a time
    variant = "smooth" if smooth else "binary"
    public = xquad(
        np.where(valid, scores, 0.0),
        tail,
        k,
        lambda_=lam,
        tail_share=share,
        variant=variant,
        valid=valid,
    )
    np.testing.assert_array_equal(public, batch)
    for v in range(u):
        one = xquad(
            scores[v],
            tail[v],
            k,
            lambda_=lam,
            tail_share=float(share[v]),
            variant=variant,
            valid=valid[v],
        )
        assert one.tolist() == rows_picks(batch[v : v + 1])[0]


@FAST
@given(seed=SEED, u=st.integers(1, 6), kk=st.integers(1, 12), p=st.sampled_from([0.1, 0.5, 0.9]))
def test_walk_paths_agree_on_any_decision_table(seed, u, kk, p):
    rng = np.random.default_rng(seed)
    table = rng.random((u, kk, kk)) < p
    got = _walk(table)
    assert got.dtype == np.bool_ and got.shape == (u, kk)
    for v in range(u):
        a, path = 0, []
        for t in range(kk):  # follow the table from a = 0
            path.append(bool(table[v, t, a]))
            a += path[-1]
        assert got[v].tolist() == path
        np.testing.assert_array_equal(_walk(table[v : v + 1]), got[v : v + 1])
        # the same row inside a larger table (vectorized walk)
        np.testing.assert_array_equal(_walk(np.concatenate([table[v : v + 1]] * 2))[1], got[v])


# --------------------------------------------------------------------------- 4. topk_rows


def topk_reference(key: np.ndarray, kk: int) -> np.ndarray:
    """A stable sort of whole rows; non-finite entries are unavailable (-1)."""
    out = np.argsort(-key, axis=1, kind="stable")[:, :kk]
    out[~np.isfinite(np.take_along_axis(key, out, axis=1))] = -1
    return out


#: (_SORT_BELOW, _SORT_CELLS) of the shared kernel: its default; selection with a sampled
#: threshold; selection with the exact threshold; one stable sort of everything
KERNEL_PATHS = [None, (0, 0), (10**9, 0), (10**9, 10**9)]


@FAST
@given(
    seed=SEED,
    u=st.integers(1, 5),
    n=st.integers(1, 30),
    kk=st.integers(1, 35),
    levels=st.sampled_from([1, 3, 1000]),
    p_inf=st.sampled_from([0.0, 0.3, 0.9, 1.0]),
    signed_zero=st.booleans(),
)
def test_topk_rows_sort_and_partition_paths_equal_stable_sort(
    seed, u, n, kk, levels, p_inf, signed_zero
):
    rng = np.random.default_rng(seed)
    key = rng.integers(-levels, levels + 1, size=(u, n)).astype(np.float64)
    if signed_zero:
        key[key == 0] = rng.choice([0.0, -0.0], size=int((key == 0).sum()))
    key[rng.random((u, n)) < p_inf] = -np.inf
    want = topk_reference(key, kk)
    assert want.shape == (u, min(kk, n))
    before = key.copy()
    for path in KERNEL_PATHS:
        with pytest.MonkeyPatch.context() as mp:
            if path is not None:
                mp.setattr(topk_kernel, "_SORT_BELOW", path[0])
                mp.setattr(topk_kernel, "_SORT_CELLS", path[1])
            got = topk_rows(key, kk)
        assert got.dtype == np.int64 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(key, before)


@pytest.mark.parametrize("n", [1024, 1025, 3000])
@pytest.mark.parametrize("kk", [1, 10, 1024, 5000])
def test_topk_rows_long_rows_both_paths(n, kk):
    rng = np.random.default_rng(n + kk)
    key = rng.integers(-5, 6, size=(3, n)).astype(np.float64)
    key[rng.random((3, n)) < 0.5] = -np.inf
    key[2] = -np.inf  # a row with nothing available
    want = topk_reference(key, kk)
    for path in KERNEL_PATHS:
        with pytest.MonkeyPatch.context() as mp:
            if path is not None:
                mp.setattr(topk_kernel, "_SORT_BELOW", path[0])
                mp.setattr(topk_kernel, "_SORT_CELLS", path[1])
            np.testing.assert_array_equal(topk_rows(key, kk), want)


def test_one_top_k_kernel_for_models_and_rerankers():
    """The re-rankers' top-k is the models' ``top_n`` (one kernel, imported from one place)."""
    import fairrec.models as fm
    import fairrec.models._base as mbase

    assert rbase.top_n is fm.top_n is mbase.top_n is topk_kernel.top_n
    assert not hasattr(rbase, "_SORT_BELOW")  # no second copy of the selection code


@FAST
@given(
    seed=SEED,
    u=st.integers(1, 40),
    n=st.sampled_from([1, 5, 60, 200, 700, 1500]),
    k=st.integers(1, 60),
    levels=st.sampled_from([1, 4, 10**6]),
    dtype=st.sampled_from([np.float32, np.float64]),
    p_gone=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_shared_top_k_ties_by_index_in_every_caller(seed, u, n, k, levels, dtype, p_gone):
    """Property: ``top_n`` (models), ``topk_rows`` and ``TopK`` (re-rankers) pick the same
    positions, the best scores first and ties by the lower index, whatever path a size takes."""
    rng = np.random.default_rng(seed)
    key = (rng.integers(-levels, levels + 1, size=(u, n)) / 4).astype(dtype)
    gone = rng.random((u, n)) < p_gone
    key[gone] = -np.inf
    kk = min(k, n)
    want = topk_reference(key, kk)
    idx, sc = fr.models.top_n(key.copy(), k)
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(topk_rows(key, kk), want)
    picks = fr.rerank.TopK().rerank(np.where(gone, 0.0, key), k, valid=~gone)
    np.testing.assert_array_equal(picks, want)
    taken = want >= 0
    np.testing.assert_array_equal(sc[taken], np.take_along_axis(key, want, axis=1)[taken])
    # ties really are by index: among equal scores of a row the positions ascend
    for r in range(u):
        row = want[r][want[r] >= 0]
        vals = key[r, row]
        same = vals[1:] == vals[:-1]
        assert (row[1:][same] > row[:-1][same]).all()


def test_topk_rows_degenerate_sizes():
    assert topk_rows(np.zeros((2, 5)), 0).shape == (2, 0)
    assert (topk_rows(np.zeros((2, 0)), 3) == -1).all()
    np.testing.assert_array_equal(topk_rows(np.full((2, 4), -np.inf), 3), np.full((2, 3), -1))


@FAST
@given(seed=SEED, u=st.integers(1, 4), n=st.integers(1, 15), below=st.sampled_from([0, 1024]))
def test_fill_by_relevance_on_both_topk_paths(seed, u, n, below):
    """``below`` 0 sends every row through the kernel's selection path, 1024 through its
    stable sort."""
    rng = np.random.default_rng(seed)
    scores = grid_scores(rng, (u, n), levels=3)
    valid = rng.random((u, n)) < 0.7
    kk = int(rng.integers(1, n + 1))
    picks = np.full((u, kk), -1, dtype=np.int64)
    for v in range(u):  # a few valid picks in random order, then padding
        ok = np.flatnonzero(valid[v])
        m = int(rng.integers(0, min(kk, len(ok)) + 1))
        picks[v, :m] = rng.permutation(ok)[:m]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(topk_kernel, "_SORT_BELOW", below)
        got = fill_by_relevance(picks.copy(), scores, valid)
    for v in range(u):
        head = [int(j) for j in picks[v] if j >= 0]
        rest = [
            int(j)
            for j in np.argsort(-np.where(valid[v], scores[v], -np.inf), kind="stable")
            if valid[v, j] and j not in head
        ]
        want = (head + rest)[:kk]
        assert got[v].tolist() == want + [-1] * (kk - len(want))


# --------------------------------------------------------------------------- 5. Similarity


@FAST
@given(
    seed=SEED,
    u=st.integers(2, 6),
    n=st.integers(1, 30),
    d=st.sampled_from([1, 3, 16, 40]),
    kind=st.sampled_from(["cosine", "dot", "jaccard"]),
    unit=st.booleans(),
)
def test_similarity_rows_of_a_batch_equal_each_viewer_alone(seed, u, n, d, kind, unit):
    rng = np.random.default_rng(seed)
    if kind == "jaccard":
        vectors = (rng.random((u, n, d)) < 0.4).astype(np.float64)
        if unit:  # a weighted (non-binary) Jaccard
            vectors *= rng.random((u, n, d))
    else:
        vectors = rng.normal(size=(u, n, d))
        if unit:
            vectors /= np.linalg.norm(vectors, axis=-1, keepdims=True)
    j = rng.integers(0, n, size=u)
    sim = Similarity(vectors, kind, unit=unit)
    batch = sim.rows(j)
    assert batch.shape == (u, n)
    scale = rng.random(u)
    scaled = sim.rows(j, scale)
    for v in range(u):
        alone = Similarity(vectors[v : v + 1], kind, unit=unit)
        one = alone.rows(j[v : v + 1])
        assert one.shape == (1, n)
        assert one.tobytes() == batch[v : v + 1].tobytes(), v  # bit for bit
        assert alone.rows(j[v : v + 1], scale[v : v + 1]).tobytes() == scaled[v].tobytes()
        # a chunk of one viewer of the batch object: the same numbers
        assert sim.chunk(slice(v, v + 1)).rows(j[v : v + 1]).tobytes() == one.tobytes()
    if kind != "jaccard":
        vv = sim.v
        want = np.stack([vv[v] @ vv[v, j[v]] for v in range(u)])
        np.testing.assert_allclose(batch, want, rtol=1e-12, atol=1e-12)


@FAST
@given(
    seed=SEED,
    u=st.integers(2, 5),
    n=st.integers(1, 25),
    dtype=st.sampled_from([np.float32, np.float64]),
    c=st.floats(0.0, 3.0),
)
def test_mmr_penalty_of_one_viewer_equals_its_batch_row(seed, u, n, dtype, c):
    """MMR's penalty ``(1 - lam) * sim``: the one-viewer path (``v @ (v[j] * c)``) and the
    batch path (``rows(j, scale)``) do the same arithmetic, bit for bit, in float32 too."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(u, n, 7)).astype(dtype)
    sim = Similarity(vectors, "cosine", unit=True)
    j = rng.integers(0, n, size=u)
    batch = sim.rows(j, np.full(u, c, dtype=dtype))
    for v in range(u):
        one = vectors[v] @ (vectors[v][j[v]] * c)
        assert one.tobytes() == batch[v].tobytes()


@FAST
@given(seed=SEED, u=st.integers(1, 5), n=st.integers(1, 20), shared=st.booleans())
def test_similarity_against_with_unit_promise(seed, u, n, shared):
    rng = np.random.default_rng(seed)
    # exactly unit rows: the promise changes nothing, bit for bit
    vectors = exact_unit_rows(rng, (n,) if shared else (u, n))
    profile = exact_unit_rows(rng, (u,))
    want = Similarity(vectors, "cosine").against(profile)
    got = Similarity(vectors, "cosine", unit=True).against(profile)
    assert got.shape == (u, n) and got.tobytes() == want.tobytes()
    # unit rows up to rounding: the same similarity up to rounding
    shape = (n, D) if shared else (u, n, D)
    vectors = rng.normal(size=shape)
    vectors /= np.linalg.norm(vectors, axis=-1, keepdims=True)
    profile = rng.normal(size=(u, D))
    profile /= np.linalg.norm(profile, axis=-1, keepdims=True)
    want = Similarity(vectors, "cosine").against(profile)
    got = Similarity(vectors, "cosine", unit=True).against(profile)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    rows = profile @ vectors.T if shared else np.einsum("und,ud->un", vectors, profile)
    np.testing.assert_allclose(got, rows, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- 6. genre mix


def mix_reference(histories: Any, genres: np.ndarray) -> np.ndarray:
    raw = np.asarray(histories @ genres, dtype=np.float64)
    total = raw.sum(axis=1, keepdims=True)
    return np.divide(raw, total, out=np.zeros_like(raw), where=total > 0)


@FAST
@given(
    seed=SEED,
    u=st.integers(1, 8),
    n_items=st.integers(1, 30),
    g=st.integers(1, 5),
    density=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    empty=st.sampled_from(["none", "first", "last", "both", "all", "random"]),
    array_api=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_history_genre_mix_equals_normalised_product(
    seed, u, n_items, g, density, empty, array_api, dtype
):
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((u, n_items)) < density, rng.random((u, n_items)) + 0.1, 0.0)
    if empty in ("first", "both"):
        dense[0] = 0
    if empty in ("last", "both"):
        dense[-1] = 0
    if empty == "all":
        dense[:] = 0
    if empty == "random":
        dense[rng.random(u) < 0.5] = 0
    histories = (sp.csr_array if array_api else sp.csr_matrix)(dense.astype(dtype))
    genres = (rng.random((n_items, g)) < 0.4).astype(np.float32)
    got = history_genre_mix(histories, genres)
    want = mix_reference(histories, genres)
    assert got.shape == (u, g)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    has = (dense @ genres).sum(axis=1) > 0
    np.testing.assert_allclose(got.sum(axis=1)[has], 1.0, rtol=1e-9)
    assert (got[~has] == 0).all()


def test_history_genre_mix_with_duplicate_and_unsorted_entries():
    # a CSR built by hand: row 1 empty, row 2 with its columns out of order and repeated
    data = np.array([1.0, 2.0, 1.0, 3.0, 0.5], dtype=np.float32)
    indices = np.array([0, 2, 1, 0, 1])
    indptr = np.array([0, 2, 2, 5, 5])
    h = sp.csr_matrix((data, indices, indptr), shape=(4, 3))
    genres = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    got = history_genre_mix(h, genres)
    np.testing.assert_allclose(got, mix_reference(h, genres))
    np.testing.assert_allclose(got[0], [3 / 5, 2 / 5])
    np.testing.assert_allclose(got[2], [3 / 4.5, 1.5 / 4.5])
    assert (got[[1, 3]] == 0).all()


def test_row_context_target_is_the_genre_mix():
    rng = np.random.default_rng(1)
    dense = np.where(rng.random((5, 12)) < 0.3, 1.0, 0.0)
    dense[2] = 0
    histories = sp.csr_matrix(dense.astype(np.float32))
    genres = (rng.random((12, 4)) < 0.5).astype(np.float32)
    fields = {f.name: None for f in dataclasses.fields(RowContext)}
    fields.update(
        batch=types.SimpleNamespace(histories=histories),
        genres=genres,
        titles=np.array([f"t{i}" for i in range(12)]),
        k=3,
    )
    ctx = RowContext(**fields)
    target = ctx.target
    np.testing.assert_allclose(target, mix_reference(histories, genres), rtol=1e-6)
    assert ctx.target is target  # computed once
    assert (target[2] == 0).all()


def test_row_context_target_on_a_served_batch(fitted, small_data):
    f = fitted._fitted
    users = list(small_data.user_ids[:25])
    batch = fitted._gate(users, fitted._now("2030-01-01"), f)
    ctx = fitted._context(batch, f)
    want = mix_reference(batch.histories, f.genres_)
    np.testing.assert_allclose(ctx.target, want, rtol=1e-6, atol=1e-7)
    assert np.isfinite(ctx.target).all() and (ctx.target >= 0).all()


# --------------------------------------------------------------------------- 7. page objects


@settings(max_examples=80, deadline=None)
@given(
    kind=st.text(min_size=1, max_size=8).filter(str.strip),
    text=st.text(min_size=1, max_size=20).filter(str.strip),
    data_used=st.lists(st.sampled_from(["watch_history", "stated_interests"]), unique=True),
    anchor=st.one_of(st.none(), st.text(min_size=1, max_size=8).filter(str.strip)),
    item_id=st.one_of(st.integers(-(10**6), 10**6), st.text(min_size=1, max_size=6)),
    title=st.text(min_size=1, max_size=12).filter(lambda s: s[:1].strip()),
    score=st.floats(allow_nan=False, allow_infinity=False),
    genres=st.lists(st.sampled_from(["Drama", "Comedy", "Sci-Fi"]), unique=True),
)
def test_trusted_page_objects_equal_validated_ones(
    kind, text, data_used, anchor, item_id, title, score, genres
):
    data_used, genres = tuple(data_used), tuple(genres)
    reason = Reason(kind, text, data_used, anchor)
    fast_reason = Reason.trusted(kind, text, data_used, anchor)
    assert type(fast_reason) is Reason
    assert fast_reason == reason and hash(fast_reason) == hash(reason)
    assert repr(fast_reason) == repr(reason) and fast_reason.to_dict() == reason.to_dict()
    item = Item(item_id, title, score, reason, genres)
    fast_item = Item.trusted(item_id, title, score, fast_reason, genres)
    assert type(fast_item) is Item
    assert fast_item == item and hash(fast_item) == hash(item)
    assert repr(fast_item) == repr(item) and fast_item.to_dict() == item.to_dict()
    for obj, field in ((fast_reason, "text"), (fast_item, "score"), (fast_item, "title")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, field, getattr(obj, field))
    with pytest.raises((AttributeError, TypeError)):
        fast_item.extra = 1  # slots: no new attributes either


def test_trusted_items_differ_when_a_field_differs():
    reason = Reason.trusted("k", "t", ("watch_history",), None)
    base = Item.trusted("a", "T", 1.0, reason, ("Drama",))
    assert base != Item.trusted("b", "T", 1.0, reason, ("Drama",))
    assert base != Item.trusted("a", "T", 2.0, reason, ("Drama",))
    assert base != Item.trusted("a", "T", 1.0, Reason.trusted("k", "t", (), None), ("Drama",))
    assert base != Item.trusted("a", "T", 1.0, reason, ())


# --------------------------------------------------------------------------- 8. candidates


class OddScores(CandidateModel):
    """A fitted ALS whose ``score_histories`` returns its scores in an unusual form, keeping
    (a copy of) what it hands out so a test can check nobody wrote into it."""

    kind = "odd"

    def __init__(self, inner: Any = None, mode: str = "fresh") -> None:
        self.inner = inner
        self.mode = mode
        self.n_items_ = inner.n_items_
        # (array kept, a copy of it, a copy of the scores handed out)
        self.handed: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def fit(self, user_items: Any) -> OddScores:  # pragma: no cover - served only
        raise NotImplementedError

    @property
    def item_vectors(self) -> np.ndarray | None:
        return self.inner.item_vectors

    def user_vectors(self, histories: Any) -> np.ndarray | None:
        return self.inner.user_vectors(histories)

    def get_arrays(self) -> dict[str, np.ndarray]:  # pragma: no cover - not saved
        return self.inner.get_arrays()

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:  # pragma: no cover
        raise NotImplementedError

    def score_histories(self, histories: Any) -> np.ndarray:
        s = np.ascontiguousarray(self.inner.score_histories(histories), dtype=np.float32)
        if self.mode == "fresh":
            out = kept = s
        elif self.mode == "readonly":
            out = kept = s
            s.flags.writeable = False
        elif self.mode == "view":
            kept = np.zeros((len(s) + 1, s.shape[1]), dtype=np.float32)
            kept[1:] = s
            out = kept[1:]  # writeable, C-contiguous, not owning its data
        elif self.mode == "float64":
            out = kept = s.astype(np.float64)
        elif self.mode == "fortran":
            out = kept = np.asfortranarray(s)  # owns its data, not C-contiguous
        elif self.mode == "broadcast":
            kept = s[:1].copy()
            out = np.broadcast_to(kept, s.shape)  # every viewer gets viewer 0's scores
        else:  # pragma: no cover
            raise ValueError(self.mode)
        self.handed.append((kept, kept.copy(), np.array(out)))
        return out


@pytest.fixture(scope="module")
def served_model(small_data):
    return fr.models.ALS(factors=8, iterations=3, random_state=0).fit(small_data.to_csr())


def odd_recommender(model: Any, data: Any, mode: str) -> fr.Recommender:
    return fr.Recommender.from_fitted(
        OddScores(model, mode),
        data,
        train_user_ids=data.user_ids,
        row_size=6,
        n_candidates=60,
        on_unknown="ignore",
    )


NOW = "2030-01-01"


def is_fresh(a: np.ndarray) -> bool:
    flags = a.flags
    return a.dtype == np.float32 and flags.c_contiguous and flags.owndata and flags.writeable


@pytest.mark.parametrize("mode", ["fresh", "readonly", "view", "float64", "fortran", "broadcast"])
def test_candidates_never_write_into_the_models_array(mode, served_model, small_data):
    users = list(small_data.user_ids[:30])
    rec = odd_recommender(served_model, small_data, mode)
    model = rec.model_
    f = rec._fitted
    batch = rec._gate(users, rec._now(NOW), f)
    assert batch.personalized.all()  # the all-personalized path
    scores, cand, rel = rec._candidates(batch, f, 50)
    assert scores.dtype == np.float32 and scores.flags.c_contiguous and scores.flags.writeable
    dense = batch.histories.toarray() != 0
    kept, copy, handed = model.handed[-1]
    expect = handed.astype(np.float32)
    np.testing.assert_array_equal(scores[~dense], expect[~dense])
    assert (scores[dense] == -np.inf).all()  # seen titles masked in the serving copy
    assert (cand >= 0).all() and not dense[np.arange(len(users))[:, None], cand].any()
    np.testing.assert_array_equal(rel, np.take_along_axis(scores, cand, axis=1))
    if mode == "fresh":  # a fresh array the model does not keep is used as it is
        assert kept is scores
    else:
        assert not np.shares_memory(kept, scores)
        np.testing.assert_array_equal(kept, copy)
        assert np.isfinite(kept).all()


@pytest.mark.parametrize("mode", ["fresh", "readonly", "view", "float64", "fortran", "broadcast"])
def test_pages_with_any_score_array_equal_the_mixed_batch_path(mode, served_model, small_data):
    users = list(small_data.user_ids[:30])
    rec = odd_recommender(served_model, small_data, mode)
    model = rec.model_
    fast = rec.home_batch(users, now=NOW, as_pages=True)
    # an unknown viewer in the batch sends it through the other path (scores assembled row
    # by row); the model still scores the same 30 history rows in one call
    mixed = rec.home_batch([*users, "nobody"], now=NOW, as_pages=True)[:-1]
    assert fast == mixed
    assert all(p.personalized and p.rows for p in fast)
    flat = rec.recommend_batch(users, k=7, now=NOW)
    flat_mixed = rec.recommend_batch([*users, "nobody"], k=7, now=NOW)
    flat_mixed = flat_mixed[flat_mixed.user_id != "nobody"].reset_index(drop=True)
    assert flat.equals(flat_mixed)
    single = rec.home(users[3], now=NOW)  # one viewer: the same path at u == 1
    assert single == rec.home_batch([users[3], "nobody"], now=NOW, as_pages=True)[0]
    for kept, copy, _ in model.handed:
        if not is_fresh(kept):  # (a fresh array is the serving copy: it may be written)
            np.testing.assert_array_equal(kept, copy)
    if mode not in ("broadcast",):  # the same scores in another form: the same pages
        plain = odd_recommender(served_model, small_data, "fresh")
        assert fast == plain.home_batch(users, now=NOW, as_pages=True)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lam=st.sampled_from([0.0, 0.25, 0.5, 0.75]))
def test_mmr_shared_vectors_with_duplicates_single_equals_batch(seed: int, lam: float) -> None:
    """Shared (n, d) vectors with exact duplicate candidates: a viewer alone and inside a batch
    get the same similarities (one matrix-vector product per viewer), so the same row."""
    rng = np.random.default_rng(seed)
    u, n, d = int(rng.integers(2, 5)), int(rng.integers(4, 14)), int(rng.integers(1, 40))
    vectors = rng.standard_normal((n, d))
    vectors[1::2] = vectors[0]
    scores = np.round(rng.random((u, n)) * 4) / 4
    batch = mmr(scores, vectors, 6, lambda_=lam)
    for v in range(u):
        row = batch[v]
        np.testing.assert_array_equal(mmr(scores[v], vectors, 6, lambda_=lam), row[row >= 0])


def jaccard_reference(a: np.ndarray, b: np.ndarray) -> float:
    """The set Jaccard index of two 0/1 rows (0 for two empty rows)."""
    union = np.logical_or(a > 0, b > 0).sum()
    return float(np.logical_and(a > 0, b > 0).sum() / union) if union else 0.0


@FAST
@given(
    seed=SEED,
    n=st.integers(1, 30),
    k=st.integers(1, 12),
    g=st.sampled_from([1, 3, 19]),
    lam=st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]),
    p=st.sampled_from([0.3, 1.0]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_mmr_binary_jaccard_one_viewer_kernel_equals_batch_rows_and_reference(
    seed, n, k, g, lam, p, dtype
):
    # the 1-d kernel (one viewer, 0/1 rows: the Hidden gems row's genre rows) must pick
    # exactly what a batch of several viewers picks for that viewer, and what the greedy
    # definition picks; empty rows (union 0) and duplicate rows included
    rng = np.random.default_rng(seed)
    u = 3
    genres = (rng.random((u, n, g)) < 0.3).astype(dtype)
    genres[:, ::4] = 0.0  # titles without a genre
    if n > 2:
        genres[:, 1] = genres[:, 2]  # duplicates
    rel = grid_scores(rng, (u, n))
    valid = random_valid(rng, u, n, p)
    batch = MMR(lambda_=lam, similarity="jaccard").rerank(
        np.where(valid, rel, 0.0), k, vectors=genres, valid=valid
    )
    for v in range(u):
        one = _mmr_kernel(
            np.where(valid[v : v + 1], rel[v : v + 1], -np.inf),
            valid[v : v + 1],
            Similarity(genres[v : v + 1], "jaccard"),
            min(k, n),
            lam,
        )
        assert rows_picks(one) == rows_picks(batch[v : v + 1]), v
        # the greedy definition (a tie goes to the lower position)
        picks: list[int] = []
        while len(picks) < min(k, n):
            best, arg = -np.inf, -1
            for i in range(n):
                if not valid[v, i] or i in picks:
                    continue
                red = max((jaccard_reference(genres[v, i], genres[v, j]) for j in picks), default=0)
                value = lam * rel[v, i] - (1 - lam) * red
                if arg < 0 or value > best:
                    best, arg = value, i
            if arg < 0:
                break
            picks.append(arg)
        if lam in (0.0, 0.5, 1.0):  # dyadic weights: the reference's arithmetic is exact
            assert rows_picks(one)[0] == picks, v
    # the trusted path in the rows' own dtype (float32 quotients round differently from
    # float64 ones): one viewer alone equals its row of the batch
    mmr_j = MMR(lambda_=lam, similarity="jaccard")
    scores = np.where(valid, rel, 0.0)
    together = mmr_j.rerank_trusted(scores, valid, k, genres)
    for v in range(u):
        alone = mmr_j.rerank_trusted(scores[v : v + 1], valid[v : v + 1], k, genres[v : v + 1])
        assert rows_picks(alone) == rows_picks(together[v : v + 1]), v


def test_mmr_binary_jaccard_one_viewer_keeps_float32_quotients():
    # float32 genre rows: the batch kernel divides in float32; the 1-d kernel must too
    # (a float64 quotient breaks this example's tie the other way)
    genres = np.array(
        [[1, 1, 1, 0, 0], [0, 1, 0, 1, 1], [1, 0, 0, 1, 1], [0, 0, 1, 0, 1], [1, 0, 0, 1, 1],
         [0, 0, 0, 1, 1], [1, 1, 0, 1, 1], [1, 0, 1, 1, 1], [1, 0, 0, 1, 1]],
        dtype=np.float32,
    )  # fmt: skip
    rel = np.array([6, 8, 3, 2, 8, 5, 7, 0, 8]) / 8.0
    mmr_j = MMR(lambda_=0.25, similarity="jaccard")
    valid = np.ones((2, 9), dtype=bool)
    scores = np.stack([rel, rel[::-1]])
    vectors = np.stack([genres, genres[::-1]])
    together = mmr_j.rerank_trusted(scores, valid, 9, vectors)
    alone = mmr_j.rerank_trusted(scores[:1], valid[:1], 9, vectors[:1])
    assert alone.tolist() == together[:1].tolist()
