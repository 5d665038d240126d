"""The points an estimator is fitted on: validated, on its device, without duplicates.

Identical rows have a nearest-neighbour distance of zero, which makes the neighbour-based
estimates undefined, and ReLU features hold many of them (every all-zero row is a duplicate of
every other). :func:`select_rows` keeps only the first occurrence of each distinct row when
asked (the estimators' ``drop_duplicates=True``) and then draws a random subset.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._validation import check_points_tensor, check_random_state, resolve_device, resolve_dtype

__all__ = ["DeviceMixin", "as_points_tensor", "first_occurrences", "select_rows"]

Tensor = torch.Tensor


def as_points_tensor(X: Any, min_samples: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Validate ``X`` as a 2-D tensor of ``dtype`` on ``device``, with ``-0.0`` made ``0.0``.

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        The points (checked by :func:`manifold_lab._validation.check_points_tensor`).
    min_samples : int
        Fewest rows accepted.
    dtype : torch.dtype
        Precision of the result.
    device : torch.device
        Where the result lives.

    Returns
    -------
    T : torch.Tensor of shape (n_samples, n_features)
        The points; rows equal as numbers are equal bitwise.
    """
    T = check_points_tensor(X, dtype=dtype, device=device, min_samples=min_samples)
    # ``+ 0.0`` turns -0.0 into 0.0 so that rows equal as numbers are equal bitwise too
    return T + 0.0


def first_occurrences(X: Tensor) -> Tensor:
    """Indices of the first occurrence of every distinct row of ``X``, in sample order.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The points.

    Returns
    -------
    indices : torch.Tensor of shape (n_distinct,)
        Increasing row indices, on ``X``'s device.
    """
    _, inverse = torch.unique(X, dim=0, return_inverse=True)
    n_unique = int(inverse.max()) + 1
    first = torch.full((n_unique,), X.shape[0], dtype=torch.long, device=X.device)
    first.scatter_reduce_(
        0, inverse, torch.arange(X.shape[0], device=X.device), reduce="amin", include_self=True
    )
    return torch.sort(first).values


def select_rows(
    X: Tensor, drop_duplicates: bool, max_samples: int | None, seed: Any
) -> tuple[Tensor, np.ndarray, int]:
    """Drop duplicate rows, then draw a random subset of what is left.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The points.
    drop_duplicates : bool
        Keep only the first occurrence of every distinct row.
    max_samples : int or None
        Keep a random subset of at most this many rows (in sample order); ``None`` keeps all.
    seed : int, numpy.random.Generator or None
        Seed of the subset.

    Returns
    -------
    rows : torch.Tensor of shape (n_kept, n_features)
        The rows kept (``X`` itself, not a copy, when every row is kept).
    indices : ndarray of shape (n_kept,)
        Their indices in ``X``.
    n_duplicates : int
        Number of rows dropped as duplicates of an earlier row.
    """
    n = X.shape[0]
    idx = first_occurrences(X) if drop_duplicates else torch.arange(n, device=X.device)
    n_duplicates = n - idx.numel()
    if max_samples is not None and idx.numel() > max_samples:
        rng = check_random_state(seed)
        pick = np.sort(rng.choice(idx.numel(), size=max_samples, replace=False))
        idx = idx[torch.from_numpy(pick).to(idx.device)]
    rows = X if idx.numel() == n else X[idx]  # no copy when every row is kept
    return rows, idx.cpu().numpy(), n_duplicates


class DeviceMixin:
    """Where and in what precision an estimator computes: its ``device`` and ``dtype``."""

    device: Any
    dtype: Any

    def _resolve(self) -> tuple[torch.device, torch.dtype]:
        return resolve_device(self.device), resolve_dtype(self.dtype)
