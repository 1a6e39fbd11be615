"""Similarity-based beyond-accuracy metrics: intra-list diversity, unexpectedness,
serendipity and miscalibration."""

from __future__ import annotations

import pandas as pd

from fairrec import _columns as C
from fairrec.metrics import _kernels as K
from fairrec.metrics._context import _columns, _Ctx, _finish
from fairrec.metrics._doc import shared_doc
from fairrec.metrics._inputs import ItemFeatures


@shared_doc
def intra_list_diversity(
    recs: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Intra-list diversity: one minus the mean pairwise similarity of a list's titles.

    ::

        ILD(u) = 1 - (2 / (n (n - 1))) * sum_{i < j in top_k(u)} cos(i, j)
        ILD    = mean over viewers with >= 2 recommended titles of ILD(u)

    ``cos`` is the cosine of feature vectors when ``item_features`` is given (numeric columns,
    or genre lists taken as multi-hot vectors), else the co-occurrence cosine
    ``|U_i & U_j| / sqrt(|U_i| |U_j|)`` over the viewers of ``train`` (distinct pairs). These
    are Recommenders' ``diversity`` with ``item_sim_measure="item_feature_vector"`` and
    ``"item_cooccurrence_count"`` (Zhang et al. 2012, eq. 3; Ziegler et al. 2005). A title
    with an all-zero vector has similarity 0 to everything.

    Parameters
    ----------
    {recs}
    {train_similarity}
    {k}
    {item_features}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1] for non-negative features and co-occurrence; in [0, 2] for signed vectors.

    Examples
    --------
    Viewer 1 gets a (Drama), b (Drama), c (Comedy): pair cosines 1, 0, 0 -> ILD = 1 - 1/3.
    Viewer 2 gets a (Drama), d (Drama|Comedy): cosine 1/sqrt(2) -> ILD = 0.2929.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"],
    ...                     "d": ["Drama", "Comedy"]})
    >>> intra_list_diversity(recs, item_features=genres, per_user=True).round(4).tolist()
    [0.6667, 0.2929]
    >>> round(intra_list_diversity(recs, item_features=genres), 4)
    0.4798
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="intra_list_diversity",
        k=k,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    return _finish(ctx, K._b_ild(ctx), per_user, "intra_list_diversity")


@shared_doc
def unexpectedness(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Unexpectedness: how far recommended titles are from the viewer's history.

    ::

        unexp(u, i)     = 1 - mean over j in H(u) of cos(i, j)
        unexpectedness  = mean over viewers (with a history) of the mean over top_k(u)

    ``H(u)`` is the set of distinct titles of ``u`` in ``train``; ``cos`` is as in
    :func:`intra_list_diversity`. This is Recommenders' ``serendipity`` with every
    recommendation marked relevant (its default ``col_relevance=None``), i.e. the
    "unexpectedness" factor of Zhang et al. 2012. Viewers without train history are left out.

    Parameters
    ----------
    {recs}
    {train_history}
    {k}
    {item_features}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1] for non-negative features and co-occurrence; in [0, 2] for signed vectors.

    Examples
    --------
    Viewer 1 watched a (Drama) and c (Comedy) and gets b (Drama) and d (Drama|Comedy):
    unexp(b) = 1 - (1 + 0)/2 = 0.5; unexp(d) = 1 - (0.7071 + 0.7071)/2 = 0.2929. Mean 0.3964.

    >>> import pandas as pd
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"],
    ...                     "d": ["Drama", "Comedy"]})
    >>> train = pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "c"]})
    >>> recs = pd.DataFrame({"user_id": [1, 1], "item_id": ["b", "d"], "rank": [1, 2]})
    >>> round(unexpectedness(recs, train, item_features=genres), 4)
    0.3964
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="unexpectedness",
        k=k,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    return _finish(ctx, K._b_unexpectedness(ctx), per_user, "unexpectedness")


@shared_doc
def serendipity(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    train: pd.DataFrame,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Serendipity: unexpectedness counted only for recommendations that turn out relevant.

    ::

        ser(u, i)   = unexp(u, i) * rel(u, i),   rel(u, i) = 1[i in T(u)]
        serendipity = mean over viewers (with a history) of the mean over top_k(u) of ser

    Recommenders' ``user_item_serendipity`` / ``user_serendipity`` / ``serendipity`` (Zhang et
    al. 2012; Yan 2020) with ``col_relevance`` set to membership of the pair in ``truth``;
    ``unexp`` is as in :func:`unexpectedness`. Viewers without train history are left out.

    Parameters
    ----------
    {recs}
    {truth}
    {train_history}
    {k}
    {item_features}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1] for non-negative features and co-occurrence; in [0, 2] for signed vectors.

    Examples
    --------
    As in :func:`unexpectedness`, but only d was watched afterwards:
    (0.5 * 0 + 0.2929 * 1) / 2 = 0.1464.

    >>> import pandas as pd
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"],
    ...                     "d": ["Drama", "Comedy"]})
    >>> train = pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "c"]})
    >>> recs = pd.DataFrame({"user_id": [1, 1], "item_id": ["b", "d"], "rank": [1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1], "item_id": ["d"]})
    >>> round(serendipity(recs, truth, train=train, item_features=genres), 4)
    0.1464
    """
    ctx = _Ctx(
        recs,
        truth,
        train,
        owner="serendipity",
        k=k,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    return _finish(ctx, K._b_serendipity(ctx), per_user, "serendipity")


@shared_doc
def miscalibration(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    *,
    item_features: ItemFeatures,
    k: int | None = None,
    alpha: float = 0.01,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Miscalibration (Steck 2018): KL divergence of the list's genres from the history's.

    ::

        p(g|i) = 1 / |genres(i)| for each genre of i (or normalized genre weights)
        p(g|u) = mean over j in H(u) of p(g|j)          (distinct train titles)
        q(g|u) = mean over i in top_k(u) of p(g|i)      (q = 0 if no listed title has genres)
        MC(u)  = sum_g p(g|u) ln( p(g|u) / ((1 - alpha) q(g|u) + alpha p(g|u)) )

    averaged over viewers of ``recs`` whose history has at least one genre. Natural log, as
    in Steck's paper; history and list titles weigh the same (no rank weights). Titles
    without genres are left out of the means. (Recommenders has no miscalibration metric.)

    Parameters
    ----------
    {recs}
    train : pandas.DataFrame
        ``user_id, item_id``: viewer histories.
    item_features : pandas.Series or pandas.DataFrame
        Genre lists indexed by ``item_id``, or non-negative genre weights (one column per
        genre).
    {k}
    alpha : float
        Smoothing in (0, 1) that keeps the divergence finite (Steck uses 0.01).
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, ln(1/alpha)]; 0 when the list's genre mix equals the history's.

    Examples
    --------
    History a (Drama), c (Comedy): p = (1/2, 1/2). List b (Drama), e (Drama): q = (1, 0).
    MC = 0.5 ln(0.5 / 0.995) + 0.5 ln(0.5 / 0.005) = 1.9585.

    >>> import pandas as pd
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"], "e": ["Drama"]})
    >>> train = pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "c"]})
    >>> recs = pd.DataFrame({"user_id": [1, 1], "item_id": ["b", "e"], "rank": [1, 2]})
    >>> round(miscalibration(recs, train, item_features=genres), 4)
    1.9585
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="miscalibration",
        k=k,
        item_features=item_features,
        **_columns(user_col, item_col, rank_col),
    )
    return _finish(ctx, K._b_miscalibration(ctx, alpha), per_user, "miscalibration")
