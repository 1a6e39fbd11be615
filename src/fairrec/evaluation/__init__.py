"""Offline evaluation: one call for all metrics, and paired comparisons of re-rankers.

* :func:`evaluate` -- top-``k`` lists of a fitted :class:`~fairrec.Recommender` for the
  viewers of a test set, scored with every accuracy and beyond-accuracy metric of
  :mod:`fairrec.metrics` at once: a one-row :class:`pandas.DataFrame`.
* :func:`compare` -- one recommender fitted once, several re-rankers (or none) applied to
  the *same* candidates of the *same* viewers, one row per method, with a paired
  significance test per metric against the first method (p-values in ``<metric>_p``).
* The splits (:func:`temporal_holdout`, :func:`random_holdout`, :func:`time_cut`,
  :func:`rolling_folds`) live here too; ``fairrec.splits`` re-exports them.
* Hyper-parameter search (:func:`fairrec.tune`) is documented in :mod:`fairrec.tuning`.

Metric columns (``k`` is the cut-off)::

    precision@k  recall@k  ndcg@k  map@k  hit_rate@k      accuracy, test viewers
    coverage  distributional_coverage  gini                whole set of lists
    ild  novelty  unexpectedness  serendipity              per list
    miscalibration  arp  popularity_lift  long_tail_share  per list

See :mod:`fairrec.metrics` for each definition. Similarity-based metrics (``ild``,
``unexpectedness``, ``serendipity``) compare titles by their genres by default;
``miscalibration`` always uses genres.

Which viewers. The evaluated viewers are those of the test set with at least one training
interaction (a model cannot rank for a viewer it knows nothing of); their number is the
``n_users`` column. Accuracy metrics average over them (a viewer with no hit scores 0).
"""

from __future__ import annotations

from fairrec.evaluation._compare import compare, compare_models
from fairrec.evaluation._evaluate import evaluate
from fairrec.evaluation._names import higher_is_better, metric_columns
from fairrec.evaluation._splits import (
    Split,
    random_holdout,
    rolling_folds,
    temporal_holdout,
    time_cut,
)

# tuning is documented (and listed in __all__) in fairrec.tuning, which re-exports these
from fairrec.evaluation._tuning import TuneResult, candidates, tune  # noqa: F401

__all__ = [
    "evaluate",
    "compare",
    "compare_models",
    "metric_columns",
    "higher_is_better",
    "Split",
    "random_holdout",
    "temporal_holdout",
    "time_cut",
    "rolling_folds",
]
