"""When is ``x -> ReLU(T x)`` injective? A phase diagram over dimension and width.

Two quantities, for Gaussian ``T`` (``n x k``, no bias) and a ``k``-ball:

pointwise invertible fraction
    The fraction of the ball's points where Lemma 2 holds (the active rows span R^k),
    measured by :func:`manifold_lab.sweep` with ``method="lemma2"``. Its mean over seeds is
    Theorem 1's ``P(Binomial(n, 1/2) >= k)`` (:func:`manifold_lab.preserved_fraction`).
global injectivity
    Whether the layer is injective on the *whole* ball (equivalently on all of R^k: the
    ball holds a neighbourhood of 0 and ReLU is positively homogeneous). It is injective
    iff for every direction ``u`` the rows ``{t_j : t_j . u >= 0}`` span R^k (Puthawala
    et al., JMLR 2022). For rows in general position (every ``k`` rows independent, which
    Gaussian rows are with probability one) this is: every open cell of the central
    hyperplane arrangement ``{t_j . u = 0}`` has at least ``k`` active rows, i.e.
    ``min_u #{j : t_j . u > 0} >= k``, the halfspace (Tukey) depth of the origin among the
    rows. :func:`min_active_rows` computes that minimum.

Methods for ``min_u #{j : t_j . u > 0}`` (the minimum over the open cells)
---------------------------------------------------------------------------
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
import numbers
import time
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._deprecation import renamed_parameters
from ._progress import progress_bar
from ._validation import check_scalar, check_seeds, resolve_device
from .embedding import draw_rows
from .records import provenance
from .sweeps import sweep
from .theory import preserved_fraction

__all__ = [
    "MIN_ACTIVE_METHODS",
    "QUANTITIES",
    "check_levels",
    "critical_ratios",
    "level_crossing",
    "min_active_rows",
    "phase_diagram",
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

QUANTITIES: tuple[str, ...] = ("injective", "invertible_fraction")
"""Quantities of :func:`phase_diagram` that :func:`manifold_lab.plots.plot_phase_diagram` draws."""

DEFAULT_EXACT_MAX_SUBSETS = 2_000_000
"""``"auto"`` enumerates vertices exactly while ``C(n, k - 1)`` is at most this."""

_DIRECTION_STREAM = 7  # numpy.random.default_rng([seed, 7]) draws the sampled directions
_REFINE_BEST = 16  # starting directions per width and round
_REFINE_EXTRA = 3  # rows near a start beyond the k - 1 of a vertex
_REFINE_ROUNDS = 6
_BLOCK = 2**24  # largest seeds x rows x candidates block held at once
_BIG = 10**9


# ----------------------------------------------------------------------------- validation


def _check_method(method: Any) -> str:
    key = str(method).lower()
    if key not in MIN_ACTIVE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(MIN_ACTIVE_METHODS)}")
    return key


def _check_dims(dims: Any) -> list[int]:
    if isinstance(dims, (numbers.Integral, np.integer)) and not isinstance(dims, bool):
        dims = [dims]
    try:
        ds = list(dims)
    except TypeError:
        raise ValueError(f"dims must be an int or a sequence of ints, got {dims!r}") from None
    if not ds:
        raise ValueError("dims is empty: give at least one intrinsic dimension k >= 1")
    return sorted({check_scalar(d, "every dimension k", kind=int, minimum=1) for d in ds})


def check_levels(levels: Any) -> list[float]:
    """Validate probability levels (a number or a sequence of numbers in (0, 1]).

    Examples
    --------
    >>> check_levels(0.5), check_levels((0.5, 0.95))
    ([0.5], [0.5, 0.95])
    """
    ls = [levels] if isinstance(levels, (numbers.Real, np.floating)) else list(levels)
    if not ls:
        raise ValueError("levels is empty: give probabilities such as (0.5, 0.95)")
    out = []
    for lv in ls:
        out.append(check_scalar(lv, "every level", minimum=0, maximum=1, include_min=False))
    return out


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


# ------------------------------------------------------------------- combinatorial engine


def _normals(A: Tensor) -> Tensor:
    """Unit normals of ``k - 1`` rows: ``A`` (..., k - 1, k) -> (..., k), via a complete QR."""
    Q = torch.linalg.qr(A.transpose(-1, -2), mode="complete")[0]
    return Q[..., -1]


def _normal_maps(P: Tensor) -> Tensor:
    """For ``k - 2`` rows ``P`` (..., k - 2, k): a map ``L``, ``L t`` normal to them and ``t``.

    With ``q1, q2`` an orthonormal basis of the rows' orthogonal complement,
    ``L = q1 q2^T - q2 q1^T``; ``|L t|`` is the length of ``t``'s part outside their span.
    """
    k = P.shape[-1]
    if P.shape[-2] == 0:
        q = torch.eye(k, dtype=P.dtype, device=P.device).expand(*P.shape[:-2], k, k)
    else:
        q = torch.linalg.qr(P.transpose(-1, -2), mode="complete")[0]
    q1, q2 = q[..., :, -2:-1], q[..., :, -1:]
    return q1 @ q2.transpose(-1, -2) - q2 @ q1.transpose(-1, -2)


def _combinations(n: int, K: int) -> Tensor:
    """All K-subsets of ``range(n)`` in lexicographic order, shape (C(n, K), K)."""
    if K == 0:
        return torch.zeros((1, 0), dtype=torch.long)
    if n < K:
        return torch.zeros((0, K), dtype=torch.long)
    cur = torch.arange(n - K + 1)[:, None]
    for m in range(1, K):
        last = cur[:, -1]
        cnt = (n - K + m - last).clamp_min(0)
        parent = torch.repeat_interleave(torch.arange(cur.shape[0]), cnt)
        start = torch.cumsum(cnt, 0) - cnt
        within = torch.arange(int(cnt.sum())) - torch.repeat_interleave(start, cnt)
        cur = torch.cat([cur[parent], (last[parent] + 1 + within)[:, None]], 1)
    return cur


class _Search:
    """Best count per (seed, width) over all candidate directions evaluated so far.

    ``best[s, i]`` is the smallest count at width ``i + 1`` and ``arg[s, i]`` a direction
    that realises it (up to the rows it lies on, which count as inactive: the cell next
    to it where those rows are negative has that count).
    """

    def __init__(self, R: Tensor) -> None:
        self.R = R
        S, n, k = R.shape
        self.best = torch.full((S, n), _BIG, dtype=torch.long, device=R.device)
        self.arg = torch.zeros((S, n, k), dtype=R.dtype, device=R.device)
        self.cdt = torch.uint8 if n < 255 else torch.int16
        self.cmax = 255 if n < 255 else 32767

    def counts(
        self, V: Tensor, on: Tensor | None = None, invalid: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Counts of candidates ``V`` (S, M, k) at every width; updates the best so far.

        ``on`` (S, K, M): rows each candidate lies on (not counted); ``invalid`` (S, M):
        candidates to ignore. Returns ``cmin`` (S, n, M), the smaller count of ``+v`` and
        ``-v`` at each width, and ``neg`` (S, n, M), whether it is ``-v``'s.
        """
        D = torch.matmul(self.R, V.transpose(1, 2))  # (S, n, M)
        if on is not None:
            D.scatter_(1, on, 0.0)
        cpos = torch.cumsum(D > 0, 1, dtype=self.cdt)
        cneg = torch.cumsum(D < 0, 1, dtype=self.cdt)
        del D
        neg = cneg < cpos
        cmin = torch.minimum(cpos, cneg)
        del cpos, cneg
        if invalid is not None and bool(invalid.any()):
            cmin.masked_fill_(invalid[:, None, :], self.cmax)
        val, idx = cmin.min(-1)  # (S, n)
        val = val.long()
        better = val < self.best
        if bool(better.any()):
            k = V.shape[-1]
            vdir = torch.gather(V, 1, idx[..., None].expand(-1, -1, k))
            flip = torch.gather(neg, 2, idx[..., None])
            self.best = torch.where(better, val, self.best)
            self.arg = torch.where(better[..., None], torch.where(flip, -vdir, vdir), self.arg)
        return cmin, neg


