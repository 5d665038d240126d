"""The paper's Figure 1, regenerated, and the numbers behind its panels.

Spiral (1,000 points, t in [0, 20 pi]), one Gaussian matrix T per width (seed 0, no bias),
ReLU, widths 2, 3, 5, 15, 30. Writes:

    experiments/results/figure1.png            as the paper: T^-1 = pseudo-inverse, thin
                                               dark lines, boxed axes, no ticks
    experiments/results/figure1_highlight.png  the Lemma 2 inverse, points coloured by t,
                                               points where Lemma 2 fails (red x) and
                                               collapsed points (open circles) marked
    experiments/results/figure1_metrics.csv    per width and figure: nmse,
                                               invertible_fraction, collapsed_fraction,
                                               knn_recall, with Theorem 1 beside them

The highlighted figure uses the Lemma 2 inverse rather than the pseudo-inverse: it is
exact wherever the layer is invertible, so every point that stays off the spiral is one
whose information the layer destroyed, and the marks explain the whole picture. With the
pseudo-inverse every point moves (it does not undo the ReLU), and the marks would have to
be read against that distortion.

Run: ``python experiments/figure1.py`` (about 15 seconds on 2 CPU cores, most of it in
Chromium's PNG export).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import manifold_lab as ml
from manifold_lab.plots import plot_figure1, save_figure

RESULTS = Path(__file__).parent / "results"
MAX_PNG_BYTES = 300_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--widths", default="2,3,5,15,30")
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    common = {"widths": args.widths, "seed": args.seed, "n_samples": args.points}
    figures = {
        "figure1": {"method": "pinv"},
        "figure1_highlight": {"method": "lemma2", "color": True, "highlight": True},
    }
    tables = []
    for name, options in figures.items():
        result = ml.run_figure1("spiral", **common, method=options["method"])
        fig = plot_figure1(
            result, color=options.get("color", False), highlight=options.get("highlight", False)
        )
        # PNG scale chosen to keep the files small enough for the repository
        path = save_figure(fig, out / f"{name}.png", scale=2.0 if name == "figure1" else 1.25)
        size = path.stat().st_size
        print(f"wrote {path} ({size / 1000:.0f} kB)")
        if size > MAX_PNG_BYTES:
            raise SystemExit(f"{path} is larger than {MAX_PNG_BYTES} bytes; lower the scale")
        table = result.to_frame()
        table.insert(0, "method", options["method"])
        table.insert(0, "figure", name)
        tables.append(table)
    df = pd.concat(tables, ignore_index=True)
    k = 2  # the spiral spans the plane
    df["theorem1_preserved_fraction"] = ml.preserved_fraction(df["width"].to_numpy(), k)
    prov = ml.provenance(
        {
            "manifold": "spiral",
            "activation": "relu",
            "embedding": "gaussian",
            "bias": 0.0,
            "max_neighbor_points": None,
            **common,
            "figures": figures,
        },
        elapsed_s=round(time.perf_counter() - t0, 2),
    )
    path = ml.write_results(df, out / "figure1_metrics.csv", prov)
    print(f"wrote {path}")
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(df.drop(columns="seed").to_string(index=False))


if __name__ == "__main__":
    main()
