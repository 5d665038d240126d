"""The intrinsic-dimension estimators by name, and :func:`estimate_id` that picks one."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator

from .gride import Gride
from .mle import MLE
from .spectral import ParticipationRatio, PCADimension
from .twonn import TwoNN

__all__ = ["ID_ESTIMATORS", "estimate_id"]

ID_ESTIMATORS: dict[str, type[BaseEstimator]] = {
    "twonn": TwoNN,
    "mle": MLE,
    "gride": Gride,
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
    method : {"twonn", "mle", "gride", "pca", "pr"}, default="twonn"
        Estimator name.
    **kwargs
        Parameters of the estimator, e.g. ``k=10`` for ``"mle"``, ``n1=4`` for ``"gride"``.

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
