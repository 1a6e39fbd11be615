"""The consent log as a JSON-lines file: :class:`JsonlStore` (one process, notebooks).

Line 1 is a header; every other line is one transaction ending in a checksum of the line
(``"crc"``). Writers take an exclusive lock on ``<path>.lock`` and read what others appended
before writing.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fairrec._durable import append_synced, atomic_write, iso_ns, json_line, repair_tail
from fairrec.consent._common import FORMAT, FORMAT_VERSION, _scan_jsonl
from fairrec.consent._events import _Event
from fairrec.consent.keys import key_file_for, key_fingerprint, load_or_create_key, read_key_file
from fairrec.consent.purposes import DEFAULTS
from fairrec.errors import (
    ConsentError,
    ConsentStoreError,
    ConsentStoreUnavailableError,
)

try:  # POSIX advisory file locks; elsewhere the file is single-writer by documentation
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from fairrec.consent._store import Batch, ConsentStore, Meta, check_key, decode_records

__all__ = ["JsonlStore", "line_bytes", "write_jsonl"]


_CRC_TAG = b',"crc":"'
_HEX16 = re.compile(rb"[0-9a-f]{16}")


def _crc(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:16]


def line_bytes(obj: dict[str, Any]) -> bytes:
    """One JSON line with its checksum: ``{...,"crc":"<16 hex of SHA-256 of {...}>"}``."""
    payload = json_line(obj)[:-1]  # without the newline
    return payload[:-1] + _CRC_TAG + _crc(payload).encode("ascii") + b'"}\n'


def _check_line(raw: bytes) -> bool:
    """Whether a line's checksum matches its content."""
    raw = raw.rstrip(b"\r ")
    i = raw.rfind(_CRC_TAG)
    if i <= 0 or not raw.endswith(b'"}') or len(raw) - i - len(_CRC_TAG) != 18:
        return False
    digest = raw[i + len(_CRC_TAG) : -2]
    return bool(_HEX16.fullmatch(digest)) and _crc(raw[:i] + b"}").encode("ascii") == digest


class JsonlStore(ConsentStore):
    """The consent log as a JSON-lines file (notebooks, one process).

    Line 1 is a header (format, version, default, key fingerprint); every other line is one
    transaction (an event, or a whole import) ending in a checksum of the line. Writers take
    an exclusive lock on ``<path>.lock`` and read what other writers appended before they
    write, so two ledgers on one file never reuse a sequence number or lose an event; a line
    whose checksum does not match is refused as corruption. The key lives in ``<path>.key``.
    """

    shared = False

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.lock_timeout = float(lock_timeout)
        self._header: dict[str, Any] | None = None
        self._lock_fd: int | None = None

    def describe(self) -> str:
        return str(self.path)

    # ----------------------------------------------------------------- lock
    @contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover - Windows: single writer by documentation
            yield
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConsentStoreUnavailableError(
                f"cannot open the lock file {lock_path}: {exc}"
            ) from None
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ConsentStoreUnavailableError(
                            f"{self.path}: another writer has held the ledger's lock "
                            f"({lock_path}) for more than {self.lock_timeout:g} s; nothing was "
                            f"recorded."
                        ) from None
                    time.sleep(0.002)
            yield
        finally:
            os.close(fd)  # releases the lock

    # ----------------------------------------------------------------- open
    def open(self, default: str | None, key: bytes | None) -> Meta:
        path = self.path
        with self._locked():
            scan = self._scan_file() if path.is_file() else None
            if scan is None or not scan.records:
                # a new ledger (or a file whose only line, the header, was torn): start afresh
                real_key = key if key is not None else load_or_create_key(key_file_for(path))
                self._header = {
                    "format": FORMAT,
                    "version": FORMAT_VERSION,
                    "default": default or "deny",
                    "key_check": key_fingerprint(real_key, b"consent"),
                    "created": iso_ns(time.time_ns()),
                }
                atomic_write(path, [line_bytes(self._header)])
                return Meta(self._header["default"], real_key, True)
            header = self._check_header(scan, default)
            real_key = self._key_for(header, key)
            self._header = dict(header)
            if header["version"] < FORMAT_VERSION:  # lines without checksums: add them
                self._upgrade(scan)
            return Meta(header["default"], real_key, False)

    def _scan_file(self) -> Any:
        try:
            return _scan_jsonl(self.path, "consent ledger")
        except OSError as exc:
            raise ConsentStoreUnavailableError(f"cannot read {self.path}: {exc}") from None

    def _check_header(self, scan: Any, default: str | None) -> dict[str, Any]:
        path = self.path
        if scan.records[0][0] != 1:
            raise ConsentError(f"{path}: line 1 is not a fairrec consent ledger header.")
        header = dict(scan.records[0][1])
        if header.get("format") != FORMAT:
            raise ConsentError(f"{path}: line 1 is not a fairrec consent ledger header.")
        version = header.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
            raise ConsentError(
                f"{path}: format version {version!r} is not supported by this "
                f"fairrec (reads up to {FORMAT_VERSION}); upgrade fairrec."
            )
        if version >= 2 and not _check_line(scan.raws[0]):
            raise ConsentError(
                f"{path}: line 1 (the header) fails its checksum; the file is damaged."
            )
        header.pop("crc", None)
        if header.get("moved_to"):
            raise ConsentStoreError(
                f"{path}: this ledger was moved to {header['moved_to']} (fairrec consent "
                f"migrate, {header.get('moved_at', '?')}); open that store instead. The file is "
                f"kept read-only so no event is written where no replica reads it."
            )
        if header.get("default") not in DEFAULTS:
            raise ConsentError(f"{path}: line 1 has an unknown default {header.get('default')!r}.")
        if default is not None and header.get("default") != default:
            raise ConsentError(
                f"{path}: the file was written with default={header.get('default')!r} but the "
                f"ledger was opened with default={default!r}; use ConsentLedger.load(path) "
                f"or pass the same default."
            )
        return header

    def _key_for(self, header: dict[str, Any], given: bytes | None) -> bytes:
        key_file = key_file_for(self.path)
        if given is not None:
            key = given
        elif key_file.is_file():
            key = read_key_file(key_file)
        else:
            raise ConsentError(
                f"{self.path}: the key file {key_file} is missing, so tombstones of erased "
                f"viewers cannot be checked. Restore it or pass key=."
            )
        check_key(header.get("key_check"), key, str(self.path))
        return key

    def _upgrade(self, scan: Any) -> None:
        """Rewrite a format-1 file (no checksums) as format 2, atomically."""
        self._header = dict(self._header or {}, version=FORMAT_VERSION)
        lines = [line_bytes(self._header)]
        lines.extend(line_bytes(obj) for _, obj in scan.records[1:])
        atomic_write(self.path, lines)

    # ----------------------------------------------------------------- reads
    def _records(self, scan: Any) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for (lineno, obj), raw in zip(scan.records, scan.raws):
            if lineno == 1:
                continue
            if not _check_line(raw):
                raise ConsentError(
                    f"{self.path}: line {lineno} fails its checksum (the line was altered or "
                    f"damaged); refusing to read a corrupted consent ledger."
                )
            obj = dict(obj)
            obj.pop("crc", None)
            out.append((f"line {lineno}", obj))
        return out

    def _read(self, cursor: Any, locked: bool) -> Batch:
        """New lines after ``cursor`` = (dev, inode, offset, next line number)."""
        try:
            with open(self.path, "rb") as fh:
                st = os.fstat(fh.fileno())  # the file opened, even if renamed over meanwhile
                ident, size = (st.st_dev, st.st_ino), st.st_size
                fresh = cursor is None or cursor[:2] != ident or size < cursor[2]
                if fresh:
                    data = fh.read()
                    base, first = 0, 1
                else:
                    fh.seek(cursor[2])
                    data = fh.read()
                    base, first = cursor[2], cursor[3]
        except OSError as exc:
            raise ConsentStoreUnavailableError(f"cannot read {self.path}: {exc}") from None
        if not locked and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]  # a line being appended right now: later
        if not data:
            return Batch([], cursor if not fresh else (*ident, 0, 1), 0, fresh)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scan = _scan_jsonl(self.path, "consent ledger", data=data, first_line=first, base=base)
        for w in caught:
            warnings.warn(w.message, w.category, stacklevel=5)
        if fresh:
            if not scan.records or scan.records[0][0] != 1:
                raise ConsentError(f"{self.path}: line 1 is not a fairrec consent ledger header.")
            if self._header is not None:
                self._check_header(scan, self._header.get("default"))
        if locked and (scan.torn_line is not None or scan.needs_newline):
            repair_tail(self.path, scan)
            size_after = os.stat(self.path).st_size
        else:
            size_after = scan.good_len
        events = decode_records(self._records(scan), f"{self.path}: ")
        n_lines = scan.records[-1][0] if scan.records else first - 1
        cursor = (*ident, size_after, n_lines + 1)
        last = events[-1][1].seq if events else 0
        return Batch(events, cursor, last, fresh)

    def read(self, cursor: Any) -> Batch:
        return self._read(cursor, locked=False)

    @contextmanager
    def transaction(self, cursor: Any) -> Iterator[_JsonlTx]:
        with self._locked():
            tx = _JsonlTx(self, self._read(cursor, locked=True))
            yield tx

    def header_bytes(self) -> bytes:
        return line_bytes(self._header or {})


