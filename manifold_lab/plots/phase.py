"""The injectivity phase diagram: a quantity over intrinsic dimension and width, with boundaries.

Draws the output of :func:`manifold_lab.injectivity.phase_diagram`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..injectivity import QUANTITIES, check_levels, level_crossing
from ..theory import INJECTIVITY_THRESHOLDS, preserved_fraction
from .style import COLORSCALE, FRAME_AXIS, PALETTE, TEMPLATE

__all__ = ["plot_phase_diagram"]

_LEVEL_STYLES = (  # line colour and marker edge, legible on Viridis and in the legend
    {"color": "white", "edge": "black"},
    {"color": "black", "edge": "white"},
    {"color": "#e377c2", "edge": "black"},
)
_PANEL_TITLES = {
    "injective": "P(ReLU(T x) injective on the ball)",
    "invertible_fraction": "pointwise invertible fraction (Lemma 2)",
}


def _edges(x: np.ndarray) -> np.ndarray:
    if len(x) == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = (x[1:] + x[:-1]) / 2
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def plot_phase_diagram(
    df: pd.DataFrame,
    *,
    quantity: str | Sequence[str] = "injective",
    levels: Any = (0.5, 0.95),
    title: str | None = None,
    x: str = "ratio",
    ratios: pd.DataFrame | None = None,
) -> go.Figure:
    """Heatmap of a quantity over intrinsic dimension ``k`` and width, with its boundaries.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`phase_diagram`.
    quantity : {"injective", "invertible_fraction"} or a sequence of them, \
