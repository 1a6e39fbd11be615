"""Model files: numpy ``.npz`` (loaded with ``allow_pickle=False``) + JSON, never pickle.

A model directory holds

* ``meta.json`` — format name and version, model kind and parameters, serving parameters,
  the SHA-256 of every other file (a tampered or truncated file is detected) and
  ``meta_sha256``, the SHA-256 of meta.json's own content (a flipped digit in a parameter is
  detected; a duplicated key is refused);
* ``arrays.npz`` — the model's arrays, the training rows (see below) and the serving
  histories;
* ``catalog.json`` — title ids, titles, genres, popularity, maturity;
* ``ids.json`` — external ids of the training rows and of the history viewers.

What a file holds is decided by consent and retention **at save time**:

* histories only of viewers with ``personalization`` now, only events inside the window;
* training rows (and user factors) only of viewers with ``training`` now, only cells whose
  oldest play is inside the window; user factors are re-solved from exactly those cells.
  Serving never reads them: they are kept only so that :meth:`Recommender.forget` with
  ``update_items=True`` can re-solve item vectors after :meth:`Recommender.load`;
* ``popularity`` counts, per title, the saved training viewers who played it (not the raw
  plays of the data, which include viewers who consented to nothing);
* no id of a viewer who is in neither of those two groups, and nothing of an erased one.

Aggregates learned at training time (item factors, ItemKNN similarities, Popularity counts)
are kept as trained: they change at the next training, or at ``forget``.

Loading checks every declared size against the bytes actually present before allocating
(an ``.npy`` header that declares more than its member holds, a ``factors`` parameter that
disagrees with the arrays), refuses non-regular files (a FIFO named ``ids.json`` would block
a reader) and compressed archive members, and reports every problem as a
:class:`~fairrec.errors.ModelFileError`.

Saving writes a temporary directory beside the destination and renames it into place, so an
interrupted save leaves the previous model loadable.
"""

from __future__ import annotations

import hashlib
import hmac
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

from fairrec import _columns as C
from fairrec.data import Dataset
from fairrec.errors import FairrecError, ModelFileError
from fairrec.gate import PERSONALIZATION, TRAINING, retention_cutoff
from fairrec.ids import canon_ids

__all__ = ["save_recommender", "load_recommender", "FORMAT", "FORMAT_VERSION"]

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


def _saved_training(
    rec: Any, fitted: Any, cutoff: np.datetime64 | None
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray | None]:
    """The training rows a file may hold now: ``(matrix, row numbers, oldest-times)``.

    Rows of viewers with ``training`` consent at save time (never an erased one), cells whose
    oldest play is inside the retention window at save time; rows left empty are dropped.
    """
    train = fitted.train_matrix_
    oldest = fitted.train_oldest_
    ids = np.asarray(fitted.train_user_ids_)
    keep = (
        np.asarray(rec.consent_.allowed_mask(ids, TRAINING), dtype=bool)
        if len(ids)
        else np.zeros(0, dtype=bool)
    )
    rows = np.flatnonzero(keep)
    sub = train[rows]
    old = oldest[rows] if oldest is not None else None
    if cutoff is not None and old is not None:
        ok = old.data >= np.datetime64(cutoff, "ns").view(np.int64)
        indptr = np.zeros(sub.shape[0] + 1, dtype=np.int64)
        row_of = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
        np.cumsum(np.bincount(row_of[ok], minlength=sub.shape[0]), out=indptr[1:])
        sub = sp.csr_matrix((sub.data[ok], sub.indices[ok], indptr), shape=sub.shape)
        old = sp.csr_matrix((old.data[ok], old.indices[ok], indptr.copy()), shape=old.shape)
    nonempty = np.diff(sub.indptr) > 0
    sub = sub[nonempty]
    old = old[nonempty] if old is not None else None
    return sub, rows[nonempty], (old.data.astype(np.int64) if old is not None else None)


