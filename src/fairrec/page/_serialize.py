"""Page objects as plain JSON types and back: ``to_dict`` / ``from_dict`` / JSON.

``from_dict`` validates everything it reads through the objects' own constructors, and every
error names the path of the value at fault (``page.rows[1].items[0].score``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fairrec.errors import DataError
from fairrec.page._home import HomePage
from fairrec.page._objects import Item, Reason, Row
from fairrec.page._schema import SCHEMA_VERSION, evidence_cell
from fairrec.page._validate import describe

# --------------------------------------------------------------------------------------
# to_dict
# --------------------------------------------------------------------------------------


def reason_to_dict(reason: Reason) -> dict[str, Any]:
    """:meth:`Reason.to_dict`: the evidence is a fresh copy (JSON round trip)."""
    out = {
        "kind": reason.kind,
        "text": reason.text,
        "data_used": list(reason.data_used),
        "anchor": reason.anchor,
    }
    if reason.evidence is not None:
        out["evidence"] = json.loads(evidence_cell(reason.evidence))
    return out


def item_to_dict(item: Item) -> dict[str, Any]:
    """:meth:`Item.to_dict`."""
    return {
        "item_id": item.item_id,
        "title": item.title,
        "score": item.score,
        "genres": list(item.genres),
        "reason": reason_to_dict(item.reason),
    }


def row_to_dict(row: Row) -> dict[str, Any]:
    """:meth:`Row.to_dict`."""
    return {
        "title": row.title,
        "kind": row.kind,
        "reason": None if row.reason is None else reason_to_dict(row.reason),
        "items": [item_to_dict(item) for item in row.items],
    }


def page_to_dict(page: HomePage) -> dict[str, Any]:
    """:meth:`HomePage.to_dict`."""
    return {
        "schema_version": SCHEMA_VERSION,
        "user_id": page.user_id,
        "personalized": page.personalized,
        "data_used": list(page.data_used),
        "generated_at": None if page.generated_at is None else page.generated_at.isoformat(),
        "consent_version": page.consent_version,
        "rows": [row_to_dict(row) for row in page.rows],
    }


# --------------------------------------------------------------------------------------
# from_dict
# --------------------------------------------------------------------------------------


def _check_keys(d: object, path: str, required: set[str], optional: set[str]) -> Mapping:
    if not isinstance(d, Mapping):
        raise DataError(f"{path} must be a dict; got {describe(d)}.")
    missing = sorted(required - set(d))
    if missing:
        raise DataError(f"{path} is missing key(s) {missing}.")
    unknown = sorted(map(str, set(d) - required - optional))
    if unknown:
        raise DataError(f"{path} has unknown key(s) {unknown}.")
    return d


def _list_at(value: object, path: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{path} must be a list; got {describe(value)}.")
    return list(value)


def _at(path: str, build: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return build(*args, **kwargs)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def reason_from_dict(d: object, path: str = "reason") -> Reason:
    """:meth:`Reason.from_dict`; errors name ``path``."""
    d = _check_keys(d, path, {"kind", "text"}, {"data_used", "anchor", "evidence"})
    data_used = _list_at(d.get("data_used", []), f"{path}.data_used")
    return _at(
        path, Reason, d["kind"], d["text"], tuple(data_used), d.get("anchor"), d.get("evidence")
    )


def _item_from_dict(d: object, path: str) -> Item:
    d = _check_keys(d, path, {"item_id", "title", "score", "reason"}, {"genres"})
    reason = reason_from_dict(d["reason"], f"{path}.reason")
    genres = _list_at(d.get("genres", []), f"{path}.genres")
    return _at(path, Item, d["item_id"], d["title"], d["score"], reason, tuple(genres))


def _row_from_dict(d: object, path: str) -> Row:
    d = _check_keys(d, path, {"title", "kind", "items"}, {"reason"})
    raw_items = _list_at(d["items"], f"{path}.items")
    items = tuple(_item_from_dict(it, f"{path}.items[{i}]") for i, it in enumerate(raw_items))
    raw_reason = d.get("reason")
    reason = None if raw_reason is None else reason_from_dict(raw_reason, f"{path}.reason")
    return _at(path, Row, d["title"], d["kind"], items, reason)


def page_from_dict(d: object) -> HomePage:
    """:meth:`HomePage.from_dict`."""
    path = "page"
    d = _check_keys(
        d,
        path,
        {"user_id", "rows", "personalized", "data_used"},
        {"schema_version", "generated_at", "consent_version"},
    )
    version = d.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise DataError(f"page.schema_version must be {SCHEMA_VERSION}; got {describe(version)}.")
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


def page_from_json(text: str | bytes) -> HomePage:
    """:meth:`HomePage.from_json`."""
    try:
        d = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise DataError(f"HomePage.from_json: not valid JSON ({exc}).") from None
    return page_from_dict(d)
