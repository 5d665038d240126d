"""Loading weights: torchvision hub cache, our checkpoints, bad files; evaluation and the CLI."""

from __future__ import annotations

import os
import re
import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from manifold_lab.cli import main
from manifold_lab.mobilenet import MobileNetV2Config, mobilenet_v2
from manifold_lab.preprocessing import CifarPreprocess, TorchvisionPreprocess
from manifold_lab.weights import (
    TORCHVISION_WEIGHTS,
    WeightsUnavailableError,
    check_state_dict,
    load_checkpoint,
    load_model,
    parse_source,
    save_checkpoint,
)
from tests.conftest import SHARED_DATA

CIFAR = MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.35)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache in tmp_path; downloads fail as they do offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    return folder


@pytest.mark.parametrize("name", sorted(TORCHVISION_WEIGHTS))
def test_torchvision_weights_from_the_hub_cache(hub: Path, name: str) -> None:
    torch.manual_seed(0)
    tv = torchvision.models.mobilenet_v2()
    for m in tv.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.5, 2)
    hub.mkdir(parents=True)
    torch.save(tv.state_dict(), hub / TORCHVISION_WEIGHTS[name][0])
    model = load_model(f"torchvision:{name}", progress=False)
    info = model.weights_info
    assert info.source == "torchvision" and info.label_space == "imagenet"
    assert info.classes is not None and len(info.classes) == 1000 and info.classes[0] == "tench"
    assert isinstance(info.preprocessing, TorchvisionPreprocess)
    assert info.preprocessing.resize_size == TORCHVISION_WEIGHTS[name][1]
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(model(x), tv.eval()(x), rtol=1e-5, atol=1e-6)


def test_torchvision_offline_and_not_cached_names_the_file_and_folder(hub: Path) -> None:
    with pytest.raises(WeightsUnavailableError) as err:
        load_model("torchvision:IMAGENET1K_V1", progress=False)
    message = str(err.value)
    assert "mobilenet_v2-b0353104.pth" in message and str(hub) in message
    with pytest.raises(ValueError, match="IMAGENET1K_V3"):
        load_model("torchvision:IMAGENET1K_V3")


