"""The experiment drivers' own logic: the GPU plan and calibration, the job runner's deadline."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "experiments"))

ablation = pytest.importorskip("ablation")
device_run = pytest.importorskip("device_run")

PER_EPOCH = 50_000 + 10_000 / 3


def test_plan_reproduces_the_h200_run() -> None:
    # the numbers in experiments/results/ablation_gpu/plan.json gave 25 epochs of 2 variants
    variants, epochs = device_run.plan_runs(22195.2, 415.348, 3, 40, PER_EPOCH)
    assert (variants, epochs) == (["linear", "relu6"], 25)


def test_plan_adds_the_shortcut_variants_only_when_all_fit_at_full_length() -> None:
    seconds = 40 * 12 * PER_EPOCH / 20_000 / device_run.SAFETY + 1  # 12 runs x 40 epochs
    variants, epochs = device_run.plan_runs(20_000, seconds, 3, 40, PER_EPOCH)
    assert variants == ["linear", "relu6", "expansion", "noshortcut"] and epochs == 40
    variants, epochs = device_run.plan_runs(20_000, 0.9 * seconds, 3, 40, PER_EPOCH)
    assert variants == ["linear", "relu6"] and epochs == 40  # 6 runs still fit 40 epochs
    # more time never buys more than the preset's epochs; a failed calibration plans 15
    assert device_run.plan_runs(1e9, 1e9, 3, 40, PER_EPOCH)[1] == 40
    assert device_run.plan_runs(math.nan, 400, 3, 40, PER_EPOCH) == (["linear", "relu6"], 15)


def test_run_jobs_stops_what_is_still_running_at_the_deadline(tmp_path: Path) -> None:
    jobs = [
        (tmp_path / "slow", [sys.executable, "-c", "import time; time.sleep(60)"]),
        (tmp_path / "quick", [sys.executable, "-c", "print('hello')"]),
    ]
    t0 = time.time()
    done = ablation.run_jobs(jobs, 2, {}, deadline=time.time() + 3, poll_seconds=0.2)
    assert time.time() - t0 < 30
    assert dict(done) == {"quick": 0, "slow": None}
    assert (tmp_path / "quick" / "train.log").read_text().strip() == "hello"


def test_build_jobs_resumes_and_skips(tmp_path: Path) -> None:
    (tmp_path / "linear_s0").mkdir()
    (tmp_path / "linear_s0" / "model.pt").write_bytes(b"")  # finished
    (tmp_path / "relu6_s0").mkdir()
    (tmp_path / "relu6_s0" / "last.pt").write_bytes(b"")  # interrupted
    jobs = ablation.build_jobs(
        "smoke",
        ["linear", "relu6", "noshortcut"],
        [0],
        overrides=["--set=epochs=1"],
        runs_root=tmp_path,
    )
    by_name = {run_dir.name: cmd for run_dir, cmd in jobs}
    assert sorted(by_name) == ["noshortcut_s0", "relu6_s0"]
    assert "--resume" in by_name["relu6_s0"] and "--resume" not in by_name["noshortcut_s0"]
    assert "model_shortcut=none" in by_name["noshortcut_s0"]
    assert "--set=epochs=1" in by_name["noshortcut_s0"]


def test_calibration_measures_throughput_with_the_overrides_applied() -> None:
    import os

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    rate = device_run.calibrate(
        "smoke", 1, "cpu", env, window=2.0, warmup=8.0, overrides=["batch_size=8"]
    )
    assert 0 < rate < 1e5  # images/s of the smoke model on one CPU thread
    cfg = device_run.preset_config("gpu", ["compile=true", "model_shortcut=none", "epochs=40"])
    assert cfg.compile and cfg.model.shortcut == "none" and cfg.epochs == 40
    for bad in (["epochs=0"], ["no_such_field=1"]):
        with pytest.raises(SystemExit, match="bad --set"):
            device_run.preset_config("gpu", bad)
    with pytest.raises(SystemExit, match="unknown preset"):
        device_run.preset_config("huge", [])
