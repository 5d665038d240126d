"""One case in two panels: the input points and their reconstruction after one layer."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core import CaseResult
from ..registry import MANIFOLD_REGISTRY
from .panels import curve_order, highlight_masks, point_trace, project
from .style import AXIS3, BOX_AXIS, COLORSCALE, LINE_COLOR, TEMPLATE

__all__ = ["plot_case"]


def plot_case(
    result: CaseResult,
    *,
    color: bool = True,
    highlight: bool = True,
    title: str | None = None,
    color_label: str | None = None,
) -> go.Figure:
    """Show the input points and their reconstruction side by side, as in Figure 1.

    The left panel ("Input") shows the manifold, the right panel ("Output/dim=n") the
    reconstruction ``result.X_hat`` after the layer of width ``n``. Curves (manifolds with
    a 1-D intrinsic coordinate, such as the spiral) are drawn as a thin line through the
    points in the order of that coordinate, which is the input order for the spiral and
    the circle; higher-dimensional manifolds are drawn as points only. Data in R^3 is drawn
    in 3-D; data in more dimensions on the first two principal components of the input.

    Parameters
    ----------
    result : CaseResult
        One case, from :func:`manifold_lab.run_case`.
    color : bool, default=True
        Colour the points by the intrinsic coordinate ``result.manifold.color`` (one colour
        scale shared by both panels, one colour bar).
    highlight : bool, default=True
        Mark points where Lemma 2 fails (``result.invertible`` is False) with a red ``x``
        (a cross in 3-D) and circle collapsed points (``result.collapsed``), in both panels.
    title : str or None, default=None
        Figure title; ``None`` describes the case (manifold, activation, width, method,
        seed).
    color_label : str or None, default=None
        Title of the colour bar; ``None`` says what the colour is from the manifold's
        registry entry (``MANIFOLD_REGISTRY[name].color_label``, e.g. "angle t along the
        spiral (rad)"), or "t" for user points.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        Two panels, the input points and their reconstruction (3-D scenes when the
        input has three dimensions).

    Examples
    --------
    >>> from manifold_lab import run_case
    >>> r = run_case("spiral", width=3, seed=0, method="lstsq", n_samples=200)
    >>> fig = plot_case(r)
    >>> [a.text for a in fig.layout.annotations][:2]
    ['Input', 'Output/dim=3']
    >>> sorted({t.name for t in fig.data if t.showlegend})
    ['collapsed', 'not invertible (Lemma 2)']
    >>> fig.layout.coloraxis.colorbar.title.text
    'angle t along the spiral (rad)'

    Data in more than three dimensions is drawn on its first two principal components:

    >>> r = run_case("ball", width=20, seed=0, n_samples=200,
    ...              manifold_kwargs={"dim": 2, "ambient_dim": 6})
    >>> fig = plot_case(r, highlight=False)
    >>> len(fig.data), "principal components" in fig.layout.title.subtitle.text
    (2, True)
    """
    m = result.manifold
    if color_label is None:
        entry = MANIFOLD_REGISTRY.get(m.name)
        color_label = entry.color_label if entry is not None else "t"
    X, X_hat = m.X, np.asarray(result.X_hat)
    P_in, P_out, note = project(X, X_hat)
    three_d = P_in.shape[1] == 3
    curve, order = curve_order(m)

    spec_type = "scene" if three_d else "xy"
    fig = make_subplots(
        rows=1,
        cols=2,
        specs=[[{"type": spec_type}, {"type": spec_type}]],
        subplot_titles=("Input", f"Output/dim={result.width}"),
        horizontal_spacing=0.06,
    )

    c = m.color[order]
    marker: dict[str, Any] = {"size": 3 if three_d else 4}
    if color:
        marker.update(color=c, coloraxis="coloraxis")
    else:
        marker.update(color=LINE_COLOR)
    mode = "lines+markers" if curve else "markers"
    for col, P in ((1, P_in), (2, P_out)):
        fig.add_trace(
            point_trace(
                P[order],
                three_d=three_d,
                mode=mode,
                line={"color": LINE_COLOR, "width": 1},
                marker=marker,
                name="input" if col == 1 else "reconstruction",
                showlegend=False,
                hovertemplate=f"{color_label}: %{{marker.color:.3g}}<extra></extra>"
                if color
                else None,
            ),
            row=1,
            col=col,
        )

    if highlight:
        masks = highlight_masks(result, three_d=three_d)
        for mask, name, style in masks:
            for col, P in ((1, P_in), (2, P_out)):
                fig.add_trace(
                    point_trace(
                        P[mask],
                        three_d=three_d,
                        mode="markers",
                        marker=style,
                        name=name,
                        legendgroup=name,
                        showlegend=col == 1,
                        hoverinfo="skip",
                    ),
                    row=1,
                    col=col,
                )

    if title is None:
        title = (
            f"{m.name}: {result.activation}, width n={result.width}, "
            f"method {result.method}, seed {result.seed}"
        )
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "subtitle": {"text": note or ""}},
        margin={"l": 20, "r": 20, "t": 90 if note else 70, "b": 20},
        legend={"orientation": "h", "yanchor": "top", "y": -0.02, "xanchor": "left", "x": 0},
        coloraxis={
            "colorscale": COLORSCALE,
            "colorbar": {"title": {"text": _wrap(color_label), "side": "right"}},
        },
        coloraxis_showscale=color,
    )
    if three_d:
        fig.update_scenes(xaxis=AXIS3, yaxis=AXIS3, zaxis=AXIS3, aspectmode="data")
    else:
        fig.update_xaxes(**BOX_AXIS)
        fig.update_yaxes(**BOX_AXIS)
        fig.update_xaxes(scaleanchor="y", scaleratio=1, row=1, col=1)
        fig.update_xaxes(scaleanchor="y2", scaleratio=1, row=1, col=2)
    return fig


def _wrap(text: str, width: int = 36) -> str:
    """``text`` broken into lines of about ``width`` characters (``<br>``), for a colour
    bar's title."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)
