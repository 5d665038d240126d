"""The phase diagram: pointwise invertibility and global injectivity over dimension and width."""

from __future__ import annotations

import math
import numbers
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._deprecation import renamed_parameters
from .._progress import progress_bar
from .._validation import check_scalar, check_seeds, parse_int_spec, resolve_device
from ..embedding import draw_rows
from ..records import provenance
from ..sweeps import sweep
from ..theory import preserved_fraction
from .active_rows import DEFAULT_EXACT_MAX_SUBSETS, check_method, min_active_counts
from .cells import BLOCK_ENTRIES
from .sampled import DIRECTION_STREAM, REFINE_BEST, REFINE_EXTRA, REFINE_ROUNDS

__all__ = ["QUANTITIES", "phase_diagram"]

QUANTITIES: tuple[str, ...] = ("injective", "invertible_fraction")
"""Quantities of :func:`phase_diagram` that :func:`manifold_lab.plots.plot_phase_diagram` draws."""


def check_dims(dims: Any) -> list[int]:
    """Intrinsic dimensions ``k`` of :func:`phase_diagram`, sorted, without duplicates.

    ``dims`` is an int, a sequence of ints or text such as ``"1:8"`` or ``"1,2,4"``; every
    ``k`` must be >= 1.

    Examples
    --------
    >>> check_dims("1:3,8")
    [1, 2, 3, 8]
    >>> check_dims("0:2")
    Traceback (most recent call last):
    ...
    ValueError: every dimension k must be an integer >= 1, got 0
    """
    if isinstance(dims, str):
        dims = parse_int_spec(dims, "dims")
    if isinstance(dims, (numbers.Integral, np.integer)) and not isinstance(dims, bool):
        dims = [dims]
    try:
        ds = list(dims)
    except TypeError:
        raise ValueError(f"dims must be an int or a sequence of ints, got {dims!r}") from None
    if not ds:
        raise ValueError("dims is empty: give at least one intrinsic dimension k >= 1")
    return sorted({check_scalar(d, "every dimension k", kind=int, minimum=1) for d in ds})


def _width_grid(k: int, max_ratio: float, step: int | None) -> list[int]:
    top = max(k, math.ceil(max_ratio * k - 1e-9))
    st = max(1, math.ceil(k / 4)) if step is None else step
    grid = list(range(k, top + 1, st))
    if grid[-1] != top:
        grid.append(top)
    return grid


