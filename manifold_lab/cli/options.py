"""Options shared by several subcommands, built from the library's registries and settings.

Nothing here imports torch: ``manifold-lab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .._parsing import split_key_value, split_names
from ..embedding import EMBEDDINGS  # numpy only
from ..registry import (
    ACTIVATION_REGISTRY,
    MANIFOLD_REGISTRY,
    METHOD_REGISTRY,
    METRIC_REGISTRY,
    Param,
    sources_epilog,
)
from ..registry.settings import PROBE, SWEEP

__all__ = [
    "add_figure_outputs",
    "add_manifold_options",
    "add_source_arguments",
    "add_sweep_options",
    "manifold_kwargs",
    "names",
    "positive_int",
    "seeds_of",
    "sources_epilog",
    "sweep_kwargs",
    "with_default",
    "write_data",
]


def with_default(text: str, defaults: dict[str, Any], key: str) -> str:
    """``text`` followed by ``(default X)`` when ``defaults`` has ``key``."""
    return f"{text} (default {defaults[key]})" if key in defaults else text


def _help(param: Param, defaults: dict[str, Any], extra: str = "") -> str:
    return with_default(param.help.rstrip(".") + extra, defaults, param.name)


def add_manifold_options(p: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    """``--manifold``, ``--manifold-arg``, ``--n-samples`` and ``--manifold-seed``."""
    d = defaults
    p.add_argument(
        "--manifold",
        default=d.get("manifold"),
        help=with_default(f"one of {MANIFOLD_REGISTRY.choices_text()}", d, "manifold"),
    )
    p.add_argument(
        "--manifold-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra generator argument, e.g. dim=3 (repeatable)",
    )
    p.add_argument("--n-samples", type=int, default=None, help=_help(SWEEP["n_samples"], d))
    p.set_defaults(n_samples_default=d.get("n_samples"))
    p.add_argument("--points", type=int, default=None, help=argparse.SUPPRESS)  # deprecated
    p.add_argument(
        "--manifold-seed",
        type=int,
        default=d.get("manifold_seed"),
        help=_help(SWEEP["manifold_seed"], d),
    )


def add_sweep_options(p: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    """Widths, seeds, activations, methods, metrics and the computation's settings."""
    d = defaults
    p.add_argument("--widths", default=d.get("widths"), help=_help(SWEEP["widths"], d))
    p.add_argument("--seeds", default=d.get("seeds"), help=_help(SWEEP["seeds"], d))
    p.add_argument(
        "--n-seeds", type=positive_int, default=None, help="use seeds 0..N-1 (overrides --seeds)"
    )
    p.add_argument("--depth", default=d.get("depth"), help=_help(SWEEP["depth"], d))
    p.add_argument(
        "--residual-form",
        default=d.get("residual_form"),
        choices=list(SWEEP["residual_form"].choices),
        help=_help(SWEEP["residual_form"], d),
    )
    p.add_argument(
        "--activation",
        default=d.get("activation"),
        help=with_default(
            f"comma-separated from {ACTIVATION_REGISTRY.choices_text()} (or clipped_relu:C, "
            "leaky_relu:A)",
            d,
            "activation",
        ),
    )
    p.add_argument(
        "--method",
        default=d.get("method"),
        help=with_default(f"comma-separated from {METHOD_REGISTRY.choices_text()}", d, "method"),
    )
    p.add_argument(
        "--metrics",
        default=d.get("metrics"),
        help=f"comma-separated from {METRIC_REGISTRY.choices_text()}"
        + (f" (default {d['metrics']})" if d.get("metrics") else " (default all)"),
    )
    p.add_argument(
        "--embedding",
        default=d.get("embedding"),
        choices=sorted(EMBEDDINGS),
        help=_help(SWEEP["embedding"], d),
    )
    p.add_argument("--bias", type=float, default=d.get("bias"), help=_help(SWEEP["bias"], d))
    p.add_argument("--device", default=d.get("device"), help=SWEEP["device"].help)
    p.add_argument("--dtype", default=d.get("dtype"), choices=list(SWEEP["dtype"].choices))
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts such as ``--n-seeds``: an integer >= 1.

    Examples
    --------
    >>> positive_int("3")
    3
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def names(text: str | None, option: str) -> list[str] | None:
    """A comma-separated option as a list (None stays None); empty items are errors."""
    return None if text is None else split_names(text, option)


def manifold_kwargs(items: Sequence[str]) -> dict[str, Any]:
    """``--manifold-arg KEY=VALUE`` items as keyword arguments."""
    return dict(split_key_value(item, "--manifold-arg") for item in items)


def n_samples_of(args: argparse.Namespace) -> Any:
    """``--n-samples``, or the deprecated ``--points`` with a warning."""
    if getattr(args, "points", None) is not None:
        print("manifold-lab: --points is deprecated; use --n-samples", file=sys.stderr)
        if args.n_samples is not None:
            raise ValueError("give --n-samples or --points, not both")
        return args.points
    return args.n_samples if args.n_samples is not None else args.n_samples_default


def seeds_of(args: argparse.Namespace) -> Any:
    """``range(--n-seeds)`` when given, else ``--seeds``."""
    return range(args.n_seeds) if args.n_seeds is not None else args.seeds


def sweep_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`manifold_lab.sweep` from the shared options."""
    return {
        "widths": args.widths,
        "seeds": seeds_of(args),
        "activation": names(args.activation, "--activation"),
        "method": names(args.method, "--method"),
        "metrics": names(args.metrics, "--metrics"),
        "depth": args.depth,
        "residual_form": args.residual_form,
        "embedding": args.embedding,
        "bias": args.bias,
        "n_samples": n_samples_of(args),
        "manifold_seed": args.manifold_seed,
        "manifold_kwargs": manifold_kwargs(args.manifold_arg),
        "device": args.device,
        "dtype": args.dtype,
        "progress": False if args.no_progress else None,
    }


def add_figure_outputs(p: argparse.ArgumentParser, data: str = "numbers") -> None:
    """``--out`` (the figure file) and ``--data`` (the ``data`` behind it), for figure commands."""
    p.add_argument("--out", required=True, help="figure file: .png, .svg, .pdf or .html")
    p.add_argument(
        "--data", default=None, help=f"also write the {data} behind the figure (.csv or .json)"
    )


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """``--weights``, ``--images``, ``--data-root``, ``--on-error``: for ``eval`` and ``probe``."""
    parser.add_argument("--weights", required=True, help="weights source (see below)")
    parser.add_argument("--images", required=True, help="image source (see below)")
    parser.add_argument("--data-root", default=None, help="where a named dataset lives")
    on_error = PROBE["on_error"]
    parser.add_argument(
        "--on-error",
        default=on_error.default,
        choices=list(on_error.choices),
        help=with_default(on_error.help.rstrip("."), {"on_error": on_error.default}, "on_error"),
    )


def write_data(df: Any, path: str, params: dict[str, Any]) -> None:
    """Write the numbers behind a figure (``--data``) with provenance."""
    from ..records import provenance
    from ..results import write_results

    prov = df.attrs.get("provenance") or provenance(params)
    out = write_results(df, path, prov)
    print(f"wrote {len(df)} records to {out}", file=sys.stderr)


def check_data_path(path: str | None) -> None:
    """``--data`` must be a .csv or .json file (checked before computing)."""
    if path is not None and not path.lower().endswith((".csv", ".json")):
        raise ValueError(f"--data must end in .csv or .json, got {path!r}")


def fill(args: argparse.Namespace, defaults: dict[str, Any]) -> None:
    """Set every option of ``defaults`` that the user left unset."""
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
