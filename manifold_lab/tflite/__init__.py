"""Import TF-slim MobileNetV2 networks published as TensorFlow Lite files into PyTorch.

The paper's authors released their MobileNetV2 family (width multipliers 0.35 to 1.4, input
resolutions 96 to 224) through the TensorFlow model zoo, including as ``.tflite`` files, float
and quantisation-aware trained (uint8). :func:`load_tflite` reads such a file and returns a
:class:`~manifold_lab.mobilenet.MobileNetV2` carrying its weights, so the trained network can
be probed with the rest of this package.

The import runs in three steps, a module each: :mod:`~manifold_lab.tflite.flatbuffer` reads
the file into plain Python objects, :mod:`~manifold_lab.tflite.walker` follows the graph and
recognises the network's layers, :mod:`~manifold_lab.tflite.convert` builds the model and
checks it against the file. (The flatbuffer parser itself is the external ``tflite`` package.)
"""

from __future__ import annotations

from .convert import TFLiteInfo, load_tflite

__all__ = ["TFLiteInfo", "load_tflite"]
