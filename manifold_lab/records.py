"""Provenance records and results files (CSV or JSON) that carry them.

Every results file the project writes says where it came from: package version, git
commit, the command or parameters, the seeds and the hardware. CSV files carry it in
leading ``# provenance: {...}`` comment lines; JSON files as a ``"provenance"`` object
beside the ``"records"``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .fileio import atomic_write_text

if TYPE_CHECKING:  # pandas is only needed for results tables, not by the training path
    import pandas as pd

__all__ = ["hardware", "provenance", "read_results", "results_to_text", "write_results"]


def _git_commit() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():  # an installed copy, not a checkout of this project
        return {"commit": None}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return {"commit": None}
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """Describe the machine: CPU, cores, torch threads and any CUDA device."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def provenance(parameters: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Build a provenance record.

    Parameters
    ----------
    parameters : dict or None, default=None
        The parameters of the computation (seeds included).
    **extra
        Further fields, e.g. ``timing_s=1.2``.

    Returns
    -------
    record : dict
        JSON-serialisable.

    Examples
    --------
    >>> rec = provenance({"widths": [2, 3]})
    >>> sorted(rec)[:4]
    ['command', 'created', 'git', 'hardware']
    """
    from . import __version__

    rec: dict[str, Any] = {
        "package": "manifold_lab",
        "version": __version__,
        "git": _git_commit(),
        "command": " ".join(sys.argv),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": __import__("numpy").__version__,
        "hardware": hardware(),
        "parameters": parameters or {},
    }
    rec.update(extra)
    return json.loads(json.dumps(rec, default=str))


def results_to_text(df: pd.DataFrame, prov: dict[str, Any], fmt: str) -> str:
    """Serialise results and their provenance as CSV (comment header) or JSON."""
    if fmt == "csv":
        header = "# provenance: " + json.dumps(prov, sort_keys=True) + "\n"
        return header + df.to_csv(index=False)
    if fmt == "json":
        records = json.loads(df.to_json(orient="records", double_precision=15))
        return json.dumps({"provenance": prov, "records": records}, indent=1) + "\n"
    raise ValueError(f"unknown format {fmt!r}; use 'csv' or 'json'")


def write_results(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    provenance_record: dict[str, Any] | None = None,
    *,
    fmt: str | None = None,
) -> Path:
    """Write a results table with its provenance, atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        Results (for example from :func:`manifold_lab.sweep`).
    path : str or path-like
        Target file; ``.csv`` or ``.json``.
    provenance_record : dict or None, default=None
        Provenance; ``None`` uses ``df.attrs["provenance"]`` or a fresh record.
    fmt : {"csv", "json"} or None, default=None
        Format; ``None`` guesses from the suffix.

    Returns
    -------
    path : pathlib.Path
    """
    p = Path(path)
    fmt = fmt or p.suffix.lstrip(".").lower()
    prov = provenance_record or df.attrs.get("provenance") or provenance()
    return atomic_write_text(p, results_to_text(df, prov, fmt))


def read_results(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a results file written by :func:`write_results`.

    Returns
    -------
    df : pandas.DataFrame
    provenance : dict
        Empty when the file carries none.
    """
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise ValueError(f"results file {p} does not exist")
    if p.suffix.lower() == ".json":
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from exc
        return pd.DataFrame(obj.get("records", [])), obj.get("provenance", {})
    prov: dict[str, Any] = {}
    with open(p, encoding="utf-8") as fh:
        first = fh.readline()
    if first.startswith("# provenance: "):
        prov = json.loads(first[len("# provenance: ") :])
    df = pd.read_csv(p, comment="#")
    df.attrs["provenance"] = prov
    return df, prov
