"""EASE: a closed-form linear item-item model (Steck 2019)."""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from fairrec.errors import DataError, ModelMemoryError
from fairrec.models._base import CandidateModel, check_interactions

__all__ = ["EASE"]

#: float32 ``n_items x n_items`` matrices alive at the peak of ``fit`` (see :class:`EASE`)
PEAK_MATRICES = 3


def _available_bytes() -> int | None:
    """Memory the system can give now (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


class EASE(CandidateModel):
    """Embarrassingly Shallow Autoencoder (Steck, WWW 2019): a closed-form item-item model.

    With ``X`` the training matrix and ``G = XᵀX + l2·I`` its regularised item-item Gram
    matrix, the weights are ``B = I - P·diag(1 / diag(P))`` with ``P = G⁻¹`` (the
    least-squares solution of ``X ≈ XB`` under ``diag(B) = 0``). A viewer's scores are their
    *history row times B*, computed at request time from the consented, in-window history
    given to :meth:`score_histories` -- no per-viewer state is stored, so a revocation or a
    retention cut takes effect on the next request exactly as for ItemKNN.

    Memory: ``B`` is a dense float32 ``n_items x n_items`` matrix, ``4·n_items²`` bytes
    kept (and saved in the model file); fitting holds about three such matrices at its
    peak (``12·n_items²`` bytes: 34 MB for MovieLens 100K's 1,682 titles, 4.8 GB for
    20,000 titles). :meth:`fit` checks this figure against ``memory_limit_gb`` (default: the
    memory the system has available) and raises :class:`~fairrec.errors.ModelMemoryError`
    stating both figures instead of running out of memory.

    Parameters
    ----------
    l2 : float, default 250.0
        L2 regularisation added to the Gram matrix's diagonal (> 0). Steck used 500 on
        MovieLens 20M; smaller catalogs want less: tune it (:func:`fairrec.tune`).
    memory_limit_gb : float, optional
        Largest peak memory ``fit`` may use, in GiB (default: what the system has available
        now, read from ``/proc/meminfo``; no check where that is unknown).

    Examples
    --------
    >>> import scipy.sparse as sp, numpy as np
    >>> m = sp.random(50, 30, density=0.2, format="csr", random_state=0, dtype=np.float32)
    >>> model = EASE(l2=10.0).fit(m)
    >>> model.score_histories(m[:2]).shape
    (2, 30)
    """

    kind: ClassVar[str] = "ease"

    def __init__(self, l2: float = 250.0, memory_limit_gb: float | None = None) -> None:
        self.l2 = l2
        self.memory_limit_gb = memory_limit_gb

    @staticmethod
    def memory_needed(n_items: int) -> int:
        """Peak bytes :meth:`fit` needs for ``n_items`` titles (``12·n_items²``)."""
        return PEAK_MATRICES * 4 * int(n_items) ** 2

    def _check_memory(self, n_items: int) -> None:
        need = self.memory_needed(n_items)
        if self.memory_limit_gb is not None:
            limit, source = float(self.memory_limit_gb) * 2**30, "memory_limit_gb"
        else:
            avail = _available_bytes()
            if avail is None:
                return
            limit, source = float(avail), "memory available now"
        if need > limit:
            raise ModelMemoryError(
                f"EASE on {n_items} titles needs about {_gib(need)} while fitting "
                f"({PEAK_MATRICES} dense float32 {n_items} x {n_items} matrices; the fitted "
                f"weights keep {_gib(4 * n_items**2)}), more than the {_gib(limit)} of "
                f"{source}. Reduce the catalog (e.g. drop titles with few plays) or use "
                "ALS or ItemKNN."
            )

    def fit(self, user_items: sp.csr_matrix) -> EASE:
        """Solve for the item-item weights on a ``(n_users, n_items)`` CSR matrix."""
        l2 = self._check_float("l2", 0.0, inclusive=False)
        if self.memory_limit_gb is not None:
            self._check_float("memory_limit_gb", 0.0, inclusive=False)
        m = check_interactions(user_items, "EASE.fit")
        n = m.shape[1]
        self._check_memory(n)
        try:
            gram = np.asarray((m.T.tocsr() @ m).toarray(), dtype=np.float32)
            gram[np.diag_indices(n)] += np.float32(l2)
            if not np.isfinite(gram).all():
                raise DataError(self._unstable(l2, m))
            # G is symmetric positive definite (l2 > 0), so the inverse exists
            p = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
            del gram
            p = np.asarray(p, dtype=np.float32)
            with np.errstate(divide="ignore", invalid="ignore"):
                p /= -np.diag(p)[None, :]
            p[np.diag_indices(n)] = 0.0
        except MemoryError as exc:
            raise ModelMemoryError(
                f"EASE ran out of memory fitting {n} titles (about "
                f"{_gib(self.memory_needed(n))} needed)."
            ) from exc
        if not np.isfinite(p).all():  # float32 inversion of a badly conditioned Gram matrix
            raise DataError(self._unstable(l2, m))
        self.weights_ = np.ascontiguousarray(p)
        self.n_items_ = n
        self.record_training(m)
        return self

    @staticmethod
    def _unstable(l2: float, m: sp.csr_matrix) -> str:
        return (
            f"EASE could not invert the item-item Gram matrix in float32 with l2={l2:g} "
            f"(interaction weights up to {m.data.max() if m.nnz else 0:g}): raise 'l2' or "
            "rescale the weights."
        )

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        self._require_fitted()
        h = self._check_histories(histories)
        return np.asarray(h @ self.weights_, dtype=np.float32)

    def erase_rows(
        self,
        rows: np.ndarray,
        user_items: sp.csr_matrix,
        touched: np.ndarray,
        update_items: bool = False,
    ) -> EASE:
        """No per-viewer state to drop: ``self``; with ``update_items`` a refit without the
        erased rows (the weights hold every training viewer's plays until then)."""
        return self._refit(user_items) if update_items else self

    def with_new_items(
        self, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray
    ) -> EASE:
        """New titles get zero weights (no co-occurrence yet): they score 0 until a refit."""
        self._require_fitted()
        w = self.get_arrays()["weights"]
        n, m = w.shape[0], len(new_genres)
        out = np.zeros((n + m, n + m), dtype=w.dtype)
        out[:n, :n] = w
        model = type(self)(**self.get_params())
        model.set_arrays({"weights": out})
        return model

    def get_arrays(self) -> dict[str, np.ndarray]:
        self._require_fitted()
        return {"weights": self.weights_}

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        w = np.ascontiguousarray(arrays["weights"], dtype=np.float32)
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise ValueError(f"EASE weights must be a square matrix; got shape {w.shape}.")
        self.weights_ = w
        self.n_items_ = w.shape[0]

    def array_spec(self) -> dict[str, tuple[str, int]]:
        return {"weights": ("f", 2)}
