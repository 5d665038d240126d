"""Benchmark: the sweep's cost estimate against the measured time of the sweep.

``manifold_lab.sweep_cost.estimate_sweep_seconds`` calibrates on this machine once (timed
small calls of the sweep's engine) and scales by the work of the sweep. This script runs
five sweeps of very different cost and kind (the exact sector algorithm, the dense engine
with neighbour metrics, a 3-D span with its eigen-decompositions, the affine decoder, the
Jacobian and activation patterns in 10 dimensions), from well under a second to about a
minute, times each (the estimate is made first, in the same process and load), and reports
measured / estimated. The acceptance bar is every ratio within a factor of 2.

Run: ``python benchmarks/bench_sweep_cost.py`` (``--quick`` runs the settings at a smaller
scale). Writes ``benchmarks/results/bench_sweep_cost.json`` with provenance.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import manifold_lab as ml
from manifold_lab.fileio import atomic_write_text
from manifold_lab.sweep_cost import calibrate, estimate_sweep_seconds

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
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer seeds (a smoke run)")
    ap.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "bench_sweep_cost.json")
    )
    args = ap.parse_args()
    model = calibrate()
    print(f"calibration: {model.calibration_s:.2f} s on {model.device}")
    for kind, value in model.seconds_per_unit.items():
        print(f"  {kind:>10}: {value:.3e} s/unit")
    rows = []
    for name, setting in SETTINGS.items():
        kw = dict(setting)
        if args.quick:
            kw["seeds"] = "0:1"
        estimate = estimate_sweep_seconds(**kw)
        t0 = time.perf_counter()
        ml.sweep(progress=False, **kw)
        measured = time.perf_counter() - t0
        ratio = measured / estimate
        row = {"setting": name, **kw, "estimated_s": estimate, "measured_s": measured}
        rows.append({**row, "ratio": ratio})
        print(
            f"{name:>36}: estimated {estimate:7.2f} s, measured {measured:7.2f} s, "
            f"measured/estimated {ratio:.2f}"
        )
    worst = max(max(r["ratio"], 1 / r["ratio"]) for r in rows)
    print(f"worst factor: {worst:.2f} ({'within' if worst <= 2 else 'NOT within'} 2)")
    record = {
        "provenance": ml.provenance(
            {"script": "benchmarks/bench_sweep_cost.py", "quick": args.quick}
        ),
        "calibration": {
            "seconds": model.calibration_s,
            "device": model.device,
            "seconds_per_unit": model.seconds_per_unit,
        },
        "rows": rows,
        "worst_factor": worst,
    }
    if not args.quick:
        atomic_write_text(args.out, json.dumps(record, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
