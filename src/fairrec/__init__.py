"""fairrec: personalized, diverse, consent-aware home pages for streaming catalogs.

Public names are loaded lazily so that ``import fairrec`` stays fast and never imports an
optional extra (pyspark, matplotlib).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Dataset": ("fairrec.data", "Dataset"),
    "ConsentLedger": ("fairrec.consent", "ConsentLedger"),
    "Recommender": ("fairrec.recommender", "Recommender"),
    "HomePage": ("fairrec.page", "HomePage"),
    "Row": ("fairrec.page", "Row"),
    "Item": ("fairrec.page", "Item"),
    "Reason": ("fairrec.page", "Reason"),
    "evaluate": ("fairrec.evaluation", "evaluate"),
    "compare": ("fairrec.evaluation", "compare"),
    "compare_models": ("fairrec.evaluation", "compare_models"),
    "tune": ("fairrec.tuning", "tune"),
    "LiveConfig": ("fairrec.live", "LiveConfig"),
}
_SUBMODULES = {
    "datasets",
    "models",
    "rerank",
    "rows",
    "metrics",
    "evaluation",
    "tuning",
    "errors",
    "consent",
    "page",
    "data",
    "recommender",
    "plot",
    "spark",
    "cli",
    "audit",
    "live",
    "live_rows",
    "availability",
    "serving",
}

__all__ = [*sorted(_LAZY), *sorted(_SUBMODULES - {"spark", "plot", "cli"}), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        value = importlib.import_module(f"fairrec.{name}")
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fairrec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
