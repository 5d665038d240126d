"""Plotly figures for one case, in the style of the paper's Figure 1.

Every function returns a :class:`plotly.graph_objects.Figure` and never shows it; the caller
decides (``fig.show()``, ``st.plotly_chart(fig)``, ``fig.write_html(...)``). Nothing here
imports Streamlit.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ._validation import check_seeds, check_widths
from .core import CaseResult, check_methods, run_case
from .fileio import atomic_write_text
from .manifolds import Manifold
from .theory import INJECTIVITY_THRESHOLDS, preserved_fraction

__all__ = [
    "FIGURE1_METRICS",
    "FIGURE_FORMATS",
    "figure1_metrics",
    "figure_format",
    "plot_case",
    "plot_figure1",
    "plot_width_curves",
    "save_figure",
]

_LINE_COLOR = "rgba(60, 60, 60, 0.6)"
_PAPER_LINE_COLOR = "#1f1f1f"
_NOT_INVERTIBLE_COLOR = "#d62728"
_COLLAPSED_COLOR = "#111111"
_COLORSCALE = "Viridis"
# Boxed 2-D axes without ticks or grid, as the paper's Figure 1.
_BOX_AXIS: dict[str, Any] = {
    "showline": True,
    "mirror": True,
    "linecolor": "black",
    "linewidth": 1,
    "showticklabels": False,
    "showgrid": False,
    "zeroline": False,
    "ticks": "",
}
_AXIS3: dict[str, Any] = {"showticklabels": False, "title": {"text": ""}, "showbackground": False}


def _project(X: np.ndarray, X_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Coordinates to draw for the input and the reconstruction, and a note on the view.

    1-D data is drawn against the sample index, 2-D and 3-D data as they are, and
    higher-dimensional data on the first two principal components of the input (the same
    projection is applied to the reconstruction).
    """
    D = X.shape[1]
    if D == 1:
        idx = np.arange(X.shape[0], dtype=np.float64)
        return (
            np.column_stack([idx, X[:, 0]]),
            np.column_stack([idx, X_hat[:, 0]]),
            "1-D data: value against sample index",
        )
    if D <= 3:
        return X, X_hat, None
    mean = X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X - mean, full_matrices=False)
    W = Vt[:2].T
    note = f"ambient dim {D}: first two principal components of the input"
    return (X - mean) @ W, (X_hat - mean) @ W, note


def _points(P: np.ndarray, *, three_d: bool, **kwargs: Any) -> go.Scatter | go.Scatter3d:
    if three_d:
        return go.Scatter3d(x=P[:, 0], y=P[:, 1], z=P[:, 2], **kwargs)
    return go.Scatter(x=P[:, 0], y=P[:, 1], **kwargs)


def _curve_order(m: Manifold) -> tuple[bool, np.ndarray]:
    """Whether ``m`` is a curve (1-D intrinsic coordinate) and the order to draw its points.

    Curves are drawn as a line through the points sorted by their coordinate; other
    manifolds as points in sample order.
    """
    curve = m.t.ndim == 1
    order = np.argsort(m.color, kind="stable") if curve else np.arange(m.n_samples)
    return curve, order


def _highlight_masks(
    result: CaseResult, *, three_d: bool, size: float = 1.0
) -> list[tuple[np.ndarray, str, dict[str, Any]]]:
    """Point masks and marker styles for the points where Lemma 2 fails and collapsed points.

    ``size`` scales the markers (small panels use smaller ones). The Lemma 2 mask is left
    out when the activation has no inverse (``result.invertible is None``).
    """
    masks: list[tuple[np.ndarray, str, dict[str, Any]]] = []
    if result.invertible is not None:
        masks.append(
            (
                ~np.asarray(result.invertible, dtype=bool),
                "not invertible (Lemma 2)",
                {
                    # scatter3d draws "x" from a font glyph that many systems lack
                    # (it shows as a box); "cross" renders everywhere.
                    "symbol": "cross" if three_d else "x",
                    "size": (4 if three_d else 7) * size,
                    "color": _NOT_INVERTIBLE_COLOR,
                },
            )
        )
    masks.append(
        (
            np.asarray(result.collapsed, dtype=bool),
            "collapsed",
            {
                "symbol": "circle-open",
                "size": (5 if three_d else 10) * size,
                "color": _COLLAPSED_COLOR,
                "line": {"width": 1, "color": _COLLAPSED_COLOR},
            },
        )
    )
    return masks


