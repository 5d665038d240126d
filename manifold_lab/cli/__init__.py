"""The ``manifold-lab`` command: one module per subcommand.

==============  ================================================================
subcommand      module
==============  ================================================================
``sweep``       :mod:`manifold_lab.cli.sweep`
``figure1``     :mod:`manifold_lab.cli.figure1`
``curves``      :mod:`manifold_lab.cli.curves`
``phase``       :mod:`manifold_lab.cli.phase`
``eval``        :mod:`manifold_lab.cli.evaluate`
``train``       :mod:`manifold_lab.cli.train`
``probe``       :mod:`manifold_lab.cli.probe`
==============  ================================================================

Every module has ``add_parser(subparsers)`` and ``run(args)``; building the parser imports
no torch (choices and help come from :mod:`manifold_lab.registry`), and ``run`` imports
what the command needs. ``manifold-lab figure [MANIFOLD|curves|phase]`` still works, with a
deprecation note, for one release.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..allocator import keep_freed_memory
from . import curves, evaluate, figure1, phase, probe, sweep, train

__all__ = ["build_parser", "main"]

COMMANDS = (sweep, figure1, curves, phase, evaluate, train, probe)
"""The subcommands, in the order ``--help`` lists them: add a new one here."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``manifold-lab``."""
    parser = argparse.ArgumentParser(
        prog="manifold-lab",
        description="Measure how ReLU destroys or preserves manifolds (MobileNetV2, Sec. 3.2).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _upgrade_figure(argv: list[str]) -> list[str]:
    """``figure [MANIFOLD|curves|phase] ...`` -> ``figure1 --manifold M``, ``curves``, ``phase``."""
    rest = argv[1:]
    target = rest[0] if rest and not rest[0].startswith("-") else None
    if target in ("curves", "phase"):
        new = [target, *rest[1:]]
    elif target is not None:
        new = ["figure1", "--manifold", target, *rest[1:]]
    else:
        new = ["figure1", *rest]
    print(
        f"manifold-lab: 'figure' is deprecated; use 'manifold-lab {' '.join(new[:3])} ...'",
        file=sys.stderr,
    )
    return new


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``manifold-lab`` command; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "figure":
        args_list = _upgrade_figure(args_list)
    args = build_parser().parse_args(args_list)
    # a batch job: freed memory stays in the process (up to 3x faster CPU forward passes on
    # Linux; MANIFOLD_LAB_KEEP_FREED_MEMORY=0 turns it off)
    keep_freed_memory()
    try:
        args.run(args)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"manifold-lab: error: {exc}", file=sys.stderr)
        return 2
    return 0
