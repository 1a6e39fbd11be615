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
from fairrec.data import Dataset
from fairrec.errors import DataError, NotFittedError, UnknownUserError, param_error
from fairrec.gate import (
    PERSONALIZATION,
    STATED_INTERESTS,
    TRAINING,
    CatalogIndex,
    ServingBatch,
    retention_cutoff,
    serving_batch,
    training_events,
    training_matrix,
)
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


@dataclass(frozen=True)
class _Fitted:
    """Everything ``fit`` (or ``load``/``forget``) produces, swapped in as one reference.

    A request takes the reference once and reads only from it, so a concurrent ``forget``
    or refit never gives it half-old, half-new state.
    """

    data_: Dataset
    catalog_: CatalogIndex
    train_matrix_: sp.csr_matrix
    train_user_ids_: np.ndarray
    vectors_: np.ndarray
    genres_: np.ndarray
    popularity_: np.ndarray
    log_popularity_: np.ndarray
    pop_pct_: np.ndarray
    pop_order_: np.ndarray
    titles_: np.ndarray
    titles_py_: list
    item_ids_py_: list
    item_ids_str_: np.ndarray
    genre_tuples_: list
    fitted_at_: pd.Timestamp
    row_kinds_: list
    model_: CandidateModel
    vocab_: Any
    stats_: Any
    train_index_: dict
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


