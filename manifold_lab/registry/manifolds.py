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
    intro : str, default=""
        A sentence or two on what the manifold is and what to look for when a layer embeds
        it (the explorer's introduction; empty: the description).
    color_label : str, default="first intrinsic coordinate t"
        What ``Manifold.color`` (the generator's first intrinsic coordinate, which colours
        plots) is, for a colour bar, e.g. ``"angle t along the spiral (rad)"``.
    """

    params: tuple[Param, ...] = (NOISE,)
    intro: str = ""
    color_label: str = "first intrinsic coordinate t"

    def intro_text(self) -> str:
        """The introduction to show: ``intro``, else ``description``.

        Returns
        -------
        str
            :attr:`intro` when it is set, else :attr:`description`.
        """
        return self.intro or self.description

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
            intro=(
                "The paper's Figure 1: a curve winding ten times around the origin in the plane"
                " (span dimension k = 2). Narrow layers fold turns of the spiral onto each "
                "other; wide ones keep it whole."
            ),
            color_label="angle t along the spiral (rad)",
        ),
        ManifoldEntry(
            "circle",
            "Circle",
            "A circle in the plane.",
            f"{_IMPL}:make_circle",
            intro=(
                "A circle around the origin (k = 2): each ReLU row zeroes the half of the "
                "circle where it is negative, so a point is kept only where at least two rows "
                "are positive."
            ),
            color_label="angle around the circle (rad)",
        ),
        ManifoldEntry(
            "swiss_roll",
            "Swiss roll",
            "A rolled-up rectangle in R^3 (2-D, spans 3 dimensions).",
            f"{_IMPL}:make_swiss_roll",
            intro=(
                "A rolled-up rectangle in R^3: a 2-D surface whose span is all of R^3 (k = 3), "
                "so Theorem 1 counts three dimensions, not two."
            ),
            color_label="roll angle u (rad)",
        ),
        ManifoldEntry(
            "s_curve",
            "S-curve",
            "An S-shaped sheet in R^3.",
            f"{_IMPL}:make_s_curve",
            intro=(
                "An S-shaped sheet in R^3 (2-D, spans k = 3 dimensions), drawn in 3-D: rotate "
                "it to see which part of the S a narrow layer flattens."
            ),
            color_label="position u along the S (rad)",
        ),
        ManifoldEntry(
            "sphere",
            "Sphere",
            "The unit sphere S^dim in R^(dim+1).",
            f"{_IMPL}:make_sphere",
            params=(DIM, NOISE),
            intro=(
                "Uniform points on the unit sphere S^dim in R^(dim+1) (k = dim + 1): it "
                "surrounds the origin, so every ReLU row cuts it in half and only wide layers "
                "keep all of it."
            ),
            color_label="colatitude: angle from the first axis (rad)",
        ),
        ManifoldEntry(
            "torus",
            "Torus",
            "A ring torus in R^3.",
            f"{_IMPL}:make_torus",
            intro=(
                "A ring torus around the z axis (a 2-D surface spanning k = 3 dimensions), "
                "uniform in its two angles."
            ),
            color_label="angle u around the ring (rad)",
        ),
        ManifoldEntry(
            "subspace",
            "Linear subspace",
            "A random dim-dimensional linear subspace of R^ambient_dim (Gaussian points).",
            f"{_IMPL}:make_subspace",
            params=(DIM, AMBIENT_DIM, NOISE),
            intro=(
                "Gaussian points on a random dim-dimensional linear subspace of R^ambient_dim: "
                "Theorem 1's case exactly (k = dim), drawn on its first principal components "
                "when ambient_dim > 3."
            ),
            color_label="first coordinate in the subspace's basis",
        ),
        ManifoldEntry(
            "ball",
            "Ball",
            "Uniform points in a dim-dimensional ball inside R^ambient_dim.",
            f"{_IMPL}:make_ball",
            params=(DIM, AMBIENT_DIM, NOISE),
            intro=(
                "Uniform points in a dim-dimensional ball inside R^ambient_dim (k = dim): a "
                "solid region around the origin, drawn on its first principal components when "
                "ambient_dim > 3."
            ),
            color_label="first coordinate in the ball's basis",
        ),
        ManifoldEntry(
            "blob",
            "Gaussian blob",
            "A dim-dimensional Gaussian cloud (fills its span).",
            f"{_IMPL}:make_blob",
            params=(DIM, NOISE),
            intro=(
                "A dim-dimensional Gaussian cloud (k = dim) that fills its span: the simplest "
                "case of Theorem 1."
            ),
            color_label="first standardised coordinate",
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
    intro: str = "",
    color_label: str = "first intrinsic coordinate t",
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
    intro : str, default=""
        The explorer's introduction to the manifold (empty: the description).
    color_label : str, default="first intrinsic coordinate t"
        What the first column of the generator's ``t`` is (it colours plots).
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
        intro=intro,
        color_label=color_label,
    )
    return MANIFOLD_REGISTRY.register(entry, replace=replace)
