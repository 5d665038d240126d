"""Reading a block's input back from its expansion: Lemma 2's exact inverse, ridge decoders and
bootstrap intervals over images.

The maths of :func:`~manifold_lab.probing.ledger`, on samples already collected:

* :func:`expansion_affine`: the expansion's effective affine map ``z = B x + b`` (batch norm
  folded in, as the probe's rank check folds it);
* :func:`lemma2_inverse`: per pixel, solve ``B_I x = y_I - b_I`` on the informative channels
  ``I`` (``0 < y < clip``); exact where Lemma 2's rank test holds (the probe's test, the same
  tolerance), the least-squares solution of smallest norm on the well-determined directions
  where it fails;
* :class:`RidgeStats` and :meth:`RidgeStats.decoder`: a closed-form affine ridge decoder from
  streamed sums, so memory does not grow with the number of pixels it is fitted on;
* :func:`bootstrap_ratio`: percentile intervals of ratios of per-pixel sums, resampling
  images.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from .blocks import BlockInfo
from .statistics import RANK_CHUNK_ELEMENTS, _full_rank

__all__ = [
    "RidgeStats",
    "bootstrap_ratio",
    "expansion_affine",
    "informative_mask",
    "lemma2_inverse",
]


def expansion_affine(info: BlockInfo) -> tuple[Tensor, Tensor]:
    """The expansion's affine map before its activation, float64: ``(B (C, d), b (C,))``.

    ``B`` is :meth:`BlockInfo.expansion_rows` (batch norm folded); ``b`` folds the
    convolution's bias and the norm's shift: ``scale * (bias - running_mean) + beta``.

    Raises
    ------
    ValueError
        As :meth:`BlockInfo.expansion_rows` (no expansion, a norm that cannot be folded).
    """
    B = info.expansion_rows()
    conv = info.expansion_conv
    assert conv is not None
    bias = torch.zeros(conv.out_channels, dtype=torch.float64)
    if conv.bias is not None:
        bias = conv.bias.detach().to(device="cpu", dtype=torch.float64).clone()
    norm = info.expansion_norm
    if isinstance(norm, torch.nn.BatchNorm2d):
        assert norm.running_var is not None and norm.running_mean is not None
        var = norm.running_var.detach().to(device="cpu", dtype=torch.float64)
        scale = 1.0 / torch.sqrt(var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight.detach().to(device="cpu", dtype=torch.float64)
        bias = scale * (bias - norm.running_mean.detach().to(device="cpu", dtype=torch.float64))
        if norm.bias is not None:
            bias = bias + norm.bias.detach().to(device="cpu", dtype=torch.float64)
    return B.cpu(), bias


def informative_mask(y: Tensor, clip: float) -> Tensor:
    """Informative channels of expansion outputs ``y``: ``0 < y < clip`` (``y > 0`` for ReLU)."""
    return (y > 0) & (y < clip) if math.isfinite(clip) else y > 0


def lemma2_inverse(
    y: Tensor, B: Tensor, b: Tensor, clip: float, *, rank_rtol: float = 1e-5
) -> tuple[Tensor, Tensor, Tensor]:
    """Recover inputs ``x`` from expansion outputs ``y = act(B x + b)``, pixel by pixel.

    Parameters
    ----------
    y : Tensor of shape (p, C)
        Expansion outputs (after the activation) at ``p`` pixels.
    B : Tensor of shape (C, d)
        The expansion's rows (batch norm folded), see :func:`expansion_affine`.
    b : Tensor of shape (C,)
        Its bias.
    clip : float
        Upper clip of the activation (6 for ReLU6, ``inf`` for ReLU).
    rank_rtol : float, default=1e-5
        Lemma 2's rank test, as the probe's: the informative rows have full column rank when
        the smallest eigenvalue of their Gram matrix exceeds ``rank_rtol**2`` times the
        largest.

    Returns
    -------
    x_hat : Tensor of shape (p, d), float64
        Where the test holds, the solution of ``B_I x = y_I - b_I`` (exact up to rounding);
        elsewhere the least-squares solution of smallest norm, with the directions the test
        calls degenerate left out.
    enough : bool Tensor of shape (p,)
        At least ``d`` informative channels.
    full : bool Tensor of shape (p,)
        Lemma 2 holds: ``enough`` and full column rank.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> B = torch.randn(12, 2, generator=g, dtype=torch.float64)
    >>> b = torch.zeros(12, dtype=torch.float64)
    >>> x = torch.randn(5, 2, generator=g, dtype=torch.float64)
    >>> x_hat, enough, full = lemma2_inverse((x @ B.T).clamp(0, 6), B, b, 6.0)
    >>> bool(full.all()), bool(torch.allclose(x_hat, x))
    (True, True)
    """
    p, c = y.shape
    d = B.shape[1]
    y64 = y.to(torch.float64)
    B = B.to(device=y.device, dtype=torch.float64)
    b = b.to(device=y.device, dtype=torch.float64)
    mask = informative_mask(y64, clip)
    enough = mask.sum(1) >= d
    full = torch.zeros(p, dtype=torch.bool, device=y.device)
    x_hat = torch.zeros(p, d, dtype=torch.float64, device=y.device)
    m64 = mask.to(torch.float64)
    rhs = (m64 * (y64 - b)) @ B  # (p, d): B_I^T (y_I - b_I)
    tol = rank_rtol**2
    step = max(1, RANK_CHUNK_ELEMENTS // max(1, c * d))
    for start in range(0, p, step):
        m = m64[start : start + step]
        active = m[:, :, None] * B[None]  # rows at non-informative channels zeroed
        gram = active.transpose(1, 2) @ active  # (r, d, d)
        ok = _full_rank(gram, tol) & enough[start : start + step]
        full[start : start + step] = ok
        r = rhs[start : start + step, :, None]
        out = torch.zeros_like(r)
        idx = torch.nonzero(ok).squeeze(1)
        if idx.numel():  # Lemma 2 holds: the normal equations have one solution
            chol, info = torch.linalg.cholesky_ex(gram[idx])
            solved = torch.cholesky_solve(r[idx], chol)
            good = info == 0
            out[idx[good]] = solved[good]
            idx = torch.cat([idx[~good], torch.nonzero(~ok).squeeze(1)])
        else:
            idx = torch.nonzero(~ok).squeeze(1)
        if idx.numel():  # least squares without the directions the test calls degenerate
            lam, V = torch.linalg.eigh(gram[idx])  # ascending
            keep = lam > tol * lam[:, -1:]
            inv = torch.where(keep, 1.0 / torch.where(keep, lam, torch.ones_like(lam)), 0.0)
            out[idx] = V @ ((V.transpose(1, 2) @ r[idx]) * inv[..., None])
        x_hat[start : start + step] = out[..., 0]
    return x_hat, enough, full


class RidgeStats:
    """Streamed sums for an affine ridge decoder from features ``f`` to targets ``t``.

    :meth:`add` accumulates ``n``, ``sum f``, ``sum t``, ``sum f f^T`` and ``sum f t^T`` in
    float64 (each batch's products in the features' own precision, on their device), so
    memory does not depend on how many pixels it is fitted on; :meth:`decoder` solves the
    centred normal equations with a ridge of ``ridge * trace / n_features``.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> t = torch.randn(200, 2, generator=g)
    >>> f = torch.cat([t, t.sum(1, keepdim=True)], 1) + 3.0
    >>> stats = RidgeStats()
    >>> stats.add(f, t)
    >>> decode = stats.decoder(1e-9)
    >>> bool(torch.allclose(decode(f.double()), t.double(), atol=1e-5))
    True
    """

    def __init__(self) -> None:
        self.n = 0
        self.sf: Tensor | None = None
        self.st: Tensor | None = None
        self.ff: Tensor | None = None
        self.ft: Tensor | None = None

    def add(self, f: Tensor, t: Tensor) -> None:
        """Add pixels: features ``f`` (r, q) and targets ``t`` (r, d)."""
        if f.shape[0] == 0:
            return
        ff = (f.T @ f).to(torch.float64)
        ft = (f.T @ t).to(torch.float64)
        sf = f.sum(0, dtype=torch.float64)
        st = t.sum(0, dtype=torch.float64)
        if self.ff is None:
            self.sf, self.st, self.ff, self.ft = sf, st, ff, ft
        else:
            assert self.sf is not None and self.st is not None and self.ft is not None
            self.sf += sf
            self.st += st
            self.ff += ff
            self.ft += ft
        self.n += int(f.shape[0])

    def nbytes(self) -> int:
        """Bytes held by the sums."""
        return sum(t.numel() * 8 for t in (self.sf, self.st, self.ff, self.ft) if t is not None)

    def decoder(self, ridge: float) -> Callable[[Tensor], Tensor]:
        """The fitted affine map ``f -> W^T (f - mean f) + mean t`` (float64).

        Raises
        ------
        ValueError
            When fewer than two pixels were added.
        """
        if self.n < 2 or self.ff is None:
            raise ValueError(f"a decoder needs at least 2 fitting pixels, got {self.n}")
        assert self.sf is not None and self.st is not None and self.ft is not None
        mf = self.sf / self.n
        mt = self.st / self.n
        cff = self.ff - self.n * torch.outer(mf, mf)
        cft = self.ft - self.n * torch.outer(mf, mt)
        q = cff.shape[0]
        lam = ridge * float(cff.diagonal().sum()) / q
        eye = torch.eye(q, dtype=torch.float64, device=cff.device)
        W = torch.linalg.solve(cff + max(lam, 1e-300) * eye, cft)  # (q, d)

        def decode(f: Tensor) -> Tensor:
            return (f.to(torch.float64) - mf) @ W + mt

        return decode


def bootstrap_ratio(
    images: np.ndarray,
    columns: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    n_boot: int,
    seed: int | list[int],
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of a statistic of per-pixel sums, resampling images.

    Parameters
    ----------
    images : ndarray of shape (p,)
        The image of every pixel.
    columns : ndarray of shape (p, q)
        Per-pixel values whose sums the statistic reads.
    statistic : callable
        ``statistic(S)`` maps sums ``S`` of shape (r, q) (one row per replicate) to r values.
    n_boot : int
        Replicates; each draws as many images as there are, with replacement, and counts
        each drawn image's pixels as often as it was drawn.
    seed : int or list of int
        Seeds the draws (:func:`numpy.random.default_rng`).
    level : float, default=0.95

    Returns
    -------
    (low, high) : tuple of float
        NaN with fewer than two images or no replicate.

    Examples
    --------
    >>> images = np.repeat(np.arange(20), 5)
    >>> ones = np.ones((100, 1))
    >>> values = np.c_[ones, np.tile([1, 1, 0, 0, 0], 20)]
    >>> bootstrap_ratio(images, values, lambda s: s[:, 1] / s[:, 0], n_boot=200, seed=0)
    (0.4, 0.4)
    """
    codes, inverse = np.unique(images, return_inverse=True)
    if len(codes) < 2 or n_boot < 1:
        return math.nan, math.nan
    sums = np.zeros((len(codes), columns.shape[1]))
    np.add.at(sums, inverse, columns)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(codes), np.full(len(codes), 1.0 / len(codes)), size=n_boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = statistic(counts @ sums)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)
