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

__all__ = ["INJECTIVITY_THRESHOLDS", "InjectivityThreshold", "preserved_fraction"]


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
