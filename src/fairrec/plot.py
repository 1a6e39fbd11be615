"""Pictures of evaluation results (needs the ``plot`` extra: ``pip install "fairrec[plot]"``).

* :func:`tradeoff` -- one point per method of a :func:`fairrec.compare` table on two
  metrics (accuracy against diversity, novelty, ...), with the Pareto frontier drawn.
* :func:`comparison` -- one bar per method of a :func:`fairrec.compare` /
  :func:`fairrec.compare_models` table per metric, with the 95 % confidence interval of the
  paired difference against the baseline as an error bar and the p-value written beside it.
* :func:`pareto_front` -- which rows of a table are not dominated on two metrics (no
  matplotlib needed to call it, but it lives here with the plot that uses it).

Figures are created with :class:`matplotlib.figure.Figure` directly, not through
``pyplot``: no global figure state, safe in threads; save one with ``fig.savefig(path)``.
In a notebook the returned figure shows itself as the cell's value.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairrec.errors import DataError, OptionalDependencyError, param_error

try:
    from matplotlib.figure import Figure
except ImportError:  # pragma: no cover - exercised only without matplotlib
    raise OptionalDependencyError(
        'fairrec.plot needs matplotlib; install it with: pip install "fairrec[plot]"'
    ) from None

__all__ = ["tradeoff", "pareto_front", "comparison"]

_FAMILY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class _TradeoffFigure(Figure):
    """A Figure that renders itself as PNG in notebooks, with or without pyplot."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()


def _direction(table: pd.DataFrame, column: str, given: bool | None) -> bool:
    if given is not None:
        return bool(given)
    known = table.attrs.get("higher_is_better", {}) if hasattr(table, "attrs") else {}
    if known.get(column) is not None:
        return bool(known[column])
    from fairrec.evaluation import higher_is_better

    found = higher_is_better(column)
    return True if found is None else bool(found)


def pareto_front(
    x: Sequence[float], y: Sequence[float], *, x_higher: bool = True, y_higher: bool = True
) -> np.ndarray:
    """Boolean mask of the points no other point dominates.

    A point dominates another when it is at least as good on both axes and strictly better
    on one (``x_higher`` / ``y_higher`` give the direction of "better"). NaN points are
    never on the front.

    Examples
    --------
    >>> pareto_front([1, 2, 3, 2], [3, 2, 1, 1]).tolist()
    [True, True, True, False]
    """
    xs = np.asarray(x, dtype=np.float64) * (1.0 if x_higher else -1.0)
    ys = np.asarray(y, dtype=np.float64) * (1.0 if y_higher else -1.0)
    ok = np.isfinite(xs) & np.isfinite(ys)
    ge = (xs[None, :] >= xs[:, None]) & (ys[None, :] >= ys[:, None])  # [i, j]: j >= i
    gt = (xs[None, :] > xs[:, None]) | (ys[None, :] > ys[:, None])
    dominated = (ge & gt & ok[None, :]).any(axis=1)
    return ok & ~dominated


#: label offsets (points from the point) and alignment, tried in turn
_OFFSETS = [
    (5, 3, "left"),
    (5, -10, "left"),
    (-5, 3, "right"),
    (-5, -10, "right"),
    (5, 10, "left"),
    (5, -17, "left"),
]
_FONT = 7.0


