"""Deprecated alias of :mod:`fairrec.rows.evidence` (the facts reasons state).

Re-exports its public names; new code imports from :mod:`fairrec.rows.evidence` (issue 17:
one package per stage).
"""

from __future__ import annotations

from fairrec.rows.evidence import (
    BASIS_ALS,
    BASIS_EASE,
    BASIS_KNN,
    BASIS_SIMILARITY,
    MIN_WATCHERS,
    N_NEIGHBORS,
    TitleStats,
    closest_viewers,
    contributions,
    popularity_share,
    title_stats,
    top_contributions,
    with_label,
)

__all__ = [
    "TitleStats",
    "title_stats",
    "popularity_share",
    "contributions",
    "top_contributions",
    "closest_viewers",
    "with_label",
    "BASIS_ALS",
    "BASIS_KNN",
    "BASIS_EASE",
    "BASIS_SIMILARITY",
    "MIN_WATCHERS",
    "N_NEIGHBORS",
]
