"""Page assembly: rows in, a page per viewer out.

Rules, applied to a whole batch of viewers with array operations:

* no title twice on a page: each row is built with the titles placed by earlier rows masked;
* titles that must not appear (exclusions, seen titles) are filtered once more *after*
  ranking, whatever a row kind did;
* a row with fewer than ``min_items`` titles is dropped, never padded;
* page-level diversity: at most ``max_rows_per_genre`` rows may be dominated by the same
  genre (more than ``dominance`` of their titles in it);
* rows are ordered by their expected value for the viewer: the mean relevance percentile
  of their titles among the viewer's candidates, plus the row kind's ``value_bonus`` (a
  stated interest is explicit evidence of value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairrec._columns import ITEM, POSITION, ROW, SCORE, TITLE, USER
from fairrec.page import FRAME_COLUMNS, data_used_cell, evidence_cell, frame_from_columns
from fairrec.rows import RowBatch, RowContext, RowKind
from fairrec.serving.cold import row_skip

__all__ = ["AssembledPages", "assemble", "to_frame"]


@dataclass
class AssembledPages:
    """Rows of a batch and, per viewer, which rows are shown and in which order.

    ``order[v]`` lists row positions (into ``rows``) for viewer ``v``, ``-1`` padded.
    """

    rows: list[RowBatch]
    order: np.ndarray  # (u, R)
    value: np.ndarray  # (u, R) expected value of each row


def assemble(
    ctx: RowContext,
    kinds: list[RowKind],
    *,
    min_items: int,
    max_rows: int,
    max_rows_per_genre: int = 2,
    dominance: float = 0.6,
) -> AssembledPages:
    """Build every row kind for the batch and decide each viewer's page."""
    u = ctx.n
    n_items = ctx.scores.shape[1]
    taken = np.zeros((u, n_items), dtype=bool)
    ar = ctx.ar
    # the masks through flat views and flat positions ``viewer * n_items + title``: 1-d
    # lookups and marks, cheaper than 2-d fancy indexing (``taken`` is C-contiguous, so
    # its ravel is a view the marks go through; ``blocked`` is only read)
    taken_flat, blocked_flat = taken.ravel(), np.ravel(ctx.blocked)
    offsets = ar * n_items
    rows: list[RowBatch] = []
    bonus: list[float] = []
    for kind in kinds:
        if not kind.may_apply(ctx):
            continue
        skip = row_skip(ctx, kind)  # live state: stale and cold-start titles
        for row in kind.build(ctx, taken if skip is None else taken | skip):
            items = row.items
            placed = items >= 0
            safe = np.where(placed, items, 0)
            at = safe + offsets
            bad = blocked_flat[at] | taken_flat[at]
            if skip is not None:
                bad |= skip[ar, safe]
            bad &= placed
            if bad.any():  # removed after ranking, never only pushed down
                items = _compact(np.where(bad, -1, items))
                row.scores = _compact_like(row.scores, bad, items)
                if row.item_reason_text is not None:
                    row.item_reason_text = _compact_like(row.item_reason_text, bad, items)
                    row.item_anchor = _compact_like(row.item_anchor, bad, items)
                if row.item_evidence is not None:
                    row.item_evidence = _compact_like(row.item_evidence, bad, items)
                row.items = items
                placed = items >= 0
            applies = row.applies & (placed.sum(axis=1) >= min_items)
            row.applies = applies
            # mark_taken(taken, items, applies)
            taken_flat[(items + offsets)[placed & applies[:, None]]] = True
            rows.append(row)
            bonus.append(kind.value_bonus)

    r_count = len(rows)
    if r_count == 0:
        return AssembledPages(rows, np.full((u, 0), -1), np.zeros((u, 0)))
    # one score with one meaning on every row: relevance percentile among the candidates
    # (one lookup for the titles of every row)
    every = np.concatenate([r.items for r in rows], axis=1)  # (u, sum of the row widths)
    got = _candidate_pct(ctx, every)
    scores = np.where(every >= 0, got, -np.inf)
    # each row's titles and percentiles cut or padded to k columns (titles -1, 0.0)
    k = ctx.k
    items = np.full((u, r_count, k), -1, dtype=np.int64)  # (u, R, k)
    pct = np.zeros((u, r_count, k))
    start = 0
    for r, row in enumerate(rows):
        end = start + row.items.shape[1]
        row.scores = scores[:, start:end]
        cut = min(end, start + k)
        items[:, r, : cut - start] = every[:, start:cut]
        pct[:, r, : cut - start] = got[:, start:cut]
        start = end
    applies = np.stack([r.applies for r in rows], axis=1)  # (u, R)
    value = _row_values(items, pct) + np.asarray(bonus)
    # page-level genre diversity, in build order (earlier rows have priority)
    dominant = _dominant_genres(ctx, items, dominance)  # (u, R)
    _cap_genres(applies, dominant, max_rows_per_genre, ctx.genres.shape[1])

    key = np.where(applies, -value, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    shown = applies[ar, order]
    order = np.where(shown, order, -1)[:, :max_rows]
    return AssembledPages(rows, order, value)


def _cap_genres(applies: np.ndarray, dominant: np.ndarray, cap: int, n_genres: int) -> None:
    """Drop (in ``applies``, in place) each row whose dominant genre (``dominant``, -1:
    none) already dominates ``cap`` shown rows built before it; a dropped row does not
    count. One pass over the rows with a running count per viewer and genre."""
    u, r_count = applies.shape
    dom = np.where(dominant >= 0, dominant, n_genres)  # n_genres: no dominant genre
    # a row is only dropped after ``cap`` shown rows of its genre: where no viewer has more
    # than ``cap`` applying rows dominated by one genre, none is
    counts = np.bincount(
        (np.arange(u)[:, None] * (n_genres + 1) + dom)[applies & (dominant >= 0)],
        minlength=1,
    )
    if counts.max() <= cap:
        return
    shown_with = np.zeros((u, n_genres + 1), dtype=np.int64)
    who = np.arange(u)
    for r in range(r_count):
        g = dom[:, r]
        applies[:, r] &= (g == n_genres) | (shown_with[who, g] < cap)
        shown_with[who, g] += applies[:, r]


def _compact(items: np.ndarray) -> np.ndarray:
    """Move -1 padding to the end of each row, keeping the order of the rest."""
    order = np.argsort(items < 0, axis=1, kind="stable")
    return np.take_along_axis(items, order, axis=1)


def _compact_like(values: np.ndarray, bad: np.ndarray, items: np.ndarray) -> np.ndarray:
    order = np.argsort(bad, axis=1, kind="stable")
    out = np.take_along_axis(values, order, axis=1)
    pad = items < 0
    if out.dtype == object:
        out = out.copy()
        out[pad] = None
    else:
        out = np.where(pad, -np.inf, out)
    return out


#: :func:`_candidate_pct` fills a dense ``(u, n_items)`` table up to this many cells (a
#: scatter and a gather); above it (large batches) it sorts each viewer's candidates and
#: looks the titles up by binary search instead (one viewer: a table never cleared). All
#: give the same values.
_DENSE_PCT_CELLS = 1 << 20


def _candidate_pct(ctx: RowContext, items: np.ndarray) -> np.ndarray:
    """(u, w) each title's relevance percentile among the viewer's candidates
    (``ctx.rel_pct``; 0 for a title outside them and for padding)."""
    cand = ctx.cand
    u, c = cand.shape
    if u == 0 or c == 0 or items.size == 0:
        return np.zeros(items.shape, dtype=np.float64)
    n_items = ctx.scores.shape[1]
    rel_pct = ctx.rel_pct.astype(np.float64, copy=False)
    placed = items >= 0
    if u == 1:
        # one viewer: each title's place in the candidate list, from a table that is
        # never cleared (a sparse set). A place read for a title counts only where the
        # candidate at that place is the title itself: a candidate's cell was written, and
        # for any other title no place holds it, whatever its (uninitialized) cell holds
        row = cand[0]
        at = np.flatnonzero(row >= 0)
        table = np.empty(n_items, dtype=np.int64)
        table[row[at]] = at
        it = items[0]
        safe = np.where(placed[0], it, 0)
        pos = table[safe]
        pos = np.where((pos >= 0) & (pos < c), pos, 0)
        found = placed[0] & (row[pos] == it)
        return np.where(found, rel_pct[0, pos], 0.0)[None]
    if u * n_items <= _DENSE_PCT_CELLS:
        table = np.zeros((u, n_items), dtype=np.float64)
        who, at = np.nonzero(cand >= 0)
        table[who, cand[who, at]] = rel_pct[who, at]
        got = table[np.arange(u)[:, None], np.where(placed, items, 0)]
        return np.where(placed, got, 0.0)
    # keys viewer * (n_items + 1) + title + 1 (padding: + 0), ascending once each viewer's
    # candidates are sorted (padding first; a viewer's titles are distinct)
    base = np.arange(u, dtype=np.int64)[:, None] * (n_items + 1)
    order = np.argsort(cand, axis=1)
    keys = (np.maximum(np.take_along_axis(cand, order, axis=1), -1) + 1 + base).ravel()
    values = np.take_along_axis(rel_pct, order, axis=1).ravel()
    query = np.where(placed, items + 1 + base, -1).ravel()  # -1: never a key
    at = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return np.where(keys[at] == query, values[at], 0.0).reshape(items.shape)


def _row_values(items: np.ndarray, pct: np.ndarray) -> np.ndarray:
    """(u, R) mean relevance percentile of each row's titles among the viewer's candidates
    (a title outside the candidates counts 0); ``pct`` is :func:`_candidate_pct` of
    ``items``."""
    valid = items >= 0
    got = np.where(valid, pct, 0.0)
    return got.sum(axis=2) / np.maximum(np.count_nonzero(valid, axis=2), 1)


def _dominant_genres(ctx: RowContext, items: np.ndarray, dominance: float) -> np.ndarray:
    """(u, R) genre covering more than ``dominance`` of each row's titles, else -1."""
    u, r, k = items.shape
    if ctx.genres.shape[1] == 0:
        return np.full((u, r), -1)
    valid = items >= 0
    padded = _padded_genres(ctx, k)
    if padded is not None:
        # whole-number genre cells: the counts are exact sums in any order, so summing
        # the gathered rows (padding: the zero row at -1) equals the product below
        counts = padded[items].sum(axis=2)  # (u, R, g)
    else:
        counts = np.matmul(
            valid.astype(np.float32)[:, :, None, :], ctx.genres[np.maximum(items, 0)]
        )[:, :, 0, :]
    n = np.maximum(np.count_nonzero(valid, axis=2), 1)
    best = counts.argmax(axis=2)
    share = counts.max(axis=2) / n
    return np.where(share > dominance, best, -1)


def _padded_genres(ctx: RowContext, k: int) -> np.ndarray | None:
    """``ctx.genres`` with a zero row appended (index ``-1``), where its cells are float32
    whole numbers whose sums over ``k`` titles are exact in float32; else None. Kept per
    genre matrix in the title facts' cache (``ctx.evidence.stats.cache``): built once per
    fitted state, not per page."""
    cache = getattr(getattr(ctx.evidence, "stats", None), "cache", None)
    if cache is None:
        return None
    genres = ctx.genres
    got = cache.get("assembly_padded_genres")
    if got is None or got[0] is not genres:
        g = np.asarray(genres)
        padded, largest = None, np.inf
        if g.dtype == np.float32 and np.isfinite(g).all() and (g == np.round(g)).all():
            padded = np.zeros((g.shape[0] + 1, g.shape[1]), dtype=np.float32)
            padded[:-1] = g
            padded.flags.writeable = False
            largest = float(np.abs(g).max(initial=0.0))
        got = cache["assembly_padded_genres"] = (genres, padded, largest)
    return got[1] if got[2] * max(k, 1) < 2**24 else None


def _row_evidence_cells(row: RowBatch, shown: np.ndarray) -> np.ndarray:
    """(u,) the ``evidence`` cell of the row's own evidence for each viewer it is shown to
    (``""`` for the others and without evidence); a dict shared by several viewers (the
    same object) is written once."""
    cells = np.full(len(shown), "", dtype=object)
    if row.evidence:
        written: dict[int, str] = {}
        for w in np.flatnonzero(shown).tolist():
            e = row.evidence[w]
            cell = written.get(id(e))
            if cell is None:
                cell = written[id(e)] = evidence_cell(e)
            cells[w] = cell
    return cells


def to_frame(
    pages: AssembledPages, user_ids: list, item_ids: np.ndarray, titles: np.ndarray
) -> pd.DataFrame:
    """The pages of a batch as one frame, built column-wise from the arrays.

    The columns go to :func:`fairrec.page.frame_from_columns`, the writer behind
    :func:`~fairrec.page.pages_to_frame` too, with the cells written by
    :func:`~fairrec.page.data_used_cell` and :func:`~fairrec.page.evidence_cell`: the
    same schema, order and values as ``pages_to_frame`` of the :class:`HomePage` objects
    (a test asserts it), without building the objects.
    """
    u = len(user_ids)
    parts = []
    users = np.empty(u, dtype=object)
    users[:] = [x.item() if isinstance(x, np.generic) else x for x in user_ids]
    item_objects = np.asarray(item_ids, dtype=object)
    for r, row in enumerate(pages.rows):
        hit = pages.order == r  # (u, R)
        shown = hit.any(axis=1)
        if not shown.any():
            continue
        slot = hit.argmax(axis=1)
        items = row.items
        ok = (items >= 0) & shown[:, None]
        v, pos = np.nonzero(ok)
        it = items[v, pos]
        texts = np.asarray(row.reason_text, dtype=object)[v]
        evs = _row_evidence_cells(row, shown)[v]
        if row.item_reason_text is not None:
            item_texts = row.item_reason_text[v, pos]
            own = item_texts != None  # noqa: E711
            texts = np.where(own, item_texts, texts)
            if row.item_evidence is not None:
                item_evs = np.array(
                    [evidence_cell(e) for e in row.item_evidence[v, pos].tolist()], dtype=object
                )
            else:
                item_evs = np.full(len(v), "", dtype=object)
            evs = np.where(own, item_evs, evs)
        cats = np.array([data_used_cell(c) for c in row.data_used], dtype=object)
        parts.append(
            {
                "v": v,
                ROW: slot[v],
                USER: users[v],
                "row_title": np.asarray(row.titles, dtype=object)[v],
                "row_kind": np.full(len(v), row.kind, dtype=object),
                POSITION: pos,
                ITEM: item_objects[it],
                TITLE: titles[it],
                SCORE: row.scores[v, pos].astype(np.float64),
                "reason_kind": np.full(len(v), row.reason_kind, dtype=object),
                "reason": texts,
                "data_used": cats[v],
                "evidence": evs,
            }
        )
    if not parts:
        return frame_from_columns({name: () for name in FRAME_COLUMNS})
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cols[POSITION], cols[ROW], cols["v"]))
    return frame_from_columns({name: cols[name][order] for name in FRAME_COLUMNS})
