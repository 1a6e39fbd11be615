"""The candidate-model protocol shared by every model, and the top-n selection they use.

A model is fitted on a ``(n_train_users, n_items)`` CSR matrix and then scores *histories*:
given the consented, in-window history rows of some viewers (a CSR matrix over the same
items) it returns a dense ``(n_viewers, n_items)`` score matrix. Scoring from histories, not
from stored per-viewer state, is what lets a revocation or a retention cut take effect on the
very next request without retraining.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from fairrec.errors import DataError, NotFittedError, param_error

__all__ = ["CandidateModel", "ImplicitFactorModel", "top_n", "check_interactions"]


def check_interactions(matrix: Any, owner: str) -> sp.csr_matrix:
    """Validate a training or history matrix: 2-D sparse, finite, non-negative weights."""
    if not sp.issparse(matrix):
        raise DataError(
            f"{owner} needs a scipy.sparse CSR matrix of interactions. "
            f"Got {type(matrix).__name__} instead."
        )
    m = sp.csr_matrix(matrix, dtype=np.float32)
    if m.nnz and (not np.all(np.isfinite(m.data)) or m.data.min() < 0):
        raise DataError(f"{owner}: interaction weights must be finite and non-negative.")
    return m


class CandidateModel(ABC):
    """Protocol of fairrec's candidate models.

    Follows scikit-learn's estimator contract: ``__init__`` only stores keyword parameters,
    :meth:`fit` validates them and returns ``self``, fitted state ends in ``_``.
    """

    #: name written in model files
    kind: ClassVar[str] = "base"

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
        where fewer titles remain.
    """
    if n < 1:
        raise param_error("n", "top_n", "an int >= 1", n)
    u, m = scores.shape
    for mask in (banned, exclude):
        if mask is None:
            continue
        if sp.issparse(mask):
            mask = sp.csr_matrix(mask)
            rows = np.repeat(np.arange(u), np.diff(mask.indptr))
            scores[rows, mask.indices] = -np.inf
        else:
            mask = np.asarray(mask, dtype=bool)
            if mask.ndim == 1:
                scores[:, mask] = -np.inf
            else:
                scores[mask] = -np.inf
    n = min(n, m)
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
