"""The Figure 6 ablations: learning curves of CIFAR runs and the toy ablation's accuracies."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import INK, PALETTE, TEMPLATE, TICK_AXIS, color_of, rgba

__all__ = ["plot_ablation_findings", "plot_learning_curves", "plot_toy_ablation"]

# The same colour for a variant in every figure, whichever variants a folder holds.
_RUN_SLOTS = {"linear": 0, "relu6": 1, "expansion": 2, "noshortcut": 3}
_TOY_COLORS = {
    "linear/bottleneck": PALETTE[0],
    "relu6/bottleneck": PALETTE[1],
    "linear/expansion": PALETTE[2],
    "relu6/expansion": PALETTE[4],
    "linear/none": PALETTE[3],
    "relu6/none": PALETTE[5],
}
_DECISION_COLORS = {"wins": PALETTE[0], "loses": PALETTE[1], "inconclusive": "#7f7f7f"}


def plot_learning_curves(
    df: pd.DataFrame, *, x: str = "step", y: str = "test_acc", title: str | None = None
) -> go.Figure:
    """Figure-6-style curves: ``y`` against ``x``, one colour per variant, one line per seed.

    The mean over seeds is drawn thick, each seed thin.

    Parameters
    ----------
    df : pandas.DataFrame
        Per-epoch metrics of several runs, from :func:`manifold_lab.ablation.load_runs`
        (columns ``variant``, ``seed`` and those named by ``x`` and ``y``).
    x : str, default="step"
        Column of the horizontal axis (``"step"`` or ``"epoch"``).
    y : str, default="test_acc"
        Column of the vertical axis.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        One line per ``(variant, seed)``, coloured by variant (one legend entry per
        variant).

    Examples
    --------
    >>> df = pd.DataFrame({"variant": ["linear"] * 4, "seed": [0, 0, 1, 1],
    ...                    "step": [1, 2, 1, 2], "test_acc": [0.5, 0.6, 0.4, 0.7]})
    >>> [t.name for t in plot_learning_curves(df).data]
    ['linear seed 0', 'linear seed 1', 'linear (mean of 2)']
    """
    others = [v for v in df["variant"].unique() if v not in _RUN_SLOTS]
    slot = {**_RUN_SLOTS, **{v: len(_RUN_SLOTS) + i for i, v in enumerate(others)}}
    fig = go.Figure()
    ordered = sorted(df["variant"].unique(), key=lambda v: slot[v])
    for variant in ordered:
        g = df[df["variant"] == variant]
        color = color_of(slot[variant])
        for seed, gs in g.groupby("seed"):
            fig.add_trace(
                go.Scatter(
                    x=gs[x],
                    y=gs[y],
                    mode="lines",
                    line={"color": color, "width": 1},
                    opacity=0.45,
                    name=f"{variant} seed {seed}",
                    legendgroup=str(variant),
                    showlegend=False,
                )
            )
        mean = g.groupby(x)[y].mean()
        fig.add_trace(
            go.Scatter(
                x=mean.index,
                y=mean.values,
                mode="lines+markers",
                line={"color": color, "width": 2.5},
                marker={"size": 5},
                name=f"{variant} (mean of {g['seed'].nunique()})",
                legendgroup=str(variant),
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        xaxis_title={"step": "training step", "epoch": "epoch"}.get(x, x),
        yaxis_title={"test_acc": "test top-1 accuracy"}.get(y, y),
        width=720,
        height=440,
        legend={"x": 0.98, "y": 0.02, "xanchor": "right", "yanchor": "bottom"},
    )
    fig.update_xaxes(**TICK_AXIS)
    fig.update_yaxes(**TICK_AXIS)
    return fig


def plot_toy_ablation(
    df: pd.DataFrame, *, expansions: Any = None, title: str | None = None
) -> go.Figure:
    """Figure 6 in miniature: held-out accuracy against bottleneck width, one panel per ``t``.

    For each expansion ratio ``t``, one curve per variant (bottleneck activation and
    shortcut placement), each variant in its own colour in every panel: the mean score over
    seeds with a shaded 95% interval (1.96 standard errors); ReLU6 bottlenecks are dotted.
    Every width is a labelled tick.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per network, from :func:`manifold_lab.toy.toy_ablation` (columns
        ``expansion``, ``variant``, ``width``, ``seed``, ``score``).
    expansions : sequence of int or None, default=None
        Panels, in order; ``None`` takes every expansion in ``df``, increasing.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        One panel per expansion; in each, one line per variant: the mean score over seeds
        against width, with its 95% interval as error bars.

    Examples
    --------
    >>> df = pd.DataFrame({"expansion": 6, "variant": ["linear/bottleneck"] * 4,
    ...                    "width": [2, 2, 4, 4], "seed": [0, 1, 0, 1],
    ...                    "score": [0.7, 0.8, 0.9, 0.95]})
    >>> fig = plot_toy_ablation(df)
    >>> [a.text for a in fig.layout.annotations], fig.data[1].y.tolist()
    (['expansion t = 6'], [0.75, 0.925])
    >>> list(fig.layout.xaxis.tickvals)
    [2, 4]
    """
    missing = sorted({"expansion", "variant", "width", "score"} - set(df.columns))
    if missing:
        raise ValueError(f"the frame lacks the columns {missing}; pass toy_ablation records")
    ts = sorted(df["expansion"].unique()) if expansions is None else list(expansions)
    means = (
        df.groupby(["expansion", "variant", "width"])["score"].agg(["mean", "sem"]).reset_index()
    )
    others = [v for v in dict.fromkeys(df["variant"]) if v not in _TOY_COLORS]
    colors = {**_TOY_COLORS, **{v: color_of(len(_TOY_COLORS) + i) for i, v in enumerate(others)}}
    fig = make_subplots(
        rows=1,
        cols=len(ts),
        subplot_titles=[f"expansion t = {t}" for t in ts],
        shared_yaxes=True,
    )
    for col, t in enumerate(ts, start=1):
        for variant, color in colors.items():
            g = means[(means.expansion == t) & (means.variant == variant)]
            if g.empty:
                continue
            half = 1.96 * g["sem"].fillna(0.0)
            fig.add_trace(
                go.Scatter(
                    x=list(g["width"]) + list(g["width"])[::-1],
                    y=list(g["mean"] + half) + list(g["mean"] - half)[::-1],
                    fill="toself",
                    fillcolor=rgba(color, 0.12),
                    mode="lines",
                    line={"width": 0},
                    hoverinfo="skip",
                    name=f"{variant} 95% interval",
                    legendgroup=variant,
                    showlegend=False,
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=g["width"],
                    y=g["mean"],
                    mode="lines+markers",
                    name=variant,
                    legendgroup=variant,
                    line={"color": color, "dash": "dot" if variant.startswith("relu6") else None},
                    marker={"size": 6, "symbol": "circle-open" if "relu6" in variant else "circle"},
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
        widths = sorted(int(w) for w in df.loc[df["expansion"] == t, "width"].unique())
        fig.update_xaxes(
            type="log",
            title_text="bottleneck width",
            tickmode="array",
            tickvals=widths,
            ticktext=[str(w) for w in widths],
            row=1,
            col=col,
        )
    fig.update_xaxes(**TICK_AXIS)
    fig.update_yaxes(**TICK_AXIS)
    fig.update_yaxes(title_text="held-out accuracy (two spirals)", row=1, col=1)
    fig.update_layout(template=TEMPLATE, width=500 * len(ts), height=440, title=title)
    return fig


def plot_ablation_findings(df: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """The ablations' findings at a glance: every paired comparison's mean difference with
    its confidence interval, in percentage points, one row per comparison and study.

    A point right of the zero line means the first variant (``linear``) scored higher; its
    colour says the decision: blue when the first variant wins, red when it loses, grey when
    the interval includes 0.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``study``, ``comparison``, ``mean``, ``ci_low``, ``ci_high`` (accuracy
        differences as fractions) and ``decision``:
        :func:`manifold_lab.ablation.findings_frame`.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        One horizontal interval per row of ``df`` (the first row on top), its mean as a
        point coloured by the decision, and a vertical line at zero.

    Examples
    --------
    >>> df = pd.DataFrame({"study": ["gpu"], "comparison": ["linear - relu6"],
    ...                    "mean": [0.0084], "ci_low": [0.0051], "ci_high": [0.0117],
    ...                    "decision": ["linear wins"]})
    >>> fig = plot_ablation_findings(df)
    >>> list(fig.data[0].y), round(float(fig.data[0].x[0]), 2)
    (['gpu: linear - relu6'], 0.84)
    """
    missing = sorted({"study", "comparison", "mean", "ci_low", "ci_high", "decision"} - set(df))
    if missing:
        raise ValueError(f"the frame lacks the columns {missing}; pass findings_frame(...)")
    if df.empty:
        raise ValueError("no comparisons to draw")
    rows = df.iloc[::-1]  # the first row on top
    labels = [f"{s}: {c}" for s, c in zip(rows["study"], rows["comparison"], strict=True)]
    mean = 100 * rows["mean"].astype(float)
    low = 100 * rows["ci_low"].astype(float)
    high = 100 * rows["ci_high"].astype(float)

    def kind(decision: str, comparison: str) -> str:
        first = comparison.split(" - ")[0].strip()
        if "inconclusive" in decision:
            return "inconclusive"
        return "wins" if decision.startswith(first) else "loses"

    kinds = [kind(d, c) for d, c in zip(rows["decision"], rows["comparison"], strict=True)]
    fig = go.Figure()
    for k, name in (
        ("wins", "first wins"),
        ("loses", "second wins"),
        ("inconclusive", "inconclusive"),
    ):
        pick = [i for i, v in enumerate(kinds) if v == k]
        if not pick:
            continue
        fig.add_trace(
            go.Scatter(
                x=mean.iloc[pick],
                y=[labels[i] for i in pick],
                mode="markers",
                marker={"size": 9, "color": _DECISION_COLORS[k]},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (high - mean).iloc[pick],
                    "arrayminus": (mean - low).iloc[pick],
                    "color": _DECISION_COLORS[k],
                    "thickness": 1.5,
                },
                name=name,
            )
        )
    fig.add_vline(x=0, line={"color": INK, "width": 1})
    fig.update_xaxes(
        **TICK_AXIS, title_text="difference in test accuracy (percentage points), 95% CI"
    )
    fig.update_yaxes(**TICK_AXIS, categoryorder="array", categoryarray=labels)
    fig.update_layout(
        template=TEMPLATE,
        title=title,
        width=760,
        height=120 + 34 * len(labels),
        margin={"l": 20, "r": 20, "t": 40 if title else 20, "b": 50},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig
