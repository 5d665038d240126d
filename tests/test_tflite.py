"""The TFLite importer against the official LiteRT interpreter, and its error messages.

Besides the published quantised file, the tests rewrite it (with the flatbuffer object API that
ships with ``ai-edge-litert``) into the other forms the TF model zoo uses: float32, float16
weights behind ``DEQUANTIZE`` operators, per-channel int8 weights, explicit ``PAD`` + ``VALID``
convolutions, and a ``MEAN`` + ``FULLY_CONNECTED`` head; and into graphs that are *not* a
MobileNetV2 the builder can represent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from manifold_lab.mobilenet import Conv2dSame
from manifold_lab.tflite import TFLiteInfo, load_tflite
from tests.conftest import SHARED_DATA

MODEL = SHARED_DATA / "mobilenet_v2_1.0_224_quant.tflite"
IMAGES = SHARED_DATA / "imagenet-samples-256"

needs_model = pytest.mark.skipif(
    not MODEL.exists(), reason=f"shared data not found: {MODEL} (present in CI)"
)
needs_images = pytest.mark.skipif(
    not (MODEL.exists() and IMAGES.exists()),
    reason=f"shared data not found: {MODEL} and {IMAGES} (present in CI)",
)


@pytest.fixture(scope="module")
def imported() -> tuple[nn.Module, TFLiteInfo]:
    if not MODEL.exists():
        pytest.skip(f"shared data not found: {MODEL} (present in CI)")
    return load_tflite(MODEL)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread: on a busy shared 2-core machine two threads are much slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------
# helpers: images, the interpreter, rewriting the file


def _sample(limit: int | None = None, step: int = 1) -> tuple[list[Path], np.ndarray]:
    files = sorted(p for p in IMAGES.iterdir() if p.suffix == ".JPEG")
    wnids = sorted({p.name.split("_")[0] for p in files})
    index = {w: i for i, w in enumerate(wnids)}
    files = files[::step][:limit]
    return files, np.array([index[p.name.split("_")[0]] for p in files])


def _inputs(files: Any, info: TFLiteInfo, quantized: bool = True) -> torch.Tensor:
    from PIL import Image

    pre = info.preprocessing()
    out = []
    for p in files:
        with Image.open(p) as img:
            rgb = img.convert("RGB")
        out.append(pre.quantize(rgb) if quantized else pre(rgb))
    return torch.stack(out)


def _litert(model: bytes | Path, x: torch.Tensor) -> np.ndarray:
    """The interpreter's (dequantised) outputs for a batch (N, 3, H, W), one image at a time."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, Path):
        interp = Interpreter(model_path=str(model), num_threads=1)
    else:
        interp = Interpreter(model_content=model, num_threads=1)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    scale, zero_point = out["quantization"]
    rows = []
    for img in x.permute(0, 2, 3, 1).contiguous().numpy():
        interp.set_tensor(inp["index"], img[None].astype(inp["dtype"]))
        interp.invoke()
        y = interp.get_tensor(out["index"]).reshape(-1).astype(np.float64)
        rows.append((y - zero_point) * scale if out["dtype"] != np.float32 else y)
    return np.stack(rows)


def _torch_probs(
    model: nn.Module, x: torch.Tensor, info: TFLiteInfo, batch: int = 25
) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            xb = x[i : i + batch]
            if info.input_quantization is not None and xb.dtype == torch.uint8:
                scale, zero_point = info.input_quantization
                xb = (xb.float() - zero_point) * scale
            out.append(torch.softmax(model(xb).double(), 1).numpy())
    return np.concatenate(out)


