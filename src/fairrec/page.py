"""Home page result objects: :class:`HomePage`, :class:`Row`, :class:`Item`, :class:`Reason`.

These are the immutable results of ``Recommender.home(viewer)``. They hold no model state
and render themselves four ways:

* ``to_frame()`` / :func:`pages_to_frame` -- one line per (row, position, item), with a fixed
  schema (:data:`FRAME_DTYPES`) that does not depend on the page's content;
* ``to_dict()`` / ``to_json()`` / ``from_dict()`` / ``from_json()`` -- plain JSON types for a
  backend, validated on the way back in;
* ``str(page)`` -- a compact terminal rendering;
* ``_repr_html_()`` / ``to_html()`` -- rows of cards for a notebook or a standalone file,
  every piece of text HTML-escaped, no scripts and no external resources.

Every item carries a :class:`Reason` saying *why* it is shown and *which data* was used, as
data categories such as :data:`DATA_WATCH_HISTORY`. A page refuses to be built if one of
its reasons uses a data category that the page's own ``data_used`` does not declare.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import os
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairrec._columns import ITEM, POSITION, ROW, SCORE, TITLE, USER
from fairrec.errors import DataError, param_error

__all__ = [
    "DATA_WATCH_HISTORY",
    "DATA_STATED_INTERESTS",
    "DATA_CATALOG_POPULARITY",
    "DATA_CATALOG_METADATA",
    "PERSONAL_DATA",
    "DATA_LABELS",
    "FRAME_COLUMNS",
    "FRAME_DTYPES",
    "Reason",
    "Item",
    "Row",
    "HomePage",
    "data_label",
    "describe_data_used",
    "pages_to_frame",
    "pages_to_html",
]

# --------------------------------------------------------------------------------------
# Data categories
# --------------------------------------------------------------------------------------

DATA_WATCH_HISTORY = "watch_history"
"""The viewer's own (consented, in-window) viewing history."""
DATA_STATED_INTERESTS = "stated_interests"
"""Zero-party data: genres or titles the viewer told us they like."""
DATA_CATALOG_POPULARITY = "catalog_popularity"
"""Aggregate popularity over all viewers: no personal data of this viewer."""
DATA_CATALOG_METADATA = "catalog_metadata"
"""The catalog's own metadata (genres, year): no personal data of this viewer."""

PERSONAL_DATA: frozenset[str] = frozenset({DATA_WATCH_HISTORY, DATA_STATED_INTERESTS})
"""Data categories that are personal data of the viewer."""

DATA_LABELS: Mapping[str, str] = {
    DATA_WATCH_HISTORY: "your watch history",
    DATA_STATED_INTERESTS: "your stated interests",
    DATA_CATALOG_POPULARITY: "no personal data",
    DATA_CATALOG_METADATA: "no personal data",
}
"""Human-readable label of each known data category, as shown to a viewer."""

_NO_PERSONAL_DATA = "no personal data"
_SEP = "|"  # separator of data categories in to_frame()'s "data_used" column

# --------------------------------------------------------------------------------------
# Frame schema
# --------------------------------------------------------------------------------------

FRAME_COLUMNS: tuple[str, ...] = (
    USER,
    ROW,
    "row_title",
    "row_kind",
    POSITION,
    ITEM,
    TITLE,
    SCORE,
    "reason_kind",
    "reason",
    "data_used",
    "evidence",
)
"""Columns of :meth:`HomePage.to_frame` and :func:`pages_to_frame`, in order."""

FRAME_DTYPES: Mapping[str, str] = {
    USER: "object",
    ROW: "int64",
    "row_title": "string",
    "row_kind": "string",
    POSITION: "int64",
    ITEM: "object",
    TITLE: "string",
    SCORE: "float64",
    "reason_kind": "string",
    "reason": "string",
    "data_used": "string",
    "evidence": "string",
}
"""dtype of every frame column; identical for an empty page.

Ids keep their type (``int`` or ``str``, as the :class:`~fairrec.data.Dataset` spells
them) in an ``object`` column, so a page frame joins with the data's own frames (and
:mod:`fairrec.metrics` works on it) without casts; ``data_used`` is the item reason's
categories joined with ``"|"``; ``evidence`` is the item reason's evidence as compact JSON
with sorted keys (``""`` without evidence).

``score`` has one meaning on every row of a page built by the Recommender: the title's
**relevance percentile among the viewer's candidates** -- ``1.0`` for the most relevant of
the ``n_candidates`` titles scored for the viewer (by the model; by popularity for a
non-personalized page), ``1 - r / n`` for the one ranked ``r``-th (0-based) of ``n``, and
``0.0`` for a title outside them (a stated-interest or genre title chosen from the rest of
the catalog). The row's own order is ``position``: rows re-rank for diversity, novelty or
an anchor, so scores need not decrease along a row.
"""


