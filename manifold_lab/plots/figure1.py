"""The paper's Figure 1: the input and its reconstruction after layers of several widths."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core import CaseResult
from ..figure1 import Figure1Result
from .panels import curve_order, highlight_masks, point_trace, project
from .style import AXIS3, BOX_AXIS, COLORSCALE, LINE_COLOR, PAPER_LINE_COLOR, TEMPLATE

__all__ = ["plot_figure1"]


def plot_figure1(
    result: Figure1Result,
    *,
    color: bool = False,
    highlight: bool = False,
    title: str | None = None,
) -> go.Figure:
    """Draw the paper's Figure 1 from computed cases; nothing is computed here.

    One row of panels, "Input", "Output/dim=2", "Output/dim=3", ..., one row per seed of
    ``result``. Drawn as the paper does: thin dark lines in boxed square panels, equal
    aspect, no ticks, no grid, white background. Curves (such as the spiral) are lines
    through the points in the order of their intrinsic coordinate, other manifolds are
    points; data in R^3 is drawn in 3-D panels, data in more dimensions on the first two
    principal components of the input (as :func:`plot_case`).

    Parameters
    ----------
    result : Figure1Result
        The cases, from :func:`manifold_lab.run_figure1`.
    color : bool, default=False
        Colour the points by the intrinsic coordinate (one colour scale for every panel,
        one colour bar); the line turns light grey.
    highlight : bool, default=False
        In every output panel, mark points where Lemma 2 fails (``result.invertible`` is
        False; red ``x``) and collapsed points (``result.collapsed``; open circles).
    title : str or None, default=None
        Figure title; ``None`` draws none, as the paper.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        Sized for its panels (``fig.layout.width`` and ``height``, which
        :func:`save_figure` uses). Several seeds are one row each, labelled "seed s" on
        the left (overlaid curves of several matrices are unreadable at small widths, where
        each one folds the spiral differently).

    See Also
    --------
    manifold_lab.run_figure1 : Compute the cases; its ``to_frame()`` holds the numbers.
    plot_case : One case in two larger panels.

    Examples
    --------
    >>> from manifold_lab import run_figure1
    >>> res = run_figure1("spiral", widths=[2, 3, 5, 15, 30], n_samples=200)
    >>> fig = plot_figure1(res)
    >>> [a.text for a in fig.layout.annotations]
    ['Input', 'Output/dim=2', 'Output/dim=3', 'Output/dim=5', 'Output/dim=15', 'Output/dim=30']
    >>> len(fig.data), fig.layout.xaxis.showticklabels
    (6, False)
    """
    if not isinstance(result, Figure1Result):
        raise ValueError(
            f"plot_figure1 draws a Figure1Result (from run_figure1), got {type(result).__name__}"
        )
    widths_l, seeds_l = result.widths, result.seeds
    m = result.manifold
    P_in, _, note = project(m.X, m.X)
    three_d = P_in.shape[1] == 3
    flat_1d = m.ambient_dim == 1  # value against index: equal aspect would squash it
    curve, order = curve_order(m)
    nrows, ncols = len(seeds_l), len(widths_l) + 1

    # Square panels of `panel` pixels, `gap` pixels apart; the figure is sized to match.
    panel, gap = (200 if three_d else 170), 24
    plot_w, plot_h = ncols * panel + (ncols - 1) * gap, nrows * panel + (nrows - 1) * gap
    h_space, v_space = gap / plot_w, gap / plot_h
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        specs=[[{"type": "scene" if three_d else "xy"}] * ncols] * nrows,
        subplot_titles=["Input", *(f"Output/dim={w}" for w in widths_l)],
        horizontal_spacing=h_space,
        vertical_spacing=v_space,
    )

    marker: dict[str, Any] = {"size": 2.5 if three_d else 3}
    if color:
        marker.update(color=m.color[order], coloraxis="coloraxis")
        line = {"color": LINE_COLOR, "width": 0.6}
        mode = "lines+markers" if curve else "markers"
    else:
        marker.update(color=PAPER_LINE_COLOR)
        line = {"color": PAPER_LINE_COLOR, "width": 1}
        mode = "lines" if curve else "markers"
    hover = "t=%{marker.color:.3g}<extra></extra>" if color else None
    shown: set[str] = set()
    for row, s in enumerate(seeds_l, start=1):
        panels: list[tuple[str, np.ndarray, CaseResult | None]] = [("input", P_in, None)]
        for w in widths_l:
            case = result.cases[s, w]
            panels.append((f"n={w}, seed {s}", project(m.X, np.asarray(case.X_hat))[1], case))
        for col, (name, P, r) in enumerate(panels, start=1):
            fig.add_trace(
                point_trace(
                    P[order],
                    three_d=three_d,
                    mode=mode,
                    line=line,
                    marker=marker,
                    name=name,
                    showlegend=False,
                    hovertemplate=hover,
                ),
                row=row,
                col=col,
            )
            if not highlight or r is None:
                continue
            for mask, label, style in highlight_masks(r, three_d=three_d, size=0.7):
                fig.add_trace(
                    point_trace(
                        P[mask],
                        three_d=three_d,
                        mode="markers",
                        marker=style,
                        name=label,
                        legendgroup=label,
                        showlegend=label not in shown,
                        hoverinfo="skip",
                    ),
                    row=row,
                    col=col,
                )
                shown.add(label)

    if nrows > 1:
        for row, s in enumerate(seeds_l, start=1):
            sp = fig.get_subplot(row, 1)
            x_dom, y_dom = (
                (sp.domain.x, sp.domain.y) if three_d else (sp.xaxis.domain, sp.yaxis.domain)
            )
            fig.add_annotation(
                text=f"seed {s}",
                x=x_dom[0],
                y=(y_dom[0] + y_dom[1]) / 2,
                xref="paper",
                yref="paper",
                xanchor="right",
                xshift=-6,
                textangle=-90,
                showarrow=False,
            )

    margin = {
        "l": 40 if nrows > 1 else 10,
        "r": 80 if color else 10,
        "t": 30 + (40 if title or note else 0),
        "b": 40 if highlight else 10,
    }
    fig.update_layout(
        template=TEMPLATE,
        width=round(plot_w + margin["l"] + margin["r"]),
        height=round(plot_h + margin["t"] + margin["b"]),
        margin=margin,
        font={"size": 12, "color": "black"},
        title={"text": title or "", "subtitle": {"text": note or ""}},
        showlegend=highlight,
        legend={"orientation": "h", "yanchor": "top", "y": -0.01, "xanchor": "left", "x": 0},
        coloraxis={
            "colorscale": COLORSCALE,
            "colorbar": {"title": {"text": "t"}, "thickness": 12, "len": 0.9},
        },
        coloraxis_showscale=color,
    )
    fig.update_annotations(font_size=12)
    if three_d:
        fig.update_scenes(xaxis=AXIS3, yaxis=AXIS3, zaxis=AXIS3, aspectmode="data")
    else:
        fig.update_xaxes(**BOX_AXIS)
        fig.update_yaxes(**BOX_AXIS)
        if not flat_1d:
            for row in range(1, nrows + 1):
                for col in range(1, ncols + 1):
                    xaxis = fig.get_subplot(row, col).xaxis
                    xaxis.update(scaleanchor=xaxis.anchor, scaleratio=1)
    return fig
