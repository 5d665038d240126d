"""The layer's linear regions in the input plane, with the manifold drawn on top."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
import plotly.io as pio

from ..partition import Partition, collapse_partners
from .style import TEMPLATE

__all__ = ["partition_layout", "partition_title", "partition_traces", "plot_partition"]

# light to dark: few to many informative rows
_SCALE = "Blues"
_FAIL_COLOR = "#d62728"


def _polygon_path(polys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """x and y of closed polygons, separated by NaN (one trace draws them all; plotly breaks
    a line and a fill at NaN, and takes a float array without checking it item by item)."""
    if not len(polys):
        return np.empty(0), np.empty(0)
    sizes = np.fromiter((len(p) for p in polys), dtype=np.int64, count=len(polys))
    verts = np.concatenate(polys)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    # each polygon's vertices, its first vertex again, then a NaN row
    out_starts = starts + 2 * np.arange(len(sizes))
    path = np.full((len(verts) + 2 * len(sizes), 2), np.nan)
    owner = np.repeat(np.arange(len(sizes)), sizes)
    path[np.arange(len(verts)) + 2 * owner] = verts
    path[out_starts + sizes] = verts[starts]
    return path[:, 0], path[:, 1]


def _level_colors(levels: np.ndarray, top: int) -> list[str]:
    """The fill colour of each count of informative rows (light: few, dark: many)."""
    return list(pc.sample_colorscale(_SCALE, [0.08 + 0.84 * float(n) / top for n in levels]))


def partition_traces(
    part: Partition,
    *,
    pairs: np.ndarray | None = None,
    points: bool = True,
    count_slots: int | None = None,
) -> list[dict[str, Any]]:
    """The traces of :func:`plot_partition`, as plain dicts (for animation frames).

    Parameters
    ----------
    part : Partition
        The regions.
    pairs : ndarray of shape (n_pairs, 2) or None, default=None
        Collapsed points and their partners (:func:`~manifold_lab.partition.collapse_partners`);
        None draws no pairs.
    points : bool, default=True
        Draw the manifold's points.
    count_slots : int or None, default=None
        As in :func:`plot_partition`.

    Returns
    -------
    traces : list of dict
        Plotly scatter traces: regions by count, Lemma 2 failures, points, pairs.
    """
    traces: list[dict[str, Any]] = []
    counts = np.asarray(part.n_informative)
    top = max(int(count_slots or part.pieces.shape[1]), 1)
    levels = np.unique(counts) if count_slots is None else np.arange(count_slots + 1)
    for n, color in zip(levels, _level_colors(levels, top), strict=True):
        polys = [part.polygons[i] for i in np.nonzero(counts == n)[0]]
        xs, ys = _polygon_path(polys)
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "fill": "toself",
                "fillcolor": color,
                "mode": "lines",
                "line": {"color": "rgba(60,60,60,0.55)", "width": 0.6},
                "name": f"{int(n)} informative row{'' if n == 1 else 's'}",
                "legendgroup": "regions",
                "hoverinfo": "name",
                "showlegend": bool(polys),
            }
        )
    fail = [part.polygons[i] for i in np.nonzero(~part.lemma2)[0]]
    if fail or count_slots is not None:
        xs, ys = _polygon_path(fail)
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "fill": "toself",
                "fillcolor": "rgba(0,0,0,0)",
                "fillpattern": {
                    "shape": "/",
                    "fgcolor": _FAIL_COLOR,
                    "size": 7,
                    "solidity": 0.25,
                },
                "mode": "lines",
                "line": {"color": _FAIL_COLOR, "width": 1.2},
                "name": f"Lemma 2 fails (rank < k = {part.k})",
                "hoverinfo": "name",
            }
        )
    uv = part.coords
    if points:
        traces.append(
            {
                "type": "scatter",
                "x": uv[:, 0],
                "y": uv[:, 1],
                "mode": "markers",
                "marker": {"size": 3.5, "color": "#222222"},
                "name": "manifold",
                "hoverinfo": "skip",
            }
        )
    if pairs is not None and (len(pairs) or count_slots is not None):
        ij = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        seg = np.full((len(ij), 3, 2), np.nan)
        seg[:, 0], seg[:, 1] = uv[ij[:, 0]], uv[ij[:, 1]]
        traces.append(
            {
                "type": "scatter",
                "x": seg[:, :, 0].ravel(),
                "y": seg[:, :, 1].ravel(),
                "mode": "lines+markers",
                "line": {"color": "#ff7f0e", "width": 1.2},
                "marker": {"size": 5, "color": "#ff7f0e"},
                "name": f"collapsed pairs ({len(ij)})",
                "hoverinfo": "skip",
            }
        )
    return traces


def partition_title(part: Partition) -> str:
    """The default title of :func:`plot_partition`: activation, width, regions, Lemma 2."""
    return (
        f"Linear regions of {part.activation}(T x + b), width {part.pieces.shape[1]}: "
        f"{len(part.polygons)} regions, Lemma 2 holds in {int(part.lemma2.sum())}"
    )


def partition_layout(part: Partition, title: str) -> dict[str, Any]:
    """The layout of :func:`plot_partition`, as a plain dict (the template included)."""
    u0, u1, v0, v1 = part.bounds
    return {
        "template": pio.templates[TEMPLATE],
        # the title sits below the row of plotly's toolbar (top right), not under it
        "title": {
            "text": title,
            "x": 0.01,
            "xanchor": "left",
            "yref": "container",
            "y": 1.0,
            "yanchor": "top",
            "pad": {"t": 36},
        },
        "xaxis": {"range": [u0, u1], "title": {"text": "u"}, "constrain": "domain"},
        "yaxis": {
            "range": [v0, v1],
            "title": {"text": "v"},
            "scaleanchor": "x",
            "scaleratio": 1,
        },
        "legend": {"orientation": "v", "x": 1.02, "y": 1.0},
        "height": 560,
        "margin": {"l": 50, "r": 10, "t": 80, "b": 40},
    }


def plot_partition(
    part: Partition,
    *,
    case: Any = None,
    pairs: Any = None,
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
    pairs : array-like of shape (n_pairs, 2) or None, default=None
        The collapsed pairs already computed (as :func:`~manifold_lab.partition.PartitionCase`
        holds them), instead of searching them in ``case``.
    points : bool, default=True
        Draw the manifold's points.
    partners : bool, default=True
        Join collapsed points to their partners (needs ``case`` or ``pairs``).
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
    if not partners:
        pairs = None
    elif pairs is None and case is not None:
        pairs = collapse_partners(case)
    layout = partition_layout(part, title or partition_title(part))
    traces = partition_traces(part, pairs=pairs, points=points, count_slots=count_slots)
    # plain dicts, built without plotly's validation (and its copy of the template per
    # figure): the same figure, several times faster
    return go.Figure(data=traces, layout=layout, _validate=False)
