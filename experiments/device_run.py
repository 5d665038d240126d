"""The `gpu` preset ablation in one command on a lent GPU, fitted to a time budget.

    cp ../shared/data/cifar10-jpeg.tar.gz .data/     # only the working tree travels
    python experiments/device_run.py --data-root .data/cifar10-jpeg.tar.gz --out "$OUT" \\
        --budget-seconds 510 --max-epochs 40 2>&1 | tee "$OUT/device_run.log"

(the H200 run of 2026-11-27, when the preset still said 40 epochs;
``experiments/results/ablation_gpu/``).

1. Decodes CIFAR-10 once into a shared cache (the training processes then read the cache).
2. Measures how many training images per second the GPU gives with all the runs at once: one
   process per run trains the preset's model on random batches, and the images each finishes
   inside a common window of wall-clock time are added up.
3. Fixes the epoch budget from that measurement, before any run starts:
   ``epochs = min(max epochs, floor(0.9 * seconds left * images/s / images per epoch) // runs)``,
   where an epoch costs its 50,000 training images plus the 10,000 test images (counted as a
   third of a training image each) and 10% is held back. If the 12 runs of all four variants
   fit at the maximum, the shortcut variants run too; otherwise the two bottleneck variants
   do, at the epochs that fit (:func:`plan_runs`).
4. Runs them all at once (one process each) and writes, every 20 seconds, the finished and
   unfinished metrics to ``OUT/gpu_runs.tar.gz``; at the end the seed-0 models too.

``--set KEY=VALUE`` changes a field of the preset in the calibration and in every run, as
``manifold-lab train --set`` does: e.g. ``--set compile=true --warmup-seconds 150`` measures and
trains with ``torch.compile`` (tested on the CPU only, so far; the warm-up must cover the
compilation).

Runs still going at the deadline are stopped (their last checkpoint stays resumable on that
machine but does not come back).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

from manifold_lab.fileio import atomic_write_text  # noqa: E402 (after the path set-up)

if TYPE_CHECKING:
    from manifold_lab.train import TrainConfig

TEST_COST = 1 / 3  # a test image (forward only) costs about a third of a training step's image
SAFETY = 0.9


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def calibrate_worker(args: argparse.Namespace) -> None:
    """Train the preset's model on random batches; count the images done in the window."""
    import torch
    import torch.nn as nn

    from manifold_lab.mobilenet import mobilenet_v2
    from manifold_lab.train import augment_batch, normalize_cifar, param_groups

    cfg = preset_config(args.preset, args.set)
    dev = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    model = mobilenet_v2(cfg.model, seed=args.seed).to(dev)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(param_groups(model, cfg.weight_decay), lr=0.01, momentum=0.9)
    crit = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    gen = torch.Generator().manual_seed(args.seed)
    data = torch.randint(0, 256, (4096, 3, 32, 32), dtype=torch.uint8, generator=gen).to(dev)
    labels = torch.randint(0, 10, (4096,), generator=gen).to(dev)
    amp = cfg.amp and dev.type == "cuda"
    forward: Callable[[torch.Tensor], torch.Tensor] = torch.compile(model) if cfg.compile else model
    done = 0
    counting = False
    while time.time() < args.window_end:
        if not counting and time.time() >= args.window_start:
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            counting, done = True, 0
        idx = torch.randint(0, 4096, (cfg.batch_size,), generator=gen).to(dev)
        x = normalize_cifar(augment_batch(data[idx], gen))
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss = crit(forward(x).float(), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if counting:
            done += cfg.batch_size
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    print(json.dumps({"images": done, "counted": counting}), flush=True)


def preset_config(preset: str, overrides: list[str]) -> TrainConfig:
    """:func:`manifold_lab.train.preset_config`, stopping the script when the settings are bad."""
    from manifold_lab.train import preset_config as configure

    try:
        return configure(preset, overrides)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


def calibrate(
    preset: str,
    runs: int,
    device: str,
    env: dict[str, str],
    window: float,
    warmup: float,
    meanwhile: Callable[[], None] | None = None,
    overrides: list[str] | None = None,
) -> float:
    """Aggregate training images/s with ``runs`` processes sharing the device.

    ``meanwhile`` is called while they start up and warm up (``warmup`` seconds; with
    ``compile=true`` among the ``overrides`` it must cover the compilation too).
    """
    start = time.time() + warmup  # time to import, initialise CUDA and warm up
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--calibrate-worker",
                "--preset",
                preset,
                "--device",
                device,
                "--seed",
                str(i),
                "--window-start",
                str(start),
                "--window-end",
                str(start + window),
                *[f"--set={o}" for o in overrides or []],
            ],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for i in range(runs)
    ]
    if meanwhile is not None:
        meanwhile()
    if time.time() > start:
        log("warning: the calibration window opened before the set-up finished")
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=max(0.0, start - time.time()) + window + 120)
        row = json.loads(out.strip().splitlines()[-1])
        if not row["counted"]:
            raise RuntimeError(
                "a calibration process never reached the timing window (still starting up or "
                "compiling: lengthen --warmup-seconds)"
            )
        total += row["images"] / window
    return total