def data_label(category: str) -> str:
    """Return the human-readable label of one data category.

    Parameters
    ----------
    category : str
        A data category such as ``"watch_history"``.

    Returns
    -------
    str
        ``"your watch history"`` for :data:`DATA_WATCH_HISTORY`; an unknown category is
        shown with underscores replaced by spaces.

    Examples
    --------
    >>> data_label("stated_interests")
    'your stated interests'
    """
    return DATA_LABELS.get(category, category.replace("_", " "))


def describe_data_used(data_used: Iterable[str]) -> str:
    """Describe a set of data categories for a viewer, personal data first.

    Parameters
    ----------
    data_used : iterable of str
        Data categories.

    Returns
    -------
    str
        The distinct labels joined with ``", "`` and ``" and "``; ``"no personal data"``
        when no category is personal data of the viewer.

    Examples
    --------
    >>> describe_data_used(["watch_history", "catalog_popularity"])
    'your watch history'
    >>> describe_data_used(["stated_interests", "watch_history"])
    'your stated interests and your watch history'
    >>> describe_data_used([])
    'no personal data'
    """
    labels: list[str] = []
    for category in data_used:
        if category in DATA_LABELS and category not in PERSONAL_DATA:
            continue  # aggregate / catalog data: not worth naming next to personal data
        label = data_label(category)
        if label not in labels:
            labels.append(label)
    if not labels:
        return _NO_PERSONAL_DATA
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " and " + labels[-1]


# --------------------------------------------------------------------------------------
# Validation helpers (all raise DataError naming the field and the value)
# --------------------------------------------------------------------------------------


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _check_str(value: object, name: str, *, allow_empty: bool = False) -> str:
    if type(value) is str and (allow_empty or value[:1].strip()):
        return value  # fast path: a plain str that does not start with whitespace
    if not isinstance(value, str):
        raise DataError(f"{name} must be a str; got {_describe(value)}.")
    if not allow_empty and not value.strip():
        raise DataError(f"{name} must be a non-empty str; got {value!r}.")
    return str(value)  # plain str, also for numpy.str_


