"""Benchmark: the partition view's redraw on a width change, and the width movie's HTML.

Case: the spiral, 2,000 points, seed 0, no bias, ReLU and ReLU6, widths 2..32. For each
width the redraw is what the Manifold lab page does after computing the case: the layer's
exact linear regions (:func:`~manifold_lab.partition.case_partition`), their figure
(:func:`~manifold_lab.plots.plot_partition`) and its JSON for the browser. The baseline,
measured in the same run on the same case, is the page's main figure
(:func:`~manifold_lab.plots.plot_case` and its JSON); each row gives the median of
``--repeats`` timings of both, interleaved, and their ratio, with the 1-minute load average
at the time (the machine is shared, so absolute times move with the load and the ratio much
less). The case computation itself (:func:`~manifold_lab.run_case`, shared by both figures)
is timed once per width for reference.

The movie: 30 widths (2..31) of the partition view, :func:`plot_width_animation` plus
``fig.to_html`` (the page's HTML download), from cases already computed; the time to compute
the 30 cases is given separately.

Targets (issue 18): redraw under 300 ms up to width 32; the HTML animation of 30 widths built
in under 5 s.

Run: ``python benchmarks/bench_partition.py`` (``--quick``: widths 2, 8, 32 and 2 repeats).
Writes ``benchmarks/results/bench_partition.json`` with provenance.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import manifold_lab as ml
from manifold_lab.fileio import atomic_write_text
from manifold_lab.partition import case_partition
from manifold_lab.plots import plot_case, plot_partition
from manifold_lab.plots.animation import plot_width_animation
from manifold_lab.records import provenance

N_POINTS = 2000
TARGET_REDRAW_S = 0.3
TARGET_MOVIE_S = 5.0


def _case(width: int, activation: str) -> Any:
    return ml.run_case(
        "spiral",
        width=width,
        seed=0,
        activation=activation,
        method="lstsq",
        n_samples=N_POINTS,
        manifold_seed=0,
        max_neighbor_points=None,
    )


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def redraw_rows(widths: list[int], repeats: int) -> list[dict[str, Any]]:
    """One row per (activation, width): partition redraw and baseline, medians and ratio."""
    rows = []
    for activation in ("relu", "relu6"):
        for w in widths:
            t0 = time.perf_counter()
            case = _case(w, activation)
            case_s = time.perf_counter() - t0

            def partition(case: Any = case) -> None:
                plot_partition(case_partition(case), case=case).to_json()

            def baseline(case: Any = case) -> None:
                plot_case(case).to_json()

            part, base = [], []
            for _ in range(repeats):  # interleaved, so a load change hits both
                part.append(_timed(partition))
                base.append(_timed(baseline))
            p, b = statistics.median(part), statistics.median(base)
            rows.append(
                {
                    "activation": activation,
                    "width": w,
                    "partition_redraw_s": round(p, 4),
                    "baseline_plot_case_s": round(b, 4),
                    "ratio": round(p / b, 2),
                    "run_case_s": round(case_s, 4),
                    "under_target": p < TARGET_REDRAW_S,
                    "load_1min": round(os.getloadavg()[0], 2),
                }
            )
            print(json.dumps(rows[-1]))
    return rows


def movie_row() -> dict[str, Any]:
    """The partition movie of 30 widths: cases, then figure and HTML."""
    widths = list(range(2, 32))
    t0 = time.perf_counter()
    cases = [_case(w, "relu") for w in widths]
    cases_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fig = plot_width_animation(cases, view="partition")
    html = fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False)
    build_s = time.perf_counter() - t0
    row = {
        "frames": len(widths),
        "cases_s": round(cases_s, 2),
        "figure_and_html_s": round(build_s, 2),
        "html_mb": round(len(html) / 1e6, 2),
        "under_target": build_s < TARGET_MOVIE_S,
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(row))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="widths 2, 8, 32; 2 repeats")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results/bench_partition.json")
    )
    args = parser.parse_args()
    widths = [2, 8, 32] if args.quick else [2, 3, 5, 8, 12, 16, 24, 32]
    repeats = 2 if args.quick else args.repeats
    start = time.perf_counter()
    rows = redraw_rows(widths, repeats)
    movie = movie_row()
    rec = provenance(
        {
            "n_points": N_POINTS,
            "widths": widths,
            "repeats": repeats,
            "quick": args.quick,
            "target_redraw_s": TARGET_REDRAW_S,
            "target_movie_s": TARGET_MOVIE_S,
            "cpu_count": os.cpu_count(),
        },
        timing_s=round(time.perf_counter() - start, 1),
    )
    out = {"provenance": rec, "redraw": rows, "movie": movie}
    atomic_write_text(args.out, json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
