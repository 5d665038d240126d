"""State dicts: reading weights files safely and checking that they fit a network."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["check_state_dict", "safe_torch_load"]


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


def safe_torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with errors that say what is wrong with the file.

    Parameters
    ----------
    path : Path
        A torch file (checkpoint or state dict), loaded onto the CPU.

    Returns
    -------
    object
        What the file holds: tensors in plain containers.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A folder; a file holding Python objects that could run code when unpickled (refused,
        never executed); a truncated, corrupt or foreign file.
    """
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
