"""manifold_lab: measure how ReLU destroys or preserves manifolds (MobileNetV2, Sec. 3.2).

The public namespace is flat::

    import manifold_lab as ml
    X, t = ml.make_spiral(1000)
    df = ml.sweep("spiral", widths="2:30", seeds=range(20), method="lstsq")
    ml.summarize(df)
"""

from __future__ import annotations

from ._validation import check_random_state
from .activations import ACTIVATIONS, Activation, clipped_relu, get_activation, leaky_relu
from .core import METHODS, METRICS, CaseResult, run_case
from .embedding import EMBEDDINGS, random_embedding, random_embeddings
from .manifolds import (
    MANIFOLDS,
    Manifold,
    make_ball,
    make_blob,
    make_circle,
    make_manifold,
    make_s_curve,
    make_sphere,
    make_spiral,
    make_subspace,
    make_swiss_roll,
    make_torus,
    manifold_from_points,
)
from .provenance import provenance, read_results, write_results
from .sweep import summarize, sweep
from .theory import INJECTIVITY_THRESHOLDS, InjectivityThreshold, preserved_fraction

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "EMBEDDINGS",
    "INJECTIVITY_THRESHOLDS",
    "MANIFOLDS",
    "METHODS",
    "METRICS",
    "Activation",
    "CaseResult",
    "InjectivityThreshold",
    "Manifold",
    "__version__",
    "check_random_state",
    "clipped_relu",
    "get_activation",
    "leaky_relu",
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
    "preserved_fraction",
    "provenance",
    "random_embedding",
    "random_embeddings",
    "read_results",
    "run_case",
    "summarize",
    "sweep",
    "write_results",
]
