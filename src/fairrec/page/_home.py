"""The home page object: :class:`HomePage`, its invariants, and its renderings.

A page refuses to be built if one of its reasons uses a data category that the page's own
``data_used`` does not declare, or if a title appears twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairrec._checks import check_int
from fairrec.errors import DataError
from fairrec.page._html import page_document, page_html
from fairrec.page._objects import Row
from fairrec.page._text import page_text
from fairrec.page._validate import (
    check_categories,
    check_consent_version,
    check_id,
    check_timestamp,
    check_tuple,
    describe,
)
from fairrec.page._validate import new as _new
from fairrec.page._validate import set_field as _set


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
    >>> from fairrec.page import HomePage, Item, Reason, Row
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
        _set(self, "user_id", check_id(self.user_id, "HomePage.user_id"))
        rows = check_tuple(self.rows, "HomePage.rows")
        for index, row in enumerate(rows):
            if not isinstance(row, Row):
                raise DataError(f"HomePage.rows[{index}] must be a Row; got {describe(row)}.")
        _set(self, "rows", rows)
        if not isinstance(self.personalized, (bool, np.bool_)):
            raise DataError(
                f"HomePage.personalized must be a bool; got {describe(self.personalized)}."
            )
        _set(self, "personalized", bool(self.personalized))
        _set(self, "data_used", check_categories(self.data_used, "HomePage.data_used"))
        if self.generated_at is not None:
            _set(self, "generated_at", check_timestamp(self.generated_at))
        if self.consent_version is not None:
            _set(self, "consent_version", check_consent_version(self.consent_version))
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
    def trusted(
        cls,
        user_id: str | int,
        rows: tuple[Row, ...],
        personalized: bool,
        data_used: tuple[str, ...],
        generated_at: pd.Timestamp | None = None,
        consent_version: int | None = None,
    ) -> HomePage:
        """Build a page *without* validation, for a producer that guarantees the fields.

        The fields are stored as given: ``user_id`` a non-empty ``str`` or an ``int``,
        ``rows`` a ``tuple`` of :class:`Row`, ``personalized`` a ``bool``, ``data_used`` a
        ``tuple`` of distinct categories naming every category any reason on the page uses,
        ``generated_at`` a ``pandas.Timestamp`` or ``None``, ``consent_version`` an ``int``
        or ``None``; no title twice on the page. Nothing checks that they are, so a
        producer that cannot promise the declaration of ``data_used`` must use the
        constructor, which refuses a page that understates the data it used. The
        Recommender builds its pages this way (see :meth:`Reason.trusted`).
        """
        obj = _new(cls)
        for setter, value in zip(
            _PAGE_SET, (user_id, rows, personalized, data_used, generated_at, consent_version)
        ):
            setter(obj, value)
        return obj

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
        from fairrec.page._serialize import page_from_dict

        return page_from_dict(d)

    @classmethod
    def from_json(cls, text: str | bytes) -> HomePage:
        """Build a page from :meth:`to_json` output; raises ``DataError`` on bad input."""
        from fairrec.page._serialize import page_from_json

        return page_from_json(text)

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
        joined with ``"|"``), ``evidence`` (the item reason's evidence as compact JSON, ``""``
        without). Ids keep their type (int or str). An empty page gives an empty frame with
        the same columns and dtypes. Written by :func:`frame_from_columns`.
        """
        from fairrec.page._frame import pages_to_frame

        return pages_to_frame((self,))

    def to_dict(self) -> dict[str, Any]:
        """Return the page as plain JSON types (str, int, float, bool, None, list, dict)."""
        from fairrec.page._serialize import page_to_dict

        return page_to_dict(self)

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
        max_items = check_int(
            max_items, "max_items", "HomePage.to_text", 0, none=True, expected="an int >= 0 or None"
        )
        width = check_int(width, "width", "HomePage.to_text", 40)
        return page_text(self, max_items=max_items, width=width)

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
        return page_html(self)

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
        return page_document(self, path)


_PAGE_SET = tuple(HomePage.__dict__[name].__set__ for name in HomePage.__slots__)
