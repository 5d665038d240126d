"""How long a :func:`~manifold_lab.sweep` will take, before running it.

The estimate is a work model calibrated on this machine. :func:`sweep` evaluates, for every
activation and width, chunks of seeds with one batched call of the engine
(:func:`manifold_lab.core.evaluate_chunk`, or the exact sector algorithm for 2-D spans);
:func:`sweep_work` counts, chunk by chunk as :func:`sweep` plans them, the work of each
kind that those calls do:

``calls``
    one per chunk (Python and dispatch overhead);
``dense``
    values of the batched products and element-wise passes over ``seeds x width x points``
    (the layer ``T x``, the activation, the pointwise Gram matrices of Lemma 2, the
    reconstructions, the Jacobian, the activation patterns), each weighted by the length
    of its inner products (``d`` for ``T x``, ``k^2`` for a Gram matrix, ``width`` for the
    affine decoder's normal equations);
``small``
    ``k x k`` eigen-decompositions, one per point and seed, when the span has ``k > 2``
    dimensions (``k <= 2`` has closed forms, counted as dense work);
``neighbors``
    the output distances of the neighbour metrics, ``seeds x m^2 x (width + 64)`` for
    ``m`` neighbour points;
``knn``
    the nearest output neighbours of ``knn_recall``, ``seeds x m^2`` (a partial sort of
    every row of distances);
``sector``
    the sector algorithm's ``seeds x (2 width) x width`` evaluations;
``sweeps``
    one per sweep (the manifold, the span, the input distances, the results table).

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

import torch

from . import _sector
from ._validation import check_seeds, check_widths, resolve_device, resolve_dtype
from .activations import Activation, get_activation
from .core import (
    NEIGHBOR_METRICS,
    check_methods,
    check_metrics,
    neighbor_points,
    span_basis,
)
from .manifolds import make_manifold
from .registry.settings import DEFAULT_WIDTHS, SWEEP
from .sweeps import chunk_seeds, seed_block, sweep

__all__ = ["KINDS", "CostModel", "calibrate", "estimate_sweep_seconds", "sweep_work"]

KINDS: tuple[str, ...] = ("calls", "dense", "small", "neighbors", "knn", "sector", "sweeps")
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
    dense = SwN * (d + 2)  # T x, the activation
    if inverse:
        dense += SwN * (k * k + 3) + S * N * k * k * 4
    if "lemma2" in meths and inverse:
        dense += S * N * (w * k + d * k)
    if "pinv" in meths:
        dense += SwN * d
    if "lstsq" in meths:
        dense += S * (w * w * N + 2 * d * w * N) + S * w**3
    if "jacobian_min_sv" in metrics:
        dense += SwN * (k * k + 2) + S * N * k * k * 4
    if "n_patterns" in metrics:
        dense += SwN + S * N * math.log2(max(N, 2))
    work["dense"] = dense
    n_small = inverse + ("jacobian_min_sv" in metrics)
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


def _add(total: dict[str, float], work: dict[str, float], times: float = 1.0) -> None:
    for key, value in work.items():
        total[key] = total.get(key, 0.0) + times * value


def sweep_work(
    manifold: Any = SWEEP["manifold"].default,
    widths: Any = DEFAULT_WIDTHS,
    seeds: Any = SWEEP["seeds"].default,
    *,
    activation: Any = SWEEP["activation"].default,
    method: Any = SWEEP["method"].default,
    metrics: Any = None,
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
    manifold to know its span's dimension ``k`` (cheap next to the sweep), nothing more.

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
    """
    widths_l = check_widths(widths)
    seeds_l = check_seeds(seeds)
    methods = check_methods(method)
    metrics_l = check_metrics(metrics)
    acts_in = activation if isinstance(activation, (list, tuple)) else [activation]
    acts = [get_activation(a) for a in acts_in]
    m = make_manifold(manifold, n_samples, seed=manifold_seed, **(manifold_kwargs or {}))
    N, D = m.X.shape
    k = int(span_basis(m.X).shape[1])
    neighbors = any(x in metrics_l for x in NEIGHBOR_METRICS)
    m_nb = neighbor_points(N, max_neighbor_points) if neighbors else 0
    block = seed_block(len(seeds_l), widths_l[-1], D)
    total = dict.fromkeys(KINDS, 0.0)
    total["sweeps"] = 1.0
    total["dense"] += N * D * D + m_nb * m_nb * D  # the span and the input distances
    for act in acts:
        sector = algorithm != "dense" and _sector.eligible(k, bias > 0, act, methods, metrics_l)
        for w in widths_l:
            chunk = chunk_seeds(w, N, m_nb, sector, block, max_chunk_elements)
            for b0 in range(0, len(seeds_l), block):
                n_block = min(block, len(seeds_l) - b0)
                full, rest = divmod(n_block, chunk)
                for n_s, times in ((chunk, full), (rest, 1)):
                    if n_s and times:
                        work = _chunk_work(
                            n_seeds=n_s,
                            width=w,
                            n_points=N,
                            d=D,
                            k=k,
                            n_neighbor_points=m_nb,
                            n_neighbors=n_neighbors,
                            act=act,
                            methods=methods,
                            metrics=metrics_l,
                            sector=sector,
                        )
                        _add(total, work, times)
    return total


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
)


@functools.lru_cache(maxsize=8)
def _calibrate(device: str, dtype: str) -> CostModel:
    t_start = time.perf_counter()
    unit = dict.fromkeys(KINDS, 0.0)
    # warm-up: the first sweep of a process loads and initialises what it uses
    sweep("spiral", widths=[2], seeds=[0], n_samples=64, device=device, dtype=dtype,
          progress=False)  # fmt: skip
    for kind, setting in _CALIBRATION:
        kw = {"manifold": "spiral", "metrics": ["nmse"], **setting}

        def run(kw: dict[str, Any] = kw) -> None:
            sweep(device=device, dtype=dtype, progress=False, **kw)
            if device.startswith("cuda"):
                torch.cuda.synchronize(device)

        t = _timed(run)
        work = sweep_work(**kw)
        known = sum(unit[k] * work[k] for k in KINDS)
        # never below 5% of the time measured: noise must not make a kind free
        unit[kind] = max(t - known, 0.05 * t) / work[kind]
    return CostModel(unit, device, time.perf_counter() - t_start)


_LOCK = threading.Lock()


def calibrate(device: Any = None, dtype: Any = None) -> CostModel:
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

    Returns
    -------
    model : CostModel
    """
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    with _LOCK:
        return _calibrate(str(dev), str(dt).replace("torch.", ""))


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
    for ignored in ("progress", "embedding", "collapse_tol"):  # no bearing on the work
        kwargs.pop(ignored, None)
    work = sweep_work(manifold, widths, seeds, **kwargs)
    return calibrate(device, dtype).seconds(work)
