"""``verify_page``: re-derive every claim on a home page from the data and the ledger.

The verifier shares no code with the page builder (rows, assembly, the gate, the vocabulary
module, :mod:`fairrec.evidence`): it reads the raw events of the :class:`~fairrec.data.Dataset`
and the viewer's record in the :class:`~fairrec.consent.ConsentLedger` and recomputes

* **exclusions** -- the viewer's excluded genres (matched case- and whitespace-insensitively),
  titles (by id or exact title) and maturity limit, and, with ``stated_interests``, their
  dislikes: no such title is an item, an anchor, or named in a row title or reason;
* **consented data only** -- personal data categories only under the matching purpose; no
  title of the viewer's consented, in-window history is recommended;
* **each reason's evidence** -- watcher / liker counts and popularity shares from the
  consented training events at fitting time; how many history titles share a genre with it; for "because you
  watched" anchors the per-title contributions to the model's score (implicit's own
  ``explain`` for ALS, the similarity matrix for ItemKNN, vector cosine otherwise);
  for *Outside your bubble*, the viewer's main taste (from the title clusters of the
  fitted state) and how many of the other training viewers of that taste liked the title;
* **each row's claim** -- "rarely watched" below the row's popularity share, liked share and
  mean rating at least the stated medians, enough viewers of the main taste liking it at
  the stated lift, few shared genres, every anchor the top contributor, scores in [0, 1].

It returns the list of :class:`Violation` (empty when every claim holds).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["Violation", "verify_page"]

_TOL = 1e-4
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Violation:
    """One claim on a page that does not hold.

    Attributes
    ----------
    check : str
        Which rule: ``"excluded_item"``, ``"excluded_mention"``, ``"seen_item"``,
        ``"consent"``, ``"evidence"``, ``"claim"``, ``"anchor"``, ``"score"``, ``"vocabulary"``.
    message : str
    row, position : int or None
        Where on the page (0-based).
    item_id : str or None
    """

    check: str
    message: str
    row: int | None = None
    position: int | None = None
    item_id: str | None = None

    def __str__(self) -> str:
        where = "" if self.row is None else f"row {self.row}"
        if self.position is not None:
            where += f", position {self.position}"
        return f"[{self.check}] {where + ': ' if where else ''}{self.message}"


def _gkey(name: Any) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", str(name))).strip().casefold()


def _tkey(title: Any) -> str:
    text = unicodedata.normalize("NFKC", str(title))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SPACE.sub(" ", text).strip()


def _ikey(value: Any) -> str:
    from fairrec.data.ids import canon_id

    try:
        return canon_id(value)
    except Exception:  # noqa: BLE001 - an id fairrec cannot canonicalize: compare as text
        return str(value)


class _Catalog:
    """Plain lookups over the dataset's catalog."""

    def __init__(self, data: Any) -> None:
        cat = data.catalog
        self.n = data.n_items
        self.ids = list(data.item_ids.tolist())
        self.titles = [str(t) for t in cat["title"].tolist()]
        self.genres = [tuple(g) for g in cat["genres"].tolist()]
        self.maturity = cat["maturity"].to_numpy(np.float64) if "maturity" in cat.columns else None
        self.by_id: dict[str, int] = {}
        for i, v in enumerate(self.ids):
            self.by_id.setdefault(_ikey(v), i)
            self.by_id.setdefault(str(v), i)
        self.by_title: dict[str, list[int]] = {}
        for i, t in enumerate(self.titles):
            self.by_title.setdefault(_tkey(t), []).append(i)
        self.genre_names = sorted({g for gs in self.genres for g in gs})

    def item(self, value: Any) -> int | None:
        pos = self.by_id.get(_ikey(value))
        if pos is None:
            pos = self.by_id.get(str(value))
        if pos is not None:
            return pos
        hits = self.by_title.get(_tkey(value), [])
        return hits[0] if len(hits) == 1 else None

    def with_genres(self, names: Iterable[str]) -> tuple[set[int], list[str]]:
        """Titles with any of the genres (case-insensitive); and the names matching nothing."""
        keys = {_gkey(n): n for n in names}
        known = {_gkey(g) for g in self.genre_names}
        out = {i for i, gs in enumerate(self.genres) if any(_gkey(g) in keys for g in gs)}
        return out, [n for k, n in keys.items() if k not in known]


