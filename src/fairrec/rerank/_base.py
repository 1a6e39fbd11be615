"""The re-ranking protocol, the viewer context and the shared input checks.

Every re-ranker takes candidate relevance ``scores`` of shape ``(n,)`` (one viewer) or
``(u, n)`` (a batch of viewers) and returns candidate positions in display order. Internally
everything runs on batches: a single viewer is a batch of one, so a viewer's result does not
depend on which batch it was computed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from fairrec import _checks
from fairrec.errors import DataError
from fairrec.models import top_n

__all__ = ["RerankContext", "Reranker", "TrustedReranker", "Batch", "trusted"]

#: Greedy kernels process viewers in chunks (results do not depend on the chunking: viewers
#: are independent) so that a (chunk, n) array stays cache-sized and a (chunk, n, width)
#: temporary stays small.
_CHUNK_PLANE = 1 << 16
_CHUNK_ELEMENTS = 1 << 21


@runtime_checkable
class Reranker(Protocol):
    """What every re-ranker implements (see :mod:`fairrec.rerank`)."""

    def rerank(
        self,
        scores: Any,
        k: int,
        *,
        vectors: Any = None,
        context: RerankContext | None = None,
        valid: Any = None,
    ) -> np.ndarray: ...


@runtime_checkable
class TrustedReranker(Reranker, Protocol):
    """A re-ranker with a fast path for arrays fairrec built itself: every fairrec re-ranker.

    The home-page rows (:mod:`fairrec.rows`) call :meth:`rerank_trusted` on a re-ranker that
    implements it, and the public :meth:`~Reranker.rerank` on any other; both give the same
    positions. Parameters are validated when the re-ranker is built, so neither path checks
    them again.
    """

    #: Whether :meth:`rerank_trusted` reads ``vectors`` (the rows gather the candidates'
    #: vectors only for re-rankers that do).
    uses_vectors: ClassVar[bool]

    def rerank_trusted(
        self,
        scores: np.ndarray,
        valid: np.ndarray,
        k: int,
        vectors: np.ndarray | None = None,
        context: RerankContext | None = None,
    ) -> np.ndarray:
        """:meth:`~Reranker.rerank` for a batch whose arrays need no checks.

        Parameters
        ----------
        scores : ndarray of shape (u, n)
            Relevance, finite wherever ``valid`` (other cells may hold anything, NaN too).
        valid : bool ndarray of shape (u, n)
            Candidates that may be chosen.
        k : int
            Row length, an int >= 1.
        vectors : ndarray of shape (u, n, d), optional
            The candidates' vectors with unit-norm (or zero) rows; needed when
            :attr:`uses_vectors`.
        context : RerankContext, optional
            As for :meth:`~Reranker.rerank`, with a leading viewer axis where a field is per
            viewer.

        Returns
        -------
        ndarray of int64, shape (u, min(k, n))
            Positions in display order, padded with -1: the same as :meth:`~Reranker.rerank`
            gives for these arrays. The inputs are not changed.
        """
        ...


@dataclass(frozen=True, eq=False)
class RerankContext:
    """What a re-ranker may know about the viewer, beyond the candidates' scores.

    Every field is optional; a re-ranker that needs a missing field raises
    :class:`~fairrec.errors.DataError` naming it. Shapes are given for one viewer; for a
    batch of ``u`` viewers each field may also carry a leading viewer axis.

    Parameters
    ----------
    profile : array of shape (d,) or (u, d), optional
        The viewer's history profile in the space of ``vectors`` (e.g. the mean of the ALS
        factors of the titles the viewer watched). Used by :class:`Serendipity`.
    genres : array of shape (n, g) or (u, n, g), optional
        Non-negative genre weights of the candidates (e.g. genre multi-hot rows). Each row is
        normalised to a distribution p(g|i); a row of zeros is a title without genres. Used by
        :class:`Calibrated`.
    target : array of shape (g,) or (u, g), optional
        The viewer's genre distribution p(g|u) from history (normalised to sum to 1; a row of
        zeros means "nothing to calibrate to"). Used by :class:`Calibrated`.
    popularity : array of shape (n,) or (u, n), optional
        Non-negative candidate popularity, e.g. interaction counts. :class:`LongTail` derives
        head / tail from it when ``tail`` is absent.
    tail : bool array of shape (n,) or (u, n), optional
        Whether each candidate is in the long tail (see :func:`long_tail_mask` for a
        catalog-level rule). Takes precedence over ``popularity``.
    tail_share : float or array of shape (u,), optional
        The share of the viewer's history in the long tail, P(tail | viewer), used by
        :class:`LongTail` to personalise the head / tail balance; 0.5 when absent.
    """

    profile: Any = None
    genres: Any = None
    target: Any = None
    popularity: Any = None
    tail: Any = None
    tail_share: Any = None


# --------------------------------------------------------------------------- parameters


def check_k(k: Any, owner: str) -> int:
    """Return ``k`` as an int, or raise a ParameterError (k must be an int >= 1)."""
    out = _checks.check_int(k, "k", owner, 1, expected="an int in the range [1, inf)")
    assert out is not None
    return out


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def check_real(
    value: Any,
    name: str,
    owner: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
) -> float:
    """Return ``value`` as a float within ``[low, high]`` (``(low, high]`` if ``low_open``).

    ``None`` bounds are infinite; NaN, infinities and booleans are rejected. The check is
    :func:`fairrec._checks.check_real`'s, with the re-rankers' wording ("in the range").
    """
    left = "(-inf" if low is None else ("(" if low_open else "[") + _fmt(low)
    right = "inf)" if high is None else _fmt(high) + "]"
    expected = f"a float in the range {left}, {right}"
    out = _checks.check_real(value, name, owner, low, high, low_open=low_open, expected=expected)
    assert out is not None
    return out


def check_choice(value: Any, name: str, owner: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ParameterError."""
    out = _checks.check_choice(value, name, owner, choices)
    assert out is not None
    return out


