"""manifold_lab: measure how ReLU destroys or preserves manifolds (MobileNetV2, Sec. 3.2).

The public namespace is flat::

    import manifold_lab as ml
    X, t = ml.make_spiral(1000)
    df = ml.sweep("spiral", widths="2:30", seeds=range(20), method="lstsq")
    ml.summarize(df)

Every name below lives in one submodule (the one whose own ``__all__`` lists it) and is
imported on first use (PEP 562), so ``import manifold_lab.train`` on a GPU machine with only
torch, torchvision and numpy does not pull in pandas, scipy or plotly.
"""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path
from typing import Any

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
    "Figure1Result",
    "Gride",
    "IDScale",
    "IDScaleResult",
    "InjectivityThreshold",
    "LedgerResult",
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
    "case_partition",
    "check_random_state",
    "cifar10_sample",
    "clipped_relu",
    "combine_sweeps",
    "curve_from_path",
    "estimate_id",
    "estimate_sweep_seconds",
    "evaluate",
    "find_blocks",
    "get_activation",
    "id_profile",
    "id_scale",
    "id_scale_profile",
    "keep_freed_memory",
    "layer_partition",
    "leaky_relu",
    "ledger",
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
    "plot_case",
    "plot_depth_curves",
    "plot_figure1",
    "plot_figure7",
    "plot_id_profile",
    "plot_id_scale",
    "plot_ledger_phase",
    "plot_partition",
    "plot_phase_diagram",
    "plot_width_curves",
    "preserved_fraction",
    "probe",
    "probe_report",
    "provenance",
    "random_embedding",
    "random_embeddings",
    "read_results",
    "rectification_loss",
    "register_activation",
    "register_manifold",
    "run_case",
    "run_figure1",
    "save_checkpoint",
    "save_figure",
    "stacked_preserved_fraction",
    "stacked_width_needed",
    "summarize",
    "sweep",
    "write_results",
]

_HERE = Path(__file__).resolve().parent


def _declared_names(path: Path) -> list[str]:
    """The names in a module's literal ``__all__``, read without importing the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                value = ast.literal_eval(node.value) if node.value is not None else []
                return [str(name) for name in value]
    return []


@functools.cache
def _homes() -> dict[str, str]:
    """Public name -> the submodule (or subpackage) whose ``__all__`` declares it."""
    homes: dict[str, str] = {}
    wanted = set(__all__)
    for path in sorted([*_HERE.glob("*.py"), *_HERE.glob("*/__init__.py")]):
        module = path.parent.name if path.name == "__init__.py" else path.stem
        if module == _HERE.name:
            continue
        for name in _declared_names(path):
            if name in wanted:
                if name in homes:
                    raise ImportError(
                        f"manifold_lab.{name} is declared by both {homes[name]} and {module}"
                    )
                homes[name] = module
    return homes


def __getattr__(name: str) -> Any:
    home = _homes().get(name)
    if home is not None:
        value = getattr(importlib.import_module(f".{home}", __name__), name)
        globals()[name] = value
        return value
    if (_HERE / f"{name}.py").exists() or (_HERE / name / "__init__.py").exists():
        return importlib.import_module(f".{name}", __name__)  # ``ml.weights.load_model``
    raise AttributeError(f"module 'manifold_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
