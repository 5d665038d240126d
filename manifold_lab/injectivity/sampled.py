"""The ``sampled+refined`` search: random directions, then local search over nearby vertices.

Every candidate direction is a real cell's count, so the result is an upper bound of the
minimum (see :mod:`manifold_lab.injectivity.active_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import torch

from .cells import BLOCK_ENTRIES, CellSearch

__all__ = [
    "DIRECTION_STREAM",
    "REFINE_BEST",
    "REFINE_EXTRA",
    "REFINE_ROUNDS",
    "sampled_refined",
]

Tensor = torch.Tensor

DIRECTION_STREAM = 7
"""``numpy.random.default_rng([seed, 7])`` draws the sampled directions."""

REFINE_BEST = 16
"""Starting directions per width and round of the local search."""

REFINE_EXTRA = 3
"""Rows near a start taken beyond the ``k - 1`` of a vertex."""

REFINE_ROUNDS = 6
"""Most rounds of the local search (it stops earlier when a round improves nothing)."""


def _normals(A: Tensor) -> Tensor:
    """Unit normals of ``k - 1`` rows: ``A`` (..., k - 1, k) -> (..., k), via a complete QR."""
    Q = torch.linalg.qr(A.transpose(-1, -2), mode="complete")[0]
    return Q[..., -1]


def _directions(seed: int, n_directions: int, k: int) -> np.ndarray:
    U = np.random.default_rng([int(seed), DIRECTION_STREAM]).standard_normal((n_directions, k))
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


def sampled_refined(
    search: CellSearch, widths: Sequence[int], dir_seeds: Sequence[int], n_dir: int
) -> None:
    """Random directions, then rounds of local vertex search at ``widths``."""
    R = search.R
    S, n, k = R.shape
    dev = R.device
    U = torch.as_tensor(np.stack([_directions(s, n_dir, k) for s in dir_seeds]), device=dev)
    w_t = torch.as_tensor(sorted(widths), dtype=torch.long, device=dev)
    step = max(1, BLOCK_ENTRIES // (S * n))
    starts = []
    for i in range(0, n_dir, step):
        cmin, neg = search.counts(U[:, i : i + step])
        starts.append(_starts(cmin, neg, U[:, i : i + step], w_t, REFINE_BEST))
    del cmin, neg
    K = k - 1
    r = min(K + REFINE_EXTRA, n)
    if K == 0 or r < K:
        return
    table = torch.as_tensor(list(combinations(range(r), K)), dtype=torch.long, device=dev)
    Rn = R / R.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    outside = torch.arange(n, device=dev)[None, :] >= w_t[:, None]  # (W, n)
    sidx = torch.arange(S, device=dev)[:, None, None]
    for rnd in range(REFINE_ROUNDS):
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
            starts.append(_starts(cmin, neg, V, w_t, REFINE_BEST))
        if rnd > 0 and bool((search.best == before).all()):
            break
