"""Tests of fairrec.rerank: one conformance suite for every re-ranker, plus specific checks.

``RerankerConformance`` holds the invariants of the protocol (distinct valid positions in
display order, -1 padding in batches, batch == one call per viewer, determinism and ties by
position, typed errors); each re-ranker runs it through a small subclass. The specific tests
compare the fast kernels with slow, obviously-correct references (``numpy.linalg.slogdet``
for the DPP, direct KL and xQuAD formulas) and check hand-computed examples.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairrec.rerank as rr
from fairrec.errors import DataError, FairrecError, ParameterError
from fairrec.rerank import (
    DPP,
    MMR,
    Calibrated,
    LongTail,
    RerankContext,
    Reranker,
    Serendipity,
    TopK,
    calibrated,
    dpp_greedy,
    long_tail_mask,
    mmr,
    serendipity,
    topk,
    xquad,
)
from fairrec.rerank._reference import dpp_greedy_logdet
from fairrec.rerank._similarity import Similarity

# The conformance tests run once per re-ranker subclass ("differing executors"); each draws
# its data afresh and is a pure function of it, so the health check does not apply.
FAST = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)


# --------------------------------------------------------------------------- instances


@dataclass
class Case:
    """One call's inputs; ``single`` cases have (n,) scores."""

    scores: np.ndarray
    k: int
    vectors: np.ndarray
    context: RerankContext
    valid: np.ndarray | None

    @property
    def single(self) -> bool:
        return self.scores.ndim == 1

    def call(self, reranker: Any, **over: Any) -> np.ndarray:
        kw = {"vectors": self.vectors, "context": self.context, "valid": self.valid}
        kw.update(over)
        return reranker.rerank(self.scores, self.k, **kw)

    def viewer(self, v: int) -> Case:
        """Viewer ``v`` of a batch case, as a single-viewer case."""

        def row(x: Any, shared_ndim: int) -> Any:
            if x is None or np.ndim(x) == shared_ndim:
                return x
            return np.asarray(x)[v]

        c = self.context
        ctx = RerankContext(
            profile=row(c.profile, 1),
            genres=row(c.genres, 2),
            target=row(c.target, 1),
            popularity=row(c.popularity, 1),
            tail=row(c.tail, 1),
            tail_share=row(c.tail_share, 0),
        )
        return Case(self.scores[v], self.k, row(self.vectors, 2), ctx, row(self.valid, 1))


def make_case(
    seed: int,
    *,
    u: int | None,
    n: int,
    k: int,
    binary_vectors: bool,
    ties: bool,
    masked: bool,
    per_viewer: bool,
) -> Case:
    rng = np.random.default_rng(seed)
    d, g = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    lead = () if u is None else (u,)
    shape = (*lead, n)
    if ties:  # few distinct values: exact ties in scores, vectors and genres
        scores = rng.integers(0, 3, size=shape).astype(float)
    else:
        scores = rng.normal(size=shape)
    vlead = lead if per_viewer else ()
    if binary_vectors:
        vectors = (rng.random((*vlead, n, d)) < 0.5).astype(float)
    elif ties:
        vectors = rng.integers(-1, 2, size=(*vlead, n, d)).astype(float)
    else:
        vectors = rng.normal(size=(*vlead, n, d))
    genres = (rng.random((*vlead, n, g)) < 0.5).astype(float)
    ctx = RerankContext(
        profile=rng.random((*lead, d)) if per_viewer else rng.random(d),
        genres=genres,
        target=rng.random((*lead, g)),
        popularity=rng.integers(0, 20, size=(*vlead, n)).astype(float),
        tail=(rng.random((*vlead, n)) < 0.5) if rng.random() < 0.5 else None,
        tail_share=rng.random(lead) if u is not None else float(rng.random()),
    )
    valid = (rng.random(shape) < 0.7) if masked else None
    return Case(scores, k, vectors, ctx, valid)


def case_strategy(*, batch: bool, binary_vectors: bool) -> st.SearchStrategy[Case]:
    return st.builds(
        lambda seed, u, n, k, ties, masked, per_viewer: make_case(
            seed,
            u=u if batch else None,
            n=n,
            k=k,
            binary_vectors=binary_vectors,
            ties=ties,
            masked=masked,
            per_viewer=per_viewer and batch,
        ),
        seed=st.integers(0, 2**32 - 1),
        u=st.integers(1, 4),
        n=st.integers(0, 12),
        k=st.integers(1, 15),
        ties=st.booleans(),
        masked=st.booleans(),
        per_viewer=st.booleans(),
    )


def stable_top(scores: np.ndarray, valid: np.ndarray | None, k: int) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    if valid is not None:
        order = order[valid[order]]
    return order[:k]


# --------------------------------------------------------------------------- conformance


