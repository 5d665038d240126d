"""The best count of active rows found so far, per seed and width, over candidate directions."""

from __future__ import annotations

import torch

__all__ = ["BLOCK_ENTRIES", "NO_COUNT", "CellSearch"]

Tensor = torch.Tensor

BLOCK_ENTRIES = 2**24
"""Largest seeds x rows x candidates block held at once."""

NO_COUNT = 10**9
"""Count of a width no candidate has reached yet, and of candidates to ignore."""


class CellSearch:
    """Best count per (seed, width) over all candidate directions evaluated so far.

    ``best[s, i]`` is the smallest count at width ``i + 1`` and ``arg[s, i]`` a direction
    that realises it (up to the rows it lies on, which count as inactive: the cell next
    to it where those rows are negative has that count).
    """

    def __init__(self, R: Tensor) -> None:
        self.R = R
        S, n, k = R.shape
        self.best = torch.full((S, n), NO_COUNT, dtype=torch.long, device=R.device)
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
