"""An optional audit log of pages served: when, to whom (pseudonymously), for what, from what;
and :func:`verify_page` (from :mod:`fairrec.verify`), which re-derives every claim on a page
from the data and the ledger and lists the :class:`Violation` found.

Each served page is one JSON line::

    {"time": "2024-05-01T10:00:00.123456+00:00", "viewer": "<hex>",
     "purposes": ["personalization"], "data_used": ["watch_history", "popularity"],
     "page_kind": "home", "n_items": 40}

``viewer`` is ``HMAC-SHA256(key, id)``: the raw viewer id and the viewer's history are never
written. With the key, an operator can still answer a person's access request
(:meth:`AuditLog.viewer_hash` gives the value to look for) or erase their lines
(:meth:`AuditLog.erase`). The key lives in a sidecar file ``<path>.key`` (mode 0600, created on
first use) unless passed in; its fingerprint sits in the file's header line, so a wrong key is
refused instead of silently producing hashes that match nothing. The tombstones of
:class:`fairrec.ConsentLedger` use a different hash domain, so audit lines cannot be linked to
tombstones even when both use the same key.

Lines are appended with one ``write`` and ``os.fsync`` under a lock (thread-safe); ``fsync=
False`` trades durability of the last lines before a crash for throughput. On open and on
:meth:`AuditLog.read`, a torn last line (a crash mid-append) is reported with a
:class:`~fairrec.consent.ConsentFileWarning` and skipped; a malformed line elsewhere raises
``DataError`` naming the line.
"""

from __future__ import annotations

import hmac
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from fairrec._checks import check_time_ns
from fairrec._durable import append_synced, atomic_write, iso_ns, json_line, repair_tail, scan_jsonl
from fairrec.consent import ConsentFileWarning
from fairrec.consent.keys import (
    coerce_key,
    key_file_for,
    key_fingerprint,
    keyed_hash,
    load_or_create_key,
    read_key_file,
)
from fairrec.consent.purposes import canonical_purposes
from fairrec.data.ids import canon_id
from fairrec.errors import DataError, ParameterError, param_error
from fairrec.verify import Violation, verify_page

__all__ = ["AuditLog", "Violation", "verify_page"]

FORMAT = "fairrec-audit"
FORMAT_VERSION = 1
_DOMAIN = b"fairrec:audit-viewer:"
_CATEGORY = re.compile(r"[A-Za-z][A-Za-z0-9_.:\-]{0,63}")
_COLUMNS = ["time", "viewer", "purposes", "data_used", "page_kind", "n_items"]


