"""Benchmark: what the activation probe costs on top of MobileNetV2's forward pass.

Network: MobileNetV2 1.0 (the builder's default, torchvision's architecture, seeded random
weights) at 224x224, batches of 16 images (fixed random tensors; the cost does not depend on
the pixel values), eval mode, ``torch.no_grad``. The machine is shared, so the configurations
are interleaved batch by batch (each batch goes through every configuration, in a rotating
order) and each ratio is the median over batches of (time of the configuration / time of the
plain forward pass on the same batch), for wall-clock time and for the process's CPU time.
Each probe works on its own copy of the network (same weights) and keeps its hooks installed
for the whole run, as :func:`~manifold_lab.probing.probe` does. The reservoirs fill during
the first batches (the 4,096-pixel reservoirs of the 7x7 blocks take 6 batches of 16
images), copying most of what they are offered; after that only the few newcomers that
beat a kept priority are copied.
So the script first runs warm-up rounds, interleaved the same way, until every pixel
reservoir is full, and reports their ratios separately (``fill_phase``); the timed batches
measure the steady state of a long run:

``forward``
    the plain forward pass, batch by batch;
``figure7``
    :func:`manifold_lab.probing.probe` with the Figure 7 statistics only (histograms of
    positive, informative and clipped channels per pixel, per-channel firing counts,
    bottleneck negatives), no samples, no rank check, whole network (``stop_early=False``);
``samples``
    plus the default reservoirs (4,096 pixel vectors and 1,024 pooled image vectors per
    block, for the bottleneck and the expansion);
``rank``
    Figure 7 statistics plus the Lemma 2 rank check on 64 pixels per block and batch
    (float32 Cholesky certificates with a proven rounding margin, float64 for the pixels
    they do not certify: the decisions of the float64 eigenvalue test), no samples;
``default``
    what ``probe()`` does by default: samples, rank check, stop after the last block, the
    probe's own work on one thread (``cpu_threads=1``);
``default_all_threads``
    the same with the probe's own work on torch's thread count (``cpu_threads=None``).

Memory: two fresh processes probe 64 and 256 images (generated on the fly from a seed, so the
input takes no memory), with reservoirs that are full after 64 images (1,024 pixels, 32 images
per reservoir); the script reports their peak RSS and the bytes held by the probe's state.

Run: ``python benchmarks/bench_probe.py`` (``--quick`` for fewer images and repeats).
Writes ``benchmarks/results/bench_probe.json`` with provenance.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _interleave import run_interleaved, timing_record

from manifold_lab.fileio import atomic_write_text
from manifold_lab.mobilenet import mobilenet_v2
from manifold_lab.probing import ActivationProbe
from manifold_lab.records import provenance

CONFIGS: dict[str, dict[str, Any] | None] = {
    "forward": None,
    "figure7": {"pixel_samples": 0, "image_samples": 0, "rank_pixels_per_batch": 0},
    "samples": {"rank_pixels_per_batch": 0},
    "rank": {"pixel_samples": 0, "image_samples": 0, "rank_pixels_per_batch": 64},
    "default": {"stop_early": True},  # samples + rank 64, stop after the last block
    # the same with the probe's own work on torch's thread count instead of one thread
    "default_all_threads": {"stop_early": True, "cpu_threads": None},
}


class NoiseImages(Dataset):
    """``n`` images (3, size, size) drawn from a per-index seed: no memory for the inputs."""

    def __init__(self, n: int, size: int = 224) -> None:
        self.n, self.size = n, size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        g = torch.Generator().manual_seed(i)
        return torch.randn(3, self.size, self.size, generator=g), -1


def make_probes(model: torch.nn.Module) -> dict[str, ActivationProbe | None]:
    """One probe per configuration, each on its own copy of ``model`` (same weights), so that
    every probe keeps its hooks installed for the whole run, as :func:`probe` does, while the
    plain forward pass runs on a model without hooks."""
    return {
        name: None if cfg is None else ActivationProbe(copy.deepcopy(model), **cfg)
        for name, cfg in CONFIGS.items()
    }


def _vm_hwm_mb() -> float:
    """Peak resident memory of this process image (``VmHWM``; unlike ``ru_maxrss`` it does
    not inherit the parent's peak across fork and exec)."""
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(n_images: int) -> None:
    """Probe ``n_images`` noise images and print peak memory and state bytes as JSON."""
    torch.set_num_threads(1)
    model = mobilenet_v2(seed=0).eval()
    loader = torch.utils.data.DataLoader(NoiseImages(n_images), batch_size=16)
    with torch.no_grad():
        model(torch.zeros(16, 3, 224, 224))  # the forward pass's own peak, for reference
    before = _vm_hwm_mb()
    p = ActivationProbe(model, pixel_samples=1024, image_samples=32, rank_pixels_per_batch=64)
    with p, torch.no_grad():
        for x, _ in loader:
            p.run(x)
    res = p.result()
    out = {
        "n_images": res.metadata["n_images"],
        "peak_rss_mb": round(_vm_hwm_mb(), 1),
        "peak_rss_after_one_plain_forward_mb": round(before, 1),
        "state_bytes": p.state_nbytes(),
    }
    print(json.dumps(out))


def run_child(n_images: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--memory-child", str(n_images)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_all(threads: int, n_batches: int, batch: int) -> dict[str, Any]:
    """Time every configuration with ``threads`` intra-op threads for the network."""
    torch.set_num_threads(threads)
    print(f"\n== torch threads: {threads} (the probe's own work: 1 thread) ==")
    model = mobilenet_v2(seed=0).eval()
    probes = make_probes(model)
    calls = {name: model if p is None else p.run for name, p in probes.items()}
    default = probes["default"]
    assert default is not None
    with contextlib.ExitStack() as stack:
        for p in probes.values():
            if p is not None:
                stack.enter_context(p)
        t = run_interleaved(
            calls,
            batch=batch,
            n_batches=n_batches,
            gen=torch.Generator().manual_seed(0),
            reservoirs=default,
        )
    wall, cpu, wall_ratio, cpu_ratio = t["wall"], t["cpu"], t["wall_ratio"], t["cpu_ratio"]
    rank_increment = {
        kind: statistics.median(
            (r - f7) / f for r, f7, f in zip(s["rank"], s["figure7"], s["forward"], strict=True)
        )
        for kind, s in (("wall", wall), ("cpu", cpu))
    }
    print(f"forward pass: median {t['forward_median_s']:.2f} s per batch of {batch} at 224x224")
    for name in list(CONFIGS)[1:]:
        print(f"{name:<8} / forward: wall {wall_ratio[name]:.3f}, CPU time {cpu_ratio[name]:.3f}")
    print(
        f"rank check alone adds {rank_increment['wall']:.3f} (wall) / "
        f"{rank_increment['cpu']:.3f} (CPU) x the forward pass (64 pixels per block and batch "
        f"of {batch})"
    )
    fill = t["fill_ratio"]
    print(
        f"fill phase ({t['n_fill']} warm-up batches): default / forward: wall "
        f"{fill['wall']['default']:.3f}, CPU time {fill['cpu']['default']:.3f}"
    )
    target = wall_ratio["figure7"] <= 1.3
    print(f"Figure 7 statistics within 1.3x of the forward pass (wall): {target}")
    default_ok = max(wall_ratio["default"], cpu_ratio["default"]) <= 1.5
    print(f"default probe within 1.5x of the forward pass (wall and CPU): {default_ok}")
    record = timing_record(
        t,
        rank_check_increment_ratio={k: round(v, 4) for k, v in rank_increment.items()},
        figure7_within_1_3x=bool(target),
        default_within_1_5x=bool(default_ok),
    )
    print(
        f"load average (1, 5, 15 min) before {record['load_average_before']}, "
        f"after {record['load_average_after']}"
    )
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats")
    parser.add_argument(
        "--threads", default="1,2", help="torch thread counts to time, e.g. 1,2 (default)"
    )
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results/bench_probe.json"))
    args = parser.parse_args()
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return

    n_batches, batch = (4, 16) if args.quick else (10, 16)
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    timing = {f"threads_{t}": time_all(t, n_batches, batch) for t in threads}

    n_small, n_large = (32, 96) if args.quick else (64, 256)
    small, large = run_child(n_small), run_child(n_large)
    print(
        f"\nmemory: {small['n_images']} images: peak RSS {small['peak_rss_mb']:.0f} MB, state "
        f"{small['state_bytes'] / 2**20:.1f} MiB; {large['n_images']} images: peak RSS "
        f"{large['peak_rss_mb']:.0f} MB, state {large['state_bytes'] / 2**20:.1f} MiB"
    )
    record = {
        "problem": {
            "model": "MobileNetV2 1.0 (builder default = torchvision architecture), seed 0",
            "resolution": 224,
            "batch_size": batch,
            "timed_batches_per_config": n_batches,
            "threads": threads,
            "configs": {k: v for k, v in CONFIGS.items()},
            "method": "configs interleaved batch by batch (order rotated); ratios are the "
            "median over batches of (config time / forward time of the same batch); warm-up "
            "batches (interleaved too) until every pixel reservoir is full, reported as "
            "fill_phase; the timed batches are the steady state",
        },
        "timing": timing,
        "memory": {
            "settings": "pixel_samples=1024, image_samples=32, rank 64/batch, batch 16, "
            "1 thread, fresh process per size; peak = VmHWM of /proc/self/status",
            f"{n_small}_images": small,
            f"{n_large}_images": large,
            "peak_rss_growth_mb": round(large["peak_rss_mb"] - small["peak_rss_mb"], 1),
            "state_bytes_equal": small["state_bytes"] == large["state_bytes"],
        },
        "provenance": provenance(
            {"script": "benchmarks/bench_probe.py", "quick": args.quick, "threads": threads}
        ),
    }
    path = atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
