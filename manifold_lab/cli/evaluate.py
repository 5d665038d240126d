"""``manifold-lab eval``: top-1/top-5 accuracy and speed of MobileNetV2 weights."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from .options import add_source_arguments, sources_epilog


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``eval`` to the subparsers ``sub``."""
    p = sub.add_parser(
        "eval",
        help="top-1/top-5 accuracy and speed of MobileNetV2 weights on a set of images",
        description="Load MobileNetV2 weights, preprocess the images the way those weights "
        "expect, and print top-1/top-5 accuracy, the number of images and images/second.",
        epilog=sources_epilog(),
    )
    add_source_arguments(p)
    p.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument(
        "--workers", type=int, default=None, help="data-loader processes (default: up to 4)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run)
    return p


def _pct(value: float | None) -> str:
    return "n/a (unlabelled images)" if value is None else f"{100 * value:.2f}%"


def run(args: argparse.Namespace) -> None:
    """Run ``manifold-lab eval``."""
    from ..data import open_images
    from ..evaluation import evaluate
    from ..weights import load_model

    model = load_model(args.weights, device="cpu", progress=not args.no_progress)
    dataset = open_images(args.images, data_root=args.data_root, progress=not args.no_progress)
    workers = args.workers
    if workers is None:
        workers = min(4, max(0, (os.cpu_count() or 1) - 1))
    result = evaluate(
        model,
        dataset,
        batch_size=args.batch_size,
        device=args.device,
        num_workers=workers,
        limit=args.limit,
        progress=not args.no_progress,
        on_error=args.on_error,
    )
    info = model.weights_info
    record = {"weights": f"{info.source}:{info.name}", "images": args.images, **result.to_dict()}
    if args.json:
        print(json.dumps(record, indent=1))
        return
    print(f"weights      {record['weights']}")
    skipped = f", {result.n_skipped} unreadable skipped" if result.n_skipped else ""
    print(f"images       {args.images}: {result.n_images} ({result.n_labeled} labelled{skipped})")
    print(f"top-1        {_pct(result.top1)}")
    print(f"top-5        {_pct(result.top5)}")
    print(
        f"speed        {result.images_per_second:.1f} images/s end to end, "
        f"{result.model_images_per_second:.1f} images/s in the model ({result.device})"
    )