class RerankerConformance:
    """Invariants every re-ranker must satisfy. Subclasses set the three hooks."""

    binary_vectors = False

    def make(self) -> Any:
        raise NotImplementedError

    def pure_relevance(self) -> Any:
        """The re-ranker with all weight on relevance (None: no exact such setting)."""
        return None

    def needs(self) -> list[str]:
        """Inputs the re-ranker cannot do without (``vectors`` or context fields)."""
        return []

    def case(self, seed: int, *, u: int | None, n: int, k: int) -> Case:
        """A plain random case (no forced ties, no mask, shared vectors)."""
        return make_case(
            seed,
            u=u,
            n=n,
            k=k,
            binary_vectors=self.binary_vectors,
            ties=False,
            masked=False,
            per_viewer=False,
        )

    # -- output contract ------------------------------------------------------------

    @FAST
    @given(data=st.data())
    def test_single_viewer_output(self, data: st.DataObject) -> None:
        case = data.draw(case_strategy(batch=False, binary_vectors=self.binary_vectors))
        out = case.call(self.make())
        n = case.scores.shape[0]
        ok = np.ones(n, bool) if case.valid is None else case.valid
        assert out.dtype == np.int64 and out.ndim == 1
        assert len(out) == min(case.k, int(ok.sum()))
        assert len(set(out.tolist())) == len(out)
        assert ((out >= 0) & (out < n)).all()
        assert ok[out].all()

    @FAST
    @given(data=st.data())
    def test_batch_output(self, data: st.DataObject) -> None:
        case = data.draw(case_strategy(batch=True, binary_vectors=self.binary_vectors))
        out = case.call(self.make())
        u, n = case.scores.shape
        ok = np.ones((u, n), bool) if case.valid is None else case.valid
        assert out.dtype == np.int64 and out.shape == (u, min(case.k, n))
        for v in range(u):
            real = out[v][out[v] >= 0]
            want = min(case.k, int(ok[v].sum()))
            assert len(real) == want and (out[v][want:] == -1).all()
            assert len(set(real.tolist())) == len(real) and ok[v][real].all()

    @FAST
    @given(data=st.data())
    def test_batch_equals_one_call_per_viewer(self, data: st.DataObject) -> None:
        case = data.draw(case_strategy(batch=True, binary_vectors=self.binary_vectors))
        reranker = self.make()
        out = case.call(reranker)
        for v in range(case.scores.shape[0]):
            alone = case.viewer(v).call(reranker)
            np.testing.assert_array_equal(out[v][: len(alone)], alone)
            assert (out[v][len(alone) :] == -1).all()

    @FAST
    @given(data=st.data())
    def test_deterministic_and_inputs_untouched(self, data: st.DataObject) -> None:
        case = data.draw(case_strategy(batch=True, binary_vectors=self.binary_vectors))
        before = (case.scores.copy(), case.vectors.copy(), case.context.genres.copy())
        first = case.call(self.make())
        second = case.call(self.make())
        np.testing.assert_array_equal(first, second)
        np.testing.assert_array_equal(case.scores, before[0])
        np.testing.assert_array_equal(case.vectors, before[1])
        np.testing.assert_array_equal(case.context.genres, before[2])

    @FAST
    @given(data=st.data())
    def test_pure_relevance_is_sorted_by_score(self, data: st.DataObject) -> None:
        reranker = self.pure_relevance()
        if reranker is None:
            pytest.skip("no exact pure-relevance setting")
        case = data.draw(case_strategy(batch=False, binary_vectors=self.binary_vectors))
        out = case.call(reranker)
        np.testing.assert_array_equal(out, stable_top(case.scores, case.valid, case.k))

    @pytest.mark.parametrize("n", [1, 5, 9])
    def test_identical_candidates_keep_position_order(self, n: int) -> None:
        case = make_case(
            0, u=None, n=n, k=6, binary_vectors=True, ties=True, masked=False, per_viewer=False
        )
        ctx = RerankContext(
            profile=np.ones(3),
            genres=np.ones((n, 2)),
            target=np.array([0.3, 0.7]),
            popularity=np.full(n, 4.0),
            tail=np.zeros(n, bool),
        )
        same = Case(np.full(n, 0.5), 6, np.tile([1.0, 0.0, 1.0], (n, 1)), ctx, None)
        np.testing.assert_array_equal(same.call(self.make()), np.arange(min(6, n)))
        assert case.single

    def test_k_larger_than_n_returns_all(self) -> None:
        case = self.case(1, u=None, n=4, k=10)
        out = case.call(self.make())
        assert sorted(out.tolist()) == [0, 1, 2, 3]

    def test_empty_candidates(self) -> None:
        case = self.case(2, u=3, n=0, k=5)
        assert case.call(self.make()).shape == (3, 0)
        assert case.viewer(0).call(self.make()).shape == (0,)

    # -- typed errors ------------------------------------------------------------------

    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_non_finite_valid_score_raises(self, bad: float) -> None:
        case = self.case(3, u=2, n=6, k=3)
        case.scores[1, 4] = bad
        with pytest.raises(DataError, match=r"'scores' must be finite.*\(1, 4\)"):
            case.call(self.make())
        # the same value at a masked-out (padding) position is fine
        valid = np.ones((2, 6), bool)
        valid[1, 4] = False
        out = case.call(self.make(), valid=valid)
        assert 4 not in out[1].tolist()

    @pytest.mark.parametrize("shape", [(), (2, 3, 4)])
    def test_scores_of_wrong_ndim_raise(self, shape: tuple[int, ...]) -> None:
        case = self.case(4, u=None, n=4, k=2)
        with pytest.raises(DataError, match="'scores' must have shape"):
            self.make().rerank(np.zeros(shape), 2, vectors=case.vectors, context=case.context)

    def test_non_numeric_scores_raise(self) -> None:
        case = self.case(10, u=None, n=2, k=1)
        with pytest.raises(DataError, match="'scores' must be a real numeric array"):
            self.make().rerank(np.array(["a", "b"]), 1, vectors=case.vectors, context=case.context)

    def test_mismatched_valid_raises(self) -> None:
        case = self.case(5, u=2, n=5, k=2)
        with pytest.raises(DataError, match="'valid'"):
            case.call(self.make(), valid=np.ones(4, bool))
        with pytest.raises(DataError, match="'valid'"):
            case.call(self.make(), valid=np.ones((2, 5), int))

    @pytest.mark.parametrize("k", [0, -1, 2.0, True, "3", None])
    def test_bad_k_raises(self, k: Any) -> None:
        case = self.case(6, u=None, n=5, k=2)
        with pytest.raises(ParameterError, match=r"The 'k' parameter of \w+ must be an int"):
            self.make().rerank(case.scores, k, vectors=case.vectors, context=case.context)

    def test_missing_inputs_are_named(self) -> None:
        case = self.case(7, u=None, n=5, k=2)
        for name in self.needs():
            if name == "vectors":
                with pytest.raises(DataError, match="needs 'vectors'"):
                    case.call(self.make(), vectors=None)
                continue
            field = name.split(".")[1]
            blank = {field: None} if field != "tail" else {"tail": None, "popularity": None}
            ctx = dataclasses.replace(case.context, **blank)
            with pytest.raises(DataError, match=re.escape(f"needs context.{field}")):
                case.call(self.make(), context=ctx)

    def test_mismatched_vectors_raise(self) -> None:
        if "vectors" not in self.needs():
            pytest.skip("does not use vectors")
        case = self.case(8, u=2, n=5, k=2)
        for bad in (case.vectors[:4], np.ones((3, 5, 2)), np.ones(5), case.vectors * np.nan):
            with pytest.raises(DataError, match="'vectors'"):
                case.call(self.make(), vectors=bad)

    def test_is_a_small_frozen_reranker(self) -> None:
        reranker = self.make()
        assert isinstance(reranker, Reranker)
        text = repr(reranker)
        assert text.startswith(type(reranker).__name__ + "(")
        for field in dataclasses.fields(reranker):
            assert f"{field.name}=" in text
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(reranker, field.name, 0)


