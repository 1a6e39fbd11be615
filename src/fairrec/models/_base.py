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

from fairrec.errors import DataError, ModelCapabilityError, NotFittedError, param_error
from fairrec.models._topk import top_n

__all__ = [
    "CandidateModel",
    "ImplicitFactorModel",
    "top_n",
    "check_interactions",
    "cold_start_vectors",
]


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

    def record_training(self, matrix: sp.csr_matrix) -> None:
        """Remember which (row, title) pairs the model was trained on.

        ``fit`` calls it; a model trained elsewhere (e.g. on Spark) calls it with the matrix
        it was trained on, so that :func:`fairrec.evaluate` can refuse to score it on those
        pairs. Held in memory only (:class:`~fairrec.models.TrainingPairs`), never saved.

        Parameters
        ----------
        matrix : scipy.sparse.csr_matrix
            The ``(n_users, n_items)`` training matrix.
        """
        from fairrec.models._pairs import TrainingPairs

        self.training_pairs_ = TrainingPairs.of(matrix)

    _record_training = record_training  # the name before issue 17

    def _require_fitted(self) -> None:
        if not self.is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first. "
                "(A Recommender fits a copy of the model it is given and leaves that object "
                "as it was: the fitted model is the Recommender's model_, e.g. rec.model_.)"
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

    # ---------------------------------------------------------------- capabilities
    # What ``Recommender.forget``, ``Recommender.add_titles`` and model files ask of a model.
    # The defaults of the operations a model must opt into raise ModelCapabilityError: a
    # model that does not say how to erase a viewer is never assumed to hold nothing of them.
    def erase_rows(
        self,
        rows: np.ndarray,
        user_items: sp.csr_matrix,
        touched: np.ndarray,
        update_items: bool = False,
    ) -> CandidateModel:
        """A model with the training viewers ``rows`` erased; ``self`` is never changed.

        Called by :meth:`Recommender.forget <fairrec.recommender.Recommender.forget>`.
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
            The model to serve from now on.

        Raises
        ------
        ModelCapabilityError
            This default: a model must state how a viewer is erased from it (a model with
            no per-viewer state may return ``self``, or a refit with ``update_items``).
        """
        raise ModelCapabilityError(
            f"{type(self).__name__} does not implement erase_rows(), so forget() cannot erase "
            "a training viewer from it; implement CandidateModel.erase_rows (a model without "
            "per-viewer state may return self) or refit without the viewer."
        )

    def with_new_items(
        self, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray
    ) -> CandidateModel:
        """A copy serving ``len(new_genres)`` more titles; ``self`` is never changed.

        Called by :meth:`~fairrec.live_api.LiveServing.add_titles` (titles added without
        refit). Like the copy :meth:`erase_rows` makes, the copy has no record of training
        pairs.

        Parameters
        ----------
        genres : numpy.ndarray, shape (n_items, n_genres)
            Multi-hot genres of the current titles (in the genre space of the new ones).
        new_genres : numpy.ndarray, shape (n_new, n_genres)
            Multi-hot genres of the new titles.
        fitted : numpy.ndarray of bool, shape (n_items,)
            Current titles whose representation was fitted (not added without refit).

        Raises
        ------
        ModelCapabilityError
            This default: the model does not know how to score titles it was not fitted on.
        """
        raise ModelCapabilityError(
            f"add_titles() does not know how to extend a {type(self).__name__} model "
            "(it does not implement CandidateModel.with_new_items); refit it with the new "
            "titles instead."
        )

    def check_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Refuse saved arrays that disagree with the parameters, before :meth:`set_arrays`
        sizes anything from them (raise ``ValueError``). Default: no parameter sizes the
        arrays, nothing to check."""
        return None

    def user_rows(self) -> int | None:
        """Number of per-viewer rows the fitted model holds (one per training-matrix row,
        e.g. user factors), or None for a model without per-viewer state (the default)."""
        return None

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

    def user_rows(self) -> int | None:
        return int(self.user_factors_.shape[0])

    def with_new_items(
        self, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray
    ) -> ImplicitFactorModel:
        """New titles get :func:`cold_start_vectors` rows as their item factors."""
        arrays = {k: np.asarray(v) for k, v in self.get_arrays().items()}
        f = arrays["item_factors"]
        arrays["item_factors"] = np.vstack([f, cold_start_vectors(f, genres, new_genres, fitted)])
        model = type(self)(**self.get_params())
        model.set_arrays(arrays)
        return model

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
        """Remove training viewers' factors (erasure), in place.

        The implicit model is rebuilt from its public constructor and factor attributes, so
        nothing implicit derived from the old user factors (its cached ``XtX`` and user
        norms, used by ``partial_fit_items`` and ``similar_users``) outlives the erasure,
        without touching implicit's private attributes.
        """
        keep = np.ones(self.model_.user_factors.shape[0], dtype=bool)
        keep[np.asarray(rows, dtype=np.int64)] = False
        self.set_arrays(
            {
                "item_factors": self.model_.item_factors,
                "user_factors": np.ascontiguousarray(self.model_.user_factors[keep]),
            }
        )

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


def cold_start_vectors(
    factors: np.ndarray, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray
) -> np.ndarray:
    """Vectors of new titles: the mean factor row of the fitted titles sharing a genre.

    Parameters
    ----------
    factors : (n, d) item factors of the current titles.
    genres : (n, g) multi-hot genres of the current titles (in the new genre space).
    new_genres : (m, g) multi-hot genres of the new titles.
    fitted : (n,) bool, titles whose factors were fitted (not cold-start themselves).

    A new title with no genre shared by any fitted title gets the mean of every fitted title.
    """
    src = np.ascontiguousarray(factors[fitted], dtype=np.float32)
    g_src = (genres[fitted] > 0).astype(np.float32)
    # one mean per distinct genre set of the new titles (catalogs reuse a few hundred sets)
    sets, inverse = np.unique(new_genres > 0, axis=0, return_inverse=True)
    share = ((sets.astype(np.float32) @ g_src.T) > 0).astype(np.float32)  # (sets, n_fitted)
    counts = share.sum(axis=1, keepdims=True)
    means = (share @ src) / np.maximum(counts, 1)
    overall = src.mean(axis=0) if len(src) else np.zeros(factors.shape[1], np.float32)
    means = np.where(counts > 0, means, overall[None, :])[np.ravel(inverse)]
    return means.astype(factors.dtype)
