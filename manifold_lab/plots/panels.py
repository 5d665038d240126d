"""Drawing a manifold's points in a panel: the view, the traces, the order, the marks.

The pieces that :func:`~manifold_lab.plots.plot_case` and
:func:`~manifold_lab.plots.plot_figure1` share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..core import CaseResult
from ..manifolds import Manifold
from .style import INK, NOT_INVERTIBLE_COLOR

__all__ = ["curve_order", "highlight_masks", "point_trace", "project"]


def project(X: np.ndarray, X_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Coordinates to draw for the input and the reconstruction, and a note on the view.

    1-D data is drawn against the sample index, 2-D and 3-D data as they are, and
    higher-dimensional data on the first two principal components of the input (the same
    projection is applied to the reconstruction).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The input points.
    X_hat : ndarray of shape (n_samples, n_features)
        Their reconstruction.

    Returns
    -------
    P_in, P_out : ndarray of shape (n_samples, 2) or (n_samples, 3)
        What to draw for ``X`` and ``X_hat``.
    note : str or None
        How the view was made, when it is not the data itself.

    Examples
    --------
    >>> X = np.eye(5)
    >>> P, _, note = project(X, X)
    >>> P.shape, note
    ((5, 2), 'ambient dim 5: first two principal components of the input')
    """
    D = X.shape[1]
    if D == 1:
        idx = np.arange(X.shape[0], dtype=np.float64)
        return (
            np.column_stack([idx, X[:, 0]]),
            np.column_stack([idx, X_hat[:, 0]]),
            "1-D data: value against sample index",
        )
    if D <= 3:
        return X, X_hat, None
    mean = X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X - mean, full_matrices=False)
    W = Vt[:2].T
    note = f"ambient dim {D}: first two principal components of the input"
    return (X - mean) @ W, (X_hat - mean) @ W, note


def point_trace(P: np.ndarray, *, three_d: bool, **kwargs: Any) -> go.Scatter | go.Scatter3d:
    """A scatter trace of the rows of ``P`` (2-D or 3-D); ``kwargs`` go to the trace."""
    if three_d:
        return go.Scatter3d(x=P[:, 0], y=P[:, 1], z=P[:, 2], **kwargs)
    return go.Scatter(x=P[:, 0], y=P[:, 1], **kwargs)


def curve_order(m: Manifold) -> tuple[bool, np.ndarray]:
    """Whether ``m`` is a curve (1-D intrinsic coordinate) and the order to draw its points.

    Curves are drawn as a line through the points sorted by their coordinate; other
    manifolds as points in sample order.
    """
    curve = m.t.ndim == 1
    order = np.argsort(m.color, kind="stable") if curve else np.arange(m.n_samples)
    return curve, order


def highlight_masks(
    result: CaseResult, *, three_d: bool, size: float = 1.0
) -> list[tuple[np.ndarray, str, dict[str, Any]]]:
    """Point masks and marker styles for the points where Lemma 2 fails and collapsed points.

    ``size`` scales the markers (small panels use smaller ones). The Lemma 2 mask is left
    out when the activation has no inverse (``result.invertible is None``).

    Returns
    -------
    masks : list of (ndarray of bool, str, dict)
        Each mark's points, legend name and marker style.
    """
    masks: list[tuple[np.ndarray, str, dict[str, Any]]] = []
    if result.invertible is not None:
        masks.append(
            (
                ~np.asarray(result.invertible, dtype=bool),
                "not invertible (Lemma 2)",
                {
                    # scatter3d draws "x" from a font glyph that many systems lack
                    # (it shows as a box); "cross" renders everywhere.
                    "symbol": "cross" if three_d else "x",
                    "size": (4 if three_d else 7) * size,
                    "color": NOT_INVERTIBLE_COLOR,
                },
            )
        )
    masks.append(
        (
            np.asarray(result.collapsed, dtype=bool),
            "collapsed",
            {
                "symbol": "circle-open",
                "size": (5 if three_d else 10) * size,
                "color": INK,
                "line": {"width": 1, "color": INK},
            },
        )
    )
    return masks