class _Rewrite:
    """Edit a .tflite file with the object API of ai-edge-litert's flatbuffer schema."""

    def __init__(self, raw: bytes) -> None:
        self.S = pytest.importorskip("ai_edge_litert.schema_py_generated")
        self.m = self.S.ModelT.InitFromPackedBuf(bytearray(raw), 0)
        self.sg = self.m.subgraphs[0]

    def pack(self) -> bytes:
        import flatbuffers

        b = flatbuffers.Builder(1024)
        b.Finish(self.m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    def code(self, op: Any) -> int:
        oc = self.m.operatorCodes[op.opcodeIndex]
        return max(oc.builtinCode, oc.deprecatedBuiltinCode)

    def opcode(self, code: int) -> int:
        for i, oc in enumerate(self.m.operatorCodes):
            if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code:
                return i
        oc = self.S.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
        self.m.operatorCodes.append(oc)
        return len(self.m.operatorCodes) - 1

    def ops(self, code: int) -> list[Any]:
        return [op for op in self.sg.operators if self.code(op) == code]

    def buffer(self, arr: np.ndarray | None) -> int:
        buf = self.S.BufferT()
        if arr is not None:
            buf.data = np.frombuffer(np.ascontiguousarray(arr).tobytes(), dtype=np.uint8)
        self.m.buffers.append(buf)
        return len(self.m.buffers) - 1

    def tensor(self, shape: list[int], ttype: int, arr: np.ndarray | None = None) -> int:
        t = self.S.TensorT()
        t.shape = np.array(shape, dtype=np.int32)
        t.type = ttype
        t.buffer = self.buffer(arr) if arr is not None else 0
        t.name = f"added_{len(self.sg.tensors)}".encode()
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def data(self, t_idx: int) -> np.ndarray | None:
        t = self.sg.tensors[t_idx]
        buf = self.m.buffers[t.buffer]
        if buf.data is None or len(buf.data) == 0:
            return None
        dtype = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 9: np.int8}[t.type]
        return np.frombuffer(bytes(np.asarray(buf.data, dtype=np.uint8)), dtype=dtype).reshape(
            t.shape
        )

    def to_float(self) -> _Rewrite:
        """Dequantise every quantised tensor: a float32 model with the same weights."""
        for t_idx, t in enumerate(self.sg.tensors):
            q = t.quantization
            if q is None or q.scale is None or len(q.scale) == 0:
                continue
            arr = self.data(t_idx)
            if arr is not None:
                scale = np.asarray(q.scale, dtype=np.float64)
                zp = np.asarray(q.zeroPoint if q.zeroPoint is not None else [0], dtype=np.float64)
                shape = [1] * arr.ndim
                if len(scale) > 1:
                    shape[q.quantizedDimension] = len(scale)
                real = (arr.astype(np.float64) - zp.reshape(shape)) * scale.reshape(shape)
                t.buffer = self.buffer(real.astype(np.float32))
            t.type, t.quantization = 0, None
        return self

    def weight_tensors(self) -> list[tuple[Any, int, int]]:
        """(op, weight tensor, output-channel axis) of every conv and FC (float model)."""
        found = []
        for op in self.sg.operators:
            c = self.code(op)
            if c in (3, 4, 9):
                found.append((op, op.inputs[1], 3 if c == 4 else 0))
        return found


def _quant_raw() -> bytes:
    return MODEL.read_bytes()


def _float_file() -> bytes:
    return _Rewrite(_quant_raw()).to_float().pack()


