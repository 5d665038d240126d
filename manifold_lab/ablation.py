"""Reporting the Figure 6 ablations: paired differences with confidence intervals.

Their figures are :func:`manifold_lab.plots.plot_learning_curves` and
:func:`manifold_lab.plots.plot_toy_ablation`.

The decision rule is fixed before any run: for a comparison "A minus B" paired by seed,
A wins if the 95% t-interval of the mean difference lies above 0, B wins if it lies below 0,
otherwise the comparison is inconclusive at this scale.

Examples
--------
>>> r = paired_difference([0.91, 0.92, 0.90], [0.89, 0.90, 0.89], names=("linear", "relu6"))
>>> r["decision"], round(r["mean"], 4)
('linear wins', 0.0167)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "count_madds",
    "load_runs",
    "paired_difference",
    "run_roots",
]


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    names: tuple[str, str] = ("A", "B"),
    level: float = 0.95,
) -> dict[str, Any]:
    """Mean of ``a - b`` (paired by position, i.e. by seed) with a t confidence interval.

    Parameters
    ----------
    a, b : sequence of float
        Scores of the two variants for the same seeds, in the same order.
    names : tuple of str, default=("A", "B")
        Used in the decision text.
    level : float, default=0.95
        Confidence level.

    Returns
    -------
    dict
        ``n``, ``mean``, ``std`` (of the differences), ``ci_low``, ``ci_high``, ``decision``.
        With a single pair the interval is infinite and the decision inconclusive.
    """
    from scipy import stats

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"a and b must be 1-D of equal, non-zero length; got {x.shape}, {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("scores must be finite")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    d = x - y
    n = d.size
    mean = float(d.mean())
    if n < 2:
        low, high, std = -math.inf, math.inf, float("nan")
    else:
        std = float(d.std(ddof=1))
        half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
        low, high = mean - half, mean + half
    if low > 0:
        decision = f"{names[0]} wins"
    elif high < 0:
        decision = f"{names[1]} wins"
    else:
        decision = "inconclusive"
    return {
        "comparison": f"{names[0]} - {names[1]}",
        "n": n,
        "mean": mean,
        "std": std,
        "ci_low": low,
        "ci_high": high,
        "level": level,
        "decision": decision,
    }


def count_madds(model: nn.Module, input_size: tuple[int, int, int, int]) -> int:
    """Multiply-adds of one forward pass (convolutions and linear layers), by hooks.

    Parameters
    ----------
    model : nn.Module
        The network; it runs once on zeros (in eval mode, without gradients).
    input_size : tuple of (int, int, int, int)
        Shape of the input batch ``(batch, channels, height, width)``.

    Returns
    -------
    int
        Multiply-adds of all convolutions and linear layers for that batch.

    Examples
    --------
    >>> from manifold_lab.mobilenet import MobileNetV2
    >>> round(count_madds(MobileNetV2(), (1, 3, 224, 224)) / 1e6)
    301
    """
    total = 0

    def conv_hook(m: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.Conv2d)
        kh, kw = m.kernel_size
        total += output.numel() // output.shape[0] * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.Linear)
        total += m.in_features * m.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return int(total)


RUNS_ROOT_ENV = "MANIFOLD_LAB_RUNS_ROOT"
"""Environment variable: more folders (separated by ``os.pathsep``) that the explorer may
read runs from, besides :func:`run_roots`' defaults."""

RECORD_KEYS: tuple[str, ...] = ("epoch", "step")
"""What every record of a run's ``metrics.json`` must hold (``manifold-lab train`` writes
these and the losses and accuracies)."""


