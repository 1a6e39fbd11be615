"""Durable files: atomic replacement, fsync of a file and of its folder, JSON-lines logs.

Shared by the consent ledger, the audit log and model files. The guarantees:

* :func:`atomic_write` replaces a file all or nothing: a temporary file in the same folder
  is written, flushed and ``fsync``-ed, then ``os.replace``-d onto the target, then the folder
  is ``fsync``-ed so the rename itself survives a power cut. A crash leaves the old file or
  the new one, never a mix, and no temporary file is left behind by an exception.
* :func:`write_synced` writes a file and ``fsync``-s it (not atomic by itself: for files
  inside a temporary folder that is renamed into place as a whole, as model directories are).
* :func:`append_synced` appends bytes with one ``write`` loop and ``fsync``.
* :func:`iso_ns` / :func:`parse_iso_ns` write and read the times of those records exactly
  (integer nanoseconds, UTC; no float rounding).
* :func:`scan_jsonl` reads a JSON-lines log in which only the **last** line may be torn (a
  crash mid-append): that line is reported with a warning and skipped, a bad line anywhere
  else raises; :func:`repair_tail` cuts the torn line so the next append starts clean.

This module is the library's shared kernel (importable from any package); it imports nothing
of fairrec.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "fsync_dir",
    "write_synced",
    "atomic_write",
    "append_synced",
    "json_line",
    "iso_ns",
    "parse_iso_ns",
    "JsonlScan",
    "scan_jsonl",
    "repair_tail",
]

_Data = bytes | bytearray | memoryview | Iterable[bytes]


def _chunks(data: _Data) -> Iterable[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return (bytes(data),)
    return data


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """``fsync`` a folder, so that a rename or a new file in it survives a crash.

    Best effort where the platform cannot open a folder (Windows): then nothing happens.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_synced(path: str | os.PathLike[str], data: _Data, *, mode: int | None = None) -> None:
    """Write ``data`` (bytes or an iterable of bytes) to ``path``, then flush and ``fsync``.

    Not atomic: use it for files inside a temporary folder that is renamed into place as a
    whole, and :func:`atomic_write` for a file replaced on its own. ``mode`` (e.g. ``0o600``)
    is applied before the data is written.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.chmod(path, mode)
        with os.fdopen(fd, "wb", closefd=False) as fh:
            for chunk in _chunks(data):
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: _Data, *, mode: int = 0o600) -> None:
    """Replace ``path`` by ``data`` atomically (temp file, fsync, ``os.replace``, fsync folder).

    Parameters
    ----------
    path : path-like
        The file to create or replace.
    data : bytes or iterable of bytes
        The whole new content (an iterable is written chunk by chunk, never joined).
    mode : int, default 0o600
        Permissions of the new file (private by default: consent, key and audit files).
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            for chunk in _chunks(data):
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(target.parent)


