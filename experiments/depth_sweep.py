"""How information loss compounds over a stack of random ReLU layers (issue 18, item 4).

Spiral (span k = 2), Gaussian layers without bias, ReLU, widths 2..40, depths 1, 2, 3, 4, 6, 8,
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
    ap.add_argument("--widths", default="2:40")
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
        "Linearly interpolated between swept widths; theory: where "
        f"P(Bin(n, 1/2) >= {k})^L crosses the level, interpolated between integer widths "
        "the same way.",
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
    lines += ["", "## What it shows", "", *findings(summary, crossings, k), ""]
    return "\n".join(lines)


def findings(summary: pd.DataFrame, crossings: pd.DataFrame, k: int) -> list[str]:
    """What the measurements show, in words, with the numbers read from them."""

    def mean(metric: str, form: str, depth: int, width: int) -> float:
        m = summary[
            (summary.metric == metric)
            & (summary.residual_form == form)
            & (summary.depth == depth)
            & (summary.width == width)
        ]["mean"]
        return float(m.iloc[0])

    def cross(form: str, depth: int, level: float) -> float:
        c = crossings[
            (crossings.residual_form == form)
            & (crossings.depth == depth)
            & (crossings.level == level)
        ]["width"]
        return float(c.iloc[0])

    depths = sorted(int(d) for d in summary.depth.unique())
    lo, hi = depths[0], depths[-1]
    wmax = int(summary.width.max())
    wide = [w for w in (20, wmax) if w in set(summary.width)]
    inv_wide = min(
        mean("invertible_fraction", f, d, w) for f in FORMS for d in depths for w in wide
    )
    return [
        f"- **Local invertibility compounds as Theorem 1 predicts.** In both forms the "
        f"invertible fraction (Lemma 2 at every layer) follows P(Bin(n, 1/2) >= {k})^L "
        "within the spread over seeds (tables above; dashed curves in the figure). That is "
        "expected: around a point the earlier layers map the span onto a k-dimensional "
        "piece, and the next Gaussian layer restricted to that piece is an independent "
        "Gaussian n x k matrix, so the L events are independent.",
        f"- **The width it needs grows slowly with depth, without saturating up to L = {hi}.** "
        f"50% invertible: n = {cross('plain', lo, 0.5):.1f} at L = {lo}, "
        f"{cross('plain', hi, 0.5):.1f} at L = {hi} (plain; inverted "
        f"{cross('inverted', hi, 0.5):.1f}); 90%: {cross('plain', lo, 0.9):.1f} to "
        f"{cross('plain', hi, 0.9):.1f} (inverted {cross('inverted', hi, 0.9):.1f}). "
        "Compounding independent layers predicts unbounded but logarithmic growth "
        "(P(Bin(n, 1/2) < k) must fall like 1/L), which is what the measured points do. "
        f"From n = {wide[0]} on, every depth keeps Lemma 2 at >= {inv_wide:.3f} of the "
        "points (the one point left is the spiral's point at the origin, where no row is "
        "active).",
        "- **Locally invertible is not the same as recoverable.** In the plain form the "
        "least-squares decoder's error grows with depth at every width (n = "
        f"{wmax}: {mean('nmse', 'plain', lo, wmax):.2g} at L = {lo}, "
        f"{mean('nmse', 'plain', hi, wmax):.2g} at L = {hi}): the information is still "
        f"there (collapsed fraction {mean('collapsed_fraction', 'plain', hi, wmax):.2g} at "
        f"n = {wmax}, L = {hi}) but less of it is linearly decodable, and the width at which "
        "distinct points stop collapsing grows with depth (n = 10: collapsed "
        f"{mean('collapsed_fraction', 'plain', lo, 10):.2g} at L = {lo}, "
        f"{mean('collapsed_fraction', 'plain', hi, 10):.2g} at L = {hi}).",
        "- **The inverted form folds the manifold, and width does not help.** A random "
        f"linear projection back to R^{k} between layers (the span's own dimension) maps "
        "the curve's image onto the plane, where it crosses itself: Lemma 2 still holds at "
        "almost every point, but distinct points land together. The collapsed fraction "
        f"stays at {mean('collapsed_fraction', 'inverted', 2, wmax):.2g} (L = 2) to "
        f"{mean('collapsed_fraction', 'inverted', hi, wmax):.2g} (L = {hi}) at n = {wmax}, "
        f"and the decoder's error at {mean('nmse', 'inverted', 2, wmax):.2g} to "
        f"{mean('nmse', 'inverted', hi, wmax):.2g}. This is the random projection's doing, "
        "not a trained block's: trained projections need not fold.",
        "- **Against Stojnic (arXiv 2412.19677, 2024).** The issue states that for Gaussian "
        "deep ReLU nets the expansion per layer needed for injectivity saturates after "
        "about four layers; without internet access the paper's numbers are not reproduced "
        "here, only that statement (drawn as text in the figure). It concerns injectivity "
        "on all of R^k for layers that each expand their input; these stacks have one "
        "width n for every layer (plain layers after the first are n x n) and are measured "
        "on a sampled curve. So the measurements neither confirm nor refute it. What they "
        "do say: the per-point (Lemma 2) width keeps growing, logarithmically, through "
        f"L = {hi} as independent compounding predicts, with no plateau after four layers; "
        "the width free of collapse on the sample also keeps growing with depth in the "
        "plain form.",
    ]


if __name__ == "__main__":
    main()
