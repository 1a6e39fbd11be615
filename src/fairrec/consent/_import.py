"""Import of a consent table into a ledger: the stateful half (forgotten viewers, duplicates,
the ordering rule against what is recorded). The stateless parsing is ``_table``."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fairrec._durable import iso_ns
from fairrec.consent._common import _CONSENT_OPS, ConsentFileWarning
from fairrec.consent._events import _Event
from fairrec.consent._replay import first_problem
from fairrec.consent._table import _row, _Table
from fairrec.errors import ConsentError

if TYPE_CHECKING:  # pragma: no cover
    from fairrec.consent._core import _LedgerCore


def table_drafts(
    core: _LedgerCore, df: pd.DataFrame, parsed: _Table, on_forgotten: str
) -> list[tuple]:
    """Validate a parsed table against the ledger (lock held): the event drafts
    ``(t, op, user, purposes, genres, items, max_maturity, clear_maturity, disliked_genres,
    disliked_items, replace)`` to record, numbered in time order, or ConsentError naming the
    row. Rows identical to a recorded event or to an earlier row are skipped."""
    n = len(parsed.users)
    keep = np.ones(n, dtype=bool)
    if core._tombstones:
        codes, uniques = pd.factorize(parsed.users)
        gone_u = np.array([core._hash(u) in core._tombstones for u in uniques], dtype=bool)
        gone = gone_u[codes]
        if gone.any():
            if on_forgotten == "raise":
                row = int(np.flatnonzero(gone)[0])
                raise ConsentError(
                    f"{_row(df, row)}, column 'user_id': this viewer was erased with "
                    f"forget(); a re-import cannot resurrect them. Call reinstate() after a "
                    f"new, explicit consent by the person, or import with "
                    f"on_forgotten='skip'. Nothing was imported."
                )
            warnings.warn(
                f"{int(gone.sum())} row(s) of forgotten viewers were skipped.",
                ConsentFileWarning,
                stacklevel=3,
            )
            keep &= ~gone
    # what is recorded for the viewers of the table (for duplicates)
    existing_keys: set[tuple] = set()
    for u in set(parsed.users[keep].tolist()):
        for ev in core._by_user.get(u, ()):
            if ev.op in _CONSENT_OPS:
                existing_keys.update(ev.dedupe_key((p,)) for p in ev.purposes)
            else:
                existing_keys.add(ev.dedupe_key())
    # one draft per row, duplicates skipped
    drafts: dict[int, tuple] = {}
    seen: set[tuple] = set()
    for r in np.flatnonzero(keep).tolist():
        d = _draft(parsed, r)
        k = _Event(0, *d).dedupe_key()
        if k in existing_keys or k in seen:
            continue  # an exact duplicate: importing the same export twice is harmless
        seen.add(k)
        drafts[r] = d
    # the ordering rule, on the consent rows (in row order)
    rows = [r for r in drafts if parsed.ops[r] in _CONSENT_OPS]
    problem = first_problem(
        [(parsed.users[r], parsed.ops[r], parsed.purposes[r], int(parsed.times[r])) for r in rows],
        core._by_user,
        core._allow,
    )
    if problem is not None:
        r, u, p, t = rows[problem.index], problem.user, problem.purpose, problem.t
        if problem.kind == "revoke before grant":
            raise ConsentError(
                f"{_row(df, r)}, column 'action': revoke before grant: viewer {u!r} has "
                f"no grant of {p!r} before {iso_ns(t)} (default='deny'). Use a "
                f"'denied' / 'opt-out' action to record a refusal. Nothing was imported."
            )
        if problem.other is None:
            raise ConsentError(
                f"{_row(df, r)}, column 'action': conflicting events: viewer {u!r} "
                f"already has a revoke/deny of {p!r} at the identical time {iso_ns(t)} in the "
                f"ledger. Nothing was imported."
            )
        hint = " (rows without a timestamp share the import time)" if t == parsed.now else ""
        raise ConsentError(
            f"{_row(df, r)}, column 'action': conflicting events: "
            f"{_row(df, rows[problem.other])} and this row give opposite actions for viewer "
            f"{u!r} and purpose {p!r} at the identical time {iso_ns(t)}{hint}. Nothing was "
            f"imported."
        )
    # numbered in time order, so the receive order inside one import follows its times
    return [drafts[r] for r in sorted(drafts, key=lambda r: (drafts[r][0], r))]


def _draft(parsed: _Table, r: int) -> tuple:
    """The event fields of row ``r`` (without its sequence number)."""
    u = parsed.users[r]
    op = parsed.ops[r]
    t = int(parsed.times[r])
    g = parsed.genres[r]
    i = parsed.items[r]
    m = parsed.maturity[r]
    if op in _CONSENT_OPS:
        return (t, op, u, (parsed.purposes[r],))
    if op == "exclude":
        return (t, op, u, (), (g,) if g else (), (i,) if i else (), m)
    if op == "include":
        return (t, op, u, (), (g,) if g else (), (i,) if i else (), None, m is not None)
    like = op == "like"  # like / dislike -> interests
    return (
        t,
        "interests",
        u,
        (),
        (g,) if g and like else (),
        (i,) if i and like else (),
        None,
        False,
        (g,) if g and not like else (),
        (i,) if i and not like else (),
    )
