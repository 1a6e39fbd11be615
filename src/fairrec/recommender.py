"""``Recommender``: fit on consented data, serve home pages and flat lists, explain data use.

The data flows one way: :class:`~fairrec.data.Dataset` → consent gate
(:mod:`fairrec.gate`) → candidate model (:mod:`fairrec.models`) → rows (:mod:`fairrec.rows`)
→ page assembly (:mod:`fairrec.assembly`) → :class:`~fairrec.page.HomePage`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.assembly import to_frame
from fairrec.availability import check_region
from fairrec.data import Dataset
from fairrec.errors import DataError, NotFittedError, UnknownUserError, param_error
from fairrec.gate import (
    PERSONALIZATION,
    STATED_INTERESTS,
    TRAINING,
    CatalogIndex,
    ServingBatch,
    cell_oldest,
    retention_cutoff,
    serving_batch,
    training_events,
    training_matrix,
    training_oldest,
)
from fairrec.ids import canon_id, canon_ids
from fairrec.live import cold_reasons, explain_live
from fairrec.live_api import LiveServing
from fairrec.models import ALS, CandidateModel, top_n
from fairrec.page import (
    DATA_CATALOG_POPULARITY,
    DATA_STATED_INTERESTS,
    DATA_WATCH_HISTORY,
    HomePage,
    Reason,
    Row,
    describe_data_used,
    pages_to_frame,
)
from fairrec.rows import EvidenceSource, RowContext, RowKind, default_rows, history_genre_mix

__all__ = ["Recommender", "DataUseReport"]

_ON_UNKNOWN = ("raise", "warn", "ignore")


def _utcnow() -> pd.Timestamp:
    # naive UTC; from the epoch clock directly (pd.Timestamp.now(tz=...) costs ~0.3 ms)
    return pd.Timestamp(time.time_ns(), unit="ns")


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _object_array(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = [v.item() if isinstance(v, np.generic) else v for v in values]
    return out


def _id_column(ids: Sequence[Any], like: np.ndarray) -> np.ndarray:
    """Viewer ids as a column of the data's id dtype (int64 when the data's ids and these
    are all ints), so fairrec's frames join with the data's own frames without casts."""
    if like.dtype.kind in "iu" and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in ids
    ):
        return np.asarray(ids, dtype=np.int64)
    return _object_array(list(ids))


@dataclass(frozen=True)
class _Fitted:
    """Everything ``fit`` (or ``load``/``forget``) produces, swapped in as one reference.

    A request takes the reference once and reads only from it, so a concurrent ``forget``
    or refit never gives it half-old, half-new state.
    """

    data_: Dataset
    catalog_: CatalogIndex
    train_matrix_: sp.csr_matrix
    train_oldest_: sp.csr_matrix | None
    train_user_ids_: np.ndarray
    train_index_: dict
    vectors_: np.ndarray
    genres_: np.ndarray
    popularity_: np.ndarray
    log_popularity_: np.ndarray
    pop_pct_: np.ndarray
    pop_order_: np.ndarray
    titles_: np.ndarray
    titles_py_: list
    item_ids_py_: list
    item_ids_obj_: np.ndarray
    genre_tuples_: list
    fitted_at_: pd.Timestamp
    row_kinds_: list
    model_: CandidateModel
    vocab_: Any
    stats_: Any
    item_ratings_: Any


_FITTED = frozenset(f.name for f in fields(_Fitted))


def _positives(m: sp.csr_matrix) -> sp.csr_matrix:
    """``m`` without its stored zeros (titles watched without being a positive): what a
    model is fitted on and scores from."""
    if m.nnz and not (m.data > 0).all():
        m = m.copy()
        m.data[m.data < 0] = 0
        m.eliminate_zeros()
    return m


def _item_ratings(data: Dataset, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Sum and count of explicit ratings per title over the events in ``mask``."""
    if data.ratings is None:
        return None
    items = data.items[mask]
    total = np.bincount(items, weights=data.ratings[mask], minlength=data.n_items)
    return total, np.bincount(items, minlength=data.n_items)


def _like_label(data: Dataset) -> str | None:
    """``"rated it 4+"`` when the ratings split positives from the rest at 4 stars."""
    r = data.ratings
    if r is None or len(r) == 0:
        return None
    pos = data.weights > 0
    if not pos.any():
        return None
    t = float(r[pos].min())
    if (~pos).any() and not float(r[~pos].max()) < t:
        return None
    return f"rated it {t:g}+"


