"""Titles added without refit (cold-start vectors, model extension) and what the live state
changes in rows, flat-list reasons and the data-use report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from fairrec.errors import ParameterError

__all__ = [
    "HISTORY_ROW_KINDS",
    "row_skip",
    "cold_start_vectors",
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
def cold_start_vectors(
    factors: np.ndarray, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray
) -> np.ndarray:
    """Vectors of new titles: the mean factor row of the fitted titles sharing a genre.

    Parameters
    ----------
    factors : (n, d) item factors of the current titles.
    genres : (n, g) multi-hot genres of the current titles (in the new genre space).
    new_genres : (m, g) multi-hot genres of the new titles.
    fitted : (n,) bool, titles whose factors were fitted (not cold-start themselves).

    A new title with no genre shared by any fitted title gets the mean of every fitted title.
    """
    src = np.ascontiguousarray(factors[fitted], dtype=np.float32)
    g_src = (genres[fitted] > 0).astype(np.float32)
    # one mean per distinct genre set of the new titles (catalogs reuse a few hundred sets)
    sets, inverse = np.unique(new_genres > 0, axis=0, return_inverse=True)
    share = ((sets.astype(np.float32) @ g_src.T) > 0).astype(np.float32)  # (sets, n_fitted)
    counts = share.sum(axis=1, keepdims=True)
    means = (share @ src) / np.maximum(counts, 1)
    overall = src.mean(axis=0) if len(src) else np.zeros(factors.shape[1], np.float32)
    means = np.where(counts > 0, means, overall[None, :])[np.ravel(inverse)]
    return means.astype(factors.dtype)


def extend_model(model: Any, genres: np.ndarray, new_genres: np.ndarray, fitted: np.ndarray) -> Any:
    """A copy of ``model`` serving ``len(new_genres)`` more titles (the model is unchanged).

    Factor models (ALS, BPR) get :func:`cold_start_vectors` rows; ItemKNN and EASE get titles
    with no neighbours / zero weights (they score 0 until a refit); Popularity gets a count of
    0. Other models raise ParameterError. Like the copy ``forget`` makes, the copy has no
    record of training pairs (the evaluation guard then reads the recommender's matrix).
    """
    arrays = {k: np.asarray(v) for k, v in model.get_arrays().items()}
    m = len(new_genres)
    if "item_factors" in arrays:
        f = arrays["item_factors"]
        arrays["item_factors"] = np.vstack([f, cold_start_vectors(f, genres, new_genres, fitted)])
    elif "sim_indptr" in arrays:
        ptr = arrays["sim_indptr"]
        arrays["sim_indptr"] = np.concatenate([ptr, np.full(m, ptr[-1], dtype=ptr.dtype)])
        n = len(ptr) - 1 + m
        sim = sp.csr_matrix(
            (arrays["sim_data"], arrays["sim_indices"], arrays["sim_indptr"]), shape=(n, n)
        )
        arrays = {
            "sim_data": sim.data,
            "sim_indices": sim.indices.astype(np.int64),
            "sim_indptr": sim.indptr.astype(np.int64),
        }
    elif set(arrays) == {"weights"} and arrays["weights"].ndim == 2:  # EASE: no co-occurrence
        w = arrays["weights"]
        n = w.shape[0]
        out_w = np.zeros((n + m, n + m), dtype=w.dtype)
        out_w[:n, :n] = w
        arrays["weights"] = out_w
    elif set(arrays) == {"counts"}:
        arrays["counts"] = np.concatenate([arrays["counts"], np.zeros(m, dtype=np.float32)])
    else:
        raise ParameterError(
            f"add_titles() does not know how to extend a {type(model).__name__} model; "
            "refit it with the new titles instead."
        )
    out = type(model)(**model.get_params())
    out.set_arrays(arrays)
    return out


#: reason of a cold-start title in a flat list
COLD_REASON = (
    "New on the catalog: no plays yet, its place is estimated from its genres (your watch history)"
)


def cold_reasons(reason: np.ndarray, items: np.ndarray, batch: Any) -> np.ndarray:
    """Flat-list reasons with cold-start titles marked as such (personalized lines only;
    for the others the non-personal reason stays true: no personal data is used)."""
    cold = getattr(batch, "cold", None)
    if cold is None or items.size == 0:
        return reason
    hit = cold[items] & (reason != "Popular across genres (no personal data)")
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
