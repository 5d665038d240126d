"""Reading a ``.tflite`` flatbuffer into plain Python objects: tensors, operators, the graph.

The file is parsed with the maintained ``tflite`` package (a pure-Python reader of the
flatbuffer schema); constant tensors come out typed and shaped, with their quantisation
parameters, and the graph records which operator produces and which consume each tensor.

Bad files fail early with the file name in the message: ``FileNotFoundError`` for a missing
file; ``ValueError`` for a file without the ``TFL3`` identifier (an image, a text file, a
``.tgz`` from the model zoo that was not extracted), and for a truncated or corrupt flatbuffer
(including a cut-off zip of associated files, e.g. labels, that TFLite metadata appends to the
model).
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Graph", "Operator", "Tensor", "read_graph"]

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


@dataclass
class Tensor:
    """A tensor of the graph; ``data`` holds a constant's values (typed, shaped)."""

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
class Operator:
    """An operator of the graph: its kind (e.g. ``"CONV_2D"``), tensors and options."""

    index: int
    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any]

    def describe(self) -> str:
        return f"operator #{self.index} {self.kind}"


@dataclass
class Graph:
    """The first subgraph of a file, with who produces and who consumes each tensor."""

    path: str
    tensors: list[Tensor]
    ops: list[Operator]
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


def _parse(path: str, raw: bytes) -> Graph:
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
    tensors: list[Tensor] = []
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
            Tensor(
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
    ops: list[Operator] = []
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
        if not outs or min(outs) < 0:
            raise ValueError(f"operator {i} ({kind}) has no output tensor")
        ops.append(Operator(i, kind, ins, outs, _options(op, kind)))
    inputs = tuple(int(v) for v in sg.InputsAsNumpy()) if sg.InputsLength() else ()
    outputs = tuple(int(v) for v in sg.OutputsAsNumpy()) if sg.OutputsLength() else ()
    for t_idx in inputs + outputs:
        if not 0 <= t_idx < len(tensors):
            raise ValueError(f"graph input/output refers to tensor {t_idx} of {len(tensors)}")
    return Graph(path, tensors, ops, inputs, outputs, n_sub, data_end)


def read_graph(path: str | os.PathLike[str]) -> tuple[Graph, str]:
    """Read a ``.tflite`` file's graph, and the SHA-256 of its bytes.

    Parameters
    ----------
    path : str or path-like
        The ``.tflite`` file.

    Returns
    -------
    graph : Graph
        Tensors (constants with their data), operators in execution order, inputs, outputs.
    sha256 : str
        Hex digest of the file.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        A folder, a file that is not a TFLite flatbuffer, or a truncated or corrupt one.
    """
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
