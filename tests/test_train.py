"""Training: smoke runs, resuming a killed run to identical weights, DDP replicas, the CLI."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from manifold_lab.cli import main
from manifold_lab.data import CIFAR10_CLASSES, cifar10_sample
from manifold_lab.train import PRESETS, TrainConfig, augment_batch, train
from manifold_lab.weights import load_model
from tests.conftest import ROOT, SHARED_DATA

TINY = PRESETS["smoke"].replace(epochs=3, train_limit=None, test_limit=None, batch_size=50)


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An extracted CIFAR-10-style folder built from the package's 500 sample images."""
    root = tmp_path_factory.mktemp("cifar")
    sample = cifar10_sample()
    for i in range(len(sample)):
        image, label = sample[i]
        split = "test" if i % 5 == 0 else "train"
        folder = root / split / CIFAR10_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:04d}.png")
    return root


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANIFOLD_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_augment_batch_crops_and_flips_reproducibly() -> None:
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    a = augment_batch(x, torch.Generator().manual_seed(0))
    b = augment_batch(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == torch.uint8
    # every output is a shifted (and maybe mirrored) window of the zero-padded input
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(16):
        found = any(
            torch.equal(a[i], w) or torch.equal(a[i], w.flip(-1))
            for oy in range(9)
            for ox in range(9)
            for w in [padded[i, :, oy : oy + 32, ox : ox + 32]]
        )
        assert found


def test_smoke_run_writes_a_complete_run_directory(tiny_cifar: Path, tmp_path: Path) -> None:
    result = train(TINY.replace(epochs=2), tmp_path / "run", data_root=tiny_cifar, progress=False)
    assert result.finished and len(result.metrics) == 2
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["config.json", "last.pt", "metrics.csv", "metrics.json", "model.pt"]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["provenance"]["parameters"]["train_config"]["epochs"] == 2
    assert [r["epoch"] for r in record["records"]] == [1, 2]
    assert (tmp_path / "run" / "metrics.csv").read_text().startswith("# provenance: ")
    model = load_model(tmp_path / "run" / "model.pt")
    assert model.weights_info.label_space == "cifar10"
    assert model.config == TINY.model
    assert 0 <= result.test_accuracy <= 1


def test_kept_epochs_are_loadable_checkpoints_of_those_epochs(
    tiny_cifar: Path, tmp_path: Path
) -> None:
    result = train(TINY, tmp_path / "run", data_root=tiny_cifar, progress=False, keep_epochs=[1, 3])
    kept = sorted(p.name for p in (tmp_path / "run").glob("epoch_*.pt"))
    assert kept == ["epoch_001.pt", "epoch_003.pt"]
    first = load_model(tmp_path / "run" / "epoch_001.pt")
    last = load_model(tmp_path / "run" / "epoch_003.pt")
    assert first.weights_info.meta["test_acc"] == result.metrics[0]["test_acc"]
    final = result.model.state_dict()
    assert all(torch.equal(final[k], v) for k, v in last.state_dict().items())
    assert not all(torch.equal(final[k], v) for k, v in first.state_dict().items())
    with pytest.raises(ValueError, match="keep_epochs"):
        train(TINY, tmp_path / "bad", data_root=tiny_cifar, progress=False, keep_epochs=[4])


def test_a_killed_run_resumes_to_the_same_weights(tiny_cifar: Path, tmp_path: Path) -> None:
    full = train(TINY, tmp_path / "full", data_root=tiny_cifar, progress=False)

    def kill(row: dict[str, object]) -> None:
        raise KeyboardInterrupt  # as if the process died right after the epoch's checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(TINY, tmp_path / "killed", data_root=tiny_cifar, progress=False, on_epoch_end=kill)
    assert not (tmp_path / "killed" / "model.pt").exists()
    resumed = train(TINY, tmp_path / "killed", data_root=tiny_cifar, progress=False, resume=True)
    assert resumed.finished
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["test_acc"] for r in full.metrics] == [r["test_acc"] for r in resumed.metrics]


def test_existing_runs_are_not_overwritten_and_resume_checks_the_config(
    tiny_cifar: Path, tmp_path: Path
) -> None:
    train(TINY.replace(epochs=1), tmp_path / "r", data_root=tiny_cifar, progress=False)
    with pytest.raises(ValueError, match="already holds a training run"):
        train(TINY.replace(epochs=1), tmp_path / "r", data_root=tiny_cifar, progress=False)
    with pytest.raises(ValueError, match="different training config"):
        train(
            TINY.replace(epochs=1, lr=0.2),
            tmp_path / "r",
            data_root=tiny_cifar,
            progress=False,
            resume=True,
        )


