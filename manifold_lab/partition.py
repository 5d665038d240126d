"""The linear regions of one layer ``phi(T x + b)``, computed exactly in a plane of the input.

A piecewise-linear activation (ReLU, leaky ReLU, ReLU6) makes the layer linear on each cell of
the hyperplane arrangement ``t_j . x + b_j = c`` (one hyperplane per row ``j`` and breakpoint
``c`` of the activation: ``0`` for ReLU, ``0`` and ``6`` for ReLU6). Restricted to a plane
``x = origin + basis @ u`` the hyperplanes become lines ``a_j . u + c_j = 0``, and the cells
become convex polygons. :func:`layer_partition` cuts a box around the data by every line in
turn (exact convex clipping, no sampling grid) and labels each polygon with the activation's
piece of every row at an interior point. For each region it reports how many rows are
*informative* (their output determines their pre-activation: ``z > 0`` for ReLU,
``0 < z < 6`` for ReLU6, every row for leaky ReLU) and whether those rows have full rank on the
manifold's span, which is Lemma 2's condition for the layer to be invertible there.

For a two-dimensional manifold in the plane (the paper's spiral) the plane is the input space
itself; for a ``k``-dimensional manifold it is the plane through the points' mean spanned by
their two leading principal components (the regions are then the layer's regions *on that
plane*; points off the plane are drawn at their projection).

Examples
--------
>>> import numpy as np
>>> T = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
>>> X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
>>> part = layer_partition(X, T, activation="relu")
>>> len(part.polygons), sorted(part.n_informative.tolist())
(6, [0, 1, 1, 2, 2, 3])
>>> part.lemma2.sum()  # regions where at least two independent rows are active
np.int64(3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._validation import check_scalar

__all__ = [
    "DRAWN_MAX_WIDTH",
    "Partition",
    "PartitionCase",
    "case_partition",
    "collapse_partners",
    "layer_partition",
    "partition_cases",
    "partition_note",
]

DRAWN_MAX_WIDTH = 64
"""Widest layer the explorer draws the partition of: above it ReLU6's arrangement has tens of
thousands of regions, thinner than a pixel, and takes seconds to cut and draw."""


@dataclass(frozen=True)
class Partition:
    """The layer's linear regions in a plane of its input.

    Attributes
    ----------
    polygons : tuple of ndarray
        One ``(m, 2)`` array of vertices per region, counter-clockwise, in plane coordinates.
    pieces : ndarray of shape (n_regions, width), int8
        The activation's piece of every row in every region (``0``: below the first
        breakpoint, ``1``: between the first and the second, ...).
    n_informative : ndarray of shape (n_regions,)
        Rows whose output determines their pre-activation in the region.
    n_positive : ndarray of shape (n_regions,)
        Rows above the first breakpoint (``z > 0``).
    rank : ndarray of shape (n_regions,)
        Rank of the informative rows of ``T`` on the manifold's span.
    k : int
        Dimension of the manifold's span.
    lines : ndarray of shape (n_lines, 3)
        Each line ``a0 u + a1 v + c = 0`` in plane coordinates.
    line_rows : ndarray of shape (n_lines,)
        The row of ``T`` each line belongs to.
    origin : ndarray of shape (D,)
        The plane's origin in the input space.
    basis : ndarray of shape (D, 2)
        The plane's orthonormal directions.
    bounds : tuple of float
        ``(u_min, u_max, v_min, v_max)``, the box that was partitioned.
    coords : ndarray of shape (N, 2)
        The points in plane coordinates.
    activation : str
        The activation's name.
    """

    polygons: tuple[np.ndarray, ...]
    pieces: np.ndarray
    n_informative: np.ndarray
    n_positive: np.ndarray
    rank: np.ndarray
    k: int
    lines: np.ndarray
    line_rows: np.ndarray
    origin: np.ndarray
    basis: np.ndarray
    bounds: tuple[float, float, float, float]
    coords: np.ndarray
    activation: str

    @property
    def lemma2(self) -> np.ndarray:
        """Whether Lemma 2 holds in each region (informative rows of full rank ``k``)."""
        return np.asarray(self.rank == self.k)

    @property
    def areas(self) -> np.ndarray:
        """Area of each region (shoelace formula)."""
        return _areas(list(self.polygons))

    def region_of(self, coords: Any) -> np.ndarray:
        """The region holding each point (plane coordinates); -1 outside every region.

        Decided by the points' activation pieces, so points on a line get the region whose
        pieces they share (or -1).
        """
        uv = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
        z = uv @ self.lines[:, :2].T + self.lines[:, 2]  # (N, n_lines), one per (row, breakpoint)
        pieces = _pieces_from_lines(z, self.line_rows, self.pieces.shape[1])
        lookup = {p.tobytes(): i for i, p in enumerate(self.pieces)}
        inside = (
            (uv[:, 0] >= self.bounds[0])
            & (uv[:, 0] <= self.bounds[1])
            & (uv[:, 1] >= self.bounds[2])
            & (uv[:, 1] <= self.bounds[3])
        )
        return np.array(
            [
                lookup.get(p.tobytes(), -1) if ok else -1
                for p, ok in zip(pieces, inside, strict=True)
            ]
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per region: area, informative and positive rows, rank, Lemma 2."""
        return pd.DataFrame(
            {
                "region": np.arange(len(self.polygons)),
                "area": self.areas,
                "n_informative": self.n_informative,
                "n_positive": self.n_positive,
                "rank": self.rank,
                "lemma2": self.lemma2,
            }
        )


