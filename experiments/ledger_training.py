"""The information-loss ledger over training: the cpu preset's linear and ReLU6 runs.

Both runs keep their weights after chosen epochs (``manifold-lab train --preset cpu
--keep-epochs 1,2,3,4,6,8,10,12``, the ReLU6 run with ``--set
model_bottleneck_activation=relu6``); this script runs :func:`manifold_lab.probing.ledger` on
every kept checkpoint over the same CIFAR-10 test images and seed, and writes
``experiments/results/ledger_training.csv`` (one row per run, epoch and block, with
provenance) and ``ledger_training.png``.

Run: ``python experiments/ledger_training.py --runs linear=runs/ledger_linear
relu6=runs/ledger_relu6 --data-root ../shared/data/cifar10-jpeg.tar.gz``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Subset

from manifold_lab.data import open_images
from manifold_lab.fileio import atomic_write_text
from manifold_lab.plots import save_figure
from manifold_lab.plots.ledger_training import plot_ledger_training
from manifold_lab.probing import ledger
from manifold_lab.records import provenance
from manifold_lab.results import write_results
from manifold_lab.weights import load_model

RESULTS = Path(__file__).parent / "results"
LABELS = {"linear": "linear bottleneck", "relu6": "ReLU6 bottleneck"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", nargs="+", required=True, metavar="NAME=RUN_DIR")
    ap.add_argument("--data-root", required=True, help="CIFAR-10 (tarball, folder or root)")
    ap.add_argument("--images", type=int, default=512, help="test images, evenly spaced")
    ap.add_argument("--pixels", type=int, default=4096)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stem", default="ledger_training")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    test = open_images("cifar10:test", data_root=args.data_root)
    idx = np.unique(np.linspace(0, len(test) - 1, args.images).round().astype(int))
    data = Subset(test, idx.tolist())
    frames = []
    timings = {}
    for spec in args.runs:
        name, run_dir = spec.split("=", 1)
        for ckpt in sorted(Path(run_dir).glob("epoch_*.pt")):
            model = load_model(ckpt)
            info = model.weights_info.meta
            t0 = time.perf_counter()
            result = ledger(
                model,
                data,
                pixels_per_block=args.pixels,
                n_boot=args.n_boot,
                seed=args.seed,
                batch_size=128,
                progress=False,
                images=f"cifar10:test ({len(data)} images)",
            )
            timings[f"{name}/{ckpt.name}"] = round(time.perf_counter() - t0, 1)
            frame = result.to_frame()
            frame.insert(0, "run", LABELS.get(name, name))
            frame.insert(1, "epoch", int(info["epoch"]))
            frame.insert(2, "test_acc", float(info["test_acc"]))
            frames.append(frame)
            print(
                f"{name} epoch {info['epoch']}: test acc {info['test_acc']:.4f}, "
                f"{timings[f'{name}/{ckpt.name}']} s",
                flush=True,
            )
    df = pd.concat(frames, ignore_index=True)
    prov = provenance(
        {
            "runs": args.runs,
            "images": f"cifar10:test, {len(data)} evenly spaced",
            "pixels_per_block": args.pixels,
            "n_boot": args.n_boot,
            "seed": args.seed,
            "seconds_per_checkpoint": timings,
        }
    )
    RESULTS.mkdir(exist_ok=True)
    csv = write_results(df, RESULTS / f"{args.stem}.csv", prov)
    fig = plot_ledger_training(
        df,
        title=f"The information-loss ledger over training (cpu preset, {len(data)} CIFAR-10 "
        "test images)",
    )
    png = save_figure(fig, RESULTS / f"{args.stem}.png", width=1100)
    summary = (
        df.groupby(["run", "epoch"])
        .agg(
            test_acc=("test_acc", "first"),
            exact_min=("exact_fraction", "min"),
            exact_mean=("exact_fraction", "mean"),
            nmse_affine_max=("nmse_affine", "max"),
            nmse_block_median=("nmse_block", "median"),
        )
        .reset_index()
    )
    atomic_write_text(
        RESULTS / f"{args.stem}_summary.json",
        json.dumps(summary.to_dict(orient="records"), indent=1),
    )
    print(summary.to_string())
    print(f"wrote {csv} and {png}")


if __name__ == "__main__":
    main()