default="injective"
        What to average over seeds: the probability of global injectivity or the
        pointwise Lemma-2 fraction. A sequence draws one panel each, side by side.
    levels : float or sequence of float, default=(0.5, 0.95)
        Where the boundaries are drawn (lines through each ``k``'s crossing, linearly
        interpolated in the width). On the injective panel they carry the bootstrap 95%
        interval of :func:`critical_ratios`; on the pointwise panel Theorem 1's
        crossings are drawn dashed beside the measured ones.
    title : str or None, default=None
        Figure title.
    x : {"ratio", "width"}, default="ratio"
        Horizontal axis: the expansion ratio ``n / k`` or the width ``n``. With
        ``"ratio"`` the injective panel marks the literature's ratios for all of R^k:
        ``n >= 2k`` (necessary), the Gaussian bounds 3.4 to 10.5 and the replica
        prediction 6.698.
    ratios : pandas.DataFrame or None, default=None
        The injective panel's boundaries with their bootstrap intervals, the output of
        :func:`manifold_lab.injectivity.critical_ratios` for ``df`` with every level of
        ``levels``. Required when the injective panel is drawn: the figure draws results,
        it does not compute them.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        One heatmap trace per ``k`` and panel (one shared colour axis, 0 to 1).

    Examples
    --------
    >>> from manifold_lab.injectivity import critical_ratios, phase_diagram
    >>> df = phase_diagram([1, 2], max_ratio=4, seeds=range(5), n_samples=100, progress=False)
    >>> fig = plot_phase_diagram(df, ratios=critical_ratios(df))
    >>> [t.type for t in fig.data][:2], fig.layout.xaxis.title.text
    (['heatmap', 'heatmap'], 'expansion ratio n / k')
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    qs = [quantity] if isinstance(quantity, str) else list(quantity)
    if not qs:
        raise ValueError(f"quantity is empty; choose from {list(QUANTITIES)}")
    for q in qs:
        if q not in QUANTITIES:
            raise ValueError(f"unknown quantity {q!r}; choose from {list(QUANTITIES)}")
        if q not in df.columns:
            raise ValueError(f"df has no column {q!r}: pass the output of phase_diagram")
    missing = [c for c in ("k", "width", "seed") if c not in df.columns]
    if missing:
        raise ValueError(f"df has no column {missing[0]!r}: pass the output of phase_diagram")
    if df.empty:
        raise ValueError("df is empty")
    if x not in ("ratio", "width"):
        raise ValueError(f"x must be 'ratio' or 'width', got {x!r}")
    lv = check_levels(levels)
    if "injective" in qs:
        if ratios is None:
            raise ValueError(
                "the injective panel draws the critical ratios: pass "
                "ratios=critical_ratios(df, levels=levels)"
            )
        missing_lv = [lv_ for lv_ in lv if not np.isclose(ratios["level"], lv_).any()]
        if missing_lv:
            raise ValueError(
                f"ratios has no rows at level {missing_lv[0]}: pass critical_ratios(df, "
                "levels=levels)"
            )
    ks = sorted(int(k) for k in df["k"].unique())
    fig = make_subplots(
        rows=1,
        cols=len(qs),
        # panels are lettered (a), (b), ... only when there are several
        subplot_titles=[
            (f"({chr(97 + i)}) " if len(qs) > 1 else "") + _PANEL_TITLES[q]
            for i, q in enumerate(qs)
        ],
        horizontal_spacing=0.07,
    )
    y_lo, y_hi = ks[0] - 0.5, ks[-1] + 0.5
    shown: set[str] = set()

    def legend_once(name: str) -> bool:
        first = name not in shown
        shown.add(name)
        return first

    for col, q in enumerate(qs, start=1):
        means = df.groupby(["k", "width"], sort=True)[q].mean().reset_index()
        curves = {
            kk: (
                means.loc[means["k"] == kk, "width"].to_numpy(dtype=np.float64),
                means.loc[means["k"] == kk, q].to_numpy(dtype=np.float64),
            )
            for kk in ks
        }
        for k in ks:
            w, vals = curves[k]
            xs = w / k if x == "ratio" else w
            fig.add_trace(
                go.Heatmap(
                    x=_edges(xs),
                    y=[k - 0.5, k + 0.5],
                    z=[vals],
                    coloraxis="coloraxis",
                    name=f"k={k}",
                    hovertemplate=(
                        f"k={k}<br>{'n/k' if x == 'ratio' else 'n'}=%{{x:.3g}}<br>"
                        f"{q}=%{{z:.3f}}<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
        for li, level in enumerate(lv):
            style = _LEVEL_STYLES[li % len(_LEVEL_STYLES)]
            if q == "injective":
                assert ratios is not None
                c = ratios[np.isclose(ratios["level"], level)].sort_values("k")
                scale = 1.0 if x == "ratio" else c["k"].to_numpy(dtype=float)
                xs = c["ratio"].to_numpy(dtype=float) * scale
                lo = c["ci_low"].to_numpy(dtype=float) * scale
                hi = c["ci_high"].to_numpy(dtype=float) * scale
                err = {
                    "type": "data",
                    "symmetric": False,
                    "array": np.nan_to_num(hi - xs, nan=0.0),
                    "arrayminus": np.nan_to_num(xs - lo, nan=0.0),
                    "color": style["color"],
                    "thickness": 1.2,
                    "width": 3,
                }
                ys = c["k"].to_numpy()
            else:
                xs_l, ys_l = [], []
                for k in ks:
                    w, vals = curves[k]
                    xk = float(level_crossing(w, vals, level))
                    xs_l.append(xk / k if x == "ratio" else xk)
                    ys_l.append(k)
                xs, ys, err = np.array(xs_l), np.array(ys_l), None
            name = f"{level:.0%} boundary (measured)"
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines+markers",
                    line={"color": style["color"], "width": 2},
                    marker={
                        "size": 7,
                        "color": style["color"],
                        "line": {"width": 1, "color": style["edge"]},
                    },
                    error_x=err,
                    name=name,
                    legendgroup=name,
                    showlegend=legend_once(name),
                ),
                row=1,
                col=col,
            )
            if q == "invertible_fraction":
                th_x = []
                for k in ks:
                    wmax = int(df.loc[df.k == k, "width"].max())
                    n = np.arange(k, wmax + 1, dtype=np.float64)
                    xk = float(level_crossing(n, preserved_fraction(n.astype(int), k), level))
                    th_x.append(xk / k if x == "ratio" else xk)
                tname = f"{level:.0%}: Theorem 1"
                fig.add_trace(
                    go.Scatter(
                        x=th_x,
                        y=ks,
                        mode="lines+markers",
                        line={"color": style["color"], "width": 1.5, "dash": "dot"},
                        marker={
                            "size": 6,
                            "symbol": "diamond",
                            "color": style["color"],
                            "line": {"width": 1, "color": style["edge"]},
                        },
                        name=tname,
                        legendgroup=tname,
                        showlegend=legend_once(tname),
                    ),
                    row=1,
                    col=col,
                )
        if q == "injective" and x == "ratio":
            lit_styles = ({"dash": "dot"}, {"dash": "dash"}, {"dash": "dashdot"})
            for th, st in zip(INJECTIVITY_THRESHOLDS, lit_styles, strict=False):
                name = f"literature: {th.label}"
                for r in sorted({th.ratio_low, th.ratio_high}):
                    fig.add_trace(
                        go.Scatter(
                            x=[r, r],
                            y=[y_lo, y_hi],
                            mode="lines",
                            line={"color": PALETTE[1], "width": 1.8, **st},
                            name=name,
                            legendgroup=name,
                            showlegend=legend_once(name),
                            hoverinfo="name",
                        ),
                        row=1,
                        col=col,
                    )
        fig.update_xaxes(
            title_text="expansion ratio n / k" if x == "ratio" else "width n", row=1, col=col
        )
        fig.update_yaxes(title_text="intrinsic dimension k" if col == 1 else None, row=1, col=col)
    fig.update_yaxes(range=[y_lo, y_hi], tickvals=ks, **FRAME_AXIS)
    pos = df["width"] / df["k"] if x == "ratio" else df["width"]
    pad = 0.5 if x == "ratio" else 1.0
    fig.update_xaxes(
        range=[float(pos.min()) - pad, float(pos.max()) + pad / 5],
        **FRAME_AXIS,
        showgrid=False,
    )
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        coloraxis={
            "colorscale": COLORSCALE,
            "cmin": 0.0,
            "cmax": 1.0,
            "colorbar": {"title": {"text": "mean over seeds"}, "len": 0.8},
        },
        legend={"orientation": "h", "yanchor": "top", "y": -0.16, "x": 0},
        margin={"l": 60, "r": 20, "t": 80 if title else 50, "b": 110},
    )
    return fig
