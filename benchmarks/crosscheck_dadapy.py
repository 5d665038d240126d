"""Cross-check: our ID across scale (Gride) against DADApy's ``return_id_scaling_gride``.

DADApy (https://github.com/sissa-data-science/DADApy) pins ``numpy<2`` and pulls jax, so it
is kept out of the project's dependencies: this script makes its own virtual environment
(``--venv``, default ``/tmp/dadapy-venv``: ``python -m venv`` then ``pip install dadapy
"numpy<2"``) and runs DADApy there, in a subprocess, on data that this side generates from a
seed and saves to ``.npy``. Both sides see the same arrays.

Data sets (intrinsic dimension known):

plane2_noise_R20
    The unit square in a random 2-D plane of R^20 plus isotropic Gaussian noise (sd 0.005):
    about 20-dimensional between nearest neighbours, 2-dimensional at larger scales.
gaussian6_R20
    A standard Gaussian in a random 6-D subspace of R^20 (6 at every scale).
swiss_roll_noise
    scikit-learn's swiss roll with ``noise=0.3`` (the example in DADApy's docstring).
manifold12_R512
    ``benchmarks/bench_id.py``'s 12-dimensional manifold, 20,000 x 512 (timings at size).

For each: DADApy's ``Data(coordinates=X).return_id_scaling_gride(range_max=64)`` (its
distance search included in its time, as ours is) against our
``id_scale(X, max_rank=64, n_bootstrap=0)`` (the same work: one neighbour search and six
maximum-likelihood fits) and ``n_bootstrap=200`` (with the intervals DADApy does not
compute; it reports a Fisher-information error instead). Also scikit-dimension's TwoNN
against ours, as ``bench_id.py`` does. Both on the CPU, float64, all cores of this machine
(DADApy's ``n_jobs`` is its default, every core; torch uses its default threads), DADApy then
ours on each data set in turn. Every timing is the median of ``--repeats`` runs (default 3).

Writes ``benchmarks/results/id_scale_crosscheck.json`` and ``.md``.
Run: ``python benchmarks/crosscheck_dadapy.py`` (``--quick``: smaller data, one repeat, no
files).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import manifold_lab as ml
from manifold_lab.fileio import atomic_write_text
from manifold_lab.intrinsic_dimension import TwoNN, id_scale

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_id import make_manifold12  # noqa: E402

MAX_RANK = 64
N_BOOTSTRAP = 200
TOLERANCE = 1.5
"""Agreement: the curves differ by at most ``TOLERANCE / N + 1e-6`` relative. DADApy's score
has ``(N - 1) / d`` where the likelihood's has ``N / d`` (for ``n1 = 1`` its estimate is the
unbiased ``(N - 1) / sum log mu``), which moves the root by at most ``1 / N`` relative at
every scale; its bisection stops at ``eps=1e-7``; it also drops ratios above
``20 (q95 - q50) + q50`` as overlapping points."""

RUNNER = r"""
import json, sys, time
import numpy as np
import dadapy
from dadapy import Data

out = {"dadapy": dadapy.__version__ if hasattr(dadapy, "__version__") else None,
       "numpy": np.__version__, "python": sys.version.split()[0], "runs": {}}
try:
    from importlib.metadata import version
    out["dadapy"] = version("dadapy")
    out["jax"] = version("jax")
except Exception:
    pass
for name, path, max_rank, repeats in json.loads(sys.argv[1]):
    X = np.load(path)
    times, res = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        data = Data(coordinates=X, verbose=False)
        ids, errs, rs = data.return_id_scaling_gride(range_max=max_rank)
        times.append(time.perf_counter() - t0)
        res = (ids, errs, rs)
    out["runs"][name] = {"ids": res[0].tolist(), "errs": res[1].tolist(),
                         "rs": res[2].tolist(), "times_s": times}
