"""Alternating least squares for implicit feedback, from the ``implicit`` package."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.recommender_base import ModelFitError

from fairrec.errors import DataError
from fairrec.models._base import ImplicitFactorModel, check_interactions
from fairrec.models._threads import single_threaded_blas

__all__ = ["ALS"]


class ALS(ImplicitFactorModel):
    """Implicit-feedback matrix factorization (Hu, Koren & Volinsky 2008) via ``implicit``.

    A viewer's vector is *recomputed at request time* from the history given to
    :meth:`score_histories` with implicit's exact least-squares solve
    (``recalculate_user``), so the served vector only ever reflects consented, in-window data.

    Parameters
    ----------
    factors : int, default 64
    regularization : float, default 0.05
    alpha : float, default 1.0
        Confidence scaling of the weights (implicit 0.7 uses C = alpha * weight).
    iterations : int, default 15
    use_cg : bool, default True
        Conjugate-gradient solver during fitting (implicit's default).
    random_state : int or None, default 0
        Seed of the factor initialisation; same seed and data give identical factors.
    num_threads : int, default 0
        Threads for implicit's solver (0: all cores).

    Examples
    --------
    >>> import scipy.sparse as sp, numpy as np
    >>> m = sp.random(50, 30, density=0.2, format="csr", random_state=0, dtype=np.float32)
    >>> model = ALS(factors=8, iterations=3).fit(m)
    >>> model.score_histories(m[:2]).shape
    (2, 30)
    """

    kind: ClassVar[str] = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        use_cg: bool = True,
        random_state: int | None = 0,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.use_cg = use_cg
        self.random_state = random_state
        self.num_threads = num_threads

    def _validate(self) -> None:
        self._check_int("factors", 1)
        self._check_int("iterations", 1)
        self._check_int("num_threads", 0)
        self._check_float("regularization", 0.0)
        self._check_float("alpha", 0.0, inclusive=False)
        if self.random_state is not None:
            self._check_int("random_state", 0)

    def _implicit_model(self) -> Any:
        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            use_cg=self.use_cg,
            random_state=self.random_state,
            num_threads=self.num_threads,
        )

    def fit(self, user_items: sp.csr_matrix) -> ALS:
        """Fit on a ``(n_users, n_items)`` CSR matrix; returns ``self``."""
        self._validate()
        m = check_interactions(user_items, "ALS.fit")
        with single_threaded_blas():
            model = self._implicit_model()
            try:
                model.fit(m, show_progress=False)
            except (ModelFitError, ValueError) as exc:  # e.g. weights so large ALS diverges
                raise DataError(
                    f"ALS could not fit these interactions ({exc}); interaction weights up to "
                    f"{m.data.max() if m.nnz else 0:g} may be too large: rescale the weights "
                    "or raise 'regularization'."
                ) from exc
        self.model_ = model
        self.n_items_ = m.shape[1]
        self.record_training(m)
        return self

    @property
    def item_vectors(self) -> np.ndarray:
        self._require_fitted()
        return self.model_.item_factors

    @property
    def solver(self) -> Any:
        """A single-threaded :class:`implicit.cpu.als.AlternatingLeastSquares` sharing the
        fitted item factors, for request-time solves and per-title explanations.

        implicit's OpenMP pool costs ~16 ms to wake for one viewer; a page needs ~50 µs.
        Batches are parallelized one level up (``home_batch(n_jobs=...)``). Read it, do not
        modify it: it shares the model's item factors.
        """
        solver = self.__dict__.get("_solver_cache")
        if solver is None or solver.item_factors is not self.model_.item_factors:
            with single_threaded_blas():
                solver = AlternatingLeastSquares(
                    factors=self.factors,
                    regularization=self.regularization,
                    alpha=self.alpha,
                    num_threads=1,
                )
            solver.item_factors = self.model_.item_factors
            solver.YtY  # noqa: B018 - computed once, before concurrent readers use it
            self.__dict__["_solver_cache"] = solver
        return solver

    _solver = solver  # the name before issue 17

    @property
    def item_factors64(self) -> np.ndarray:
        """The fitted item factors as float64 (converted once per set of factors; read only)."""
        self._require_fitted()
        got = self.__dict__.get("_f64_cache")
        factors = self.model_.item_factors
        if got is None or got[0] is not factors:
            got = (factors, np.asarray(factors, dtype=np.float64))
            self.__dict__["_f64_cache"] = got
        return got[1]

    @property
    def gram64(self) -> np.ndarray:
        """``YtY + regularization * I`` of the request-time :attr:`solver`, in float64 (the
        base of every viewer's system in per-title explanations); computed once per solver,
        which is replaced whenever the item factors change. Read only."""
        solver = self.solver
        got = self.__dict__.get("_gram64_cache")
        if got is None or got[0] is not solver:
            reg = float(solver.regularization) * np.eye(self.model_.item_factors.shape[1])
            base = np.asarray(solver.YtY, dtype=np.float64) + reg
            base.flags.writeable = False
            got = (solver, base)
            self.__dict__["_gram64_cache"] = got
        return got[1]

    def user_vectors(self, histories: sp.csr_matrix) -> np.ndarray:
        """Exact least-squares viewer vectors from history rows (no stored state used)."""
        self._require_fitted()
        h = self._check_histories(histories)
        if h.shape[0] == 0:
            return np.zeros((0, self.factors), dtype=np.float32)
        try:
            return self.solver.recalculate_user(np.arange(h.shape[0]), h)
        except ValueError as exc:  # implicit's LAPACK solve failed (e.g. huge weights)
            raise DataError(
                f"A viewer vector could not be solved from this history ({exc}); its weights "
                f"(up to {h.data.max() if h.nnz else 0:g}) may be too large."
            ) from exc

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        uv = self.user_vectors(histories)
        return uv @ self.model_.item_factors.T

    def update_items(self, items: np.ndarray, user_items: sp.csr_matrix) -> None:
        """Re-solve the vectors of ``items`` from a training matrix (implicit's partial fit).

        ``user_items`` is the training matrix *after* a change (e.g. a viewer erased), with the
        same rows as :attr:`user_factors_`.
        """
        self._require_fitted()
        items = np.asarray(items, dtype=np.int64)
        if items.size == 0:
            return
        item_users = sp.csr_matrix(user_items.T.tocsr()[items], dtype=np.float32)
        with single_threaded_blas():
            self.model_.partial_fit_items(items, item_users)
        self.__dict__.pop("_solver_cache", None)
        self.__dict__.pop("_f64_cache", None)

    def _update_items(
        self, user_items: sp.csr_matrix, touched: np.ndarray, rows: np.ndarray
    ) -> ALS:
        """Partial fit: only the touched titles' factors are re-solved."""
        model = self._copy()
        model.drop_user_rows(rows)
        if user_items.shape[0] == 0:
            model.model_.item_factors[np.asarray(touched, dtype=np.int64)] = 0.0
            model.__dict__.pop("_solver_cache", None)
            model.__dict__.pop("_f64_cache", None)
        else:
            model.update_items(touched, user_items)
        return model
