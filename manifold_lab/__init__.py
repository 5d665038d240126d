"""manifold_lab: measure how ReLU destroys or preserves manifolds (MobileNetV2, Sec. 3.2).

The public namespace is flat::

    import manifold_lab as ml
    X, t = ml.make_spiral(1000)
    df = ml.sweep("spiral", widths="2:30", seeds=range(20), method="lstsq")
    ml.summarize(df)
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# Public name -> submodule. Imports are lazy (PEP 562) so that ``import manifold_lab.train`` on a
# GPU machine with only torch, torchvision and numpy does not pull in pandas, scipy or plotly.
_EXPORTS: dict[str, str] = {
    "check_random_state": "._validation",
    "ACTIVATIONS": ".activations",
    "Activation": ".activations",
    "clipped_relu": ".activations",
    "get_activation": ".activations",
    "leaky_relu": ".activations",
    "METHODS": ".core",
    "METRICS": ".core",
    "CaseResult": ".core",
    "run_case": ".core",
    "EMBEDDINGS": ".embedding",
    "random_embedding": ".embedding",
    "random_embeddings": ".embedding",
    "MANIFOLDS": ".manifolds",
    "Manifold": ".manifolds",
    "make_ball": ".manifolds",
    "make_blob": ".manifolds",
    "make_circle": ".manifolds",
    "make_manifold": ".manifolds",
    "make_s_curve": ".manifolds",
    "make_sphere": ".manifolds",
    "make_spiral": ".manifolds",
    "make_subspace": ".manifolds",
    "make_swiss_roll": ".manifolds",
    "make_torus": ".manifolds",
    "manifold_from_points": ".manifolds",
    "provenance": ".records",
    "read_results": ".records",
    "write_results": ".records",
    "summarize": ".sweeps",
    "sweep": ".sweeps",
    "INJECTIVITY_THRESHOLDS": ".theory",
    "InjectivityThreshold": ".theory",
    "preserved_fraction": ".theory",
    "MobileNetV2": ".mobilenet",
    "MobileNetV2Config": ".mobilenet",
    "mobilenet_v2": ".mobilenet",
    "WeightsInfo": ".weights",
    "load_model": ".weights",
    "load_checkpoint": ".weights",
    "save_checkpoint": ".weights",
    "evaluate": ".evaluation",
    "cifar10_sample": ".data",
    "load_cifar10": ".data",
    "open_images": ".data",
    "load_tflite": ".tflite",
    "TwoNN": ".intrinsic_dimension",
    "MLE": ".intrinsic_dimension",
    "PCADimension": ".intrinsic_dimension",
    "ParticipationRatio": ".intrinsic_dimension",
    "ID_ESTIMATORS": ".intrinsic_dimension",
    "estimate_id": ".intrinsic_dimension",
    "rectification_loss": ".bottleneck",
    "analyse_bottlenecks": ".bottleneck",
    "linear_probe_accuracy": ".bottleneck",
    "ActivationProbe": ".probe",
    "ProbeResult": ".probe",
    "find_blocks": ".probe",
    "id_profile": ".probe",
    "plot_figure7": ".probe_plots",
    "plot_id_profile": ".probe_plots",
}


_SUBMODULES = frozenset(
    {
        "ablation",
        "activations",
        "bottleneck",
        "core",
        "data",
        "embedding",
        "evaluation",
        "injectivity",
        "intrinsic_dimension",
        "manifolds",
        "mobilenet",
        "plotting",
        "preprocessing",
        "probe_plots",
        "tflite",
        "theory",
        "toy",
        "train",
        "weights",
    }
)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if name in _SUBMODULES:  # ``ml.weights.load_model`` works without importing it first
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'manifold_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


# ``sweep`` and ``provenance`` are both a function and a submodule. Importing a
# submodule makes the import system set it as an attribute of the package, which would hide the
# function of the same name; keep the function (the submodule stays importable through
# ``sys.modules``).
_SHADOWED = frozenset({"sweep", "provenance"})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from ._validation import check_random_state
    from .activations import ACTIVATIONS, Activation, clipped_relu, get_activation, leaky_relu
    from .bottleneck import analyse_bottlenecks, linear_probe_accuracy, rectification_loss
    from .core import METHODS, METRICS, CaseResult, run_case
    from .data import cifar10_sample, load_cifar10, open_images
    from .embedding import EMBEDDINGS, random_embedding, random_embeddings
    from .evaluation import evaluate
    from .intrinsic_dimension import (
        ID_ESTIMATORS,
        MLE,
        ParticipationRatio,
        PCADimension,
        TwoNN,
        estimate_id,
    )
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
    from .mobilenet import MobileNetV2, MobileNetV2Config, mobilenet_v2
    from .probe import ActivationProbe, ProbeResult, find_blocks, id_profile
    from .probe_plots import plot_figure7, plot_id_profile
    from .records import provenance, read_results, write_results
    from .sweeps import summarize, sweep
    from .tflite import load_tflite
    from .theory import INJECTIVITY_THRESHOLDS, InjectivityThreshold, preserved_fraction
    from .weights import WeightsInfo, load_checkpoint, load_model, save_checkpoint

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "EMBEDDINGS",
    "ID_ESTIMATORS",
    "INJECTIVITY_THRESHOLDS",
    "MANIFOLDS",
    "METHODS",
    "METRICS",
    "MLE",
    "Activation",
    "ActivationProbe",
    "CaseResult",
    "InjectivityThreshold",
    "Manifold",
    "MobileNetV2",
    "MobileNetV2Config",
    "PCADimension",
    "ParticipationRatio",
    "ProbeResult",
    "TwoNN",
    "WeightsInfo",
    "__version__",
    "analyse_bottlenecks",
    "check_random_state",
    "cifar10_sample",
    "clipped_relu",
    "estimate_id",
    "evaluate",
    "find_blocks",
    "get_activation",
    "id_profile",
    "leaky_relu",
    "linear_probe_accuracy",
    "load_checkpoint",
    "load_cifar10",
    "load_model",
    "load_tflite",
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
    "mobilenet_v2",
    "open_images",
    "plot_figure7",
    "plot_id_profile",
    "preserved_fraction",
    "provenance",
    "random_embedding",
    "random_embeddings",
    "read_results",
    "rectification_loss",
    "run_case",
    "save_checkpoint",
    "summarize",
    "sweep",
    "write_results",
]
