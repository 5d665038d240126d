"""An empty square to draw a curve on with plotly's lasso (the explorer's "Draw a curve")."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from .style import COLORSCALE, FRAME_AXIS, TEMPLATE, rgba

__all__ = ["CANVAS_EXTENT", "plot_canvas"]

CANVAS_EXTENT = 1.0
"""The canvas spans ``[-CANVAS_EXTENT, CANVAS_EXTENT]`` on both axes."""


def plot_canvas(
    path: tuple[Any, Any] | None = None,
    *,
    closed: bool = False,
    grid: int = 21,
    size: int = 440,
    revision: int = 0,
) -> go.Figure:
    """A square canvas in lasso mode, with the curve drawn on it so far.

    Plotly only lets a lasso be drawn over a trace it can select from, so the canvas holds a
    faint ``grid`` x ``grid`` lattice of points; the axes are fixed (no zoom, no pan) and
    equal, so the lasso's vertices are coordinates in ``[-1, 1]^2``
    (:data:`CANVAS_EXTENT`) as drawn. :func:`manifold_lab.curve_from_path` turns them into
    points.

    Parameters
    ----------
    path : tuple (x, y) of array-like, or None, default=None
        The vertices drawn so far, shown as a line coloured along its length (dark at the
        start, as the colour of ``t`` in the case figure); None shows an empty canvas.
    closed : bool, default=False
        Draw the path back to its first vertex.
    grid : int, default=21
        Points per side of the faint lattice that makes the canvas selectable.
    size : int, default=440
        Width and height of the figure in pixels.
    revision : int, default=0
        Stored in the layout's ``meta``: a new value makes a new figure (a host that keys a
        chart by its contents, such as Streamlit, then forgets the last lasso drawn on it).

    Returns
    -------
    fig : plotly.graph_objects.Figure
        The canvas, in lasso mode.

    Examples
    --------
    >>> fig = plot_canvas(([0.0, 0.5, 0.5], [0.0, 0.0, 0.5]), closed=True)
    >>> fig.layout.dragmode, [tr.name for tr in fig.data]
    ('lasso', ['canvas', 'your curve'])
    >>> len(fig.data[1].x)  # closed: back to the first vertex
    4
    """
    e = CANVAS_EXTENT
    g = np.linspace(-e, e, grid)
    gx, gy = np.meshgrid(g, g)
    fig = go.Figure(
        go.Scatter(
            x=gx.ravel(),
            y=gy.ravel(),
            mode="markers",
            marker={"size": 3, "color": rgba("#7f7f7f", 0.35)},
            hoverinfo="skip",
            name="canvas",
            # a lasso selects lattice points; keep them looking the same either way
            selected={"marker": {"opacity": 1.0}},
            unselected={"marker": {"opacity": 1.0}},
        )
    )
    if path is not None:
        x = np.asarray(path[0], dtype=np.float64)
        y = np.asarray(path[1], dtype=np.float64)
        if closed and x.size:
            x, y = np.r_[x, x[:1]], np.r_[y, y[:1]]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                line={"color": "rgba(60, 60, 60, 0.8)", "width": 2},
                marker={
                    "size": 5,
                    "color": np.linspace(0.0, 1.0, x.size),
                    "colorscale": COLORSCALE,
                },
                hoverinfo="skip",
                name="your curve",
            )
        )
    axis = {
        **FRAME_AXIS,
        "range": [-e, e],
        "fixedrange": True,
        "zeroline": True,
        "zerolinecolor": rgba("#7f7f7f", 0.5),
        "constrain": "domain",
    }
    fig.update_layout(
        template=TEMPLATE,
        dragmode="lasso",
        width=size,
        height=size,
        margin={"l": 30, "r": 10, "t": 10, "b": 30},
        showlegend=False,
        xaxis=axis,
        yaxis={**axis, "scaleanchor": "x", "scaleratio": 1},
        meta={"revision": int(revision)},
    )
    return fig
