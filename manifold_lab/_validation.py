"""Input checks and randomness helpers: the one home of validation for the whole package.

Scalars go through :func:`check_scalar`, point clouds through :func:`check_points` (NumPy)
or :func:`check_points_tensor` (torch), seeds through :func:`check_random_state` and
:func:`check_seeds`, widths through :func:`check_widths`. Every check raises
:class:`ValueError` with the bad value and what is accepted.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: these checks stay cheap
    import torch

__all__ = [
    "check_points",
    "check_points_tensor",
    "check_random_state",
    "check_scalar",
    "check_seeds",
    "check_widths",
    "parse_int_spec",
    "resolve_device",
    "resolve_dtype",
]


def check_random_state(seed: Any = None, *, name: str = "seed") -> np.random.Generator:
    """Turn ``seed`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    seed : None, int, numpy.random.Generator or numpy.random.SeedSequence, default=None
        ``None`` gives fresh OS entropy; an int seeds a new generator; a generator is
        returned as it is. Nothing in this package touches NumPy's global random state.
    name : str, default="seed"
        Name of the parameter in error messages.

    Returns
    -------
    rng : numpy.random.Generator
        A new generator (or ``seed`` itself when it is one).

    Examples
    --------
    >>> rng = check_random_state(0)
    >>> float(rng.random()) == float(check_random_state(0).random())
    True
    """
    if seed is None or isinstance(seed, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {seed}")
        return np.random.default_rng(seed)  # type: ignore[arg-type]
    if isinstance(seed, np.random.Generator):
        return seed
    raise ValueError(f"{name} must be None, a non-negative int or a numpy Generator, got {seed!r}")


def _range_text(
    minimum: float | None, maximum: float | None, include_min: bool, include_max: bool
) -> str:
    if minimum is not None and maximum is not None:
        lo, hi = "[" if include_min else "(", "]" if include_max else ")"
        return f" in {lo}{minimum}, {maximum}{hi}"
    if minimum is not None:
        return f" {'>=' if include_min else '>'} {minimum}"
    if maximum is not None:
        return f" {'<=' if include_max else '<'} {maximum}"
    return ""


@overload
def check_scalar(
    value: Any,
    name: str,
    *,
    kind: type[int],
    minimum: float | None = ...,
    maximum: float | None = ...,
    include_min: bool = ...,
    include_max: bool = ...,
    allow_none: Literal[False] = ...,
) -> int: ...


@overload
def check_scalar(
    value: Any,
    name: str,
    *,
    kind: type[int],
    minimum: float | None = ...,
    maximum: float | None = ...,
    include_min: bool = ...,
    include_max: bool = ...,
    allow_none: Literal[True],
) -> int | None: ...


@overload
def check_scalar(
    value: Any,
    name: str,
    *,
    kind: type[float] = ...,
    minimum: float | None = ...,
    maximum: float | None = ...,
    include_min: bool = ...,
    include_max: bool = ...,
    allow_none: Literal[False] = ...,
) -> float: ...


@overload
def check_scalar(
    value: Any,
    name: str,
    *,
    kind: type[float] = ...,
    minimum: float | None = ...,
    maximum: float | None = ...,
    include_min: bool = ...,
    include_max: bool = ...,
    allow_none: Literal[True],
) -> float | None: ...


def check_scalar(
    value: Any,
    name: str,
    *,
    kind: type[int] | type[float] = float,
    minimum: float | None = None,
    maximum: float | None = None,
    include_min: bool = True,
    include_max: bool = True,
    allow_none: bool = False,
) -> int | float | None:
    """Validate a scalar parameter and return it as a Python ``int`` or ``float``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        Name of the parameter in error messages.
    kind : {int, float}, default=float
        ``int`` accepts integers only (NumPy integers too); ``float`` accepts any finite
        real number. Booleans are refused by both, NaN and infinity by ``float``.
    minimum, maximum : float or None, default=None
        Bounds; ``None`` leaves that side open.
    include_min, include_max : bool, default=True
        Whether the bounds themselves are allowed.
    allow_none : bool, default=False
        Accept ``None`` (and return it).

    Returns
    -------
    value : int, float or None

    Raises
    ------
    ValueError
        With the bad value and the accepted range, e.g. ``"noise must be a finite number
        >= 0, got -1"``.

    Examples
    --------
    >>> check_scalar(3, "n_samples", kind=int, minimum=2)
    3
    >>> check_scalar(0.5, "test_fraction", minimum=0, maximum=1, include_min=False,
    ...              include_max=False)
    0.5
    >>> check_scalar(True, "n_samples", kind=int)
    Traceback (most recent call last):
    ...
    ValueError: n_samples must be an integer, got True
    """
    if value is None and allow_none:
        return None
    integer = kind is int
    what = "an integer" if integer else "a finite number"
    what += _range_text(minimum, maximum, include_min, include_max)
    if allow_none:
        what = "None or " + what
    wanted = (numbers.Integral, np.integer) if integer else (numbers.Real, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, wanted):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    number: Any = value  # an int-like or a float-like, as just checked
    v: int | float = int(number) if integer else float(number)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    too_low = minimum is not None and (v < minimum if include_min else v <= minimum)
    too_high = maximum is not None and (v > maximum if include_max else v >= maximum)
    if too_low or too_high:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return v


def _check_shape(shape: tuple[int, ...], name: str, min_samples: int) -> None:
    if len(shape) != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got shape "
            f"{shape}; reshape a single feature with X.reshape(-1, 1)"
        )
    if shape[0] < min_samples or shape[1] < 1:
        raise ValueError(
            f"{name} needs at least {min_samples} points and 1 feature, got shape {shape}"
        )


def _nonfinite_error(name: str, n_rows: int, first_row: int, precision: str = "") -> ValueError:
    return ValueError(
        f"{name} contains NaN or infinite values{precision} in {n_rows} point(s), first at row "
        f"{first_row}; remove or impute them first"
    )


def check_points(X: Any, *, name: str = "X", min_samples: int = 2) -> np.ndarray:
    """Validate a point cloud and return it as a C-contiguous float64 array.

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n_samples, n_features)
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

    Examples
    --------
    >>> check_points([[0, 1], [2, 3]]).dtype
    dtype('float64')
    """
    torch = sys.modules.get("torch")  # an X that is a tensor means torch is imported
    if torch is not None and isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(X).__name__}") from exc
    _check_shape(arr.shape, name, min_samples)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise _nonfinite_error(name, rows.size, int(rows[0]))
    return np.ascontiguousarray(arr)


def check_points_tensor(
    X: Any,
    *,
    dtype: torch.dtype,
    device: torch.device,
    name: str = "X",
    min_samples: int = 2,
) -> torch.Tensor:
    """Validate a point cloud and return it as a 2-D tensor of ``dtype`` on ``device``.

    The same checks as :func:`check_points`; a tensor is moved without a round trip through
    NumPy, and finiteness is checked again in ``dtype`` (a large float64 value overflows
    to infinity in float32).

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Points (real numbers).
    dtype : torch.dtype
        Precision of the result.
    device : torch.device
        Where the result lives.
    name : str, default="X"
        Name used in error messages.
    min_samples : int, default=2
        Smallest number of points accepted.

    Returns
    -------
    X : torch.Tensor of shape (n_samples, n_features)

    Examples
    --------
    >>> import torch
    >>> check_points_tensor([[0, 1], [2, 3]], dtype=torch.float32, device=torch.device("cpu"))
    tensor([[0., 1.],
            [2., 3.]])
    """
    import torch

    if isinstance(X, torch.Tensor):
        _check_shape(tuple(X.shape), name, min_samples)
        if X.is_complex() or X.dtype == torch.bool:
            raise ValueError(f"{name} must hold real numbers, got a tensor of dtype {X.dtype}")
        T = X.detach().to(device=device, dtype=dtype)
    else:
        T = torch.from_numpy(check_points(X, name=name, min_samples=min_samples))
        T = T.to(device=device, dtype=dtype)
    bad = ~torch.isfinite(T)
    if bool(bad.any()):
        rows = torch.nonzero(bad.any(dim=1)).flatten()
        raise _nonfinite_error(name, rows.numel(), int(rows[0]), f" (in {dtype})")
    return T


MAX_SPEC_VALUES = 1_000_000
"""Most integers a text such as ``"0:99"`` may expand to (a larger range is a typo)."""


def parse_int_spec(spec: str, what: str) -> list[int]:
    """Integers from text such as ``"2,3,5"`` or ``"2:64"`` (inclusive) or ``"0:99:2"``.

    Parameters
    ----------
    spec : str
        Comma-separated items, each an integer or a range ``start:stop[:step]``.
    what : str
        What the integers are (``"widths"``, ``"seeds"``), for error messages.

    Returns
    -------
    values : list of int
        In the given order (duplicates kept).

    Raises
    ------
    ValueError
        For an item that is not an integer or a range, an empty range, or an empty item
        (``"3,,5"``, a trailing comma), which would otherwise be silently dropped.

    Examples
    --------
    >>> parse_int_spec("2:4,10", "widths")
    [2, 3, 4, 10]
    >>> parse_int_spec("3,,5", "widths")
    Traceback (most recent call last):
    ...
    ValueError: widths has an empty item in '3,,5'; separate the values by single commas
    """
    out: list[int] = []
    parts = [part.strip() for part in spec.split(",")]
    if spec.strip() and not all(parts):
        raise ValueError(
            f"{what} has an empty item in {spec!r}; separate the values by single commas"
        )
    for part in parts:
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
            values = range(start, stop + 1, step)
            if len(out) + len(values) > MAX_SPEC_VALUES:
                raise ValueError(
                    f"{what} {spec!r} expands to more than {MAX_SPEC_VALUES:,} values; "
                    "give a shorter range"
                )
            out.extend(values)
        else:
            try:
                out.append(int(part))
            except ValueError as exc:
                raise ValueError(f"cannot parse {what} {part!r} as an integer") from exc
    return out


def _as_int_list(values: Any, what: str) -> list[int]:
    if isinstance(values, str):
        return parse_int_spec(values, what)
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
    import torch

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
    import torch

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
