"""The immutable snapshot of one viewer's consent: :class:`ConsentState`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from fairrec.consent.purposes import PURPOSES, canonical_purpose


def _frozen(values: Iterable[Any] | None) -> frozenset:
    return frozenset(values) if values is not None else frozenset()


@dataclass(frozen=True, slots=True)
class ConsentState:
    """An immutable snapshot of one viewer's consent state.

    Build a page from one snapshot: it reflects one consistent state of the ledger, never
    half of a revocation that happens while the page is assembled.

    Attributes
    ----------
    user_id : str
        The viewer id (canonical string form).
    purposes : frozenset of str
        The purposes allowed now (explicit grants, plus every purpose not revoked under
        ``default="allow"``).
    since : Mapping[str, pandas.Timestamp]
        For each purpose allowed by an explicit grant, the start of the current grant (UTC).
        Read-only.
    excluded_genres, excluded_items : frozenset of str
        Never shown to this viewer, on any page.
    max_maturity : str, int or None
        The highest maturity rating the viewer accepts (compared with the catalog's own
        ratings by the Recommender), or None for no limit.
    liked_genres, liked_items, disliked_genres, disliked_items : frozenset of str
        Stated interests (zero-party data), usable while ``stated_interests`` is allowed.
    forgotten : bool
        The viewer was erased; every other field is empty.
    version : int
        The ledger version this snapshot was taken at: the sequence number of the last
        event the ledger had applied (the same number on every replica of a shared store).
    stale : bool
        The ledger follows a shared store and has not heard from it for longer than its
        ``max_staleness``: this is the fallback state (no purpose allowed, no stated
        interests; the last known exclusions still apply), never a personalized one.
    """

    user_id: str
    purposes: frozenset[str] = frozenset()
    since: Mapping[str, pd.Timestamp] = field(
        default_factory=lambda: MappingProxyType({}), hash=False, compare=True
    )
    excluded_genres: frozenset[str] = frozenset()
    excluded_items: frozenset[str] = frozenset()
    max_maturity: str | int | None = None
    liked_genres: frozenset[str] = frozenset()
    liked_items: frozenset[str] = frozenset()
    disliked_genres: frozenset[str] = frozenset()
    disliked_items: frozenset[str] = frozenset()
    forgotten: bool = False
    version: int = 0
    stale: bool = False

    def __post_init__(self) -> None:
        for name in (
            "purposes",
            "excluded_genres",
            "excluded_items",
            "liked_genres",
            "liked_items",
            "disliked_genres",
            "disliked_items",
        ):
            value = getattr(self, name)
            if type(value) is not frozenset:
                object.__setattr__(self, name, _frozen(value))
        if not isinstance(self.since, MappingProxyType):
            object.__setattr__(self, "since", MappingProxyType(dict(self.since)))

    def allows(self, purpose: str) -> bool:
        """Whether ``purpose`` is allowed in this snapshot (UnknownPurposeError if unknown)."""
        return canonical_purpose(purpose, "ConsentState.allows") in self.purposes

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: sets as sorted lists, times as ISO-8601 UTC strings."""
        return {
            "user_id": self.user_id,
            "purposes": [p for p in PURPOSES if p in self.purposes],
            "since": {p: self.since[p].isoformat() for p in PURPOSES if p in self.since},
            "excluded_genres": sorted(self.excluded_genres),
            "excluded_items": sorted(self.excluded_items),
            "max_maturity": self.max_maturity,
            "liked_genres": sorted(self.liked_genres),
            "liked_items": sorted(self.liked_items),
            "disliked_genres": sorted(self.disliked_genres),
            "disliked_items": sorted(self.disliked_items),
            "forgotten": self.forgotten,
            "version": self.version,
            "stale": self.stale,
        }


_EMPTY: frozenset[str] = frozenset()
_NO_SINCE: Mapping[str, pd.Timestamp] = MappingProxyType({})
# the 8 possible purpose sets, shared by all snapshots (fewer objects for 100k viewers)
_PURPOSE_SETS = {
    mask: frozenset(p for i, p in enumerate(PURPOSES) if mask >> i & 1)
    for mask in range(1 << len(PURPOSES))
}
