"""``Recommender``: the facade over the serving stage (:mod:`fairrec.serving`).

The data flows one way: :class:`~fairrec.data.Dataset` → consent gate
(:mod:`fairrec.serving.gate`) → candidate model (:mod:`fairrec.models`) → rows
(:mod:`fairrec.rows`) → page assembly (:mod:`fairrec.serving.assembly`) →
:class:`~fairrec.page.HomePage`. This module holds the parameters and the public methods;
each method delegates to the serving module that does the job, and the state they share
(the fitted state in service, the ledger, the clock, the parameter checks) lives in
:class:`~fairrec.serving.host.ServingHost`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from fairrec.data import Dataset
from fairrec.models import CandidateModel
from fairrec.page import HomePage
from fairrec.rows import RowKind
from fairrec.serving import erasure, explain, fit, flat, pages
from fairrec.serving.explain import DataUseReport
from fairrec.serving.host import ServingHost
from fairrec.serving.state import FittedState

__all__ = ["Recommender", "DataUseReport"]


class Recommender(ServingHost):
    """Consent-aware recommender that builds home pages of titled, explained rows.

    Parameters
    ----------
    model : CandidateModel, default ``ALS()``
        Candidate model (:mod:`fairrec.models`): a template. :meth:`fit` trains a copy and
        leaves this object as it was (``rec.model`` stays the parameter, unfitted); the
        fitted model is ``rec.model_``, and using the template raises a
        :class:`~fairrec.errors.NotFittedError` that says so.
    consent : ConsentLedger, optional
        The consent ledger. ``None`` means no ledger: every viewer is treated as having
        granted every purpose (``ConsentLedger(default="allow")``) — for data collected under
        another lawful basis, such as offline benchmarks.
    retention_days : float, optional
        Interactions older than this (relative to the time of fitting or of the request)
        are never used. ``None``: no window.
    rows : list of RowKind, optional
        Row configuration; default :func:`fairrec.rows.default_rows`.
    row_size : int, default 20
        Titles per row.
    n_candidates : int, default 1000
        Candidates scored per viewer before re-ranking.
    max_rows : int, default 8
        Rows on a page at most.
    min_row_items : int, optional
        A row with fewer titles is dropped (default ``max(3, row_size // 2)``).
    on_unknown : {"raise", "warn", "ignore"}, default "raise"
        A viewer neither in the data nor in the ledger (or erased): raise
        :class:`~fairrec.errors.UnknownUserError`, or serve the non-personalized page
        (with a warning for ``"warn"``).
    audit_log : AuditLog, optional
        Records every page served (keyed hash of the viewer, purposes, data categories).
    clock : callable, optional
        Returns "now" (naive UTC ``pandas.Timestamp``); for replays and tests.
    batch_size : int, default 256
        Viewers per chunk in batch calls (bounds memory).
    live : LiveConfig, optional
        Live-serving settings (observed events cap, impression discount); see
        :class:`fairrec.live.LiveConfig` and :meth:`~fairrec.live_api.LiveServing.observe`.

    Examples
    --------
    >>> import fairrec as fr
    >>> data = fr.datasets.synthetic(n_users=300, n_items=200, seed=0)
    >>> rec = fr.Recommender(model=fr.models.ALS(factors=16, iterations=5)).fit(data)
    >>> page = rec.home(data.user_ids[0])
    >>> len(page.rows) > 0
    True
    """

    def __init__(
        self,
        model: CandidateModel | None = None,
        consent: Any = None,
        retention_days: float | None = None,
        rows: Sequence[RowKind] | None = None,
        row_size: int = 20,
        n_candidates: int = 1000,
        max_rows: int = 8,
        min_row_items: int | None = None,
        on_unknown: str = "raise",
        audit_log: Any = None,
        clock: Callable[[], pd.Timestamp] | None = None,
        batch_size: int = 256,
        live: Any = None,
    ) -> None:
        self.model = model
        self.consent = consent
        self.retention_days = retention_days
        self.rows = rows
        self.row_size = row_size
        self.n_candidates = n_candidates
        self.max_rows = max_rows
        self.min_row_items = min_row_items
        self.on_unknown = on_unknown
        self.audit_log = audit_log
        self.clock = clock
        self.batch_size = batch_size
        self.live = live
        super().__init__()

    # ------------------------------------------------------------------ state
    @property
    def consent_(self) -> Any:
        """The ledger in force (an allow-all ledger when none was given)."""
        return self._consent

    @property
    def fitted_state_(self) -> FittedState:
        """The fitted state in service (:class:`~fairrec.serving.FittedState`): one
        immutable snapshot that ``fit``, ``load``, ``forget`` and ``add_titles`` replace
        whole. Take it once and read from it for a consistent view."""
        self._require_fitted()
        return self.__dict__["_fitted"]

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Dataset, now: Any = None) -> Recommender:
        """Train the model on the interactions the training gate lets through.

        Only events of viewers with ``training`` consent now (and not erased), inside the
        retention window, reach the model; the training matrix has a row for those viewers
        only.

        Parameters
        ----------
        data : Dataset
        now : datetime-like, optional
            Time of fitting (default: the clock).

        Returns
        -------
        Recommender
            ``self``.
        """
        return fit.fit(self, data, now)

    @classmethod
    def from_fitted(
        cls,
        model: CandidateModel,
        data: Dataset,
        *,
        train_user_ids: Sequence[Any],
        consent: Any = None,
        fitted_at: Any = None,
        **params: Any,
    ) -> Recommender:
        """Serve a model fitted elsewhere (e.g. :func:`fairrec.spark.fit_als`).

        Parameters
        ----------
        model : CandidateModel
            A fitted model over ``data``'s catalog (``model.n_items_ == data.n_items``).
        data : Dataset
            Histories to serve from and the catalog.
        train_user_ids : sequence
            External ids of the viewers whose plays trained the model, in the order of the
            model's user factors (the training matrix is rebuilt from ``data`` for them).
        consent : ConsentLedger, optional
        fitted_at : datetime-like, optional
        **params
            Other :class:`Recommender` parameters (``row_size``, ``retention_days``, ...).
        """
        return fit.from_fitted(
            cls,
            model,
            data,
            train_user_ids=train_user_ids,
            consent=consent,
            fitted_at=fitted_at,
            **params,
        )

    # ------------------------------------------------------------------ public serving
    def home(self, user: Any, now: Any = None, *, region: str | None = None) -> HomePage:
        """The viewer's home page.

        Built from one consent snapshot: history only with ``personalization`` granted now,
        stated interests only with ``stated_interests``, exclusions always applied.

        Parameters
        ----------
        user : str or int
            External viewer id.
        now : datetime-like, optional
            Request time (default: the clock), for the retention window and availability.
        region : str, optional
            The viewer's region code: titles not licensed there are never shown
            (:mod:`fairrec.availability`). None: no region filter.

        Returns
        -------
        HomePage
        """
        return pages.home(self, user, now, region=region)

    def home_batch(
        self,
        users: Iterable[Any],
        now: Any = None,
        *,
        n_jobs: int = 1,
        progress: bool | None = None,
        as_pages: bool = False,
        region: str | None = None,
    ) -> pd.DataFrame | list[HomePage]:
        """Home pages of many viewers as one frame (:meth:`HomePage.to_frame` schema).

        Viewers are processed in chunks of at most ``batch_size`` (memory stays bounded), as
        even as possible and as many as a multiple of ``n_jobs`` (threads get equal shares),
        each chunk vectorized across its viewers; pages are identical to :meth:`home`'s.

        Parameters
        ----------
        users : iterable of ids
        now : datetime-like, optional
        n_jobs : int, default 1
            Threads working on chunks in parallel (numpy releases the GIL in its kernels).
        progress : bool, optional
            Show a tqdm progress bar (default: when there are more than 10 chunks).
        as_pages : bool, default False
            Return the list of :class:`HomePage` instead of a frame.
        region : str, optional
            Region code of these viewers (see :meth:`home`).
        """
        return pages.home_batch(
            self, users, now, n_jobs=n_jobs, progress=progress, as_pages=as_pages, region=region
        )

    def recommend(
        self,
        user: Any,
        k: int = 10,
        reranker: Any = None,
        *,
        now: Any = None,
        n_candidates: int | None = None,
        region: str | None = None,
    ) -> pd.DataFrame:
        """A flat top-``k`` list for one viewer (seen, excluded and unavailable titles removed).

        Returns
        -------
        pandas.DataFrame
            Columns ``item_id, title, score, rank`` (rank 1-based) and ``reason``.
        """
        return self.recommend_batch(
            [user],
            k,
            reranker,
            now=now,
            n_candidates=n_candidates,
            region=region,
            _with_user=False,
        )

    def recommend_batch(
        self,
        users: Iterable[Any],
        k: int = 10,
        reranker: Any = None,
        *,
        now: Any = None,
        n_candidates: int | None = None,
        region: str | None = None,
        _with_user: bool = True,
    ) -> pd.DataFrame:
        """Flat top-``k`` lists for many viewers: ``user_id, item_id, title, score, rank``.

        With a ``reranker`` (:mod:`fairrec.rerank`: an instance, or a name such as ``"mmr"``
        that :func:`fairrec.rerank.by_name` knows, the names ``fairrec.compare`` accepts), the
        top ``n_candidates`` titles are re-ranked with the model's item vectors, the viewer's
        history profile and genre distribution, and title popularity as context.
        """
        return flat.recommend_batch(
            self,
            users,
            k,
            reranker,
            now=now,
            n_candidates=n_candidates,
            region=region,
            _with_user=_with_user,
        )

    # ------------------------------------------------------------------ transparency
    def explain_data_use(self, user: Any, now: Any = None) -> DataUseReport:
        """What data is used for this viewer, for which purpose, since when and until when.

        The report is built from the same consent snapshot and the same page as
        :meth:`home` would serve now (any spelling of the id: ``1``, ``"01"``, ...), so what
        it says the page uses is what the page uses. For ``training`` it says whether the
        shared model in service was trained on the viewer's plays: after a withdrawal (and
        before the next :meth:`fit`) it says the model still uses what it learned from them
        until the next training, never that none of their data is used.

        Returns
        -------
        DataUseReport
            A dict (``user_id``, ``purposes``, ``data_categories``, ``page_data_used``,
            ``retention_days``, ``history_events_used``, ``trained_on_your_data``,
            ``trained_titles``, ``model_trained_at``, ``training_data_until``,
            ``stated_interests``, ``exclusions``, ``live_events_used`` (observed plays and
            impressions used, :meth:`~fairrec.live_api.LiveServing.observe`), ``generated_at``, ``text``) whose ``str()``
            is a readable summary.
        """
        return explain.explain_data_use(self, user, now)

    # ------------------------------------------------------------------ erasure
    def forget(self, user: Any, update_items: bool = False) -> None:
        """Erase a viewer everywhere fairrec holds them, or refuse before anything changes.

        Any spelling of the id (``1``, ``"01"``, ``"１"``) erases the one viewer. In order:

        1. the model without the viewer is computed first (copy on write, see
           :meth:`fairrec.models.CandidateModel.erase_rows`): their training row and factor
           row go; counts and similarities that can be recomputed exactly (Popularity,
           ItemKNN, the catalog popularity) are recomputed without them; with
           ``update_items`` the learned item vectors (ALS partial fit, BPR refit) too. If
           this fails, nothing has changed and the error is raised;
        2. the consent ledger tombstones the id (every spelling) and drops their events;
        3. the audit log's lines for them are erased; no line is written for them afterwards,
           also not by requests already in flight (see :meth:`_audit`);
        4. the recommender swaps in the state without their events, row and factors, so
           :meth:`save` never writes them again.

        Parameters
        ----------
        user : str or int
        update_items : bool, default False
            Also re-solve the learned item vectors the viewer's plays shaped (implicit's
            partial fit for ALS, a refit for BPR), so their data stops shaping the catalog
            vectors before the next full fit.
        """
        erasure.forget(self, user, update_items)

    # ------------------------------------------------------------------ persistence
    def save(self, path: Any) -> None:
        """Write the fitted recommender to a directory (npz + JSON; no pickle).

        The directory is written next to its destination and renamed into place, so an
        interrupted save leaves any previous model loadable. What is written is decided by
        the ledger and the clock at save time: histories only of viewers with
        ``personalization``, training rows and user factors only of viewers with
        ``training``, only plays inside the retention window, and catalog popularity counted
        from those training rows (see :mod:`fairrec.persist`).
        """
        from fairrec.serving.persist import save_recommender

        self._require_fitted()
        save_recommender(self, path)

    @classmethod
    def load(cls, path: Any, consent: Any = None, **overrides: Any) -> Recommender:
        """Load a recommender saved by :meth:`save`; validates format, shapes and checksums.

        Parameters
        ----------
        path : path-like
        consent : ConsentLedger, optional
            The ledger to serve with (the model file holds no consent state).
        **overrides
            Serving parameters to change (e.g. ``row_size``, ``on_unknown``, ``clock``).
        """
        from fairrec.serving.persist import load_recommender

        return load_recommender(cls, path, consent, overrides)

    def __repr__(self) -> str:
        fitted = "fitted" if "_fitted" in self.__dict__ else "not fitted"
        return (
            f"Recommender(model={self.model!r}, retention_days={self.retention_days!r}, "
            f"row_size={self.row_size}, n_candidates={self.n_candidates}) [{fitted}]"
        )
