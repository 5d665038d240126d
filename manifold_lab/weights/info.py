"""What a loaded model says about its weights (:class:`WeightsInfo`), and the defaults a
configuration implies for its label space, class names and preprocessing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..mobilenet import MobileNetV2Config
from ..preprocessing import CifarPreprocess, TorchvisionPreprocess

__all__ = ["WeightsInfo", "default_classes", "default_label_space", "default_preprocessing"]


@dataclass(frozen=True)
class WeightsInfo:
    """Where a model's weights came from and how to feed it.

    Parameters
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
    notes : str, default=""
        Caveats (e.g. batch norm folded, activations no longer quantised).
    meta : dict, default={}
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


def default_label_space(config: MobileNetV2Config) -> str | None:
    """The label space a configuration's number of outputs suggests.

    Parameters
    ----------
    config : MobileNetV2Config
        The architecture.

    Returns
    -------
    str or None
        ``"cifar10"`` for 10 outputs, ``"imagenet"`` for 1000 or 1001, otherwise None.
    """
    if config.num_classes == 10:
        return "cifar10"
    if config.num_classes in (1000, 1001):
        return "imagenet"
    return None


def default_preprocessing(config: MobileNetV2Config, label_space: str | None) -> Any:
    """CIFAR-10 preprocessing for a CIFAR stem or CIFAR-10 labels, torchvision's otherwise.

    Parameters
    ----------
    config : MobileNetV2Config
        The architecture.
    label_space : str or None
        The outputs' label space.

    Returns
    -------
    CifarPreprocess or TorchvisionPreprocess
    """
    if config.stem != "imagenet" or label_space == "cifar10":
        return CifarPreprocess()
    return TorchvisionPreprocess()


def default_classes(label_space: str | None, num_classes: int) -> tuple[str, ...] | None:
    """A name for every output of a model in a known label space, or None.

    Parameters
    ----------
    label_space : str or None
        ``"cifar10"`` or ``"imagenet"`` (other values give None).
    num_classes : int
        The model's outputs; 1001 ImageNet outputs start with ``"background"``.

    Returns
    -------
    tuple of str or None
    """
    if label_space == "cifar10" and num_classes == 10:
        from ..data import CIFAR10_CLASSES

        return tuple(CIFAR10_CLASSES)
    if label_space == "imagenet":
        from ..data import IMAGENET_NAMES

        names = IMAGENET_NAMES
        if num_classes == 1000:
            return names
        if num_classes == 1001:
            return ("background", *names)
    return None
