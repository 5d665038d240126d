"""Memory budgets: how much memory a computation may use, and a check before it starts.

The budget is :data:`BUDGET_FRACTION` of the memory the operating system reports as
available (``MemAvailable`` of ``/proc/meminfo``, bounded by a cgroup v2 ``memory.max`` when
there is one; free GPU memory for a CUDA device). The environment variable
``MANIFOLD_LAB_MEMORY_LIMIT`` sets it instead (bytes, or a number with a decimal unit:
``"512M"``, ``"8GB"``), for example to share a server fairly. An estimate above the budget is a
:class:`MemoryBudgetError` that names the estimate, the budget and what to reduce, raised
before any large allocation (instead of the allocator's error, or a swap storm).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

__all__ = [
    "BUDGET_FRACTION",
    "MEMORY_LIMIT_ENV",
    "MemoryBudgetError",
    "check_memory",
    "format_bytes",
    "memory_budget",
]

MEMORY_LIMIT_ENV = "MANIFOLD_LAB_MEMORY_LIMIT"
"""Environment variable that sets the memory budget (bytes, or with a unit: ``"8GB"``)."""

BUDGET_FRACTION = 0.9
"""Share of the memory the OS reports as available that a computation may plan to use."""

_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


class MemoryBudgetError(ValueError):
    """A computation would need more memory than the budget (:func:`memory_budget`)."""


def format_bytes(n: float) -> str:
    """``n`` bytes in a readable (decimal) unit.

    Examples
    --------
    >>> format_bytes(80e9), format_bytes(3e6), format_bytes(512)
    ('80.0 GB', '3.0 MB', '512 B')
    """
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _parse_limit(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if m is None or float(m.group(1)) <= 0:
        raise ValueError(
            f"{MEMORY_LIMIT_ENV}={text!r} is not a memory size; use bytes or a number with a "
            "unit, e.g. 512M or 8GB"
        )
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def _cgroup_available() -> int | None:
    """What a cgroup v2 memory limit leaves (None without one)."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def _os_available() -> int | None:
    """Bytes of RAM the OS reports as available (None when it cannot tell)."""
    found: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        found = None
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            found = None
    cgroup = _cgroup_available()
    if cgroup is not None:
        found = cgroup if found is None else min(found, cgroup)
    return found


def memory_budget(device: Any = None) -> tuple[int | None, str]:
    """The bytes a computation on ``device`` may use, and where that figure comes from.

    Parameters
    ----------
    device : torch.device, str or None, default=None
        A CUDA device is budgeted by its free memory; anything else by the RAM.

    Returns
    -------
    budget : int or None
        None when neither the environment nor the OS tells (nothing is checked then).
    origin : str
        How the budget was set, for messages.
    """
    env = os.environ.get(MEMORY_LIMIT_ENV)
    if env:
        return _parse_limit(env), f"the limit set by {MEMORY_LIMIT_ENV}"
    if device is not None and str(device).startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        origin = f"{BUDGET_FRACTION:.0%} of the free memory of {device}"
        return int(free * BUDGET_FRACTION), origin
    available = _os_available()
    if available is None:
        return None, "unknown"
    return int(available * BUDGET_FRACTION), f"{BUDGET_FRACTION:.0%} of the available memory"


def check_memory(estimate: float, *, what: str, advice: str, device: Any = None) -> None:
    """Raise :class:`MemoryBudgetError` when ``estimate`` bytes exceed the budget.

    Parameters
    ----------
    estimate : float
        Bytes the computation is expected to need at its peak.
    what : str
        What needs it (``"this sweep"``), for the message.
    advice : str
        What to reduce, for the message.
    device : torch.device, str or None, default=None
        Where the memory is needed (see :func:`memory_budget`).

    Examples
    --------
    >>> check_memory(1024, what="this sweep", advice="reduce n_samples")
    """
    budget, origin = memory_budget(device)
    if budget is not None and estimate > budget:
        raise MemoryBudgetError(
            f"{what} needs about {format_bytes(estimate)} of memory but the budget is "
            f"{format_bytes(budget)} ({origin}; set {MEMORY_LIMIT_ENV} to change it): "
            f"{advice}"
        )
