"""``explain_data_use``: what data is used for a viewer, for which purpose, since when
and until when, built from the same snapshot and page as ``home``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fairrec.data.ids import canon_id
from fairrec.page import (
    DATA_CATALOG_POPULARITY,
    DATA_STATED_INTERESTS,
    DATA_WATCH_HISTORY,
    describe_data_used,
)
from fairrec.serving.cold import explain_live
from fairrec.serving.core import (
    serve,
)
from fairrec.serving.gate import (
    PERSONALIZATION,
    STATED_INTERESTS,
    TRAINING,
)
from fairrec.serving.pages import build_page

__all__ = ["explain_data_use"]


class DataUseReport(dict):
    """What data fairrec uses for a viewer, for which purpose, since when.

    A plain ``dict`` (JSON-ready) whose ``str()`` is a readable text for the viewer.
    """

    @property
    def text(self) -> str:
        return self["text"]

    def __str__(self) -> str:
        return self.text


def explain_data_use(rec: Any, user: Any, now: Any = None) -> DataUseReport:
    """The data-use report of ``user`` (see :meth:`Recommender.explain_data_use`)."""
    rec._require_fitted()
    when = rec._now(now)
    f = rec._fitted
    batch, assembled = serve(rec, [user], when, f)
    page = build_page(f, 0, batch, assembled, when)
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
    n_trained = int(f.train_matrix_.indptr[row + 1] - f.train_matrix_.indptr[row]) if trained else 0
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
            "disliked_titles": [title_of(i) for i in sorted(map(str, state.disliked_items))],
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
        f"only interactions from the last {rec.retention_days:g} days"
        if rec.retention_days is not None
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
        retention_days=rec.retention_days,
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
