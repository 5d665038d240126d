"""Benchmark: the library's sweep against a plain NumPy loop (the usual Figure 1 code).

Both compute, in float64, the pseudo-inverse reconstruction of the ReLU-embedded spiral and
its normalised error for every (width, seed): spiral with 10,000 points, widths 2..64,
100 seeds, Gaussian T without bias. The baseline loops over widths and seeds and calls
``np.linalg.pinv`` each time, as public reproductions of Figure 1 do. The script checks that
both give the same numbers, prints both times and the ratio, and writes a JSON record with
provenance to ``benchmarks/results/bench_sweep.json``.

The library is timed three times (median; the first run is recorded too); it uses no
``torch.compile``. With ``algorithm="auto"`` the sweep takes the exact angular-sector
algorithm (the spiral spans 2 dimensions and there is no bias); ``algorithm="dense"``
evaluates every point and is timed too.

Run: ``python benchmarks/bench_sweep.py`` (``--quick`` for a smaller problem).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

import manifold_lab as ml
from manifold_lab.fileio import atomic_write_text


def baseline(X: np.ndarray, widths: list[int], seeds: list[int]) -> np.ndarray:
    """Plain NumPy: one matrix, one pinv and one reconstruction per (width, seed)."""
    tv = ((X - X.mean(0)) ** 2).sum(1).mean()
    out = np.empty((len(widths), len(seeds)))
    for i, n in enumerate(widths):
        for j, s in enumerate(seeds):
            # the library's matrix for (width n, seed s): first n rows of seed s's stream
            T = np.random.default_rng([s, 0]).standard_normal((n, X.shape[1]))
            Y = np.maximum(X @ T.T, 0.0)
            X_hat = Y @ np.linalg.pinv(T).T
            out[i, j] = ((X_hat - X) ** 2).sum(1).mean() / tv
    return out


def library(X: np.ndarray, widths: list[int], seeds: list[int], algorithm: str) -> np.ndarray:
    df = ml.sweep(
        X,
        widths=widths,
        seeds=seeds,
        activation="relu",
        method="pinv",
        metrics=["nmse"],
        dtype="float64",
        device="cpu",
        algorithm=algorithm,
        progress=False,
    )
    return df.pivot(index="width", columns="seed", values="nmse").loc[widths, seeds].to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 points and 20 seeds")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_sweep.json"))
    args = ap.parse_args()
    n_points, n_seeds = (2000, 20) if args.quick else (10_000, 100)
    X, _ = ml.make_spiral(n_points)
    widths, seeds = list(range(2, 65)), list(range(n_seeds))

    t0 = time.perf_counter()
    ref = baseline(X, widths, seeds)
    t_base = time.perf_counter() - t0
    timings = {"numpy_loop_s": t_base}
    ok = {}
    for algorithm in ("auto", "dense"):
        runs = []
        for _ in range(3):  # the library is fast enough to time three times: median
            t0 = time.perf_counter()
            got = library(X, widths, seeds, algorithm)
            runs.append(time.perf_counter() - t0)
        timings[f"library_{algorithm}_first_s"] = runs[0]
        timings[f"library_{algorithm}_s"] = float(np.median(runs))
        ok[algorithm] = bool(np.allclose(got, ref, rtol=1e-9, atol=1e-12))
        if not ok[algorithm]:
            raise SystemExit(f"algorithm={algorithm}: results differ from the NumPy loop")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = {
        "problem": {
            "manifold": "spiral",
            "n_points": n_points,
            "widths": "2:64",
            "n_seeds": n_seeds,
            "activation": "relu",
            "method": "pinv",
            "dtype": "float64",
        },
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
        "speedup_auto": round(t_base / timings["library_auto_s"], 1),
        "speedup_dense": round(t_base / timings["library_dense_s"], 2),
        "allclose": ok,
        "peak_rss_mb": round(peak_mb, 1),
        "provenance": ml.provenance({"script": "benchmarks/bench_sweep.py", "quick": args.quick}),
    }
    print(f"problem: spiral, {n_points} points, widths 2..64, {n_seeds} seeds, ReLU, pinv, float64")
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"NumPy loop (np.linalg.pinv per case): {t_base:8.3f} s  (one run)")
    print("manifold_lab: median of three runs (no torch.compile, nothing to warm up)")
    print(
        f"manifold_lab.sweep (auto = sector):    {timings['library_auto_s']:8.3f} s"
        f"   speed-up {record['speedup_auto']}x"
    )
    print(
        f"manifold_lab.sweep (dense):            {timings['library_dense_s']:8.3f} s"
        f"   speed-up {record['speedup_dense']}x"
    )
    print(f"same numbers (allclose rtol=1e-9): {ok}; peak RSS {peak_mb:.0f} MB")
    if not args.quick:
        atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
