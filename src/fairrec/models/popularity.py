"""Most-played titles: the non-personalized baseline."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from fairrec.models._base import CandidateModel, check_interactions

__all__ = ["Popularity"]


class Popularity(CandidateModel):
    """Scores every title by how many training viewers played it (the same for everyone).

    Parameters
    ----------
    by : {"users", "weight"}, default "users"
        ``"users"`` counts distinct viewers per title; ``"weight"`` sums interaction weights.
    """

    kind: ClassVar[str] = "popularity"
    exact_erasure: ClassVar[bool] = True

    def __init__(self, by: str = "users") -> None:
        self.by = by

    def fit(self, user_items: sp.csr_matrix) -> Popularity:
        """Count plays per title; returns ``self``."""
        if self.by not in ("users", "weight"):
            from fairrec.errors import param_error

            raise param_error("by", "Popularity", "one of 'users', 'weight'", self.by)
        m = check_interactions(user_items, "Popularity.fit")
        if self.by == "users":
            counts = np.bincount(m.indices, minlength=m.shape[1])
        else:
            counts = np.asarray(m.sum(axis=0)).ravel()
        self.counts_ = counts.astype(np.float32)
        self.n_items_ = m.shape[1]
        self.record_training(m)
        return self

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        self._require_fitted()
        return np.tile(self.counts_, (histories.shape[0], 1))

    def erase_rows(
        self,
        rows: np.ndarray,
        user_items: sp.csr_matrix,
        touched: np.ndarray,
        update_items: bool = False,
    ) -> Popularity:
        """Counts recomputed without the erased rows (exact and cheap: always done)."""
        return self._refit(user_items)

    def with_new_items(
        self, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray
    ) -> Popularity:
        """New titles have a count of 0 until a refit."""
        self._require_fitted()
        model = type(self)(**self.get_params())
        model.set_arrays(
            {"counts": np.concatenate([self.counts_, np.zeros(len(new_genres), np.float32)])}
        )
        return model

    def get_arrays(self) -> dict[str, np.ndarray]:
        self._require_fitted()
        return {"counts": self.counts_}

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.counts_ = np.asarray(arrays["counts"], dtype=np.float32)
        self.n_items_ = self.counts_.shape[0]

    def array_spec(self) -> dict[str, tuple[str, int]]:
        return {"counts": ("f", 1)}
