"""Page metrics over whole home pages (rows of titles): two-dimensional nDCG, repeats, page
coverage and row coherence."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fairrec import _columns as C
from fairrec.metrics import _kernels as K
from fairrec.metrics._context import _Ctx, _finish
from fairrec.metrics._doc import shared_doc
from fairrec.metrics._inputs import ItemFeatures


def _page_ctx(
    pages: pd.DataFrame,
    truth: Any,
    train: Any,
    owner: str,
    k: Any,
    user_col: str,
    item_col: str,
    row_col: str,
    position_col: str,
    **kw: Any,
) -> _Ctx:
    return _Ctx(
        pages,
        truth,
        train,
        owner=owner,
        k=k,
        page=True,
        user_col=user_col,
        item_col=item_col,
        row_col=row_col,
        position_col=position_col,
        **kw,
    )


@shared_doc
def ndcg_2d(
    pages: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    k: int | None = None,
    alpha: float = 1.0,
    beta: float = 1.0,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    row_col: str = C.ROW,
    position_col: str = C.POSITION,
) -> float | pd.Series:
    """Two-dimensional nDCG of a carousel page (Felicioni et al., Frontiers in Big Data 2022).

    A slot in row ``i`` at position ``j`` (both 0-based) is discounted by its row and by its
    position within the row, so attention fades to the right and downwards from the top-left
    corner::

        disc(i, j) = 1 / log2(alpha (i + 1) + beta (j + 1))
        DCG2D(u)   = sum over slots holding a title of T(u), first occurrence only, of disc
        IDCG2D(u)  = sum of the min(|T(u)|, #slots) largest disc among the page's slots
        nDCG2D     = mean over viewers u of truth of DCG2D(u) / IDCG2D(u)

    Binary relevance. With ``alpha = beta = 1`` this is the authors' definition (their code
    uses ``1 / log2(i + j + 2)`` for 0-based indices); a title repeated on the page earns only
    at its best-discounted slot, as in the authors' duplicate handling, and the ideal page
    puts the held-out titles in the best-discounted slots of the same page layout.

    Parameters
    ----------
    {pages}
    {truth}
    {k_page}
    alpha, beta : float
        Weights of the row and the position in the discount (> 0, ``alpha + beta > 1``).
    {per_user}
    {page_columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1].

    Examples
    --------
    A 2 x 2 page [[a, b], [c, a]]; the viewer watched a and c. Discounts: (0,0) 1,
    (0,1) and (1,0) 1/log2(3) = 0.6309, (1,1) 1/2. DCG = 1 (a) + 0.6309 (c); the repeated a
    earns nothing. IDCG = 1 + 0.6309. nDCG2D = 1.

    >>> import pandas as pd
    >>> page = pd.DataFrame({"user_id": [1] * 4, "row": [0, 0, 1, 1],
    ...                      "position": [0, 1, 0, 1], "item_id": list("abca")})
    >>> ndcg_2d(page, pd.DataFrame({"user_id": [1, 1], "item_id": ["a", "c"]}))
    1.0

    Watching only b (at (0, 1)): 0.6309 / 1.

    >>> round(ndcg_2d(page, pd.DataFrame({"user_id": [1], "item_id": ["b"]})), 4)
    0.6309
    """
    ctx = _page_ctx(pages, truth, None, "ndcg_2d", k, user_col, item_col, row_col, position_col)
    return _finish(ctx, K._p_ndcg_2d(ctx, alpha, beta), per_user, "ndcg_2d")


@shared_doc
def repeat_rate(
    pages: pd.DataFrame,
    *,
    k: int | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    row_col: str = C.ROW,
    position_col: str = C.POSITION,
) -> float | pd.Series:
    """Repeats across rows: the share of a page's slots that repeat a title shown elsewhere.

    ::

        repeats(u) = 1 - (distinct titles on the page) / (slots on the page)

    averaged over the viewers of ``pages``. 0 when no title appears twice.

    Parameters
    ----------
    {pages}
    {k_page}
    {per_user}
    {page_columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1).

    Examples
    --------
    The page [[a, b], [c, a]] has 4 slots and 3 distinct titles: 1 - 3/4.

    >>> import pandas as pd
    >>> page = pd.DataFrame({"user_id": [1] * 4, "row": [0, 0, 1, 1],
    ...                      "position": [0, 1, 0, 1], "item_id": list("abca")})
    >>> repeat_rate(page)
    0.25
    """
    ctx = _page_ctx(pages, None, None, "repeat_rate", k, user_col, item_col, row_col, position_col)
    return _finish(ctx, K._p_repeat_rate(ctx), per_user, "repeat_rate")


@shared_doc
def page_coverage(
    pages: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    catalog: Any = None,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    row_col: str = C.ROW,
    position_col: str = C.POSITION,
) -> float:
    """Page coverage: the share of the catalog shown on at least one viewer's page.

    ::

        coverage = |{titles on some page} & catalog| / |catalog|

    :func:`catalog_coverage` for whole pages (a title shown in several rows counts once). The
    catalog is ``catalog`` when given, else the titles of ``train`` plus the titles shown.

    Parameters
    ----------
    {pages}
    {train_catalog}
    {k_page}
    {catalog}
    {page_columns}

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    Pages show a, b, c out of a catalog of 6:

    >>> import pandas as pd
    >>> page = pd.DataFrame({"user_id": [1] * 4, "row": [0, 0, 1, 1],
    ...                      "position": [0, 1, 0, 1], "item_id": list("abca")})
    >>> page_coverage(page, catalog=list("abcdef"))
    0.5
    """
    ctx = _page_ctx(
        pages,
        None,
        train,
        "page_coverage",
        k,
        user_col,
        item_col,
        row_col,
        position_col,
        catalog=catalog,
    )
    return K._b_catalog_coverage(ctx).value


@shared_doc
def row_coherence(
    pages: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    item_features: ItemFeatures | None = None,
    per_user: bool = False,
    user_col: str = C.USER,
    item_col: str = C.ITEM,
    row_col: str = C.ROW,
    position_col: str = C.POSITION,
) -> float | pd.Series:
    """Row coherence: how alike the titles of a row are (a titled row should hang together).

    ::

        coh(u, row) = mean over pairs of distinct titles i < j in the row of cos(i, j)
        coh(u)      = mean over the viewer's rows with >= 2 distinct titles
        coherence   = mean over viewers

    ``cos`` as in :func:`intra_list_diversity` (feature vectors, genres as multi-hot vectors,
    or train co-occurrence); a row's coherence is one minus its intra-list diversity.

    Parameters
    ----------
    {pages}
    {train_similarity}
    {k_page}
    {item_features}
    {per_user}
    {page_columns}

    Returns
    -------
    float or pandas.Series
        In [0, 1] for non-negative features and co-occurrence; in [-1, 1] for signed vectors.

    Examples
    --------
    Row 0 = a, b (Drama, Drama): 1. Row 1 = c, a (Comedy, Drama): 0. Mean 0.5.

    >>> import pandas as pd
    >>> genres = pd.Series({"a": ["Drama"], "b": ["Drama"], "c": ["Comedy"]})
    >>> page = pd.DataFrame({"user_id": [1] * 4, "row": [0, 0, 1, 1],
    ...                      "position": [0, 1, 0, 1], "item_id": list("abca")})
    >>> row_coherence(page, item_features=genres)
    0.5
    """
    ctx = _page_ctx(
        pages,
        None,
        train,
        "row_coherence",
        k,
        user_col,
        item_col,
        row_col,
        position_col,
        item_features=item_features,
    )
    return _finish(ctx, K._p_row_coherence(ctx), per_user, "row_coherence")