# --------------------------------------------------------------------------- per re-ranker


class TestTopK(RerankerConformance):
    def make(self) -> Any:
        return TopK()

    def pure_relevance(self) -> Any:
        return TopK()


class TestMMRCosine(RerankerConformance):
    def make(self) -> Any:
        return MMR(lambda_=0.6)

    def pure_relevance(self) -> Any:
        return MMR(lambda_=1.0)

    def needs(self) -> list[str]:
        return ["vectors"]


class TestMMRJaccard(TestMMRCosine):
    binary_vectors = True

    def make(self) -> Any:
        return MMR(lambda_=0.3, similarity="jaccard")

    def pure_relevance(self) -> Any:
        return MMR(lambda_=1.0, similarity="jaccard")


class TestDPP(RerankerConformance):
    def make(self) -> Any:
        return DPP(theta=1.5)

    def needs(self) -> list[str]:
        return ["vectors"]


class TestDPPWindowJaccard(TestDPP):
    binary_vectors = True

    def make(self) -> Any:
        return DPP(theta=0.5, window=3, similarity="jaccard")


class TestCalibrated(RerankerConformance):
    def make(self) -> Any:
        return Calibrated(lambda_=0.6)

    def pure_relevance(self) -> Any:
        return Calibrated(lambda_=0.0)

    def needs(self) -> list[str]:
        return ["context.genres", "context.target"]