def verify_page(
    page: Any,
    data: Any,
    consent: Any,
    *,
    recommender: Any = None,
    now: Any = None,
    retention_days: float | None = None,
    fitted_at: Any = None,
    model: Any = None,
    title_tastes: Any = None,
) -> list[Violation]:
    """Re-derive every claim on ``page`` from ``data`` and ``consent``; list what fails.

    Parameters
    ----------
    page : HomePage
        A page served by :meth:`Recommender.home` (or rebuilt with ``HomePage.from_json``).
    data : Dataset
        The data the recommender was fitted on and serves from.
    consent : ConsentLedger
        The ledger it serves with (``None``: every purpose granted, nothing excluded).
    recommender : Recommender, optional
        Supplies ``retention_days``, the fitting time, the model (for anchors'
        contributions) and the titles' taste clusters when the keywords below are not
        given. Nothing else is read from it.
    now : datetime-like, optional
        The request time (default: the page's ``generated_at``).
    retention_days : float, optional
    fitted_at : datetime-like, optional
        When the model was fitted (the training gate's time; default ``now``).
    model : CandidateModel, optional
        Without a model, anchors are checked against vector similarity only when the
        recommender is given; otherwise their contribution checks are skipped.
    title_tastes : array of int, optional
        Each title's taste cluster (``recommender.fitted_state_.tastes_.title_taste`` when
        a recommender is given): the one fact of *Outside your bubble* the verifier takes as
        given (it depends on the model's title vectors only, no viewer's data); every main
        taste and count is re-derived from the raw events. Without it, a bubble row's
        counts are reported as not verifiable.

    Returns
    -------
    list of Violation
        Empty when every claim holds.
    """
    from fairrec.consent import ConsentLedger

    if consent is None:
        consent = ConsentLedger(default="allow")
    if recommender is not None:
        f = getattr(recommender, "_fitted", None)
        if retention_days is None:
            retention_days = recommender.retention_days
        if fitted_at is None and f is not None:
            fitted_at = f.fitted_at_
        if model is None and f is not None:
            model = f.model_
        if title_tastes is None and f is not None:
            title_tastes = f.tastes_.title_taste
    when = pd.Timestamp(now if now is not None else page.generated_at or pd.Timestamp.now())
    fit_time = pd.Timestamp(fitted_at) if fitted_at is not None else when
    v = _Verifier(page, data, consent, when, fit_time, retention_days, model)
    v.title_tastes = title_tastes
    return v.run()


def _cutoff(t: pd.Timestamp, days: float | None) -> np.datetime64 | None:
    if days is None:
        return None
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    try:
        return (t - pd.Timedelta(days=days)).to_datetime64()
    except (OverflowError, ValueError):
        return None


