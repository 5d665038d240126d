"""Benchmark: the library's TwoNN and MLE against scikit-dimension's, on 20,000 x 512 features.

Two data sets of 20,000 points in R^512, both generated from a seed:

manifold12
    A smooth 12-dimensional manifold: ``t ~ U[0, 1]^12``, ``x = sin(t A + phase)`` with
    ``A`` a 12 x 512 Gaussian matrix and ``phase ~ U[0, 2 pi)^512`` (intrinsic dimension 12).
relu_features
    ReLU-like features with duplicates: ``relu(x W / sqrt(512) - 0.3)`` of the manifold
    above (``W`` 512 x 512 Gaussian), then 10% of the rows set to zero and 20% replaced by
    copies of other rows, as rectified features often have. scikit-dimension keeps the
    duplicates; the library drops them (``drop_duplicates=True``, its default), and is also
    timed with ``drop_duplicates=False`` (every row searched, the same work as skdim).

Both libraries run in this process on the same arrays: ``skdim.id.TwoNN()`` and
``skdim.id.MLE()`` (defaults: ``discard_fraction=0.1``; ``k=20`` neighbours) against
``manifold_lab``'s ``TwoNN()`` and ``MLE(k=20)`` on the CPU in float64 (the default) and in
float32. Every timing is repeated ``--repeats`` times (default 2, interleaved) and the median
is reported. Peak memory is the largest resident-set growth during the call, sampled every
10 ms from ``/proc/self/statm`` (glibc's mmap threshold is fixed at 1 MiB so that memory
freed by one call does not hide the next call's; allocations shorter than 10 ms can be
missed, so it is a lower bound).

scikit-dimension is first timed on 5,000 points; if that predicts more than 3 minutes at the
full size (time grows as n^2), it is not run at the full size and the JSON says so.

The limit: a bare exact neighbour search in torch on the same data and dtype, timed in the
same run: ``torch.cdist`` of 2,048-row slabs against all rows, then ``topk`` of the ``k + 1``
smallest (the point itself included), ``k = 2`` for TwoNN and ``k = 20`` for MLE (the
numpy-to-torch conversion included, as in ours). ``limit_ratio_*`` is our time over the
limit's (< 1.3 is the goal; < 1 is possible because ours computes each pair once).

Run: ``python benchmarks/bench_id.py`` (``--quick`` for 5,000 points and one repeat,
``--no-skdim`` to time only ours against the limit).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import manifold_lab as ml
from manifold_lab.fileio import atomic_write_text
from manifold_lab.intrinsic_dimension import MLE, TwoNN

N_FEATURES = 512
TRUE_DIM = 12
SKDIM_BUDGET_S = 180.0
SMALL_N = 5000
DATASET_DESCRIPTIONS = {
    "manifold12": "t ~ U[0,1]^12, x = sin(t A + phase), A 12x512 Gaussian, phase ~ U[0, 2pi)",
    "relu_features": "relu(x W / sqrt(512) - 0.3) of manifold12, W 512x512 Gaussian; then 10% "
    "of the rows set to zero and 20% replaced by copies of other rows",
}


def make_manifold12(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = rng.random((n, TRUE_DIM))
    A = rng.standard_normal((TRUE_DIM, N_FEATURES))
    phase = rng.uniform(0.0, 2 * np.pi, N_FEATURES)
    return np.sin(t @ A + phase)


def make_relu_features(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng([seed, 1])
    X = make_manifold12(n, seed)
    W = rng.standard_normal((N_FEATURES, N_FEATURES)) / math.sqrt(N_FEATURES)
    F = np.maximum(X @ W - 0.3, 0.0)
    rows = rng.permutation(n)
    n_zero, n_dup = n // 10, n // 5
    F[rows[:n_zero]] = 0.0
    F[rows[n_zero : n_zero + n_dup]] = F[rng.choice(rows[n_zero + n_dup :], n_dup)]
    return F


def _libc() -> Any:
    """glibc with a fixed mmap threshold, so that freed large blocks go back to the OS.

    Otherwise glibc raises the threshold after the first large free, keeps later blocks in
    its heap, and the resident-set growth of a later call would read as zero.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD = 1 MiB
        return libc
    except (OSError, AttributeError):
        return None


LIBC = _libc()


