"""Command-line interface: ``manifold-lab sweep``, ``figure``, ``eval``, ``train`` and ``probe``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._probe_cli import SOURCES_EPILOG, add_probe_parser, add_source_arguments, run_probe
from .core import METHODS, METRICS
from .embedding import EMBEDDINGS
from .manifolds import MANIFOLDS

if TYPE_CHECKING:
    from .train import TrainConfig

_SWEEP_DEFAULTS: dict[str, Any] = {
    "manifold": "spiral",
    "points": 1000,
    "manifold_seed": 0,
    "widths": "2,3,5,15,30",
    "seeds": "0:9",
    "activation": "relu",
    "method": "pinv",
    "embedding": "gaussian",
    "bias": 0.0,
    "device": "cpu",
    "dtype": "float64",
}
"""Defaults of ``manifold-lab sweep``; ``figure`` resolves its own per kind of figure."""

_FIGURE_KINDS = ("curves", "phase")
_CURVE_METRICS = "nmse,invertible_fraction,collapsed_fraction,knn_recall"

# Options of ``figure`` that each kind of figure reads (``out`` is read by all).
_FIGURE1_OPTIONS = {
    "manifold",
    "manifold_arg",
    "points",
    "widths",
    "seed",
    "seeds",
    "n_seeds",
    "activation",
    "method",
    "color",
    "highlight",
    "title",
    "data",
}
_CURVES_OPTIONS = {
    "manifold",
    "manifold_arg",
    "points",
    "manifold_seed",
    "widths",
    "seeds",
    "n_seeds",
    "activation",
    "method",
    "metrics",
    "embedding",
    "bias",
    "device",
    "dtype",
    "no_progress",
    "color_by",
    "title",
    "data",
}
_PHASE_OPTIONS = {"dims", "max_ratio", "seeds", "n_seeds", "device", "no_progress", "data"}


def _parse_value(raw: str) -> Any:
    """A command-line value: JSON (numbers, lists, ``true``, ``null``), ``None``/``True``/
    ``False`` in any case, or else the text itself."""
    if raw.lower() in ("none", "null"):
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _split_kv(text: str, option: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ValueError(f"{option} expects KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip(), _parse_value(raw)


def _kv(items: Sequence[str]) -> dict[str, object]:
    return dict(_split_kv(item, "--manifold-arg") for item in items)


def _split(text: str) -> list[str]:
    """Comma-separated names, empty items dropped."""
    return [x.strip() for x in text.split(",") if x.strip()]


def _with_default(text: str, defaults: dict[str, Any], key: str) -> str:
    return f"{text} (default {defaults[key]})" if key in defaults else text


def _add_manifold_options(p: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    """``--manifold``, ``--manifold-arg``, ``--points``, ``--manifold-seed``."""
    d = defaults
    p.add_argument(
        "--manifold",
        default=d.get("manifold"),
        help=_with_default(f"one of {sorted(MANIFOLDS)}", d, "manifold"),
    )
    p.add_argument(
        "--manifold-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra generator argument, e.g. dim=3 (repeatable)",
    )
    p.add_argument(
        "--points",
        type=int,
        default=d.get("points"),
        help=_with_default("number of points", d, "points"),
    )
    p.add_argument(
        "--manifold-seed",
        type=int,
        default=d.get("manifold_seed"),
        help=_with_default("seed of the points", d, "manifold_seed"),
    )


def _add_sweep_options(p: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    """Widths, seeds, activations, methods, metrics and the computation's settings."""
    d = defaults
    p.add_argument(
        "--widths",
        default=d.get("widths"),
        help=_with_default("e.g. 2,3,5,15,30 or 2:64 (inclusive)", d, "widths"),
    )
    p.add_argument(
        "--seeds",
        default=d.get("seeds"),
        help=_with_default("seed list or inclusive range, e.g. 0,1,2 or 0:9", d, "seeds"),
    )
    p.add_argument("--n-seeds", type=int, default=None, help="use seeds 0..N-1 (overrides --seeds)")
    p.add_argument(
        "--activation",
        default=d.get("activation"),
        help=_with_default("comma-separated, e.g. relu,relu6,identity", d, "activation"),
    )
    p.add_argument(
        "--method",
        default=d.get("method"),
        help=_with_default(f"comma-separated from {list(METHODS)}", d, "method"),
    )
    p.add_argument(
        "--metrics",
        default=None,
        help=f"comma-separated from {list(METRICS)}" + (" (default all)" if d else ""),
    )
    p.add_argument(
        "--embedding",
        default=d.get("embedding"),
        choices=sorted(EMBEDDINGS),
        help=_with_default("distribution of T", d, "embedding"),
    )
    p.add_argument(
        "--bias",
        type=float,
        default=d.get("bias"),
        help=_with_default("relative bias scale", d, "bias"),
    )
    p.add_argument(
        "--device", default=d.get("device"), help=_with_default("cpu or cuda", d, "device")
    )
    p.add_argument("--dtype", default=d.get("dtype"), choices=["float32", "float64"])
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _seeds(args: argparse.Namespace) -> Any:
    return range(args.n_seeds) if args.n_seeds is not None else args.seeds