class _JsonlTx:
    def __init__(self, store: JsonlStore, batch: Batch) -> None:
        self.store = store
        self.batch = batch
        self.cursor = batch.cursor

    def append(self, events: list[_Event], as_import: bool, now_ns: int) -> None:
        if as_import:
            line = line_bytes(
                {
                    "op": "import",
                    "at": iso_ns(now_ns),
                    "n": len(events),
                    "events": [e.to_json() for e in events],
                }
            )
        else:
            line = b"".join(line_bytes(e.to_json()) for e in events)
        path = self.store.path
        try:
            size = append_synced(path, line, create=False)
        except OSError as exc:
            raise ConsentStoreUnavailableError(f"cannot append to {path}: {exc}") from None
        dev, ino, _, nxt = self.cursor
        self.cursor = (dev, ino, size, nxt + line.count(b"\n"))

    def rewrite(self, log: list[_Event]) -> None:
        """Replace the file by the header and ``log`` (atomically: temp, fsync, rename)."""
        chunks = [self.store.header_bytes()]
        chunks.extend(line_bytes(ev.to_json()) for ev in log)
        try:
            atomic_write(self.store.path, chunks)
        except OSError as exc:
            raise ConsentStoreUnavailableError(f"cannot rewrite {self.store.path}: {exc}") from None
        st = os.stat(self.store.path)
        self.cursor = (st.st_dev, st.st_ino, st.st_size, len(chunks) + 1)

    def erase(self, user: str, forget: _Event, remaining: list[_Event], had_events: bool) -> None:
        if had_events:
            self.rewrite([*remaining, forget])
        else:
            self.append([forget], False, forget.t)


def write_jsonl(path: Path, default: str, key: bytes, log: list[_Event]) -> None:
    """Write a whole ledger file (header + one line per event) atomically."""
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "default": default,
        "key_check": key_fingerprint(key, b"consent"),
        "created": iso_ns(time.time_ns()),
    }
    chunks = [line_bytes(header)]
    chunks.extend(line_bytes(ev.to_json()) for ev in log)
    atomic_write(path, chunks)
