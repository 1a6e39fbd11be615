"""The methods :func:`~fairrec.evaluation.compare` accepts, resolved: a re-ranker (instance,
name, class or config dict), a candidate model, a fitted recommender, or a model with a
re-ranker; and the default split and serving time of a comparison."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from fairrec.data import Dataset
from fairrec.errors import ParameterError
from fairrec.evaluation._inputs import _check_reranker, as_naive_utc
from fairrec.evaluation._splits import Split, random_holdout, temporal_holdout

_OWNER_C = "compare"
_PLAIN = {"none", "plain", "als", "model"}


def _build(cls_or_name: Any, params: dict[str, Any], label: str) -> Any:
    from fairrec import rerank

    cls = cls_or_name
    if isinstance(cls_or_name, str):
        key = cls_or_name.lower()
        if key in _PLAIN and not params:
            return None
        if key not in rerank.RERANKER_NAMES:
            raise ParameterError(
                f"The method {label!r} of compare names an unknown re-ranker "
                f"{cls_or_name!r}; known: {sorted(rerank.RERANKER_NAMES)} (or 'none')."
            )
        cls = getattr(rerank, rerank.RERANKER_NAMES[key])
    if not isinstance(cls, type):
        raise ParameterError(
            f"The method {label!r} of compare: 'reranker' must be a re-ranker name or "
            f"class. Got {cls_or_name!r} instead."
        )
    try:
        return cls(**params)
    except TypeError as exc:
        raise ParameterError(
            f"The method {label!r} of compare: {cls.__name__} does not take {params!r} ({exc})."
        ) from None


def _resolve(label: str, spec: Any) -> Any:
    """A method spec -> re-ranker instance (or None for plain top-k)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return _build(spec, {}, label)
    if isinstance(spec, type):
        return _check_reranker(_build(spec, {}, label), label, _OWNER_C)
    if isinstance(spec, Mapping):
        params = dict(spec)
        if "reranker" not in params:
            raise ParameterError(
                f"The method {label!r} of compare is a dict without a 'reranker' key; "
                "write e.g. {'reranker': 'mmr', 'lambda_': 0.5}."
            )
        kind = params.pop("reranker")
        if kind is None:
            if params:
                raise ParameterError(
                    f"The method {label!r} of compare has no re-ranker but parameters "
                    f"{sorted(params)}."
                )
            return None
        return _check_reranker(_build(kind, params, label), label, _OWNER_C)
    return _check_reranker(spec, label, _OWNER_C)


def _default_split(data: Dataset) -> Split:
    if data.timestamps is not None:
        return temporal_holdout(data, fraction=0.2)
    return random_holdout(data, test_fraction=0.2, seed=0)


def _method(label: str, spec: Any) -> tuple[Any, Any]:
    """A method spec -> ``(model or fitted Recommender or None, re-ranker or None)``.

    ``None`` as the first element means the default model of :func:`compare`.
    """
    from fairrec.models import CandidateModel
    from fairrec.recommender import Recommender

    if isinstance(spec, (CandidateModel, Recommender)):
        return spec, None
    if isinstance(spec, Mapping) and "model" in spec:
        params = dict(spec)
        model = params.pop("model")
        if not isinstance(model, (CandidateModel, Recommender)):
            raise ParameterError(
                f"The method {label!r} of compare: 'model' must be a fairrec.models model or "
                f"a fitted Recommender. Got {model!r} instead."
            )
        if not params:
            return model, None
        if "reranker" not in params:
            raise ParameterError(
                f"The method {label!r} of compare has parameters {sorted(params)} but no "
                "'reranker' key; write e.g. {'model': EASE(), 'reranker': 'mmr', "
                "'lambda_': 0.5}."
            )
        return model, _resolve(label, params)
    return None, _resolve(label, spec)


def _train_end(split: Split, now: Any) -> pd.Timestamp | None:
    if now is not None:
        return as_naive_utc(now, _OWNER_C)
    ts = split.train.timestamps
    return pd.Timestamp(ts.max()) if ts is not None and len(ts) else None
