"""Writing figures to files: PNG, SVG, PDF (through kaleido and Chromium) or HTML."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from ..fileio import atomic_write_text

__all__ = ["FIGURE_FORMATS", "figure_bytes", "figure_format", "save_figure"]

FIGURE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf", "html")
"""Formats :func:`save_figure` writes, by file suffix."""


def _find_browser() -> None:
    """Point kaleido at Debian's Chromium when no browser is configured."""
    if os.environ.get("BROWSER_PATH"):
        return
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            os.environ["BROWSER_PATH"] = path
            return


def figure_format(path: Any) -> str:
    """The format :func:`save_figure` would write ``path`` in; raise if it cannot.

    Checks the suffix and that the folder exists, so that a caller can fail before a long
    computation rather than after it.

    Parameters
    ----------
    path : str or path-like
        The target file.

    Returns
    -------
    fmt : {"png", "svg", "pdf", "html"}
        The format the suffix names (case ignored).

    Examples
    --------
    >>> figure_format("fig1.PDF")
    'pdf'
    """
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; use .png, .svg, .pdf or .html")
    if not p.parent.exists():
        raise ValueError(f"the folder {p.parent} does not exist; create it first")
    return fmt


def save_figure(
    fig: go.Figure,
    path: Any,
    *,
    width: int | None = None,
    height: int | None = None,
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
    width, height : int or None, default=None
        Size in CSS pixels; ``None`` takes the figure's own size (``fig.layout.width``,
        ``fig.layout.height``, which :func:`~manifold_lab.plots.plot_figure1` sets) or else
        1000 x 600.
    scale : float, default=2.0
        Resolution multiplier for PNG.

    Returns
    -------
    path : pathlib.Path
        The file written.
    """
    p = Path(path)
    fmt = figure_format(p)
    return atomic_write_text(p, figure_bytes(fig, fmt, width=width, height=height, scale=scale))


def figure_bytes(
    fig: go.Figure,
    fmt: str,
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float = 2.0,
) -> bytes:
    """A figure as the bytes of a PNG, SVG, PDF or self-contained HTML file.

    What :func:`save_figure` writes, without a file (e.g. for a download button).

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The figure.
    fmt : {"png", "svg", "pdf", "html"}
        The format.
    width, height : int or None, default=None
        Size in CSS pixels, as for :func:`save_figure`.
    scale : float, default=2.0
        Resolution multiplier for PNG.

    Returns
    -------
    data : bytes

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> b"Plotly.newPlot" in figure_bytes(go.Figure(), "html")
    True
    """
    fmt = str(fmt).lower()
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; use one of {', '.join(FIGURE_FORMATS)}")
    if fmt == "html":
        return fig.to_html(include_plotlyjs=True, full_html=True).encode()
    width = width or fig.layout.width or 1000
    height = height or fig.layout.height or 600
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
    return bytes(data)
