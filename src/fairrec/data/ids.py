"""One identity for a viewer or a title: the canonical form of an external id.

Every part of fairrec that compares ids (``Dataset``, the consent ledger, the gate, the
recommender, model files, the audit log, tombstones) compares their *canonical* forms, made
here and nowhere else:

1. an ``int`` (Python or numpy, not ``bool``) becomes its decimal text: ``1`` -> ``"1"``;
2. a ``str`` is Unicode-normalised with NFKC (fullwidth ``"１"`` -> ``"1"``, the NFD and NFC
   spellings of ``"josé"`` agree), invisible format characters (zero-width spaces, joiners,
   BOM, directional marks: Unicode category ``Cf``) are removed, leading and trailing
   whitespace is stripped and inner runs of whitespace become one space;
3. a text that is an integer in decimal digits (optionally signed) is written as that integer:
   ``"01"``, ``" 1"``, ``"+1"`` and ``1`` are the same id ``"1"``;
4. anything else (``float``, ``bool``, ``None``, bytes, an empty or all-invisible string, a
   string with control characters or lone surrogates) is a :class:`~fairrec.errors.ParameterError`
   that names the value.

Case is kept: ``"Alice"`` and ``"alice"`` are different ids. Two *different* external ids of
one input that have the same canonical form (``"01"`` and ``"1"`` in one interactions table)
are refused with a :class:`~fairrec.errors.DataError` by the id map that meets them, so one
canonical id never stands for two viewers.
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from collections.abc import Iterable

import numpy as np
import pandas as pd

from fairrec.errors import ParameterError

__all__ = ["IdMap", "canon_id", "canon_ids"]

_INT_RE = re.compile(r"[+-]?[0-9]+")
_SPACE_RE = re.compile(r"\s+")
# Plain ASCII text with no outer/double spaces and no leading zero / sign on a number is
# already canonical: the fast path for the common case.
_PLAIN_RE = re.compile(r"(?:[!-~](?:[!-~]| (?=[!-~]))*)")
_INT_LINE_RE = re.compile(r"^[+-]?[0-9]+$", re.MULTILINE)


def _all_plain(values: list) -> bool:
    """Whether every value is a ``str`` that :data:`_PLAIN_RE`'s fast path keeps as it is
    (plain printable ASCII, single inner spaces, not an integer), checked on all of them
    joined by newlines with a few C-level string scans instead of one call per id (the
    canonical forms of 100k distinct ids cost ~0.1 s one by one)."""
    if not values or not all(type(v) is str for v in values):
        return False
    text = "\n".join(values)
    return (
        text != ""
        and text.count("\n") == len(values) - 1  # no value holds a newline itself
        and text.isascii()
        and text.replace("\n", " ").isprintable()  # only [ -~] besides the separators
        and "\n\n" not in text  # no empty value
        and not text.startswith(("\n", " "))
        and not text.endswith(("\n", " "))
        and "  " not in text  # no double space
        and " \n" not in text  # no trailing space
        and "\n " not in text  # no leading space
        and _INT_LINE_RE.search(text) is None  # "01", "+1": not their own canonical form
    )


#: The canonical-id arrays the id maps made (read-only), by ``id()``: :func:`canon_ids`
#: returns one of them as is instead of canonicalising every id again (a fit passes the
#: data's viewers to the consent ledger and the fitted state).
_CANONICAL: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def _canonical_array(canon: np.ndarray) -> np.ndarray:
    """``canon`` (canonical ids, just computed) made read-only and known to :func:`canon_ids`."""
    canon.flags.writeable = False
    _CANONICAL[id(canon)] = canon
    return canon


def _canon_text(value: str, what: str) -> str:
    if _PLAIN_RE.fullmatch(value) and not _INT_RE.fullmatch(value):
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ParameterError(
            f"{what} must be valid Unicode text; got {value!r}, which holds a lone surrogate."
        ) from None
    text = unicodedata.normalize("NFKC", value)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _SPACE_RE.sub(" ", text).strip()
    if not text:
        raise ParameterError(f"{what} must be a non-empty id; got {value!r}.")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ParameterError(f"{what} must not hold control characters; got {value!r}.")
    if _INT_RE.fullmatch(text):
        return str(int(text))
    return text


def canon_id(value: object, what: str = "user_id") -> str:
    """Canonical string form of one viewer or title id.

    Parameters
    ----------
    value : str or int
        The external id as a caller spelled it.
    what : str, default "user_id"
        What the id is, for the error message.

    Returns
    -------
    str
        The canonical id (see the module docstring for the rules).

    Raises
    ------
    ParameterError
        If ``value`` is not a str or int, or is an empty / invisible / control-character id.

    Examples
    --------
    >>> canon_id(1), canon_id(" 01"), canon_id("１"), canon_id("u\\u200b7")
    ('1', '1', '1', 'u7')
    """
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{what} must be a str or int; got the bool {value!r}.")
    if isinstance(value, str):
        return _canon_text(value, what)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    raise ParameterError(
        f"{what} must be a str or int; got {value!r} of type {type(value).__name__}."
    )


def canon_ids(values: object, what: str = "user_ids") -> np.ndarray:
    """Canonical forms of many ids: a one-dimensional object array of ``str``.

    Each distinct value is canonicalised once, so the cost grows with the number of distinct
    ids, not with the number of rows.

    Parameters
    ----------
    values : array-like of str or int
        A list, numpy array, pandas Series or Index of ids.
    what : str, default "user_ids"
        What the ids are, for the error message.

    Returns
    -------
    numpy.ndarray
        Object array of canonical ids, same length and order as ``values``.

    Raises
    ------
    ParameterError
        If ``values`` is not one-dimensional or holds a float, bool, missing or empty id.

    Examples
    --------
    >>> canon_ids([1, "01", "a"]).tolist()
    ['1', '1', 'a']
    """
    if isinstance(values, np.ndarray) and _CANONICAL.get(id(values)) is values:
        return values  # an id map's canonical ids (read-only): already canonical
    if isinstance(values, (pd.Series, pd.Index)):
        arr = values.to_numpy()
    elif isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ParameterError(f"{what} must be an array-like of ids; got {values!r}.")
    else:
        arr = (
            values
            if isinstance(values, np.ndarray)
            else pd.Series(list(values), dtype=object).to_numpy()  # lists stay elements
        )
    if arr.ndim != 1:
        raise ParameterError(f"{what} must be one-dimensional; got shape {arr.shape}.")
    if arr.size == 0:
        return np.empty(0, dtype=object)
    kind = arr.dtype.kind
    if kind in "iu":
        return arr.astype(str).astype(object)
    if kind not in "UTO":
        raise ParameterError(
            f"{what} must hold str or int ids; got an array of dtype {arr.dtype} "
            f"(e.g. {arr[0]!r}). Float, bool or missing ids cannot be matched to viewers."
        )
    try:
        codes, uniques = pd.factorize(pd.Series(arr, dtype=object), use_na_sentinel=True)
    except TypeError:  # an unhashable entry (a list, a dict): not an id
        bad = next(v for v in arr if not isinstance(v, (str, int, np.integer)))
        raise ParameterError(
            f"{what} must hold str or int ids; got {bad!r} of type {type(bad).__name__}."
        ) from None
    if (codes < 0).any():
        bad = arr[int(np.flatnonzero(codes < 0)[0])]
        raise ParameterError(f"{what} must not hold missing ids; got {bad!r}.")
    distinct = uniques.tolist()
    if _all_plain(distinct):  # the common case: every distinct id is its own canonical form
        canon = np.empty(len(distinct), dtype=object)
        canon[:] = distinct
    else:
        canon = np.array([canon_id(v, f"an entry of {what}") for v in distinct], dtype=object)
    return canon[codes]


class IdMap:
    """External ids of one kind (viewers or titles) and their dense indices, matched by
    canonical form.

    The one place that decides which external spelling stands for which index: a lookup
    canonicalises the query (:func:`canon_id`), so ``1``, ``"1"``, ``"01"``, ``" 1"`` and
    ``"１"`` find the same index. Each index keeps the external id it was built from (in
    the input's dtype), which is what fairrec writes back in frames, pages and files.

    Parameters
    ----------
    external : array-like of str or int
        The external ids in index order. Two entries with one canonical form are a
        :class:`~fairrec.errors.DataError` (one canonical id never stands for two indices).
    what : str, default "user_id"
        What the ids are (for error messages).

    Attributes
    ----------
    external : numpy.ndarray
        The external ids in index order, as given (int64 for int ids, else object).
    canon : numpy.ndarray
        Their canonical forms (read-only object array of str), in index order: the keys to
        join with the consent ledger, model files and other canonical-id tables.
        :func:`canon_ids` returns this array itself (no work) when given it.
    what : str
        What the ids are.

    Examples
    --------
    >>> m = IdMap([1, 2, 30])
    >>> m.positions(["01", 30, "７"], on_unknown="ignore").tolist()
    [0, 2, -1]
    >>> m.resolve(" 2")
    2
    >>> m.canon.tolist()
    ['1', '2', '30']
    """

    __slots__ = ("external", "canon", "what", "_index", "_int_kind")

    def __init__(self, external: object, what: str = "user_id") -> None:
        from fairrec.errors import DataError

        if isinstance(external, np.ndarray):
            ext = external
        else:  # keep each id's type: numpy would turn [1, "a"] into the strings "1", "a"
            values = list(external)
            ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)
            ext = (
                np.asarray(values, dtype=np.int64)
                if ints and values
                else pd.Series(values, dtype=object).to_numpy()
            )
        try:
            canon = canon_ids(ext, what) if ext.size else np.empty(0, dtype=object)
        except ParameterError as exc:
            raise DataError(str(exc)) from None
        keys = canon.tolist()
        index: dict[str, int] = dict(zip(keys, range(len(keys))))
        # a canonical id repeated (two spellings of one id) shrinks the dict: name the pair
        seen: dict[str, int] = {}
        for pos, c in enumerate(keys if len(index) != len(keys) else ()):
            first = seen.setdefault(c, pos)
            if first != pos:
                raise DataError(
                    f"{what} {ext[first]!r} and {ext[pos]!r} are two spellings of one id "
                    f"({c!r}): fairrec treats them as the same "
                    f"{'viewer' if what.startswith('user') else 'title'}. Keep one spelling."
                )
        self.external = ext
        self.canon = _canonical_array(canon.copy() if canon is ext else canon)
        self.what = what
        self._index = index
        self._int_kind = ext.dtype.kind in "iu" or (
            ext.size > 0 and all(isinstance(v, (int, np.integer)) for v in ext.tolist())
        )

    @classmethod
    def _from_canonical(cls, external: np.ndarray, canon: np.ndarray, what: str) -> IdMap:
        """A map whose canonical forms are already computed and distinct (no checks)."""
        m = cls.__new__(cls)
        m.external = external
        m.canon = _canonical_array(canon.copy() if canon is external else canon)
        m.what = what
        m._index = {c: i for i, c in enumerate(canon.tolist())}
        m._int_kind = external.dtype.kind in "iu" or (
            external.size > 0 and all(isinstance(v, (int, np.integer)) for v in external.tolist())
        )
        return m

    def __len__(self) -> int:
        return len(self.external)

    def __contains__(self, value: object) -> bool:
        try:
            return canon_id(value, self.what) in self._index
        except ParameterError:
            return False

    def position(self, value: object) -> int:
        """Index of one id (any spelling), or ``-1`` if unknown.

        Raises
        ------
        ParameterError
            If ``value`` is not a valid id (float, bool, empty, ...).
        """
        return self._index.get(canon_id(value, self.what), -1)

    def positions(self, values: object, on_unknown: str = "ignore") -> np.ndarray:
        """Indices of many ids (int64); unknown ids are ``-1`` (``on_unknown="ignore"``) or
        an :class:`~fairrec.errors.UnknownUserError` / ``UnknownItemError`` naming them."""
        from fairrec.errors import UnknownItemError, UnknownUserError

        scalar = isinstance(values, (str, bytes, np.generic)) or not isinstance(values, Iterable)
        if isinstance(values, np.ndarray) and values.ndim == 0:
            scalar, values = True, values.item()
        vals = [values] if scalar else values
        arr = vals if isinstance(vals, (np.ndarray, pd.Series, pd.Index)) else list(vals)
        canon = canon_ids(arr, self.what) if len(arr) else np.empty(0, dtype=object)
        get = self._index.get
        pos = np.fromiter((get(c, -1) for c in canon.tolist()), dtype=np.int64, count=len(canon))
        if on_unknown != "ignore" and (pos < 0).any():
            bad = [v for v, p in zip(list(arr), pos) if p < 0]
            shown = ", ".join(repr(v) for v in bad[:5]) + (
                f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
            )
            kind = "viewer" if self.what.startswith("user") else "title"
            msg = f"Unknown {kind} id(s): {shown}."
            if on_unknown == "raise":
                raise (UnknownUserError if kind == "viewer" else UnknownItemError)(msg)
            import warnings

            warnings.warn(msg, stacklevel=3)
        return pos

    def names(self, values: list, positions: np.ndarray) -> list:
        """:meth:`resolve` of many ids whose :meth:`positions` are already known."""
        ext = self.external
        out = []
        for v, p in zip(values, positions.tolist()):
            if p >= 0:
                e = ext[p]
                out.append(e.item() if isinstance(e, np.generic) else e)
            else:
                out.append(self.resolve(v))
        return out

    def resolve(self, value: object) -> object:
        """The id fairrec writes for ``value``: its external spelling when known; else its
        canonical form, as an ``int`` when this map's ids are ints and the form is one."""
        c = canon_id(value, self.what)
        pos = self._index.get(c, -1)
        if pos >= 0:
            v = self.external[pos]
            return v.item() if isinstance(v, np.generic) else v
        if self._int_kind and _INT_RE.fullmatch(c):
            return int(c)
        return c
