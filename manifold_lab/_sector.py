"""Exact angular-sector algorithm for two-dimensional spans without bias.

When the manifold spans a 2-D linear subspace (the paper's spiral, a circle, a plane in
R^D), there is no bias and the activation is positively homogeneous and piecewise linear
(ReLU, leaky ReLU, identity), the layer is linear on each of the at most ``2n`` angular
sectors cut out by the lines ``t_j . x = 0``. Every point of a sector is then reconstructed
by the same 2 x 2 matrix ``M_s``, and the squared error summed over the sector is
``tr((M_s - I)^T (M_s - I) Q_s)`` with ``Q_s`` the sum of ``c c^T`` over its points, read off
prefix sums over the points sorted by angle. A whole case costs ``O(n log N + n^2)``
instead of ``O(N n)``; the numbers equal the dense computation's to rounding error (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .activations import Activation
from .core import small_psd_pinv

Tensor = torch.Tensor

SUPPORTED_METHODS = frozenset({"pinv", "lemma2"})
SUPPORTED_METRICS = frozenset({"nmse", "invertible_fraction", "n_patterns"})


def eligible(
    k: int, has_bias: bool, act: Activation, methods: list[str], metrics: list[str]
) -> bool:
    """Whether the sector algorithm computes exactly what was asked."""
    return (
        k == 2
        and not has_bias
        and act.positively_homogeneous
        and act.pattern is not None
        and act.inverse is not None
        and set(methods) <= SUPPORTED_METHODS
        and set(metrics) <= SUPPORTED_METRICS
    )


@dataclass
class SectorData:
    """Points in span coordinates, sorted by angle, with prefix sums of ``c c^T``."""

    theta: Tensor  # (M,) sorted angles of the non-zero points
    prefix: Tensor  # (2M + 1, 3) extended prefix sums of (c0^2, c0 c1, c1^2)
    n_points: int  # all points, origin included
    n_origin: int  # points exactly at the origin


def estimate_bytes(n_seeds: int, width: int, n_points: int, itemsize: int) -> int:
    """Peak bytes of :func:`evaluate_sectors` for ``n_seeds`` matrices, with the sectors'
    prefix sums over ``n_points`` (arithmetic only: an upper estimate)."""
    return int(n_seeds * 2 * width * width * (4 * itemsize + 2) + 12 * n_points * itemsize)


def prepare_sectors(coords: Tensor) -> SectorData:
    """Sort span coordinates ``coords`` of shape (N, 2) by angle and build prefix sums."""
    nonzero = (coords != 0).any(dim=1)
    c = coords[nonzero]
    theta = torch.atan2(c[:, 1], c[:, 0])
    order = torch.argsort(theta, stable=True)
    c, theta = c[order], theta[order]
    q = torch.stack([c[:, 0] ** 2, c[:, 0] * c[:, 1], c[:, 1] ** 2], dim=1)
    p = torch.cat([torch.zeros_like(q[:1]), torch.cumsum(q, dim=0)])
    prefix = torch.cat([p, p[-1] + p[1:]])  # prefix[M + j] = total + p[j]
    return SectorData(theta, prefix, int(coords.shape[0]), int((~nonzero).sum()))


def evaluate_sectors(
    data: SectorData,
    C: Tensor,
    act: Activation,
    methods: list[str],
    metrics: list[str],
    total_variance: float,
    rtol: float,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Metrics for matrices ``C = T U`` of shape (S, n, 2); returns (metrics, nmse)."""
    n = C.shape[1]
    dtype, device = C.dtype, C.device
    pi = torch.pi
    alpha = torch.atan2(C[..., 1], C[..., 0])  # (S, n)
    bounds = torch.cat([alpha - pi / 2, alpha + pi / 2], dim=1)
    bounds = torch.remainder(bounds + pi, 2 * pi) - pi  # wrap into [-pi, pi)
    beta, _ = torch.sort(bounds, dim=1)  # (S, 2n)
    beta_next = torch.cat([beta[:, 1:], beta[:, :1] + 2 * pi], dim=1)
    mid = 0.5 * (beta + beta_next)  # sector midpoints (S, 2n)
    u = torch.stack([torch.cos(mid), torch.sin(mid)], dim=-1)  # (S, 2n, 2)
    # pre-activation of each sector's direction, (S, 2n, n); elementwise beats bmm at K = 2
    z = u[..., 0:1] * C[:, None, :, 0] + u[..., 1:2] * C[:, None, :, 1]
    M = data.theta.shape[0]
    pos = torch.searchsorted(data.theta, beta)
    pos_ext = torch.cat([pos, pos[:, :1] + M], dim=1)  # (S, 2n + 1)
    P = data.prefix
    Q = P[pos_ext[:, 1:]] - P[pos_ext[:, :-1]]  # (S, 2n, 3)
    counts = (pos_ext[:, 1:] - pos_ext[:, :-1]).to(dtype)  # (S, 2n)
    Qm = torch.stack(
        [torch.stack([Q[..., 0], Q[..., 1]], -1), torch.stack([Q[..., 1], Q[..., 2]], -1)], -2
    )

    eye = torch.eye(2, dtype=dtype, device=device)
    out_metrics: dict[str, Tensor] = {}
    out_nmse: dict[str, Tensor] = {}

    def err(Ms: Tensor) -> Tensor:
        E = Ms - eye
        return ((E.transpose(-1, -2) @ E) * Qm).sum(dim=(-1, -2)).sum(-1)

    denom = data.n_points * total_variance
    if "pinv" in methods:
        Pinv = torch.linalg.pinv(C)  # (S, 2, n)
        slopes = act.derivative(z)  # (S, 2n, n)
        # M_s = sum_j slope_sj p_j c_j^T: one matmul with the outer products p_j c_j^T.
        outer = (Pinv.transpose(1, 2)[..., :, None] * C[..., None, :]).reshape(-1, n, 4)
        Ms = torch.matmul(slopes, outer).view(*slopes.shape[:2], 2, 2)
        out_nmse["pinv"] = err(Ms) / denom
    if "lemma2" in methods or "invertible_fraction" in metrics:
        assert act.inverse is not None
        tol = (rtol * torch.linalg.matrix_norm(C, ord=2)) ** 2  # (S,)
        inf = act.inverse(act.fn(z))[1].to(dtype)  # (S, 2n, n)
        CC = (C[..., :, None] * C[..., None, :]).reshape(-1, n, 4)
        G = torch.matmul(inf, CC).view(*inf.shape[:2], 2, 2)
        Ginv, lmin = small_psd_pinv(G, tol[:, None])
        invertible = (lmin > tol[:, None]).to(dtype)
        inf0 = act.inverse(act.fn(torch.zeros(1, 1, n, dtype=dtype, device=device)))[1].to(dtype)
        G0 = torch.matmul(inf0, CC).view(-1, 1, 2, 2)
        inv0 = (small_psd_pinv(G0, tol[:, None])[1] > tol[:, None]).to(dtype)[:, 0]
        if "invertible_fraction" in metrics:
            frac = (counts * invertible).sum(-1) + data.n_origin * inv0
            out_metrics["invertible_fraction"] = frac / data.n_points
        if "lemma2" in methods:
            out_nmse["lemma2"] = err(Ginv @ G) / denom
    if "n_patterns" in metrics:
        # The pattern of a positively homogeneous activation depends on the signs only. If
        # it tells signs apart, the sectors of the central arrangement have distinct
        # patterns; otherwise (identity) they all share one.
        assert act.pattern is not None
        pats = act.pattern(z)  # (S, 2n, n)
        visited = counts > 0
        probe = act.pattern(torch.tensor([1.0, -1.0], dtype=dtype, device=device))
        if bool(probe[0] != probe[1]):
            n_pat = visited.to(dtype).sum(-1)
        else:
            n_pat = visited.any(-1).to(dtype)
        if data.n_origin:
            p0 = act.pattern(torch.zeros(1, 1, n, dtype=dtype, device=device))
            same = ((pats == p0).all(-1) & visited).any(-1)
            n_pat = n_pat + (~same).to(dtype)
        out_metrics["n_patterns"] = n_pat
    return out_metrics, out_nmse
