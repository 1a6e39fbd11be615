"""The inputs and outputs of row kinds: :class:`RowContext` (what a row kind may use for a
batch of viewers), :class:`RowBatch` (one row per viewer) and :class:`EvidenceSource` (what
reasons are computed from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from fairrec.serving.gate import ServingBatch


@dataclass
class RowContext:
    """Everything a row kind may use for a batch of ``u`` viewers.

    Attributes
    ----------
    batch : ServingBatch
        The gate's output (consented history, interests, banned titles).
    cand, rel : (u, C) arrays
        Candidate title indices (``-1`` padded) and their relevance, seen and banned titles
        already removed. Personalized viewers' relevance comes from the model; the others'
        from catalog popularity (no personal data).
    rel_pct : (u, C) array
        Relevance as a percentile within the viewer's candidates, in [0, 1].
    scores : (u, n_items) array
        Full relevance over the catalog (``-inf`` where seen or banned).
    vectors : (n_items, d) array
        Unit-norm title vectors for similarity (model factors, or genres).
    genres : (n_items, g) array
        Multi-hot genres.
    popularity : (n_items,) array
        Plays per title in the training data; ``pop_pct`` its percentile in [0, 1];
        ``pop_order`` the titles from most to least played (ties by index).
    profile : (u, d) array
        Mean vector of the viewer's consented history (zeros without one).
    target : (u, g) array
        Genre distribution of the viewer's consented history.
    titles, genre_names : arrays of str
    k : int
        Row size.
    evidence : EvidenceSource, optional
        The model, training data and title facts reasons are computed from (the
        Recommender always gives one; without it rows state only what the arrays show).
    item_ids : list, optional
        External title ids in index order (for the ``anchor_id`` of evidence).
    """

    batch: ServingBatch
    cand: np.ndarray
    rel: np.ndarray
    rel_pct: np.ndarray
    scores: np.ndarray
    vectors: np.ndarray
    genres: np.ndarray
    popularity: np.ndarray
    pop_pct: np.ndarray
    pop_order: np.ndarray
    profile: np.ndarray
    titles: np.ndarray
    genre_names: tuple[str, ...]
    k: int
    #: ``titles`` as Python strings (cheap per-title lookups for reasons); from ``titles``
    #: when not given
    title_list: list[str] | None = None
    evidence: Any = None
    item_ids: list | None = None

    def __post_init__(self) -> None:
        if self.title_list is None:
            self.title_list = self.titles.tolist()

    @property
    def n(self) -> int:
        return len(self.batch)

    @cached_property
    def target(self) -> np.ndarray:
        """(u, g) genre distribution of each viewer's consented history (zeros without one);
        computed when a row kind asks for it."""
        return history_genre_mix(self.batch.histories, self.genres)

    @cached_property
    def blocked(self) -> np.ndarray:
        """(u, n_items) titles that may not be placed: banned, or already seen."""
        return ~np.isfinite(self.scores)

    @cached_property
    def ar(self) -> np.ndarray:
        """``(u, 1)`` viewer positions, to index ``(u, ...)`` arrays row by row."""
        return np.arange(self.n)[:, None]

    @cached_property
    def cand_pop_pct(self) -> np.ndarray:
        """(u, C) popularity percentile of each candidate (padding: 1, above every cap)."""
        return np.where(self.cand >= 0, self.pop_pct[np.maximum(self.cand, 0)], 1.0)


@dataclass
class RowBatch:
    """One row for every viewer of a batch (``applies`` False where the row has no place)."""

    kind: str
    items: np.ndarray  # (u, k) int, -1 padded
    scores: np.ndarray  # (u, k) float
    titles: list[str]  # row title per viewer
    reason_kind: str
    reason_text: list[str]  # row-level reason per viewer
    data_used: list[tuple[str, ...]]  # per viewer
    applies: np.ndarray  # (u,) bool
    item_reason_text: np.ndarray | None = None  # (u, k) object, item-level reasons
    item_anchor: np.ndarray | None = None  # (u, k) object
    anchor: list[str | None] = field(default_factory=list)
    item_evidence: np.ndarray | None = None  # (u, k) object: dict per title, None padding
    evidence: list[dict | None] = field(default_factory=list)  # row-level, per viewer
    anchor_index: np.ndarray | None = None  # (u,) row anchor title index, -1 none


@dataclass
class EvidenceSource:
    """What reasons are computed from (built by the Recommender for each batch).

    Attributes
    ----------
    model : CandidateModel
        The fitted model the page's relevance comes from.
    positives : csr (u, n_items)
        The histories the model scored (consented, in-window, excluded titles removed,
        positives only).
    train : csr (n_train, n_items)
        Consented, in-window training events (a stored 0: watched, not a positive).
    train_rows : (u,) int
        Each viewer's own training row, ``-1`` if none.
    stats : fairrec.rows.evidence.TitleStats
    tastes : fairrec.rows.evidence.TasteGroups, optional
        The training viewers grouped by main taste (fixed at fit time).
    """

    model: Any
    positives: Any
    train: Any
    train_rows: np.ndarray
    stats: Any
    tastes: Any = None
    cache: dict = field(default_factory=dict)


def history_genre_mix(histories: Any, genres: np.ndarray) -> np.ndarray:
    """(u, g) share of each genre in each history row (weighted; zeros for an empty row).

    ``histories @ genres`` computed on the rows' nonzeros only: scipy's sparse-times-dense
    validates and converts the whole ``(n_items, g)`` operand on every call (~0.2 ms for
    20,000 titles).
    """
    h = histories
    mix = np.zeros((h.shape[0], genres.shape[1]))
    if h.nnz:
        contrib = genres[h.indices] * h.data[:, None]
        starts = h.indptr[:-1]
        nonempty = h.indptr[1:] > starts
        # segments between consecutive nonempty rows' starts are exactly those rows' entries
        mix[nonempty] = np.add.reduceat(contrib, starts[nonempty], axis=0)
    return mix / np.maximum(mix.sum(axis=1, keepdims=True), 1e-12)
