"""Provenance records: where a result came from.

A record holds the package version, the git commit, the command or parameters, the seeds and
the hardware. :mod:`manifold_lab.results` writes it into every results file; training writes
it beside every checkpoint. Imports only the standard library and torch (training runs on bare
GPU machines).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

__all__ = ["hardware", "provenance"]


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