class TestLongTail(RerankerConformance):
    def make(self) -> Any:
        return LongTail(lambda_=0.5)

    def pure_relevance(self) -> Any:
        return LongTail(lambda_=0.0)

    def needs(self) -> list[str]:
        return ["context.popularity"]


class TestLongTailBinary(TestLongTail):
    def make(self) -> Any:
        return LongTail(lambda_=0.8, variant="binary", head_share=0.5)


class TestSerendipity(RerankerConformance):
    def make(self) -> Any:
        return Serendipity(weight=2.0, floor=0.3)

    def pure_relevance(self) -> Any:
        return Serendipity(weight=0.0, floor=0.3)

    def needs(self) -> list[str]:
        return ["vectors", "context.profile"]


class TestSerendipityJaccard(TestSerendipity):
    binary_vectors = True

    def make(self) -> Any:
        return Serendipity(weight=1.0, floor=0.0, similarity="jaccard")


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: MMR(lambda_=1.5),
            "The 'lambda_' parameter of MMR must be a float in the range [0, 1]. Got 1.5 instead.",
        ),
        (
            lambda: MMR(similarity="euclid"),
            "The 'similarity' parameter of MMR must be one of 'cosine', "
            "'jaccard'. Got 'euclid' instead.",
        ),
        (
            lambda: DPP(theta=-1),
            "The 'theta' parameter of DPP must be a float in the range [0, inf)",
        ),
        (lambda: DPP(window=0), "The 'window' parameter of DPP must be None or an int"),
        (lambda: DPP(eps=0.0), "The 'eps' parameter of DPP must be a float in the range (0, inf)"),
        (
            lambda: Calibrated(alpha=0.0),
            "The 'alpha' parameter of Calibrated must be a float in the range (0, 1]",
        ),
        (lambda: Calibrated(lambda_=np.nan), "The 'lambda_' parameter of Calibrated"),
        (lambda: LongTail(variant="soft"), "The 'variant' parameter of LongTail must be one of"),
        (lambda: LongTail(lambda_=True), "The 'lambda_' parameter of LongTail"),
        (
            lambda: Serendipity(floor=2),
            "The 'floor' parameter of Serendipity must be a float in the range [0, 1]",
        ),
        (lambda: Serendipity(weight="x"), "The 'weight' parameter of Serendipity"),
    ],
)
def test_bad_parameters_raise_sklearn_style(build: Any, message: str) -> None:
    # raised when the re-ranker is built (before, they were raised at the first rerank)
    with pytest.raises(ParameterError, match=re.escape(message)):
        build()


#: every parameter of every re-ranker class: values it accepts, values it refuses
PARAMETERS: dict[type, dict[str, tuple[list[Any], list[Any]]]] = {
    TopK: {},
    MMR: {
        "lambda_": (
            [0, 0.0, 0.3, 1, np.float32(0.5)],
            [-0.1, 1.5, np.nan, np.inf, True, "0.5", None],
        ),
        "similarity": (["cosine", "jaccard"], ["Cosine", "euclid", "", None, 1]),
    },
    DPP: {
        "theta": ([0, 2.0, 1e6, np.int64(3)], [-1, -1e-9, np.nan, np.inf, False, "2", None]),
        "window": ([None, 1, 5, np.int32(7)], [0, -3, 2.5, True, "5", np.nan]),
        "similarity": (["cosine", "jaccard"], ["dot", "COSINE", None]),
        "eps": ([1e-12, 1e-10, 1, 5.0], [0, 0.0, -1e-10, np.nan, np.inf, True, None]),
    },
    Calibrated: {
        "lambda_": ([0, 0.5, 1.0], [-0.5, 1.01, np.nan, True, "x", None]),
        "alpha": ([1e-9, 0.01, 1], [0, 0.0, -0.01, 1.5, np.inf, False, None]),
    },
    LongTail: {
        "lambda_": ([0, 0.5, 1], [2, -1, np.nan, True, None]),
        "variant": (["smooth", "binary"], ["soft", "Smooth", None, 0]),
        "head_share": ([0, 0.2, 0.8, 1], [1.2, -0.2, np.nan, True, "0.8", None]),
    },
    Serendipity: {
        "weight": ([0, 1.0, 3, 1e3], [-1, np.nan, np.inf, True, "x", None]),
        "floor": ([0, 0.8, 1], [2, -0.1, np.nan, False, None]),
        "similarity": (["cosine", "jaccard"], ["euclid", None]),
    },
}


def test_parameter_table_covers_every_reranker_and_parameter() -> None:
    """A new re-ranker or a new parameter fails here until the tests below cover it."""
    classes = {
        getattr(rr, name)
        for name in rr.__all__
        if isinstance(getattr(rr, name), type) and dataclasses.is_dataclass(getattr(rr, name))
    } - {RerankContext}
    assert classes == set(PARAMETERS)
    for cls, table in PARAMETERS.items():
        assert {f.name for f in dataclasses.fields(cls)} == set(table), cls.__name__


