"""Page objects: the assembled rows of a viewer as an immutable
:class:`~fairrec.page.HomePage`, the audit line of each page, and the ``home`` /
``home_batch`` requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from fairrec.errors import param_error
from fairrec.page import (
    HomePage,
    Item,
    Reason,
    Row,
    pages_to_frame,
)
from fairrec.serving.assembly import to_frame
from fairrec.serving.availability import check_region
from fairrec.serving.core import (
    serve,
)
from fairrec.serving.gate import (
    ServingBatch,
)
from fairrec.serving.state import (
    FittedState,
)

__all__ = ["build_page", "audit_pages", "home", "home_batch"]


def build_page(
    f: FittedState, v: int, batch: ServingBatch, assembled: Any, now: pd.Timestamp
) -> HomePage:
    """Turn viewer ``v``'s assembled rows into an immutable HomePage.

    The objects are built with the page objects' trusted constructors
    (:meth:`Reason.trusted <fairrec.page.Reason.trusted>` and its siblings): every field is
    produced here with the right type, and the page's invariants (no title twice, every
    category declared) hold by construction of the assembly.
    """
    rows = []
    item_ids = f.item_ids_py_
    genre_lists = f.genre_tuples_
    titles = f.titles_py_
    used: set[str] = set()
    for r in assembled.order[v]:
        if r < 0:
            continue
        row = assembled.rows[r]
        data_used = tuple(row.data_used[v])
        used.update(data_used)
        anchor = row.anchor[v] if row.anchor else None
        row_reason = Reason.trusted(
            row.reason_kind,
            row.reason_text[v],
            data_used,
            anchor,
            row.evidence[v] if row.evidence else None,
        )
        items = []
        its = row.items[v].tolist()
        scores = row.scores[v].tolist()
        if row.item_reason_text is not None:
            texts = row.item_reason_text[v].tolist()
            anchors = row.item_anchor[v].tolist()
        else:
            texts = anchors = [None] * len(its)
        evs = row.item_evidence[v].tolist() if row.item_evidence is not None else [None] * len(its)
        kind = row.reason_kind
        for it, score, text, item_anchor, ev in zip(its, scores, texts, anchors, evs):
            if it < 0:
                break
            reason = (
                row_reason
                if text is None
                else Reason.trusted(kind, str(text), data_used, item_anchor, ev)
            )
            items.append(Item.trusted(item_ids[it], titles[it], score, reason, genre_lists[it]))
        rows.append(Row.trusted(row.titles[v], row.kind, tuple(items), row_reason))
    state = batch.states[v]
    user = batch.user_ids[v]
    return HomePage.trusted(
        user.item() if isinstance(user, np.generic) else user,
        tuple(rows),
        bool(batch.personalized[v]),
        tuple(sorted(used)),
        now,
        getattr(state, "version", None),
    )


def audit_pages(rec: Any, batch: ServingBatch, pages: Iterable[HomePage]) -> None:
    """One audit line per page, unless the viewer is erased by the time it is written.

    The erasure check runs under the audit log's lock, just before the line is appended,
    and :meth:`Recommender.forget` tombstones the viewer in the ledger before it erases their lines
    (under the same lock): a request in flight during ``forget()`` either writes before
    the erasure (and its line is erased) or finds the tombstone and writes nothing."""
    if rec.audit_log is None:
        return
    ledger = rec._consent
    for state, page in zip(batch.states, pages):
        if state.forgotten:
            continue  # an erased viewer (on_unknown="ignore"): no line, no pseudonym
        uid = page.user_id
        rec.audit_log.record(
            uid,
            sorted(state.purposes),
            list(page.data_used),
            page_kind="personalized" if page.personalized else "non_personalized",
            n_items=len(page.items),
            unless=lambda uid=uid: ledger.is_forgotten(uid),
        )


def home(rec: Any, user: Any, now: Any = None, *, region: str | None = None) -> HomePage:
    """The viewer's home page (see :meth:`Recommender.home`)."""
    rec._require_fitted()
    when = rec._now(now)
    region = check_region(region)
    f = rec._fitted
    batch, assembled = serve(rec, [user], when, f, region)
    page = build_page(f, 0, batch, assembled, when)
    audit_pages(rec, batch, [page])
    return page


def _chunks(users: list[Any], batch_size: int, n_jobs: int) -> list[list[Any]]:
    """``users`` in consecutive chunks of at most ``batch_size``, their sizes differing by
    at most one and their number a multiple of ``n_jobs`` where there are enough viewers:
    threads get equal shares (300 viewers in chunks of 256 were 256 + 44, one thread doing
    almost all of the work)."""
    n = len(users)
    n_chunks = -(-n // batch_size)
    if n_chunks == 0:
        return []
    n_chunks = min(-(-n_chunks // n_jobs) * n_jobs, n)
    base, extra = divmod(n, n_chunks)
    out, start = [], 0
    for i in range(n_chunks):
        size = base + (i < extra)
        out.append(users[start : start + size])
        start += size
    return out


def home_batch(
    rec: Any,
    users: Iterable[Any],
    now: Any = None,
    *,
    n_jobs: int = 1,
    progress: bool | None = None,
    as_pages: bool = False,
    region: str | None = None,
) -> pd.DataFrame | list[HomePage]:
    """Home pages of many viewers (see :meth:`Recommender.home_batch`)."""
    rec._require_fitted()
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise param_error("n_jobs", "Recommender.home_batch", "an int >= 1", n_jobs)
    users = list(users)
    when = rec._now(now)
    region = check_region(region, "Recommender.home_batch")
    chunks = _chunks(users, rec.batch_size, n_jobs)
    f = rec._fitted

    def work(chunk: list[Any]) -> Any:
        batch, assembled = serve(rec, chunk, when, f, region)
        if as_pages or rec.audit_log is not None:
            pages = [build_page(f, v, batch, assembled, when) for v in range(len(chunk))]
            audit_pages(rec, batch, pages)
            if as_pages:
                return pages
        return to_frame(assembled, batch.user_ids, f.item_ids_obj_, f.titles_)

    show = progress if progress is not None else len(chunks) > 10
    from tqdm import tqdm

    results: list[Any]
    with tqdm(total=len(users), disable=not show, unit="page") as bar:
        if n_jobs == 1:
            results = []
            for chunk in chunks:
                results.append(work(chunk))
                bar.update(len(chunk))
        else:
            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                results = []
                for chunk, pages in zip(chunks, pool.map(work, chunks)):
                    results.append(pages)
                    bar.update(len(chunk))
    if as_pages:
        return [p for chunk in results for p in chunk]
    if not results:
        return pages_to_frame([])
    return pd.concat(results, ignore_index=True)
