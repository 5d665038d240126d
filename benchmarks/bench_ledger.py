"""Benchmark: what the probe with the information-loss ledger costs on top of the forward pass.

Network: MobileNetV2 1.0 (seeded random weights) at 224x224, batches of 16 images (fixed
random tensors), eval mode, ``torch.no_grad``. As in ``bench_probe.py`` the configurations
are interleaved batch by batch in a rotating order (``benchmarks/_interleave.py``), and each
ratio is the median over batches of (time of the configuration / time of the plain forward
pass on the same batch), wall clock and process CPU time, so a loaded machine shows in the
forward pass's own time. Each configuration runs on its own copy of the network with its
hooks installed for the whole run:

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
import copy
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _interleave import run_interleaved, timing_record

from manifold_lab.fileio import atomic_write_text
from manifold_lab.mobilenet import mobilenet_v2
from manifold_lab.probing import ActivationProbe, LedgerCollector
from manifold_lab.records import provenance

NAMES = ("forward", "probe", "probe+ledger", "ledger")


def time_all(threads: int, n_batches: int, batch: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    print(f"\n== torch threads: {threads} ==")
    model = mobilenet_v2(seed=0).eval()
    # each configuration on its own copy of the network, its hooks installed for the whole
    # run; with both, the collector's hooks come first, so that they run before the probe
    # stops the pass
    both = copy.deepcopy(model)
    probe = ActivationProbe(copy.deepcopy(model), stop_early=True)
    ledger = LedgerCollector(copy.deepcopy(model), stop_early=True)
    both_ledger = LedgerCollector(both)
    both_probe = ActivationProbe(both, stop_early=True)
    calls: dict[str, Callable[[torch.Tensor], Any]] = {
        "forward": model,
        "probe": probe.run,
        "probe+ledger": both_probe.run,
        "ledger": ledger.run,
    }
    assert list(calls) == list(NAMES)
    with probe, ledger, both_ledger, both_probe:
        t = run_interleaved(
            calls,
            batch=batch,
            n_batches=n_batches,
            gen=torch.Generator().manual_seed(0),
            reservoirs=probe,
        )
    wall_ratio, cpu_ratio, base = t["wall_ratio"], t["cpu_ratio"], t["forward_median_s"]
    start = time.perf_counter()
    both_ledger.result(n_boot=1000, device="cpu")
    finish = time.perf_counter() - start
    print(f"forward pass: median {base:.2f} s per batch of {batch} at 224x224")
    for name in NAMES[1:]:
        print(f"{name:<13}/ forward: wall {wall_ratio[name]:.3f}, CPU {cpu_ratio[name]:.3f}")
    print(f"ledger measurement at the end: {finish:.1f} s = {finish / base:.1f} forward batches")
    fill = t["fill_ratio"]
    print(
        f"fill phase ({t['n_fill']} warm-up batches): probe+ledger / forward: wall "
        f"{fill['wall']['probe+ledger']:.3f}, CPU {fill['cpu']['probe+ledger']:.3f}"
    )
    record = timing_record(
        t,
        ledger_result_s=round(finish, 2),
        ledger_result_in_forward_batches=round(finish / base, 2),
        probe_ledger_within_2_5x=bool(wall_ratio["probe+ledger"] <= 2.5),
    )
    print(
        f"load average (1, 5, 15 min) before {record['load_average_before']}, "
        f"after {record['load_average_after']}"
    )
    return record


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
