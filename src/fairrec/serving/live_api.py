"""Live-serving methods of :class:`~fairrec.Recommender` (a mixin; the machinery is in
:mod:`fairrec.live` and :mod:`fairrec.availability`).

* :meth:`LiveServing.observe` — plays and impressions after ``fit``, without refit;
* :meth:`LiveServing.home_for` — a page for a history given at request time (no id, nothing
  stored);
* :meth:`LiveServing.add_titles` — new titles without refit (cold-start vectors);
* :meth:`LiveServing.set_availability` — licence windows and regions;
* :meth:`LiveServing.similar` — "more like this" from the model's vectors;
* :meth:`LiveServing.reload` — hot swap of the fitted state from model files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fairrec import _columns as C
from fairrec.data.ids import canon_id, canon_ids
from fairrec.errors import DataError, ModelFileError, ParameterError, UnknownItemError, param_error
from fairrec.serving.availability import AvailabilityTable, check_region
from fairrec.serving.cold import extend_model
from fairrec.serving.live import LiveState
from fairrec.serving.observed import LiveConfig
from fairrec.serving.state import FittedState, install

__all__ = ["LiveServing"]


class LiveServing:
    """Mixin: the live-serving API of :class:`~fairrec.Recommender`."""

    # ------------------------------------------------------------------ state
    def _live_state(self) -> LiveState:
        state = self.__dict__.get("_live")
        if state is None:
            with self._lock:
                state = self.__dict__.get("_live")
                if state is None:
                    cfg = self.live
                    if cfg is not None and not isinstance(cfg, LiveConfig):
                        raise param_error("live", "Recommender", "a fairrec.live.LiveConfig", cfg)
                    state = LiveState(cfg)
                    self.__dict__["_live"] = state
        return state

    def _live_catalog(self, catalog: pd.DataFrame) -> None:
        """Hook of ``_install``: read the catalog's availability columns, if any."""
        state = self._live_state()  # validates ``live`` at fit/load time
        if state.catalog_seen is catalog:  # e.g. forget(): same catalog, already read; a
            return  # later set_availability() must not be undone by re-reading it
        state.catalog_seen = catalog
        table = AvailabilityTable.from_catalog(catalog)
        if table is not None:
            state.set_availability(table)

    @property
    def live_state_(self) -> LiveState:
        """The live state (observed events, availability, cold-start marks)."""
        return self._live_state()

    # ------------------------------------------------------------------ observe
    def observe(
        self,
        events: pd.DataFrame,
        now: Any = None,
        *,
        user_col: str = C.USER,
        item_col: str = C.ITEM,
        time_col: str | None = C.TIME,
        weight_col: str | None = C.WEIGHT,
    ) -> dict[str, int]:
        """Add plays and impressions seen after ``fit`` to the viewers' serving state.

        The next :meth:`~fairrec.recommender.Recommender.home` / :meth:`~fairrec.recommender.Recommender.recommend` of the viewer uses them: the history the
        model scores from is the consented history plus the observed plays, so the viewer's
        vector is re-solved from it (ALS: implicit's exact least-squares solve, the same one
        as for training histories; BPR: the same least-squares fold-in on BPR's factors;
        ItemKNN: exact, history times the neighbour matrix; Popularity: unchanged, it scores
        no history). Impressions (titles shown, not played) make titles *stale* per
        :class:`~fairrec.live.LiveConfig`.

        Events of viewers without ``personalization`` consent now are dropped, not stored;
        stored events are used only while the viewer keeps that consent, only inside the
        retention window and never after :meth:`~fairrec.recommender.Recommender.forget`. They are held in memory only (never
        written to model files), at most ``LiveConfig.max_events_per_viewer`` per viewer
        (oldest dropped).

        Parameters
        ----------
        events : pandas.DataFrame
            One line per event: ``user_id``, ``item_id``, optional ``timestamp`` (default
            ``now``), ``weight`` (default 1) and ``event`` (``"play"`` (default) or
            ``"impression"``).
        now : datetime-like, optional
        user_col, item_col, time_col, weight_col : str

        Returns
        -------
        dict
            ``plays`` and ``impressions`` stored, ``not_consented`` and ``outside_window``
            events dropped.

        Raises
        ------
        fairrec.errors.UnknownItemError
            A title not in the catalog (named).
        fairrec.errors.DataError
            Missing columns, bad ids, weights, times or event kinds.
        """
        self._require_fitted()
        return self._live_state().observe(
            events,
            self._fitted,
            self._consent,
            self._now(now),
            self.retention_days,
            user_col=user_col,
            item_col=item_col,
            time_col=time_col,
            weight_col=weight_col,
        )

    # ------------------------------------------------------------------ session pages
    def home_for(
        self,
        history: Any,
        now: Any = None,
        *,
        region: str | None = None,
        label: str = "anonymous",
    ) -> Any:
        """A page for a history given with the request (an anonymous or session page).

        The history is used for this page only: nothing is stored, no viewer id is involved,
        no audit record is written. The model solves a vector for it as for a viewer's
        history (implicit's ``recalculate_user`` for ALS).

        Parameters
        ----------
        history : sequence of title ids
            Titles played in the session, oldest first (the last one is the most recent).
        now : datetime-like, optional
        region : str, optional
        label : str, default "anonymous"
            The ``user_id`` written on the page (not looked up anywhere).

        Returns
        -------
        HomePage
        """
        from fairrec.consent import ConsentState
        from fairrec.serving.assembly import assemble
        from fairrec.serving.gate import PERSONALIZATION, ServingBatch

        self._require_fitted()
        if isinstance(history, (str, bytes)) or not hasattr(history, "__iter__"):
            raise ParameterError(
                f"home_for: 'history' must be a sequence of title ids; got {history!r}."
            )
        if not isinstance(label, str) or not label:
            raise param_error("label", "Recommender.home_for", "a non-empty str", label)
        when = self._now(now)
        region = check_region(region, "Recommender.home_for")
        f = self._fitted
        live = self._live_state()
        snap = live.snapshot(f)
        keys = canon_ids(list(history), "history")
        pos = snap.positions(keys)
        if (pos < 0).any():
            raise UnknownItemError(
                f"home_for: title id(s) not in the catalog: {pd.unique(keys[pos < 0])[:5].tolist()}."
            )
        n = f.data_.n_items
        hist = sp.csr_matrix(
            (np.ones(len(pos), np.float32), (np.zeros(len(pos), np.int64), pos)),
            shape=(1, n),
            dtype=np.float32,
        )
        hist.sum_duplicates()
        recent = np.full((1, 20), -1, dtype=np.int64)
        distinct = pd.unique(pos[::-1])[:20]
        recent[0, : len(distinct)] = distinct
        state = ConsentState(user_id=label, purposes=frozenset({PERSONALIZATION}))
        g = len(f.catalog_.genre_names)
        batch = ServingBatch(
            user_ids=[label],
            states=[state],
            personalized=np.array([hist.nnz > 0]),
            interests=np.zeros(1, dtype=bool),
            histories=hist,
            recent=recent,
            banned=np.zeros((1, n), dtype=bool),
            liked_genres=np.zeros((1, g), dtype=bool),
            liked_items=np.zeros((1, n), dtype=bool),
        )
        # availability and cold marks; the session's own events are not stored anywhere
        from dataclasses import fields

        from fairrec.serving.gate import ServingBatch as _SB
        from fairrec.serving.live import LiveBatch

        unavailable = snap.avail.unavailable(when, region)
        if unavailable is not None:
            batch.banned |= unavailable[None, :]
        batch = LiveBatch(
            **{fl.name: getattr(batch, fl.name) for fl in fields(_SB)},
            observed=np.zeros(1, dtype=np.int64),
            cold=snap.cold,
            exempt=live.config.impression_exempt,
            keep=live.config.impression_keep,
        )
        ctx = self._context(batch, f)
        assembled = assemble(
            ctx,
            f.row_kinds_,
            min_items=self.min_row_items or max(3, self.row_size // 2),
            max_rows=self.max_rows,
        )
        return self._page(f, 0, batch, assembled, when)

    # ------------------------------------------------------------------ new titles
    def add_titles(self, catalog_rows: pd.DataFrame, now: Any = None) -> None:
        """Add titles to the catalog without refitting.

        Each new title gets a cold-start vector from its metadata: the mean of the item
        factors of the fitted titles sharing one of its genres (the mean of all fitted titles
        when none does). Cold-start titles appear only in row kinds that say so in their
        reason (:class:`fairrec.live_rows.NewForYou`), and flat lists mark them in their
        reason. Requests in flight keep the previous snapshot.

        Parameters
        ----------
        catalog_rows : pandas.DataFrame
            Catalog lines (``item_id`` and optionally ``title``, ``genres``, ``maturity``,
            ``available_from``, ``available_until``, ``regions``, other metadata kept as is).
            A title without ``maturity`` in a rated catalog counts as the most mature.

        Raises
        ------
        fairrec.errors.DataError
            An id already in the catalog (in any spelling) or twice in the rows, or invalid
            metadata.
        """
        from fairrec.data import Dataset, build_catalog

        self._require_fitted()
        if not isinstance(catalog_rows, pd.DataFrame):
            raise DataError(
                f"add_titles() needs a pandas DataFrame. Got {type(catalog_rows).__name__}."
            )
        if len(catalog_rows) == 0:
            return
        with self._lock:
            f = self._fitted
            live = self._live_state()
            new_cat = build_catalog(catalog_rows, C.ITEM, np.empty(0, dtype=object), True)
            try:
                new_keys = canon_ids(new_cat[C.ITEM].to_numpy(), "item_id")
            except ParameterError as exc:
                raise DataError(str(exc)) from exc
            snap = live.snapshot(f)
            clash = (
                pd.Index(new_keys, dtype=object).isin(snap.index)
                | pd.Index(new_keys, dtype=object).duplicated()
            )
            if clash.any():
                raise DataError(
                    f"add_titles: title id(s) already in the catalog or repeated: "
                    f"{pd.unique(new_cat[C.ITEM].to_numpy()[clash])[:5].tolist()}."
                )
            old_cat = f.data_.catalog
            if C.MATURITY in old_cat.columns and C.MATURITY not in new_cat.columns:
                new_cat[C.MATURITY] = float(np.max(old_cat[C.MATURITY].to_numpy(np.float64)))
            if C.MATURITY in new_cat.columns and C.MATURITY not in old_cat.columns:
                raise DataError(
                    "add_titles: the catalog has no 'maturity' ratings; new titles cannot add "
                    "the column (refit with a rated catalog)."
                )
            if C.POPULARITY in old_cat.columns:
                new_cat[C.POPULARITY] = 0.0
            old_ids = f.data_.item_ids
            if old_ids.dtype.kind in "iu" and all(k.lstrip("-").isdigit() for k in new_keys):
                ids = np.concatenate([old_ids, np.array([int(k) for k in new_keys], np.int64)])
            else:
                ids = np.concatenate([old_ids.astype(object), new_keys.astype(object)])
            cat = pd.concat([old_cat, new_cat], ignore_index=True)
            cat[C.ITEM] = ids
            d = f.data_
            data = Dataset(
                user_ids=d.user_ids,
                item_ids=ids,
                users=d.users,
                items=d.items,
                weights=d.weights,
                timestamps=d.timestamps,
                catalog=cat,
                ratings=d.ratings,  # plays are unchanged: their stars stay
            )
            genres = data.item_genres.toarray()
            n_old, m = d.n_items, len(new_cat)
            fitted = np.ones(n_old, dtype=bool) if snap.cold is None else ~snap.cold
            model = extend_model(f.model_, genres[:n_old], genres[n_old:], fitted)
            train = sp.hstack(
                [f.train_matrix_, sp.csr_matrix((f.train_matrix_.shape[0], m), dtype=np.float32)],
                format="csr",
            )
            oldest = f.train_oldest_
            if oldest is not None:  # same sparsity as the training matrix
                oldest = sp.hstack(
                    [oldest, sp.csr_matrix((oldest.shape[0], m), dtype=oldest.dtype)],
                    format="csr",
                )
            live.mark_cold(new_keys.tolist())
            # only the new rows' availability is read (earlier updates of other titles stay)
            live.set_availability(AvailabilityTable.from_catalog(new_cat))
            live.catalog_seen = cat
            fitted = FittedState.build(
                model=model,
                data=data,
                train=train,
                train_user_ids=f.train_user_ids_,
                fitted_at=f.fitted_at_,
                train_oldest=oldest,
                row_kinds=self.rows,
                item_ratings=_extended(f.item_ratings_, m),
            )
            install(self, fitted, self._consent)

    # ------------------------------------------------------------------ availability
    def set_availability(self, table: pd.DataFrame, replace: bool = False) -> None:
        """Set licence windows and regions (columns as in :mod:`fairrec.availability`).

        Parameters
        ----------
        table : pandas.DataFrame
            ``item_id`` and any of ``available_from``, ``available_until``, ``regions``.
        replace : bool, default False
            Replace the whole table (else titles listed are updated, the others kept).
        """
        parsed = AvailabilityTable.from_catalog(table)
        if parsed is None:
            raise DataError(
                "set_availability: the table has none of the columns 'available_from', "
                "'available_until', 'regions'."
            )
        self._live_state().set_availability(parsed, replace=replace)

    # ------------------------------------------------------------------ more like this
    def similar(
        self,
        item: Any,
        k: int = 10,
        user: Any = None,
        *,
        now: Any = None,
        region: str | None = None,
    ) -> pd.DataFrame:
        """Titles most similar to ``item`` by the model's vectors ("more like this").

        Similarity is the cosine of the model's item vectors (ALS/BPR factors: the same
        ranking as implicit's ``similar_items``; ItemKNN: its neighbour similarities;
        models without vectors: genres). Titles unavailable at ``now`` (in ``region`` when
        given) are never returned; with a ``user``, the viewer's exclusions, maturity cap
        and (with ``stated_interests``) dislikes are removed too.

        Returns
        -------
        pandas.DataFrame
            ``item_id, title, score, rank, cold_start`` (rank 1-based), best first; ties by
            catalog order.
        """
        from fairrec.models import top_n

        self._require_fitted()
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise param_error("k", "Recommender.similar", "an int >= 1", k)
        when = self._now(now)
        region = check_region(region, "Recommender.similar")
        f = self._fitted
        snap = self._live_state().snapshot(f)
        try:
            key = canon_id(item, "item_id")
        except ParameterError as exc:
            raise UnknownItemError(str(exc)) from exc
        idx = int(snap.positions(np.array([key], dtype=object))[0])
        if idx < 0:
            raise UnknownItemError(f"Unknown title id: {item!r}.")
        sim_matrix = getattr(f.model_, "similarity_", None)
        if sim_matrix is not None:
            sims = np.asarray(sim_matrix[idx].toarray(), dtype=np.float32)
        else:
            sims = (f.vectors_ @ f.vectors_[idx])[None, :].astype(np.float32)
        sims[0, idx] = -np.inf
        if user is not None:
            exclude = self._gate([user], when, f, region).banned
        else:
            exclude = snap.avail.unavailable(when, region)
        cand, score = top_n(sims, int(k), exclude=exclude)
        ok = cand[0] >= 0
        it = cand[0][ok]
        cold = snap.cold[it] if snap.cold is not None else np.zeros(len(it), dtype=bool)
        return pd.DataFrame(
            {
                C.ITEM: f.data_.item_ids[it],
                C.TITLE: f.titles_[it],
                C.SCORE: score[0][ok].astype(np.float64),
                C.RANK: np.arange(1, len(it) + 1, dtype=np.int64),
                "cold_start": cold,
            }
        )

    # ------------------------------------------------------------------ hot swap
    def reload(self, path: Any) -> None:
        """Replace the fitted state with the model files at ``path``, while serving.

        The files are read and validated completely first; then the snapshot is swapped in
        one reference assignment. Requests in flight finish on the snapshot they started
        with; later ones use the new one; no page mixes the two. This recommender's serving
        parameters, consent ledger, observed events and availability table are kept;
        cold-start marks are cleared (the new model's titles all have fitted vectors).

        Raises
        ------
        fairrec.errors.ModelFileError
            The files are not a valid model (the serving state is then unchanged).
        """
        from fairrec.serving.persist import load_recommender

        self._require_fitted()
        overrides = {"rows": self.rows} if self.rows is not None else {}
        loaded = load_recommender(type(self), path, self._consent, overrides)
        new = loaded.__dict__["_fitted"]
        if self.retention_days is not None and new.data_.timestamps is None:
            raise ModelFileError(
                "reload: retention_days is set but the model file holds no event times."
            )
        with self._lock:
            live = self._live_state()
            live.clear_cold()
            live.snapshot(new)  # canonical title ids etc. computed before, not on a request
            self._fitted = new


def _extended(
    item_ratings: tuple[np.ndarray, np.ndarray] | None, m: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-title rating sums and counts with ``m`` new titles (no ratings yet) appended."""
    if item_ratings is None:
        return None
    total, count = item_ratings
    return (
        np.concatenate([total, np.zeros(m, dtype=total.dtype)]),
        np.concatenate([count, np.zeros(m, dtype=count.dtype)]),
    )
