"""Ready-made data sets: local MovieLens folders and the embedded synthetic catalog."""

from __future__ import annotations

from fairrec.datasets.movielens import load_movielens
from fairrec.datasets.synthetic import GENRE_NAMES, synthetic

__all__ = ["GENRE_NAMES", "load_movielens", "synthetic"]
