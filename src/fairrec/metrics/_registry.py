"""The metric registry (:data:`REGISTRY`) and :func:`all_metrics`, which computes many metrics
with one shared preprocessing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fairrec import _columns as C
from fairrec.errors import ParameterError, param_error
from fairrec.metrics import _kernels as K
from fairrec.metrics._accuracy import (
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from fairrec.metrics._context import _columns, _Ctx, _finish, _Res
from fairrec.metrics._coverage import catalog_coverage, distributional_coverage, gini_index
from fairrec.metrics._diversity import (
    intra_list_diversity,
    miscalibration,
    serendipity,
    unexpectedness,
)
from fairrec.metrics._doc import shared_doc
from fairrec.metrics._inputs import ItemFeatures
from fairrec.metrics._popularity import (
    average_popularity,
    long_tail_share,
    novelty,
    popularity_lift,
)


@dataclass(frozen=True)
class MetricSpec:
    """How :func:`all_metrics` computes one metric.

    Attributes
    ----------
    name : str
        The public function's name.
    function : callable
        The public function.
    kernel : callable
        Internal kernel on the shared preprocessed inputs.
    needs : tuple of str
        Inputs required among ``"truth"``, ``"train"``, ``"item_features"``, ``"catalog"``
        (train or catalog) and ``"similarity"`` (item_features, or train for co-occurrence).
    per_user : bool
        Whether per-viewer values exist.
    higher_is_better : bool or None
        Direction for comparisons (None: no preferred direction).
    kind : str
        ``"accuracy"`` or ``"beyond"``.
    """

    name: str
    function: Callable[..., Any]
    kernel: Callable[..., _Res]
    needs: tuple[str, ...]
    per_user: bool
    higher_is_better: bool | None
    kind: str


def _spec(
    fn: Callable[..., Any],
    kernel: Callable[..., _Res],
    needs: tuple[str, ...],
    per_user: bool,
    better: bool | None,
    kind: str,
) -> MetricSpec:
    return MetricSpec(fn.__name__, fn, kernel, needs, per_user, better, kind)


REGISTRY: dict[str, MetricSpec] = {
    s.name: s
    for s in (
        _spec(precision_at_k, K._k_precision, ("truth",), True, True, "accuracy"),
        _spec(recall_at_k, K._k_recall, ("truth",), True, True, "accuracy"),
        _spec(ndcg_at_k, K._k_ndcg, ("truth",), True, True, "accuracy"),
        _spec(map_at_k, K._k_map, ("truth",), True, True, "accuracy"),
        _spec(hit_rate_at_k, K._k_hit_rate, ("truth",), True, True, "accuracy"),
        _spec(catalog_coverage, K._b_catalog_coverage, ("catalog",), False, True, "beyond"),
        _spec(distributional_coverage, K._b_distributional_coverage, (), False, True, "beyond"),
        _spec(gini_index, K._b_gini, ("catalog",), False, False, "beyond"),
        _spec(intra_list_diversity, K._b_ild, ("similarity",), True, True, "beyond"),
        _spec(novelty, K._b_novelty, ("train",), True, True, "beyond"),
        _spec(unexpectedness, K._b_unexpectedness, ("train", "similarity"), True, True, "beyond"),
        _spec(
            serendipity, K._b_serendipity, ("truth", "train", "similarity"), True, True, "beyond"
        ),
        _spec(
            miscalibration, K._b_miscalibration, ("train", "item_features"), True, False, "beyond"
        ),
        _spec(average_popularity, K._b_average_popularity, ("train",), True, None, "beyond"),
        _spec(popularity_lift, K._b_popularity_lift, ("train",), True, False, "beyond"),
        _spec(long_tail_share, K._b_long_tail_share, ("train",), True, True, "beyond"),
    )
}
"""Flat-list metrics by name, as :class:`MetricSpec` (page metrics take page frames and are
not listed); :func:`all_metrics` computes them."""


@shared_doc
def all_metrics(
    recs: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    catalog: Any = None,
    metrics: Sequence[str] | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> dict[str, float | pd.Series]:
    """Compute many metrics at once, sharing the preprocessing (id codes, hits, histories).

    Parameters
    ----------
    recs : pandas.DataFrame
        ``user_id, item_id, rank``.
    truth, train : pandas.DataFrame, optional
        Ground truth and training interactions.
    k : int, optional
        Cut-off for every metric.
    item_features : pandas.DataFrame or pandas.Series, optional
        Vectors or genre lists indexed by ``item_id``.
    catalog : array-like, optional
        Every title id that could be recommended.
    metrics : sequence of str, optional
        Names from :data:`REGISTRY`. Default: every metric whose inputs were given
        (similarity metrics only with ``item_features``; name them explicitly to use train
        co-occurrence instead). Naming a metric whose inputs are missing raises
        :class:`~fairrec.errors.ParameterError`.
    per_user : bool, default False
        Per-viewer Series for the metrics that have them (the others stay floats).
    {columns}

    Returns
    -------
    dict
        Metric name -> value (or per-viewer Series), in :data:`REGISTRY` order. Metrics take
        their default options (``precision_at_k`` with ``denominator="k"``).

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2], "item_id": list("aba"), "rank": [1, 2, 1]})
    >>> truth = pd.DataFrame({"user_id": [1, 2], "item_id": ["b", "c"]})
    >>> out = all_metrics(recs, truth, metrics=["precision_at_k", "recall_at_k"], k=2)
    >>> out
    {'precision_at_k': 0.25, 'recall_at_k': 0.5}
    """
    have = {
        "truth": truth is not None,
        "train": train is not None,
        "item_features": item_features is not None,
        "catalog": train is not None or catalog is not None,
        "similarity": item_features is not None or train is not None,
    }
    if metrics is None:
        default = {**have, "similarity": item_features is not None}
        names = [n for n, s in REGISTRY.items() if all(default[x] for x in s.needs)]
    else:
        names = list(metrics)
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            raise param_error("metrics", "all_metrics", f"names from {sorted(REGISTRY)}", unknown)
        for n in names:
            missing = [x for x in REGISTRY[n].needs if not have[x]]
            if missing:
                what = {"similarity": "item_features or train", "catalog": "train or catalog"}
                raise ParameterError(
                    f"Metric {n!r} needs {', '.join(what.get(x, x) for x in missing)}; not given."
                )
    ctx = _Ctx(
        recs,
        truth,
        train,
        owner="all_metrics",
        k=k,
        catalog=catalog,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    out: dict[str, float | pd.Series] = {}
    for n in REGISTRY:
        if n in names:
            spec = REGISTRY[n]
            out[n] = _finish(ctx, spec.kernel(ctx), per_user and spec.per_user, n)
    return out
