"""HTML rendering of page objects: ``page._repr_html_()``, ``page.to_html()``, :func:`pages_to_html`.

Rows of cards for a notebook or a standalone file: every piece of text HTML-escaped, inline
CSS only, no scripts and no external resources (the standalone document says so in its
Content-Security-Policy).
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from fairrec.errors import DataError
from fairrec.page._schema import PERSONAL_DATA, describe_data_used
from fairrec.page._text import format_score
from fairrec.page._validate import describe

if TYPE_CHECKING:
    from fairrec.page._objects import HomePage, Item, Row

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
    return f"score {format_score(score)}"


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


def page_html(page: HomePage) -> str:
    """A self-contained HTML fragment of one page: each row a strip of cards."""
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


def document(title: str, body: str) -> str:
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

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    DataError
        If an element of ``pages`` is not a :class:`HomePage`.
    """
    from fairrec.page._home import HomePage  # the objects import this module

    pages = [pages] if isinstance(pages, HomePage) else list(pages)
    for number, page in enumerate(pages):
        if not isinstance(page, HomePage):
            raise DataError(f"pages[{number}] must be a HomePage; got {describe(page)}.")
    body = "\n".join(page_html(p) for p in pages)
    return _write(document(f"fairrec home pages · {len(pages)} viewer(s)", body), path)


def page_document(page: HomePage, path: str | os.PathLike[str] | None = None) -> str:
    """The standalone document of :meth:`HomePage.to_html`, also written to ``path`` if given."""
    return _write(document(f"fairrec home page · viewer {page.user_id}", page_html(page)), path)


def _write(text: str, path: str | os.PathLike[str] | None) -> str:
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text
