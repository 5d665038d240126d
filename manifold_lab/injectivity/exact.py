"""Exact minimum active counts: the arcs for ``k = 2``, the vertices for ``k >= 2``."""

from __future__ import annotations

import math

import numpy as np
import torch

from .cells import BLOCK_ENTRIES, NO_COUNT, CellSearch

__all__ = ["exact_vertices", "sectors_min"]

Tensor = torch.Tensor


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


def exact_vertices(search: CellSearch, n_exact: int) -> None:
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
    budget = max(n_exact, BLOCK_ENTRIES // (S * n))  # vertices per block
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


def sectors_min(R: Tensor) -> Tensor:
    """Exact minimum over the open arcs for k = 2: (S, n, 2) -> (S,) counts."""
    alpha = torch.atan2(R[..., 1], R[..., 0])
    b = torch.remainder(torch.cat([alpha - math.pi / 2, alpha + math.pi / 2], 1), 2 * math.pi)
    b = torch.sort(b, dim=1).values
    gaps = torch.diff(torch.cat([b, b[:, :1] + 2 * math.pi], 1), dim=1)
    mid = b + gaps / 2
    U = torch.stack([torch.cos(mid), torch.sin(mid)], -1)  # (S, 2n, 2)
    cnt = (torch.matmul(R, U.transpose(1, 2)) > 0).sum(1)  # (S, 2n)
    cnt = cnt.masked_fill(gaps <= 1e-12, NO_COUNT)
    return cnt.min(1).values