@pytest.mark.slow
def test_compiled_training_matches_eager_and_saves_a_loadable_model(
    tiny_cifar: Path, tmp_path: Path
) -> None:
    from manifold_lab.mobilenet import mobilenet_v2
    from manifold_lab.train import normalize_cifar

    # no dropout: compiled dropout draws its masks from another random stream
    cfg = TINY.replace(epochs=1, model_dropout=0.0)
    # One training step, compiled and eager, from the same weights on the same batch: the same
    # loss and, up to the kernels' rounding, the same gradients. (Whole epochs are not
    # compared: a 0.4% rounding difference in the gradients grows over ten steps at this
    # learning rate into a few percent of mean loss, depending on the inductor build.)
    eager_model = mobilenet_v2(cfg.model, seed=0).train()
    compiled_model = mobilenet_v2(cfg.model, seed=0).train()
    gen = torch.Generator().manual_seed(0)
    x = normalize_cifar(torch.randint(0, 256, (50, 3, 32, 32), dtype=torch.uint8, generator=gen))
    y = torch.randint(0, 10, (50,), generator=gen)
    criterion = torch.nn.CrossEntropyLoss()
    loss_eager = criterion(eager_model(x), y)
    loss_eager.backward()
    try:
        loss_compiled = criterion(torch.compile(compiled_model)(x), y)
        loss_compiled.backward()
    except Exception as exc:  # inductor needs a working C++ compiler on the CPU
        if "compile" in type(exc).__module__ or "inductor" in str(exc).lower():
            pytest.skip(f"torch.compile is not usable here: {type(exc).__name__}")
        raise
    assert float(loss_compiled.detach()) == pytest.approx(float(loss_eager.detach()), rel=1e-5)
    g_eager = torch.cat([p.grad.flatten() for p in eager_model.parameters()])
    g_compiled = torch.cat([p.grad.flatten() for p in compiled_model.parameters()])
    assert float((g_compiled - g_eager).norm() / g_eager.norm()) < 2e-2
    # a whole compiled run trains and saves the module, not the compiled wrapper: no
    # "_orig_mod." in the checkpoint
    compiled = train(
        cfg.replace(compile=True), tmp_path / "compiled", data_root=tiny_cifar, progress=False
    )
    assert math.isfinite(compiled.metrics[0]["train_loss"])
    model = load_model(tmp_path / "compiled" / "model.pt")
    a, b = model.state_dict(), eager_model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.isfinite(a[k].float()).all() for k in a)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="num_classes=10"):
        TrainConfig(model=PRESETS["smoke"].model.replace(num_classes=100))
    for bad in [{"epochs": 0}, {"lr": -1.0}, {"momentum": 1.0}, {"train_limit": 0}]:
        with pytest.raises(ValueError):
            PRESETS["smoke"].replace(**bad)
    cfg = PRESETS["cpu"].replace(model_bottleneck_activation="relu6", seed=3)
    assert cfg.model.bottleneck_activation == "relu6" and cfg.seed == 3
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown preset"):
        train("huge", "unused")


def test_cli_train_reports_bad_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--preset", "huge"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["train", "--set", "epochs"]) == 2
    assert main(["train", "--set", "nonsense=1"]) == 2


def test_cli_set_options_accumulate_and_parse_values() -> None:
    from manifold_lab.cli import build_parser
    from manifold_lab.train import parse_override as _parse_override

    args = build_parser().parse_args(
        ["train", "--set", "epochs=3", "lr=0.05", "--set", "model_dropout=0", "--set", "seed=2"]
    )
    assert args.set == ["epochs=3", "lr=0.05", "model_dropout=0", "seed=2"]
    changes = dict(_parse_override(item) for item in args.set)
    cfg = PRESETS["smoke"].replace(**changes)
    assert (cfg.epochs, cfg.lr, cfg.model.dropout, cfg.seed) == (3, 0.05, 0, 2)
    assert _parse_override("train-limit=None") == ("train_limit", None)
    assert _parse_override("amp=False") == ("amp", False)
    assert _parse_override("name=my run") == ("name", "my run")
    # "none" is a value of the shortcut choice, not None (the no-shortcut ablation variant)
    assert _parse_override("model_shortcut=none") == ("model_shortcut", "none")
    assert _parse_override("model_last_channel=none") == ("model_last_channel", None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_ddp_two_cpu_processes_keep_identical_replicas(tiny_cifar: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        "-m",
        "manifold_lab.cli",
        "train",
        "--preset",
        "smoke",
        "--run-dir",
        str(run),
        "--data-root",
        str(tiny_cifar),
        "--device",
        "cpu",
        "--no-progress",
        "--set",
        "epochs=2",
        "train_limit=none",
        "test_limit=none",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = json.loads((run / "metrics.json").read_text())["records"]
    assert len(records) == 2 and records[-1]["world_size"] == 2
    assert records[-1]["replica_max_abs_diff"] == 0.0
    assert (run / "model.pt").exists()
    # the test set is split between the ranks and the counts summed: the same accuracy as
    # one process scoring the whole test split with the final weights
    from manifold_lab.data import load_cifar10
    from manifold_lab.evaluation import evaluate
    from manifold_lab.weights import load_model

    whole = evaluate(
        load_model(str(run / "model.pt")), load_cifar10("test", tiny_cifar), progress=False
    )
    assert whole.n_images == 100
    assert records[-1]["test_acc"] == pytest.approx(whole.top1, abs=1e-9)


@pytest.mark.slow
def test_cli_smoke_preset_on_the_real_tarball(tmp_path: Path) -> None:
    tarball = SHARED_DATA / "cifar10-jpeg.tar.gz"
    if not tarball.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    run = tmp_path / "smoke"
    argv = ["train", "--preset", "smoke", "--run-dir", str(run), "--data-root", str(tarball)]
    assert main([*argv, "--no-progress"]) == 0
    records = json.loads((run / "metrics.json").read_text())["records"]
    assert len(records) == PRESETS["smoke"].epochs
    assert np.isfinite(records[-1]["train_loss"])
