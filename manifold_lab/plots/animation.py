"""Width as a movie: one frame per layer width, with play and a slider; HTML, GIF or MP4.

:func:`plot_width_animation` turns cases of several widths (from
:func:`manifold_lab.run_case`, or for the partition view
:func:`manifold_lab.partition.partition_cases`, which computes only what it draws) into one
plotly figure with animation frames, so the transition
from collapse to preservation (``n`` around 2k to 7k) can be watched. Two views: ``"case"``
(the manifold page's figure: input and reconstruction) and ``"partition"`` (the layer's linear
regions, :func:`~manifold_lab.plots.plot_partition`). :func:`save_animation` writes it as a
self-contained HTML file (nothing else needed), or renders every frame through kaleido (needs
Chrome or Chromium, about a second per frame) into an animated GIF with Pillow or an MP4 with
imageio-ffmpeg (``pip install imageio-ffmpeg``, which ships its own ffmpeg).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from ..fileio import atomic_write_text
from .export import figure_bytes

__all__ = ["ANIMATION_FORMATS", "ANIMATION_VIEWS", "plot_width_animation", "save_animation"]

ANIMATION_VIEWS: tuple[str, ...] = ("partition", "case")
"""Views :func:`plot_width_animation` draws."""

ANIMATION_FORMATS: tuple[str, ...] = ("html", "gif", "mp4")
"""Formats :func:`save_animation` writes, by file suffix."""


def _controls(widths: list[int], frame_ms: int, redraw: bool) -> dict[str, Any]:
    """The play/pause buttons and the width slider, as layout entries."""
    anim = {"frame": {"duration": frame_ms, "redraw": redraw}, "transition": {"duration": 0}}
    return {
        "updatemenus": [
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -0.12,
                "xanchor": "left",
                "yanchor": "top",
                "showactive": False,
                "buttons": [
                    {"label": "Play", "method": "animate", "args": [None, anim]},
                    {
                        "label": "Pause",
                        "method": "animate",
                        "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}],
                    },
                ],
            }
        ],
        "sliders": [
            {
                "active": 0,
                "x": 0.12,
                "y": -0.08,
                "len": 0.85,
                "currentvalue": {"prefix": "width n = "},
                "steps": [
                    {
                        "label": str(w),
                        "method": "animate",
                        "args": [[str(w)], {**anim, "mode": "immediate"}],
                    }
                    for w in widths
                ],
            }
        ],
    }


def _partition_movie(cases: list[Any], frame_ms: int) -> go.Figure:
    """The partition view's movie, built from plain dicts (no per-frame validation)."""
    from ..partition import PartitionCase, case_partition, collapse_partners
    from .partition import partition_layout, partition_title, partition_traces

    slots = max(c.width for c in cases)
    parts = [
        (c.partition, c.pairs)
        if isinstance(c, PartitionCase)
        else (case_partition(c), collapse_partners(c))
        for c in cases
    ]
    titles = [partition_title(part) for part, _ in parts]
    layout = partition_layout(parts[0][0], titles[0])
    frames = [
        {
            "data": partition_traces(part, pairs=pairs, count_slots=slots),
            "layout": {"title": {**layout["title"], "text": title}},
            "name": str(c.width),
        }
        for c, (part, pairs), title in zip(cases, parts, titles, strict=True)
    ]
    # the partition's traces are the same in number in every frame: no redraw
    layout.update(_controls([c.width for c in cases], frame_ms, redraw=False))
    layout["margin"] = {**layout["margin"], "b": 120}
    return go.Figure(data=frames[0]["data"], layout=layout, frames=frames, _validate=False)


