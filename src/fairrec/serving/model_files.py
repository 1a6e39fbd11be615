"""The model directory on disk: file names, checksums, the atomic swap into place, opening
and reading the files with every size and type checked (:mod:`fairrec.serving.persist`
decides what goes in them; :mod:`fairrec.serving.load` rebuilds a recommender from them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec.data.ids import canon_ids
from fairrec.errors import FairrecError, ModelFileError

__all__ = []

FORMAT = "fairrec-model"
FORMAT_VERSION = 1
_FILES = ("arrays.npz", "catalog.json", "ids.json")
_SERVING = (
    "row_size",
    "n_candidates",
    "max_rows",
    "min_row_items",
    "retention_days",
    "on_unknown",
    "batch_size",
)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plain(values: np.ndarray) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, allow_nan=False)
        f.flush()
        os.fsync(f.fileno())


def _meta_digest(meta: dict[str, Any]) -> str:
    """SHA-256 of meta.json's content (every key but ``meta_sha256``), canonically dumped."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    text = json.dumps(
        body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_SWAP_LOCKS: dict[str, threading.Lock] = {}
_SWAP_LOCKS_GUARD = threading.Lock()


def _swap_lock(target: Path) -> threading.Lock:
    """One lock per destination path (within this process)."""
    with _SWAP_LOCKS_GUARD:
        return _SWAP_LOCKS.setdefault(os.path.abspath(target), threading.Lock())


