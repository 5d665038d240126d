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

__all__ = ["add_parser", "format_summary", "ledger_paths", "run"]

_PHASE_RESULTS = os.path.join("experiments", "results", "phase_diagram.csv")


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
    p.add_argument(
        "--ledger",
        action="store_true",
        help="also measure the information-loss ledger (how much of each block's input can "
        "be read back: Lemma 2's exact inverse, affine decoders of the expansion and of the "
        "whole block); writes OUT's name + '.ledger' (.csv/.json) and its phase-diagram figure "
        "(the suffix of --figure, else .html) next to --out",
    )
    _option(p, "ledger_pixels")
    p.add_argument(
        "--phase-results",
        default=None,
        help="phase-diagram results drawn under the ledger's figure (default: "
        f"{_PHASE_RESULTS} when it exists)",
    )
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


def ledger_paths(out: str, figure: str | None) -> tuple[str, str]:
    """Where ``--ledger`` writes: the table and the phase-diagram figure beside ``out``.

    Examples
    --------
    >>> ledger_paths("runs/probe.csv", None)
    ('runs/probe.ledger.csv', 'runs/probe.ledger.html')
    >>> ledger_paths("probe.json", "fig7.png")
    ('probe.ledger.json', 'probe.ledger.png')
    """
    stem, suffix = os.path.splitext(out)
    fig_suffix = os.path.splitext(figure)[1] if figure else ".html"
    return f"{stem}.ledger{suffix}", f"{stem}.ledger{fig_suffix}"


def _run_ledger(args: argparse.Namespace, model: Any, *, main: bool, device: Any) -> None:
    """Measure the ledger of ``model`` on ``args.images`` and write its table and figure
    (``main``: this process writes)."""
    from ..data import open_images
    from ..plots import plot_ledger_phase, save_figure
    from ..probing import ledger
    from ..results import read_results

    table_path, figure_path = ledger_paths(str(args.out), args.figure)
    phase_path = args.phase_results
    if phase_path is None and os.path.isfile(_PHASE_RESULTS):
        phase_path = _PHASE_RESULTS
    phase = read_results(phase_path)[0] if phase_path is not None else None
    progress = main and not args.no_progress
    result = ledger(
        model,
        open_images(args.images, data_root=args.data_root, progress=progress),
        pixels_per_block=args.ledger_pixels,
        seed=args.seed,
        batch_size=args.batch_size,
        limit=args.limit,
        device=device,
        num_workers=args.workers,
        progress=progress,
        images=str(args.images),
    )
    if not main:
        return
    print(format_ledger(result.to_frame()))
    print(f"wrote {result.save(table_path)}", file=sys.stderr)
    meta = result.metadata
    title = f"Real layers on the phase diagram: {meta['model']} on {args.images}"
    title += f" ({meta['n_images']} images)"
    fig = plot_ledger_phase(result, phase=phase, title=title)
    print(f"wrote {save_figure(fig, figure_path)}", file=sys.stderr)


def format_ledger(frame: Any) -> str:
    """A short per-block table of a :meth:`LedgerResult.to_frame` frame."""
    lines = [
        f"{'block':<12}{'k>n':>9}{'ID':>6}{'lemma2':>8}{'exact':>8}{'nmse exact':>12}"
        f"{'nmse affine':>13}{'nmse block':>12}{'kNN':>7}"
    ]
    for row in frame.itertuples(index=False):
        lines.append(
            f"{row.name:<12}{f'{row.in_channels}>{row.hidden_channels}':>9}"
            f"{row.input_id:6.1f}{_pct(row.lemma2_fraction):>8}{_pct(row.exact_fraction):>8}"
            f"{row.nmse_lemma2:12.2e}{row.nmse_affine:13.2e}{row.nmse_block:12.2e}"
            f"{row.knn_recall_lemma2:7.3f}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    """Run ``manifold-lab probe``.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every process joins the process group (NCCL on
    GPUs, gloo otherwise), probes its share of the images, and rank 0 prints and writes the
    merged result (see :mod:`manifold_lab.probing.distributed`).
    """
    from ..probing.distributed import init_from_env

    rank, _, owns, device = init_from_env(args.device)
    try:
        _run(args, main=rank == 0, device=device)
        if owns:  # every process done with the group before any tears it down
            import torch.distributed as dist

            dist.barrier()
    finally:
        if owns:
            import torch.distributed as dist

            dist.destroy_process_group()


def _run(args: argparse.Namespace, *, main: bool, device: Any) -> None:
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
    if args.ledger:
        figure_format(ledger_paths(out, args.figure)[1])
        if args.phase_results is not None and not os.path.isfile(args.phase_results):
            raise ValueError(f"--phase-results {args.phase_results} is not a file")
    loaded: list[Any] = []

    def loader(weights: Any) -> Any:
        from ..weights import load_model

        loaded.append(load_model(weights, device="cpu", progress=main and not args.no_progress))
        return loaded[-1]

    result = probe_source(
        args.weights,
        args.images,
        data_root=args.data_root,
        limit=args.limit,
        batch_size=args.batch_size,
        device=device,
        num_workers=args.workers,
        seed=args.seed,
        progress=main and not args.no_progress,
        rank_pixels_per_batch=args.rank_pixels,
        pixel_samples=args.pixel_samples,
        image_samples=args.image_samples,
        sample_expansion=not args.no_expansion_samples,
        on_error=args.on_error,
        model_loader=loader,
    )
    if not main:  # the other processes take part in the ledger's passes, rank 0 writes
        if args.ledger:
            _run_ledger(args, loaded[-1], main=False, device=device)
        return
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
    if args.ledger:
        _run_ledger(args, loaded[-1], main=True, device=device)
