"""The default row configuration of a page."""

from __future__ import annotations

from fairrec.rows._base import RowKind
from fairrec.rows._because import BecauseYouWatched
from fairrec.rows._bubble import OutsideYourBubble
from fairrec.rows._popular import DiversePopular, PopularInGenre
from fairrec.rows._rare import HiddenGems, OffTheMainstream
from fairrec.rows._stated import StatedInterests
from fairrec.rows._top_picks import TopPicks


def default_rows() -> list[RowKind]:
    """The default page: personalized rows, stated interests, and non-personal rows.

    Rows are built in this order, each from the candidates the earlier ones left: the themed
    rows first, then *Off the mainstream* takes what is left of the viewer's relevant
    candidates outside the head. *Hidden gems* shows at most half a row: rare titles are
    rarely the ones played next (benchmarks/RESULTS.md, "Surprising and relevant").
    """
    return [
        TopPicks(),
        BecauseYouWatched(n_rows=2),
        StatedInterests(),
        HiddenGems(max_items=10),
        OutsideYourBubble(),
        OffTheMainstream(),
        DiversePopular(),
        PopularInGenre(n_rows=2),
    ]
