"""Benchmark: how much of a CPU forward pass is the memory allocator, and what that does to the
probe's ratio.

On Linux, glibc's ``malloc`` hands every allocation above its mmap threshold (at most 32 MiB)
back to the kernel when it is freed, so each large activation tensor of a forward pass is
mapped again, and its pages are faulted in and zeroed by the kernel, at every batch. Batches
of 16 images at 224x224 in MobileNetV2 make many such tensors (the first expansion alone is
77 MB). The script runs the same measurement in two fresh processes, one with glibc's
defaults and one where freed memory stays in the process (``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` set to 4 GiB; jemalloc or tcmalloc have the same effect), with 1
and 2 intra-op threads:

``forward``
    MobileNetV2 1.0 (seeded random weights), batches of 16 noise images at 224x224, eval mode;
``default``
    :class:`~manifold_lab.probing.ActivationProbe` with its defaults (samples, rank check,
    ``stop_early=True``) on a copy of the network, hooks installed for the whole run.

The two are interleaved batch by batch after 7 warm-up batches (the probe's pixel
reservoirs are full after 6); each ratio is the median over the timed batches of (probe time
/ forward time of the same batch). The script also counts the minor page faults per batch.

Each setting runs in 3 fresh processes (interleaved with the others); the JSON keeps every
process's numbers and their median and range.

Run: ``python benchmarks/bench_allocator.py`` (``--quick``: fewer batches, one process each). Writes
``benchmarks/results/bench_allocator.json`` with provenance.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from manifold_lab.fileio import atomic_write_text
from manifold_lab.mobilenet import mobilenet_v2
from manifold_lab.probing import ActivationProbe
from manifold_lab.records import provenance

KEEP_FREED = {"MALLOC_MMAP_THRESHOLD_": str(1 << 32), "MALLOC_TRIM_THRESHOLD_": str(1 << 32)}
WARMUP = 7


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def child(threads: int, batches: int) -> dict[str, Any]:
    """Interleave the plain forward pass and the default probe; return times and faults."""
    torch.set_num_threads(threads)
    model = mobilenet_v2(seed=0).eval()
    probe = ActivationProbe(copy.deepcopy(model), stop_early=True)
    gen = torch.Generator().manual_seed(0)
    times: dict[str, list[float]] = {"forward": [], "default": []}
    faults: dict[str, list[int]] = {"forward": [], "default": []}
    with probe, torch.no_grad():
        for i in range(WARMUP + batches):
            x = torch.randn(16, 3, 224, 224, generator=gen)
            order = ["forward", "default"] if i % 2 == 0 else ["default", "forward"]
            for name in order:
                f0, t0 = _faults(), time.perf_counter()
                if name == "forward":
                    model(x)
                else:
                    probe.run(x)
                t, f = time.perf_counter() - t0, _faults() - f0
                if i >= WARMUP:
                    times[name].append(round(t, 4))
                    faults[name].append(f)
    ratio = statistics.median(
        d / f for d, f in zip(times["default"], times["forward"], strict=True)
    )
    return {
        "wall_s": times,
        "minor_page_faults": faults,
        "forward_median_s": round(statistics.median(times["forward"]), 4),
        "default_median_s": round(statistics.median(times["default"]), 4),
        "ratio_default_to_forward": round(ratio, 4),
        "probe_overhead_median_s": round(
            statistics.median(
                d - f for d, f in zip(times["default"], times["forward"], strict=True)
            ),
            4,
        ),
    }


def run_child(threads: int, batches: int, keep_freed: bool) -> dict[str, Any]:
    env = dict(os.environ)
    for key in KEEP_FREED:
        env.pop(key, None)
    if keep_freed:
        env.update(KEEP_FREED)
    cmd = [sys.executable, __file__, "--child", str(threads), "--batches", str(batches)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def combine(processes: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians (and ranges) over the fresh processes of one setting."""
    out: dict[str, Any] = {"processes": processes}
    for field in (
        "forward_median_s",
        "default_median_s",
        "ratio_default_to_forward",
        "probe_overhead_median_s",
    ):
        values = [p[field] for p in processes]
        out[field] = round(statistics.median(values), 4)
        out[f"{field}_range"] = [min(values), max(values)]
    faults = [f for p in processes for f in p["minor_page_faults"]["forward"]]
    out["forward_page_faults_median"] = statistics.median(faults)
    return out


def summarise(runs: dict[str, Any]) -> dict[str, Any]:
    """Per thread count: how much faster the forward pass is with freed memory kept."""
    out: dict[str, Any] = {}
    for threads in (1, 2):
        plain = runs[f"threads_{threads}_glibc_default"]
        kept = runs[f"threads_{threads}_keep_freed"]
        out[f"threads_{threads}"] = {
            "forward_speedup": round(plain["forward_median_s"] / kept["forward_median_s"], 3),
            "probed_run_speedup": round(plain["default_median_s"] / kept["default_median_s"], 3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches and processes")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, default=None, help=argparse.SUPPRESS)
    out_default = Path(__file__).parent / "results/bench_allocator.json"
    parser.add_argument("--out", default=str(out_default))
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.batches)))
        return
    batches, repeats = (4, 1) if args.quick else (8, 3)
    keys = [
        (
            threads,
            keep_freed,
            f"threads_{threads}_{'keep_freed' if keep_freed else 'glibc_default'}",
        )
        for threads in (1, 2)
        for keep_freed in (False, True)
    ]
    processes: dict[str, list[dict[str, Any]]] = {key: [] for _, _, key in keys}
    load_before = [round(v, 2) for v in os.getloadavg()]
    for repeat in range(repeats):
        for threads, keep_freed, key in keys:
            r = run_child(threads, batches, keep_freed)
            processes[key].append(r)
            print(
                f"process {repeat + 1}/{repeats} {key:<28} forward {r['forward_median_s']:.3f} s "
                f"({statistics.median(r['minor_page_faults']['forward']):,.0f} faults), "
                f"default probe {r['default_median_s']:.3f} s, "
                f"ratio {r['ratio_default_to_forward']:.2f}, "
                f"probe's own time {r['probe_overhead_median_s']:.3f} s",
                flush=True,
            )
    runs = {key: combine(found) for key, found in processes.items()}
    result = {
        "summary": summarise(runs),
        "problem": {
            "model": "MobileNetV2 1.0 (builder default), seed 0, eval mode",
            "batch": "16 noise images at 224x224",
            "warmup_batches": WARMUP,
            "timed_batches": batches,
            "processes_per_setting": repeats,
            "keep_freed_environment": KEEP_FREED,
            "method": "forward and default probe interleaved batch by batch in a fresh "
            "process per setting and repeat (settings interleaved); per process the medians "
            "over the timed batches, per setting the median and range over processes",
        },
        "runs": runs,
        "load_average_before": load_before,
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "provenance": provenance({"script": "benchmarks/bench_allocator.py", "quick": args.quick}),
    }
    atomic_write_text(Path(args.out), json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