def plot_width_animation(
    cases: Sequence[Any],
    *,
    view: str = "partition",
    frame_ms: int = 700,
) -> go.Figure:
    """One figure whose frames are the cases' figures, in order of width.

    Parameters
    ----------
    cases : sequence of CaseResult or PartitionCase
        The same manifold, activation and seed at several widths (e.g.
        ``[ml.run_case("spiral", width=w) for w in range(2, 32)]``, or for the partition
        view, several times faster, ``partition_cases("spiral", widths=range(2, 32))`` from
        :mod:`manifold_lab.partition`).
    view : {"partition", "case"}, default="partition"
        ``"partition"``: the layer's linear regions with the manifold on top (computed here
        from each case with :func:`~manifold_lab.partition.case_partition`, or taken from a
        :class:`~manifold_lab.partition.PartitionCase`); ``"case"``: input and
        reconstruction as on the manifold page (needs cases from ``run_case``).
    frame_ms : int, default=700
        Time per frame when playing.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        The first width's figure, with one frame per case, a play button and a width slider.

    Examples
    --------
    >>> import manifold_lab as ml
    >>> cases = [ml.run_case("spiral", width=w, n_samples=200) for w in (2, 3, 5)]
    >>> fig = plot_width_animation(cases)
    >>> [f.name for f in fig.frames], len(fig.layout.sliders[0].steps)
    (['2', '3', '5'], 3)
    >>> from manifold_lab.partition import partition_cases
    >>> fast = plot_width_animation(partition_cases("spiral", widths=(2, 3, 5), n_samples=200))
    >>> fast.to_json() == fig.to_json()
    True
    """
    if view not in ANIMATION_VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {', '.join(ANIMATION_VIEWS)}")
    cases = list(cases)
    if not cases:
        raise ValueError("no cases to animate: pass cases at one or more widths")
    if len({(c.manifold.name, c.activation, c.seed) for c in cases}) > 1:
        raise ValueError(
            "the cases differ in manifold, activation or seed; animate one setting over widths"
        )
    cases = sorted(cases, key=lambda c: c.width)
    if view == "partition":
        return _partition_movie(cases, frame_ms)
    from ..partition import PartitionCase
    from .case import plot_case

    if any(isinstance(c, PartitionCase) for c in cases):
        raise ValueError(
            "the case view needs full cases from run_case (a PartitionCase has no reconstruction)"
        )
    figs = [plot_case(c) for c in cases]
    fig = go.Figure(figs[0])
    fig.frames = [
        go.Frame(data=f.data, layout={"title": f.layout.title}, name=str(c.width))
        for c, f in zip(cases, figs, strict=True)
    ]
    # the case view's traces change in number from width to width: redraw every frame
    fig.update_layout(_controls([c.width for c in cases], frame_ms, redraw=True))
    fig.update_layout(margin={"b": 120})
    return fig


def _frames_as_images(
    fig: go.Figure,
    width: int,
    height: int,
    progress: bool | None,
    callback: Callable[[int, int], None] | None,
) -> list[Any]:
    """Every frame as a still PIL image (kaleido, one PNG per frame)."""
    from PIL import Image

    from .._progress import progress_bar

    frames = list(fig.frames) or [go.Frame(data=fig.data)]
    layout = go.Layout(fig.layout)
    layout.updatemenus = ()
    layout.sliders = ()
    layout.margin.b = 40
    images = []
    for i, frame in enumerate(progress_bar(frames, progress=progress, desc="frames", unit="frame")):
        still = go.Figure(data=frame.data, layout=layout)
        if frame.layout is not None and frame.layout.title is not None:
            still.update_layout(title=frame.layout.title)
        png = figure_bytes(still, "png", width=width, height=height, scale=1)
        images.append(Image.open(io.BytesIO(png)).convert("RGB"))
        if callback is not None:
            callback(i + 1, len(frames))
    return images


def save_animation(
    fig: go.Figure,
    path: str | os.PathLike[str],
    *,
    frame_ms: int = 700,
    width: int = 900,
    height: int = 620,
    progress: bool | None = True,
    callback: Callable[[int, int], None] | None = None,
) -> Path:
    """Write an animation from :func:`plot_width_animation` to HTML, GIF or MP4, atomically.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The animated figure.
    path : str or path-like
        Target; the suffix picks the format: ``.html`` (self-contained, interactive, instant),
        ``.gif`` (Pillow) or ``.mp4`` (imageio-ffmpeg). GIF and MP4 render every frame with
        kaleido (Chrome or Chromium needed; about a second per frame).
    frame_ms : int, default=700
        Time per frame in the GIF or MP4.
    width, height : int, default=900, 620
        Frame size in pixels for GIF and MP4.
    progress : bool or None, default=True
        Progress bar over frames.
    callback : callable or None, default=None
        Called as ``callback(frames_done, frames_total)`` after every rendered frame (for the
        explorer's progress bar).

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        For an unknown suffix or a missing folder.
    RuntimeError
        When static export or the MP4 encoder is not available (the message says what to
        install).
    """
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in ANIMATION_FORMATS:
        raise ValueError(f"unknown animation format {fmt!r}; use .html, .gif or .mp4")
    if not p.parent.exists():
        raise ValueError(f"the folder {p.parent} does not exist; create it first")
    if fmt == "html":
        html = fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False)
        return atomic_write_text(p, html)
    if fmt == "mp4":
        try:
            import imageio_ffmpeg
        except ImportError as exc:
            raise RuntimeError(
                "MP4 export needs imageio-ffmpeg: pip install imageio-ffmpeg (or save as .gif "
                "or .html)"
            ) from exc
    images = _frames_as_images(fig, width, height, progress, callback)
    buf = io.BytesIO()
    if fmt == "gif":
        images[0].save(
            buf,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=int(frame_ms),
            loop=0,
        )
        return atomic_write_text(p, buf.getvalue())
    import tempfile

    import numpy as np

    fd, tmp = tempfile.mkstemp(suffix=".mp4", dir=p.parent)
    os.close(fd)
    try:
        writer = imageio_ffmpeg.write_frames(
            tmp, (width, height), fps=1000.0 / frame_ms, macro_block_size=1, quality=8
        )
        writer.send(None)
        for im in images:
            writer.send(np.ascontiguousarray(np.asarray(im.resize((width, height)))))
        writer.close()
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p
