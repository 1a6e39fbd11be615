"""Item-item similarity for re-rankers: cosine on latent factors, Jaccard on genre sets.

A :class:`Similarity` wraps the candidates' vectors, shared ``(n, d)`` or per viewer
``(u, n, d)``, and answers, for a batch, "how similar is each candidate to this viewer's
chosen candidate (or profile)" as a ``(u, n)`` array, one matrix product per call.

- ``"cosine"``: rows are normalised once; a zero row has similarity 0 to everything
  (also to itself).
- ``"jaccard"``: for non-negative vectors, the weighted (Ruzicka) Jaccard index
  ``sum(min(a, b)) / sum(max(a, b))``, which is the set Jaccard index ``|A & B| / |A | B|``
  for binary (multi-hot) rows; 0 when both rows are zero. It is a positive semi-definite
  kernel, so it can feed a DPP. Binary rows use a fast matrix-product path.
"""

from __future__ import annotations

import numpy as np

from fairrec.errors import DataError

__all__ = ["Similarity", "SIMILARITIES"]

SIMILARITIES = ("cosine", "jaccard")


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("...d,...d->...", x, x))
    return x / np.where(norms > 0, norms, 1.0)[..., None]


class Similarity:
    """Similarities between a batch's candidates and chosen candidates or profiles.

    Parameters
    ----------
    vectors : ndarray of shape (n, d) or (u, n, d)
        Finite candidate representations (already validated).
    kind : {"cosine", "jaccard", "dot"}
        The similarity measure; ``"dot"`` (internal) uses the vectors as given, so that
        ``S = V @ V.T`` (what :func:`dpp_greedy` documents).
    owner : str
        Name used in error messages.
    unit : bool, default False
        The caller guarantees unit-norm (or zero) rows, of ``vectors`` and of the profiles
        given to :meth:`against`: ``"cosine"`` skips normalising them.
    """

    def __init__(
        self, vectors: np.ndarray, kind: str, owner: str = "Similarity", unit: bool = False
    ) -> None:
        self.kind = kind
        self.owner = owner
        self.shared = vectors.ndim == 2
        self.binary = False
        self._ar: np.ndarray | None = None
        self.unit = unit
        if kind == "cosine":
            self.v = vectors if unit else _unit_rows(vectors)
        elif kind == "dot":
            self.v = vectors
        else:
            if (vectors < 0).any():
                raise DataError(
                    f"{owner}: similarity='jaccard' needs non-negative 'vectors' "
                    "(e.g. genre multi-hot rows); found a negative entry."
                )
            self.v = vectors
            self.binary = bool(((vectors == 0) | (vectors == 1)).all())
            self.size = vectors.sum(axis=-1)

    def chunk(self, rows: slice) -> Similarity:
        """The same similarity restricted to viewers ``rows`` (shared vectors: ``self``)."""
        if self.shared:
            return self
        part = object.__new__(Similarity)
        part.__dict__.update(self.__dict__)
        part.v = self.v[rows]
        part._ar = None
        if self.kind == "jaccard":
            part.size = self.size[rows]
        return part

    def _dot(self, x: np.ndarray) -> np.ndarray:
        """``(u, n)`` dot products of each viewer's candidates with ``x`` of shape (u, d)."""
        if self.shared:  # one matrix-vector product per viewer, as for a single viewer
            return np.matmul(self.v, x[:, :, None])[:, :, 0]
        if len(x) == 1:  # the same BLAS matrix-vector product, without the stacked overhead
            return (self.v[0] @ x[0])[None, :]
        return np.matmul(self.v, x[:, :, None])[:, :, 0]

    def _jaccard(self, x: np.ndarray, x_binary: bool) -> np.ndarray:
        if self.binary and x_binary:
            inter = self._dot(x)
            union = self.size + x.sum(axis=1)[:, None] - inter
        else:
            inter = np.minimum(self.v, x[:, None, :]).sum(axis=-1)
            union = np.maximum(self.v, x[:, None, :]).sum(axis=-1)
        out = np.zeros(inter.shape)
        np.divide(inter, union, out=out, where=union > 0)
        return out

    def rows(self, j: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
        """Similarity of every candidate to candidate ``j[v]`` of viewer ``v``: (u, n).

        With ``scale`` (u,), viewer ``v``'s row is multiplied by ``scale[v]`` (folded into
        the product for dot-product similarities).
        """
        if self.shared:
            x = self.v[j]
        elif len(j) == 1:
            x = self.v[0, j]
        else:
            if self._ar is None or len(self._ar) != len(j):
                self._ar = np.arange(len(j))
            x = self.v[self._ar, j]
        if self.kind != "jaccard":
            return self._dot(x if scale is None else x * scale[:, None])
        out = self._jaccard(x, self.binary)
        if scale is not None:
            out *= scale[:, None]
        return out

    def against(self, profile: np.ndarray) -> np.ndarray:
        """Similarity of every candidate to each viewer's ``profile`` of shape (u, d)."""
        if self.kind == "cosine":
            return self._dot(profile if self.unit else _unit_rows(profile))
        if (profile < 0).any():
            raise DataError(
                f"{self.owner}: similarity='jaccard' needs a non-negative 'profile'; found a "
                "negative entry."
            )
        return self._jaccard(profile, bool(((profile == 0) | (profile == 1)).all()))

    def diag(self) -> np.ndarray:
        """Self-similarity of each candidate: 1, or 0 for a zero row; (n,) or (u, n)."""
        if self.kind != "jaccard":
            return np.einsum("...d,...d->...", self.v, self.v)
        return (self.size > 0).astype(np.float64)
