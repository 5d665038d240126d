"""``manifold-lab curves``: metrics against width, with Theorem 1 and the injectivity widths."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..registry.settings import CURVES, SWEEP
from .options import (
    add_figure_outputs,
    add_manifold_options,
    add_sweep_options,
    check_data_path,
    sweep_kwargs,
)

DEFAULTS: dict[str, Any] = {
    **{name: p.default for name, p in SWEEP.items() if name != "seeds"},
    "widths": CURVES["widths"].default,
    "metrics": ",".join(CURVES["metrics"].default),
}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``curves`` to the subparsers ``sub``."""
    p = sub.add_parser(
        "curves",
        help="run a sweep and draw metrics against width (Theorem 1, injectivity widths)",
        description="Run a sweep and draw each metric against width (mean and 95%% CI over "
        "seeds), with Theorem 1's prediction and the injectivity literature's widths.",
    )
    add_figure_outputs(p, "summary")
    p.add_argument("--title", default=None, help="figure title")
    add_manifold_options(p, DEFAULTS)
    add_sweep_options(p, DEFAULTS)
    p.add_argument(
        "--color-by",
        default=None,
        help="column with one curve per value: method or activation (default: activation "
        "when several are given, else method)",
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> None:
    """Run ``manifold-lab curves``."""
    from ..plots import figure_format, plot_width_curves, save_figure
    from ..sweeps import summarize, sweep
    from .options import write_data

    figure_format(args.out)
    check_data_path(args.data)
    if args.n_seeds is None and args.seeds is None:
        args.n_seeds = CURVES["n_seeds"].default
    kwargs = sweep_kwargs(args)
    df = sweep(args.manifold, **kwargs)
    summary = summarize(df)
    activations = list(dict.fromkeys(df["activation"]))
    methods = list(dict.fromkeys(df["method"]))
    k = int(df["k"].iloc[0])
    title = args.title
    if title is None:
        title = (
            f"{df['manifold'].iloc[0]} (span dim. k = {k}, {int(df['n_samples'].iloc[0])} "
            f"points): {', '.join(activations)}; method {', '.join(methods)}; "
            f"mean and 95% CI over {df['seed'].nunique()} seeds"
        )
    fig = plot_width_curves(
        summary,
        metrics=kwargs["metrics"],
        color=args.color_by or ("activation" if len(activations) > 1 else "method"),
        theory_k=k,
        thresholds=True,
        title=title,
    )
    if args.data is not None:
        write_data(summary, args.data, {"figure": "curves"})
    rows = -(-len(kwargs["metrics"]) // 2)
    print(
        f"wrote {save_figure(fig, args.out, width=1100, height=160 + 330 * rows)}", file=sys.stderr
    )