def _check_id(value: object, name: str) -> str | int:
    if (type(value) is str and value) or type(value) is int:
        return value  # fast path
    if isinstance(value, str):
        if not value:
            raise DataError(f"{name} must be a non-empty str or an int; got ''.")
        return str(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise DataError(f"{name} must be a str or an int; got {_describe(value)}.")
    return int(value)


def _check_tuple(value: object, name: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise DataError(f"{name} must be a tuple or list; got {_describe(value)}.")
    return tuple(value)


def _check_categories(value: object, name: str) -> tuple[str, ...]:
    out: list[str] = []
    for i, category in enumerate(_check_tuple(value, name)):
        category = _check_str(category, f"{name}[{i}]")
        if _SEP in category:
            raise DataError(f"{name}[{i}] must not contain {_SEP!r}; got {category!r}.")
        if category not in out:
            out.append(category)
    return tuple(out)


def _check_score(value: object, name: str) -> float:
    if type(value) is float and math.isfinite(value):
        return value  # fast path
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise DataError(f"{name} must be a real number; got {_describe(value)}.")
    score = float(value)
    if not math.isfinite(score):
        raise DataError(f"{name} must be finite; got {score!r}.")
    return score


def _check_evidence(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise DataError(f"{name} must be a dict or None; got {_describe(value)}.")
    try:
        text = json.dumps(dict(value), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must hold JSON values only (str keys); {exc}.") from None
    return json.loads(text)


def _evidence_json(reason: Reason) -> str:
    """The reason's evidence as compact JSON (``""`` for none): the frame's column."""
    ev = reason.evidence
    if ev is None:
        return ""
    return json.dumps(ev, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # normalise a field of a frozen dataclass


def _trusted(cls: type, **fields: Any) -> Any:
    """Build a result object *without* validation, for producers that already guarantee
    the types (the Recommender: str titles, float scores, tuples). ~10x cheaper than the
    validating constructor on a 120-title page. Not public: users get validation."""
    obj = object.__new__(cls)
    for name, value in fields.items():
        object.__setattr__(obj, name, value)
    return obj


# --------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------


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
        _set(self, "kind", _check_str(self.kind, "Reason.kind"))
        _set(self, "text", _check_str(self.text, "Reason.text"))
        _set(self, "data_used", _check_categories(self.data_used, "Reason.data_used"))
        if self.anchor is not None:
            _set(self, "anchor", _check_str(self.anchor, "Reason.anchor"))
        if self.evidence is not None:
            _set(self, "evidence", _check_evidence(self.evidence, "Reason.evidence"))

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
        out = {
            "kind": self.kind,
            "text": self.text,
            "data_used": list(self.data_used),
            "anchor": self.anchor,
        }
        if self.evidence is not None:
            out["evidence"] = json.loads(_evidence_json(self))
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reason:
        """Build a reason from :meth:`to_dict` output; raises ``DataError`` on bad input."""
        return _reason_from_dict(d, "reason")

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
            _set(self, "item_id", _check_id(item_id, "Item.item_id"))
        title = self.title
        if type(title) is not str or not title[:1].strip():
            _set(self, "title", _check_str(title, f"Item {self.item_id!r}: title"))
        score = self.score
        if type(score) is not float or not math.isfinite(score):
            _set(self, "score", _check_score(score, f"Item {self.item_id!r}: score"))
        if type(self.reason) is not Reason and not isinstance(self.reason, Reason):
            raise DataError(
                f"Item {self.item_id!r}: reason must be a Reason; got {_describe(self.reason)}."
            )
        genres = self.genres
        if type(genres) is not tuple or not all(type(g) is str and g[:1].strip() for g in genres):
            where = f"Item {self.item_id!r}: genres"
            genres = _check_tuple(genres, where)
            _set(self, "genres", tuple(_check_str(g, where) for g in genres))

    def to_dict(self) -> dict[str, Any]:
        """Return the item as plain JSON types."""
        return {
            "item_id": self.item_id,
            "title": self.title,
            "score": self.score,
            "genres": list(self.genres),
            "reason": self.reason.to_dict(),
        }

    def __str__(self) -> str:
        return f"{self.title} ({_format_score(self.score)}): {self.reason.text}"


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
        _set(self, "title", _check_str(self.title, "Row.title"))
        where = f"Row {self.title!r}"
        _set(self, "kind", _check_str(self.kind, f"{where}: kind"))
        items = _check_tuple(self.items, f"{where}: items")
        seen: set[str | int] = set()
        for position, item in enumerate(items):
            if not isinstance(item, Item):
                raise DataError(
                    f"{where}: items[{position}] must be an Item; got {_describe(item)}."
                )
            if item.item_id in seen:
                raise DataError(f"{where}: item_id {item.item_id!r} appears twice.")
            seen.add(item.item_id)
        _set(self, "items", items)
        if self.reason is not None and not isinstance(self.reason, Reason):
            raise DataError(f"{where}: reason must be a Reason or None; got {self.reason!r}.")

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
        return {
            "title": self.title,
            "kind": self.kind,
            "reason": None if self.reason is None else self.reason.to_dict(),
            "items": [item.to_dict() for item in self.items],
        }

    def __repr__(self) -> str:
        return f"Row(title={self.title!r}, kind={self.kind!r}, items={len(self.items)})"

    def __str__(self) -> str:
        return "\n".join(_row_lines(self, index=None, max_items=None, width=100))


@dataclass(frozen=True, slots=True, repr=False)
class HomePage:
    """A viewer's home page: titled rows of titles, each with a reason.

    Parameters
    ----------
    user_id : str or int
        External id of the viewer.
    rows : tuple of Row
        Rows in display order (a list is stored as a tuple). No item id may appear twice on
        a page.
    personalized : bool
        Whether the page was built from the viewer's own data.
    data_used : tuple of str
        Data categories used anywhere on the page. Must include every category named by a
        row or item reason, otherwise ``DataError`` is raised: a page never understates the
        data it used.
    generated_at : pandas.Timestamp or None, default None
        When the page was built (anything ``pandas.Timestamp`` accepts).
    consent_version : int or None, default None
        Version of the viewer's consent record the page was built under.

    Examples
    --------
    >>> because = Reason("because_you_watched",
    ...                  "Because you watched Alien (your watch history)",
    ...                  ("watch_history",), anchor="Alien")
    >>> row = Row("Because you watched Alien", "because_you_watched",
    ...           (Item("i2", "Aliens", 0.93, because, ("Sci-Fi",)),))
    >>> page = HomePage("u42", (row,), personalized=True, data_used=("watch_history",))
    >>> page.rows[0].items[0].reason.text
    'Because you watched Alien (your watch history)'
    >>> page.items
    ('i2',)
    """

    user_id: str | int
    rows: tuple[Row, ...]
    personalized: bool
    data_used: tuple[str, ...]
    generated_at: pd.Timestamp | None = None
    consent_version: int | None = None

    def __post_init__(self) -> None:
        _set(self, "user_id", _check_id(self.user_id, "HomePage.user_id"))
        rows = _check_tuple(self.rows, "HomePage.rows")
        for index, row in enumerate(rows):
            if not isinstance(row, Row):
                raise DataError(f"HomePage.rows[{index}] must be a Row; got {_describe(row)}.")
        _set(self, "rows", rows)
        if not isinstance(self.personalized, (bool, np.bool_)):
            raise DataError(
                f"HomePage.personalized must be a bool; got {_describe(self.personalized)}."
            )
        _set(self, "personalized", bool(self.personalized))
        _set(self, "data_used", _check_categories(self.data_used, "HomePage.data_used"))
        if self.generated_at is not None:
            _set(self, "generated_at", _check_timestamp(self.generated_at))
        if self.consent_version is not None:
            version = self.consent_version
            if isinstance(version, (bool, np.bool_)) or not isinstance(version, numbers.Integral):
                raise DataError(
                    f"HomePage.consent_version must be an int or None; got {_describe(version)}."
                )
            _set(self, "consent_version", int(version))
        self._check_page()

    def _check_page(self) -> None:
        declared = set(self.data_used)
        first_row: dict[str | int, int] = {}
        for index, row in enumerate(self.rows):
            missing = [c for c in row.data_used if c not in declared]
            if missing:
                raise DataError(
                    f"HomePage for user {self.user_id!r}: row {index} ({row.title!r}) uses data "
                    f"{missing} that the page's data_used {list(self.data_used)} does not declare."
                )
            for item in row.items:
                if item.item_id in first_row:
                    raise DataError(
                        f"HomePage for user {self.user_id!r}: item_id {item.item_id!r} appears "
                        f"in row {first_row[item.item_id]} and in row {index}; a title may "
                        "appear only once on a page."
                    )
                first_row[item.item_id] = index

    # -- construction -------------------------------------------------------------------

    @classmethod
    def empty(
        cls,
        user_id: str | int,
        *,
        personalized: bool = False,
        data_used: Iterable[str] = (),
        generated_at: pd.Timestamp | None = None,
        consent_version: int | None = None,
    ) -> HomePage:
        """Return a page with no rows for ``user_id``.

        Examples
        --------
        >>> HomePage.empty("u1").to_frame().shape
        (0, 12)
        """
        return cls(
            user_id,
            (),
            personalized=personalized,
            data_used=tuple(data_used),
            generated_at=generated_at,
            consent_version=consent_version,
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HomePage:
        """Build a page from :meth:`to_dict` output (or parsed JSON).

        Raises
        ------
        DataError
            If a key is missing or unknown, or a value has the wrong type; the message
            names the path, e.g. ``rows[1].items[0].score``.
        """
        return _page_from_dict(d)

    @classmethod
    def from_json(cls, text: str | bytes) -> HomePage:
        """Build a page from :meth:`to_json` output; raises ``DataError`` on bad input."""
        try:
            d = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise DataError(f"HomePage.from_json: not valid JSON ({exc}).") from None
        return _page_from_dict(d)

    # -- accessors ----------------------------------------------------------------------

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    @property
    def items(self) -> tuple[str | int, ...]:
        """All item ids on the page, row by row, in display order."""
        return tuple(item.item_id for row in self.rows for item in row.items)

    # -- renderers ----------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """Return one line per (row, position, item), with the schema of :data:`FRAME_DTYPES`.

        Columns: ``user_id``, ``row`` (0-based row index), ``row_title``, ``row_kind``,
        ``position`` (0-based within the row), ``item_id``, ``title``, ``score``,
        ``reason_kind``, ``reason`` (text), ``data_used`` (the item reason's categories
        joined with ``"|"``). Ids keep their type (int or str). An empty page gives an empty frame with the
        same columns and dtypes.
        """
        return pages_to_frame((self,))

    def to_dict(self) -> dict[str, Any]:
        """Return the page as plain JSON types (str, int, float, bool, None, list, dict)."""
        return {
            "schema_version": _SCHEMA_VERSION,
            "user_id": self.user_id,
            "personalized": self.personalized,
            "data_used": list(self.data_used),
            "generated_at": None if self.generated_at is None else self.generated_at.isoformat(),
            "consent_version": self.consent_version,
            "rows": [row.to_dict() for row in self.rows],
        }

    def to_json(self, **kwargs: Any) -> str:
        """Return :meth:`to_dict` as a JSON string; ``kwargs`` go to :func:`json.dumps`."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_text(self, *, max_items: int | None = 10, width: int = 100) -> str:
        """Return a terminal rendering: row titles, then numbered titles with reasons.

        Each row prints its reason once under its title ("why: ..."); a title's own reason
        is printed under the title only where it differs from the row's reason.

        Parameters
        ----------
        max_items : int or None, default 10
            Titles shown per row; the rest are summarised as ``"... and 5 more"``.
        width : int, default 100
            Maximum line width (at least 40); long titles are cut with ``"…"``, long
            reasons wrap onto the next lines.
        """
        if max_items is not None and (
            isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0
        ):
            raise param_error("max_items", "HomePage.to_text", "an int >= 0 or None", max_items)
        if isinstance(width, bool) or not isinstance(width, int) or width < 40:
            raise param_error("width", "HomePage.to_text", "an int >= 40", width)
        mode = "personalized" if self.personalized else "not personalized"
        lines = _wrap(
            f"Home page for viewer {self.user_id} · {mode} · built from "
            f"{describe_data_used(self.data_used)}",
            width,
            "",
        )
        extras = []
        if self.generated_at is not None:
            extras.append(f"generated {self.generated_at.isoformat()}")
        if self.consent_version is not None:
            extras.append(f"consent version {self.consent_version}")
        if extras:
            lines.append(_cut(" · ".join(extras), width))
        if not self.rows:
            lines.append("(no rows)")
        for index, row in enumerate(self.rows):
            lines.append("")
            lines.extend(_row_lines(row, index=index, max_items=max_items, width=width))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        n_items = sum(len(row.items) for row in self.rows)
        return (
            f"HomePage(user_id={self.user_id!r}, rows={len(self.rows)}, items={n_items}, "
            f"personalized={self.personalized}, data_used={self.data_used!r})"
        )

    def _repr_html_(self) -> str:
        """Return a self-contained HTML fragment: each row a strip of cards."""
        return _page_html(self)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """Return a standalone HTML document of the page (inline CSS, no external resources).

        Parameters
        ----------
        path : str or path-like, optional
            If given, the document is also written there (UTF-8).

        Returns
        -------
        str
            The HTML document.
        """
        document = _document(f"fairrec home page · viewer {self.user_id}", _page_html(self))
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(document)
        return document


_SCHEMA_VERSION = 1

# --------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------


def _document(title: str, body: str) -> str:
    """A standalone HTML document (inline CSS only, nothing external may load)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{margin:0;padding:20px;background:#e9ecef}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def pages_to_html(pages: Iterable[HomePage], path: str | os.PathLike[str] | None = None) -> str:
    """One standalone HTML document showing several pages one under the other.

    Parameters
    ----------
    pages : iterable of HomePage
    path : str or path-like, optional
        If given, the document is also written there (UTF-8).
    """
    pages = list(pages)
    body = "\n".join(_page_html(p) for p in pages)
    document = _document(f"fairrec home pages · {len(pages)} viewer(s)", body)
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(document)
    return document


def pages_to_frame(pages: Iterable[HomePage]) -> pd.DataFrame:
    """Concatenate many pages into one frame with the schema of :meth:`HomePage.to_frame`.

    Columns are built from flat lists in one pass, not by concatenating per-page frames.

    Parameters
    ----------
    pages : iterable of HomePage
        Pages, e.g. one per viewer of a batch.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FRAME_COLUMNS` with dtypes :data:`FRAME_DTYPES`, a ``RangeIndex``;
        empty (with the same schema) when there are no items.
    """
    if isinstance(pages, HomePage):
        pages = (pages,)
    users: list[str] = []
    row_idx: list[int] = []
    row_titles: list[str] = []
    row_kinds: list[str] = []
    positions: list[int] = []
    item_ids: list[str] = []
    titles: list[str] = []
    scores: list[float] = []
    reason_kinds: list[str] = []
    reasons: list[str] = []
    data_used: list[str] = []
    evidence: list[str] = []
    joined: dict[tuple[str, ...], str] = {}
    for page_no, page in enumerate(pages):
        if not isinstance(page, HomePage):
            raise DataError(f"pages[{page_no}] must be a HomePage; got {_describe(page)}.")
        user = page.user_id
        for index, row in enumerate(page.rows):
            n = len(row.items)
            if n == 0:
                continue
            users.extend([user] * n)
            row_idx.extend([index] * n)
            row_titles.extend([row.title] * n)
            row_kinds.extend([row.kind] * n)
            positions.extend(range(n))
            for item in row.items:
                reason = item.reason
                item_ids.append(item.item_id)
                titles.append(item.title)
                scores.append(item.score)
                reason_kinds.append(reason.kind)
                reasons.append(reason.text)
                cats = reason.data_used
                text = joined.get(cats)
                if text is None:
                    text = joined[cats] = _SEP.join(cats)
                data_used.append(text)
                evidence.append(_evidence_json(reason))
    columns = {
        USER: users,
        ROW: row_idx,
        "row_title": row_titles,
        "row_kind": row_kinds,
        POSITION: positions,
        ITEM: item_ids,
        TITLE: titles,
        SCORE: scores,
        "reason_kind": reason_kinds,
        "reason": reasons,
        "data_used": data_used,
        "evidence": evidence,
    }
    return pd.DataFrame(
        {name: _column(values, FRAME_DTYPES[name]) for name, values in columns.items()}
    )


def _column(values: list[Any], dtype: str) -> Any:
    if dtype == "string":
        return pd.array(values, dtype="string")
    if dtype == "object":
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return pd.Series(out, dtype=object)  # pandas >= 3 would infer "str" from an array
    return np.asarray(values, dtype=dtype)


# --------------------------------------------------------------------------------------
# from_dict
# --------------------------------------------------------------------------------------


def _check_keys(d: object, path: str, required: set[str], optional: set[str]) -> Mapping:
    if not isinstance(d, Mapping):
        raise DataError(f"{path} must be a dict; got {_describe(d)}.")
    missing = sorted(required - set(d))
    if missing:
        raise DataError(f"{path} is missing key(s) {missing}.")
    unknown = sorted(map(str, set(d) - required - optional))
    if unknown:
        raise DataError(f"{path} has unknown key(s) {unknown}.")
    return d


def _list_at(value: object, path: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{path} must be a list; got {_describe(value)}.")
    return list(value)


def _at(path: str, build: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return build(*args, **kwargs)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def _reason_from_dict(d: object, path: str) -> Reason:
    d = _check_keys(d, path, {"kind", "text"}, {"data_used", "anchor", "evidence"})
    data_used = _list_at(d.get("data_used", []), f"{path}.data_used")
    return _at(
        path, Reason, d["kind"], d["text"], tuple(data_used), d.get("anchor"), d.get("evidence")
    )


def _item_from_dict(d: object, path: str) -> Item:
    d = _check_keys(d, path, {"item_id", "title", "score", "reason"}, {"genres"})
    reason = _reason_from_dict(d["reason"], f"{path}.reason")
    genres = _list_at(d.get("genres", []), f"{path}.genres")
    return _at(path, Item, d["item_id"], d["title"], d["score"], reason, tuple(genres))


def _row_from_dict(d: object, path: str) -> Row:
    d = _check_keys(d, path, {"title", "kind", "items"}, {"reason"})
    raw_items = _list_at(d["items"], f"{path}.items")
    items = tuple(_item_from_dict(it, f"{path}.items[{i}]") for i, it in enumerate(raw_items))
    raw_reason = d.get("reason")
    reason = None if raw_reason is None else _reason_from_dict(raw_reason, f"{path}.reason")
    return _at(path, Row, d["title"], d["kind"], items, reason)


def _page_from_dict(d: object) -> HomePage:
    path = "page"
    d = _check_keys(
        d,
        path,
        {"user_id", "rows", "personalized", "data_used"},
        {"schema_version", "generated_at", "consent_version"},
    )
    version = d.get("schema_version", _SCHEMA_VERSION)
    if version != _SCHEMA_VERSION or isinstance(version, bool):
        raise DataError(f"page.schema_version must be {_SCHEMA_VERSION}; got {_describe(version)}.")
    raw_rows = _list_at(d["rows"], "page.rows")
    rows = tuple(_row_from_dict(r, f"page.rows[{i}]") for i, r in enumerate(raw_rows))
    data_used = _list_at(d["data_used"], "page.data_used")
    return _at(
        path,
        HomePage,
        d["user_id"],
        rows,
        personalized=d["personalized"],
        data_used=tuple(data_used),
        generated_at=d.get("generated_at"),
        consent_version=d.get("consent_version"),
    )


def _check_timestamp(value: object) -> pd.Timestamp:
    if isinstance(value, (bool, np.bool_, numbers.Number)):
        raise DataError(f"HomePage.generated_at must be a timestamp; got {_describe(value)}.")
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"HomePage.generated_at must be a timestamp; got {_describe(value)} ({exc})."
        ) from None
    if ts is pd.NaT or pd.isna(ts):
        raise DataError(f"HomePage.generated_at must be a timestamp; got {_describe(value)}.")
    return ts


# --------------------------------------------------------------------------------------
# Text rendering
# --------------------------------------------------------------------------------------


def _format_score(score: float) -> str:
    if abs(score) >= 1e15 or (score != 0 and abs(score) < 0.001):
        return f"{score:.2e}"
    if abs(score) >= 1000:
        return f"{score:,.0f}"
    return f"{score:.3f}"


def _clean(text: str) -> str:
    return " ".join(text.split())  # no newlines or tabs from a catalog in a terminal line


def _cut(text: str, width: int) -> str:
    text = _clean(text)
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _wrap(text: str, width: int, indent: str, label: str = "") -> list[str]:
    """Wrap ``label + text`` to ``width``; continuation lines align after the label."""
    return textwrap.wrap(
        _clean(text),
        width,
        initial_indent=indent + label,
        subsequent_indent=" " * len(indent + label),
        break_on_hyphens=False,
    ) or [indent + label]


def _row_lines(row: Row, *, index: int | None, max_items: int | None, width: int) -> list[str]:
    """Row header, its reason, then one line per title; a title's reason is printed under it
    only when it differs from the row's reason (which is printed once, above)."""
    head = _clean(row.title) if index is None else f"{index + 1}. {_clean(row.title)}"
    lines = [_cut(f"{head}  [{row.kind}, {len(row.items)} titles]", width)]
    row_reason = None if row.reason is None else row.reason.text
    if row_reason is not None:
        lines.extend(_wrap(row_reason, width, "   ", "why: "))
    shown = row.items if max_items is None else row.items[:max_items]
    scores = [_format_score(item.score) for item in shown]
    score_width = max(map(len, scores), default=0)
    number_width = len(str(len(shown)))
    prefix = 3 + number_width + 2  # "   12. "
    title_width = max(
        min(
            max((len(_clean(it.title)) for it in shown), default=0),
            width - prefix - score_width - 2,
        ),
        10,
    )
    for position, (item, score) in enumerate(zip(shown, scores), start=1):
        title = _cut(item.title, title_width).ljust(title_width)
        lines.append(f"   {position:>{number_width}}. {title}  {score:>{score_width}}".rstrip())
        if item.reason.text != row_reason:
            lines.extend(_wrap(item.reason.text, width, " " * prefix, "why: "))
    hidden = len(row.items) - len(shown)
    if hidden > 0:
        lines.append(f"   ... and {hidden} more")
    if not row.items:
        lines.append("   (empty row)")
    return lines


# --------------------------------------------------------------------------------------
# HTML rendering
# --------------------------------------------------------------------------------------

_CSS = """
.frp-page{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif;color:#1f2328;background:#f6f8fa;border:1px solid #d0d7de;border-radius:10px;
padding:14px 18px 10px;margin:4px 0;max-width:100%;box-sizing:border-box;line-height:1.35}
.frp-page *{box-sizing:border-box}
.frp-head{font-size:13px;color:#57606a;margin:0 0 4px}
.frp-head b{color:#1f2328;font-size:15px}
.frp-badge{display:inline-block;font-size:11.5px;border-radius:10px;padding:1px 8px;
margin-left:6px;background:#eaeef2;color:#24292f;border:1px solid #d0d7de}
.frp-badge.frp-personal{background:#ddf4ff;border-color:#b6e3ff;color:#0a3069}
.frp-row{margin:9px 0 4px}
.frp-row-title{font-size:16px;font-weight:650;margin:0;color:#1f2328}
.frp-row-kind{font-size:11px;font-weight:400;color:#6e7781;margin-left:8px}
.frp-row-reason{font-size:12.5px;color:#57606a;margin:0 0 6px}
.frp-strip{display:flex;gap:10px;overflow-x:auto;list-style:none;margin:0;padding:0 0 4px}
.frp-card{flex:0 0 212px;background:#fff;border:1px solid #d0d7de;border-radius:8px;
padding:7px 10px 8px;display:flex;flex-direction:column;gap:4px;
border-top:4px solid #8c959f}
.frp-card.frp-d-watch_history{border-top-color:#0969da}
.frp-card.frp-d-stated_interests{border-top-color:#8250df}
.frp-top{display:flex;justify-content:space-between;align-items:baseline;gap:6px}
.frp-pos{font-size:11px;color:#6e7781}
.frp-score{font-size:11px;color:#6e7781;font-variant-numeric:tabular-nums}
.frp-title{font-weight:600;font-size:14px;line-height:1.25;color:#1f2328;overflow:hidden;
display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;word-break:break-word}
.frp-genres{display:flex;flex-wrap:wrap;gap:3px}
.frp-genre{font-size:10.5px;background:#eaeef2;color:#424a53;border-radius:9px;
padding:0 6px}
.frp-reason{font-size:11.5px;line-height:1.3;color:#24292f;margin-top:auto;overflow-wrap:anywhere}
.frp-empty{font-size:13px;color:#6e7781;font-style:italic}
"""
_CSS = " ".join(line.strip() for line in _CSS.strip().splitlines())


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _css_token(category: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "-" for ch in category)


def _relevance_label(score: float) -> str:
    """A card's score as what it means: the relevance percentile among the viewer's
    candidates (``"top 3 %"``); a score outside [0, 1] is not a percentile and is shown as
    a plain number."""
    if 0.0 <= score <= 1.0:
        if score == 0.0:
            return "outside your top candidates"
        return f"top {max(1, math.ceil(100 * (1.0 - score))):d} %"
    return f"score {_format_score(score)}"


def _card_html(position: int, item: Item, row_reason: str | None = None) -> str:
    """One card; the item's reason is printed only when it says more than the row's."""
    reason = item.reason
    classes = " ".join(["frp-card", *(f"frp-d-{_css_token(c)}" for c in reason.data_used)])
    genres = "".join(f'<span class="frp-genre">{_esc(g)}</span>' for g in item.genres)
    own = (
        f'<div class="frp-reason" title="data used: {_esc(reason.data_text)}">'
        f"{_esc(reason.text)}</div>"
        if reason.text != row_reason
        else ""
    )
    return (
        f'<li class="{classes}" data-item-id="{_esc(item.item_id)}" '
        f'data-reason-kind="{_esc(reason.kind)}">'
        f'<div class="frp-top"><span class="frp-pos">#{position + 1}</span>'
        f'<span class="frp-score" title="relevance among your candidates">'
        f"{_esc(_relevance_label(item.score))}</span>"
        "</div>"
        f'<div class="frp-title" title="{_esc(item.title)}">{_esc(item.title)}</div>'
        f'<div class="frp-genres">{genres}</div>'
        f"{own}"
        "</li>"
    )


def _row_html(index: int, row: Row) -> str:
    parts = [
        f'<section class="frp-row" data-row="{index}" data-row-kind="{_esc(row.kind)}">',
        f'<div class="frp-row-title" role="heading" aria-level="3">{_esc(row.title)}'
        f'<span class="frp-row-kind">{_esc(row.kind)}</span></div>',
    ]
    if row.reason is not None:
        parts.append(f'<p class="frp-row-reason">{_esc(row.reason.text)}</p>')
    if row.items:
        row_text = None if row.reason is None else row.reason.text
        cards = "".join(_card_html(pos, item, row_text) for pos, item in enumerate(row.items))
        parts.append(f'<ol class="frp-strip">{cards}</ol>')
    else:
        parts.append('<p class="frp-empty">(empty row)</p>')
    parts.append("</section>")
    return "".join(parts)


def _page_html(page: HomePage) -> str:
    personal = any(c in PERSONAL_DATA for c in page.data_used)
    badge_class = "frp-badge frp-personal" if personal else "frp-badge"
    mode = "personalized" if page.personalized else "not personalized"
    extras = []
    if page.generated_at is not None:
        extras.append(f"generated {page.generated_at.isoformat()}")
    if page.consent_version is not None:
        extras.append(f"consent version {page.consent_version}")
    extra = "".join(f" · {_esc(e)}" for e in extras)
    head = (
        f'<div class="frp-head"><b>Home page for viewer {_esc(page.user_id)}</b>'
        f'<span class="frp-badge">{_esc(mode)}</span>'
        f'<span class="{badge_class}">built from {_esc(describe_data_used(page.data_used))}'
        f"</span>{extra}</div>"
    )
    body = "".join(_row_html(i, row) for i, row in enumerate(page.rows))
    if not page.rows:
        body = '<p class="frp-empty">No rows on this page.</p>'
    return (
        f'<div class="frp-page" data-user-id="{_esc(page.user_id)}">'
        f"<style>{_CSS}</style>{head}{body}</div>"
    )


_new = object.__new__
_REASON_SET = tuple(Reason.__dict__[name].__set__ for name in Reason.__slots__)
_ITEM_SET = tuple(Item.__dict__[name].__set__ for name in Item.__slots__)


def _new_reason(
    kind: str,
    text: str,
    data_used: tuple[str, ...],
    anchor: str | None,
    evidence: dict[str, Any] | None = None,
) -> Reason:
    """Trusted positional :class:`Reason` (see :func:`_trusted`), through the slot setters."""
    obj = _new(Reason)
    set_kind, set_text, set_data, set_anchor, set_evidence = _REASON_SET
    set_kind(obj, kind)
    set_text(obj, text)
    set_data(obj, data_used)
    set_anchor(obj, anchor)
    set_evidence(obj, evidence)
    return obj


def _new_item(item_id: Any, title: str, score: float, reason: Reason, genres: tuple) -> Item:
    """Trusted positional :class:`Item` (see :func:`_trusted`), through the slot setters."""
    obj = _new(Item)
    set_id, set_title, set_score, set_reason, set_genres = _ITEM_SET
    set_id(obj, item_id)
    set_title(obj, title)
    set_score(obj, score)
    set_reason(obj, reason)
    set_genres(obj, genres)
    return obj
