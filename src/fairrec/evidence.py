"""Deprecated alias of :mod:`fairrec.rows.evidence` (the facts reasons state).

Re-exports its public names; new code imports from :mod:`fairrec.rows.evidence` (issue 17:
one package per stage).
"""

from __future__ import annotations

from fairrec.rows import evidence as _moved
from fairrec.rows.evidence import *  # noqa: F403
from fairrec.rows.evidence import with_label  # noqa: F401  (used before the move)

__all__ = [*_moved.__all__, "with_label"]
