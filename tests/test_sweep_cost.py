"""The sweep's cost model: its work counts follow the sweep's own chunking, and it estimates."""

from __future__ import annotations

from typing import Any

import pytest

import manifold_lab.sweeps as sweeps_module
from manifold_lab import _sector, sweep
from manifold_lab.sweep_cost import KINDS, calibrate, estimate_sweep_seconds, sweep_work

CASES: list[dict[str, Any]] = [
    # sector algorithm (2-D span, no bias)
    {"manifold": "spiral", "widths": "2:9", "seeds": "0:6", "n_samples": 200},
    # dense with neighbour metrics: chunks bounded by the m x m distances
    {
        "manifold": "circle",
        "widths": [3, 8, 20],
        "seeds": "0:9",
        "n_samples": 600,
        "metrics": ["nmse", "collapsed_fraction", "knn_recall"],
        "max_chunk_elements": 2**19,
    },
    # dense, two activations (one sector-eligible, one not), 3-D span, several methods
    {
        "manifold": "sphere",
        "widths": [3, 6],
        "seeds": "0:4",
        "n_samples": 300,
        "activation": ["relu", "gelu"],
        "method": ["pinv", "lstsq"],
        "max_chunk_elements": 3000,
    },
    # stacks: one engine call per chunk for the depths > 1, one more for depth 1 (sector)
    {
        "manifold": "spiral",
        "widths": [2, 6],
        "seeds": "0:5",
        "n_samples": 300,
        "depth": [1, 2, 3],
        "metrics": ["nmse", "invertible_fraction"],
        "max_chunk_elements": 4000,
    },
    # points in 40 dimensions
    {
        "manifold": "subspace",
        "manifold_kwargs": {"dim": 3, "ambient_dim": 40},
        "widths": [3, 9],
        "seeds": "0:3",
        "n_samples": 400,
        "depth": 4,
        "residual_form": "inverted",
    },
]


