"""What every method of one evaluation shares: serving time, truth, train, features, viewers;
serving the lists and scoring them with :func:`fairrec.metrics.all_metrics`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fairrec import _columns as C
from fairrec import metrics as M
from fairrec.data import Dataset
from fairrec.errors import DataError
from fairrec.evaluation._inputs import _features, _truth_frame, _viewers, as_naive_utc
from fairrec.evaluation._names import column


def _serving_time(rec: Any, train: Dataset | None, now: Any, owner: str) -> pd.Timestamp:
    """When lists are served: ``now``, else the end of the training data, else the
    recommender's clock (its ``clock`` parameter, else the wall clock)."""
    if now is not None:
        return as_naive_utc(now, owner)
    for ds in (train, rec.data_):
        if ds is not None and ds.timestamps is not None and ds.n_events:
            return pd.Timestamp(ds.timestamps.max())
    return as_naive_utc(rec.clock() if rec.clock is not None else pd.Timestamp.now("UTC"), owner)


class _Setup:
    """Everything shared by the methods of one evaluation: truth, train, features, viewers."""

    def __init__(
        self, rec: Any, test: Any, item_features: Any, owner: str, now: Any = None
    ) -> None:
        truth, train_ds = _truth_frame(test, owner)
        self.train = (train_ds if train_ds is not None else rec.data_).to_frame()[[C.USER, C.ITEM]]
        self.truth = _viewers(truth, self.train, rec, owner)
        self.users = pd.unique(self.truth[C.USER]).tolist()
        self.features, self.genres = _features(rec, item_features, owner)
        self.rec = rec
        self.now = _serving_time(rec, train_ds, now, owner)
        self.n_fallback = self._say_fallback(owner)

    def _say_fallback(self, owner: str) -> int:
        """Warn about evaluated viewers the serving gate leaves no history at ``self.now``."""
        import warnings

        from fairrec.serving.core import request_batch
        from fairrec.serving.gate import PERSONALIZATION

        no_consent = no_data = 0
        f, step = self.rec.fitted_state_, self.rec.batch_size  # chunks bound the gate's memory
        for start in range(0, len(self.users), step):
            batch = request_batch(self.rec, self.users[start : start + step], self.now, f)
            consented = np.array(
                [PERSONALIZATION in s.purposes and not s.forgotten for s in batch.states],
                dtype=bool,
            )
            no_consent += int(np.count_nonzero(~consented))
            no_data += int(np.count_nonzero(consented & ~batch.personalized))
        parts = []
        if no_data:
            window = (
                f"inside the retention window ({self.rec.retention_days} days before {self.now})"
                if self.rec.retention_days is not None
                else f"before {self.now}"
            )
            parts.append(f"{no_data} have no event {window}")
        if no_consent:
            parts.append(f"{no_consent} have not granted 'personalization'")
        if parts:
            warnings.warn(
                f"{owner}: of {len(self.users)} evaluated viewers, {' and '.join(parts)}: "
                "their lists are the non-personalized fallback, scored as they are"
                + (
                    ". Pass now= (when the test period starts) or a longer retention_days "
                    "if that is not what you meant."
                    if no_data
                    else "."
                ),
                UserWarning,
                stacklevel=3,
            )
        return no_consent + no_data

    def recommend(
        self, reranker: Any, k: int, n_candidates: int | None
    ) -> tuple[pd.DataFrame, float]:
        start = time.perf_counter()
        recs = self.rec.recommend_batch(
            self.users, k=k, reranker=reranker, n_candidates=n_candidates, now=self.now
        )
        seconds = time.perf_counter() - start
        dup = recs.duplicated([C.USER, C.ITEM])
        if dup.any():
            first = recs.loc[dup, [C.USER, C.ITEM]].iloc[0]
            name = type(reranker).__name__ if reranker is not None else "top-k"
            raise DataError(
                f"{name} returned the same title twice in one list ({int(dup.sum())} "
                f"repeat(s), e.g. viewer {first[C.USER]!r}, title {first[C.ITEM]!r}); "
                "refusing to score a list with repeats."
            )
        return recs[[C.USER, C.ITEM, C.RANK]], seconds

    def score(
        self, recs: pd.DataFrame, k: int, names: list[str] | None, per_user: bool
    ) -> dict[str, Any]:
        """Metric name -> value (or per-viewer Series where ``per_user`` and available)."""
        names = list(M.REGISTRY) if names is None else names
        # miscalibration compares genre mixes; separately only when similarity uses others
        want_cal = "miscalibration" in names and self.features is not self.genres
        others = [n for n in names if n != "miscalibration" or not want_cal]
        out: dict[str, Any] = {}
        if others:
            out.update(
                M.all_metrics(
                    recs,
                    self.truth,
                    self.train,
                    k=k,
                    item_features=self.features,
                    metrics=others,
                    per_user=per_user,
                )
            )
        if want_cal:
            if self.genres is None:
                out["miscalibration"] = (
                    pd.Series(dtype=np.float64, name="miscalibration") if per_user else np.nan
                )
            else:
                out["miscalibration"] = M.miscalibration(
                    recs, self.train, item_features=self.genres, k=k, per_user=per_user
                )
        return {n: out[n] for n in M.REGISTRY if n in out}


def _row(values: Mapping[str, Any], k: int) -> dict[str, float]:
    return {column(n, k): float(v) for n, v in values.items()}
