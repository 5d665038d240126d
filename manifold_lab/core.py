"""The experiment: embed points with random ``T``, apply an activation, reconstruct, measure.

All work for many seeds of one width runs as one batched torch computation (on the CPU or a
GPU, float32 or float64). Each ``(width, seed)`` case only depends on its own matrix, so its
numbers are the same alone, inside a larger sweep, or in another chunk.

Metrics (one value per case)
----------------------------
nmse
    Normalised reconstruction error: ``mean_i ||x_hat_i - x_i||^2 / mean_i ||x_i - mean(x)||^2``
    (mean squared error over the total variance of the input points; 0 is perfect, 1 is as
    bad as predicting the mean). Depends on the reconstruction method.
invertible_fraction
    Fraction of points where the layer is exactly invertible (the paper's Lemma 2): the
    rows of ``T`` at the point's informative coordinates (``y > 0`` for ReLU, ``0 < y < c``
    for ReLU clipped at ``c``, all coordinates for leaky ReLU, softplus and identity),
    restricted to the linear span of the manifold, have full rank ``k`` (the span's
    dimension, not the ambient one). Numerically: the smallest eigenvalue of their Gram
    matrix exceeds ``(rtol * sigma_max(T U))^2`` with ``rtol = 1e-7`` (float64) or ``1e-3``
    (float32). NaN for activations without an inverse (GELU, callables).
jacobian_min_sv
    Median over points of the local Jacobian's smallest singular value on the span,
    ``sigma_min(diag(phi'(z_i)) T U)``, divided by ``sigma_max(T U)``. Defined for every
    activation; for ReLU it is 0 exactly where Lemma 2 fails.
collapsed_fraction
    Fraction of points ``i`` with some other point ``j`` that is a distinct input
    (``||x_i - x_j|| >= delta``, ``delta`` the median nearest-neighbour distance of the
    inputs) but whose output lies within ``collapse_tol * s * delta`` of ``y_i``, where
    ``s = sqrt(total variance of Y / total variance of X)`` is the layer's global scale.
    Measured in the output space ``y = phi(T x + b)`` on at most ``max_neighbor_points``
    points (evenly spaced in sample order).
knn_recall
    Neighbourhood preservation: mean fraction of each point's ``n_neighbors`` nearest
    input neighbours that are also among its nearest output neighbours (same subsample).
n_patterns
    Number of distinct activation patterns (linear regions of the layer) that the sampled
    points fall in. NaN for smooth activations.

Reconstruction methods
----------------------
pinv
    The paper's ``T^-1``: ``x_hat = U (T U)^+ (y - b)``, the pseudo-inverse on the span (the
    plain ``pinv(T)`` for full-span data). It does not undo the activation: it shows the
    paper's Figure 1 distortion. Needs ``width >= k``.
lstsq
    The best affine decoder ``x_hat = W y + c``, fitted by least squares on this case's
    activations: how much of the input is linearly recoverable at all (in-sample).
lemma2
    The exact inverse of Lemma 2: on each point's informative coordinates, read back the
    pre-activation and solve ``T_A U c = z_A - b_A``. Exact wherever the point is
    invertible; elsewhere the system is under-determined and the minimum-norm solution is
    returned (reported through ``invertible_fraction``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ._memory import check_memory
from ._validation import check_scalar, resolve_device, resolve_dtype
from .activations import Activation, get_activation
from .embedding import check_residual_form, random_embedding, stack_layers
from .manifolds import Manifold, make_manifold
from .registry import METHOD_REGISTRY, METRIC_REGISTRY
from .registry.settings import CASE, DEFAULT_DEVICE, SWEEP

__all__ = ["METHODS", "METRICS", "CaseResult", "run_case"]

Tensor = torch.Tensor

METHODS: tuple[str, ...] = METHOD_REGISTRY.names()
"""Reconstruction methods (described in :data:`manifold_lab.registry.METHOD_REGISTRY`)."""

METRICS: tuple[str, ...] = METRIC_REGISTRY.names()
"""Metric columns (described in :data:`manifold_lab.registry.METRIC_REGISTRY`)."""

NEIGHBOR_METRICS: tuple[str, ...] = tuple(m.name for m in METRIC_REGISTRY if m.neighbors)
"""Metrics measured on a neighbour subsample (they need :func:`prepare`'s neighbour data)."""


def rank_rtol(dtype: torch.dtype) -> float:
    """Relative tolerance below which a singular value counts as zero: 1e-7 (float64), 1e-3."""
    return 1e-7 if dtype == torch.float64 else 1e-3


def check_methods(method: Any) -> list[str]:
    """Validate reconstruction method names (one or a sequence)."""
    methods = [method] if isinstance(method, str) else list(method)
    if not methods:
        raise ValueError(f"give at least one reconstruction method of {list(METHODS)}")
    out = []
    for m in methods:
        key = str(m).lower()
        if key not in METHODS:
            raise ValueError(f"unknown reconstruction method {m!r}; choose one of {list(METHODS)}")
        out.append(key)
    return list(dict.fromkeys(out))


def check_metrics(metrics: Any) -> list[str]:
    """Validate metric names; ``None`` means all of :data:`METRICS`."""
    if metrics is None:
        return list(METRICS)
    ms = [metrics] if isinstance(metrics, str) else list(metrics)
    bad = [m for m in ms if m not in METRICS]
    if bad or not ms:
        raise ValueError(f"unknown metric {bad[0] if bad else None!r}; choose from {list(METRICS)}")
    return list(dict.fromkeys(ms))


@dataclass
class Prepared:
    """Per-manifold quantities shared by every case of a sweep (computed once)."""

    manifold: Manifold
    X: Tensor  # (N, D)
    U: Tensor  # (D, k) orthonormal basis of the linear span
    total_variance: float
    data_scale: float
    device: torch.device
    dtype: torch.dtype
    sub_idx: Tensor | None = None  # neighbour-metric subsample
    DX: Tensor | None = None  # (m, m) input distances, diagonal = inf
    delta: float = float("nan")
    knn_X: Tensor | None = None  # (m, k)

    @property
    def k(self) -> int:
        """Dimension of the manifold's linear span."""
        return int(self.U.shape[1])


def span_basis(X: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the linear span of the rows of ``X``, shape ``(d, k)``.

    ``k`` is the numerical rank (singular values above ``max(X.shape) * 10 eps`` times the
    largest): the ``k`` of Lemma 2 and Theorem 1, which :attr:`CaseResult.k` reports.

    Examples
    --------
    >>> from manifold_lab.manifolds import make_sphere
    >>> span_basis(make_sphere(100, seed=0)[0]).shape  # a 2-sphere spans R^3
    (3, 3)
    """
    s = np.linalg.svd(X, compute_uv=False)
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    rank = int((s > s[0] * max(X.shape) * np.finfo(np.float64).eps * 10).sum())
    return np.asarray(Vt[:rank].T)


def neighbor_points(n_points: int, max_neighbor_points: int | None) -> int:
    """Size of the neighbour metrics' subsample: ``max_neighbor_points`` (None: all)."""
    return n_points if max_neighbor_points is None else min(n_points, int(max_neighbor_points))


def prepare(
    manifold: Manifold,
    *,
    device: torch.device,
    dtype: torch.dtype,
    neighbors: bool,
    max_neighbor_points: int | None,
    n_neighbors: int,
) -> Prepared:
    """Compute the span basis, scales and input-space neighbour structure of ``manifold``."""
    X64 = manifold.X
    tv = float(((X64 - X64.mean(axis=0)) ** 2).sum(axis=1).mean())
    if not tv > 0:
        raise ValueError("all points are identical: the total variance is 0, nothing to measure")
    U = span_basis(X64)
    scale = float(np.sqrt((X64**2).sum(axis=1).mean()))
    prep = Prepared(
        manifold=manifold,
        X=torch.as_tensor(X64, dtype=dtype, device=device),
        U=torch.as_tensor(U, dtype=dtype, device=device),
        total_variance=tv,
        data_scale=scale,
        device=device,
        dtype=dtype,
    )
    if neighbors:
        N = X64.shape[0]
        m = neighbor_points(N, max_neighbor_points)
        if m < 3:
            raise ValueError("neighbour metrics need at least 3 points")
        idx = np.unique(np.linspace(0, N - 1, m).round().astype(np.int64))
        DX, delta, knn_X = neighbor_structure(torch.as_tensor(X64[idx]), n_neighbors)
        prep.sub_idx = torch.as_tensor(idx, device=device)
        prep.DX = DX.to(device=device, dtype=dtype)
        prep.delta = delta
        prep.knn_X = knn_X.to(device)
    return prep


def neighbor_structure(Xs: Tensor, n_neighbors: int) -> tuple[Tensor, float, Tensor]:
    """The input-space neighbour structure of the neighbour metrics.

    Parameters
    ----------
    Xs : Tensor of shape (m, D)
        The input points of the neighbour subsample (computed in float64).
    n_neighbors : int
        Neighbours of ``knn_recall`` (at most ``m - 1`` are used).

    Returns
    -------
    DX : Tensor of shape (m, m)
        float64 pairwise distances, ``inf`` on the diagonal.
    delta : float
        The median nearest-neighbour distance: inputs closer than it are not distinct.
    knn_X : Tensor of shape (m, min(n_neighbors, m - 1))
        Each point's nearest input neighbours.
    """
    Xs = Xs.to(torch.float64)
    DX = torch.cdist(Xs, Xs, compute_mode="donot_use_mm_for_euclid_dist")
    DX.fill_diagonal_(float("inf"))
    kk = min(n_neighbors, Xs.shape[0] - 1)
    delta = float(DX.min(dim=1).values.median())
    return DX, delta, DX.topk(kk, dim=1, largest=False).indices


def neighbor_metrics(
    DX: Tensor,
    delta: float,
    knn_X: Tensor,
    Xs: Tensor,
    Ys: Tensor,
    *,
    collapse_tol: float = 0.1,
) -> tuple[Tensor, Tensor]:
    """Per point, whether it collapsed and its kNN recall (the metrics' definitions above).

    Parameters
    ----------
    DX, delta, knn_X
        :func:`neighbor_structure` of the inputs ``Xs`` (``DX`` in the working precision).
    Xs : Tensor of shape (m, D)
        The inputs.
    Ys : Tensor of shape (S, m, n)
        Their images under ``S`` maps (the layer's outputs, or reconstructions).
    collapse_tol : float, default=0.1
        Relative radius of a collapse.

    Returns
    -------
    collapsed : bool Tensor of shape (S, m)
        Point ``i``'s image lies within ``collapse_tol * s * delta`` of a distinct input's
        image (``s`` the global scale, see ``collapsed_fraction``).
    recall : Tensor of shape (S, m)
        The fraction of point ``i``'s nearest input neighbours that stay among its nearest
        output neighbours.
    """
    DY = torch.cdist(Ys, Ys)
    diag = torch.arange(DY.shape[-1], device=DY.device)
    DY[:, diag, diag] = float("inf")
    tvx = ((Xs - Xs.mean(0)) ** 2).sum(-1).mean()
    tvy = ((Ys - Ys.mean(1, keepdim=True)) ** 2).sum(-1).mean(-1)
    scale = torch.sqrt(tvy / tvx)
    radius = collapse_tol * scale * delta
    distinct = DX >= delta
    close = DY <= radius[:, None, None]
    collapsed = (close & distinct).any(dim=-1)
    kk = knn_X.shape[1]
    knn_Y = DY.topk(kk, dim=-1, largest=False).indices  # (S, m, kk)
    hit = (knn_Y[..., :, None] == knn_X[None, :, None, :]).any(-1)
    return collapsed, hit.to(Ys.dtype).mean(-1)


def estimate_prepare_bytes(
    n_points: int, d: int, *, itemsize: int, n_neighbor_points: int | None
) -> int:
    """Peak bytes of :func:`prepare` (NumPy's SVDs of the points, the neighbour distances).

    ``n_neighbor_points`` is the size of the neighbour subsample, None without neighbour
    metrics. Like :func:`estimate_chunk_bytes`, an upper estimate from measurements.
    """
    m = n_neighbor_points or 0
    return int(n_points * d * (5 * 8 + itemsize) + m * m * (3 * 8 + itemsize))


def estimate_chunk_bytes(
    n_seeds: int,
    width: int,
    n_points: int,
    d: int,
    k: int,
    *,
    itemsize: int,
    methods: Sequence[str],
    metrics: Sequence[str],
    n_neighbor_points: int | None,
    n_neighbors: int,
    keep_arrays: bool = False,
) -> int:
    """Peak bytes of :func:`evaluate_chunk` for ``n_seeds`` matrices of ``width`` rows.

    Arithmetic only (it runs before a sweep to refuse one that cannot fit). The coefficients
    were measured: the estimate is an upper bound within about 30% of the peak resident
    memory for the default metrics (58.7 bytes per ``seed x point x width`` value measured
    at 2,000,000 points of width 30 in float64, 66 estimated).

    Parameters
    ----------
    n_seeds, width, n_points, d, k : int
        The chunk: seeds, rows of ``T``, points, ambient and span dimension.
    itemsize : int
        Bytes per value of the working precision (8 for float64).
    methods, metrics : sequence of str
        What is computed.
    n_neighbor_points : int or None
        Size of the neighbour subsample (None: no neighbour metrics).
    n_neighbors : int
        Neighbours of ``knn_recall``.
    keep_arrays : bool, default=False
        Per-point arrays are returned too (:func:`run_case`).
    """
    e = itemsize
    meths = list(methods) if ("nmse" in metrics or keep_arrays) else []
    inverse = "lemma2" in meths or "invertible_fraction" in metrics
    jacobian = "jacobian_min_sv" in metrics
    per_value = 2 * e + 4  # Z, Y
    if inverse:
        per_value += 2 * e + 1  # the inverse's pre-activations, informative mask
    if jacobian:
        per_value += e
    if "lstsq" in meths:
        per_value += 12
    if "n_patterns" in metrics:
        per_value += 16  # patterns packed into int64 words
    per_point = e * d * (len(meths) + 1) + (4 * e * k * k if inverse or jacobian else 0)
    per_seed = width * n_points * per_value + n_points * per_point + e * d * width
    if "lstsq" in meths:
        per_seed += 16 * d * n_points + 3 * 8 * width * width
    if keep_arrays:
        per_seed += 8 * n_points * (width + d * (len(meths) + 1))
    if n_neighbor_points and any(x in metrics for x in NEIGHBOR_METRICS):
        m = n_neighbor_points
        kk = min(n_neighbors, m - 1)
        per_seed += m * m * (e + 2) + 2 * m * width * e + m * kk * (8 + kk)
    return int(n_seeds * per_seed)


def small_psd_pinv(G: Tensor, tol: Tensor) -> tuple[Tensor, Tensor]:
    """Pseudo-inverse and smallest eigenvalue of a batch of small PSD matrices.

    ``G`` has shape (..., k, k); eigenvalues at or below ``tol`` (broadcastable to the
    batch) count as zero. Closed forms for k <= 2, ``eigh`` above.
    """
    k = G.shape[-1]
    tol_ = tol[..., None, None]
    if k == 1:
        g = G[..., 0, 0]
        inv = torch.where(g > tol, 1.0 / torch.where(g > tol, g, torch.ones_like(g)), 0.0)
        return inv[..., None, None], g
    if k == 2:
        a, b, c = G[..., 0, 0], G[..., 0, 1], G[..., 1, 1]
        half_tr = 0.5 * (a + c)
        disc = torch.sqrt((0.5 * (a - c)) ** 2 + b * b)
        lmin, lmax = half_tr - disc, half_tr + disc
        det = a * c - b * b
        full = (lmin > tol)[..., None, None]
        rank1 = (lmax > tol)[..., None, None]
        adj = torch.stack([torch.stack([c, -b], -1), torch.stack([-b, a], -1)], -2)
        safe_det = torch.where(lmin > tol, det, torch.ones_like(det))[..., None, None]
        safe_l = torch.where(lmax > tol, lmax, torch.ones_like(lmax))[..., None, None]
        inv = torch.where(full, adj / safe_det, torch.where(rank1, G / safe_l**2, 0.0))
        return inv, lmin
    lam, V = torch.linalg.eigh(G)
    keep = lam > tol_[..., 0]
    inv_l = torch.where(keep, 1.0 / torch.where(keep, lam, torch.ones_like(lam)), 0.0)
    return (V * inv_l[..., None, :]) @ V.transpose(-1, -2), lam[..., 0]


def count_patterns(pat: Tensor) -> Tensor:
    """Number of distinct columns of each ``pat[s]`` (int8 patterns of shape (S, n, N)).

    Column ``i`` is the activation pattern of point ``i``. Patterns take values 0..3, so
    31 coordinates pack exactly into one int64 word; patterns that fit in one word are
    counted for all seeds at once by sorting.
    """
    S, n, N = pat.shape
    n_words = -(-n // 31)
    padded = torch.nn.functional.pad(pat.to(torch.int64), (0, 0, 0, n_words * 31 - n))
    weights = 4 ** torch.arange(31, device=pat.device, dtype=torch.int64)
    words = (padded.view(S, n_words, 31, N) * weights[:, None]).sum(2)  # (S, n_words, N)
    if n_words == 1:
        srt = torch.sort(words[:, 0], dim=1).values
        return (srt[:, 1:] != srt[:, :-1]).sum(1) + 1
    return torch.tensor(
        [torch.unique(words[s].T, dim=0).shape[0] for s in range(S)], device=pat.device
    )


@dataclass
class ChunkOutput:
    """Metrics (and optionally per-point arrays) for a chunk of seeds of one width."""

    metrics: dict[str, Tensor] = field(default_factory=dict)  # name -> (S,)
    nmse: dict[str, Tensor] = field(default_factory=dict)  # method -> (S,)
    arrays: dict[str, Tensor] = field(default_factory=dict)  # per-point, points first


def _nmse(XhT: Tensor, XT: Tensor, tv: Any) -> Tensor:
    """The ``nmse`` metric: ``mean_i ||x_hat_i - x_i||^2 / tv``, points last ((..., D, N))."""
    return ((XhT - XT) ** 2).sum(-2).mean(-1) / tv


def total_variance(X: Tensor) -> Tensor:
    """``mean_i ||x_i - mean(x)||^2`` of points ``X`` (N, D): the ``nmse`` denominator."""
    return ((X - X.mean(0)) ** 2).sum(1).mean()


def nmse(X_hat: Tensor, X: Tensor) -> Tensor:
    """The ``nmse`` metric of reconstructions ``X_hat`` of points ``X`` (both (N, D)).

    Mean squared error over the total variance of ``X`` (0 is perfect, 1 is as bad as
    predicting the mean), the toy experiment's definition.

    Examples
    --------
    >>> X = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    >>> float(nmse(X, X)), float(nmse(X.mean(0).expand(2, 2), X))
    (0.0, 1.0)
    """
    return _nmse(X_hat.T, X.T, total_variance(X))


def _pointwise_gram(W: Tensor, CC: Tensor, k: int) -> Tensor:
    """``sum_j W[s, j, i] c_j c_j^T`` for every point: (S, n, N) -> (S, N, k, k)."""
    return torch.matmul(CC.transpose(1, 2), W).permute(0, 2, 1).reshape(*W.shape[::2], k, k)


def evaluate_chunk(
    prep: Prepared,
    T: Tensor,
    b: Tensor | None,
    act: Activation,
    methods: Sequence[str],
    metrics: Sequence[str],
    *,
    collapse_tol: float = 0.1,
    keep_arrays: bool = False,
) -> ChunkOutput:
    """Run the layer for a batch of matrices ``T`` of shape (S, n, D) and measure.

    This is the batched engine behind :func:`run_case` and :func:`manifold_lab.sweep`.
    Layer outputs are held as (S, n, N), points last: the products with ``T`` and its
    inverses are then wide matrix products, several times faster on the CPU than the
    (S, N, n) layout with its inner dimension of 2 or 3.
    """
    X, U = prep.X, prep.U
    XT = X.T.contiguous()  # (D, N)
    out = ChunkOutput()
    Z = torch.matmul(T, XT)  # (S, n, N)
    if b is not None:
        Z = Z + b[:, :, None]
    Y = act.fn(Z)
    if act.check_output and not torch.isfinite(Y).all():
        raise ValueError(
            f"the activation {act.name!r} produced NaN or infinite values; check the callable"
        )
    C = torch.matmul(T, U)  # (S, n, k)
    k = C.shape[-1]
    # reconstructions only when their error is asked for (or the arrays are kept)
    methods = methods if ("nmse" in metrics or keep_arrays) else []
    need_inverse = "lemma2" in methods or "invertible_fraction" in metrics
    if need_inverse or "jacobian_min_sv" in metrics:
        smax = torch.linalg.matrix_norm(C, ord=2)  # (S,)
        tol = (rank_rtol(prep.dtype) * smax) ** 2  # (S,)
        CC = (C[..., :, None] * C[..., None, :]).reshape(C.shape[0], C.shape[1], k * k)
    if need_inverse and act.inverse is not None:
        Zhat, informative = act.inverse(Y)
        Mf = informative.to(prep.dtype)
        Ginv, lmin = small_psd_pinv(_pointwise_gram(Mf, CC, k), tol[:, None])  # (S, N, k, k)
        invertible = lmin > tol[:, None]
        if "invertible_fraction" in metrics:
            out.metrics["invertible_fraction"] = invertible.to(prep.dtype).mean(-1)
        if keep_arrays:
            out.arrays["invertible"] = invertible
        if "lemma2" in methods:
            target = Zhat if b is None else Zhat - b[:, :, None]
            rhs = torch.matmul(C.transpose(1, 2), Mf * target)  # (S, k, N)
            coords = torch.matmul(Ginv, rhs.transpose(1, 2)[..., None])[..., 0]  # (S, N, k)
            XhT = torch.matmul(U, coords.transpose(1, 2))  # (S, D, N)
            out.nmse["lemma2"] = _nmse(XhT, XT, prep.total_variance)
            if keep_arrays:
                out.arrays["X_hat_lemma2"] = XhT.transpose(1, 2)
    elif "invertible_fraction" in metrics:
        out.metrics["invertible_fraction"] = torch.full(
            (T.shape[0],), float("nan"), dtype=prep.dtype, device=prep.device
        )
    if "jacobian_min_sv" in metrics:
        GJ = _pointwise_gram(act.derivative(Z) ** 2, CC, k)
        lam = small_psd_pinv(GJ, tol[:, None])[1] if k <= 2 else torch.linalg.eigvalsh(GJ)[..., 0]
        smin = lam.clamp_min(0).sqrt()
        out.metrics["jacobian_min_sv"] = (smin / smax[:, None]).median(dim=-1).values
    if "pinv" in methods:
        UP = torch.matmul(U, torch.linalg.pinv(C))  # (S, D, n)
        XhT = torch.matmul(UP, Y if b is None else Y - b[:, :, None])
        out.nmse["pinv"] = _nmse(XhT, XT, prep.total_variance)
        if keep_arrays:
            out.arrays["X_hat_pinv"] = XhT.transpose(1, 2)
    if "lstsq" in methods:
        XhT = _lstsq_reconstruction(Y, XT, prep.dtype)
        out.nmse["lstsq"] = _nmse(XhT, XT, prep.total_variance)
        if keep_arrays:
            out.arrays["X_hat_lstsq"] = XhT.transpose(1, 2)
    if "n_patterns" in metrics:
        if act.pattern is None:
            out.metrics["n_patterns"] = torch.full(
                (T.shape[0],), float("nan"), dtype=prep.dtype, device=prep.device
            )
        else:
            out.metrics["n_patterns"] = count_patterns(act.pattern(Z)).to(prep.dtype)
    if any(m in metrics for m in NEIGHBOR_METRICS):
        assert prep.sub_idx is not None and prep.DX is not None and prep.knn_X is not None
        Ys = Y[:, :, prep.sub_idx].transpose(1, 2)  # (S, m, n)
        collapsed, recall = neighbor_metrics(
            prep.DX, prep.delta, prep.knn_X, X[prep.sub_idx], Ys, collapse_tol=collapse_tol
        )
        if "collapsed_fraction" in metrics:
            out.metrics["collapsed_fraction"] = collapsed.to(prep.dtype).mean(-1)
            if keep_arrays:
                out.arrays["collapsed"] = collapsed
        if "knn_recall" in metrics:
            out.metrics["knn_recall"] = recall.mean(-1)
    if keep_arrays:
        out.arrays["Y"] = Y.transpose(1, 2)
    return out


@dataclass
class CaseResult:
    """Everything about one ``(width, seed)`` case, for plotting and inspection.

    Parameters
    ----------
    manifold : Manifold
        The input points and intrinsic coordinates.
    width, seed : int
        The case.
    activation, method : str
        Names of the activation and the reconstruction method.
    T : ndarray of shape (width, d)
        The embedding matrix.
    b : ndarray of shape (width,) or None
        The bias.
    Y : ndarray of shape (n_samples, width)
        Layer outputs ``phi(T x + b)``.
    X_hat : ndarray of shape (n_samples, d)
        Reconstruction with ``method``.
    invertible : ndarray of shape (n_samples,) of bool, or None
        Lemma 2 holds at the point (``None`` when the activation has no inverse).
    collapsed : ndarray of shape (n_samples,) of bool
        Collapsed points; only the neighbour subsample can be flagged (see
        ``neighbor_index``).
    neighbor_index : ndarray of int
        Indices of the points used by the neighbour metrics.
    metrics : dict
        The case's metrics, as in a sweep's row.
    k : int
        Dimension of the manifold's linear span (what Lemma 2 and Theorem 1 need; a
        2-sphere in R^3 spans 3 dimensions, any noise makes it the ambient dimension).
    depth : int, default=1
        Layers stacked; ``T`` and ``b`` are the first layer's, ``Y`` is the last layer's
        output and ``invertible`` says whether Lemma 2 holds at every layer.
    residual_form : str, default="plain"
        How the layers are joined (see :func:`manifold_lab.embedding.stack_layers`).
    layers : list of StackLayer, default=[]
        Layers ``2 .. depth`` (each with a batch axis of one seed).
    """

    manifold: Manifold
    width: int
    seed: int
    activation: str
    method: str
    T: np.ndarray
    b: np.ndarray | None
    Y: np.ndarray
    X_hat: np.ndarray
    invertible: np.ndarray | None
    collapsed: np.ndarray
    neighbor_index: np.ndarray
    metrics: dict[str, float]
    k: int
    depth: int = 1
    residual_form: str = "plain"
    layers: list[Any] = field(default_factory=list)


def check_width_for(width: int, k: int, methods: Sequence[str]) -> None:
    """Refuse a width below 1, or below the span dimension ``k`` for a method that needs it
    (``METHOD_REGISTRY[name].needs_span_width``: the pseudo-inverse)."""
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    need = [METHOD_REGISTRY[m] for m in methods if METHOD_REGISTRY[m].needs_span_width]
    if need and width < k:
        works = [e.name for e in METHOD_REGISTRY if not e.needs_span_width]
        what = need[0].label.split(" (")[0].lower()  # "pseudo-inverse"
        raise ValueError(
            f"the {what} method needs width >= {k} (the "
            f"dimension of the manifold's span) to undo T, got width {width}; use "
            f"method={works[0]!r} or a larger width"
        )


def run_case(
    manifold: Any = CASE["manifold"].default,
    width: int = CASE["width"].default,
    seed: int = 0,
    *,
    activation: Any = CASE["activation"].default,
    method: str = CASE["method"].default,
    depth: int = CASE["depth"].default,
    residual_form: str = CASE["residual_form"].default,
    embedding: str = SWEEP["embedding"].default,
    bias: float = CASE["bias"].default,
    n_samples: int = CASE["n_samples"].default,
    manifold_seed: int = SWEEP["manifold_seed"].default,
    manifold_kwargs: dict[str, Any] | None = None,
    max_neighbor_points: int | None = 1000,
    n_neighbors: int = 10,
    collapse_tol: float = 0.1,
    device: Any = DEFAULT_DEVICE,
    dtype: Any = None,
) -> CaseResult:
    """Embed one manifold with one random matrix and keep every intermediate array.

    Parameters
    ----------
    manifold : str, Manifold, array-like or (X, t), default="spiral"
        What to embed (see :func:`manifold_lab.make_manifold`).
    width : int, default=15
        Width ``n`` of the layer.
    seed : int, default=0
        Seed of the random matrix.
    activation : str, Activation or callable, default="relu"
        See :func:`manifold_lab.get_activation`.
    method : {"pinv", "lstsq", "lemma2"}, default="pinv"
        Reconstruction back to the input space.
    depth : int, default=1
        Number ``L`` of random layers of width ``width`` stacked (1 to 32); the metrics
        are measured at the stack's output (see :func:`evaluate_stack`). 1 is the single
        layer.
    residual_form : {"plain", "inverted"}, default="plain"
        How the layers are joined (see :func:`manifold_lab.embedding.stack_layers`).
    embedding : {"gaussian", "orthonormal", "uniform"}, default="gaussian"
        Distribution of ``T``.
    bias : float, default=0.0
        Relative bias scale (see :func:`manifold_lab.random_embedding`).
    n_samples : int, default=1000
        Points, when ``manifold`` is a name.
    manifold_seed : int, default=0
        Seed of the manifold's points (random manifolds, noise), as in
        :func:`manifold_lab.sweep`.
    manifold_kwargs : dict or None, default=None
        Further arguments of the manifold generator.
    max_neighbor_points : int or None, default=1000
        Points used by the neighbour metrics (``None``: all).
    n_neighbors : int, default=10
        Neighbours for ``knn_recall``.
    collapse_tol : float, default=0.1
        Relative radius that defines collapsed points.
    device : str, torch.device or None, default=None
        Where to compute; None: CUDA when present, else the CPU.
    dtype : {"float64", "float32"} or torch dtype, default=None
        Precision (float64 when ``None``).

    Returns
    -------
    result : CaseResult
        The matrices, the layer's outputs, the reconstruction, the per-point masks and the
        metrics of the case.

    Raises
    ------
    manifold_lab._memory.MemoryBudgetError
        When the case would not fit in the memory budget (see :func:`manifold_lab.sweep`).

    Examples
    --------
    >>> r = run_case("spiral", width=30, seed=0, method="lemma2", n_samples=200)
    >>> r.X_hat.shape, round(r.metrics["invertible_fraction"], 3)
    ((200, 2), 0.995)
    """
    methods = check_methods(method)
    act = get_activation(activation)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    m = make_manifold(
        manifold, n_samples, seed=manifold_seed, **check_manifold_kwargs(manifold_kwargs)
    )
    seed = check_scalar(seed, "seed", kind=int, minimum=0)
    check_scalar(collapse_tol, "collapse_tol", minimum=0, include_min=False)
    depth = CASE["depth"].check(depth)
    form = check_residual_form(residual_form)
    itemsize = torch.finfo(dt).bits // 8
    n_nb = neighbor_points(m.n_samples, max_neighbor_points)
    N, D = m.n_samples, m.ambient_dim
    check_memory(
        estimate_prepare_bytes(N, D, itemsize=itemsize, n_neighbor_points=n_nb)
        + estimate_stack_bytes(
            1,
            check_scalar(width, "width", kind=int, minimum=1),
            N,
            D,
            min(N, D),
            depth,
            itemsize=itemsize,
            methods=methods,
            metrics=METRICS,
            n_neighbor_points=n_nb,
            n_neighbors=n_neighbors,
            keep_arrays=True,
        ),
        what=f"this case (width {width}, {N} points in {D} dimensions)",
        advice="reduce n_samples or the width"
        + (" or max_neighbor_points" if n_nb * n_nb > N * width else "")
        + (", or pass dtype='float32'" if itemsize == 8 else ""),
        device=dev,
    )
    prep = prepare(
        m,
        device=dev,
        dtype=dt,
        neighbors=True,
        max_neighbor_points=max_neighbor_points,
        n_neighbors=n_neighbors,
    )
    check_width_for(width, prep.k, methods)
    check_inverse(act, methods[:1])
    T, b = random_embedding(
        m.ambient_dim, width, seed, kind=embedding, bias=bias, data_scale=prep.data_scale
    )
    Tt = torch.as_tensor(T[None], dtype=dt, device=dev)
    bt = None if b is None else torch.as_tensor(b[None], dtype=dt, device=dev)
    layers = []
    if depth == 1:
        res = evaluate_chunk(
            prep, Tt, bt, act, methods, METRICS, collapse_tol=collapse_tol, keep_arrays=True
        )
    else:
        layers = stack_layers(
            width,
            prep.k,
            [seed],
            depth,
            residual_form=form,
            kind=embedding,
            bias=bias,
            data_scale=prep.data_scale,
        )
        res = evaluate_stack(
            prep,
            Tt,
            bt,
            stack_tensors(layers, dt, dev),
            act,
            methods,
            METRICS,
            [depth],
            collapse_tol=collapse_tol,
            keep_arrays=True,
        )[depth]
    metrics = {k: float(v[0]) for k, v in res.metrics.items()}
    metrics["nmse"] = float(res.nmse[methods[0]][0])
    collapsed = np.zeros(m.n_samples, dtype=bool)
    assert prep.sub_idx is not None
    sub = prep.sub_idx.cpu().numpy()
    collapsed[sub] = res.arrays["collapsed"][0].cpu().numpy()
    inv = res.arrays.get("invertible")
    return CaseResult(
        manifold=m,
        width=int(width),
        seed=int(seed),
        activation=act.name,
        method=methods[0],
        T=T,
        b=b,
        Y=res.arrays["Y"][0].cpu().double().numpy(),
        X_hat=res.arrays[f"X_hat_{methods[0]}"][0].cpu().double().numpy(),
        invertible=None if inv is None else inv[0].cpu().numpy(),
        collapsed=collapsed,
        neighbor_index=sub,
        metrics=metrics,
        k=prep.k,
        depth=depth,
        residual_form=form,
        layers=layers,
    )


def check_inverse(act: Activation, methods: Sequence[str]) -> None:
    """Refuse method ``"lemma2"`` for an activation that has no inverse."""
    if "lemma2" in methods and act.inverse is None:
        raise ValueError(
            "method 'lemma2' needs an activation with an inverse on its informative coordinates "
            f"(relu, relu6, clipped_relu, leaky_relu, softplus, identity); {act.name!r} has none. "
            "Use method='pinv' or 'lstsq'"
        )


def check_manifold_kwargs(manifold_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of the generator's further arguments; the points' seed is not one of them."""
    kwargs = dict(manifold_kwargs or {})
    if "seed" in kwargs or "random_state" in kwargs:
        raise ValueError(
            "pass the seed of the manifold's points as manifold_seed=..., not in manifold_kwargs"
        )
    return kwargs


def _lstsq_reconstruction(Y: Tensor, XT: Tensor, dtype: torch.dtype) -> Tensor:
    """The best affine decoder of ``XT`` (D, N) from ``Y`` (S, n, N), fitted in-sample."""
    # Normal equations in float64 whatever the working precision: the Gram matrix
    # squares the condition number, which float32 cannot afford.
    Yc = (Y - Y.mean(dim=2, keepdim=True)).to(torch.float64)  # (S, n, N)
    XT64 = XT.to(torch.float64)
    Xm = XT64.mean(dim=1, keepdim=True)
    lam, V = torch.linalg.eigh(torch.matmul(Yc, Yc.transpose(1, 2)))
    cut = 1e-14 if dtype == torch.float64 else 1e-12
    keep = lam > lam[..., -1:] * cut
    inv_l = torch.where(keep, 1.0 / torch.where(keep, lam, torch.ones_like(lam)), 0.0)
    Ginv = (V * inv_l[:, None, :]) @ V.transpose(1, 2)
    Wt = torch.matmul(torch.matmul(XT64 - Xm, Yc.transpose(1, 2)), Ginv)  # (S, D, n)
    return (torch.matmul(Wt, Yc) + Xm).to(dtype)


# --------------------------------------------------------------------------------------
# A stack of random layers (depth L > 1)
# --------------------------------------------------------------------------------------


@dataclass
class StackTensors:
    """Layer ``l >= 2`` of a stack as tensors (see :func:`manifold_lab.embedding.stack_layers`).

    ``T`` has shape (S, n, fan_in), ``b`` (S, n) or None, ``P`` (S, k, n) or None (the
    projection before ``T`` in the inverted form).
    """

    T: Tensor
    b: Tensor | None
    P: Tensor | None


def stack_tensors(layers: Sequence[Any], dtype: torch.dtype, device: Any) -> list[StackTensors]:
    """:func:`manifold_lab.embedding.stack_layers`'s arrays as tensors on ``device``."""

    def t(a: Any) -> Tensor | None:
        return None if a is None else torch.as_tensor(a, dtype=dtype, device=device)

    out = []
    for layer in layers:
        T = t(layer.T)
        assert T is not None
        out.append(StackTensors(T, t(layer.b), t(layer.P)))
    return out


def _orthonormalize(V: Tensor) -> tuple[Tensor, Tensor]:
    """Per point, ``V = F R`` (Gram-Schmidt): ``V`` (S, k, m, N) holds k tangent vectors
    of every point; ``F`` the same shape with orthonormal vectors, ``R`` (S, N, k, k)."""
    k = V.shape[1]
    R = V.new_zeros(V.shape[0], V.shape[-1], k, k)
    qs: list[Tensor] = []
    for j in range(k):
        v = V[:, j]
        for _ in range(2):  # twice is enough (Giraud et al.)
            for i, q in enumerate(qs):
                r = (q * v).sum(1)  # (S, N)
                R[:, :, i, j] += r
                v = v - r[:, None] * q
        nrm = v.norm(dim=1)
        R[:, :, j, j] = nrm
        safe = torch.where(nrm > 0, nrm, torch.ones_like(nrm))
        qs.append(torch.where(nrm[:, None] > 0, v / safe[:, None], 0.0))
    return torch.stack(qs, 1), R


def _lmax(G: Tensor) -> Tensor:
    """Largest eigenvalue of a batch of small symmetric matrices (..., k, k)."""
    k = G.shape[-1]
    if k == 1:
        return G[..., 0, 0]
    if k == 2:
        a, b, c = G[..., 0, 0], G[..., 0, 1], G[..., 1, 1]
        return 0.5 * (a + c) + torch.sqrt((0.5 * (a - c)) ** 2 + b * b)
    return torch.linalg.eigvalsh(G)[..., -1]


def _stack_neighbor_metrics(
    prep: Prepared,
    Y: Tensor,
    metrics: Sequence[str],
    out: ChunkOutput,
    *,
    collapse_tol: float,
    keep_arrays: bool,
) -> None:
    """``collapsed_fraction`` and ``knn_recall`` of outputs ``Y`` (S, n, N), as in
    :func:`evaluate_chunk` (the same definitions, measured at the stack's output)."""
    assert prep.sub_idx is not None and prep.DX is not None and prep.knn_X is not None
    Ys = Y[:, :, prep.sub_idx].transpose(1, 2)  # (S, m, n)
    DY = torch.cdist(Ys, Ys)
    diag = torch.arange(DY.shape[-1], device=prep.device)
    DY[:, diag, diag] = float("inf")
    Xs = prep.X[prep.sub_idx]
    tvx = ((Xs - Xs.mean(0)) ** 2).sum(-1).mean()
    tvy = ((Ys - Ys.mean(1, keepdim=True)) ** 2).sum(-1).mean(-1)
    scale = torch.sqrt(tvy / tvx)
    if "collapsed_fraction" in metrics:
        close = DY <= (collapse_tol * scale * prep.delta)[:, None, None]
        collapsed = (close & (prep.DX >= prep.delta)).any(dim=-1)
        out.metrics["collapsed_fraction"] = collapsed.to(prep.dtype).mean(-1)
        if keep_arrays:
            out.arrays["collapsed"] = collapsed
    if "knn_recall" in metrics:
        knn_Y = DY.topk(prep.knn_X.shape[1], dim=-1, largest=False).indices
        hit = (knn_Y[..., :, None] == prep.knn_X[None, :, None, :]).any(-1)
        out.metrics["knn_recall"] = hit.to(prep.dtype).mean(dim=(-1, -2))


def evaluate_stack(
    prep: Prepared,
    T: Tensor,
    b: Tensor | None,
    layers: Sequence[StackTensors],
    act: Activation,
    methods: Sequence[str],
    metrics: Sequence[str],
    depths: Sequence[int],
    *,
    collapse_tol: float = 0.1,
    keep_arrays: bool = False,
) -> dict[int, ChunkOutput]:
    """Run a stack of random layers for a batch of seeds and measure at several depths.

    The first layer is ``phi(T x + b)`` with ``T`` of shape (S, n, D) as in
    :func:`evaluate_chunk`; ``layers[l - 2]`` is layer ``l`` (see
    :func:`manifold_lab.embedding.stack_layers` for the plain and inverted forms). One
    forward pass through ``max(depths)`` layers; the metrics are measured at the output
    ``y_L`` of every depth ``L`` in ``depths`` (a ``depth = 1`` here is the single layer,
    equal to :func:`evaluate_chunk`'s numbers up to rounding).

    What each metric means for a stack
    ----------------------------------
    The stack is piecewise affine in the span coordinates ``c`` of ``x = U c``: around a
    point, ``y_L = J_L c + const`` with the local Jacobian ``J_L = D_L T_L ... D_1 T_1 U``
    (``D_l`` the activation's slopes; in the inverted form each ``T_l`` is ``T_l P_l``).
    It is computed as orthonormal tangent frames propagated layer by layer (``J_l = F_l
    R_l``, ``F_l`` orthonormal, per point).

    invertible_fraction
        Fraction of points where Lemma 2 holds at every layer: at layer ``l``, the rows of
        ``T_l`` at the point's informative coordinates, restricted to the local
        ``k``-dimensional piece that the previous layers map the span to (the frame
        ``F_{l-1}``), have rank ``k``; numerically the smallest eigenvalue of their Gram
        matrix exceeds ``rtol^2`` times the largest of the unmasked ``(T_l F_{l-1})``'s
        (at layer 1 that is ``sigma_max(T U)``, as for one layer). Equivalently the stack's
        local Jacobian on the span has rank ``k``: the stack is locally invertible.
    jacobian_min_sv
        Median over points of ``sigma_min(J_L)`` divided by the product of the layers'
        norms ``sigma_max(T_1 U) * prod_l sigma_max(T_l) (* sigma_max(P_l))``.
    nmse, pinv
        Every linear map is undone by its pseudo-inverse, layer by layer from the output
        down (``T_l^+``, then ``P_l^+`` in the inverted form, and ``U (T_1 U)^+`` last);
        as for one layer, the activation is not undone.
    nmse, lstsq
        The best affine decoder from the stack's output ``y_L`` straight to ``x`` (a fitted
        decoder needs no layer-by-layer form).
    nmse, lemma2
        The exact inverse of the point's linear piece, Lemma 2 applied layer by layer: exact
        wherever the point is invertible; elsewhere the minimum-norm solution, i.e. ``c``
        projected on the row space of ``J_L``. Beyond the first layer it is told each
        hidden layer's activation pattern (the output alone reveals only the last one's),
        so it measures local invertibility; ``collapsed_fraction`` measures whether
        distinct points stay apart.
    n_patterns
        Distinct joint activation patterns of all ``L`` layers (the stack's linear regions
        met by the points).
    collapsed_fraction, knn_recall
        As for one layer, in the output space of ``y_L``.

    Returns
    -------
    outputs : dict of int to ChunkOutput
        The metrics (and per-point arrays with ``keep_arrays``) at each depth.
    """
    X, U = prep.X, prep.U
    XT = X.T.contiguous()  # (D, N)
    S, n = T.shape[0], T.shape[1]
    N, k, dt = XT.shape[1], U.shape[1], prep.dtype
    rtol = rank_rtol(dt)
    depth_set = sorted(set(int(d) for d in depths))
    L_max = depth_set[-1]
    if len(layers) < L_max - 1:
        raise ValueError(f"depth {L_max} needs {L_max - 1} layers after the first")
    methods = methods if ("nmse" in metrics or keep_arrays) else []
    need_inverse = act.inverse is not None and (
        "lemma2" in methods or "invertible_fraction" in metrics
    )
    track = need_inverse or "jacobian_min_sv" in metrics
    coords = torch.matmul(X, U)  # (N, k)
    C1 = torch.matmul(T, U)  # (S, n, k)
    norm_prod = torch.linalg.matrix_norm(C1, ord=2)  # (S,)
    invertible = torch.ones(S, N, dtype=torch.bool, device=prep.device)
    eye = torch.eye(k, dtype=dt, device=prep.device)
    R_total = eye.expand(S, N, k, k)
    F = torch.empty(0)
    patterns: list[Tensor] = []
    W_pinv = w_pinv = None
    if "pinv" in methods:
        W_pinv = torch.matmul(U, torch.linalg.pinv(C1))  # (S, D, n)
        w_pinv = None if b is None else -torch.matmul(W_pinv, b[:, :, None])
    outputs: dict[int, ChunkOutput] = {}
    Y = torch.empty(0)
    for depth in range(1, L_max + 1):
        if depth == 1:
            Z = torch.matmul(T, XT)
            bl: Tensor | None = b
            if track:
                A = C1.transpose(1, 2)[..., None].expand(S, k, n, N)
                lmax_all = (norm_prod**2)[:, None].expand(S, N)
        else:
            layer = layers[depth - 2]
            bl = layer.b
            inp = Y if layer.P is None else torch.matmul(layer.P, Y)
            Z = torch.matmul(layer.T, inp)
            if layer.P is not None:
                norm_prod = norm_prod * torch.linalg.matrix_norm(layer.P, ord=2)
            norm_prod = norm_prod * torch.linalg.matrix_norm(layer.T, ord=2)
            if track:
                if layer.P is not None:
                    F, R = _orthonormalize(torch.matmul(layer.P[:, None], F))
                    R_total = torch.matmul(R, R_total)
                A = torch.matmul(layer.T[:, None], F)  # (S, k, n, N)
                G_all = torch.einsum("sarn,sbrn->snab", A, A)
                lmax_all = _lmax(G_all)
        if bl is not None:
            Z = Z + bl[:, :, None]
        Y = act.fn(Z)
        if act.check_output and not torch.isfinite(Y).all():
            raise ValueError(
                f"the activation {act.name!r} produced NaN or infinite values; check the callable"
            )
        if track:
            if need_inverse:
                assert act.inverse is not None
                Mf = act.inverse(Y)[1].to(dt)
                AM = A * Mf[:, None]
                G_inf = torch.einsum("sarn,sbrn->snab", AM, A)
                tol = rtol**2 * lmax_all
                invertible &= small_psd_pinv(G_inf, tol)[1] > tol
            F, R = _orthonormalize(act.derivative(Z)[:, None] * A)
            R_total = torch.matmul(R, R_total)
        if "n_patterns" in metrics and act.pattern is not None:
            patterns.append(act.pattern(Z))
        if depth > 1 and W_pinv is not None:
            layer = layers[depth - 2]
            G = torch.linalg.pinv(layer.T)
            if layer.P is not None:
                G = torch.matmul(torch.linalg.pinv(layer.P), G)
            W_pinv = torch.matmul(W_pinv, G)
            if layer.b is not None:
                shift = -torch.matmul(W_pinv, layer.b[:, :, None])
                w_pinv = shift if w_pinv is None else w_pinv + shift
        if depth in depth_set:
            outputs[depth] = _stack_output(
                prep,
                Y,
                XT,
                coords,
                act,
                methods,
                metrics,
                invertible=invertible if need_inverse else None,
                R_total=R_total if track else None,
                norm_prod=norm_prod,
                patterns=patterns,
                W_pinv=W_pinv,
                w_pinv=w_pinv,
                collapse_tol=collapse_tol,
                keep_arrays=keep_arrays,
            )
    return outputs


def _stack_output(
    prep: Prepared,
    Y: Tensor,
    XT: Tensor,
    coords: Tensor,
    act: Activation,
    methods: Sequence[str],
    metrics: Sequence[str],
    *,
    invertible: Tensor | None,
    R_total: Tensor | None,
    norm_prod: Tensor,
    patterns: list[Tensor],
    W_pinv: Tensor | None,
    w_pinv: Tensor | None,
    collapse_tol: float,
    keep_arrays: bool,
) -> ChunkOutput:
    """The metrics of :func:`evaluate_stack` at one depth (its output ``Y``)."""
    out = ChunkOutput()
    S, dt, U = Y.shape[0], prep.dtype, prep.U
    nan = torch.full((S,), float("nan"), dtype=dt, device=prep.device)
    if "invertible_fraction" in metrics:
        out.metrics["invertible_fraction"] = (
            nan if invertible is None else invertible.to(dt).mean(-1)
        )
    if keep_arrays and invertible is not None:
        out.arrays["invertible"] = invertible
    if R_total is not None:
        G = torch.matmul(R_total.transpose(-1, -2), R_total)  # J^T J, (S, N, k, k)
        k = G.shape[-1]
        if "jacobian_min_sv" in metrics:
            lam = small_psd_pinv(G, _lmax(G))[1] if k <= 2 else torch.linalg.eigvalsh(G)[..., 0]
            smin = lam.clamp_min(0).sqrt()
            out.metrics["jacobian_min_sv"] = (smin / norm_prod[:, None]).median(dim=-1).values
        if "lemma2" in methods and invertible is not None:
            Ginv = small_psd_pinv(G, rank_rtol(dt) ** 2 * _lmax(G))[0]
            proj = torch.matmul(Ginv, G)  # projection on the row space of J
            c_hat = torch.matmul(proj, coords[None, :, :, None])[..., 0]  # (S, N, k)
            c_hat = torch.where(invertible[..., None], coords[None], c_hat)
            XhT = torch.matmul(U, c_hat.transpose(1, 2))
            out.nmse["lemma2"] = _nmse(XhT, XT, prep.total_variance)
            if keep_arrays:
                out.arrays["X_hat_lemma2"] = XhT.transpose(1, 2)
    if "pinv" in methods:
        assert W_pinv is not None
        XhT = torch.matmul(W_pinv, Y)
        if w_pinv is not None:
            XhT = XhT + w_pinv
        out.nmse["pinv"] = _nmse(XhT, XT, prep.total_variance)
        if keep_arrays:
            out.arrays["X_hat_pinv"] = XhT.transpose(1, 2)
    if "lstsq" in methods:
        XhT = _lstsq_reconstruction(Y, XT, dt)
        out.nmse["lstsq"] = _nmse(XhT, XT, prep.total_variance)
        if keep_arrays:
            out.arrays["X_hat_lstsq"] = XhT.transpose(1, 2)
    if "n_patterns" in metrics:
        out.metrics["n_patterns"] = (
            count_patterns(torch.cat(patterns, dim=1)).to(dt) if patterns else nan
        )
    if any(m in metrics for m in NEIGHBOR_METRICS):
        _stack_neighbor_metrics(
            prep, Y, metrics, out, collapse_tol=collapse_tol, keep_arrays=keep_arrays
        )
    if keep_arrays:
        out.arrays["Y"] = Y.transpose(1, 2)
    return out


def estimate_stack_bytes(
    n_seeds: int,
    width: int,
    n_points: int,
    d: int,
    k: int,
    depth: int,
    *,
    itemsize: int,
    methods: Sequence[str],
    metrics: Sequence[str],
    n_neighbor_points: int | None,
    n_neighbors: int,
    keep_arrays: bool = False,
) -> int:
    """Peak bytes of :func:`evaluate_stack` for ``n_seeds`` stacks of ``depth`` layers.

    :func:`estimate_chunk_bytes` (same arguments) plus the tangent frames (about six
    ``seed x point x width x k`` values), the layers' activation patterns and matrices.
    """
    base = estimate_chunk_bytes(
        n_seeds,
        width,
        n_points,
        d,
        k,
        itemsize=itemsize,
        methods=methods,
        metrics=metrics,
        n_neighbor_points=n_neighbor_points,
        n_neighbors=n_neighbors,
        keep_arrays=keep_arrays,
    )
    per_value = 6 * k * itemsize + depth + 2 * itemsize
    return int(base + n_seeds * (width * n_points * per_value + 4 * depth * width**2 * itemsize))