def plot_case(
    result: CaseResult,
    *,
    color: bool = True,
    highlight: bool = True,
    title: str | None = None,
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

    Returns
    -------
    fig : plotly.graph_objects.Figure

    Examples
    --------
    >>> from manifold_lab import run_case
    >>> r = run_case("spiral", width=3, seed=0, method="lstsq", n_samples=200)
    >>> fig = plot_case(r)
    >>> [a.text for a in fig.layout.annotations][:2]
    ['Input', 'Output/dim=3']
    >>> sorted({t.name for t in fig.data if t.showlegend})
    ['collapsed', 'not invertible (Lemma 2)']

    Data in more than three dimensions is drawn on its first two principal components:

    >>> r = run_case("ball", width=20, seed=0, n_samples=200,
    ...              manifold_kwargs={"dim": 2, "ambient_dim": 6})
    >>> fig = plot_case(r, highlight=False)
    >>> len(fig.data), "principal components" in fig.layout.title.subtitle.text
    (2, True)
    """
    m = result.manifold
    X, X_hat = m.X, np.asarray(result.X_hat)
    P_in, P_out, note = _project(X, X_hat)
    three_d = P_in.shape[1] == 3
    curve, order = _curve_order(m)

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
        marker.update(color=_LINE_COLOR)
    mode = "lines+markers" if curve else "markers"
    for col, P in ((1, P_in), (2, P_out)):
        fig.add_trace(
            _points(
                P[order],
                three_d=three_d,
                mode=mode,
                line={"color": _LINE_COLOR, "width": 1},
                marker=marker,
                name="input" if col == 1 else "reconstruction",
                showlegend=False,
                hovertemplate="t=%{marker.color:.3g}<extra></extra>" if color else None,
            ),
            row=1,
            col=col,
        )

    if highlight:
        masks = _highlight_masks(result, three_d=three_d)
        for mask, name, style in masks:
            for col, P in ((1, P_in), (2, P_out)):
                fig.add_trace(
                    _points(
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
        template="plotly_white",
        title={"text": title, "subtitle": {"text": note or ""}},
        margin={"l": 20, "r": 20, "t": 90 if note else 70, "b": 20},
        legend={"orientation": "h", "yanchor": "top", "y": -0.02, "xanchor": "left", "x": 0},
        coloraxis={"colorscale": _COLORSCALE, "colorbar": {"title": {"text": "t"}}},
        coloraxis_showscale=color,
    )
    if three_d:
        fig.update_scenes(xaxis=_AXIS3, yaxis=_AXIS3, zaxis=_AXIS3, aspectmode="data")
    else:
        fig.update_xaxes(**_BOX_AXIS)
        fig.update_yaxes(**_BOX_AXIS)
        fig.update_xaxes(scaleanchor="y", scaleratio=1, row=1, col=1)
        fig.update_xaxes(scaleanchor="y2", scaleratio=1, row=1, col=2)
    return fig


FIGURE1_METRICS: tuple[str, ...] = (
    "nmse",
    "invertible_fraction",
    "collapsed_fraction",
    "knn_recall",
)
"""Metrics that :func:`plot_figure1` attaches to its figure (``fig.layout.meta``)."""


def plot_figure1(
    manifold: Any = "spiral",
    widths: Any = (2, 3, 5, 15, 30),
    seed: int = 0,
    *,
    method: str = "pinv",
    activation: Any = "relu",
    n_samples: int = 1000,
    color: bool = False,
    highlight: bool = False,
    seeds: Any = None,
    manifold_kwargs: dict[str, Any] | None = None,
    title: str | None = None,
) -> go.Figure:
    """The paper's Figure 1: the input and its reconstruction after layers of several widths.

    One row of panels, "Input", "Output/dim=2", "Output/dim=3", ...: the manifold is
    embedded into ``n`` dimensions by a random matrix ``T``, passed through the activation
    and projected back with the reconstruction ``method`` (by default the paper's
    ``T^-1``, the pseudo-inverse). Each case is :func:`manifold_lab.run_case` with
    ``max_neighbor_points=None`` (every point counts in the neighbour metrics). Drawn as
    the paper does: thin dark lines in boxed square panels, equal aspect, no ticks, no
    grid, white background. Curves (such as the spiral) are lines through the points in
    the order of their intrinsic coordinate, other manifolds are points; data in R^3 is
    drawn in 3-D panels, data in more dimensions on the first two principal components of
    the input (as :func:`plot_case`).

    Parameters
    ----------
    manifold : str, Manifold, array-like or (X, t), default="spiral"
        What to embed (see :func:`manifold_lab.make_manifold`).
    widths : int, sequence of int or str, default=(2, 3, 5, 15, 30)
        Widths ``n``, one panel each, in increasing order (``"2:6"`` is inclusive).
    seed : int, default=0
        Seed of the random matrices (the same seed at every width, as in a sweep).
    method : {"pinv", "lstsq", "lemma2"}, default="pinv"
        Reconstruction (see :mod:`manifold_lab.core`). ``"pinv"`` shows the paper's
        picture; ``"lemma2"`` is exact wherever the layer is invertible, so what stays
        off the curve is exactly the information the layer destroyed.
    activation : str, Activation or callable, default="relu"
        See :func:`manifold_lab.get_activation`.
    n_samples : int, default=1000
        Points on the manifold.
    color : bool, default=False
        Colour the points by the intrinsic coordinate (one colour scale for every panel,
        one colour bar); the line turns light grey.
    highlight : bool, default=False
        In every output panel, mark points where Lemma 2 fails (``result.invertible`` is
        False; red ``x``) and collapsed points (``result.collapsed``; open circles).
    seeds : sequence of int, str or None, default=None
        Several seeds, drawn as one row per seed, labelled "seed s" on the left (overlaid
        curves of several matrices are unreadable at small widths, where each one folds
        the spiral differently). Replaces ``seed``.
    manifold_kwargs : dict or None, default=None
        Further arguments of the manifold generator.
    title : str or None, default=None
        Figure title; ``None`` draws none, as the paper.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        Sized for its panels (``fig.layout.width`` and ``height``, which
        :func:`save_figure` uses). ``fig.layout.meta`` holds the data behind the panels:
        a dict keyed by width, each a dict of the metrics in :data:`FIGURE1_METRICS`
        (means over the seeds; ``nmse`` is the chosen method's, ``knn_recall`` compares
        neighbours in the input and in the layer's output) and ``"per_seed"``, a dict
        keyed by seed with each seed's values.

    See Also
    --------
    plot_case : one case in two larger panels.

    Examples
    --------
    >>> fig = plot_figure1("spiral", widths=[2, 3, 5, 15, 30], n_samples=200)
    >>> [a.text for a in fig.layout.annotations]
    ['Input', 'Output/dim=2', 'Output/dim=3', 'Output/dim=5', 'Output/dim=15', 'Output/dim=30']
    >>> len(fig.data), fig.layout.xaxis.showticklabels
    (6, False)
    >>> meta = fig.layout.meta
    >>> meta[2]["invertible_fraction"] < 0.5 < meta[30]["invertible_fraction"]
    True
    """
    widths_l = check_widths(widths)
    seeds_l = check_seeds(seed if seeds is None else seeds)
    if len(check_methods(method)) != 1:
        raise ValueError(f"plot_figure1 draws one reconstruction method, got {method!r}")
    results = {
        (s, w): run_case(
            manifold,
            w,
            s,
            activation=activation,
            method=method,
            n_samples=n_samples,
            manifold_kwargs=manifold_kwargs,
            max_neighbor_points=None,
        )
        for s in seeds_l
        for w in widths_l
    }
    m = results[seeds_l[0], widths_l[0]].manifold
    P_in, _, note = _project(m.X, m.X)
    three_d = P_in.shape[1] == 3
    flat_1d = m.ambient_dim == 1  # value against index: equal aspect would squash it
    curve, order = _curve_order(m)
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
        line = {"color": _LINE_COLOR, "width": 0.6}
        mode = "lines+markers" if curve else "markers"
    else:
        marker.update(color=_PAPER_LINE_COLOR)
        line = {"color": _PAPER_LINE_COLOR, "width": 1}
        mode = "lines" if curve else "markers"
    hover = "t=%{marker.color:.3g}<extra></extra>" if color else None
    shown: set[str] = set()
    per_seed: dict[int, dict[int, dict[str, float]]] = {w: {} for w in widths_l}
    for row, s in enumerate(seeds_l, start=1):
        panels: list[tuple[str, np.ndarray, CaseResult | None]] = [("input", P_in, None)]
        for w in widths_l:
            case = results[s, w]
            panels.append((f"n={w}, seed {s}", _project(m.X, np.asarray(case.X_hat))[1], case))
            per_seed[w][s] = {k: float(case.metrics[k]) for k in FIGURE1_METRICS}
        for col, (name, P, r) in enumerate(panels, start=1):
            fig.add_trace(
                _points(
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
            for mask, label, style in _highlight_masks(r, three_d=three_d, size=0.7):
                fig.add_trace(
                    _points(
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
    meta = {
        w: {
            **{k: float(np.mean([v[k] for v in per_seed[w].values()])) for k in FIGURE1_METRICS},
            "per_seed": per_seed[w],
        }
        for w in widths_l
    }

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
        template="plotly_white",
        width=round(plot_w + margin["l"] + margin["r"]),
        height=round(plot_h + margin["t"] + margin["b"]),
        margin=margin,
        font={"size": 12, "color": "black"},
        title={"text": title or "", "subtitle": {"text": note or ""}},
        showlegend=highlight,
        legend={"orientation": "h", "yanchor": "top", "y": -0.01, "xanchor": "left", "x": 0},
        coloraxis={
            "colorscale": _COLORSCALE,
            "colorbar": {"title": {"text": "t"}, "thickness": 12, "len": 0.9},
        },
        coloraxis_showscale=color,
        meta=meta,
    )
    fig.update_annotations(font_size=12)
    if three_d:
        fig.update_scenes(xaxis=_AXIS3, yaxis=_AXIS3, zaxis=_AXIS3, aspectmode="data")
    else:
        fig.update_xaxes(**_BOX_AXIS)
        fig.update_yaxes(**_BOX_AXIS)
        if not flat_1d:
            for row in range(1, nrows + 1):
                for col in range(1, ncols + 1):
                    xaxis = fig.get_subplot(row, col).xaxis
                    xaxis.update(scaleanchor=xaxis.anchor, scaleratio=1)
    return fig


def figure1_metrics(fig: go.Figure) -> pd.DataFrame:
    """The data behind a :func:`plot_figure1` figure as a table.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        A figure from :func:`plot_figure1`.

    Returns
    -------
    metrics : pandas.DataFrame
        One row per panel and seed: ``width``, ``seed`` and the metrics in
        :data:`FIGURE1_METRICS`.

    Examples
    --------
    >>> fig = plot_figure1(widths=[2, 30], seeds=[0, 1], n_samples=200)
    >>> figure1_metrics(fig)[["width", "seed"]].values.tolist()
    [[2, 0], [2, 1], [30, 0], [30, 1]]
    """
    meta = fig.layout.meta
    if not isinstance(meta, dict) or not all(
        isinstance(v, dict) and "per_seed" in v for v in meta.values()
    ):
        raise ValueError("the figure carries no Figure 1 metrics: pass a plot_figure1 figure")
    rows = [
        {"width": int(w), "seed": int(s), **vals}
        for w, entry in meta.items()
        for s, vals in entry["per_seed"].items()
    ]
    return pd.DataFrame(rows, columns=["width", "seed", *FIGURE1_METRICS])


_METRIC_LABELS = {
    "nmse": "normalised error",
    "invertible_fraction": "invertible fraction (Lemma 2)",
    "jacobian_min_sv": "Jacobian min. singular value",
    "collapsed_fraction": "collapsed fraction",
    "knn_recall": "kNN recall",
    "n_patterns": "activation patterns",
}
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def plot_width_curves(
    summary: Any,
    *,
    metrics: Any = None,
    color: str = "method",
    theory_d: int | None = None,
    thresholds: bool = False,
    log_y: Any = ("nmse",),
    title: str | None = None,
) -> go.Figure:
    """Metrics against width: mean over seeds with its confidence band, theory overlaid.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`manifold_lab.summarize` (columns ``width``, ``metric``, ``mean``,
        ``ci_low``, ``ci_high`` and the column named by ``color``).
    metrics : list of str or None, default=None
        One panel per metric; ``None`` takes every metric in ``summary``.
    color : str, default="method"
        Column whose values get one curve each (``"method"``, ``"activation"``, ...).
    theory_d : int or None, default=None
        When given, overlay Theorem 1's ``P(Binomial(n, 1/2) >= theory_d)`` on the
        ``invertible_fraction`` panel (it describes ReLU without bias).
    thresholds : bool, default=False
        Mark the injectivity literature's widths ``n = 2 d``, ``3.4 d .. 10.5 d`` and
        ``6.7 d`` (for all of R^d, ``d = theory_d``) on every panel, each named in the
        legend (:data:`manifold_lab.INJECTIVITY_THRESHOLDS`).
    log_y : sequence of str, default=("nmse",)
        Metrics drawn on a logarithmic axis; values and band edges below ``1e-16`` (float64
        rounding) are drawn at ``1e-16``.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    fig : plotly.graph_objects.Figure

    Raises
    ------
    ValueError
        When ``summary`` has several rows per ``(color, metric, width)`` (for example two
        methods and two activations, coloured by activation): the curves would mix them.

    Notes
    -----
    A metric that does not depend on the ``color`` column (for example the invertible
    fraction, which is the same for every reconstruction method) is drawn once, in grey,
    named "every <color>".

    Examples
    --------
    >>> import manifold_lab as ml
    >>> df = ml.sweep("spiral", widths=[2, 3, 5], seeds=range(4), n_samples=200,
    ...               method=["pinv", "lemma2"], metrics=["nmse", "invertible_fraction"],
    ...               progress=False)
    >>> fig = plot_width_curves(ml.summarize(df), theory_d=2)
    >>> sorted({t.name for t in fig.data if t.showlegend})
    ['Theorem 1: P(Bin(n, 1/2) >= 2)', 'every method', 'lemma2', 'pinv']
    """
    if color not in summary.columns:
        raise ValueError(f"summary has no column {color!r} to colour by")
    metric_list = list(dict.fromkeys(summary["metric"])) if metrics is None else list(metrics)
    missing = [m for m in metric_list if m not in set(summary["metric"])]
    if missing or not metric_list:
        raise ValueError(f"summary holds no metric {missing[0] if missing else None!r}")
    part = summary[summary["metric"].isin(metric_list)]
    if part.duplicated(subset=[color, "metric", "width"]).any():
        ids = ("manifold", "n_samples", "embedding", "bias", "activation", "method")
        varying = [c for c in ids if c in part and c != color and part[c].nunique() > 1]
        raise ValueError(
            f"summary has several rows per ({color}, metric, width) (varying: "
            f"{', '.join(varying) or 'unknown'}): the curves would mix them; colour by the "
            "column that varies or keep one value of it"
        )
    cols = min(2, len(metric_list))
    rows = -(-len(metric_list) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_METRIC_LABELS.get(m, m) for m in metric_list],
        horizontal_spacing=0.08,
        vertical_spacing=0.14,
    )
    groups = list(dict.fromkeys(summary[color]))
    shown: set[str] = set()
    for i, metric in enumerate(metric_list):
        r, c = i // cols + 1, i % cols + 1
        part = summary[summary["metric"] == metric]
        curves = [(g, part[part[color] == g].sort_values("width")) for g in groups]
        curves = [(g, d) for g, d in curves if not (d.empty or d["mean"].isna().all())]
        shared = len(curves) > 1 and all(
            np.array_equal(d["width"].to_numpy(), curves[0][1]["width"].to_numpy())
            and np.allclose(d["mean"], curves[0][1]["mean"], equal_nan=True)
            for _, d in curves[1:]
        )
        if shared:
            curves = [(f"every {color}", curves[0][1])]
        floor = 1e-16 if metric in log_y else None
        for g, d in curves:
            hue = "#555555" if shared else _PALETTE[groups.index(g) % len(_PALETTE)]
            x = d["width"].to_numpy()
            lo, hi = d["ci_low"].to_numpy(), d["ci_high"].to_numpy()
            mean = d["mean"].to_numpy()
            if floor is not None:
                lo, hi, mean = (np.maximum(a, floor) for a in (lo, hi, mean))
            if np.isfinite(lo).any():
                fig.add_trace(
                    go.Scatter(
                        x=np.concatenate([x, x[::-1]]),
                        y=np.concatenate([hi, lo[::-1]]),
                        fill="toself",
                        fillcolor=_rgba(hue, 0.18),
                        line={"width": 0},
                        hoverinfo="skip",
                        showlegend=False,
                        legendgroup=str(g),
                    ),
                    row=r,
                    col=c,
                )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=mean,
                    mode="lines+markers",
                    marker={"size": 4, "color": hue},
                    line={"width": 1.8, "color": hue},
                    name=str(g),
                    legendgroup=str(g),
                    showlegend=str(g) not in shown,
                ),
                row=r,
                col=c,
            )
            shown.add(str(g))
        if floor is not None:
            fig.update_yaxes(type="log", exponentformat="power", row=r, col=c)
        if theory_d is not None and metric == "invertible_fraction":
            n = np.arange(max(1, int(part["width"].min())), int(part["width"].max()) + 1)
            fig.add_trace(
                go.Scatter(
                    x=n,
                    y=preserved_fraction(n, theory_d),
                    mode="lines",
                    line={"color": "black", "dash": "dash", "width": 1.5},
                    name=f"Theorem 1: P(Bin(n, 1/2) >= {theory_d})",
                    showlegend=True,
                ),
                row=r,
                col=c,
            )
        if thresholds and theory_d is not None:
            for _, lo_w, hi_w, dash in _thresholds(theory_d):
                if dash is None:
                    fig.add_vrect(
                        x0=lo_w, x1=hi_w, fillcolor="grey", opacity=0.08, line_width=0, row=r, col=c
                    )
                else:
                    fig.add_vline(
                        x=lo_w, line={"color": "grey", "dash": dash, "width": 1}, row=r, col=c
                    )
    if thresholds and theory_d is not None:
        # Shapes have no legend entries: name each threshold through an empty trace.
        for th, lo_w, hi_w, dash in _thresholds(theory_d):
            where = f"n = {lo_w:.3g}" if dash else f"n = {lo_w:.3g} to {hi_w:.3g}"
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="lines" if dash else "markers",
                    marker={"symbol": "square", "size": 12, "color": "rgba(128, 128, 128, 0.25)"},
                    line={"color": "grey", "dash": dash or "solid", "width": 1},
                    name=f"{th.label} ({where}; all of R^{theory_d})",
                    hoverinfo="skip",
                ),
                row=1,
                col=1,
            )
    fig.update_xaxes(title_text="width n", showline=True, mirror=True, linecolor="black")
    fig.update_yaxes(showline=True, mirror=True, linecolor="black")
    # Title pinned to the top and legend to the bottom of the figure, so that neither
    # collides with the panels (or each other) whatever size the figure is drawn at.
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 14}},
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0,
            "xanchor": "left",
            "x": 0,
        },
        margin={"l": 50, "r": 20, "t": 70 if title else 40, "b": 120},
    )
    return fig


def _thresholds(d: int) -> list[tuple[Any, float, float, str | None]]:
    """Injectivity thresholds at input dimension ``d``: ``(threshold, low, high, dash)``.

    Ranges are shaded (``dash`` is None); single widths are lines, each with its own dash.
    """
    dashes = ("dot", "dashdot", "dash", "longdashdot")
    out: list[tuple[Any, float, float, str | None]] = []
    n_lines = 0
    for th in INJECTIVITY_THRESHOLDS:
        lo, hi = th.widths(d)
        dash = None
        if not hi > lo:
            dash, n_lines = dashes[n_lines % len(dashes)], n_lines + 1
        out.append((th, lo, hi, dash))
    return out


def _find_browser() -> None:
    """Point kaleido at Debian's Chromium when no browser is configured."""
    if os.environ.get("BROWSER_PATH"):
        return
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            os.environ["BROWSER_PATH"] = path
            return


FIGURE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf", "html")
"""Formats :func:`save_figure` writes, by file suffix."""


def figure_format(path: Any) -> str:
    """The format :func:`save_figure` would write ``path`` in; raise if it cannot.

    Checks the suffix and that the folder exists, so that a caller can fail before a long
    computation rather than after it.

    Examples
    --------
    >>> figure_format("fig1.PDF")
    'pdf'
    """
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; use .png, .svg, .pdf or .html")
    if not p.parent.exists():
        raise ValueError(f"the folder {p.parent} does not exist; create it first")
    return fmt


def save_figure(
    fig: go.Figure,
    path: Any,
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float = 2.0,
) -> Any:
    """Write a figure to PNG, SVG, PDF or self-contained HTML, atomically.

    Static formats use kaleido, which needs Chrome or Chromium (on Debian:
    ``apt-get install -y chromium``; or ``plotly_get_chrome``); HTML needs nothing.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The figure.
    path : str or path-like
        Target; the suffix picks the format (``.png``, ``.svg``, ``.pdf``, ``.html``).
    width, height : int or None, default=None
        Size in CSS pixels; ``None`` takes the figure's own size (``fig.layout.width``,
        ``fig.layout.height``, which :func:`plot_figure1` sets) or else 1000 x 600.
    scale : float, default=2.0
        Resolution multiplier for PNG.

    Returns
    -------
    path : pathlib.Path
    """
    p = Path(path)
    fmt = figure_format(p)
    if fmt == "html":
        return atomic_write_text(p, fig.to_html(include_plotlyjs=True, full_html=True))
    width = width or fig.layout.width or 1000
    height = height or fig.layout.height or 600
    _find_browser()
    try:
        data = fig.to_image(format=fmt, width=width, height=height, scale=scale)
    except Exception as exc:  # kaleido raises several kinds
        raise RuntimeError(
            f"static export to {fmt.upper()} failed ({type(exc).__name__}: {exc}). It needs "
            "kaleido and a Chrome or Chromium browser: install one (Debian/Ubuntu: "
            "'apt-get install -y chromium', then set BROWSER_PATH=/usr/bin/chromium if it "
            "is not found; or run 'plotly_get_chrome'), or save as .html instead"
        ) from exc
    return atomic_write_text(p, data)
