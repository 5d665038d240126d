"""A curve drawn by hand (a path of vertices in the plane) as points on a 1-D manifold.

:func:`curve_from_path` turns the vertices of a path (the explorer's lasso on its drawing
canvas, or any polyline) into ``n_samples`` points spaced evenly along the curve, with the
curve parameter ``t`` in ``[0, 1]`` as their intrinsic coordinate, like the built-in curves
(:func:`~manifold_lab.manifolds.make_circle`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_random_state, check_scalar

__all__ = ["MAX_PATH_VERTICES", "MIN_PATH_VERTICES", "curve_from_path"]

MIN_PATH_VERTICES = 3
"""Fewest distinct vertices a drawn path may have (a closed path of two is a segment twice)."""

MAX_PATH_VERTICES = 10_000
"""Most vertices a drawn path may have (a lasso drawn by hand has tens to hundreds)."""


def _path_vertices(x: Any, y: Any) -> np.ndarray:
    """The path's vertices as an ``(m, 2)`` float array, checked, repeated vertices merged."""
    try:
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a drawn path's x and y must be numbers: {exc}") from None
    if xa.ndim != 1 or ya.ndim != 1:
        raise ValueError(
            f"a drawn path's x and y must be 1-D, got shapes {xa.shape} and {ya.shape}"
        )
    if xa.shape != ya.shape:
        raise ValueError(f"a drawn path has {xa.size} x values and {ya.size} y values")
    if xa.size > MAX_PATH_VERTICES:
        raise ValueError(
            f"a drawn path may have at most {MAX_PATH_VERTICES:,} vertices, got {xa.size:,}"
        )
    P = np.column_stack([xa, ya])
    bad = int(np.count_nonzero(~np.isfinite(P).all(axis=1)))
    if bad:
        raise ValueError(f"a drawn path must be finite: {bad} of {xa.size} vertices are not")
    if P.shape[0]:
        P = P[np.r_[True, np.any(P[1:] != P[:-1], axis=1)]]  # merge repeated vertices
    distinct = np.unique(P, axis=0).shape[0] if P.shape[0] else 0
    if distinct < MIN_PATH_VERTICES:
        raise ValueError(
            f"a drawn path needs at least {MIN_PATH_VERTICES} distinct vertices, got {distinct}"
        )
    return P


def curve_from_path(
    x: Any,
    y: Any,
    n_samples: int = 1000,
    *,
    closed: bool = False,
    normalize: bool = True,
    noise: float = 0.0,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points spaced evenly along a path drawn by hand.

    The path is the polyline through the vertices ``(x[i], y[i])`` in order. An open curve
    runs from the first vertex to the last (a lasso's closing segment, back to its start, is
    left out); a closed one goes back to the first vertex. ``n_samples`` points are placed
    at equal arc-length steps along it (both ends included when open; as
    :func:`~manifold_lab.manifolds.make_circle`, the end that meets the start left out when
    closed).

    Parameters
    ----------
    x, y : array-like of shape (n_vertices,)
        The path's vertices, finite, at most :data:`MAX_PATH_VERTICES` of them and at least
        :data:`MIN_PATH_VERTICES` distinct ones. A vertex repeated at once (a pause while
        drawing) counts once; a closed path may repeat its first vertex at the end.
    n_samples : int, default=1000
        Number of points.
    closed : bool, default=False
        Join the last vertex back to the first (a loop) instead of an open curve.
    normalize : bool, default=True
        Centre the points at the origin and scale them so the farthest lies at distance 1
        (the built-in circle's radius); False keeps the drawn coordinates.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the points (after normalising).
    seed : int, Generator or None, default=None
        Seed for the noise.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points.
    t : ndarray of shape (n_samples,)
        The arc length from the first vertex to each point over the curve's length, in
        ``[0, 1]`` (``[0, 1)`` when closed).

    Raises
    ------
    ValueError
        In one line, for a path that is not finite, has too few distinct vertices or too
        many vertices, or x and y of different lengths.

    Examples
    --------
    An L drawn with three vertices, sampled at five points:

    >>> X, t = curve_from_path([0, 0, 1], [1, 0, 0], 5, normalize=False)
    >>> X.tolist()
    [[0.0, 1.0], [0.0, 0.5], [0.0, 0.0], [0.5, 0.0], [1.0, 0.0]]
    >>> t.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]

    Closed, the path is a triangle; normalised, it is centred and fits the unit disc:

    >>> X, t = curve_from_path([0, 0, 1], [1, 0, 0], 100, closed=True)
    >>> bool(np.allclose(X.mean(axis=0), 0)), round(float(np.linalg.norm(X, axis=1).max()), 12)
    (True, 1.0)
    >>> curve_from_path([0, 1, 0], [0, 0, 0])
    Traceback (most recent call last):
    ...
    ValueError: a drawn path needs at least 3 distinct vertices, got 2
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    noise = check_scalar(noise, "noise", minimum=0)
    rng = check_random_state(seed)
    P = _path_vertices(x, y)
    if closed:
        if np.array_equal(P[0], P[-1]):
            P = P[:-1]
        P = np.vstack([P, P[:1]])
    steps = np.linalg.norm(np.diff(P, axis=0), axis=1)
    s = np.r_[0.0, np.cumsum(steps)]
    length = float(s[-1])  # > 0: at least three distinct vertices
    t = np.linspace(0.0, 1.0, n_samples, endpoint=not closed)
    X = np.column_stack([np.interp(t * length, s, P[:, j]) for j in range(2)])
    if normalize:
        X = X - X.mean(axis=0)
        radius = float(np.linalg.norm(X, axis=1).max())
        if radius == 0.0:  # e.g. two points on an open path that ends where it starts
            raise ValueError(
                f"the {n_samples} points on the drawn path all coincide: take more points"
            )
        X = X / radius
    if noise > 0:
        X = X + noise * rng.standard_normal(X.shape)
    return X, t
