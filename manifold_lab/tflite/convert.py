"""Building the PyTorch MobileNetV2 from a TFLite file (:func:`load_tflite`, :class:`TFLiteInfo`).

The architecture (stem and last channels, every block's input/hidden/output channels, strides,
expansion factors, where the residual ``ADD`` operators are, the number of classes and the
input resolution) is inferred from the layers that
:func:`~manifold_lab.tflite.walker.walk_graph` recognised and built with
``MobileNetV2Config(norm="folded", padding="tf_same", width_mult=1.0, round_nearest=1,
dropout=0.0, setting=...)``; a ``PAD`` before a convolution becomes the ``explicit_padding``
of that :class:`~manifold_lab.mobilenet.Conv2dSame`. The builder's blocks are then checked
against the file (channels, strides, and ``use_res_connect`` exactly where the file has an
``ADD``), the weights are loaded with strict key and shape checking, and a shape-only forward
pass (on PyTorch's ``meta`` device) at the file's resolution checks that every convolution
produces the spatial size the file records.

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

A graph that is not a MobileNetV2 the builder can represent raises ``ValueError``.

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

import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..mobilenet import Conv2dSame, MobileNetV2, MobileNetV2Config
from ..preprocessing import TFSlimPreprocess
from .flatbuffer import read_graph
from .walker import Block, Conv, walk_graph

__all__ = ["TFLiteInfo", "load_tflite"]


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


def _setting(blocks: list[Block], path: str) -> tuple[tuple[int, int, int, int], ...]:
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
    graph, digest = read_graph(path)
    found = walk_graph(graph)
    stem, blocks, last = found.stem, found.blocks, found.last
    fc_w, fc_b = found.fc_weight, found.fc_bias
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
    convs: dict[str, Conv] = {"features.0.0": stem}
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
    kinds = list(dict.fromkeys(found.weight_kinds))
    weight_kind = " + ".join(kinds)
    activation_dtypes = {graph.tensors[c.op.outputs[0]].dtype for c in convs.values()}
    quantized = bool(activation_dtypes & {"uint8", "int8", "int16"})
    input_q = None
    if x_in.dtype in ("uint8", "int8") and x_in.scale is not None and x_in.zero_point is not None:
        input_q = (float(np.float32(x_in.scale[0])), int(x_in.zero_point[0]))
        if not (np.isfinite(input_q[0]) and input_q[0] > 0):
            raise ValueError(f"{p}: the input's quantisation scale {input_q[0]} is not positive")
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
        explicit_padding_layers=found.explicit_padding_layers,
        output_softmax=found.softmax,
        config=config,
        notes=_notes(
            quantized, weight_kind, found.softmax, found.explicit_padding_layers, num_classes
        ),
    )
    return model, info


def _check_architecture(
    model: MobileNetV2, stem: Conv, blocks: list[Block], last: Conv, path: str
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


def _check_shapes(model: MobileNetV2, convs: dict[str, Conv], resolution: int, path: str) -> None:
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
