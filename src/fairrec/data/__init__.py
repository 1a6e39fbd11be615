"""Datasets: interactions and catalog, external ids mapped to dense indices, validated.

External ids (str or int) exist only at the API edge; inside fairrec everything is a dense
index: viewers ``0 .. n_users-1`` in order of first appearance, titles ``0 .. n_items-1`` in
catalog order. Interactions are kept event by event (one entry per play, with its weight and
timestamp) so that consent and retention can be applied per event; :meth:`Dataset.to_csr`
sums the weights of duplicate (viewer, title) events into one cell.

The package, one job per module:

* :mod:`fairrec.data.ids` -- the one canonical form of an id (:func:`~fairrec.data.ids.canon_id`)
  and the one id map (:class:`~fairrec.data.ids.IdMap`) used by the dataset, the consent
  ledger, the gate and model files (``fairrec.ids`` is a deprecated alias);
* ``fairrec.data._validate`` -- validation of the input columns (:func:`parse_weights`,
  :func:`parse_timestamps`, :func:`parse_ratings`, :func:`parse_genres`, ids);
* ``fairrec.data._build`` -- construction from pandas frames (:func:`build_catalog`);
* ``fairrec.data._dataset`` -- the :class:`Dataset` object, its accessors and views.
"""

from __future__ import annotations

from fairrec.data._build import build_catalog
from fairrec.data._dataset import Dataset
from fairrec.data._validate import parse_genres, parse_ratings, parse_timestamps, parse_weights

# Deprecated private names, kept for callers written before this package existed
# (fairrec.live imported them); use the public parse_* functions.
_timestamps = parse_timestamps
_weights = parse_weights

__all__ = [
    "Dataset",
    "parse_genres",
    "parse_weights",
    "parse_ratings",
    "parse_timestamps",
    "build_catalog",
]
