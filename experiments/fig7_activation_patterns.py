"""The paper's Figure 7 measured: positive channels per pixel in every expansion layer.

For each network, :func:`manifold_lab.probing.probe` counts per pixel the positive (y > 0),
informative (0 < y < 6) and clipped (y = 6) channels of the 16 expansion layers, against the
invertibility threshold (the block's input channels), and checks Lemma 2 on a seeded subsample
of pixels (full column rank of the active rows of the expansion weight, batch norm folded):

(a) ``tflite``: the paper authors' TF-slim MobileNetV2 1.0/224 (the quantization-aware trained
    TFLite file, imported as float with folded batch norm), TF-slim preprocessing;
(b) ``init``: the same architecture at initialisation (the paper's "step 0"):
    ``load_model("random", seed=0)``, torchvision preprocessing, batch norm in eval mode
    with its initial running statistics (mean 0, variance 1);
(c) ``torchvision``: torchvision's ImageNet weights, when the torch hub cache holds them
    (skipped with a message otherwise);
(d) ``cifar``: a CIFAR-10 checkpoint given with ``--cifar-checkpoint`` (optional), on CIFAR-10
    test images.

(a)-(c) run on all of ``imagenet-samples-256`` (1,000 images, one per class; ``--limit N``
takes N evenly spaced over the classes). Every pixel of every image is counted; the Lemma 2
rank check runs on 4 seeded pixels per block and batch of 4 images (1,000 pixels per layer
and network). The script sets torch to one intra-op thread (``--threads``): on the shared
2-core machine this was written on, one thread ran the forward pass 2.7x faster than two, and
small batches avoid page-faulting fresh activation buffers. It then takes about 3.5 minutes
there (1.5 minutes per network).

Writes to ``experiments/results/`` (``--suffix`` is appended to every name)::

    fig7_<tag>.csv          one row per block (with provenance)
    fig7_<tag>.png          Figure 7 (absolute and relative panels) for one network
    fig7_comparison.png     all networks, one row each
    fig7_lemma2.png         informative channels (what Lemma 2 counts), all networks
    fig7_summary.md         the numbers and how they compare with the paper's statements

Run: ``python experiments/fig7_activation_patterns.py``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Subset

from manifold_lab.data import open_images
from manifold_lab.plots import plot_figure7, save_figure
from manifold_lab.probing import ProbeResult, probe
from manifold_lab.weights import TORCHVISION_WEIGHTS, load_model

RESULTS = Path(__file__).parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

LABELS = {
    "tflite": "(a) TF-slim ImageNet (trained)",
    "init": "(b) initialisation (step 0)",
    "torchvision": "(c) torchvision ImageNet weights",
    "cifar": "(d) CIFAR-10 checkpoint",
}


def evenly_spaced(dataset: Any, limit: int | None) -> Any:
    """``limit`` items spread evenly over the dataset (all of it when limit is None)."""
    n = len(dataset)
    if limit is None or limit >= n:
        return dataset
    idx = np.unique(np.linspace(0, n - 1, limit).round().astype(int))
    return Subset(dataset, idx.tolist())


def run_one(
    tag: str, model: Any, dataset: Any, images: str, args: argparse.Namespace
) -> tuple[ProbeResult, float]:
    start = time.perf_counter()
    result = probe(
        model,
        dataset,
        batch_size=args.batch_size,
        device=args.device,
        num_workers=args.workers,
        progress=not args.no_progress,
        images=images,
        rank_pixels_per_batch=args.rank_pixels,
        pixel_samples=args.pixel_samples,
        image_samples=args.image_samples,
        sample_expansion=False,
        seed=args.seed,
    )
    seconds = time.perf_counter() - start
    result.metadata["seconds"] = round(seconds, 2)
    result.metadata["network"] = LABELS[tag]
    print(f"{tag}: {result.metadata['n_images']} images in {seconds:.1f} s")
    return result, seconds


def torchvision_cached() -> str | None:
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    for name, (filename, _, _) in TORCHVISION_WEIGHTS.items():
        if (folder / filename).exists():
            return name
    return None


# --------------------------------------------------------------------------------------------
# summary


def fmt(v: float, digits: int = 1) -> str:
    return "n/a" if v is None or not math.isfinite(float(v)) else f"{v:.{digits}f}"


def pct(v: float) -> str:
    return "n/a" if v is None or not math.isfinite(float(v)) else f"{100 * v:.1f}%"


def layer_table(frame: pd.DataFrame) -> str:
    rows = [
        "| layer | block | width | threshold | positive mean +- std | min | max | mean/width "
        "| std/width | pixels below threshold | enough informative | Lemma 2 holds | dead ch. "
        "| always-on ch. | clipped mean |",
        "|" + "---|" * 15,
    ]
    for r in frame.itertuples(index=False):
        rows.append(
            f"| {int(r.expansion_layer)} | {int(r.index)} | {int(r.hidden_channels)} | "
            f"{int(r.threshold)} | {r.pos_mean:.1f} +- {r.pos_std:.1f} | {r.pos_min:.0f} | "
            f"{r.pos_max:.0f} | {r.pos_mean_rel:.3f} | {r.pos_std_rel:.3f} | "
            f"{pct(r.below_threshold_fraction)} | {pct(r.enough_channels_fraction)} | "
            f"{pct(r.lemma2_fraction)} | {int(r.dead_channels)} | {int(r.always_on_channels)} | "
            f"{r.clipped_mean:.1f} |"
        )
    return "\n".join(rows)


def above_threshold(frame: pd.DataFrame) -> dict[str, list[int]]:
    """Expansion layers (1..16) whose statistic is below the threshold."""
    out = {}
    for stat, values in (
        ("minimum", frame["pos_min"]),
        ("mean - std", frame["pos_mean"] - frame["pos_std"]),
        ("mean", frame["pos_mean"]),
    ):
        below = frame.loc[values < frame["threshold"], "expansion_layer"]
        out[stat] = [int(v) for v in below]
    return out


def compare(init: pd.DataFrame, trained: pd.DataFrame, trained_name: str) -> list[str]:
    """Plain statements on the paper's three claims, with the numbers behind them."""
    lines = []
    m0, s0 = init["pos_mean_rel"].to_numpy(), init["pos_std_rel"].to_numpy()
    m1, s1 = trained["pos_mean_rel"].to_numpy(), trained["pos_std_rel"].to_numpy()
    ok = bool(((m0 > 0.4) & (m0 < 0.6)).all())
    lines.append(
        f'1. *"At step 0 the counts sit tightly around half the channels."* At initialisation '
        f"the average positive fraction per layer ranges from {m0.min():.3f} to {m0.max():.3f} "
        f"(median {np.median(m0):.3f}) and the per-pixel standard deviation from "
        f"{s0.min():.3f} to {s0.max():.3f} of the width. "
        + (
            "**Agrees**: every layer averages within 0.4-0.6 of its width."
            if ok
            else "**Does not fully agree**: some layers average outside 0.4-0.6 of their width."
        )
    )
    dm = m1 - m0
    ratio = s1 / np.maximum(s0, 1e-12)
    same_mean = bool(np.abs(dm).max() < 0.1)
    grew = bool(np.median(ratio) > 2)
    lines.append(
        f'2. *"The average hasn\'t changed but the standard deviation grew dramatically."* '
        f"{trained_name[0].upper() + trained_name[1:]} minus initialisation, in fraction of "
        "the width: the average changes by "
        f"{dm.min():+.3f} to {dm.max():+.3f} (median {np.median(dm):+.3f}); the standard "
        f"deviation is {ratio.min():.1f}x to {ratio.max():.1f}x the initial one (median "
        f"{np.median(ratio):.1f}x). "
        + ("Average unchanged (all within 0.1): **agrees**. " if same_mean else "")
        + (
            "Average changed by more than 0.1 of the width in some layers: **does not agree**. "
            if not same_mean
            else ""
        )
        + ("Spread grew (median ratio > 2): **agrees**." if grew else "Spread: **does not agree**.")
    )
    below = above_threshold(trained)
    parts = [
        f"the {stat} is below the threshold in {len(v)} layer(s)"
        + (f" ({', '.join(map(str, v))})" if v else "")
        for stat, v in below.items()
    ]
    matches = [stat for stat, v in below.items() if len(v) == 2]
    lemma = trained["lemma2_fraction"].to_numpy()
    enough = trained["enough_channels_fraction"].to_numpy()
    below_frac = trained["below_threshold_fraction"].to_numpy()
    lines.append(
        f'3. *"All but the two layers are still above the invertibility thresholds."* In '
        f"{trained_name}: {'; '.join(parts)}. "
        + (
            f'"All but two" matches the {" and the ".join(matches)}. '
            if matches
            else "No statistic gives exactly two layers below the threshold: "
            "**does not agree as stated**. "
        )
        + f"Pixels with fewer positive channels than the threshold: {pct(below_frac.min())} to "
        f"{pct(below_frac.max())} per layer. Lemma 2 itself needs informative channels "
        f"(0 < y < 6) and full rank: pixels with enough informative channels "
        f"{pct(enough.min())} to {pct(enough.max())} per layer, pixels where Lemma 2 holds "
        f"{pct(np.nanmin(lemma))} to {pct(np.nanmax(lemma))} (rank-checked on a subsample)."
    )
    return lines


