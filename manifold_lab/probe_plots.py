"""Figures of :mod:`manifold_lab.probing`: the paper's Figure 7 and intrinsic-dimension profiles.

Every function returns a :class:`plotly.graph_objects.Figure` and never shows it; save it with
:func:`manifold_lab.plotting.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["figure7_frame", "plot_figure7", "plot_id_profile"]

_AXIS: dict[str, Any] = {
    "showline": True,
    "mirror": True,
    "linecolor": "black",
    "linewidth": 1,
    "ticks": "outside",
    "showgrid": False,
    "zeroline": False,
}
_COLORS = {
    "average": "#1f77b4",
    "min": "#2ca02c",
    "max": "#ff7f0e",
    "total": "#111111",
    "threshold": "#d62728",
}
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
_COUNTS = {"positive": "pos", "informative": "informative"}


def figure7_frame(data: Any) -> pd.DataFrame:
    """The rows of a probe result that Figure 7 draws (blocks with an expansion layer).

    Parameters
    ----------
    data : ProbeResult or pandas.DataFrame
        A :class:`~manifold_lab.probing.ProbeResult`, its :meth:`to_frame`, or that frame read
        back with :func:`manifold_lab.read_results`.

    Returns
    -------
    pandas.DataFrame
        Sorted by block index.
    """
    frame = data.to_frame() if hasattr(data, "to_frame") else data
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(
            f"expected a ProbeResult or its to_frame() DataFrame, got {type(data).__name__}"
        )
    needed = {"index", "hidden_channels", "threshold", "pos_mean", "pos_std", "pos_min"}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValueError(f"the frame lacks the probe columns {missing}; pass ProbeResult data")
    if "has_expansion" in frame.columns:
        frame = frame[frame["has_expansion"].astype(bool)]
    frame = frame[frame["hidden_channels"].notna() & frame["pos_mean"].notna()]
    if frame.empty:
        raise ValueError("no block with an expansion layer to draw")
    frame = frame.sort_values("index").reset_index(drop=True)
    if "expansion_layer" not in frame.columns or frame["expansion_layer"].isna().any():
        frame = frame.assign(expansion_layer=np.arange(1, len(frame) + 1))
    return frame


def _panels(relative: Any) -> list[bool]:
    if relative == "both":
        return [False, True]
    if isinstance(relative, bool):
        return [relative]
    raise ValueError(f"relative must be True, False or 'both', got {relative!r}")


def plot_figure7(
    data: Any,
    *,
    relative: bool | str = "both",
    x: str = "layer",
    count: str = "positive",
    band: bool = True,
    title: str | None = None,
) -> go.Figure:
    """The paper's Figure 7: positive channels per pixel in every expansion layer.

    For each expansion layer: the average number of positive channels over all pixels of all
    images with a band of one standard deviation, the minimum and maximum, the total
    (the layer's width) and the threshold (the block's input channels: below it Lemma 2
    cannot hold), in absolute numbers and relative to the width.

    Parameters
    ----------
    data : ProbeResult, DataFrame or mapping of str to either
        One probe result (or its :meth:`to_frame`), or several by label (one row of panels
        each, e.g. ``{"step 0": init, "trained": trained}``).
    relative : bool or "both", default="both"
        Absolute counts, relative counts, or both panels side by side.
    x : {"layer", "block"}, default="layer"
        Number the x axis by expansion layer (1..16, as the paper) or by block index (2..17).
    count : {"positive", "informative"}, default="positive"
        Count positive channels (y > 0, the paper's figure) or informative ones (0 < y < 6,
        what Lemma 2 needs).
    band : bool, default=True
        Shade average +- one standard deviation.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> import torch
    >>> from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
    >>> from manifold_lab.probing import probe
    >>> model = MobileNetV2(MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25))
    >>> res = probe(model, torch.rand(2, 3, 32, 32), progress=False, rank_pixels_per_batch=0)
    >>> fig = plot_figure7(res)
    >>> sorted({t.name for t in fig.data if t.showlegend})[:3]
    ['average', 'average +- std', 'max']
    """
    if x not in ("layer", "block"):
        raise ValueError(f"x must be 'layer' or 'block', got {x!r}")
    if count not in _COUNTS:
        raise ValueError(f"count must be one of {sorted(_COUNTS)}, got {count!r}")
    prefix = _COUNTS[count]
    panels = _panels(relative)
    if isinstance(data, Mapping):
        if not data:
            raise ValueError("no probe results to draw")
        items = [(str(k), figure7_frame(v)) for k, v in data.items()]
    else:
        items = [("", figure7_frame(data))]
    rows, cols = len(items), len(panels)
    subtitles = []
    for label, _ in items:
        for rel in panels:
            kind = f"{count} channels" + (" / width" if rel else "")
            subtitles.append(f"{label}: {kind}" if label else kind)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=subtitles,
        horizontal_spacing=0.08,
        vertical_spacing=0.14 if rows > 1 else 0.1,
    )
    shown: set[str] = set()

    def add(trace: go.Scatter, r: int, c: int) -> None:
        name = str(trace.name)
        trace.legendgroup = name
        trace.showlegend = name not in shown
        shown.add(name)
        fig.add_trace(trace, row=r, col=c)

    for r, (_, frame) in enumerate(items, start=1):
        xs = (frame["expansion_layer"] if x == "layer" else frame["index"]).to_numpy(float)
        width = frame["hidden_channels"].to_numpy(float)
        for c, rel in enumerate(panels, start=1):
            scale = width if rel else np.ones_like(width)
            mean = frame[f"{prefix}_mean"].to_numpy(float) / scale
            std = frame[f"{prefix}_std"].to_numpy(float) / scale
            if band:
                add(
                    go.Scatter(
                        x=np.concatenate([xs, xs[::-1]]),
                        y=np.concatenate([mean + std, (mean - std)[::-1]]),
                        fill="toself",
                        fillcolor="rgba(31, 119, 180, 0.18)",
                        line={"width": 0},
                        hoverinfo="skip",
                        name="average +- std",
                    ),
                    r,
                    c,
                )
            lines = [
                ("total", width / scale, "solid", 1.0, "lines"),
                ("threshold", frame["threshold"].to_numpy(float) / scale, "dash", 1.2, "lines"),
                ("max", frame[f"{prefix}_max"].to_numpy(float) / scale, "dot", 1.2, "lines"),
                ("min", frame[f"{prefix}_min"].to_numpy(float) / scale, "dot", 1.2, "lines"),
                ("average", mean, "solid", 1.4, "lines+markers"),
            ]
            for name, y, dash, lw, mode in lines:
                add(
                    go.Scatter(
                        x=xs,
                        y=y,
                        mode=mode,
                        name=name,
                        line={"color": _COLORS[name], "dash": dash, "width": lw},
                        marker={"size": 4, "color": _COLORS[name]},
                    ),
                    r,
                    c,
                )
            fig.update_yaxes(
                title_text="fraction of channels" if rel else "channels",
                rangemode="tozero",
                row=r,
                col=c,
            )
    first = items[0][1]
    xtitle = "block index"
    if x == "layer":
        xtitle = "expansion layer"
        if (first["index"] == first["expansion_layer"] + 1).all():
            xtitle += " (block index - 1)"
    fig.update_xaxes(
        **_AXIS,
        title_text=xtitle,
        tickmode="array",
        tickvals=list((first["expansion_layer"] if x == "layer" else first["index"]).astype(int)),
    )
    fig.update_yaxes(**_AXIS)
    fig.update_annotations(font_size=13)
    fig.update_layout(
        template="plotly_white",
        font={"size": 12, "color": "black"},
        title={"text": title, "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 12}},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        margin={"l": 60, "r": 20, "t": 80 if title else 50, "b": 90},
        width=520 * cols,
        height=130 + 330 * rows,
    )
    return fig


def plot_id_profile(
    df: pd.DataFrame,
    *,
    x: str | None = None,
    color: str = "estimator",
    dash: str | None = "model",
    show_width: bool = False,
    title: str | None = None,
) -> go.Figure:
    """Intrinsic dimension across blocks: one line per estimator (and per model).

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``dimension``, the column named by ``color`` and a block column (``index``,
        ``block`` or ``name``); :func:`manifold_lab.probing.id_profile` returns such a frame.
    x : str or None, default=None
        The block column; None takes ``index``, else ``block``, else ``name``.
    color : str, default="estimator"
        One colour per value of this column.
    dash : str or None, default="model"
        One dash style per value of this column, when it exists and has several values.
    show_width : bool, default=False
        Also draw the ambient dimension (column ``n_features``) in grey.
    title : str or None, default=None

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> df = pd.DataFrame({"index": [2, 3, 2, 3], "estimator": ["twonn"] * 2 + ["mle"] * 2,
    ...                    "dimension": [5.0, 7.0, 6.0, 8.0]})
    >>> [t.name for t in plot_id_profile(df).data]
    ['twonn', 'mle']
    """
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise ValueError("plot_id_profile needs a non-empty DataFrame")
    if x is None:
        x = next((c for c in ("index", "block", "name") if c in df.columns), None)
        if x is None:
            raise ValueError("the frame needs a block column: index, block or name")
    for col in (x, color, "dimension"):
        if col not in df.columns:
            raise ValueError(f"the frame has no column {col!r}")
    use_dash = dash is not None and dash in df.columns and df[dash].nunique() > 1
    groups = list(dict.fromkeys(df[color]))
    dash_values = list(dict.fromkeys(df[dash])) if use_dash else [None]
    fig = go.Figure()
    for gi, g in enumerate(groups):
        for di, dv in enumerate(dash_values):
            part = df[df[color] == g]
            if use_dash:
                part = part[part[dash] == dv]
            if part.empty:
                continue
            if pd.api.types.is_numeric_dtype(part[x]):
                part = part.sort_values(x)
            name = f"{g}" if not use_dash else f"{g}, {dv}"
            fig.add_trace(
                go.Scatter(
                    x=part[x],
                    y=part["dimension"],
                    mode="lines+markers",
                    name=name,
                    line={
                        "color": _PALETTE[gi % len(_PALETTE)],
                        "dash": _DASHES[di % len(_DASHES)],
                        "width": 1.4,
                    },
                    marker={"size": 4},
                )
            )
    if show_width and "n_features" in df.columns:
        widths = df.drop_duplicates(x)
        if pd.api.types.is_numeric_dtype(widths[x]):
            widths = widths.sort_values(x)
        fig.add_trace(
            go.Scatter(
                x=widths[x],
                y=widths["n_features"],
                mode="lines",
                name="ambient dimension",
                line={"color": "grey", "width": 1},
            )
        )
    fig.update_xaxes(**_AXIS, title_text="block index" if x == "index" else x)
    fig.update_yaxes(**_AXIS, title_text="intrinsic dimension", rangemode="tozero")
    fig.update_layout(
        template="plotly_white",
        font={"size": 12, "color": "black"},
        title={"text": title},
        margin={"l": 60, "r": 20, "t": 60 if title else 30, "b": 50},
        width=760,
        height=440,
    )
    return fig