def test_download_with_a_progress_callback(
    torchvision_server: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A callable ``progress`` downloads in chunks (here from a file:// "server"), checks the
    hash in the file name, and leaves only the finished file in the hub cache."""
    import manifold_lab.weights.torchvision_hub as tvhub

    good, bad, hub = (
        torchvision_server["good"],
        torchvision_server["bad"],
        torchvision_server["hub"],
    )
    monkeypatch.setitem(tvhub.TORCHVISION_WEIGHTS, "IMAGENET1K_V1", (bad.name, 256, 71.878))
    with pytest.raises(WeightsUnavailableError, match="does not match the hash"):
        load_model("torchvision:IMAGENET1K_V1", progress=lambda done, total: None)
    assert not hub.exists() or list(hub.iterdir()) == []  # no partial file left behind
    monkeypatch.setitem(tvhub.TORCHVISION_WEIGHTS, "IMAGENET1K_V1", (good.name, 256, 71.878))
    calls: list[tuple[int, int | None]] = []
    model = load_model("torchvision:IMAGENET1K_V1", progress=lambda *a: calls.append(a))
    size = good.stat().st_size
    assert calls[0] == (0, size) and calls[-1] == (size, size) and len(calls) >= 3
    assert [p.name for p in hub.iterdir()] == [good.name]
    assert model.weights_info.source == "torchvision"


def test_corrupt_hub_cache_is_reported(hub: Path) -> None:
    hub.mkdir(parents=True)
    (hub / "mobilenet_v2-7ebf99e0.pth").write_bytes(b"\x80\x02garbage")
    with pytest.raises(ValueError, match=r"mobilenet_v2-7ebf99e0\.pth"):
        load_model("torchvision", progress=False)


def test_checkpoint_roundtrip(tmp_path: Path) -> None:
    model = load_model(None, config=CIFAR, seed=3)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.3)
    path = save_checkpoint(model, tmp_path / "net.pt", meta={"test_top1": 0.5, "epochs": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["net.pt"]  # no temporary left behind
    again = load_model(path)
    assert again.config == CIFAR
    info = again.weights_info
    assert info.source == "checkpoint" and info.label_space == "cifar10"
    assert info.classes is not None and info.classes[0] == "airplane"
    assert isinstance(info.preprocessing, CifarPreprocess)
    assert info.meta["test_top1"] == 0.5 and len(info.meta["sha256"]) == 64
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    # also via the explicit prefix, and load_checkpoint returns meta and extra
    save_checkpoint(model, tmp_path / "resume.ckpt", extra={"epoch": 7, "opt": {"lr": 0.1}})
    _, payload = load_checkpoint(tmp_path / "resume.ckpt")
    assert payload["extra"]["epoch"] == 7
    assert load_model(f"checkpoint:{tmp_path / 'resume.ckpt'}").config == CIFAR


def test_half_checkpoint_is_half_the_size_and_loads_as_float32(tmp_path: Path) -> None:
    model = load_model(None, config=CIFAR, seed=4)
    full = save_checkpoint(model, tmp_path / "full.pt")
    half = save_checkpoint(model, tmp_path / "half.pt", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    again = load_model(half)
    assert again.weights_info.meta["storage_dtype"] == "float16"
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert b.dtype == a.dtype, name  # float32 in memory again
        if a.is_floating_point():
            assert torch.equal(b, a.half().float()), name  # the float16-rounded values
    # a size limit refuses before anything is written, and says what would help
    with pytest.raises(ValueError, match="half=True"):
        save_checkpoint(model, tmp_path / "big.pt", max_bytes=1000)
    assert not (tmp_path / "big.pt").exists()


def test_variant_checkpoints_keep_their_architecture(tmp_path: Path) -> None:
    config = CIFAR.replace(shortcut="expansion", bottleneck_activation="relu6")
    model = load_model(None, config=config, seed=0)
    again = load_model(save_checkpoint(model, tmp_path / "v.pt"))
    assert again.config == config
    skips = [b.expansion_skip for b in again.blocks()]
    assert skips == [b.expansion_skip for b in model.blocks()] and any(skips)


def test_checkpoint_of_another_width_says_what_differs(tmp_path: Path) -> None:
    path = save_checkpoint(load_model(None, config=CIFAR, seed=0), tmp_path / "narrow.pt")
    with pytest.raises(ValueError) as err:
        load_model(path, config=CIFAR.replace(width_mult=1.0))
    message = str(err.value)
    assert "shape mismatches" in message and "features.0.0.weight" in message
    assert "width_mult=1.0 (checkpoint: 0.35)" in message
    # a bare state dict of another architecture
    torch.save(mobilenet_v2(width_mult=0.5).state_dict(), tmp_path / "tv_half.pth")
    with pytest.raises(ValueError, match="shape mismatches"):
        load_model(tmp_path / "tv_half.pth")
    assert load_model(tmp_path / "tv_half.pth", config=MobileNetV2Config(width_mult=0.5))


def test_check_state_dict_lists_missing_and_unexpected_keys() -> None:
    model = mobilenet_v2(CIFAR)
    sd = model.state_dict()
    sd.pop("classifier.1.bias")
    sd["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"missing.*classifier\.1\.bias.*unexpected.*extra"):
        check_state_dict(model, sd)


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    good = save_checkpoint(load_model(None, config=CIFAR, seed=0), tmp_path / "good.pt")
    data = good.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 3])
    (tmp_path / "text.pt").write_text("hello, I am not a checkpoint\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    for name in ["truncated.pt", "text.pt", "empty.pt"]:
        with pytest.raises(ValueError, match=name):
            load_model(tmp_path / name)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="folder"):
        load_model(f"checkpoint:{tmp_path}")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="not a MobileNetV2 checkpoint"):
        load_model(tmp_path / "list.pt")


class _RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.marker,))


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "code_ran"
    torch.save(
        {"state_dict": {"w": torch.zeros(1)}, "x": _RunsCode(str(marker))}, tmp_path / "e.pt"
    )
    with pytest.raises(ValueError) as info:
        load_model(tmp_path / "e.pt")
    assert not marker.exists()
    message = str(info.value)
    # one line of our own: what the file would do and what is refused; not torch's long text
    assert re.fullmatch(
        r"refusing to load \S+e\.pt: it would run code when unpickled \(it names "
        r"(posix|nt)\.mkdir\), and a weights file holds only tensors in plain containers\. "
        r"If you trust whoever made it, read it with torch\.load\(weights_only=False\) "
        r"yourself\.",
        message,
    ), message
    assert "PyTorch 2.6" not in message and len(message) < 300


def _poison(state_dict: dict[str, torch.Tensor], names: list[str]) -> None:
    for i, name in enumerate(names):
        state_dict[name].view(-1)[: i + 1] = float("nan") if i % 2 == 0 else float("-inf")


def test_nonfinite_weights_are_refused_naming_the_tensors(tmp_path: Path) -> None:
    model = mobilenet_v2(CIFAR, seed=0)
    x = torch.rand(2, 3, 32, 32)
    good = model(x)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    floats = [k for k, v in state.items() if v.is_floating_point()]
    _poison(state, [floats[3], floats[-1]])
    torch.save(state, tmp_path / "bare.pt")
    model.load_state_dict(state)
    save_checkpoint(model, tmp_path / "ck.pt")
    expected = (
        rf"hold NaN or infinite values in 2 of {len(state)} tensors: {re.escape(floats[3])} "
        rf"\(1 NaN\), {re.escape(floats[-1])} \(2 inf\); .* allow_nonfinite=True"
    )
    for path in (tmp_path / "bare.pt", tmp_path / "ck.pt"):
        with pytest.raises(ValueError, match=rf"^the weights in \S+{path.name} {expected}"):
            load_model(path, config=CIFAR)
        with pytest.raises(ValueError, match=expected):
            load_checkpoint(path, config=CIFAR)
        loaded = load_model(path, config=CIFAR, allow_nonfinite=True)  # explicitly: loads
        assert not torch.isfinite(loaded(x)).all()
        assert load_checkpoint(path, config=CIFAR, allow_nonfinite=True)[0] is not None
    assert torch.isfinite(good).all()
    # many: the first five by name, then the count
    _poison(state, floats[:9])
    torch.save(state, tmp_path / "many.pt")
    with pytest.raises(ValueError, match=r"in 10 of .*, \.\.\. \(10 in all\)"):
        load_model(tmp_path / "many.pt", config=CIFAR)


def test_nonfinite_weights_from_half_storage_overflow(tmp_path: Path) -> None:
    """Weights beyond float16's range become inf when saved with half=True: refused on load."""
    model = mobilenet_v2(CIFAR, seed=0)
    with torch.no_grad():
        model.classifier[1].bias[0] = 1e6
    save_checkpoint(model, tmp_path / "half.pt", half=True)
    with pytest.raises(ValueError, match=r"classifier\.1\.bias \(1 inf\)"):
        load_model(tmp_path / "half.pt")


def test_a_checkpoint_of_another_width_says_what_it_holds(tmp_path: Path) -> None:
    half = mobilenet_v2(MobileNetV2Config(num_classes=10, width_mult=0.5), seed=0)
    torch.save(half.state_dict(), tmp_path / "bare.pt")
    save_checkpoint(half, tmp_path / "ck.pt")
    # a bare state dict, no config=: no advice about config=; the file's architecture instead
    with pytest.raises(ValueError) as info:
        load_model(tmp_path / "bare.pt")
    message = str(info.value)
    assert "without config=" not in message
    assert "read as the default MobileNetV2Config(num_classes=10)" in message
    assert "its weights fit MobileNetV2Config(num_classes=10, width_mult=0.5)" in message
    # ... and the config it names loads it
    load_model(tmp_path / "bare.pt", config=MobileNetV2Config(num_classes=10, width_mult=0.5))
    # a bare state dict, config= of another width: still not "without config="
    with pytest.raises(ValueError) as info:
        load_model(tmp_path / "bare.pt", config=MobileNetV2Config(num_classes=10))
    assert "without config=" not in str(info.value)
    assert "not of config=MobileNetV2Config(num_classes=10)" in str(info.value)
    # our checkpoint with config= of another width: dropping config= is the right advice
    with pytest.raises(ValueError, match=r"width_mult=1\.0 \(checkpoint: 0\.5\).*without config="):
        load_model(tmp_path / "ck.pt", config=MobileNetV2Config(num_classes=10))
    assert load_model(tmp_path / "ck.pt").config.width_mult == 0.5
    # a width that is none of the usual ones: the channels of both
    odd = mobilenet_v2(MobileNetV2Config(num_classes=10, first_channel=24), seed=0)
    torch.save(odd.state_dict(), tmp_path / "odd.pt")
    with pytest.raises(ValueError) as info:
        load_model(tmp_path / "odd.pt")
    assert "without config=" not in str(info.value)
    assert "its weights have 24 stem and 1280 final channels, that architecture 32 stem" in str(
        info.value
    )


def test_parse_source() -> None:
    assert parse_source(None) == ("random", "")
    assert parse_source("torchvision") == ("torchvision", "IMAGENET1K_V2")
    assert parse_source("imagenet1k_v1") == ("torchvision", "IMAGENET1K_V1")
    assert parse_source("tflite:a/b.tflite") == ("tflite", "a/b.tflite")
    assert parse_source(Path("x.pt")) == ("checkpoint", "x.pt")
    for bad in ["", "resnet50", 3]:
        with pytest.raises(ValueError):
            parse_source(bad)  # type: ignore[arg-type]


def test_evaluate_on_the_builtin_sample() -> None:
    from manifold_lab.data import cifar10_sample
    from manifold_lab.evaluation import evaluate

    model = load_model(None, config=CIFAR, seed=0)
    result = evaluate(model, cifar10_sample(), batch_size=50, limit=100, progress=False)
    assert result.n_images == 100 and result.n_labeled == 100
    assert result.top1 is not None and result.top5 is not None
    assert 0 <= result.top1 <= result.top5 <= 1
    assert result.images_per_second > 0
    imagenet_model = load_model(None, seed=0)
    with pytest.raises(ValueError, match="label space"):
        evaluate(imagenet_model, cifar10_sample(), progress=False)


def test_cli_eval_on_the_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_checkpoint(load_model(None, config=CIFAR, seed=0), tmp_path / "c.pt")
    args = ["eval", "--weights", str(path), "--images", "cifar10-sample", "--limit", "64"]
    assert main([*args, "--no-progress", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "top-1" in out and "top-5" in out and "images/s" in out and "64 (64 labelled)" in out
    assert main(["eval", "--weights", "nonsense", "--images", "cifar10-sample"]) == 2
    assert "unknown weights source" in capsys.readouterr().err
    assert main(["eval", "--weights", str(path), "--images", str(tmp_path / "nope")]) == 2


@pytest.mark.slow
def test_cli_eval_tflite_on_imagenet_samples(capsys: pytest.CaptureFixture[str]) -> None:
    model = SHARED_DATA / "mobilenet_v2_1.0_224_quant.tflite"
    images = SHARED_DATA / "imagenet-samples-256"
    if not model.exists() or not images.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    argv = ["eval", "--weights", f"tflite:{model}", "--images", str(images), "--json"]
    assert main([*argv, "--no-progress", "--workers", "2"]) == 0
    import json

    record = json.loads(capsys.readouterr().out)
    assert record["n_images"] == 1000 and record["n_labeled"] == 1000
    assert record["top1"] > 0.7  # training-split images: well above the 70.8% val figure
