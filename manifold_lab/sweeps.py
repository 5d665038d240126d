"""Sweeps over widths, seeds, activations and methods, and their summaries."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from . import _sector
from ._memory import check_memory
from ._progress import progress_bar
from ._validation import (
    _as_int_list,
    check_scalar,
    check_seeds,
    check_widths,
    resolve_device,
    resolve_dtype,
)
from .activations import get_activation
from .core import (
    METRICS,
    NEIGHBOR_METRICS,
    Prepared,
    check_inverse,
    check_manifold_kwargs,
    check_methods,
    check_metrics,
    check_width_for,
    estimate_chunk_bytes,
    estimate_prepare_bytes,
    estimate_stack_bytes,
    evaluate_chunk,
    evaluate_stack,
    neighbor_points,
    prepare,
    rank_rtol,
    stack_tensors,
)
from .embedding import check_embedding_kind, check_residual_form, draw_rows, finish, stack_layers
from .manifolds import make_manifold
from .records import provenance
from .registry.settings import DEFAULT_WIDTHS, SWEEP

__all__ = [
    "ALGORITHMS",
    "check_depths",
    "combine_sweeps",
    "crossing_widths",
    "summarize",
    "sweep",
]

ALGORITHMS = ("auto", "dense", "sector")
"""``dense`` evaluates every point; ``sector`` is the exact O(n log N) algorithm for 2-D
spans without bias (see ``manifold_lab._sector``); ``auto`` uses it whenever it applies."""

ID_COLUMNS = (
    "manifold",
    "n_samples",
    "d",
    "k",
    "embedding",
    "bias",
    "activation",
    "method",
    "depth",
    "residual_form",
    "width",
    "seed",
)


def check_depths(depth: Any) -> list[int]:
    """Parse and validate depths (numbers of stacked layers), each in the range of
    ``SWEEP["depth"]``.

    Parameters
    ----------
    depth : int, sequence of int or str
        For example ``1``, ``[1, 2, 4]``, ``"1,2,4,8"`` or ``"1:4"`` (inclusive).

    Returns
    -------
    depths : list of int
        Sorted, without duplicates.

    Examples
    --------
    >>> check_depths("8,1:3")
    [1, 2, 3, 8]
    >>> check_depths(0)
    Traceback (most recent call last):
    ...
    ValueError: depth must be an integer in [1, 32], got 0
    """
    values = _as_int_list(depth, "depth")
    if not values:
        raise ValueError("depth is empty: give at least one depth, e.g. 1 or '1,2,4'")
    return sorted({SWEEP["depth"].check(v) for v in values})


def sweep(
    manifold: Any = SWEEP["manifold"].default,
    widths: Any = DEFAULT_WIDTHS,
    seeds: Any = SWEEP["seeds"].default,
    *,
    activation: Any = SWEEP["activation"].default,
    method: Any = SWEEP["method"].default,
    metrics: Any = None,
    depth: Any = SWEEP["depth"].default,
    residual_form: str = SWEEP["residual_form"].default,
    embedding: str = SWEEP["embedding"].default,
    bias: float = SWEEP["bias"].default,
    n_samples: int = SWEEP["n_samples"].default,
    manifold_seed: int = SWEEP["manifold_seed"].default,
    manifold_kwargs: dict[str, Any] | None = None,
    max_neighbor_points: int | None = 1000,
    n_neighbors: int = 10,
    collapse_tol: float = 0.1,
    device: Any = None,
    dtype: Any = None,
    algorithm: str = "auto",
    max_chunk_elements: int = 2**20,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Measure information loss over widths, seeds, activations and reconstruction methods.

    For a seed, the matrix of width ``n`` is the first ``n`` rows of that seed's stream
    (see :mod:`manifold_lab.embedding`); for each width the matrices of all seeds are
    evaluated together as one batched torch computation, in chunks of seeds that bound
    memory. A case's numbers do not depend on the other widths or seeds, the chunking, or
    the device (up to rounding).

    Parameters
    ----------
    manifold : str, Manifold, array-like or (X, t), default="spiral"
        What to embed (see :func:`manifold_lab.make_manifold`).
    widths : int, sequence of int or str, default=(2, 3, 5, 15, 30)
        Layer widths ``n``; strings such as ``"2,3,5"`` or ``"2:64"`` (inclusive).
    seeds : int, sequence of int or str, default="0:9"
        Seeds of the random matrices (an int is one seed).
    activation : str, Activation, callable or a list of them, default="relu"
        See :func:`manifold_lab.get_activation`.
    method : {"pinv", "lstsq", "lemma2"} or a list of them, default="pinv"
        Reconstruction methods (see :mod:`manifold_lab.core`).
    metrics : list of str or None, default=None
        Metrics to compute, from :data:`manifold_lab.METRICS`; ``None`` computes all. Each
        row always has a column for every metric; metrics not computed are NaN.
    depth : int, sequence of int or str, default=1
        Numbers ``L`` of random layers of width ``n`` stacked (each in [1, 32]), e.g.
        ``[1, 2, 4, 8]`` or ``"1,2,4,8"``: the metrics are measured at the stack's output,
        as defined in :func:`manifold_lab.core.evaluate_stack` (``invertible_fraction``:
        Lemma 2 holds at every layer). ``L = 1`` is the single layer, computed exactly as
        without depth. Layer ``l >= 2`` is drawn from ``(seed, l)`` (see
        :func:`manifold_lab.embedding.stack_layers`); a stack's first layers are those of
        any deeper one.
    residual_form : {"plain", "inverted"}, default="plain"
        How the layers are joined: ``"plain"`` is ``phi(T_L ... phi(T_1 x))``;
        ``"inverted"`` puts a random linear projection back to the span's dimension ``k``
        between layers (an inverted residual block without its shortcut).
    embedding : {"gaussian", "orthonormal", "uniform"}, default="gaussian"
        Distribution of ``T``.
    bias : float, default=0.0
        Relative bias scale (see :func:`manifold_lab.random_embedding`).
    n_samples : int, default=1000
        Number of points when ``manifold`` is a name.
    manifold_seed : int, default=0
        Seed of the manifold's points (swiss roll, sphere, noise, ...).
    manifold_kwargs : dict or None, default=None
        Further arguments of the manifold generator, e.g. ``{"dim": 3}``.
    max_neighbor_points : int or None, default=1000
        Points (evenly spaced in sample order) used by ``collapsed_fraction`` and
        ``knn_recall``; ``None`` uses all.
    n_neighbors : int, default=10
        Neighbours for ``knn_recall``.
    collapse_tol : float, default=0.1
        Relative radius for ``collapsed_fraction``.
    device : str, torch.device or None, default=None
        ``None`` uses CUDA when available, else the CPU.
    dtype : {"float64", "float32"} or torch dtype, default=None
        Precision; float64 when ``None``.
    algorithm : {"auto", "dense", "sector"}, default="auto"
        See :data:`ALGORITHMS`. ``"sector"`` raises when it does not apply.
    max_chunk_elements : int, default=2**20
        Largest ``seeds x points x width`` block held at once.
    progress : bool or None, default=None
        Progress bar; ``None`` shows it only on a terminal.

    Returns
    -------
    results : pandas.DataFrame
        Tidy: one row per (activation, depth, width, seed, method), with columns
        ``manifold, n_samples, d, k, embedding, bias, activation, method, depth,
        residual_form, width, seed``,
        ``width_ratio`` (``width / k``) and one column per metric. ``results.attrs``
        holds the provenance record.

    Raises
    ------
    manifold_lab._memory.MemoryBudgetError
        A :class:`ValueError`, before anything large is allocated, when the estimated peak
        memory exceeds the budget: 90% of the memory the OS reports as available, or the
        environment variable ``MANIFOLD_LAB_MEMORY_LIMIT`` (e.g. ``8GB``).

    Examples
    --------
    >>> df = sweep("spiral", widths=[2, 30], seeds=range(3), method=["pinv", "lemma2"],
    ...            metrics=["nmse", "invertible_fraction"], n_samples=200, progress=False)
    >>> df.shape
    (12, 19)
    >>> bool((df.query("width == 30 and method == 'lemma2'").nmse < 1e-20).all())
    True
    """
    t0 = time.perf_counter()
    widths_l = check_widths(widths)
    seeds_l = check_seeds(seeds)
    methods = check_methods(method)
    metrics_l = check_metrics(metrics)
    depths = check_depths(depth)
    form = check_residual_form(residual_form)
    deeper = [x for x in depths if x > 1]
    acts_in = activation if isinstance(activation, (list, tuple)) else [activation]
    if not acts_in:
        raise ValueError("give at least one activation")
    acts = [get_activation(a) for a in acts_in]
    kind = check_embedding_kind(embedding)
    check_scalar(bias, "bias", minimum=0)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    check_scalar(max_chunk_elements, "max_chunk_elements", kind=int, minimum=1)
    check_scalar(collapse_tol, "collapse_tol", minimum=0, include_min=False)
    for act in acts:
        check_inverse(act, methods)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    m = make_manifold(
        manifold, n_samples, seed=manifold_seed, **check_manifold_kwargs(manifold_kwargs)
    )
    neighbors = any(x in metrics_l for x in NEIGHBOR_METRICS)
    itemsize = torch.finfo(dt).bits // 8
    n_nb = neighbor_points(m.n_samples, max_neighbor_points) if neighbors else None
    check_memory(
        estimate_prepare_bytes(
            m.n_samples, m.ambient_dim, itemsize=itemsize, n_neighbor_points=n_nb
        ),
        what=f"preparing {m.n_samples} points in {m.ambient_dim} dimensions",
        advice="reduce n_samples" + (" or max_neighbor_points" if neighbors else ""),
        device=dev,
    )
    prep = prepare(
        m,
        device=dev,
        dtype=dt,
        neighbors=neighbors,
        max_neighbor_points=max_neighbor_points,
        n_neighbors=n_neighbors,
    )
    for w in widths_l:
        check_width_for(w, prep.k, methods)
    use_sector = [
        _sector.eligible(prep.k, bias > 0, a, methods, metrics_l) and algorithm != "dense"
        for a in acts
    ]
    if algorithm == "sector" and deeper:
        raise ValueError(
            f"algorithm='sector' computes a single layer; depth {deeper[-1]} needs "
            "algorithm='auto' or 'dense'"
        )
    if algorithm == "sector" and not all(use_sector):
        raise ValueError(
            "algorithm='sector' needs a manifold with a 2-D linear span, no bias, a "
            "positively homogeneous piecewise-linear activation (relu, leaky_relu, identity), "
            f"methods in {sorted(_sector.SUPPORTED_METHODS)} and metrics in "
            f"{sorted(_sector.SUPPORTED_METRICS)}; use algorithm='auto'"
        )
    sector_data = None
    if any(use_sector) and 1 in depths:
        sector_data = _sector.prepare_sectors(torch.matmul(prep.X, prep.U))

    N, D = m.X.shape
    m_nb = 0 if prep.sub_idx is None else int(prep.sub_idx.shape[0])
    w_max = widths_l[-1]
    # Seeds are processed in blocks whose raw rows (at the largest width) are drawn once;
    # every width takes a prefix (see manifold_lab.embedding).
    block_seeds = seed_block(len(seeds_l), w_max, D)

    def chunk_of(w: int, sector: bool) -> int:
        """Seeds evaluated at once at width ``w`` (bounded by ``max_chunk_elements``)."""
        return chunk_seeds(
            w,
            N,
            m_nb if neighbors else 0,
            sector and not deeper,
            block_seeds,
            max_chunk_elements,
            stack_k=prep.k if deeper else 0,
        )

    _check_sweep_memory(
        prep,
        widths_l,
        use_sector,
        chunk_of,
        block_seeds=block_seeds,
        methods=methods,
        metrics=metrics_l,
        n_neighbor_points=m_nb or None,
        n_neighbors=n_neighbors,
        depth=max(depths),
    )
    blocks: list[dict[str, Any]] = []
    total = len(widths_l) * len(seeds_l) * len(acts) * len(depths)
    bar = progress_bar(total=total, progress=progress, desc="sweep", unit="case", leave=False)
    try:
        for b0 in range(0, len(seeds_l), block_seeds):
            block_ss = seeds_l[b0 : b0 + block_seeds]
            raw_T, raw_b = draw_rows(D, w_max, block_ss, kind, bias > 0)
            for ai, (act, sector) in enumerate(zip(acts, use_sector, strict=True)):
                for w in widths_l:
                    chunk = chunk_of(w, sector)
                    for start in range(0, len(block_ss), chunk):
                        ss = block_ss[start : start + chunk]
                        sl = slice(start, start + len(ss))
                        T = torch.as_tensor(finish(raw_T[sl, :w], kind), dtype=dt, device=dev)
                        b = None
                        if raw_b is not None:
                            b_np = raw_b[sl, :w] * (bias * prep.data_scale)
                            b = torch.as_tensor(b_np, dtype=dt, device=dev)
                        cols = (act.name, w, ss, methods, metrics_l)
                        if deeper:
                            layers = stack_layers(
                                w,
                                prep.k,
                                ss,
                                deeper[-1],
                                residual_form=form,
                                kind=kind,
                                bias=bias,
                                data_scale=prep.data_scale,
                            )
                            outs = evaluate_stack(
                                prep,
                                T,
                                b,
                                stack_tensors(layers, dt, dev),
                                act,
                                methods,
                                metrics_l,
                                deeper,
                                collapse_tol=collapse_tol,
                            )
                            for x in deeper:
                                o = outs[x]
                                blocks.append(_block(ai, *cols, o.metrics, o.nmse, x, form))
                            bar.update(len(ss) * len(deeper))
                        if 1 not in depths:
                            continue
                        if sector:
                            assert sector_data is not None
                            mets, nmse = _sector.evaluate_sectors(
                                sector_data,
                                torch.matmul(T, prep.U),
                                act,
                                methods,
                                metrics_l,
                                prep.total_variance,
                                rank_rtol(dt),
                            )
                        else:
                            res = evaluate_chunk(
                                prep, T, b, act, methods, metrics_l, collapse_tol=collapse_tol
                            )
                            mets, nmse = res.metrics, res.nmse
                        blocks.append(_block(ai, *cols, mets, nmse, 1, form))
                        bar.update(len(ss))
    finally:
        bar.close()
    sizes = [len(b["seed"]) for b in blocks]
    df = pd.DataFrame(
        {
            col: np.concatenate(
                [np.broadcast_to(b[col], (s,)) for b, s in zip(blocks, sizes, strict=True)]
            )
            for col in blocks[0]
        }
    )
    for col, value in (
        ("manifold", m.name),
        ("n_samples", N),
        ("d", D),
        ("k", prep.k),
        ("embedding", kind),
        ("bias", float(bias)),
    ):
        df[col] = value
    df["width_ratio"] = df["width"] / prep.k
    order = np.lexsort((df["_method"], df["seed"], df["width"], df["depth"], df["_act"]))
    df = df.iloc[order].reset_index(drop=True)[[*ID_COLUMNS, "width_ratio", *METRICS]]
    params = {
        "manifold": m.name,
        "manifold_params": m.params,
        "manifold_seed": manifold_seed,
        "widths": widths_l,
        "seeds": seeds_l,
        "activations": [a.name for a in acts],
        "methods": methods,
        "metrics": metrics_l,
        "depths": depths,
        "residual_form": form,
        "embedding": kind,
        "bias": bias,
        "max_neighbor_points": max_neighbor_points,
        "n_neighbors": n_neighbors,
        "collapse_tol": collapse_tol,
        "device": str(dev),
        "dtype": str(dt).replace("torch.", ""),
        "algorithm": "sector"
        if all(use_sector) and not deeper
        else ("dense" if not any(use_sector) or depths == deeper else "mixed"),
    }
    df.attrs["provenance"] = provenance(params, elapsed_s=round(time.perf_counter() - t0, 4))
    return df


