"""Gride: the intrinsic dimension from the ratio of the ``n1``-th and ``n2``-th neighbour distances.

Denti, Doimo, Laio and Mira (2022) generalise TwoNN: for each point, the ratio
``mu = r_{n2} / r_{n1}`` of its distances to the ``n2``-th and ``n1``-th nearest neighbours
(``n1 < n2``) has, on a locally uniform ``d``-dimensional manifold, the density

    f(mu) = d (mu^d - 1)^(n2 - n1 - 1) / (B(n2 - n1, n1) mu^((n2 - 1) d + 1)),  mu > 1.

Its maximum-likelihood ``d`` solves one equation in one unknown. With ``l_i = log mu_i`` and
``h(x) = x / (1 - exp(-x))``, multiplying the score by ``d`` gives

    F(d) = N + (n2 - n1 - 1) sum_i h(d l_i) - (n2 - 1) d sum_i l_i = 0,

and ``F`` is convex and strictly decreasing (``0 <= h' <= 1``), so it has one root, bracketed
by ``N / (n1 S) <= d <= (n2 - n1) N / (n1 S)`` (``S = sum l_i``): Newton's method started at
the lower bracket climbs to it monotonically. ``n1 = 1, n2 = 2`` gives TwoNN's closed form
``d = N / S``. The neighbour rank ``n1`` sets the scale: larger ranks look at coarser
neighbourhoods (Gride's point is that the ratio of far neighbours is much less sensitive to
noise than TwoNN's nearest pair).

:func:`gride_dimension` solves many such problems at once (weighted sums, e.g. bootstrap
resamples, as rows); :class:`Gride` is the estimator at one scale, in the conventions of the
other estimators (:data:`~manifold_lab.intrinsic_dimension.ID_ESTIMATORS` lists it as
``"gride"``); :mod:`.scale` runs it over a range of scales with bootstrap intervals.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from sklearn.base import BaseEstimator

from .._validation import check_scalar
from .neighbors import knn_distances
from .points import DeviceMixin, as_points_tensor, select_rows

__all__ = ["Gride", "gride_dimension"]

Tensor = torch.Tensor

_X_FLOOR = 1e-6
"""``h`` and ``h'`` are evaluated at ``max(x, _X_FLOOR)``: exact ties (``mu = 1``) stay finite, and
``h`` is then off by at most ``_X_FLOOR / 2`` relative, far below the sampling error."""

_MAX_ITER = 100
_RTOL = 1e-10


def _h_and_slope(x: Tensor) -> tuple[Tensor, Tensor]:
    """``h(x) = x / (1 - exp(-x))`` and ``h'(x) = h (1 - h exp(-x)) / x``, for ``x >= 0``.

    ``1 - exp(-x)`` loses about ``eps / x`` relative accuracy, ``1 - h exp(-x)`` about
    ``eps / x^2``: at the floor ``x = 1e-6`` that is 2e-10 and 4e-4 of ``h'`` (which only
    steers Newton's steps, not where they stop). ``x`` is overwritten (in place, to save
    memory traffic on the bootstrap's large arrays).
    """
    x.clamp_(min=_X_FLOOR)
    e = torch.neg(x).exp_()
    h = torch.div(x, e.neg().add_(1.0))
    slope = e.mul_(h).neg_().add_(1.0).mul_(h).div_(x)
    return h, slope


def _row_dot(a: Tensor, b: Tensor) -> Tensor:
    """``(a * b).sum(dim=1)`` as one batched product (no temporary of their size)."""
    return torch.bmm(a[:, None, :], b[:, :, None]).view(-1)


def gride_dimension(
    log_mu: Tensor,
    n1: int,
    n2: int,
    weights: Tensor | None = None,
    start: Tensor | float | None = None,
) -> Tensor:
    """Maximum-likelihood Gride dimension of the ratios ``mu = r_{n2} / r_{n1}``.

    Parameters
    ----------
    log_mu : torch.Tensor of shape (n_points,)
        ``log(r_{n2} / r_{n1})`` of every point (finite, ``>= 0``, not all zero).
    n1, n2 : int
        Neighbour ranks, ``1 <= n1 < n2``.
    weights : torch.Tensor of shape (n_problems, n_points) or None, default=None
        Non-negative weight of every point in each problem (bootstrap resamples: how many
        times each point was drawn); ``None`` solves the single problem with unit weights.
    start : torch.Tensor, float or None, default=None
        Where Newton's method starts (clipped into the bracket), e.g. the estimate on all
        points when solving bootstrap resamples; ``None`` starts at the lower bracket.

    Returns
    -------
    dimension : torch.Tensor of shape (n_problems,)
        The root of the score equation for each row of ``weights`` (shape ``(1,)`` without
        weights), in ``log_mu``'s dtype; ``nan`` for a row whose weighted ``sum l_i`` is 0.

    Examples
    --------
    >>> mu = torch.tensor([1.5, 2.0, 1.2, 3.0], dtype=torch.float64)
    >>> d = gride_dimension(torch.log(mu), 1, 2)
    >>> bool(torch.isclose(d, 4 / torch.log(mu).sum()))  # TwoNN's closed form
    True
    """
    if not 1 <= n1 < n2:
        raise ValueError(f"Gride needs neighbour ranks 1 <= n1 < n2, got n1={n1}, n2={n2}")
    w = torch.ones_like(log_mu)[None] if weights is None else weights.to(log_mu.dtype)
    n = w.sum(dim=1)
    s = w @ log_mu
    c = float(n2 - n1 - 1)
    ok = s > 0
    s_safe = torch.where(ok, s, torch.ones_like(s))
    lo = n / (n1 * s_safe)  # F(lo) >= 0
    nan = torch.full_like(lo, float("nan"))
    if c == 0.0:  # n2 = n1 + 1: closed form
        return torch.where(ok, lo, nan)
    hi = (n2 - n1) * n / (n1 * s_safe)  # F(hi) <= 0
    d = lo
    if start is not None:
        guess = torch.as_tensor(start, dtype=lo.dtype, device=lo.device).expand_as(lo)
        d = torch.where(torch.isfinite(guess), torch.minimum(torch.maximum(guess, lo), hi), lo)
    wl = w * log_mu  # the weights times l_i: F' needs sum w_i l_i h'(d l_i)
    for _ in range(_MAX_ITER):
        h, slope = _h_and_slope(d[:, None] * log_mu[None])
        f = n + c * _row_dot(w, h) - (n2 - 1) * d * s_safe
        fprime = c * _row_dot(wl, slope) - (n2 - 1) * s_safe  # <= -n1 S < 0
        step = f / fprime
        # F is convex and decreasing: from either side, one step lands at or left of the
        # root, and from there Newton climbs to it monotonically
        d = torch.minimum(torch.maximum(d - step, lo), hi)
        if bool((step.abs() <= _RTOL * d).all()):
            break
    return torch.where(ok, d, nan)


class Gride(DeviceMixin, BaseEstimator):
    """Intrinsic dimension from the ``n1``-th and ``n2``-th neighbour distances (Gride).

    The maximum-likelihood dimension of the ratios ``mu = r_{n2} / r_{n1}`` (Denti et al.
    2022); ``n1=1, n2=2`` is TwoNN's maximum-likelihood form. Larger ``n1`` measures the
    dimension at a coarser scale. :class:`~manifold_lab.intrinsic_dimension.IDScale` runs it
    over a range of scales with bootstrap confidence intervals.

    Parameters
    ----------
    n1 : int, default=1
        Rank of the nearer neighbour (the scale), at least 1.
    n2 : int or None, default=None
        Rank of the farther neighbour, larger than ``n1``; ``None`` uses ``2 * n1``.
    drop_duplicates : bool, default=True
        Keep only the first occurrence of each distinct row before searching neighbours.
        If False, points with ``r_{n1} = 0`` are left out of the fit instead.
    max_samples : int or None, default=None
        Estimate on a random subset of at most this many (distinct) points.
    seed : int, numpy.random.Generator or None, default=None
        Seed of the subset (used only when subsampling).
    block_size : int or None, default=None
        Side of the square tiles of the neighbour search; ``None`` uses tiles of at most
        2**23 distances.
    device : str, torch.device or None, default=None
        Where to compute; ``None`` picks CUDA when available.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the neighbour search (the likelihood is solved in float64).

    Attributes
    ----------
    dimension_ : float
        The estimated intrinsic dimension.
    n2_ : int
        The farther rank used.
    scale_ : float
        Mean distance to the ``n2``-th neighbour over the points used (the scale in the
        data's units).
    sample_indices_ : ndarray of shape (n_samples_used_,)
        Rows of ``X`` the estimate used.
    n_samples_used_ : int
        Number of points whose neighbours were searched.
    n_duplicates_ : int
        Number of rows dropped as duplicates of an earlier row.
    n_features_in_ : int
        Number of features of ``X``.

    See Also
    --------
    TwoNN : The two nearest neighbours, scikit-dimension's linear-fit recipe.
    IDScale : Gride over a range of scales, with bootstrap intervals.

    References
    ----------
    .. [1] F. Denti, D. Doimo, A. Laio and A. Mira, "The generalized ratios intrinsic
       dimension estimator", Scientific Reports 12, 20005 (2022).

    Examples
    --------
    >>> from manifold_lab.manifolds import make_ball
    >>> X, _ = make_ball(2000, dim=3, ambient_dim=10, seed=0)
    >>> est = Gride(n1=2, device="cpu").fit(X)
    >>> 2.7 < est.dimension_ < 3.3, est.n2_
    (True, 4)
    """

    def __init__(
        self,
        n1: int = 1,
        n2: int | None = None,
        drop_duplicates: bool = True,
        max_samples: int | None = None,
        seed: Any = None,
        block_size: int | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float64",
    ) -> None:
        self.n1 = n1
        self.n2 = n2
        self.drop_duplicates = drop_duplicates
        self.max_samples = max_samples
        self.seed = seed
        self.block_size = block_size
        self.device = device
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> Gride:
        """Estimate the intrinsic dimension of ``X``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            The points; more distinct ones than ``n2``.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        self : Gride
            The fitted estimator.
        """
        n1 = check_scalar(self.n1, "n1", kind=int, minimum=1)
        n2 = check_scalar(self.n2, "n2", kind=int, minimum=n1 + 1, allow_none=True)
        n2 = 2 * n1 if n2 is None else n2
        max_samples = check_scalar(
            self.max_samples, "max_samples", kind=int, minimum=n2 + 1, allow_none=True
        )
        block_size = check_scalar(
            self.block_size, "block_size", kind=int, minimum=1, allow_none=True
        )
        device, dtype = self._resolve()
        T = as_points_tensor(X, n2 + 1, dtype, device)
        Xu, idx, n_dup = select_rows(T, self.drop_duplicates, max_samples, self.seed)
        if Xu.shape[0] < n2 + 1:
            raise ValueError(
                f"Gride with n2={n2} needs at least {n2 + 1} distinct points, got "
                f"{Xu.shape[0]} distinct among {T.shape[0]} rows"
            )
        dist = knn_distances(Xu, n2, block_size).to(torch.float64)
        r1, r2 = dist[:, n1 - 1], dist[:, n2 - 1]
        usable = r1 > 0
        if not bool(usable.any()):
            raise ValueError("every point has its n1-th neighbour at distance zero")
        log_mu = torch.log(r2[usable] / r1[usable])
        # ratios within rounding of 1 are ties (equidistant neighbours): log mu = 0 exactly
        log_mu[log_mu < math.sqrt(torch.finfo(dtype).eps)] = 0.0
        d = float(gride_dimension(log_mu, n1, n2)[0])
        if d != d:  # nan
            raise ValueError(
                f"every ratio r_{n2}/r_{n1} equals 1 (equidistant neighbours): Gride is "
                "undefined on such data"
            )
        self.dimension_ = d
        self.n2_ = n2
        self.scale_ = float(r2[usable].mean())
        self.sample_indices_ = idx
        self.n_samples_used_ = int(Xu.shape[0])
        self.n_duplicates_ = int(n_dup)
        self.n_features_in_ = int(T.shape[1])
        return self
