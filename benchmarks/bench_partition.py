"""Benchmark: the partition view's redraw on a width change, and the width movie's HTML.

Case: the spiral, 2,000 points, seed 0, no bias, for ReLU, leaky ReLU and ReLU6 (two lines
per row), every width 2..32. For each width the redraw is what the Manifold lab page does
after computing the case: the layer's exact linear regions
(:func:`~manifold_lab.partition.case_partition`), their figure with the collapsed pairs
(:func:`~manifold_lab.plots.plot_partition`) and its JSON for the browser. The baseline,
measured in the same run on the same case, is the page's main figure
(:func:`~manifold_lab.plots.plot_case` and its JSON); each row gives the median of
``--repeats`` timings of both, interleaved, and their ratio, with the 1-minute load average
at the time (the machine is shared, so absolute times move with the load and the ratio much
less). The case computation itself (:func:`~manifold_lab.run_case`, shared by both figures)
is timed once per width for reference.

The movie: 30 widths (2..31) of the partition view, end to end from the points to the HTML,
as the page's "Width as a movie" builds it: the regions and collapsed pairs of every width
(:func:`~manifold_lab.partition.partition_cases`: the points prepared once, no
reconstruction or other metric), the animated figure (:func:`plot_width_animation`) and
``fig.to_html`` (the page's HTML download), each part timed, the median of ``--movie-repeats``
runs per activation; the plot_case baseline is timed next to it for the ratio. For reference
the run once computes the 30 full cases the movie was built from before (``run_case`` per
width, ReLU only).

Everything runs once untimed first (imports, thread pools), as in the explorer's warm
server.

Targets (issue 18): redraw under 300 ms up to width 32; the HTML animation of 30 widths built
in under 5 s.

Run: ``python benchmarks/bench_partition.py`` (``--quick``: widths 2, 8, 32, 2 repeats, one
movie run). Writes ``benchmarks/results/bench_partition.json`` with provenance.
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
from manifold_lab.partition import case_partition, partition_cases
from manifold_lab.plots import plot_case, plot_partition
from manifold_lab.plots.animation import plot_width_animation
from manifold_lab.records import provenance

N_POINTS = 2000
TARGET_REDRAW_S = 0.3
TARGET_MOVIE_S = 5.0
ACTIVATIONS = ("relu", "leaky_relu", "relu6")
MOVIE_WIDTHS = list(range(2, 32))


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


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _redraw(case: Any) -> None:
    plot_partition(case_partition(case), case=case).to_json()


def _baseline(case: Any) -> None:
    plot_case(case).to_json()


def redraw_rows(widths: list[int], repeats: int) -> list[dict[str, Any]]:
    """One row per (activation, width): partition redraw and baseline, medians and ratio."""
    rows = []
    for activation in ACTIVATIONS:
        for w in widths:
            t0 = time.perf_counter()
            case = _case(w, activation)
            case_s = time.perf_counter() - t0
            part, base = [], []
            for _ in range(repeats):  # interleaved, so a load change hits both
                part.append(_timed(lambda case=case: _redraw(case)))
                base.append(_timed(lambda case=case: _baseline(case)))
            p, b = statistics.median(part), statistics.median(base)
            partition = case_partition(case)
            rows.append(
                {
                    "activation": activation,
                    "width": w,
                    "regions": len(partition.polygons),
                    "collapsed": int(case.collapsed.sum()),
                    "partition_redraw_s": round(p, 4),
                    "partition_redraw_max_s": round(max(part), 4),
                    "baseline_plot_case_s": round(b, 4),
                    "ratio": round(p / b, 2),
                    "run_case_s": round(case_s, 4),
                    "under_target": p < TARGET_REDRAW_S,
                    "load_1min": _load(),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def _movie_once(activation: str) -> dict[str, Any]:
    """One end-to-end movie: partitions and pairs, figure, HTML; each part timed."""
    t0 = time.perf_counter()
    cases = partition_cases(
        "spiral",
        MOVIE_WIDTHS,
        0,
        activation=activation,
        n_samples=N_POINTS,
        manifold_seed=0,
        max_neighbor_points=None,
    )
    t1 = time.perf_counter()
    fig = plot_width_animation(cases, view="partition")
    t2 = time.perf_counter()
    html = fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False)
    t3 = time.perf_counter()
    return {
        "cases_s": t1 - t0,
        "figure_s": t2 - t1,
        "html_s": t3 - t2,
        "total_s": t3 - t0,
        "html_mb": len(html) / 1e6,
    }


def movie_rows(repeats: int) -> list[dict[str, Any]]:
    """The partition movie of 30 widths per activation, end to end, with its parts."""
    base_case = _case(MOVIE_WIDTHS[-1], "relu")
    rows = []
    for activation in ACTIVATIONS:
        runs, base = [], []
        for _ in range(repeats):
            runs.append(_movie_once(activation))
            base.append(_timed(lambda: _baseline(base_case)))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        b = statistics.median(base)
        rows.append(
            {
                "activation": activation,
                "frames": len(MOVIE_WIDTHS),
                "partition_cases_s": round(med["cases_s"], 3),
                "figure_s": round(med["figure_s"], 3),
                "to_html_s": round(med["html_s"], 3),
                "total_s": round(med["total_s"], 3),
                "total_max_s": round(max(r["total_s"] for r in runs), 3),
                "html_mb": round(med["html_mb"], 2),
                "baseline_plot_case_s": round(b, 4),
                "ratio_to_baseline": round(med["total_s"] / b, 1),
                "under_target": med["total_s"] < TARGET_MOVIE_S,
                "load_1min": _load(),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def full_cases_reference() -> dict[str, Any]:
    """The 30 full cases the movie was built from before (run_case per width), ReLU."""
    t0 = time.perf_counter()
    for w in MOVIE_WIDTHS:
        _case(w, "relu")
    row = {
        "activation": "relu",
        "frames": len(MOVIE_WIDTHS),
        "run_case_30_widths_s": round(time.perf_counter() - t0, 2),
        "load_1min": _load(),
    }
    print(json.dumps(row), flush=True)
    return row


def warm_up() -> None:
    """Everything once, untimed: imports, thread pools and caches of a running server."""
    case = _case(3, "relu6")
    _redraw(case)
    _baseline(case)
    small = partition_cases("spiral", [2, 3], activation="relu6", n_samples=300)
    plot_width_animation(small).to_html(include_plotlyjs=True, full_html=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="widths 2, 8, 32; 2 repeats")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--movie-repeats", type=int, default=3)
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results/bench_partition.json")
    )
    args = parser.parse_args()
    widths = [2, 8, 32] if args.quick else list(range(2, 33))
    repeats = 2 if args.quick else args.repeats
    movie_repeats = 1 if args.quick else args.movie_repeats
    start = time.perf_counter()
    warm_up()
    rows = redraw_rows(widths, repeats)
    movie = movie_rows(movie_repeats)
    reference = full_cases_reference()
    rec = provenance(
        {
            "n_points": N_POINTS,
            "activations": list(ACTIVATIONS),
            "widths": widths,
            "repeats": repeats,
            "movie_widths": MOVIE_WIDTHS,
            "movie_repeats": movie_repeats,
            "quick": args.quick,
            "target_redraw_s": TARGET_REDRAW_S,
            "target_movie_s": TARGET_MOVIE_S,
            "cpu_count": os.cpu_count(),
        },
        timing_s=round(time.perf_counter() - start, 1),
    )
    summary = {
        "redraw_max_median_s": max(r["partition_redraw_s"] for r in rows),
        "redraw_all_under_target": all(r["under_target"] for r in rows),
        "movie_max_median_s": max(m["total_s"] for m in movie),
        "movie_all_under_target": all(m["under_target"] for m in movie),
    }
    print(json.dumps(summary))
    out = {
        "provenance": rec,
        "summary": summary,
        "redraw": rows,
        "movie": movie,
        "movie_full_cases_reference": reference,
    }
    atomic_write_text(args.out, json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
