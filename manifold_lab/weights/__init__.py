"""Trained MobileNetV2 weights from one call: torchvision, TF-slim (TFLite) or our checkpoints.

:func:`load_model` (in :mod:`~manifold_lab.weights.loading`, with a loader per model source)
returns a :class:`~manifold_lab.mobilenet.MobileNetV2` whose ``weights_info`` (a
:class:`WeightsInfo`, :mod:`~manifold_lab.weights.info`) says where its weights came from.
State dicts are read and checked in :mod:`~manifold_lab.weights.state_dicts`, our checkpoint
files in :mod:`~manifold_lab.weights.checkpoints`, torchvision's files are found or downloaded
by :mod:`~manifold_lab.weights.torchvision_hub`, and the shipped CIFAR-10 model is located by
:mod:`~manifold_lab.weights.builtin`.
"""

from __future__ import annotations

from ..registry import TORCHVISION_WEIGHTS
from .builtin import BUILTIN_CHECKPOINT, builtin_checkpoint
from .checkpoints import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, load_checkpoint, save_checkpoint
from .info import WeightsInfo
from .loading import (
    builtin_source,
    checkpoint_source,
    load_model,
    parse_source,
    random_cifar_source,
    random_source,
    tflite_source,
    torchvision_source,
)
from .state_dicts import check_finite, check_state_dict
from .torchvision_hub import (
    TORCHVISION_URL,
    ProgressCallback,
    WeightsUnavailableError,
    torchvision_state_dict,
    torchvision_weights_file,
)

__all__ = [
    "BUILTIN_CHECKPOINT",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "TORCHVISION_URL",
    "TORCHVISION_WEIGHTS",
    "ProgressCallback",
    "WeightsInfo",
    "WeightsUnavailableError",
    "builtin_checkpoint",
    "builtin_source",
    "check_finite",
    "check_state_dict",
    "checkpoint_source",
    "load_checkpoint",
    "load_model",
    "parse_source",
    "random_cifar_source",
    "random_source",
    "save_checkpoint",
    "tflite_source",
    "torchvision_source",
    "torchvision_state_dict",
    "torchvision_weights_file",
]
