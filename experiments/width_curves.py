"""Width curves on the spiral for ReLU, ReLU6 and the identity (the linear bottleneck).

Spiral (1,000 points), Gaussian T without bias, widths 2..40, 50 seeds per width, for each
activation: the least-squares decoder's normalised error, the Lemma 2 invertible fraction,
the collapsed fraction and the kNN recall, as mean and 95% CI over the seeds, with Theorem 1
(``P(Binomial(n, 1/2) >= k)``, k = 2 the spiral's span) and the injectivity literature's
widths for all of R^k overlaid. ReLU6 clips at 6 while the spiral reaches radius
20 pi ~ 63, so most pre-activations saturate: its curves measure that clipping at this
input scale (no batch norm), not ReLU6 in a trained network. Writes:

    experiments/results/width_curves.png
    experiments/results/width_curves_summary.csv   mean, median, CI over seeds (provenance)

Run: ``python experiments/width_curves.py`` (about 2 minutes on 2 busy CPU cores).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import manifold_lab as ml
from manifold_lab.plots import plot_width_curves, save_figure

RESULTS = Path(__file__).parent / "results"
ACTIVATIONS = ["relu", "relu6", "identity"]
METRICS = ["nmse", "invertible_fraction", "collapsed_fraction", "knn_recall"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--widths", default="2:40")
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a busy shared 2-core machine two threads that "
        "wait on each other were up to 10x slower; 0 keeps torch's default)",
    )
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    df = ml.sweep(
        "spiral",
        widths=args.widths,
        seeds=range(args.seeds),
        activation=ACTIVATIONS,
        method="lstsq",
        metrics=METRICS,
        n_samples=args.points,
    )
    summary = ml.summarize(df)
    k = int(df["k"].iloc[0])
    ml.write_results(summary, out / "width_curves_summary.csv")
    fig = plot_width_curves(
        summary,
        metrics=METRICS,
        color="activation",
        theory_k=k,
        thresholds=True,
        title=(
            f"Spiral ({args.points:,} points, span k = {k}), Gaussian T, no bias: relu, relu6, "
            f"identity; least-squares decoder; mean and 95% CI over {args.seeds} seeds"
        ),
    )
    path = save_figure(fig, out / "width_curves.png", width=1100, height=820, scale=1.4)
    print(f"wrote {path} ({path.stat().st_size / 1000:.0f} kB) and width_curves_summary.csv")
    print(f"{time.perf_counter() - t0:.1f} s")
    at = summary[summary.width.isin([2, 3, 5, 15, 30, 40])]
    print(
        at.pivot_table(index=["metric", "activation"], columns="width", values="mean")
        .round(4)
        .to_string()
    )


if __name__ == "__main__":
    main()
