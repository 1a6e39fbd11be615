"""Hyperparameter search with temporal cross-validation: :func:`tune`.

The code lives in the :mod:`fairrec.evaluation` package (``fairrec/evaluation/_tuning.py``,
next to the splits and :func:`~fairrec.evaluation.evaluate` it uses); this module is its public
home, as ``fr.tune`` and ``fr.tuning``.

Candidates come from a grid (every combination) or are drawn at random (``n_iter``), each is
fitted on the train side of every rolling time fold (:func:`fairrec.splits.rolling_folds`)
and scored on that fold's validation window with :func:`fairrec.evaluate`; the best mean
score wins and is refitted on all the data given.

The sampler (:func:`candidates`) is written here with :class:`numpy.random.Generator` rather
than taken from scikit-learn's ``ParameterGrid``/``ParameterSampler``: those are the only
parts of scikit-learn it would use, and scikit-learn (with joblib, tens of megabytes) would
become a runtime dependency of every fairrec install for them. The
semantics are the same: a grid is enumerated in order; with ``n_iter``, lists are drawn
uniformly and distributions (anything with scipy's ``rvs(random_state=...)``) are sampled,
without replacement when every parameter is a list.
"""

from __future__ import annotations

from fairrec.evaluation import TuneResult, candidates, tune

__all__ = ["tune", "TuneResult", "candidates"]