def _swap_into_place(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.replace(tmp, target)
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(old)
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    # previous models left by saves interrupted mid-swap are superseded now: remove them,
    # so that no stale copy of erased viewers' histories lingers and none is ever resolved
    for stale in _previous_models(target):
        shutil.rmtree(stale, ignore_errors=True)


def _previous_models(target: Path) -> list[Path]:
    """Directories ``.<name>.old-*`` beside ``target``, most recently written last."""
    if not target.parent.is_dir():
        return []
    prefix = f".{target.name}.old-"
    found = []
    for p in target.parent.iterdir():
        if p.name.startswith(prefix):
            try:
                if p.is_dir():
                    found.append((p.stat().st_mtime_ns, p.name, p))
            except OSError:  # removed meanwhile
                continue
    return [p for _, _, p in sorted(found)]


def _resolve(target: Path) -> Path:
    """The model directory, or the previous one left by a save interrupted mid-swap."""
    if target.is_dir():
        return target
    olds = _previous_models(target)
    if olds:
        warnings.warn(
            f"{target} is missing; loading the previous model {olds[-1]} left by an "
            "interrupted save.",
            stacklevel=3,
        )
        return olds[-1]
    raise ModelFileError(f"No model directory at {str(target)!r}.")


_ALL_FILES = ("meta.json", *_FILES)


def _open_files(root: Path) -> dict[str, Any] | None:
    """Open every model file of ``root`` (None for a missing one), or None if ``root`` vanished.

    The files are opened relative to one directory descriptor: a concurrent save that swaps
    a new directory into place can never mix the files of two models into one load, and a
    file already open stays readable when that directory is removed.
    """
    handles: dict[str, Any] = {}
    try:
        dfd = os.open(root, os.O_RDONLY) if os.open in os.supports_dir_fd else None
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelFileError(
            f"Cannot open the model directory {str(root)!r}: {_short(exc)}"
        ) from exc
    try:
        for name in _ALL_FILES:
            try:
                # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below)
                flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                fd = (
                    os.open(name, flags, dir_fd=dfd)
                    if dfd is not None
                    else os.open(root / name, flags)
                )
            except FileNotFoundError:
                handles[name] = None
                continue
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise ModelFileError(
                    f"Model file {name!r} in {str(root)!r} is not a regular file (a FIFO, "
                    "device or socket is refused)."
                )
            if hasattr(os, "set_blocking"):
                os.set_blocking(fd, True)
            handles[name] = os.fdopen(fd, "rb")
    except ModelFileError:
        _close(handles)
        raise
    except OSError as exc:
        _close(handles)
        raise ModelFileError(
            f"Cannot read the model directory {str(root)!r}: {_short(exc)}"
        ) from exc
    except BaseException:
        _close(handles)
        raise
    finally:
        if dfd is not None:
            os.close(dfd)
    return handles


def _close(handles: dict[str, Any] | None) -> None:
    for fh in (handles or {}).values():
        if fh is not None:
            fh.close()


def _open_model(target: Path) -> tuple[Path, dict[str, Any]]:
    """Resolve and open a model directory; look again if a concurrent save swapped it."""
    for attempt in range(3):
        root = _resolve(target)
        handles = _open_files(root)
        if handles is not None and (all(h is not None for h in handles.values()) or attempt == 2):
            return root, handles
        _close(handles)  # a directory or file vanished meanwhile: a save was swapping
    raise ModelFileError(f"The model directory {str(target)!r} kept changing while loading.")


def _sha256_of(fh: Any) -> str:
    h = hashlib.sha256()
    fh.seek(0)
    for block in iter(lambda: fh.read(1 << 20), b""):
        h.update(block)
    fh.seek(0)
    return h.hexdigest()


def _read_json(handles: dict[str, Any], name: str, root: Path) -> Any:
    fh = handles.get(name)
    if fh is None:
        raise ModelFileError(f"Model file {name!r} is missing in {str(root)!r}.")
    try:
        fh.seek(0)
        return json.loads(
            fh.read().decode("utf-8"),
            object_pairs_hook=lambda pairs: _unique_keys(pairs, name),
            parse_constant=lambda c: _no_constant(c, name),
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"Model file {name!r} is not valid JSON: {_short(exc)}.") from exc
    except (OSError, RecursionError) as exc:
        raise ModelFileError(f"Model file {name!r} cannot be read: {_short(exc)}.") from exc


def _unique_keys(pairs: list[tuple[str, Any]], name: str) -> dict[str, Any]:
    """A JSON object; a key given twice is refused (which one would win is a parser detail)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ModelFileError(f"Model file {name!r} holds the key {k!r} twice.")
        out[k] = v
    return out


def _no_constant(value: str, name: str) -> Any:
    raise ModelFileError(f"Model file {name!r} holds {value}, which is not valid JSON.")


def _short(exc: BaseException, limit: int = 200) -> str:
    """A wrapped error's text, cut to ``limit`` characters (zipfile may quote raw bytes)."""
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _expect(cond: bool, msg: str) -> None:
    if not cond:
        raise ModelFileError(msg)


_INT64 = np.iinfo(np.int64)
_FLOAT_MAX = float(np.finfo(np.float64).max)


def _is_id(v: Any) -> bool:
    return isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_number(v: Any) -> bool:
    return (
        isinstance(v, (int, float))
        and not isinstance(v, bool)
        and abs(v) <= _FLOAT_MAX  # finite, and no int too large for a float
    )


def _is_count(v: Any) -> bool:
    return _is_number(v) and v >= 0


def _check_entries(values: list, ok: Any, where: str, expected: str) -> None:
    """Every entry of a JSON list passes ``ok``, else ModelFileError naming the first bad one."""
    for pos, v in enumerate(values):
        if not ok(v):
            shown = repr(v)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise ModelFileError(f"{where}: entry {pos} is {shown}, not {expected}.")


def _canon(values: list, where: str) -> list:
    """Canonical forms of saved ids (:mod:`fairrec.ids`), or ModelFileError."""
    try:
        return canon_ids(values, where).tolist() if values else []
    except FairrecError as exc:
        raise ModelFileError(f"{where}: {_short(exc)}") from None


def _id_array(values: list) -> np.ndarray:
    """External ids as saved: int64 when all are int64-sized ints, else objects (types kept)."""
    if values and all(isinstance(v, int) and _INT64.min <= v <= _INT64.max for v in values):
        return np.asarray(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _read_npz(fh: Any) -> dict[str, np.ndarray]:
    """Every array of the archive, each size checked before anything is allocated.

    Members must be stored (not compressed: a compressed member's declared size is not
    bounded by the file) ``.npy`` arrays of numbers whose header declares exactly the bytes
    the member holds; pickled objects are refused.
    """
    arrays: dict[str, np.ndarray] = {}
    fmt = np.lib.format
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            for info in zf.infolist():
                name = info.filename
                _expect(name.endswith(".npy"), f"arrays.npz holds {name!r}, not an array.")
                _expect(
                    info.compress_type == zipfile.ZIP_STORED,
                    f"arrays.npz: {name!r} is compressed; fairrec writes stored arrays only.",
                )
                with zf.open(info) as member:
                    version = fmt.read_magic(member)
                    _expect(version in ((1, 0), (2, 0)), f"arrays.npz: {name!r} format {version}.")
                    read_header = (
                        fmt.read_array_header_1_0
                        if version == (1, 0)
                        else fmt.read_array_header_2_0
                    )
                    shape, _, dtype = read_header(member)
                    header = member.tell()
                _expect(
                    not dtype.hasobject and dtype.kind in "biuf" and len(shape) <= 2,
                    f"arrays.npz: {name!r} holds {dtype} data; only numbers are read.",
                )
                declared = dtype.itemsize
                for dim in shape:
                    declared *= int(dim)
                _expect(
                    declared == info.file_size - header,
                    f"arrays.npz: {name!r} declares {declared} bytes of data (shape {shape}) "
                    f"but holds {info.file_size - header}.",
                )
                with zf.open(info) as member:
                    arrays[name[:-4]] = fmt.read_array(member, allow_pickle=False)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, MemoryError) as exc:
        raise ModelFileError(f"arrays.npz cannot be read: {_short(exc)}") from exc
    return arrays


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    """A naive-UTC ISO time from meta.json, or ModelFileError."""
    try:
        ts = pd.Timestamp(value) if isinstance(value, str) else None
    except (ValueError, OverflowError) as exc:
        raise ModelFileError(f"meta.json: {name!r} is not an ISO time: {value!r}.") from exc
    _expect(ts is not None and ts is not pd.NaT, f"meta.json: {name!r} is not an ISO time.")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _check_model_serves(model: Any, n_items: int) -> None:
    """Score one probe history: arrays whose shapes disagree with the model's parameters
    (e.g. ``factors``) must fail here, at load, not on the first request."""
    cols = np.unique(np.linspace(0, n_items - 1, num=min(n_items, 2000)).astype(np.int64))
    probe = sp.csr_matrix(
        (np.ones(len(cols), np.float32), (np.zeros(len(cols), np.int64), cols)),
        shape=(1, n_items),
    )
    try:
        scores = np.asarray(model.score_histories(probe))
    except (ValueError, IndexError, TypeError, ArithmeticError, FairrecError) as exc:
        raise ModelFileError(
            f"The model cannot score with the saved arrays: {_short(exc)}"
        ) from exc
    _expect(
        scores.shape == (1, n_items) and not bool(np.isnan(scores).any()),
        "The model's saved arrays give malformed scores.",
    )