def _areas(polys: list[np.ndarray]) -> np.ndarray:
    """Signed areas of polygons (shoelace formula), in one vectorised pass."""
    if not polys:
        return np.zeros(0)
    sizes = np.fromiter((len(p) for p in polys), dtype=np.int64, count=len(polys))
    return _flat_areas(np.concatenate(polys), sizes)


def _flat_areas(verts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Signed areas of the polygons stored one after another in ``verts`` (``sizes`` rows
    each)."""
    if not len(sizes):
        return np.zeros(0)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nxt = np.arange(len(verts)) + 1
    nxt[starts + sizes - 1] = starts  # each polygon's last vertex wraps to its first
    cross = verts[:, 0] * verts[nxt, 1] - verts[:, 1] * verts[nxt, 0]
    return np.asarray(0.5 * np.add.reduceat(cross, starts))


def _pieces_from_lines(z: np.ndarray, line_rows: np.ndarray, width: int) -> np.ndarray:
    """Pieces (N, width) from the signed values of every line (N, n_lines): for each row,
    the number of its breakpoints below the pre-activation."""
    pieces = np.zeros((z.shape[0], width), dtype=np.int8)
    np.add.at(pieces.T, line_rows, (z > 0).T.astype(np.int8))
    return pieces


def _cut(
    verts: np.ndarray, sizes: np.ndarray, s: np.ndarray, hit: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cut every crossed convex polygon by the line where the vertex values ``s`` change
    sign, all at once.

    The polygons are stored one after another (``verts``, ``sizes`` rows each); ``hit``
    marks the crossed ones. A vertex
    within ``eps`` of the line goes to both sides; an edge is cut only where its ends lie
    strictly on opposite sides, so no side gets a repeated vertex. Returns the pieces
    (vertices and sizes) in the order: first crossed polygon's negative side, its positive
    side, the next crossed polygon's, ...; pieces of fewer than three vertices are dropped.
    """
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nxt = np.arange(len(verts)) + 1
    nxt[starts + sizes - 1] = starts
    owner = np.repeat(np.arange(len(sizes)), sizes)
    at = np.nonzero(hit[owner])[0]  # the crossed polygons' vertices, in order
    local = (np.cumsum(hit) - 1)[owner[at]]  # which crossed polygon each belongs to
    p, q = verts[at], verts[nxt[at]]
    sp, sq = s[at], s[nxt[at]]
    above, below = sp > eps, sp < -eps
    edge = (above & (sq < -eps)) | (below & (sq > eps))
    cuts = np.zeros_like(p)
    e = np.nonzero(edge)[0]
    cuts[e] = p[e] + (sp[e] / (sp[e] - sq[e]))[:, None] * (q[e] - p[e])
    # every vertex emits itself (if on that side) then its edge's cut (if any), in order
    cand = np.stack([p, cuts], 1).reshape(-1, 2)
    group = np.repeat(local, 2)
    pieces_v, pieces_g = [], []
    for side, keep in ((0, ~above), (1, ~below)):
        mask = np.stack([keep, edge], 1).reshape(-1)
        pieces_v.append(cand[mask])
        pieces_g.append(2 * group[mask] + side)
    g = np.concatenate(pieces_g)
    order = np.argsort(g, kind="stable")
    new_v = np.concatenate(pieces_v)[order]
    new_sizes = np.bincount(g, minlength=2 * int(hit.sum()))
    ok = new_sizes >= 3
    return new_v[ok[g[order]]], new_sizes[ok]


def _arrangement(lines: np.ndarray, bounds: tuple[float, float, float, float]) -> list[np.ndarray]:
    """Convex cells of the box cut by every line (exact clipping, vectorised over cells)."""
    u0, u1, v0, v1 = bounds
    verts = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], dtype=np.float64)
    sizes = np.array([4], dtype=np.int64)
    scale = max(u1 - u0, v1 - v0)
    for a0, a1, c in lines:
        norm = float(np.hypot(a0, a1))
        if norm == 0.0:
            continue
        eps = 1e-12 * (norm * scale + abs(c))
        s = verts[:, 0] * a0 + verts[:, 1] * a1 + c
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        lo = np.minimum.reduceat(s, starts)
        hi = np.maximum.reduceat(s, starts)
        hit = (lo < -eps) & (hi > eps)
        if not hit.any():
            continue
        new_v, new_sizes = _cut(verts, sizes, s, hit, eps)
        # the uncut polygons keep their order; the pieces follow
        verts = np.concatenate([verts[~np.repeat(hit, sizes)], new_v])
        sizes = np.concatenate([sizes[~hit], new_sizes])
    ends = np.cumsum(sizes).tolist()
    keep = (_flat_areas(verts, sizes) > 1e-14 * scale * scale).tolist()
    return [verts[e - n : e] for e, n, k in zip(ends, sizes.tolist(), keep, strict=True) if k]


