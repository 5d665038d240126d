"""Reconstruction methods and metrics: what a case of the experiment computes and reports.

Both are computed in :mod:`manifold_lab.core`; these entries tell interfaces how to name,
explain and draw them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._base import Entry, Registry

__all__ = [
    "ID_ESTIMATOR_LABELS",
    "METHOD_REGISTRY",
    "METRIC_REGISTRY",
    "MethodEntry",
    "MetricEntry",
]


@dataclass(frozen=True)
class MethodEntry(Entry):
    """A reconstruction method (how the input is read back from the layer's output).

    Parameters
    ----------
    name : str
        Canonical name (what results and URLs record).
    label : str
        Human-readable label for menus.
    description : str
        One or two sentences for tooltips, ``--help`` and the documentation.
    loader : str or object or None, default=None
        The implementation: ``"package.module:attribute"`` or the object itself.
    aliases : tuple of str, default=()
        Other names that resolve to this entry.
    needs_inverse : bool, default=False
        Uses the activation's exact inverse (unavailable for GELU and user callables).
    needs_span_width : bool
        Needs a width ``n`` at least the dimension ``k`` of the manifold's linear span
        (``T`` restricted to the span must have full column rank to be undone).
    """

    needs_inverse: bool = False
    needs_span_width: bool = False


@dataclass(frozen=True)
class MetricEntry(Entry):
    """A metric of one case.

    Parameters
    ----------
    name : str
        Canonical name (what results and URLs record).
    label : str
        Human-readable label for menus.
    description : str
        One or two sentences for tooltips, ``--help`` and the documentation.
    loader : str or object or None, default=None
        The implementation: ``"package.module:attribute"`` or the object itself.
    aliases : tuple of str, default=()
        Other names that resolve to this entry.
    fraction : bool, default=False
        A fraction in [0, 1] (shown as a percentage).
    log_scale : bool, default=False
        Best drawn on a log axis.
    higher_is_better : bool, default=False
        Larger values mean less information lost.
    neighbors : bool, default=False
        Computed from nearest neighbours (capped at ``max_neighbor_points`` points).
    axis_label : str, default=""
        Longer label for a figure's axis or panel title (default: ``label``).
    """

    fraction: bool = False
    log_scale: bool = False
    higher_is_better: bool = False
    neighbors: bool = False
    axis_label: str = ""

    def axis_text(self) -> str:
        """The label for a figure: ``axis_label``, else ``label``.

        Returns
        -------
        str
            The text for an axis or a panel title.
        """
        return self.axis_label or self.label


METHOD_REGISTRY: Registry[MethodEntry] = Registry(
    "reconstruction method",
    [
        MethodEntry(
            "pinv",
            "Pseudo-inverse (the paper's T^-1)",
            "x_hat = pinv(T) ReLU(T x): the paper's Figure 1 reconstruction.",
            needs_span_width=True,
        ),
        MethodEntry(
            "lstsq",
            "Best affine decoder",
            "The least-squares affine map from outputs back to inputs, fitted on the points: "
            "a lower bound on the error of any linear read-out.",
        ),
        MethodEntry(
            "lemma2",
            "Exact inverse (Lemma 2)",
            "Solve the informative rows exactly where Lemma 2 holds; least squares elsewhere.",
            needs_inverse=True,
        ),
    ],
)
"""Reconstruction methods by name."""

METRIC_REGISTRY: Registry[MetricEntry] = Registry(
    "metric",
    [
        MetricEntry(
            "nmse",
            "Normalised error",
            "Mean squared reconstruction error over the total variance of the input "
            "(0 is perfect, 1 is as bad as predicting the mean).",
            log_scale=True,
            axis_label="normalised error",
        ),
        MetricEntry(
            "invertible_fraction",
            "Invertible",
            "Fraction of points where the layer can be inverted exactly (Lemma 2: the "
            "informative rows restricted to the manifold's span have full rank).",
            fraction=True,
            higher_is_better=True,
            axis_label="invertible fraction (Lemma 2)",
        ),
        MetricEntry(
            "jacobian_min_sv",
            "Smallest Jacobian singular value",
            "Median over points of the local Jacobian's smallest singular value on the span, "
            "relative to the largest singular value of T U.",
            log_scale=True,
            higher_is_better=True,
            axis_label="Jacobian min. singular value",
        ),
        MetricEntry(
            "collapsed_fraction",
            "Collapsed",
            "Fraction of points whose output lies on top of a distinct input's output.",
            fraction=True,
            neighbors=True,
            axis_label="collapsed fraction",
        ),
        MetricEntry(
            "knn_recall",
            "kNN recall",
            "Fraction of input nearest neighbours that stay neighbours after the layer.",
            fraction=True,
            higher_is_better=True,
            neighbors=True,
            axis_label="kNN recall",
        ),
        MetricEntry(
            "n_patterns",
            "Activation patterns",
            "Distinct activation patterns (linear regions) the points fall in.",
            axis_label="activation patterns",
        ),
    ],
)
"""Metrics by name, in the column order of results."""

ID_ESTIMATOR_LABELS: dict[str, str] = {
    "twonn": "TwoNN",
    "mle": "MLE (Levina-Bickel, k=20)",
    "pca": "PCA (90% variance)",
    "pr": "participation ratio",
    "gride": "Gride (n1=1, n2=2)",
}
"""Legend and table labels of the intrinsic-dimension estimators of
:data:`manifold_lab.intrinsic_dimension.ID_ESTIMATORS`, by name, at their default parameters
(a test checks the keys and the defaults named here)."""
