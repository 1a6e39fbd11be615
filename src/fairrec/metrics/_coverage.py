"""Exposure metrics of a whole set of lists: catalog coverage, distributional coverage and
the Gini index."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fairrec import _columns as C
from fairrec.metrics import _kernels as K
from fairrec.metrics._context import _columns, _Ctx
from fairrec.metrics._doc import shared_doc


@shared_doc
def catalog_coverage(
    recs: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    catalog: Any = None,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float:
    """Catalog coverage: the share of the catalog recommended to at least one viewer.

    ::

        coverage = |{titles in some top-k list} & catalog| / |catalog|

    The catalog is ``catalog`` when given (a recommended title outside it raises
    :class:`~fairrec.errors.DataError`), else the titles of ``train`` plus the recommended
    titles. This is Recommenders' ``catalog_coverage`` (distinct recommended / distinct train
    titles, Shani & Gunawardana 2010) whenever every recommended title occurs in train.

    Parameters
    ----------
    {recs}
    {train_catalog}
    {k}
    {catalog}
    {columns}

    Returns
    -------
    float
        In [0, 1]; 1 when every title is recommended to someone.

    Examples
    --------
    Titles a, b, c, d are recommended out of a catalog of 8:

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> catalog_coverage(recs, catalog=list("abcdefgh"))
    0.5
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="catalog_coverage",
        k=k,
        catalog=catalog,
        **_columns(user_col, item_col, rank_col),
    )
    return K._b_catalog_coverage(ctx).value


@shared_doc
def distributional_coverage(
    recs: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float:
    """Distributional coverage: Shannon entropy (bits) of how recommendations spread over titles.

    ::

        p(i) = (number of top-k slots holding i) / (number of top-k slots)
        H    = - sum_i p(i) log2 p(i)

    Recommenders' ``distributional_coverage`` (Shani & Gunawardana 2010, eq. 21). 0 when every
    slot shows the same title; ``log2(n)`` when ``n`` titles are shown equally often.

    Parameters
    ----------
    {recs}
    train : pandas.DataFrame, optional
        Not used; accepted so that every metric has the call shape ``(recs, train_or_truth)``
        (Recommenders' function takes it too).
    {k}
    {columns}

    Returns
    -------
    float
        In [0, log2(number of distinct recommended titles)]; ``nan`` for no recommendation.

    Examples
    --------
    Slots show a twice and b, c, d once: p = (2/5, 1/5, 1/5, 1/5),
    H = 0.4 log2(2.5) + 3 * 0.2 log2(5) = 1.9219 bits.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": list("abcad"),
    ...                      "rank": [1, 2, 3, 1, 2]})
    >>> round(distributional_coverage(recs), 4)
    1.9219
    """
    ctx = _Ctx(
        recs,
        None,
        None,
        owner="distributional_coverage",
        k=k,
        **_columns(user_col, item_col, rank_col),
    )
    return K._b_distributional_coverage(ctx).value


@shared_doc
def gini_index(
    recs: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    catalog: Any = None,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    rank_col: str = C.RANK,
) -> float:
    """Gini index of exposure: how unequally top-k slots are spread over the catalog.

    With ``x_(1) <= ... <= x_(n)`` the number of top-k slots of each of the ``n`` catalog
    titles (never-recommended titles count with 0)::

        G = sum_{j=1}^{n} (2j - n - 1) x_(j) / (n * sum_j x_(j))

    0 when every title gets the same exposure, ``(n - 1) / n`` when one title gets it all. The
    catalog is chosen as in :func:`catalog_coverage`. (Recommenders has no Gini index.)

    Parameters
    ----------
    {recs}
    {train_catalog}
    {k}
    {catalog}
    {columns}

    Returns
    -------
    float
        In [0, 1); ``nan`` for no recommendation.

    Examples
    --------
    Catalog a, b, c, d; exposures a: 2, b: 1, c: 1, d: 0. Sorted x = (0, 1, 1, 2), n = 4:
    G = (-3*0 - 1*1 + 1*1 + 3*2) / (4 * 4) = 6 / 16.

    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": list("abac"),
    ...                      "rank": [1, 2, 1, 2]})
    >>> gini_index(recs, catalog=list("abcd"))
    0.375
    """
    ctx = _Ctx(
        recs,
        None,
        train,
        owner="gini_index",
        k=k,
        catalog=catalog,
        **_columns(user_col, item_col, rank_col),
    )
    return K._b_gini(ctx).value
