"""Deprecated alias of :mod:`fairrec.serving.gate`
(moved there in the serving-stage redesign, issue 17); import from there instead.
"""

from __future__ import annotations

from typing import Any

from fairrec.serving import gate as _gate
from fairrec.serving.gate import *  # noqa: F403
from fairrec.serving.gate import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    # any other name of the module (including private helpers) still resolves
    return getattr(_gate, name)
