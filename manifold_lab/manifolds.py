"""Low-dimensional manifolds to embed: the paper's spiral and friends.

Every generator follows scikit-learn's ``make_*`` convention and returns ``(X, t)``:
``X`` holds the points and ``t`` their intrinsic coordinates (shape ``(n_samples,)`` for
curves, ``(n_samples, k)`` for ``k``-dimensional manifolds). ``t`` colours plots and lets
metrics compare recovered and original points. Randomness only comes from
``seed`` (``random_state`` is its deprecated alias); nothing touches NumPy's global state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._deprecation import renamed_parameters
from ._validation import check_points, check_random_state, check_scalar
from .registry import MANIFOLD_REGISTRY, LoadedView

__all__ = [
    "MANIFOLDS",
    "Manifold",
    "make_ball",
    "make_blob",
    "make_circle",
    "make_manifold",
    "make_s_curve",
    "make_sphere",
    "make_spiral",
    "make_subspace",
    "make_swiss_roll",
    "make_torus",
    "manifold_from_points",
]


def _add_noise(X: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    noise = check_scalar(noise, "noise", minimum=0)
    if noise > 0:
        X = X + noise * rng.standard_normal(X.shape)
    return X


def _curve_parameter(
    n_samples: int, lo: float, hi: float, sampling: str, rng: np.random.Generator
) -> np.ndarray:
    if sampling == "linspace":
        return np.linspace(lo, hi, n_samples)
    if sampling == "uniform":
        return np.sort(rng.uniform(lo, hi, n_samples))
    raise ValueError(f"sampling must be 'linspace' or 'uniform', got {sampling!r}")


@renamed_parameters(random_state="seed")
def make_spiral(
    n_samples: int = 1000,
    *,
    t_max: float = 20 * np.pi,
    noise: float = 0.0,
    sampling: str = "linspace",
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's Figure 1 input: an Archimedean spiral in the plane.

    ``x = t cos t``, ``y = t sin t`` for ``t`` in ``[0, t_max]``, starting at the origin
    (``t = 0``), about ten turns by default.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    t_max : float, default=20*pi
        Largest curve parameter.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the points.
    sampling : {"linspace", "uniform"}, default="linspace"
        Evenly spaced ``t`` (as public reproductions of Figure 1) or sorted uniform draws.
    seed : int, Generator or None, default=None
        Seed for the noise and the uniform sampling.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points.
    t : ndarray of shape (n_samples,)
        The curve parameter of each point.

    Examples
    --------
    >>> X, t = make_spiral(5)
    >>> X.shape, t.shape
    ((5, 2), (5,))
    >>> X[0].tolist()
    [0.0, 0.0]
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    t_max = check_scalar(t_max, "t_max", minimum=0, include_min=False)
    rng = check_random_state(seed)
    t = _curve_parameter(n_samples, 0.0, t_max, sampling, rng)
    X = np.column_stack([t * np.cos(t), t * np.sin(t)])
    return _add_noise(X, noise, rng), t


@renamed_parameters(random_state="seed")
def make_circle(
    n_samples: int = 1000,
    *,
    radius: float = 1.0,
    noise: float = 0.0,
    sampling: str = "linspace",
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A circle of the given radius around the origin.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    radius : float, default=1.0
        Radius.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the points.
    sampling : {"linspace", "uniform"}, default="linspace"
        Evenly spaced angles (endpoint excluded) or sorted uniform draws.
    seed : int, Generator or None, default=None
        Seed for the noise and the uniform sampling.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points, with Gaussian noise of standard deviation ``noise`` added.
    t : ndarray of shape (n_samples,)
        The angle in ``[0, 2 pi)``.

    Examples
    --------
    >>> X, t = make_circle(4)
    >>> np.allclose(np.linalg.norm(X, axis=1), 1.0)
    True
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    radius = check_scalar(radius, "radius", minimum=0, include_min=False)
    rng = check_random_state(seed)
    if sampling == "linspace":
        t = np.linspace(0.0, 2 * np.pi, n_samples, endpoint=False)
    else:
        t = _curve_parameter(n_samples, 0.0, 2 * np.pi, sampling, rng)
    X = radius * np.column_stack([np.cos(t), np.sin(t)])
    return _add_noise(X, noise, rng), t


@renamed_parameters(random_state="seed")
def make_swiss_roll(
    n_samples: int = 1000,
    *,
    noise: float = 0.0,
    height: float = 21.0,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The swiss roll in R^3 (scikit-learn's parametrisation).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the points.
    height : float, default=21.0
        Extent of the roll along its axis.
    seed : int, Generator or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, 3)
        The points, with Gaussian noise of standard deviation ``noise`` added.
    t : ndarray of shape (n_samples, 2)
        Roll parameter ``1.5 pi (1 + 2u)`` and height.

    Examples
    --------
    >>> X, t = make_swiss_roll(10, seed=0)
    >>> X.shape, t.shape
    ((10, 3), (10, 2))
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    height = check_scalar(height, "height", minimum=0, include_min=False)
    rng = check_random_state(seed)
    u = 1.5 * np.pi * (1 + 2 * rng.random(n_samples))
    h = height * rng.random(n_samples)
    X = np.column_stack([u * np.cos(u), h, u * np.sin(u)])
    return _add_noise(X, noise, rng), np.column_stack([u, h])


@renamed_parameters(random_state="seed")
def make_s_curve(
    n_samples: int = 1000,
    *,
    noise: float = 0.0,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The S-curve in R^3 (scikit-learn's parametrisation).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the points.
    seed : int, Generator or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, 3)
        The points, with Gaussian noise of standard deviation ``noise`` added.
    t : ndarray of shape (n_samples, 2)
        Curve parameter in ``[-1.5 pi, 1.5 pi]`` and height in ``[0, 2]``.

    Examples
    --------
    >>> X, t = make_s_curve(10, seed=0)
    >>> X.shape
    (10, 3)
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    rng = check_random_state(seed)
    u = 3 * np.pi * (rng.random(n_samples) - 0.5)
    h = 2.0 * rng.random(n_samples)
    X = np.column_stack([np.sin(u), h, np.sign(u) * (np.cos(u) - 1)])
    return _add_noise(X, noise, rng), np.column_stack([u, h])


def _hyperspherical_angles(Y: np.ndarray) -> np.ndarray:
    """Angles ``(phi_1, ..., phi_k)`` of points on the unit sphere in R^(k+1)."""
    k = Y.shape[1] - 1
    angles = np.empty((Y.shape[0], k))
    for i in range(k - 1):
        tail = np.linalg.norm(Y[:, i + 1 :], axis=1)
        angles[:, i] = np.arctan2(tail, Y[:, i])
    angles[:, k - 1] = np.arctan2(Y[:, k], Y[:, k - 1])
    return angles


@renamed_parameters(random_state="seed")
def make_sphere(
    n_samples: int = 1000,
    *,
    dim: int = 2,
    radius: float = 1.0,
    noise: float = 0.0,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points on the ``dim``-sphere in R^(dim+1), centred at the origin.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    dim : int, default=2
        Intrinsic dimension; the ambient dimension is ``dim + 1``.
    radius : float, default=1.0
        Radius.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the points.
    seed : int, Generator or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, dim + 1)
        The points, with Gaussian noise of standard deviation ``noise`` added.
    t : ndarray of shape (n_samples, dim) or (n_samples,) when dim == 1
        Hyperspherical angles.

    Examples
    --------
    >>> X, t = make_sphere(20, seed=0)
    >>> np.allclose(np.linalg.norm(X, axis=1), 1.0)
    True
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    dim = check_scalar(dim, "dim", kind=int, minimum=1)
    radius = check_scalar(radius, "radius", minimum=0, include_min=False)
    rng = check_random_state(seed)
    G = rng.standard_normal((n_samples, dim + 1))
    Y = G / np.linalg.norm(G, axis=1, keepdims=True)
    t = _hyperspherical_angles(Y)
    return _add_noise(radius * Y, noise, rng), (t[:, 0] if dim == 1 else t)


@renamed_parameters(random_state="seed")
def make_torus(
    n_samples: int = 1000,
    *,
    major_radius: float = 2.0,
    minor_radius: float = 1.0,
    noise: float = 0.0,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A torus in R^3, uniform in its two angles.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    major_radius : float, default=2.0
        Distance from the centre of the tube to the centre of the torus.
    minor_radius : float, default=1.0
        Radius of the tube.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the points.
    seed : int, Generator or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, 3)
        The points, with Gaussian noise of standard deviation ``noise`` added.
    t : ndarray of shape (n_samples, 2)
        The two angles.

    Examples
    --------
    >>> X, t = make_torus(10, seed=0)
    >>> X.shape
    (10, 3)
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    R = check_scalar(major_radius, "major_radius", minimum=0, include_min=False)
    r = check_scalar(minor_radius, "minor_radius", minimum=0, include_min=False)
    rng = check_random_state(seed)
    u = 2 * np.pi * rng.random(n_samples)
    v = 2 * np.pi * rng.random(n_samples)
    X = np.column_stack(
        [(R + r * np.cos(v)) * np.cos(u), (R + r * np.cos(v)) * np.sin(u), r * np.sin(v)]
    )
    return _add_noise(X, noise, rng), np.column_stack([u, v])


def _random_basis(ambient_dim: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((ambient_dim, dim)))
    return Q * np.sign(np.diag(R))


def _check_sub_dims(dim: int, ambient_dim: int | None) -> tuple[int, int]:
    dim = check_scalar(dim, "dim", kind=int, minimum=1)
    if ambient_dim is not None:
        ambient_dim = check_scalar(ambient_dim, "ambient_dim", kind=int, minimum=1)
    else:
        ambient_dim = dim
    if ambient_dim < dim:
        raise ValueError(f"ambient_dim ({ambient_dim}) must be >= dim ({dim})")
    return dim, ambient_dim


@renamed_parameters(random_state="seed")
def make_subspace(
    n_samples: int = 1000,
    *,
    dim: int = 2,
    ambient_dim: int | None = None,
    noise: float = 0.0,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Standard Gaussian points in a random ``dim``-dimensional linear subspace of R^D.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    dim : int, default=2
        Dimension ``k`` of the subspace.
    ambient_dim : int or None, default=None
        Ambient dimension ``D``; ``None`` means ``D = k`` (the whole space).
    noise : float, default=0.0
        Standard deviation of isotropic noise in R^D (takes points off the subspace).
    seed : int, Generator or None, default=None
        Seed for the basis and the points.

    Returns
    -------
    X : ndarray of shape (n_samples, ambient_dim)
        The points, with Gaussian noise of standard deviation ``noise`` added.
    t : ndarray of shape (n_samples, dim) or (n_samples,) when dim == 1
        Coordinates in an orthonormal basis of the subspace.

    Examples
    --------
    >>> X, t = make_subspace(50, dim=2, ambient_dim=5, seed=0)
    >>> int(np.linalg.matrix_rank(X))
    2
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    dim, ambient_dim = _check_sub_dims(dim, ambient_dim)
    rng = check_random_state(seed)
    basis = _random_basis(ambient_dim, dim, rng)
    t = rng.standard_normal((n_samples, dim))
    X = _add_noise(t @ basis.T, noise, rng)
    return X, (t[:, 0] if dim == 1 else t)


@renamed_parameters(random_state="seed")
def make_ball(
    n_samples: int = 1000,
    *,
    dim: int = 2,
    ambient_dim: int | None = None,
    radius: float = 1.0,
    noise: float = 0.0,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in a ``dim``-ball centred at the origin of a random subspace of R^D.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    dim : int, default=2
        Dimension ``k`` of the ball.
    ambient_dim : int or None, default=None
        Ambient dimension ``D``; ``None`` means ``D = k``.
    radius : float, default=1.0
        Radius of the ball.
    noise : float, default=0.0
        Standard deviation of isotropic noise in R^D.
    seed : int, Generator or None, default=None
        Seed for the basis and the points.

    Returns
    -------
    X : ndarray of shape (n_samples, ambient_dim)
        The points, with Gaussian noise of standard deviation ``noise`` added.
    t : ndarray of shape (n_samples, dim) or (n_samples,) when dim == 1
        Coordinates in an orthonormal basis of the subspace.

    Examples
    --------
    >>> X, t = make_ball(100, dim=3, seed=0)
    >>> bool((np.linalg.norm(X, axis=1) <= 1.0).all())
    True
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    dim, ambient_dim = _check_sub_dims(dim, ambient_dim)
    radius = check_scalar(radius, "radius", minimum=0, include_min=False)
    rng = check_random_state(seed)
    basis = _random_basis(ambient_dim, dim, rng)
    G = rng.standard_normal((n_samples, dim))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    t = radius * G * rng.random((n_samples, 1)) ** (1.0 / dim)
    X = _add_noise(t @ basis.T, noise, rng)
    return X, (t[:, 0] if dim == 1 else t)


@renamed_parameters(random_state="seed")
def make_blob(
    n_samples: int = 1000,
    *,
    dim: int = 2,
    center: float | np.ndarray = 0.0,
    scale: float = 1.0,
    noise: float = 0.0,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """An isotropic Gaussian blob in R^dim.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    dim : int, default=2
        Dimension.
    center : float or array-like of shape (dim,), default=0.0
        Centre of the blob.
    scale : float, default=1.0
        Standard deviation per coordinate.
    noise : float, default=0.0
        Extra isotropic noise (kept for a uniform signature).
    seed : int, Generator or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, dim)
        The points, with Gaussian noise of standard deviation ``noise`` added.
    t : ndarray of shape (n_samples, dim) or (n_samples,) when dim == 1
        Standardised coordinates ``(X - center) / scale`` before noise.

    Examples
    --------
    >>> X, t = make_blob(10, dim=3, seed=0)
    >>> X.shape
    (10, 3)
    """
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    dim = check_scalar(dim, "dim", kind=int, minimum=1)
    scale = check_scalar(scale, "scale", minimum=0, include_min=False)
    c = np.broadcast_to(np.asarray(center, dtype=np.float64), (dim,))
    if not np.isfinite(c).all():
        raise ValueError("center must be finite")
    rng = check_random_state(seed)
    t = rng.standard_normal((n_samples, dim))
    X = _add_noise(c + scale * t, noise, rng)
    return X, (t[:, 0] if dim == 1 else t)


@dataclass(frozen=True)
class Manifold:
    """Points of a manifold together with what the experiments need to know about them.

    Parameters
    ----------
    name : str
        Registry name (``"spiral"``) or ``"points"`` for a user array.
    X : ndarray of shape (n_samples, n_features)
        The points.
    t : ndarray of shape (n_samples,) or (n_samples, k)
        Intrinsic coordinates (for colouring).
    params : dict, default={}
        The arguments that generated the points.
    """

    name: str
    X: np.ndarray
    t: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        """Number of points."""
        return int(self.X.shape[0])

    @property
    def ambient_dim(self) -> int:
        """Dimension ``d`` of the input space (columns of ``X``)."""
        return int(self.X.shape[1])

    @property
    def color(self) -> np.ndarray:
        """First intrinsic coordinate, shape ``(n_samples,)``, for colouring plots."""
        return self.t if self.t.ndim == 1 else self.t[:, 0]


MANIFOLDS: Mapping[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = LoadedView(
    MANIFOLD_REGISTRY
)
"""Manifold generators by name, read from :data:`manifold_lab.registry.MANIFOLD_REGISTRY`
(where their parameters, ranges and descriptions live)."""


def manifold_from_points(X: Any, t: Any = None, *, name: str = "points") -> Manifold:
    """Wrap a user array of points as a :class:`Manifold`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Finite points.
    t : array-like of shape (n_samples,) or (n_samples, k), default=None
        Intrinsic coordinates; ``None`` uses the point index.
    name : str, default="points"
        Name reported in results.

    Returns
    -------
    manifold : Manifold
        The points (as float64) with their coordinates, named ``name``.

    Examples
    --------
    >>> m = manifold_from_points([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> m.n_samples, m.ambient_dim
    (3, 2)
    """
    Xa = check_points(X)
    if t is None:
        ta = np.arange(Xa.shape[0], dtype=np.float64)
    else:
        ta = np.asarray(t, dtype=np.float64)
        if ta.shape[0] != Xa.shape[0] or ta.ndim not in (1, 2):
            raise ValueError(
                f"t must have shape ({Xa.shape[0]},) or ({Xa.shape[0]}, k) to match X, "
                f"got {ta.shape}"
            )
    return Manifold(name=name, X=Xa, t=ta, params={"n_samples": int(Xa.shape[0])})


@renamed_parameters(random_state="seed")
def make_manifold(
    name: Any = "spiral", n_samples: int = 1000, *, seed: Any = None, **kwargs: Any
) -> Manifold:
    """Make a manifold by name, or wrap points the user already has.

    Parameters
    ----------
    name : str, Manifold, array-like or tuple (X, t), default="spiral"
        One of :data:`MANIFOLDS` (``"spiral"``, ``"circle"``, ``"swiss_roll"``,
        ``"s_curve"``, ``"sphere"``, ``"torus"``, ``"subspace"``, ``"ball"``, ``"blob"``),
        an existing :class:`Manifold`, an array of points, or a tuple ``(X, t)``.
    n_samples : int, default=1000
        Number of points (ignored for user points).
    seed : int, Generator or None, default=None
        Seed passed to the generator.
    **kwargs
        Further arguments of the generator, e.g. ``dim=3`` or ``noise=0.1``.

    Returns
    -------
    manifold : Manifold
        The generated points with their intrinsic coordinates and the generator's
        arguments (``name`` itself when it is already a :class:`Manifold`).

    Examples
    --------
    >>> m = make_manifold("ball", 200, dim=3, ambient_dim=10, seed=0)
    >>> m.X.shape
    (200, 10)
    """
    if isinstance(name, Manifold):
        return name
    if isinstance(name, str):
        entry = MANIFOLD_REGISTRY.get(name)
        if entry is None:
            raise ValueError(
                f"unknown manifold {name!r}; choose one of "
                f"{MANIFOLD_REGISTRY.choices_text()} or pass an array of points"
            )
        key = entry.name
        try:
            X, t = entry.load()(n_samples, seed=seed, **kwargs)
        except TypeError as exc:
            raise ValueError(f"bad arguments for manifold {key!r}: {exc}") from None
        params = {"n_samples": int(n_samples), "seed": seed, **kwargs}
        return Manifold(name=key, X=X, t=t, params=params)
    if isinstance(name, tuple) and len(name) == 2:
        return manifold_from_points(name[0], name[1])
    return manifold_from_points(name)
