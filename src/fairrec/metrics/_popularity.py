"""Popularity metrics: novelty, average popularity, popularity lift and long-tail share."""

from __future__ import annotations

import warnings

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
    head_share: float = K.HEAD_SHARE,
    head_by: str = "interactions",
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Long-tail share (APLT, Abdollahpouri et al. 2019): share of list slots given to tail titles.

    ::

        LT(u) = |top_k(u) & tail| / |top_k(u)|,   LT = mean over viewers of recs of LT(u)

    ``head_share`` is the share of plays the short head draws -- the same meaning, rule and
    default (0.8, the Pareto split) as the :class:`~fairrec.rerank.LongTail` re-ranker's:
    the head is the smallest set of most played titles whose train plays (lines of
    ``train``) add up to at least ``head_share`` of all train plays, widened to every title
    as popular as its least popular member (ties never split); this is
    :func:`fairrec.rerank.long_tail_mask` applied to the train play counts. Everything
    else, including titles never seen in train, is the tail. (Earlier versions defaulted to
    0.2, a head of the titles drawing a fifth of the plays; pass ``head_share=0.2`` for that
    head.)

    Parameters
    ----------
    {recs}
    {train_popularity}
    {k}
    head_share : float, default 0.8
        Share of all train plays drawn by the head, in (0, 1).
    head_by : {"interactions"}
        Deprecated. ``"items"`` read ``head_share`` as a share of titles (the
        ``ceil(head_share * n)`` most played of the ``n`` played titles); it still works but
        warns (``FutureWarning``), and will be removed: ``head_share`` has one meaning.
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    Train: a 6 plays, b 2, c 1, d 1 (10 in all). The head draws 80 % of the plays: a and b
    (8 of 10). Viewer 1 gets a, c (1/2 tail), viewer 2 gets b, d (1/2 tail).

    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": range(10), "item_id": list("aaaaaabbcd")})
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": list("acbd"),
    ...                      "rank": [1, 2, 1, 2]})
    >>> long_tail_share(recs, train)
    0.5

    With ``head_share=0.5``, a alone draws 60 % -> head = {a}: 1/2 and 2/2 tail.

    >>> long_tail_share(recs, train, head_share=0.5)
    0.75
    """
    if head_by == "items":
        warnings.warn(
            "long_tail_share(head_by='items') is deprecated: head_share is the share of plays "
            "the head draws, as in fairrec.rerank.LongTail (head_by='interactions').",
            FutureWarning,
            stacklevel=2,
        )
    ctx = _Ctx(
        recs, None, train, owner="long_tail_share", k=k, **_columns(user_col, item_col, rank_col)
    )
    return _finish(ctx, K._b_long_tail_share(ctx, head_share, head_by), per_user, "long_tail_share")
