"""Levina and Bickel's maximum-likelihood intrinsic dimension on ``k`` nearest neighbours."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._deprecation import renamed_parameters
from .._validation import check_scalar
from .neighbors import knn_distances
from .points import DeviceMixin, as_points_tensor, select_rows

__all__ = ["MLE"]


class MLE(DeviceMixin, BaseEstimator):
    """Levina-Bickel maximum-likelihood intrinsic dimension, MacKay-Ghahramani average.

    With ``T_j(x)`` the distance from ``x`` to its ``j``-th nearest neighbour, the estimate
    at ``x`` is ``m_k(x) = (k - 1) / sum_{j=1}^{k-1} log(T_k(x) / T_j(x))`` (Levina and
    Bickel 2005). The global estimate for ``k`` combines the points by the inverse of the
    mean inverse, ``m_k = 1 / mean_x(1 / m_k(x))`` (MacKay and Ghahramani 2005), which is
    the maximum-likelihood pooling. With a range ``k=(k1, k2)`` the result is the mean of
    ``m_k`` over ``k = k1 .. k2``, as Levina and Bickel propose. ``k=20`` gives the default
    of scikit-dimension's ``skdim.id.MLE()`` (no noise model, ``unbiased=False``,
    ``comb="mle"``).

    Parameters
    ----------
    k : int or tuple of (int, int), default=20
        Number of neighbours (at least 2), or an inclusive range ``(k1, k2)``.
    drop_duplicates : bool, default=True
        Keep only the first occurrence of each distinct row. If False, points with a
        neighbour at distance zero are left out of the average.
    max_samples : int or None, default=None
        Estimate on a random subset of at most this many (distinct) points.
    seed : int, numpy.random.Generator or None, default=None
        Seed of the subset (used only when subsampling). ``random_state`` is a deprecated
        alias.
    block_size : int or None, default=None
        Side of the square tiles of the neighbour search; ``None`` uses tiles of at most
        2**23 distances.
    device : str, torch.device or None, default=None
        Where to compute; ``None`` picks CUDA when available.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the neighbour search.

    Attributes
    ----------
    dimension_ : float
        The estimated intrinsic dimension.
    dimension_pw_ : ndarray of shape (n_samples_used_,)
        Per-point estimates ``m_k(x)`` (averaged over the range of ``k``); ``nan`` for
        points left out, ``inf`` where all ``k`` neighbours are equidistant.
    dimension_by_k_ : dict of int to float
        The global estimate ``m_k`` for every ``k`` of the range.
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
    TwoNN : Two-nearest-neighbour estimator.

    References
    ----------
    .. [1] E. Levina and P. J. Bickel, "Maximum likelihood estimation of intrinsic
       dimension", NeurIPS 17 (2005).
    .. [2] D. J. C. MacKay and Z. Ghahramani, "Comments on 'Maximum likelihood estimation
       of intrinsic dimension' by E. Levina and P. Bickel" (2005).

    Examples
    --------
    >>> from manifold_lab.manifolds import make_ball
    >>> X, _ = make_ball(2000, dim=3, ambient_dim=10, seed=0)
    >>> est = MLE(k=20, device="cpu").fit(X)
    >>> 2.5 < est.dimension_ < 3.2
    True
    """

    @renamed_parameters(random_state="seed")
    def __init__(
        self,
        k: int | tuple[int, int] = 20,
        drop_duplicates: bool = True,
        max_samples: int | None = None,
        seed: Any = None,
        block_size: int | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float64",
    ) -> None:
        self.k = k
        self.drop_duplicates = drop_duplicates
        self.max_samples = max_samples
        self.seed = seed
        self.block_size = block_size
        self.device = device
        self.dtype = dtype

    def _k_range(self) -> tuple[int, int]:
        k = self.k
        if isinstance(k, numbers.Integral) and not isinstance(k, bool):
            k1 = k2 = int(k)
        elif (
            isinstance(k, (tuple, list))
            and len(k) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in k)
        ):
            k1, k2 = int(k[0]), int(k[1])
        else:
            raise ValueError(f"k must be an int or a pair (k1, k2) of ints, got {k!r}")
        if k1 < 2 or k2 < k1:
            raise ValueError(f"k must satisfy 2 <= k1 <= k2, got k={k!r}")
        return k1, k2

    def fit(self, X: Any, y: Any = None) -> MLE:
        """Estimate the intrinsic dimension of ``X``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            The points; more distinct ones than the largest ``k``.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        self : MLE
            The fitted estimator.
        """
        k1, k2 = self._k_range()
        max_samples = check_scalar(
            self.max_samples, "max_samples", kind=int, minimum=k2 + 1, allow_none=True
        )
        block_size = check_scalar(
            self.block_size, "block_size", kind=int, minimum=1, allow_none=True
        )
        device, dtype = self._resolve()
        T = as_points_tensor(X, k2 + 1, dtype, device)
        Xu, idx, n_dup = select_rows(T, self.drop_duplicates, max_samples, self.seed)
        if Xu.shape[0] < k2 + 1:
            raise ValueError(
                f"MLE with k={self.k!r} needs at least {k2 + 1} distinct points, got "
                f"{Xu.shape[0]} distinct among {T.shape[0]} rows"
            )
        dist = knn_distances(Xu, k2, block_size).to(dtype=torch.float64)
        usable = dist[:, 0] > 0
        if not bool(usable.any()):
            raise ValueError("every point has a neighbour at distance zero; drop duplicates")
        logd = torch.log(dist[usable])
        csum = torch.cumsum(logd, dim=1)
        by_k: dict[int, float] = {}
        inv_sum = torch.zeros(int(usable.sum()), dtype=torch.float64, device=dist.device)
        pw_sum = torch.zeros_like(inv_sum)
        for k in range(k1, k2 + 1):
            # sum_{j<k} log(T_k / T_j), then the inverse of the pointwise estimate
            s = (k - 1) * logd[:, k - 1] - csum[:, k - 2]
            inv = s / (k - 1)
            by_k[k] = float(1.0 / inv.mean())
            inv_sum += inv
            pw_sum += 1.0 / inv
        pw = np.full(Xu.shape[0], np.nan)
        pw[usable.cpu().numpy()] = (pw_sum / (k2 - k1 + 1)).cpu().numpy()
        self.dimension_ = float(np.mean(list(by_k.values())))
        self.dimension_pw_ = pw
        self.dimension_by_k_ = by_k
        self.sample_indices_ = idx
        self.n_samples_used_ = int(Xu.shape[0])
        self.n_duplicates_ = int(n_dup)
        self.n_features_in_ = int(T.shape[1])
        return self