@pytest.mark.parametrize("case", CASES)
def test_work_counts_the_engine_calls_the_sweep_makes(
    case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"dense": 0, "sector": 0, "stack": 0}

    def counting(name: str, fn: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(
        sweeps_module, "evaluate_chunk", counting("dense", sweeps_module.evaluate_chunk)
    )
    monkeypatch.setattr(_sector, "evaluate_sectors", counting("sector", _sector.evaluate_sectors))
    monkeypatch.setattr(
        sweeps_module, "evaluate_stack", counting("stack", sweeps_module.evaluate_stack)
    )
    sweep(progress=False, **case)
    work = sweep_work(**case)
    assert set(work) == set(KINDS)
    assert work["calls"] == calls["dense"] + calls["sector"] + calls["stack"]
    assert (work["sector"] > 0) == (calls["sector"] > 0)
    assert work["sweeps"] == 1


def test_work_grows_with_the_sweep() -> None:
    kw: dict[str, Any] = {"n_samples": 300, "metrics": ["nmse", "invertible_fraction"]}
    small = sweep_work("circle", widths="2:10", seeds="0:4", **kw)
    more_seeds = sweep_work("circle", widths="2:10", seeds="0:19", **kw)
    wider = sweep_work("circle", widths="2:40", seeds="0:4", **kw)
    for big in (more_seeds, wider):
        assert big["sector"] > small["sector"]
    nb = sweep_work("circle", "2:10", "0:4", n_samples=300, metrics=["collapsed_fraction"])
    assert nb["neighbors"] > 0 and nb["sector"] == 0 and nb["dense"] > 0


def test_work_grows_with_the_input_dimension_and_depth() -> None:
    def work(d: int, **kw: Any) -> dict[str, float]:
        mk = {"dim": 3, "ambient_dim": d}
        met = ["nmse", "invertible_fraction"]
        return sweep_work(
            "subspace", [4, 8], "0:3", n_samples=500, manifold_kwargs=mk, metrics=met, **kw
        )

    narrow, wide = work(10), work(100)
    for kind in ("matmul", "coords", "span"):
        assert wide[kind] > 5 * narrow[kind], kind
    assert wide["dense"] == pytest.approx(narrow["dense"])  # not weighted by d
    deep = work(10, depth=[1, 4])
    assert deep["matmul"] > narrow["matmul"] and deep["dense"] > narrow["dense"]
    assert deep["span"] == narrow["span"]  # prepared once


def test_span_dimension_follows_span_basis() -> None:
    import numpy as np

    from manifold_lab.core import span_basis
    from manifold_lab.manifolds import make_subspace
    from manifold_lab.sweep_cost import _span_dim

    for dim, d in ((1, 5), (3, 50), (7, 7)):
        X = make_subspace(300, dim=dim, ambient_dim=d, seed=0)[0]
        assert _span_dim(X) == span_basis(X).shape[1] == dim
    X = np.random.default_rng(0).standard_normal((200, 30))
    assert _span_dim(X) == span_basis(X).shape[1] == 30


def test_a_sweep_in_parts_repeats_the_preparation() -> None:
    from manifold_lab.sweep_cost import estimate_sweep

    kw: dict[str, Any] = {"manifold_kwargs": {"dim": 2, "ambient_dim": 200}, "n_samples": 3000}
    est = estimate_sweep("subspace", "2:9", "0:1", **kw)
    assert 0 < est.prepare_s < est.seconds
    assert est.seconds == pytest.approx(estimate_sweep_seconds("subspace", "2:9", "0:1", **kw))
    assert est.in_parts(4) == pytest.approx(est.seconds + 3 * est.prepare_s)
    # parts never shorter than twice the preparation they repeat: at most 1.5 times the time
    n = est.n_parts(8, step_s=0.01)
    assert 1 <= n <= 8 and est.in_parts(n) <= 1.5 * est.seconds + 1e-9


def test_estimate_uses_one_calibration_per_process() -> None:
    model = calibrate()
    assert calibrate() is model
    assert all(model.seconds_per_unit[k] >= 0 for k in KINDS)
    short = estimate_sweep_seconds("spiral", "2:5", "0:1", n_samples=100, progress=False)
    long = estimate_sweep_seconds(
        "spiral", "2:128", "0:99", n_samples=5000, metrics=["nmse", "collapsed_fraction"]
    )
    assert 0 < short < long
    assert long == pytest.approx(
        model.seconds(
            sweep_work(
                "spiral", "2:128", "0:99", n_samples=5000, metrics=["nmse", "collapsed_fraction"]
            )
        )
    )


def test_cli_prints_the_estimate_of_a_long_sweep(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import manifold_lab.cli.sweep as cli_sweep
    import manifold_lab.sweep_cost as sweep_cost

    monkeypatch.setattr(sweep_cost, "estimate_sweep_seconds", lambda *a, **k: 42.0)
    kwargs = {"widths": "2:41", "seeds": "0:49", "activation": ["relu"]}  # 2000 cases
    cli_sweep._print_estimate("spiral", kwargs)
    assert "sweep of 2000 cases: estimated 42 s" in capsys.readouterr().err
    cli_sweep._print_estimate("spiral", {**kwargs, "seeds": "0:9"})
    assert capsys.readouterr().err == ""


def test_cli_estimate_takes_every_setting_of_the_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI hands the estimate all of the sweep's arguments (depth, residual_form,
    device, ...): none is refused."""
    import manifold_lab.cli.sweep as cli_sweep
    from manifold_lab.cli import build_parser
    from manifold_lab.cli.options import sweep_kwargs

    argv = ["sweep", "--widths", "2:41", "--seeds", "0:49", "--n-samples", "100"]
    args = build_parser().parse_args([*argv, "--depth", "1,2"])
    cli_sweep._print_estimate(args.manifold, sweep_kwargs(args))
    assert "sweep of 2000 cases: estimated" in capsys.readouterr().err
