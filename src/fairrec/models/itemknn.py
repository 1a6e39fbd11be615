"""Item-item nearest neighbours with cosine similarity, from the ``implicit`` package."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import CosineRecommender
from implicit.utils import ParameterWarning

from fairrec.models._base import CandidateModel, check_interactions

__all__ = ["ItemKNN"]


class ItemKNN(CandidateModel):
    """Cosine item-item k-nearest-neighbours (implicit's ``CosineRecommender``).

    A viewer's scores are their history row times the sparse ``(n_items, n_items)``
    neighbour-similarity matrix, so they are computed from the consented history only.

    Parameters
    ----------
    neighbors : int, default 50
        Neighbours kept per title.
    num_threads : int, default 0
    """

    kind: ClassVar[str] = "itemknn"
    exact_erasure: ClassVar[bool] = True

    def __init__(self, neighbors: int = 50, num_threads: int = 0) -> None:
        self.neighbors = neighbors
        self.num_threads = num_threads

    def fit(self, user_items: sp.csr_matrix) -> ItemKNN:
        """Compute the neighbour similarities; returns ``self``."""
        self._check_int("neighbors", 1)
        self._check_int("num_threads", 0)
        m = check_interactions(user_items, "ItemKNN.fit")
        if m.shape[0] == 0 or m.nnz == 0:  # nobody to learn from: no neighbours
            self.similarity_ = sp.csr_matrix((m.shape[1], m.shape[1]), dtype=np.float32)
            self.n_items_ = m.shape[1]
            return self
        knn = CosineRecommender(K=self.neighbors, num_threads=self.num_threads)
        with warnings.catch_warnings():
            # implicit's CosineRecommender hands its own COO-normalized matrix to its kNN
            # routine and then warns about the COO -> CSR conversion it does itself.
            warnings.simplefilter("ignore", ParameterWarning)
            knn.fit(m, show_progress=False)
        self.similarity_ = sp.csr_matrix(knn.similarity, dtype=np.float32)
        self.n_items_ = m.shape[1]
        self.record_training(m)
        return self

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        self._require_fitted()
        return np.asarray((histories @ self.similarity_).toarray(), dtype=np.float32)

    def erase_rows(
        self,
        rows: np.ndarray,
        user_items: sp.csr_matrix,
        touched: np.ndarray,
        update_items: bool = False,
    ) -> ItemKNN:
        """Similarities recomputed without the erased rows: always done, since every
        similarity of a title they played holds their contribution (cosine norms)."""
        return self._refit(user_items)

    def with_new_items(
        self, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray
    ) -> ItemKNN:
        """New titles have no neighbours: they score 0 until a refit."""
        self._require_fitted()
        m = len(new_genres)
        s = self.similarity_
        model = type(self)(**self.get_params())
        model.set_arrays(
            {
                "sim_data": s.data.copy(),
                "sim_indices": s.indices.astype(np.int64),
                "sim_indptr": np.concatenate(
                    [s.indptr, np.full(m, s.indptr[-1], dtype=s.indptr.dtype)]
                ).astype(np.int64),
            }
        )
        return model

    def get_arrays(self) -> dict[str, np.ndarray]:
        self._require_fitted()
        s = self.similarity_
        return {
            "sim_data": s.data,
            "sim_indices": s.indices.astype(np.int64),
            "sim_indptr": s.indptr.astype(np.int64),
        }

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        n = arrays["sim_indptr"].shape[0] - 1
        self.similarity_ = sp.csr_matrix(
            (arrays["sim_data"], arrays["sim_indices"], arrays["sim_indptr"]), shape=(n, n)
        )
        self.similarity_.check_format(full_check=True)
        self.n_items_ = n

    def array_spec(self) -> dict[str, tuple[str, int]]:
        return {"sim_data": ("f", 1), "sim_indices": ("i", 1), "sim_indptr": ("i", 1)}
