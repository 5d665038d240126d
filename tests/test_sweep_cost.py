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
]


@pytest.mark.parametrize("case", CASES)
def test_work_counts_the_engine_calls_the_sweep_makes(
    case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"dense": 0, "sector": 0}

    def counting(name: str, fn: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(
        sweeps_module, "evaluate_chunk", counting("dense", sweeps_module.evaluate_chunk)
    )
    monkeypatch.setattr(_sector, "evaluate_sectors", counting("sector", _sector.evaluate_sectors))
    sweep(progress=False, **case)
    work = sweep_work(**case)
    assert set(work) == set(KINDS)
    assert work["calls"] == calls["dense"] + calls["sector"]
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
