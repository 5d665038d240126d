"""Following a TFLite graph from its input and recognising a TF-slim MobileNetV2's layers.

Nothing is assumed from tensor names: :func:`walk_graph` starts at the graph's input tensor and
follows the operators in execution order, resolving which operator consumes which tensor, and
recognises

* the stem: ``CONV_2D`` 3x3, stride 2, fused ``RELU6``;
* 17 (or however many the file has) inverted residual blocks: an optional 1x1 ``CONV_2D``
  expansion with ``RELU6``, a ``DEPTHWISE_CONV_2D`` (depth multiplier 1) with ``RELU6``, a 1x1
  ``CONV_2D`` projection with no activation, and an optional ``ADD`` whose other input must be
  the block's input (the bottleneck shortcut);
* the final 1x1 ``CONV_2D`` with ``RELU6``, an ``AVERAGE_POOL_2D`` covering the whole feature
  map (or a ``MEAN`` over height and width), so that global average pooling is equivalent;
* the logits: a 1x1 ``CONV_2D`` or a ``FULLY_CONNECTED`` with bias, then any of ``RESHAPE``,
  ``SQUEEZE``, ``SOFTMAX`` up to the graph's output.

``PAD`` operators (explicit padding followed by a ``VALID`` convolution) become the layer's
explicit padding; ``SAME`` convolutions keep TensorFlow's input-size-dependent ``SAME`` padding
(asymmetric for stride 2: nothing on top/left, one row/column at the bottom/right).
``QUANTIZE``/``DEQUANTIZE`` operators on the activation path are identities for the float
model; ``DEQUANTIZE`` operators on constant weights (float16 files) are folded into the
weights. A separate ``RELU6`` operator after a convolution counts as a fused one. Anything else
raises ``ValueError`` saying what was found where; so does an operator that the walk did not
reach.

Weights and biases are dequantised with the file's own parameters: uint8/int8 values with a
per-tensor or per-channel (``quantized_dimension``) scale and zero point become
``scale * (q - zero_point)``; int32 biases carry their own scale in the file (normally input
scale x weight scale), which is used as it is; float32 and float16 tensors are taken as they
are. Layouts are converted: ``CONV_2D`` weights are OHWI (torch wants OIHW), depthwise weights
are 1HWC (torch wants (C, 1, H, W) with ``groups=C``), 1x1 logits convolutions become the
classifier's matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .flatbuffer import Graph, Operator, Tensor

__all__ = ["Block", "Conv", "TFSlimLayers", "walk_graph"]

_PASSTHROUGH = ("QUANTIZE", "DEQUANTIZE")
_TAIL = ("RESHAPE", "SQUEEZE", "SOFTMAX", "QUANTIZE", "DEQUANTIZE")


@dataclass
class Conv:
    """A convolution of the file: weights in torch's layout (float32), bias, geometry."""

    op: Operator
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
class Block:
    """An inverted residual block: optional expansion, depthwise, projection, shortcut."""

    expand: Conv | None
    depthwise: Conv
    project: Conv
    residual: bool


@dataclass
class TFSlimLayers:
    """The layers a walk recognised, in order, and how the file stored them."""

    stem: Conv
    blocks: list[Block]
    last: Conv
    fc_weight: np.ndarray  # (classes, channels), float32
    fc_bias: np.ndarray  # (classes,), float32
    softmax: bool  # whether the graph's output is the softmax of the logits
    explicit_padding_layers: int  # convolutions with a PAD before them (or VALID, kernel > 1)
    weight_kinds: list[str]  # how each conv/FC weight was stored, in order


def walk_graph(graph: Graph) -> TFSlimLayers:
    """Recognise the layers of a TF-slim MobileNetV2 in a TFLite graph (see the module).

    Parameters
    ----------
    graph : Graph
        From :func:`~manifold_lab.tflite.flatbuffer.read_graph`.

    Returns
    -------
    TFSlimLayers
        Stem, blocks, final convolution and logits, with dequantised weights.

    Raises
    ------
    ValueError
        The graph is not a MobileNetV2 (the message says what was found where).
    """
    return _Walker(graph).walk()


class _Walker:
    """Follows a graph once, marking the operators it consumed."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.visited: set[int] = set()
        self.explicit_layers = 0
        self.weight_kinds: list[str] = []  # how each conv/FC weight was stored, in order

    # -- helpers ----------------------------------------------------------------------------
    def fail(self, where: str, message: str) -> ValueError:
        return ValueError(
            f"{self.g.path} is not a TF-slim MobileNetV2 graph: at {where}, {message}"
        )

    def t(self, index: int) -> Tensor:
        return self.g.tensors[index]

    def next_op(self, x: int, what: str) -> Operator:
        """The first not yet visited operator (execution order) that consumes tensor ``x``."""
        for i in self.g.consumers.get(x, []):
            if i not in self.visited:
                return self.g.ops[i]
        raise self.fail(self.t(x).describe(), f"expected {what}, but nothing consumes it")

    def take(self, op: Operator) -> Operator:
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
        value, kind = self._dequantise(t, t.data, where)
        if value.size and not (
            np.isfinite(value).all() and np.abs(value).max() <= np.finfo(np.float32).max
        ):
            raise self.fail(where, f"{t.describe()} holds NaN or infinite values ({kind})")
        return value, kind

    def _dequantise(self, t: Tensor, data: np.ndarray, where: str) -> tuple[np.ndarray, str]:
        """``t``'s constant ``data`` as float64, and how it was stored."""
        if t.dtype in ("float32", "float16", "float64"):
            return data.astype(np.float64), t.dtype
        if t.scale is None or t.zero_point is None:
            raise self.fail(where, f"integer {t.describe()} has no quantisation parameters")
        scale, zp = t.scale, t.zero_point
        if not (np.isfinite(scale).all() and (scale > 0).all()):
            raise self.fail(
                where, f"{t.describe()} has a quantisation scale that is not a positive number"
            )
        limits = np.iinfo(data.dtype) if data.dtype.kind in "iu" else None
        if limits is not None and ((zp < limits.min).any() or (zp > limits.max).any()):
            raise self.fail(where, f"{t.describe()} has a zero point outside the {t.dtype} range")
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

    def activation(self, op: Operator, expected: str) -> int:
        """Output of ``op`` after its activation, which must be ``expected``."""
        out = op.outputs[0]
        act = op.options.get("activation", "NONE")
        if act == expected:
            return out
        if act == "NONE" and expected == "RELU6" and self.peek_kind(out) == "RELU6":
            return self.take(self.next_op(out, "RELU6")).outputs[0]
        raise self.fail(op.describe(), f"expected activation {expected}, found {act}")

    # -- layers -----------------------------------------------------------------------------
    def conv(self, x: int, kind: str, what: str) -> tuple[Conv, int]:
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
            Conv(
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

    def pad(self, op: Operator) -> tuple[int, int, int, int]:
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

    def block(self, x: int, index: int) -> tuple[Block, int]:
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
        return Block(expand, dw, proj, residual), x

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

    def walk(self) -> TFSlimLayers:
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
        blocks: list[Block] = []
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
        return TFSlimLayers(
            stem=stem,
            blocks=blocks,
            last=last,
            fc_weight=fc_w,
            fc_bias=fc_b,
            softmax=softmax,
            explicit_padding_layers=self.explicit_layers,
            weight_kinds=self.weight_kinds,
        )


def _same_padding(hw: tuple[int, ...], k: int, s: int) -> tuple[int, int, int, int]:
    pads = []
    for size in hw:
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return (left, right, top, bottom)
