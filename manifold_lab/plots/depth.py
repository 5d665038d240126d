"""Information loss against width for stacks of several depths, beside Theorem 1 compounded."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..embedding import RESIDUAL_FORMS
from ..registry import METRIC_REGISTRY
from ..theory import stacked_preserved_fraction, stacked_width_needed
from .style import TEMPLATE, color_of, rgba

__all__ = ["plot_depth_curves"]

_DASH = {"plain": "solid", "inverted": "dot"}


def plot_depth_curves(
    summary: Any,
    crossings: Any,
    *,
    k: int,
    metrics: Any = ("invertible_fraction", "nmse", "collapsed_fraction"),
    note: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Metrics against width, one curve per depth, and the width needed against depth.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`manifold_lab.summarize` of a sweep over ``depth`` (one ``method``), with a
        ``residual_form`` column.
    crossings : pandas.DataFrame
        :func:`manifold_lab.sweeps.crossing_widths` of ``summary`` (columns
        ``residual_form``, ``depth``, ``level``, ``width``).
    k : int
        Dimension of the manifold's span: Theorem 1 compounded,
        ``P(Binomial(n, 1/2) >= k) ** L``, is drawn dashed on the invertible fraction panels
        and as the width it needs on the last row (interpolated between integer widths as
        the measured crossings are).
    metrics : sequence of str, default=("invertible_fraction", "nmse", "collapsed_fraction")
        One column of panels per metric; one row per residual form.
    note : str or None, default=None
        Text for the last row's free panel (e.g. a prediction from the literature).
    title : str or None, default=None
        Figure title.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        Rows: one per residual form (mean over seeds with its 95% band, none on log axes;
        colour = depth),
        then the width at which the mean invertible fraction reaches each level against
        depth (measured per form, and the compounded theory).

    Examples
    --------
    >>> import manifold_lab as ml
    >>> from manifold_lab.sweeps import crossing_widths
    >>> df = ml.sweep("spiral", widths="2:8", seeds=range(3), depth=[1, 2], n_samples=200,
    ...               method="lstsq", metrics=["nmse", "invertible_fraction"], progress=False)
    >>> s = ml.summarize(df)
    >>> fig = plot_depth_curves(s, crossing_widths(s), k=2, metrics=["invertible_fraction"])
    >>> sorted({t.name for t in fig.data if t.showlegend})[:2]
    ['L = 1', 'L = 2']
    """
    metric_list = list(metrics)
    if not metric_list:
        raise ValueError("give at least one metric")
    missing = [m for m in metric_list if m not in set(summary["metric"])]
    if missing:
        raise ValueError(f"summary holds no metric {missing[0]!r}")
    for col in ("depth", "residual_form", "width"):
        if col not in summary.columns:
            raise ValueError(f"summary has no column {col!r}: summarise a sweep over depth")
    part = summary[summary["metric"].isin(metric_list)]
    if part.duplicated(subset=["residual_form", "depth", "metric", "width"]).any():
        raise ValueError(
            "summary has several rows per (residual_form, depth, metric, width): keep one "
            "method and one activation"
        )
    present = list(dict.fromkeys(summary["residual_form"]))
    forms = [f for f in RESIDUAL_FORMS if f in present] + [
        f for f in present if f not in RESIDUAL_FORMS
    ]
    depths = sorted({int(d) for d in summary["depth"]})
    levels = sorted({float(x) for x in crossings["level"]}) if len(crossings) else []
    cols = max(len(metric_list), len(levels) + (1 if note else 0), 1)
    titles = [
        f"{form}: {METRIC_REGISTRY[m].axis_text() if m in METRIC_REGISTRY else m}" if m else ""
        for form in forms
        for m in [*metric_list, *[None] * (cols - len(metric_list))]
    ]
    titles += [f"width for {level:.0%} invertible" for level in levels]
    fig = make_subplots(
        rows=len(forms) + 1,
        cols=cols,
        subplot_titles=titles,
        horizontal_spacing=0.07,
        vertical_spacing=0.1,
    )
    widths = np.arange(max(1, int(part["width"].min())), int(part["width"].max()) + 1)
    for r, form in enumerate(forms, start=1):
        for c, metric in enumerate(metric_list, start=1):
            log = METRIC_REGISTRY[metric].log_scale if metric in METRIC_REGISTRY else False
            for i, depth in enumerate(depths):
                d = part[
                    (part.residual_form == form) & (part.depth == depth) & (part.metric == metric)
                ].sort_values("width")
                if d.empty:
                    continue
                hue = color_of(i)
                x, mean = d["width"].to_numpy(), d["mean"].to_numpy()
                lo, hi = d["ci_low"].to_numpy(), d["ci_high"].to_numpy()
                if log:  # no band: the CI of a heavy-tailed error crosses zero
                    lo, hi, mean = np.full_like(lo, np.nan), hi, np.maximum(mean, 1e-16)
                if np.isfinite(lo).any():
                    fig.add_trace(
                        go.Scatter(
                            x=np.concatenate([x, x[::-1]]),
                            y=np.concatenate([hi, lo[::-1]]),
                            fill="toself",
                            mode="lines",
                            fillcolor=rgba(hue, 0.15),
                            line={"width": 0},
                            hoverinfo="skip",
                            showlegend=False,
                            legendgroup=f"L{depth}",
                        ),
                        row=r,
                        col=c,
                    )
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=mean,
                        mode="lines",
                        line={"width": 1.8, "color": hue},
                        name=f"L = {depth}",
                        legendgroup=f"L{depth}",
                        showlegend=r == 1 and c == 1,
                    ),
                    row=r,
                    col=c,
                )
                if metric == "invertible_fraction":
                    fig.add_trace(
                        go.Scatter(
                            x=widths,
                            y=stacked_preserved_fraction(widths, k, depth),
                            mode="lines",
                            line={"width": 1.2, "color": hue, "dash": "dash"},
                            name=f"Theorem 1 ** L (k = {k})",
                            legendgroup="theory",
                            showlegend=r == 1 and c == 1 and i == 0,
                            hovertemplate=f"L = {depth}: P(Bin(n,1/2) >= {k})^{depth}"
                            "<extra></extra>",
                        ),
                        row=r,
                        col=c,
                    )
            if log:
                fig.update_yaxes(type="log", exponentformat="power", row=r, col=c)
            elif metric in METRIC_REGISTRY and METRIC_REGISTRY[metric].fraction:
                fig.update_yaxes(range=[-0.03, 1.03], row=r, col=c)
            fig.update_xaxes(title_text="width n" if r == len(forms) else None, row=r, col=c)
    last = len(forms) + 1
    for c, level in enumerate(levels, start=1):
        for form in forms:
            d = crossings[(crossings.residual_form == form) & (crossings.level == level)]
            d = d.sort_values("depth")
            fig.add_trace(
                go.Scatter(
                    x=d["depth"],
                    y=d["width"],
                    mode="lines+markers",
                    line={"color": "#333333", "dash": _DASH.get(form, "dashdot")},
                    marker={"size": 7},
                    name=f"measured, {form}",
                    legendgroup=f"measured {form}",
                    showlegend=c == 1,
                ),
                row=last,
                col=c,
            )
        fig.add_trace(
            go.Scatter(
                x=depths,
                y=[stacked_width_needed(level, k, L, interpolate=True) for L in depths],
                mode="lines+markers",
                line={"color": "#d62728", "dash": "dash"},
                marker={"symbol": "x", "size": 7},
                name="Theorem 1 compounded",
                legendgroup="theory width",
                showlegend=c == 1,
            ),
            row=last,
            col=c,
        )
        fig.update_xaxes(title_text="depth L", row=last, col=c)
        fig.update_yaxes(title_text="width n", row=last, col=c)
    if note:
        cell = fig.get_subplot(last, cols)
        fig.add_annotation(
            text=note,
            xref="paper",
            yref="paper",
            x=cell.xaxis.domain[0],
            y=cell.yaxis.domain[1],
            xanchor="left",
            yanchor="top",
            showarrow=False,
            align="left",
            font={"size": 11},
        )
        fig.update_xaxes(visible=False, row=last, col=cols)
        fig.update_yaxes(visible=False, row=last, col=cols)
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        legend={"orientation": "v", "x": 1.01, "y": 1},
        margin={"l": 60, "r": 20, "t": 80, "b": 50},
    )
    return fig
