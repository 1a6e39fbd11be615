"""Deprecated alias of :mod:`fairrec.data.ids` (the canonical id form and the id map).

The module moved into the ``fairrec.data`` package (issue 17); ``import fairrec.ids`` and
``from fairrec.ids import canon_id, canon_ids, IdMap`` keep working.
"""

from __future__ import annotations

from fairrec.data.ids import IdMap, canon_id, canon_ids

__all__ = ["IdMap", "canon_id", "canon_ids"]
