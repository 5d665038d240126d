"""Intrinsic dimension against neighbourhood scale: one panel per block, one line per layer."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import TEMPLATE, TICK_AXIS, color_of, rgba

__all__ = ["plot_id_scale"]

_LABELS = {
    "bottleneck": "bottleneck",
    "preactivation": "expansion, before activation",
    "expansion": "expansion, after activation",
}
_X_TITLES = {
    "n1": "neighbour rank n1 (n2 = 2 n1)",
    "n2": "neighbour rank n2",
    "scale": "mean distance to the n2-th neighbour",
    "scale_median": "median distance to the n2-th neighbour",
}


def plot_id_scale(
    df: pd.DataFrame,
    *,
    x: str = "n1",
    color: str = "layer",
    columns: int = 4,
    bands: bool = True,
    title: str | None = None,
) -> go.Figure:
    """Intrinsic dimension against scale, one panel per block, with confidence bands.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``dimension``, the ``x`` column and the ``color`` column, optionally a block
        column (``name``, with ``index`` for the order) and ``ci_low`` / ``ci_high``:
        :func:`manifold_lab.probing.id_scale_profile` returns such a frame, and
        ``IDScaleResult.to_frame()`` (one panel) too.
    x : {"n1", "n2", "scale", "scale_median"}, default="n1"
        The scale: a neighbour rank or a distance (log axis either way).
    color : str, default="layer"
        One colour per value of this column (absent: one line).
    columns : int, default=4
        Panels per row.
    bands : bool, default=True
        Shade ``ci_low`` .. ``ci_high`` when the frame has them.
    title : str or None, default=None
        Figure title; with bands, a subtitle names their confidence level (from
        ``df.attrs["confidence"]``), which is the title when none is given.

    Returns
    -------
    plotly.graph_objects.Figure
        One panel per block (``columns`` per row), each with one line per value of
        ``color`` against ``x`` on a log axis and, when ``bands``, the shaded intervals.

    Examples
    --------
    >>> df = pd.DataFrame({"name": ["b1"] * 4, "index": 1, "n1": [1, 2, 1, 2],
    ...                    "layer": ["bottleneck"] * 2 + ["expansion"] * 2,
    ...                    "dimension": [5.0, 4.0, 9.0, 7.0]})
    >>> [t.name for t in plot_id_scale(df, bands=False).data]
    ['bottleneck', 'expansion, after activation']
    """
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise ValueError("plot_id_scale needs a non-empty DataFrame")
    if x not in _X_TITLES:
        raise ValueError(f"x must be one of {sorted(_X_TITLES)}, got {x!r}")
    for name in (x, "dimension"):
        if name not in df.columns:
            raise ValueError(f"the frame has no column {name!r}")
    if not isinstance(columns, int) or isinstance(columns, bool) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    df = df.copy()
    if "name" not in df.columns:
        df["name"] = ""
    if color not in df.columns:
        df[color] = "dimension"
    order = df.sort_values("index") if "index" in df.columns else df
    blocks = list(dict.fromkeys(order["name"]))
    groups = list(dict.fromkeys(df[color]))
    ncols = min(columns, len(blocks))
    nrows = math.ceil(len(blocks) / ncols)
    titles = [
        f"{b} (block {int(order.loc[order['name'] == b, 'index'].iloc[0])})"
        if "index" in df.columns and b
        else str(b)
        for b in blocks
    ]
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=titles,
        horizontal_spacing=0.06,
        vertical_spacing=min(0.12, 0.5 / nrows),
    )
    has_band = bands and {"ci_low", "ci_high"} <= set(df.columns)
    in_legend: set[str] = set()  # each layer once, where it first appears (block 1 has one)
    for bi, block in enumerate(blocks):
        row, col = bi // ncols + 1, bi % ncols + 1
        for gi, g in enumerate(groups):
            part = df[(df["name"] == block) & (df[color] == g)].sort_values(x)
            if part.empty:
                continue
            c = color_of(gi)
            label = _LABELS.get(str(g), str(g))
            if has_band and part["ci_low"].notna().any():
                fig.add_trace(
                    go.Scatter(
                        x=list(part[x]) + list(part[x])[::-1],
                        y=list(part["ci_high"]) + list(part["ci_low"])[::-1],
                        mode="lines",
                        fill="toself",
                        fillcolor=rgba(c, 0.2),
                        line={"width": 0},
                        hoverinfo="skip",
                        showlegend=False,
                        legendgroup=label,
                    ),
                    row=row,
                    col=col,
                )
            fig.add_trace(
                go.Scatter(
                    x=part[x],
                    y=part["dimension"],
                    mode="lines+markers",
                    name=label,
                    legendgroup=label,
                    showlegend=label not in in_legend,
                    line={"color": c, "width": 1.4},
                    marker={"size": 5, "color": c},
                ),
                row=row,
                col=col,
            )
            in_legend.add(label)
    fig.update_xaxes(**TICK_AXIS, type="log")
    if x in ("n1", "n2"):  # ranks: label the ranks themselves, not log decades
        ticks = sorted(int(v) for v in df[x].dropna().unique())
        fig.update_xaxes(tickvals=ticks, ticktext=[str(t) for t in ticks])
    fig.update_yaxes(**TICK_AXIS, rangemode="tozero")
    for j in range(1, ncols + 1):
        fig.update_xaxes(title_text=_X_TITLES[x], row=nrows, col=j)
    for r in range(1, nrows + 1):
        fig.update_yaxes(title_text="intrinsic dimension", row=r, col=1)
    level = df.attrs.get("confidence")
    note = f"bands: {100 * level:.0f}% bootstrap intervals" if has_band and level else ""
    text = title if title else note
    if title and note:
        text = f"{title}<br><sup>{note}</sup>"
    height = 260 * nrows + 150
    fig.update_layout(
        template=TEMPLATE,
        font={"size": 11, "color": "black"},
        title={"text": text},
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1 + 45 / height,
            "x": 1,
            "xanchor": "right",
        },
        margin={"l": 60, "r": 20, "t": 110 if text else 70, "b": 60},
        width=min(1400, 340 * ncols + 80),
        height=height,
    )
    return fig
