"""Benchmark: the sweep's cost estimate against the measured time of the sweep.

``manifold_lab.sweep_cost.estimate_sweep_seconds`` calibrates on this machine once (timed
small calls of the sweep's engine) and scales by the work of the sweep. This script runs
eight sweeps of very different cost and kind (the exact sector algorithm, the dense engine
with neighbour metrics, a 3-D span with its eigen-decompositions, the affine decoder, the
Jacobian and activation patterns in 10 dimensions), from well under a second to about a
minute, times each (the estimate is made first, in the same process and load), and reports
measured / estimated. On a shared machine the load of other processes can change the
speed of everything several times over between settings, so by default the cost model is
calibrated again before each setting (``--no-recalibrate``: once, as the explorer does).
Stacks of several layers and the explorer's largest uploads (100,000
points in 100 dimensions, 20,000 in 1,000) are among them; the 100,000 x 100 upload is also
run in parts as the sweep page runs it, against the estimate the page shows. The
acceptance bar is every ratio within a factor of 1.5, and the page's run within its
estimate.

Run: ``python benchmarks/bench_sweep_cost.py`` (``--quick`` runs every setting with two
seeds, and writes nothing). Writes ``benchmarks/results/bench_sweep_cost.json`` with provenance.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import manifold_lab as ml
from manifold_lab.fileio import atomic_write_text
from manifold_lab.sweep_cost import calibrate, estimate_sweep

UPLOAD = "upload of 100,000 x 100"
"""The setting also run as the sweep page runs it: in parts of its widths, each part
preparing the points again, against the estimate the page shows
(:meth:`~manifold_lab.sweep_cost.SweepEstimate.in_parts`)."""

SETTINGS: dict[str, dict[str, Any]] = {
    "sector, tiny": {
        "manifold": "spiral",
        "widths": "2:10",
        "seeds": "0:4",
        "n_samples": 200,
        "metrics": ["nmse", "invertible_fraction"],
    },
    "explorer default (neighbours)": {
        "manifold": "spiral",
        "widths": "2:40",
        "seeds": "0:19",
        "n_samples": 500,
        "metrics": ["nmse", "invertible_fraction", "collapsed_fraction"],
    },
    "sphere, k = 3, two methods": {
        "manifold": "sphere",
        "widths": "3:30",
        "seeds": "0:9",
        "n_samples": 2000,
        "method": ["pinv", "lemma2"],
        "metrics": ["nmse", "invertible_fraction"],
    },
    "torus, affine decoder, kNN": {
        "manifold": "torus",
        "widths": "2:64",
        "seeds": "0:4",
        "n_samples": 1000,
        "method": "lstsq",
        "metrics": ["nmse", "knn_recall"],
    },
    "ball in R^10, Jacobian and patterns": {
        "manifold": "ball",
        "manifold_kwargs": {"dim": 3, "ambient_dim": 10},
        "widths": "3:48",
        "seeds": "0:19",
        "n_samples": 3000,
        "metrics": ["nmse", "jacobian_min_sv", "n_patterns"],
    },
    "stack of 1, 2 and 4 layers": {
        "manifold": "spiral",
        "widths": "2:24",
        "seeds": "0:9",
        "n_samples": 1000,
        "depth": [1, 2, 4],
        "metrics": ["nmse", "invertible_fraction", "collapsed_fraction"],
    },
    # the explorer's uploads: the sweep page's metrics, 3 widths x 2 seeds (a named
    # generator stands in for the uploaded array: the sweep treats both alike)
    UPLOAD: {
        "manifold": "ball",
        "manifold_kwargs": {"dim": 3, "ambient_dim": 100},
        "widths": [3, 4, 5],
        "seeds": [0, 1],
        "n_samples": 100_000,
        "metrics": ["nmse", "invertible_fraction", "collapsed_fraction"],
    },
    "upload of 20,000 x 1,000": {
        "manifold": "ball",
        "manifold_kwargs": {"dim": 3, "ambient_dim": 1000},
        "widths": [3, 4, 5],
        "seeds": [0, 1],
        "n_samples": 20_000,
        "metrics": ["nmse", "invertible_fraction", "collapsed_fraction"],
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer seeds (a smoke run)")
    ap.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "bench_sweep_cost.json")
    )
    ap.add_argument(
        "--recalibrate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="calibrate again before each setting (default), so that a change in the load of "
        "a shared machine between settings is not counted against the model",
    )
    args = ap.parse_args()
    calibrations: list[dict[str, float]] = []
    model = calibrate()
    print(f"calibration: {model.calibration_s:.2f} s on {model.device}")
    for kind, value in model.seconds_per_unit.items():
        print(f"  {kind:>10}: {value:.3e} s/unit")
    rows = []
    for name, setting in SETTINGS.items():
        kw = dict(setting)
        if args.quick:
            kw["seeds"] = "0:1"
        if args.recalibrate:  # the machine's load now, not at the start
            calibrations.append(calibrate(refresh=True).seconds_per_unit)
        est = estimate_sweep(**kw)
        estimate = est.seconds
        t0 = time.perf_counter()
        ml.sweep(progress=False, **kw)
        measured = time.perf_counter() - t0
        ratio = measured / estimate
        row = {"setting": name, **kw, "estimated_s": estimate, "measured_s": measured}
        rows.append({**row, "ratio": ratio, "prepare_estimated_s": est.prepare_s})
        print(
            f"{name:>36}: estimated {estimate:7.2f} s, measured {measured:7.2f} s, "
            f"measured/estimated {ratio:.2f}"
        )
        if name == UPLOAD:  # as the sweep page runs it, against the estimate it shows
            widths = list(kw["widths"])
            n = est.n_parts(len(widths))
            size = -(-len(widths) // n)
            t0 = time.perf_counter()
            for i in range(0, len(widths), size):
                ml.sweep(progress=False, **{**kw, "widths": widths[i : i + size]})
            paged = time.perf_counter() - t0
            page = {"parts": n, "estimated_s": est.in_parts(n), "measured_s": paged}
            rows[-1]["sweep_page"] = page
            print(
                f"{'... in ' + str(n) + ' part(s), as the page':>36}: estimated "
                f"{page['estimated_s']:7.2f} s, measured {paged:7.2f} s "
                f"({'within' if paged <= page['estimated_s'] else 'OVER'} the estimate shown)"
            )
    worst = max(max(r["ratio"], 1 / r["ratio"]) for r in rows)
    print(f"worst factor: {worst:.2f} ({'within' if worst <= 1.5 else 'NOT within'} 1.5)")
    record = {
        "provenance": ml.provenance(
            {"script": "benchmarks/bench_sweep_cost.py", "quick": args.quick}
        ),
        "calibration": {
            "seconds": model.calibration_s,
            "device": model.device,
            "seconds_per_unit": model.seconds_per_unit,
        },
        "recalibrated_per_setting": args.recalibrate,
        "calibrations": calibrations,
        "rows": rows,
        "worst_factor": worst,
        "sweep_page_within_estimate": all(
            r["sweep_page"]["measured_s"] <= r["sweep_page"]["estimated_s"]
            for r in rows
            if "sweep_page" in r
        ),
    }
    if not args.quick:
        atomic_write_text(args.out, json.dumps(record, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