def write_summary(
    path: Path,
    results: dict[str, ProbeResult],
    timings: dict[str, float],
    skipped: list[str],
    args: argparse.Namespace,
    total: float,
) -> None:
    frames = {tag: r.to_frame() for tag, r in results.items()}
    exp = {tag: f[f["has_expansion"]].reset_index(drop=True) for tag, f in frames.items()}
    text = [
        "# Figure 7 measured: positive channels per pixel in the expansion layers",
        "",
        "Threshold = the block's input channels (below it Lemma 2 cannot hold). Positive = "
        "y > 0 after the ReLU6 (what the paper's Figure 7 counts); informative = 0 < y < 6 "
        "(what Lemma 2 needs with ReLU6); 'Lemma 2 holds' = enough informative channels and "
        "the expansion rows at those channels (batch norm folded) have full column rank "
        f"(singular-value ratio > {args.rank_rtol:g}), checked on {args.rank_pixels} seeded "
        "pixels per block and batch of "
        f"{args.batch_size} (the fraction is enough-fraction x rank-ok fraction of the "
        "checked pixels). Min and max are over all pixels of all images, so they widen with "
        "the number of images.",
        "",
        "| network | images | resolution | runtime |",
        "|---|---|---|---|",
    ]
    for tag, r in results.items():
        m = r.metadata
        res = ", ".join("x".join(map(str, s)) for s in m["resolution"])
        text.append(f"| {LABELS[tag]} | {m['n_images']} ({m['images']}) | {res} | "
                    f"{timings[tag]:.0f} s |")  # fmt: skip
    text.append("")
    text.append(f"Whole script: {total:.0f} s on this machine ({_cpu()}).")
    for line in skipped:
        text.append(f"\n{line}")
    if "init" in exp and "tflite" in exp:
        text += ["", "## The paper's statements", ""]
        text += compare(exp["init"], exp["tflite"], "the TF-slim model")
        text += [
            "",
            "Caveats: the TF-slim file is the quantization-aware trained uint8 model (imported "
            "as float, batch norm folded), not the float checkpoint the paper plotted; the "
            "step-0 network is our builder's initialisation (Kaiming normal, batch norm "
            "identity in eval mode), not TF-slim's (truncated normal, batch statistics in "
            "training mode); the images are one per class from the (likely) training split.",
        ]
    for tag, f in exp.items():
        text += ["", f"## {LABELS[tag]}", "", layer_table(f)]
        bn = frames[tag]["bottleneck_negative_fraction"]
        checked = int(f["rank_pixels_checked"].sum())
        deficient = round(float((f["rank_pixels_checked"] * (1 - f["rank_full_fraction"])).sum()))
        text += [
            "",
            f"Rank check: {checked} pixels with enough informative channels checked over the "
            f"16 layers; the active rows were rank-deficient in {deficient} of them.",
            "",
            f"Bottleneck coordinates that are negative (what a ReLU there would zero): "
            f"{pct(bn.min())} to {pct(bn.max())} per block (median {pct(bn.median())}).",
        ]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")


