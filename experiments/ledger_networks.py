"""Does the information-loss ledger depend on the task? The same measurement on several networks.

Runs :func:`manifold_lab.probing.ledger` with one seed and sample size on:

* the paper authors' TF-slim MobileNetV2 1.0/224 trained on ImageNet,
* the same architecture trained on iNaturalist birds (a different head and task), both on the
  same ImageNet sample images,
* the ImageNet MobileNetV2 at initialisation (our builder, seeded),
* the built-in CIFAR-10 model (linear bottleneck), a CIFAR-10 model with a ReLU6 bottleneck
  (any checkpoint passed with ``--relu6``) and a CIFAR-10 model at initialisation, on CIFAR-10
  test images.

Writes ``experiments/results/ledger_networks.csv`` (one row per network and block, with
provenance) and ``ledger_networks.png`` (recovered fraction, kNN recall and errors per block,
with 95% intervals; ``--replot`` redraws it from the CSV).

Run: ``python experiments/ledger_networks.py --data ../shared/data --relu6
runs/ledger_relu6/epoch_012.pt``.
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
from manifold_lab.plots import plot_ledger_blocks, save_figure
from manifold_lab.probing import ledger
from manifold_lab.records import provenance
from manifold_lab.results import read_results, write_results
from manifold_lab.weights import load_model

RESULTS = Path(__file__).parent / "results"


def _subset(data: object, n: int) -> Subset:
    idx = np.unique(np.linspace(0, len(data) - 1, n).round().astype(int))  # type: ignore[arg-type]
    return Subset(data, idx.tolist())  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    ap.add_argument("--relu6", default=None, help="a CIFAR-10 checkpoint with ReLU6 bottleneck")
    ap.add_argument("--imagenet-images", type=int, default=128)
    ap.add_argument("--cifar-images", type=int, default=512)
    ap.add_argument("--pixels", type=int, default=4096)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--replot", action="store_true", help="redraw the figure from the CSV")
    args = ap.parse_args()
    if args.replot:
        print(f"wrote {_figure(read_results(RESULTS / 'ledger_networks.csv')[0])}")
        return
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    imagenet = _subset(open_images(str(data / "imagenet-samples-256")), args.imagenet_images)
    cifar = _subset(
        open_images("cifar10:test", data_root=data / "cifar10-jpeg.tar.gz"), args.cifar_images
    )
    networks = [
        ("TF-slim, ImageNet", f"tflite:{data / 'mobilenet_v2_1.0_224_quant.tflite'}", imagenet),
        (
            "TF-slim, iNaturalist birds",
            f"tflite:{data / 'mobilenet_v2_1.0_224_inat_bird_quant.tflite'}",
            imagenet,
        ),
        ("ImageNet net at initialisation", "random", imagenet),
        ("CIFAR-10, linear bottleneck (built-in)", "builtin", cifar),
        ("CIFAR-10 net at initialisation", "random-cifar", cifar),
    ]
    if args.relu6:
        epoch = load_model(f"checkpoint:{args.relu6}").weights_info.meta.get("epoch")
        label = "CIFAR-10, ReLU6 bottleneck" + (f" (epoch {epoch})" if epoch else "")
        networks.append((label, f"checkpoint:{args.relu6}", cifar))
    frames, timings = [], {}
    for label, source, images in networks:
        model = load_model(source, progress=False)
        t0 = time.perf_counter()
        result = ledger(
            model,
            images,
            pixels_per_block=args.pixels,
            n_boot=args.n_boot,
            seed=args.seed,
            batch_size=32,
            progress=False,
        )
        timings[label] = round(time.perf_counter() - t0, 1)
        frame = result.to_frame()
        frame.insert(0, "network", label)
        frame.insert(1, "n_images_used", len(images))
        frames.append(frame)
        print(f"{label}: {timings[label]} s", flush=True)
    df = pd.concat(frames, ignore_index=True)
    prov = provenance(
        {
            "networks": [(label, source) for label, source, _ in networks],
            "imagenet_images": args.imagenet_images,
            "cifar_images": args.cifar_images,
            "pixels_per_block": args.pixels,
            "n_boot": args.n_boot,
            "seed": args.seed,
            "seconds": timings,
        }
    )
    RESULTS.mkdir(exist_ok=True)
    csv = write_results(df, RESULTS / "ledger_networks.csv", prov)
    png = _figure(df)
    print(
        df.groupby("network")[["exact_fraction", "nmse_affine", "nmse_block"]]
        .agg(["min", "median"])
        .to_string()
    )
    print(f"wrote {csv} and {png}")


def _figure(df: pd.DataFrame) -> Path:
    """Draw the six networks' ledgers block by block."""
    fig = plot_ledger_blocks(
        df,
        by="network",
        title="The information-loss ledger of six networks (same seed and sample sizes)",
    )
    fig.update_layout(height=480, legend={"y": -0.28})
    return Path(save_figure(fig, RESULTS / "ledger_networks.png", width=1600))


if __name__ == "__main__":
    main()
