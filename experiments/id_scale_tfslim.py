"""Intrinsic dimension against neighbourhood scale inside the TF-slim MobileNetV2.

Probes the paper authors' TF-slim MobileNetV2 1.0/224 on ImageNet sample images with the
default reservoirs (4,096 pixels per block, the same pixels for the expansion before and after
its ReLU6) and runs :func:`manifold_lab.probing.id_scale_profile` (Gride over neighbour ranks
n1 = 1, 2, 4, ..., 32 with n2 = 2 n1, 95% bootstrap intervals) on the bottleneck, the expansion
before its activation and after it.

Writes ``experiments/results/id_scale_tfslim.csv`` (one row per block, layer and scale, with
provenance) and ``id_scale_tfslim.png``.

Run: ``python experiments/id_scale_tfslim.py --limit 256``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from manifold_lab.plots import plot_id_scale, save_figure
from manifold_lab.probing import id_scale_profile, probe_source
from manifold_lab.records import provenance
from manifold_lab.results import write_results

RESULTS = Path(__file__).parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", default=str(SHARED / "imagenet-samples-256"))
    ap.add_argument("--tflite", default=str(SHARED / "mobilenet_v2_1.0_224_quant.tflite"))
    ap.add_argument("--limit", type=int, default=256)
    ap.add_argument("--n-bootstrap", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    result = probe_source(
        f"tflite:{args.tflite}",
        args.images,
        limit=args.limit,
        spread=True,
        seed=args.seed,
        batch_size=16,
        progress=False,
    )
    t1 = time.perf_counter()
    df = id_scale_profile(result, n_bootstrap=args.n_bootstrap, seed=args.seed)
    t2 = time.perf_counter()
    prov = provenance(
        {
            "model": Path(args.tflite).name,
            "images": f"{Path(args.images).name}, {result.metadata.get('n_images')} images",
            "n_bootstrap": args.n_bootstrap,
            "seed": args.seed,
            "probe_seconds": round(t1 - t0, 1),
            "id_scale_seconds": round(t2 - t1, 1),
        }
    )
    RESULTS.mkdir(exist_ok=True)
    csv = write_results(df, RESULTS / "id_scale_tfslim.csv", prov)
    fig = plot_id_scale(
        df,
        title=f"TF-slim MobileNetV2: intrinsic dimension against scale "
        f"({result.metadata.get('n_images')} ImageNet samples)",
    )
    png = save_figure(fig, RESULTS / "id_scale_tfslim.png", width=1400)
    print(f"probe {t1 - t0:.0f} s, ID {t2 - t1:.0f} s; wrote {csv} and {png}")


if __name__ == "__main__":
    main()
