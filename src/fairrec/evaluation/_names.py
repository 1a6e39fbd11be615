"""Metric column names of :func:`~fairrec.evaluation.evaluate` and their registry names.

``column(name, k)`` is the one place a registry name becomes a column (``ndcg_at_k`` ->
``ndcg@10``) and ``registry_name`` the way back; :mod:`fairrec.tuning` reads metric names
with them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fairrec import metrics as M
from fairrec.errors import param_error

#: registry name -> column name template (``{k}`` is the cut-off)
_COLUMN = {
    "precision_at_k": "precision@{k}",
    "recall_at_k": "recall@{k}",
    "ndcg_at_k": "ndcg@{k}",
    "map_at_k": "map@{k}",
    "hit_rate_at_k": "hit_rate@{k}",
    "catalog_coverage": "coverage",
    "distributional_coverage": "distributional_coverage",
    "gini_index": "gini",
    "intra_list_diversity": "ild",
    "novelty": "novelty",
    "unexpectedness": "unexpectedness",
    "serendipity": "serendipity",
    "miscalibration": "miscalibration",
    "average_popularity": "arp",
    "popularity_lift": "popularity_lift",
    "long_tail_share": "long_tail_share",
}
_SHORT = {tmpl.split("@")[0]: name for name, tmpl in _COLUMN.items()}


def column(name: str, k: int) -> str:
    return _COLUMN[name].format(k=k)


def metric_columns(k: int = 10) -> list[str]:
    """Column names of every metric, in the order :func:`evaluate` reports them.

    Examples
    --------
    >>> metric_columns(10)[:3]
    ['precision@10', 'recall@10', 'ndcg@10']
    """
    return [column(n, k) for n in M.REGISTRY]


def higher_is_better(column: str) -> bool | None:
    """Whether larger values of a metric column are better (``None``: no direction).

    Accepts a column name of :func:`evaluate` (``"ndcg@10"``, ``"ild"``) or a name of
    :data:`fairrec.metrics.REGISTRY`; unknown names give ``None``.

    Examples
    --------
    >>> higher_is_better("ndcg@10"), higher_is_better("miscalibration"), higher_is_better("arp")
    (True, False, None)
    """
    name = registry_name(column)
    return None if name is None else M.REGISTRY[name].higher_is_better


def registry_name(label: Any) -> str | None:
    if not isinstance(label, str):
        return None
    if label in M.REGISTRY:
        return label
    return _SHORT.get(label.split("@")[0])


def metric_names(metrics: Any, owner: str) -> list[str] | None:
    if metrics is None:
        return None
    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise param_error("metrics", owner, "a list of metric names or None", metrics)
    names, bad = [], []
    for m in metrics:
        n = registry_name(m)
        (bad if n is None else names).append(m if n is None else n)
    if bad:
        raise param_error(
            "metrics",
            owner,
            f"names among {metric_columns(10)} (any @k) or {list(M.REGISTRY)}",
            bad,
        )
    return [n for n in M.REGISTRY if n in names]
