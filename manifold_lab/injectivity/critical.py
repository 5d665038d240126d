"""Critical expansion ratios: where the probability of injectivity reaches a level, bootstrapped."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_scalar

__all__ = ["RATIO_COLUMNS", "check_levels", "critical_ratios", "level_crossing", "ratio_table"]

RATIO_COLUMNS: dict[str, str] = {
    "k": "input dimension k",
    "level": "P(injective) reaches",
    "ratio": "critical ratio n/k",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "n_seeds": "seeds",
    "method": "injectivity check",
}
"""Human names of :func:`critical_ratios`' columns, for tables."""


def check_levels(levels: Any) -> list[float]:
    """Validate probability levels (a number or a sequence of numbers in (0, 1]).

    Parameters
    ----------
    levels : float or sequence of float
        One level or several.

    Returns
    -------
    list of float
        The levels, in the given order.

    Raises
    ------
    ValueError
        If a level is not a number in (0, 1] or no level is given.

    Examples
    --------
    >>> check_levels(0.5), check_levels((0.5, 0.95))
    ([0.5], [0.5, 0.95])
    """
    ls = [levels] if isinstance(levels, (numbers.Real, np.floating)) else list(levels)
    if not ls:
        raise ValueError("levels is empty: give probabilities such as (0.5, 0.95)")
    out = []
    for lv in ls:
        out.append(check_scalar(lv, "every level", minimum=0, maximum=1, include_min=False))
    return out


def level_crossing(widths: np.ndarray, p: np.ndarray, level: float) -> np.ndarray:
    """First width where ``p`` reaches ``level``, linearly interpolated.

    ``p`` has shape (..., W); NaN where the level is never reached. When the first width
    already reaches it, that width is returned.

    Parameters
    ----------
    widths : ndarray of shape (W,)
        Increasing widths.
    p : ndarray of shape (..., W)
        A probability at each width (e.g. the invertible fraction), one curve per leading
        index.
    level : float
        The level to reach.

    Returns
    -------
    ndarray of shape (...)
        The interpolated width of each curve, NaN where ``p`` never reaches ``level``.

    Examples
    --------
    >>> float(level_crossing(np.array([2.0, 4.0]), np.array([0.2, 0.6]), 0.5))
    3.5
    """
    reached = p >= level - 1e-12
    any_r = reached.any(-1)
    i = np.argmax(reached, axis=-1)
    ip = np.maximum(i - 1, 0)
    p1 = np.take_along_axis(p, i[..., None], -1)[..., 0]
    p0 = np.take_along_axis(p, ip[..., None], -1)[..., 0]
    w1, w0 = widths[i], widths[ip]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(p1 > p0, (level - p0) / (p1 - p0), 1.0)
    x = np.where(i == 0, w1, w0 + frac * (w1 - w0))
    return np.where(any_r, x, np.nan)


