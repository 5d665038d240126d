"""``manifold-lab probe``: activation patterns of every inverted residual (the paper's Figure 7).

Kept apart from :mod:`manifold_lab.cli` so that building the parser imports nothing heavy;
:func:`run_probe` imports the probe when the command runs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

__all__ = ["add_probe_parser", "format_summary", "run_probe"]


def _rank_pixels(text: str) -> int | None:
    if text.strip().lower() in ("all", "none"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--rank-pixels takes a non-negative integer or 'all', got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--rank-pixels must be >= 0, got {value}")
    return value


SOURCES_EPILOG = (
    "Weights: builtin (the CIFAR-10 model shipped in the package), random, torchvision, "
    "torchvision:IMAGENET1K_V1, torchvision:IMAGENET1K_V2, tflite:PATH (a TF-slim MobileNetV2 "
    ".tflite), or a checkpoint PATH (.pt). Images: cifar10:test or cifar10:train (with "
    "--data-root: a torchvision root, an extracted folder or cifar10-jpeg.tar.gz), "
    "cifar10-sample (built in), or a folder of images (ImageNet labels from <wnid>_*.JPEG "
    "names; other folders are unlabelled)."
)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """``--weights``, ``--images`` and ``--data-root``, shared by ``eval`` and ``probe``."""
    parser.add_argument("--weights", required=True, help="weights source (see below)")
    parser.add_argument("--images", required=True, help="dataset name or folder (see below)")
    parser.add_argument("--data-root", default=None, help="where a named dataset lives")


def add_probe_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``probe`` subcommand to ``subparsers`` (from ``add_subparsers``) and return it."""
    p = subparsers.add_parser(
        "probe",
        help="count positive channels per pixel in every expansion layer (the paper's Figure 7)",
        description="Run MobileNetV2 weights over a set of images and record, for every "
        "inverted residual block, the positive/informative/clipped channels per pixel of "
        "the expansion layer, dead and always-on channels, the fraction of pixels where "
        "Lemma 2 holds and seeded samples of bottleneck vectors. Writes one row per block.",
        epilog=SOURCES_EPILOG,
    )
    add_source_arguments(p)
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--batch-size", type=int, default=32, help="images per batch (default 32)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--workers", type=int, default=0, help="data-loader processes (default 0)")
    p.add_argument("--out", required=True, help="statistics file, .csv or .json")
    p.add_argument("--figure", default=None, help="also draw Figure 7 (.png, .svg, .pdf, .html)")
    p.add_argument(
        "--samples", default=None, help="also save the reservoir samples (.pt, torch.save)"
    )
    p.add_argument(
        "--rank-pixels",
        type=_rank_pixels,
        default=64,
        help="pixels rank-checked per block and batch for Lemma 2 (default 64; 0 disables; "
        "'all' checks every pixel with enough informative channels)",
    )
    p.add_argument(
        "--pixel-samples", type=int, default=4096, help="per-pixel reservoir size (default 4096)"
    )
    p.add_argument(
        "--image-samples", type=int, default=1024, help="per-image reservoir size (default 1024)"
    )
    p.add_argument(
        "--no-expansion-samples", action="store_true", help="sample bottleneck vectors only"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the samples (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _pct(value: Any) -> str:
    return "   n/a" if value is None or not math.isfinite(float(value)) else f"{100 * value:5.1f}%"


def format_summary(frame: Any) -> str:
    """A short per-block table of a :meth:`ProbeResult.to_frame` frame."""
    lines = [
        f"{'block':<12}{'in>hidden':>10}  {'positive mean+-std [min, max]':<31}"
        f"{'/width':>7}{'thresh':>8}{'enough':>8}{'lemma2':>8}{'dead':>6}{'neg.bn':>8}"
    ]
    for row in frame.itertuples(index=False):
        head = f"{row.name:<12}{f'{row.in_channels}>{row.hidden_channels}':>10}  "
        if not row.has_expansion:
            lines.append(
                head + f"{'(no expansion)':<31}{'':>7}{'':>8}{'':>8}{'':>8}{'':>6}"
                f"{_pct(row.bottleneck_negative_fraction):>8}"
            )
            continue
        stats = f"{row.pos_mean:6.1f} +- {row.pos_std:5.1f} [{row.pos_min:.0f}, {row.pos_max:.0f}]"
        lines.append(
            head + f"{stats:<31}{row.pos_mean_rel:7.3f}{row.threshold:8.0f}"
            f"{_pct(row.enough_channels_fraction):>8}{_pct(row.lemma2_fraction):>8}"
            f"{row.dead_channels:6.0f}{_pct(row.bottleneck_negative_fraction):>8}"
        )
    return "\n".join(lines)


def run_probe(args: argparse.Namespace) -> None:
    """Run ``manifold-lab probe`` from parsed arguments."""
    from .plotting import figure_format, save_figure
    from .probe_plots import plot_figure7
    from .probing import probe_source

    out = str(args.out)
    if not out.lower().endswith((".csv", ".json")):
        raise ValueError(f"--out must end in .csv or .json, got {out!r}")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise ValueError(f"the folder {folder} does not exist; create it first")
    if args.figure is not None:
        figure_format(args.figure)  # fail before computing, not after
    if args.samples is not None and not os.path.isdir(
        os.path.dirname(os.path.abspath(args.samples))
    ):
        raise ValueError(f"the folder of --samples {args.samples} does not exist")
    result = probe_source(
        args.weights,
        args.images,
        data_root=args.data_root,
        limit=args.limit,
        batch_size=args.batch_size,
        device=args.device,
        num_workers=args.workers,
        seed=args.seed,
        progress=not args.no_progress,
        rank_pixels_per_batch=args.rank_pixels,
        pixel_samples=args.pixel_samples,
        image_samples=args.image_samples,
        sample_expansion=not args.no_expansion_samples,
    )
    frame = result.to_frame()
    meta = result.metadata
    print(
        f"weights {meta['model']}; images {args.images}: {meta['n_images']} at "
        f"{' / '.join('x'.join(map(str, r)) for r in meta['resolution'])}"
    )
    print(format_summary(frame))
    path = result.save(out)
    print(f"wrote {len(frame)} rows to {path}", file=sys.stderr)
    if args.figure is not None:
        title = f"Figure 7: {meta['model']} on {args.images} ({meta['n_images']} images)"
        fig_path = save_figure(plot_figure7(result, title=title), args.figure)
        print(f"wrote {fig_path}", file=sys.stderr)
    if args.samples is not None:
        print(f"wrote {result.save_samples(args.samples)}", file=sys.stderr)
