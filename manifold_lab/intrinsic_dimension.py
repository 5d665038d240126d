"""Intrinsic-dimension estimators in torch, in scikit-learn's estimator style.

Every estimator stores its parameters in ``__init__``; ``fit(X)`` validates ``X`` (a NumPy
array or a torch tensor of shape ``(n_samples, n_features)``), sets ``dimension_`` and returns
``self``. The computation runs in torch on ``device`` (``None``: CUDA when available, else the
CPU), in float64 unless ``dtype="float32"`` is asked for.

Estimators
----------
:class:`TwoNN`
    Facco et al. (2017): the ratio ``mu = r2 / r1`` of each point's two nearest-neighbour
    distances follows a Pareto law of shape ``d``; ``d`` is the slope of the line through the
    origin fitted to ``(log mu, -log(1 - F_emp(mu)))`` after the largest ratios are discarded.
    The recipe is scikit-dimension's ``skdim.id.TwoNN`` (``method="linear"``).
:class:`MLE`
    Levina and Bickel (2005) maximum likelihood on the ``k`` nearest neighbours, with the
    MacKay and Ghahramani (2005) correction: the per-point estimates are combined by the
    inverse of the mean of their inverses. For ``k=20`` this is ``skdim.id.MLE()``'s default.
:class:`PCADimension`
    Number of principal components needed to explain a fraction of the variance.
:class:`ParticipationRatio`
    ``(sum lambda)^2 / sum lambda^2`` of the covariance eigenvalues.

Duplicate points
----------------
Identical rows have a nearest-neighbour distance of zero, which makes ``mu`` and the
likelihood undefined. ReLU features hold many of them (every all-zero row is a duplicate of
every other). With ``drop_duplicates=True`` (the default) the neighbour-based estimators keep
only the first occurrence of each distinct row before searching neighbours, and report how
many were dropped in ``n_duplicates_``. With ``drop_duplicates=False`` the points whose nearest
neighbour is at distance zero are left out of the estimate, as scikit-dimension's TwoNN does
(its MLE does not, and returns 0 or NaN on such data).

Neighbour search
----------------
Exact and tiled: the distance matrix is computed in square tiles of ``block_size`` rows by
``block_size`` columns (squared distances by one matrix product per tile, then ``topk``
merged into a running list of candidates per point), so that no ``n x n`` matrix is ever
formed. Only the tiles on and above the diagonal are computed: each serves its rows and,
transposed, its columns. Points whose nearest candidate is so close that the
matrix-product form may have cancelled get their candidates' distances recomputed from
coordinate differences. The default tile holds at most 2**23 distances (64 MB in float64):
20,000 points in 512 dimensions need about 250 MB beyond the data.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ._deprecation import renamed_parameters
from ._validation import (
    check_points_tensor,
    check_random_state,
    check_scalar,
    resolve_device,
    resolve_dtype,
)

__all__ = [
    "ID_ESTIMATORS",
    "MLE",
    "PCADimension",
    "ParticipationRatio",
    "TwoNN",
    "estimate_id",
]

Tensor = torch.Tensor

_BLOCK_ENTRIES = 2**23
"""Largest number of entries of one tile of the distance matrix (64 MB in float64)."""

_EXTRA_CANDIDATES = 4
"""Candidates kept beyond ``k`` by the matrix-product pass (re-ranked where recomputed)."""

_MERGE_EVERY = 8
"""Candidate chunks a block of rows collects before they are merged."""

_RATIO_RTOL = 1e-9
"""Tolerance of the explained-variance threshold (``0.9`` reached at ``0.8999999999``)."""


# ---------------------------------------------------------------------------------------------
# helpers


def _as_tensor(X: Any, min_samples: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Validate ``X`` (see :func:`check_points_tensor`) as a 2-D tensor of ``dtype``."""
    T = check_points_tensor(X, dtype=dtype, device=device, min_samples=min_samples)
    # ``+ 0.0`` turns -0.0 into 0.0 so that rows equal as numbers are equal bitwise too
    return T + 0.0


def _first_occurrences(X: Tensor) -> Tensor:
    """Indices of the first occurrence of every distinct row of ``X``, in sample order."""
    _, inverse = torch.unique(X, dim=0, return_inverse=True)
    n_unique = int(inverse.max()) + 1
    first = torch.full((n_unique,), X.shape[0], dtype=torch.long, device=X.device)
    first.scatter_reduce_(
        0, inverse, torch.arange(X.shape[0], device=X.device), reduce="amin", include_self=True
    )
    return torch.sort(first).values


def _select_rows(
    X: Tensor, drop_duplicates: bool, max_samples: int | None, seed: Any
) -> tuple[Tensor, np.ndarray, int]:
    """Drop duplicate rows, then subsample; return the rows, their indices and #duplicates."""
    n = X.shape[0]
    idx = _first_occurrences(X) if drop_duplicates else torch.arange(n, device=X.device)
    n_duplicates = n - idx.numel()
    if max_samples is not None and idx.numel() > max_samples:
        rng = check_random_state(seed)
        pick = np.sort(rng.choice(idx.numel(), size=max_samples, replace=False))
        idx = idx[torch.from_numpy(pick).to(idx.device)]
    rows = X if idx.numel() == n else X[idx]  # no copy when every row is kept
    return rows, idx.cpu().numpy(), n_duplicates