class PeakRSS:
    """Largest growth of the resident set while the block runs, sampled every 10 ms."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self._stop = threading.Event()

    def _rss(self) -> int:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * self.page

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.01)

    def __enter__(self) -> PeakRSS:
        if LIBC is not None:
            LIBC.malloc_trim(0)
        self.base = self._rss()
        self.peak = self.base
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def timed(fn: Callable[[], float]) -> tuple[float, float, float]:
    """Run ``fn`` once: (estimate, seconds, peak RSS growth in MB)."""
    with PeakRSS() as mem, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skdim warns about the duplicates it drops
        t0 = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - t0
    return float(value), seconds, mem.growth_mb


def finite_or_none(x: float) -> float | None:
    return round(x, 6) if math.isfinite(x) else None


LIMIT_SLAB = 2048


def limit_search(X: np.ndarray, k: int, dtype: torch.dtype) -> float:
    """The limit: bare ``torch.cdist`` + ``topk`` of the ``k + 1`` nearest, in slabs of rows."""
    T = torch.from_numpy(X).to(dtype)
    last = 0.0
    for i0 in range(0, T.shape[0], LIMIT_SLAB):
        d = torch.cdist(T[i0 : i0 + LIMIT_SLAB], T)
        last = float(torch.topk(d, k + 1, dim=1, largest=False).values[-1, -1])
    return last


def limits(X: np.ndarray) -> dict[str, Callable[[], float]]:
    return {
        f"limit_k{k}_{name}": (lambda k=k, dt=dt: limit_search(X, k, dt))
        for k in (2, 20)
        for name, dt in (("float64", torch.float64), ("float32", torch.float32))
    }


def contenders(
    X: np.ndarray, use_skdim: bool, keep_duplicates: bool = False
) -> dict[str, Callable[[], float]]:
    out: dict[str, Callable[[], float]] = {
        **limits(X),
        "ours_twonn_float64": lambda: TwoNN(device="cpu").fit(X).dimension_,
        "ours_twonn_float32": lambda: TwoNN(device="cpu", dtype="float32").fit(X).dimension_,
        "ours_mle_float64": lambda: MLE(k=20, device="cpu").fit(X).dimension_,
        "ours_mle_float32": lambda: MLE(k=20, device="cpu", dtype="float32").fit(X).dimension_,
    }
    if keep_duplicates:  # the same work as skdim: every row searched
        out["ours_twonn_float64_keep_duplicates"] = lambda: (
            TwoNN(drop_duplicates=False, device="cpu").fit(X).dimension_
        )
        out["ours_mle_float64_keep_duplicates"] = lambda: (
            MLE(k=20, drop_duplicates=False, device="cpu").fit(X).dimension_
        )
    if use_skdim:
        import skdim

        out["skdim_twonn"] = lambda: skdim.id.TwoNN().fit(X).dimension_
        out["skdim_mle"] = lambda: skdim.id.MLE().fit(X).dimension_
    return out


def run_dataset(name: str, X: np.ndarray, repeats: int, skdim_ok: bool) -> dict[str, Any]:
    runs: dict[str, list[tuple[float, float, float]]] = {}
    has_duplicates = np.unique(X, axis=0).shape[0] < X.shape[0]
    for rep in range(repeats):
        for key, fn in contenders(X, skdim_ok, has_duplicates).items():
            runs.setdefault(key, []).append(timed(fn))
            est, sec, mb = runs[key][-1]
            print(f"  [{name} n={len(X)} rep {rep}] {key:20s} {est:9.4f} {sec:8.2f} s {mb:7.0f} MB")
    res: dict[str, Any] = {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1])}
    for key, rr in runs.items():
        res[key] = {
            "estimate": finite_or_none(rr[0][0]),
            "time_s": round(float(np.median([r[1] for r in rr])), 3),
            "times_s": [round(r[1], 3) for r in rr],
            "peak_rss_growth_mb": round(max(r[2] for r in rr), 1),
        }
    for est, k in (("twonn", 2), ("mle", 20)):
        for prec in ("float64", "float32"):
            limit = res[f"limit_k{k}_{prec}"]["time_s"]
            res[f"limit_ratio_{est}_{prec}"] = round(res[f"ours_{est}_{prec}"]["time_s"] / limit, 3)
    if skdim_ok:
        for est in ("twonn", "mle"):
            sk = res[f"skdim_{est}"]
            for prec in ("float64", "float32", "float64_keep_duplicates"):
                if f"ours_{est}_{prec}" in res:
                    ours = res[f"ours_{est}_{prec}"]
                    res[f"speed_ratio_{est}_{prec}"] = round(sk["time_s"] / ours["time_s"], 2)
            a, b = res[f"ours_{est}_float64"]["estimate"], sk["estimate"]
            res[f"relative_difference_{est}"] = (
                round(abs(a - b) / abs(b), 6) if a is not None and b not in (None, 0) else None
            )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5,000 points and one repeat")
    ap.add_argument("--repeats", type=int, default=None, help="timings per contender")
    ap.add_argument("--no-skdim", action="store_true", help="time only ours and the limit")
    ap.add_argument(
        "--out",
        default=None,
        help="default: results/bench_id.json (results/bench_id_limit.json with --no-skdim)",
    )
    args = ap.parse_args()
    results_dir = Path(__file__).parent / "results"
    if args.out is None:
        args.out = str(results_dir / ("bench_id_limit.json" if args.no_skdim else "bench_id.json"))
    n = SMALL_N if args.quick else 20_000
    repeats = args.repeats or (1 if args.quick else 2)
    try:
        import skdim

        skdim_version = getattr(skdim, "__version__", "unknown")
    except ImportError:
        raise SystemExit("scikit-dimension is needed: pip install scikit-dimension") from None
    print(f"torch threads: {torch.get_num_threads()}, CPU: {ml.provenance()['hardware']['cpu']}")

    datasets = {"manifold12": make_manifold12, "relu_features": make_relu_features}
    results: dict[str, Any] = {}
    notes: list[str] = []
    for name, make in datasets.items():
        X = make(n)
        entry: dict[str, Any] = {
            "n_zero_rows": int((~X.any(axis=1)).sum()),
            "n_distinct_rows": int(np.unique(X, axis=0).shape[0]),
        }
        if entry["n_distinct_rows"] < n:
            notes.append(
                f"{name}: {n - entry['n_distinct_rows']} of {n} rows are duplicates. skdim keeps "
                "them (its TwoNN drops points with r1 = 0 after the search, its MLE returns 0 or "
                "NaN), ours drops them before the search by default, so it also searches fewer "
                "points; the *_keep_duplicates rows (drop_duplicates=False) search every row, "
                "the same work as skdim"
            )
        if args.no_skdim:
            entry["full"] = run_dataset(name, X, repeats, False)
            results[name] = entry
            continue
        # small-n timing of skdim predicts the full-size time (quadratic in n)
        small = X[:SMALL_N] if n > SMALL_N else X
        sk_small = {est: timed(contenders(small, True)[f"skdim_{est}"]) for est in ("twonn", "mle")}
        predicted = {est: sk_small[est][1] * (n / small.shape[0]) ** 2 for est in sk_small}
        skdim_ok = max(predicted.values()) <= SKDIM_BUDGET_S
        entry["skdim_predicted_time_s"] = {k: round(v, 1) for k, v in predicted.items()}
        if not skdim_ok:
            notes.append(
                f"{name}: skdim predicted {max(predicted.values()):.0f} s at n={n} (more than "
                f"{SKDIM_BUDGET_S:.0f} s), so it was compared at n={small.shape[0]} only"
            )
            entry["small"] = run_dataset(name, small, repeats, True)
        entry["full"] = run_dataset(name, X, repeats, skdim_ok)
        results[name] = entry

    record = {
        "problem": {
            "n_samples": n,
            "n_features": N_FEATURES,
            "true_dimension": TRUE_DIM,
            "datasets": DATASET_DESCRIPTIONS,
            "ours": "manifold_lab TwoNN() / MLE(k=20), device='cpu', drop_duplicates=True",
            "skdim": f"scikit-dimension {skdim_version}: skdim.id.TwoNN() / skdim.id.MLE()",
            "repeats": repeats,
            "timing": "median wall time of the repeats, interleaved, same process",
            "speed_ratio": "skdim time / our time (> 1: ours is faster)",
            "limit": "bare torch.cdist (2048-row slabs) + topk(k + 1), same data and dtype",
            "limit_ratio": "our time / the limit's time (< 1.3: the goal)",
        },
        "results": results,
        "notes": notes,
        "provenance": ml.provenance(
            {"script": "benchmarks/bench_id.py", "quick": args.quick, "repeats": repeats}
        ),
    }
    for name, entry in results.items():
        full = entry["full"]
        if "speed_ratio_twonn_float64" in full:
            print(
                f"{name}: TwoNN ours {full['ours_twonn_float64']['estimate']} vs skdim "
                f"{full['skdim_twonn']['estimate']}, speed ratio "
                f"{full['speed_ratio_twonn_float64']}x (float64) "
                f"{full['speed_ratio_twonn_float32']}x (float32); MLE ours "
                f"{full['ours_mle_float64']['estimate']} vs skdim {full['skdim_mle']['estimate']}"
                f", speed ratio {full['speed_ratio_mle_float64']}x (float64) "
                f"{full['speed_ratio_mle_float32']}x (float32)"
            )
    for name, entry in results.items():
        full = entry["full"]
        print(
            f"{name}: our time / limit (bare cdist + topk): "
            + ", ".join(
                f"{est} {prec} {full[f'limit_ratio_{est}_{prec}']}x "
                f"({full[f'ours_{est}_{prec}']['time_s']} s vs "
                f"{full[f'limit_k{k}_{prec}']['time_s']} s)"
                for est, k in (("twonn", 2), ("mle", 20))
                for prec in ("float64", "float32")
            )
        )
    for note in notes:
        print("note:", note)
    if not args.quick:
        atomic_write_text(args.out, json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
