"""State dicts: reading weights files safely and checking that they fit a network."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["check_finite", "check_state_dict", "safe_torch_load"]

_DIFFERENT_CONFIG = (
    "They were saved for a different MobileNetV2 configuration (width multiplier, classes, "
    "stem, variant)"
)


def check_state_dict(
    model: nn.Module,
    state_dict: dict[str, Any],
    *,
    what: str = "these weights",
    advice: str | None = None,
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
    advice : str, optional
        The message's last sentence: what to do about it. Default: that the weights were
        saved for a different MobileNetV2 configuration.
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
    advice = (advice or _DIFFERENT_CONFIG).rstrip(".")
    raise ValueError(f"{what} do not fit this architecture: " + "; ".join(parts) + f". {advice}.")


def check_finite(state_dict: dict[str, Any], *, what: str = "these weights", show: int = 5) -> None:
    """Raise ``ValueError`` naming the tensors that hold NaN or infinite values.

    A network with such weights outputs NaN (or inf) for every input: a diverged training run
    or a damaged file, never useful weights.

    Parameters
    ----------
    state_dict : dict
        Tensors by name (other entries are skipped).
    what : str, default="these weights"
        How to name the weights in the message (e.g. the file).
    show : int, default=5
        How many tensors the message names (it always gives the count).

    Examples
    --------
    >>> check_finite({"w": torch.ones(2)})
    >>> check_finite({"w": torch.tensor([1.0, float("nan")]), "b": torch.zeros(1)})
    Traceback (most recent call last):
    ...
    ValueError: these weights hold NaN or infinite values in 1 of 2 tensors: w (1 NaN); a network with them outputs NaN or inf. Pass allow_nonfinite=True to load_model or load_checkpoint to load them anyway.
    """  # noqa: E501
    bad: list[str] = []
    tensors = [v for v in state_dict.values() if isinstance(v, torch.Tensor)]
    for name, value in state_dict.items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            continue
        if bool(torch.isfinite(value).all()):
            continue
        if len(bad) < show:
            nan = int(torch.isnan(value).sum())
            inf = int(torch.isinf(value).sum())
            counts = [f"{nan:,} NaN" if nan else "", f"{inf:,} inf" if inf else ""]
            bad.append(f"{name} ({', '.join(c for c in counts if c)})")
        else:
            bad.append(name)
    if not bad:
        return
    listed = ", ".join(bad[:show]) + (f", ... ({len(bad)} in all)" if len(bad) > show else "")
    raise ValueError(
        f"{what} hold NaN or infinite values in {len(bad)} of {len(tensors)} tensors: {listed}; "
        "a network with them outputs NaN or inf. Pass allow_nonfinite=True to load_model or "
        "load_checkpoint to load them anyway."
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
            named = re.search(r"GLOBAL ([\w.]+)", str(exc))
            names = f" (it names {named.group(1)})" if named else ""
            raise ValueError(
                f"refusing to load {path}: it would run code when unpickled{names}, and a "
                "weights file holds only tensors in plain containers. If you trust whoever "
                "made it, read it with torch.load(weights_only=False) yourself."
            ) from None
        raise ValueError(
            f"could not read {path} as a torch checkpoint: the file is truncated, corrupt or "
            f"in another format ({type(exc).__name__}: {first}). Re-download or re-save it."
        ) from None
