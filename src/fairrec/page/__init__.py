"""Home page result objects: :class:`HomePage`, :class:`Row`, :class:`Item`, :class:`Reason`.

These are the immutable results of ``Recommender.home(viewer)``. They hold no model state
and render themselves four ways:

* ``to_frame()`` / :func:`pages_to_frame` -- one line per (row, position, item), with a fixed
  schema (:data:`FRAME_DTYPES`) that does not depend on the page's content, written by the
  one frame writer :func:`frame_from_columns` (also used by the Recommender's batch pages);
* ``to_dict()`` / ``to_json()`` / ``from_dict()`` / ``from_json()`` -- plain JSON types for a
  backend, validated on the way back in;
* ``str(page)`` -- a compact terminal rendering;
* ``_repr_html_()`` / ``to_html()`` -- rows of cards for a notebook or a standalone file,
  every piece of text HTML-escaped, no scripts and no external resources.

Every item carries a :class:`Reason` saying *why* it is shown and *which data* was used, as
data categories such as :data:`DATA_WATCH_HISTORY`; :func:`data_label` is the one table of
how a category is named in front of a viewer. A page refuses to be built if one of its
reasons uses a data category that the page's own ``data_used`` does not declare.

The objects validate every field when constructed; a producer that already guarantees the
fields (the Recommender) builds them with ``Reason.trusted``, ``Item.trusted``,
``Row.trusted`` and ``HomePage.trusted``.

The package's files, one job each: ``_schema`` (data categories, labels, frame schema),
``_validate`` (field checks), ``_objects`` (:class:`Reason`, :class:`Item`, :class:`Row`),
``_home`` (:class:`HomePage`), ``_serialize`` (dicts and JSON), ``_text`` (terminal),
``_html`` (HTML and CSS) and ``_frame`` (the frame writer).
"""

from __future__ import annotations

from fairrec.page._frame import frame_from_columns, pages_to_frame
from fairrec.page._home import HomePage
from fairrec.page._html import pages_to_html
from fairrec.page._objects import Item, Reason, Row
from fairrec.page._schema import (
    DATA_CATALOG_METADATA,
    DATA_CATALOG_POPULARITY,
    DATA_LABELS,
    DATA_STATED_INTERESTS,
    DATA_WATCH_HISTORY,
    FRAME_COLUMNS,
    FRAME_DTYPES,
    PERSONAL_DATA,
    data_label,
    data_used_cell,
    describe_data_used,
    evidence_cell,
)

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
    "data_used_cell",
    "evidence_cell",
    "frame_from_columns",
    "pages_to_frame",
    "pages_to_html",
]
