"""Terminal rendering of page objects: ``str(page)``, ``page.to_text()``, ``str(row)``."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from fairrec.page._schema import describe_data_used

if TYPE_CHECKING:
    from fairrec.page._objects import HomePage, Row


def format_score(score: float) -> str:
    """A score in a few characters: ``0.934``, ``1,234``, ``1.20e-05``."""
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


def row_lines(row: Row, *, index: int | None, max_items: int | None, width: int) -> list[str]:
    """Row header, its reason, then one line per title; a title's reason is printed under it
    only when it differs from the row's reason (which is printed once, above)."""
    head = _clean(row.title) if index is None else f"{index + 1}. {_clean(row.title)}"
    lines = [_cut(f"{head}  [{row.kind}, {len(row.items)} titles]", width)]
    row_reason = None if row.reason is None else row.reason.text
    if row_reason is not None:
        lines.extend(_wrap(row_reason, width, "   ", "why: "))
    shown = row.items if max_items is None else row.items[:max_items]
    scores = [format_score(item.score) for item in shown]
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


def page_text(page: HomePage, *, max_items: int | None, width: int) -> str:
    """The page as :meth:`HomePage.to_text` renders it (arguments already checked)."""
    mode = "personalized" if page.personalized else "not personalized"
    lines = _wrap(
        f"Home page for viewer {page.user_id} · {mode} · built from "
        f"{describe_data_used(page.data_used)}",
        width,
        "",
    )
    extras = []
    if page.generated_at is not None:
        extras.append(f"generated {page.generated_at.isoformat()}")
    if page.consent_version is not None:
        extras.append(f"consent version {page.consent_version}")
    if extras:
        lines.append(_cut(" · ".join(extras), width))
    if not page.rows:
        lines.append("(no rows)")
    for index, row in enumerate(page.rows):
        lines.append("")
        lines.extend(row_lines(row, index=index, max_items=max_items, width=width))
    return "\n".join(lines)