CASES = [
    (cls, name, value, ok)
    for cls, table in PARAMETERS.items()
    for name, (good, bad) in table.items()
    for ok, values in ((True, good), (False, bad))
    for value in values
]


@pytest.mark.parametrize(
    ("cls", "name", "value", "ok"),
    CASES,
    ids=[f"{c.__name__}-{n}-{v!r}-{'ok' if o else 'bad'}" for c, n, v, o in CASES],
)
def test_every_parameter_is_checked_when_the_reranker_is_built(
    cls: type, name: str, value: Any, ok: bool
) -> None:
    """Tried as a new user would: a bad value raises a ParameterError at construction that
    names the class, the parameter and the value; a good one builds a re-ranker that works
    and keeps the value (as a plain Python number)."""
    if not ok:
        with pytest.raises(ParameterError) as err:
            cls(**{name: value})
        text = str(err.value)
        assert f"'{name}' parameter of {cls.__name__}" in text
        assert f"Got {value!r} instead" in text
        # the other ways to build one check the same
        with pytest.raises(ParameterError, match=re.escape(f"'{name}' parameter")):
            dataclasses.replace(cls(), **{name: value})
        with pytest.raises(ParameterError, match=re.escape(f"'{name}' parameter")):
            rr.by_name(cls.__name__, **{name: value})
        return
    reranker = cls(**{name: value})
    kept = getattr(reranker, name)
    assert kept == value or (kept is None and value is None)
    assert type(kept) in (float, int, str, type(None))
    case = make_case(
        3, u=None, n=6, k=3, binary_vectors=True, ties=False, masked=False, per_viewer=False
    )
    picks = case.call(reranker)
    assert picks.dtype == np.int64 and len(set(picks.tolist())) == len(picks) == 3


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_value_either_builds_a_working_reranker_or_raises_a_parameter_error(
    data: st.DataObject,
) -> None:
    """Property: whatever is passed, construction raises ParameterError (naming the
    parameter) or gives a re-ranker whose ``rerank`` does not raise a parameter error."""
    cls = data.draw(st.sampled_from([c for c, t in PARAMETERS.items() if t]))
    name = data.draw(st.sampled_from(sorted(PARAMETERS[cls])))
    value = data.draw(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-5, 10),
            st.sampled_from(["cosine", "jaccard", "smooth", "binary", "x", None, True]),
        )
    )
    try:
        reranker = cls(**{name: value})
    except ParameterError as exc:
        assert f"'{name}' parameter of {cls.__name__}" in str(exc)
        return
    case = make_case(
        4, u=None, n=6, k=3, binary_vectors=True, ties=False, masked=False, per_viewer=False
    )
    case.call(reranker)


def test_trusted_fast_path_is_public_and_shared_by_every_reranker() -> None:
    """``rerank_trusted`` is a documented method of the ``TrustedReranker`` protocol that
    every fairrec re-ranker implements (the rows call it; the private ``_rerank_trusted`` it
    replaced is gone)."""
    assert rr.TrustedReranker.rerank_trusted.__doc__
    for cls in PARAMETERS:
        reranker = cls()
        assert isinstance(reranker, rr.TrustedReranker) and isinstance(reranker, Reranker)
        assert isinstance(cls.uses_vectors, bool)
        assert not hasattr(reranker, "_rerank_trusted") and not hasattr(reranker, "_uses_vectors")
        rng = np.random.default_rng(1)
        u, n, g = 3, 7, 4
        scores = np.round(rng.random((u, n)), 3)
        valid = rng.random((u, n)) < 0.8
        vectors = rng.normal(size=(u, n, 5))
        vectors /= np.linalg.norm(vectors, axis=-1, keepdims=True)
        genres = (rng.random((u, n, g)) < 0.4).astype(float)
        context = RerankContext(
            profile=vectors.mean(axis=1),
            genres=genres,
            target=np.full((u, g), 1 / g),
            popularity=rng.integers(1, 100, size=(u, n)).astype(float),
        )
        got = reranker.rerank_trusted(
            np.where(valid, scores, np.nan),
            valid,
            4,
            vectors if cls.uses_vectors else None,
            context,
        )
        want = reranker.rerank(
            np.where(valid, scores, 0.0), 4, vectors=vectors, context=context, valid=valid
        )
        np.testing.assert_array_equal(got, want)


def test_errors_are_fairrec_errors_and_value_errors() -> None:
    with pytest.raises(FairrecError):
        topk([1.0, np.nan], 1)
    with pytest.raises(ValueError):
        topk([1.0, 2.0], 0)


