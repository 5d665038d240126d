"""``manifold-lab sweep``: metrics over widths and seeds, written as CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..registry.settings import SWEEP
from .options import add_manifold_options, add_sweep_options, sweep_kwargs

DEFAULTS: dict[str, Any] = {name: p.default for name, p in SWEEP.items()}
ESTIMATE_FROM_CASES = 2000
"""Sweeps of at least this many cases print their estimated time first (the estimate
times a few small sweeps on this machine first)."""
_FORMATS = {".csv": "csv", ".json": "json"}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``sweep`` to the subparsers ``sub``."""
    p = sub.add_parser(
        "sweep",
        help="run a sweep over widths and seeds and write CSV or JSON",
        description="Embed a manifold with random matrices at several widths and seeds, "
        "apply an activation, reconstruct, and write one record per "
        "(activation, method, width, seed) with provenance.",
    )
    add_manifold_options(p, DEFAULTS)
    add_sweep_options(p, DEFAULTS)
    p.add_argument("--format", default=None, choices=sorted(set(_FORMATS.values())))
    p.add_argument("--out", default=None, help="output file (.csv or .json); omitted: stdout")
    p.add_argument("--summary", action="store_true", help="write the summary over seeds instead")
    p.set_defaults(run=run)
    return p


def output_format(out: str | None, fmt: str | None) -> str:
    """The format to write: ``--format``, else the suffix of ``--out``; other suffixes fail."""
    if out is None:
        return fmt or "csv"
    suffix = "." + out.rsplit(".", 1)[-1].lower() if "." in out else ""
    if suffix not in _FORMATS:
        raise ValueError(f"--out must end in .csv or .json, got {out!r}")
    if fmt is not None and fmt != _FORMATS[suffix]:
        raise ValueError(f"--format {fmt} does not match --out {out!r}")
    return _FORMATS[suffix]


def run(args: argparse.Namespace) -> None:
    """Run ``manifold-lab sweep``."""
    from ..results import results_to_text, write_results
    from ..sweeps import summarize, sweep

    fmt = output_format(args.out, args.format)
    kwargs = sweep_kwargs(args)
    _print_estimate(args.manifold, kwargs)
    df = sweep(args.manifold, **kwargs)
    if args.summary:
        df = summarize(df)
    if args.out:
        path = write_results(df, args.out, fmt=fmt)
        print(f"wrote {len(df)} records to {path}", file=sys.stderr)
    else:
        sys.stdout.write(results_to_text(df, df.attrs["provenance"], fmt))


def _print_estimate(manifold: Any, kwargs: dict[str, Any]) -> None:
    """Print the estimated time of a long sweep to stderr (shorter ones start at once)."""
    from .._validation import check_seeds, check_widths
    from ..sweep_cost import estimate_sweep_seconds

    act = kwargs["activation"]
    n_acts = len(act) if isinstance(act, list | tuple) else 1
    cases = len(check_widths(kwargs["widths"])) * len(check_seeds(kwargs["seeds"])) * n_acts
    if cases < ESTIMATE_FROM_CASES:
        return
    seconds = estimate_sweep_seconds(manifold, **kwargs)
    print(
        f"sweep of {cases} cases: estimated {seconds:.0f} s on this machine",
        file=sys.stderr,
    )
