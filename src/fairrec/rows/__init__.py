"""Row kinds: each a title template, a candidate pool, a re-ranker and a reason.

Rows are computed for a *batch* of viewers at once (a single page is a batch of one), so
:meth:`Recommender.home` and :meth:`Recommender.home_batch` share every line of this code
and give identical pages. A row kind receives a :class:`RowContext` (candidates, scores,
item vectors, consented viewer data) and a ``taken`` mask of titles already placed on each
page, and returns a :class:`RowBatch`: ``(u, k)`` title indices padded with ``-1``.

Nothing here reads consent: the gate (:mod:`fairrec.gate`) already reduced each viewer's
data to what may be used, and row kinds that need history declare ``personal = True`` so
they only apply to viewers whose history may be used.

Layout (one job per file; the public names are all re-exported here):

* ``_context`` -- :class:`RowContext`, :class:`RowBatch`, :class:`EvidenceSource`,
  :func:`history_genre_mix`;
* ``_base`` -- :class:`RowKind`; ``_pools`` -- candidate pools, caps, floors, picking,
  :func:`mark_taken`;
  ``_facts`` -- facts and phrases shared by reasons;
* one module per row family: ``_top_picks`` (top picks, more picks), ``_because``, ``_rare`` (hidden gems, off the
  mainstream), ``_bubble``, ``_stated``, ``_popular``, ``_live`` (new for you, more like
  this); ``_defaults`` -- :func:`default_rows`;
* :mod:`fairrec.rows.evidence` -- the facts reasons state (title stats, contributions,
  taste groups of *Outside your bubble*, closest viewers).
"""

from __future__ import annotations

from fairrec.rows._base import RowKind
from fairrec.rows._because import BecauseYouWatched
from fairrec.rows._bubble import OutsideYourBubble
from fairrec.rows._context import (
    EvidenceSource,
    RowBatch,
    RowContext,
    history_genre_mix,
)
from fairrec.rows._defaults import default_rows
from fairrec.rows._live import MoreLikeThis, NewForYou
from fairrec.rows._pools import mark_taken
from fairrec.rows._popular import DiversePopular, PopularInGenre
from fairrec.rows._rare import HiddenGems, OffTheMainstream
from fairrec.rows._stated import StatedInterests
from fairrec.rows._top_picks import MorePicks, TopPicks

__all__ = [
    "RowContext",
    "RowBatch",
    "RowKind",
    "TopPicks",
    "MorePicks",
    "BecauseYouWatched",
    "HiddenGems",
    "OffTheMainstream",
    "OutsideYourBubble",
    "StatedInterests",
    "DiversePopular",
    "PopularInGenre",
    "NewForYou",
    "MoreLikeThis",
    "EvidenceSource",
    "default_rows",
    "history_genre_mix",
    "mark_taken",
]
