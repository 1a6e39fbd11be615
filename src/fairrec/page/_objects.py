"""The page's result objects: :class:`Reason`, :class:`Item`, :class:`Row`, :class:`HomePage`.

Immutable (frozen, slotted dataclasses), validated on construction, with one public fast
path per class, ``trusted``, for a producer such as the Recommender that already guarantees
every field. Rendering and serialization live in their own modules; the methods here
delegate to them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fairrec.errors import DataError
from fairrec.page._schema import PERSONAL_DATA, describe_data_used
from fairrec.page._text import format_score, row_lines
from fairrec.page._validate import (
    check_categories,
    check_evidence,
    check_id,
    check_score,
    check_str,
    check_tuple,
    describe,
)
from fairrec.page._validate import new as _new
from fairrec.page._validate import set_field as _set


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a title (or a row) is shown, and from which data.

    Parameters
    ----------
    kind : str
        Machine-readable kind, e.g. ``"because_you_watched"`` or ``"diverse_popular"``.
    text : str
        Human-readable sentence, e.g. ``"Because you watched Alien (your watch history)"``.
    data_used : tuple of str, default ()
        Data categories used, e.g. ``("watch_history",)``; see :data:`DATA_LABELS`.
        Duplicates are dropped; a list is stored as a tuple.
    anchor : str or None, default None
        Title the reason is anchored on (``"Alien"``), if any.
    evidence : dict or None, default None
        The machine-readable facts the text states (JSON types only), e.g.
        ``{"anchor_id": "1", "anchor": "Alien", "basis": "als_contribution",
        "contribution": 0.21}`` or ``{"watchers": 31, "viewers": 943, "liked_share": 0.92}``.
        :func:`fairrec.audit.verify_page` re-derives them from the data.

    Examples
    --------
    >>> r = Reason("because_you_watched", "Because you watched Alien (your watch history)",
    ...            ("watch_history",), anchor="Alien")
    >>> r.data_text
    'your watch history'
    """

    kind: str
    text: str
    data_used: tuple[str, ...] = ()
    anchor: str | None = None
    evidence: Mapping[str, Any] | None = field(default=None, compare=True, hash=False)

    def __post_init__(self) -> None:
        _set(self, "kind", check_str(self.kind, "Reason.kind"))
        _set(self, "text", check_str(self.text, "Reason.text"))
        _set(self, "data_used", check_categories(self.data_used, "Reason.data_used"))
        if self.anchor is not None:
            _set(self, "anchor", check_str(self.anchor, "Reason.anchor"))
        if self.evidence is not None:
            _set(self, "evidence", check_evidence(self.evidence, "Reason.evidence"))

    @classmethod
    def trusted(
        cls,
        kind: str,
        text: str,
        data_used: tuple[str, ...] = (),
        anchor: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> Reason:
        """Build a reason *without* validation, for a producer that guarantees the fields.

        The fields are stored as given: ``kind`` and ``text`` non-empty ``str``,
        ``data_used`` a ``tuple`` of distinct categories without ``"|"``, ``anchor`` a
        ``str`` or ``None``, ``evidence`` a ``dict`` of JSON values or ``None``. The result
        is equal (and hashes equal) to ``Reason(kind, text, data_used, anchor, evidence)``
        when those hold; nothing checks that they do. Much cheaper than the constructor (it
        checks nothing and does not copy the evidence); anything built from outside input
        should use the constructor.

        Examples
        --------
        >>> r = Reason.trusted("popular", "Popular now (no personal data)",
        ...                    ("catalog_popularity",))
        >>> r == Reason("popular", "Popular now (no personal data)", ["catalog_popularity"])
        True
        """
        obj = _new(cls)
        set_kind, set_text, set_data, set_anchor, set_evidence = _REASON_SET
        set_kind(obj, kind)
        set_text(obj, text)
        set_data(obj, data_used)
        set_anchor(obj, anchor)
        set_evidence(obj, evidence)
        return obj

    @property
    def personal(self) -> bool:
        """Whether the reason uses personal data of the viewer (:data:`PERSONAL_DATA`)."""
        return any(category in PERSONAL_DATA for category in self.data_used)

    @property
    def data_text(self) -> str:
        """Human-readable description of :attr:`data_used` (``"no personal data"``...)."""
        return describe_data_used(self.data_used)

    def to_dict(self) -> dict[str, Any]:
        """Return the reason as plain JSON types."""
        from fairrec.page._serialize import reason_to_dict

        return reason_to_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reason:
        """Build a reason from :meth:`to_dict` output; raises ``DataError`` on bad input."""
        from fairrec.page._serialize import reason_from_dict

        return reason_from_dict(d)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Item:
    """One recommended title on a row.

    Parameters
    ----------
    item_id : str or int
        External id of the title (numpy integers are stored as ``int``).
    title : str
        Display title.
    score : float
        Ranking score (finite; numpy scalars are stored as ``float``).
    reason : Reason
        Why this title is shown, and from which data.
    genres : tuple of str, default ()
        Genres shown on the card.
    """

    item_id: str | int
    title: str
    score: float
    reason: Reason
    genres: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Items are built by the thousand: plain values take the fast path below and the
        # error messages are only formatted when a value is wrong.
        item_id = self.item_id
        if not ((type(item_id) is str and item_id) or type(item_id) is int):
            _set(self, "item_id", check_id(item_id, "Item.item_id"))
        title = self.title
        if type(title) is not str or not title[:1].strip():
            _set(self, "title", check_str(title, f"Item {self.item_id!r}: title"))
        score = self.score
        if type(score) is not float or not math.isfinite(score):
            _set(self, "score", check_score(score, f"Item {self.item_id!r}: score"))
        if type(self.reason) is not Reason and not isinstance(self.reason, Reason):
            raise DataError(
                f"Item {self.item_id!r}: reason must be a Reason; got {describe(self.reason)}."
            )
        genres = self.genres
        if type(genres) is not tuple or not all(type(g) is str and g[:1].strip() for g in genres):
            where = f"Item {self.item_id!r}: genres"
            genres = check_tuple(genres, where)
            _set(self, "genres", tuple(check_str(g, where) for g in genres))

    @classmethod
    def trusted(
        cls,
        item_id: str | int,
        title: str,
        score: float,
        reason: Reason,
        genres: tuple[str, ...] = (),
    ) -> Item:
        """Build an item *without* validation, for a producer that guarantees the fields.

        The fields are stored as given: ``item_id`` a non-empty ``str`` or an ``int``,
        ``title`` a ``str`` not starting with whitespace, ``score`` a finite ``float``,
        ``reason`` a :class:`Reason`, ``genres`` a ``tuple`` of ``str``. The result equals
        ``Item(item_id, title, score, reason, genres)`` when those hold; nothing checks that
        they do (see :meth:`Reason.trusted`).

        Examples
        --------
        >>> r = Reason.trusted("popular", "Popular now (no personal data)")
        >>> Item.trusted(7, "Alien", 0.9, r, ("Sci-Fi",)) == Item(7, "Alien", 0.9, r, ["Sci-Fi"])
        True
        """
        obj = _new(cls)
        set_id, set_title, set_score, set_reason, set_genres = _ITEM_SET
        set_id(obj, item_id)
        set_title(obj, title)
        set_score(obj, score)
        set_reason(obj, reason)
        set_genres(obj, genres)
        return obj

    def to_dict(self) -> dict[str, Any]:
        """Return the item as plain JSON types."""
        from fairrec.page._serialize import item_to_dict

        return item_to_dict(self)

    def __str__(self) -> str:
        return f"{self.title} ({format_score(self.score)}): {self.reason.text}"


@dataclass(frozen=True, slots=True, repr=False)
class Row:
    """A titled row of the home page.

    Parameters
    ----------
    title : str
        Row title, e.g. ``"Because you watched Alien"``.
    kind : str
        Machine-readable row kind, e.g. ``"because_you_watched"``.
    items : tuple of Item
        Titles in display order (a list is stored as a tuple); no item id twice.
    reason : Reason or None, default None
        Row-level reason shown under the row title; each item carries its own.
    """

    title: str
    kind: str
    items: tuple[Item, ...]
    reason: Reason | None = None

    def __post_init__(self) -> None:
        _set(self, "title", check_str(self.title, "Row.title"))
        where = f"Row {self.title!r}"
        _set(self, "kind", check_str(self.kind, f"{where}: kind"))
        items = check_tuple(self.items, f"{where}: items")
        seen: set[str | int] = set()
        for position, item in enumerate(items):
            if not isinstance(item, Item):
                raise DataError(
                    f"{where}: items[{position}] must be an Item; got {describe(item)}."
                )
            if item.item_id in seen:
                raise DataError(f"{where}: item_id {item.item_id!r} appears twice.")
            seen.add(item.item_id)
        _set(self, "items", items)
        if self.reason is not None and not isinstance(self.reason, Reason):
            raise DataError(f"{where}: reason must be a Reason or None; got {self.reason!r}.")

    @classmethod
    def trusted(
        cls, title: str, kind: str, items: tuple[Item, ...], reason: Reason | None = None
    ) -> Row:
        """Build a row *without* validation, for a producer that guarantees the fields.

        The fields are stored as given: ``title`` and ``kind`` non-empty ``str``, ``items``
        a ``tuple`` of :class:`Item` with no item id twice, ``reason`` a :class:`Reason` or
        ``None``. Nothing checks that they are (see :meth:`Reason.trusted`).
        """
        obj = _new(cls)
        set_title, set_kind, set_items, set_reason = _ROW_SET
        set_title(obj, title)
        set_kind(obj, kind)
        set_items(obj, items)
        set_reason(obj, reason)
        return obj

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    @property
    def item_ids(self) -> tuple[str | int, ...]:
        """Item ids of the row, in display order."""
        return tuple(item.item_id for item in self.items)

    @property
    def data_used(self) -> tuple[str, ...]:
        """Data categories used by the row reason and its items' reasons, in first-seen order."""
        reasons = [self.reason] if self.reason is not None else []
        reasons += [item.reason for item in self.items]
        return tuple(dict.fromkeys(c for r in reasons for c in r.data_used))

    def to_dict(self) -> dict[str, Any]:
        """Return the row as plain JSON types."""
        from fairrec.page._serialize import row_to_dict

        return row_to_dict(self)

    def __repr__(self) -> str:
        return f"Row(title={self.title!r}, kind={self.kind!r}, items={len(self.items)})"

    def __str__(self) -> str:
        return "\n".join(row_lines(self, index=None, max_items=None, width=100))


# slot setters of the trusted constructors, in field order
_REASON_SET = tuple(Reason.__dict__[name].__set__ for name in Reason.__slots__)
_ITEM_SET = tuple(Item.__dict__[name].__set__ for name in Item.__slots__)
_ROW_SET = tuple(Row.__dict__[name].__set__ for name in Row.__slots__)
