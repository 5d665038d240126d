"""Trained MobileNetV2 weights from one call: torchvision, TF-slim (TFLite) or our checkpoints.

:func:`load_model` takes a *source* string or a path and returns a :class:`MobileNetV2` in
eval mode whose ``weights_info`` (a :class:`WeightsInfo`) says where the weights came from,
which labels the outputs mean and which preprocessing the weights expect.

The source strings (``"builtin"``, ``"random-cifar"``, ``"random"``,
``"torchvision[:NAME]"``, ``"tflite:PATH"``, ``"checkpoint:PATH"`` or a file path) are the
entries of :data:`manifold_lab.registry.MODEL_SOURCE_REGISTRY`, parsed once by
:func:`~manifold_lab.registry.resolve_model_source`; each entry's loader is one of the
``*_source`` functions below. ``manifold-lab eval --help`` lists them.

Checkpoints are read with ``torch.load(..., weights_only=True)``: a file that would run code
when unpickled is refused with an explanation, never executed.

Examples
--------
>>> import tempfile, os
>>> from manifold_lab.mobilenet import MobileNetV2Config
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
import io
import os
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .fileio import atomic_path, atomic_write_bytes
from .mobilenet import MobileNetV2, MobileNetV2Config, mobilenet_v2
from .preprocessing import CifarPreprocess, TorchvisionPreprocess
from .registry import TORCHVISION_WEIGHTS, resolve_model_source

__all__ = [
    "CHECKPOINT_FORMAT",
    "TORCHVISION_WEIGHTS",
    "WeightsInfo",
    "WeightsUnavailableError",
    "builtin_source",
    "check_state_dict",
    "checkpoint_source",
    "load_checkpoint",
    "load_model",
    "random_cifar_source",
    "random_source",
    "save_checkpoint",
    "tflite_source",
    "torchvision_source",
]

CHECKPOINT_FORMAT = "manifold_lab.mobilenet_v2"
CHECKPOINT_VERSION = 1

#: Where torchvision's weights files are downloaded from.
TORCHVISION_URL = "https://download.pytorch.org/models/"
#: ``callback(bytes_done, bytes_total)`` for downloads (``bytes_total`` None when unknown).
ProgressCallback = Callable[[int, int | None], None]


class WeightsUnavailableError(RuntimeError):
    """Weights that must be downloaded could not be, and are not in the local cache."""


@dataclass(frozen=True)
class WeightsInfo:
    """Where a model's weights came from and how to feed it.

    Attributes
    ----------
    source : str
        ``"random"``, ``"torchvision"``, ``"tflite"`` or ``"checkpoint"``.
    name : str
        Weights name or file path.
    label_space : str or None
        ``"imagenet"``, ``"cifar10"`` or None (unknown labels).
    label_offset : int
        Output index = dataset label + ``label_offset`` (1 for TF-slim's 1001 outputs, whose
        index 0 is "background").
    classes : tuple of str or None
        A name for every output.
    preprocessing : callable
        Turns a PIL image or uint8 tensor (3, H, W) into the model's float input.
    resolution : int
        Input side the weights were trained at.
    notes : str
        Caveats (e.g. batch norm folded, activations no longer quantised).
    meta : dict
        Anything else the source recorded (accuracy, training settings, sha256...).
    """

    source: str
    name: str
    label_space: str | None
    label_offset: int
    classes: tuple[str, ...] | None
    preprocessing: Any
    resolution: int
    notes: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# state dicts


def check_state_dict(
    model: nn.Module, state_dict: dict[str, Any], *, what: str = "these weights"
) -> None:
    """Raise ``ValueError`` naming the keys and shapes that differ between model and weights.

    Parameters
    ----------
    model : nn.Module
        The network the weights are meant for.
    state_dict : dict
        Parameter and buffer tensors by name.
    what : str, default="these weights"
        How to name the weights in the message (e.g. the file).
    """
    if not isinstance(state_dict, dict):
        raise ValueError(f"{what} are not a state dict (got {type(state_dict).__name__})")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f"{k}: weights {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state_dict
        and isinstance(state_dict[k], torch.Tensor)
        and tuple(state_dict[k].shape) != tuple(expected[k].shape)
    ]
    not_tensors = [
        k for k in expected if k in state_dict and not isinstance(state_dict[k], torch.Tensor)
    ]
    if not (missing or unexpected or shapes or not_tensors):
        return

    def show(items: list[str]) -> str:
        head = ", ".join(items[:6])
        return head + (f", ... ({len(items)} in all)" if len(items) > 6 else "")

    parts = []
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches ({show(shapes)})")
    if missing:
        parts.append(f"{len(missing)} keys missing from the weights ({show(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys ({show(unexpected)})")
    if not_tensors:
        parts.append(f"{len(not_tensors)} entries that are not tensors ({show(not_tensors)})")
    raise ValueError(
        f"{what} do not fit this architecture: " + "; ".join(parts) + ". They were saved for a "
        "different MobileNetV2 configuration (width multiplier, classes, stem, variant); load "
        "them without config= to use the configuration stored in the checkpoint."
    )


def _safe_torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with errors that say what is wrong with the file."""
    if not path.exists():
        raise FileNotFoundError(f"no such weights file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; pass the checkpoint file inside it")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files; translate them all
        first = (str(exc).splitlines() or [""])[0][:200]
        if isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
            raise ValueError(
                f"refusing to load {path}: it contains Python objects other than tensors and "
                "plain containers, which could run arbitrary code when unpickled "
                f"(torch.load(weights_only=True) rejected it: {first}). Only load such a file "
                "with torch.load(weights_only=False) if you trust whoever made it, then pass "
                "its state dict to check_state_dict/load_state_dict."
            ) from None
        raise ValueError(
            f"could not read {path} as a torch checkpoint: the file is truncated, corrupt or "
            f"in another format ({type(exc).__name__}: {first}). Re-download or re-save it."
        ) from None