def _sweep_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`manifold_lab.sweep` from the shared options."""
    return {
        "widths": args.widths,
        "seeds": _seeds(args),
        "activation": _split(args.activation),
        "method": _split(args.method),
        "metrics": None if args.metrics is None else _split(args.metrics),
        "embedding": args.embedding,
        "bias": args.bias,
        "n_samples": args.points,
        "manifold_seed": args.manifold_seed,
        "manifold_kwargs": _kv(args.manifold_arg),
        "device": args.device,
        "dtype": args.dtype,
        "progress": False if args.no_progress else None,
    }


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
    _add_manifold_options(sw, _SWEEP_DEFAULTS)
    _add_sweep_options(sw, _SWEEP_DEFAULTS)
    sw.add_argument("--format", default=None, choices=["csv", "json"], help="default: from --out")
    sw.add_argument("--out", default=None, help="output file; omitted: write to stdout")
    sw.add_argument("--summary", action="store_true", help="write the summary over seeds instead")

    fg = sub.add_parser(
        "figure",
        help="draw the paper's Figure 1, width curves or the injectivity phase diagram",
        description="manifold-lab figure [MANIFOLD] draws the paper's Figure 1 (input and "
        "reconstructions at several widths; MANIFOLD defaults to spiral); 'figure curves' "
        "runs a sweep and draws metrics against width with Theorem 1 and the injectivity "
        "thresholds; 'figure phase' draws the injectivity phase diagram. The format comes "
        "from the suffix of --out (png, svg, pdf need Chromium; html needs nothing).",
        epilog="Figure 1 reads --manifold --manifold-arg --points --widths (default "
        "2,3,5,15,30) --seed/--seeds/--n-seeds --activation --method (one; default pinv) "
        "--color --highlight --title --data. curves reads the sweep options (--widths "
        f"default 2:40, --n-seeds default 20, --metrics default {_CURVE_METRICS}), "
        "--color-by, --title, --data. phase reads --dims --max-ratio --seeds/--n-seeds "
        "--device --no-progress --data.",
    )
    fg.add_argument(
        "target",
        nargs="?",
        default=None,
        metavar="MANIFOLD|curves|phase",
        help="what to draw: a manifold's Figure 1 (default spiral), 'curves' or 'phase'",
    )
    fg.add_argument("--out", required=True, help="figure file: .png, .svg, .pdf or .html")
    fg.add_argument(
        "--data", default=None, help="also write the numbers behind the figure (.csv or .json)"
    )
    fg.add_argument("--title", default=None, help="figure title")
    _add_manifold_options(fg, {})
    _add_sweep_options(fg, {})
    f1 = fg.add_argument_group("Figure 1")
    f1.add_argument("--seed", type=int, default=None, help="seed of the matrices (default 0)")
    f1.add_argument(
        "--color", action="store_true", default=None, help="colour by the intrinsic coordinate"
    )
    f1.add_argument(
        "--highlight",
        action="store_true",
        default=None,
        help="mark points where Lemma 2 fails and collapsed points",
    )
    cu = fg.add_argument_group("curves")
    cu.add_argument(
        "--color-by",
        default=None,
        help="column with one curve per value: method or activation (default: activation "
        "when several are given, else method)",
    )
    ph = fg.add_argument_group("phase")
    ph.add_argument("--dims", default=None, help="input dimensions, e.g. 1:8 (default 1:8)")
    ph.add_argument("--max-ratio", type=float, default=None, help="largest width / dimension")
    ev = sub.add_parser(
        "eval",
        help="top-1/top-5 accuracy and speed of MobileNetV2 weights on a set of images",
        description="Load MobileNetV2 weights, preprocess the images the way those weights "
        "expect, and print top-1/top-5 accuracy, the number of images and images/second.",
        epilog=SOURCES_EPILOG,
    )
    add_source_arguments(ev)
    ev.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    ev.add_argument("--limit", type=int, default=None, help="only the first N images")
    ev.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    ev.add_argument(
        "--workers", type=int, default=None, help="data-loader processes (default: up to 4)"
    )
    ev.add_argument("--json", action="store_true", help="print the result as JSON")
    ev.add_argument("--no-progress", action="store_true", help="no progress bars")

    tr = sub.add_parser(
        "train",
        help="train a MobileNetV2 variant on CIFAR-10 (resumable)",
        description="Train a MobileNetV2 variant on CIFAR-10 from a preset (smoke, cpu, gpu), "
        "with any setting overridden. Checkpoints are written to RUN_DIR after every epoch; "
        "--resume continues a stopped run. Under torchrun it trains data-parallel (DDP).",
    )
    tr.add_argument("--preset", default="smoke", help="smoke, cpu or gpu (default smoke)")
    tr.add_argument("--run-dir", default=None, help="run directory (default runs/<preset>)")
    tr.add_argument(
        "--data-root",
        default=None,
        help="CIFAR-10: a torchvision root, cifar10-jpeg.tar.gz or its extracted folder",
    )
    tr.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    tr.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    tr.add_argument("--no-progress", action="store_true", help="no progress bars")
    tr.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override preset fields, e.g. epochs=5 seed=1 model_width_mult=0.5 "
        "model_bottleneck_activation=relu6 model_shortcut=none",
    )
    add_probe_parser(sub)
    return parser


def _parse_override(text: str) -> tuple[str, Any]:
    from .mobilenet import _CHOICES

    key, value = _split_kv(text, "--set")
    key = key.replace("-", "_")
    raw = text.split("=", 1)[1].strip()
    if value is None and raw in _CHOICES.get(key.removeprefix("model_"), ()):
        value = raw  # e.g. model_shortcut=none names the choice "none", not None
    return key, value


def preset_config(preset: str, overrides: Sequence[str] = ()) -> TrainConfig:
    """A training preset with ``--set KEY=VALUE`` overrides applied.

    Parameters
    ----------
    preset : str
        A name from :data:`manifold_lab.train.PRESETS`.
    overrides : sequence of str
        ``KEY=VALUE`` items, as given to ``manifold-lab train --set`` (``model_`` fields
        change the model, e.g. ``model_shortcut=none``).

    Returns
    -------
    TrainConfig

    Raises
    ------
    ValueError
        For an unknown preset, a malformed item, an unknown field or an impossible value.
    """
    from .train import PRESETS

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    changes = dict(_parse_override(item) for item in overrides)
    try:
        return PRESETS[preset].replace(**changes)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad --set {' '.join(overrides)}: {exc}") from None


def _run_train(args: argparse.Namespace) -> None:
    import os

    from .train import train

    config = preset_config(args.preset, args.set)
    run_dir = args.run_dir or f"runs/{args.preset}"
    result = train(
        config,
        run_dir,
        data_root=args.data_root,
        resume=args.resume,
        device=args.device,
        progress=not args.no_progress,
    )
    if result.metrics and int(os.environ.get("RANK", "0")) == 0:
        last = result.metrics[-1]
        print(
            f"{run_dir}: epoch {last['epoch']}/{config.epochs}, test accuracy "
            f"{100 * last['test_acc']:.2f}%"
        )


def _run_eval(args: argparse.Namespace) -> None:
    import os

    from .data import open_images
    from .evaluation import evaluate
    from .weights import load_model

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
    )
    info = model.weights_info
    record = {"weights": f"{info.source}:{info.name}", "images": args.images, **result.to_dict()}
    if args.json:
        print(json.dumps(record, indent=1))
        return

    def pct(v: float | None) -> str:
        return "n/a (unlabelled images)" if v is None else f"{100 * v:.2f}%"

    print(f"weights      {record['weights']}")
    print(f"images       {args.images}: {result.n_images} ({result.n_labeled} labelled)")
    print(f"top-1        {pct(result.top1)}")
    print(f"top-5        {pct(result.top5)}")
    print(
        f"speed        {result.images_per_second:.1f} images/s end to end, "
        f"{result.model_images_per_second:.1f} images/s in the model ({result.device})"
    )


def _run_sweep(args: argparse.Namespace) -> None:
    from .records import results_to_text, write_results
    from .sweeps import summarize, sweep

    df = sweep(args.manifold, **_sweep_kwargs(args))
    if args.summary:
        df = summarize(df)
    fmt = args.format or ("json" if args.out and args.out.endswith(".json") else "csv")
    if args.out:
        path = write_results(df, args.out, fmt=fmt)
        print(f"wrote {len(df)} records to {path}", file=sys.stderr)
    else:
        sys.stdout.write(results_to_text(df, df.attrs["provenance"], fmt))


def _figure_kind(args: argparse.Namespace) -> str:
    """``"figure1"``, ``"curves"`` or ``"phase"``; sets ``args.manifold`` and checks options."""
    target = args.target
    if target in _FIGURE_KINDS:
        kind, allowed = target, _CURVES_OPTIONS if target == "curves" else _PHASE_OPTIONS
    else:
        kind, allowed = "figure1", _FIGURE1_OPTIONS
        if target is not None and args.manifold is not None and args.manifold != target:
            raise ValueError(
                f"two manifolds given: {target!r} and --manifold {args.manifold!r}; give one"
            )
        args.manifold = target or args.manifold
    stray = [
        "--" + name.replace("_", "-")
        for name, value in vars(args).items()
        if name not in {"command", "target", "out", *allowed} and value not in (None, False, [])
    ]
    if stray:
        what = "Figure 1" if kind == "figure1" else f"'figure {kind}'"
        raise ValueError(f"{', '.join(stray)} does not apply to {what}")
    return kind


def _fill(args: argparse.Namespace, defaults: dict[str, Any]) -> None:
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def _write_data(df: Any, path: str, params: dict[str, Any]) -> None:
    from .records import provenance, write_results

    prov = df.attrs.get("provenance") or provenance(params)
    out = write_results(df, path, prov)
    print(f"wrote {len(df)} records to {out}", file=sys.stderr)


def _run_figure(args: argparse.Namespace) -> None:
    from .plotting import figure_format, save_figure

    kind = _figure_kind(args)
    figure_format(args.out)  # fail before computing, not after
    if args.data is not None and not args.data.lower().endswith((".csv", ".json")):
        raise ValueError(f"--data must end in .csv or .json, got {args.data!r}")
    build = {"figure1": _figure1, "curves": _curves, "phase": _phase}[kind]
    fig, size = build(args)
    path = save_figure(fig, args.out, **size)
    print(f"wrote {path}", file=sys.stderr)


def _figure1(args: argparse.Namespace) -> tuple[Any, dict[str, int]]:
    """The paper's Figure 1; the figure brings its own size."""
    from ._validation import check_seeds
    from .plotting import figure1_metrics, plot_figure1

    _fill(args, {"manifold": "spiral", "points": 1000, "widths": "2,3,5,15,30"})
    seeds = None
    if args.n_seeds is not None or args.seeds is not None:
        if args.seed is not None:
            raise ValueError("give --seed or --seeds/--n-seeds, not both")
        seeds = check_seeds(_seeds(args))
    methods = _split(args.method or "pinv")
    params: dict[str, Any] = {
        "manifold": args.manifold,
        "widths": args.widths,
        "seed": 0 if args.seed is None else args.seed,
        "seeds": seeds,
        "method": methods[0] if len(methods) == 1 else methods,
        "activation": args.activation or "relu",
        "n_samples": args.points,
        "color": bool(args.color),
        "highlight": bool(args.highlight),
        "manifold_kwargs": _kv(args.manifold_arg),
        "title": args.title,
    }
    fig = plot_figure1(**params)
    if args.data is not None:
        df = figure1_metrics(fig)
        for col in ("method", "activation", "manifold"):
            df.insert(0, col, params[col])
        _write_data(df, args.data, {"figure": "figure1", **params})
    return fig, {}