def _without_banned(batch: ServingBatch) -> ServingBatch:
    """The batch with each viewer's banned titles removed from their history and recent
    titles (personalization ends for a viewer whose whole history is banned)."""
    h = batch.histories
    if not h.nnz or not batch.banned.any():
        return batch
    rows = np.repeat(np.arange(h.shape[0]), np.diff(h.indptr))
    keep = ~batch.banned[rows, h.indices]
    if keep.all():
        return batch
    counts = np.bincount(rows[keep], minlength=h.shape[0])
    indptr = np.zeros(h.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    hist = sp.csr_matrix((h.data[keep], h.indices[keep], indptr), shape=h.shape)
    recent = batch.recent
    if recent.size:
        ar = np.arange(recent.shape[0])[:, None]
        bad = (recent >= 0) & batch.banned[ar, np.maximum(recent, 0)]
        recent = np.where(bad, -1, recent)
        recent = np.take_along_axis(recent, np.argsort(recent < 0, axis=1, kind="stable"), 1)
    from dataclasses import replace

    return replace(
        batch, histories=hist, recent=recent, personalized=batch.personalized & (counts > 0)
    )


class DataUseReport(dict):
    """What data fairrec uses for a viewer, for which purpose, since when.

    A plain ``dict`` (JSON-ready) whose ``str()`` is a readable text for the viewer.
    """

    @property
    def text(self) -> str:
        return self["text"]

    def __str__(self) -> str:
        return self.text


class Recommender(LiveServing):
    """Consent-aware recommender that builds home pages of titled, explained rows.

    Parameters
    ----------
    model : CandidateModel, default ``ALS()``
        Candidate model (:mod:`fairrec.models`).
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
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ parameters
    def _validate(self) -> None:
        def positive_int(name: str) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise param_error(name, "Recommender", "an int >= 1", v)

        for name in ("row_size", "n_candidates", "max_rows", "batch_size"):
            positive_int(name)
        if self.min_row_items is not None:
            positive_int("min_row_items")
        if self.on_unknown not in _ON_UNKNOWN:
            raise param_error("on_unknown", "Recommender", f"one of {_ON_UNKNOWN}", self.on_unknown)
        if self.retention_days is not None:
            r = self.retention_days
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not r > 0:
                raise param_error("retention_days", "Recommender", "a number > 0 or None", r)
        if self.model is not None and not isinstance(self.model, CandidateModel):
            raise param_error("model", "Recommender", "a fairrec.models model", self.model)

    def _now(self, now: Any = None) -> pd.Timestamp:
        t = pd.Timestamp(now) if now is not None else (self.clock or _utcnow)()
        if t.tzinfo is not None:
            t = t.tz_convert("UTC").tz_localize(None)
        return t

    @property
    def consent_(self) -> Any:
        """The ledger in force (an allow-all ledger when none was given)."""
        return self._consent

    def __getattr__(self, name: str) -> Any:
        # fitted attributes (``data_``, ``model_``, ...) live in one immutable snapshot
        if name in _FITTED:
            fitted = self.__dict__.get("_fitted")
            if fitted is not None:
                return getattr(fitted, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _require_fitted(self) -> None:
        if "_fitted" not in self.__dict__:
            raise NotFittedError(
                "This Recommender instance is not fitted yet. Call 'fit' with a Dataset first."
            )

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
        from fairrec.consent import ConsentLedger

        self._validate()
        if not isinstance(data, Dataset):
            raise DataError(f"fit() needs a fairrec.Dataset. Got {type(data).__name__} instead.")
        if self.retention_days is not None and data.timestamps is None:
            raise DataError(
                "retention_days is set but the dataset has no timestamps "
                "(pass time_col= to Dataset.from_pandas)."
            )
        consent = self.consent if self.consent is not None else ConsentLedger(default="allow")
        when = self._now(now)
        mask = training_events(data, consent, when, self.retention_days)
        train, rows = training_matrix(data, mask)
        oldest = training_oldest(data, mask, train, rows)
        if train.shape[0] == 0:
            raise DataError(
                "No interaction may be used for training: no viewer with 'training' consent "
                "has events inside the retention window."
            )
        # a fresh copy (scikit-learn's clone): fitting never changes the caller's model
        # object, which another Recommender may be serving with
        model = type(self.model)(**self.model.get_params()) if self.model is not None else ALS()
        model.fit(_positives(train))
        self._install(
            model=model,
            data=data,
            consent=consent,
            train=train,
            train_user_ids=data.user_ids[rows],
            fitted_at=when,
            train_oldest=oldest,
            item_ratings=_item_ratings(data, mask),
        )
        return self

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
        rec = cls(model=model, consent=consent, **params)
        rec._validate()
        if not model.is_fitted() or model.n_items_ != data.n_items:
            raise DataError(
                f"from_fitted() needs a model fitted on the {data.n_items} titles of the data."
            )
        from fairrec.consent import ConsentLedger

        when = rec._now(fitted_at)
        ids = np.empty(len(train_user_ids), dtype=object)
        ids[:] = list(train_user_ids)
        rows = data.user_index(ids, on_unknown="ignore")
        # the model's rows are named by the data's own spelling of each id
        ids[rows >= 0] = data.user_ids[rows[rows >= 0]]
        mask = np.zeros(data.n_users, dtype=bool)
        mask[rows[rows >= 0]] = True
        order = np.full(data.n_users, -1, dtype=np.int64)
        order[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
        ev = mask[data.users]
        cutoff = retention_cutoff(when, rec.retention_days)
        if cutoff is not None:
            ev &= data.timestamps >= cutoff  # the training matrix respects the window too
        train = sp.csr_matrix(
            (data.weights[ev], (order[data.users[ev]], data.items[ev])),
            shape=(len(ids), data.n_items),
            dtype=np.float32,
        )
        train.sum_duplicates()
        oldest = None
        if data.timestamps is not None:
            oldest = cell_oldest(
                order[data.users[ev]], data.items[ev], data.timestamps[ev].view(np.int64), train
            )
        rec._install(
            model=model,
            data=data,
            consent=consent if consent is not None else ConsentLedger(default="allow"),
            train=train,
            train_user_ids=ids,
            fitted_at=when,
            train_oldest=oldest,
            item_ratings=_item_ratings(data, ev),
        )
        return rec

    def _install(
        self,
        *,
        model: CandidateModel,
        data: Dataset,
        consent: Any,
        train: sp.csr_matrix,
        train_user_ids: np.ndarray,
        fitted_at: pd.Timestamp,
        train_oldest: sp.csr_matrix | None = None,
        item_ratings: tuple[np.ndarray, np.ndarray] | None = None,
        like_label: str | None = None,
    ) -> None:
        """Set the fitted state (shared by ``fit`` and ``load``).

        ``train`` holds the consented, in-window training events; a stored 0 is a title
        watched without being a positive (the model was fitted on the positives only).
        """
        from fairrec.evidence import title_stats, with_label
        from fairrec.vocab import Vocabulary

        catalog = CatalogIndex.from_dataset(data)
        vectors = model.item_vectors
        genres = catalog.item_genres.toarray().astype(np.float32)
        if vectors is None:
            vectors = genres if genres.shape[1] else np.ones((data.n_items, 1), np.float32)
        stats = title_stats(train, item_ratings)
        label = like_label if like_label is not None else _like_label(data)
        if label is not None:
            stats = with_label(stats, label)
        # popularity: training viewers who watched the title (positive or not)
        popularity = stats.watchers.astype(np.float64)
        pop_pct = stats.pop_share
        titles = data.catalog[C.TITLE].to_numpy(dtype=str)
        item_ids_py = data.item_ids.tolist()
        fitted = _Fitted(
            data_=data,
            catalog_=catalog,
            train_matrix_=train,
            train_oldest_=train_oldest,
            train_user_ids_=train_user_ids,
            train_index_={
                c: i for i, c in enumerate(canon_ids(train_user_ids, "train_user_ids").tolist())
            }
            if len(train_user_ids)
            else {},
            vectors_=_unit_rows(vectors),
            genres_=genres,
            popularity_=popularity,
            log_popularity_=np.log1p(popularity).astype(np.float32),
            pop_pct_=pop_pct,
            pop_order_=np.argsort(-popularity, kind="stable"),
            titles_=titles,
            titles_py_=[str(t) for t in titles],
            item_ids_py_=item_ids_py,
            item_ids_obj_=_object_array(item_ids_py),
            genre_tuples_=[tuple(g) for g in data.catalog[C.GENRES]],
            fitted_at_=fitted_at,
            row_kinds_=list(self.rows) if self.rows is not None else default_rows(),
            model_=model,
            vocab_=Vocabulary.from_dataset(data),
            stats_=stats,
            item_ratings_=item_ratings,
        )
        self._live_catalog(data.catalog)
        with self._lock:
            self._consent = consent
            self._fitted = fitted  # one reference swap: readers see all old or all new

    # ------------------------------------------------------------------ viewers
    @staticmethod
    def _viewers(users: Sequence[Any], f: _Fitted) -> tuple[np.ndarray, list[Any]]:
        """Each viewer's index in the data (``-1``: none) and the id fairrec writes for them.

        Ids are matched by canonical form (:class:`fairrec.ids.IdMap`): ``1``, ``"1"`` and
        ``"01"`` are one viewer, written as the data spells it."""
        umap = f.data_.user_map
        if len(users) == 1:
            u0 = next(iter(users))
            idx = np.array([umap.position(u0)], dtype=np.int64)
            return idx, umap.names([u0], idx)
        users = list(users)
        idx = umap.positions(users) if users else np.empty(0, dtype=np.int64)
        return idx, umap.names(users, idx)

    def _states(self, users: Sequence[Any], f: _Fitted, data_idx: Any = None) -> list[Any]:
        """One immutable consent snapshot per viewer; unknown viewers per ``on_unknown``."""
        vocab = f.vocab_
        # every genre / title / maturity limit matched to the catalog (VocabularyError if not)
        states = [vocab.resolve_state(self._consent.state(u)) for u in users]
        if data_idx is None:
            data_idx = self._viewers(users, f)[0] if users else []
        unknown = [
            u
            for u, s, i in zip(users, states, data_idx)
            if s.forgotten or (i < 0 and u not in self._consent)
        ]
        if unknown and self.on_unknown != "ignore":
            shown = ", ".join(repr(u) for u in unknown[:5])
            msg = (
                f"Unknown viewer id(s): {shown}. They are not in the training data or the "
                "consent ledger (or were erased). Pass on_unknown='ignore' to serve them the "
                "non-personalized page."
            )
            if self.on_unknown == "raise":
                raise UnknownUserError(msg)
            import warnings

            warnings.warn(msg, stacklevel=3)
        return states

    # ------------------------------------------------------------------ serving core
    def _gate(
        self, users: Sequence[Any], now: pd.Timestamp, f: _Fitted, region: str | None = None
    ) -> ServingBatch:
        """One consent snapshot per viewer, reduced by the serving gate (and the live state:
        observed events, availability; :mod:`fairrec.live`).

        The batch names each viewer by the id fairrec writes for them (:meth:`_viewers`).
        A title the viewer excluded (by id, genre or maturity) is also dropped from the
        history the page is built from: it is never an anchor, a reason or evidence of taste.
        """
        idx, resolved = self._viewers(users, f)
        batch = serving_batch(
            resolved,
            self._states(users, f, idx),
            data=f.data_,
            catalog=f.catalog_,
            now=now,
            retention_days=self.retention_days,
            user_idx=idx,
        )
        live = self._live_state()
        batch = live.apply(batch, f, now, self.retention_days)  # observed plays, impressions
        batch = _without_banned(batch)  # exclusions leave the history, observed plays too
        return live.restrict(batch, f, now, region)  # availability

    @staticmethod
    def _candidates(
        batch: ServingBatch, f: _Fitted, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores over the catalog (model for personalized viewers, popularity otherwise)
        and the top ``n`` with seen and banned titles removed: ``(scores, cand, rel)``."""
        shape = (len(batch), f.data_.n_items)
        pers = batch.personalized
        positives = _positives(batch.histories)
        if len(batch) and pers.all():  # (a sparse row selection costs ~50 us even of all rows)
            scores = f.model_.score_histories(positives)
            fresh = (
                isinstance(scores, np.ndarray)
                and scores.dtype == np.float32
                and scores.shape == shape
                and scores.flags.c_contiguous
                and scores.flags.owndata
                and scores.flags.writeable
            )
            if not fresh:  # a view or another dtype: copy (top_n writes into it)
                scores = np.array(scores, dtype=np.float32, order="C").reshape(shape)
        else:
            scores = np.empty(shape, dtype=np.float32)
            if pers.any():
                scores[pers] = f.model_.score_histories(positives[pers])
            if (~pers).any():
                scores[~pers] = f.log_popularity_[None, :]
        cand, rel = top_n(
            scores, min(n, f.data_.n_items), banned=batch.histories, exclude=batch.banned
        )
        return scores, cand, rel

    @staticmethod
    def _profile(batch: ServingBatch, f: _Fitted) -> np.ndarray:
        """Each viewer's history profile: the unit mean vector of the recent titles."""
        recent = batch.recent
        rv = f.vectors_[np.maximum(recent, 0)]
        rv[recent < 0] = 0.0
        return _unit_rows(rv.sum(axis=1))

    def _context(self, batch: ServingBatch, f: _Fitted) -> RowContext:
        """Candidates and everything rows may use for a batch (after the gate)."""
        scores, cand, rel = self._candidates(batch, f, self.n_candidates)
        valid = cand >= 0
        count = valid.sum(axis=1, keepdims=True)
        rel_pct = np.where(valid, 1.0 - np.arange(cand.shape[1]) / np.maximum(count, 1), 0.0)
        rel = np.where(valid, rel, 0.0)
        return RowContext(
            batch=batch,
            cand=cand,
            rel=rel,
            rel_pct=rel_pct,
            scores=scores,
            vectors=f.vectors_,
            genres=f.genres_,
            popularity=f.popularity_,
            pop_pct=f.pop_pct_,
            pop_order=f.pop_order_,
            profile=self._profile(batch, f),
            titles=f.titles_,
            genre_names=f.catalog_.genre_names,
            k=self.row_size,
            title_list=f.titles_py_,
            evidence=EvidenceSource(
                model=f.model_,
                positives=_positives(batch.histories),
                train=f.train_matrix_,
                train_rows=np.array(
                    [f.train_index_.get(canon_id(u), -1) for u in batch.user_ids], dtype=np.int64
                ),
                stats=f.stats_,
            ),
            item_ids=f.item_ids_py_,
        )

    def _serve(
        self, users: Sequence[Any], now: pd.Timestamp, f: _Fitted, region: str | None = None
    ) -> tuple[ServingBatch, Any]:
        from fairrec.assembly import assemble

        batch = self._gate(users, now, f, region)
        ctx = self._context(batch, f)
        pages = assemble(
            ctx,
            f.row_kinds_,
            min_items=self.min_row_items or max(3, self.row_size // 2),
            max_rows=self.max_rows,
        )
        return batch, pages

    def _page(
        self, f: _Fitted, v: int, batch: ServingBatch, assembled: Any, now: pd.Timestamp
    ) -> HomePage:
        """Turn viewer ``v``'s assembled rows into an immutable HomePage.

        The objects are built with the page module's trusted constructor: every field is
        produced here with the right type, and the page's invariants (no title twice, every
        category declared) hold by construction of the assembly.
        """
        from fairrec.page import _new_item, _new_reason, _trusted

        rows = []
        item_ids = f.item_ids_py_
        genre_lists = f.genre_tuples_
        titles = f.titles_py_
        used: set[str] = set()
        for r in assembled.order[v]:
            if r < 0:
                continue
            row = assembled.rows[r]
            data_used = tuple(row.data_used[v])
            used.update(data_used)
            anchor = row.anchor[v] if row.anchor else None
            row_reason = _trusted(
                Reason,
                kind=row.reason_kind,
                text=row.reason_text[v],
                data_used=data_used,
                anchor=anchor,
                evidence=row.evidence[v] if row.evidence else None,
            )
            items = []
            its = row.items[v].tolist()
            scores = row.scores[v].tolist()
            if row.item_reason_text is not None:
                texts = row.item_reason_text[v].tolist()
                anchors = row.item_anchor[v].tolist()
            else:
                texts = anchors = [None] * len(its)
            evs = (
                row.item_evidence[v].tolist()
                if row.item_evidence is not None
                else [None] * len(its)
            )
            kind = row.reason_kind
            for it, score, text, item_anchor, ev in zip(its, scores, texts, anchors, evs):
                if it < 0:
                    break
                reason = (
                    row_reason
                    if text is None
                    else _new_reason(kind, str(text), data_used, item_anchor, ev)
                )
                items.append(_new_item(item_ids[it], titles[it], score, reason, genre_lists[it]))
            rows.append(
                _trusted(
                    Row, title=row.titles[v], kind=row.kind, items=tuple(items), reason=row_reason
                )
            )
        state = batch.states[v]
        user = batch.user_ids[v]
        return _trusted(
            HomePage,
            user_id=user.item() if isinstance(user, np.generic) else user,
            rows=tuple(rows),
            personalized=bool(batch.personalized[v]),
            data_used=tuple(sorted(used)),
            generated_at=now,
            consent_version=getattr(state, "version", None),
        )

    def _audit(self, batch: ServingBatch, pages: Iterable[HomePage]) -> None:
        """One audit line per page, unless the viewer is erased by the time it is written.

        The erasure check runs under the audit log's lock, just before the line is appended,
        and :meth:`forget` tombstones the viewer in the ledger before it erases their lines
        (under the same lock): a request in flight during ``forget()`` either writes before
        the erasure (and its line is erased) or finds the tombstone and writes nothing."""
        if self.audit_log is None:
            return
        ledger = self._consent
        for state, page in zip(batch.states, pages):
            if state.forgotten:
                continue  # an erased viewer (on_unknown="ignore"): no line, no pseudonym
            uid = page.user_id
            self.audit_log.record(
                uid,
                sorted(state.purposes),
                list(page.data_used),
                page_kind="personalized" if page.personalized else "non_personalized",
                n_items=len(page.items),
                unless=lambda uid=uid: ledger.is_forgotten(uid),
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
        self._require_fitted()
        when = self._now(now)
        region = check_region(region)
        f = self._fitted
        batch, assembled = self._serve([user], when, f, region)
        page = self._page(f, 0, batch, assembled, when)
        self._audit(batch, [page])
        return page

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

        Viewers are processed in chunks of ``batch_size`` (memory stays bounded), each chunk
        vectorized across its viewers; pages are identical to :meth:`home`'s.

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
        self._require_fitted()
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise param_error("n_jobs", "Recommender.home_batch", "an int >= 1", n_jobs)
        users = list(users)
        when = self._now(now)
        region = check_region(region, "Recommender.home_batch")
        chunks = [users[i : i + self.batch_size] for i in range(0, len(users), self.batch_size)]
        f = self._fitted

        def work(chunk: list[Any]) -> Any:
            batch, assembled = self._serve(chunk, when, f, region)
            if as_pages or self.audit_log is not None:
                pages = [self._page(f, v, batch, assembled, when) for v in range(len(chunk))]
                self._audit(batch, pages)
                if as_pages:
                    return pages
            return to_frame(assembled, batch.user_ids, f.item_ids_obj_, f.titles_)

        show = progress if progress is not None else len(chunks) > 10
        from tqdm import tqdm

        results: list[Any]
        with tqdm(total=len(users), disable=not show, unit="page") as bar:
            if n_jobs == 1:
                results = []
                for chunk in chunks:
                    results.append(work(chunk))
                    bar.update(len(chunk))
            else:
                with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                    results = []
                    for chunk, pages in zip(chunks, pool.map(work, chunks)):
                        results.append(pages)
                        bar.update(len(chunk))
        if as_pages:
            return [p for chunk in results for p in chunk]
        if not results:
            return pages_to_frame([])
        return pd.concat(results, ignore_index=True)

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
        self._require_fitted()
        if isinstance(reranker, str):
            from fairrec.rerank import by_name

            reranker = by_name(reranker)
        elif reranker is not None and not callable(getattr(reranker, "rerank", None)):
            raise param_error(
                "reranker",
                "Recommender.recommend",
                "a re-ranker (fairrec.rerank), a re-ranker name such as 'mmr', or None",
                reranker,
            )
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise param_error("k", "Recommender.recommend", "an int >= 1", k)
        users = list(users)
        when = self._now(now)
        region = check_region(region, "Recommender.recommend")
        n_cand = n_candidates or max(self.n_candidates if reranker is not None else k, k)
        f = self._fitted
        frames = []
        for start in range(0, len(users), self.batch_size):
            chunk = users[start : start + self.batch_size]
            frames.append(
                self._recommend_chunk(chunk, k, reranker, when, n_cand, f, region, _with_user)
            )
        if not frames:
            return pd.DataFrame(columns=[C.USER, C.ITEM, C.TITLE, C.SCORE, C.RANK, "reason"])
        # one chunk (a single viewer): its frame as is (concat copies every column)
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def _recommend_chunk(
        self,
        users: list[Any],
        k: int,
        reranker: Any,
        now: pd.Timestamp,
        n_cand: int,
        f: _Fitted,
        region: str | None = None,
        with_user: bool = True,
    ) -> pd.DataFrame:
        from fairrec.rerank import RerankContext

        batch = self._gate(users, now, f, region)
        u = len(users)
        pers = batch.personalized
        _, cand, rel = self._candidates(batch, f, n_cand)
        if reranker is not None:
            valid = cand >= 0
            safe = np.maximum(cand, 0)
            ctx = RerankContext(
                profile=self._profile(batch, f),
                genres=f.genres_[safe],
                target=history_genre_mix(batch.histories, f.genres_),
                popularity=f.popularity_[safe],
            )
            picks = reranker.rerank(
                np.where(valid, rel, 0.0), k, vectors=f.vectors_[safe], context=ctx, valid=valid
            )
            ok = picks >= 0
            sp_ = np.maximum(picks, 0)
            items = np.where(ok, np.take_along_axis(cand, sp_, axis=1), -1)
            sc = np.where(ok, np.take_along_axis(rel, sp_, axis=1), -np.inf)
        else:
            items, sc = cand[:, :k], rel[:, :k]
        ok = items >= 0
        rows = np.broadcast_to(np.arange(u)[:, None], items.shape)[ok]
        ranks = np.broadcast_to(np.arange(1, items.shape[1] + 1), items.shape)[ok]
        it = items[ok]
        reason = np.where(
            pers[rows],
            "Among the titles most relevant to you (your watch history)"
            if reranker is None
            else f"Among the titles most relevant to you, re-ranked by {type(reranker).__name__} "
            "(your watch history)",
            "Among the most watched titles (no personal data)"
            if reranker is None
            else "Among the most watched titles, re-ranked by "
            f"{type(reranker).__name__} (no personal data)",
        )
        reason = cold_reasons(reason, it, batch)
        # recommend() (one viewer) builds its frame without the user column rather than
        # dropping it afterwards (a pandas drop costs more than the model call)
        user_col = {C.USER: _id_column(batch.user_ids, f.data_.user_ids)[rows]} if with_user else {}
        return pd.DataFrame(
            {
                **user_col,
                C.ITEM: f.data_.item_ids[it],
                C.TITLE: f.titles_[it],
                C.SCORE: sc[ok].astype(np.float64),
                C.RANK: ranks.astype(np.int64),
                "reason": reason,
            }
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
        self._require_fitted()
        when = self._now(now)
        f = self._fitted
        batch, assembled = self._serve([user], when, f)
        page = self._page(f, 0, batch, assembled, when)
        state = batch.states[0]
        uid = batch.user_ids[0]
        since = dict(getattr(state, "since", {}) or {})

        def _since(p: str) -> str | None:
            t = since.get(p)
            return None if t is None else pd.Timestamp(t).isoformat()

        def _since_txt(p: str) -> str:
            t = _since(p)
            return f" since {t}" if t else ""

        row = -1 if state.forgotten else f.train_index_.get(canon_id(user), -1)
        trained = row >= 0
        n_trained = (
            int(f.train_matrix_.indptr[row + 1] - f.train_matrix_.indptr[row]) if trained else 0
        )
        trained_at = f.fitted_at_.isoformat(timespec="seconds")
        page_used = set(page.data_used)
        personalized = bool(page.personalized)
        n_events = int(batch.histories.nnz) if personalized else 0
        has_interests = bool(
            state.liked_genres or state.liked_items or state.disliked_genres or state.disliked_items
        )
        granted = {p: p in state.purposes for p in (PERSONALIZATION, TRAINING, STATED_INTERESTS)}
        interests_used = DATA_STATED_INTERESTS in page_used
        purposes = {
            PERSONALIZATION: {
                "granted": granted[PERSONALIZATION],
                "since": _since(PERSONALIZATION),
                "data": [DATA_WATCH_HISTORY] if personalized else [],
                "you_get": "rows picked from what you watched",
            },
            TRAINING: {
                "granted": granted[TRAINING],
                "since": _since(TRAINING),
                "data": [DATA_WATCH_HISTORY] if trained else [],
                "you_get": "your plays help shape recommendations for everyone",
                "until": "the next training" if trained and not granted[TRAINING] else None,
            },
            STATED_INTERESTS: {
                "granted": granted[STATED_INTERESTS],
                "since": _since(STATED_INTERESTS),
                "data": [DATA_STATED_INTERESTS] if interests_used else [],
                "you_get": "a row built from the genres and titles you told us you like",
            },
        }
        used = sorted(page_used | ({DATA_WATCH_HISTORY} if trained else set())) or [
            DATA_CATALOG_POPULARITY
        ]
        title_of = f.vocab_.title_of  # the state names catalog ids / genre spellings only
        interests = (
            {
                "liked_genres": sorted(state.liked_genres),
                "liked_items": sorted(map(str, state.liked_items)),
                "liked_titles": [title_of(i) for i in sorted(map(str, state.liked_items))],
                "disliked_genres": sorted(state.disliked_genres),
                "disliked_items": sorted(map(str, state.disliked_items)),
                "disliked_titles": [
                    title_of(i) for i in sorted(map(str, state.disliked_items))
                ],
            }
            if granted[STATED_INTERESTS] and has_interests
            else {}
        )
        exclusions = {
            "genres": sorted(state.excluded_genres),
            "items": sorted(map(str, state.excluded_items)),
            "titles": [title_of(i) for i in sorted(map(str, state.excluded_items))],
            "max_maturity": state.max_maturity,
        }
        window = (
            f"only interactions from the last {self.retention_days:g} days"
            if self.retention_days is not None
            else "no retention limit is set"
        )
        lines = [f"Data use for viewer {uid!r}:"]
        # personalization: what this page does with the watch history
        if personalized:
            lines.append(
                f"- {PERSONALIZATION}: granted{_since_txt(PERSONALIZATION)}; your page uses "
                f"{n_events} title(s) of your watch history; you get "
                f"{purposes[PERSONALIZATION]['you_get']}."
            )
        elif granted[PERSONALIZATION]:
            lines.append(
                f"- {PERSONALIZATION}: granted{_since_txt(PERSONALIZATION)}; you have no watch "
                "history inside the retention window, so your page does not use it."
            )
        else:
            lines.append(
                f"- {PERSONALIZATION}: not granted; your page does not use your watch history."
            )
        # training: what the shared model in service learned from
        if state.forgotten:
            learned = not f.model_.exact_erasure
            lines.append(
                f"- {TRAINING}: erased; your plays, training row and factors are deleted"
                + (
                    ". If the shared model in service (trained "
                    f"{trained_at}) was trained on them, what it learned from them (item "
                    "vectors or weights) stays until the next training, unless the erasure "
                    "re-solved it (forget with update_items=True)."
                    if learned
                    else f", and removed from every count and similarity of the shared model "
                    f"in service (trained {trained_at})."
                )
            )
        elif granted[TRAINING] and trained:
            lines.append(
                f"- {TRAINING}: granted{_since_txt(TRAINING)}; the shared model (trained "
                f"{trained_at}) learned from {n_trained} title(s) you played; plays since "
                "then are used from the next training."
            )
        elif granted[TRAINING]:
            lines.append(
                f"- {TRAINING}: granted{_since_txt(TRAINING)}; the shared model (trained "
                f"{trained_at}) was not trained on your plays; they are used from the next "
                "training."
            )
        elif trained:
            lines.append(
                f"- {TRAINING}: not granted (withdrawn); the shared model (trained "
                f"{trained_at}) still uses what it learned from {n_trained} title(s) you "
                "played, until the next training, which will not use your plays."
            )
        else:
            lines.append(
                f"- {TRAINING}: not granted; none of your data is used for it (the shared "
                f"model, trained {trained_at}, was not trained on your plays)."
            )
        # stated interests: only what exists and what the page uses
        if not granted[STATED_INTERESTS]:
            lines.append(f"- {STATED_INTERESTS}: not granted; your page does not use them.")
        elif not has_interests:
            lines.append(
                f"- {STATED_INTERESTS}: granted{_since_txt(STATED_INTERESTS)}; you have stated "
                "no interests, so no row uses them."
            )
        else:
            lines.append(
                f"- {STATED_INTERESTS}: granted{_since_txt(STATED_INTERESTS)}; "
                + (
                    "your page uses the interests you stated."
                    if interests_used
                    else "your page uses them only to leave out what you said you dislike."
                    if state.disliked_genres or state.disliked_items
                    else "no row of this page uses them."
                )
            )
        lines.append(f"- Retention: {window}.")
        personal = sorted(page_used - {DATA_CATALOG_POPULARITY})
        if personal:
            lines.append(f"- Your page uses {describe_data_used(tuple(sorted(page_used)))}.")
        else:
            lines.append("- Your page is not personalized: it uses no personal data.")
        if any(exclusions.values()):
            lines.append(
                "- Excluded from every page: "
                + ", ".join(
                    [*exclusions["genres"], *exclusions["titles"]]
                    + (
                        [f"maturity above {exclusions['max_maturity']}"]
                        if exclusions["max_maturity"] is not None
                        else []
                    )
                )
                + "."
            )
        live_use, live_lines = explain_live(batch)  # observed plays and impressions
        lines.extend(live_lines)
        return DataUseReport(
            user_id=uid,
            purposes=purposes,
            data_categories=used,
            page_data_used=sorted(page_used),
            retention_days=self.retention_days,
            history_events_used=n_events,
            trained_on_your_data=trained,
            trained_titles=n_trained,
            model_trained_at=trained_at,
            training_data_until=purposes[TRAINING]["until"],
            stated_interests=interests,
            exclusions=exclusions,
            live_events_used=live_use,
            generated_at=when.isoformat(),
            text="\n".join(lines),
        )

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
        self._require_fitted()
        canon = canon_id(user)  # a ParameterError here changes nothing
        with self._lock:
            f = self._fitted
            data = f.data_
            idx = data.user_map.position(canon)
            if idx >= 0:  # their events and their entry in the id map go
                keep_ev = data.users != idx
                users = data.users[keep_ev]
                data = Dataset(
                    user_ids=np.delete(data.user_ids, idx),
                    item_ids=data.item_ids,
                    users=(users - (users > idx)).astype(np.int32),
                    items=data.items[keep_ev],
                    weights=data.weights[keep_ev],
                    timestamps=data.timestamps[keep_ev] if data.timestamps is not None else None,
                    catalog=data.catalog,
                    ratings=data.ratings[keep_ev] if data.ratings is not None else None,
                )
            train, oldest, train_users = f.train_matrix_, f.train_oldest_, f.train_user_ids_
            row = f.train_index_.get(canon, -1)
            model = f.model_
            if row >= 0:
                touched = train.indices[train.indptr[row] : train.indptr[row + 1]].copy()
                keep = np.ones(train.shape[0], dtype=bool)
                keep[row] = False
                train = train[keep]
                oldest = oldest[keep] if oldest is not None else None
                train_users = train_users[keep]
                model = f.model_.erase_rows(
                    np.array([row]), _positives(train), touched, update_items=update_items
                )
            self._consent.forget(user)
            self._live_state().forget(user)
            if self.audit_log is not None and hasattr(self.audit_log, "erase"):
                self.audit_log.erase(user)
            self._install(
                model=model,
                data=data,
                consent=self._consent,
                train=train,
                train_user_ids=train_users,
                fitted_at=f.fitted_at_,
                train_oldest=oldest,
                item_ratings=self._ratings_without(f, idx, row >= 0),
                like_label=f.stats_.like_label,
            )

    def _ratings_without(self, f: _Fitted, idx: int, trained: bool) -> Any:
        """The per-title rating sums of the training events, less an erased viewer's."""
        ratings = f.item_ratings_
        if ratings is None or not trained or idx < 0 or f.data_.ratings is None:
            return ratings
        d = f.data_
        ev = d.events_of(idx)
        cutoff = retention_cutoff(f.fitted_at_, self.retention_days)
        if cutoff is not None:
            ev = ev[d.timestamps[ev] >= cutoff]
        items = d.items[ev]
        total = ratings[0] - np.bincount(items, weights=d.ratings[ev], minlength=d.n_items)
        count = ratings[1] - np.bincount(items, minlength=d.n_items)
        return np.where(count > 0, total, 0.0), np.maximum(count, 0)

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
        from fairrec.persist import save_recommender

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
        from fairrec.persist import load_recommender

        return load_recommender(cls, path, consent, overrides)

    def __repr__(self) -> str:
        fitted = "fitted" if "_fitted" in self.__dict__ else "not fitted"
        return (
            f"Recommender(model={self.model!r}, retention_days={self.retention_days!r}, "
            f"row_size={self.row_size}, n_candidates={self.n_candidates}) [{fitted}]"
        )
