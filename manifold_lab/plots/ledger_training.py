"""The information-loss ledger over training: when each block loses or keeps its input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import TEMPLATE

__all__ = ["plot_ledger_training"]

_PANELS = (
    ("exact_fraction", "recovered exactly (Lemma 2)", False),
    ("nmse_affine", "nmse, affine decoder of the expansion", True),
    ("nmse_block", "nmse, affine decoder of the whole branch", True),
)


def plot_ledger_training(frame: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Ledger measurements of kept checkpoints against the training epoch, per run.

    One column of panels per run (e.g. the linear and the ReLU6 bottleneck), rows: the
    fraction of sampled pixels recovered exactly, the expansion's affine-decoder nmse and the
    whole branch's affine-decoder nmse; one line per block (darker: deeper), with the test
    accuracy of each checkpoint in the column title.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows of :meth:`LedgerResult.to_frame` with the added columns ``run`` (a label),
        ``epoch`` and ``test_acc``.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    fig : plotly.graph_objects.Figure
        The panels, a line per block and run.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"run": ["a"] * 4, "epoch": [1, 1, 2, 2], "test_acc": [.5, .5, .6, .6],
    ...     "name": ["b1", "b2"] * 2, "index": [1, 2] * 2, "exact_fraction": [1, .9, 1, .8],
    ...     "nmse_affine": [.1, .2, .1, .3], "nmse_block": [.5, .6, .5, .7]})
    >>> fig = plot_ledger_training(df)
    >>> len(fig.data)
    6
    """
    need = {"run", "epoch", "name", "index", "test_acc"} | {p[0] for p in _PANELS}
    missing = sorted(need - set(frame.columns))
    if missing:
        raise ValueError(f"the frame lacks the column(s) {missing}")
    runs = list(dict.fromkeys(frame["run"]))
    titles = []
    for run in runs:
        acc = frame[frame["run"] == run].groupby("epoch")["test_acc"].first()
        titles.append(f"{run} (test accuracy {acc.iloc[0]:.0%} to {acc.iloc[-1]:.0%})")
    fig = make_subplots(
        rows=len(_PANELS),
        cols=len(runs),
        shared_xaxes=True,
        column_titles=titles,
        vertical_spacing=0.07,
        horizontal_spacing=0.06,
    )
    blocks = frame[["index", "name"]].drop_duplicates().sort_values("index")
    n = max(len(blocks), 1)
    import plotly.colors as pc

    colors = pc.sample_colorscale("Viridis", list(np.linspace(0.0, 0.9, n)))
    for c, run in enumerate(runs, start=1):
        sub = frame[frame["run"] == run]
        for b, (_, blk) in enumerate(blocks.iterrows()):
            rows = sub[sub["name"] == blk["name"]].sort_values("epoch")
            if rows.empty:
                continue
            for r, (col, _, _) in enumerate(_PANELS, start=1):
                fig.add_trace(
                    go.Scatter(
                        x=rows["epoch"],
                        y=rows[col],
                        mode="lines+markers",
                        line={"color": colors[b], "width": 1.5},
                        marker={"size": 5},
                        name=f"block {blk['index']}",
                        legendgroup=str(blk["name"]),
                        showlegend=c == 1 and r == 1,
                        hovertemplate=f"block {blk['index']}, epoch %{{x}}: %{{y:.3g}}"
                        "<extra></extra>",
                    ),
                    row=r,
                    col=c,
                )
    for r, (_, label, log) in enumerate(_PANELS, start=1):
        fig.update_yaxes(title_text=label if r else None, row=r, col=1)
        if log:
            fig.update_yaxes(type="log", row=r)
        else:
            fig.update_yaxes(range=[-0.02, 1.02], row=r)
    fig.update_xaxes(title_text="epoch", row=len(_PANELS))
    fig.update_layout(
        template=TEMPLATE,
        title=title or "The information-loss ledger over training",
        height=260 * len(_PANELS) + 80,
        legend={"title": {"text": "block"}},
        margin={"l": 70, "r": 20, "t": 80, "b": 50},
    )
    return fig
