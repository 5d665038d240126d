"""``manifold-lab train``: train a MobileNetV2 variant on CIFAR-10 (resumable)."""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``train`` to the subparsers ``sub``."""
    p = sub.add_parser(
        "train",
        help="train a MobileNetV2 variant on CIFAR-10 (resumable)",
        description="Train a MobileNetV2 variant on CIFAR-10 from a preset (smoke: seconds, "
        "for tests; cpu: about 30 minutes on 2 cores; gpu: the full-width model), with any setting "
        "overridden. Checkpoints are written to RUN_DIR after every epoch; --resume continues "
        "a stopped run. Under torchrun it trains data-parallel (DDP).",
    )
    p.add_argument(
        "--preset",
        default="smoke",
        help="a preset of manifold_lab.train.PRESETS; an unknown name lists them (default smoke)",
    )
    p.add_argument("--run-dir", default=None, help="run directory (default runs/<preset>)")
    p.add_argument(
        "--data-root",
        default=None,
        help="CIFAR-10: a torchvision root, cifar10-jpeg.tar.gz or its extracted folder",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--keep-epochs",
        default="",
        metavar="E,E,...",
        help="also keep the weights after these epochs as RUN_DIR/epoch_NNN.pt "
        "(e.g. 1,2,4,8,12), to follow the information-loss ledger over training",
    )
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override preset fields, e.g. epochs=5 seed=1 model_width_mult=0.5 "
        "model_bottleneck_activation=relu6 model_shortcut=none",
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> None:
    """Run ``manifold-lab train``."""
    from .._validation import parse_int_spec
    from ..train import preset_config, train

    config = preset_config(args.preset, args.set)
    run_dir = args.run_dir or f"runs/{args.preset}"
    result = train(
        config,
        run_dir,
        data_root=args.data_root,
        resume=args.resume,
        device=args.device,
        progress=not args.no_progress,
        keep_epochs=parse_int_spec(args.keep_epochs, "--keep-epochs") if args.keep_epochs else (),
    )
    if result.metrics and int(os.environ.get("RANK", "0")) == 0:
        last = result.metrics[-1]
        print(
            f"{run_dir}: epoch {last['epoch']}/{config.epochs}, test accuracy "
            f"{100 * last['test_acc']:.2f}%"
        )
