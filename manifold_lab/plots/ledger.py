"""Real layers on the toy's phase diagram: each block's measured invertible fraction against
its expansion ratio, over Theorem 1's curves and the measured injectivity transition.

Draws the output of :func:`manifold_lab.probing.ledger` (and, optionally, of
:func:`manifold_lab.injectivity.phase_diagram`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..theory import preserved_fraction
from .style import COLORSCALE, TEMPLATE, TICK_AXIS, color_of

__all__ = ["plot_ledger_phase"]

_COLOR_LABELS = {
    "nmse_lemma2": "log10 normalised error<br>(exact inverse)",
    "nmse_affine": "log10 normalised error<br>(affine decoder)",
    "nmse_block": "log10 normalised error<br>(whole block)",
}


def _frame(ledger: Any) -> pd.DataFrame:
    df = ledger.to_frame() if hasattr(ledger, "to_frame") else ledger
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise ValueError("plot_ledger_phase needs a LedgerResult or its non-empty to_frame()")
    need = ("name", "hidden_channels", "in_channels", "input_id", "exact_fraction")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"the ledger frame has no column {missing[0]!r}")
    return df


def plot_ledger_phase(
    ledger: Any,
    *,
    phase: pd.DataFrame | None = None,
    theory_k: Sequence[int] = (1, 2, 4, 8, 32),
    color: str = "nmse_block",
    title: str | None = None,
) -> go.Figure:
    """Each block at (expansion ratio, measured invertible fraction), twice, over the toy's
    curves.

    Left: ``n / k`` with ``k`` the block's input channels (what Lemma 2's rank test uses);
    right: ``n / ID`` with ``ID`` the TwoNN intrinsic dimension of the sampled inputs. The
    vertical position is the fraction of sampled pixels recovered exactly (Lemma 2), with its
    95% interval over images; the marker colour is ``log10`` of a normalised error.

    Underneath: Theorem 1's expected invertible fraction ``P(Binomial(n, 1/2) >= k)`` of
    Gaussian embeddings of ``k``-dimensional data against ``n / k`` (solid), and, when
    ``phase`` is given, the measured probability that ``ReLU(T x)`` is injective on the whole
    ``k``-ball (dashed, mean over seeds) for the ``k`` of ``theory_k`` that it holds.

    Parameters
    ----------
    ledger : LedgerResult or pandas.DataFrame
        :func:`~manifold_lab.probing.ledger`'s result or its ``to_frame()`` (read back from a
        file works too).
    phase : pandas.DataFrame or None, default=None
        :func:`~manifold_lab.injectivity.phase_diagram`'s output (columns ``k``, ``ratio``,
        ``injective``), e.g. ``experiments/results/phase_diagram.csv``.
    theory_k : sequence of int, default=(1, 2, 4, 8, 32)
        The ``k`` of Theorem 1's curves.
    color : str, default="nmse_block"
        The error that colours the markers: ``"nmse_block"`` (the whole block's affine
        decoder), ``"nmse_affine"`` (the expansion's) or ``"nmse_lemma2"`` (the exact
        inverse, least squares where Lemma 2 fails).
    title : str or None, default=None
        The figure's title; None: "Real layers on the toy's phase diagram".

    Returns
    -------
    plotly.graph_objects.Figure
        Two panels side by side (``n / k`` and ``n / ID``) sharing the vertical axis, with a
        colour bar for the markers' errors.

    Examples
    --------
    >>> df = pd.DataFrame({"name": ["features.2", "features.3"], "in_channels": [16, 24],
    ...                    "hidden_channels": [96, 144], "input_id": [9.0, 11.0],
    ...                    "exact_fraction": [0.9, 0.7], "nmse_block": [0.3, 0.5]})
    >>> fig = plot_ledger_phase(df, theory_k=(1, 8))
    >>> [t.name for t in fig.data][:2], sum(t.name == "blocks" for t in fig.data)
    (['Theorem 1, k = 1', 'Theorem 1, k = 8'], 2)
    """
    df = _frame(ledger)
    if color not in _COLOR_LABELS:
        raise ValueError(f"color must be one of {sorted(_COLOR_LABELS)}, got {color!r}")
    ks = sorted({int(k) for k in theory_k})
    if not ks or ks[0] < 1:
        raise ValueError(f"theory_k must hold positive integers, got {list(theory_k)!r}")
    n = df["hidden_channels"].to_numpy(float)
    x_k = n / df["in_channels"].to_numpy(float)
    ids = df["input_id"].to_numpy(float)
    x_id = np.where(ids > 0, n / np.where(ids > 0, ids, 1.0), np.nan)
    y = df["exact_fraction"].to_numpy(float)
    finite = np.concatenate([x_k, x_id[np.isfinite(x_id)]])
    x_max = max(12.0, 1.3 * float(np.nanmax(finite)))
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=(
            "(a) k = input channels (Lemma 2's rank test)",
            "(b) k = intrinsic dimension of the input (TwoNN)",
        ),
    )
    colors = {k: color_of(i) for i, k in enumerate(ks)}
    for col in (1, 2):
        for k in ks:
            widths = np.arange(k, math.ceil(x_max * k) + 1)
            fig.add_trace(
                go.Scatter(
                    x=widths / k,
                    y=preserved_fraction(widths, k),
                    mode="lines",
                    line={"color": colors[k], "width": 1.5},
                    name=f"Theorem 1, k = {k}",
                    legendgroup=f"theory{k}",
                    showlegend=col == 1,
                    hovertemplate=f"Theorem 1, k = {k}<br>n/k %{{x:.2f}}: %{{y:.3f}}"
                    "<extra></extra>",
                ),
                row=1,
                col=col,
            )
        if phase is not None:
            _add_injectivity(fig, phase, col, colors)
    err = None
    if {"exact_fraction_low", "exact_fraction_high"} <= set(df.columns):
        low = df["exact_fraction_low"].to_numpy(float)
        high = df["exact_fraction_high"].to_numpy(float)
        err = {
            "type": "data",
            "symmetric": False,
            "array": np.nan_to_num(high - y),
            "arrayminus": np.nan_to_num(y - low),
            "color": "rgba(60, 60, 60, 0.5)",
            "thickness": 1,
        }
    value = df[color].to_numpy(float) if color in df.columns else np.full(len(df), np.nan)
    logv = np.log10(np.clip(value, 1e-16, None))
    labels = [str(s).replace("features.", "") for s in df["name"]]
    hover = [
        f"{name}<br>k = {k}, n = {h}, ID = {i:.1f}<br>recovered exactly {f:.3f}"
        f"<br>{color} = {v:.3g}"
        for name, k, h, i, f, v in zip(
            df["name"], df["in_channels"], df["hidden_channels"], ids, y, value, strict=True
        )
    ]
    for col, xs in ((1, x_k), (2, x_id)):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=y,
                mode="markers+text" if col == 2 else "markers",
                text=labels if col == 2 else None,
                textposition="middle right",
                textfont={"size": 9},
                error_y=err,
                marker={
                    "size": 10,
                    "color": logv,
                    "colorscale": COLORSCALE,
                    "line": {"color": "black", "width": 0.7},
                    "colorbar": {"title": {"text": _COLOR_LABELS[color]}, "len": 0.8}
                    if col == 2
                    else None,
                    "showscale": col == 2,
                },
                name="blocks",
                showlegend=col == 1,
                hovertext=hover,
                hoverinfo="text",
            ),
            row=1,
            col=col,
        )
    fig.update_xaxes(
        type="log", range=[0, math.log10(x_max)], title_text="expansion ratio n / k", **TICK_AXIS
    )
    fig.update_xaxes(title_text="n / intrinsic dimension", row=1, col=2)
    fig.update_yaxes(range=[-0.03, 1.03], **TICK_AXIS)
    fig.update_yaxes(title_text="invertible fraction (Lemma 2, recovered exactly)", row=1, col=1)
    fig.update_layout(
        template=TEMPLATE,
        title=title or "Real layers on the toy's phase diagram",
        height=520,
        width=1150,
        legend={"orientation": "h", "y": -0.18, "x": 0},
        margin={"b": 120},
    )
    return fig


def _add_injectivity(fig: go.Figure, phase: pd.DataFrame, col: int, colors: dict[int, str]) -> None:
    """Dashed lines: P(injective on the ball) against n / k, one per k of ``phase``."""
    need = ("k", "ratio", "injective")
    missing = [c for c in need if c not in phase.columns]
    if missing:
        raise ValueError(f"the phase-diagram frame has no column {missing[0]!r}")
    injective = phase["injective"].astype(str).str.lower().isin(("true", "1", "1.0"))
    table = phase.assign(injective=injective.astype(float))
    mean = table.groupby(["k", "ratio"], as_index=False)["injective"].mean()
    for key, part in mean.groupby("k"):
        k = int(str(key))
        if k not in colors:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["ratio"],
                y=part["injective"],
                mode="lines",
                line={"color": colors[k], "dash": "dash", "width": 1},
                opacity=0.7,
                name=f"P(injective on the k-ball), k = {k}",
                legendgroup=f"inj{k}",
                showlegend=col == 1,
                hovertemplate=f"injective, k = {k}<br>n/k %{{x:.2f}}: %{{y:.2f}}<extra></extra>",
            ),
            row=1,
            col=col,
        )
