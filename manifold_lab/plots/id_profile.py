"""Intrinsic dimension across the blocks of a network: one line per estimator and model."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from ..registry import ID_ESTIMATOR_LABELS
from .style import TEMPLATE, TICK_AXIS, color_of

__all__ = ["plot_id_profile"]

_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")


def plot_id_profile(
    df: pd.DataFrame,
    *,
    x: str | None = None,
    color: str = "estimator",
    dash: str | None = "model",
    show_width: bool = False,
    labels: Mapping[str, str] | None = None,
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
    labels : mapping of str to str or None, default=None
        Legend names of the values of the ``color`` column; None names estimators by
        :data:`~manifold_lab.registry.ID_ESTIMATOR_LABELS` (``"twonn"`` as ``"TwoNN"``) and
        shows other values as they are.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One line with markers per ``color`` value (and ``dash`` value), dimension against
        block.

    Examples
    --------
    >>> df = pd.DataFrame({"index": [2, 3, 2, 3], "estimator": ["twonn"] * 2 + ["mle"] * 2,
    ...                    "dimension": [5.0, 7.0, 6.0, 8.0]})
    >>> [t.name for t in plot_id_profile(df).data]
    ['TwoNN', 'MLE (Levina-Bickel, k=20)']
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
    names = dict(labels) if labels is not None else {}
    if labels is None and color == "estimator":
        names = dict(ID_ESTIMATOR_LABELS)
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
            shown = names.get(str(g), str(g))
            name = shown if not use_dash else f"{shown}, {dv}"
            fig.add_trace(
                go.Scatter(
                    x=part[x],
                    y=part["dimension"],
                    mode="lines+markers",
                    name=name,
                    line={
                        "color": color_of(gi),
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
    fig.update_xaxes(**TICK_AXIS, title_text="block index" if x == "index" else x)
    fig.update_yaxes(**TICK_AXIS, title_text="intrinsic dimension", rangemode="tozero")
    fig.update_layout(
        template=TEMPLATE,
        font={"size": 12, "color": "black"},
        title={"text": title},
        margin={"l": 60, "r": 20, "t": 60 if title else 30, "b": 50},
        width=760,
        height=440,
    )
    return fig
