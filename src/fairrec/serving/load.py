"""Rebuild a recommender from a model directory opened by :mod:`fairrec.serving.model_files`
(every array, id and parameter checked; problems are :class:`~fairrec.errors.ModelFileError`).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.data import Dataset
from fairrec.errors import FairrecError, ModelFileError
from fairrec.serving.model_files import (
    _FILES,
    _SERVING,
    FORMAT,
    FORMAT_VERSION,
    _canon,
    _check_entries,
    _check_model_serves,
    _expect,
    _id_array,
    _is_count,
    _is_id,
    _is_number,
    _is_str,
    _meta_digest,
    _read_json,
    _read_npz,
    _sha256_of,
    _short,
    _timestamp,
)
from fairrec.serving.state import FittedState, install

__all__ = ["load_from", "state_parts"]


def load_from(
    cls: type, root: Path, handles: dict[str, Any], consent: Any, overrides: dict[str, Any]
) -> Any:
    """A ``cls`` instance serving the model directory at ``root`` (files opened in
    ``handles``): format, version and checksums checked here, the contents by
    :meth:`FittedState.from_arrays <fairrec.serving.FittedState.from_arrays>`."""
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
    arrays = _read_npz(handles["arrays.npz"])
    catalog = _read_json(handles, "catalog.json", root)
    ids = _read_json(handles, "ids.json", root)
    fitted = FittedState.from_arrays(
        arrays, {**meta, "catalog": catalog, "ids": ids}, row_kinds=overrides.get("rows")
    )
    serving_meta = meta.get("serving") or {}
    _expect(isinstance(serving_meta, dict), "meta.json: 'serving' must be an object.")
    serving = {k: v for k, v in serving_meta.items() if k in _SERVING}
    serving.update(overrides)
    try:
        rec = cls(model=fitted.model_, consent=consent, **serving)
        rec._validate()
    except (TypeError, FairrecError) as exc:
        raise ModelFileError(f"Invalid serving parameters in meta.json: {_short(exc)}") from exc
    _expect(
        rec.retention_days is None or fitted.data_.timestamps is not None,
        "retention_days is set but the model file holds no event times to apply it to.",
    )
    if consent is None:
        from fairrec.consent import ConsentLedger

        consent = ConsentLedger(default="allow")
    install(rec, fitted, consent)
    return rec


def state_parts(arrays: dict[str, np.ndarray], meta: Any) -> dict[str, Any]:
    """The arguments of :meth:`FittedState.build <fairrec.serving.FittedState.build>` read
    from :meth:`~fairrec.serving.FittedState.to_arrays` output, every entry checked
    (:class:`~fairrec.errors.ModelFileError` naming the one at fault)."""
    from fairrec.models import MODEL_KINDS

    _expect(isinstance(meta, dict) and isinstance(arrays, dict), "Malformed arrays / meta.")
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

    catalog, ids = meta.get("catalog"), meta.get("ids")
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
        model.check_arrays(model_arrays)  # parameters that size things agree with arrays
        model.set_arrays(model_arrays)
    except (ValueError, IndexError, FairrecError, MemoryError, OverflowError) as exc:
        raise ModelFileError(f"Model arrays are inconsistent: {_short(exc)}") from exc
    _expect(model.n_items_ == n_items, "Model arrays do not match the catalog size.")
    _check_model_serves(model, n_items)

    data, train, train_ids, train_oldest = _rebuild(arrays, catalog, ids, n_items, meta)
    n_rows = model.user_rows()  # per-viewer rows (user factors): one per training row
    _expect(
        n_rows is None or n_rows == train.shape[0],
        "User factors do not match the training matrix.",
    )
    return {
        "model": model,
        "data": data,
        "train": train,
        "train_user_ids": train_ids,
        "fitted_at": fitted_at,
        "train_oldest": train_oldest,
        "item_ratings": _item_ratings(arrays, n_items),
        "like_label": _like_label(catalog),
    }


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
    ratings = arrays.get("history/ratings")
    if ratings is not None:
        _expect(
            ratings.ndim == 1
            and ratings.dtype.kind == "f"
            and len(ratings) == len(hu)
            and bool(np.all(np.isfinite(ratings))),
            "arrays.npz: 'history/ratings' must hold one finite rating per history event.",
        )
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
        ratings=ratings.astype(np.float64) if ratings is not None else None,
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