class _Verifier:
    def __init__(
        self,
        page: Any,
        data: Any,
        consent: Any,
        now: pd.Timestamp,
        fitted_at: pd.Timestamp,
        retention_days: float | None,
        model: Any,
    ) -> None:
        self.page = page
        self.data = data
        self.consent = consent
        self.now = now
        self.fitted_at = fitted_at
        self.days = retention_days
        self.model = model
        self.title_tastes: Any = None
        self.cat = _Catalog(data)
        self.out: list[Violation] = []
        self.state = consent.state(page.user_id)

    def fail(
        self,
        check: str,
        message: str,
        row: int | None = None,
        pos: int | None = None,
        item: Any = None,
    ) -> None:
        self.out.append(Violation(check, message, row, pos, None if item is None else str(item)))

    # ------------------------------------------------------------------ the viewer's data
    def _banned(self) -> set[int]:
        s, cat = self.state, self.cat
        banned: set[int] = set()
        genres, unknown = cat.with_genres(s.excluded_genres)
        banned |= genres
        for g in unknown:
            self.fail("vocabulary", f"excluded genre {g!r} matches no catalog genre")
        for v in s.excluded_items:
            i = cat.item(v)
            if i is None:
                self.fail("vocabulary", f"excluded title {v!r} matches no catalog title")
            else:
                banned.add(i)
        if s.max_maturity is not None:
            if cat.maturity is None:
                self.fail("vocabulary", "a maturity limit is set on a catalog without ratings")
            else:
                try:
                    cap = float(s.max_maturity)
                    banned |= set(np.flatnonzero(cat.maturity > cap).tolist())
                except (TypeError, ValueError):
                    banned |= set(range(cat.n))
        if "stated_interests" in s.purposes:
            genres, _ = cat.with_genres(s.disliked_genres)
            banned |= genres
            banned |= {i for v in s.disliked_items if (i := cat.item(v)) is not None}
        return banned

    def _history(self, banned: set[int]) -> tuple[dict[int, float], set[int]]:
        """The viewer's consented, in-window history: title -> summed weight (banned titles
        dropped) and every title they watched in the window (banned included)."""
        if "personalization" not in self.state.purposes or self.state.forgotten:
            return {}, set()
        d = self.data
        idx = d.user_index([self.page.user_id], on_unknown="ignore")[0]
        if idx < 0:
            return {}, set()
        ev = np.flatnonzero(d.users == idx)
        cut = _cutoff(self.now, self.days)
        if cut is not None and d.timestamps is not None:
            ev = ev[d.timestamps[ev] >= cut]
        hist: dict[int, float] = {}
        for i, w in zip(d.items[ev].tolist(), d.weights[ev].tolist()):
            hist[i] = hist.get(i, 0.0) + float(w)
        seen = set(hist)
        return {i: w for i, w in hist.items() if i not in banned}, seen

    def _training(self) -> tuple[np.ndarray, sp.csr_matrix]:
        """Training viewers (dataset indices, ascending) and their summed events at fit time."""
        d = self.data
        allowed = np.asarray(
            self.consent.allowed_mask(d.user_ids, "training", at=self.fitted_at), dtype=bool
        )
        mask = allowed[d.users]
        cut = _cutoff(self.fitted_at, self.days)
        if cut is not None and d.timestamps is not None:
            mask &= d.timestamps >= cut
        users = np.unique(d.users[mask])
        row = np.full(d.n_users, -1, dtype=np.int64)
        row[users] = np.arange(len(users))
        m = sp.coo_matrix(
            (d.weights[mask].astype(np.float64), (row[d.users[mask]], d.items[mask])),
            shape=(len(users), d.n_items),
        ).tocsr()
        m.sum_duplicates()
        return users, m

    # ------------------------------------------------------------------ checks
    def run(self) -> list[Violation]:
        page, cat, s = self.page, self.cat, self.state
        banned = self._banned()
        hist, seen = self._history(banned)
        purposes = s.purposes
        declared = set(page.data_used)
        if "watch_history" in declared and "personalization" not in purposes:
            self.fail("consent", "the page uses watch history without personalization consent")
        if page.personalized and "personalization" not in purposes:
            self.fail("consent", "the page is personalized without personalization consent")
        if "stated_interests" in declared and "stated_interests" not in purposes:
            self.fail("consent", "the page uses stated interests without their consent")
        banned_titles = {cat.titles[i] for i in banned}
        shown_titles = set()
        for row in page.rows:
            for it in row.items:
                pos = cat.item(it.item_id)
                if pos is not None and pos not in banned:
                    shown_titles.add(cat.titles[pos])
        mentionable = banned_titles - shown_titles  # a title text no allowed title carries
        self._train = None
        for r, row in enumerate(page.rows):
            texts = [row.title] + ([row.reason.text] if row.reason is not None else [])
            for it in row.items:
                texts.append(it.reason.text)
            self._check_mentions(r, texts, mentionable, shown_titles)
            for p, it in enumerate(row.items):
                i = cat.item(it.item_id)
                if i is None:
                    self.fail("evidence", f"item {it.item_id!r} is not in the catalog", r, p)
                    continue
                if i in banned:
                    self.fail("excluded_item", f"{cat.titles[i]!r} is excluded", r, p, it.item_id)
                if i in seen:
                    self.fail("seen_item", f"{cat.titles[i]!r} is in the history", r, p, it.item_id)
                if not (0.0 <= it.score <= 1.0) or not math.isfinite(it.score):
                    self.fail("score", f"score {it.score!r} is not a percentile", r, p, it.item_id)
                for c in it.reason.data_used:
                    if c == "watch_history" and "personalization" not in purposes:
                        self.fail("consent", "a reason uses watch history", r, p, it.item_id)
                    if c == "stated_interests" and "stated_interests" not in purposes:
                        self.fail("consent", "a reason uses stated interests", r, p, it.item_id)
                self._check_anchor(r, p, it, banned, hist)
                self._check_evidence(r, p, row, it, i, hist, banned)
        return self.out

    def _check_mentions(
        self, r: int, texts: list[str], mentionable: set[str], allowed: set[str]
    ) -> None:
        if not mentionable:
            return
        longer = sorted(allowed, key=len, reverse=True)
        for text in texts:
            rest = text
            for t in longer:
                if t in rest:
                    rest = rest.replace(t, "\x00")
            for t in mentionable:
                if t and t in rest:
                    self.fail("excluded_mention", f"excluded title {t!r} is named: {text!r}", r)

    def _check_anchor(self, r: int, p: int, it: Any, banned: set[int], hist: dict) -> None:
        ev = it.reason.evidence or {}
        aid = ev.get("anchor_id")
        if it.reason.anchor is None and aid is None:
            return
        a = self.cat.item(aid) if aid is not None else None
        if a is None and it.reason.anchor is not None:
            hits = self.cat.by_title.get(_tkey(it.reason.anchor), [])
            a = hits[0] if hits else None
        if a is None:
            self.fail("anchor", f"anchor {it.reason.anchor!r} is not a catalog title", r, p)
            return
        if a in banned:
            self.fail("excluded_mention", f"anchor {self.cat.titles[a]!r} is excluded", r, p)
            return
        if a not in hist:
            self.fail(
                "anchor",
                f"anchor {self.cat.titles[a]!r} is not in the consented history",
                r,
                p,
                it.item_id,
            )
            return
        i = self.cat.item(it.item_id)
        contrib = self._contributions(i, hist, ev.get("basis"))
        if contrib is None:
            return
        best = max(contrib.values())
        mine = contrib.get(a, -math.inf)
        if mine < best - _TOL * max(1.0, abs(best)):
            top = max(contrib, key=contrib.get)
            self.fail(
                "anchor",
                f"anchor {self.cat.titles[a]!r} adds {mine:.4g}, but "
                f"{self.cat.titles[top]!r} adds {best:.4g}",
                r,
                p,
                it.item_id,
            )
        if "contribution" in ev and abs(ev["contribution"] - mine) > _TOL * max(1.0, abs(mine)):
            self.fail(
                "evidence", f"contribution {ev['contribution']} != {mine:.6g}", r, p, it.item_id
            )

    def _contributions(self, item: int, hist: dict, basis: Any) -> dict[int, float] | None:
        """What each (positive) history title adds to ``item``'s score."""
        model = self.model
        pos = {j: w for j, w in hist.items() if w > 0}
        if model is None or not pos:
            return None
        from fairrec.models import ALS, ItemKNN

        cols = np.array(sorted(pos), dtype=np.int64)
        if isinstance(model, ALS) and basis == "als_contribution":
            solver = model.solver
            row = sp.csr_matrix(
                (np.array([pos[j] for j in cols], dtype=np.float32), cols, [0, len(cols)]),
                shape=(1, self.cat.n),
            )
            _, top, _ = solver.explain(0, row, item, N=len(cols))
            return {int(j): float(c) for j, c in top}
        if isinstance(model, ItemKNN) and basis == "knn_contribution":
            s = model.similarity_.tocsr()
            return {int(j): float(s[j, item]) * pos[j] for j in cols}
        if basis == "ease_contribution" and getattr(model, "weights_", None) is not None:
            return {int(j): float(model.weights_[j, item]) * pos[j] for j in cols}
        vec = getattr(model, "item_vectors", None)
        if vec is None:
            return None
        v = np.asarray(vec, dtype=np.float64)
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-30)
        return {int(j): float(v[j] @ v[item]) for j in cols}

    def _stats(self) -> dict[str, Any]:
        if self._train is None:
            users, m = self._training()
            n = self.cat.n
            watchers = np.bincount(m.indices, minlength=n)
            likers = np.bincount(m.indices[m.data > 0], minlength=n)
            order = np.sort(watchers)
            share = np.searchsorted(order, watchers, side="left") / max(n, 1)
            self._train = {
                "users": users,
                "m": m,
                "watchers": watchers,
                "likers": likers,
                "share": share,
            }
        return self._train

    def _check_evidence(
        self, r: int, p: int, row: Any, it: Any, i: int, hist: dict, banned: set[int]
    ) -> None:
        ev = it.reason.evidence
        kind = row.kind
        if ev is None:
            return
        if "watchers" in ev:
            t = self._stats()
            w, lk = int(t["watchers"][i]), int(t["likers"][i])
            if ev["watchers"] != w:
                self.fail("evidence", f"watchers {ev['watchers']} != {w}", r, p, it.item_id)
            if ev.get("viewers") not in (None, 0, len(t["users"])):
                self.fail(
                    "evidence", f"viewers {ev['viewers']} != {len(t['users'])}", r, p, it.item_id
                )
            if abs(ev["popularity_share"] - t["share"][i]) > _TOL:
                self.fail("evidence", "popularity share differs", r, p, it.item_id)
            if "likers" in ev and ev["likers"] != lk:
                self.fail("evidence", f"likers {ev['likers']} != {lk}", r, p, it.item_id)
            if kind == "hidden_gems" and row.reason is not None and row.reason.evidence:
                claim = row.reason.evidence
                if not t["share"][i] < claim.get("quantile", 1.0):
                    self.fail(
                        "claim",
                        f"{self.cat.titles[i]!r} is not rarely watched "
                        f"(popularity share {t['share'][i]:.3f})",
                        r,
                        p,
                        it.item_id,
                    )
                if claim.get("liking_measured") and w < claim.get("min_watchers", 0):
                    self.fail("claim", "too few watchers to call it a gem", r, p, it.item_id)
                med = claim.get("liked_median")
                if claim.get("liking_measured") and med is not None:
                    if lk / max(w, 1) < med - _TOL:
                        self.fail(
                            "claim",
                            f"liked share {lk / max(w, 1):.3f} is below the median {med:.3f}",
                            r,
                            p,
                            it.item_id,
                        )
        if kind == "off_the_mainstream" and row.reason is not None and row.reason.evidence:
            claim = row.reason.evidence
            t = self._stats()
            if not t["share"][i] < claim.get("max_share", 1.0):
                self.fail(
                    "claim",
                    f"{self.cat.titles[i]!r} is not off the mainstream "
                    f"(popularity share {t['share'][i]:.3f})",
                    r,
                    p,
                    it.item_id,
                )
            if it.score < claim.get("min_relevance", 0.0) - _TOL:
                self.fail(
                    "claim",
                    f"relevance percentile {it.score:.3f} is below the row's floor",
                    r,
                    p,
                    it.item_id,
                )
        if kind == "popular_in_genre" and row.reason is not None and row.reason.evidence:
            g = row.reason.evidence.get("genre")
            if g is not None and g not in self.cat.genres[i]:
                self.fail("claim", f"{self.cat.titles[i]!r} is not in {g!r}", r, p, it.item_id)
        if kind == "outside_your_bubble":
            self._check_bubble(r, p, row, it, i, hist, ev)
        if kind == "stated_interests":
            self._check_interest(r, p, it, i, ev, banned)

    def _check_bubble(
        self, r: int, p: int, row: Any, it: Any, i: int, hist: dict, ev: dict
    ) -> None:
        from fairrec.verify_taste import taste_counts, training_tastes, viewer_taste

        t = self._stats()
        claim = row.reason.evidence if row.reason is not None and row.reason.evidence else {}
        fail = lambda check, msg: self.fail(check, msg, r, p, it.item_id)  # noqa: E731
        if self.title_tastes is None:
            fail("evidence", "main-taste counts cannot be re-derived without the title "
                 "clusters (pass recommender= or title_tastes=)")  # fmt: skip
        else:
            tt = np.asarray(self.title_tastes, dtype=np.int64)
            if "theirs" not in t:
                t["theirs"] = training_tastes(t["m"], tt)
                t["m_csc"] = t["m"].tocsc()
            g = viewer_taste(hist, tt)
            me = self.data.user_index([self.page.user_id], on_unknown="ignore")[0]
            n, liked = taste_counts(t["m_csc"], t["theirs"], t["users"], me, g, i)
            found = (g, n, liked, len(t["users"]), int(t["likers"][i]))
            keys = ("taste_group", "group_viewers", "group_liked", "all_viewers", "all_liked")
            stated = tuple(ev.get(key) for key in keys)
            if stated != found:
                fail("evidence", f"main taste: stated {stated}, found {found} ({keys})")
            if liked < claim.get("min_neighbors", 1):
                fail("claim", "too few viewers of the main taste liked it")
            if liked * found[3] < claim.get("min_lift", 1.0) * found[4] * n - 1e-9:
                fail("claim", "liked by a smaller share of the main taste than the row states")
        gi = set(self.cat.genres[i])
        share = sum(1 for j in hist if gi.intersection(self.cat.genres[j]))
        if ev.get("sharing_genre") != share or ev.get("history_titles") != len(hist):
            self.fail(
                "evidence",
                f"genre overlap: stated {ev.get('sharing_genre')} of "
                f"{ev.get('history_titles')}, found {share} of {len(hist)}",
                r,
                p,
                it.item_id,
            )
        if share > claim.get("max_overlap", 1.0) * len(hist) + 1e-9:
            fail("claim", "its genres are common in the history")

    def _check_interest(self, r: int, p: int, it: Any, i: int, ev: dict, banned: set[int]) -> None:
        s = self.state
        liked_keys = {_gkey(g) for g in s.liked_genres}
        for g in ev.get("genres", []):
            if _gkey(g) not in liked_keys:
                self.fail("claim", f"genre {g!r} is not a stated interest", r, p, it.item_id)
            if g not in self.cat.genres[i]:
                self.fail("claim", f"{self.cat.titles[i]!r} is not in {g!r}", r, p, it.item_id)
        near = ev.get("near_id")
        if near is not None:
            j = self.cat.item(near)
            liked = {self.cat.item(v) for v in s.liked_items}
            if j is None or j not in liked or j in banned:
                self.fail(
                    "claim",
                    f"{ev.get('near_title')!r} is not a stated, allowed title",
                    r,
                    p,
                    it.item_id,
                )
