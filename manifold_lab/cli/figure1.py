"""``manifold-lab figure1``: the paper's Figure 1 for any manifold."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..registry import ACTIVATION_REGISTRY, METHOD_REGISTRY
from ..registry.settings import FIGURE1
from .options import (
    add_figure_outputs,
    add_manifold_options,
    check_data_path,
    manifold_kwargs,
    n_samples_of,
    names,
    positive_int,
    write_data,
)

DEFAULTS: dict[str, Any] = {name: p.default for name, p in FIGURE1.items()}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``figure1`` to the subparsers ``sub``."""
    p = sub.add_parser(
        "figure1",
        help="draw the paper's Figure 1: a manifold and its reconstructions at several widths",
        description="Embed a manifold (default spiral) with a random matrix T at several "
        "widths, apply the activation and project back with T^-1, as in the paper's Figure 1. "
        "The format comes from the suffix of --out (png, svg, pdf need Chromium; html needs "
        "nothing).",
    )
    add_figure_outputs(p)
    p.add_argument("--title", default=None, help="figure title")
    add_manifold_options(p, {"manifold": "spiral", **DEFAULTS})
    p.add_argument("--widths", default=DEFAULTS["widths"], help=FIGURE1["widths"].help)
    p.add_argument("--seed", type=int, default=None, help="seed of the matrices (default 0)")
    p.add_argument("--seeds", default=None, help="average the metrics over these seeds, e.g. 0:9")
    p.add_argument("--n-seeds", type=positive_int, default=None, help="use seeds 0..N-1")
    p.add_argument(
        "--activation",
        default="relu",
        help=f"one of {ACTIVATION_REGISTRY.choices_text()} (default relu)",
    )
    p.add_argument(
        "--method",
        default=DEFAULTS["method"],
        help=f"one of {METHOD_REGISTRY.choices_text()}, or several comma-separated "
        f"(default {DEFAULTS['method']})",
    )
    p.add_argument("--color", action="store_true", help="colour by the intrinsic coordinate")
    p.add_argument(
        "--highlight", action="store_true", help="mark points where Lemma 2 fails and collapsed"
    )
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> None:
    """Run ``manifold-lab figure1``."""
    from .._validation import check_seeds
    from ..figure1 import run_figure1
    from ..plots import figure_format, plot_figure1, save_figure

    figure_format(args.out)  # fail before computing, not after
    check_data_path(args.data)
    seeds = None
    if args.n_seeds is not None or args.seeds is not None:
        if args.seed is not None:
            raise ValueError("give --seed or --seeds/--n-seeds, not both")
        seeds = check_seeds(range(args.n_seeds) if args.n_seeds is not None else args.seeds)
    methods = names(args.method, "--method") or [DEFAULTS["method"]]
    params: dict[str, Any] = {
        "manifold": args.manifold,
        "widths": args.widths,
        "seed": 0 if args.seed is None else args.seed,
        "seeds": seeds,
        "method": methods[0] if len(methods) == 1 else methods,
        "activation": args.activation,
        "n_samples": n_samples_of(args),
        "color": bool(args.color),
        "highlight": bool(args.highlight),
        "manifold_kwargs": manifold_kwargs(args.manifold_arg),
        "title": args.title,
    }
    drawing = ("color", "highlight", "title")
    result = run_figure1(**{k: v for k, v in params.items() if k not in drawing})
    fig = plot_figure1(result, **{k: params[k] for k in drawing})
    if args.data is not None:
        df = result.to_frame()
        for col in ("method", "activation", "manifold"):
            df.insert(0, col, params[col])
        write_data(df, args.data, {"figure": "figure1", **params})
    print(f"wrote {save_figure(fig, args.out)}", file=sys.stderr)
