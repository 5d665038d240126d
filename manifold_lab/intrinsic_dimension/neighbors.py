"""Exact k-nearest-neighbour distances, searched over square tiles of the distance matrix.

The distance matrix is computed in square tiles of ``block_size`` rows by ``block_size``
columns (squared distances by one matrix product per tile, then ``topk`` merged into a running
list of candidates per point), so that no ``n x n`` matrix is ever formed. Only the tiles on
and above the diagonal are computed: each serves its rows and, transposed, its columns. Points
whose nearest candidate is so close that the matrix-product form may have cancelled get their
candidates' distances recomputed from coordinate differences. The default tile holds at most
2**23 distances (64 MB in float64): 20,000 points in 512 dimensions need about 250 MB beyond
the data.
"""

from __future__ import annotations

import math

import torch

__all__ = ["BLOCK_ENTRIES", "knn_distances"]

Tensor = torch.Tensor

BLOCK_ENTRIES = 2**23
"""Largest number of entries of one tile of the distance matrix (64 MB in float64)."""

_EXTRA_CANDIDATES = 4
"""Candidates kept beyond ``k`` by the matrix-product pass (re-ranked where recomputed)."""

_MERGE_EVERY = 8
"""Candidate chunks a block of rows collects before they are merged."""


def _auto_block_size(n: int) -> int:
    return max(1, min(n, math.isqrt(BLOCK_ENTRIES)))


class _Candidates:
    """Running nearest candidates of one block of rows: (values, indices) chunks, merged lazily."""

    def __init__(self, n_cand: int) -> None:
        self.n_cand = n_cand
        self.chunks: list[tuple[Tensor, Tensor]] = []

    def add(self, tile: Tensor, dim: int, col_offset: int) -> None:
        m = min(self.n_cand, tile.shape[dim])
        v, i = torch.topk(tile, m, dim=dim, largest=False, sorted=False)
        if dim == 0:
            v, i = v.T.contiguous(), i.T.contiguous()
        self.chunks.append((v, i + col_offset))
        if len(self.chunks) >= _MERGE_EVERY:
            self.chunks = [self.merged()]

    def merged(self) -> tuple[Tensor, Tensor]:
        if len(self.chunks) == 1:
            return self.chunks[0]
        v = torch.cat([c[0] for c in self.chunks], dim=1)
        i = torch.cat([c[1] for c in self.chunks], dim=1)
        v, pos = torch.topk(v, self.n_cand, dim=1, largest=False, sorted=False)
        return v, torch.gather(i, 1, pos)


def knn_distances(X: Tensor, k: int, block_size: int | None = None) -> Tensor:
    """Distances from every row of ``X`` to its ``k`` nearest other rows, ascending.

    Exact search over square tiles of the distance matrix: only the tiles on and above the
    diagonal are computed (each serves its rows and, transposed, its columns), so the
    matrix products cost half of a full search, and memory is ``O(block_size ** 2)``.
    Squared distances come from ``|a|^2 + |b|^2 - 2 a.b`` on centred data; rows whose
    nearest candidate is so close that this form may have lost more than ``sqrt(eps)`` in
    relative accuracy get their candidates' distances recomputed from differences.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The points (floating point).
    k : int
        Number of neighbours, ``1 <= k <= n_samples - 1``.
    block_size : int or None, default=None
        Side of the square tiles; ``None`` uses tiles of at most :data:`BLOCK_ENTRIES`
        distances.

    Returns
    -------
    distances : torch.Tensor of shape (n_samples, k)
        Distances to the ``k`` nearest other rows, ascending, in ``X``'s dtype and device.

    Examples
    --------
    >>> X = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    >>> knn_distances(X, 2).tolist()
    [[1.0, 3.0], [1.0, 2.0], [2.0, 3.0]]
    """
    n, n_features = X.shape
    if not 1 <= k <= n - 1:
        raise ValueError(f"need 1 <= k <= n_samples - 1 = {n - 1} neighbours, got k={k}")
    n_cand = min(n - 1, k + _EXTRA_CANDIDATES)
    b = _auto_block_size(n) if block_size is None else min(block_size, n)
    Xc = X - X.mean(dim=0)
    sq = (Xc * Xc).sum(dim=1)
    starts = list(range(0, n, b))
    cands = [_Candidates(n_cand) for _ in starts]
    for bi, i0 in enumerate(starts):
        rows_i = slice(i0, min(n, i0 + b))
        XI = Xc[rows_i]
        for bj in range(bi, len(starts)):
            j0 = starts[bj]
            rows_j = slice(j0, min(n, j0 + b))
            tile = torch.addmm(sq[rows_j], XI, Xc[rows_j].T, beta=1.0, alpha=-2.0)
            tile += sq[rows_i, None]
            if bj == bi:
                tile.fill_diagonal_(torch.inf)  # a point is not its own neighbour
            cands[bi].add(tile, 1, j0)
            if bj != bi:
                cands[bj].add(tile, 0, i0)
            del tile
        # the rows of block bi have seen every column: finish them
        v, i = cands[bi].merged()
        cands[bi].chunks = [(v, i)]
    best_v = torch.cat([c.chunks[0][0] for c in cands])
    best_i = torch.cat([c.chunks[0][1] for c in cands])
    d2 = best_v.clamp_min(0.0)
    eps = torch.finfo(X.dtype).eps
    suspect = d2.min(dim=1).values < math.sqrt(eps) * (sq + sq.max())
    rows = torch.nonzero(suspect).flatten()
    chunk = max(1, BLOCK_ENTRIES // (n_cand * n_features))
    for c0 in range(0, rows.numel(), chunk):
        r = rows[c0 : c0 + chunk]
        diff = Xc[best_i[r]] - Xc[r][:, None, :]
        d2[r] = (diff * diff).sum(dim=2)
    return torch.sqrt(torch.topk(d2, k, dim=1, largest=False, sorted=True).values)