def _overlap(a: np.ndarray, boxes: np.ndarray) -> float:
    """Total overlap area of box ``a`` (x0, y0, x1, y1) with ``boxes`` (m, 4)."""
    if not len(boxes):
        return 0.0
    w = np.minimum(a[2], boxes[:, 2]) - np.maximum(a[0], boxes[:, 0])
    h = np.minimum(a[3], boxes[:, 3]) - np.maximum(a[1], boxes[:, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def _place_labels(ax: Any, names: list[str], x: np.ndarray, y: np.ndarray) -> list[int]:
    """Choose an offset per label so that labels avoid each other and the markers.

    Greedy over the methods (a handful of points): each label takes the first offset of
    :data:`_OFFSETS` whose estimated text box (in points) overlaps nothing placed so far,
    else the offset with the least overlap.
    """
    scale = 72.0 / ax.figure.dpi
    pts = ax.transData.transform(np.column_stack([x, y])) * scale
    marker = np.column_stack([pts - 4.0, pts + 4.0])
    placed: list[np.ndarray] = []
    chosen = []
    for i, name in enumerate(names):
        width, height = 0.58 * _FONT * len(name), 0.8 * _FONT
        others = np.delete(marker, i, axis=0)
        best, best_cost = 0, np.inf
        for s, (dx, dy, ha) in enumerate(_OFFSETS):
            x0 = pts[i, 0] + dx - (width if ha == "right" else 0.0)
            box = np.array([x0, pts[i, 1] + dy, x0 + width, pts[i, 1] + dy + height])
            cost = _overlap(box, np.array(placed).reshape(-1, 4)) + _overlap(box, others)
            if cost < best_cost:
                best, best_cost, best_box = s, cost, box
            if cost == 0:
                break
        placed.append(best_box)
        chosen.append(best)
    return chosen


def _families(names: Sequence[str]) -> list[str]:
    out = []
    for n in names:
        m = _FAMILY.search(str(n))
        out.append(m.group(0) if m else str(n))
    return out


def tradeoff(
    table: pd.DataFrame,
    x: str = "novelty",
    y: str = "ndcg@10",
    *,
    annotate: bool = True,
    ax: Any = None,
    x_higher: bool | None = None,
    y_higher: bool | None = None,
    title: str | None = None,
) -> Any:
    """Scatter of methods on two metrics with their Pareto frontier.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per method (the index names them), e.g. from :func:`fairrec.compare`.
    x, y : str
        Columns to plot, e.g. a beyond-accuracy metric against ``"ndcg@10"``.
    annotate : bool, default True
        Write each method's name next to its point.
    ax : matplotlib Axes, optional
        Draw into these axes (e.g. one panel of a larger figure); default a new figure.
    x_higher, y_higher : bool, optional
        Whether larger is better on each axis; by default from the table's
        ``attrs["higher_is_better"]`` or the metric's definition (e.g. lower
        ``miscalibration`` is better), else larger.
    title : str, optional
        Axes title (default ``"<y> vs <x>"``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (``ax.figure`` when ``ax`` was given). Methods sharing a family name
        (the first word of the label: ``"MMR"`` in ``"MMR λ=0.5"``) share a colour;
        points on the frontier are joined by a dashed line.

    Raises
    ------
    fairrec.errors.DataError
        A column is missing or not numeric, or no method has finite values on both.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(
            f"tradeoff needs a DataFrame (e.g. from fairrec.compare). Got {type(table).__name__}."
        )
    for axis, col in (("x", x), ("y", y)):
        if col not in table.columns:
            raise DataError(
                f"tradeoff: the {axis} column {col!r} is not in the table; columns are "
                f"{[c for c in table.columns if not str(c).endswith('_p')]}."
            )
        if not pd.api.types.is_numeric_dtype(table[col]):
            raise DataError(f"tradeoff: the column {col!r} is not numeric ({table[col].dtype}).")
    if not isinstance(annotate, bool):
        raise param_error("annotate", "tradeoff", "True or False", annotate)
    xv = table[x].to_numpy(dtype=np.float64)
    yv = table[y].to_numpy(dtype=np.float64)
    finite = np.isfinite(xv) & np.isfinite(yv)
    if not finite.any():
        raise DataError(f"tradeoff: no method has finite values of both {x!r} and {y!r}.")
    xh, yh = _direction(table, x, x_higher), _direction(table, y, y_higher)
    front = pareto_front(xv, yv, x_higher=xh, y_higher=yh)

    if ax is None:
        fig = _TradeoffFigure(figsize=(7.0, 5.0), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    names = [str(n) for n in table.index]
    families = _families(names)
    palette = {f: f"C{i % 10}" for i, f in enumerate(dict.fromkeys(families))}
    markers = "osD^v<>pPX*h"
    for i, fam in enumerate(palette):
        sel = np.array([f == fam for f in families]) & finite
        if not sel.any():
            continue
        ax.scatter(
            xv[sel],
            yv[sel],
            s=np.where(front[sel], 70, 40),
            color=palette[fam],
            marker=markers[i % len(markers)],
            edgecolors=np.where(front[sel], "black", "none").tolist(),
            linewidths=0.8,
            label=fam,
            zorder=3,
        )
    order = np.argsort(xv[front], kind="stable")
    ax.plot(
        xv[front][order],
        yv[front][order],
        linestyle="--",
        color="0.35",
        linewidth=1.0,
        zorder=2,
        label="Pareto frontier",
    )
    if annotate:
        shown = np.flatnonzero(finite)
        ax.autoscale_view()
        slots = _place_labels(ax, [names[i] for i in shown], xv[shown], yv[shown])
        for i, slot in zip(shown, slots):
            dx, dy, ha = _OFFSETS[slot]
            ax.annotate(
                names[i],
                (xv[i], yv[i]),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                fontsize=_FONT,
                color="0.2",
            )

    def label(col: str, higher: bool) -> str:
        return f"{col} ({'higher' if higher else 'lower'} is better)"

    ax.set_xlabel(label(x, xh))
    ax.set_ylabel(label(y, yh))
    ax.set_title(title if title is not None else f"{y} vs {x}")
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(fontsize=7, loc="best", frameon=False)
    return fig


def comparison(
    table: pd.DataFrame,
    metrics: Sequence[str] = ("ndcg@10",),
    *,
    p_column: str | None = None,
    title: str | None = None,
) -> Any:
    """Bars of each method's metric values, with the paired 95 % CI against the baseline.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`fairrec.compare` or :func:`fairrec.compare_models` (with a ``test``, so
        that it has the ``<metric>_ci_low`` / ``_ci_high`` / ``_p`` columns).
    metrics : sequence of str, default ("ndcg@10",)
        One panel per metric column.
    p_column : {"p", "p_holm"}, optional
        Which p-value to print beside each bar (default ``"p_holm"`` where the table has it,
        else ``"p"``).
    title : str, optional
        Figure title (default: the baseline's name).

    Returns
    -------
    matplotlib.figure.Figure
        The error bar of a method spans ``baseline value + [ci_low, ci_high]`` of its mean
        paired difference: where it does not reach the baseline's value (the dotted line),
        the difference is significant at 5 % (uncorrected).

    Raises
    ------
    fairrec.errors.DataError
        A metric or its statistics columns are missing.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(
            f"comparison needs a DataFrame from fairrec.compare. Got {type(table).__name__}."
        )
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    if not metrics:
        raise param_error("metrics", "comparison", "a non-empty list of metric columns", metrics)
    for col in metrics:
        need = [col, f"{col}_ci_low", f"{col}_ci_high", f"{col}_p"]
        missing = [c for c in need if c not in table.columns]
        if missing:
            raise DataError(
                f"comparison: the table lacks {missing}; compare with test='ttest' or "
                "'wilcoxon' and a metric with per-viewer values (not coverage or gini)."
            )
    if p_column not in (None, "p", "p_holm"):
        raise param_error("p_column", "comparison", "'p', 'p_holm' or None", p_column)
    base = table.attrs.get("baseline", table.index[0])
    names = [str(n) for n in table.index]
    fig = _TradeoffFigure(
        figsize=(4.2 * len(metrics), 0.45 * len(names) + 1.6), layout="constrained"
    )
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    y = np.arange(len(names))[::-1]
    for ax, col in zip(axes, metrics):
        pcol = p_column or ("p_holm" if f"{col}_p_holm" in table.columns else "p")
        if f"{col}_{pcol}" not in table.columns:
            raise DataError(f"comparison: the table lacks {col}_{pcol!s}.")
        values = table[col].to_numpy(dtype=np.float64)
        base_value = float(table.loc[base, col]) if base in table.index else np.nan
        low = base_value + table[f"{col}_ci_low"].to_numpy(dtype=np.float64)
        high = base_value + table[f"{col}_ci_high"].to_numpy(dtype=np.float64)
        colors = ["0.55" if str(n) == str(base) else "C0" for n in table.index]
        ax.barh(y, values, color=colors, height=0.6)
        has_ci = np.isfinite(low) & np.isfinite(high)
        centre = (low + high) / 2
        ax.errorbar(
            centre[has_ci],
            y[has_ci],
            xerr=((high - low) / 2)[has_ci],
            fmt="none",
            ecolor="black",
            capsize=3,
            linewidth=1,
        )
        if np.isfinite(base_value):
            ax.axvline(base_value, linestyle=":", color="0.3", linewidth=1)
        pv = table[f"{col}_{pcol}"].to_numpy(dtype=np.float64)
        right = np.nanmax(np.where(np.isfinite(high), np.maximum(high, values), values))
        for yi, v, p in zip(y, values, pv):
            shown = "" if not np.isfinite(p) else ("  p<1e-16" if p < 1e-16 else f"  p={p:.1e}")
            text = f"{v:.4g}{shown}"
            ax.text(right * 1.02, yi, text, va="center", fontsize=_FONT)
        ax.set_xlim(0, right * 1.45 if right > 0 else 1)
        ax.set_yticks(y, names)
        ax.set_xlabel(col + (" (p Holm-adjusted)" if pcol == "p_holm" else ""))
        ax.grid(True, axis="x", linewidth=0.4, alpha=0.5)
    fig.suptitle(
        title if title is not None else f"vs baseline {base!r} (95 % CI of the difference)"
    )
    return fig
