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

The ledger's measurement after the last batch (inverting, decoding and bootstrapping 4,096
pixels per block, once per run whatever the number of images) is timed separately and
reported in forward batches.

Run: ``python benchmarks/bench_ledger.py`` (``--quick`` for fewer batches).
Writes ``benchmarks/results/bench_ledger.json`` with provenance.
"""

from __future__ import annotations

import argparse
import json
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
    batches = [torch.randn(batch, 3, 224, 224, generator=gen) for _ in range(n_batches)]
    tools = {
        "probe": ActivationProbe(model, stop_early=True),
        "ledger": LedgerCollector(model, stop_early=True),
        "both_probe": ActivationProbe(model, stop_early=True),
        "both_ledger": LedgerCollector(model),
    }
    for name in NAMES:  # warm-up (reservoirs fill on the first batch)
        time_batch(model, name, tools, batches[0])
    wall: dict[str, list[float]] = {n: [] for n in NAMES}
    cpu: dict[str, list[float]] = {n: [] for n in NAMES}
    for r, x in enumerate(batches):
        order = NAMES[r % len(NAMES) :] + NAMES[: r % len(NAMES)]
        for name in order:
            w, c = time_batch(model, name, tools, x)
            wall[name].append(w)
            cpu[name].append(c)
        line = "  ".join(f"{n} {wall[n][-1]:5.2f}/{cpu[n][-1]:5.2f}" for n in NAMES)
        print(f"batch {r + 1}/{n_batches} wall/cpu s: {line}", flush=True)

    def ratios(t: dict[str, list[float]]) -> dict[str, float]:
        return {
            n: statistics.median(a / f for a, f in zip(t[n], t["forward"], strict=True))
            for n in NAMES
        }

    wall_ratio, cpu_ratio = ratios(wall), ratios(cpu)
    base = statistics.median(wall["forward"])
    start = time.perf_counter()
    tools["both_ledger"].result(n_boot=1000, device="cpu")
    finish = time.perf_counter() - start
    print(f"forward pass: median {base:.2f} s per batch of {batch} at 224x224")
    for name in NAMES[1:]:
        print(f"{name:<13}/ forward: wall {wall_ratio[name]:.3f}, CPU {cpu_ratio[name]:.3f}")
    print(f"ledger measurement at the end: {finish:.1f} s = {finish / base:.1f} forward batches")
    return {
        "wall_s": {n: [round(t, 4) for t in v] for n, v in wall.items()},
        "cpu_s": {n: [round(t, 4) for t in v] for n, v in cpu.items()},
        "forward_median_s": round(base, 4),
        "ratio_to_forward_wall": {n: round(v, 4) for n, v in wall_ratio.items()},
        "ratio_to_forward_cpu": {n: round(v, 4) for n, v in cpu_ratio.items()},
        "ledger_result_s": round(finish, 2),
        "ledger_result_in_forward_batches": round(finish / base, 2),
        "probe_ledger_within_2_5x": bool(wall_ratio["probe+ledger"] <= 2.5),
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
