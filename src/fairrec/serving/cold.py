"""Titles added without refit (cold-start vectors, model extension) and what the live state
changes in rows, flat-list reasons and the data-use report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fairrec.models import cold_start_vectors  # noqa: F401  (was defined here: fairrec.live)
from fairrec.page import DATA_WATCH_HISTORY, data_label

__all__ = [
    "HISTORY_ROW_KINDS",
    "row_skip",
    "extend_model",
    "COLD_REASON",
    "cold_reasons",
    "explain_live",
]

#: Row kinds that declare the viewer's watch history on every personalized page (fairrec's
#: own; a custom kind qualifies by ``personal = True``). Impressions, the viewer's viewing
#: activity, only shape rows that say they use it.
HISTORY_ROW_KINDS = frozenset(
    {
        "top_picks",
        "because_you_watched",
        "hidden_gems",
        "outside_your_bubble",
        "stated_interests",
        "more_like_this",
    }
)


def row_skip(ctx: Any, kind: Any) -> np.ndarray | None:
    """``(u, n_items)`` titles a row kind must leave out for the live state (None: none).

    Stale titles (see :class:`LiveConfig`): for personalized viewers, in row kinds that
    declare the watch history (:data:`HISTORY_ROW_KINDS` or ``personal = True``) — so a row
    labelled "no personal data" is never shaped by impressions; an exempt row kind may still
    use the stale titles among the viewer's ``round(keep * row_size)`` most relevant
    candidates. Cold-start titles: in every row kind that does not declare
    ``shows_new_titles`` (their reasons could not say that the title's place is estimated
    from its metadata).
    """
    batch = ctx.batch
    stale = getattr(batch, "stale", None)
    cold = getattr(batch, "cold", None)
    skip = None
    name = getattr(kind, "kind", None)
    if stale is not None and (name in HISTORY_ROW_KINDS or getattr(kind, "personal", False)):
        skip = stale & batch.personalized[:, None]
        keep = int(round(batch.keep * ctx.k)) if name in batch.exempt else 0
        if keep > 0:  # the viewer's strongest candidates may repeat
            top = ctx.cand[:, :keep]
            ok = top >= 0
            who = np.broadcast_to(np.arange(len(batch))[:, None], top.shape)[ok]
            skip[who, top[ok]] = False
    if cold is not None and not getattr(kind, "shows_new_titles", False):
        skip = (
            cold[None, :] | skip
            if skip is not None
            else np.broadcast_to(cold, (len(batch), cold.size))
        )
    return skip


# ---------------------------------------------------------------------- new titles
def extend_model(model: Any, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray) -> Any:
    """A copy of ``model`` serving ``len(new_genres)`` more titles (the model is unchanged):
    :meth:`CandidateModel.with_new_items <fairrec.models.CandidateModel.with_new_items>`
    (factor models get :func:`~fairrec.models.cold_start_vectors` rows; ItemKNN and EASE
    titles with no neighbours / zero weights; Popularity a count of 0; a model without the
    capability raises :class:`~fairrec.errors.ModelCapabilityError`)."""
    return model.with_new_items(genres, new_genres, fitted)


#: reason of a cold-start title in a flat list (a personalized line)
COLD_REASON = (
    "New on the catalog: no plays yet, its place is estimated from its genres "
    f"({data_label(DATA_WATCH_HISTORY)})"
)


def cold_reasons(
    reason: np.ndarray, items: np.ndarray, batch: Any, personal: np.ndarray
) -> np.ndarray:
    """Flat-list reasons with cold-start titles marked as such on personalized lines
    (``personal``); on the others the non-personal reason stays true: no personal data is
    used, and the title's place comes from catalog popularity like every other's."""
    cold = getattr(batch, "cold", None)
    if cold is None or items.size == 0:
        return reason
    hit = cold[items] & personal
    if not hit.any():
        return reason
    return np.where(hit, COLD_REASON, reason)


def explain_live(batch: Any) -> tuple[dict[str, int], list[str]]:
    """What a viewer's data-use report says about observed events (first viewer of a batch).

    Returns ``({"plays": n, "impressions": m}, lines)``: the observed plays used as watch
    history and the impressions used to leave shown titles out, with a sentence when any.
    """
    plays = getattr(batch, "observed", None)
    shown = getattr(batch, "impressions", None)
    info = {
        "plays": int(plays[0]) if plays is not None and len(plays) else 0,
        "impressions": int(shown[0]) if shown is not None and len(shown) else 0,
    }
    lines = []
    if info["plays"] or info["impressions"]:
        lines.append(
            f"- Since the model was fitted, {info['plays']} play(s) and {info['impressions']} "
            "impression(s) (titles shown to you) are used: plays as watch history, "
            "impressions to avoid showing you the same titles again."
        )
    return info, lines