def _auto_block_size(n: int) -> int:
    return max(1, min(n, math.isqrt(_BLOCK_ENTRIES)))


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


def _knn_distances(X: Tensor, k: int, block_size: int | None = None) -> Tensor:
    """Distances from every row of ``X`` to its ``k`` nearest other rows, ascending.

    Exact search over square tiles of the distance matrix: only the tiles on and above the
    diagonal are computed (each serves its rows and, transposed, its columns), so the
    matrix products cost half of a full search, and memory is ``O(block_size ** 2)``.
    Squared distances come from ``|a|^2 + |b|^2 - 2 a.b`` on centred data; rows whose
    nearest candidate is so close that this form may have lost more than ``sqrt(eps)`` in
    relative accuracy get their candidates' distances recomputed from differences.
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
    chunk = max(1, _BLOCK_ENTRIES // (n_cand * n_features))
    for c0 in range(0, rows.numel(), chunk):
        r = rows[c0 : c0 + chunk]
        diff = Xc[best_i[r]] - Xc[r][:, None, :]
        d2[r] = (diff * diff).sum(dim=2)
    return torch.sqrt(torch.topk(d2, k, dim=1, largest=False, sorted=True).values)


def _covariance_eigenvalues(X: Tensor) -> Tensor:
    """Eigenvalues of the sample covariance of ``X`` in decreasing order (``min(n, D)``)."""
    n, n_features = X.shape
    Xc = X - X.mean(dim=0)
    # the Gram matrix has the same non-zero eigenvalues; use the smaller of the two
    G = Xc.T @ Xc if n_features <= n else Xc @ Xc.T
    ev = torch.linalg.eigvalsh(G / max(n - 1, 1))
    ev = torch.flip(ev, dims=(0,)).clamp_min(0.0)
    return ev[: min(n, n_features)]


class _DeviceMixin:
    device: Any
    dtype: Any

    def _resolve(self) -> tuple[torch.device, torch.dtype]:
        return resolve_device(self.device), resolve_dtype(self.dtype)


# ---------------------------------------------------------------------------------------------
# estimators


class TwoNN(_DeviceMixin, BaseEstimator):
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
        T = _as_tensor(X, 3, dtype, device)
        Xu, idx, n_dup = _select_rows(T, self.drop_duplicates, max_samples, self.seed)
        if Xu.shape[0] < 3:
            raise ValueError(
                f"TwoNN needs at least 3 distinct points, got {Xu.shape[0]} distinct among "
                f"{T.shape[0]} rows"
            )
        dist = _knn_distances(Xu, 2, block_size).to(device="cpu", dtype=torch.float64).numpy()
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


class MLE(_DeviceMixin, BaseEstimator):
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
        T = _as_tensor(X, k2 + 1, dtype, device)
        Xu, idx, n_dup = _select_rows(T, self.drop_duplicates, max_samples, self.seed)
        if Xu.shape[0] < k2 + 1:
            raise ValueError(
                f"MLE with k={self.k!r} needs at least {k2 + 1} distinct points, got "
                f"{Xu.shape[0]} distinct among {T.shape[0]} rows"
            )
        dist = _knn_distances(Xu, k2, block_size).to(dtype=torch.float64)
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


class PCADimension(_DeviceMixin, BaseEstimator):
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
        T = _as_tensor(X, 2, dtype, device)
        ev = _covariance_eigenvalues(T).to(device="cpu", dtype=torch.float64).numpy()
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


class ParticipationRatio(_DeviceMixin, BaseEstimator):
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
        T = _as_tensor(X, 2, dtype, device)
        ev = _covariance_eigenvalues(T).to(device="cpu", dtype=torch.float64).numpy()
        sq = float((ev**2).sum())
        self.dimension_ = float(ev.sum()) ** 2 / sq if sq > 0 else 0.0
        self.explained_variance_ = ev
        self.n_features_in_ = int(T.shape[1])
        return self


ID_ESTIMATORS: dict[str, type[BaseEstimator]] = {
    "twonn": TwoNN,
    "mle": MLE,
    "pca": PCADimension,
    "pr": ParticipationRatio,
}
"""Estimator classes by name, for :func:`estimate_id`."""


def estimate_id(X: Any, method: str = "twonn", **kwargs: Any) -> float:
    """Estimate the intrinsic dimension of ``X`` with one of :data:`ID_ESTIMATORS`.

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        The points.
    method : {"twonn", "mle", "pca", "pr"}, default="twonn"
        Estimator name.
    **kwargs
        Parameters of the estimator, e.g. ``k=10`` for ``"mle"``.

    Returns
    -------
    dimension : float
        The estimator's ``dimension_``.

    Examples
    --------
    >>> from manifold_lab.manifolds import make_swiss_roll
    >>> X, _ = make_swiss_roll(2000, seed=0)
    >>> round(estimate_id(X, "twonn", device="cpu"))
    2
    """
    key = str(method).lower()
    if key not in ID_ESTIMATORS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(ID_ESTIMATORS)}")
    est: Any = ID_ESTIMATORS[key](**kwargs)
    return float(est.fit(X).dimension_)