def _cpu() -> str:
    from manifold_lab.records import hardware

    hw = hardware()
    return f"{hw['cpu']}, {hw['cpu_count']} cores, torch threads {hw['torch_threads']}"


# --------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default=str(SHARED / "imagenet-samples-256"))
    ap.add_argument("--tflite", default=str(SHARED / "mobilenet_v2_1.0_224_quant.tflite"))
    ap.add_argument(
        "--limit", type=int, default=0, help="images per network, evenly spaced (0: all)"
    )
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--rank-pixels", type=int, default=4, help="per block and batch")
    ap.add_argument("--rank-rtol", type=float, default=1e-5)
    ap.add_argument("--pixel-samples", type=int, default=0, help="bottleneck samples to keep")
    ap.add_argument("--image-samples", type=int, default=0)
    ap.add_argument("--cifar-checkpoint", default=None, help="a CIFAR-10 checkpoint (.pt)")
    ap.add_argument("--cifar-images", default="cifar10:test")
    ap.add_argument("--cifar-data-root", default=str(SHARED))
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1; 0 keeps torch's default)",
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--suffix", default="", help="appended to every output name")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    limit = None if args.limit <= 0 else args.limit
    sfx = args.suffix

    folder = open_images(args.images)
    images = evenly_spaced(folder, limit)
    name = f"{Path(args.images).name} ({len(images)} of {len(folder)}, evenly spaced)"
    results: dict[str, ProbeResult] = {}
    timings: dict[str, float] = {}
    skipped: list[str] = []

    tl = time.perf_counter()
    model = load_model(f"tflite:{args.tflite}", progress=False)
    load_s = time.perf_counter() - tl
    results["tflite"], timings["tflite"] = run_one("tflite", model, images, name, args)
    timings["tflite"] += load_s

    tl = time.perf_counter()
    model = load_model("random", seed=args.seed)
    load_s = time.perf_counter() - tl
    results["init"], timings["init"] = run_one("init", model, images, name, args)
    timings["init"] += load_s

    cached = torchvision_cached()
    if cached is None:
        msg = (
            "(c) torchvision ImageNet weights: skipped, not in the torch hub cache "
            f"({Path(torch.hub.get_dir()) / 'checkpoints'}) and there is no internet here."
        )
        print(msg)
        skipped.append(msg)
    else:
        model = load_model(f"torchvision:{cached}", progress=False)
        results["torchvision"], timings["torchvision"] = run_one(
            "torchvision", model, images, name, args
        )

    if args.cifar_checkpoint:
        model = load_model(args.cifar_checkpoint, progress=False)
        cifar = open_images(args.cifar_images, data_root=args.cifar_data_root)
        cifar_images = evenly_spaced(cifar, limit)
        cname = f"{args.cifar_images} ({len(cifar_images)} of {len(cifar)}, evenly spaced)"
        results["cifar"], timings["cifar"] = run_one("cifar", model, cifar_images, cname, args)
    else:
        skipped.append("(d) CIFAR-10 checkpoint: none given (--cifar-checkpoint).")

    for tag, r in results.items():
        r.save(out / f"fig7_{tag}{sfx}.csv")
        title = f"Figure 7, {LABELS[tag]}: {r.metadata['n_images']} images"
        save_figure(plot_figure7(r, title=title), out / f"fig7_{tag}{sfx}.png")
    labelled = {LABELS[t]: r for t, r in results.items()}
    save_figure(
        plot_figure7(labelled, title="Positive channels per pixel in the expansion layers"),
        out / f"fig7_comparison{sfx}.png",
    )
    save_figure(
        plot_figure7(
            labelled,
            count="informative",
            title="Informative channels (0 < y < 6) per pixel: what Lemma 2 counts",
        ),
        out / f"fig7_lemma2{sfx}.png",
    )
    total = time.perf_counter() - t0
    write_summary(out / f"fig7_summary{sfx}.md", results, timings, skipped, args, total)
    print(f"done in {total:.0f} s; wrote fig7_*{sfx} files to {out}")


if __name__ == "__main__":
    main()
