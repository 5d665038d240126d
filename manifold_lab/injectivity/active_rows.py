"""The minimum number of active rows ``min_u #{j : t_j . u > 0}`` of a matrix, at every width.

``x -> ReLU(T x)`` is injective on R^k iff it is ``>= k``, for rows in general position (see
:mod:`manifold_lab.injectivity`).

Methods (the minimum over the open cells)
-----------------------------------------
exact-1d
    ``k = 1``: the cells are ``u = +1`` and ``u = -1``.
exact-sectors
    ``k = 2``: the ``2n`` boundary angles ``alpha_j +- pi/2`` cut the circle into arcs;
    the count is evaluated at the midpoint of every arc of positive length. Exact for any
    matrix, in general position or not.
exact-vertices
    ``k >= 2``: in a simple arrangement the minimum over cells is attained next to a
    vertex. Every vertex is ``+-v``, ``v`` the normal of ``k - 1`` rows, and the cells
    around it realise every sign pattern of those rows, so the minimum over cells is the
    minimum over ``(k - 1)``-subsets and both signs of ``#{other rows j : t_j . v > 0}``:
    ``2 C(n, k - 1)`` candidate directions. Normals are generalised cross products
    (exterior products of the rows), evaluated in batches with torch. Exact for rows in
    general position.
sampled+refined
    ``n_directions`` random unit directions, then a local search over vertices: from the
    best directions (and the best candidate so far) at each width, the ``k + 2`` rows
    whose hyperplanes are nearest to the direction are taken and every vertex formed by
    ``k - 1`` of them is evaluated; repeated for a few rounds from the best vertices.
    Every candidate direction is a real cell's count, so the result is an *upper bound*
    of the minimum: the method can miss bad cells, never invent them. It over-estimates
    injectivity and under-estimates critical ratios.

Every count is evaluated for all prefixes of the rows at once: the matrix of width ``n``
is the first ``n`` rows of the matrix of the largest width (see
:mod:`manifold_lab.embedding`), each candidate direction's count is non-decreasing in
``n``, and so is the minimum. A candidate formed from rows beyond ``n`` is still a valid
(upper-bound) direction at width ``n`` (the rows it lies on count as inactive: the cell
next to it where they are negative has that count). The vertices of the first ``n_e``
rows give the exact minimum at every width ``<= n_e``; the sampled search evaluates its
candidates at all larger widths of the grid together, so its estimate at width ``n`` can
use candidates found at other widths, and it is non-decreasing in ``n`` like the truth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._validation import check_scalar
from .cells import CellSearch
from .exact import exact_vertices, sectors_min
from .sampled import sampled_refined

__all__ = [
    "DEFAULT_EXACT_MAX_SUBSETS",
    "MIN_ACTIVE_LABELS",
    "MIN_ACTIVE_METHODS",
    "check_method",
    "min_active_counts",
    "min_active_rows",
]

Tensor = torch.Tensor

MIN_ACTIVE_METHODS: tuple[str, ...] = (
    "auto",
    "exact-1d",
    "exact-sectors",
    "exact-vertices",
    "sampled+refined",
)
"""Methods of :func:`min_active_rows` (see this module's documentation)."""

MIN_ACTIVE_LABELS: dict[str, str] = {
    "auto": "automatic",
    "exact-1d": "exact (1-D)",
    "exact-sectors": "exact (angular sectors, 2-D)",
    "exact-vertices": "exact (vertices)",
    "sampled+refined": "sampled + refined (upper bound)",
}
"""Labels of :data:`MIN_ACTIVE_METHODS` for tables and figures."""

DEFAULT_EXACT_MAX_SUBSETS = 2_000_000
"""``"auto"`` enumerates vertices exactly while ``C(n, k - 1)`` is at most this."""


def check_method(method: Any) -> str:
    """Validate a method of :func:`min_active_rows` (case-insensitive); return it lower-cased.

    Examples
    --------
    >>> check_method("Exact-Vertices")
    'exact-vertices'
    """
    key = str(method).lower()
    if key not in MIN_ACTIVE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(MIN_ACTIVE_METHODS)}")
    return key