def _span_basis(X: np.ndarray) -> np.ndarray:
    """Orthonormal basis (D, k) of the points' linear span."""
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    tol = max(X.shape) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)
    return np.asarray(vt[s > tol].T)


def _piecewise_linear(activation: Any) -> Any:
    """The activation ``activation`` (name or object), or a one-line error when it has no
    linear regions to partition the plane into."""
    from .activations import get_activation

    act = get_activation(activation)
    if not act.breakpoints or act.pattern is None:
        raise ValueError(
            f"the partition needs a piecewise-linear activation (ReLU, ReLU6, leaky ReLU); "
            f"{act.name} has no linear regions"
        )
    return act


def layer_partition(
    X: Any,
    T: Any,
    b: Any = None,
    activation: Any = "relu",
    *,
    margin: float = 0.1,
    bounds: tuple[float, float, float, float] | None = None,
) -> Partition:
    """The linear regions of ``phi(T x + b)`` in the plane of the points ``X``, exactly.

    Parameters
    ----------
    X : array-like of shape (N, D)
        The manifold's points; they fix the plane (``D = 2``: the input plane itself;
        ``D > 2``: through their mean along their two leading principal components) and the
        box around them.
    T : array-like of shape (width, D)
        The layer's matrix.
    b : array-like of shape (width,) or None, default=None
        The layer's bias.
    activation : str or Activation, default="relu"
        A piecewise-linear activation (one with breakpoints: ReLU, ReLU6, leaky ReLU,
        clipped ReLU).
    margin : float, default=0.1
        Extra room around the points, as a fraction of their extent.
    bounds : tuple of float or None, default=None
        ``(u_min, u_max, v_min, v_max)`` in plane coordinates, instead of the points' box.

    Returns
    -------
    part : Partition
        The regions (polygons in plane coordinates), each with its activation pieces,
        informative rows and Lemma 2's rank test.

    Raises
    ------
    ValueError
        For a smooth activation, mismatched shapes, non-finite values, or points that do not
        span a plane.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> T = np.random.default_rng(1).normal(size=(5, 2))
    >>> part = layer_partition(X, T, activation="relu6")
    >>> int(part.lines.shape[0])  # two lines per row: z = 0 and z = 6
    10
    >>> bool(np.isclose(part.areas.sum(), np.prod(np.diff(np.reshape(part.bounds, (2, 2))))))
    True
    """
    act = _piecewise_linear(activation)
    Xa = np.asarray(X, dtype=np.float64)
    Ta = np.asarray(T, dtype=np.float64)
    if Xa.ndim != 2 or Xa.shape[0] < 2 or Xa.shape[1] < 2:
        raise ValueError(f"X must be an (N, D) array with N >= 2 and D >= 2, got {Xa.shape}")
    if Ta.ndim != 2 or Ta.shape[1] != Xa.shape[1] or Ta.shape[0] < 1:
        raise ValueError(
            f"T must be a (width, D) array with D = {Xa.shape[1]} (the points' dimension), "
            f"got {Ta.shape}"
        )
    ba = np.zeros(Ta.shape[0]) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
    if ba.shape != (Ta.shape[0],):
        raise ValueError(f"b must have {Ta.shape[0]} entries (one per row of T), got {ba.size}")
    for name, arr in (("X", Xa), ("T", Ta), ("b", ba)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values; remove them first")
    check_scalar(margin, "margin", minimum=0, maximum=10)
    D = Xa.shape[1]
    if D == 2:
        origin, basis = np.zeros(2), np.eye(2)
    else:
        origin = Xa.mean(0)
        _, s, vt = np.linalg.svd(Xa - origin, full_matrices=False)
        if s.size < 2 or s[1] <= 1e-12 * s[0]:
            raise ValueError("the points do not spread over a plane; the partition needs two")
        basis = vt[:2].T
    coords = (Xa - origin) @ basis
    if bounds is None:
        lo, hi = coords.min(0), coords.max(0)
        pad = margin * np.maximum(hi - lo, 1e-12)
        bounds = (
            float(lo[0] - pad[0]),
            float(hi[0] + pad[0]),
            float(lo[1] - pad[1]),
            float(hi[1] + pad[1]),
        )
    else:
        bounds = tuple(float(v) for v in bounds)  # type: ignore[assignment]
        if len(bounds) != 4 or not (bounds[0] < bounds[1] and bounds[2] < bounds[3]):
            raise ValueError(f"bounds must be (u_min, u_max, v_min, v_max), got {bounds}")
    # z_j(u) = t_j . (origin + basis u) + b_j; a line per row and breakpoint: z_j(u) = c
    A = Ta @ basis  # (width, 2)
    c0 = Ta @ origin + ba
    width = Ta.shape[0]
    bps = np.asarray(act.breakpoints, dtype=np.float64)
    line_rows = np.repeat(np.arange(width), len(bps))
    lines = np.column_stack([A[line_rows], c0[line_rows] - np.tile(bps, width)])
    polys = _arrangement(lines, bounds)
    sizes = np.fromiter((len(p) for p in polys), dtype=np.int64, count=len(polys))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    centres = np.add.reduceat(np.concatenate(polys), starts, axis=0) / sizes[:, None]
    z = centres @ A.T + c0  # (R, width) pre-activations at interior points
    zt = torch.from_numpy(z)
    pieces = act.pattern(zt).numpy().astype(np.int8)
    informative = np.ones_like(z, dtype=bool)
    if act.inverse is not None:
        informative = act.inverse(act(zt))[1].numpy().astype(bool)
    span = _span_basis(Xa)
    k = span.shape[1]
    Ts = Ta @ span  # (width, k)
    # zeroing the other rows keeps the rank of the informative ones; one stacked SVD
    rank = np.linalg.matrix_rank(Ts[None] * informative[:, :, None]).astype(np.int64)
    return Partition(
        polygons=tuple(polys),
        pieces=pieces,
        n_informative=informative.sum(1),
        n_positive=(z > bps[0]).sum(1),
        rank=rank,
        k=int(k),
        lines=lines,
        line_rows=line_rows,
        origin=origin,
        basis=basis,
        bounds=bounds,
        coords=coords,
        activation=act.name,
    )


def case_partition(result: Any, **kwargs: Any) -> Partition:
    """:func:`layer_partition` of a case from :func:`manifold_lab.run_case`.

    Parameters
    ----------
    result : CaseResult
        The case (its points, ``T``, ``b`` and activation).
    **kwargs
        Passed to :func:`layer_partition` (``margin``, ``bounds``).

    Returns
    -------
    part : Partition
        The linear regions of the case's layer in the plane of its points.

    Examples
    --------
    >>> import manifold_lab as ml
    >>> case = ml.run_case("spiral", width=3, seed=0, n_samples=200)
    >>> part = case_partition(case)
    >>> part.k, len(part.polygons)
    (2, 6)
    """
    return layer_partition(result.manifold.X, result.T, result.b, result.activation, **kwargs)


def collapse_partners(result: Any) -> np.ndarray:
    """For each collapsed point of a case, the distinct input its output lands on.

    A point ``i`` is collapsed (:attr:`CaseResult.collapsed`) when some input ``j`` at least
    the median nearest-neighbour distance away has its output nearby; its partner is the
    nearest such ``j`` (never ``i`` itself) in the output space ``Y``, the first in order
    among equally near ones. Only the neighbour subsample (``result.neighbor_index``) can be
    flagged, so partners are searched there.

    Parameters
    ----------
    result : CaseResult
        The case, from :func:`manifold_lab.run_case`.

    Returns
    -------
    pairs : ndarray of shape (n_collapsed, 2), int
        Indices ``(i, j)`` into the case's points.

    Examples
    --------
    >>> import manifold_lab as ml
    >>> case = ml.run_case("spiral", width=2, seed=0, n_samples=300)
    >>> pairs = collapse_partners(case)
    >>> len(pairs) == int(case.collapsed.sum()), bool((pairs[:, 0] != pairs[:, 1]).all())
    (True, True)
    """
    sub = np.asarray(result.neighbor_index)
    return _pairs(
        np.asarray(result.manifold.X, dtype=np.float64)[sub],
        np.asarray(result.Y, dtype=np.float64)[sub],
        np.asarray(result.collapsed)[sub],
        sub,
    )


def _pairs(Xs: np.ndarray, Ys: np.ndarray, flags: np.ndarray, sub: np.ndarray) -> np.ndarray:
    """:func:`collapse_partners` on the subsample ``sub`` (inputs ``Xs``, outputs ``Ys``,
    collapse ``flags``)."""
    flagged = np.nonzero(flags)[0]
    if flagged.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    partner = _distinct_nearest(Xs, Ys, flagged)
    return np.stack([sub[flagged], sub[partner]], 1).astype(np.int64)


def _distances(A: np.ndarray, i: np.ndarray, B: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Euclidean distances ``|A[i] - B[j]|`` (broadcast indices), always summed the same
    way, so that equal pairs get equal distances whichever search found them."""
    return np.asarray(np.sqrt(((A[i] - B[j]) ** 2).sum(-1)))


def _distinct_nearest(X: np.ndarray, Y: np.ndarray, rows: np.ndarray, k: int = 16) -> np.ndarray:
    """For each of ``rows``, the point ``j != i`` nearest to it in ``Y`` among those at least
    the median nearest-neighbour distance ``delta`` from it in ``X`` (the lowest index among
    equally near ones).

    The ``k`` nearest outputs of each row come from a k-d tree; a row is settled when one of
    them is a distinct input nearer than the ``k``-th (so no equally near point was left
    out), or when it lies in a cluster of equal outputs with a distinct input among the
    cluster's first ``k`` (its partner, at distance 0). The few others are compared with
    every point, in blocks of about four million numbers. No ``m x m`` matrix is formed.
    """
    from scipy.spatial import cKDTree

    m = len(X)
    nn = cKDTree(X).query(X, k=2)[1][:, 1]
    gaps = _distances(X, np.arange(m), X, nn)
    delta = float(np.partition(gaps, (m - 1) // 2)[(m - 1) // 2])
    kk = min(k, m)
    far, jk = cKDTree(Y).query(Y[rows], k=kk)
    far, jk = far.reshape(len(rows), kk), jk.reshape(len(rows), kk)
    d = _distances(Y, rows[:, None], Y, jk)
    ok = (jk != rows[:, None]) & (_distances(X, rows[:, None], X, jk) >= delta)
    d = np.where(ok, d, np.inf)
    best = d.min(1)
    out = np.where(d == best[:, None], jk, m).min(1)
    # every point beyond the k listed is at least the k-th distance away
    settled = np.isfinite(best) & ((kk == m) | (best < far[:, -1] * (1 - 1e-12)))
    # a row whose k nearest outputs all equal its own lies in a cluster of equal outputs
    # (a saturated or dead region): its partner is the cluster's first distinct input
    dup = np.nonzero(~settled & (far[:, -1] == 0))[0]
    if dup.size:
        _, group = np.unique(Y, axis=0, return_inverse=True)
        group = group.reshape(-1)
        members = np.argsort(group, kind="stable")  # by cluster, then by index
        start = np.searchsorted(group[members], group[rows[dup]])
        size = np.bincount(group)[group[rows[dup]]]
        step = np.arange(k)
        cand = members[np.minimum(start[:, None] + step, len(members) - 1)]
        r = rows[dup][:, None]
        ok = (step < size[:, None]) & (cand != r) & (_distances(X, r, X, cand) >= delta)
        hit = ok.any(1)
        out[dup[hit]] = cand[hit, ok[hit].argmax(1)]
        settled[dup[hit]] = True
    todo = np.nonzero(~settled)[0]
    block = max(1, (1 << 22) // (m * max(Y.shape[1], X.shape[1])))
    everyone = np.arange(m)[None]
    for a in range(0, len(todo), block):
        r = rows[todo[a : a + block]][:, None]
        dy = _distances(Y, r, Y, everyone)
        dy[(everyone == r) | (_distances(X, r, X, everyone) < delta)] = np.inf
        out[todo[a : a + block]] = dy.argmin(1)  # the first of the nearest
    return out


@dataclass(frozen=True)
class PartitionCase:
    """What the partition view needs of one case: its regions and its collapsed pairs.

    :func:`partition_cases` makes these for several widths at the cost of the layer's
    outputs and the collapse test only (no reconstruction, no other metric), with the same
    points, matrix and collapsed points as :func:`manifold_lab.run_case` would give.

    Attributes
    ----------
    manifold : Manifold
        The input points.
    width, seed : int
        The layer's width and the seed of its matrix.
    activation : str
        The activation's name.
    partition : Partition
        The layer's linear regions (:func:`layer_partition`).
    collapsed : ndarray of shape (n_samples,), bool
        The collapsed points (:attr:`CaseResult.collapsed`).
    pairs : ndarray of shape (n_collapsed, 2), int
        Each collapsed point and its partner (:func:`collapse_partners`).
    """

    manifold: Any
    width: int
    seed: int
    activation: str
    partition: Partition
    collapsed: np.ndarray
    pairs: np.ndarray


def partition_cases(
    manifold: Any = "spiral",
    widths: Any = (2, 3, 5, 8),
    seed: int = 0,
    *,
    activation: Any = "relu",
    embedding: str = "gaussian",
    bias: float = 0.0,
    n_samples: int = 1000,
    manifold_seed: int = 0,
    manifold_kwargs: dict[str, Any] | None = None,
    max_neighbor_points: int | None = 1000,
    collapse_tol: float = 0.1,
    device: Any = None,
    dtype: Any = None,
) -> list[PartitionCase]:
    """The partition and collapsed pairs of one setting at several widths, and nothing else.

    For every width, the regions of ``case_partition(run_case(...))``, the collapsed points
    of ``run_case`` and the pairs of ``collapse_partners(run_case(...))`` (same arguments,
    same defaults as :func:`manifold_lab.run_case` with ``depth=1``), several times faster:
    the points and their neighbour structure are prepared once, and each width computes
    only the layer's outputs, the collapse test (on the pairs of outputs near the collapse
    radius, found with a k-d tree; run_case's dense test where a pair is too close to the
    radius to decide), the regions and the partners, with no reconstruction and no other
    metric. A partner is the nearest distinct output by exact distances; it can differ from
    :func:`collapse_partners`'s (matrix-product distances) only between outputs equally near
    to within rounding. This is what the width movie's partition view draws.

    Parameters
    ----------
    manifold : str, Manifold, array-like or (X, t), default="spiral"
        What to embed (see :func:`manifold_lab.make_manifold`).
    widths : sequence of int, default=(2, 3, 5, 8)
        Layer widths, each at least 1.
    seed : int, default=0
        Seed of the random matrix (the same seed at every width, as in ``run_case``).
    activation : str or Activation, default="relu"
        A piecewise-linear activation.
    embedding : {"gaussian", "orthonormal", "uniform"}, default="gaussian"
        Distribution of ``T``.
    bias : float, default=0.0
        Relative bias scale.
    n_samples : int, default=1000
        Points, when ``manifold`` is a name.
    manifold_seed : int, default=0
        Seed of the manifold's points.
    manifold_kwargs : dict or None, default=None
        Further arguments of the manifold generator.
    max_neighbor_points : int or None, default=1000
        Points tested for collapse (``None``: all).
    collapse_tol : float, default=0.1
        Relative radius that defines collapsed points.
    device : str, torch.device or None, default=None
        Where to compute; None: CUDA when present, else the CPU.
    dtype : {"float64", "float32"} or torch dtype, default=None
        Precision (float64 when ``None``).

    Returns
    -------
    cases : list of PartitionCase
        One per width, in the order given.

    Raises
    ------
    ValueError
        For a smooth activation, no widths, or a width below 1.

    Examples
    --------
    >>> import manifold_lab as ml
    >>> light = partition_cases("spiral", widths=[2, 5], n_samples=300)
    >>> full = ml.run_case("spiral", width=5, n_samples=300)
    >>> bool((light[1].collapsed == full.collapsed).all())
    True
    >>> len(light[1].partition.polygons) == len(case_partition(full).polygons)
    True
    """
    from ._memory import check_memory
    from ._validation import resolve_device, resolve_dtype
    from .core import check_manifold_kwargs, estimate_prepare_bytes, neighbor_points, prepare
    from .embedding import random_embedding
    from .manifolds import make_manifold

    act = _piecewise_linear(activation)
    ws = [check_scalar(w, "width", kind=int, minimum=1) for w in np.atleast_1d(widths).tolist()]
    if not ws:
        raise ValueError("no widths: pass one or more layer widths")
    seed = check_scalar(seed, "seed", kind=int, minimum=0)
    check_scalar(collapse_tol, "collapse_tol", minimum=0, include_min=False)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    m = make_manifold(
        manifold, n_samples, seed=manifold_seed, **check_manifold_kwargs(manifold_kwargs)
    )
    itemsize = torch.finfo(dt).bits // 8
    n_nb = neighbor_points(m.n_samples, max_neighbor_points)
    check_memory(
        estimate_prepare_bytes(
            m.n_samples, m.ambient_dim, itemsize=itemsize, n_neighbor_points=n_nb
        )
        + 4 * itemsize * (n_nb * n_nb + m.n_samples * max(ws)),
        what=f"the partitions ({n_nb} points tested for collapse)",
        advice="reduce n_samples or max_neighbor_points",
        device=dev,
    )
    prep = prepare(
        m,
        device=dev,
        dtype=dt,
        neighbors=True,
        max_neighbor_points=max_neighbor_points,
        n_neighbors=1,
    )
    assert prep.sub_idx is not None and prep.DX is not None
    sub = prep.sub_idx.cpu().numpy()
    XT = prep.X.T.contiguous()
    Xs = np.asarray(m.X, dtype=np.float64)[sub]
    tvx = float(((Xs - Xs.mean(0)) ** 2).sum(1).mean())
    # a partner must be a distinct input (at least delta away; never the point itself)
    DX = prep.DX.cpu().numpy()
    eps = float(torch.finfo(dt).eps)
    out = []
    for w in ws:
        T, b = random_embedding(
            m.ambient_dim, w, seed, kind=embedding, bias=bias, data_scale=prep.data_scale
        )
        # the layer's outputs as run_case computes them (core.evaluate_chunk)
        Z = torch.matmul(torch.as_tensor(T[None], dtype=dt, device=dev), XT)
        if b is not None:
            Z = Z + torch.as_tensor(b[None], dtype=dt, device=dev)[:, :, None]
        Y = act.fn(Z)
        Ys = np.ascontiguousarray(Y[0].cpu().double().numpy()[:, sub].T)  # (m, width)
        # the collapse radius of core.neighbor_metrics
        tvy = float(((Ys - Ys.mean(0)) ** 2).sum(1).mean())
        radius = collapse_tol * np.sqrt(tvy / tvx) * prep.delta
        flags = _sparse_collapse(Ys, DX, prep.delta, radius, eps)
        if flags is None:
            flags = _dense_collapse(prep, Y, collapse_tol)
        collapsed = np.zeros(m.n_samples, dtype=bool)
        collapsed[sub] = flags
        out.append(
            PartitionCase(
                manifold=m,
                width=int(w),
                seed=int(seed),
                activation=act.name,
                partition=layer_partition(m.X, T, b, act),
                collapsed=collapsed,
                pairs=_pairs(Xs, Ys, flags, sub),
            )
        )
    return out


def _dense_collapse(prep: Any, Y: torch.Tensor, collapse_tol: float) -> np.ndarray:
    """run_case's collapse test on the outputs ``Y`` (1, width, N), with its own (dense)
    output distances: whether each point's output lies within the radius of a distinct
    input's."""
    Ys = Y[:, :, prep.sub_idx].transpose(1, 2)
    Xs = prep.X[prep.sub_idx]
    tvx = ((Xs - Xs.mean(0)) ** 2).sum(-1).mean()
    tvy = ((Ys - Ys.mean(1, keepdim=True)) ** 2).sum(-1).mean(-1)
    radius = collapse_tol * torch.sqrt(tvy / tvx) * prep.delta
    ignore = prep.DX < prep.delta
    ignore.fill_diagonal_(True)
    DY = torch.cdist(Ys, Ys)[0]
    nearest = DY.masked_fill_(ignore, float("inf")).min(1).values
    return np.asarray((nearest <= radius[0]).cpu().numpy())


def _sparse_collapse(
    Y: np.ndarray, DX: np.ndarray, delta: float, radius: float, eps: float, k: int = 16
) -> np.ndarray | None:
    """run_case's collapse test from the outputs near each other only (the ``k`` nearest
    within reach of every point, from a k-d tree, and all of them where those do not
    decide), not all ``m x m`` output distances.

    Point ``i`` is collapsed when a distinct input ``j`` (``DX[i, j] >= delta``, ``j != i``)
    has its output within ``radius``. run_case decides with ``torch.cdist``'s
    matrix-product distances, whose squares differ from the exact ones by at most about
    ``(n + 2) eps (|y_i| + |y_j|)^2``, and ``radius`` (from the outputs' variance, summed here
    in another order) from run_case's by a few ``eps``: pairs are searched within the radius
    plus these bounds (several times over), and None is returned when a point is not
    collapsed by a sure pair and a pair lies within them of the radius (then only
    run_case's own distances decide).

    Returns
    -------
    collapsed : ndarray of shape (m,), bool, or None
        The collapsed points, or None when undecided.
    """
    from scipy.spatial import cKDTree

    m, n = Y.shape
    norms = np.sqrt((Y**2).sum(1))
    gamma = 8.0 * (n + 2) * eps
    slack = gamma * (2.0 * float(norms.max())) ** 2 + 64.0 * eps * radius**2
    reach = np.sqrt(radius**2 + slack) * (1 + 1e-9)
    tree = cKDTree(Y)
    collapsed = np.zeros(m, dtype=bool)

    def decide(i: np.ndarray, j: np.ndarray, d: np.ndarray) -> bool:
        """Mark the points collapsed by the pairs (i, j) at distances d; False when a pair
        too close to the radius leaves a point undecided."""
        distinct = (i != j) & (DX[i, j] >= delta)
        bound = gamma * (norms[i] + norms[j]) ** 2 + 64.0 * eps * (radius**2 + d * d)
        sure = distinct & (d * d + bound <= radius**2)
        collapsed[i[sure]] = True
        unsure = distinct & ~sure & (d * d - bound <= radius**2)
        return not (unsure & ~collapsed[i]).any()

    # the k nearest outputs within reach of every point, then all of them for the points
    # with k listed (more may lie within reach) and none of them collapsing it
    kk = min(k, m)
    d, j = tree.query(Y, k=kk, distance_upper_bound=reach)
    d, j = d.reshape(m, kk), j.reshape(m, kk)
    listed = j < m
    i = np.broadcast_to(np.arange(m)[:, None], j.shape)
    if not decide(i[listed], j[listed], d[listed]):
        return None
    rows = np.nonzero(listed[:, -1] & ~collapsed)[0]
    if rows.size:
        near = tree.query_ball_point(Y[rows], reach)
        counts = np.fromiter(map(len, near), dtype=np.int64, count=rows.size)
        i = np.repeat(rows, counts)
        j = np.concatenate([np.asarray(x, dtype=np.int64) for x in near])
        if not decide(i, j, _distances(Y, i, Y, j)):
            return None
    return collapsed


def partition_note(activation: Any, width: int) -> str:
    """Why the partition of ``activation`` at ``width`` is not drawn (empty: it is).

    Parameters
    ----------
    activation : str or Activation
        The layer's activation.
    width : int
        The layer's width.

    Returns
    -------
    note : str
        One sentence for the reader, or ``""`` when :func:`layer_partition` applies and the
        width is at most :data:`DRAWN_MAX_WIDTH`.

    Examples
    --------
    >>> partition_note("relu", 15)
    ''
    >>> partition_note("gelu", 15)[:40]
    'No partition: gelu is smooth, so the lay'
    """
    from .activations import get_activation

    act = get_activation(activation)
    if not act.breakpoints or act.pattern is None:
        kind = "linear everywhere" if act.name == "identity" else "smooth"
        return (
            f"No partition: {act.name} is {kind}, so the layer has no linear regions to draw "
            "(ReLU, leaky ReLU and ReLU6 have them)."
        )
    if width > DRAWN_MAX_WIDTH:
        return (
            f"Partition drawn up to width {DRAWN_MAX_WIDTH}: at width {width} the regions are "
            "thinner than a pixel and cutting them takes seconds."
        )
    return ""
