"""The layer's linear regions in the input plane, with the manifold drawn on top."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..partition import Partition, collapse_partners
from .style import TEMPLATE

__all__ = ["plot_partition"]

# light to dark: few to many informative rows
_SCALE = "Blues"
_FAIL_COLOR = "#d62728"


def _polygon_path(polys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """x and y of closed polygons, separated by NaN (one trace draws them all; plotly breaks
    a line and a fill at NaN, and takes a float array without checking it item by item)."""
    if not polys:
        return np.empty(0), np.empty(0)
    path = np.concatenate([np.vstack([p, p[:1], [[np.nan, np.nan]]]) for p in polys])
    return path[:, 0], path[:, 1]


def plot_partition(
    part: Partition,
    *,
    case: Any = None,
    points: bool = True,
    partners: bool = True,
    title: str | None = None,
    count_slots: int | None = None,
) -> go.Figure:
    """Draw the input plane cut into the layer's linear regions.

    Each region is filled by its number of informative rows (darker: more rows carry the
    input); regions where Lemma 2 fails (the informative rows have rank below the span's
    dimension ``k``, so the layer cannot be inverted there) are hatched in red. The
    manifold's points are drawn on top, and for a case the collapsed points are joined to
    the distinct input their output lands on.

    Parameters
    ----------
    part : Partition
        From :func:`manifold_lab.partition.layer_partition` or
        :func:`~manifold_lab.partition.case_partition`.
    case : CaseResult or None, default=None
        The case the partition came from, to join collapsed points to their partners.
    points : bool, default=True
        Draw the manifold's points.
    partners : bool, default=True
        Join collapsed points to their partners (needs ``case``).
    title : str or None, default=None
        Figure title; None describes the partition.
    count_slots : int or None, default=None
        Draw one region trace for every count ``0 .. count_slots`` and always the Lemma 2,
        points and pairs traces (empty when there is nothing to draw), so that figures of
        several widths have the same traces (animation frames); None draws only what exists.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        The regions as filled polygons (one trace per count), the hatched Lemma 2 failures,
        the points and the collapsed pairs.

    Examples
    --------
    >>> import manifold_lab as ml
    >>> from manifold_lab.partition import case_partition
    >>> case = ml.run_case("spiral", width=3, seed=0, n_samples=200)
    >>> fig = plot_partition(case_partition(case), case=case)
    >>> [t.name for t in fig.data][:2]
    ['1 informative row', '2 informative rows']
    """
    fig = go.Figure()
    counts = np.asarray(part.n_informative)
    top = max(int(count_slots or part.pieces.shape[1]), 1)
    import plotly.colors as pc

    levels = np.unique(counts) if count_slots is None else np.arange(count_slots + 1)
    for n in levels:
        polys = [part.polygons[i] for i in np.nonzero(counts == n)[0]]
        xs, ys = _polygon_path(polys)
        color = pc.sample_colorscale(_SCALE, [0.08 + 0.84 * float(n) / top])[0]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                fill="toself",
                fillcolor=color,
                mode="lines",
                line={"color": "rgba(60,60,60,0.55)", "width": 0.6},
                name=f"{int(n)} informative row{'' if n == 1 else 's'}",
                legendgroup="regions",
                hoverinfo="name",
                showlegend=bool(polys),
            )
        )
    fail = [part.polygons[i] for i in np.nonzero(~part.lemma2)[0]]
    if fail or count_slots is not None:
        xs, ys = _polygon_path(fail)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                fill="toself",
                fillcolor="rgba(0,0,0,0)",
                fillpattern={"shape": "/", "fgcolor": _FAIL_COLOR, "size": 7, "solidity": 0.25},
                mode="lines",
                line={"color": _FAIL_COLOR, "width": 1.2},
                name=f"Lemma 2 fails (rank < k = {part.k})",
                hoverinfo="name",
            )
        )
    if points:
        uv = part.coords
        fig.add_trace(
            go.Scatter(
                x=uv[:, 0],
                y=uv[:, 1],
                mode="markers",
                marker={"size": 3.5, "color": "#222222"},
                name="manifold",
                hoverinfo="skip",
            )
        )
    if partners and case is not None:
        pairs = collapse_partners(case)
        if len(pairs) or count_slots is not None:
            uv = part.coords
            ij = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
            seg = np.full((len(ij), 3, 2), np.nan)
            seg[:, 0], seg[:, 1] = uv[ij[:, 0]], uv[ij[:, 1]]
            px, py = seg[:, :, 0].ravel(), seg[:, :, 1].ravel()
            fig.add_trace(
                go.Scatter(
                    x=px,
                    y=py,
                    mode="lines+markers",
                    line={"color": "#ff7f0e", "width": 1.2},
                    marker={"size": 5, "color": "#ff7f0e"},
                    name=f"collapsed pairs ({len(pairs)})",
                    hoverinfo="skip",
                )
            )
    u0, u1, v0, v1 = part.bounds
    width = part.pieces.shape[1]
    fig.update_layout(
        template=TEMPLATE,
        # the title sits below the row of plotly's toolbar (top right), not under it
        title={
            "text": title
            or f"Linear regions of {part.activation}(T x + b), width {width}: "
            f"{len(part.polygons)} regions, Lemma 2 holds in {int(part.lemma2.sum())}",
            "x": 0.01,
            "xanchor": "left",
            "yref": "container",
            "y": 1.0,
            "yanchor": "top",
            "pad": {"t": 36},
        },
        xaxis={"range": [u0, u1], "title": "u", "constrain": "domain"},
        yaxis={"range": [v0, v1], "title": "v", "scaleanchor": "x", "scaleratio": 1},
        legend={"orientation": "v", "x": 1.02, "y": 1.0},
        height=560,
        margin={"l": 50, "r": 10, "t": 80, "b": 40},
    )
    return fig
