"""Intrinsic dimension as a function of neighbourhood scale: Gride over doubling ranks.

At small scales noise fills every direction (a plane with isotropic noise in R^20 looks
20-dimensional between its nearest neighbours), at intermediate scales the manifold shows
(2), and at scales comparable to its curvature or size the estimate falls again. Gride
(:mod:`.gride`) with ``n2 = 2 n1`` over ``n1 = 1, 2, 4, ...`` reads the whole curve off one
neighbour search, as DADApy's ``return_id_scaling_gride`` does. :class:`IDScale` adds
percentile-bootstrap confidence intervals over the points (the same resamples at every
scale) and the scale in the data's units: the mean and median distance to the ``n2``-th
neighbour. :func:`id_scale` is the function form; both return an :class:`IDScaleResult`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._validation import check_random_state, check_scalar
from .gride import gride_dimension
from .neighbors import knn_distances
from .points import DeviceMixin, as_points_tensor, select_rows

__all__ = ["IDScale", "IDScaleResult", "id_scale"]

Tensor = torch.Tensor

BOOTSTRAP_ENTRIES = 2**22
"""Most (resample, point) weights held at once by the bootstrap (32 MB in float64)."""


@dataclass(frozen=True, eq=False)
class IDScaleResult:
    """Intrinsic dimension at each neighbourhood scale, with bootstrap confidence intervals.

    Parameters
    ----------
    n1, n2 : ndarray of int, shape (n_scales,)
        Neighbour ranks of each scale (``n2 = 2 n1``).
    dimension : ndarray of shape (n_scales,)
        Gride's maximum-likelihood dimension on all points.
    ci_low, ci_high : ndarray of shape (n_scales,)
        Percentile-bootstrap interval at level ``confidence`` (NaN without bootstrap).
    std_error : ndarray of shape (n_scales,)
        Standard deviation of the bootstrap estimates (NaN without bootstrap).
    scale : ndarray of shape (n_scales,)
        Mean distance to the ``n2``-th neighbour, in the data's units.
    scale_median : ndarray of shape (n_scales,)
        Median distance to the ``n2``-th neighbour.
    n_points : ndarray of int, shape (n_scales,)
        Points whose ratio entered the estimate (``r_{n1} > 0``).
    confidence : float
        Level of the intervals.
    n_bootstrap : int
        Number of bootstrap resamples (0: none).
    n_samples_used : int
        Points whose neighbours were searched.
    n_duplicates : int
        Rows dropped as duplicates of an earlier row.
    n_features : int
        Number of features of the data.
    metadata : dict, default={}
        How it was measured: ``estimator`` (``"gride"``), ``max_rank`` and the neighbour
        search's ``dtype``.
    """

    n1: np.ndarray
    n2: np.ndarray
    dimension: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    std_error: np.ndarray
    scale: np.ndarray
    scale_median: np.ndarray
    n_points: np.ndarray
    confidence: float
    n_bootstrap: int
    n_samples_used: int
    n_duplicates: int
    n_features: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> Any:
        """One row per scale.

        Returns
        -------
        pandas.DataFrame
            Columns ``n1``, ``n2``, ``dimension``, ``ci_low``, ``ci_high``, ``std_error``,
            ``scale``, ``scale_median``, ``n_points``; ``attrs`` holds ``confidence``,
            ``n_bootstrap``, ``n_samples_used``, ``n_duplicates``, ``n_features`` and
            ``metadata``.
        """
        import pandas as pd

        df = pd.DataFrame(
            {
                "n1": self.n1,
                "n2": self.n2,
                "dimension": self.dimension,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "std_error": self.std_error,
                "scale": self.scale,
                "scale_median": self.scale_median,
                "n_points": self.n_points,
            }
        )
        df.attrs.update(
            confidence=self.confidence,
            n_bootstrap=self.n_bootstrap,
            n_samples_used=self.n_samples_used,
            n_duplicates=self.n_duplicates,
            n_features=self.n_features,
            metadata=dict(self.metadata),
        )
        return df


def _ranks(max_rank: int) -> list[int]:
    """``n1 = 1, 2, 4, ...`` while ``2 n1 <= max_rank``."""
    out = []
    n1 = 1
    while 2 * n1 <= max_rank:
        out.append(n1)
        n1 *= 2
    return out


class IDScale(DeviceMixin, BaseEstimator):
    """Intrinsic dimension across neighbourhood scales (Gride, ``n2 = 2 n1``), bootstrapped.

    One exact neighbour search up to rank ``max_rank``; for every ``n1 = 1, 2, 4, ...`` with
    ``2 n1 <= max_rank`` the Gride maximum-likelihood dimension of ``r_{2 n1} / r_{n1}``
    (:func:`~manifold_lab.intrinsic_dimension.gride.gride_dimension`). The confidence
    intervals resample the points with replacement ``n_bootstrap`` times (the same resamples
    at every scale, so the curve's shape is resampled whole) and take percentiles.

    Parameters
    ----------
    max_rank : int, default=64
        Largest neighbour rank ``n2``, at least 2 (64: ``n1 = 1 .. 32``, six scales).
    n_bootstrap : int, default=200
        Bootstrap resamples; 0 skips the intervals.
    confidence : float, default=0.95
        Level of the intervals, in ``(0, 1)``.
    drop_duplicates : bool, default=True
        Keep only the first occurrence of each distinct row. If False, points with
        ``r_{n1} = 0`` are left out at that scale.
    max_samples : int or None, default=None
        Estimate on a random subset of at most this many (distinct) points.
    seed : int, numpy.random.Generator or None, default=None
        Seeds the subset and the bootstrap.
    block_size : int or None, default=None
        Side of the square tiles of the neighbour search; ``None`` uses tiles of at most
        2**23 distances.
    device : str, torch.device or None, default=None
        Where to compute; ``None`` picks CUDA when available.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the neighbour search (the likelihood is solved in float64).

    Attributes
    ----------
    result_ : IDScaleResult
        The curve, its intervals and scales.
    dimensions_ : ndarray of shape (n_scales,)
        ``result_.dimension``.
    sample_indices_ : ndarray of shape (n_samples_used,)
        Rows of ``X`` the estimate used.
    n_features_in_ : int
        Number of features of ``X``.

    See Also
    --------
    Gride : The estimator at one scale.
    id_scale : The function form.

    References
    ----------
    .. [1] F. Denti, D. Doimo, A. Laio and A. Mira, "The generalized ratios intrinsic
       dimension estimator", Scientific Reports 12, 20005 (2022).

    Examples
    --------
    >>> from manifold_lab.manifolds import make_ball
    >>> X, _ = make_ball(2000, dim=3, ambient_dim=10, seed=0)
    >>> res = IDScale(max_rank=16, n_bootstrap=50, seed=0, device="cpu").fit(X).result_
    >>> res.n1.tolist(), res.n2.tolist()
    ([1, 2, 4, 8], [2, 4, 8, 16])
    >>> bool(((res.dimension > 2.5) & (res.dimension < 3.5)).all())
    True
    >>> bool((res.ci_low <= res.dimension).all() and (res.dimension <= res.ci_high).all())
    True
    """

    def __init__(
        self,
        max_rank: int = 64,
        n_bootstrap: int = 200,
        confidence: float = 0.95,
        drop_duplicates: bool = True,
        max_samples: int | None = None,
        seed: Any = None,
        block_size: int | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float64",
    ) -> None:
        self.max_rank = max_rank
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.drop_duplicates = drop_duplicates
        self.max_samples = max_samples
        self.seed = seed
        self.block_size = block_size
        self.device = device
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> IDScale:
        """Estimate the intrinsic dimension of ``X`` at every scale.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            The points; more distinct ones than ``max_rank``.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        self : IDScale
            The fitted estimator.
        """
        max_rank = check_scalar(self.max_rank, "max_rank", kind=int, minimum=2)
        n_boot = check_scalar(self.n_bootstrap, "n_bootstrap", kind=int, minimum=0)
        conf = check_scalar(
            self.confidence,
            "confidence",
            minimum=0,
            maximum=1,
            include_min=False,
            include_max=False,
        )
        max_samples = check_scalar(
            self.max_samples, "max_samples", kind=int, minimum=max_rank + 1, allow_none=True
        )
        block_size = check_scalar(
            self.block_size, "block_size", kind=int, minimum=1, allow_none=True
        )
        device, dtype = self._resolve()
        rng = check_random_state(self.seed)
        T = as_points_tensor(X, max_rank + 1, dtype, device)
        Xu, idx, n_dup = select_rows(T, self.drop_duplicates, max_samples, rng)
        n = int(Xu.shape[0])
        if n < max_rank + 1:
            raise ValueError(
                f"IDScale with max_rank={max_rank} needs at least {max_rank + 1} distinct "
                f"points, got {n} distinct among {T.shape[0]} rows"
            )
        dist = knn_distances(Xu, max_rank, block_size).to(torch.float64)
        ranks = _ranks(max_rank)
        # ratios within rounding of 1 are ties (equidistant neighbours): log mu = 0 exactly
        tie = math.sqrt(torch.finfo(dtype).eps)
        log_mus, usables = [], []
        for n1 in ranks:
            r1, r2 = dist[:, n1 - 1], dist[:, 2 * n1 - 1]
            usable = r1 > 0
            log_mu = torch.where(usable, torch.log(r2 / r1.clamp_min(1e-300)), 0.0)
            log_mus.append(torch.where(log_mu < tie, 0.0, log_mu))
            usables.append(usable.to(torch.float64))
        dims = np.array(
            [
                float(gride_dimension(lm, n1, 2 * n1, u[None])[0])
                for lm, u, n1 in zip(log_mus, usables, ranks, strict=True)
            ]
        )
        if np.isnan(dims[0]):
            raise ValueError(
                "every usable ratio r_2/r_1 equals 1 (equidistant neighbours) or every point "
                "has a neighbour at distance zero: the dimension is undefined on such data"
            )
        boot = np.full((n_boot, len(ranks)), np.nan)
        per = max(1, BOOTSTRAP_ENTRIES // n)
        for b0 in range(0, n_boot, per):
            b1 = min(n_boot, b0 + per)
            draw = torch.from_numpy(rng.integers(0, n, size=(b1 - b0, n))).to(device)
            draw += torch.arange(b1 - b0, device=device)[:, None] * n
            counts = torch.bincount(draw.flatten(), minlength=(b1 - b0) * n)
            weights = counts.view(b1 - b0, n).to(torch.float64)
            del draw, counts
            for j, (lm, u, n1) in enumerate(zip(log_mus, usables, ranks, strict=True)):
                boot[b0:b1, j] = (
                    gride_dimension(lm, n1, 2 * n1, weights * u, start=float(dims[j])).cpu().numpy()
                )
        alpha = (1.0 - conf) / 2
        if n_boot:
            low, high = np.nanquantile(boot, [alpha, 1.0 - alpha], axis=0)
            std = np.nanstd(boot, axis=0, ddof=1) if n_boot > 1 else np.full(len(ranks), np.nan)
        else:
            low = high = std = np.full(len(ranks), np.nan)
        far = dist[:, [2 * n1 - 1 for n1 in ranks]]
        self.result_ = IDScaleResult(
            n1=np.array(ranks, dtype=np.int64),
            n2=np.array([2 * r for r in ranks], dtype=np.int64),
            dimension=dims,
            ci_low=np.asarray(low, dtype=np.float64),
            ci_high=np.asarray(high, dtype=np.float64),
            std_error=np.asarray(std, dtype=np.float64),
            scale=far.mean(dim=0).cpu().numpy(),
            scale_median=far.median(dim=0).values.cpu().numpy(),
            n_points=np.array([int(u.sum()) for u in usables], dtype=np.int64),
            confidence=conf,
            n_bootstrap=n_boot,
            n_samples_used=n,
            n_duplicates=int(n_dup),
            n_features=int(T.shape[1]),
            metadata={"estimator": "gride", "max_rank": max_rank, "dtype": str(dtype)},
        )
        self.dimensions_ = dims
        self.sample_indices_ = idx
        self.n_features_in_ = int(T.shape[1])
        return self


def id_scale(
    X: Any,
    *,
    max_rank: int = 64,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    drop_duplicates: bool = True,
    max_samples: int | None = None,
    seed: Any = None,
    block_size: int | None = None,
    device: Any = None,
    dtype: Any = "float64",
) -> IDScaleResult:
    """Intrinsic dimension of ``X`` across neighbourhood scales, with bootstrap intervals.

    The function form of :class:`IDScale` (see it for the method and the parameters).

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        The points.
    max_rank : int, default=64
        Largest neighbour rank ``n2``, at least 2 (64: ``n1 = 1 .. 32``, six scales).
    n_bootstrap : int, default=200
        Bootstrap resamples; 0 skips the intervals.
    confidence : float, default=0.95
        Level of the intervals, in ``(0, 1)``.
    drop_duplicates : bool, default=True
        Keep only the first occurrence of each distinct row. If False, points with
        ``r_{n1} = 0`` are left out at that scale.
    max_samples : int or None, default=None
        Estimate on a random subset of at most this many (distinct) points.
    seed : int, numpy.random.Generator or None, default=None
        Seeds the subset and the bootstrap.
    block_size : int or None, default=None
        Side of the square tiles of the neighbour search; ``None`` uses tiles of at most
        2**23 distances.
    device : str, torch.device or None, default=None
        Where to compute; ``None`` picks CUDA when available.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the neighbour search (the likelihood is solved in float64).

    Returns
    -------
    IDScaleResult
        One entry per scale ``n1 = 1, 2, 4, ...``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> plane = np.zeros((2000, 20))
    >>> plane[:, :2] = rng.random((2000, 2))
    >>> noisy = plane + 5e-3 * rng.standard_normal((2000, 20))
    >>> res = id_scale(noisy, max_rank=64, n_bootstrap=20, seed=0, device="cpu")
    >>> res.dimension.round(1).tolist()  # noise at small scales, the plane at large ones
    [8.4, 6.0, 4.1, 2.9, 2.4, 2.2]
    """
    est = IDScale(
        max_rank=max_rank,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        drop_duplicates=drop_duplicates,
        max_samples=max_samples,
        seed=seed,
        block_size=block_size,
        device=device,
        dtype=dtype,
    )
    return est.fit(X).result_
