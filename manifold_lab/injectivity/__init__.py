"""When is ``x -> ReLU(T x)`` injective? A phase diagram over dimension and width.

Two quantities, for Gaussian ``T`` (``n x k``, no bias) and a ``k``-ball:

pointwise invertible fraction
    The fraction of the ball's points where Lemma 2 holds (the active rows span R^k),
    measured by :func:`manifold_lab.sweep` with ``method="lemma2"``. Its mean over seeds is
    Theorem 1's ``P(Binomial(n, 1/2) >= k)`` (:func:`manifold_lab.preserved_fraction`).
global injectivity
    Whether the layer is injective on the *whole* ball (equivalently on all of R^k: the
    ball holds a neighbourhood of 0 and ReLU is positively homogeneous). It is injective
    iff for every direction ``u`` the rows ``{t_j : t_j . u >= 0}`` span R^k (Puthawala
    et al., JMLR 2022). For rows in general position (every ``k`` rows independent, which
    Gaussian rows are with probability one) this is: every open cell of the central
    hyperplane arrangement ``{t_j . u = 0}`` has at least ``k`` active rows, i.e.
    ``min_u #{j : t_j . u > 0} >= k``, the halfspace (Tukey) depth of the origin among the
    rows. :func:`min_active_rows` computes that minimum.

Modules: :mod:`.active_rows` (:func:`min_active_rows` and its methods, built on
:mod:`.cells`, :mod:`.exact` and :mod:`.sampled`), :mod:`.phase` (:func:`phase_diagram`) and
:mod:`.critical` (:func:`critical_ratios`).
"""

from __future__ import annotations

from .active_rows import (
    DEFAULT_EXACT_MAX_SUBSETS,
    MIN_ACTIVE_LABELS,
    MIN_ACTIVE_METHODS,
    min_active_rows,
)
from .critical import RATIO_COLUMNS, check_levels, critical_ratios, level_crossing, ratio_table
from .phase import QUANTITIES, phase_diagram

__all__ = [
    "DEFAULT_EXACT_MAX_SUBSETS",
    "MIN_ACTIVE_LABELS",
    "MIN_ACTIVE_METHODS",
    "QUANTITIES",
    "RATIO_COLUMNS",
    "check_levels",
    "critical_ratios",
    "level_crossing",
    "min_active_rows",
    "phase_diagram",
    "ratio_table",
]
