"""The candidate-model protocol shared by every model, and the top-n selection they use.

A model is fitted on a ``(n_train_users, n_items)`` CSR matrix and then scores *histories*:
given the consented, in-window history rows of some viewers (a CSR matrix over the same
items) it returns a dense ``(n_viewers, n_items)`` score matrix. Scoring from histories, not
from stored per-viewer state, is what lets a revocation or a retention cut take effect on the
very next request without retraining.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from fairrec.errors import DataError, NotFittedError, param_error

__all__ = ["CandidateModel", "ImplicitFactorModel", "top_n", "check_interactions"]


def check_interactions(matrix: Any, owner: str) -> sp.csr_matrix:
    """Validate a training or history matrix: 2-D sparse, finite, non-negative weights.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array
    owner : str
        Named in the error message.

    Returns
    -------
    scipy.sparse.csr_matrix of float32
        ``matrix`` itself when it already is one (nothing is copied or changed), else a
        conversion; either way callers must treat it as read-only.

    Raises
    ------
    DataError
        Not sparse, or a weight that is negative or not finite.
    """
    if not sp.issparse(matrix):
        raise DataError(
            f"{owner} needs a scipy.sparse CSR matrix of interactions. "
            f"Got {type(matrix).__name__} instead."
        )
    if type(matrix) is sp.csr_matrix and matrix.dtype == np.float32:
        m = matrix  # converting would only wrap the same arrays in a new object
    else:
        m = sp.csr_matrix(matrix, dtype=np.float32)
    data = m.data[: m.nnz]
    # min >= 0 fails for NaN and -inf, max < inf for +inf
    if data.size and not (data.min() >= 0 and data.max() < np.inf):
        raise DataError(f"{owner}: interaction weights must be finite and non-negative.")
    return m


class CandidateModel(ABC):
    """Protocol of fairrec's candidate models.

    Follows scikit-learn's estimator contract: ``__init__`` only stores keyword parameters,
    :meth:`fit` validates them and returns ``self``, fitted state ends in ``_``.
    """

    #: name written in model files
    kind: ClassVar[str] = "base"
    #: :meth:`erase_rows` always removes an erased viewer's whole contribution (counts or
    #: similarities recomputed), whatever ``update_items`` says
    exact_erasure: ClassVar[bool] = False

    # ---------------------------------------------------------------- parameters
    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as plain JSON-serializable values."""
        return {k: getattr(self, k) for k in self._param_names()}

    @classmethod
    def _param_names(cls) -> list[str]:
        import inspect

        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_int(self, name: str, low: int, value: Any = None) -> int:
        value = getattr(self, name) if value is None else value
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise param_error(name, type(self).__name__, f"an int >= {low}", value)
        return int(value)

    def _check_float(self, name: str, low: float, inclusive: bool = True) -> float:
        value = getattr(self, name)
        ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
        ok = ok and np.isfinite(value) and (value >= low if inclusive else value > low)
        if not ok:
            bound = f">= {low}" if inclusive else f"> {low}"
            raise param_error(name, type(self).__name__, f"a finite number {bound}", value)
        return float(value)

    # ---------------------------------------------------------------- fitting
    @abstractmethod
    def fit(self, user_items: sp.csr_matrix) -> CandidateModel:
        """Fit on a ``(n_users, n_items)`` CSR matrix of implicit-feedback weights."""

    def is_fitted(self) -> bool:
        return hasattr(self, "n_items_")

    def _record_training(self, matrix: sp.csr_matrix) -> None:
        """Remember which (row, title) pairs ``fit`` saw (in memory only; see ``_pairs``)."""
        from fairrec.models._pairs import TrainingPairs

        self.training_pairs_ = TrainingPairs.of(matrix)

    def _require_fitted(self) -> None:
        if not self.is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first."
            )

    # ---------------------------------------------------------------- scoring
    @abstractmethod
    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """Scores of every title for viewers given by their history rows.

        Parameters
        ----------
        histories : scipy.sparse.csr_matrix, shape (n_viewers, n_items)
            Each viewer's consented, in-window interactions.

        Returns
        -------
        numpy.ndarray of float32, shape (n_viewers, n_items)
            A new array: the caller may overwrite it (the Recommender masks seen and banned
            titles in place). Never return a cached array of the model itself.
        """

    @property
    def item_vectors(self) -> np.ndarray | None:
        """``(n_items, d)`` item representations for similarity, or None if the model has none."""
        return None

    def user_vectors(self, histories: sp.csr_matrix) -> np.ndarray | None:
        """Viewer vectors recomputed from history rows (factor models), else None."""
        return None

    def candidates(
        self,
        histories: sp.csr_matrix,
        n: int,
        exclude: sp.csr_matrix | np.ndarray | None = None,
        filter_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` candidate titles per viewer, excluded and (optionally) seen titles removed.

        Returns ``(indices, scores)`` of shape ``(n_viewers, n)``; where fewer than ``n``
        titles remain, the row is padded with index ``-1`` and score ``-inf``.
        """
        self._require_fitted()
        histories = self._check_histories(histories)
        scores = self.score_histories(histories)
        banned = histories if filter_seen else None
        return top_n(scores, n, banned=banned, exclude=exclude)

    def _check_histories(self, histories: Any) -> sp.csr_matrix:
        h = check_interactions(histories, type(self).__name__)
        if h.shape[1] != self.n_items_:
            raise DataError(
                f"History rows must have {self.n_items_} columns (the model's titles). "
                f"Got {h.shape[1]} instead."
            )
        return h

    # ---------------------------------------------------------------- erasure
    def erase_rows(
        self,
        rows: np.ndarray,
        user_items: sp.csr_matrix,
        touched: np.ndarray,
        update_items: bool = False,
    ) -> CandidateModel:
        """A model with the training viewers ``rows`` erased; ``self`` is never changed.

        Requests in flight keep scoring with ``self`` (copy on write).

        Parameters
        ----------
        rows : numpy.ndarray of int
            Rows of the training matrix the model was fitted on, to erase.
        user_items : scipy.sparse.csr_matrix
            The training matrix *without* those rows.
        touched : numpy.ndarray of int
            Titles the erased rows played.
        update_items : bool, default False
            Also remove their contribution from learned item representations (which may
            need a refit).

        Returns
        -------
        CandidateModel
            This base implementation (a model with no per-viewer state): ``self``, or with
            ``update_items`` a copy refitted on ``user_items``.
        """
        return self._refit(user_items) if update_items else self

    def _refit(self, user_items: sp.csr_matrix) -> CandidateModel:
        """A fresh model with the same parameters fitted on ``user_items``."""
        return type(self)(**self.get_params()).fit(user_items)

    def saved_arrays(self, rows: np.ndarray, user_items: sp.csr_matrix) -> dict[str, np.ndarray]:
        """The arrays a model file holds when only training ``rows`` are kept.

        ``user_items`` is the training matrix as saved (those rows, cells outside the
        retention window removed). Models with per-viewer arrays override this to keep only
        the rows saved, derived from the cells saved; the default is :meth:`get_arrays`.
        """
        return self.get_arrays()

    # ---------------------------------------------------------------- persistence
    @abstractmethod
    def get_arrays(self) -> dict[str, np.ndarray]:
        """Fitted arrays to save (numeric numpy arrays only: saved without pickle)."""

    @abstractmethod
    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore fitted state from :meth:`get_arrays` output (shapes already validated)."""

    def array_spec(self) -> dict[str, tuple[str, int]]:
        """Expected ``{name: (dtype kind, ndim)}`` of the saved arrays, for load validation."""
        return {k: (v.dtype.kind, v.ndim) for k, v in self.get_arrays().items()}


class ImplicitFactorModel(CandidateModel):
    """Shared persistence of the factor models wrapping ``implicit`` (ALS, BPR).

    Subclasses provide ``_validate()`` and ``_implicit_model()`` (an unfitted implicit model
    built from the parameters); the fitted implicit model lives in ``model_``.
    """

    def _validate(self) -> None:  # pragma: no cover - always overridden
        raise NotImplementedError

    def _implicit_model(self) -> Any:  # pragma: no cover - always overridden
        raise NotImplementedError

    def _restored(self) -> None:
        """Hook run after :meth:`set_arrays` (e.g. to rebuild a request-time solver)."""

    def get_arrays(self) -> dict[str, np.ndarray]:
        self._require_fitted()
        return {
            "item_factors": np.asarray(self.model_.item_factors),
            "user_factors": np.asarray(self.model_.user_factors),
        }

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        from fairrec.models._threads import single_threaded_blas

        self._validate()
        with single_threaded_blas():
            model = self._implicit_model()
        model.item_factors = np.ascontiguousarray(arrays["item_factors"], dtype=np.float32)
        model.user_factors = np.ascontiguousarray(arrays["user_factors"], dtype=np.float32)
        self.model_ = model
        self.n_items_ = model.item_factors.shape[0]
        self._restored()

    def array_spec(self) -> dict[str, tuple[str, int]]:
        return {"item_factors": ("f", 2), "user_factors": ("f", 2)}

    #: Width of the stored item factors beyond ``factors`` (BPR's bias column).
    _extra_width: ClassVar[int] = 0

    def check_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Refuse saved arrays that disagree with the parameters (before anything is sized
        from the parameters): the factor width must be ``factors`` (+ a bias column)."""
        width = self._check_int("factors", 1) + self._extra_width
        for name in ("item_factors", "user_factors"):
            a = arrays[name]
            if a.ndim != 2 or a.shape[1] != width:
                raise ValueError(
                    f"{name} has shape {a.shape}; the parameters say {width} columns "
                    f"(factors={self.factors})."
                )

    @property
    def user_factors_(self) -> np.ndarray:
        """Factors of the training viewers (rows of the training matrix)."""
        self._require_fitted()
        return self.model_.user_factors

    def _copy(self) -> ImplicitFactorModel:
        """A fitted copy with its own arrays (copy on write)."""
        model = type(self)(**self.get_params())
        model.set_arrays({k: np.array(v, copy=True) for k, v in self.get_arrays().items()})
        return model

    def drop_user_rows(self, rows: np.ndarray) -> None:
        """Remove training viewers' factors (erasure), in place."""
        keep = np.ones(self.model_.user_factors.shape[0], dtype=bool)
        keep[np.asarray(rows, dtype=np.int64)] = False
        self.model_.user_factors = np.ascontiguousarray(self.model_.user_factors[keep])
        for attr in ("_user_norms", "_XtX"):
            if hasattr(self.model_, attr):
                setattr(self.model_, attr, None)

    def erase_rows(
        self,
        rows: np.ndarray,
        user_items: sp.csr_matrix,
        touched: np.ndarray,
        update_items: bool = False,
    ) -> CandidateModel:
        """A copy without the erased viewers' factor rows; with ``update_items`` the item
        factors are re-solved too (see the subclasses)."""
        if update_items:
            model = self._update_items(user_items, touched, rows)
            if model is not None:
                return model
        model = self._copy()
        model.drop_user_rows(rows)
        return model

    def _update_items(
        self, user_items: sp.csr_matrix, touched: np.ndarray, rows: np.ndarray
    ) -> CandidateModel | None:
        """The model with item factors re-solved without ``rows``; default: a refit."""
        return self._refit(user_items)

    def saved_arrays(self, rows: np.ndarray, user_items: sp.csr_matrix) -> dict[str, np.ndarray]:
        """Item factors, and user factors only for the saved rows, re-solved from the saved
        cells (so no factor reflects a play outside the window or a withdrawn viewer)."""
        arrays = self.get_arrays()
        arrays["user_factors"] = np.asarray(
            self.user_vectors(user_items), dtype=np.float32
        ).reshape(user_items.shape[0], arrays["item_factors"].shape[1])
        return arrays


#: Every ``_SAMPLE_STRIDE``-th score of a row is sampled to guess a top-n threshold.
_SAMPLE_STRIDE = 8


def top_n(
    scores: np.ndarray,
    n: int,
    *,
    banned: sp.csr_matrix | None = None,
    exclude: sp.csr_matrix | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` per row with banned titles *removed* (never just pushed to the bottom).

    Parameters
    ----------
    scores : numpy.ndarray, shape (u, n_items)
        Modified in place: banned cells are set to ``-inf``.
    n : int
    banned, exclude : sparse (u, n_items) matrices or boolean arrays, optional
        Cells to remove (e.g. seen titles, titles a viewer excluded). A 1-D boolean array of
        length ``n_items`` applies to every row.

    Returns
    -------
    (indices, scores) : numpy.ndarray of shape (u, min(n, n_items))
        Sorted by descending score, ties by lower index; padded with ``-1`` / ``-inf``
        where fewer titles remain (a non-finite score counts as removed; NaN ranks last).

    Notes
    -----
    Rows are not sorted in full. A threshold is guessed from a strided sample of each row
    and only the cells at or above it are sorted; where the guess keeps fewer than ``n``
    cells (or far too many), the exact ``n``-th largest score is the threshold instead.
    Every cell of the top ``n`` is at or above such a threshold, so the result is exact.
    """
    if n < 1:
        raise param_error("n", "top_n", "an int >= 1", n)
    u, m = scores.shape
    for mask in (banned, exclude):
        _remove_cells(scores, mask)
    n = min(n, m)
    if u == 0 or n == 0 or scores.dtype.kind != "f":
        return _top_n_full(scores, n)
    if u == 1:
        idx, sc = _top_n_row(scores[0], n)
        return idx[None], sc[None]
    return _top_n_rows(scores, n)


def _remove_cells(scores: np.ndarray, mask: sp.csr_matrix | np.ndarray | None) -> None:
    """Set the cells of ``mask`` (stored entries of a sparse matrix, or True) to ``-inf``."""
    if mask is None:
        return
    if sp.issparse(mask):
        mask = mask.tocsr()  # the matrix itself when already CSR
        indptr = mask.indptr
        cols = mask.indices[indptr[0] : indptr[-1]]
        if scores.shape[0] == 1 and indptr.size == 2:
            scores[0, cols] = -np.inf
        else:
            scores[np.repeat(np.arange(scores.shape[0]), np.diff(indptr)), cols] = -np.inf
        return
    mask = np.asarray(mask, dtype=bool)
    if mask.shape in (scores.shape, scores.shape[1:]) and not mask.any():
        return  # nothing to remove (a mask of another shape still raises below)
    if mask.ndim == 1:
        scores[:, mask] = -np.inf
    else:
        scores[mask] = -np.inf


def _sample_plan(m: int, n: int) -> tuple[int, int] | None:
    """``(rank, cap)`` of the sampled threshold guess for rows of ``m`` cells, or None.

    The guess is the ``rank``-th largest sampled score: about ``n`` plus four standard
    deviations of cells lie at or above it. A guess keeping more than ``cap`` cells is poor.
    """
    n_sample = -(-m // _SAMPLE_STRIDE)
    expected = n * n_sample / m  # sampled cells expected among the top n
    rank = int(expected + 4.0 * math.sqrt(expected)) + 2
    if m < 4 * n or rank >= n_sample:
        return None  # too few cells to skip: sort them all
    return rank, 2 * _SAMPLE_STRIDE * rank + 64


def _guess_thresholds(scores: np.ndarray, rank: int, lowest: float) -> np.ndarray:
    """Each row's ``rank``-th largest sampled score, at least ``lowest``."""
    sample = np.negative(scores[..., ::_SAMPLE_STRIDE])  # negated: NaN sorts last
    sample.partition(rank - 1, axis=-1)
    return np.fmax(-sample[..., rank - 1], lowest)


def _nth_largest(scores: np.ndarray, n: int, lowest: float) -> np.ndarray:
    """Each row's ``n``-th largest score, at least ``lowest`` (also where NaN would be)."""
    neg = np.negative(scores)  # NaN sorts last
    neg.partition(n - 1, axis=-1)
    return np.fmax(-neg[..., n - 1], lowest)


def _finish(
    idx: np.ndarray, sc: np.ndarray, valid: np.ndarray | bool
) -> tuple[np.ndarray, np.ndarray]:
    """Mark padding and non-finite scores as removed (``-1`` / ``-inf``), in place."""
    removed = ~(np.isfinite(sc) & valid)
    idx[removed] = -1
    sc[removed] = -np.inf
    return idx, sc


def _top_n_row(row: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` of one row (1-D float ``row``, 1 <= ``n`` <= its length)."""
    lowest = np.finfo(row.dtype).min  # ``>= lowest`` keeps every cell above -inf
    plan = _sample_plan(row.size, n)
    cols = None
    if plan is not None:
        rank, cap = plan
        cols = np.flatnonzero(row >= _guess_thresholds(row, rank, lowest))
        if not n <= cols.size <= cap:
            cols = None
    if cols is None:
        cols = np.flatnonzero(row >= _nth_largest(row, n, lowest))
    keys = _sort_keys(row, cols)
    if keys is not None:
        keys.sort()
        top, _ = _decode(keys[:n], row.size)
    else:
        # cols ascend, so a stable sort breaks ties by the lower index
        top = cols[np.argsort(-row[cols], kind="stable")[:n]]
    if top.size == n:
        return _finish(top, row[top], True)
    idx = np.full(n, -1, dtype=np.int64)
    sc = np.full(n, -np.inf, dtype=row.dtype)
    idx[: top.size] = top
    sc[: top.size] = row[top]
    return _finish(idx, sc, idx >= 0)


def _top_n_rows(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` of several rows (float scores, 1 <= ``n`` <= the row length)."""
    u, m = scores.shape
    flat, counts = _top_cells(scores, n)
    rows, cols = np.divmod(flat, m)
    pos = np.arange(flat.size) - (np.cumsum(counts) - counts)[rows]  # place in its row
    width = max(int(counts.max()), n)
    keys = _sort_keys(scores, flat, m)
    if keys is not None:
        table = np.full((u, width), _PAD, dtype=np.uint64)
        table[rows, pos] = keys
        table.sort(axis=1)
        idx, valid = _decode(table[:, :n], m)
        idx[~valid] = 0
        sc = np.take(scores, idx + (np.arange(u) * m)[:, None])
        return _finish(idx, sc, valid)
    # kept cells ascend by index within a row, so a stable sort breaks ties by index
    neg = np.full((u, width), np.nan, dtype=scores.dtype)  # NaN padding sorts last
    neg[rows, pos] = -np.take(scores, flat)
    cand = np.full((u, width), -1, dtype=np.int64)
    cand[rows, pos] = cols
    order = np.argsort(neg, axis=1, kind="stable")[:, :n]
    idx = np.take_along_axis(cand, order, axis=1)
    sc = -np.take_along_axis(neg, order, axis=1)
    return _finish(idx, sc, idx >= 0)


#: Padding above every sort key (a key this large would be a NaN's, and NaN is never kept).
_PAD = np.iinfo(np.uint64).max


def _sort_keys(scores: np.ndarray, flat: np.ndarray, m: int | None = None) -> np.ndarray | None:
    """One unique uint64 per kept cell ordering as (descending score, ascending index).

    ``flat`` indexes ``scores`` flattened (row-major); keys hold the index within the row
    (``flat % m``, or ``flat`` itself for a 1-D row) in their low bits. A plain (fast,
    unstable) sort of the keys then is the exact order. None unless the scores are float32.
    """
    width = scores.shape[-1] if m is None else m
    if scores.dtype != np.float32 or width > 2**32:
        return None
    cols = flat if m is None else flat % m
    vals = scores[flat] if m is None else np.take(scores, flat)
    bits = (vals + np.float32(0.0)).view(np.int32)  # + 0.0: -0.0 ties 0.0
    # as unsigned ints, ``desc`` orders like the negated floats
    desc = bits ^ (~(bits >> np.int32(31)) & np.int32(0x7FFFFFFF))
    shift = np.uint64(_index_bits(width))
    return (desc.view(np.uint32).astype(np.uint64) << shift) | cols.astype(np.uint64)


def _index_bits(m: int) -> int:
    """Bits that hold an index below ``m``."""
    return max((m - 1).bit_length(), 1)


def _decode(keys: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices held by sort keys (int64) and where they are real keys (not padding)."""
    idx = (keys & np.uint64((1 << _index_bits(m)) - 1)).astype(np.int64)
    return idx, keys != _PAD


def _top_cells(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat (row-major) indices of a superset of each row's top ``n`` cells, and counts.

    A row keeps the cells at or above a threshold with at least ``n`` cells at or above it,
    or every cell above ``-inf`` where fewer remain (NaN is never kept). Where many cells
    tie at the threshold, only the lowest-index ties the top ``n`` can use are kept, which
    bounds the cells kept per row.
    """
    u, m = scores.shape
    lowest = np.finfo(scores.dtype).min
    plan = _sample_plan(m, n)
    if plan is not None:
        rank, cap = plan
        t = _guess_thresholds(scores, rank, lowest)
        keep = scores >= t[:, None]
        flat = np.flatnonzero(keep)
        counts = _row_counts(flat, u, m)
        redo = np.flatnonzero((counts < n) | (counts > cap))
        if redo.size:
            sub = scores[redo]
            t[redo] = _nth_largest(sub, n, lowest)
            keep[redo] = sub >= t[redo, None]
            flat = np.flatnonzero(keep)
            counts = _row_counts(flat, u, m)
    else:
        cap = 2 * n + 64
        t = _nth_largest(scores, n, lowest)
        flat = np.flatnonzero(scores >= t[:, None])
        counts = _row_counts(flat, u, m)
    if counts.max() > cap:
        # many cells tie at the threshold: keep those above it and the first needed ties
        row = flat // m
        above = np.take(scores, flat) > t[row]
        tied = np.cumsum(~above)
        before = np.concatenate(([0], tied))[np.cumsum(counts) - counts]  # ties before row
        need = n - (counts - np.bincount(row[~above], minlength=u))
        ok = above | (tied - before[row] <= need[row])
        flat = flat[ok]
        counts = np.bincount(row[ok], minlength=u)
    return flat, counts


def _row_counts(flat: np.ndarray, u: int, m: int) -> np.ndarray:
    """How many of the sorted flat indices ``flat`` fall in each of ``u`` rows of ``m``."""
    return np.diff(np.searchsorted(flat, np.arange(u + 1) * m))


def _top_n_full(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` by a partition of whole rows (empty input, non-float scores)."""
    u, m = scores.shape
    if n < m:
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    else:
        part = np.broadcast_to(np.arange(m), (u, m)).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    # sort by (-score, index) for a stable, deterministic order
    order = np.lexsort((part, -part_scores), axis=1) if u else part
    idx = np.take_along_axis(part, order, axis=1)
    sc = np.take_along_axis(part_scores, order, axis=1)
    removed = ~np.isfinite(sc)
    idx[removed] = -1
    sc[removed] = -np.inf
    return idx.astype(np.int64), sc