class Recommender:
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
        ids = np.asarray(list(train_user_ids), dtype=object)
        rows = data.user_index(ids, on_unknown="ignore")
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
        rec._install(
            model=model,
            data=data,
            consent=consent if consent is not None else ConsentLedger(default="allow"),
            train=train,
            train_user_ids=ids,
            fitted_at=when,
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
            train_user_ids_=train_user_ids,
            vectors_=_unit_rows(vectors),
            genres_=genres,
            popularity_=popularity,
            log_popularity_=np.log1p(popularity).astype(np.float32),
            pop_pct_=pop_pct,
            pop_order_=np.argsort(-popularity, kind="stable"),
            titles_=titles,
            titles_py_=[str(t) for t in titles],
            item_ids_py_=item_ids_py,
            item_ids_str_=np.array([str(i) for i in item_ids_py], dtype=object),
            genre_tuples_=[tuple(g) for g in data.catalog[C.GENRES]],
            fitted_at_=fitted_at,
            row_kinds_=list(self.rows) if self.rows is not None else default_rows(),
            model_=model,
            vocab_=Vocabulary.from_dataset(data),
            stats_=stats,
            train_index_={v: i for i, v in enumerate(np.asarray(train_user_ids).tolist())},
            item_ratings_=item_ratings,
        )
        with self._lock:
            self._consent = consent
            self._fitted = fitted  # one reference swap: readers see all old or all new

    # ------------------------------------------------------------------ viewers
    def _states(self, users: Sequence[Any], f: _Fitted) -> list[Any]:
        """One immutable consent snapshot per viewer; unknown viewers per ``on_unknown``."""
        vocab = f.vocab_
        # every genre / title / maturity limit matched to the catalog (VocabularyError if not)
        states = [vocab.resolve_state(self._consent.state(u)) for u in users]
        data_idx = f.data_.user_index(list(users), on_unknown="ignore") if users else []
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
    def _gate(self, users: Sequence[Any], now: pd.Timestamp, f: _Fitted) -> ServingBatch:
        """One consent snapshot per viewer, reduced by the serving gate.

        A title the viewer excluded (by id, genre or maturity) is also dropped from the
        history the page is built from: it is never an anchor, a reason or evidence of taste.
        """
        batch = serving_batch(
            users,
            self._states(users, f),
            data=f.data_,
            catalog=f.catalog_,
            now=now,
            retention_days=self.retention_days,
        )
        return _without_banned(batch)

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
                    [f.train_index_.get(u, -1) for u in batch.user_ids], dtype=np.int64
                ),
                stats=f.stats_,
            ),
            item_ids=f.item_ids_py_,
        )

    def _serve(
        self, users: Sequence[Any], now: pd.Timestamp, f: _Fitted
    ) -> tuple[ServingBatch, Any]:
        from fairrec.assembly import assemble

        batch = self._gate(users, now, f)
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
        if self.audit_log is None:
            return
        for state, page in zip(batch.states, pages):
            self.audit_log.record(
                page.user_id,
                sorted(state.purposes),
                list(page.data_used),
                page_kind="personalized" if page.personalized else "non_personalized",
                n_items=len(page.items),
            )

    # ------------------------------------------------------------------ public serving
    def home(self, user: Any, now: Any = None) -> HomePage:
        """The viewer's home page.

        Built from one consent snapshot: history only with ``personalization`` granted now,
        stated interests only with ``stated_interests``, exclusions always applied.

        Parameters
        ----------
        user : str or int
            External viewer id.
        now : datetime-like, optional
            Request time (default: the clock), for the retention window.

        Returns
        -------
        HomePage
        """
        self._require_fitted()
        when = self._now(now)
        f = self._fitted
        batch, assembled = self._serve([user], when, f)
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
        """
        self._require_fitted()
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise param_error("n_jobs", "Recommender.home_batch", "an int >= 1", n_jobs)
        users = list(users)
        when = self._now(now)
        chunks = [users[i : i + self.batch_size] for i in range(0, len(users), self.batch_size)]
        f = self._fitted

        def work(chunk: list[Any]) -> Any:
            batch, assembled = self._serve(chunk, when, f)
            if as_pages or self.audit_log is not None:
                pages = [self._page(f, v, batch, assembled, when) for v in range(len(chunk))]
                self._audit(batch, pages)
                if as_pages:
                    return pages
            return to_frame(assembled, chunk, f.item_ids_str_, f.titles_)

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
    ) -> pd.DataFrame:
        """A flat top-``k`` list for one viewer (seen and excluded titles removed).

        Returns
        -------
        pandas.DataFrame
            Columns ``item_id, title, score, rank`` (rank 1-based) and ``reason``.
        """
        frame = self.recommend_batch([user], k, reranker, now=now, n_candidates=n_candidates)
        return frame.drop(columns=[C.USER]).reset_index(drop=True)

    def recommend_batch(
        self,
        users: Iterable[Any],
        k: int = 10,
        reranker: Any = None,
        *,
        now: Any = None,
        n_candidates: int | None = None,
    ) -> pd.DataFrame:
        """Flat top-``k`` lists for many viewers: ``user_id, item_id, title, score, rank``.

        With a ``reranker`` (:mod:`fairrec.rerank`), the top ``n_candidates`` titles are
        re-ranked with the model's item vectors, the viewer's history profile and genre
        distribution, and title popularity as context.
        """
        self._require_fitted()
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise param_error("k", "Recommender.recommend", "an int >= 1", k)
        users = list(users)
        when = self._now(now)
        n_cand = n_candidates or max(self.n_candidates if reranker is not None else k, k)
        f = self._fitted
        frames = []
        for start in range(0, len(users), self.batch_size):
            chunk = users[start : start + self.batch_size]
            frames.append(self._recommend_chunk(chunk, k, reranker, when, n_cand, f))
        if not frames:
            return pd.DataFrame(columns=[C.USER, C.ITEM, C.TITLE, C.SCORE, C.RANK, "reason"])
        return pd.concat(frames, ignore_index=True)

    def _recommend_chunk(
        self, users: list[Any], k: int, reranker: Any, now: pd.Timestamp, n_cand: int, f: _Fitted
    ) -> pd.DataFrame:
        from fairrec.rerank import RerankContext

        batch = self._gate(users, now, f)
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
        user_arr = np.empty(u, dtype=object)
        user_arr[:] = users
        return pd.DataFrame(
            {
                C.USER: user_arr[rows],
                C.ITEM: f.data_.item_ids[it],
                C.TITLE: f.titles_[it],
                C.SCORE: sc[ok].astype(np.float64),
                C.RANK: ranks.astype(np.int64),
                "reason": reason,
            }
        )

    # ------------------------------------------------------------------ transparency
    def explain_data_use(self, user: Any, now: Any = None) -> DataUseReport:
        """What data is used for this viewer, for which purpose, since when.

        Returns
        -------
        DataUseReport
            A dict (``purposes``, ``data_categories``, ``retention_days``,
            ``history_events_used``, ``trained_on_your_data``, ``stated_interests``,
            ``exclusions``, ``text``) whose ``str()`` is a readable summary.
        """
        self._require_fitted()
        when = self._now(now)
        f = self._fitted
        batch = self._gate([user], when, f)
        state = batch.states[0]
        since = dict(getattr(state, "since", {}) or {})

        def _since(p: str) -> str | None:
            t = since.get(p)
            return None if t is None else pd.Timestamp(t).isoformat()

        purposes = {
            PERSONALIZATION: {
                "granted": PERSONALIZATION in state.purposes,
                "since": _since(PERSONALIZATION),
                "data": [DATA_WATCH_HISTORY] if PERSONALIZATION in state.purposes else [],
                "you_get": "rows picked from what you watched",
            },
            TRAINING: {
                "granted": TRAINING in state.purposes,
                "since": _since(TRAINING),
                "data": [DATA_WATCH_HISTORY] if TRAINING in state.purposes else [],
                "you_get": "your plays help shape recommendations for everyone",
            },
            STATED_INTERESTS: {
                "granted": STATED_INTERESTS in state.purposes,
                "since": _since(STATED_INTERESTS),
                "data": [DATA_STATED_INTERESTS] if STATED_INTERESTS in state.purposes else [],
                "you_get": "a row built from the genres and titles you told us you like",
            },
        }
        used = sorted({d for p in purposes.values() for d in p["data"]}) or [
            DATA_CATALOG_POPULARITY
        ]
        trained = bool(
            np.isin(np.asarray([user], dtype=object), f.train_user_ids_.astype(object)).any()
        )
        n_events = int(batch.histories.nnz)
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
            if STATED_INTERESTS in state.purposes
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
        lines = [f"Data use for viewer {user!r}:"]
        for name, p in purposes.items():
            if p["granted"]:
                when_txt = f" since {p['since']}" if p["since"] else ""
                lines.append(
                    f"- {name}: granted{when_txt}; uses {describe_data_used(p['data'])}; you get {p['you_get']}."
                )
            else:
                lines.append(f"- {name}: not granted; none of your data is used for it.")
        lines.append(f"- Retention: {window}.")
        has_interests = bool(interests.get("liked_genres") or interests.get("liked_items"))
        if purposes[PERSONALIZATION]["granted"]:
            lines.append(f"- Your page uses {n_events} title(s) of your watch history.")
        elif has_interests:
            lines.append(
                "- Your page does not use your watch history; it uses only what you told us "
                "(your stated interests)."
            )
        else:
            lines.append("- Your page is not personalized: it uses no personal data.")
        lines.append(
            "- The shared model was trained on your plays."
            if trained
            else "- The shared model was not trained on your plays."
        )
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
        return DataUseReport(
            user_id=user,
            purposes=purposes,
            data_categories=used,
            retention_days=self.retention_days,
            history_events_used=n_events,
            trained_on_your_data=trained,
            stated_interests=interests,
            exclusions=exclusions,
            generated_at=when.isoformat(),
            text="\n".join(lines),
        )

    # ------------------------------------------------------------------ erasure
    def forget(self, user: Any, update_items: bool = False) -> None:
        """Erase a viewer: consent details, interactions, training row and vector.

        Parameters
        ----------
        user : str or int
        update_items : bool, default False
            Also re-solve the item vectors the viewer's plays touched (implicit's partial
            fit for ALS; a refit for models without one), so their data stops shaping the
            catalog vectors before the next full fit.
        """
        self._require_fitted()
        with self._lock:
            f = self._fitted
            self._consent.forget(user)
            if self.audit_log is not None and hasattr(self.audit_log, "erase"):
                self.audit_log.erase(user)
            data = f.data_
            idx = data.user_index([user], on_unknown="ignore")[0]
            if idx >= 0:
                data = data.select(data.users != idx)
            train = f.train_matrix_
            train_users = f.train_user_ids_
            hit = pd.Index(train_users).get_indexer(pd.Index([user], dtype=object))
            if hit[0] >= 0:
                row = int(hit[0])
                touched = train.indices[train.indptr[row] : train.indptr[row + 1]].copy()
                keep = np.ones(train.shape[0], dtype=bool)
                keep[row] = False
                train = train[keep]
                train_users = train_users[keep]
                # copy on write: requests in flight keep reading the old model
                model = type(f.model_)(**f.model_.get_params())
                model.set_arrays({k: v.copy() for k, v in f.model_.get_arrays().items()})
                if hasattr(model, "drop_user_rows"):
                    model.drop_user_rows(np.array([row]))
                if update_items:
                    if hasattr(model, "update_items"):
                        model.update_items(touched, _positives(train))
                    else:
                        model.fit(_positives(train))
            else:
                model = f.model_
            self._install(
                model=model,
                data=data,
                consent=self._consent,
                train=train,
                train_user_ids=train_users,
                fitted_at=f.fitted_at_,
                item_ratings=self._ratings_without(f, idx, hit[0] >= 0),
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
        interrupted save leaves any previous model loadable. Histories are written only for
        viewers with ``personalization`` consent at save time, inside the retention window.
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
