"""Benchmark: CIFAR-10 training throughput of our MobileNetV2 against torchvision's.

Two comparisons, each timed with interleaved repeats in one process (so both sides see the
same machine load) and reported as ratios:

1. Our default CIFAR MobileNetV2 (``MobileNetV2Config(num_classes=10, stem="cifar")``) against
   ``torchvision.models.mobilenet_v2(num_classes=10)`` adapted the same way (stride 1 in the stem
   and in the first stride-2 block), same recipe (SGD, Nesterov momentum, cross-entropy), same
   batch of random 32x32 images. Target: ratio >= 0.95.
2. For the ``cpu`` preset's model: eager (contiguous) vs channels-last vs ``torch.compile``,
   to justify the preset's choice.

Run: ``python benchmarks/bench_train.py`` (``--quick`` for fewer repeats). Writes
``benchmarks/results/bench_train.json`` with provenance.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

from manifold_lab.fileio import atomic_write_text
from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
from manifold_lab.records import provenance
from manifold_lab.train import PRESETS

OUT = Path(__file__).resolve().parent / "results" / "bench_train.json"


def torchvision_cifar() -> nn.Module:
    model = torchvision.models.mobilenet_v2(num_classes=10)
    model.features[0][0].stride = (1, 1)
    model.features[2].conv[1][0].stride = (1, 1)  # first stride-2 block's depthwise conv
    return model


def make_step(
    model: nn.Module, batch: int, channels_last: bool = False, compile: bool = False
) -> Callable[[], None]:
    model.train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    forward = torch.compile(model) if compile else model
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=g)

    def step() -> None:
        loss = nn.functional.cross_entropy(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def interleaved(steps: dict[str, Callable[[], None]], batch: int, rounds: int, per_round: int):
    for fn in steps.values():  # warm-up (and compilation)
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            for _ in range(per_round):
                fn()
            times[name].append(time.perf_counter() - t0)
    return {k: batch * per_round / statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.per_round = 2, 1
    torch.manual_seed(0)
    ours = MobileNetV2(MobileNetV2Config(num_classes=10, stem="cifar"))
    theirs = torchvision_cifar()
    n_ours = sum(p.numel() for p in ours.parameters())
    n_theirs = sum(p.numel() for p in theirs.parameters())
    assert n_ours == n_theirs, (n_ours, n_theirs)
    first = interleaved(
        {
            "manifold_lab": make_step(ours, args.batch),
            "torchvision": make_step(theirs, args.batch),
        },
        args.batch,
        args.rounds,
        args.per_round,
    )
    ratio = first["manifold_lab"] / first["torchvision"]
    print(
        f"default CIFAR MobileNetV2, batch {args.batch}: ours {first['manifold_lab']:.1f} img/s, "
        f"torchvision {first['torchvision']:.1f} img/s, ratio {ratio:.3f}",
        flush=True,
    )

    preset = PRESETS["cpu"].model
    variants = {
        "eager": make_step(MobileNetV2(preset), 128),
        "channels_last": make_step(MobileNetV2(preset), 128, channels_last=True),
    }
    compile_error = None
    if not args.no_compile:
        try:
            variants["compile"] = make_step(MobileNetV2(preset), 128, compile=True)
            variants["compile"]()
        except Exception as exc:  # inductor needs a C++ compiler; report, do not fail
            compile_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            variants.pop("compile", None)
    second = interleaved(variants, 128, args.rounds, args.per_round)
    for name, value in second.items():
        print(f"cpu preset model, {name}: {value:.1f} img/s ({value / second['eager']:.2f}x)")
    if compile_error:
        print(f"torch.compile failed: {compile_error}")
    record = {
        "provenance": provenance(vars(args)),
        "default_cifar": {
            "images_per_second": first,
            "ratio_ours_over_torchvision": ratio,
            "parameters": n_ours,
            "batch": args.batch,
        },
        "cpu_preset_model": {
            "config": preset.to_dict(),
            "images_per_second": second,
            "speedup_over_eager": {k: v / second["eager"] for k, v in second.items()},
            "compile_error": compile_error,
            "batch": 128,
        },
        "threads": torch.get_num_threads(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(OUT, json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
