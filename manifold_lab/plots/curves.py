"""Metrics against width: the mean over seeds with its band, Theorem 1 and the thresholds."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..registry import METRIC_REGISTRY
from ..theory import INJECTIVITY_THRESHOLDS, preserved_fraction
from .style import FRAME_AXIS, TEMPLATE, color_of, rgba

__all__ = ["plot_width_curves"]


def _axis_label(metric: str) -> str:
    entry = METRIC_REGISTRY.get(metric)
    return entry.axis_text() if entry is not None else metric


def plot_width_curves(
    summary: Any,
    *,
    metrics: Any = None,
    color: str = "method",
    theory_k: int | None = None,
    thresholds: bool = False,
    log_y: Any = ("nmse",),
    title: str | None = None,
    theory_d: int | None = None,
    panel_height: int = 280,
    log_band_floor: float = 0.1,
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
    theory_k : int or None, default=None
        The dimension ``k`` of the manifold's span. When given, overlay Theorem 1's
        ``P(Binomial(n, 1/2) >= k)`` on the ``invertible_fraction`` panel (it describes
        ReLU without bias).
    thresholds : bool, default=False
        Mark the injectivity literature's widths ``n = 2 k``, ``3.4 k .. 10.5 k`` and
        ``6.7 k`` (for all of R^k, ``k = theory_k``) on every panel, each named in the
        legend (:data:`manifold_lab.INJECTIVITY_THRESHOLDS`).
    log_y : sequence of str, default=("nmse",)
        Metrics drawn on a logarithmic axis; values and band edges below ``1e-16`` (float64
        rounding) are drawn at ``1e-16``. The band of a fraction (``METRIC_REGISTRY``'s
        ``fraction``) is drawn within [0, 1].
    title : str or None, default=None
        Figure title.
    theory_d : int or None, default=None
        Deprecated alias of ``theory_k``; it warns and will be removed in the next release.
    panel_height : int, default=280
        Height of each panel in pixels; the figure's height follows from the rows, with
        room between rows for the axis title above and the panel title below.
    log_band_floor : float, default=0.1
        On logarithmic panels the band's lower edge is drawn no lower than this fraction
        of the mean (a Student-t band reaching zero or below, as for a heavy-tailed error
        over few seeds, would otherwise run down to 1e-16); the figure's subtitle says so
        when it happens. ``summary`` keeps the raw interval. 0 draws the raw edges.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        One panel per metric, two panels per row, titled with the metric's axis label;
        one curve per value of ``color`` with its confidence band.

    Raises
    ------
    ValueError
        When ``summary`` has several rows per ``(color, metric, width)`` (for example two
        methods and two activations, coloured by activation): the curves would mix them,
        or when both ``theory_k`` and its deprecated alias ``theory_d`` are given.

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
    >>> fig = plot_width_curves(ml.summarize(df), theory_k=2)
    >>> sorted({t.name for t in fig.data if t.showlegend})
    ['Theorem 1: P(Bin(n, 1/2) >= 2)', 'every method', 'lemma2', 'pinv']
    """
    if theory_d is not None:
        if theory_k is not None:
            raise ValueError("give theory_k, not both theory_k and its deprecated alias theory_d")
        warnings.warn(
            "plot_width_curves(theory_d=...) is deprecated and will be removed in the next "
            "release; use theory_k=...",
            DeprecationWarning,
            stacklevel=2,
        )
        theory_k = theory_d
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
    if not 0 <= log_band_floor < 1:
        raise ValueError(f"log_band_floor must be in [0, 1), got {log_band_floor!r}")
    cols = min(2, len(metric_list))
    rows = -(-len(metric_list) // cols)
    gap = 90  # px between rows: the x-axis title above, the panel title below
    area = rows * panel_height + (rows - 1) * gap
    top, bottom = (95 if title else 50), 120
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_axis_label(m) for m in metric_list],
        horizontal_spacing=0.08,
        vertical_spacing=gap / area if rows > 1 else 0.0,
    )
    clipped = False
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
            hue = "#555555" if shared else color_of(groups.index(g))
            x = d["width"].to_numpy()
            lo, hi = d["ci_low"].to_numpy(), d["ci_high"].to_numpy()
            mean = d["mean"].to_numpy()
            entry = METRIC_REGISTRY.get(metric)
            if entry is not None and entry.fraction:  # a fraction's band stays in [0, 1]
                lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
            if floor is not None:
                lo, hi, mean = (np.maximum(a, floor) for a in (lo, hi, mean))
                shown_lo = np.maximum(lo, log_band_floor * mean)
                clipped |= bool((shown_lo > lo).any())
                lo = shown_lo
            if np.isfinite(lo).any():
                fig.add_trace(
                    go.Scatter(
                        x=np.concatenate([x, x[::-1]]),
                        y=np.concatenate([hi, lo[::-1]]),
                        mode="lines",
                        fill="toself",
                        fillcolor=rgba(hue, 0.18),
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
        if theory_k is not None and metric == "invertible_fraction":
            n = np.arange(max(1, int(part["width"].min())), int(part["width"].max()) + 1)
            fig.add_trace(
                go.Scatter(
                    x=n,
                    y=preserved_fraction(n, theory_k),
                    mode="lines",
                    line={"color": "black", "dash": "dash", "width": 1.5},
                    name=f"Theorem 1: P(Bin(n, 1/2) >= {theory_k})",
                    showlegend=True,
                ),
                row=r,
                col=c,
            )
        if thresholds and theory_k is not None:
            for _, lo_w, hi_w, dash in _thresholds(theory_k):
                if dash is None:
                    fig.add_vrect(
                        x0=lo_w, x1=hi_w, fillcolor="grey", opacity=0.08, line_width=0, row=r, col=c
                    )
                else:
                    fig.add_vline(
                        x=lo_w, line={"color": "grey", "dash": dash, "width": 1}, row=r, col=c
                    )
    if thresholds and theory_k is not None:
        # Shapes have no legend entries: name each threshold through an empty trace.
        for th, lo_w, hi_w, dash in _thresholds(theory_k):
            where = f"n = {lo_w:.3g}" if dash else f"n = {lo_w:.3g} to {hi_w:.3g}"
            fig.add_trace(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="lines" if dash else "markers",
                    marker={"symbol": "square", "size": 12, "color": "rgba(128, 128, 128, 0.25)"},
                    line={"color": "grey", "dash": dash or "solid", "width": 1},
                    name=f"{th.label} ({where}; all of R^{theory_k})",
                    hoverinfo="skip",
                ),
                row=1,
                col=1,
            )
    fig.update_xaxes(title_text="width n", **FRAME_AXIS)
    fig.update_yaxes(**FRAME_AXIS)
    # Title pinned to the top and legend to the bottom of the figure, so that neither
    # collides with the panels (or each other) whatever size the figure is drawn at.
    note = (
        f"log panels: the 95% band is drawn down to {log_band_floor:g} x the mean at most "
        "(the data keep the raw interval)"
        if clipped
        else ""
    )
    fig.update_layout(
        template=TEMPLATE,
        height=top + area + bottom,
        title={
            "text": title,
            "subtitle": {"text": note},
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": 14},
        },
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0,
            "xanchor": "left",
            "x": 0,
        },
        margin={"l": 50, "r": 20, "t": top, "b": bottom},
    )
    return fig


def _thresholds(k: int) -> list[tuple[Any, float, float, str | None]]:
    """Injectivity thresholds at input dimension ``k``: ``(threshold, low, high, dash)``.

    Ranges are shaded (``dash`` is None); single widths are lines, each with its own dash.
    """
    dashes = ("dot", "dashdot", "dash", "longdashdot")
    out: list[tuple[Any, float, float, str | None]] = []
    n_lines = 0
    for th in INJECTIVITY_THRESHOLDS:
        lo, hi = th.widths(k)
        dash = None
        if not hi > lo:
            dash, n_lines = dashes[n_lines % len(dashes)], n_lines + 1
        out.append((th, lo, hi, dash))
    return out
