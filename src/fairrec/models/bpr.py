"""Bayesian personalized ranking, from the ``implicit`` package."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking

from fairrec.models._base import ImplicitFactorModel, check_interactions
from fairrec.models._threads import single_threaded_blas

__all__ = ["BPR"]


class BPR(ImplicitFactorModel):
    """Bayesian personalized ranking (Rendle et al. 2009) via ``implicit``.

    BPR has no closed-form viewer solve, so at request time a viewer's vector is *folded in*
    from their consented history with implicit's weighted least-squares solver run against
    BPR's item factors (bias column included, its coefficient free). This keeps the
    "history in, scores out" contract that consent enforcement relies on; it is an
    approximation of the vector BPR's SGD would have learned.

    Parameters
    ----------
    factors : int, default 64
    learning_rate : float, default 0.01
    regularization : float, default 0.01
    iterations : int, default 100
    fold_in_regularization : float, default 0.1
        Ridge term of the request-time fold-in solve.
    random_state : int or None, default 0
    num_threads : int, default 0
    """

    kind: ClassVar[str] = "bpr"
    _extra_width: ClassVar[int] = 1  # implicit's item bias column

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        fold_in_regularization: float = 0.1,
        random_state: int | None = 0,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.fold_in_regularization = fold_in_regularization
        self.random_state = random_state
        self.num_threads = num_threads

    def _validate(self) -> None:
        self._check_int("factors", 1)
        self._check_int("iterations", 1)
        self._check_int("num_threads", 0)
        self._check_float("learning_rate", 0.0, inclusive=False)
        self._check_float("regularization", 0.0)
        self._check_float("fold_in_regularization", 0.0, inclusive=False)
        if self.random_state is not None:
            self._check_int("random_state", 0)

    def _implicit_model(self) -> Any:
        return BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.random_state,
            num_threads=self.num_threads,
        )

    def _solver(self, item_factors: np.ndarray) -> Any:
        with single_threaded_blas():
            solver = AlternatingLeastSquares(
                factors=item_factors.shape[1], regularization=self.fold_in_regularization
            )
        solver.item_factors = item_factors
        return solver

    def fit(self, user_items: sp.csr_matrix) -> BPR:
        """Fit on a ``(n_users, n_items)`` CSR matrix; returns ``self``."""
        self._validate()
        m = check_interactions(user_items, "BPR.fit")
        with single_threaded_blas():
            model = self._implicit_model()
            model.fit(m, show_progress=False)
        self.model_ = model
        self.solver_ = self._solver(model.item_factors)
        self.n_items_ = m.shape[1]
        self.record_training(m)
        return self

    @property
    def item_vectors(self) -> np.ndarray:
        self._require_fitted()
        return self.model_.item_factors[:, :-1]

    def user_vectors(self, histories: sp.csr_matrix) -> np.ndarray:
        self._require_fitted()
        h = self._check_histories(histories)
        if h.shape[0] == 0:
            return np.zeros((0, self.model_.item_factors.shape[1]), dtype=np.float32)
        with single_threaded_blas():
            return self.solver_.recalculate_user(np.arange(h.shape[0]), h)

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return self.user_vectors(histories) @ self.model_.item_factors.T

    def _restored(self) -> None:
        self.solver_ = self._solver(self.model_.item_factors)