def critical_ratios(
    df: pd.DataFrame,
    *,
    levels: Any = (0.5, 0.95),
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Expansion ratio ``n / k`` where the probability of global injectivity reaches a level.

    For each ``k``, ``P(injective)`` at each width is the mean over seeds; the critical
    width is the first grid width where it reaches the level, linearly interpolated
    between that width and the previous one. The confidence interval resamples seeds
    with replacement (the whole row of widths of a seed at once).

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`phase_diagram` (columns ``k, width, seed, injective``; ``method``
        is used when present). Every seed must have every width of its ``k``.
    levels : float or sequence of float, default=(0.5, 0.95)
        Probabilities in (0, 1].
    n_boot : int, default=1000
        Bootstrap resamples; 0 gives no interval (NaN).
    seed : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    ratios : pandas.DataFrame
        One row per (k, level): ``k, level, ratio, ci_low, ci_high`` (2.5% and 97.5%
        bootstrap percentiles), ``n_seeds``, ``method`` (the methods at the two widths
        the ratio is interpolated between). ``ratio`` is NaN when the level is not
        reached within the grid; a bootstrap resample that does not reach it counts as
        beyond the grid (then ``ci_high`` is NaN).

    Examples
    --------
    >>> df = pd.DataFrame({"k": 1, "width": [1, 1, 2, 2, 3, 3], "seed": [0, 1] * 3,
    ...                    "injective": [False, False, False, True, True, True]})
    >>> critical_ratios(df, levels=[0.5, 0.75], n_boot=0)[["level", "ratio"]].values.tolist()
    [[0.5, 2.0], [0.75, 2.5]]
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in ("k", "width", "seed", "injective") if c not in df.columns]
    if missing:
        raise ValueError(f"df has no column {missing[0]!r}: pass the output of phase_diagram")
    if df.empty:
        raise ValueError("df is empty")
    lv = check_levels(levels)
    n_boot = check_scalar(n_boot, "n_boot", kind=int, minimum=0)
    seed = check_scalar(seed, "seed", kind=int, minimum=0)
    rng = np.random.default_rng(seed)
    out = []
    for k in sorted(int(v) for v in df["k"].unique()):
        part = df[df["k"] == k]
        table = part.pivot_table(index="seed", columns="width", values="injective", aggfunc="mean")
        if table.isna().any().any():
            raise ValueError(f"k = {k}: every seed must have every width")
        wcols = table.columns.to_list()
        widths = np.asarray(wcols, dtype=np.float64)
        inj = table.to_numpy(dtype=np.float64)  # (S, W)
        S = inj.shape[0]
        p = inj.mean(0)
        boot = None
        if n_boot:
            idx = rng.integers(0, S, size=(n_boot, S))
            boot = inj[idx].mean(1)  # (n_boot, W)
        meth = part.groupby("width")["method"].first() if "method" in part else None
        for level in lv:
            x = float(level_crossing(widths, p, level))
            lo = hi = float("nan")
            if boot is not None:
                xb = level_crossing(widths, boot, level)
                beyond = 1e12  # not reached within the grid
                xb = np.where(np.isnan(xb), beyond, xb)
                lo_, hi_ = np.percentile(xb, [2.5, 97.5])
                lo = float(lo_) / k if lo_ < beyond / 2 else float("nan")
                hi = float(hi_) / k if hi_ < beyond / 2 else float("nan")
            m = ""
            if meth is not None and np.isfinite(x):
                i = int(np.searchsorted(widths, x))
                around = [wcols[max(i - 1, 0)], wcols[min(i, len(wcols) - 1)]]
                m = " / ".join(dict.fromkeys(str(meth.loc[w]) for w in around))
            out.append(
                {
                    "k": k,
                    "level": level,
                    "ratio": x / k,
                    "ci_low": lo,
                    "ci_high": hi,
                    "n_seeds": S,
                    "method": m,
                }
            )
    return pd.DataFrame(out)


def ratio_table(ratios: pd.DataFrame) -> pd.DataFrame:
    """:func:`critical_ratios`' output for reading: human column names
    (:data:`RATIO_COLUMNS`), the level as a percentage and the methods by their labels
    (:data:`~manifold_lab.injectivity.MIN_ACTIVE_LABELS`). The numbers are unchanged.

    Parameters
    ----------
    ratios : pandas.DataFrame
        Output of :func:`critical_ratios`.

    Returns
    -------
    pandas.DataFrame
        A copy of ``ratios`` with ``level`` as text (``"50%"``), each method of ``method``
        replaced by its label and the columns renamed by :data:`RATIO_COLUMNS`.

    Examples
    --------
    >>> df = pd.DataFrame({"k": 1, "width": [1, 1, 2, 2, 3, 3], "seed": [0, 1] * 3,
    ...                    "injective": [False, False, False, True, True, True],
    ...                    "method": "exact-1d"})
    >>> t = ratio_table(critical_ratios(df, levels=0.5, n_boot=0))
    >>> t.columns.tolist()[:3], t["injectivity check"].tolist(), t["P(injective) reaches"].tolist()
    (['input dimension k', 'P(injective) reaches', 'critical ratio n/k'], ['exact (1-D)'], ['50%'])
    """
    from .active_rows import MIN_ACTIVE_LABELS

    out = ratios.copy()
    if "level" in out:
        out["level"] = [f"{100 * v:g}%" for v in out["level"]]
    if "method" in out:
        out["method"] = [
            " / ".join(MIN_ACTIVE_LABELS.get(p, p) for p in str(v).split(" / "))
            for v in out["method"]
        ]
    return out.rename(columns=RATIO_COLUMNS)