def test_context_is_frozen() -> None:
    ctx = RerankContext(profile=np.zeros(2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.profile = None  # type: ignore[misc]


def test_public_names() -> None:
    for name in rr.__all__:
        assert getattr(rr, name) is not None
    assert callable(rr.mmr) and callable(rr.dpp_greedy)


# --------------------------------------------------------------------------- top-k


def test_topk_ties_at_the_cut_go_to_lower_positions() -> None:
    scores = np.array([[1.0, 3.0, 2.0, 2.0, 2.0, 0.0], [5.0, 5.0, 5.0, 5.0, 5.0, 5.0]])
    np.testing.assert_array_equal(topk(scores, 3), [[1, 2, 3], [0, 1, 2]])


# --------------------------------------------------------------------------- DPP


def random_dpp(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, 40)), int(rng.integers(1, 12))
    v = rng.normal(size=(n, d))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return np.exp(rng.normal(size=n) * (1 + seed % 4)), v, int(rng.integers(1, 25))


@pytest.mark.parametrize("window", [None, 1, 2, 3, 6])
def test_dpp_equals_naive_slogdet_greedy(window: int | None) -> None:
    for seed in range(60):
        q, v, k = random_dpp(seed)
        fast = dpp_greedy(q, v, k, window=window)
        naive = dpp_greedy_logdet(q, v, k, window=window)
        np.testing.assert_array_equal(fast, naive, err_msg=f"seed {seed}")


def test_dpp_greedy_stops_when_the_gain_vanishes() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(20, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = np.exp(rng.normal(size=20))
    picks = dpp_greedy(q, v, 10)
    assert len(picks) == 3  # the kernel has rank 3
    # the DPP re-ranker fills the rest of the row by relevance
    scores = np.log(q)
    row = DPP(theta=1.0).rerank(scores, 10, vectors=v)
    assert len(row) == 10 and len(set(row.tolist())) == 10
    rest = [i for i in np.argsort(-scores, kind="stable") if i not in row[:3]]
    np.testing.assert_array_equal(row[3:], rest[:7])


def test_dpp_class_matches_dpp_greedy_with_exponential_quality() -> None:
    rng = np.random.default_rng(5)
    v = rng.normal(size=(30, 6))
    scores = rng.normal(size=30)
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    q = np.exp(0.7 * (scores - scores.max()))
    np.testing.assert_array_equal(
        DPP(theta=0.7).rerank(scores, 6, vectors=v), dpp_greedy(q, unit, 6)
    )


def test_dpp_prefers_diverse_items_and_window_forgets() -> None:
    v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    q = np.array([1.0, 0.9, 0.5, 0.8])
    assert dpp_greedy(q, v, 4).tolist() == [0, 2]
    # with a window of 2, a pick only has to differ from the previous pick
    assert dpp_greedy(q, v, 4, window=2).tolist() == [0, 2, 1]


@pytest.mark.parametrize(
    ("quality", "vectors", "match"),
    [
        ([1.0, 0.0], [[1.0], [1.0]], "'quality' must be positive"),
        ([1.0, -2.0], [[1.0], [1.0]], "'quality' must be positive"),
        ([[1.0, 2.0]], [[1.0], [1.0]], "'quality' must have shape"),
        ([1.0, np.nan], [[1.0], [1.0]], "'quality' must be finite"),
        ([1.0, 2.0], [[1.0], [1.0], [1.0]], "'item_vectors' must have shape"),
        ([1.0, 2.0], [[1.0], [np.inf]], "'item_vectors' must be finite"),
    ],
)
def test_dpp_greedy_validates_inputs(quality: Any, vectors: Any, match: str) -> None:
    with pytest.raises(DataError, match=match):
        dpp_greedy(quality, vectors, 2)


def test_dpp_handles_zero_vectors_and_huge_scores() -> None:
    v = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    out = DPP(theta=50.0).rerank(np.array([1e300, -1e300, 5.0, 4.0]), 4, vectors=v)
    assert sorted(out.tolist()) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- MMR


def test_mmr_lambda_zero_picks_least_similar_after_the_first() -> None:
    v = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.7, 0.7]])
    assert mmr([1.0, 0.9, 0.1, 0.2], v, 3, lambda_=0.0).tolist() == [0, 2, 3]


def test_mmr_jaccard_on_genre_sets() -> None:
    genres = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float)
    # 0 then 1 is a duplicate (J = 1): 2 (J = 0) comes first, then 3 (J(3, 0) = 1/2)
    out = mmr([1.0, 0.95, 0.5, 0.45], genres, 4, lambda_=0.5, similarity="jaccard")
    assert out.tolist() == [0, 2, 3, 1]


def test_similarity_jaccard_fast_path_equals_weighted_definition() -> None:
    rng = np.random.default_rng(3)
    b = (rng.random((15, 6)) < 0.4).astype(float)
    fast = Similarity(b, "jaccard").rows(np.arange(15))
    slow = Similarity(b + 0.0, "jaccard")
    slow.binary = False
    np.testing.assert_allclose(fast, slow.rows(np.arange(15)), rtol=0, atol=1e-15)
    inter = b @ b.T
    union = b.sum(1)[:, None] + b.sum(1)[None, :] - inter
    want = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    np.testing.assert_allclose(fast, want)


