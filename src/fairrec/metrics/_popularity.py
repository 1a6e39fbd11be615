"""Popularity metrics: novelty, average popularity, popularity lift and long-tail share."""

from __future__ import annotations

import pandas as pd

from fairrec import _columns as C
from fairrec.metrics import _kernels as K
from fairrec.metrics._context import _columns, _Ctx, _finish
from fairrec.metrics._doc import shared_doc


@shared_doc
def novelty(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Novelty: mean self-information of recommended titles, in bits.

    ::

        nov(i)  = -log2(count_train(i) / |train|)
        novelty = mean over all top-k slots of nov(i)

    Recommenders' ``novelty`` (Castells et al. 2011, item-choice model). ``count_train``
    counts train lines (events). A title absent from train is counted as seen once (the
    rarest finite popularity) rather than dropped. ``per_user=True`` gives each viewer's mean
    over their own list; the overall value averages over slots, so viewers with longer lists
    weigh more (the two agree when all lists have the same length).

    Parameters
    ----------
    {recs}
    {train_popularity}
    {k}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In ``[0, log2(|train|)]``.

    Examples
    --------
    Train has 4 events: a three times, b once. nov(a) = -log2(3/4) = 0.415,
    nov(b) = -log2(1/4) = 2. Slots show a, b, a: (0.415 + 2 + 0.415) / 3 = 0.9434.

    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 2, 3, 3], "item_id": list("aaab")})
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2], "item_id": list("aba"), "rank": [1, 2, 1]})
    >>> round(novelty(recs, train), 4)
    0.9434
    """
    ctx = _Ctx(recs, None, train, owner="novelty", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, K._b_novelty(ctx), per_user, "novelty")


@shared_doc
def average_popularity(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Average recommendation popularity (ARP, Abdollahpouri et al.), as a share of train.

    ::

        pop(i) = count_train(i) / |train|
        ARP    = mean over viewers of recs of the mean over top_k(u) of pop(i)

    Parameters
    ----------
    {recs}
    {train_popularity}
    {k}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    pop(a) = 3/4, pop(b) = 1/4. Viewer 1 gets a, b (mean 1/2), viewer 2 gets a (3/4).

    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 2, 3, 3], "item_id": list("aaab")})
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2], "item_id": list("aba"), "rank": [1, 2, 1]})
    >>> average_popularity(recs, train)
    0.625
    """
    ctx = _Ctx(
        recs, None, train, owner="average_popularity", k=k, **_columns(user_col, item_col, rank_col)
    )
    return _finish(ctx, K._b_average_popularity(ctx), per_user, "average_popularity")


@shared_doc
def popularity_lift(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Popularity lift (Abdollahpouri et al. 2020): how much more popular lists are than profiles.

    ::

        GAP_q = mean over viewers of the mean pop(i) over top_k(u)
        GAP_p = mean over viewers of the mean pop(j) over H(u)   (distinct train titles)
        lift  = (GAP_q - GAP_p) / GAP_p

    over viewers of ``recs`` with a train history; ``pop`` as in :func:`average_popularity`.
    Per viewer (``per_user=True``) the same ratio of the viewer's two means; note the overall
    lift is a ratio of means, not the mean of the per-viewer ratios.

    Parameters
    ----------
    {recs}
    {train_popularity}
    {k}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [-1, inf); 0 when lists are as popular as profiles, > 0 when more popular.

    Examples
    --------
    pop(a) = 3/4, pop(b) = 1/4. Viewer 3's history is {a, b} (mean 1/2); viewer 3 gets a
    (3/4): lift = (3/4 - 1/2) / (1/2) = 0.5.

    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [1, 2, 3, 3], "item_id": list("aaab")})
    >>> recs = pd.DataFrame({"user_id": [3], "item_id": ["a"], "rank": [1]})
    >>> popularity_lift(recs, train)
    0.5
    """
    ctx = _Ctx(
        recs, None, train, owner="popularity_lift", k=k, **_columns(user_col, item_col, rank_col)
    )
    return _finish(ctx, K._b_popularity_lift(ctx), per_user, "popularity_lift")


@shared_doc
def long_tail_share(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    head_share: float = 0.2,
    head_by: str = "interactions",
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Long-tail share (APLT, Abdollahpouri et al. 2019): share of list slots given to tail titles.

    ::

        LT(u) = |top_k(u) & tail| / |top_k(u)|,   LT = mean over viewers of recs of LT(u)

    The head is defined from train popularity (ties broken by ascending item id):

    * ``head_by="interactions"`` (default): the most popular titles that together make up
      ``head_share`` of the train interactions (titles are added, most popular first, while
      the share of interactions already covered is below ``head_share``);
    * ``head_by="items"``: the ``ceil(head_share * n)`` most popular of the ``n`` titles with
      at least one train interaction (a quantile of titles).

    Everything else, including titles never seen in train, is the tail.

    Parameters
    ----------
    {recs}
    {train_popularity}
    {k}
    head_share : float
        In (0, 1).
    head_by : {"interactions", "items"}
        How ``head_share`` is read.
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    Train: a 6 events, b 2, c 1, d 1 (10 in all). With ``head_share=0.5``, a alone covers
    60 % -> head = {a}. Viewer 1 gets a, c (1/2 tail), viewer 2 gets b, d (all tail).

    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": range(10), "item_id": list("aaaaaabbcd")})
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": list("acbd"),
    ...                      "rank": [1, 2, 1, 2]})
    >>> long_tail_share(recs, train, head_share=0.5)
    0.75
    """
    ctx = _Ctx(
        recs, None, train, owner="long_tail_share", k=k, **_columns(user_col, item_col, rank_col)
    )
    return _finish(ctx, K._b_long_tail_share(ctx, head_share, head_by), per_user, "long_tail_share")
