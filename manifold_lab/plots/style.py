"""The house style every figure draws with: one template, one palette, one set of axes.

Figures take their colours, template and axis styles from here, so that a change of style
is made once and every figure follows it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AXIS3",
    "BOX_AXIS",
    "COLORSCALE",
    "FRAME_AXIS",
    "INK",
    "LINE_COLOR",
    "NOT_INVERTIBLE_COLOR",
    "PALETTE",
    "PAPER_LINE_COLOR",
    "TEMPLATE",
    "TICK_AXIS",
    "color_of",
    "rgba",
]

TEMPLATE = "plotly_white"
"""The plotly template of every figure."""

PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#17becf",
)
"""Categorical colours, in the order curves take them."""

COLORSCALE = "Viridis"
"""Continuous colour scale (intrinsic coordinates, probabilities)."""

LINE_COLOR = "rgba(60, 60, 60, 0.6)"
"""Light line through coloured points."""
PAPER_LINE_COLOR = "#1f1f1f"
"""The thin dark line of the paper's Figure 1."""
NOT_INVERTIBLE_COLOR = "#d62728"
"""Marks of points where Lemma 2 fails."""
INK = "#111111"
"""Near-black: marks of collapsed points, totals."""

BOX_AXIS: dict[str, Any] = {
    "showline": True,
    "mirror": True,
    "linecolor": "black",
    "linewidth": 1,
    "showticklabels": False,
    "showgrid": False,
    "zeroline": False,
    "ticks": "",
}
"""Boxed 2-D axes without ticks or grid, as the paper's Figure 1."""

TICK_AXIS: dict[str, Any] = {
    "showline": True,
    "mirror": True,
    "linecolor": "black",
    "linewidth": 1,
    "ticks": "outside",
    "showgrid": False,
    "zeroline": False,
}
"""Boxed axes with ticks outside and no grid (Figure 7, profiles, learning curves)."""

FRAME_AXIS: dict[str, Any] = {"showline": True, "mirror": True, "linecolor": "black"}
"""Boxed axes that keep the template's grid (width curves, phase diagram)."""

AXIS3: dict[str, Any] = {"showticklabels": False, "title": {"text": ""}, "showbackground": False}
"""3-D scene axes without ticks, titles or background."""


def color_of(i: int) -> str:
    """The ``i``-th colour of :data:`PALETTE`, cycling.

    Examples
    --------
    >>> color_of(0), color_of(len(PALETTE))
    ('#1f77b4', '#1f77b4')
    """
    return PALETTE[i % len(PALETTE)]


def rgba(hex_color: str, alpha: float) -> str:
    """A ``#rrggbb`` colour with opacity ``alpha``, as plotly's ``rgba(...)`` string.

    Examples
    --------
    >>> rgba("#1f77b4", 0.18)
    'rgba(31, 119, 180, 0.18)'
    """
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"
