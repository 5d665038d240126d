"""``manifold-lab probe``: activation patterns of every inverted residual (the paper's Figure 7).

Building the parser imports nothing heavy; :func:`run` imports the probe when the command runs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

from ..registry.settings import PROBE
from .options import add_source_arguments, sources_epilog

__all__ = ["add_parser", "format_summary", "run"]


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


def _option(p: argparse.ArgumentParser, name: str) -> None:
    param = PROBE[name]
    p.add_argument(
        "--" + name.replace("_", "-"),
        type=int,
        default=param.default,
        help=f"{param.help.rstrip('.').lower()} (default {param.default})",
    )


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``probe`` to the subparsers ``sub``."""
    p = sub.add_parser(
        "probe",
        help="count positive channels per pixel in every expansion layer (the paper's Figure 7)",
        description="Run MobileNetV2 weights over a set of images and record, for every "
        "inverted residual block, the positive/informative/clipped channels per pixel of "
        "the expansion layer, dead and always-on channels, the fraction of pixels where "
        "Lemma 2 holds and seeded samples of bottleneck vectors. Writes one row per block.",
        epilog=sources_epilog(),
    )
    add_source_arguments(p)
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    _option(p, "batch_size")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    _option(p, "workers")
    p.add_argument("--out", required=True, help="statistics file, .csv or .json")
    p.add_argument("--figure", default=None, help="also draw Figure 7 (.png, .svg, .pdf, .html)")
    p.add_argument(
        "--samples", default=None, help="also save the reservoir samples (.pt, torch.save)"
    )
    p.add_argument(
        "--rank-pixels",
        type=_rank_pixels,
        default=PROBE["rank_pixels"].default,
        help="pixels rank-checked per block and batch for Lemma 2 (default 64; 0 disables; "
        "'all' checks every pixel with enough informative channels)",
    )
    _option(p, "pixel_samples")
    _option(p, "image_samples")
    p.add_argument(
        "--no-expansion-samples", action="store_true", help="sample bottleneck vectors only"
    )
    _option(p, "seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run)
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


def run(args: argparse.Namespace) -> None:
    """Run ``manifold-lab probe``."""
    from ..plots import figure_format, plot_figure7, save_figure
    from ..probing import probe_source

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
        on_error=args.on_error,
    )
    frame = result.to_frame()
    meta = result.metadata
    skipped = f" ({meta['n_skipped']} unreadable skipped)" if meta.get("n_skipped") else ""
    print(
        f"weights {meta.get('model_name') or meta['model']}; images "
        f"{meta.get('images_name') or args.images}: {meta['n_images']}{skipped} at "
        f"{' / '.join('x'.join(map(str, r)) for r in meta['resolution'])}"
    )
    print(format_summary(frame))
    path = result.save(out)
    print(f"wrote {len(frame)} rows to {path}", file=sys.stderr)
    if args.figure is not None:
        title = (
            f"Figure 7: {meta.get('model_name') or meta['model']} on "
            f"{meta.get('images_name') or args.images} ({meta['n_images']} images)"
        )
        fig_path = save_figure(plot_figure7(result, title=title), args.figure)
        print(f"wrote {fig_path}", file=sys.stderr)
    if args.samples is not None:
        print(f"wrote {result.save_samples(args.samples)}", file=sys.stderr)
