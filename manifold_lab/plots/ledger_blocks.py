"""The information-loss ledger block by block: what each expansion and each branch keeps."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import TEMPLATE, color_of, rgba

__all__ = ["plot_ledger_blocks"]

_PANELS: tuple[tuple[str, str, bool], ...] = (
    ("exact_fraction", "recovered exactly (Lemma 2)", False),
    ("knn_recall_lemma2", "kNN recall of the recovered inputs", False),
    ("nmse_lemma2", "nmse, exact inverse", True),
    ("nmse_affine", "nmse, affine decoder of the expansion", True),
    ("nmse_block", "nmse, affine decoder of the whole branch", True),
)
"""The panels: column, title, log scale."""

_FLOOR = 1e-16
"""Log panels show errors below this (exact recovery, float rounding) at this value."""


def _frame(ledger: Any) -> pd.DataFrame:
    df = ledger.to_frame() if hasattr(ledger, "to_frame") else ledger
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise ValueError("plot_ledger_blocks needs a LedgerResult or its non-empty to_frame()")
    missing = [c for c in ("index", *(p[0] for p in _PANELS)) if c not in df.columns]
    if missing:
        raise ValueError(f"the ledger frame has no column {missing[0]!r}")
    return df


def plot_ledger_blocks(
    ledger: Any,
    *,
    by: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """The ledger's measurements against the block index, with their 95% intervals.

    Five panels: the fraction of sampled pixels recovered exactly by Lemma 2's inverse, the
    kNN recall of the recovered inputs, and the normalised error (the toy's ``nmse``) of the
    exact inverse, of the expansion's affine decoder and of the whole branch's affine decoder
    (log scales; errors of exact recovery, at float rounding, are drawn at ``1e-16``). Each
    point carries its bootstrap 95% interval over images where the frame has the columns
    ``<metric>_low`` and ``<metric>_high``. One line per value of ``by`` (e.g. one per
    network), or a single line.

    Parameters
    ----------
    ledger : LedgerResult or pandas.DataFrame
        The output of :func:`manifold_lab.probing.ledger`, or its :meth:`to_frame` (or
        several stacked, with a column naming each).
    by : str or None, default=None
        Column whose values get one line each (``None``: one line).
    title : str or None, default=None
        Figure title.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        The panels, a line per group.

    Raises
    ------
    ValueError
        If the frame is empty or lacks a column the panels need (or ``by``).

    See Also
    --------
    plot_ledger_phase : The same blocks on the toy's phase diagram.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"index": [2, 3], "exact_fraction": [1.0, 0.9],
    ...     "knn_recall_lemma2": [1.0, 0.8], "nmse_lemma2": [1e-15, 0.02],
    ...     "nmse_affine": [0.01, 0.03], "nmse_block": [0.4, 0.6]})
    >>> fig = plot_ledger_blocks(df)
    >>> len(fig.data)
    5
    """
    df = _frame(ledger)
    if by is not None and by not in df.columns:
        raise ValueError(f"the ledger frame has no column {by!r} to group by")
    groups: list[tuple[str | None, pd.DataFrame]] = (
        [(None, df)] if by is None else [(str(g), df[df[by] == g]) for g in dict.fromkeys(df[by])]
    )
    fig = make_subplots(
        rows=1,
        cols=len(_PANELS),
        subplot_titles=[p[1] for p in _PANELS],
        horizontal_spacing=0.045,
    )
    for i, (label, sub) in enumerate(groups):
        sub = sub.sort_values("index")
        color = color_of(i)
        for c, (col, panel, log) in enumerate(_PANELS, start=1):
            y = sub[col].astype(float)
            lo = sub.get(f"{col}_low")
            hi = sub.get(f"{col}_high")
            if log:
                y = y.clip(lower=_FLOOR)
            error_y = None
            if lo is not None and hi is not None:
                low = lo.astype(float).clip(lower=_FLOOR) if log else lo.astype(float)
                high = hi.astype(float).clip(lower=_FLOOR) if log else hi.astype(float)
                error_y = {
                    "type": "data",
                    "array": (high - y).clip(lower=0).to_numpy(),
                    "arrayminus": (y - low).clip(lower=0).to_numpy(),
                    "color": rgba(color, 0.6),
                    "thickness": 1,
                    "width": 2,
                }
            name = label if label is not None else "blocks"
            fig.add_trace(
                go.Scatter(
                    x=sub["index"],
                    y=y,
                    error_y=error_y,
                    mode="lines+markers",
                    line={"color": color, "width": 1.5},
                    marker={"size": 5},
                    name=name,
                    legendgroup=name,
                    showlegend=c == 1 and label is not None,
                    hovertemplate=f"{name}, block %{{x}}: %{{y:.3g}} ({panel})<extra></extra>",
                ),
                row=1,
                col=c,
            )
    for c, (_, _, log) in enumerate(_PANELS, start=1):
        if log:
            fig.update_yaxes(type="log", exponentformat="power", row=1, col=c)
        else:
            fig.update_yaxes(range=[-0.02, 1.02], row=1, col=c)
    fig.update_xaxes(title_text="block index", dtick=2)
    fig.update_annotations(font_size=12)
    fig.update_layout(
        template=TEMPLATE,
        title=title or "The information-loss ledger, block by block",
        height=420,
        legend={"orientation": "h", "y": -0.22},
        margin={"l": 50, "r": 20, "t": 90, "b": 60},
    )
    return fig
