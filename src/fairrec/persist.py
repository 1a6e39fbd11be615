"""Deprecated alias of :mod:`fairrec.serving.persist`, :mod:`fairrec.serving.load`, :mod:`fairrec.serving.model_files`
(moved there in the serving-stage redesign, issue 17); import from there instead.
"""

from __future__ import annotations

from typing import Any

from fairrec.serving import load as _load
from fairrec.serving import model_files as _model_files
from fairrec.serving import persist as _persist
from fairrec.serving.persist import *  # noqa: F403
from fairrec.serving.persist import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    # any other name of the old module (including private helpers) still resolves
    for module in (_persist, _load, _model_files):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