# --------------------------------------------------------------------------------------------
# checkpoints


def save_checkpoint(
    model: MobileNetV2,
    path: str | os.PathLike[str],
    *,
    meta: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    half: bool = False,
    max_bytes: int | None = None,
) -> Path:
    """Save a model's weights and configuration atomically (temporary file, then rename).

    Parameters
    ----------
    model : MobileNetV2
        The network; its ``config`` is stored so :func:`load_model` rebuilds it exactly.
    path : path-like
        Target file (conventionally ``*.pt``); its folder must exist.
    meta : dict, optional
        JSON-like facts stored with the weights (accuracy, epochs, label space, class names).
        ``label_space``, ``classes`` and ``weights_info`` are filled in from the model when
        absent.
    extra : dict, optional
        More tensors or plain values (e.g. an optimizer state dict for resuming training).
    half : bool, default=False
        Store floating-point tensors as float16 (half the size; :func:`load_checkpoint` loads
        them into the float32 model). ``meta["storage_dtype"]`` records it.
    max_bytes : int, optional
        Refuse (``ValueError``, nothing written) if the file would be larger.

    Returns
    -------
    Path
        The written file.
    """
    if not isinstance(model, MobileNetV2):
        raise TypeError(f"save_checkpoint expects a MobileNetV2, got {type(model).__name__}")
    meta = dict(meta or {})
    info = model.weights_info
    if info is not None:
        meta.setdefault("label_space", info.label_space)
        meta.setdefault("classes", list(info.classes) if info.classes else None)
        meta.setdefault("weights_source", f"{info.source}:{info.name}")
    else:
        meta.setdefault("label_space", _default_label_space(model.config))
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        meta["storage_dtype"] = "float16"
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": state,
        "meta": meta,
    }
    if extra:
        payload["extra"] = extra
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    if max_bytes is not None and buffer.tell() > max_bytes:
        hint = "" if half else "; half=True stores it in float16 at half the size"
        raise ValueError(
            f"the checkpoint would be {buffer.tell():,} bytes, over {max_bytes:,}{hint}"
        )
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(
    path: str | os.PathLike[str], *, config: MobileNetV2Config | None = None
) -> tuple[MobileNetV2, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_checkpoint` (or a bare state dict).

    Parameters
    ----------
    path : path-like
        The file.
    config : MobileNetV2Config, optional
        The architecture you expect. Default: the one stored in the checkpoint (a bare state
        dict goes into the default builder). If the weights do not fit it, the error lists
        which keys or shapes differ.

    Returns
    -------
    model : MobileNetV2
        In eval mode, on the CPU.
    payload : dict
        ``meta`` and ``extra`` of the checkpoint (empty for a bare state dict).
    """
    path = Path(path)
    data = _safe_torch_load(path)
    if isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT:
        version = data.get("format_version")
        if version != CHECKPOINT_VERSION:
            raise ValueError(
                f"{path} is a manifold_lab checkpoint of format version {version}; this version "
                f"of manifold_lab reads version {CHECKPOINT_VERSION}. Upgrade manifold_lab."
            )
        stored = MobileNetV2Config.from_dict(data["config"])
        state_dict = data.get("state_dict")
        payload = {"meta": data.get("meta") or {}, "extra": data.get("extra") or {}}
    elif isinstance(data, dict) and data and all(isinstance(k, str) for k in data):
        if "state_dict" in data and isinstance(data["state_dict"], dict):
            state_dict = data["state_dict"]  # a training script's {"state_dict": ...}
        else:
            state_dict = data
        stored = _infer_num_classes(MobileNetV2Config(), state_dict)
        payload = {"meta": {}, "extra": {}}
    else:
        raise ValueError(
            f"{path} holds a {type(data).__name__}, not a MobileNetV2 checkpoint or state dict"
        )
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path} has no state dict inside (found {type(state_dict).__name__})")
    arch = config or stored
    model = MobileNetV2(arch)
    what = f"the weights in {path}"
    if config is not None and config != stored and data.get("format") == CHECKPOINT_FORMAT:
        differ = [
            f"{k}={v!r} (checkpoint: {stored.to_dict()[k]!r})"
            for k, v in config.to_dict().items()
            if stored.to_dict()[k] != v
        ]
        what += " (the requested config has " + ", ".join(differ) + ")"
    check_state_dict(model, state_dict, what=what)
    model.load_state_dict(state_dict)  # copies float16-stored tensors into float32 ones
    return model.eval(), payload


def _infer_num_classes(config: MobileNetV2Config, state_dict: dict[str, Any]) -> MobileNetV2Config:
    weight = state_dict.get("classifier.1.weight")
    if isinstance(weight, torch.Tensor) and weight.ndim == 2:
        return config.replace(num_classes=int(weight.shape[0]))
    return config


# --------------------------------------------------------------------------------------------
# torchvision


def _hash_prefix(filename: str) -> str | None:
    """The SHA-256 prefix in torchvision's file names (``name-<prefix>.pth``), if any."""
    found = re.search(r"-([0-9a-f]{6,})\.", filename)
    return found.group(1) if found else None


def _download(url: str, dest: Path, callback: ProgressCallback, chunk: int = 1 << 20) -> None:
    """Download ``url`` to ``dest`` atomically, calling ``callback(bytes_done, bytes_total)``.

    When the file name carries a hash prefix (torchvision's ``name-<sha256 prefix>.pth``), the
    download's SHA-256 must start with it.
    """
    import urllib.request

    digest = hashlib.sha256()
    with atomic_path(dest, make_parents=True) as tmp:
        with tmp.open("wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
            done = 0
            callback(0, total)
            while block := response.read(chunk):
                out.write(block)
                digest.update(block)
                done += len(block)
                callback(done, total)
        prefix = _hash_prefix(dest.name)
        if prefix and not digest.hexdigest().startswith(prefix):
            raise ValueError(
                f"the file downloaded from {url} does not match the hash in its name "
                f"({prefix}); the download is corrupt, try again"
            )


def torchvision_weights_file(
    name: str = "IMAGENET1K_V2", *, progress: bool | ProgressCallback = True
) -> Path:
    """Path of torchvision's MobileNetV2 weights file in the hub cache, downloaded first when
    missing (hash-checked against the prefix in its name, written atomically).

    Parameters
    ----------
    name : {"IMAGENET1K_V1", "IMAGENET1K_V2"}
    progress : bool or callable, default=True
        True: a progress bar on the terminal while downloading; a callable is called as
        ``progress(bytes_done, bytes_total)`` instead (for user interfaces).

    Raises
    ------
    WeightsUnavailableError
        Offline and not cached: the message names the file and the folder to put it in.
    """
    if name not in TORCHVISION_WEIGHTS:
        raise ValueError(
            f"unknown torchvision weights {name!r}; choose from {sorted(TORCHVISION_WEIGHTS)}"
        )
    filename = TORCHVISION_WEIGHTS[name][0]
    url = TORCHVISION_URL + filename
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    cached = folder / filename
    if cached.exists():
        return cached
    try:
        if callable(progress):
            _download(url, cached, progress)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(
                url, str(cached), hash_prefix=_hash_prefix(filename), progress=progress
            )
    except Exception as exc:  # URLError, HTTPError, socket errors, hash mismatch...
        raise WeightsUnavailableError(
            f"torchvision weights {name} are not cached and could not be downloaded from {url} "
            f"({type(exc).__name__}: {exc}). On a machine without internet, copy {filename} "
            f"into {folder} (torch's hub cache; set TORCH_HOME to move it), or pass the file "
            f"itself: load_model('{cached}')."
        ) from None
    return cached


def torchvision_state_dict(
    name: str = "IMAGENET1K_V2", *, progress: bool | ProgressCallback = True
) -> dict:
    """torchvision's MobileNetV2 state dict from the hub cache, or downloaded into it
    (see :func:`torchvision_weights_file`)."""
    path = torchvision_weights_file(name, progress=progress)
    data = _safe_torch_load(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a state dict; delete it so it is downloaded again")
    return data


# --------------------------------------------------------------------------------------------
# the one entry point


def _default_label_space(config: MobileNetV2Config) -> str | None:
    if config.num_classes == 10:
        return "cifar10"
    if config.num_classes in (1000, 1001):
        return "imagenet"
    return None


def _default_preprocessing(config: MobileNetV2Config, label_space: str | None) -> Any:
    if config.stem != "imagenet" or label_space == "cifar10":
        return CifarPreprocess()
    return TorchvisionPreprocess()


def _classes_for(label_space: str | None, num_classes: int) -> tuple[str, ...] | None:
    if label_space == "cifar10" and num_classes == 10:
        from .data import CIFAR10_CLASSES

        return tuple(CIFAR10_CLASSES)
    if label_space == "imagenet":
        from .data import IMAGENET_NAMES

        names = IMAGENET_NAMES
        if num_classes == 1000:
            return names
        if num_classes == 1001:
            return ("background", *names)
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


BUILTIN_CHECKPOINT = "cifar10_mobilenetv2.pt"


def builtin_checkpoint() -> Path:
    """Path of the CIFAR-10 MobileNetV2 shipped in the package (``"builtin"``).

    Raises
    ------
    FileNotFoundError
        When this copy of the package has no built-in model.
    """
    from importlib import resources

    path = Path(str(resources.files("manifold_lab") / "_data" / BUILTIN_CHECKPOINT))
    if not path.exists():
        raise FileNotFoundError(
            f"this installation has no built-in model ({path}); train one with "
            "'manifold-lab train --preset cpu' and load its model.pt instead"
        )
    return path


def parse_source(weights: str | os.PathLike[str] | None) -> tuple[str, str]:
    """Split a weights source into (kind, argument); see :func:`load_model`.

    The source string is parsed by
    :func:`manifold_lab.registry.resolve_model_source`; ``kind`` is the registry entry's
    name, except that ``"builtin"`` reads as the checkpoint it is and ``"random-cifar"`` as
    ``"random"``.

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
    """Freshly initialised weights (source ``"random"``); ``seed`` makes them repeatable."""
    model = mobilenet_v2(config, seed=seed)
    space = _default_label_space(model.config)
    model.weights_info = WeightsInfo(
        source="random",
        name=f"seed={seed}",
        label_space=space,
        label_offset=0,
        classes=_classes_for(space, model.config.num_classes),
        preprocessing=_default_preprocessing(model.config, space),
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
    """
    base = config or MobileNetV2Config()
    cifar = base.replace(num_classes=10, stem="cifar")
    return random_source(config=cifar, seed=0 if seed is None else seed)


def torchvision_source(
    argument: str = "IMAGENET1K_V2",
    *,
    config: MobileNetV2Config | None = None,
    progress: bool | ProgressCallback = True,
    **_: Any,
) -> MobileNetV2:
    """torchvision's ImageNet weights (source ``"torchvision[:NAME]"``), from the hub cache."""
    name = argument or "IMAGENET1K_V2"
    if name not in TORCHVISION_WEIGHTS:
        raise ValueError(
            f"unknown torchvision weights {name!r}; choose from {sorted(TORCHVISION_WEIGHTS)}"
        )
    model = MobileNetV2(config)
    state_dict = torchvision_state_dict(name, progress=progress)
    check_state_dict(model, state_dict, what=f"torchvision's {name} weights")
    model.load_state_dict(state_dict)
    filename, resize, top1 = TORCHVISION_WEIGHTS[name]
    from .data import IMAGENET_NAMES

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


def tflite_source(argument: str, **_: Any) -> MobileNetV2:
    """A TF-slim MobileNetV2 ``.tflite`` file (source ``"tflite:PATH"``)."""
    from .tflite import load_tflite

    path = Path(argument)
    model, tinfo = load_tflite(path)
    space = "imagenet" if model.config.num_classes in (1000, 1001) else None
    model.weights_info = WeightsInfo(
        source="tflite",
        name=str(path),
        label_space=space,
        label_offset=1 if model.config.num_classes == 1001 else 0,
        classes=_classes_for(space, model.config.num_classes),
        preprocessing=tinfo.preprocessing(),
        resolution=tinfo.resolution,
        notes=tinfo.notes,
        meta={"sha256": tinfo.sha256, "quantized": tinfo.quantized},
    )
    return model


def checkpoint_source(
    argument: str, *, config: MobileNetV2Config | None = None, **_: Any
) -> MobileNetV2:
    """A :func:`save_checkpoint` file or a bare state dict (source ``"checkpoint:PATH"``)."""
    path = Path(argument)
    model, payload = load_checkpoint(path, config=config)
    meta = payload["meta"]
    space = meta.get("label_space", _default_label_space(model.config))
    classes = meta.get("classes") or _classes_for(space, model.config.num_classes)
    model.weights_info = WeightsInfo(
        source="checkpoint",
        name=str(path),
        label_space=space,
        label_offset=int(meta.get("label_offset", 0)),
        classes=tuple(classes) if classes else None,
        preprocessing=_default_preprocessing(model.config, space),
        resolution=int(meta.get("resolution", 32 if model.config.stem != "imagenet" else 224)),
        notes=str(meta.get("notes", "")),
        meta={**meta, "sha256": _sha256(path)},
    )
    return model


def builtin_source(
    argument: str = "", *, config: MobileNetV2Config | None = None, **_: Any
) -> MobileNetV2:
    """The CIFAR-10 MobileNetV2 shipped in the package (source ``"builtin"``)."""
    return checkpoint_source(str(builtin_checkpoint()), config=config)


def load_model(
    weights: str | os.PathLike[str] | None = None,
    *,
    config: MobileNetV2Config | None = None,
    device: Any = "cpu",
    progress: bool | ProgressCallback = True,
    seed: int | None = None,
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

    Returns
    -------
    MobileNetV2
        With ``weights_info`` set (a :class:`WeightsInfo`).
    """
    from ._validation import resolve_device

    dev = resolve_device(device)
    entry, argument = resolve_model_source(weights)
    model = entry.load()(argument, config=config, seed=seed, progress=progress)
    if not isinstance(getattr(model, "weights_info", None), WeightsInfo):
        raise ValueError(f"the loader of model source {entry.name!r} set no weights_info")
    return model.to(dev).eval()
