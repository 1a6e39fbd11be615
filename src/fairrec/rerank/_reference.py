"""Slow, obviously-correct references used by the tests and the benchmarks.

Not part of the public API: they exist to check the fast implementations against.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dpp_greedy_logdet"]


def dpp_greedy_logdet(
    quality: np.ndarray,
    item_vectors: np.ndarray,
    k: int,
    *,
    window: int | None = None,
    eps: float = 1e-10,
) -> np.ndarray:
    """Naive greedy DPP MAP: each step evaluates ``slogdet`` of every candidate's submatrix.

    Picks, at every step, the candidate ``i`` maximising ``det(L_{W + i})`` where ``W`` is the
    set of previous picks (the last ``window - 1`` of them with a window), among candidates
    whose gain ``det(L_{W + i}) / det(L_W)`` exceeds ``eps * L_ii``, stopping when there is
    none; ties go to the lower index.
    One batched ``numpy.linalg.slogdet`` call per step over all remaining candidates.
    """
    q = np.asarray(quality, dtype=np.float64)
    v = np.asarray(item_vectors, dtype=np.float64)
    kernel = q[:, None] * (v @ v.T) * q[None, :]
    n = len(q)
    chosen: list[int] = []
    for _ in range(min(k, n)):
        keep = len(chosen) if window is None else window - 1
        cond = chosen[max(0, len(chosen) - keep) :] if keep else []
        rest = np.array([i for i in range(n) if i not in chosen], dtype=np.int64)
        if rest.size == 0:
            break
        if cond:
            _, base = np.linalg.slogdet(kernel[np.ix_(cond, cond)])
        else:
            base = 0.0
        idx = np.concatenate(
            [
                np.broadcast_to(np.array(cond, dtype=np.int64), (rest.size, len(cond))),
                rest[:, None],
            ],
            axis=1,
        )
        sub = kernel[idx[:, :, None], idx[:, None, :]]
        sign, logdet = np.linalg.slogdet(sub)
        gain = np.where(sign > 0, np.exp(logdet - base), 0.0)
        gain = np.where(gain > eps * np.diag(kernel)[rest], gain, -np.inf)
        best = int(np.argmax(gain))
        if gain[best] == -np.inf:
            break
        chosen.append(int(rest[best]))
    return np.array(chosen, dtype=np.int64)
