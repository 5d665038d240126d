"""Benchmark: training images/s of the CIFAR-10 MobileNetV2 shapes considered for the `cpu` preset.

Times full SGD steps (forward, backward, Nesterov update; channels-last, batch 128, random
32x32 inputs) of each candidate model, in one process, after a warm-up, and reports images/s
and the ratio to the chosen `cpu` preset model (width 0.5, stride-1 stem) measured in the same
run. Candidates: widths 0.5, 0.75 and 1.0 with the stride-1 stem; widths 0.35 and 0.5 with the
CIFAR stem (stride 1 also in the first stride-2 stage).

Run: ``python benchmarks/bench_cpu_preset.py [--threads 2] [--seconds 12]``. Writes
``benchmarks/results/bench_cpu_preset.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from manifold_lab.fileio import atomic_write_text
from manifold_lab.mobilenet import MobileNetV2Config, mobilenet_v2
from manifold_lab.records import provenance

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "bench_cpu_preset.json"
CANDIDATES = [
    (0.5, "stride1"),
    (0.75, "stride1"),
    (1.0, "stride1"),
    (0.35, "cifar"),
    (0.5, "cifar"),
]


def images_per_second(width: float, stem: str, batch: int, seconds: float) -> float:
    """Training throughput of one candidate (full steps, after 5 warm-up steps)."""
    config = MobileNetV2Config(num_classes=10, width_mult=width, stem=stem, dropout=0.0)
    model = mobilenet_v2(config, seed=0).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=gen).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=gen)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        steps += 1
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for width, stem in CANDIDATES:
        rate = images_per_second(width, stem, args.batch, args.seconds)
        rows.append({"width_mult": width, "stem": stem, "images_per_second": rate})
    base = rows[0]["images_per_second"]
    for row in rows:
        row["slowdown_vs_cpu_preset"] = base / row["images_per_second"]
        print(
            f"width {row['width_mult']:<4} stem {row['stem']:<7} "
            f"{row['images_per_second']:6.0f} images/s  {row['slowdown_vs_cpu_preset']:.2f}x slower"
        )
    record = {"provenance": provenance(vars(args)), "candidates": rows}
    atomic_write_text(OUT, json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