def _write(tmp_path: Path, name: str, raw: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


# --------------------------------------------------------------------------------------------
# (1) structure


@needs_model
def test_import_structure(imported: tuple[nn.Module, TFLiteInfo]) -> None:
    model, info = imported
    assert not model.training
    blocks = model.blocks()
    assert len(blocks) == 17
    reference = torchvision.models.mobilenet_v2()
    ref_blocks = [m for m in reference.features if hasattr(m, "use_res_connect")]
    assert [b.use_res_connect for b in blocks] == [b.use_res_connect for b in ref_blocks]
    assert [b.stride for b in blocks] == [b.stride for b in ref_blocks]
    assert [b.out_channels for b in blocks] == [b.out_channels for b in ref_blocks]
    assert model.config.num_classes == 1001 and info.num_classes == 1001
    assert model.classifier[1].out_features == 1001 and model.last_channel == 1280
    # same parameter names as torchvision's (except the norms, which are folded away)
    ours = {k for k, _ in model.named_parameters()}
    theirs = {k for k, _ in reference.named_parameters() if "features" in k or "classifier" in k}
    convs = {k for k in theirs if k.endswith(".weight") and f"{k[:-7]}.bias" not in theirs}
    assert convs <= ours
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert not norms
    convs_m = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs_m) == 52 and all(isinstance(m, Conv2dSame) for m in convs_m)
    assert all(m.bias is not None for m in convs_m)
    assert all(m.explicit_padding is None for m in convs_m)  # the file uses SAME, no PAD
    assert isinstance(model.features[1].conv[2], nn.Identity)  # t=1 block's norm slot
    assert isinstance(model.features[2].conv[0][1], nn.Identity)
    assert isinstance(model.features[2].conv[3], nn.Identity)
    assert sum(p.numel() for p in model.parameters()) == 3_489_097  # 3.47M + folded biases
    # the info
    assert info.resolution == 224 and info.quantized and info.input_dtype == "uint8"
    assert info.input_quantization == (0.0078125, 128)
    assert info.weight_quantization == "per-tensor uint8"
    assert info.num_ops == 66 and dict(info.op_counts)["ADD"] == 10
    assert info.output_softmax and info.explicit_padding_layers == 0
    assert len(info.sha256) == 64
    assert "folded" in info.notes and "Identity" in info.notes and "SAME" in info.notes
    assert "not quantised" in info.notes.lower() or "NOT quantised" in info.notes
    assert info.preprocessing().size == 224
    assert info.preprocessing().input_quantization == (0.0078125, 128)
    as_int8 = dataclasses.replace(info, input_dtype="int8", input_quantization=(0.0078125, 0))
    assert as_int8.preprocessing().input_quantization == (0.0078125, 128)
    with pytest.raises(AttributeError):
        info.resolution = 3  # type: ignore[misc]


