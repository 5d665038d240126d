"""The paper's Figure 7: positive channels per pixel in every expansion layer of a probe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import INK, PALETTE, TEMPLATE, TICK_AXIS, rgba

__all__ = ["figure7_frame", "plot_figure7"]

_COLORS = {
    "average": PALETTE[0],
    "min": PALETTE[2],
    "max": PALETTE[4],
    "total": INK,
    "threshold": PALETTE[1],
}
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
        Sorted by block index. A result that has counted nothing yet
        (:meth:`ProbeResult.from_blocks <manifold_lab.probing.ProbeResult.from_blocks>`)
        gives the blocks with NaN counts.
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
    counted = frame["pos_mean"].notna()
    if counted.any():  # else nothing is counted yet: the structure alone
        frame = frame[counted]
    frame = frame[frame["hidden_channels"].notna()]
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
    cannot hold), in absolute numbers and relative to the width. Before any image is counted
    (a result from :meth:`ProbeResult.from_blocks
    <manifold_lab.probing.ProbeResult.from_blocks>`) only the widths and the threshold are
    drawn.

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
        One row of panels per probe result (absolute and/or relative counts), with the
        average, its band, the minimum, the maximum, the width and the threshold as traces.

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
            if band and np.isfinite(mean).any():
                add(
                    go.Scatter(
                        x=np.concatenate([xs, xs[::-1]]),
                        y=np.concatenate([mean + std, (mean - std)[::-1]]),
                        fill="toself",
                        fillcolor=rgba(_COLORS["average"], 0.18),
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
                if not np.isfinite(y).any():
                    continue
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
        **TICK_AXIS,
        title_text=xtitle,
        tickmode="array",
        tickvals=list((first["expansion_layer"] if x == "layer" else first["index"]).astype(int)),
    )
    fig.update_yaxes(**TICK_AXIS)
    fig.update_annotations(font_size=13)
    fig.update_layout(
        template=TEMPLATE,
        font={"size": 12, "color": "black"},
        title={"text": title, "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 12}},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        margin={"l": 60, "r": 20, "t": 80 if title else 50, "b": 90},
        width=520 * cols,
        height=130 + 330 * rows,
    )
    return fig
