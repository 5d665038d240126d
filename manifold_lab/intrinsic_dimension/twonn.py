"""TwoNN: the intrinsic dimension from each point's two nearest-neighbour distances."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._deprecation import renamed_parameters
from .._validation import check_scalar
from .neighbors import knn_distances
from .points import DeviceMixin, as_points_tensor, select_rows

__all__ = ["TwoNN"]


class TwoNN(DeviceMixin, BaseEstimator):
    """Intrinsic dimension from the two nearest neighbours (TwoNN, Facco et al. 2017).

    For each point the ratio ``mu = r2 / r1`` of the distances to its second and first
    nearest neighbours follows a Pareto law ``F(mu) = 1 - mu^(-d)`` on a locally uniform
    ``d``-dimensional manifold. The ratios are sorted, the largest ``discard_fraction`` of
    them are discarded, and ``d`` is the least-squares slope of the line through the origin
    fitted to ``(log mu_(i), -log(1 - i / N))``, ``i = 1 .. int(N (1 - discard_fraction))``,
    ``N`` the number of ratios: the recipe of scikit-dimension's ``skdim.id.TwoNN``. With
    ``discard_fraction=0`` the largest ratio (where ``F_emp = 1``) is still left out.

    Parameters
    ----------
    discard_fraction : float, default=0.1
        Fraction of the largest ratios left out of the fit, in ``[0, 1)``.
    drop_duplicates : bool, default=True
        Keep only the first occurrence of each distinct row before searching neighbours
        (duplicates, such as all-zero ReLU features, have ``r1 = 0``). If False, points with
        ``r1 = 0`` are left out of the fit instead, as scikit-dimension does.
    max_samples : int or None, default=None
        Estimate on a random subset of at most this many (distinct) points.
    seed : int, numpy.random.Generator or None, default=None
        Seed of the subset; only used when ``max_samples`` is smaller than the number of
        distinct points. ``random_state`` is a deprecated alias.
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
    mu_ : ndarray of shape (n_samples_used_,)
        Ratio ``r2 / r1`` of every point used, in sample order (``inf`` where ``r1 = 0``).
    x_ : ndarray of shape (n_fit,)
        ``log mu`` of the ratios kept for the fit, ascending.
    y_ : ndarray of shape (n_fit,)
        ``-log(1 - F_emp(mu))`` at those ratios.
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
    MLE : Levina-Bickel maximum likelihood on ``k`` neighbours.

    References
    ----------
    .. [1] E. Facco, M. d'Errico, A. Rodriguez and A. Laio, "Estimating the intrinsic
       dimension of datasets by a minimal neighborhood information", Scientific Reports 7,
       12140 (2017).

    Examples
    --------
    >>> from manifold_lab.manifolds import make_ball
    >>> X, _ = make_ball(2000, dim=3, ambient_dim=10, seed=0)
    >>> est = TwoNN(device="cpu").fit(X)
    >>> round(est.dimension_, 1)
    3.0
    >>> est.n_duplicates_
    0
    """

    @renamed_parameters(random_state="seed")
    def __init__(
        self,
        discard_fraction: float = 0.1,
        drop_duplicates: bool = True,
        max_samples: int | None = None,
        seed: Any = None,
        block_size: int | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = "float64",
    ) -> None:
        self.discard_fraction = discard_fraction
        self.drop_duplicates = drop_duplicates
        self.max_samples = max_samples
        self.seed = seed
        self.block_size = block_size
        self.device = device
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> TwoNN:
        """Estimate the intrinsic dimension of ``X``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            The points; at least 3 distinct ones.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        self : TwoNN
            The fitted estimator.
        """
        discard = check_scalar(
            self.discard_fraction, "discard_fraction", minimum=0, maximum=1, include_max=False
        )
        max_samples = check_scalar(
            self.max_samples, "max_samples", kind=int, minimum=3, allow_none=True
        )
        block_size = check_scalar(
            self.block_size, "block_size", kind=int, minimum=1, allow_none=True
        )
        device, dtype = self._resolve()
        T = as_points_tensor(X, 3, dtype, device)
        Xu, idx, n_dup = select_rows(T, self.drop_duplicates, max_samples, self.seed)
        if Xu.shape[0] < 3:
            raise ValueError(
                f"TwoNN needs at least 3 distinct points, got {Xu.shape[0]} distinct among "
                f"{T.shape[0]} rows"
            )
        dist = knn_distances(Xu, 2, block_size).to(device="cpu", dtype=torch.float64).numpy()
        r1, r2 = dist[:, 0], dist[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = np.where(r1 > 0, r2 / np.where(r1 > 0, r1, 1.0), np.inf)
        finite = np.sort(mu[np.isfinite(mu)])
        n_ratios = finite.size
        n_keep = min(int(n_ratios * (1.0 - discard)), n_ratios - 1)
        if n_keep < 2:
            raise ValueError(
                f"TwoNN has {n_ratios} usable ratio(s) after leaving out duplicates and "
                f"discard_fraction={self.discard_fraction}; it needs at least 3"
            )
        x = np.log(finite[:n_keep])
        y_fit = -np.log1p(-np.arange(1, n_keep + 1) / n_ratios)
        sxx = float(x @ x)
        if sxx == 0.0:
            raise ValueError(
                "every kept ratio r2/r1 equals 1 (equidistant neighbours, e.g. a regular grid): "
                "TwoNN is undefined on such data"
            )
        self.dimension_ = float(x @ y_fit) / sxx
        self.mu_ = mu
        self.x_, self.y_ = x, y_fit
        self.sample_indices_ = idx
        self.n_samples_used_ = int(Xu.shape[0])
        self.n_duplicates_ = int(n_dup)
        self.n_features_in_ = int(T.shape[1])
        return self
