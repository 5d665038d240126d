"""The activations the toolkit offers, with the properties the experiments and menus need.

Implementations live in :mod:`manifold_lab.activations` (torch); this module describes them
without importing torch. Register your own with :func:`register_activation`; it then appears
in ``manifold-lab sweep --help``, the explorer's menus and :func:`manifold_lab.get_activation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._base import Entry, Param, Registry

__all__ = ["ACTIVATION_REGISTRY", "ActivationEntry", "register_activation"]


@dataclass(frozen=True)
class ActivationEntry(Entry):
    """A registered activation.

    Parameters
    ----------
    name : str
        Canonical name (what results and URLs record).
    label : str
        Human-readable label for menus.
    description : str
        One or two sentences for tooltips, ``--help`` and the documentation.
    loader : str or object or None, default=None
        The :class:`~manifold_lab.activations.Activation`, or its
        ``"package.module:attribute"``.
    aliases : tuple of str, default=()
        Other names that resolve to this entry.
    piecewise_linear : bool, default=False
        The activation is linear on pieces of its domain (it has activation patterns).
    positively_homogeneous : bool, default=False
        ``f(a z) = a f(z)`` for ``a > 0``.
    exact_inverse : bool, default=False
        Its pre-activation can be read back on informative coordinates (Lemma 2 and the
        exact ``lemma2`` reconstruction apply).
    theorem1 : bool
        Theorem 1 of the paper (the invertible fraction ``P(Binomial(n, 1/2) >= k)`` for a
        Gaussian layer without bias) applies: ReLU exactly; ReLU6 as long as the clip is not
        reached (for unit-scale inputs it is an upper bound).
    family : str, default=""
        Prefix of a parametrised form, e.g. ``"leaky_relu"`` reads ``"leaky_relu:0.1"``.
    factory : str or callable or None, default=None
        ``factory(value) -> Activation`` for the parametrised form.
    parameter : Param or None, default=None
        The family's parameter, with its valid range.
    """

    piecewise_linear: bool = False
    positively_homogeneous: bool = False
    exact_inverse: bool = False
    theorem1: bool = False
    family: str = ""
    factory: Any = None
    parameter: Param | None = None

    @property
    def sector(self) -> bool:
        """Whether the exact angular-sector algorithm can evaluate it (2-D spans, no bias)."""
        return self.piecewise_linear and self.positively_homogeneous and self.exact_inverse


_IMPL = "manifold_lab.activations"

ACTIVATION_REGISTRY: Registry[ActivationEntry] = Registry(
    "activation",
    [
        ActivationEntry(
            "relu",
            "ReLU",
            "max(z, 0): the paper's case; zeroes every negative coordinate.",
            f"{_IMPL}:RELU",
            piecewise_linear=True,
            positively_homogeneous=True,
            exact_inverse=True,
            theorem1=True,
        ),
        ActivationEntry(
            "relu6",
            "ReLU6",
            "min(max(z, 0), 6): MobileNetV2's activation; only 0 < y < 6 is informative.",
            f"{_IMPL}:RELU6",
            piecewise_linear=True,
            exact_inverse=True,
            theorem1=True,
            family="clipped_relu",
            factory=f"{_IMPL}:clipped_relu",
            parameter=Param("clip", "Clip value", "Upper clip value.", "float", 6.0, 1e-12),
        ),
        ActivationEntry(
            "leaky_relu",
            "Leaky ReLU",
            "z for z > 0, a z otherwise (a = 0.01): invertible everywhere.",
            f"{_IMPL}:LEAKY_RELU",
            piecewise_linear=True,
            positively_homogeneous=True,
            exact_inverse=True,
            family="leaky_relu",
            factory=f"{_IMPL}:leaky_relu",
            parameter=Param(
                "negative_slope", "Negative slope", "Slope for z < 0.", "float", 0.01, 1e-12, 1
            ),
        ),
        ActivationEntry(
            "gelu",
            "GELU",
            "z Phi(z): smooth, no linear regions and no exact inverse.",
            f"{_IMPL}:GELU",
        ),
        ActivationEntry(
            "softplus",
            "Softplus",
            "log(1 + e^z): smooth and invertible where its slope is not negligible.",
            f"{_IMPL}:SOFTPLUS",
            exact_inverse=True,
        ),
        ActivationEntry(
            "identity",
            "Identity (linear)",
            "z: the linear bottleneck, loses nothing.",
            f"{_IMPL}:IDENTITY",
            aliases=("linear", "none"),
            piecewise_linear=True,
            positively_homogeneous=True,
            exact_inverse=True,
        ),
    ],
)
"""Every activation by name; the CLI's choices and the explorer's menus are read from here."""


def register_activation(
    activation: Any,
    *,
    label: str | None = None,
    description: str = "",
    theorem1: bool = False,
    replace: bool = False,
) -> ActivationEntry:
    """Register an :class:`~manifold_lab.activations.Activation` under its name.

    Parameters
    ----------
    activation : Activation
        The activation (its ``pattern``, ``inverse`` and ``positively_homogeneous`` fields
        give the entry's properties).
    label : str, optional
        Menu label (default: the name).
    description : str, default=""
        One sentence for tooltips and ``--help``.
    theorem1 : bool, default=False
        Whether Theorem 1's binomial prediction applies to it.
    replace : bool, default=False
        Replace an entry of the same name.

    Returns
    -------
    ActivationEntry
        The registered entry; ``get_activation(name)`` and the interfaces now offer it.
    """
    entry = ActivationEntry(
        name=activation.name,
        label=label or activation.name,
        description=description or f"user activation {activation.name}",
        loader=activation,
        piecewise_linear=activation.pattern is not None,
        positively_homogeneous=bool(activation.positively_homogeneous),
        exact_inverse=activation.inverse is not None,
        theorem1=theorem1,
    )
    return ACTIVATION_REGISTRY.register(entry, replace=replace)
