"""Deprecated alias of the live row kinds, now in :mod:`fairrec.rows`.

``fairrec.live_rows.NewForYou`` and ``fairrec.live_rows.MoreLikeThis`` keep working; new code
imports them from :mod:`fairrec.rows` (issue 17: one package per stage).
"""

from __future__ import annotations

from fairrec.rows import MoreLikeThis, NewForYou

__all__ = ["NewForYou", "MoreLikeThis"]