def _exact_vertices(search: _Search, n_exact: int) -> None:
    """Evaluate every vertex of the first ``n_exact`` rows, at every prefix of all rows.

    Vertices are grouped by their first ``k - 2`` rows (a "parent", in lexicographic
    order): the normals of a parent with each later row ``t`` are ``L t`` for one map
    ``L`` (:func:`_normal_maps`), one small matrix product for all of them.
    """
    R = search.R
    S, n, k = R.shape
    dev = R.device
    parents = _combinations(n_exact, k - 2).to(dev)  # (P, k - 2)
    if parents.shape[0] == 0 or n_exact < k - 1:
        return
    last = parents[:, -1] if k > 2 else torch.full((1,), -1, device=dev)
    n_child = (n_exact - 1 - last).clamp_min(0)
    budget = max(n_exact, _BLOCK // (S * n))  # vertices per block
    sidx = torch.arange(S, device=dev)[:, None, None]
    ends = torch.cumsum(n_child, 0).cpu().numpy()
    p0 = 0
    while p0 < parents.shape[0]:
        base = int(ends[p0 - 1]) if p0 else 0
        p1 = max(p0 + 1, int(np.searchsorted(ends, base + budget, side="right")))
        par = parents[p0:p1]  # (Pc, k - 2)
        L = _normal_maps(R[sidx, par[None]])  # (S, Pc, k, k)
        Pc = par.shape[0]
        Vall = torch.matmul(L.reshape(S, Pc * k, k), R[:, :n_exact].transpose(1, 2))
        Vall = Vall.reshape(S, Pc, k, n_exact).transpose(2, 3)  # (S, Pc, n_e, k): L_p t_j
        child = torch.arange(n_exact, device=dev)
        ok = child[None, :] > last[p0:p1, None]  # (Pc, n_e): later rows only
        flat = torch.nonzero(ok.reshape(-1)).squeeze(1)
        V = Vall.reshape(S, -1, k)[:, flat]  # (S, M, k)
        pi, ci = flat // n_exact, flat % n_exact
        on = torch.cat([par[pi], ci[:, None]], 1).T  # (k - 1, M)
        tnorm = R[:, :n_exact].norm(dim=-1)[:, ci]  # (S, M)
        invalid = V.norm(dim=-1) <= 1e-10 * tnorm
        search.counts(V, on[None].expand(S, -1, -1).contiguous(), invalid)
        p0 = p1


def _directions(seed: int, n_directions: int, k: int) -> np.ndarray:
    U = np.random.default_rng([int(seed), _DIRECTION_STREAM]).standard_normal((n_directions, k))
    return U / np.linalg.norm(U, axis=1, keepdims=True)


def _starts(cmin: Tensor, neg: Tensor, V: Tensor, widths: Tensor, b: int) -> Tensor:
    """The ``b`` best candidates (with their sign) at each width: (S, W, b, k)."""
    c = cmin[:, widths - 1, :]  # (S, W, M)
    b = min(b, c.shape[-1])
    idx = torch.topk(c.to(torch.int16), b, dim=-1, largest=False).indices  # (S, W, b)
    S, W = idx.shape[:2]
    k = V.shape[-1]
    vd = torch.gather(V, 1, idx.reshape(S, W * b)[..., None].expand(-1, -1, k)).reshape(S, W, b, k)
    flip = torch.gather(neg[:, widths - 1, :], 2, idx)
    return torch.where(flip[..., None], -vd, vd)


def _unique_subsets(subsets: Tensor, n: int) -> Tensor:
    """Drop repeated row subsets per seed: (S, M, K) -> (S, M', K), padded by repetition."""
    sub = torch.sort(subsets, dim=-1).values
    S, _, K = sub.shape
    if float(n) ** K >= 2.0**62:
        return sub
    base = n ** torch.arange(K, device=sub.device, dtype=torch.long)
    keys = (sub * base).sum(-1)  # (S, M)
    ks, order = torch.sort(keys, dim=1)
    first = torch.ones_like(ks, dtype=torch.bool)
    first[:, 1:] = ks[:, 1:] != ks[:, :-1]
    counts = first.sum(1)
    m = int(counts.max())
    # Stable order: unique subsets first, then fill with the first one.
    rank = torch.where(first, torch.cumsum(first, 1) - 1, torch.full_like(ks, m))
    pick = torch.zeros((S, m + 1), dtype=torch.long, device=sub.device)
    pick.scatter_(1, rank, order)
    pick = pick[:, :m]
    filler = pick[:, :1].expand(-1, m)
    pick = torch.where(torch.arange(m, device=sub.device)[None, :] < counts[:, None], pick, filler)
    return torch.gather(sub, 1, pick[..., None].expand(-1, -1, K))


def _sampled_refined(
    search: _Search, widths: Sequence[int], dir_seeds: Sequence[int], n_dir: int
) -> None:
    """Random directions, then rounds of local vertex search at ``widths``."""
    R = search.R
    S, n, k = R.shape
    dev = R.device
    U = torch.as_tensor(np.stack([_directions(s, n_dir, k) for s in dir_seeds]), device=dev)
    w_t = torch.as_tensor(sorted(widths), dtype=torch.long, device=dev)
    step = max(1, _BLOCK // (S * n))
    starts = []
    for i in range(0, n_dir, step):
        cmin, neg = search.counts(U[:, i : i + step])
        starts.append(_starts(cmin, neg, U[:, i : i + step], w_t, _REFINE_BEST))
    del cmin, neg
    K = k - 1
    r = min(K + _REFINE_EXTRA, n)
    if K == 0 or r < K:
        return
    table = torch.as_tensor(list(combinations(range(r), K)), dtype=torch.long, device=dev)
    Rn = R / R.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    outside = torch.arange(n, device=dev)[None, :] >= w_t[:, None]  # (W, n)
    sidx = torch.arange(S, device=dev)[:, None, None]
    for rnd in range(_REFINE_ROUNDS):
        before = search.best.clone()
        st = torch.cat([*starts, search.arg[:, w_t - 1][:, :, None]], 2)  # (S, W, B, k)
        st = st / st.norm(dim=-1, keepdim=True).clamp_min(1e-300)
        marg = torch.einsum("swbk,snk->swbn", st, Rn).abs()
        marg = marg.masked_fill(outside[None, :, None, :], float("inf"))
        near = torch.topk(marg, r, dim=-1, largest=False).indices  # (S, W, B, r)
        subsets = _unique_subsets(near[..., table].reshape(S, -1, K), n)  # (S, M, K)
        starts = []
        for c0 in range(0, subsets.shape[1], step):
            sub = subsets[:, c0 : c0 + step]
            V = _normals(R[sidx, sub])
            cmin, neg = search.counts(V, sub.transpose(1, 2).contiguous())
            starts.append(_starts(cmin, neg, V, w_t, _REFINE_BEST))
        if rnd > 0 and bool((search.best == before).all()):
            break


def _sectors_min(R: Tensor) -> Tensor:
    """Exact minimum over the open arcs for k = 2: (S, n, 2) -> (S,) counts."""
    alpha = torch.atan2(R[..., 1], R[..., 0])
    b = torch.remainder(torch.cat([alpha - math.pi / 2, alpha + math.pi / 2], 1), 2 * math.pi)
    b = torch.sort(b, dim=1).values
    gaps = torch.diff(torch.cat([b, b[:, :1] + 2 * math.pi], 1), dim=1)
    mid = b + gaps / 2
    U = torch.stack([torch.cos(mid), torch.sin(mid)], -1)  # (S, 2n, 2)
    cnt = (torch.matmul(R, U.transpose(1, 2)) > 0).sum(1)  # (S, 2n)
    cnt = cnt.masked_fill(gaps <= 1e-12, _BIG)
    return cnt.min(1).values


def _engine(
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
        return torch.stack([_sectors_min(R[:, :w]) for w in widths], 1).long()
    search = _Search(R)
    if k >= 2 and n_exact >= max(1, k - 1):
        if n_exact < n_max:  # the vertices of the first n_e rows, counted on those rows only
            head = _Search(R[:, :n_exact])
            _exact_vertices(head, n_exact)
            search.best[:, :n_exact] = head.best
            search.arg[:, :n_exact] = head.arg
        else:
            _exact_vertices(search, n_exact)
    sampled = [w for w in widths if w > n_exact]
    if sampled:
        _sampled_refined(search, sampled, dir_seeds, n_directions)
    out = search.best[:, w_idx]
    # With n <= k rows in general position some u has T u < 0: no active row.
    small = torch.as_tensor([w <= k for w in widths], device=R.device)
    return torch.where(small[None, :], torch.zeros_like(out), out)


# ----------------------------------------------------------------------------- public API


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
    meth = _check_method(method)
    n_directions = check_scalar(n_directions, "n_directions", kind=int, minimum=1)
    seed = check_scalar(seed, "seed", kind=int, minimum=0)
    exact_max_subsets = check_scalar(exact_max_subsets, "exact_max_subsets", kind=int, minimum=0)
    n, k = R.shape
    meth = _resolve(meth, n, k, exact_max_subsets)
    n_exact = n if meth == "exact-vertices" else 0
    if meth == "sampled+refined" and k == 1:
        n_exact = 0
    val = _engine(R[None], [n], meth, n_exact=n_exact, dir_seeds=[seed], n_directions=n_directions)
    return int(val[0, 0]), meth


def _width_grid(k: int, max_ratio: float, step: int | None) -> list[int]:
    top = max(k, math.ceil(max_ratio * k - 1e-9))
    st = max(1, math.ceil(k / 4)) if step is None else step
    grid = list(range(k, top + 1, st))
    if grid[-1] != top:
        grid.append(top)
    return grid


@renamed_parameters(n_points="n_samples")
def phase_diagram(
    dims: Any = range(1, 9),
    *,
    max_ratio: float = 12.0,
    seeds: Any = range(100),
    n_samples: int = 2000,
    n_directions: int = 20000,
    exact_max_subsets: int = DEFAULT_EXACT_MAX_SUBSETS,
    device: Any = None,
    progress: bool | None = None,
    method: str = "auto",
    width_step: int | None = None,
    pointwise: bool = True,
) -> pd.DataFrame:
    """Pointwise invertibility and global injectivity over intrinsic dimension and width.

    For each ``k`` in ``dims`` and each width ``n`` of the grid ``k, k + s, ..., ceil(
    max_ratio * k)``, and each seed, the Gaussian matrix ``T`` of
    :func:`manifold_lab.random_embedding` (``T`` of width ``n`` is the first ``n`` rows of
    the largest one) gives (a) the fraction of ``n_samples`` points of a ``k``-ball where
    Lemma 2 holds, via :func:`manifold_lab.sweep`, and (b) the minimum number of active
    rows over directions, via the methods of :func:`min_active_rows`.

    Parameters
    ----------
    dims : int or iterable of int, default=range(1, 9)
        Intrinsic dimensions ``k``.
    max_ratio : float, default=12.0
        Largest expansion ratio ``n / k`` (at least 1).
    seeds : int, sequence of int or str, default=range(100)
        Seeds of the matrices (as in :func:`manifold_lab.sweep`).
    n_samples : int, default=2000
        Points of the ball for the pointwise fraction (``n_points`` is its deprecated
        alias).
    n_directions : int, default=20000
        Random directions per matrix where the vertex enumeration is too large.
    exact_max_subsets : int, default=2_000_000
        Widths with ``C(n, k - 1)`` up to this are enumerated exactly (k >= 3); larger
        widths use ``sampled+refined``.
    device : str, torch.device or None, default=None
        ``None`` uses CUDA when available, else the CPU.
    progress : bool or None, default=None
        Progress bar; ``None`` shows it only on a terminal.
    method : str, default="auto"
        ``"auto"`` as above; ``"exact-vertices"`` or ``"sampled+refined"`` force one method
        for every ``k >= 2`` (the sampled one to validate it against the exact one).
    width_step : int or None, default=None
        Step ``s`` of the width grid; ``None`` uses ``ceil(k / 4)`` (1 up to ``k = 4``).
    pointwise : bool, default=True
        Compute the pointwise fraction (a); ``False`` leaves it NaN (injectivity only).

    Returns
    -------
    df : pandas.DataFrame
        One row per (k, width, seed): ``k, width, ratio, seed, invertible_fraction,
        theorem1, min_active, injective, method, n_directions`` (``n_directions`` is 0
        for exact methods). ``df.attrs["provenance"]`` records the parameters, the exact
        and sampled width ranges and the timings.

    Examples
    --------
    >>> df = phase_diagram([1, 2], max_ratio=3, seeds=range(4), n_samples=100, progress=False)
    >>> df.shape, sorted(set(df.method))
    ((32, 10), ['exact-1d', 'exact-sectors'])
    >>> bool((df.query("width < 2 * k").injective == False).all())  # n >= 2k is necessary
    True
    """
    t0 = time.perf_counter()
    ks = _check_dims(dims)
    check_scalar(max_ratio, "max_ratio", minimum=1)
    seeds_l = check_seeds(seeds)
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    n_directions = check_scalar(n_directions, "n_directions", kind=int, minimum=1)
    exact_max_subsets = check_scalar(exact_max_subsets, "exact_max_subsets", kind=int, minimum=0)
    meth = _check_method(method)
    if meth in ("exact-1d", "exact-sectors"):
        raise ValueError(
            f"method {method!r} applies to one k only; use 'auto', 'exact-vertices' or "
            "'sampled+refined'"
        )
    step = check_scalar(width_step, "width_step", kind=int, minimum=1, allow_none=True)
    dev = resolve_device(device)
    grids = {k: _width_grid(k, float(max_ratio), step) for k in ks}
    bar = progress_bar(
        total=2 * len(ks) * len(seeds_l),
        progress=progress,
        desc="phase diagram",
        unit="seed",
        leave=False,
    )
    frames, info = [], {}
    try:
        for k in ks:
            bar.set_postfix_str(f"k={k}")
            W = grids[k]
            t_k = time.perf_counter()
            frac = pd.Series(np.nan, index=pd.MultiIndex.from_product([W, seeds_l]))
            if pointwise:
                pw = sweep(
                    "ball",
                    widths=W,
                    seeds=seeds_l,
                    method="lemma2",
                    metrics=["invertible_fraction"],
                    n_samples=n_samples,
                    manifold_kwargs={"dim": k},
                    device=dev,
                    progress=False,
                )
                frac = pw.set_index(["width", "seed"])["invertible_fraction"]
            bar.update(len(seeds_l))
            t_pw = time.perf_counter() - t_k
            if k == 1:
                engine_method, per_w = "exact-1d", ["exact-1d"] * len(W)
            elif k == 2 and meth == "auto":
                engine_method, per_w = "exact-sectors", ["exact-sectors"] * len(W)
            else:
                engine_method = "vertices"
                per_w = [
                    "exact-vertices"
                    if meth == "exact-vertices"
                    or (meth == "auto" and math.comb(w, k - 1) <= exact_max_subsets)
                    else "sampled+refined"
                    for w in W
                ]
            exact_w = [w for w, m in zip(W, per_w, strict=True) if m == "exact-vertices"]
            sampled_w = [w for w, m in zip(W, per_w, strict=True) if m == "sampled+refined"]
            n_exact = max(exact_w) if exact_w else 0
            rows_np = draw_rows(k, W[-1], seeds_l, "gaussian", False)[0]
            t_inj = time.perf_counter()
            S = len(seeds_l)
            chunk = S  # seeds per batch: enough candidates per seed to fill a block
            if sampled_w:
                chunk = min(chunk, _BLOCK // (W[-1] * n_directions))
            if exact_w:
                chunk = min(chunk, _BLOCK // (n_exact * min(math.comb(n_exact, k - 1), 2**16)))
            chunk = max(1, chunk)
            counts = []
            for s0 in range(0, S, chunk):
                ss = seeds_l[s0 : s0 + chunk]
                R = torch.as_tensor(rows_np[s0 : s0 + chunk], dtype=torch.float64, device=dev)
                counts.append(
                    _engine(
                        R,
                        W,
                        engine_method,
                        n_exact=n_exact,
                        dir_seeds=ss,
                        n_directions=n_directions,
                    ).cpu()
                )
                bar.update(len(ss))
            mins = torch.cat(counts, 0).numpy()  # (S, W)
            t_inj = time.perf_counter() - t_inj
            width_col = np.repeat(W, S)
            seed_col = np.tile(seeds_l, len(W))
            method_col = np.repeat(per_w, S)
            frames.append(
                pd.DataFrame(
                    {
                        "k": k,
                        "width": width_col,
                        "ratio": width_col / k,
                        "seed": seed_col,
                        "invertible_fraction": frac.loc[
                            list(zip(width_col.tolist(), seed_col.tolist(), strict=True))
                        ].to_numpy(),
                        "theorem1": preserved_fraction(width_col, k),
                        "min_active": mins.T.reshape(-1),
                        "injective": mins.T.reshape(-1) >= k,
                        "method": method_col,
                        "n_directions": np.where(method_col == "sampled+refined", n_directions, 0),
                    }
                )
            )
            info[str(k)] = {
                "widths": W,
                "methods": sorted(set(per_w)),
                "exact_widths": [min(W), max(W) if k <= 2 else n_exact]
                if exact_w or k <= 2
                else None,
                "sampled_widths": [min(sampled_w), max(sampled_w)] if sampled_w else None,
                "pointwise_s": round(t_pw, 3),
                "injectivity_s": round(t_inj, 3),
            }
    finally:
        bar.close()
    df = pd.concat(frames, ignore_index=True)
    params = {
        "dims": ks,
        "max_ratio": float(max_ratio),
        "width_step": step,
        "seeds": seeds_l,
        "n_samples": n_samples if pointwise else None,
        "manifold": "ball",
        "embedding": "gaussian",
        "bias": 0.0,
        "n_directions": n_directions,
        "exact_max_subsets": exact_max_subsets,
        "method": meth,
        "refine": {
            "best_per_width": _REFINE_BEST,
            "rows_per_start": f"k + {_REFINE_EXTRA - 1}",
            "rounds": _REFINE_ROUNDS,
            "direction_stream": _DIRECTION_STREAM,
        },
        "device": str(dev),
        "per_k": info,
    }
    df.attrs["provenance"] = provenance(params, elapsed_s=round(time.perf_counter() - t0, 3))
    return df


def level_crossing(widths: np.ndarray, p: np.ndarray, level: float) -> np.ndarray:
    """First width where ``p`` reaches ``level``, linearly interpolated.

    ``p`` has shape (..., W); NaN where the level is never reached. When the first width
    already reaches it, that width is returned.

    Examples
    --------
    >>> float(level_crossing(np.array([2.0, 4.0]), np.array([0.2, 0.6]), 0.5))
    3.5
    """
    reached = p >= level - 1e-12
    any_r = reached.any(-1)
    i = np.argmax(reached, axis=-1)
    ip = np.maximum(i - 1, 0)
    p1 = np.take_along_axis(p, i[..., None], -1)[..., 0]
    p0 = np.take_along_axis(p, ip[..., None], -1)[..., 0]
    w1, w0 = widths[i], widths[ip]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(p1 > p0, (level - p0) / (p1 - p0), 1.0)
    x = np.where(i == 0, w1, w0 + frac * (w1 - w0))
    return np.where(any_r, x, np.nan)


def critical_ratios(
    df: pd.DataFrame,
    *,
    levels: Any = (0.5, 0.95),
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Expansion ratio ``n / k`` where the probability of global injectivity reaches a level.

    For each ``k``, ``P(injective)`` at each width is the mean over seeds; the critical
    width is the first grid width where it reaches the level, linearly interpolated
    between that width and the previous one. The confidence interval resamples seeds
    with replacement (the whole row of widths of a seed at once).

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`phase_diagram` (columns ``k, width, seed, injective``; ``method``
        is used when present). Every seed must have every width of its ``k``.
    levels : float or sequence of float, default=(0.5, 0.95)
        Probabilities in (0, 1].
    n_boot : int, default=1000
        Bootstrap resamples; 0 gives no interval (NaN).
    seed : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    ratios : pandas.DataFrame
        One row per (k, level): ``k, level, ratio, ci_low, ci_high`` (2.5% and 97.5%
        bootstrap percentiles), ``n_seeds``, ``method`` (the methods at the two widths
        the ratio is interpolated between). ``ratio`` is NaN when the level is not
        reached within the grid; a bootstrap resample that does not reach it counts as
        beyond the grid (then ``ci_high`` is NaN).

    Examples
    --------
    >>> df = pd.DataFrame({"k": 1, "width": [1, 1, 2, 2, 3, 3], "seed": [0, 1] * 3,
    ...                    "injective": [False, False, False, True, True, True]})
    >>> critical_ratios(df, levels=[0.5, 0.75], n_boot=0)[["level", "ratio"]].values.tolist()
    [[0.5, 2.0], [0.75, 2.5]]
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in ("k", "width", "seed", "injective") if c not in df.columns]
    if missing:
        raise ValueError(f"df has no column {missing[0]!r}: pass the output of phase_diagram")
    if df.empty:
        raise ValueError("df is empty")
    lv = check_levels(levels)
    n_boot = check_scalar(n_boot, "n_boot", kind=int, minimum=0)
    seed = check_scalar(seed, "seed", kind=int, minimum=0)
    rng = np.random.default_rng(seed)
    out = []
    for k in sorted(int(v) for v in df["k"].unique()):
        part = df[df["k"] == k]
        table = part.pivot_table(index="seed", columns="width", values="injective", aggfunc="mean")
        if table.isna().any().any():
            raise ValueError(f"k = {k}: every seed must have every width")
        wcols = table.columns.to_list()
        widths = np.asarray(wcols, dtype=np.float64)
        inj = table.to_numpy(dtype=np.float64)  # (S, W)
        S = inj.shape[0]
        p = inj.mean(0)
        boot = None
        if n_boot:
            idx = rng.integers(0, S, size=(n_boot, S))
            boot = inj[idx].mean(1)  # (n_boot, W)
        meth = part.groupby("width")["method"].first() if "method" in part else None
        for level in lv:
            x = float(level_crossing(widths, p, level))
            lo = hi = float("nan")
            if boot is not None:
                xb = level_crossing(widths, boot, level)
                beyond = 1e12  # not reached within the grid
                xb = np.where(np.isnan(xb), beyond, xb)
                lo_, hi_ = np.percentile(xb, [2.5, 97.5])
                lo = float(lo_) / k if lo_ < beyond / 2 else float("nan")
                hi = float(hi_) / k if hi_ < beyond / 2 else float("nan")
            m = ""
            if meth is not None and np.isfinite(x):
                i = int(np.searchsorted(widths, x))
                around = [wcols[max(i - 1, 0)], wcols[min(i, len(wcols) - 1)]]
                m = " / ".join(dict.fromkeys(str(meth.loc[w]) for w in around))
            out.append(
                {
                    "k": k,
                    "level": level,
                    "ratio": x / k,
                    "ci_low": lo,
                    "ci_high": hi,
                    "n_seeds": S,
                    "method": m,
                }
            )
    return pd.DataFrame(out)