def _curves(args: argparse.Namespace) -> tuple[Any, dict[str, int]]:
    """Width curves of a sweep, with Theorem 1 and the injectivity thresholds."""
    from .plotting import plot_width_curves
    from .sweeps import summarize, sweep

    if args.n_seeds is None and args.seeds is None:
        args.n_seeds = 20
    _fill(args, {**_SWEEP_DEFAULTS, "widths": "2:40", "metrics": _CURVE_METRICS})
    kwargs = _sweep_kwargs(args)
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
        theory_d=k,
        thresholds=True,
        title=title,
    )
    if args.data is not None:
        _write_data(summary, args.data, {"figure": "curves"})
    rows = -(-len(kwargs["metrics"]) // 2)
    return fig, {"width": 1100, "height": 160 + 330 * rows}


def _phase(args: argparse.Namespace) -> tuple[Any, dict[str, int]]:
    """The injectivity phase diagram of :mod:`manifold_lab.injectivity`."""
    from ._validation import check_seeds, check_widths

    try:
        from .injectivity import phase_diagram, plot_phase_diagram
    except ImportError as exc:
        raise ValueError(
            "'figure phase' needs manifold_lab.injectivity, which this installation lacks "
            f"({exc}); update manifold_lab"
        ) from exc
    kwargs: dict[str, Any] = {"dims": check_widths(args.dims or "1:8")}
    if args.n_seeds is not None or args.seeds is not None:
        kwargs["seeds"] = check_seeds(_seeds(args))
    if args.max_ratio is not None:
        kwargs["max_ratio"] = args.max_ratio
    if args.device is not None:
        kwargs["device"] = args.device
    if args.no_progress:
        kwargs["progress"] = False
    df = phase_diagram(**kwargs)
    if args.data is not None:
        _write_data(df, args.data, {"figure": "phase", **kwargs})
    return plot_phase_diagram(df), {}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``manifold-lab`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "sweep":
            _run_sweep(args)
        elif args.command == "eval":
            _run_eval(args)
        elif args.command == "train":
            _run_train(args)
        elif args.command == "probe":
            run_probe(args)
        else:
            _run_figure(args)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"manifold-lab: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
