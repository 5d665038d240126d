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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "SUPERSEDED_FILE",
    "AblationStudy",
    "count_madds",
    "find_studies",
    "findings_frame",
    "load_runs",
    "paired_difference",
    "read_study",
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


SUPERSEDED_FILE = "superseded.json"
"""A results folder holding this file was superseded: ``{"superseded_by": "<folder>",
"reason": "..."}``. Readers (the explorer) archive it out of the way of the findings."""


@dataclass(frozen=True)
class AblationStudy:
    """One committed CIFAR-10 ablation (a folder written by ``experiments/ablation.py
    report``), read by :func:`read_study`.

    Parameters
    ----------
    name : str
        The folder's name, e.g. ``"ablation_gpu"``.
    path : Path
        The folder.
    title : str
        The first heading of its ``summary.md`` (the folder's name without one).
    summary : pandas.DataFrame
        ``summary.csv``: one row per variant (seeds, mean test accuracy, std, ...).
    comparisons : pandas.DataFrame
        The ``comparisons`` of ``comparisons.json``: one row per paired comparison
        (``comparison``, ``n``, ``mean``, ``ci_low``, ``ci_high``, ``decision``, ...).
    recipe : pandas.DataFrame
        Columns ``setting`` and ``value``: the training settings every run shares (model
        settings as ``model.<name>``), from the runs' ``config.json``; the seed and what
        differs between variants are left out.
    superseded_by : str or None, default=None
        From :data:`SUPERSEDED_FILE`: the study that replaces this one (None: current).
    superseded_reason : str, default=""
        Why, from the same file.
    created : str, default=""
        When the report was written (``comparisons.json``'s provenance; ``""`` if absent).
    """

    name: str
    path: Path
    title: str
    summary: Any
    comparisons: Any
    recipe: Any
    superseded_by: str | None = None
    superseded_reason: str = ""
    created: str = ""

    @property
    def superseded(self) -> bool:
        """Whether a later study replaces this one."""
        return self.superseded_by is not None

    def comparison_table(self) -> Any:
        """The comparisons for people: differences and intervals in percentage points.

        Returns
        -------
        pandas.DataFrame
            Columns ``comparison``, ``seeds``, ``mean difference (pts)``,
            ``95% CI (pts)`` (text), ``decision`` and, where recorded, ``per seed (pts)``
            and ``epochs linear ahead``.
        """
        import pandas as pd

        rows = []
        for c in self.comparisons.to_dict("records"):
            level = round(100 * float(c.get("level", 0.95)))
            row: dict[str, Any] = {
                "comparison": c["comparison"],
                "seeds": int(c["n"]),
                "mean difference (pts)": round(100 * float(c["mean"]), 2),
                f"{level}% CI (pts)": f"[{100 * c['ci_low']:+.2f}, {100 * c['ci_high']:+.2f}]",
                "decision": c["decision"],
            }
            diffs = c.get("differences")
            if isinstance(diffs, list):
                row["per seed (pts)"] = ", ".join(f"{100 * d:+.2f}" for d in diffs)
            if "epochs_linear_ahead" in c and "epochs_compared" in c:
                row["epochs linear ahead"] = (
                    f"{int(c['epochs_linear_ahead'])} of {int(c['epochs_compared'])}"
                )
            rows.append(row)
        return pd.DataFrame(rows)

    def variant_table(self) -> Any:
        """The variants for people: accuracies in percent, rounded.

        Returns
        -------
        pandas.DataFrame
            :attr:`summary` with accuracies (``mean_test_acc``, ``std``, ``min``, ``max``)
            in percent, rounded to 0.01, ``minutes_per_run`` and ``images_per_second``
            rounded to 0.1, and those columns renamed for display (``test accuracy, mean
            (%)``, ``std (pts)``, ``min (%)``, ``max (%)``, ``minutes per run``, ``images/s``).
        """
        df = self.summary.copy()
        labels = {
            "mean_test_acc": "test accuracy, mean (%)",
            "std": "std (pts)",
            "min": "min (%)",
            "max": "max (%)",
            "minutes_per_run": "minutes per run",
            "images_per_second": "images/s",
        }
        for col in ("mean_test_acc", "std", "min", "max"):
            if col in df:
                df[col] = (100 * df[col]).round(2)
        for col in ("minutes_per_run", "images_per_second"):
            if col in df:
                df[col] = df[col].round(1)
        return df.rename(columns=labels)


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _recipe(folder: Path) -> Any:
    """The settings shared by every run's ``config.json`` under ``folder`` (seed aside)."""
    import pandas as pd

    configs = []
    for file in sorted(folder.glob("*/config.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        cfg = data.get("train_config", data) if isinstance(data, dict) else {}
        configs.append(_flat(cfg))
    if not configs:
        return pd.DataFrame({"setting": [], "value": []})
    shared = {
        k: v
        for k, v in configs[0].items()
        if k != "seed" and all(k in c and c[k] == v for c in configs[1:])
    }
    return pd.DataFrame(
        {"setting": list(shared), "value": [json.dumps(v) for v in shared.values()]}
    )


def read_study(folder: str | Path) -> AblationStudy:
    """Read one committed ablation folder (``summary.csv``, ``comparisons.json``, the runs'
    ``config.json`` and, when present, :data:`SUPERSEDED_FILE`).

    Parameters
    ----------
    folder : str or Path
        A folder written by ``experiments/ablation.py report``.

    Returns
    -------
    AblationStudy
        The study: its title, summary, comparisons, shared recipe and whether (and by
        what) it was superseded.

    Raises
    ------
    ValueError
        When ``summary.csv`` or ``comparisons.json`` is missing or unreadable; the message
        names the file.

    Examples
    --------
    >>> root = run_roots({})[0]
    >>> study = read_study(root / "ablation_cpu")
    >>> study.superseded, study.comparison_table()["decision"].tolist()[0]
    (False, 'linear wins')
    >>> read_study(root / "ablation_cpu_6ep_v1").superseded_by
    'ablation_cpu'
    """
    import pandas as pd

    path = Path(folder)
    files = {name: path / name for name in ("summary.csv", "comparisons.json")}
    for name, file in files.items():
        if not file.is_file():
            raise ValueError(f"{path.name} has no {name} (written by experiments/ablation.py)")
    try:
        summary = pd.read_csv(files["summary.csv"], comment="#")
        data = json.loads(files["comparisons.json"].read_text(encoding="utf-8"))
        comparisons = pd.DataFrame(data["comparisons"])
        created = str((data.get("provenance") or {}).get("created", ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path.name}: unreadable results ({exc})") from None
    title = path.name
    md = path / "summary.md"
    if md.is_file():
        first = md.read_text(encoding="utf-8").split("\n", 1)[0]
        title = first.lstrip("# ").strip() or title
    superseded_by, reason = None, ""
    marker = path / SUPERSEDED_FILE
    if marker.is_file():
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name}/{SUPERSEDED_FILE} is not JSON ({exc.msg})") from None
        superseded_by = str(info.get("superseded_by") or "a later study")
        reason = str(info.get("reason", ""))
    return AblationStudy(
        name=path.name,
        path=path,
        title=title,
        summary=summary,
        comparisons=comparisons,
        recipe=_recipe(path),
        superseded_by=superseded_by,
        superseded_reason=reason,
        created=created,
    )


def find_studies(root: str | Path) -> list[AblationStudy]:
    """Every ablation study (``ablation_*`` folders with results) under ``root``.

    Current studies come first, the newest report first, then the superseded ones.

    Parameters
    ----------
    root : str or Path
        E.g. ``experiments/results``.

    Returns
    -------
    list of AblationStudy
        One per folder with both ``summary.csv`` and ``comparisons.json``: current studies
        newest first (by ``created``, then name), then the superseded ones.

    Examples
    --------
    >>> [s.name for s in find_studies(run_roots({})[0])]
    ['ablation_gpu', 'ablation_cpu', 'ablation_cpu_6ep_v1']
    """
    studies = [
        read_study(f)
        for f in sorted(Path(root).glob("ablation_*"))
        if (f / "summary.csv").is_file() and (f / "comparisons.json").is_file()
    ]

    newest = sorted(studies, key=lambda s: (s.created, s.name), reverse=True)
    return sorted(newest, key=lambda s: s.superseded)


def findings_frame(studies: Sequence[AblationStudy]) -> Any:
    """The comparisons of several studies in one long table (what
    :func:`~manifold_lab.plots.plot_ablation_findings` draws).

    Parameters
    ----------
    studies : sequence of AblationStudy
        The studies to combine (e.g. from :func:`find_studies`); at least one.

    Returns
    -------
    pandas.DataFrame
        The columns of :attr:`AblationStudy.comparisons` and ``study`` (the folder's name),
        in the order of ``studies``.

    Examples
    --------
    >>> frame = findings_frame(find_studies(run_roots({})[0])[:1])
    >>> frame[["study", "comparison", "decision"]].values.tolist()
    [['ablation_gpu', 'linear - relu6', 'linear wins']]
    """
    import pandas as pd

    if not studies:
        raise ValueError("no studies to tabulate")
    return pd.concat([s.comparisons.assign(study=s.name) for s in studies], ignore_index=True)
