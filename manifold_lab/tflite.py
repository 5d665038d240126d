"""Import TF-slim MobileNetV2 networks published as TensorFlow Lite files into PyTorch.

The paper's authors released their MobileNetV2 family (width multipliers 0.35 to 1.4, input
resolutions 96 to 224) through the TensorFlow model zoo, including as ``.tflite`` files, float
and quantisation-aware trained (uint8). :func:`load_tflite` reads such a file and returns a
:class:`~manifold_lab.mobilenet.MobileNetV2` carrying its weights, so the trained network can
be probed with the rest of this package.

How the import works
--------------------
The file is parsed with the maintained ``tflite`` package (a pure-Python reader of the
flatbuffer schema). Nothing is assumed from tensor names: the importer starts at the graph's
input tensor and follows the operators in execution order, resolving which operator consumes
which tensor, and recognises

* the stem: ``CONV_2D`` 3x3, stride 2, fused ``RELU6``;
* 17 (or however many the file has) inverted residual blocks: an optional 1x1 ``CONV_2D``
  expansion with ``RELU6``, a ``DEPTHWISE_CONV_2D`` (depth multiplier 1) with ``RELU6``, a 1x1
  ``CONV_2D`` projection with no activation, and an optional ``ADD`` whose other input must be
  the block's input (the bottleneck shortcut);
* the final 1x1 ``CONV_2D`` with ``RELU6``, an ``AVERAGE_POOL_2D`` covering the whole feature
  map (or a ``MEAN`` over height and width), so that global average pooling is equivalent;
* the logits: a 1x1 ``CONV_2D`` or a ``FULLY_CONNECTED`` with bias, then any of ``RESHAPE``,
  ``SQUEEZE``, ``SOFTMAX`` up to the graph's output.

``PAD`` operators (explicit padding followed by a ``VALID`` convolution) become the
``explicit_padding`` of that :class:`~manifold_lab.mobilenet.Conv2dSame`; ``SAME``
convolutions keep TensorFlow's input-size-dependent ``SAME`` padding (asymmetric for stride 2:
nothing on top/left, one row/column at the bottom/right). ``QUANTIZE``/``DEQUANTIZE`` operators
on the activation path are identities for the float model; ``DEQUANTIZE`` operators on constant
weights (float16 files) are folded into the weights. A separate ``RELU6`` operator after a
convolution counts as a fused one. Anything else raises ``ValueError`` saying what was found
where; so does an operator that the walk did not reach.

Weights and biases are dequantised with the file's own parameters: uint8/int8 values with a
per-tensor or per-channel (``quantized_dimension``) scale and zero point become
``scale * (q - zero_point)``; int32 biases carry their own scale in the file (normally input
scale x weight scale), which is used as it is; float32 and float16 tensors are taken as they
are. Layouts are converted: ``CONV_2D`` weights are OHWI (torch wants OIHW), depthwise weights
are 1HWC (torch wants (C, 1, H, W) with ``groups=C``), 1x1 logits convolutions become the
``Linear`` classifier.

The architecture (stem and last channels, every block's input/hidden/output channels, strides,
expansion factors, where the residual ``ADD`` operators are, the number of classes and the
input resolution) is inferred from the tensor shapes and built with
``MobileNetV2Config(norm="folded", padding="tf_same", width_mult=1.0, round_nearest=1,
dropout=0.0, setting=...)``. The builder's blocks are then checked against the file (channels,
strides, and ``use_res_connect`` exactly where the file has an ``ADD``), the weights are loaded
with strict key and shape checking, and a shape-only forward pass (on PyTorch's ``meta`` device) at
the file's resolution checks that every convolution produces the spatial size the file records.

What the imported model is, honestly
------------------------------------
* Batch norm is folded into the convolutions (every convolution has a bias, the norm slots are
  ``nn.Identity``). There are no batch-norm running statistics: they do not exist in the file.
* Activations are *not* quantised in the imported model; only the weights were dequantised. A
  quantised file's interpreter rounds every activation to 8 bits, the imported model computes
  in float32, so their outputs differ slightly (see ``experiments/tflite_vs_litert.py``).
* Padding follows TensorFlow ``SAME`` (or the file's explicit ``PAD``), not PyTorch's symmetric
  padding.
* The model returns logits; the file's output is usually the ``SOFTMAX`` of them.
* For TF-slim ImageNet models there are 1001 outputs: index 0 is "background", output
  ``i + 1`` is ImageNet class ``i``.
* Inputs are TF-slim's: pixels scaled to [-1, 1] (for a quantised file, the uint8 input is
  ``x / scale + zero_point``); :meth:`TFLiteInfo.preprocessing` gives the matching
  :class:`~manifold_lab.preprocessing.TFSlimPreprocess`.

Bad files fail early with the file name in the message: ``FileNotFoundError`` for a missing
file; ``ValueError`` for a file without the ``TFL3`` identifier (an image, a text file, a
``.tgz`` from the model zoo that was not extracted), for a truncated or corrupt flatbuffer
(including a cut-off zip of associated files, e.g. labels, that TFLite metadata appends to the
model), and for a graph that is not a MobileNetV2 the builder can represent.

Examples
--------
>>> from manifold_lab.tflite import load_tflite
>>> model, info = load_tflite("mobilenet_v2_1.0_224_quant.tflite")  # doctest: +SKIP
>>> info.resolution, info.num_classes, info.weight_quantization  # doctest: +SKIP
(224, 1001, 'per-tensor uint8')
>>> x = info.preprocessing()(image)[None]  # doctest: +SKIP
>>> model(x).argmax(1) - 1  # ImageNet class index  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .mobilenet import Conv2dSame, MobileNetV2, MobileNetV2Config
from .preprocessing import TFSlimPreprocess

__all__ = ["TFLiteInfo", "load_tflite"]

_IDENTIFIER = b"TFL3"

_DTYPES: dict[int, str] = {
    0: "float32",
    1: "float16",
    2: "int32",
    3: "uint8",
    4: "int64",
    7: "int16",
    9: "int8",
    10: "float64",
}
_NUMPY: dict[str, Any] = {
    "float32": np.float32,
    "float16": np.float16,
    "int32": np.int32,
    "uint8": np.uint8,
    "int64": np.int64,
    "int16": np.int16,
    "int8": np.int8,
    "float64": np.float64,
}
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
_PADDINGS = {0: "SAME", 1: "VALID"}
_PASSTHROUGH = ("QUANTIZE", "DEQUANTIZE")
_TAIL = ("RESHAPE", "SQUEEZE", "SOFTMAX", "QUANTIZE", "DEQUANTIZE")


@dataclass(frozen=True)
class TFLiteInfo:
    """What :func:`load_tflite` found in a TFLite file.

    Attributes
    ----------
    path : str
        The file.
    sha256 : str
        SHA-256 of the file's bytes.
    resolution : int
        Input side (the graph's input is ``(1, resolution, resolution, 3)``).
    num_classes : int
        Outputs (1001 for TF-slim ImageNet models: index 0 is "background").
    quantized : bool
        Whether the file's activations are quantised (integer activation tensors), i.e. whether
        its interpreter computes in 8 bits.
    input_dtype : str
        The graph input's type, e.g. ``"uint8"`` or ``"float32"``.
    input_quantization : tuple of (float, int) or None
        ``(scale, zero_point)`` of an integer input, as in the file: real value =
        ``scale * (q - zero_point)`` (for TF-slim's uint8 files, ``(1/128, 128)``).
    weight_quantization : str
        How the convolution and classifier weights are stored: ``"per-tensor uint8"``,
        ``"per-channel int8"``, ``"float32"``, ``"float16"`` (several joined by ``" + "``).
    num_ops : int
        Operators in the graph.
    op_counts : tuple of (str, int)
        Operators by kind, in order of first appearance.
    explicit_padding_layers : int
        Convolutions preceded by a ``PAD`` operator (or ``VALID`` with a kernel larger than 1).
    output_softmax : bool
        Whether the file's output is a ``SOFTMAX`` (the imported model returns logits).
    config : MobileNetV2Config
        The architecture the graph describes.
    notes : str
        Caveats: what the imported model is and is not.
    """

    path: str
    sha256: str
    resolution: int
    num_classes: int
    quantized: bool
    input_dtype: str
    input_quantization: tuple[float, int] | None
    weight_quantization: str
    num_ops: int
    op_counts: tuple[tuple[str, int], ...]
    explicit_padding_layers: int
    output_softmax: bool
    config: MobileNetV2Config = field(repr=False)
    notes: str = field(repr=False, default="")

    def preprocessing(self) -> TFSlimPreprocess:
        """The TF-slim preprocessing for this file, quantised like its input when that is integer.

        Calling it gives the float tensor for the imported model; its ``quantize`` method gives
        the uint8 tensor for the interpreter. An int8 input ``q`` is the uint8 value ``q + 128``
        with zero point ``zero_point + 128`` (the same real values), so the recipe is expressed
        in uint8 and an interpreter needs ``u8 - 128`` as int8.
        """
        q = self.input_quantization
        if q is not None and self.input_dtype == "int8":
            q = (q[0], q[1] + 128)
        return TFSlimPreprocess(size=self.resolution, input_quantization=q)


# --------------------------------------------------------------------------------------------
# reading the flatbuffer into plain Python objects


@dataclass
class _Tensor:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: np.ndarray | None
    zero_point: np.ndarray | None
    axis: int
    data: np.ndarray | None  # constant data (typed, reshaped), None for activations

    def describe(self) -> str:
        return f"tensor {self.index} {self.name!r} ({self.dtype} {list(self.shape)})"


@dataclass
class _Op:
    index: int
    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any]

    def describe(self) -> str:
        return f"operator #{self.index} {self.kind}"


@dataclass
class _Graph:
    path: str
    tensors: list[_Tensor]
    ops: list[_Op]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    num_subgraphs: int
    data_end: int  # end of the last constant buffer in the file
    consumers: dict[int, list[int]] = field(default_factory=dict)
    producer: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for op in self.ops:
            for t in op.inputs:
                if t >= 0:
                    self.consumers.setdefault(t, []).append(op.index)
            for t in op.outputs:
                self.producer[t] = op.index


def _not_tflite(path: str, head: bytes) -> ValueError:
    hint = ""
    if head[:3] == b"\xff\xd8\xff":
        hint = " This looks like a JPEG image."
    elif head[:8] == b"\x89PNG\r\n\x1a\n":
        hint = " This looks like a PNG image."
    elif head[:2] == b"\x1f\x8b":
        hint = (
            " This looks like a gzip archive: the TF model zoo ships mobilenet_v2_*.tgz files;"
            " extract the .tflite file from it first."
        )
    elif head[:4] == b"PK\x03\x04":
        hint = " This looks like a zip archive; extract the .tflite file from it first."
    elif head[:1] in (b"{", b"<", b"#") or (
        head and all(32 <= b < 127 or b in b"\r\n\t" for b in head)
    ):
        hint = " It looks like a text file."
    found = head[4:8]
    return ValueError(
        f"{path} is not a TFLite model (expected a .tflite flatbuffer with the file identifier "
        f"'TFL3' at bytes 4-8, found {found!r}).{hint}"
    )


def _check_length(n: int, limit: int, what: str) -> int:
    if n < 0 or n > limit:
        raise ValueError(f"implausible {what} count {n}")
    return n


def _options(op: Any, kind: str) -> dict[str, Any]:
    import tflite

    table = op.BuiltinOptions()
    classes: dict[str, Any] = {
        "CONV_2D": tflite.Conv2DOptions,
        "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
        "ADD": tflite.AddOptions,
        "AVERAGE_POOL_2D": tflite.Pool2DOptions,
        "FULLY_CONNECTED": tflite.FullyConnectedOptions,
        "MEAN": tflite.ReducerOptions,
    }
    if kind not in classes:
        return {}
    if table is None:
        return {"missing": True}
    o = classes[kind]()
    o.Init(table.Bytes, table.Pos)
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        d = {
            "padding": _PADDINGS.get(o.Padding(), f"padding {o.Padding()}"),
            "stride": (o.StrideH(), o.StrideW()),
            "activation": _ACTIVATIONS.get(
                o.FusedActivationFunction(), str(o.FusedActivationFunction())
            ),
            "dilation": (o.DilationHFactor(), o.DilationWFactor()),
        }
        if kind == "DEPTHWISE_CONV_2D":
            d["depth_multiplier"] = o.DepthMultiplier()
        return d
    if kind == "AVERAGE_POOL_2D":
        return {
            "padding": _PADDINGS.get(o.Padding(), f"padding {o.Padding()}"),
            "stride": (o.StrideH(), o.StrideW()),
            "filter": (o.FilterHeight(), o.FilterWidth()),
            "activation": _ACTIVATIONS.get(
                o.FusedActivationFunction(), str(o.FusedActivationFunction())
            ),
        }
    if kind in ("ADD", "FULLY_CONNECTED"):
        d = {
            "activation": _ACTIVATIONS.get(
                o.FusedActivationFunction(), str(o.FusedActivationFunction())
            )
        }
        if kind == "FULLY_CONNECTED":
            d["weights_format"] = o.WeightsFormat()
        return d
    return {"keep_dims": bool(o.KeepDims())}  # MEAN


def _parse(path: str, raw: bytes) -> _Graph:
    """Read everything the importer needs; any parser failure means a corrupt file."""
    import tflite

    limit = len(raw)
    base = np.frombuffer(raw, dtype=np.uint8).ctypes.data
    data_end = 0
    model = tflite.Model.GetRootAsModel(raw, 0)
    n_sub = _check_length(model.SubgraphsLength(), limit, "subgraph")
    if n_sub < 1:
        raise ValueError("the model has no subgraph")
    sg = model.Subgraphs(0)
    codes: list[str] = []
    for i in range(_check_length(model.OperatorCodesLength(), limit, "operator code")):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if code == 32:  # CUSTOM
            custom = oc.CustomCode()
            codes.append(f"CUSTOM({custom.decode(errors='replace') if custom else '?'})")
        else:
            codes.append(tflite.BUILTIN_OPCODE2NAME.get(code, f"builtin {code}"))
    n_buffers = _check_length(model.BuffersLength(), limit, "buffer")
    tensors: list[_Tensor] = []
    for i in range(_check_length(sg.TensorsLength(), limit, "tensor")):
        t = sg.Tensors(i)
        dtype = _DTYPES.get(t.Type(), f"type {t.Type()}")
        shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        q = t.Quantization()
        scale = zero_point = None
        axis = 0
        if q is not None and q.ScaleLength():
            scale = np.array(q.ScaleAsNumpy(), dtype=np.float64)
            zero_point = (
                np.array(q.ZeroPointAsNumpy(), dtype=np.int64)
                if q.ZeroPointLength()
                else np.zeros(len(scale), dtype=np.int64)
            )
            axis = int(q.QuantizedDimension())
        data = None
        b = t.Buffer()
        if b < 0 or b >= max(n_buffers, 1):
            raise ValueError(f"tensor {i} refers to buffer {b} of {n_buffers}")
        if b > 0:
            buf = model.Buffers(b)
            offset, size = int(buf.Offset()), int(buf.Size())
            blob: bytes | np.ndarray | None = None
            if offset > 1:  # data stored after the flatbuffer (models over 2 GB)
                if offset + size > limit:
                    raise ValueError(f"buffer {b} lies beyond the end of the file")
                blob = raw[offset : offset + size]
                data_end = max(data_end, offset + size)
            elif buf.DataLength():
                view: np.ndarray = buf.DataAsNumpy()
                # where the data lies in the file (a view of ``raw``): the flatbuffer's extent
                data_end = max(data_end, view.ctypes.data - base + len(view))
                blob = view
            if blob is not None and len(blob):
                if dtype not in _NUMPY:
                    raise ValueError(f"constant tensor {i} has unsupported type {dtype}")
                arr = np.frombuffer(bytes(blob), dtype=_NUMPY[dtype])
                if arr.size != int(np.prod(shape, dtype=np.int64)):
                    raise ValueError(f"tensor {i} has {arr.size} values for shape {list(shape)}")
                data = arr.reshape(shape).copy()
        name = t.Name()
        tensors.append(
            _Tensor(
                index=i,
                name=name.decode(errors="replace") if name else "",
                dtype=dtype,
                shape=shape,
                scale=scale,
                zero_point=zero_point,
                axis=axis,
                data=data,
            )
        )
    ops: list[_Op] = []
    for i in range(_check_length(sg.OperatorsLength(), limit, "operator")):
        op = sg.Operators(i)
        ci = op.OpcodeIndex()
        if not 0 <= ci < len(codes):
            raise ValueError(f"operator {i} has opcode index {ci} of {len(codes)}")
        kind = codes[ci]
        ins = tuple(int(v) for v in op.InputsAsNumpy()) if op.InputsLength() else ()
        outs = tuple(int(v) for v in op.OutputsAsNumpy()) if op.OutputsLength() else ()
        for t_idx in ins + outs:
            if t_idx >= len(tensors) or t_idx < -1:
                raise ValueError(f"operator {i} refers to tensor {t_idx} of {len(tensors)}")
        ops.append(_Op(i, kind, ins, outs, _options(op, kind)))
    inputs = tuple(int(v) for v in sg.InputsAsNumpy()) if sg.InputsLength() else ()
    outputs = tuple(int(v) for v in sg.OutputsAsNumpy()) if sg.OutputsLength() else ()
    for t_idx in inputs + outputs:
        if not 0 <= t_idx < len(tensors):
            raise ValueError(f"graph input/output refers to tensor {t_idx} of {len(tensors)}")
    return _Graph(path, tensors, ops, inputs, outputs, n_sub, data_end)


def _read(path: str | os.PathLike[str]) -> tuple[_Graph, str]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"TFLite model file not found: {p}")
    if p.is_dir():
        raise ValueError(f"{p} is a directory, not a TFLite model (expected a .tflite file)")
    try:
        import tflite  # noqa: F401  (the parser; imported here so that its absence is not
        # mistaken for a corrupt file below)
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError(
            "reading .tflite files needs the tflite package: pip install tflite"
        ) from exc
    raw = p.read_bytes()
    if len(raw) < 8 or raw[4:8] != _IDENTIFIER:
        raise _not_tflite(str(p), raw[:64])
    digest = hashlib.sha256(raw).hexdigest()
    try:
        graph = _parse(str(p), raw)
    except Exception as exc:  # the flatbuffer reader raises anything on a bad file
        raise ValueError(
            f"{p} is a truncated or corrupt TFLite file ({len(raw)} bytes): the flatbuffer "
            f"could not be read ({type(exc).__name__}: {exc})"
        ) from None
    _check_appended_archive(p, raw, graph.data_end)
    return graph, digest


def _check_appended_archive(path: Path, raw: bytes, data_end: int) -> None:
    """TFLite files with metadata may carry a zip of associated files (labels) at the end.

    The model itself does not need it, but a file whose archive is cut short has been
    truncated, so it is refused rather than silently accepted.
    """
    at = raw.find(b"PK\x03\x04", data_end)
    if at < 0:
        return
    problem = None
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            bad = zf.testzip()
            if bad is not None:
                problem = f"member {bad!r} is damaged"
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
        problem = str(exc) or type(exc).__name__
    if problem:
        raise ValueError(
            f"{path} is a truncated or corrupt TFLite file ({len(raw)} bytes): the zip archive "
            f"of associated files (e.g. labels) appended after the model at byte {at} is "
            f"incomplete ({problem})"
        )


# --------------------------------------------------------------------------------------------
# following the graph


@dataclass
class _Conv:
    op: _Op
    weight: np.ndarray  # torch layout, float32
    bias: np.ndarray
    stride: int
    kernel: int
    in_channels: int
    out_channels: int
    explicit_padding: tuple[int, int, int, int] | None
    out_hw: tuple[int, int]
    weight_kind: str


@dataclass
class _Block:
    expand: _Conv | None
    depthwise: _Conv
    project: _Conv
    residual: bool


class _Walker:
    def __init__(self, graph: _Graph) -> None:
        self.g = graph
        self.visited: set[int] = set()
        self.explicit_layers = 0
        self.weight_kinds: list[str] = []  # how each conv/FC weight was stored, in order

    # -- helpers ----------------------------------------------------------------------------
    def fail(self, where: str, message: str) -> ValueError:
        return ValueError(
            f"{self.g.path} is not a TF-slim MobileNetV2 graph: at {where}, {message}"
        )

    def t(self, index: int) -> _Tensor:
        return self.g.tensors[index]

    def next_op(self, x: int, what: str) -> _Op:
        """The first not yet visited operator (execution order) that consumes tensor ``x``."""
        for i in self.g.consumers.get(x, []):
            if i not in self.visited:
                return self.g.ops[i]
        raise self.fail(self.t(x).describe(), f"expected {what}, but nothing consumes it")

    def take(self, op: _Op) -> _Op:
        self.visited.add(op.index)
        return op

    def peek_kind(self, x: int) -> str | None:
        for i in self.g.consumers.get(x, []):
            if i not in self.visited:
                return self.g.ops[i].kind
        return None

    def passthrough(self, x: int) -> int:
        """Skip QUANTIZE/DEQUANTIZE operators on the activation path."""
        while self.peek_kind(x) in _PASSTHROUGH:
            op = self.take(self.next_op(x, "an operator"))
            x = op.outputs[0]
        return x

    def integers(self, index: int, where: str) -> np.ndarray:
        """A constant integer tensor without quantisation (paddings, axes), as int64."""
        t = self.t(index)
        if t.data is None or t.dtype not in ("int32", "int64"):
            raise self.fail(where, f"{t.describe()} should be a constant int32 tensor")
        return t.data.astype(np.int64)

    def constant(self, index: int, where: str) -> tuple[np.ndarray, str]:
        """A constant tensor dequantised to float64, and how it was stored."""
        t = self.t(index)
        if t.data is None and index in self.g.producer:
            prod = self.g.ops[self.g.producer[index]]
            if (
                prod.kind == "DEQUANTIZE"
                and prod.inputs
                and self.t(prod.inputs[0]).data is not None
            ):
                self.visited.add(prod.index)
                value, kind = self.constant(prod.inputs[0], where)
                return value, kind
        if t.data is None:
            raise self.fail(where, f"{t.describe()} should be a constant but has no data")
        data = t.data
        if t.dtype in ("float32", "float16", "float64"):
            return data.astype(np.float64), t.dtype
        if t.scale is None or t.zero_point is None:
            raise self.fail(where, f"integer {t.describe()} has no quantisation parameters")
        scale, zp = t.scale, t.zero_point
        if len(scale) == 1:
            value = (data.astype(np.float64) - float(zp[0])) * float(scale[0])
            return value, f"per-tensor {t.dtype}"
        if not 0 <= t.axis < data.ndim or data.shape[t.axis] != len(scale):
            raise self.fail(
                where,
                f"{t.describe()} has {len(scale)} scales along dimension {t.axis}, which does "
                "not match its shape",
            )
        if len(zp) not in (1, len(scale)):
            raise self.fail(
                where, f"{t.describe()} has {len(zp)} zero points for {len(scale)} scales"
            )
        shape = [1] * data.ndim
        shape[t.axis] = len(scale)
        zpb = np.broadcast_to(zp.astype(np.float64), (len(scale),)).reshape(shape)
        value = (data.astype(np.float64) - zpb) * scale.reshape(shape)
        return value, f"per-channel {t.dtype}"

    def activation(self, op: _Op, expected: str) -> int:
        """Output of ``op`` after its activation, which must be ``expected``."""
        out = op.outputs[0]
        act = op.options.get("activation", "NONE")
        if act == expected:
            return out
        if act == "NONE" and expected == "RELU6" and self.peek_kind(out) == "RELU6":
            return self.take(self.next_op(out, "RELU6")).outputs[0]
        raise self.fail(op.describe(), f"expected activation {expected}, found {act}")

    # -- layers -----------------------------------------------------------------------------
    def conv(self, x: int, kind: str, what: str) -> tuple[_Conv, int]:
        """Read an optional PAD then a CONV_2D/DEPTHWISE_CONV_2D consuming ``x``."""
        pads = (0, 0, 0, 0)
        padded = False
        op = self.next_op(x, what)
        if op.kind in ("PAD", "PADV2"):
            pads = self.pad(op)
            padded = True
            x = op.outputs[0]
            op = self.next_op(x, what)
        if op.kind != kind:
            raise self.fail(op.describe(), f"expected {what} ({kind}), found {op.kind}")
        self.take(op)
        if op.options.get("missing"):
            raise self.fail(op.describe(), "the operator has no options")
        if len(op.inputs) < 2 or op.inputs[0] != x:
            raise self.fail(op.describe(), f"its data input is not {self.t(x).describe()}")
        xin = self.t(x)
        if len(xin.shape) != 4 or xin.shape[0] not in (1, -1):
            raise self.fail(op.describe(), f"expected an NHWC input, found {xin.describe()}")
        w, wkind = self.constant(op.inputs[1], op.describe())
        out_t = self.t(op.outputs[0])
        sh, sw = op.options["stride"]
        if sh != sw or sh not in (1, 2):
            raise self.fail(op.describe(), f"unsupported stride {(sh, sw)}")
        if tuple(op.options["dilation"]) != (1, 1):
            raise self.fail(op.describe(), f"unsupported dilation {op.options['dilation']}")
        cin = xin.shape[3]
        if kind == "CONV_2D":
            if w.ndim != 4 or w.shape[3] != cin:
                raise self.fail(
                    op.describe(), f"weights {list(w.shape)} do not fit an input of {cin} channels"
                )
            cout, kh, kw = w.shape[0], w.shape[1], w.shape[2]
            weight = w.transpose(0, 3, 1, 2)  # OHWI -> OIHW
        else:
            if w.ndim != 4 or w.shape[0] != 1:
                raise self.fail(op.describe(), f"unexpected depthwise weights {list(w.shape)}")
            kh, kw, cout = w.shape[1], w.shape[2], w.shape[3]
            dm = op.options.get("depth_multiplier") or (cout // cin if cin else 0)
            if dm != 1 or cout != cin:
                raise self.fail(
                    op.describe(),
                    f"depth multiplier {dm} ({cin} -> {cout} channels); MobileNetV2 uses 1",
                )
            weight = w[0].transpose(2, 0, 1)[:, None]  # 1HWC -> (C, 1, H, W)
        if kh != kw:
            raise self.fail(op.describe(), f"non-square kernel {kh}x{kw}")
        if len(op.inputs) < 3 or op.inputs[2] < 0:
            raise self.fail(op.describe(), "the convolution has no bias (batch norm not folded?)")
        bias, _ = self.constant(op.inputs[2], op.describe())
        if bias.shape != (cout,):
            raise self.fail(op.describe(), f"bias of shape {list(bias.shape)} for {cout} outputs")
        if len(out_t.shape) != 4 or out_t.shape[3] != cout:
            raise self.fail(op.describe(), f"unexpected output {out_t.describe()}")
        # padding as (left, right, top, bottom); SAME on top of an explicit PAD is added up
        explicit: tuple[int, int, int, int] | None = None
        if padded or (op.options["padding"] == "VALID" and kh > 1):
            extra = (0, 0, 0, 0)
            if op.options["padding"] == "SAME":
                extra = _same_padding(self.t(x).shape[1:3], kh, sh)
            elif op.options["padding"] != "VALID":
                raise self.fail(op.describe(), f"unsupported padding {op.options['padding']}")
            explicit = (
                pads[0] + extra[0],
                pads[1] + extra[1],
                pads[2] + extra[2],
                pads[3] + extra[3],
            )
            self.explicit_layers += 1
        elif op.options["padding"] not in ("SAME", "VALID"):
            raise self.fail(op.describe(), f"unsupported padding {op.options['padding']}")
        return (
            _Conv(
                op=op,
                weight=weight.astype(np.float32),
                bias=bias.astype(np.float32),
                stride=sh,
                kernel=kh,
                in_channels=cin,
                out_channels=cout,
                explicit_padding=explicit,
                out_hw=(out_t.shape[1], out_t.shape[2]),
                weight_kind=wkind,
            ),
            x,
        )

    def pad(self, op: _Op) -> tuple[int, int, int, int]:
        self.take(op)
        where = op.describe()
        if len(op.inputs) < 2:
            raise self.fail(where, "PAD without paddings")
        p = self.integers(op.inputs[1], where)
        if p.shape != (4, 2) or p[0].any() or p[3].any():
            raise self.fail(
                where, f"expected spatial paddings [[0,0],[t,b],[l,r],[0,0]], found {p.tolist()}"
            )
        if op.kind == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
            value, _ = self.constant(op.inputs[2], where)
            if np.abs(value).max() > 1e-6:
                raise self.fail(where, f"padding with value {value.ravel().tolist()}, not zero")
        top, bottom = int(p[1, 0]), int(p[1, 1])
        left, right = int(p[2, 0]), int(p[2, 1])
        return (left, right, top, bottom)

    def block(self, x: int, index: int) -> tuple[_Block, int]:
        block_in = x
        where = f"block {index}"
        expand = None
        op = self.next_op(x, f"{where}'s first convolution")
        if op.kind == "CONV_2D":
            expand, _ = self.conv(x, "CONV_2D", f"{where} expansion")
            if expand.kernel != 1 or expand.stride != 1:
                raise self.fail(expand.op.describe(), f"{where}: expansion must be 1x1, stride 1")
            x = self.passthrough(self.activation(expand.op, "RELU6"))
        dw, _ = self.conv(x, "DEPTHWISE_CONV_2D", f"{where} depthwise convolution")
        x = self.passthrough(self.activation(dw.op, "RELU6"))
        proj, _ = self.conv(x, "CONV_2D", f"{where} projection")
        if proj.kernel != 1 or proj.stride != 1:
            raise self.fail(proj.op.describe(), f"{where}: projection must be 1x1, stride 1")
        x = self.activation(proj.op, "NONE")
        x = self.passthrough(x)
        residual = False
        if self.peek_kind(x) == "ADD":
            add = self.take(self.next_op(x, "ADD"))
            others = [i for i in add.inputs if i != x]
            if len(add.inputs) != 2 or others != [block_in]:
                raise self.fail(
                    add.describe(),
                    f"{where}'s residual ADD adds {[self.t(i).describe() for i in others]}, "
                    f"not the block input {self.t(block_in).describe()}",
                )
            if add.options.get("activation", "NONE") != "NONE":
                raise self.fail(add.describe(), f"residual ADD with activation {add.options}")
            residual = True
            x = self.passthrough(add.outputs[0])
        return _Block(expand, dw, proj, residual), x

    def starts_block(self, x: int) -> bool:
        """Whether the convolution consuming ``x`` opens a block (rather than the final conv)."""
        op = self.next_op(x, "a convolution")
        if op.kind in ("PAD", "PADV2"):
            op = self.next_op(op.outputs[0], "a convolution")
        if op.kind == "DEPTHWISE_CONV_2D":
            return True
        if op.kind != "CONV_2D":
            raise self.fail(
                op.describe(), f"expected a block or the final 1x1 conv, found {op.kind}"
            )
        y = op.outputs[0]
        kinds = [self.g.ops[i].kind for i in self.g.consumers.get(y, [])]
        # the expansion's output may pass a RELU6/QUANTIZE/PAD before the depthwise conv
        for _ in range(4):
            if "DEPTHWISE_CONV_2D" in kinds:
                return True
            nxt = [
                self.g.ops[i]
                for i in self.g.consumers.get(y, [])
                if self.g.ops[i].kind in ("RELU6", "PAD", "PADV2", *_PASSTHROUGH)
            ]
            if not nxt:
                break
            y = nxt[0].outputs[0]
            kinds = [self.g.ops[i].kind for i in self.g.consumers.get(y, [])]
        return False

    def head(self, x: int) -> tuple[np.ndarray, np.ndarray, int, bool]:
        """Pooling, logits and the tail; returns (weight, bias, x, softmax)."""
        op = self.take(self.next_op(x, "global average pooling"))
        xt = self.t(x)
        if len(xt.shape) != 4:
            raise self.fail(op.describe(), f"expected a 4-D input, found {xt.describe()}")
        h, w = xt.shape[1], xt.shape[2]
        out = self.t(op.outputs[0])
        if op.kind == "AVERAGE_POOL_2D":
            if op.options.get("missing"):
                raise self.fail(op.describe(), "the pooling operator has no options")
            if tuple(op.options["filter"]) != (h, w) or tuple(out.shape[1:3]) != (1, 1):
                raise self.fail(
                    op.describe(),
                    f"the {op.options['filter']} pooling on a {h}x{w} map giving "
                    f"{out.describe()} is not a global average",
                )
            if op.options["activation"] != "NONE":
                raise self.fail(
                    op.describe(), f"pooling with activation {op.options['activation']}"
                )
        elif op.kind == "MEAN":
            axes = self.integers(op.inputs[1], op.describe())
            if sorted(int(a) % 4 for a in axes.ravel()) != [1, 2]:
                raise self.fail(
                    op.describe(), f"MEAN over axes {axes.ravel().tolist()}, not [1, 2]"
                )
        else:
            raise self.fail(op.describe(), f"expected AVERAGE_POOL_2D or MEAN, found {op.kind}")
        x = op.outputs[0]
        while self.peek_kind(x) in ("RESHAPE", "SQUEEZE", *_PASSTHROUGH):
            x = self.take(self.next_op(x, "the logits")).outputs[0]
        channels = xt.shape[3]
        op = self.next_op(x, "the logits layer")
        if op.kind == "CONV_2D":
            conv, _ = self.conv(x, "CONV_2D", "the logits layer")
            if conv.kernel != 1 or conv.in_channels != channels:
                raise self.fail(op.describe(), "the logits convolution must be 1x1")
            weight, bias = conv.weight[:, :, 0, 0], conv.bias
            self.weight_kinds.append(conv.weight_kind)
        elif op.kind == "FULLY_CONNECTED":
            self.take(op)
            fc_w, wkind = self.constant(op.inputs[1], op.describe())
            if fc_w.ndim != 2 or fc_w.shape[1] != channels:
                raise self.fail(op.describe(), f"weights {list(fc_w.shape)} for {channels} inputs")
            if len(op.inputs) < 3 or op.inputs[2] < 0:
                raise self.fail(op.describe(), "the logits layer has no bias")
            fc_b, _ = self.constant(op.inputs[2], op.describe())
            if op.options.get("weights_format", 0) != 0:
                raise self.fail(op.describe(), "shuffled FULLY_CONNECTED weights are not supported")
            weight, bias = fc_w.astype(np.float32), fc_b.astype(np.float32).ravel()
            self.weight_kinds.append(wkind)
        else:
            raise self.fail(
                op.describe(), f"expected the logits (CONV_2D or FULLY_CONNECTED), found {op.kind}"
            )
        if op.options.get("activation", "NONE") != "NONE":
            raise self.fail(op.describe(), f"logits with activation {op.options['activation']}")
        x = op.outputs[0]
        softmax = False
        while x not in self.g.outputs:
            nxt = self.next_op(x, "the graph output")
            if nxt.kind not in _TAIL:
                raise self.fail(nxt.describe(), f"unexpected {nxt.kind} after the logits")
            softmax = softmax or nxt.kind == "SOFTMAX"
            x = self.take(nxt).outputs[0]
        return weight, bias, x, softmax

    def walk(self) -> dict[str, Any]:
        g = self.g
        if len(g.inputs) != 1 or len(g.outputs) != 1:
            raise self.fail(
                "the graph",
                f"expected 1 input and 1 output, found {len(g.inputs)} and {len(g.outputs)}",
            )
        x_in = self.t(g.inputs[0])
        if len(x_in.shape) != 4 or x_in.shape[3] != 3 or x_in.shape[1] != x_in.shape[2]:
            raise self.fail("the graph input", f"expected (1, R, R, 3), found {x_in.describe()}")
        x = self.passthrough(g.inputs[0])
        stem, _ = self.conv(x, "CONV_2D", "the stem convolution")
        if stem.kernel != 3 or stem.stride != 2 or stem.in_channels != 3:
            raise self.fail(
                stem.op.describe(),
                f"expected a 3x3 stride-2 stem on 3 channels, found {stem.kernel}x{stem.kernel} "
                f"stride {stem.stride} on {stem.in_channels}",
            )
        self.weight_kinds.append(stem.weight_kind)
        x = self.passthrough(self.activation(stem.op, "RELU6"))
        blocks: list[_Block] = []
        while self.starts_block(x):
            blk, x = self.block(x, len(blocks) + 1)
            blocks.append(blk)
            for c in (blk.expand, blk.depthwise, blk.project):
                if c is not None:
                    self.weight_kinds.append(c.weight_kind)
        if not blocks:
            raise self.fail("the graph", "no inverted residual block found after the stem")
        last, _ = self.conv(x, "CONV_2D", "the final 1x1 convolution")
        if last.kernel != 1 or last.stride != 1:
            raise self.fail(last.op.describe(), "the final convolution must be 1x1, stride 1")
        self.weight_kinds.append(last.weight_kind)
        x = self.passthrough(self.activation(last.op, "RELU6"))
        fc_w, fc_b, _, softmax = self.head(x)
        left = [op for op in g.ops if op.index not in self.visited]
        if left:
            shown = ", ".join(op.describe() for op in left[:5])
            raise self.fail(
                "the graph",
                f"{len(left)} operator(s) are not on the recognised MobileNetV2 path: {shown}"
                + (" ..." if len(left) > 5 else ""),
            )
        return {
            "stem": stem,
            "blocks": blocks,
            "last": last,
            "fc_weight": fc_w,
            "fc_bias": fc_b,
            "softmax": softmax,
        }


def _same_padding(hw: tuple[int, ...], k: int, s: int) -> tuple[int, int, int, int]:
    pads = []
    for size in hw:
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return (left, right, top, bottom)


def _setting(blocks: list[_Block], path: str) -> tuple[tuple[int, int, int, int], ...]:
    rows: list[list[int]] = []
    for i, b in enumerate(blocks, start=1):
        cin = b.depthwise.in_channels if b.expand is None else b.expand.in_channels
        hidden = b.depthwise.in_channels
        if b.expand is None:
            t = 1
        else:
            if hidden % cin or hidden == cin:
                raise ValueError(
                    f"{path}: block {i} expands {cin} -> {hidden} channels, which is not an "
                    "integer expansion factor above 1; the MobileNetV2 builder cannot represent it"
                )
            t = hidden // cin
        c, s = b.project.out_channels, b.depthwise.stride
        if rows and s == 1 and rows[-1][0] == t and rows[-1][1] == c:
            rows[-1][2] += 1
        else:
            rows.append([t, c, 1, s])
    return tuple((r[0], r[1], r[2], r[3]) for r in rows)


def _notes(quantized: bool, weight_kind: str, softmax: bool, explicit: int, nc: int) -> str:
    parts = [
        "Batch norm is folded into the convolutions: every conv has a bias and the norm layers "
        "are nn.Identity; batch-norm running statistics do not exist for this model.",
        f"Weights were stored as {weight_kind} and dequantised to float32"
        + (
            "; activations are NOT quantised in the imported float model (the file's "
            "interpreter rounds every activation to 8 bits), so outputs differ slightly from "
            "the interpreter's."
            if quantized
            else "."
        ),
        "Padding follows TensorFlow SAME (asymmetric for stride 2)"
        + (f", with explicit PAD on {explicit} layer(s)." if explicit else "."),
        "Inputs are TF-slim's: pixels scaled to [-1, 1].",
    ]
    if softmax:
        parts.append("The model returns logits; the file's output is their softmax.")
    if nc == 1001:
        parts.append("1001 outputs: index 0 is 'background', output i + 1 is ImageNet class i.")
    return " ".join(parts)


def load_tflite(path: str | os.PathLike[str]) -> tuple[MobileNetV2, TFLiteInfo]:
    """Import a TF-slim MobileNetV2 ``.tflite`` file (float or quantised) as a PyTorch model.

    Parameters
    ----------
    path : str or path-like
        The ``.tflite`` file, e.g. ``mobilenet_v2_1.0_224_quant.tflite`` from the TF model zoo.

    Returns
    -------
    model : MobileNetV2
        In eval mode, ``norm="folded"``, ``padding="tf_same"``, weights dequantised to float32.
        It returns logits (``num_classes`` of them).
    info : TFLiteInfo
        What was found: resolution, classes, quantisation, operators, caveats.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is not a TFLite flatbuffer, is truncated or corrupt, or its graph is not a
        MobileNetV2 the builder can represent (the message says what was found where).
    """
    graph, digest = _read(path)
    walker = _Walker(graph)
    found = walker.walk()
    stem: _Conv = found["stem"]
    blocks: list[_Block] = found["blocks"]
    last: _Conv = found["last"]
    fc_w: np.ndarray = found["fc_weight"]
    fc_b: np.ndarray = found["fc_bias"]
    p = str(path)
    x_in = graph.tensors[graph.inputs[0]]
    resolution = int(x_in.shape[1])
    num_classes = int(fc_w.shape[0])
    if fc_b.shape != (num_classes,):
        raise ValueError(f"{p}: logits bias of shape {list(fc_b.shape)} for {num_classes} classes")
    setting = _setting(blocks, p)
    config = MobileNetV2Config(
        num_classes=num_classes,
        width_mult=1.0,
        round_nearest=1,
        dropout=0.0,
        first_channel=stem.out_channels,
        last_channel=last.out_channels,
        setting=setting,
        norm="folded",
        padding="tf_same",
    )
    # built on the meta device (no random initialisation to throw away), filled from the file
    with torch.device("meta"):
        model = MobileNetV2(config)
    _check_architecture(model, stem, blocks, last, p)
    state: dict[str, torch.Tensor] = {}
    convs: dict[str, _Conv] = {"features.0.0": stem}
    for name, blk in zip(model.block_names(), blocks, strict=True):
        if blk.expand is not None:
            convs[f"{name}.conv.0.0"] = blk.expand
            convs[f"{name}.conv.1.0"] = blk.depthwise
            convs[f"{name}.conv.2"] = blk.project
        else:
            convs[f"{name}.conv.0.0"] = blk.depthwise
            convs[f"{name}.conv.1"] = blk.project
    convs[f"features.{len(model.features) - 1}.0"] = last
    modules = dict(model.named_modules())
    for name, conv in convs.items():
        state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(conv.weight))
        state[f"{name}.bias"] = torch.from_numpy(np.ascontiguousarray(conv.bias))
        module = modules[name]
        if not isinstance(module, Conv2dSame):  # pragma: no cover - builder invariant
            raise ValueError(f"{p}: builder module {name} is {type(module).__name__}")
        module.explicit_padding = conv.explicit_padding
    state["classifier.1.weight"] = torch.from_numpy(np.ascontiguousarray(fc_w, dtype=np.float32))
    state["classifier.1.bias"] = torch.from_numpy(np.ascontiguousarray(fc_b, dtype=np.float32))
    _check_shapes(model, convs, resolution, p)
    model = model.to_empty(device="cpu")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{p}: the weights do not fit the inferred architecture: {exc}") from None
    model.eval()

    counts = Counter(op.kind for op in graph.ops)
    order = list(dict.fromkeys(op.kind for op in graph.ops))
    kinds = list(dict.fromkeys(walker.weight_kinds))
    weight_kind = " + ".join(kinds)
    activation_dtypes = {graph.tensors[c.op.outputs[0]].dtype for c in convs.values()}
    quantized = bool(activation_dtypes & {"uint8", "int8", "int16"})
    input_q = None
    if x_in.dtype in ("uint8", "int8") and x_in.scale is not None and x_in.zero_point is not None:
        input_q = (float(np.float32(x_in.scale[0])), int(x_in.zero_point[0]))
    info = TFLiteInfo(
        path=p,
        sha256=digest,
        resolution=resolution,
        num_classes=num_classes,
        quantized=quantized,
        input_dtype=x_in.dtype,
        input_quantization=input_q,
        weight_quantization=weight_kind,
        num_ops=len(graph.ops),
        op_counts=tuple((k, counts[k]) for k in order),
        explicit_padding_layers=walker.explicit_layers,
        output_softmax=bool(found["softmax"]),
        config=config,
        notes=_notes(
            quantized, weight_kind, bool(found["softmax"]), walker.explicit_layers, num_classes
        ),
    )
    return model, info


def _check_architecture(
    model: MobileNetV2, stem: _Conv, blocks: list[_Block], last: _Conv, path: str
) -> None:
    built = model.blocks()
    if len(built) != len(blocks):
        raise ValueError(
            f"{path}: the builder made {len(built)} blocks, the file has {len(blocks)}"
        )
    for i, (b, f) in enumerate(zip(built, blocks, strict=True), start=1):
        cin = f.depthwise.in_channels if f.expand is None else f.expand.in_channels
        want = {
            "in": cin,
            "hidden": f.depthwise.in_channels,
            "out": f.project.out_channels,
            "stride": f.depthwise.stride,
            "residual": f.residual,
            "expansion": f.expand is not None,
        }
        got = {
            "in": b.in_channels,
            "hidden": b.hidden_channels,
            "out": b.out_channels,
            "stride": b.stride,
            "residual": b.use_res_connect,
            "expansion": b.has_expansion,
        }
        if got != want:
            diff = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
            raise ValueError(
                f"{path}: block {i} of the file does not match the builder's "
                f"(field: (file, builder)) {diff}"
                + (
                    "; the builder puts a residual wherever stride is 1 and channels agree"
                    if "residual" in diff
                    else ""
                )
            )
        if f.depthwise.kernel != 3:
            raise ValueError(
                f"{path}: block {i} has a {f.depthwise.kernel}x{f.depthwise.kernel} "
                "depthwise kernel; the builder uses 3x3"
            )
    if model.last_channel != last.out_channels:
        raise ValueError(f"{path}: last channel {last.out_channels}, builder {model.last_channel}")
    first = dict(model.named_modules())["features.0.0"]
    if not isinstance(first, nn.Conv2d) or first.out_channels != stem.out_channels:
        raise ValueError(f"{path}: stem channels do not match the builder's")


def _check_shapes(model: MobileNetV2, convs: dict[str, _Conv], resolution: int, path: str) -> None:
    """Compare every conv's output size in PyTorch with the file's.

    ``model`` is still on the ``meta`` device: the forward pass computes shapes only.
    """
    modules = dict(model.named_modules())
    seen: dict[str, tuple[int, int]] = {}
    hooks = [
        modules[name].register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape[-2:]))
        )
        for name in convs
    ]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 3, resolution, resolution, device="meta"))
    finally:
        for h in hooks:
            h.remove()
    for name, conv in convs.items():
        if seen.get(name) != conv.out_hw:
            raise ValueError(
                f"{path}: {name} ({conv.op.describe()}) produces {seen.get(name)} in PyTorch but "
                f"{conv.out_hw} in the file; the padding was not reproduced"
            )
