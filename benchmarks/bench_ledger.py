"""Benchmark: what the probe with the information-loss ledger costs on top of the forward pass.

Network: MobileNetV2 1.0 (seeded random weights) at 224x224, batches of 16 images (fixed
random tensors), eval mode, ``torch.no_grad``. As in ``bench_probe.py`` the configurations
are interleaved batch by batch in a rotating order, and each ratio is the median over
batches of (time of the configuration / time of the plain forward pass on the same batch),
wall clock and process CPU time, so a loaded machine shows in the forward pass's own time:

``forward``
    the plain forward pass;
``probe``
    :class:`~manifold_lab.probing.ActivationProbe` at its defaults (samples, rank check on
    64 pixels per block and batch, stop after the last block);
``probe+ledger``
    the same forward pass also through a :class:`~manifold_lab.probing.LedgerCollector` at
    the ledger's defaults (4,096 sampled pixels per block, 64 fitting pixels per image);
``ledger``
    the collector alone (it stops after the last block too).

Warm-up batches, interleaved the same way, run until the 4,096-pixel reservoirs of the probe
and the ledger are full (6 batches: the 7x7 blocks fill last); their ratios are reported
separately (``fill_phase``) and the timed batches measure the steady state of a long run.

The ledger's measurement after the last batch (inverting, decoding and bootstrapping 4,096
pixels per block, once per run whatever the number of images) is timed separately and
reported in forward batches.

Run: ``python benchmarks/bench_ledger.py`` (``--quick`` for fewer batches).
Writes ``benchmarks/results/bench_ledger.json`` with provenance.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from manifold_lab.fileio import atomic_write_text
from manifold_lab.mobilenet import mobilenet_v2
from manifold_lab.probing import ActivationProbe, LedgerCollector
from manifold_lab.records import provenance

NAMES = ("forward", "probe", "probe+ledger", "ledger")


def time_batch(model: torch.nn.Module, name: str, tools: dict[str, Any], x: torch.Tensor) -> tuple:
    """(wall seconds, process CPU seconds) of one batch."""
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        if name == "forward":
            model(x)
        elif name == "probe":
            with tools["probe"] as p:
                p.run(x)
        elif name == "ledger":
            with tools["ledger"] as c:
                c.run(x)
        else:  # the collector first, so its hooks run before the probe stops the pass
            with tools["both_ledger"], tools["both_probe"] as p:
                p.run(x)
    return time.perf_counter() - wall, time.process_time() - cpu


def time_all(threads: int, n_batches: int, batch: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    print(f"\n== torch threads: {threads} ==")
    model = mobilenet_v2(seed=0).eval()
    gen = torch.Generator().manual_seed(0)
    tools = {
        "probe": ActivationProbe(model, stop_early=True),
        "ledger": LedgerCollector(model, stop_early=True),
        "both_probe": ActivationProbe(model, stop_early=True),
        "both_ledger": LedgerCollector(model),
    }
    load_before = [round(v, 2) for v in os.getloadavg()]
    fill_wall: dict[str, list[float]] = {n: [] for n in NAMES}
    fill_cpu: dict[str, list[float]] = {n: [] for n in NAMES}
    wall: dict[str, list[float]] = {n: [] for n in NAMES}
    cpu: dict[str, list[float]] = {n: [] for n in NAMES}

    def one_round(r: int, tw: dict, tc: dict, label: str) -> None:
        x = torch.randn(batch, 3, 224, 224, generator=gen)
        order = NAMES[r % len(NAMES) :] + NAMES[: r % len(NAMES)]
        for name in order:
            w, c = time_batch(model, name, tools, x)
            tw[name].append(w)
            tc[name].append(c)
        line = "  ".join(f"{n} {tw[n][-1]:5.2f}/{tc[n][-1]:5.2f}" for n in NAMES)
        print(f"{label} wall/cpu s: {line}", flush=True)

    # warm-up, interleaved too, until the 4,096-pixel reservoirs of the probe and the ledger
    # are full (the smallest feature map fills last); then the steady state is timed
    one_round(0, fill_wall, fill_cpu, "fill 1")
    blocks = tools["probe"].result(samples=False).blocks
    smallest = min(b.n_bottleneck_pixels // b.n_images for b in blocks)
    n_fill = math.ceil(tools["probe"].pixel_samples / (batch * smallest))
    for r in range(1, n_fill):
        one_round(r, fill_wall, fill_cpu, f"fill {r + 1}/{n_fill}")
    for r in range(n_batches):
        one_round(n_fill + r, wall, cpu, f"batch {r + 1}/{n_batches}")

    def ratios(t: dict[str, list[float]]) -> dict[str, float]:
        return {
            n: statistics.median(a / f for a, f in zip(t[n], t["forward"], strict=True))
            for n in NAMES
        }

    wall_ratio, cpu_ratio = ratios(wall), ratios(cpu)
    fill_ratio = {"wall": ratios(fill_wall), "cpu": ratios(fill_cpu)}
    base = statistics.median(wall["forward"])
    start = time.perf_counter()
    tools["both_ledger"].result(n_boot=1000, device="cpu")
    finish = time.perf_counter() - start
    print(f"forward pass: median {base:.2f} s per batch of {batch} at 224x224")
    for name in NAMES[1:]:
        print(f"{name:<13}/ forward: wall {wall_ratio[name]:.3f}, CPU {cpu_ratio[name]:.3f}")
    print(f"ledger measurement at the end: {finish:.1f} s = {finish / base:.1f} forward batches")
    print(
        f"fill phase ({n_fill} warm-up batches): probe+ledger / forward: wall "
        f"{fill_ratio['wall']['probe+ledger']:.3f}, CPU {fill_ratio['cpu']['probe+ledger']:.3f}"
    )
    load_after = [round(v, 2) for v in os.getloadavg()]
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}")
    return {
        "wall_s": {n: [round(t, 4) for t in v] for n, v in wall.items()},
        "cpu_s": {n: [round(t, 4) for t in v] for n, v in cpu.items()},
        "forward_median_s": round(base, 4),
        "ratio_to_forward_wall": {n: round(v, 4) for n, v in wall_ratio.items()},
        "ratio_to_forward_cpu": {n: round(v, 4) for n, v in cpu_ratio.items()},
        "ledger_result_s": round(finish, 2),
        "ledger_result_in_forward_batches": round(finish / base, 2),
        "probe_ledger_within_2_5x": bool(wall_ratio["probe+ledger"] <= 2.5),
        "fill_phase": {
            "batches": n_fill,
            "wall_s": {n: [round(t, 4) for t in v] for n, v in fill_wall.items()},
            "cpu_s": {n: [round(t, 4) for t in v] for n, v in fill_cpu.items()},
            "ratio_to_forward_wall": {k: round(v, 4) for k, v in fill_ratio["wall"].items()},
            "ratio_to_forward_cpu": {k: round(v, 4) for k, v in fill_ratio["cpu"].items()},
        },
        "load_average_before": load_before,
        "load_average_after": load_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches")
    parser.add_argument("--threads", default="1,2", help="torch thread counts, e.g. 1,2")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results/bench_ledger.json"))
    args = parser.parse_args()
    n_batches, batch = (3, 16) if args.quick else (8, 16)
    start = time.perf_counter()
    runs = {t: time_all(int(t), n_batches, batch) for t in args.threads.split(",")}
    rec = provenance(
        {"n_batches": n_batches, "batch": batch, "threads": args.threads, "quick": args.quick},
        timing_s=round(time.perf_counter() - start, 1),
    )
    atomic_write_text(args.out, json.dumps({"provenance": rec, "runs": runs}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
