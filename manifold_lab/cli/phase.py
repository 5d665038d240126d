"""``manifold-lab phase``: the injectivity phase diagram of random ReLU layers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..registry.settings import PHASE
from .options import add_figure_outputs, positive_int


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``phase`` to the subparsers ``sub``."""
    p = sub.add_parser(
        "phase",
        help="draw the injectivity phase diagram (probability of injectivity against n/k)",
        description="Estimate, for Gaussian W (n x k), the probability that x -> ReLU(Wx) is "
        "injective on all of R^k, against the ratio n/k, and draw it.",
    )
    add_figure_outputs(p)
    p.add_argument(
        "--dims", default=PHASE["dims"].default, help=f"{PHASE['dims'].help} (default 1:8)"
    )
    p.add_argument("--max-ratio", type=float, default=None, help=PHASE["max_ratio"].help)
    p.add_argument("--seeds", default=None, help="seed list or inclusive range, e.g. 0:99")
    p.add_argument("--n-seeds", type=positive_int, default=None, help="use seeds 0..N-1")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> None:
    """Run ``manifold-lab phase``."""
    from .._validation import check_seeds
    from ..injectivity import critical_ratios, phase_diagram
    from ..injectivity.phase import check_dims
    from ..plots import figure_format, plot_phase_diagram, save_figure
    from .options import check_data_path, write_data

    figure_format(args.out)
    check_data_path(args.data)
    kwargs: dict[str, Any] = {"dims": check_dims(args.dims)}
    if args.n_seeds is not None or args.seeds is not None:
        seeds = range(args.n_seeds) if args.n_seeds is not None else args.seeds
        kwargs["seeds"] = check_seeds(seeds)
    if args.max_ratio is not None:
        kwargs["max_ratio"] = args.max_ratio
    if args.device is not None:
        kwargs["device"] = args.device
    if args.no_progress:
        kwargs["progress"] = False
    df = phase_diagram(**kwargs)
    if args.data is not None:
        write_data(df, args.data, {"figure": "phase", **kwargs})
    fig = plot_phase_diagram(df, ratios=critical_ratios(df))
    print(f"wrote {save_figure(fig, args.out)}", file=sys.stderr)
