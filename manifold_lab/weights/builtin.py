"""The CIFAR-10 MobileNetV2 shipped inside the package (source ``"builtin"``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUILTIN_CHECKPOINT", "builtin_checkpoint"]

#: File name of the built-in checkpoint in ``manifold_lab/_data``.
BUILTIN_CHECKPOINT = "cifar10_mobilenetv2.pt"


def builtin_checkpoint() -> Path:
    """Path of the CIFAR-10 MobileNetV2 shipped in the package (``"builtin"``).

    Returns
    -------
    pathlib.Path
        The checkpoint file inside the installed package (``manifold_lab/_data``).

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
