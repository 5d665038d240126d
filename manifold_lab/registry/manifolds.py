"""The manifold generators the toolkit offers, with their parameters and valid ranges.

Implementations are the ``make_*`` functions of :mod:`manifold_lab.manifolds`. Register your
own generator with :func:`register_manifold`; it then appears in ``manifold-lab sweep --help``,
the explorer's menus and :func:`manifold_lab.make_manifold`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._base import Entry, Param, Registry

__all__ = [
    "AMBIENT_DIM",
    "DIM",
    "MANIFOLD_REGISTRY",
    "NOISE",
    "ManifoldEntry",
    "register_manifold",
]

NOISE = Param(
    "noise", "Noise", "Standard deviation of Gaussian noise.", "float", 0.0, 0.0, 1.0, 0.01
)
DIM = Param("dim", "Intrinsic dimension", "Dimension of the manifold.", "int", 2, 1, 8)
AMBIENT_DIM = Param(
    "ambient_dim",
    "Ambient dimension",
    "Dimension of the space the manifold lives in (at least the intrinsic one).",
    "int",
    3,
    1,
    32,
)


@dataclass(frozen=True)
class ManifoldEntry(Entry):
    """A registered manifold generator.

    Parameters
    ----------
    name : str
        Canonical name (what results and URLs record).
    label : str
        Human-readable label for menus.
    description : str
        One or two sentences for tooltips, ``--help`` and the documentation.
    loader : str or object or None, default=None
        The generator, ``generator(n_samples, *, seed=None, **params) -> (X, t)``, or its
        ``"package.module:attribute"``.
    aliases : tuple of str, default=()
        Other names that resolve to this entry.
    params : tuple of Param, default=(NOISE,)
        The generator's keyword arguments that interfaces offer, with their ranges
        (``noise``, ``dim``, ``ambient_dim``...). ``n_samples`` and ``seed`` are common to
        every generator and not listed.
    """

    params: tuple[Param, ...] = (NOISE,)

    def param(self, name: str) -> Param | None:
        """The parameter called ``name``, or None when the generator does not take it.

        Parameters
        ----------
        name : str
            Keyword argument of the generator (``"dim"``).

        Returns
        -------
        Param or None
            Its setting, with range and default.
        """
        return next((p for p in self.params if p.name == name), None)


_IMPL = "manifold_lab.manifolds"

MANIFOLD_REGISTRY: Registry[ManifoldEntry] = Registry(
    "manifold",
    [
        ManifoldEntry(
            "spiral",
            "Spiral",
            "The paper's Figure 1: an Archimedean spiral in the plane, about ten turns.",
            f"{_IMPL}:make_spiral",
        ),
        ManifoldEntry("circle", "Circle", "A circle in the plane.", f"{_IMPL}:make_circle"),
        ManifoldEntry(
            "swiss_roll",
            "Swiss roll",
            "A rolled-up rectangle in R^3 (2-D, spans 3 dimensions).",
            f"{_IMPL}:make_swiss_roll",
        ),
        ManifoldEntry("s_curve", "S-curve", "An S-shaped sheet in R^3.", f"{_IMPL}:make_s_curve"),
        ManifoldEntry(
            "sphere",
            "Sphere",
            "The unit sphere S^dim in R^(dim+1).",
            f"{_IMPL}:make_sphere",
            params=(DIM, NOISE),
        ),
        ManifoldEntry("torus", "Torus", "A ring torus in R^3.", f"{_IMPL}:make_torus"),
        ManifoldEntry(
            "subspace",
            "Linear subspace",
            "A random dim-dimensional linear subspace of R^ambient_dim (Gaussian points).",
            f"{_IMPL}:make_subspace",
            params=(DIM, AMBIENT_DIM, NOISE),
        ),
        ManifoldEntry(
            "ball",
            "Ball",
            "Uniform points in a dim-dimensional ball inside R^ambient_dim.",
            f"{_IMPL}:make_ball",
            params=(DIM, AMBIENT_DIM, NOISE),
        ),
        ManifoldEntry(
            "blob",
            "Gaussian blob",
            "A dim-dimensional Gaussian cloud (fills its span).",
            f"{_IMPL}:make_blob",
            params=(DIM, NOISE),
        ),
    ],
)
"""Every manifold generator by name; the CLI's choices and the explorer's menus read it."""


def register_manifold(
    name: str,
    generator: Callable[..., Any],
    *,
    label: str | None = None,
    description: str = "",
    params: tuple[Param, ...] = (NOISE,),
    replace: bool = False,
) -> ManifoldEntry:
    """Register a manifold generator.

    Parameters
    ----------
    name : str
        Registry name.
    generator : callable
        ``generator(n_samples, *, seed=None, **params) -> (X, t)`` like the ``make_*``
        functions: ``X`` of shape (n_samples, n_features), ``t`` the intrinsic coordinates.
    label : str, optional
        Menu label (default: the name).
    description : str, default=""
        One sentence for tooltips and ``--help``.
    params : tuple of Param, default=(NOISE,)
        The keyword arguments interfaces should offer, with their ranges.
    replace : bool, default=False
        Replace an entry of the same name.

    Returns
    -------
    ManifoldEntry
        The registered entry; ``make_manifold(name, ...)`` and the interfaces now offer it.
    """
    entry = ManifoldEntry(
        name=name,
        label=label or name,
        description=description or f"user manifold {name}",
        loader=generator,
        params=tuple(params),
    )
    return MANIFOLD_REGISTRY.register(entry, replace=replace)
