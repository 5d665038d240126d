"""Input checking and randomness helpers shared by the whole package."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_points",
    "check_random_state",
    "check_seeds",
    "check_widths",
    "resolve_device",
    "resolve_dtype",
]


def check_random_state(seed: Any = None) -> np.random.Generator:
    """Turn ``seed`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    seed : None, int, numpy.random.Generator or numpy.random.SeedSequence, default=None
        ``None`` gives fresh OS entropy; an int seeds a new generator; a generator is
        returned as it is. Nothing in this package touches NumPy's global random state.

    Returns
    -------
    rng : numpy.random.Generator

    Examples
    --------
    >>> rng = check_random_state(0)
    >>> float(rng.random()) == float(check_random_state(0).random())
    True
    """
    if seed is None or isinstance(seed, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {seed}")
        return np.random.default_rng(seed)  # type: ignore[arg-type]
    if isinstance(seed, np.random.Generator):
        return seed
    raise ValueError(
        f"random_state must be None, a non-negative int or a numpy Generator, got {seed!r}"
    )


def check_points(X: Any, *, name: str = "X", min_samples: int = 2) -> np.ndarray:
    """Validate a point cloud and return it as a C-contiguous float64 array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Points. A 1-D array is refused: reshape it explicitly.
    name : str, default="X"
        Name used in error messages.
    min_samples : int, default=2
        Smallest number of points accepted.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)

    Raises
    ------
    ValueError
        If the array is not 2-D, is empty, has too few points, or holds NaN or infinity.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(X).__name__}") from exc
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got shape "
            f"{arr.shape}; reshape a single feature with X.reshape(-1, 1)"
        )
    if arr.shape[0] < min_samples or arr.shape[1] < 1:
        raise ValueError(
            f"{name} needs at least {min_samples} points and 1 feature, got shape {arr.shape}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"{name} contains NaN or infinite values in {rows.size} point(s), first at row "
            f"{int(rows[0])}; remove or impute them first"
        )
    return np.ascontiguousarray(arr)


def _parse_int_spec(spec: str, what: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            pieces = part.split(":")
            if len(pieces) not in (2, 3):
                raise ValueError(f"cannot parse {what} range {part!r}; use start:stop[:step]")
            try:
                start, stop = int(pieces[0]), int(pieces[1])
                step = int(pieces[2]) if len(pieces) == 3 else 1
            except ValueError as exc:
                raise ValueError(f"cannot parse {what} range {part!r}") from exc
            if step <= 0 or stop < start:
                raise ValueError(f"{what} range {part!r} is empty: need start <= stop and step > 0")
            out.extend(range(start, stop + 1, step))
        else:
            try:
                out.append(int(part))
            except ValueError as exc:
                raise ValueError(f"cannot parse {what} {part!r} as an integer") from exc
    return out


def _as_int_list(values: Any, what: str) -> list[int]:
    if isinstance(values, str):
        return _parse_int_spec(values, what)
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        return [int(values)]
    if isinstance(values, (Iterable, Sequence, np.ndarray)):
        out = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)):
                if isinstance(v, float) and float(v).is_integer():
                    out.append(int(v))
                    continue
                raise ValueError(f"{what} must be integers, got {v!r}")
            out.append(int(v))
        return out
    raise ValueError(f"{what} must be an int, a sequence of ints or a string like '2:64'")


def check_widths(widths: Any) -> list[int]:
    """Parse and validate layer widths.

    Parameters
    ----------
    widths : int, sequence of int or str
        For example ``15``, ``[2, 3, 5]``, ``"2,3,5,15,30"`` or ``"2:64"`` (inclusive).

    Returns
    -------
    widths : list of int
        Sorted, without duplicates.

    Examples
    --------
    >>> check_widths("2:5,30")
    [2, 3, 4, 5, 30]
    """
    ws = _as_int_list(widths, "widths")
    if not ws:
        raise ValueError("widths is empty: give at least one width, e.g. '2,3,5,15,30'")
    bad = [w for w in ws if w < 1]
    if bad:
        raise ValueError(f"every width must be >= 1, got {bad[0]}")
    return sorted(set(ws))


def check_seeds(seeds: Any) -> list[int]:
    """Parse and validate seeds (non-negative integers).

    Parameters
    ----------
    seeds : int, sequence of int or str
        An int ``k`` means the single seed ``k``; use ``range(k)`` for ``k`` seeds.
        Strings follow :func:`check_widths`: ``"0:99"`` is 100 seeds.

    Returns
    -------
    seeds : list of int
        In the given order, without duplicates.

    Examples
    --------
    >>> check_seeds("0:3")
    [0, 1, 2, 3]
    """
    ss = _as_int_list(seeds, "seeds")
    if not ss:
        raise ValueError("no seeds given: pass at least one seed, e.g. range(10)")
    bad = [s for s in ss if s < 0]
    if bad:
        raise ValueError(f"seeds must be non-negative integers, got {bad[0]}")
    return list(dict.fromkeys(ss))


def resolve_device(device: Any = None) -> torch.device:
    """Return ``device`` as a :class:`torch.device`; ``None`` picks CUDA when available."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}; use 'cpu' or 'cuda'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use 'cpu'")
    return dev


def resolve_dtype(dtype: Any = None) -> torch.dtype:
    """Return ``dtype`` as float32 or float64 (the default)."""
    if dtype is None:
        return torch.float64
    table = {
        "float64": torch.float64,
        "double": torch.float64,
        "float32": torch.float32,
        "float": torch.float32,
        torch.float64: torch.float64,
        torch.float32: torch.float32,
        np.float64: torch.float64,
        np.float32: torch.float32,
    }
    try:
        return table[dtype]
    except (KeyError, TypeError):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from None
