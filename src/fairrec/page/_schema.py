"""Data categories, their viewer-facing labels, and the page frame's schema.

The single table of what each data category is called in front of a viewer
(:data:`DATA_LABELS`, :func:`data_label`), and the single definition of the page frame:
its columns (:data:`FRAME_COLUMNS`), their dtypes (:data:`FRAME_DTYPES`) and how the two
composite cells are written (:func:`data_used_cell`, :func:`evidence_cell`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from fairrec._columns import ITEM, POSITION, ROW, SCORE, TITLE, USER

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

#: what a reason that uses no personal data of the viewer says it used
NO_PERSONAL_DATA = "no personal data"

DATA_LABELS: Mapping[str, str] = {
    DATA_WATCH_HISTORY: "your watch history",
    DATA_STATED_INTERESTS: "your stated interests",
    DATA_CATALOG_POPULARITY: NO_PERSONAL_DATA,
    DATA_CATALOG_METADATA: NO_PERSONAL_DATA,
}
"""Human-readable label of each known data category, as shown to a viewer."""

#: separator of data categories in the frame's ``data_used`` column; a category may not
#: contain it (the objects refuse one that does)
SEP = "|"
#: version of the JSON form written by ``HomePage.to_dict``
SCHEMA_VERSION = 1


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
        return NO_PERSONAL_DATA
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " and " + labels[-1]


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

#: one encoder for every evidence cell (``json.dumps`` with options builds one per call)
_EVIDENCE_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)

#: a sample with every kind of value evidence holds, to check the quick encoder against
_SAMPLE_EVIDENCE = {
    "z": [1, "x\u00e9\n\"", None, True, 2.5e-07],
    "a": {"b": -0.123456, "c": 10**20},
    "m": 1.0,
    "é": "ü",
}


def _quick_encoder() -> Any:
    """``_EVIDENCE_ENCODER.encode`` without the per-call set-up (a new C encoder and a
    circular-reference table each call): the C encoder ``encode`` builds, built once and
    without the circular check (evidence is a tree of JSON values). None where this
    Python's ``json`` has no C encoder, builds it with other arguments, or gives another
    text than ``encode`` for the sample (then ``encode`` is used)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    enc = _EVIDENCE_ENCODER
    try:
        run = make(
            None, enc.default, json.encoder.encode_basestring_ascii, None,
            enc.key_separator, enc.item_separator, True, False, False,
        )  # fmt: skip

        def quick(evidence: Any) -> str:
            return "".join(run(evidence, 0))

        if quick(_SAMPLE_EVIDENCE) != enc.encode(_SAMPLE_EVIDENCE):
            return None
        quick({"x": float("nan")})
    except ValueError:  # refuses NaN, as ``encode`` does
        return quick
    except Exception:  # noqa: BLE001 - any other behaviour: keep ``encode``
        return None
    return None  # accepted NaN: not the encoder ``encode`` uses


_QUICK_ENCODE = _quick_encoder()


def data_used_cell(data_used: Iterable[str]) -> str:
    """Return the frame's ``data_used`` cell of a reason's data categories.

    Parameters
    ----------
    data_used : iterable of str
        Data categories, in the reason's order.

    Returns
    -------
    str
        The categories joined with ``"|"`` (``""`` for none).

    Examples
    --------
    >>> data_used_cell(("watch_history", "stated_interests"))
    'watch_history|stated_interests'
    """
    return SEP.join(data_used)


def evidence_cell(evidence: Mapping[str, Any] | None) -> str:
    """Return the frame's ``evidence`` cell of a reason's evidence.

    Parameters
    ----------
    evidence : dict or None
        The reason's evidence (JSON values only).

    Returns
    -------
    str
        Compact JSON with sorted keys; ``""`` for ``None``.

    Examples
    --------
    >>> evidence_cell({"watchers": 31, "liked_share": 0.5})
    '{"liked_share":0.5,"watchers":31}'
    >>> evidence_cell(None)
    ''
    """
    if evidence is None:
        return ""
    if _QUICK_ENCODE is not None and type(evidence) is dict:
        return _QUICK_ENCODE(evidence)
    return _EVIDENCE_ENCODER.encode(evidence)
