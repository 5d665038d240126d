"""Linear dimensions from the covariance spectrum: explained variance and participation ratio."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._validation import check_scalar
from .points import DeviceMixin, as_points_tensor

__all__ = ["PCADimension", "ParticipationRatio", "covariance_eigenvalues"]

Tensor = torch.Tensor

_RATIO_RTOL = 1e-9
"""Tolerance of the explained-variance threshold (``0.9`` reached at ``0.8999999999``)."""


def covariance_eigenvalues(X: Tensor) -> Tensor:
    """Eigenvalues of the sample covariance of ``X`` in decreasing order.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The points.

    Returns
    -------
    eigenvalues : torch.Tensor of shape (min(n_samples, n_features),)
        Covariance eigenvalues (normalised by ``n_samples - 1``), decreasing, clipped at 0.
    """
    n, n_features = X.shape
    Xc = X - X.mean(dim=0)
    # the Gram matrix has the same non-zero eigenvalues; use the smaller of the two
    G = Xc.T @ Xc if n_features <= n else Xc @ Xc.T
    ev = torch.linalg.eigvalsh(G / max(n - 1, 1))
    ev = torch.flip(ev, dims=(0,)).clamp_min(0.0)
    return ev[: min(n, n_features)]


class PCADimension(DeviceMixin, BaseEstimator):
    """Number of principal components that explain a fraction of the variance.

    ``dimension_`` is the smallest ``m`` with ``sum_{i<=m} lambda_i >= threshold * sum
    lambda`` (up to a relative rounding tolerance of 1e-9), ``lambda`` the eigenvalues of the
    sample covariance in decreasing order. A linear count: on a curved manifold it exceeds
    the intrinsic dimension. Data with zero variance get ``dimension_ = 0``.

    Parameters
    ----------
    threshold : float, default=0.9
        Fraction of the total variance to explain, in ``(0, 1]``.
    device : str, torch.device or None, default=None
        Where to compute; ``None`` picks CUDA when available.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the eigen-decomposition.

    Attributes
    ----------
    dimension_ : int
        Number of components needed.
    explained_variance_ : ndarray of shape (min(n_samples, n_features),)
        Covariance eigenvalues, decreasing.
    explained_variance_ratio_ : ndarray of shape (min(n_samples, n_features),)
        Eigenvalues divided by their sum (zeros when the data have no variance).
    n_features_in_ : int
        Number of features of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 3)) @ rng.standard_normal((3, 20))
    >>> PCADimension(threshold=0.99, device="cpu").fit(X).dimension_ <= 3
    True
    """

    def __init__(
        self,
        threshold: float = 0.9,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float64",
    ) -> None:
        self.threshold = threshold
        self.device = device
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> PCADimension:
        """Compute the covariance spectrum of ``X`` and count components.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            The points; at least 2.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        self : PCADimension
            The fitted estimator.
        """
        threshold = check_scalar(
            self.threshold, "threshold", minimum=0, maximum=1, include_min=False
        )
        device, dtype = self._resolve()
        T = as_points_tensor(X, 2, dtype, device)
        ev = covariance_eigenvalues(T).to(device="cpu", dtype=torch.float64).numpy()
        total = float(ev.sum())
        ratio = ev / total if total > 0 else np.zeros_like(ev)
        if total > 0:
            cum = np.cumsum(ratio)
            m = int(np.searchsorted(cum, threshold * (1.0 - _RATIO_RTOL), side="left")) + 1
            self.dimension_ = min(m, ev.size)
        else:
            self.dimension_ = 0
        self.explained_variance_ = ev
        self.explained_variance_ratio_ = ratio
        self.n_features_in_ = int(T.shape[1])
        return self


class ParticipationRatio(DeviceMixin, BaseEstimator):
    """Participation ratio ``(sum lambda)^2 / sum lambda^2`` of the covariance spectrum.

    Equals ``d`` for an isotropic Gaussian in ``d`` dimensions and lies between 1 and the
    rank of the data otherwise (0 for data with zero variance). Like
    :class:`PCADimension`, it counts linear directions, weighted by their variance.

    Parameters
    ----------
    device : str, torch.device or None, default=None
        Where to compute; ``None`` picks CUDA when available.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the eigen-decomposition.

    Attributes
    ----------
    dimension_ : float
        The participation ratio.
    explained_variance_ : ndarray of shape (min(n_samples, n_features),)
        Covariance eigenvalues, decreasing.
    n_features_in_ : int
        Number of features of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((20000, 4))
    >>> round(ParticipationRatio(device="cpu").fit(X).dimension_, 1)
    4.0
    """

    def __init__(
        self,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float64",
    ) -> None:
        self.device = device
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> ParticipationRatio:
        """Compute the participation ratio of ``X``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            The points; at least 2.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        self : ParticipationRatio
            The fitted estimator.
        """
        device, dtype = self._resolve()
        T = as_points_tensor(X, 2, dtype, device)
        ev = covariance_eigenvalues(T).to(device="cpu", dtype=torch.float64).numpy()
        sq = float((ev**2).sum())
        self.dimension_ = float(ev.sum()) ** 2 / sq if sq > 0 else 0.0
        self.explained_variance_ = ev
        self.n_features_in_ = int(T.shape[1])
        return self