def append_synced(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600, create: bool = True
) -> int:
    """Append ``data`` to ``path`` with one write loop, then ``fsync``; returns the file's size
    after the write.

    Parameters
    ----------
    path : path-like
        The file; created with ``mode`` if missing, unless ``create=False`` (then a missing
        file is an ``OSError``, e.g. a log that must already have its header).
    data : bytes
        What to append (one or more whole lines).
    """
    flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0)
    fd = os.open(path, flags, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def json_line(obj: Mapping[str, Any]) -> bytes:
    """One JSON-lines record: compact UTF-8 JSON (no NaN) ending with ``"\\n"``."""
    return (
        json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
    ).encode("utf-8")


_EPOCH_NAIVE = datetime(1970, 1, 1)
_ISO_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?\+00:00")


def iso_ns(t_ns: int) -> str:
    """ISO-8601 UTC text of a time in integer nanoseconds since the epoch: whole seconds,
    then 9 fraction digits when the time is not a whole second.

    Examples
    --------
    >>> iso_ns(0), iso_ns(1_500_000_000)
    ('1970-01-01T00:00:00+00:00', '1970-01-01T00:00:01.500000000+00:00')
    """
    secs, frac = divmod(t_ns, 1_000_000_000)
    text = (_EPOCH_NAIVE + timedelta(seconds=secs)).isoformat()
    return f"{text}.{frac:09d}+00:00" if frac else f"{text}+00:00"


def parse_iso_ns(text: object) -> int:
    """Nanoseconds since the epoch of an ISO-8601 time with a UTC offset (ValueError if not).

    The form :func:`iso_ns` writes is read with exact integer arithmetic; other offsets and
    forms go through pandas.

    Examples
    --------
    >>> parse_iso_ns("1970-01-01T00:00:01.500000000+00:00")
    1500000000
    """
    if not isinstance(text, str):
        raise ValueError(f"'at' must be an ISO-8601 string; got {text!r}")
    m = _ISO_RE.fullmatch(text)
    if m is not None:  # the form iso_ns writes: exact integer arithmetic, no pandas
        whole = datetime.fromisoformat(m[1]) - _EPOCH_NAIVE
        frac = int(m[2].ljust(9, "0")) if m[2] else 0
        return (whole // timedelta(seconds=1)) * 1_000_000_000 + frac
    import pandas as pd

    ts = pd.Timestamp(text)
    if ts is pd.NaT or ts.tzinfo is None:
        raise ValueError(f"'at' must be an ISO-8601 time with a UTC offset; got {text!r}")
    return int(ts.tz_convert("UTC").as_unit("ns").value)


@dataclass
class JsonlScan:
    """What :func:`scan_jsonl` found in a JSON-lines file.

    Attributes
    ----------
    records : list of (int, dict)
        Each complete line as ``(1-based line number, object)``.
    good_len : int
        Bytes up to the end of the last complete line (absolute offset in the file).
    torn_line : int or None
        The number of the torn last line that was skipped, if any.
    needs_newline : bool
        The last complete line lacks its final ``"\\n"``.
    raws : list of bytes
        The raw bytes of each record's line (without the newline).
    """

    records: list[tuple[int, dict[str, Any]]]
    good_len: int
    torn_line: int | None
    needs_newline: bool
    raws: list[bytes] = field(default_factory=list)


def scan_jsonl(
    path: str | os.PathLike[str],
    what: str,
    error: type[Exception] = ValueError,
    *,
    warning: type[Warning] = UserWarning,
    data: bytes | None = None,
    first_line: int = 1,
    base: int = 0,
) -> JsonlScan:
    """Parse a JSON-lines file of objects; a torn last line warns and is skipped.

    Parameters
    ----------
    path : path-like
        The file (read unless ``data`` is given; also named in messages).
    what : str
        What the file is, for messages ("consent ledger", "audit log").
    error : type of Exception, default ValueError
        Raised (with the path and line number) for a malformed line that is not the last.
    warning : type of Warning, default UserWarning
        Issued for a torn last line.
    data : bytes, optional
        The bytes of the file from byte ``base`` on, starting at line ``first_line``: parses
        a tail of the file already read; offsets in the result are absolute.
    first_line, base : int
        See ``data``.

    Returns
    -------
    JsonlScan
    """
    if data is None:
        data = Path(path).read_bytes()
    pieces = data.split(b"\n")
    last = max((i for i, p in enumerate(pieces) if p.strip()), default=-1)
    records: list[tuple[int, dict[str, Any]]] = []
    raws: list[bytes] = []
    offset = good_len = base
    torn: int | None = None
    needs_newline = False
    for i, raw in enumerate(pieces):
        has_newline = i < len(pieces) - 1
        end = offset + len(raw) + (1 if has_newline else 0)
        if raw.strip():
            try:
                obj = json.loads(raw.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("a line must hold a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                if i != last:
                    raise error(
                        f"{path}: line {i + first_line} of the {what} is malformed ({exc}). "
                        f"Only a torn last line can be skipped; a bad line in the middle means "
                        f"the file is corrupted."
                    ) from None
                torn = i + first_line
                warnings.warn(
                    f"{path}: line {torn} of the {what} is incomplete (a torn append, e.g. a "
                    f"crash while writing) and was skipped; the {len(records)} complete lines "
                    f"before it were kept.",
                    warning,
                    stacklevel=3,
                )
                break
            records.append((i + first_line, obj))
            raws.append(raw)
            good_len = end
            needs_newline = not has_newline
        offset = end
    return JsonlScan(records, good_len, torn, needs_newline, raws)


def repair_tail(path: str | os.PathLike[str], scan: JsonlScan) -> None:
    """Cut a torn last line and end the file with a newline, so the next append is clean."""
    if scan.torn_line is not None:
        os.truncate(path, scan.good_len)
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(size - 1, 0))
        tail = fh.read(1)
    if size and tail != b"\n":
        append_synced(path, b"\n")
    else:
        fd = os.open(path, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