print(json.dumps(out))
"""


def make_plane(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    P = np.zeros((n, 20))
    P[:, :2] = rng.random((n, 2))
    P += 0.005 * rng.standard_normal(P.shape)
    return P @ np.linalg.qr(rng.standard_normal((20, 20)))[0]


def make_gaussian6(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng([seed, 6])
    basis = np.linalg.qr(rng.standard_normal((20, 6)))[0]
    return rng.standard_normal((n, 6)) @ basis.T


def make_swiss_roll_noise(n: int, seed: int = 0) -> np.ndarray:
    from sklearn.datasets import make_swiss_roll

    return make_swiss_roll(n, noise=0.3, random_state=seed)[0]


DATASETS: dict[str, tuple[Callable[[int], np.ndarray], int, str]] = {
    "plane2_noise_R20": (make_plane, 2, "unit square in a random plane of R^20 + N(0, 0.005^2)"),
    "gaussian6_R20": (make_gaussian6, 6, "standard Gaussian in a random 6-D subspace of R^20"),
    "swiss_roll_noise": (make_swiss_roll_noise, 2, "sklearn make_swiss_roll(noise=0.3)"),
    "manifold12_R512": (make_manifold12, 12, "bench_id.py's manifold12: sin(t A + phase)"),
}
SIZES = {"plane2_noise_R20": 5000, "gaussian6_R20": 5000, "swiss_roll_noise": 5000}
FULL_N = 20_000


def ensure_venv(venv: Path) -> Path:
    """The venv's python, creating the venv and installing DADApy into it if needed."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import dadapy"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} and installing dadapy (downloads jax; a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "dadapy", "numpy<2"]
    subprocess.run(pip, check=True)
    return python


