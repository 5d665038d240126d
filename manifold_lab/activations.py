"""Activations and what the experiments need to know about each one.

An :class:`Activation` bundles the elementwise function with its derivative, an inverse on
its *informative* coordinates (where it is strictly monotone, so the pre-activation can be
read back) and its activation pattern (which linear piece each coordinate is on). For ReLU
the informative coordinates are ``y > 0``; for ReLU clipped at ``c`` (ReLU6: ``c = 6``)
they are ``0 < y < c``, as Lemma 2 of the paper needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .registry import ACTIVATION_REGISTRY, LoadedView, load_object

__all__ = ["ACTIVATIONS", "Activation", "clipped_relu", "get_activation", "leaky_relu"]

Tensor = torch.Tensor


@dataclass(frozen=True)
class Activation:
    """An elementwise activation with its derivative, inverse and pattern.

    Parameters
    ----------
    name : str
        Name used in results, e.g. ``"relu6"`` or ``"leaky_relu(0.01)"``.
    fn : callable
        ``fn(z) -> y``, elementwise on tensors.
    derivative : callable
        ``derivative(z) -> dy/dz``, elementwise.
    inverse : callable or None, default=None
        ``inverse(y) -> (z, informative)``: the pre-activation where it can be read back and
        a boolean mask of those coordinates. ``None`` when the activation has no such
        inverse (GELU, arbitrary callables); the exact inverse and the exact-invertibility
        metric are then not available.
    pattern : callable or None, default=None
        ``pattern(z) -> int8 tensor``: index of the linear piece of each coordinate.
        ``None`` for smooth activations, which have no linear regions.
    positively_homogeneous : bool, default=False
        ``fn(a z) = a fn(z)`` for ``a > 0`` (ReLU, leaky ReLU, identity).
    check_output : bool, default=False
        Check every output for NaN and infinity (set for user callables).
    breakpoints : tuple of float
        Where a piecewise-linear activation changes piece (``(0.0,)`` for ReLU, ``(0.0,
        6.0)`` for ReLU6); empty for smooth activations and the identity. The layer's linear
        regions are cut out by the hyperplanes ``t_j . x + b_j = c`` for these ``c``
        (:func:`manifold_lab.partition.layer_partition`).
    """

    name: str
    fn: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor], Tensor]
    inverse: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None
    pattern: Callable[[Tensor], Tensor] | None = None
    positively_homogeneous: bool = False
    check_output: bool = False
    breakpoints: tuple[float, ...] = ()

    def __call__(self, z: Tensor) -> Tensor:
        return self.fn(z)


def _relu_inverse(y: Tensor) -> tuple[Tensor, Tensor]:
    return y, y > 0


def _relu_pattern(z: Tensor) -> Tensor:
    return (z > 0).to(torch.int8)


RELU = Activation(
    name="relu",
    fn=torch.relu,
    derivative=lambda z: (z > 0).to(z.dtype),
    inverse=_relu_inverse,
    pattern=_relu_pattern,
    positively_homogeneous=True,
    breakpoints=(0.0,),
)

IDENTITY = Activation(
    name="identity",
    fn=lambda z: z,
    derivative=torch.ones_like,
    inverse=lambda y: (y, torch.ones_like(y, dtype=torch.bool)),
    pattern=lambda z: torch.zeros_like(z, dtype=torch.int8),
    positively_homogeneous=True,
)


def clipped_relu(clip: float = 6.0) -> Activation:
    """ReLU clipped at ``clip``: ``min(max(z, 0), clip)``; ``clip=6`` is ReLU6.

    Only coordinates strictly between 0 and ``clip`` are informative (Lemma 2).

    Parameters
    ----------
    clip : float, default=6.0
        Upper clip value, > 0.

    Returns
    -------
    activation : Activation
        Named ``"relu6"`` for ``clip=6``, else ``"clipped_relu(<clip>)"``; its inverse
        reads back the coordinates in ``(0, clip)``.

    Examples
    --------
    >>> act = clipped_relu(6.0)
    >>> act(torch.tensor([-1.0, 3.0, 9.0])).tolist()
    [0.0, 3.0, 6.0]
    """
    c = float(clip)
    if not math.isfinite(c) or c <= 0:
        raise ValueError(f"the clip value must be a finite number > 0, got {clip}")
    name = "relu6" if c == 6.0 else f"clipped_relu({c:g})"

    def inverse(y: Tensor) -> tuple[Tensor, Tensor]:
        return y, (y > 0) & (y < c)

    def pattern(z: Tensor) -> Tensor:
        return (z > 0).to(torch.int8) + (z >= c).to(torch.int8)

    return Activation(
        name=name,
        fn=lambda z: torch.clamp(z, 0.0, c),
        derivative=lambda z: ((z > 0) & (z < c)).to(z.dtype),
        inverse=inverse,
        pattern=pattern,
        breakpoints=(0.0, c),
    )


def leaky_relu(negative_slope: float = 0.01) -> Activation:
    """Leaky ReLU with the given negative slope (invertible everywhere when slope > 0).

    Parameters
    ----------
    negative_slope : float, default=0.01
        Slope for negative inputs, in ``(0, 1)``.

    Returns
    -------
    activation : Activation
        Named ``"leaky_relu(<slope>)"``, with an exact inverse on every coordinate.

    Examples
    --------
    >>> leaky_relu(0.5)(torch.tensor([-2.0, 2.0])).tolist()
    [-1.0, 2.0]
    """
    a = float(negative_slope)
    if not math.isfinite(a) or not 0 < a < 1:
        raise ValueError(f"negative_slope must be in (0, 1), got {negative_slope}")

    def inverse(y: Tensor) -> tuple[Tensor, Tensor]:
        return torch.where(y > 0, y, y / a), torch.ones_like(y, dtype=torch.bool)

    return Activation(
        name=f"leaky_relu({a:g})",
        fn=lambda z: F.leaky_relu(z, a),
        derivative=lambda z: torch.where(z > 0, torch.ones_like(z), torch.full_like(z, a)),
        inverse=inverse,
        pattern=_relu_pattern,
        positively_homogeneous=True,
        breakpoints=(0.0,),
    )


def _gelu_derivative(z: Tensor) -> Tensor:
    cdf = 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return cdf + z * pdf


GELU = Activation(name="gelu", fn=F.gelu, derivative=_gelu_derivative)


def _softplus_inverse(y: Tensor) -> tuple[Tensor, Tensor]:
    # softplus(z) = log(1 + e^z) > 0; z = y + log(1 - e^-y). Coordinates where y is so
    # small that the slope sigmoid(z) < 1e-6 carry (numerically) no information.
    pos = y > 0
    safe = torch.where(pos, y, torch.ones_like(y))
    z = safe + torch.log(-torch.expm1(-safe))
    informative = pos & (torch.sigmoid(z) > 1e-6)
    return torch.where(informative, z, torch.zeros_like(z)), informative


SOFTPLUS = Activation(
    name="softplus",
    fn=F.softplus,
    derivative=torch.sigmoid,
    inverse=_softplus_inverse,
)

RELU6 = clipped_relu(6.0)
LEAKY_RELU = leaky_relu(0.01)

ACTIVATIONS: Mapping[str, Activation] = LoadedView(ACTIVATION_REGISTRY)
"""Activations by name, read from :data:`manifold_lab.registry.ACTIVATION_REGISTRY` (where
their properties and descriptions live). ``"linear"`` and ``"none"`` are aliases of
``"identity"``; ``"clipped_relu:C"`` and ``"leaky_relu:A"`` take a parameter."""


def _checked(value: Any, name: str) -> Activation:
    if isinstance(value, Activation):
        return value
    if callable(value):
        return _from_callable(value, name)
    raise ValueError(f"the registered activation {name!r} is neither an Activation nor callable")


def _from_callable(fn: Callable[[Tensor], Tensor], name: str | None = None) -> Activation:
    probe = torch.linspace(-3, 3, 7, dtype=torch.float64)
    try:
        out = fn(probe)
    except Exception as exc:
        raise ValueError(f"the activation callable failed on a test tensor: {exc}") from exc
    if not isinstance(out, torch.Tensor) or out.shape != probe.shape:
        raise ValueError(
            "an activation callable must map a torch tensor to a tensor of the same shape "
            "(elementwise)"
        )

    def derivative(z: Tensor) -> Tensor:
        with torch.enable_grad():
            zz = z.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(fn(zz).sum(), zz)
        return g.detach()

    return Activation(
        name=name or str(getattr(fn, "__name__", "callable")),
        fn=fn,
        derivative=derivative,
        check_output=True,
    )


def get_activation(activation: Any) -> Activation:
    """Resolve an activation given by name, :class:`Activation` or callable.

    Parameters
    ----------
    activation : str, Activation or callable
        ``"relu"``, ``"relu6"``, ``"clipped_relu:3"``, ``"leaky_relu"``,
        ``"leaky_relu:0.1"``, ``"gelu"``, ``"softplus"``, ``"identity"`` (aliases
        ``"linear"``, ``"none"``), an :class:`Activation`, or any elementwise callable on
        torch tensors (its derivative comes from autograd).

    Returns
    -------
    activation : Activation
        A registered activation, a parametrised one built by its family's factory, the
        given :class:`Activation` itself, or a callable wrapped with an autograd derivative
        and output checks (no inverse, no pattern).

    Examples
    --------
    >>> get_activation("relu6").name
    'relu6'
    >>> get_activation("clipped_relu:3").name
    'clipped_relu(3)'
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        entry = ACTIVATION_REGISTRY.get(activation)
        if entry is not None:
            return _checked(entry.load(), entry.name)
        head, sep, arg = activation.strip().lower().replace("-", "_").partition(":")
        if not sep and head.endswith(")") and "(" in head:  # "leaky_relu(0.1)"
            head, _, arg = head[:-1].partition("(")
            sep = ":"
        family = next((e for e in ACTIVATION_REGISTRY if e.family and e.family == head), None)
        if sep and family is not None:
            try:
                value = float(arg)
            except ValueError:
                raise ValueError(
                    f"cannot read the parameter of activation {activation!r}"
                ) from None
            return _checked(load_object(family.factory)(value), family.name)
        families = [
            f"'{e.family}:{e.parameter.name if e.parameter else 'x'}'"
            for e in ACTIVATION_REGISTRY
            if e.family
        ]
        raise ValueError(
            f"unknown activation {activation!r}; choose one of "
            f"{', '.join(ACTIVATION_REGISTRY.names())}, {', '.join(families)}, or pass a callable"
        )
    if callable(activation):
        return _from_callable(activation)
    raise ValueError(f"activation must be a name or a callable, got {activation!r}")
