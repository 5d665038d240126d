"""Intrinsic-dimension estimators in torch, in scikit-learn's estimator style.

Every estimator stores its parameters in ``__init__``; ``fit(X)`` validates ``X`` (a NumPy
array or a torch tensor of shape ``(n_samples, n_features)``), sets ``dimension_`` and returns
``self``. The computation runs in torch on ``device`` (``None``: CUDA when available, else the
CPU), in float64 unless ``dtype="float32"`` is asked for.

Estimators
----------
:class:`TwoNN` (:mod:`.twonn`)
    Facco et al. (2017): the ratio ``mu = r2 / r1`` of each point's two nearest-neighbour
    distances follows a Pareto law of shape ``d``; ``d`` is the slope of the line through the
    origin fitted to ``(log mu, -log(1 - F_emp(mu)))`` after the largest ratios are discarded.
    The recipe is scikit-dimension's ``skdim.id.TwoNN`` (``method="linear"``).
:class:`MLE` (:mod:`.mle`)
    Levina and Bickel (2005) maximum likelihood on the ``k`` nearest neighbours, with the
    MacKay and Ghahramani (2005) correction: the per-point estimates are combined by the
    inverse of the mean of their inverses. For ``k=20`` this is ``skdim.id.MLE()``'s default.
:class:`Gride` (:mod:`.gride`)
    Denti et al. (2022): the maximum-likelihood dimension of the ratio ``r_{n2} / r_{n1}`` of
    the ``n2``-th and ``n1``-th neighbour distances (``n1 = 1, n2 = 2``: TwoNN's MLE form);
    the rank ``n1`` sets the scale.
:class:`PCADimension` (:mod:`.spectral`)
    Number of principal components needed to explain a fraction of the variance.
:class:`ParticipationRatio` (:mod:`.spectral`)
    ``(sum lambda)^2 / sum lambda^2`` of the covariance eigenvalues.

:data:`ID_ESTIMATORS` and :func:`estimate_id` (:mod:`.estimate`) name them.

Across scales
-------------
:class:`IDScale` and :func:`id_scale` (:mod:`.scale`) run Gride over ``n1 = 1, 2, 4, ...``
(``n2 = 2 n1``) off one neighbour search, with percentile-bootstrap intervals and the scale in
the data's units; they return an :class:`IDScaleResult`. The neighbour-based
estimators search exact neighbours over tiles of the distance matrix (:mod:`.neighbors`).

Duplicate points
----------------
Identical rows have a nearest-neighbour distance of zero, which makes ``mu`` and the
likelihood undefined. ReLU features hold many of them (every all-zero row is a duplicate of
every other). With ``drop_duplicates=True`` (the default) the neighbour-based estimators keep
only the first occurrence of each distinct row before searching neighbours (:mod:`.points`),
and report how many were dropped in ``n_duplicates_``. With ``drop_duplicates=False`` the
points whose nearest neighbour is at distance zero are left out of the estimate, as
scikit-dimension's TwoNN does (its MLE does not, and returns 0 or NaN on such data).
"""

from __future__ import annotations

from .estimate import ID_ESTIMATORS, estimate_id
from .gride import Gride
from .mle import MLE
from .scale import IDScale, IDScaleResult, id_scale
from .spectral import ParticipationRatio, PCADimension
from .twonn import TwoNN

__all__ = [
    "ID_ESTIMATORS",
    "MLE",
    "Gride",
    "IDScale",
    "IDScaleResult",
    "PCADimension",
    "ParticipationRatio",
    "TwoNN",
    "estimate_id",
    "id_scale",
]