# --------------------------------------------------------------------------- arrays


def _as_float(x: Any, name: str, owner: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{owner}: {name!r} must be a numeric array ({exc}).") from None
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise DataError(f"{owner}: {name!r} must be a real numeric array, got dtype {arr.dtype}.")
    return np.asarray(arr, dtype=np.float64)


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def check_finite(arr: np.ndarray, name: str, owner: str) -> None:
    """Raise a DataError naming the first non-finite entry of ``arr``."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum()):  # a NaN or an infinity would make the sum non-finite
            return
    bad = ~np.isfinite(arr)
    if bad.any():
        at = _first_bad(bad)
        raise DataError(
            f"{owner}: {name!r} must be finite; found {arr[at]!r} at position "
            f"{at if len(at) > 1 else at[0]}."
        )


@dataclass(frozen=True)
class Batch:
    """Validated scores and mask of a (batch of) viewer(s), as a batch.

    ``scores`` and ``valid`` are ``(u, n)``; ``single`` tells whether the caller passed one
    viewer (then ``u == 1``); ``kk = min(k, n)`` is the row length of the result.
    """

    scores: np.ndarray
    valid: np.ndarray
    single: bool
    k: int
    kk: int

    @property
    def u(self) -> int:
        return self.scores.shape[0]

    @property
    def n(self) -> int:
        return self.scores.shape[1]


def trusted(scores: np.ndarray, valid: np.ndarray, k: int) -> Batch:
    """A :class:`Batch` from arrays fairrec built itself, without the checks of :func:`prepare`.

    ``scores`` is ``(u, n)`` float, finite wherever the ``(u, n)`` bool ``valid`` is true;
    ``k`` is an int >= 1. Used by the re-rankers' ``rerank_trusted`` (the home-page rows).
    """
    s = np.where(valid, scores, -np.inf)
    return Batch(scores=s, valid=valid, single=False, k=k, kk=min(k, s.shape[1]))


def prepare(scores: Any, k: Any, valid: Any, owner: str, name: str = "scores") -> Batch:
    """Validate ``scores`` ((n,) or (u, n)), ``k`` and the ``valid`` mask.

    Scores must be finite wherever ``valid`` is true (masked-out padding may hold anything).
    """
    k = check_k(k, owner)
    s = _as_float(scores, name, owner)
    if s.ndim not in (1, 2):
        raise DataError(
            f"{owner}: {name!r} must have shape (n,) or (u, n); got an array of shape {s.shape}."
        )
    single = s.ndim == 1
    if single:
        s = s[None, :]
    u, n = s.shape
    if valid is None:
        v = np.ones((u, n), dtype=bool)
    else:
        v = np.asarray(valid)
        if v.dtype != np.bool_:
            raise DataError(f"{owner}: 'valid' must be a bool array, got dtype {v.dtype}.")
        if v.ndim == 1 and v.shape == (n,):
            v = np.broadcast_to(v, (u, n))
        elif not (v.ndim == 2 and v.shape == (u, n)) or (single and v.ndim != 1):
            want = f"({n},)" if single else f"({n},) or ({u}, {n})"
            raise DataError(
                f"{owner}: 'valid' must have shape {want} like {name!r}; got {v.shape}."
            )
    bad = v & ~np.isfinite(s)
    if bad.any():
        at = _first_bad(bad)
        where = at[1] if single else at
        raise DataError(
            f"{owner}: {name!r} must be finite for valid candidates; found {s[at]!r} at "
            f"position {where}."
        )
    if valid is not None:
        s = np.where(v, s, -np.inf)
    return Batch(scores=s, valid=np.ascontiguousarray(v), single=single, k=k, kk=min(k, n))


def per_viewer(
    x: Any,
    name: str,
    owner: str,
    batch: Batch,
    trailing: tuple[int | None, ...],
    *,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Validate an array whose shape is ``trailing`` (shared) or ``(u, *trailing)``.

    ``None`` in ``trailing`` means "any size". Returns the array as given (shared, without a
    viewer axis) or with the viewer axis; float arrays are checked to be finite.
    """
    if dtype is bool:
        arr = np.asarray(x)
        if arr.dtype != np.bool_:
            raise DataError(f"{owner}: {name!r} must be a bool array, got dtype {arr.dtype}.")
    else:
        arr = _as_float(x, name, owner)
    nt = len(trailing)

    def fits(shape: tuple[int, ...]) -> bool:
        return all(w is None or w == s for w, s in zip(trailing, shape, strict=True))

    ok = (arr.ndim == nt and fits(arr.shape)) or (
        arr.ndim == nt + 1 and arr.shape[0] == batch.u and fits(arr.shape[1:])
    )
    if not ok:
        dims = ", ".join("?" if w is None else str(w) for w in trailing)
        want = f"({dims}{',' if nt == 1 else ''})" if nt else "a scalar"
        if not batch.single:
            want += f" or ({batch.u}, {dims})" if nt else f" or ({batch.u},)"
        raise DataError(f"{owner}: {name!r} must have shape {want}; got {arr.shape}.")
    if dtype is not bool:
        check_finite(arr, name, owner)
    return arr


def require(value: Any, name: str, owner: str, what: str) -> Any:
    """Raise a DataError naming the missing input ``name`` when ``value`` is None."""
    if value is None:
        raise DataError(f"{owner} needs {name} ({what}); it was not given.")
    return value


def chunks(batch: Batch, width: int) -> list[slice]:
    """Slices of viewers such that ``(chunk, n)`` and ``(chunk, n, width)`` arrays stay small."""
    n = max(1, batch.n)
    size = max(1, min(_CHUNK_PLANE // n, _CHUNK_ELEMENTS // (n * max(1, width))))
    return [slice(i, min(i + size, batch.u)) for i in range(0, batch.u, size)] or [slice(0, 0)]


def take(arr: np.ndarray, rows: slice, shared_ndim: int) -> np.ndarray:
    """Rows ``rows`` of a per-viewer array; a shared array (ndim == shared_ndim) as is."""
    return arr if arr.ndim == shared_ndim else arr[rows]


def finish(picks: np.ndarray, batch: Batch) -> np.ndarray:
    """Turn ``(u, kk)`` picks padded with -1 into the public result.

    A batch keeps its padding; a single viewer's row is truncated to its valid picks.
    """
    picks = np.asarray(picks, dtype=np.int64)
    if batch.single:
        row = picks[0]
        return np.ascontiguousarray(row[row >= 0])
    return picks


# --------------------------------------------------------------------------- top-k


def topk_rows(key: np.ndarray, kk: int) -> np.ndarray:
    """Positions of the ``kk`` largest entries of each row, descending, ties by position.

    The indices of :func:`fairrec.models.top_n`, the one top-k kernel fairrec's models and
    re-rankers share (``key`` is not changed). Non-finite entries (here: ``-inf``, what the
    re-rankers use to mark a candidate unavailable) come back as ``-1``; a row with fewer
    than ``kk`` available entries is padded with ``-1``.
    """
    u, n = key.shape
    if kk <= 0 or n == 0:
        return np.full((u, max(kk, 0)), -1, dtype=np.int64)
    return top_n(key, kk)[0]


def fill_by_relevance(picks: np.ndarray, scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill the ``-1`` tail of each row of ``picks`` with the most relevant unpicked candidates."""
    u, kk = picks.shape
    count = (picks >= 0).sum(axis=1)
    if kk == 0 or (count == kk).all():
        return picks
    key = np.where(valid, scores, -np.inf)
    who, at = np.nonzero(picks >= 0)
    key[who, picks[who, at]] = -np.inf  # already picked
    extra = topk_rows(key, kk)
    slot = np.arange(kk)[None, :] - count[:, None]
    filled = extra[np.arange(u)[:, None], np.clip(slot, 0, kk - 1)]
    return np.where(slot >= 0, filled, picks)


def vectors_of(vectors: Any, batch: Batch, owner: str) -> np.ndarray:
    """Validate candidate vectors: (n, d) shared or (u, n, d) per viewer, finite."""
    require(vectors, "'vectors'", owner, "candidate representations of shape (n, d)")
    return per_viewer(vectors, "vectors", owner, batch, (batch.n, None))


def pad_short(picks: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mark picks beyond each viewer's number of valid candidates with -1 (in place).

    Greedy kernels take one available valid candidate per step while any is left, so step
    ``t`` is real exactly when ``t`` is below the viewer's count of valid candidates.
    """
    count = valid.sum(axis=1)
    if (count < picks.shape[1]).any():
        picks[np.arange(picks.shape[1])[None, :] >= count[:, None]] = -1
    return picks
