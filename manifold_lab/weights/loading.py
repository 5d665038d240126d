"""Model sources and the one entry point: :func:`load_model` and a loader per source.

:func:`load_model` takes a *source* string or a path and returns a :class:`MobileNetV2` in
eval mode whose ``weights_info`` (a :class:`~manifold_lab.weights.WeightsInfo`) says where the
weights came from, which labels the outputs mean and which preprocessing the weights expect.

The source strings (``"builtin"``, ``"random-cifar"``, ``"random"``,
``"torchvision[:NAME]"``, ``"tflite:PATH"``, ``"checkpoint:PATH"`` or a file path) are the
entries of :data:`manifold_lab.registry.MODEL_SOURCE_REGISTRY`, parsed once by
:func:`~manifold_lab.registry.resolve_model_source`; each entry's loader is one of the
``*_source`` functions below. ``manifold-lab eval --help`` lists them.

Checkpoints are read with ``torch.load(..., weights_only=True)``: a file that would run code
when unpickled is refused with an explanation, never executed. Weights holding NaN or
infinite values are refused too, naming the tensors (``allow_nonfinite=True`` loads them).

Examples
--------
>>> import tempfile, os
>>> from manifold_lab.mobilenet import MobileNetV2Config
>>> from manifold_lab.weights import save_checkpoint
>>> model = load_model("random", config=MobileNetV2Config(num_classes=10, stem="cifar"), seed=0)
>>> model.weights_info.source, model.weights_info.label_space
('random', 'cifar10')
>>> with tempfile.TemporaryDirectory() as d:
...     path = save_checkpoint(model, os.path.join(d, "net.pt"))
...     again = load_model(path)
>>> again.config == model.config
True
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ..mobilenet import MobileNetV2, MobileNetV2Config, mobilenet_v2
from ..preprocessing import TorchvisionPreprocess
from ..registry import TORCHVISION_WEIGHTS, resolve_model_source
from .builtin import builtin_checkpoint
from .checkpoints import load_checkpoint
from .info import WeightsInfo, default_classes, default_label_space, default_preprocessing
from .state_dicts import check_finite, check_state_dict
from .torchvision_hub import ProgressCallback, torchvision_state_dict

__all__ = [
    "builtin_source",
    "checkpoint_source",
    "load_model",
    "parse_source",
    "random_cifar_source",
    "random_source",
    "tflite_source",
    "torchvision_source",
]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_source(weights: str | os.PathLike[str] | None) -> tuple[str, str]:
    """Split a weights source into (kind, argument); see :func:`load_model`.

    The source string is parsed by
    :func:`manifold_lab.registry.resolve_model_source`; ``kind`` is the registry entry's
    name, except that ``"builtin"`` reads as the checkpoint it is and ``"random-cifar"`` as
    ``"random"``.

    Parameters
    ----------
    weights : str, path-like or None
        A weights source, as for :func:`load_model`; None means ``"random"``.

    Returns
    -------
    kind : str
        ``"random"``, ``"torchvision"``, ``"tflite"`` or ``"checkpoint"`` (or the name of a
        source a user registered).
    argument : str
        The path or weights name the source reads (``""`` when it needs none).

    Raises
    ------
    ValueError
        If no model source reads ``weights``.

    Examples
    --------
    >>> parse_source("torchvision:IMAGENET1K_V1")
    ('torchvision', 'IMAGENET1K_V1')
    >>> parse_source("models/mnv2_1.0_224_quant.tflite")
    ('tflite', 'models/mnv2_1.0_224_quant.tflite')
    """
    entry, argument = resolve_model_source(weights)
    if entry.name == "builtin":
        return "checkpoint", str(builtin_checkpoint())
    if entry.name == "random-cifar":
        return "random", ""
    return entry.name, argument


def random_source(
    argument: str = "",
    *,
    config: MobileNetV2Config | None = None,
    seed: int | None = None,
    **_: Any,
) -> MobileNetV2:
    """Freshly initialised weights (source ``"random"``); ``seed`` makes them repeatable.

    Parameters
    ----------
    argument : str, default=""
        Unused (the source takes no argument).
    config : MobileNetV2Config or None, default=None
        The architecture (default: Table 2, 1000 classes).
    seed : int or None, default=None
        Seed of the initial weights; None draws fresh ones.
    **_
        Options meant for other sources (``progress``, ``allow_nonfinite``...), ignored.

    Returns
    -------
    MobileNetV2
        The network with its :class:`WeightsInfo` (label space and preprocessing follow
        from the config's classes and stem).
    """
    model = mobilenet_v2(config, seed=seed)
    space = default_label_space(model.config)
    model.weights_info = WeightsInfo(
        source="random",
        name=f"seed={seed}",
        label_space=space,
        label_offset=0,
        classes=default_classes(space, model.config.num_classes),
        preprocessing=default_preprocessing(model.config, space),
        resolution=32 if model.config.stem != "imagenet" else 224,
        notes="untrained weights",
    )
    return model


def random_cifar_source(
    argument: str = "",
    *,
    config: MobileNetV2Config | None = None,
    seed: int | None = None,
    **_: Any,
) -> MobileNetV2:
    """A CIFAR-10 MobileNetV2 at initialisation (source ``"random-cifar"``; seed 0 by default).

    ``config`` may change other fields; the stem and the 10 classes stay CIFAR-10's.

    Parameters
    ----------
    argument : str, default=""
        Unused (the source takes no argument).
    config : MobileNetV2Config or None, default=None
        The architecture; its ``num_classes`` and ``stem`` are replaced by 10 and
        ``"cifar"``.
    seed : int or None, default=None
        Seed of the initial weights; None means 0.
    **_
        Options meant for other sources (``progress``, ``allow_nonfinite``...), ignored.

    Returns
    -------
    MobileNetV2
        The untrained CIFAR-10 network with its :class:`WeightsInfo`.
    """
    base = config or MobileNetV2Config()
    cifar = base.replace(num_classes=10, stem="cifar")
    return random_source(config=cifar, seed=0 if seed is None else seed)


def torchvision_source(
    argument: str = "IMAGENET1K_V2",
    *,
    config: MobileNetV2Config | None = None,
    progress: bool | ProgressCallback = True,
    allow_nonfinite: bool = False,
    **_: Any,
) -> MobileNetV2:
    """Load torchvision's ImageNet weights (source ``"torchvision[:NAME]"``), from the hub cache.

    Parameters
    ----------
    argument : {"IMAGENET1K_V1", "IMAGENET1K_V2"}, default="IMAGENET1K_V2"
        The weights name; ``""`` means ``"IMAGENET1K_V2"``.
    config : MobileNetV2Config or None, default=None
        The architecture the weights must fit; they fit only the default config.
    progress : bool or callable, default=True
        While downloading: a progress bar on the terminal, or a callable called as
        ``progress(bytes_done, bytes_total)``.
    allow_nonfinite : bool, default=False
        Load weights holding NaN or infinite values instead of raising ``ValueError``.
    **_
        Options meant for other sources (``seed``...), ignored.

    Returns
    -------
    MobileNetV2
        The network with ImageNet class names and torchvision's preprocessing in its
        :class:`WeightsInfo`.

    Raises
    ------
    ValueError
        For an unknown weights name, or weights that do not fit ``config``.
    """
    name = argument or "IMAGENET1K_V2"
    if name not in TORCHVISION_WEIGHTS:
        raise ValueError(
            f"unknown torchvision weights {name!r}; choose from {sorted(TORCHVISION_WEIGHTS)}"
        )
    model = MobileNetV2(config)
    state_dict = torchvision_state_dict(name, progress=progress)
    what = f"torchvision's {name} weights"
    advice = (
        "They are for the default MobileNetV2Config(): load them without config="
        if config is not None
        else None
    )
    check_state_dict(model, state_dict, what=what, advice=advice)
    if not allow_nonfinite:
        check_finite(state_dict, what=what)
    model.load_state_dict(state_dict)
    filename, resize, top1 = TORCHVISION_WEIGHTS[name]
    from ..data import IMAGENET_NAMES

    model.weights_info = WeightsInfo(
        source="torchvision",
        name=name,
        label_space="imagenet",
        label_offset=0,
        classes=IMAGENET_NAMES,
        preprocessing=TorchvisionPreprocess(resize_size=resize),
        resolution=224,
        notes=f"torchvision {filename}; ImageNet-1k val top-1 {top1}% (torchvision's figure)",
        meta={"file": filename, "imagenet_top1": top1},
    )
    return model


def tflite_source(argument: str, *, allow_nonfinite: bool = False, **_: Any) -> MobileNetV2:
    """A TF-slim MobileNetV2 ``.tflite`` file (source ``"tflite:PATH"``).

    Parameters
    ----------
    argument : str
        Path of the ``.tflite`` file; the architecture is read from its graph.
    allow_nonfinite : bool, default=False
        Load weights holding NaN or infinite values instead of raising ``ValueError``.
    **_
        Options meant for other sources (``seed``, ``progress``...), ignored.

    Returns
    -------
    MobileNetV2
        The imported network (batch norm folded, dequantised weights) with the file's
        preprocessing, resolution and label offset (1 for 1001 outputs) in its
        :class:`WeightsInfo`.
    """
    from ..tflite import load_tflite

    path = Path(argument)
    model, tinfo = load_tflite(path)
    if not allow_nonfinite:
        check_finite(model.state_dict(), what=f"the weights in {path}")
    space = "imagenet" if model.config.num_classes in (1000, 1001) else None
    model.weights_info = WeightsInfo(
        source="tflite",
        name=str(path),
        label_space=space,
        label_offset=1 if model.config.num_classes == 1001 else 0,
        classes=default_classes(space, model.config.num_classes),
        preprocessing=tinfo.preprocessing(),
        resolution=tinfo.resolution,
        notes=tinfo.notes,
        meta={"sha256": tinfo.sha256, "quantized": tinfo.quantized},
    )
    return model


def checkpoint_source(
    argument: str,
    *,
    config: MobileNetV2Config | None = None,
    allow_nonfinite: bool = False,
    **_: Any,
) -> MobileNetV2:
    """A :func:`save_checkpoint` file or a bare state dict (source ``"checkpoint:PATH"``).

    Parameters
    ----------
    argument : str
        Path of the ``.pt`` file.
    config : MobileNetV2Config or None, default=None
        The architecture the file must match (a mismatch raises ``ValueError``); None reads
        it from the checkpoint.
    allow_nonfinite : bool, default=False
        Load weights holding NaN or infinite values instead of raising ``ValueError``.
    **_
        Options meant for other sources (``seed``, ``progress``...), ignored.

    Returns
    -------
    MobileNetV2
        The network with the checkpoint's label space, classes and notes, and the file's
        sha256, in its :class:`WeightsInfo`.
    """
    path = Path(argument)
    model, payload = load_checkpoint(path, config=config, allow_nonfinite=allow_nonfinite)
    meta = payload["meta"]
    space = meta.get("label_space", default_label_space(model.config))
    classes = meta.get("classes") or default_classes(space, model.config.num_classes)
    model.weights_info = WeightsInfo(
        source="checkpoint",
        name=str(path),
        label_space=space,
        label_offset=int(meta.get("label_offset", 0)),
        classes=tuple(classes) if classes else None,
        preprocessing=default_preprocessing(model.config, space),
        resolution=int(meta.get("resolution", 32 if model.config.stem != "imagenet" else 224)),
        notes=str(meta.get("notes", "")),
        meta={**meta, "sha256": _sha256(path)},
    )
    return model


def builtin_source(
    argument: str = "",
    *,
    config: MobileNetV2Config | None = None,
    allow_nonfinite: bool = False,
    **_: Any,
) -> MobileNetV2:
    """The CIFAR-10 MobileNetV2 shipped in the package (source ``"builtin"``).

    Parameters
    ----------
    argument : str, default=""
        Unused (the source takes no argument).
    config : MobileNetV2Config or None, default=None
        The architecture the file must match (a mismatch raises ``ValueError``); None reads
        it from the checkpoint.
    allow_nonfinite : bool, default=False
        Load weights holding NaN or infinite values instead of raising ``ValueError``.
    **_
        Options meant for other sources (``seed``, ``progress``...), ignored.

    Returns
    -------
    MobileNetV2
        The trained network, as :func:`checkpoint_source` loads
        :func:`builtin_checkpoint`.
    """
    return checkpoint_source(
        str(builtin_checkpoint()), config=config, allow_nonfinite=allow_nonfinite
    )


def load_model(
    weights: str | os.PathLike[str] | None = None,
    *,
    config: MobileNetV2Config | None = None,
    device: Any = "cpu",
    progress: bool | ProgressCallback = True,
    seed: int | None = None,
    allow_nonfinite: bool = False,
) -> MobileNetV2:
    """Load a MobileNetV2 with trained (or random) weights, in eval mode.

    Parameters
    ----------
    weights : str or path-like or None, default=None
        Where the weights come from; see the module docstring. None means random weights.
    config : MobileNetV2Config, optional
        The architecture: required shape for random weights (default: Table 2, 1000 classes);
        for files, the architecture you expect (a mismatch raises ``ValueError`` listing the
        keys and shapes that differ). Ignored by ``tflite:``, whose architecture comes from
        the file's graph.
    device : str or torch.device, default="cpu"
        Where to put the model.
    progress : bool or callable, default=True
        Show a progress bar when downloading; a callable is called as
        ``progress(bytes_done, bytes_total)`` instead (the app's progress bar uses it).
    seed : int, optional
        Seed for random weights.
    allow_nonfinite : bool, default=False
        Load weights holding NaN or infinite values (the model then outputs NaN); by default
        they are refused with a ``ValueError`` naming the tensors.

    Returns
    -------
    MobileNetV2
        With ``weights_info`` set (a :class:`WeightsInfo`).
    """
    from .._validation import resolve_device

    dev = resolve_device(device)
    entry, argument = resolve_model_source(weights)
    model = entry.load()(
        argument, config=config, seed=seed, progress=progress, allow_nonfinite=allow_nonfinite
    )
    if not isinstance(getattr(model, "weights_info", None), WeightsInfo):
        raise ValueError(f"the loader of model source {entry.name!r} set no weights_info")
    return model.to(dev).eval()
