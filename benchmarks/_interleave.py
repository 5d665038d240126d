"""Interleaved timing against the plain forward pass, shared by the probe benchmarks.

Every configuration runs on every batch, in an order rotated from batch to batch; each ratio
is the median over batches of (configuration time / forward-pass time of the same batch), for
wall-clock and process CPU time, so a loaded machine shows in the forward pass's own time
rather than in the ratio. Warm-up batches, interleaved the same way, run until the probe's
pixel reservoirs are full and are reported separately (``fill_phase``).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from manifold_lab.probing import ActivationProbe

Series = dict[str, list[float]]


def time_call(fn: Callable[[torch.Tensor], Any], x: torch.Tensor) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn(x)`` without autograd."""
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        fn(x)
    return time.perf_counter() - wall, time.process_time() - cpu


def fill_batches(probe: ActivationProbe, batch: int) -> int:
    """Batches until every pixel reservoir of ``probe`` is full (the smallest feature map
    fills last), counted from the blocks it has seen."""
    blocks = probe.result(samples=False).blocks
    smallest = min(b.n_bottleneck_pixels // b.n_images for b in blocks)
    return math.ceil(probe.pixel_samples / (batch * smallest))


def ratios(t: Series) -> dict[str, float]:
    """Per configuration, the median of its time over the forward pass's of the same batch."""
    return {
        n: statistics.median(a / f for a, f in zip(v, t["forward"], strict=True))
        for n, v in t.items()
    }


def run_interleaved(
    calls: Mapping[str, Callable[[torch.Tensor], Any]],
    *,
    batch: int,
    n_batches: int,
    gen: torch.Generator,
    reservoirs: ActivationProbe,
) -> dict[str, Any]:
    """Time ``calls`` (``"forward"`` among them) interleaved on noise batches of ``batch``.

    Warm-up rounds run until the pixel reservoirs of ``reservoirs`` (one of the probes the
    calls use) are full, then ``n_batches`` timed rounds. Returns the series of both phases,
    their ratios, the number of warm-up rounds and the load averages.
    """
    names = list(calls)
    fill_wall: Series = {n: [] for n in names}
    fill_cpu: Series = {n: [] for n in names}
    wall: Series = {n: [] for n in names}
    cpu: Series = {n: [] for n in names}
    load_before = [round(v, 2) for v in os.getloadavg()]

    def one_round(r: int, tw: Series, tc: Series, label: str) -> None:
        x = torch.randn(batch, 3, 224, 224, generator=gen)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            w, c = time_call(calls[name], x)
            tw[name].append(w)
            tc[name].append(c)
        line = "  ".join(f"{n} {tw[n][-1]:5.2f}/{tc[n][-1]:5.2f}" for n in names)
        print(f"{label} wall/cpu s: {line}", flush=True)

    one_round(0, fill_wall, fill_cpu, "fill 1")
    n_fill = fill_batches(reservoirs, batch)
    for r in range(1, n_fill):
        one_round(r, fill_wall, fill_cpu, f"fill {r + 1}/{n_fill}")
    for r in range(n_batches):
        one_round(n_fill + r, wall, cpu, f"batch {r + 1}/{n_batches}")
    return {
        "wall": wall,
        "cpu": cpu,
        "wall_ratio": ratios(wall),
        "cpu_ratio": ratios(cpu),
        "fill_wall": fill_wall,
        "fill_cpu": fill_cpu,
        "fill_ratio": {"wall": ratios(fill_wall), "cpu": ratios(fill_cpu)},
        "n_fill": n_fill,
        "forward_median_s": statistics.median(wall["forward"]),
        "load_before": load_before,
    }


def timing_record(t: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The JSON record of :func:`run_interleaved`'s result, with ``extra`` fields after the
    ratios; the load average is read again now, at the end of the run."""

    def rounded(series: Series) -> dict[str, list[float]]:
        return {n: [round(v, 4) for v in vs] for n, vs in series.items()}

    def rounded_ratio(r: Mapping[str, float]) -> dict[str, float]:
        return {n: round(v, 4) for n, v in r.items()}

    return {
        "wall_s": rounded(t["wall"]),
        "cpu_s": rounded(t["cpu"]),
        "forward_median_s": round(t["forward_median_s"], 4),
        "ratio_to_forward_wall": rounded_ratio(t["wall_ratio"]),
        "ratio_to_forward_cpu": rounded_ratio(t["cpu_ratio"]),
        **extra,
        "fill_phase": {
            "batches": t["n_fill"],
            "wall_s": rounded(t["fill_wall"]),
            "cpu_s": rounded(t["fill_cpu"]),
            "ratio_to_forward_wall": rounded_ratio(t["fill_ratio"]["wall"]),
            "ratio_to_forward_cpu": rounded_ratio(t["fill_ratio"]["cpu"]),
        },
        "load_average_before": t["load_before"],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }
