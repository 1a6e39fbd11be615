"""Paired comparison of two methods' per-viewer metric values (used by ``fairrec.compare``).

For viewers both methods have a value for, with ``d = round(b - a, DECIMALS)``:

* ``diff`` -- the mean paired difference ``mean(d)`` (method minus baseline);
* ``ci_low``, ``ci_high`` -- its 95 % confidence interval, Student's t with ``n - 1``
  degrees of freedom: ``mean(d) ± t₀.₉₇₅ · sd(d) / √n``;
* ``effect`` -- the standardized mean difference of paired samples (Cohen's d_z):
  ``mean(d) / sd(d)`` (``±inf`` for a constant non-zero shift, 0 where nothing differs);
* ``p`` -- a two-sided paired test of ``mean(d) = 0`` (one-sample t-test of ``d``) or of a
  symmetric distribution of ``d`` around 0 (Wilcoxon signed-rank, zero differences dropped).

Why the rounding: two methods that agree on a viewer may compute the same value along
different float paths and differ by ~1e-16; unrounded, such noise would count as a
difference and enter the Wilcoxon ranks (and differences that are equal in exact arithmetic
could rank differently). Rounding every paired difference to ``DECIMALS`` = 10 decimal places
makes them exact zeros and exact ties. Metric values are at most of order 10-100, so
rounding at 1e-10 never removes a real difference.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["DECIMALS", "paired", "holm"]

#: paired differences are rounded to this many decimal places before any test
DECIMALS = 10
_NAN = float("nan")


def paired(a: pd.Series, b: pd.Series, test: str = "ttest") -> dict[str, float]:
    """Paired statistics of ``b`` against ``a`` over their common index (see module doc)."""
    from scipy import stats

    both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    x = both["a"].to_numpy(np.float64)
    y = both["b"].to_numpy(np.float64)
    d = np.round(y - x, DECIMALS)
    n = d.size
    out = {"diff": _NAN, "ci_low": _NAN, "ci_high": _NAN, "effect": _NAN, "p": _NAN}
    if n == 0:
        return out
    mean = float(d.mean())
    out["diff"] = mean
    if n < 2:
        return out
    sd = float(d.std(ddof=1))
    if not np.any(d):
        return {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "effect": 0.0, "p": 1.0}
    if np.ptp(d) == 0.0:  # the same non-zero shift on every viewer (sd is float noise)
        return {
            "diff": mean,
            "ci_low": mean,
            "ci_high": mean,
            "effect": math.copysign(math.inf, mean),
            "p": 0.0,
        }
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    out.update(ci_low=mean - half, ci_high=mean + half, effect=mean / sd)
    if test == "ttest":
        out["p"] = float(stats.ttest_1samp(d, 0.0).pvalue)
    else:
        out["p"] = float(stats.wilcoxon(d).pvalue)
    return out


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries are left out).

    The ``i``-th smallest of ``m`` p-values is multiplied by ``m - i + 1`` (``i`` from 1),
    made non-decreasing in that order and capped at 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(adj, 1.0)
    return out
