"""Our checkpoint files: a MobileNetV2's weights saved with its configuration, and read back."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import torch

from ..fileio import atomic_write_bytes
from ..mobilenet import MobileNetV2, MobileNetV2Config
from .info import default_label_space
from .state_dicts import check_finite, check_state_dict, safe_torch_load

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "manifold_lab.mobilenet_v2"
CHECKPOINT_VERSION = 1


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
        meta.setdefault("label_space", default_label_space(model.config))
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
    path: str | os.PathLike[str],
    *,
    config: MobileNetV2Config | None = None,
    allow_nonfinite: bool = False,
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
    allow_nonfinite : bool, default=False
        Load weights holding NaN or infinite values (the model then outputs NaN); by default
        they are refused.

    Returns
    -------
    model : MobileNetV2
        In eval mode, on the CPU.
    payload : dict
        ``meta`` and ``extra`` of the checkpoint (empty for a bare state dict).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A file that would run code when unpickled (refused, never run); a corrupt or foreign
        file; weights that do not fit the architecture (naming the keys and shapes that
        differ, and what to pass); weights holding NaN or infinite values (naming the
        tensors), unless ``allow_nonfinite``.
    """
    path = Path(path)
    data = safe_torch_load(path)
    if isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT:
        version = data.get("format_version")
        if version != CHECKPOINT_VERSION:
            raise ValueError(
                f"{path} is a manifold_lab checkpoint of format version {version}; this version "
                f"of manifold_lab reads version {CHECKPOINT_VERSION}. Upgrade manifold_lab."
            )
        stored_config: Any = data.get("config")  # a dict in a sound file; checked by from_dict
        try:
            stored = MobileNetV2Config.from_dict(stored_config)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path} holds an invalid model configuration: {exc}") from None
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
    if data.get("format") != CHECKPOINT_FORMAT:
        advice = _bare_state_dict_advice(path, arch, state_dict, config_given=config is not None)
    elif config is not None and config != stored:
        differ = [
            f"{k}={v!r} (checkpoint: {stored.to_dict()[k]!r})"
            for k, v in config.to_dict().items()
            if stored.to_dict()[k] != v
        ]
        what += " (the requested config has " + ", ".join(differ) + ")"
        advice = "Load them without config= to use the configuration stored in the checkpoint"
    else:
        advice = (
            f"The configuration stored in {path} ({_config_call(stored)}) does not match its "
            "own weights: the file is inconsistent; save it again with save_checkpoint"
        )
    check_state_dict(model, state_dict, what=what, advice=advice)
    _check_meta(payload["meta"], path, arch.num_classes)
    if not allow_nonfinite:
        check_finite(state_dict, what=what)
    model.load_state_dict(state_dict)  # copies float16-stored tensors into float32 ones
    return model.eval(), payload


def _config_call(config: MobileNetV2Config) -> str:
    """``config`` as the shortest call that builds it: only the fields that differ from defaults.

    Examples
    --------
    >>> _config_call(MobileNetV2Config(num_classes=10, width_mult=0.5))
    'MobileNetV2Config(num_classes=10, width_mult=0.5)'
    """
    changed = [
        f"{f.name}={getattr(config, f.name)!r}"
        for f in dataclasses.fields(config)
        if getattr(config, f.name) != getattr(_DEFAULT_CONFIG, f.name)
    ]
    return f"MobileNetV2Config({', '.join(changed)})"


_DEFAULT_CONFIG = MobileNetV2Config()
#: Width multipliers tried when a bare state dict does not fit: the published MobileNetV2 ones.
_USUAL_WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)


def _fits(config: MobileNetV2Config, state_dict: dict[str, Any]) -> bool:
    expected = MobileNetV2(config).state_dict()
    return expected.keys() == state_dict.keys() and all(
        isinstance(state_dict[k], torch.Tensor) and state_dict[k].shape == v.shape
        for k, v in expected.items()
    )


def _bare_state_dict_advice(
    path: Path, arch: MobileNetV2Config, state_dict: dict[str, Any], *, config_given: bool
) -> str:
    """What to pass when a bare state dict (no stored configuration) does not fit ``arch``."""
    if config_given:
        start = (
            f"{path} is a bare state dict (no stored configuration) whose weights are not of "
            f"config={_config_call(arch)}"
        )
    else:
        start = (
            f"{path} is a bare state dict (no stored configuration), read as the default "
            f"{_config_call(arch)}"
        )
    for width in _USUAL_WIDTHS:
        guess = arch.replace(width_mult=width)
        if guess != arch and _fits(guess, state_dict):
            return (
                f"{start}, but its weights fit {_config_call(guess)}: pass that as config= "
                "(with the stem it was trained with: strides are not stored in the weights)"
            )

    def channels(sd: dict[str, Any]) -> str:
        stem, head = sd.get("features.0.0.weight"), sd.get("classifier.1.weight")
        stem_c = stem.shape[0] if isinstance(stem, torch.Tensor) and stem.ndim else "?"
        head_c = head.shape[1] if isinstance(head, torch.Tensor) and head.ndim == 2 else "?"
        return f"{stem_c} stem and {head_c} final channels"

    expected = MobileNetV2(arch).state_dict()
    return (
        f"{start}; its weights have {channels(state_dict)}, that architecture "
        f"{channels(expected)}: pass the config= they were built with"
    )


_META_TYPES: dict[str, tuple[type, ...]] = {
    "label_space": (str,),
    "classes": (list, tuple),
    "label_offset": (int,),
    "resolution": (int,),
    "notes": (str,),
}


def _check_meta(meta: Any, path: Path, num_classes: int) -> None:
    """Refuse a ``meta`` whose fields the loaders read are of the wrong type (a corrupt file)."""
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: the checkpoint's meta is a {type(meta).__name__}, not a dict")
    for key, kinds in _META_TYPES.items():
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise ValueError(
                f"{path}: the checkpoint's meta[{key!r}] is {value!r}; expected "
                + " or ".join(k.__name__ for k in kinds)
            )
    classes = meta.get("classes")
    if classes and (len(classes) != num_classes or not all(isinstance(c, str) for c in classes)):
        raise ValueError(
            f"{path}: the checkpoint's meta['classes'] should be {num_classes} names, got "
            f"{len(classes)} items"
        )
    resolution = meta.get("resolution")
    if resolution is not None and resolution < 1:
        raise ValueError(f"{path}: the checkpoint's meta['resolution'] is {resolution}")


def _infer_num_classes(config: MobileNetV2Config, state_dict: dict[str, Any]) -> MobileNetV2Config:
    weight = state_dict.get("classifier.1.weight")
    if isinstance(weight, torch.Tensor) and weight.ndim == 2:
        return config.replace(num_classes=int(weight.shape[0]))
    return config