def _as_matrix(T: Any) -> Tensor:
    if isinstance(T, torch.Tensor):
        R = T.detach().to(torch.float64)
    else:
        try:
            R = torch.as_tensor(np.asarray(T, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"T must be a numeric matrix, got {type(T).__name__}") from exc
    if R.ndim != 2 or R.shape[0] < 1 or R.shape[1] < 1:
        raise ValueError(f"T must be a non-empty 2-D matrix of shape (n, k), got {tuple(R.shape)}")
    if not bool(torch.isfinite(R).all()):
        raise ValueError("T contains NaN or infinite values")
    return R


def _resolve(method: str, n: int, k: int, exact_max_subsets: int) -> str:
    if method == "auto":
        if k == 1:
            return "exact-1d"
        if k == 2:
            return "exact-sectors"
        return "exact-vertices" if math.comb(n, k - 1) <= exact_max_subsets else "sampled+refined"
    if method == "exact-1d" and k != 1:
        raise ValueError(f"method 'exact-1d' needs k = 1, got k = {k}")
    if method == "exact-sectors" and k != 2:
        raise ValueError(f"method 'exact-sectors' needs k = 2, got k = {k}")
    if method == "exact-vertices" and k < 2:
        raise ValueError("method 'exact-vertices' needs k >= 2; use 'exact-1d' for k = 1")
    return method


def min_active_counts(
    R: Tensor,
    widths: Sequence[int],
    method: str,
    *,
    n_exact: int,
    dir_seeds: Sequence[int],
    n_directions: int,
) -> Tensor:
    """Minimum active counts at ``widths`` for (S, n_max, k) rows: (S, len(widths)) long.

    ``method`` is a resolved method for k <= 2; for k >= 3 (or the vertex / sampled
    methods) widths up to ``n_exact`` are exact and larger ones sampled and refined.
    """
    _, n_max, k = R.shape
    w_idx = torch.as_tensor(list(widths), dtype=torch.long, device=R.device) - 1
    if method == "exact-1d":
        x = R[..., 0]
        cpos, cneg = torch.cumsum(x > 0, 1), torch.cumsum(x < 0, 1)
        return torch.minimum(cpos, cneg)[:, w_idx].long()
    if method == "exact-sectors":
        return torch.stack([sectors_min(R[:, :w]) for w in widths], 1).long()
    search = CellSearch(R)
    if k >= 2 and n_exact >= max(1, k - 1):
        if n_exact < n_max:  # the vertices of the first n_e rows, counted on those rows only
            head = CellSearch(R[:, :n_exact])
            exact_vertices(head, n_exact)
            search.best[:, :n_exact] = head.best
            search.arg[:, :n_exact] = head.arg
        else:
            exact_vertices(search, n_exact)
    sampled = [w for w in widths if w > n_exact]
    if sampled:
        sampled_refined(search, sampled, dir_seeds, n_directions)
    out = search.best[:, w_idx]
    # With n <= k rows in general position some u has T u < 0: no active row.
    small = torch.as_tensor([w <= k for w in widths], device=R.device)
    return torch.where(small[None, :], torch.zeros_like(out), out)


def min_active_rows(
    T: np.ndarray | torch.Tensor,
    *,
    method: str = "auto",
    n_directions: int = 20000,
    seed: int = 0,
    exact_max_subsets: int = DEFAULT_EXACT_MAX_SUBSETS,
) -> tuple[int, str]:
    """Minimum over directions ``u`` of the number of active rows ``#{j : t_j . u > 0}``.

    The minimum is over the open cells of the arrangement of the hyperplanes
    ``t_j . u = 0`` (directions on no hyperplane). ``x -> ReLU(T x)`` is injective on R^k
    iff it is ``>= k``, for rows in general position (see the module documentation).

    Parameters
    ----------
    T : ndarray or torch.Tensor of shape (n, k)
        The matrix; rows ``t_j``. A tensor is used on its own device.
    method : {"auto", "exact-1d", "exact-sectors", "exact-vertices", "sampled+refined"}, \
default="auto"
        ``"auto"``: ``exact-1d`` for ``k = 1``, ``exact-sectors`` for ``k = 2``,
        ``exact-vertices`` for ``k >= 3`` while ``C(n, k - 1) <= exact_max_subsets``, else
        ``sampled+refined``. The vertex and sampled methods assume rows in general
        position.
    n_directions : int, default=20000
        Random directions of ``sampled+refined``.
    seed : int, default=0
        Seed of the random directions (``numpy.random.default_rng([seed, 7])``).
    exact_max_subsets : int, default=2_000_000
        Largest ``C(n, k - 1)`` that ``"auto"`` enumerates exactly.

    Returns
    -------
    count : int
        The minimum (for ``sampled+refined`` an upper bound of it).
    method : str
        The method used.

    Notes
    -----
    ``exact-1d`` and ``exact-sectors`` are exact for any matrix. ``exact-vertices`` and
    ``sampled+refined`` assume rows in general position (every ``k`` of them linearly
    independent), which Gaussian rows are with probability one; on degenerate hand-made
    matrices (repeated or opposite rows in ``k >= 3``) they can report too few. With
    ``n <= k`` rows in general position some direction has no active row, and they return 0.

    Examples
    --------
    >>> min_active_rows([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])  # not injective
    (1, 'exact-sectors')
    >>> angles = 2 * np.pi * np.arange(5) / 5  # a regular pentagon: injective
    >>> min_active_rows(np.c_[np.cos(angles), np.sin(angles)])
    (2, 'exact-sectors')
    >>> from manifold_lab import random_embedding
    >>> T = random_embedding(3, 30, seed=0)[0]
    >>> min_active_rows(T)[1], min_active_rows(T)[0] >= 3
    ('exact-vertices', True)
    """
    R = _as_matrix(T)
    meth = check_method(method)
    n_directions = check_scalar(n_directions, "n_directions", kind=int, minimum=1)
    seed = check_scalar(seed, "seed", kind=int, minimum=0)
    exact_max_subsets = check_scalar(exact_max_subsets, "exact_max_subsets", kind=int, minimum=0)
    n, k = R.shape
    meth = _resolve(meth, n, k, exact_max_subsets)
    n_exact = n if meth == "exact-vertices" else 0
    if meth == "sampled+refined" and k == 1:
        n_exact = 0
    val = min_active_counts(
        R[None], [n], meth, n_exact=n_exact, dir_seeds=[seed], n_directions=n_directions
    )
    return int(val[0, 0]), meth
