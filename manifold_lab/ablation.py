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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "count_madds",
    "load_runs",
    "paired_difference",
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


def load_runs(folder: str | Path) -> Any:
    """Per-epoch metrics of every run under ``folder`` (``<variant>_s<seed>/metrics.json``).

    Returns
    -------
    pandas.DataFrame
        The metrics rows with ``run``, ``variant`` and ``seed`` columns added.
    """
    import pandas as pd

    rows = []
    for path in sorted(Path(folder).glob("*/metrics.json")):
        name = path.parent.name
        variant, _, seed = name.rpartition("_s")
        if not variant or not seed.isdigit():  # not "<variant>_s<seed>": one variant, seed 0
            variant, seed = name, "0"
        records = json.loads(path.read_text(encoding="utf-8"))["records"]
        for r in records:
            rows.append({"run": name, "variant": variant, "seed": int(seed), **r})
    if not rows:
        raise ValueError(f"no runs (*/metrics.json) under {folder}")
    return pd.DataFrame(rows)
