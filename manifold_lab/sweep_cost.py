"""How long a :func:`~manifold_lab.sweep` will take, before running it.

The estimate is a work model calibrated on this machine. :func:`sweep` evaluates, for every
activation and width, chunks of seeds with one batched call of the engine
(:func:`manifold_lab.core.evaluate_chunk`, or the exact sector algorithm for 2-D spans);
:func:`sweep_work` counts, chunk by chunk as :func:`sweep` plans them, the work of each
kind that those calls do:

``calls``
    one per chunk (Python and dispatch overhead);
``dense``
    element-wise passes and short products over ``seeds x width x points`` values (the
    activation, the pointwise Gram matrices of Lemma 2, the Jacobian, the activation
    patterns), each weighted by the length of its inner products (``k^2`` for a Gram
    matrix, ``width`` for the affine decoder's normal equations), and the input
    distances of the neighbour metrics;
``matmul``
    multiply-adds of the products with ``d``-long (or ``width``-long) inner dimensions:
    the layer ``T x`` (``seeds x width x points x d``), the decoders back to the ``d``
    input coordinates (pseudo-inverse, Lemma 2's ``U c``, the affine decoder), and the
    further layers of a stack (``seeds x width x width x points`` each);
``coords``
    passes over ``seeds x d x points`` values: each reconstruction of the points and its
    error, and the copy of the points that every engine call makes (``d x points``);
``small``
    ``k x k`` eigen-decompositions, one per point and seed, when the span has ``k > 2``
    dimensions (``k <= 2`` has closed forms, counted as dense work; the Jacobian's,
    eigenvalues only, count half);
``neighbors``
    the output distances of the neighbour metrics, ``seeds x m^2 x (width + 64)`` for
    ``m`` neighbour points;
``knn``
    the nearest output neighbours of ``knn_recall``, ``seeds x m^2`` (a partial sort of
    every row of distances);
``sector``
    the sector algorithm's ``seeds x (2 width) x width`` evaluations;
``span``
    the singular value decompositions of the ``points x d`` input that find its span
    and the passes over the input that check, centre and copy it: ``points x d x
    min(d, 128)`` (measured: the decompositions' time per value grows with ``d`` up to
    about 128 columns, then hardly at all), once per sweep;
``sweeps``
    one per sweep (the manifold, the input statistics, the results table).

The ``matmul``, ``coords`` and ``span`` terms are what grows with the input dimension
``d``: on 100,000 uploaded points in 100 dimensions they are most of a sweep's time (the
span's decompositions alone take one to several seconds on two CPU cores).

Depth: a stack of ``L > 1`` layers (``sweep(depth=...)``) is counted as the engine computes
it: one call per chunk for all the depths asked, the first layer and one measurement as for
a single layer, then per further layer its product with the previous output
(``seeds x width x width x points``), its activation and, when invertibility or the
Jacobian are asked, the propagation of ``k``-dimensional tangent frames (``k^2 + 3``
values per ``seeds x width x points``, and a ``k x k`` decomposition per point above
``k = 2``); each further depth measured costs one more measurement. Chunks are those of
the stack (``k + 1`` values per ``seeds x width x points``).

:func:`calibrate` times a few small sweeps once per process and device (cached), each
dominated by one kind of work, and turns them into seconds per unit;
:func:`estimate_sweep_seconds` multiplies. ``benchmarks/bench_sweep_cost.py`` compares the
estimate with measured sweeps from under a second to about a minute.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import _sector
from ._validation import check_seeds, check_widths, resolve_device, resolve_dtype
from .activations import Activation, get_activation
from .core import NEIGHBOR_METRICS, check_methods, check_metrics, neighbor_points
from .embedding import check_residual_form
from .manifolds import make_manifold
from .registry.settings import DEFAULT_WIDTHS, SWEEP
from .sweeps import check_depths, chunk_seeds, seed_block, sweep

__all__ = [
    "KINDS",
    "CostModel",
    "SweepEstimate",
    "calibrate",
    "estimate_sweep",
    "estimate_sweep_seconds",
    "prepare_work",
    "sweep_work",
]

KINDS: tuple[str, ...] = (
    "calls",
    "dense",
    "matmul",
    "coords",
    "small",
    "neighbors",
    "knn",
    "sector",
    "span",
    "sweeps",
)
"""The kinds of work :func:`sweep_work` counts (see this module's documentation)."""


@dataclass(frozen=True)
class CostModel:
    """Seconds per unit of each kind of work, measured on one device.

    Attributes
    ----------
    seconds_per_unit : dict of str to float
        One entry per :data:`KINDS`.
    device : str
        Where it was measured.
    calibration_s : float
        How long the calibration took.
    """

    seconds_per_unit: dict[str, float]
    device: str
    calibration_s: float

    def seconds(self, work: dict[str, float]) -> float:
        """Estimated seconds of ``work`` (a :func:`sweep_work` count)."""
        return float(sum(self.seconds_per_unit[k] * work.get(k, 0.0) for k in KINDS))


def _chunk_work(
    *,
    n_seeds: int,
    width: int,
    n_points: int,
    d: int,
    k: int,
    n_neighbor_points: int,
    n_neighbors: int,
    act: Activation,
    methods: list[str],
    metrics: list[str],
    sector: bool,
) -> dict[str, float]:
    """The work of one engine call on ``n_seeds`` matrices of ``width`` rows."""
    S, w, N = n_seeds, width, n_points
    work = dict.fromkeys(KINDS, 0.0)
    work["calls"] = 1.0
    meths = methods if "nmse" in metrics else []
    inverse = ("lemma2" in meths or "invertible_fraction" in metrics) and act.inverse is not None
    if sector:
        # per sector (2 w of them): its midpoint's angle and bin (~16 values), then w rows
        # for each quantity asked
        parts = 1 + ("pinv" in meths) + inverse + ("n_patterns" in metrics)
        work["sector"] = float(S * 2 * w * (w * parts + 16))
        return work
    SwN = float(S * w * N)
    dense = SwN * 2  # the activation, its output
    matmul = SwN * d  # T x
    # the engine's copy of the points, then each reconstruction (S x d x N) and its error
    coords = float(d * N) + S * d * N * sum(m in ("pinv", "lemma2", "lstsq") for m in meths)
    if inverse:
        dense += SwN * (k * k + 3) + S * N * k * k * 4
    if "lemma2" in meths and inverse:
        dense += S * N * w * k
        matmul += S * N * d * k
    if "pinv" in meths:
        matmul += SwN * d
    if "lstsq" in meths:
        dense += S * w * w * N + S * w**3
        matmul += 2 * S * d * w * N
    if "jacobian_min_sv" in metrics:
        dense += SwN * (k * k + 2) + S * N * k * k * 4
    if "n_patterns" in metrics:
        dense += SwN + S * N * math.log2(max(N, 2))
    work["dense"], work["matmul"], work["coords"] = dense, matmul, coords
    # the Jacobian needs eigenvalues only (eigvalsh): half the time of the inverse's eigh
    # (0.10 s against 0.22 s for 200,000 3 x 3 matrices, measured)
    n_small = inverse + 0.5 * ("jacobian_min_sv" in metrics)
    if k > 2:
        work["small"] = float(S * N * n_small * k**3)
    if any(m in metrics for m in NEIGHBOR_METRICS):
        m = n_neighbor_points
        # the distances' products (width) and passes over the m x m matrix (square root,
        # clamp, diagonal, comparisons) that cost about as much as a width of 64
        work["neighbors"] = S * m * m * (w + 64.0)
        if "knn_recall" in metrics:
            kk = min(n_neighbors, m - 1)
            work["knn"] = S * m * m * math.log2(kk + 1) + S * m * kk * kk
    return work


def _layer_work(
    *, n_seeds: int, width: int, n_points: int, k: int, track: bool, inverted: bool
) -> dict[str, float]:
    """The work of one further layer of a stack (layer ``l >= 2``) on a chunk."""
    S, w, N = n_seeds, width, n_points
    work = dict.fromkeys(KINDS, 0.0)
    SwN = float(S * w * N)
    work["matmul"] = SwN * (w + (2 * k if inverted else 0))
    work["dense"] = SwN * 2
    if track:  # the tangent frames: products, Gram matrices, re-orthonormalisation
        work["dense"] += SwN * (k * k + 3) * 2 + S * N * k * k * 4
        if k > 2:
            work["small"] = float(S * N * k**3)
    return work


def _add(total: dict[str, float], work: dict[str, float], times: float = 1.0) -> None:
    for key, value in work.items():
        total[key] = total.get(key, 0.0) + times * value


def _span_dim(X: np.ndarray) -> int:
    """The dimension ``k`` of the rows' span, by :func:`~manifold_lab.core.span_basis`'s
    rule (one decomposition without vectors: half of its cost)."""
    s = np.linalg.svd(X, compute_uv=False)
    return int((s > s[0] * max(X.shape) * np.finfo(np.float64).eps * 10).sum())


def prepare_work(n_points: int, d: int, n_neighbor_points: int = 0) -> dict[str, float]:
    """The work that every call of :func:`~manifold_lab.sweep` does once, whatever its
    widths and seeds: the span of the ``n_points x d`` input (two decompositions), the
    input statistics and the input distances of ``n_neighbor_points`` points.

    A sweep run in parts (several calls over parts of the widths, as the explorer does to
    show progress) repeats it in every part.

    Examples
    --------
    >>> w = prepare_work(100_000, 100)
    >>> w["span"], w["sweeps"]
    (1000000000.0, 1.0)
    """
    work = dict.fromkeys(KINDS, 0.0)
    work["sweeps"] = 1.0
    # LAPACK's decompositions of a tall points x d matrix, both of them (singular values,
    # then vectors), measured on 2 idle CPU cores: 0.04 s for 100,000 x 16, 0.14 s for
    # 100,000 x 32, 0.53 s for 100,000 x 64, 1.05 s for 100,000 x 100 and 3.4 s for
    # 20,000 x 1,000. Their time per value grows with d up to about 128 columns (the
    # blocks of the blocked algorithm), then hardly at all: points x d x min(d, 128) is
    # within a factor of 1.6 of all these (and overestimates small inputs, such as
    # 20,000 x 100, about threefold).
    work["span"] = float(n_points) * d * min(n_points, d, 128)
    work["dense"] = float(n_neighbor_points) ** 2 * d  # the input distances
    return work


def sweep_work(
    manifold: Any = SWEEP["manifold"].default,
    widths: Any = DEFAULT_WIDTHS,
    seeds: Any = SWEEP["seeds"].default,
    *,
    activation: Any = SWEEP["activation"].default,
    method: Any = SWEEP["method"].default,
    metrics: Any = None,
    depth: Any = SWEEP["depth"].default,
    residual_form: str = SWEEP["residual_form"].default,
    bias: float = SWEEP["bias"].default,
    n_samples: int = SWEEP["n_samples"].default,
    manifold_seed: int = SWEEP["manifold_seed"].default,
    manifold_kwargs: dict[str, Any] | None = None,
    max_neighbor_points: int | None = 1000,
    n_neighbors: int = 10,
    algorithm: str = "auto",
    max_chunk_elements: int = 2**20,
) -> dict[str, float]:
    """Count the work of a :func:`~manifold_lab.sweep`, chunk by chunk as it plans them.

    Takes :func:`~manifold_lab.sweep`'s arguments (those that change the work). Makes the
    manifold to know its span's dimension ``k`` (one decomposition of the points: about a
    second for 100,000 points in 100 dimensions on a CPU), nothing more.

    Returns
    -------
    work : dict of str to float
        Units of each of :data:`KINDS`.

    Examples
    --------
    >>> w = sweep_work("spiral", widths="2:40", seeds="0:19", n_samples=500,
    ...                metrics=["nmse", "collapsed_fraction"])
    >>> w["calls"], w["sweeps"]  # 39 widths, 5 chunks of 4 seeds each (500^2-point blocks)
    (195.0, 1.0)
    >>> deep = sweep_work("spiral", widths="2:40", seeds="0:19", n_samples=500,
    ...                   metrics=["nmse", "collapsed_fraction"], depth=[1, 4])
    >>> bool(deep["matmul"] > w["matmul"])
    True
    """
    return _sweep_work(
        manifold,
        widths,
        seeds,
        activation=activation,
        method=method,
        metrics=metrics,
        depth=depth,
        residual_form=residual_form,
        bias=bias,
        n_samples=n_samples,
        manifold_seed=manifold_seed,
        manifold_kwargs=manifold_kwargs,
        max_neighbor_points=max_neighbor_points,
        n_neighbors=n_neighbors,
        algorithm=algorithm,
        max_chunk_elements=max_chunk_elements,
    )[0]


def _sweep_work(
    manifold: Any = SWEEP["manifold"].default,
    widths: Any = DEFAULT_WIDTHS,
    seeds: Any = SWEEP["seeds"].default,
    *,
    activation: Any = SWEEP["activation"].default,
    method: Any = SWEEP["method"].default,
    metrics: Any = None,
    depth: Any = SWEEP["depth"].default,
    residual_form: str = SWEEP["residual_form"].default,
    bias: float = SWEEP["bias"].default,
    n_samples: int = SWEEP["n_samples"].default,
    manifold_seed: int = SWEEP["manifold_seed"].default,
    manifold_kwargs: dict[str, Any] | None = None,
    max_neighbor_points: int | None = 1000,
    n_neighbors: int = 10,
    algorithm: str = "auto",
    max_chunk_elements: int = 2**20,
) -> tuple[dict[str, float], dict[str, float]]:
    """:func:`sweep_work`, and the part of it that every call repeats (:func:`prepare_work`)."""
    widths_l = check_widths(widths)
    seeds_l = check_seeds(seeds)
    methods = check_methods(method)
    metrics_l = check_metrics(metrics)
    depths = check_depths(depth)
    form = check_residual_form(residual_form)
    deeper = [x for x in depths if x > 1]
    acts_in = activation if isinstance(activation, (list, tuple)) else [activation]
    acts = [get_activation(a) for a in acts_in]
    m = make_manifold(manifold, n_samples, seed=manifold_seed, **(manifold_kwargs or {}))
    N, D = m.X.shape
    k = _span_dim(m.X)
    neighbors = any(x in metrics_l for x in NEIGHBOR_METRICS)
    m_nb = neighbor_points(N, max_neighbor_points) if neighbors else 0
    block = seed_block(len(seeds_l), widths_l[-1], D)
    total = prepare_work(N, D, m_nb)
    for act in acts:
        sector = algorithm != "dense" and _sector.eligible(k, bias > 0, act, methods, metrics_l)
        track = ("jacobian_min_sv" in metrics_l) or (
            act.inverse is not None
            and (
                "invertible_fraction" in metrics_l or ("lemma2" in methods and "nmse" in metrics_l)
            )
        )
        for w in widths_l:
            chunk = chunk_seeds(
                w, N, m_nb, sector and not deeper, block, max_chunk_elements,
                stack_k=k if deeper else 0,
            )  # fmt: skip
            for b0 in range(0, len(seeds_l), block):
                n_block = min(block, len(seeds_l) - b0)
                full, rest = divmod(n_block, chunk)
                for n_s, times in ((chunk, full), (rest, 1)):
                    if not (n_s and times):
                        continue
                    common = {
                        "n_seeds": n_s,
                        "width": w,
                        "n_points": N,
                        "d": D,
                        "k": k,
                        "n_neighbor_points": m_nb,
                        "n_neighbors": n_neighbors,
                        "act": act,
                        "methods": methods,
                        "metrics": metrics_l,
                    }
                    if deeper:  # one call for every depth > 1
                        measure = _chunk_work(**common, sector=False)
                        _add(total, measure, times * len(deeper))
                        total["calls"] -= times * (len(deeper) - 1)
                        layer = _layer_work(
                            n_seeds=n_s, width=w, n_points=N, k=k, track=track,
                            inverted=form == "inverted",
                        )  # fmt: skip
                        _add(total, layer, times * (deeper[-1] - 1))
                    if 1 in depths:
                        _add(total, _chunk_work(**common, sector=sector), times)
    return total, prepare_work(N, D, m_nb)


def _timed(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


# Small sweeps, each dominated by one kind of work (so that the noise of the kinds solved
# before, subtracted from its time, stays small), in the order they are solved for.
_CALIBRATION: tuple[tuple[str, dict[str, Any]], ...] = (
    ("sweeps", {"widths": [2], "seeds": [0], "n_samples": 64, "algorithm": "dense"}),
    ("calls", {"widths": "2:17", "seeds": [0], "n_samples": 64, "algorithm": "dense"}),
    (
        "dense",
        {
            "widths": [32],
            "seeds": "0:15",
            "n_samples": 4000,
            "algorithm": "dense",
            "metrics": ["nmse", "invertible_fraction"],
        },
    ),
    (
        "small",
        {
            "manifold": "blob",
            "manifold_kwargs": {"dim": 3},
            "widths": [3],
            "seeds": "0:15",
            "n_samples": 4000,
            "metrics": ["invertible_fraction"],
        },
    ),
    (
        "neighbors",
        {
            "widths": [8, 32],
            "seeds": "0:1",
            "n_samples": 1000,
            "metrics": ["collapsed_fraction"],
        },
    ),
    (  # the same sweep as for "neighbors", plus kNN recall
        "knn",
        {
            "widths": [8, 32],
            "seeds": "0:1",
            "n_samples": 1000,
            "metrics": ["collapsed_fraction", "knn_recall"],
        },
    ),
    (
        "sector",
        {
            "widths": [64, 96],
            "seeds": "0:99",
            "n_samples": 200,
            "metrics": ["nmse", "invertible_fraction"],
        },
    ),
    (  # wide layers on points in 64 dimensions: the products with T and the decoder
        "matmul",
        {
            "manifold": "subspace",
            "manifold_kwargs": {"dim": 2, "ambient_dim": 64},
            "widths": [128],
            "seeds": "0:7",
            "n_samples": 2000,
            "algorithm": "dense",
        },
    ),
    (  # a narrow layer, many seeds, points in 32 dimensions: reconstructions, their errors
        "coords",
        {
            "manifold": "subspace",
            "manifold_kwargs": {"dim": 1, "ambient_dim": 32},
            "widths": [2],
            "seeds": "0:63",
            "n_samples": 2000,
            "algorithm": "dense",
        },
    ),
    (  # one case on 100,000 points (as many as the largest uploads), no reconstruction:
        # the span (its time per value grows with the points, beyond the caches)
        "span",
        {
            "manifold": "subspace",
            "manifold_kwargs": {"dim": 1, "ambient_dim": 32},
            "widths": [1],
            "seeds": [0],
            "n_samples": 100_000,
            "algorithm": "dense",
            "metrics": ["invertible_fraction"],
        },
    ),
)


_ROUNDS = 3
"""Times each calibration sweep is run (its median time is used)."""


@functools.lru_cache(maxsize=8)
def _calibrate(device: str, dtype: str) -> CostModel:
    t_start = time.perf_counter()
    # warm-up: the first sweep of a process loads and initialises what it uses
    sweep("spiral", widths=[2], seeds=[0], n_samples=64, device=device, dtype=dtype,
          progress=False)  # fmt: skip
    runs: list[tuple[str, Callable[[], None], dict[str, float]]] = []
    for kind, setting in _CALIBRATION:
        kw = {"manifold": "spiral", "metrics": ["nmse"], **setting}

        def run(kw: dict[str, Any] = kw) -> None:
            sweep(device=device, dtype=dtype, progress=False, **kw)
            if device.startswith("cuda"):
                torch.cuda.synchronize(device)

        runs.append((kind, run, sweep_work(**kw)))
    # rounds of every sweep, not repeats of one: a burst of load from other processes
    # then slows one round of every kind rather than every repeat of one kind
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(_ROUNDS):
        for i, (_, fn, _) in enumerate(runs):
            times[i].append(_timed(fn, repeats=1))
    timed = [
        (kind, sorted(ts)[len(ts) // 2], work)
        for (kind, _, work), ts in zip(runs, times, strict=True)
    ]
    return CostModel(_solve(timed), device, time.perf_counter() - t_start)


def _solve(timed: list[tuple[str, float, dict[str, float]]], passes: int = 3) -> dict[str, float]:
    """Seconds per unit from timed sweeps, each dominated by its own kind of work.

    Each kind is solved from its sweep's time less the time of the other kinds' work in
    it, in order; later passes subtract the kinds solved after it too (the wide-input
    kinds, solved last, are present in small amounts in every sweep).
    """
    unit = dict.fromkeys(KINDS, 0.0)
    for _ in range(passes):
        for kind, t, work in timed:
            others = sum(unit[k] * work[k] for k in KINDS if k != kind)
            # never below 5% of the time measured: noise must not make a kind free
            unit[kind] = max(t - others, 0.05 * t) / work[kind]
    return unit


_LOCK = threading.Lock()


def calibrate(device: Any = None, dtype: Any = None, *, refresh: bool = False) -> CostModel:
    """Seconds per unit of work on this machine, measured once per process and device.

    Times small sweeps, each dominated by one kind of work (``CostModel.calibration_s``
    says how long it took); later calls return the cached model. Thread-safe: a call
    made while another thread calibrates waits for it (an app can calibrate in the
    background at start-up).

    Parameters
    ----------
    device : str, torch.device or None, default=None
        As in :func:`~manifold_lab.sweep` (None: CUDA when present, else the CPU).
    dtype : {"float64", "float32"} or torch dtype, default=None
        Precision (float64 when None).
    refresh : bool, default=False
        Measure again and cache the new model (the load of a shared machine changed).

    Returns
    -------
    model : CostModel
    """
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    with _LOCK:
        if refresh:
            _calibrate.cache_clear()
        return _calibrate(str(dev), str(dt).replace("torch.", ""))


@dataclass(frozen=True)
class SweepEstimate:
    """The estimated time of a sweep, and the part of it that every call repeats.

    Attributes
    ----------
    seconds : float
        The whole sweep in one call of :func:`~manifold_lab.sweep`.
    prepare_s : float
        The part of ``seconds`` that does not depend on the widths or seeds (the points'
        span, statistics and input distances: :func:`prepare_work`); a sweep run in parts
        pays it in every part.
    """

    seconds: float
    prepare_s: float

    def in_parts(self, n_parts: int) -> float:
        """Seconds of the sweep run as ``n_parts`` calls over parts of its widths.

        Examples
        --------
        >>> SweepEstimate(seconds=10.0, prepare_s=2.0).in_parts(3)
        14.0
        """
        return self.seconds + (max(1, n_parts) - 1) * self.prepare_s

    def n_parts(self, n_widths: int, step_s: float = 1.0) -> int:
        """How many parts to run ``n_widths`` widths in, each about ``step_s`` seconds of
        layer work and never shorter than twice the preparation it repeats (so parts add at
        most half as much time as the widths take).

        Examples
        --------
        >>> SweepEstimate(seconds=30.0, prepare_s=0.1).n_parts(40, step_s=1.0)
        30
        >>> SweepEstimate(seconds=12.0, prepare_s=3.0).n_parts(3, step_s=1.0)
        2
        """
        rest = max(self.seconds - self.prepare_s, 0.0)
        return max(1, min(n_widths, math.ceil(rest / max(step_s, 2 * self.prepare_s))))


def estimate_sweep(
    manifold: Any = SWEEP["manifold"].default,
    widths: Any = DEFAULT_WIDTHS,
    seeds: Any = SWEEP["seeds"].default,
    *,
    device: Any = None,
    dtype: Any = None,
    **kwargs: Any,
) -> SweepEstimate:
    """:func:`estimate_sweep_seconds` with the part that every call repeats.

    Takes the same arguments; returns a :class:`SweepEstimate`.

    Examples
    --------
    >>> est = estimate_sweep("spiral", "2:10", "0:4", n_samples=200)
    >>> bool(0 < est.prepare_s < est.seconds < est.in_parts(3))
    True
    """
    for ignored in ("progress", "embedding", "collapse_tol"):  # no bearing on the work
        kwargs.pop(ignored, None)
    work, prepared = _sweep_work(manifold, widths, seeds, **kwargs)
    model = calibrate(device, dtype)
    return SweepEstimate(model.seconds(work), model.seconds(prepared))


def estimate_sweep_seconds(
    manifold: Any = SWEEP["manifold"].default,
    widths: Any = DEFAULT_WIDTHS,
    seeds: Any = SWEEP["seeds"].default,
    *,
    device: Any = None,
    dtype: Any = None,
    **kwargs: Any,
) -> float:
    """Estimated seconds of ``sweep(manifold, widths, seeds, **kwargs)`` on this machine.

    The work of the sweep (:func:`sweep_work`) times the seconds per unit measured by
    :func:`calibrate` (the first call of a process calibrates).

    Parameters
    ----------
    manifold : str, Manifold, array-like or (X, t), default="spiral"
        What the sweep embeds, as for :func:`~manifold_lab.sweep`.
    widths : int, sequence of int or str, default=(2, 3, 5, 15, 30)
        The sweep's layer widths, as for :func:`~manifold_lab.sweep`.
    seeds : int, sequence of int or str, default="0:9"
        The sweep's seeds, as for :func:`~manifold_lab.sweep`.
    device : str, torch.device or None, default=None
        Where the sweep would run (and the calibration runs); ``None`` uses CUDA when
        available, else the CPU.
    dtype : {"float64", "float32"} or torch dtype, default=None
        The sweep's precision; float64 when ``None``.
    **kwargs : dict
        :func:`~manifold_lab.sweep`'s other arguments (``activation``, ``method``,
        ``metrics``, ``n_samples``, ``bias``, ``manifold_kwargs``, ...); ``progress``,
        ``embedding`` and ``collapse_tol`` do not change the estimate.

    Returns
    -------
    seconds : float
        Estimated wall-clock seconds of the sweep on ``device``: its work times the
        calibrated seconds per unit of work.

    Examples
    --------
    >>> small = estimate_sweep_seconds("spiral", "2:10", "0:4", n_samples=200)
    >>> large = estimate_sweep_seconds("spiral", "2:128", "0:99", n_samples=5000,
    ...                                metrics=["nmse", "collapsed_fraction"])
    >>> bool(0 < small < large)
    True
    """
    return estimate_sweep(manifold, widths, seeds, device=device, dtype=dtype, **kwargs).seconds