def plan_runs(
    rate: float, seconds_left: float, n_seeds: int, max_epochs: int, per_epoch: float
) -> tuple[list[str], int]:
    """The variants and the epoch budget that fit (the rule in the module docstring).

    ``rate`` is the measured images/s of all runs together (NaN when the calibration failed:
    then 15 epochs of the two bottleneck variants).
    """
    if math.isnan(rate):
        return ["linear", "relu6"], min(max_epochs, 15)
    fit = math.floor(SAFETY * seconds_left * rate / per_epoch)  # epochs of one run, in all
    if fit // (4 * n_seeds) >= max_epochs:
        return ["linear", "relu6", "expansion", "noshortcut"], max_epochs
    return ["linear", "relu6"], min(max_epochs, fit // (2 * n_seeds))


def pack(runs_root: Path, out: Path) -> None:
    """Metrics, configs and logs of every run (no checkpoints) into out/gpu_runs.tar.gz."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(runs_root.glob("*/*")):
            if f.name in {"metrics.json", "metrics.csv", "config.json", "train.log"}:
                tar.add(f, arcname=f"{f.parent.name}/{f.name}")
            if f.name == "model.pt":  # a marker that the run finished
                info = tarfile.TarInfo(f"{f.parent.name}/FINISHED")
                tar.addfile(info, io.BytesIO(b""))
    atomic_write_text(out / "gpu_runs.tar.gz", buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gpu")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default="device_out")
    parser.add_argument("--budget-seconds", type=float, default=500.0)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--window", type=float, default=10.0, help="calibration window, s")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per run")
    parser.add_argument(
        "--warmup-seconds", type=float, default=50.0, help="before the calibration window"
    )
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="at most this many (default: the preset's)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a preset field in the calibration and every run (e.g. compile=true)",
    )
    # internal: one calibration process
    parser.add_argument("--calibrate-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--window-start", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--window-end", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.calibrate_worker:
        calibrate_worker(args)
        return
    preset = preset_config(args.preset, args.set)  # fails here, before any set-up, when bad

    t_start = time.time()
    deadline = t_start + args.budget_seconds
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(os.environ.get("MANIFOLD_LAB_CACHE", "/tmp/manifold_lab_cache"))
    env = {
        **os.environ,
        "MANIFOLD_LAB_CACHE": str(cache),
        "OMP_NUM_THREADS": str(args.threads),
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    os.environ.update(env)

    import torch
    from ablation import build_jobs, run_jobs  # type: ignore[import-not-found]

    from manifold_lab.data import load_cifar10

    facts = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device_name": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "cpu_count": os.cpu_count(),
        "preset": preset.to_dict(),
        "overrides": args.set,
    }
    log(f"facts: {json.dumps(facts)}")

    def decode() -> None:
        for split in ("train", "test"):
            ds = load_cifar10(split, args.data_root, progress=False)
            log(f"CIFAR-10 {split}: {len(ds)} images decoded into {cache}")

    max_epochs = args.max_epochs or preset.epochs
    n_small = 2 * len(args.seeds)
    try:
        rate = calibrate(
            args.preset,
            n_small,
            args.device,
            env,
            args.window,
            args.warmup_seconds,
            decode,
            overrides=args.set,
        )
        log(f"calibration: {n_small} processes together train {rate:.0f} images/s")
    except Exception as exc:  # fall back to a guess rather than lose the lease
        log(f"calibration failed ({exc!r}); planning for 15 epochs")
        rate = float("nan")
    per_epoch = (preset.train_limit or 50_000) + TEST_COST * (preset.test_limit or 10_000)
    seconds_left = deadline - time.time() - 30.0  # process start, data load, final writes
    variants, epochs = plan_runs(rate, seconds_left, len(args.seeds), max_epochs, per_epoch)
    plan = {"rate": rate, "seconds_left": seconds_left, "epochs": epochs, "variants": variants}
    log(f"plan: {json.dumps(plan)}")
    atomic_write_text(out / "plan.json", json.dumps({**facts, **plan}, indent=1))
    if epochs < min(3, max_epochs):
        raise SystemExit("too little time for a meaningful run")

    runs_root = ROOT / "experiments" / "runs" / args.preset
    jobs = build_jobs(
        args.preset,
        variants,
        args.seeds,
        data_root=args.data_root,
        device=args.device,
        overrides=[f"--set=epochs={epochs}", *[f"--set={o}" for o in args.set]],
        runs_root=runs_root,
    )
    last_pack = [0.0]

    def tick() -> None:
        if time.time() - last_pack[0] > 20:
            pack(runs_root, out)
            last_pack[0] = time.time()
            if shutil.which("nvidia-smi"):
                q = "--query-gpu=utilization.gpu,memory.used"
                r = subprocess.run(
                    ["nvidia-smi", q, "--format=csv,noheader"], text=True, capture_output=True
                )
                log(f"gpu: {r.stdout.strip()}")

    status = run_jobs(jobs, len(jobs), env, deadline=deadline - 15, on_tick=tick)
    pack(runs_root, out)
    for name in ("linear_s0", "relu6_s0"):
        model = runs_root / name / "model.pt"
        if model.exists():
            shutil.copy2(model, out / f"{name}.pt")
    log(f"finished: {status}; {time.time() - t_start:.0f} s in all")
    for metrics in sorted(runs_root.glob("*/metrics.json")):
        rows = json.loads(metrics.read_text())["records"]
        last = rows[-1]
        log(
            f"{metrics.parent.name}: epoch {last['epoch']}/{epochs}, test acc "
            f"{last['test_acc']:.4f}, {sum(r['epoch_seconds'] for r in rows):.0f} s, "
            f"{last['train_images_per_second']:.0f} img/s"
        )


if __name__ == "__main__":
    main()
