"""Train/test splits: an alias of the splits in :mod:`fairrec.evaluation`.

The splits moved into the :mod:`fairrec.evaluation` package (``fairrec/evaluation/_splits.py``);
``from fairrec.splits import temporal_holdout`` keeps working and names the very same
objects. New code imports them from :mod:`fairrec.evaluation`.
"""

from __future__ import annotations

from fairrec.evaluation import Split, random_holdout, rolling_folds, temporal_holdout, time_cut

__all__ = ["Split", "random_holdout", "temporal_holdout", "time_cut", "rolling_folds"]