def test_jaccard_rejects_negative_vectors() -> None:
    with pytest.raises(DataError, match="non-negative 'vectors'"):
        MMR(similarity="jaccard").rerank([1.0, 2.0], 2, vectors=[[1.0], [-1.0]])


# --------------------------------------------------------------------------- Calibrated


def kl(p: np.ndarray, q: np.ndarray) -> float:
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def calibrated_naive(
    scores: np.ndarray, genres: np.ndarray, target: np.ndarray, k: int, lam: float, alpha: float
) -> list[int]:
    """Steck's greedy, written out: evaluate the objective of list + i for every i."""
    tot = genres.sum(1, keepdims=True)
    p_item = np.divide(genres, tot, out=np.zeros_like(genres), where=tot > 0)
    p = target / target.sum() if target.sum() > 0 else target
    chosen: list[int] = []
    for _ in range(min(k, len(scores))):
        best, arg = -np.inf, -1
        for i in range(len(scores)):
            if i in chosen:
                continue
            members = [*chosen, i]
            rows = p_item[members]
            mass = (rows.sum(1) > 0).sum()
            q = rows.sum(0) / mass if mass else np.zeros_like(p)
            value = (1 - lam) * scores[i] - lam * kl(p, (1 - alpha) * q + alpha * p)
            if value > best:
                best, arg = value, i
        chosen.append(arg)
    return chosen


@pytest.mark.parametrize("kind", ["binary", "weighted", "with_genreless"])
def test_calibrated_equals_naive_greedy(kind: str) -> None:
    for seed in range(25):
        rng = np.random.default_rng(seed)
        n, g, k = int(rng.integers(1, 25)), int(rng.integers(1, 6)), int(rng.integers(1, 12))
        genres = (rng.random((n, g)) < 0.4).astype(float)
        if kind == "weighted":
            genres *= rng.random((n, g))
        if kind == "with_genreless":
            genres[rng.random(n) < 0.3] = 0.0
        target = rng.random(g) * (rng.random(g) < 0.8)
        scores = rng.normal(size=n)
        lam = float(rng.uniform(0.05, 0.95))
        fast = calibrated(scores, genres, target, k, lambda_=lam, alpha=0.01)
        want = calibrated_naive(scores, genres, target, k, lam, 0.01)
        assert fast.tolist() == want, f"seed {seed}"


def test_calibrated_matches_the_viewer_mix() -> None:
    genres = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    scores = np.array([0.9, 0.85, 0.8, 0.75, 0.4, 0.3])
    target = np.array([0.5, 0.5])
    plain = topk(scores, 4)
    cal = calibrated(scores, genres, target, 4, lambda_=0.9)
    mix = genres[cal].mean(0)
    assert kl(target, 0.99 * mix + 0.01 * target) < kl(
        target, 0.99 * genres[plain].mean(0) + 0.01 * target
    )
    np.testing.assert_allclose(mix, [0.5, 0.5])


def test_calibrated_zero_target_is_plain_topk_and_negative_genres_raise() -> None:
    scores = np.array([0.1, 0.5, 0.3])
    genres = np.eye(3)
    assert calibrated(scores, genres, np.zeros(3), 3).tolist() == [1, 2, 0]
    with pytest.raises(DataError, match="'genres' must be non-negative"):
        calibrated(scores, -genres, np.ones(3), 2)
    with pytest.raises(DataError, match="'target' must have shape"):
        calibrated(scores, genres, np.ones(4), 2)


# --------------------------------------------------------------------------- LongTail


def xquad_naive(
    scores: np.ndarray, tail: np.ndarray, k: int, lam: float, p_tail: float, smooth: bool
) -> list[int]:
    chosen: list[int] = []
    for _ in range(min(k, len(scores))):
        best, arg = -np.inf, -1
        for i in range(len(scores)):
            if i in chosen:
                continue
            n_t = sum(tail[j] for j in chosen)
            n_h = len(chosen) - n_t
            if smooth:
                cov_t = 1 - n_t / len(chosen) if chosen else 1.0
                cov_h = 1 - n_h / len(chosen) if chosen else 1.0
            else:
                cov_t, cov_h = float(n_t == 0), float(n_h == 0)
            bonus = p_tail * cov_t if tail[i] else (1 - p_tail) * cov_h
            value = (1 - lam) * scores[i] + lam * bonus
            if value > best:
                best, arg = value, i
        chosen.append(arg)
    return chosen