def seed_block(n_seeds: int, max_width: int, d: int) -> int:
    """Seeds whose raw rows (at the largest width) :func:`sweep` draws at once."""
    return max(1, min(n_seeds, 2**22 // max(1, max_width * d)))


def chunk_seeds(
    width: int,
    n_points: int,
    n_neighbor_points: int,
    sector: bool,
    block_seeds: int,
    max_chunk_elements: int,
    stack_k: int = 0,
) -> int:
    """Seeds :func:`sweep` evaluates at once at ``width`` (``n_neighbor_points``: 0 without
    neighbour metrics); the sector algorithm takes the whole block. ``stack_k``: the span's
    dimension when a stack deeper than one layer is evaluated (its tangent frames hold
    ``k`` more values per point and unit), else 0."""
    per_seed = max(n_points * width, n_neighbor_points * n_neighbor_points, 1)
    if stack_k:
        per_seed = max(per_seed, n_points * width * (stack_k + 1))
    return block_seeds if sector else max(1, max_chunk_elements // per_seed)


def _check_sweep_memory(
    prep: Prepared,
    widths: list[int],
    use_sector: list[bool],
    chunk_of: Callable[[int, bool], int],
    *,
    block_seeds: int,
    methods: list[str],
    metrics: list[str],
    n_neighbor_points: int | None,
    n_neighbors: int,
    depth: int = 1,
) -> None:
    """Refuse a sweep whose largest chunk would not fit in the memory budget."""
    N, D = prep.X.shape
    e = prep.X.element_size()
    fixed = prep.X.numel() * e + (0 if prep.DX is None else prep.DX.numel() * e)
    fixed += 2 * 8 * block_seeds * widths[-1] * D  # the block's raw rows
    peak, worst = 0, widths[-1]
    for sector in set(use_sector):
        for w in widths:
            n_seeds = min(chunk_of(w, sector), block_seeds)
            if sector and depth == 1:
                need = _sector.estimate_bytes(n_seeds, w, N, e)
            elif depth > 1:
                need = estimate_stack_bytes(
                    n_seeds,
                    w,
                    N,
                    D,
                    prep.k,
                    depth,
                    itemsize=e,
                    methods=methods,
                    metrics=metrics,
                    n_neighbor_points=n_neighbor_points,
                    n_neighbors=n_neighbors,
                )
            else:
                need = estimate_chunk_bytes(
                    n_seeds,
                    w,
                    N,
                    D,
                    prep.k,
                    itemsize=e,
                    methods=methods,
                    metrics=metrics,
                    n_neighbor_points=n_neighbor_points,
                    n_neighbors=n_neighbors,
                )
            if need > peak:
                peak, worst = need, w
    advice = f"reduce n_samples ({N}) or the largest width ({widths[-1]})"
    if n_neighbor_points and n_neighbor_points**2 > N * worst:
        advice = f"reduce max_neighbor_points ({n_neighbor_points}), n_samples or the widths"
    if e == 8:
        advice += ", or pass dtype='float32'"
    check_memory(
        fixed + peak,
        what=f"this sweep (width {worst}, {N} points in {D} dimensions)",
        advice=advice + ", or ask for fewer metrics",
        device=prep.device,
    )


def _block(
    act_index: int,
    act_name: str,
    width: int,
    seeds: list[int],
    methods: list[str],
    metrics: list[str],
    mets: dict[str, torch.Tensor],
    nmse: dict[str, torch.Tensor],
    depth: int = 1,
    residual_form: str = "plain",
) -> dict[str, Any]:
    """Columns for one chunk: rows ordered by seed, then method."""
    n_m = len(methods)
    block: dict[str, Any] = {
        "_act": act_index,
        "activation": act_name,
        "_method": np.tile(np.arange(n_m), len(seeds)),
        "method": np.tile(methods, len(seeds)),
        "depth": depth,
        "residual_form": residual_form,
        "width": width,
        "seed": np.repeat(seeds, n_m),
    }
    for name in METRICS:
        if name == "nmse" and "nmse" in metrics:
            vals = [nmse[x].double().cpu().numpy() for x in methods]
            block[name] = np.stack(vals, 1).ravel()
        elif name in mets:
            block[name] = np.repeat(mets[name].double().cpu().numpy(), n_m)
        else:
            block[name] = math.nan
    return block


def combine_sweeps(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One sweep's results from the sweeps of its parts (e.g. run width by width).

    A case's numbers do not depend on the other widths or seeds (see :func:`sweep`), so
    sweeping the widths in parts and combining gives the rows of one sweep, in its order
    (activation, width, seed, method). The provenance is the first part's, with the widths
    and seeds of all parts.

    Parameters
    ----------
    parts : list of pandas.DataFrame
        Outputs of :func:`sweep` with the same settings apart from the widths (or seeds);
        at least one.

    Returns
    -------
    results : pandas.DataFrame
        The rows of all parts sorted as :func:`sweep` orders them, with the first part's
        provenance (``attrs["provenance"]``) listing the widths and seeds of all parts.

    Raises
    ------
    ValueError
        When ``parts`` is empty.

    Examples
    --------
    >>> kw = dict(seeds=range(3), metrics=["nmse"], n_samples=200, progress=False)
    >>> whole = sweep("circle", widths=[3, 5, 8], **kw)
    >>> parts = combine_sweeps([sweep("circle", widths=[3], **kw),
    ...                         sweep("circle", widths=[5, 8], **kw)])
    >>> bool(parts.equals(whole))
    True
    """
    if not parts:
        raise ValueError("give at least one part")
    df = pd.concat(parts, ignore_index=True)
    acts = list(dict.fromkeys(df["activation"]))
    meths = list(dict.fromkeys(df["method"]))
    keys = [
        df["method"].map(meths.index).to_numpy(),
        df["seed"].to_numpy(),
        df["width"].to_numpy(),
    ]
    if "depth" in df:  # a stack's rows: depth by depth within each activation
        keys.append(df["depth"].to_numpy())
    keys.append(df["activation"].map(acts.index).to_numpy())
    order = np.lexsort(tuple(keys))
    df = df.iloc[order].reset_index(drop=True)
    prov = dict(parts[0].attrs.get("provenance", {}))
    if "parameters" in prov:
        params = dict(prov["parameters"])
        params["widths"] = sorted({int(w) for w in df["width"]})
        params["seeds"] = sorted({int(s) for s in df["seed"]})
        prov["parameters"] = params
    df.attrs["provenance"] = prov
    return df


def summarize(
    df: pd.DataFrame,
    *,
    metrics: Any = None,
    by: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean and confidence interval over seeds, in long (tidy) form.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`sweep`.
    metrics : list of str or None, default=None
        Metrics to summarise; ``None`` takes every metric column that is not all NaN.
    by : list of str or None, default=None
        Grouping columns; ``None`` groups by every identifying column except ``seed``.
    confidence : float, default=0.95
        Level of the two-sided Student-t interval ``mean +- t * std / sqrt(n)``.

    Returns
    -------
    summary : pandas.DataFrame
        Columns: the grouping columns, ``metric``, ``mean``, ``median``, ``std``,
        ``n_seeds``, ``sem``, ``ci_low``, ``ci_high``. With one seed the interval is NaN.
        The median is there for heavy-tailed metrics: ``nmse`` of the pseudo-inverse at
        ``n = d`` is dominated by the occasional near-singular ``T``.

    Examples
    --------
    >>> df = sweep("circle", widths=[3], seeds=range(5), metrics=["nmse"], progress=False)
    >>> s = summarize(df)
    >>> s[["width", "metric", "n_seeds"]].values.tolist()
    [[3, 'nmse', 5]]
    """
    check_scalar(
        confidence, "confidence", minimum=0, maximum=1, include_min=False, include_max=False
    )
    if "seed" not in df.columns:
        raise ValueError("df has no 'seed' column: pass the output of manifold_lab.sweep")
    if metrics is None:
        metrics = [c for c in check_metrics(None) if c in df.columns and df[c].notna().any()]
    else:
        metrics = check_metrics(metrics)
    if by is None:
        by = [c for c in (*ID_COLUMNS, "width_ratio") if c in df.columns and c != "seed"]
    long = df.melt(id_vars=list(by), value_vars=list(metrics), var_name="metric")
    g = long.groupby([*by, "metric"], sort=True, dropna=False)["value"]
    out = g.agg(mean="mean", median="median", std="std", n_seeds="count").reset_index()
    out["sem"] = out["std"] / np.sqrt(out["n_seeds"])
    tcrit = stats.t.ppf(0.5 + confidence / 2, np.maximum(out["n_seeds"] - 1, 1))
    half = np.where(out["n_seeds"] > 1, tcrit * out["sem"], np.nan)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    out.attrs["provenance"] = df.attrs.get("provenance", {})
    return out


def crossing_widths(
    summary: pd.DataFrame,
    *,
    metric: str = "invertible_fraction",
    levels: Any = (0.5, 0.9),
    by: Any = ("residual_form", "depth"),
    statistic: str = "mean",
) -> pd.DataFrame:
    """The width at which a measured curve first reaches each level (e.g. 50% invertible).

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`summarize` (columns ``width``, ``metric`` and ``statistic``).
    metric : str, default="invertible_fraction"
        The curve's metric; it should grow with width.
    levels : sequence of float, default=(0.5, 0.9)
        Levels to reach.
    by : sequence of str, default=("residual_form", "depth")
        One curve per value of these columns.
    statistic : {"mean", "median"}, default="mean"
        Which summary of the seeds is the curve.

    Returns
    -------
    crossings : pandas.DataFrame
        Columns ``by``, ``level`` and ``width``: the width linearly interpolated between the
        last width below the level and the first at or above it (the first swept width
        when it already is); NaN when the curve never reaches the level.

    Examples
    --------
    >>> df = sweep("spiral", widths="2:8", seeds=range(4), depth=[1, 2], n_samples=200,
    ...            metrics=["invertible_fraction"], progress=False)
    >>> c = crossing_widths(summarize(df), levels=[0.5])
    >>> c["depth"].tolist(), bool((c["width"] > 2).all())
    ([1, 2], True)
    """
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    by_l = [by] if isinstance(by, str) else list(by)
    missing = [c for c in (*by_l, "width", "metric", statistic) if c not in summary.columns]
    if missing:
        raise ValueError(
            f"summary has no column {missing[0]!r}: pass manifold_lab.summarize's output"
        )
    part = summary[summary["metric"] == metric]
    if part.empty:
        raise ValueError(f"summary holds no metric {metric!r}")
    rows = []
    for key, g in part.groupby(by_l, sort=True):
        g = g.sort_values("width")
        w, v = g["width"].to_numpy(float), g[statistic].to_numpy(float)
        for level in levels:
            check_scalar(level, "level")
            hit = np.nonzero(v >= level)[0]
            if hit.size == 0:
                width = math.nan
            elif hit[0] == 0:
                width = w[0]
            else:
                i = hit[0]
                width = w[i - 1] + (level - v[i - 1]) * (w[i] - w[i - 1]) / (v[i] - v[i - 1])
            keys = key if isinstance(key, tuple) else (key,)
            rows.append({**dict(zip(by_l, keys, strict=True)), "level": level, "width": width})
    out = pd.DataFrame(rows)
    out.attrs["provenance"] = summary.attrs.get("provenance", {})
    return out
