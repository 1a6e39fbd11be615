"""Facts and phrases shared by row reasons: shares as text, title ids, per-title
contributions and popularity evidence (from :mod:`fairrec.rows.evidence`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fairrec.page import describe_data_used
from fairrec.rows._context import RowContext
from fairrec.rows.evidence import BASIS_SIMILARITY, TitleStats, popularity_share, top_contributions


def _data_note(categories: tuple[str, ...]) -> str:
    """The label of the data a reason used, in parentheses: ``"(your watch history)"``.

    Every reason text of fairrec's row kinds names its data with this, from the categories
    the row declares in ``data_used`` (the one label table: :func:`fairrec.page.data_label`
    via :func:`fairrec.page.describe_data_used`), never with a hand-typed label.

    Parameters
    ----------
    categories : tuple of str
        The data categories the reason declares.

    Returns
    -------
    str
        ``"(" + describe_data_used(categories) + ")"``.
    """
    return f"({describe_data_used(categories)})"


def _share_text(x: float) -> str:
    """A share as a percentage: ``"0.4 %"``, ``"12 %"``."""
    pct = 100.0 * float(x)
    return f"{pct:.1f} %" if pct < 10 else f"{pct:.0f} %"


def _id_of(ctx: RowContext, index: int) -> str:
    ids = ctx.item_ids
    return str(ids[index]) if ids is not None else str(index)


def _objects(values: list[list[Any]], shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for v, row in enumerate(values):
        out[v, : len(row)] = row
    return out


def _contributions(
    ctx: RowContext, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Per (viewer, title): the top contributing history title, its history column, its
    contribution and the sum of all contributions; plus the basis."""
    ev = ctx.evidence
    if ev is not None:
        return top_contributions(ev.model, ev.positives, items, ctx.vectors, ev.cache)
    return top_contributions(None, ctx.batch.histories, items, ctx.vectors)


def _anchor_phrase(basis: str, anchor: str) -> str:
    if basis == BASIS_SIMILARITY:
        return f"Because you watched {anchor}, the title of your history most similar to it"
    return f"Because you watched {anchor}, the title of your history that adds most to its score"


def _stats(ctx: RowContext) -> Any:
    """The title facts of the batch (from the evidence source, or from the arrays)."""
    if ctx.evidence is not None:
        return ctx.evidence.stats
    w = np.rint(ctx.popularity).astype(np.int64)
    return TitleStats(
        n_viewers=0,
        watchers=w,
        likers=w,
        pop_share=popularity_share(w),
        liking_measured=False,
        like_label="liked it",
        mean_rating=None,
        n_ratings=None,
        liked_median=None,
        rating_median=None,
    )


def _popularity_evidence(st: Any, i: int) -> dict[str, Any]:
    w = int(st.watchers[i])
    out: dict[str, Any] = {
        "watchers": w,
        "viewers": int(st.n_viewers),
        "popularity_share": round(float(st.pop_share[i]), 6),
    }
    if st.liking_measured:
        out["likers"] = int(st.likers[i])
        out["liked_share"] = round(float(st.liked_share[i]), 6)
    if st.mean_rating is not None and st.n_ratings[i] > 0:
        out["mean_rating"] = round(float(st.mean_rating[i]), 4)
        out["n_ratings"] = int(st.n_ratings[i])
    return out


def _watched_text(st: Any, i: int) -> str:
    w = int(st.watchers[i])
    if st.n_viewers:
        return f"watched by {_share_text(w / st.n_viewers)} of viewers ({w})"
    return f"watched by {w} viewer{'s' if w != 1 else ''}"


#: at most this many titles' lines are kept per row kind and data note (~0.7 KB each); the
#: titles beyond it (a very large catalog) are written on every page as before
_PER_TITLE_MAX = 20_000


def _per_title(
    st: Any, key: tuple, make: Callable[[int], tuple[dict[str, Any], str]]
) -> Callable[[int], tuple[dict[str, Any], str]]:
    """``make(i)`` (a title's evidence and reason text, which depend on the title facts
    ``st`` alone), computed once per title and kept in ``st.cache`` under ``key`` (for up
    to ``_PER_TITLE_MAX`` titles per key): every page served from the same facts reuses it. The evidence comes back as a fresh dict each
    time (a page may be changed by its reader; the cached one is not)."""
    cache = getattr(st, "cache", None)
    table: dict[int, tuple[dict[str, Any], str]] = (
        cache.setdefault(key, {}) if cache is not None else {}
    )

    def get(i: int) -> tuple[dict[str, Any], str]:
        got = table.get(i)
        if got is None:
            got = make(i)
            if len(table) < _PER_TITLE_MAX:
                table[i] = got
        return dict(got[0]), got[1]

    return get