@pytest.mark.parametrize("variant", ["smooth", "binary"])
def test_xquad_equals_naive_greedy(variant: str) -> None:
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n, k = int(rng.integers(1, 25)), int(rng.integers(1, 15))
        scores = rng.random(n)
        tail = rng.random(n) < 0.4
        lam, share = float(rng.random()), float(rng.random())
        fast = xquad(scores, tail, k, lambda_=lam, tail_share=share, variant=variant)
        assert fast.tolist() == xquad_naive(scores, tail, k, lam, share, variant == "smooth")


def test_long_tail_mask_rule() -> None:
    pop = np.array([50, 10, 30, 5, 5, 0])
    assert long_tail_mask(pop, 0.5).tolist() == [False, True, True, True, True, True]
    assert long_tail_mask(pop, 0.6).tolist() == [False, True, False, True, True, True]
    # ties with the last head item join the head; zero popularity is always tail
    assert long_tail_mask([5, 5, 5, 1], 0.2).tolist() == [False, False, False, True]
    assert long_tail_mask(pop, 0.0).all()
    assert long_tail_mask(pop, 1.0).tolist() == [False] * 5 + [True]
    assert long_tail_mask(np.zeros(3)).all()
    assert long_tail_mask(np.array([[1, 9], [9, 1]]), 0.5).tolist() == [[True, False]] * 1 + [
        [False, True]
    ]
    with pytest.raises(DataError, match="non-negative"):
        long_tail_mask([1, -1])
    with pytest.raises(ParameterError, match="'head_share' parameter of long_tail_mask"):
        long_tail_mask([1, 2], 1.5)


def test_longtail_from_popularity_equals_explicit_tail_and_raises_tail_share() -> None:
    rng = np.random.default_rng(0)
    pop = rng.pareto(1.0, size=(3, 40)) * 10
    # relevance follows popularity, as with a popularity-biased model: the head wins top-k
    scores = np.log1p(pop) + 0.1 * rng.random((3, 40))
    valid = rng.random((3, 40)) < 0.9
    tail = long_tail_mask(np.where(valid, pop, 0.0), 0.8)
    reranker = LongTail(lambda_=0.9, head_share=0.8)
    via_pop = reranker.rerank(scores, 10, context=RerankContext(popularity=pop), valid=valid)
    via_tail = reranker.rerank(scores, 10, context=RerankContext(tail=tail), valid=valid)
    np.testing.assert_array_equal(via_pop, via_tail)
    plain = topk(scores, 10, valid=valid)
    share = np.take_along_axis(tail, via_tail, 1).mean(1)
    before = np.take_along_axis(tail, plain, 1).mean(1)
    # P(tail | viewer) = 0.5: every list moves towards half tail, head-heavy ones gain tail
    assert (np.abs(share - 0.5) <= np.abs(before - 0.5)).all()
    assert share.mean() > before.mean()


def test_longtail_tail_share_must_be_a_probability() -> None:
    ctx = RerankContext(tail=np.array([True, False]), tail_share=1.5)
    with pytest.raises(DataError, match="'tail_share' must lie in"):
        LongTail().rerank([0.5, 0.4], 2, context=ctx)


# --------------------------------------------------------------------------- Serendipity


def test_serendipity_respects_the_floor_and_raises_unexpectedness() -> None:
    rng = np.random.default_rng(1)
    v = rng.normal(size=(50, 8))
    profile = v[:10].mean(0)
    scores = rng.random(50)
    out = serendipity(scores, v, profile, 10, weight=2.0, floor=0.7)
    thr = np.sort(scores)[int(np.floor(0.7 * 49))]
    assert (scores[out] >= thr).all()  # 15 candidates clear the floor, 10 are shown
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    unexp = 1 - unit @ (profile / np.linalg.norm(profile))
    assert unexp[out].mean() > unexp[topk(scores, 10)].mean()
    # the eligible candidates, ordered by relevance x unexpectedness^2
    eligible = np.flatnonzero(scores >= thr)
    want = eligible[np.argsort(-(scores[eligible] * unexp[eligible] ** 2), kind="stable")]
    np.testing.assert_array_equal(out, want[:10])


def test_serendipity_fills_below_the_floor_by_relevance() -> None:
    v = np.eye(4)
    scores = np.array([0.9, 0.8, 0.2, 0.1])
    out = serendipity(scores, v, np.array([0.0, 1.0, 0.0, 0.0]), 4, floor=0.5)
    # the floor is the lower median, 0.2: candidates 0, 2 (unexpected) before 1 (the
    # profile itself); 3 is below the floor and comes last
    assert out.tolist() == [0, 2, 1, 3]
    # a negative relevance is still boosted by unexpectedness (divided by it)
    out = serendipity(-scores[::-1], v, np.array([1.0, 0.0, 0.0, 0.0]), 2, floor=0.0)
    assert out.tolist()[0] != 0