def _saved_ratings(
    data: Dataset, fitted: Any, train: sp.csr_matrix, rows: np.ndarray, cutoff: Any
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-title sums and counts of the explicit ratings of the training cells the file
    holds (the same viewers and window as ``train``), or None without ratings."""
    if fitted.item_ratings_ is None or data.ratings is None:
        return None
    ids = np.asarray(fitted.train_user_ids_)[rows]
    idx = data.user_index(list(ids), on_unknown="ignore")
    row_of = np.full(data.n_users, -1, dtype=np.int64)
    row_of[idx[idx >= 0]] = np.flatnonzero(idx >= 0)
    r = row_of[data.users]
    ev = r >= 0
    if cutoff is not None and data.timestamps is not None:
        ev &= data.timestamps >= cutoff
    cells = np.repeat(np.arange(train.shape[0]), np.diff(train.indptr)) * data.n_items
    saved = np.sort(cells + train.indices)
    keys = r[ev] * data.n_items + data.items[ev]
    ev[np.flatnonzero(ev)[~np.isin(keys, saved)]] = False
    items = data.items[ev]
    total = np.bincount(items, weights=data.ratings[ev], minlength=data.n_items)
    return total.astype(np.float64), np.bincount(items, minlength=data.n_items).astype(np.int64)


def _meta_digest(meta: dict[str, Any]) -> str:
    """SHA-256 of meta.json's content (every key but ``meta_sha256``), canonically dumped."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    text = json.dumps(
        body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_recommender(rec: Any, path: Any) -> None:
    """Write ``rec`` to directory ``path`` atomically (see module docstring)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fitted = rec._fitted  # one consistent snapshot, even if a forget() runs meanwhile
    data: Dataset = fitted.data_
    now = rec._now()
    cutoff = retention_cutoff(now, rec.retention_days)

    # serving histories: only viewers with personalization consent now, in window
    allowed = np.asarray(rec.consent_.allowed_mask(data.user_ids, PERSONALIZATION), dtype=bool)
    keep = allowed[data.users]
    if cutoff is not None:
        keep &= data.timestamps >= cutoff
    hist_users, hist_rows = np.unique(data.users[keep], return_inverse=True)

    # training rows: only viewers with training consent now, cells in window
    train, train_rows, train_oldest = _saved_training(rec, fitted, cutoff)
    arrays: dict[str, np.ndarray] = {
        f"model/{k}": np.asarray(v)
        for k, v in fitted.model_.saved_arrays(train_rows, train).items()
    }
    arrays.update(
        {
            "train/data": train.data.astype(np.float32),
            "train/indices": train.indices.astype(np.int64),
            "train/indptr": train.indptr.astype(np.int64),
            "history/users": hist_rows.astype(np.int64),
            "history/items": data.items[keep].astype(np.int64),
            "history/weights": data.weights[keep].astype(np.float32),
        }
    )
    if train_oldest is not None:
        arrays["train/oldest"] = train_oldest
    if data.timestamps is not None:
        arrays["history/timestamps"] = data.timestamps[keep].astype("datetime64[ns]").view(np.int64)
    ratings = _saved_ratings(data, fitted, train, train_rows, cutoff)
    if ratings is not None:  # per-title rating sums of the saved training cells only
        arrays["stats/rating_sum"], arrays["stats/rating_count"] = ratings

    cat = data.catalog
    # catalog statistics from the saved (consented, in-window) training rows only
    popularity = np.bincount(train.indices, minlength=data.n_items).astype(np.float64)
    catalog = {
        "item_ids": _plain(data.item_ids),
        "titles": cat[C.TITLE].astype(str).tolist(),
        "genres": [list(g) for g in cat[C.GENRES].tolist()],
        "popularity": [float(x) for x in popularity],
    }
    if C.MATURITY in cat:
        catalog["maturity"] = [float(x) for x in cat[C.MATURITY].to_numpy(np.float64)]
    catalog["like_label"] = fitted.stats_.like_label
    ids = {
        "train_user_ids": _plain(np.asarray(fitted.train_user_ids_)[train_rows]),
        "history_user_ids": _plain(data.user_ids[hist_users]),
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        with open(tmp / "arrays.npz", "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        _write_json(tmp / "catalog.json", catalog)
        _write_json(tmp / "ids.json", ids)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": {"kind": fitted.model_.kind, "params": fitted.model_.get_params()},
            "serving": {k: getattr(rec, k) for k in _SERVING},
            "fitted_at": fitted.fitted_at_.isoformat(),
            "saved_at": now.isoformat(),
            "n_items": int(data.n_items),
            "has_timestamps": data.timestamps is not None,
            "sha256": {name: _sha256(tmp / name) for name in _FILES},
        }
        meta["meta_sha256"] = _meta_digest(meta)
        _write_json(tmp / "meta.json", meta)
        with _swap_lock(target):  # two threads saving to one path take turns for the swap
            _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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


def load_recommender(cls: type, path: Any, consent: Any, overrides: dict[str, Any]) -> Any:
    """Load and validate a model directory written by :func:`save_recommender`."""
    root, handles = _open_model(Path(path))
    try:
        return _load_from(cls, root, handles, consent, overrides)
    finally:
        _close(handles)


def _load_from(
    cls: type, root: Path, handles: dict[str, Any], consent: Any, overrides: dict[str, Any]
) -> Any:
    from fairrec.models import MODEL_KINDS

    meta = _read_json(handles, "meta.json", root)
    _expect(
        isinstance(meta, dict) and meta.get("format") == FORMAT,
        f"{str(root)!r} is not a fairrec model directory (format is not {FORMAT!r}).",
    )
    version = meta.get("format_version")
    _expect(
        version == FORMAT_VERSION,
        f"Unsupported model format version {version!r}; this fairrec reads version "
        f"{FORMAT_VERSION}.",
    )
    own = meta.get("meta_sha256")
    _expect(
        isinstance(own, str) and own.isascii(),
        "meta.json has no checksum of its own (written by an older fairrec?); save the "
        "model again.",
    )
    _expect(
        hmac.compare_digest(own, _meta_digest(meta)),
        "meta.json does not match its checksum: it was truncated or modified.",
    )
    sums = meta.get("sha256")
    _expect(isinstance(sums, dict), "meta.json has no checksums.")
    for name in _FILES:
        _expect(handles.get(name) is not None, f"Model file {name!r} is missing in {str(root)!r}.")
        _expect(
            _sha256_of(handles[name]) == sums.get(name),
            f"Model file {name!r} does not match its checksum: it was truncated or modified.",
        )
    model_meta = meta.get("model")
    _expect(isinstance(model_meta, dict), "meta.json: 'model' must be an object.")
    kind = model_meta.get("kind")
    _expect(
        isinstance(kind, str) and kind in MODEL_KINDS, f"Unknown model kind {kind!r} in meta.json."
    )
    params = model_meta.get("params", {})
    _expect(isinstance(params, dict), "meta.json: the model 'params' must be an object.")
    try:
        model = MODEL_KINDS[kind](**params)
    except (TypeError, FairrecError) as exc:
        raise ModelFileError(f"Invalid parameters for model {kind!r}: {_short(exc)}") from exc

    arrays = _read_npz(handles["arrays.npz"])
    catalog = _read_json(handles, "catalog.json", root)
    ids = _read_json(handles, "ids.json", root)
    n_items = meta.get("n_items")
    _expect(
        isinstance(n_items, int) and not isinstance(n_items, bool) and n_items > 0,
        "meta.json: invalid n_items.",
    )
    _expect(
        isinstance(meta.get("has_timestamps", False), bool),
        "meta.json: 'has_timestamps' must be true or false.",
    )
    fitted_at = _timestamp(meta.get("fitted_at"), "fitted_at")

    model_arrays = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("model/")}
    for name, (kind_char, ndim) in model.array_spec().items():
        a = model_arrays.get(name)
        _expect(a is not None, f"arrays.npz lacks the model array {name!r}.")
        _expect(
            a.dtype.kind == kind_char and a.ndim == ndim,
            f"Model array {name!r} has dtype {a.dtype} and {a.ndim} dimension(s); "
            f"expected kind {kind_char!r} with {ndim}.",
        )
        if a.dtype.kind == "f":
            _expect(bool(np.all(np.isfinite(a))), f"Model array {name!r} holds NaN or inf.")
    try:
        if hasattr(model, "check_arrays"):  # parameters that size things agree with arrays
            model.check_arrays(model_arrays)
        model.set_arrays(model_arrays)
    except (ValueError, IndexError, FairrecError, MemoryError, OverflowError) as exc:
        raise ModelFileError(f"Model arrays are inconsistent: {_short(exc)}") from exc
    _expect(model.n_items_ == n_items, "Model arrays do not match the catalog size.")
    _check_model_serves(model, n_items)

    data, train, train_ids, train_oldest = _rebuild(arrays, catalog, ids, n_items, meta)
    if hasattr(model, "user_factors_"):
        _expect(
            model.user_factors_.shape[0] == train.shape[0],
            "User factors do not match the training matrix.",
        )
        _expect(
            model.user_factors_.shape[1:] == model_arrays["item_factors"].shape[1:],
            "User factors and item factors differ in width.",
        )
    serving_meta = meta.get("serving") or {}
    _expect(isinstance(serving_meta, dict), "meta.json: 'serving' must be an object.")
    serving = {k: v for k, v in serving_meta.items() if k in _SERVING}
    serving.update(overrides)
    try:
        rec = cls(model=model, consent=consent, **serving)
        rec._validate()
    except (TypeError, FairrecError) as exc:
        raise ModelFileError(f"Invalid serving parameters in meta.json: {_short(exc)}") from exc
    _expect(
        rec.retention_days is None or data.timestamps is not None,
        "retention_days is set but the model file holds no event times to apply it to.",
    )
    if consent is None:
        from fairrec.consent import ConsentLedger

        consent = ConsentLedger(default="allow")
    rec._install(
        model=model,
        data=data,
        consent=consent,
        train=train,
        train_user_ids=train_ids,
        fitted_at=fitted_at,
        train_oldest=train_oldest,
        item_ratings=_item_ratings(arrays, n_items),
        like_label=_like_label(catalog),
    )
    return rec


def _item_ratings(arrays: dict[str, np.ndarray], n_items: int) -> tuple | None:
    """The optional per-title rating sums and counts of the training events."""
    total, count = arrays.get("stats/rating_sum"), arrays.get("stats/rating_count")
    if total is None and count is None:
        return None
    _expect(
        total is not None
        and count is not None
        and total.shape == (n_items,)
        and count.shape == (n_items,)
        and total.dtype.kind == "f"
        and count.dtype.kind in "iu"
        and bool(np.all(np.isfinite(total)))
        and (count.size == 0 or count.min() >= 0),
        "arrays.npz: 'stats/rating_sum' / 'stats/rating_count' are malformed.",
    )
    return total.astype(np.float64), count.astype(np.int64)


def _like_label(catalog: Any) -> str | None:
    label = catalog.get("like_label") if isinstance(catalog, dict) else None
    _expect(label is None or isinstance(label, str), "catalog.json: 'like_label' must be a str.")
    return label


def _rebuild(
    arrays: dict[str, np.ndarray], catalog: Any, ids: Any, n_items: int, meta: dict
) -> tuple[Dataset, sp.csr_matrix, np.ndarray, sp.csr_matrix | None]:
    _expect(isinstance(catalog, dict) and isinstance(ids, dict), "Malformed catalog/ids JSON.")
    for key in ("item_ids", "titles", "genres", "popularity", "maturity"):
        if key == "maturity" and key not in catalog:
            continue
        _expect(
            isinstance(catalog.get(key), list) and len(catalog[key]) == n_items,
            f"catalog.json: {key!r} must be a list of {n_items} entries.",
        )
    _check_entries(catalog["item_ids"], _is_id, "catalog.json: 'item_ids'", "a str or int id")
    _check_entries(catalog["titles"], _is_str, "catalog.json: 'titles'", "a string")
    _check_entries(
        catalog["genres"],
        lambda g: isinstance(g, list) and all(isinstance(x, str) for x in g),
        "catalog.json: 'genres'",
        "a list of strings",
    )
    _check_entries(catalog["popularity"], _is_count, "catalog.json: 'popularity'", "a number >= 0")
    if "maturity" in catalog:  # any finite rating, as Dataset accepts
        _check_entries(catalog["maturity"], _is_number, "catalog.json: 'maturity'", "a number")
    cat = pd.DataFrame(
        {
            C.ITEM: catalog["item_ids"],
            C.TITLE: catalog["titles"],
            C.GENRES: [tuple(g) for g in catalog["genres"]],
            C.POPULARITY: np.asarray(catalog["popularity"], dtype=np.float64),
        }
    )
    if "maturity" in catalog:
        cat[C.MATURITY] = np.asarray(catalog["maturity"], dtype=np.float64)
    hist_ids = ids.get("history_user_ids")
    train_ids = ids.get("train_user_ids")
    _expect(isinstance(hist_ids, list) and isinstance(train_ids, list), "ids.json is malformed.")
    for name, values in (("history_user_ids", hist_ids), ("train_user_ids", train_ids)):
        _check_entries(values, _is_id, f"ids.json: {name!r}", "a str or int id")
        _expect(
            len(set(_canon(values, f"ids.json: {name!r}"))) == len(values),
            f"ids.json: {name!r} holds duplicated viewer ids (or two spellings of one id).",
        )
    need = [
        "history/users",
        "history/items",
        "history/weights",
        "train/data",
        "train/indices",
        "train/indptr",
    ]
    for key in need:
        _expect(key in arrays and arrays[key].ndim == 1, f"arrays.npz lacks {key!r}.")
        kind = "f" if key.endswith(("weights", "data")) else "iu"
        _expect(
            arrays[key].dtype.kind in kind,
            f"arrays.npz: {key!r} has dtype {arrays[key].dtype}; expected "
            f"{'floats' if kind == 'f' else 'integers'}.",
        )
        if kind == "f":
            a = arrays[key]
            _expect(
                bool(np.all(np.isfinite(a))) and (a.size == 0 or a.min() >= 0),
                f"arrays.npz: {key!r} holds negative, NaN or inf weights.",
            )
    hu, hi, hw = arrays["history/users"], arrays["history/items"], arrays["history/weights"]
    _expect(len(hu) == len(hi) == len(hw), "History arrays differ in length.")
    _expect(
        hu.size == 0 or (hu.min() >= 0 and hu.max() < len(hist_ids)),
        "History viewer indices out of range.",
    )
    _expect(
        hi.size == 0 or (hi.min() >= 0 and hi.max() < n_items),
        "History title indices out of range.",
    )
    ts = None
    if meta.get("has_timestamps"):
        raw = arrays.get("history/timestamps")
        _expect(
            raw is not None and raw.ndim == 1 and raw.dtype.kind in "iu",
            "arrays.npz lacks history timestamps (1-D integers).",
        )
        ts = raw.astype(np.int64).view("datetime64[ns]")
        _expect(not bool(np.isnat(ts).any()), "History timestamps hold missing times (NaT).")
        _expect(len(ts) == len(hu), "History timestamps differ in length.")
    item_ids = _id_array(catalog["item_ids"])
    _expect(
        len(set(_canon(catalog["item_ids"], "catalog.json: 'item_ids'"))) == n_items,
        "catalog.json: duplicated title ids (or two spellings of one id).",
    )
    data = Dataset(
        user_ids=_id_array(hist_ids),
        item_ids=item_ids,
        users=hu.astype(np.int32),
        items=hi.astype(np.int32),
        weights=hw.astype(np.float32),
        timestamps=ts,
        catalog=cat,
    )
    indptr = arrays["train/indptr"]
    _expect(len(indptr) == len(train_ids) + 1, "Training matrix rows do not match ids.json.")
    try:
        train = sp.csr_matrix(
            (arrays["train/data"].astype(np.float32), arrays["train/indices"], indptr),
            shape=(len(train_ids), n_items),
        )
        train.check_format(full_check=True)
    except ValueError as exc:
        raise ModelFileError(f"Training matrix is malformed: {_short(exc)}") from exc
    oldest = None
    if meta.get("has_timestamps"):
        raw_old = arrays.get("train/oldest")
        _expect(
            raw_old is not None
            and raw_old.ndim == 1
            and raw_old.dtype.kind in "iu"
            and len(raw_old) == train.nnz,
            "arrays.npz lacks the training cells' times ('train/oldest', one per cell).",
        )
        oldest = sp.csr_matrix(
            (raw_old.astype(np.int64), train.indices, train.indptr), shape=train.shape
        )
    return data, train, _id_array(train_ids), oldest


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