def run_roots(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The folders runs may be read from when a user names one (the explorer's run box).

    The project's ``experiments/results`` and ``experiments/runs`` (where
    ``experiments/ablation.py`` writes), plus the folders in ``MANIFOLD_LAB_RUNS_ROOT``
    (separated by ``os.pathsep``), all resolved.

    Parameters
    ----------
    environ : mapping of str to str or None, default=None
        The environment to read ``MANIFOLD_LAB_RUNS_ROOT`` from; None: ``os.environ``.

    Returns
    -------
    tuple of pathlib.Path
        The allowed folders, absolute, symbolic links resolved.

    Examples
    --------
    >>> [p.name for p in run_roots({})]
    ['results', 'runs']
    >>> run_roots({"MANIFOLD_LAB_RUNS_ROOT": "/srv/runs"})[-1].as_posix()
    '/srv/runs'
    """
    env = os.environ if environ is None else environ
    experiments = Path(__file__).resolve().parent.parent / "experiments"
    roots = [experiments / "results", experiments / "runs"]
    roots += [
        Path(p).expanduser() for p in env.get(RUNS_ROOT_ENV, "").split(os.pathsep) if p.strip()
    ]
    return tuple(root.resolve() for root in roots)


def _inside(path: Path, roots: Sequence[Path], shown: str) -> Path:
    """``path`` resolved (symbolic links followed) if it lies in one of ``roots``."""
    resolved = path.resolve()
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise ValueError(
            f"{shown} is outside the folders runs are read from "
            f"({', '.join(map(str, roots))}); set {RUNS_ROOT_ENV} to add a folder"
        )
    return resolved


def _read_records(path: Path, shown: str, require: Sequence[str]) -> list[dict[str, Any]]:
    """The records of one ``metrics.json``, checked: a list of objects with ``require``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{shown} is not a text file (a run's metrics.json is JSON)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{shown} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict) or "records" not in data:
        raise ValueError(f"{shown} has no 'records' list (written by manifold-lab train)")
    records = data["records"]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{shown}: 'records' must be a list of objects, one per epoch")
    for i, record in enumerate(records):
        missing = [key for key in require if key not in record]
        if missing:
            raise ValueError(
                f"{shown}: record {i} lacks {', '.join(map(repr, missing))} "
                f"(every record needs {', '.join(require)})"
            )
        bad = [k for k in RECORD_KEYS if not isinstance(record[k], int | float)]
        if bad:
            raise ValueError(
                f"{shown}: record {i} has a non-numeric {bad[0]!r}: {record[bad[0]]!r}"
            )
    return records


def load_runs(
    folder: str | Path,
    *,
    roots: Sequence[str | Path] | None = None,
    require: Sequence[str] = (),
) -> Any:
    """Per-epoch metrics of every run under ``folder`` (``<variant>_s<seed>/metrics.json``).

    Parameters
    ----------
    folder : str or Path
        A folder of runs, or one run's folder (holding ``metrics.json`` itself).
    roots : sequence of str or Path, or None, default=None
        Only read inside these folders (e.g. :func:`run_roots`): ``folder`` and every file
        read must resolve (symbolic links and ``..`` followed) into one of them; a relative
        ``folder`` is looked up in each. None reads anywhere.
    require : sequence of str, default=()
        Keys every record must hold besides :data:`RECORD_KEYS` (e.g. the plotted metric).

    Returns
    -------
    pandas.DataFrame
        The metrics rows with ``run``, ``variant`` and ``seed`` columns added.

    Raises
    ------
    ValueError
        When ``folder`` lies outside ``roots``, holds no runs, or a ``metrics.json`` is not
        JSON with a ``records`` list whose records hold the required keys; the message
        names the file and what is missing.
    """
    import pandas as pd

    shown = str(folder)
    path = Path(folder).expanduser()
    allowed: tuple[Path, ...] | None = None
    if roots is not None:
        allowed = tuple(Path(r).expanduser().resolve() for r in roots)
        if not path.is_absolute():
            path = next((r / path for r in allowed if (r / path).exists()), allowed[0] / path)
        path = _inside(path, allowed, shown)
    keys = tuple(dict.fromkeys((*RECORD_KEYS, *require)))
    single = (path / "metrics.json").is_file()
    files = [path / "metrics.json"] if single else sorted(path.glob("*/metrics.json"))
    rows = []
    for file in files:
        name = file.parent.name
        where = f"{name}/metrics.json"
        if allowed is not None:
            _inside(file, allowed, where)
        variant, _, seed = name.rpartition("_s")
        if not variant or not seed.isdigit():  # not "<variant>_s<seed>": one variant, seed 0
            variant, seed = name, "0"
        for r in _read_records(file, where, keys):
            rows.append({"run": name, "variant": variant, "seed": int(seed), **r})
    if not rows:
        raise ValueError(f"no runs (*/metrics.json) under {folder}")
    return pd.DataFrame(rows)