class AuditLog:
    """Append-only JSON-lines record of pages served, without raw ids or histories.

    Parameters
    ----------
    path : str or Path
        The audit file; created (with a header line) if missing, appended to otherwise.
    key : bytes or str, optional
        Secret key (>= 16 bytes) of the viewer hash. ``None``: read or create ``<path>.key``.
    fsync : bool, default True
        ``os.fsync`` after every line.

    Examples
    --------
    >>> log = AuditLog(tmp_path / "audit.jsonl")  # doctest: +SKIP
    >>> log.record("u42", ["personalization"], ["watch_history"], page_kind="home", n_items=40)
    ... # doctest: +SKIP
    >>> AuditLog.read(tmp_path / "audit.jsonl")  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: bytes | str | None = None,
        *,
        fsync: bool = True,
    ) -> None:
        self._path = Path(path)
        self._fsync = bool(fsync)
        self._lock = threading.Lock()
        given = coerce_key(key, "AuditLog")
        key_file = key_file_for(self._path)
        if self._path.is_file() and self._path.stat().st_size > 0:
            scan = scan_jsonl(self._path, "audit log", DataError, warning=ConsentFileWarning)
            if not scan.records:  # only a torn header: start afresh
                self._key = given if given is not None else load_or_create_key(key_file)
                self._write_header()
                return
            header = scan.records[0][1]
            if scan.records[0][0] != 1 or header.get("format") != FORMAT:
                raise DataError(f"{self._path}: line 1 is not a fairrec audit log header.")
            if given is not None:
                self._key = given
            elif key_file.is_file():
                self._key = read_key_file(key_file)
            else:
                raise DataError(
                    f"{self._path}: the key file {key_file} is missing; restore it or pass key=."
                )
            check = header.get("key_check")
            if not (
                isinstance(check, str)
                and check.isascii()  # compare_digest refuses non-ASCII str (a damaged header)
                and hmac.compare_digest(check, key_fingerprint(self._key, b"audit"))
            ):
                raise DataError(
                    f"{self._path}: the key does not match the one this audit log was written "
                    f"with; its viewer hashes would match nothing."
                )
            if scan.torn_line is not None or scan.needs_newline:
                repair_tail(self._path, scan)
        else:
            self._key = given if given is not None else load_or_create_key(key_file)
            self._write_header()

    @property
    def path(self) -> Path:
        """The audit file."""
        return self._path

    def viewer_hash(self, user_id: str | int) -> str:
        """The pseudonym written for ``user_id`` (hex HMAC-SHA256), e.g. to answer an access
        request by filtering :meth:`read` on the ``viewer`` column."""
        return keyed_hash(self._key, _DOMAIN, canon_id(user_id))

    def record(
        self,
        user_id: str | int,
        purposes: Iterable[str],
        data_used: Iterable[str] | str,
        page_kind: str | None = None,
        n_items: int | None = None,
        *,
        at: object = None,
        unless: Callable[[], bool] | None = None,
    ) -> dict[str, Any] | None:
        """Append one line for a page served to ``user_id``; returns the record written.

        Parameters
        ----------
        user_id : str or int
            The viewer; only its keyed hash is written.
        purposes : iterable of str
            The purposes the page relied on (may be empty for a non-personalized page).
        data_used : iterable of str
            Data *categories* used (e.g. ``"watch_history"``, ``"stated_interests"``,
            ``"popularity"``): short identifiers matching ``[A-Za-z][A-Za-z0-9_.:-]{0,63}``,
            never the data itself.
        page_kind : str, optional
            E.g. ``"home"`` or ``"recommend"``.
        n_items : int, optional
            Number of titles on the page.
        at : datetime-like, optional
            Time of serving (default: now).
        unless : callable, optional
            Checked under the log's lock right before the line is appended: if it returns
            True nothing is written and ``None`` is returned. The Recommender passes "the
            viewer is erased", so that a page still being built when :meth:`erase` runs
            never writes a line after the erasure.
        """
        owner = "AuditLog.record"
        canon = canon_id(user_id)
        ps = [] if _is_empty(purposes) else list(canonical_purposes(purposes, owner))
        if isinstance(data_used, str):
            data_used = [data_used]
        if not isinstance(data_used, Iterable):
            raise param_error("data_used", owner, "an iterable of data categories", data_used)
        cats = list(dict.fromkeys(data_used))
        for c in cats:
            if not isinstance(c, str) or not _CATEGORY.fullmatch(c):
                raise ParameterError(
                    f"{owner}: data_used must hold data category names like 'watch_history' "
                    f"(letters, digits, _ . : -, at most 64 characters); got {c!r}."
                )
            if c == canon:
                raise ParameterError(f"{owner}: data_used must not contain the viewer id.")
        if page_kind is not None and (not isinstance(page_kind, str) or len(page_kind) > 64):
            raise param_error("page_kind", owner, "a short string or None", page_kind)
        if n_items is not None and (
            isinstance(n_items, bool) or not isinstance(n_items, int) or n_items < 0
        ):
            raise param_error("n_items", owner, "a non-negative int or None", n_items)
        t = time.time_ns() if at is None else check_time_ns(at, "at", owner)
        rec = {
            "time": iso_ns(t),
            "viewer": self.viewer_hash(canon),
            "purposes": ps,
            "data_used": cats,
            "page_kind": page_kind,
            "n_items": None if n_items is None else int(n_items),
        }
        line = json_line(rec)
        with self._lock:
            if unless is not None and unless():
                return None
            if self._fsync:
                append_synced(self._path, line)
            else:
                with open(self._path, "ab") as fh:
                    fh.write(line)
                    fh.flush()
        return rec

    def erase(self, user_id: str | int) -> int:
        """Remove every line of ``user_id`` (atomic rewrite); returns how many were removed."""
        h = self.viewer_hash(user_id)
        with self._lock:
            scan = scan_jsonl(self._path, "audit log", DataError, warning=ConsentFileWarning)
            kept = [obj for _, obj in scan.records[1:] if obj.get("viewer") != h]
            removed = len(scan.records) - 1 - len(kept)
            if removed or scan.torn_line is not None:
                atomic_write(
                    self._path, [json_line(scan.records[0][1]), *(json_line(obj) for obj in kept)]
                )
            return removed

    @staticmethod
    def read(path: str | os.PathLike[str]) -> pd.DataFrame:
        """The audit file as a DataFrame: time (UTC), viewer, purposes, data_used, page_kind,
        n_items. A torn last line is skipped with a warning."""
        target = Path(path)
        if not target.is_file():
            raise DataError(f"no audit log at {target}.")
        scan = scan_jsonl(target, "audit log", DataError, warning=ConsentFileWarning)
        if not scan.records:
            return _empty_frame()
        if scan.records[0][0] != 1 or scan.records[0][1].get("format") != FORMAT:
            raise DataError(f"{target}: line 1 is not a fairrec audit log header.")
        rows = []
        for lineno, obj in scan.records[1:]:
            if not isinstance(obj.get("viewer"), str) or not isinstance(obj.get("time"), str):
                raise DataError(f"{target}: line {lineno} is not an audit record.")
            rows.append([obj.get(c) for c in _COLUMNS])
        if not rows:
            return _empty_frame()
        frame = pd.DataFrame(rows, columns=_COLUMNS)
        frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
        frame["n_items"] = frame["n_items"].astype("Int64")
        return frame

    def _write_header(self) -> None:
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "key_check": key_fingerprint(self._key, b"audit"),
            "created": iso_ns(time.time_ns()),
        }
        atomic_write(self._path, [json_line(header)])


def _is_empty(values: object) -> bool:
    if values is None:
        return True
    if isinstance(values, (list, tuple, set, frozenset)):
        return len(values) == 0
    return False


def _empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in _COLUMNS})
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["n_items"] = frame["n_items"].astype("Int64")
    return frame
