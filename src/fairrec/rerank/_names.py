"""Re-rankers by name: the names ``recommend`` and ``compare`` accept."""

from __future__ import annotations

from typing import Any

from fairrec.errors import ParameterError

__all__ = ["RERANKER_NAMES", "by_name"]

#: accepted name (case-insensitive) -> class name in :mod:`fairrec.rerank`
RERANKER_NAMES: dict[str, str] = {
    "topk": "TopK",
    "top-k": "TopK",
    "mmr": "MMR",
    "dpp": "DPP",
    "calibrated": "Calibrated",
    "longtail": "LongTail",
    "long_tail": "LongTail",
    "long-tail": "LongTail",
    "serendipity": "Serendipity",
}


def by_name(name: str, **params: Any) -> Any:
    """The re-ranker called ``name``, built with ``params``.

    Parameters
    ----------
    name : str
        ``"topk"``, ``"mmr"``, ``"dpp"``, ``"calibrated"``, ``"longtail"`` or
        ``"serendipity"`` (case-insensitive; ``"top-k"``, ``"long_tail"`` and ``"long-tail"``
        too).
    **params
        Keyword parameters of the re-ranker's class, e.g. ``lambda_=0.5``.

    Returns
    -------
    Reranker
        A new instance of the named class.

    Raises
    ------
    ParameterError
        If the name is unknown (the message lists the known names) or the class does not take
        ``params``.

    Examples
    --------
    >>> by_name("MMR", lambda_=0.5)
    MMR(lambda_=0.5, similarity='cosine')
    """
    from fairrec import rerank

    key = name.strip().lower() if isinstance(name, str) else None
    if key not in RERANKER_NAMES:
        raise ParameterError(
            f"Unknown re-ranker {name!r}; known names: {', '.join(sorted(RERANKER_NAMES))}."
        )
    cls = getattr(rerank, RERANKER_NAMES[key])
    try:
        return cls(**params)
    except TypeError as exc:
        raise ParameterError(f"{cls.__name__} does not take {params!r} ({exc}).") from None
