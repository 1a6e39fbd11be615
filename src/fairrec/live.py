"""Deprecated alias of :mod:`fairrec.serving.live`, :mod:`fairrec.serving.observed`, :mod:`fairrec.serving.cold`
(moved there in the serving-stage redesign, issue 17); import from there instead.
"""

from __future__ import annotations

from typing import Any

from fairrec.serving import cold as _cold
from fairrec.serving import live as _live
from fairrec.serving import observed as _observed
from fairrec.serving.live import *  # noqa: F403
from fairrec.serving.live import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    # any other name of the old module (including private helpers) still resolves
    for module in (_live, _observed, _cold):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
