"""Probe the CIFAR-10 models trained with a linear and with a ReLU6 bottleneck.

Runs the bottleneck probe on both (default: the preset's seed-0 runs of
``experiments/ablation.py``) over the built-in 500 CIFAR-10 test images, and compares per
block: positive expansion channels against the threshold, Lemma 2, and the share of
bottleneck coordinates at or below zero (for the ReLU6 model: what its bottleneck ReLU6 has
already zeroed). Writes ``experiments/results/probe_cifar_variants{_gpu}.{csv,md,png}`` and
``bottleneck_rectification_cifar{_gpu}.csv`` (no suffix for the ``cpu`` preset).

    python experiments/probe_cifar_variants.py              # cpu preset models
    python experiments/probe_cifar_variants.py --preset gpu
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

import manifold_lab as ml
from manifold_lab.fileio import atomic_write_text
from manifold_lab.plots import save_figure
from manifold_lab.probing import probe
from manifold_lab.records import provenance
from manifold_lab.results import write_results

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "experiments" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu", help="whose seed-0 runs (default cpu)")
    parser.add_argument("--linear", default=None, help="default: the preset's linear_s0 run")
    parser.add_argument("--relu6", default=None, help="default: the preset's relu6_s0 run")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    runs = ROOT / "experiments" / "runs" / args.preset
    args.linear = args.linear or str(runs / "linear_s0" / "model.pt")
    args.relu6 = args.relu6 or str(runs / "relu6_s0" / "model.pt")
    sfx = "" if args.preset == "cpu" else f"_{args.preset}"
    torch.set_num_threads(args.threads)
    frames, results = [], {}
    for name, path in (("linear", args.linear), ("relu6", args.relu6)):
        model = ml.load_model(path)
        res = probe(model, ml.cifar10_sample(), batch_size=50, progress=False, images="sample")
        results[f"{name} bottleneck"] = res
        frame = res.to_frame()
        frame.insert(0, "variant", name)
        frame["test_acc"] = model.weights_info.meta.get("test_acc")
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    write_results(df, OUT / f"probe_cifar_variants{sfx}.csv", provenance(vars(args)))
    save_figure(ml.plot_figure7(results, relative=True), OUT / f"probe_cifar_variants{sfx}.png")
    cols = [
        "pos_mean_rel",
        "below_threshold_fraction",
        "lemma2_fraction",
        "bottleneck_negative_fraction",
    ]
    have = [c for c in cols if c in df.columns]
    piv = df.pivot(index="index", columns="variant", values=have)
    lines = [
        "# Linear vs ReLU6 bottleneck: what the trained CIFAR-10 models do inside",
        "",
        f"Built-in 500 CIFAR-10 test images; models: the `{args.preset}` preset, seed 0 "
        f"(test accuracy linear {frames[0]['test_acc'].iloc[0]:.4f}, "
        f"ReLU6 {frames[1]['test_acc'].iloc[0]:.4f}).",
        "",
        "| block | " + " | ".join(f"{c} ({m})" for c in have for m in ("linear", "relu6")) + " |",
        "|---|" + "---|" * (2 * len(have)),
    ]
    for idx, row in piv.iterrows():
        vals = [row[(c, m)] for c in have for m in ("linear", "relu6")]
        lines.append(f"| {idx} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
    # What a ReLU / ReLU6 applied to the *linear* model's bottlenecks would destroy, with a
    # linear probe on the 500 labelled images before and after.
    loss = ml.analyse_bottlenecks(results["linear bottleneck"].samples)
    atomic_write_text(OUT / f"bottleneck_rectification_cifar{sfx}.csv", loss.to_csv(index=False))
    keep = [
        "block",
        "zeroed_fraction_relu",
        "recon_error_relu",
        "recon_error_relu6",
        "probe_acc_identity",
        "probe_acc_relu",
        "probe_acc_relu6",
    ]
    lines += [
        "",
        "## Rectifying the linear model's bottlenecks",
        "",
        "Held-out relative error of the best affine map from the rectified bottleneck vectors "
        "(per pixel) back to the originals (0 = nothing lost, 1 = no better than the mean), and "
        "the held-out accuracy of a linear probe on the pooled bottleneck vectors of the 500 "
        "labelled images (30% held out) before and after rectification.",
        "",
        "| " + " | ".join(keep) + " |",
        "|---" * len(keep) + "|",
    ]
    for _, r in loss[[c for c in keep if c in loss.columns]].iterrows():
        lines.append(
            "| " + " | ".join(str(v) if isinstance(v, str) else f"{v:.3f}" for v in r) + " |"
        )
    atomic_write_text(OUT / f"probe_cifar_variants{sfx}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
