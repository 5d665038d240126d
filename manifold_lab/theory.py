"""Theory to set beside the measurements.

Theorem 1 of the paper (Appendix A): for a random ``n x k`` matrix ``B`` with a
sign-symmetric density, the expected fraction of the input that ReLU(B x) maps
invertibly (a point needs at least ``k`` positive coordinates, Lemma 2) is
``P(Binomial(n, 1/2) >= k)``; the paper writes ``d`` for this ``k``, the project writes
``k`` (see ``docs/ARCHITECTURE.md``). The injectivity literature gives expansion ratios ``n / k``
above which a Gaussian ReLU layer is injective on *all* of R^k (not just on a manifold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ._deprecation import renamed_parameters
from ._validation import check_scalar

__all__ = [
    "INJECTIVITY_THRESHOLDS",
    "InjectivityThreshold",
    "preserved_fraction",
    "stacked_preserved_fraction",
    "stacked_width_needed",
]


@renamed_parameters(d="k")
def preserved_fraction(width: Any, k: int) -> np.ndarray:
    """Theorem 1's expected preserved (invertible) fraction ``P(Binomial(n, 1/2) >= k)``.

    Parameters
    ----------
    width : int or array-like of int
        Layer width(s) ``n``.
    k : int
        Dimension ``k`` of the input's span (the paper's ``d``); ``d`` is a deprecated
        alias of this parameter.

    Returns
    -------
    fraction : ndarray of float
        Same shape as ``width``.

    Examples
    --------
    >>> preserved_fraction([2, 3, 30], 2).round(4).tolist()
    [0.25, 0.5, 1.0]
    """
    n = np.asarray(width)
    k = check_scalar(k, "k", kind=int, minimum=1)
    if np.any(n < 1):
        raise ValueError("every width must be >= 1")
    return np.asarray(stats.binom.sf(k - 1, n, 0.5), dtype=np.float64)


def stacked_preserved_fraction(width: Any, k: int, depth: Any) -> np.ndarray:
    """Theorem 1 compounded over a stack of ``L`` layers: ``P(Binomial(n, 1/2) >= k) ** L``.

    The expected fraction of points where Lemma 2 holds at every layer of a stack of
    Gaussian ReLU layers of width ``n`` without bias (:func:`manifold_lab.sweep` with
    ``depth``, either residual form). Around a point the previous layers map the span onto a
    ``k``-dimensional piece containing the point; layer ``l``'s matrix restricted to that
    piece is an ``n x k`` Gaussian matrix independent of the earlier layers (rotation
    invariance), so Theorem 1 applies to it, and the ``L`` events are independent. With a
    bias, or non-Gaussian matrices, it is only a reference.

    Parameters
    ----------
    width : int or array-like of int
        Layer width(s) ``n``.
    k : int
        Dimension of the input's span.
    depth : int or array-like of int
        Number(s) of layers ``L >= 1``; broadcast against ``width``.

    Returns
    -------
    fraction : ndarray of float
        ``preserved_fraction(width, k) ** depth``, broadcast.

    Examples
    --------
    >>> stacked_preserved_fraction(3, 2, [1, 2, 4]).tolist()
    [0.5, 0.25, 0.0625]
    """
    L = np.asarray(depth)
    if L.dtype.kind not in "iu" or np.any(L < 1):
        raise ValueError(f"depth must be integers >= 1, got {depth!r}")
    return np.asarray(preserved_fraction(width, k) ** L, dtype=np.float64)


def stacked_width_needed(
    fraction: float, k: int, depth: int, *, max_width: int = 4096, interpolate: bool = False
) -> float:
    """Smallest width at which :func:`stacked_preserved_fraction` reaches ``fraction``.

    Parameters
    ----------
    fraction : float
        Target expected fraction, in (0, 1).
    k : int
        Dimension of the input's span.
    depth : int
        Number of layers ``L >= 1``.
    max_width : int, default=4096
        Largest width searched.
    interpolate : bool, default=False
        Interpolate linearly between the integer widths around the crossing (as
        :func:`manifold_lab.sweeps.crossing_widths` does for measured curves).

    Returns
    -------
    width : float
        The smallest integer ``n`` with ``P(Binomial(n, 1/2) >= k) ** L >= fraction``, or
        the interpolated crossing.

    Examples
    --------
    >>> [stacked_width_needed(0.9, 2, L) for L in (1, 2, 4, 8)]
    [7, 8, 9, 10]
    """
    check_scalar(fraction, "fraction", minimum=0, maximum=1, include_min=False, include_max=False)
    depth = check_scalar(depth, "depth", kind=int, minimum=1)
    widths = np.arange(1, check_scalar(max_width, "max_width", kind=int, minimum=1) + 1)
    p = stacked_preserved_fraction(widths, k, depth)
    ok = np.nonzero(p >= fraction)[0]
    if ok.size == 0:
        raise ValueError(f"no width up to {max_width} reaches {fraction} at depth {depth}")
    i = int(ok[0])
    if not interpolate or i == 0:
        return int(widths[i])
    return float(widths[i - 1] + (fraction - p[i - 1]) / (p[i] - p[i - 1]))


@dataclass(frozen=True)
class InjectivityThreshold:
    """An expansion ratio ``n / d`` from the literature, for marking width curves.

    Parameters
    ----------
    label : str
        Short label for a plot.
    ratio_low, ratio_high : float
        The ratio, or a range of ratios when the bounds do not meet.
    source : str
        Citation.
    note : str
        What exactly the number claims.
    """

    label: str
    ratio_low: float
    ratio_high: float
    source: str
    note: str

    @renamed_parameters(d="k")
    def widths(self, k: int) -> tuple[float, float]:
        """The widths ``n`` that the ratio means for input dimension ``k`` (alias ``d``).

        Parameters
        ----------
        k : int
            Dimension of the input (of the manifold's linear span).

        Returns
        -------
        tuple of (float, float)
            ``(ratio_low * k, ratio_high * k)``.
        """
        return self.ratio_low * k, self.ratio_high * k


INJECTIVITY_THRESHOLDS: tuple[InjectivityThreshold, ...] = (
    InjectivityThreshold(
        "necessary n >= 2d",
        2.0,
        2.0,
        "Puthawala et al., Globally injective ReLU networks, JMLR 2022",
        "A ReLU layer R^d -> R^n can be injective on all of R^d only if n >= 2d.",
    ),
    InjectivityThreshold(
        "Gaussian: 3.4 to 10.5",
        3.4,
        10.5,
        "Puthawala et al., Globally injective ReLU networks, JMLR 2022",
        "With i.i.d. Gaussian weights, global injectivity needs an expansion between 3.4 "
        "and 10.5 in their bounds.",
    ),
    InjectivityThreshold(
        "replica ~6.7",
        6.698,
        6.698,
        "Maillard, Bandeira, Belius, Dokmanic, Nakajima, arXiv:2302.14112",
        "Gaussian layer without bias, n/d -> alpha: non-rigorous replica prediction "
        "alpha_c ~ 6.698 as d grows (rigorous upper bound ~7.65).",
    ),
)
"""Injectivity thresholds from ``../shared/PAPER.md``; they concern all of R^d."""
