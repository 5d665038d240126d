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
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .core import CaseResult
from .provenance import atomic_write_text
from .theory import INJECTIVITY_THRESHOLDS, preserved_fraction

__all__ = ["plot_case", "plot_width_curves", "save_figure"]

_LINE_COLOR = "rgba(60, 60, 60, 0.6)"
_NOT_INVERTIBLE_COLOR = "#d62728"
_COLLAPSED_COLOR = "#111111"
_COLORSCALE = "Viridis"


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
    curve = m.t.ndim == 1
    order = np.argsort(m.color, kind="stable") if curve else np.arange(m.n_samples)

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
                        "size": 4 if three_d else 7,
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
                    "size": 5 if three_d else 10,
                    "color": _COLLAPSED_COLOR,
                    "line": {"width": 1, "color": _COLLAPSED_COLOR},
                },
            )
        )
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
    box = {
        "showline": True,
        "mirror": True,
        "linecolor": "black",
        "linewidth": 1,
        "showticklabels": False,
        "showgrid": False,
        "zeroline": False,
        "ticks": "",
    }
    if three_d:
        axis3 = {"showticklabels": False, "title": {"text": ""}, "showbackground": False}
        fig.update_scenes(xaxis=axis3, yaxis=axis3, zaxis=axis3, aspectmode="data")
    else:
        fig.update_xaxes(**box)
        fig.update_yaxes(**box)
        fig.update_xaxes(scaleanchor="y", scaleratio=1, row=1, col=1)
        fig.update_xaxes(scaleanchor="y2", scaleratio=1, row=1, col=2)
    return fig


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
        ``6.7 d`` (for all of R^d, ``d = theory_d``) on every panel.
    log_y : sequence of str, default=("nmse",)
        Metrics drawn on a logarithmic axis; values and band edges below ``1e-16`` (float64
        rounding) are drawn at ``1e-16``.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    fig : plotly.graph_objects.Figure

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
            for th in INJECTIVITY_THRESHOLDS:
                lo_w, hi_w = th.widths(theory_d)
                if hi_w > lo_w:
                    fig.add_vrect(
                        x0=lo_w, x1=hi_w, fillcolor="grey", opacity=0.08, line_width=0, row=r, col=c
                    )
                else:
                    fig.add_vline(
                        x=lo_w, line={"color": "grey", "dash": "dot", "width": 1}, row=r, col=c
                    )
    fig.update_xaxes(title_text="width n", showline=True, mirror=True, linecolor="black")
    fig.update_yaxes(showline=True, mirror=True, linecolor="black")
    fig.update_layout(
        template="plotly_white",
        title=title,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.06, "x": 0},
        margin={"l": 50, "r": 20, "t": 110, "b": 50},
    )
    return fig


def _find_browser() -> None:
    """Point kaleido at Debian's Chromium when no browser is configured."""
    if os.environ.get("BROWSER_PATH"):
        return
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            os.environ["BROWSER_PATH"] = path
            return


def save_figure(
    fig: go.Figure,
    path: Any,
    *,
    width: int = 1000,
    height: int = 600,
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
    width, height : int, default=1000, 600
        Size in CSS pixels.
    scale : float, default=2.0
        Resolution multiplier for PNG.

    Returns
    -------
    path : pathlib.Path
    """
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt == "html":
        return atomic_write_text(p, fig.to_html(include_plotlyjs=True, full_html=True))
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"unknown figure format {fmt!r}; use .png, .svg, .pdf or .html")
    if not p.parent.exists():
        raise ValueError(f"the folder {p.parent} does not exist; create it first")
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