def run_dadapy(python: Path, jobs: list[tuple[str, str, int, int]]) -> dict[str, Any]:
    proc = subprocess.run(
        [str(python), "-c", RUNNER, json.dumps(jobs)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"DADApy failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, list[float]]:
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return value, times


def rounded(values: Any, digits: int = 4) -> list[float | None]:
    return [round(float(v), digits) if math.isfinite(float(v)) else None for v in values]


def ours(name: str, X: np.ndarray, repeats: int) -> dict[str, Any]:
    res, t_plain = timed(
        lambda: id_scale(X, max_rank=MAX_RANK, n_bootstrap=0, device="cpu"), repeats
    )
    boot, t_boot = timed(
        lambda: id_scale(X, max_rank=MAX_RANK, n_bootstrap=N_BOOTSTRAP, seed=0, device="cpu"),
        repeats,
    )
    twonn, t_twonn = timed(lambda: TwoNN(device="cpu").fit(X).dimension_, repeats)
    out: dict[str, Any] = {
        "n1": res.n1.tolist(),
        "ids": rounded(res.dimension, 6),
        "ci_low": rounded(boot.ci_low),
        "ci_high": rounded(boot.ci_high),
        "scale_mean_r_n2": rounded(res.scale, 6),
        "times_s": [round(t, 3) for t in t_plain],
        "times_bootstrap_s": [round(t, 3) for t in t_boot],
        "twonn": round(float(twonn), 6),
        "twonn_times_s": [round(t, 3) for t in t_twonn],
        "n_duplicates": res.n_duplicates,
        "n_samples_used": res.n_samples_used,
    }
    try:
        import skdim

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk, t_sk = timed(lambda: skdim.id.TwoNN().fit(X).dimension_, repeats)
        out["skdim_twonn"] = round(float(sk), 6)
        out["skdim_twonn_times_s"] = [round(t, 3) for t in t_sk]
    except ImportError:
        out["skdim_twonn"] = None
    return out


def median(xs: list[float]) -> float:
    return float(np.median(xs))


def compare(name: str, mine: dict[str, Any], theirs: dict[str, Any], true_dim: int) -> dict:
    a = np.array(mine["ids"], dtype=float)
    b = np.array(theirs["ids"], dtype=float)
    rel = np.abs(a - b) / np.abs(b)
    low = np.array(mine["ci_low"], dtype=float)
    high = np.array(mine["ci_high"], dtype=float)
    t_ours, t_boot = median(mine["times_s"]), median(mine["times_bootstrap_s"])
    t_theirs = median(theirs["times_s"])
    row = {
        "true_dimension": true_dim,
        "max_relative_difference": float(rel.max()),
        "agreement_tolerance": TOLERANCE / mine["n_samples_used"] + 1e-6,
        "n_times_max_relative_difference": round(float(rel.max()) * mine["n_samples_used"], 3),
        "agree": bool(rel.max() <= TOLERANCE / mine["n_samples_used"] + 1e-6),
        "dadapy_inside_our_ci": int(((low <= b) & (b <= high)).sum()),
        "n_scales": int(a.size),
        "time_ours_s": round(t_ours, 3),
        "time_ours_bootstrap_s": round(t_boot, 3),
        "time_dadapy_s": round(t_theirs, 3),
        "speedup_vs_dadapy": round(t_theirs / t_ours, 2),
        "speedup_vs_dadapy_with_bootstrap": round(t_theirs / t_boot, 2),
    }
    if mine.get("skdim_twonn") is not None:
        row["twonn_relative_difference_vs_skdim"] = round(
            abs(mine["twonn"] - mine["skdim_twonn"]) / abs(mine["skdim_twonn"]), 6
        )
        row["twonn_speedup_vs_skdim"] = round(
            median(mine["skdim_twonn_times_s"]) / median(mine["twonn_times_s"]), 2
        )
    return row


def markdown(record: dict[str, Any]) -> str:
    lines = [
        "# ID across scale: manifold_lab's Gride against DADApy's",
        "",
        "Generated by `python benchmarks/crosscheck_dadapy.py`; the numbers are in "
        "`id_scale_crosscheck.json`. "
        f"Ours: `id_scale(X, max_rank={MAX_RANK})` (float64, CPU). DADApy "
        f"{record['versions']['dadapy']}: `Data(coordinates=X).return_id_scaling_gride"
        f"(range_max={MAX_RANK})`, in its own venv (numpy {record['versions']['dadapy_numpy']}, "
        f"jax {record['versions'].get('jax')}). Times are medians of {record['repeats']} runs, "
        "each including its own neighbour search. Machine: "
        f"{record['provenance']['hardware'].get('cpu')}, "
        f"{record['provenance']['hardware'].get('cpu_count', '?')} cores, "
        f"torch threads {record['torch_threads']}.",
        "",
        "| data | n x D | true ID | max rel. diff. (x N) | DADApy in our 95% CI | ours s | "
        f"ours + {N_BOOTSTRAP} bootstrap s | DADApy s | speed-up | TwoNN ours / skdim |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in record["datasets"].items():
        c = entry["comparison"]
        tw = entry["ours"]
        sk = tw.get("skdim_twonn")
        lines.append(
            f"| {name} | {entry['n_samples']} x {entry['n_features']} | {c['true_dimension']} "
            f"| {c['max_relative_difference']:.1e} ({c['n_times_max_relative_difference']:.2f}) "
            f"| {c['dadapy_inside_our_ci']}/{c['n_scales']} "
            f"| {c['time_ours_s']:.2f} | {c['time_ours_bootstrap_s']:.2f} "
            f"| {c['time_dadapy_s']:.2f} | {c['speedup_vs_dadapy']:.2f}x "
            f"| {tw['twonn']:.3f} / {sk if sk is None else f'{sk:.3f}'} |"
        )
    lines += ["", "## The curves (ID at n1 = 1, 2, 4, ..., n2 = 2 n1)", ""]
    for name, entry in record["datasets"].items():
        mine, theirs = entry["ours"], entry["dadapy"]
        lines += [
            f"**{name}** ({entry['description']})",
            "",
            "| n1 | ours | 95% CI | DADApy | DADApy err | our mean r_n2 | DADApy mean r |",
            "|---|---|---|---|---|---|---|",
        ]
        for i, n1 in enumerate(mine["n1"]):
            lines.append(
                f"| {n1} | {mine['ids'][i]:.4f} | [{mine['ci_low'][i]:.3f}, "
                f"{mine['ci_high'][i]:.3f}] | {theirs['ids'][i]:.4f} | {theirs['errs'][i]:.4f} "
                f"| {mine['scale_mean_r_n2'][i]:.4g} | {theirs['rs'][i]:.4g} |"
            )
        lines.append("")
    lines += [
        f"Agreement: relative difference at most {TOLERANCE} / N + 1e-6 at every scale. "
        "DADApy's score equation has (N - 1) / d where the likelihood's has N / d (at n1 = 1 "
        "its estimate is the unbiased (N - 1) / sum log mu), which moves the root by at most "
        "1 / N relative; it also drops ratios above 20 (q95 - q50) + q50 as overlapping "
        "points, and stops its bisection at 1e-7.",
        "",
        "Scales: ours is the mean distance to the n2-th neighbour; DADApy's `rs` is the mean "
        "of the n1-th and n2-th distances. DADApy's error is from the Fisher information; "
        "ours is a percentile bootstrap over points.",
        "",
        *[f"- {note}" for note in record["notes"]],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", default="/tmp/dadapy-venv", help="DADApy's virtual environment")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small data, one repeat, no files")
    ap.add_argument("--out", default=str(HERE / "results" / "id_scale_crosscheck"))
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    python = ensure_venv(Path(args.venv))
    datasets: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (make, _, _) in DATASETS.items():
            X = make(1000 if args.quick else SIZES.get(name, FULL_N))
            path = str(Path(tmp) / f"{name}.npy")
            np.save(path, X)
            # DADApy then ours on each data set in turn, so that both see the same load
            print(f"running DADApy on {name} ...", flush=True)
            theirs = run_dadapy(python, [(name, path, MAX_RANK, repeats)])
            print(f"running ours on {name} ...", flush=True)
            mine = ours(name, X, repeats)
            entry = {
                "description": DATASETS[name][2],
                "n_samples": int(X.shape[0]),
                "n_features": int(X.shape[1]),
                "ours": mine,
                "dadapy": theirs["runs"][name],
            }
            entry["comparison"] = compare(name, mine, theirs["runs"][name], DATASETS[name][1])
            datasets[name] = entry
            c = entry["comparison"]
            print(
                f"  {name}: ours {mine['ids']} vs DADApy "
                f"{rounded(theirs['runs'][name]['ids'], 6)}; max rel diff "
                f"{c['max_relative_difference']:.1e}; time ours {c['time_ours_s']} s "
                f"(+bootstrap {c['time_ours_bootstrap_s']} s), DADApy {c['time_dadapy_s']} s"
            )
    notes = []
    for name, entry in datasets.items():
        c = entry["comparison"]
        if not c["agree"]:
            notes.append(
                f"{name}: the curves differ by up to {c['max_relative_difference']:.2e} "
                f"relative (more than {c['agreement_tolerance']:.2e})"
            )
        if c["speedup_vs_dadapy"] < 1:
            notes.append(f"{name}: ours is slower than DADApy ({c['speedup_vs_dadapy']}x)")
    notes.append(
        "The machine had other jobs running (2 cores shared): compare the ratios, measured in "
        "the same run, rather than the absolute times."
    )
    record = {
        "max_rank": MAX_RANK,
        "n_bootstrap": N_BOOTSTRAP,
        "repeats": repeats,
        "tolerance": TOLERANCE,
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "dadapy": theirs.get("dadapy"),
            "dadapy_numpy": theirs.get("numpy"),
            "jax": theirs.get("jax"),
            "dadapy_python": theirs.get("python"),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "datasets": datasets,
        "notes": notes,
        "provenance": ml.provenance(
            {"script": "benchmarks/crosscheck_dadapy.py", "repeats": repeats}
        ),
    }
    try:
        import skdim

        record["versions"]["skdim"] = getattr(skdim, "__version__", "unknown")
    except ImportError:
        pass
    if args.quick:
        print(json.dumps({k: v["comparison"] for k, v in datasets.items()}, indent=1))
        return
    atomic_write_text(args.out + ".json", json.dumps(record, indent=1) + "\n")
    atomic_write_text(args.out + ".md", markdown(record))
    print(f"wrote {args.out}.json and .md")


if __name__ == "__main__":
    main()