@needs_model
def test_weights_are_the_dequantised_file_values(imported: tuple[nn.Module, TFLiteInfo]) -> None:
    model, _ = imported
    rw = _Rewrite(_quant_raw())
    conv = rw.sg.operators[0]  # the stem
    w = rw.sg.tensors[conv.inputs[1]]
    q = rw.data(conv.inputs[1]).astype(np.float64)
    expect = (q - w.quantization.zeroPoint[0]) * w.quantization.scale[0]
    got = model.features[0][0].weight.detach().numpy()
    np.testing.assert_allclose(got, expect.transpose(0, 3, 1, 2), rtol=1e-6, atol=1e-7)
    b = rw.sg.tensors[conv.inputs[2]]
    bias = rw.data(conv.inputs[2]).astype(np.float64) * b.quantization.scale[0]
    np.testing.assert_allclose(model.features[0][0].bias.detach().numpy(), bias, rtol=1e-6)
    dw = rw.sg.operators[1]  # block 1 depthwise, 1x3x3x32 -> 32x1x3x3
    t = rw.sg.tensors[dw.inputs[1]]
    q = (
        rw.data(dw.inputs[1]).astype(np.float64) - t.quantization.zeroPoint[0]
    ) * t.quantization.scale[0]
    got = model.features[1].conv[0][0].weight.detach().numpy()
    np.testing.assert_allclose(got[5, 0], q[0, :, :, 5], rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------------------
# (2) a few images against the interpreter


@needs_images
def test_a_few_images_agree_with_litert(imported: tuple[nn.Module, TFLiteInfo]) -> None:
    pytest.importorskip("ai_edge_litert")
    model, info = imported
    files, _ = _sample(limit=8)
    x = _inputs(files, info)
    p_lite = _litert(MODEL, x)
    p_ours = _torch_probs(model, x, info)
    assert (p_lite.argmax(1) == p_ours.argmax(1)).all()
    # the interpreter's probabilities are 8-bit (steps of 1/256) and its activations too
    assert np.abs(p_lite - p_ours).max() < 0.08
    assert np.abs(p_lite - p_ours).mean() < 2e-4
    top = p_lite.argmax(1)
    assert np.abs(p_lite[np.arange(8), top] - p_ours[np.arange(8), top]).max() < 0.08


@needs_images
def test_float_rewrite_matches_litert_exactly(tmp_path: Path, one_thread: None) -> None:
    """Same weights in float32 on both sides: the import itself is exact (no 8-bit noise)."""
    pytest.importorskip("ai_edge_litert")
    raw = _float_file()
    model, info = load_tflite(_write(tmp_path, "float.tflite", raw))
    assert not info.quantized and info.input_dtype == "float32"
    assert info.input_quantization is None and info.weight_quantization == "float32"
    files, _ = _sample(limit=3, step=333)
    x = _inputs(files, info, quantized=False)
    np.testing.assert_allclose(_torch_probs(model, x, info), _litert(raw, x), atol=2e-5)


# --------------------------------------------------------------------------------------------
# the rest of the family: float16 + DEQUANTIZE, per-channel int8, PAD + VALID, MEAN + FC head


def _float16_file() -> bytes:
    rw = _Rewrite(_float_file())
    dequant = rw.opcode(6)
    new_ops = []
    for op, w_idx, _ in rw.weight_tensors():
        for t_idx in (w_idx, op.inputs[2]):
            arr = rw.data(t_idx)
            t = rw.sg.tensors[t_idx]
            half = rw.tensor(list(t.shape), 1, arr.astype(np.float16))
            t.buffer = 0
            deq = rw.S.OperatorT()
            deq.opcodeIndex, deq.inputs, deq.outputs = dequant, [half], [t_idx]
            new_ops.append(deq)
    rw.sg.operators = new_ops + rw.sg.operators
    return rw.pack()


@needs_images
def test_float16_weights_behind_dequantize(tmp_path: Path, one_thread: None) -> None:
    pytest.importorskip("ai_edge_litert")
    raw = _float16_file()
    model, info = load_tflite(_write(tmp_path, "f16.tflite", raw))
    assert info.weight_quantization == "float16"
    assert dict(info.op_counts)["DEQUANTIZE"] == 106
    files, _ = _sample(limit=2, step=500)
    x = _inputs(files, info, quantized=False)
    np.testing.assert_allclose(_torch_probs(model, x, info), _litert(raw, x), atol=2e-5)


def test_per_channel_int8_weights(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.skip(f"shared data not found: {MODEL} (present in CI)")
    rw = _Rewrite(_float_file())
    expected = {}
    for _op, w_idx, axis in rw.weight_tensors():
        w = rw.data(w_idx).astype(np.float64)
        reduce = tuple(i for i in range(w.ndim) if i != axis)
        scale = np.maximum(np.abs(w).max(axis=reduce), 1e-8) / 127
        shape = [1] * w.ndim
        shape[axis] = len(scale)
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        t = rw.sg.tensors[w_idx]
        t.type, t.buffer = 9, rw.buffer(q)
        t.quantization = rw.S.QuantizationParametersT()
        t.quantization.scale = scale.astype(np.float32)
        t.quantization.zeroPoint = np.zeros(len(scale), dtype=np.int64)
        t.quantization.quantizedDimension = axis
        expected[w_idx] = (q * scale.astype(np.float32).reshape(shape)).astype(np.float32)
    model, info = load_tflite(_write(tmp_path, "int8.tflite", rw.pack()))
    assert info.weight_quantization == "per-channel int8"
    stem = expected[rw.sg.operators[0].inputs[1]]
    np.testing.assert_allclose(
        model.features[0][0].weight.detach().numpy(), stem.transpose(0, 3, 1, 2), rtol=1e-6
    )
    dw = expected[rw.sg.operators[1].inputs[1]]  # (1, 3, 3, 32), channel axis 3
    np.testing.assert_allclose(
        model.features[1].conv[0][0].weight.detach().numpy()[:, 0],
        dw[0].transpose(2, 0, 1),
        rtol=1e-6,
    )


def _pad_file() -> bytes:
    """Every stride-2 SAME conv becomes PAD (0, 1, 0, 1) + VALID conv, as TF-slim v1 files do."""
    rw = _Rewrite(_float_file())
    pad_code = rw.opcode(34)
    ops = []
    for op in rw.sg.operators:
        opts = op.builtinOptions
        if rw.code(op) in (3, 4) and opts.strideH == 2 and opts.padding == 0:
            x = rw.sg.tensors[op.inputs[0]]
            n, h, w, c = (int(v) for v in x.shape)
            paddings = rw.tensor([4, 2], 2, np.array([[0, 0], [0, 1], [0, 1], [0, 0]], np.int32))
            padded = rw.tensor([n, h + 1, w + 1, c], 0)
            pad = rw.S.OperatorT()
            pad.opcodeIndex, pad.inputs, pad.outputs = pad_code, [op.inputs[0], paddings], [padded]
            pad.builtinOptionsType = rw.S.BuiltinOptions.PadOptions
            pad.builtinOptions = rw.S.PadOptionsT()
            ops.append(pad)
            op.inputs = [padded, *list(op.inputs)[1:]]
            opts.padding = 1  # VALID
        ops.append(op)
    rw.sg.operators = ops
    return rw.pack()


@needs_images
def test_pad_then_valid_conv(tmp_path: Path, one_thread: None) -> None:
    pytest.importorskip("ai_edge_litert")
    raw = _pad_file()
    model, info = load_tflite(_write(tmp_path, "pad.tflite", raw))
    assert info.explicit_padding_layers == 5 and dict(info.op_counts)["PAD"] == 5
    padded = [m for m in model.modules() if isinstance(m, Conv2dSame) and m.explicit_padding]
    assert len(padded) == 5 and all(m.explicit_padding == (0, 1, 0, 1) for m in padded)
    assert all(m.stride == (2, 2) for m in padded)
    files, _ = _sample(limit=2, step=400)
    x = _inputs(files, info, quantized=False)
    np.testing.assert_allclose(_torch_probs(model, x, info), _litert(raw, x), atol=2e-5)


def _mean_fc_file() -> bytes:
    """Keras-style head: MEAN over H, W then FULLY_CONNECTED, then SOFTMAX (no RESHAPE)."""
    rw = _Rewrite(_float_file())
    pool = rw.ops(1)[0]
    axes = rw.tensor([2], 2, np.array([1, 2], np.int32))
    pooled = rw.sg.tensors[pool.outputs[0]]
    pooled.shape = np.array([1, int(pooled.shape[3])], np.int32)
    pool.opcodeIndex, pool.inputs = rw.opcode(40), [pool.inputs[0], axes]
    pool.builtinOptionsType = rw.S.BuiltinOptions.ReducerOptions
    pool.builtinOptions = rw.S.ReducerOptionsT()
    logits = next(op for op in rw.ops(3) if op.inputs[0] == pool.outputs[0])
    w = rw.sg.tensors[logits.inputs[1]]
    w.shape = np.array([int(w.shape[0]), int(w.shape[3])], np.int32)
    out = rw.sg.tensors[logits.outputs[0]]
    out.shape = np.array([1, int(out.shape[3])], np.int32)
    logits.opcodeIndex = rw.opcode(9)
    logits.builtinOptionsType = rw.S.BuiltinOptions.FullyConnectedOptions
    logits.builtinOptions = rw.S.FullyConnectedOptionsT()
    reshape = rw.ops(22)[0]
    softmax = rw.ops(25)[0]
    softmax.inputs = [logits.outputs[0]]
    rw.sg.operators = [op for op in rw.sg.operators if op is not reshape]
    return rw.pack()


@needs_images
def test_mean_and_fully_connected_head(tmp_path: Path, one_thread: None) -> None:
    pytest.importorskip("ai_edge_litert")
    raw = _mean_fc_file()
    model, info = load_tflite(_write(tmp_path, "fc.tflite", raw))
    assert {"MEAN", "FULLY_CONNECTED"} <= set(dict(info.op_counts))
    assert "RESHAPE" not in dict(info.op_counts) and info.output_softmax
    files, _ = _sample(limit=2, step=300)
    x = _inputs(files, info, quantized=False)
    np.testing.assert_allclose(_torch_probs(model, x, info), _litert(raw, x), atol=2e-5)


# --------------------------------------------------------------------------------------------
# (3) the full comparison


@pytest.mark.slow
@needs_images
def test_all_images_agree_with_litert(
    imported: tuple[nn.Module, TFLiteInfo], one_thread: None
) -> None:
    """1,000 images: top-1 agreement >= 97% and top-1 accuracies within 1 point.

    The interpreter runs in a second thread while PyTorch (one thread, small channels-last
    batches: the fastest on 2 cores) runs in this one; both release the GIL.
    """
    pytest.importorskip("ai_edge_litert")
    model, info = imported
    files, labels = _sample()
    assert len(files) == 1000
    with ThreadPoolExecutor(2) as pool:
        x = torch.cat(list(pool.map(lambda f: _inputs(f, info), np.array_split(files, 10))))
    model = model.to(memory_format=torch.channels_last)
    p_ours = []
    with ThreadPoolExecutor(1) as pool:
        lite = pool.submit(_litert, MODEL, x)
        with torch.inference_mode():
            for i in range(0, len(x), 8):
                xb = ((x[i : i + 8].float() - 128) * 0.0078125).contiguous(
                    memory_format=torch.channels_last
                )
                p_ours.append(torch.softmax(model(xb).double(), 1).numpy())
        p_lite = lite.result()
    model.to(memory_format=torch.contiguous_format)
    p_torch = np.concatenate(p_ours)
    agreement = (p_lite.argmax(1) == p_torch.argmax(1)).mean()
    acc_lite = 100 * (p_lite.argmax(1) == labels + 1).mean()
    acc_ours = 100 * (p_torch.argmax(1) == labels + 1).mean()
    assert agreement >= 0.97, f"top-1 agreement {agreement:.3f}"
    assert abs(acc_ours - acc_lite) <= 1.0, f"top-1 {acc_ours:.1f}% vs LiteRT {acc_lite:.1f}%"
    assert acc_lite > 80  # training-split images
    assert np.abs(p_lite - p_torch).mean() < 2e-4


# --------------------------------------------------------------------------------------------
# (4) bad files


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.tflite"
    with pytest.raises(FileNotFoundError, match=r"nope\.tflite"):
        load_tflite(path)
    with pytest.raises(ValueError, match="directory"):
        load_tflite(tmp_path)


def test_text_file_renamed(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.tflite", b"hello, this is not a model\n" * 10)
    with pytest.raises(ValueError, match=r"notes\.tflite is not a TFLite model.*text"):
        load_tflite(path)
    with pytest.raises(ValueError, match="not a TFLite model"):
        load_tflite(_write(tmp_path, "tiny.tflite", b"TFL"))
    with pytest.raises(ValueError, match="gzip"):
        load_tflite(_write(tmp_path, "m.tgz", b"\x1f\x8b\x08\x00" + bytes(60)))


def test_jpeg(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "cat.tflite"
    Image.new("RGB", (8, 8)).save(path, format="JPEG")
    with pytest.raises(ValueError, match=r"cat\.tflite is not a TFLite model.*JPEG"):
        load_tflite(path)


@needs_model
@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda n: n // 10, id="first-10%"),
        pytest.param(lambda n: n - 1000, id="all-but-1000-bytes"),
        pytest.param(lambda n: n // 2, id="half"),
        pytest.param(lambda n: 64, id="64-bytes"),
        pytest.param(lambda n: n - 1, id="all-but-1-byte"),
    ],
)
def test_truncated_file(tmp_path: Path, cut: Callable[[int], int]) -> None:
    raw = _quant_raw()
    path = _write(tmp_path, "cut.tflite", raw[: cut(len(raw))])
    with pytest.raises(ValueError, match=r"cut\.tflite is a truncated or corrupt TFLite file"):
        load_tflite(path)


@needs_model
def test_corrupt_bytes(tmp_path: Path) -> None:
    raw = bytearray(_quant_raw())
    rng = np.random.default_rng(0)
    raw[8:4096] = rng.integers(0, 256, 4088, dtype=np.uint8).tobytes()
    with pytest.raises(ValueError, match=r"garbled\.tflite"):
        load_tflite(_write(tmp_path, "garbled.tflite", bytes(raw)))


# not a MobileNetV2 the builder can represent


@needs_model
def test_unexpected_activation(tmp_path: Path) -> None:
    rw = _Rewrite(_quant_raw())
    rw.sg.operators[3].builtinOptions.fusedActivationFunction = 1  # block 2's expansion: RELU
    path = _write(tmp_path, "relu.tflite", rw.pack())
    with pytest.raises(ValueError, match=r"relu\.tflite.*operator #3 CONV_2D.*RELU6, found RELU"):
        load_tflite(path)


@needs_model
def test_missing_residual_add(tmp_path: Path) -> None:
    rw = _Rewrite(_quant_raw())
    add = rw.ops(0)[0]  # block 3's residual
    kept, dropped = add.inputs[0], add.outputs[0]
    for op in rw.sg.operators:
        op.inputs = [kept if i == dropped else i for i in op.inputs]
    rw.sg.operators = [op for op in rw.sg.operators if op is not add]
    with pytest.raises(ValueError, match=r"block 3 .*residual"):
        load_tflite(_write(tmp_path, "noadd.tflite", rw.pack()))


@needs_model
def test_residual_from_elsewhere(tmp_path: Path) -> None:
    rw = _Rewrite(_quant_raw())
    add = rw.ops(0)[1]  # block 5's ADD now adds block 3's projection instead of block 5's input
    first = rw.ops(0)[0]
    add.inputs = [add.inputs[0], first.inputs[0]]
    with pytest.raises(ValueError, match=r"ADD.*not the block input"):
        load_tflite(_write(tmp_path, "wrongadd.tflite", rw.pack()))


@needs_model
def test_unexpected_operator(tmp_path: Path) -> None:
    rw = _Rewrite(_quant_raw())
    pool = rw.ops(1)[0]
    pool.opcodeIndex = rw.opcode(17)  # MAX_POOL_2D
    with pytest.raises(
        ValueError, match=r"operator #62.*expected AVERAGE_POOL_2D or MEAN, found MAX_POOL_2D"
    ):
        load_tflite(_write(tmp_path, "maxpool.tflite", rw.pack()))


# --------------------------------------------------------------------------------------------
# (5) TF SAME padding


@needs_model
def test_same_padding_of_a_stride_2_layer(imported: tuple[nn.Module, TFLiteInfo]) -> None:
    model, _ = imported
    torch.manual_seed(0)
    for conv in (model.features[0][0], model.features[2].conv[1][0]):  # stem, block 2 depthwise
        assert isinstance(conv, Conv2dSame) and conv.stride == (2, 2)
        x = torch.randn(2, conv.in_channels, 16, 16)
        with torch.inference_mode():
            got = conv(x)
            manual = F.conv2d(
                F.pad(x, (0, 1, 0, 1)), conv.weight, conv.bias, stride=2, groups=conv.groups
            )
            symmetric = F.conv2d(x, conv.weight, conv.bias, stride=2, padding=1, groups=conv.groups)
        assert got.shape == (2, conv.out_channels, 8, 8)
        torch.testing.assert_close(got, manual)
        assert not torch.allclose(got, symmetric)  # PyTorch's symmetric padding differs
