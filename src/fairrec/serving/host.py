"""The serving state of a recommender: the fitted state in service, the ledger in force,
the clock, the lock that orders swaps, and the parameter checks, shared by every serving
module (:class:`~fairrec.recommender.Recommender` is a ``ServingHost``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairrec._checks import check_int
from fairrec.errors import NotFittedError, param_error
from fairrec.models import CandidateModel
from fairrec.page import HomePage
from fairrec.rows import RowContext
from fairrec.serving import core, pages
from fairrec.serving.gate import ServingBatch
from fairrec.serving.live_api import LiveServing
from fairrec.serving.state import FITTED_FIELDS, FittedState, install

__all__ = ["ServingHost"]

_ON_UNKNOWN = ("raise", "warn", "ignore")


def _utcnow() -> pd.Timestamp:
    # naive UTC; from the epoch clock directly (pd.Timestamp.now(tz=...) costs ~0.3 ms)
    return pd.Timestamp(time.time_ns(), unit="ns")


class ServingHost(LiveServing):
    """Base of :class:`~fairrec.recommender.Recommender`: the state every serving module
    reads (``_fitted``, a :class:`~fairrec.serving.FittedState` swapped whole; ``_consent``;
    ``_lock``) and the methods that read it consistently. Its subclass stores the
    parameters (``row_size``, ``retention_days``, ...) as attributes."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ parameters
    def _validate(self) -> None:
        def positive_int(name: str) -> None:
            check_int(getattr(self, name), name, "Recommender", expected="an int >= 1")

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

    def resolve_now(self, now: Any = None) -> pd.Timestamp:
        """The time a call with ``now=...`` serves at, as a naive UTC timestamp.

        ``now`` itself when given (an aware time is converted to UTC), else the
        recommender's ``clock`` (default: the system's UTC clock).

        Examples
        --------
        >>> import fairrec as fr
        >>> fr.Recommender().resolve_now("2024-05-01T12:00:00+02:00")
        Timestamp('2024-05-01 10:00:00')
        """
        t = pd.Timestamp(now) if now is not None else (self.clock or _utcnow)()
        if t.tzinfo is not None:
            t = t.tz_convert("UTC").tz_localize(None)
        return t

    _now = resolve_now

    def __getattr__(self, name: str) -> Any:
        # fitted attributes (``data_``, ``model_``, ...) live in one immutable snapshot
        if name in FITTED_FIELDS:
            fitted = self.__dict__.get("_fitted")
            if fitted is not None:
                return getattr(fitted, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _require_fitted(self) -> None:
        if "_fitted" not in self.__dict__:
            raise NotFittedError(
                "This Recommender instance is not fitted yet. Call 'fit' with a Dataset first."
            )

    def _install(self, *, consent: Any, **parts: Any) -> None:
        """Build and swap in a fitted state from its parts (see
        :meth:`FittedState.build <fairrec.serving.FittedState.build>`)."""
        parts.setdefault("row_kinds", self.rows)
        install(self, FittedState.build(**parts), consent)

    # ------------------------------------------------------------------ serving core
    # (kept as methods: the live-serving mixin, evaluation and benchmarks call them)
    @staticmethod
    def _viewers(users: Sequence[Any], f: FittedState) -> tuple[np.ndarray, list[Any]]:
        return core.viewers(users, f)

    def _states(self, users: Sequence[Any], f: FittedState, data_idx: Any = None) -> list[Any]:
        return core.consent_states(self, users, f, data_idx)

    def _gate(
        self, users: Sequence[Any], now: pd.Timestamp, f: FittedState, region: str | None = None
    ) -> ServingBatch:
        return core.request_batch(self, users, now, f, region)

    @staticmethod
    def _candidates(
        batch: ServingBatch, f: FittedState, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return core.candidates(batch, f, n)

    @staticmethod
    def _profile(batch: ServingBatch, f: FittedState) -> np.ndarray:
        return core.profile(batch, f)

    def _context(self, batch: ServingBatch, f: FittedState) -> RowContext:
        return core.row_context(self, batch, f)

    def _serve(
        self, users: Sequence[Any], now: pd.Timestamp, f: FittedState, region: str | None = None
    ) -> tuple[ServingBatch, Any]:
        return core.serve(self, users, now, f, region)

    def _page(
        self, f: FittedState, v: int, batch: ServingBatch, assembled: Any, now: pd.Timestamp
    ) -> HomePage:
        return pages.build_page(f, v, batch, assembled, now)

    def _audit(self, batch: ServingBatch, pages_: Iterable[HomePage]) -> None:
        pages.audit_pages(self, batch, pages_)
