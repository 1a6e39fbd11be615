"""Accuracy, beyond-accuracy and page-level metrics over pandas frames.

Every metric is one function ``NAME(recs, train_or_truth, *, k=None, ...)`` working on
pandas frames:

* ``recs`` -- recommendations, one line per (viewer, title) with columns ``user_id``,
  ``item_id`` and ``rank`` (1-based position in the viewer's list);
* ``truth`` -- held-out interactions (``user_id``, ``item_id``), e.g. a split's test set;
* ``train`` -- the interactions the model learned from (``user_id``, ``item_id``): the
  source of item popularity, of viewer profiles and of co-occurrence similarity;
* ``pages`` -- for the page metrics, one line per slot of a home page with columns
  ``user_id``, ``row`` (0-based), ``position`` (0-based within the row) and ``item_id``.

Column names can be changed with the ``user_col``, ``item_col``, ``rank_col`` (``row_col``,
``position_col``) keywords. ``k=None`` uses every rank given; otherwise only lines with
``rank <= k`` (pages: ``position < k``) are kept.

Populations. Accuracy metrics average over the viewers of ``truth``: a viewer of ``truth``
with no recommendation scores 0 and viewers that only appear in ``recs`` are ignored.
Beyond-accuracy metrics average over the viewers of ``recs`` (those that need a profile: over
the viewers of ``recs`` with at least one ``train`` interaction). ``per_user=True`` returns
the per-viewer values as a :class:`pandas.Series` indexed by ``user_id`` instead of their mean
(what paired significance tests need). A metric whose population is empty returns ``nan``.

Where a metric also exists in the Recommenders library (``recommenders.evaluation.
python_evaluation``) or in ``implicit.evaluation``, fairrec uses the same definition, so
numbers are comparable across libraries; each docstring says so and notes the differences.

Internals are vectorized: ids are mapped to integer codes once with pandas, and everything
else is numpy/scipy work on code arrays (``bincount``, ``lexsort``, sparse products); there is
no Python loop over viewers or titles. :func:`all_metrics` computes many metrics with one
shared preprocessing.
"""

from __future__ import annotations

from fairrec.metrics._accuracy import (
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from fairrec.metrics._coverage import catalog_coverage, distributional_coverage, gini_index
from fairrec.metrics._diversity import (
    intra_list_diversity,
    miscalibration,
    serendipity,
    unexpectedness,
)
from fairrec.metrics._page import ndcg_2d, page_coverage, repeat_rate, row_coherence
from fairrec.metrics._popularity import (
    average_popularity,
    long_tail_share,
    novelty,
    popularity_lift,
)
from fairrec.metrics._registry import REGISTRY, MetricSpec, all_metrics

__all__ = [
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "hit_rate_at_k",
    "catalog_coverage",
    "distributional_coverage",
    "gini_index",
    "intra_list_diversity",
    "novelty",
    "unexpectedness",
    "serendipity",
    "miscalibration",
    "average_popularity",
    "popularity_lift",
    "long_tail_share",
    "ndcg_2d",
    "repeat_rate",
    "page_coverage",
    "row_coherence",
    "MetricSpec",
    "REGISTRY",
    "all_metrics",
]
