"""The parameter text the public metric functions share, written once.

A public metric's docstring names a shared parameter by a placeholder line ``{name}``, alone
on its line and indented like a parameter entry of its ``Parameters`` section;
:func:`shared_doc` replaces it by the entry of :data:`PARAMS` of that name, indented to
match, when the function is defined. The rendered docstring (``help``, the API pages) is
complete; the source holds each text once. An unknown placeholder fails at import.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

#: placeholder name -> numpydoc parameter entry (name line, then its indented description)
PARAMS = {
    "recs": """\
recs : pandas.DataFrame
    Recommendations, one line per (viewer, title): ``user_id, item_id, rank`` (rank
    1-based; other columns are ignored).""",
    "truth": """\
truth : pandas.DataFrame
    Held-out interactions ``user_id, item_id``: what counts as relevant; duplicated pairs
    count once.""",
    "pages": """\
pages : pandas.DataFrame
    One line per slot of a home page: ``user_id, row, position, item_id`` (row and
    position 0-based; other columns are ignored).""",
    "train_popularity": """\
train : pandas.DataFrame
    Training interactions ``user_id, item_id``; popularity counts train lines (events).""",
    "train_history": """\
train : pandas.DataFrame
    Training interactions ``user_id, item_id``: viewer histories (and co-occurrence
    similarity when ``item_features`` is None).""",
    "train_catalog": """\
train : pandas.DataFrame, optional
    Training interactions ``user_id, item_id``; its titles form the catalog unless
    ``catalog`` is given.""",
    "train_similarity": """\
train : pandas.DataFrame, optional
    Training interactions ``user_id, item_id``; needed for co-occurrence similarity (when
    ``item_features`` is None).""",
    "k": """\
k : int, optional
    Cut-off: only lines with ``rank <= k`` count. ``None`` uses every rank (each list is
    judged at its own length).""",
    "k_page": """\
k : int, optional
    Keep only the first ``k`` positions of each row (``None``: every position).""",
    "catalog": """\
catalog : array-like, optional
    The ids of every title that could be recommended.""",
    "item_features": """\
item_features : pandas.DataFrame or pandas.Series, optional
    Indexed by ``item_id``: numeric vector columns, or genre lists (tuples, lists or
    ``"|"``-separated strings) taken as multi-hot vectors. ``None`` uses the co-occurrence
    cosine over the viewers of ``train``.""",
    "per_user": """\
per_user : bool, default False
    Return the per-viewer values as a :class:`pandas.Series` indexed by ``user_id``
    instead of their mean.""",
    "columns": """\
user_col, item_col, rank_col : str
    Names of the viewer, title and rank columns (default ``"user_id"``, ``"item_id"``,
    ``"rank"``).""",
    "page_columns": """\
user_col, item_col, row_col, position_col : str
    Names of the viewer, title, row and position columns (default ``"user_id"``,
    ``"item_id"``, ``"row"``, ``"position"``).""",
}

_PLACEHOLDER = re.compile(r"^( *)\{(\w+)\}$", re.MULTILINE)


def _entry(match: re.Match[str]) -> str:
    indent, name = match.group(1), match.group(2)
    if name not in PARAMS:
        raise KeyError(f"shared_doc: no shared parameter text named {name!r}")
    return "\n".join(indent + line for line in PARAMS[name].splitlines())


def shared_doc(fn: F) -> F:
    """Fill the ``{name}`` placeholder lines of ``fn``'s docstring from :data:`PARAMS`."""
    if fn.__doc__:
        fn.__doc__ = _PLACEHOLDER.sub(_entry, fn.__doc__)
    return fn
