"""The default row configuration of a page."""

from __future__ import annotations

from fairrec.rerank import MMR
from fairrec.rows._base import RowKind
from fairrec.rows._because import BecauseYouWatched
from fairrec.rows._bubble import OutsideYourBubble
from fairrec.rows._popular import DiversePopular, PopularInGenre
from fairrec.rows._rare import HiddenGems, OffTheMainstream
from fairrec.rows._stated import StatedInterests
from fairrec.rows._top_picks import MorePicks, TopPicks


def default_rows() -> list[RowKind]:
    """The default page: personalized rows, stated interests, and non-personal rows.

    Rows are built in this order, each from the candidates the earlier ones left: *Top
    picks* holds the viewer's most relevant titles (one row) and *More picks* the next half
    row, so the page keeps the model's hits; the themed rows follow (*Because you watched*,
    one row), then *Off the mainstream* takes, in relevance order, what is left of the
    viewer's relevant candidates outside the head. *Hidden gems* shows at most half a row:
    rare titles are rarely the ones played next. The settings were chosen on a validation
    split carved from MovieLens 100K's training part (benchmarks/RESULTS.md, "Surprising
    and relevant").
    """
    return [
        TopPicks(),
        MorePicks(),
        BecauseYouWatched(n_rows=1),
        StatedInterests(),
        HiddenGems(max_items=10),
        OutsideYourBubble(),
        OffTheMainstream(reranker=MMR(lambda_=1.0)),
        DiversePopular(),
        PopularInGenre(n_rows=2),
    ]
