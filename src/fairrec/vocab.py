"""A viewer's words matched to the catalog: genres, titles and maturity limits.

The consent ledger records what a viewer said ("Sci-fi", "Star Wars (1977)", a maturity
limit); it does not know any catalog. :class:`Vocabulary` matches those words to one catalog,
and :meth:`Vocabulary.resolve_state` turns a consent snapshot into one that names only
catalog genres (in the catalog's spelling) and catalog title ids:

* a genre matches a catalog genre case- and whitespace-insensitively (``"sci-fi"``,
  ``" SCI-FI "`` -> ``"Sci-Fi"``; NFKC-normalised, so a fullwidth spelling matches too);
* a title matches by its id (in the canonical id form of :mod:`fairrec.ids`), else by its
  exact title text (whitespace-normalised) when exactly one catalog title carries it;
* anything else raises a :class:`~fairrec.errors.VocabularyError` subclass naming the viewer,
  the value and the catalog's closest spellings (``difflib``) -- an exclusion that matched
  nothing would otherwise be silently ignored while the viewer believes it holds;
* a maturity limit on a catalog without maturity ratings raises
  :class:`~fairrec.errors.MaturityNotRatedError` (it could not be honoured).

The :class:`~fairrec.Recommender` resolves every snapshot it serves with (pages, flat lists,
``explain_data_use``), so the ledger may hold any spelling the viewer used.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import numpy as np

from fairrec import _columns as C
from fairrec.data.ids import canon_id
from fairrec.errors import (
    AmbiguousTitleError,
    MaturityNotRatedError,
    ParameterError,
    UnknownGenreError,
    UnknownTitleError,
)

__all__ = ["Vocabulary", "genre_key"]

_SPACE = re.compile(r"\s+")
_CACHE_LIMIT = 65536


def genre_key(name: str) -> str:
    """The matching key of a genre name: NFKC, case-folded, whitespace collapsed.

    Examples
    --------
    >>> genre_key("  SCI-fi ") == genre_key("Sci-Fi")
    True
    """
    text = unicodedata.normalize("NFKC", str(name))
    return _SPACE.sub(" ", text).strip().casefold()


def _title_key(title: str) -> str:
    title = str(title)
    if (
        title.isascii()
        and title.isprintable()
        and "  " not in title
        and not title.startswith(" ")
        and not title.endswith(" ")
    ):
        # printable ASCII: NFKC keeps it, it holds no format character and its only
        # whitespace is single inner spaces, so it is its own key (most titles; no regex)
        return title
    text = unicodedata.normalize("NFKC", title)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SPACE.sub(" ", text).strip()


def _id_key(value: Any) -> str | None:
    try:
        return canon_id(value)
    except (ParameterError, TypeError, ValueError):
        return None


class Vocabulary:
    """The genres, titles and maturity ratings of one catalog, for matching a viewer's words.

    Parameters
    ----------
    item_ids : array-like
        Catalog ids in index order.
    titles : array-like of str
        Display titles in index order.
    genre_names : iterable of str
        The catalog's genres, in its own spelling.
    has_maturity : bool
        Whether the catalog rates titles for maturity.
    item_canon : numpy.ndarray, optional
        The canonical form (:func:`fairrec.ids.canon_ids`) of each of ``item_ids`` when the
        caller has it (a dataset's id map keeps them); computed here otherwise.
    """

    def __init__(
        self,
        item_ids: Any,
        titles: Any,
        genre_names: Iterable[str],
        has_maturity: bool,
        *,
        item_canon: np.ndarray | None = None,
    ) -> None:
        ids = list(np.asarray(item_ids, dtype=object))
        keys = (
            [_id_key(i) for i in ids]
            if item_canon is None or len(item_canon) != len(ids)
            else item_canon.tolist()
        )
        self.titles = [str(t) for t in titles]
        self.item_keys = [str(i) for i in ids]  # the form the gate looks ids up by
        self.genre_names = tuple(genre_names)
        self.has_maturity = bool(has_maturity)
        self._genres: dict[str, list[str]] = {}
        for g in self.genre_names:
            self._genres.setdefault(genre_key(g), []).append(g)
        self._ids: dict[str, int] = {}
        for pos, (i, key) in enumerate(zip(ids, keys)):
            if key is not None:
                self._ids.setdefault(key, pos)
            self._ids.setdefault(str(i), pos)
        self._by_title: dict[str, list[int]] = {}
        for pos, t in enumerate(self.titles):
            self._by_title.setdefault(_title_key(t), []).append(pos)
        self._cache: dict[tuple, Any] = {}

    @classmethod
    def from_dataset(cls, data: Any) -> Vocabulary:
        """The vocabulary of a :class:`~fairrec.data.Dataset`'s catalog."""
        return cls(
            data.item_ids,
            data.catalog[C.TITLE].tolist(),
            data.genre_names,
            C.MATURITY in data.catalog.columns,
            item_canon=data.item_map.canon,
        )

    # ------------------------------------------------------------------ single values
    def genre(self, name: str, who: str = "") -> str:
        """The catalog's spelling of ``name``; :class:`UnknownGenreError` if none."""
        found = self._genres.get(genre_key(name))
        if found:
            if len(found) == 1 or name not in found:
                return found[0]
            return name
        close = difflib.get_close_matches(genre_key(name), list(self._genres), n=3, cutoff=0.6)
        suggestions = tuple(self._genres[k][0] for k in close)
        hint = f" Did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
        known = ", ".join(self.genre_names[:30]) or "(none)"
        raise UnknownGenreError(
            f"{who}genre {name!r} is not a genre of the catalog.{hint} The catalog's genres "
            f"are: {known}.",
            value=name,
            suggestions=suggestions,
        )

    def item(self, value: Any, who: str = "") -> int:
        """The catalog index of a title given by id or by its exact, unambiguous title."""
        key = _id_key(value)
        pos = self._ids.get(key) if key is not None else None
        if pos is None:
            pos = self._ids.get(str(value))
        if pos is not None:
            return pos
        hits = self._by_title.get(_title_key(value), [])
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            ids = ", ".join(repr(self.item_keys[h]) for h in hits[:5])
            raise AmbiguousTitleError(
                f"{who}title {value!r} is carried by {len(hits)} catalog titles (ids {ids}); "
                "name the one you mean by its id.",
                value=value,
                suggestions=tuple(self.item_keys[h] for h in hits),
            )
        close = difflib.get_close_matches(str(value), self.titles, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownTitleError(
            f"{who}title {value!r} is neither a title id nor a title of the catalog.{hint}",
            value=value,
            suggestions=tuple(close),
        )

    # ------------------------------------------------------------------ a whole snapshot
    def resolve_state(self, state: Any) -> Any:
        """A consent snapshot naming only catalog genres (catalog spelling) and title ids.

        Raises
        ------
        fairrec.errors.VocabularyError
            A genre or title that matches nothing (with close matches), an ambiguous title,
            or a maturity limit on a catalog without maturity ratings.
        """
        if not (
            state.excluded_genres
            or state.excluded_items
            or state.max_maturity is not None
            or state.liked_genres
            or state.liked_items
            or state.disliked_genres
            or state.disliked_items
        ):
            return state
        key = (
            state.excluded_genres,
            state.excluded_items,
            state.max_maturity,
            state.liked_genres,
            state.liked_items,
            state.disliked_genres,
            state.disliked_items,
        )
        resolved = self._cache.get(key)
        if resolved is None:
            who = f"Viewer {state.user_id!r}: "
            if state.max_maturity is not None and not self.has_maturity:
                raise MaturityNotRatedError(
                    f"{who}a maturity limit ({state.max_maturity!r}) is set, but the catalog "
                    "has no 'maturity' column, so it cannot be honoured. Add maturity ratings "
                    "to the catalog, or lift the limit with "
                    "ConsentLedger.include(viewer, clear_maturity=True).",
                    value=state.max_maturity,
                )
            resolved = {
                "excluded_genres": self._genres_of(state.excluded_genres, who + "excluded "),
                "excluded_items": self._items_of(state.excluded_items, who + "excluded "),
                "liked_genres": self._genres_of(state.liked_genres, who + "stated "),
                "liked_items": self._items_of(state.liked_items, who + "stated "),
                "disliked_genres": self._genres_of(state.disliked_genres, who + "disliked "),
                "disliked_items": self._items_of(state.disliked_items, who + "disliked "),
            }
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = resolved
        return dataclasses.replace(state, **resolved)

    def _genres_of(self, names: Iterable[str], who: str) -> frozenset[str]:
        return frozenset(self.genre(n, who) for n in sorted(names))

    def _items_of(self, values: Iterable[Any], who: str) -> frozenset[str]:
        return frozenset(self.item_keys[self.item(v, who)] for v in sorted(values, key=str))

    def title_of(self, item_key: str) -> str:
        """The display title of a resolved title id (the id itself if unknown)."""
        pos = self._ids.get(item_key)
        return self.titles[pos] if pos is not None else str(item_key)
