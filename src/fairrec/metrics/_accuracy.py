"""Accuracy metrics of top-k lists against held-out interactions: precision, recall, NDCG,
MAP and hit rate."""

from __future__ import annotations

import pandas as pd

from fairrec import _columns as C
from fairrec.errors import param_error
from fairrec.metrics import _kernels as K
from fairrec.metrics._context import _columns, _Ctx, _finish
from fairrec.metrics._doc import shared_doc


@shared_doc
def precision_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    denominator: str = "k",
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Precision at k: the share of the top-k slots holding a held-out title.

    With ``denominator="k"`` (default, Recommenders' ``precision_at_k``)::

        P@k = mean over viewers u of truth of |top_k(u) & T(u)| / k

    With ``denominator="min"`` (``implicit.evaluation.precision_at_k``), hits are pooled over
    viewers and divided by the pooled number of achievable hits::

        P@k = sum_u |top_k(u) & T(u)| / sum_u min(k, |T(u)|)

    Parameters
    ----------
    {recs}
    {truth}
    {k}
    denominator : {"k", "min"}
        ``"k"``: macro average of hits / k (Recommenders, Spark). ``"min"``: micro average
        with denominators ``min(k, |T(u)|)``, equal to implicit's precision to rounding;
        per-viewer values are then ``hits / min(k, |T(u)|)``.
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1]. Viewers of ``truth`` without recommendations count as 0.

    Examples
    --------
    Viewer 1 gets a, b, c and watched b and z; viewer 2 gets a, d and watched a; viewer 3
    watched q but got no list. At k = 2: hits are 1, 1, 0, so P@2 = (1/2 + 1/2 + 0) / 3.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> round(precision_at_k(recs, truth, k=2), 4)
    0.3333

    implicit's pooled form: (1 + 1 + 0) / (min(2, 2) + min(2, 1) + min(2, 1)) = 2 / 4.

    >>> precision_at_k(recs, truth, k=2, denominator="min")
    0.5
    """
    if denominator not in ("k", "min"):
        raise param_error("denominator", "precision_at_k", "'k' or 'min'", denominator)
    ctx = _Ctx(recs, truth, owner="precision_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, K._k_precision(ctx, denominator), per_user, "precision_at_k")


@shared_doc
def recall_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Recall at k: the share of a viewer's held-out titles found in the top k.

    ::

        R@k = mean over viewers u of truth of |top_k(u) & T(u)| / |T(u)|

    Same definition as Recommenders' ``recall_at_k`` (which averages over viewers present
    in both frames; fairrec counts a viewer of ``truth`` without a list as 0).

    Parameters
    ----------
    {recs}
    {truth}
    {k}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    Viewer 1 finds b of {b, z} (1/2), viewer 2 finds a of {a} (1), viewer 3 nothing (0).

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> recall_at_k(recs, truth, k=2)
    0.5
    >>> recall_at_k(recs, truth, k=2, per_user=True).tolist()
    [0.5, 1.0, 0.0]
    """
    ctx = _Ctx(recs, truth, owner="recall_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, K._k_recall(ctx), per_user, "recall_at_k")


@shared_doc
def ndcg_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Normalized discounted cumulative gain at k, binary relevance.

    ::

        DCG@k(u)  = sum over ranks r <= k holding a title of T(u) of 1 / log2(r + 1)
        IDCG@k(u) = sum_{r=1}^{min(k, |T(u)|)} 1 / log2(r + 1)
        NDCG@k    = mean over viewers u of truth of DCG@k(u) / IDCG@k(u)

    Identical to ``implicit.evaluation.ndcg_at_k`` and to Recommenders' ``ndcg_at_k`` with its
    default ``score_type="binary"`` (its ``discfun_type`` cancels in the ratio). With
    ``k=None`` the cut-off is each list's length.

    Parameters
    ----------
    {recs}
    {truth}
    {k}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1]; 1 when the held-out titles fill the top ranks.

    Examples
    --------
    Viewer 1: b at rank 2 -> DCG = 1/log2(3) = 0.6309, IDCG = 1 + 1/log2(3) = 1.6309, ratio
    0.3869. Viewer 2: a at rank 1 -> 1. Viewer 3: 0. Mean: 1.3869 / 3 = 0.4623.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> round(ndcg_at_k(recs, truth, k=3), 4)
    0.4623
    """
    ctx = _Ctx(recs, truth, owner="ndcg_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, K._k_ndcg(ctx), per_user, "ndcg_at_k")


@shared_doc
def map_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Mean average precision at k.

    ::

        AP@k(u) = (1 / min(k, |T(u)|)) * sum over hit ranks r <= k of P@r(u)
        MAP@k   = mean over viewers u of truth of AP@k(u)

    where ``P@r(u)`` is the number of hits at ranks <= r divided by r. Same definition as
    Recommenders' ``map_at_k`` (Spark's) and ``implicit.evaluation.mean_average_precision_at_k``.
    With ``k=None`` the normalizer is ``min(len(list), |T(u)|)``.

    Parameters
    ----------
    {recs}
    {truth}
    {k}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    Viewer 1: one hit at rank 2 -> P@2 = 1/2, normalized by min(3, 2) = 2 -> 0.25.
    Viewer 2: hit at rank 1 -> 1. Viewer 3: 0. MAP@3 = 1.25 / 3.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> round(map_at_k(recs, truth, k=3), 4)
    0.4167
    """
    ctx = _Ctx(recs, truth, owner="map_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, K._k_map(ctx), per_user, "map_at_k")


@shared_doc
def hit_rate_at_k(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float | pd.Series:
    """Hit rate at k: the share of viewers with at least one held-out title in the top k.

    ::

        HR@k = mean over viewers u of truth of 1[|top_k(u) & T(u)| > 0]

    Parameters
    ----------
    {recs}
    {truth}
    {k}
    {per_user}
    {columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    Viewers 1 and 2 have a hit in their top 2, viewer 3 has no list: 2 / 3.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> truth = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": list("bzaq")})
    >>> round(hit_rate_at_k(recs, truth, k=2), 4)
    0.6667
    >>> hit_rate_at_k(recs, truth, k=1)  # only viewer 2's first title is a hit
    0.3333333333333333
    """
    ctx = _Ctx(recs, truth, owner="hit_rate_at_k", k=k, **_columns(user_col, item_col, rank_col))
    return _finish(ctx, K._k_hit_rate(ctx), per_user, "hit_rate_at_k")
