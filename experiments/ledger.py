"""The information-loss ledger of the paper authors' TF-slim MobileNetV2 on ImageNet samples.

For every inverted residual with an expansion, :func:`manifold_lab.probing.ledger` samples
4,096 pixels (seeded) and reads the block's input back from the expansion's ReLU6 output
with Lemma 2's exact inverse (least squares where it fails) and an affine ridge decoder
fitted on other images, and from the whole block's branch output with another affine
decoder; it reports the toy's nmse, the exact-recovery fraction, collapsed pixels and kNN
recall with bootstrap 95% intervals over images, and the TwoNN dimension of the inputs. The
figure places every block on the toy's phase diagram (Theorem 1 and the measured injectivity
transition of ``phase_diagram.csv``).

The model is the quantization-aware trained TFLite file imported as float with folded batch
norm (TF-slim preprocessing); the images are ``imagenet-samples-256`` (1,000, one per class;
``--limit N`` takes N evenly spaced over the classes).

Writes ``experiments/results/ledger_tfslim.csv`` (one row per block, with provenance and
timing), ``ledger_tfslim.png`` (the phase diagram) and ``ledger_tfslim_blocks.png`` (the
measurements block by block, with their 95% intervals); ``--stem`` changes the names.

Run: ``python experiments/ledger.py`` (``--limit 32`` to measure the cost first;
``--replot`` redraws both figures from the saved CSV without measuring).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Subset

from manifold_lab.data import open_images
from manifold_lab.plots import plot_ledger_blocks, plot_ledger_phase, save_figure
from manifold_lab.probing import ledger
from manifold_lab.results import read_results
from manifold_lab.weights import load_model

RESULTS = Path(__file__).parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", default=str(SHARED / "imagenet-samples-256"))
    ap.add_argument("--tflite", default=str(SHARED / "mobilenet_v2_1.0_224_quant.tflite"))
    ap.add_argument("--limit", type=int, default=None, help="N images evenly spaced")
    ap.add_argument("--pixels", type=int, default=4096, help="sampled pixels per block")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--stem", default="ledger_tfslim")
    ap.add_argument("--phase", default=str(RESULTS / "phase_diagram.csv"))
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--replot", action="store_true", help="redraw the figures from the CSV")
    args = ap.parse_args()
    if args.replot:
        frame, prov = read_results(RESULTS / f"{args.stem}.csv")
        n_images = prov["parameters"]["n_images"]
        for png in _figures(frame, n_images, args):
            print(f"wrote {png}")
        return
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    folder = open_images(args.images)
    dataset = folder
    if args.limit is not None and args.limit < len(folder):
        idx = np.unique(np.linspace(0, len(folder) - 1, args.limit).round().astype(int))
        dataset = Subset(folder, idx.tolist())
    model = load_model(f"tflite:{args.tflite}", progress=False)
    start = time.perf_counter()
    result = ledger(
        model,
        dataset,
        pixels_per_block=args.pixels,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.no_progress,
        images=f"imagenet-samples-256 ({len(dataset)} images)",
    )
    elapsed = time.perf_counter() - start
    result = type(result)(
        blocks=result.blocks,
        metadata={
            **result.metadata,
            "elapsed_s": round(elapsed, 1),
            "s_per_image": round(elapsed / len(dataset), 3),
            "tflite": Path(args.tflite).name,
            "torch_threads": torch.get_num_threads(),
        },
    )
    RESULTS.mkdir(exist_ok=True)
    csv = result.save(RESULTS / f"{args.stem}.csv")
    frame = result.to_frame()
    pngs = _figures(frame, len(dataset), args)
    cols = [
        "name",
        "in_channels",
        "hidden_channels",
        "input_id",
        "enough_fraction",
        "lemma2_fraction",
        "exact_fraction",
        "exact_fraction_low",
        "exact_fraction_high",
        "nmse_lemma2",
        "nmse_affine",
        "nmse_block",
        "nmse_block_low",
        "nmse_block_high",
        "knn_recall_lemma2",
        "collapsed_lemma2",
    ]
    with np.printoptions(linewidth=250):
        print(frame[cols].to_string(float_format=lambda v: f"{v:.4g}"))
    print(f"{elapsed:.1f} s for {len(dataset)} images ({elapsed / len(dataset):.3f} s per image)")
    print(f"wrote {csv}, " + " and ".join(str(p) for p in pngs))


def _figures(frame: pd.DataFrame, n_images: int, args: argparse.Namespace) -> list[Path]:
    """Draw the phase diagram and the per-block figure of a ledger frame."""
    phase = read_results(args.phase)[0] if Path(args.phase).is_file() else None
    model = f"TF-slim MobileNetV2 1.0/224 on {n_images} ImageNet samples"
    phase_png = save_figure(
        plot_ledger_phase(
            frame, phase=phase, title=f"{model}: real layers on the toy's phase diagram"
        ),
        RESULTS / f"{args.stem}.png",
    )
    blocks_png = save_figure(
        plot_ledger_blocks(frame, title=f"{model}: the ledger block by block"),
        RESULTS / f"{args.stem}_blocks.png",
        width=1500,
    )
    return [phase_png, blocks_png]


if __name__ == "__main__":
    main()
