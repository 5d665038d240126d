"""How information loss compounds over a stack of random ReLU layers (issue 18, item 4).

Spiral (span k = 2), Gaussian layers without bias, ReLU, widths 2..24 and 26..40 in steps of 2
(to keep the cost within about ten minutes), depths 1, 2, 3, 4, 6, 8,
20 seeds, in the plain form ``ReLU(T_L ... ReLU(T_1 x))`` and the inverted form (a random
linear projection back to R^k between layers; :func:`manifold_lab.embedding.stack_layers`).
Measured at the stack's output: the invertible fraction (Lemma 2 at every layer), the
least-squares decoder's nmse and the collapsed fraction, as mean and 95% CI over seeds, with
Theorem 1 compounded, ``P(Binomial(n, 1/2) >= k) ** L``, beside them; and the width at which
the mean invertible fraction reaches 50% and 90%, against depth. Writes:

    experiments/results/depth_sweep.csv   summary over seeds (provenance in the header)
    experiments/results/depth_sweep.png   the figure
    experiments/results/depth_sweep.md    the tables and what they show

Run: ``nice python experiments/depth_sweep.py`` (about 6 minutes on 2 busy CPU cores;
``--quick`` for a small run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

import manifold_lab as ml
from manifold_lab.fileio import atomic_write_text
from manifold_lab.plots import plot_depth_curves, save_figure
from manifold_lab.sweeps import crossing_widths

RESULTS = Path(__file__).parent / "results"
METRICS = ["nmse", "invertible_fraction", "collapsed_fraction"]
FORMS = ["plain", "inverted"]
STOJNIC = (
    "Stojnic (arXiv 2412.19677, 2024), as issue 18 states it:<br>"
    "for Gaussian deep ReLU nets the expansion per layer<br>"
    "needed for injectivity saturates after about four layers.<br>"
    "That concerns injectivity on all of R^k with expanding<br>"
    "layers; drawn here as text only (numbers not reproduced)."
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--widths", default="2:24,26,28,30,32,34,36,38,40")
    ap.add_argument("--depths", default="1,2,3,4,6,8")
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--neighbor-points", type=int, default=500)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--name", default="depth_sweep")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    parts = [
        ml.sweep(
            "spiral",
            widths=args.widths,
            seeds=range(args.seeds),
            depth=args.depths,
            residual_form=form,
            method="lstsq",
            metrics=METRICS,
            n_samples=args.points,
            max_neighbor_points=args.neighbor_points,
            max_chunk_elements=2**23,
        )
        for form in FORMS
    ]
    df = pd.concat(parts, ignore_index=True)
    elapsed = time.perf_counter() - t0
    summary = ml.summarize(df)
    summary.attrs["provenance"] = dict(parts[0].attrs["provenance"])
    summary.attrs["provenance"]["parameters"] = {
        **parts[0].attrs["provenance"]["parameters"],
        "residual_form": FORMS,
    }
    summary.attrs["provenance"]["elapsed_s"] = round(elapsed, 1)
    k = int(df["k"].iloc[0])
    crossings = crossing_widths(summary, levels=(0.5, 0.9))
    ml.write_results(summary, out / f"{args.name}.csv")
    fig = plot_depth_curves(
        summary,
        crossings,
        k=k,
        metrics=METRICS,
        note=STOJNIC,
        title=(
            f"Stacks of random ReLU layers on the spiral ({args.points:,} points, k = {k}), "
            f"Gaussian, no bias; least-squares decoder; mean and 95% CI over {args.seeds} seeds"
        ),
    )
    path = save_figure(fig, out / f"{args.name}.png", width=1400, height=1050, scale=1.3)
    atomic_write_text(out / f"{args.name}.md", report(summary, crossings, k, args, elapsed))
    print(f"wrote {path}, {args.name}.csv and {args.name}.md in {time.perf_counter() - t0:.0f} s")


def report(
    summary: pd.DataFrame, crossings: pd.DataFrame, k: int, args: argparse.Namespace, elapsed: float
) -> str:
    """The .md: the measured tables beside the theory, and what they show."""
    inv = summary[summary.metric == "invertible_fraction"]
    depths = sorted(int(d) for d in summary.depth.unique())
    lines = [
        "# Depth: information loss over a stack of random ReLU layers",
        "",
        f"Made by `experiments/depth_sweep.py` ({elapsed:.0f} s): spiral, "
        f"{args.points} points (span k = {k}), Gaussian layers without bias, ReLU, widths "
        f"{args.widths}, depths {args.depths}, {args.seeds} seeds, least-squares decoder, "
        f"neighbour metrics on {args.neighbor_points} points. Provenance: the header of "
        f"`{args.name}.csv`. Figure: `{args.name}.png`.",
        "",
        "## Width at which the mean invertible fraction reaches 50% / 90%",
        "",
        "Linearly interpolated between swept widths; theory: the smallest width with "
        f"P(Bin(n, 1/2) >= {k})^L at or above the level.",
        "",
        "| depth L | plain 50% | inverted 50% | theory 50% | plain 90% | inverted 90% "
        "| theory 90% |",
        "|---|---|---|---|---|---|---|",
    ]

    def cross(form: str, depth: int, level: float) -> str:
        c = crossings[
            (crossings.residual_form == form)
            & (crossings.depth == depth)
            & (crossings.level == level)
        ]["width"]
        return "not reached" if c.isna().all() else f"{float(c.iloc[0]):.1f}"

    for d in depths:
        row = [str(d)]
        for level in (0.5, 0.9):
            row += [cross("plain", d, level), cross("inverted", d, level)]
            row.append(f"{ml.stacked_width_needed(level, k, d, interpolate=True):.1f}")
        lines.append("| " + " | ".join([row[0], row[1], row[2], row[3], *row[4:]]) + " |")
    lines += [
        "",
        "## Invertible fraction (mean over seeds) against Theorem 1 compounded",
        "",
        "| width | " + " | ".join(f"L = {d}: plain / inverted / theory" for d in depths) + " |",
        "|---|" + "---|" * len(depths),
    ]
    for w in (3, 5, 8, 12, 20, 40):
        if w not in set(inv.width):
            continue
        cells = []
        for d in depths:
            v = {
                f: float(
                    inv[(inv.width == w) & (inv.depth == d) & (inv.residual_form == f)][
                        "mean"
                    ].iloc[0]
                )
                for f in FORMS
            }
            th = float(ml.stacked_preserved_fraction(w, k, d))
            cells.append(f"{v['plain']:.3f} / {v['inverted']:.3f} / {th:.3f}")
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    for metric, label in (
        ("nmse", "least-squares nmse"),
        ("collapsed_fraction", "collapsed fraction"),
    ):
        part = summary[summary.metric == metric]
        lines += [
            "",
            f"## {label.capitalize()} (mean over seeds)",
            "",
            "| width | " + " | ".join(f"L = {d}: plain / inverted" for d in depths) + " |",
            "|---|" + "---|" * len(depths),
        ]
        for w in (5, 10, 20, 40):
            if w not in set(part.width):
                continue
            cells = []
            for d in depths:
                v = [
                    float(
                        part[(part.width == w) & (part.depth == d) & (part.residual_form == f)][
                            "mean"
                        ].iloc[0]
                    )
                    for f in FORMS
                ]
                cells.append(" / ".join(f"{x:.3g}" for x in v))
            lines.append(f"| {w} | " + " | ".join(cells) + " |")
    lines += ["", "## What it shows", "", *FINDINGS, ""]
    return "\n".join(lines)


FINDINGS: list[str] = []


if __name__ == "__main__":
    main()
