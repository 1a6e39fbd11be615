"""The verifier's own count of *Outside your bubble*'s facts: main tastes and how many
viewers of a main taste liked a title, from the raw training matrix and the titles' taste
clusters (no code shared with :mod:`fairrec.rows`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["training_tastes", "viewer_taste", "taste_counts"]


def _argmax_taste(counts: np.ndarray) -> np.ndarray:
    """Per row of cluster counts: the cluster with the most, ties to the lower; -1 if none."""
    return np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1)


def training_tastes(m: sp.csr_matrix, title_tastes: np.ndarray) -> np.ndarray:
    """Each training row's main taste (summed events; a title with a sum > 0 is liked)."""
    k = max(int(title_tastes.max()) + 1 if title_tastes.size else 0, 1)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    c = title_tastes[m.indices]
    keep = (m.data > 0) & (c >= 0)
    per = np.zeros((m.shape[0], k), dtype=np.int64)
    np.add.at(per, (rows[keep], c[keep]), 1)
    return _argmax_taste(per)


def viewer_taste(hist: dict[int, float], title_tastes: np.ndarray) -> int:
    """The main taste of a history (title -> summed weight)."""
    k = max(int(title_tastes.max()) + 1 if title_tastes.size else 0, 1)
    mine = [int(title_tastes[j]) for j, w in hist.items() if w > 0 and title_tastes[j] >= 0]
    return int(_argmax_taste(np.bincount(mine, minlength=k)[None, :])[0])


def taste_counts(
    m: sp.csc_matrix, theirs: np.ndarray, users: np.ndarray, me: Any, g: int, item: int
) -> tuple[int, int]:
    """The training viewers of main taste ``g`` other than ``me`` (a data index) and how
    many of them liked ``item`` (``m``: the training matrix by title, CSC)."""
    if g < 0:
        return 0, 0
    member = (theirs == g) & (users != me)
    lo, hi = m.indptr[item], m.indptr[item + 1]
    likers = m.indices[lo:hi][m.data[lo:hi] > 0]
    return int(member.sum()), int(member[likers].sum())
