"""Command-line interface: ``manifold-lab sweep ...``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .core import METHODS, METRICS
from .embedding import EMBEDDINGS
from .manifolds import MANIFOLDS


def _kv(items: Sequence[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--manifold-arg expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``manifold-lab``."""
    parser = argparse.ArgumentParser(
        prog="manifold-lab",
        description="Measure how ReLU destroys or preserves manifolds (MobileNetV2, Sec. 3.2).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sw = sub.add_parser(
        "sweep",
        help="run a sweep over widths and seeds and write CSV or JSON",
        description="Embed a manifold with random matrices at several widths and seeds, "
        "apply an activation, reconstruct, and write one record per "
        "(activation, method, width, seed) with provenance.",
    )
    sw.add_argument("--manifold", default="spiral", help=f"one of {sorted(MANIFOLDS)}")
    sw.add_argument(
        "--manifold-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra generator argument, e.g. dim=3 (repeatable)",
    )
    sw.add_argument("--points", type=int, default=1000, help="number of points (default 1000)")
    sw.add_argument("--manifold-seed", type=int, default=0, help="seed of the points (default 0)")
    sw.add_argument("--widths", default="2,3,5,15,30", help="e.g. 2,3,5,15,30 or 2:64")
    sw.add_argument("--seeds", default="0:9", help="seed list or inclusive range (default 0:9)")
    sw.add_argument(
        "--n-seeds", type=int, default=None, help="use seeds 0..N-1 (overrides --seeds)"
    )
    sw.add_argument(
        "--activation", default="relu", help="comma-separated, e.g. relu,relu6,identity"
    )
    sw.add_argument("--method", default="pinv", help=f"comma-separated from {list(METHODS)}")
    sw.add_argument(
        "--metrics", default=None, help=f"comma-separated from {list(METRICS)} (default all)"
    )
    sw.add_argument("--embedding", default="gaussian", choices=sorted(EMBEDDINGS))
    sw.add_argument("--bias", type=float, default=0.0, help="relative bias scale (default 0)")
    sw.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    sw.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    sw.add_argument("--format", default=None, choices=["csv", "json"], help="default: from --out")
    sw.add_argument("--out", default=None, help="output file; omitted: write to stdout")
    sw.add_argument("--summary", action="store_true", help="write the summary over seeds instead")
    sw.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``manifold-lab`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .provenance import results_to_text, write_results
    from .sweep import summarize, sweep

    try:
        seeds: object = range(args.n_seeds) if args.n_seeds is not None else args.seeds
        df = sweep(
            args.manifold,
            widths=args.widths,
            seeds=seeds,
            activation=[a for a in args.activation.split(",") if a],
            method=[m for m in args.method.split(",") if m],
            metrics=None if args.metrics is None else args.metrics.split(","),
            embedding=args.embedding,
            bias=args.bias,
            n_samples=args.points,
            manifold_seed=args.manifold_seed,
            manifold_kwargs=_kv(args.manifold_arg),
            device=args.device,
            dtype=args.dtype,
            progress=False if args.no_progress else None,
        )
        if args.summary:
            df = summarize(df)
        fmt = args.format or ("json" if args.out and args.out.endswith(".json") else "csv")
        if args.out:
            path = write_results(df, args.out, fmt=fmt)
            print(f"wrote {len(df)} records to {path}", file=sys.stderr)
        else:
            sys.stdout.write(results_to_text(df, df.attrs["provenance"], fmt))
    except ValueError as exc:
        print(f"manifold-lab: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