@renamed_parameters(n_points="n_samples")
def phase_diagram(
    dims: Any = range(1, 9),
    *,
    max_ratio: float = 12.0,
    seeds: Any = range(100),
    n_samples: int = 2000,
    n_directions: int = 20000,
    exact_max_subsets: int = DEFAULT_EXACT_MAX_SUBSETS,
    device: Any = None,
    progress: bool | None = None,
    method: str = "auto",
    width_step: int | None = None,
    pointwise: bool = True,
) -> pd.DataFrame:
    """Pointwise invertibility and global injectivity over intrinsic dimension and width.

    For each ``k`` in ``dims`` and each width ``n`` of the grid ``k, k + s, ..., ceil(
    max_ratio * k)``, and each seed, the Gaussian matrix ``T`` of
    :func:`manifold_lab.random_embedding` (``T`` of width ``n`` is the first ``n`` rows of
    the largest one) gives (a) the fraction of ``n_samples`` points of a ``k``-ball where
    Lemma 2 holds, via :func:`manifold_lab.sweep`, and (b) the minimum number of active
    rows over directions, via the methods of :func:`min_active_rows`.

    Parameters
    ----------
    dims : int or iterable of int, default=range(1, 9)
        Intrinsic dimensions ``k``.
    max_ratio : float, default=12.0
        Largest expansion ratio ``n / k`` (at least 1).
    seeds : int, sequence of int or str, default=range(100)
        Seeds of the matrices (as in :func:`manifold_lab.sweep`).
    n_samples : int, default=2000
        Points of the ball for the pointwise fraction (``n_points`` is its deprecated
        alias).
    n_directions : int, default=20000
        Random directions per matrix where the vertex enumeration is too large.
    exact_max_subsets : int, default=2_000_000
        Widths with ``C(n, k - 1)`` up to this are enumerated exactly (k >= 3); larger
        widths use ``sampled+refined``.
    device : str, torch.device or None, default=None
        ``None`` uses CUDA when available, else the CPU.
    progress : bool or None, default=None
        Progress bar; ``None`` shows it only on a terminal.
    method : str, default="auto"
        ``"auto"`` as above; ``"exact-vertices"`` or ``"sampled+refined"`` force one method
        for every ``k >= 2`` (the sampled one to validate it against the exact one).
    width_step : int or None, default=None
        Step ``s`` of the width grid; ``None`` uses ``ceil(k / 4)`` (1 up to ``k = 4``).
    pointwise : bool, default=True
        Compute the pointwise fraction (a); ``False`` leaves it NaN (injectivity only).

    Returns
    -------
    df : pandas.DataFrame
        One row per (k, width, seed): ``k, width, ratio, seed, invertible_fraction,
        theorem1, min_active, injective, method, n_directions`` (``n_directions`` is 0
        for exact methods). ``df.attrs["provenance"]`` records the parameters, the exact
        and sampled width ranges and the timings.

    Examples
    --------
    >>> df = phase_diagram([1, 2], max_ratio=3, seeds=range(4), n_samples=100, progress=False)
    >>> df.shape, sorted(set(df.method))
    ((32, 10), ['exact-1d', 'exact-sectors'])
    >>> bool((df.query("width < 2 * k").injective == False).all())  # n >= 2k is necessary
    True
    """
    t0 = time.perf_counter()
    ks = check_dims(dims)
    check_scalar(max_ratio, "max_ratio", minimum=1)
    seeds_l = check_seeds(seeds)
    n_samples = check_scalar(n_samples, "n_samples", kind=int, minimum=2)
    n_directions = check_scalar(n_directions, "n_directions", kind=int, minimum=1)
    exact_max_subsets = check_scalar(exact_max_subsets, "exact_max_subsets", kind=int, minimum=0)
    meth = check_method(method)
    if meth in ("exact-1d", "exact-sectors"):
        raise ValueError(
            f"method {method!r} applies to one k only; use 'auto', 'exact-vertices' or "
            "'sampled+refined'"
        )
    step = check_scalar(width_step, "width_step", kind=int, minimum=1, allow_none=True)
    dev = resolve_device(device)
    grids = {k: _width_grid(k, float(max_ratio), step) for k in ks}
    bar = progress_bar(
        total=2 * len(ks) * len(seeds_l),
        progress=progress,
        desc="phase diagram",
        unit="seed",
        leave=False,
    )
    frames, info = [], {}
    try:
        for k in ks:
            bar.set_postfix_str(f"k={k}")
            W = grids[k]
            t_k = time.perf_counter()
            frac = pd.Series(np.nan, index=pd.MultiIndex.from_product([W, seeds_l]))
            if pointwise:
                pw = sweep(
                    "ball",
                    widths=W,
                    seeds=seeds_l,
                    method="lemma2",
                    metrics=["invertible_fraction"],
                    n_samples=n_samples,
                    manifold_kwargs={"dim": k},
                    device=dev,
                    progress=False,
                )
                frac = pw.set_index(["width", "seed"])["invertible_fraction"]
            bar.update(len(seeds_l))
            t_pw = time.perf_counter() - t_k
            if k == 1:
                engine_method, per_w = "exact-1d", ["exact-1d"] * len(W)
            elif k == 2 and meth == "auto":
                engine_method, per_w = "exact-sectors", ["exact-sectors"] * len(W)
            else:
                engine_method = "vertices"
                per_w = [
                    "exact-vertices"
                    if meth == "exact-vertices"
                    or (meth == "auto" and math.comb(w, k - 1) <= exact_max_subsets)
                    else "sampled+refined"
                    for w in W
                ]
            exact_w = [w for w, m in zip(W, per_w, strict=True) if m == "exact-vertices"]
            sampled_w = [w for w, m in zip(W, per_w, strict=True) if m == "sampled+refined"]
            n_exact = max(exact_w) if exact_w else 0
            rows_np = draw_rows(k, W[-1], seeds_l, "gaussian", False)[0]
            t_inj = time.perf_counter()
            S = len(seeds_l)
            chunk = S  # seeds per batch: enough candidates per seed to fill a block
            if sampled_w:
                chunk = min(chunk, BLOCK_ENTRIES // (W[-1] * n_directions))
            if exact_w:
                chunk = min(
                    chunk, BLOCK_ENTRIES // (n_exact * min(math.comb(n_exact, k - 1), 2**16))
                )
            chunk = max(1, chunk)
            counts = []
            for s0 in range(0, S, chunk):
                ss = seeds_l[s0 : s0 + chunk]
                R = torch.as_tensor(rows_np[s0 : s0 + chunk], dtype=torch.float64, device=dev)
                counts.append(
                    min_active_counts(
                        R,
                        W,
                        engine_method,
                        n_exact=n_exact,
                        dir_seeds=ss,
                        n_directions=n_directions,
                    ).cpu()
                )
                bar.update(len(ss))
            mins = torch.cat(counts, 0).numpy()  # (S, W)
            t_inj = time.perf_counter() - t_inj
            width_col = np.repeat(W, S)
            seed_col = np.tile(seeds_l, len(W))
            method_col = np.repeat(per_w, S)
            frames.append(
                pd.DataFrame(
                    {
                        "k": k,
                        "width": width_col,
                        "ratio": width_col / k,
                        "seed": seed_col,
                        "invertible_fraction": frac.loc[
                            list(zip(width_col.tolist(), seed_col.tolist(), strict=True))
                        ].to_numpy(),
                        "theorem1": preserved_fraction(width_col, k),
                        "min_active": mins.T.reshape(-1),
                        "injective": mins.T.reshape(-1) >= k,
                        "method": method_col,
                        "n_directions": np.where(method_col == "sampled+refined", n_directions, 0),
                    }
                )
            )
            info[str(k)] = {
                "widths": W,
                "methods": sorted(set(per_w)),
                "exact_widths": [min(W), max(W) if k <= 2 else n_exact]
                if exact_w or k <= 2
                else None,
                "sampled_widths": [min(sampled_w), max(sampled_w)] if sampled_w else None,
                "pointwise_s": round(t_pw, 3),
                "injectivity_s": round(t_inj, 3),
            }
    finally:
        bar.close()
    df = pd.concat(frames, ignore_index=True)
    params = {
        "dims": ks,
        "max_ratio": float(max_ratio),
        "width_step": step,
        "seeds": seeds_l,
        "n_samples": n_samples if pointwise else None,
        "manifold": "ball",
        "embedding": "gaussian",
        "bias": 0.0,
        "n_directions": n_directions,
        "exact_max_subsets": exact_max_subsets,
        "method": meth,
        "refine": {
            "best_per_width": REFINE_BEST,
            "rows_per_start": f"k + {REFINE_EXTRA - 1}",
            "rounds": REFINE_ROUNDS,
            "direction_stream": DIRECTION_STREAM,
        },
        "device": str(dev),
        "per_k": info,
    }
    df.attrs["provenance"] = provenance(params, elapsed_s=round(time.perf_counter() - t0, 3))
    return df
