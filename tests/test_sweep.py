"""Reproducibility, algorithms, summaries, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import manifold_lab as ml

ALL = list(ml.METRICS)


def _metrics(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index(["activation", "method", "width", "seed"])[ALL].sort_index()


def test_same_seed_same_numbers() -> None:
    kw = dict(
        widths=[3, 7],
        seeds=[0, 1],
        method=["pinv", "lstsq", "lemma2"],
        n_samples=300,
        progress=False,
    )
    a, b = ml.sweep("torus", **kw), ml.sweep("torus", **kw)
    pd.testing.assert_frame_equal(_metrics(a), _metrics(b))


def test_a_case_alone_equals_the_case_inside_a_larger_sweep() -> None:
    kw = dict(method=["pinv", "lstsq", "lemma2"], n_samples=400, bias=0.5, progress=False)
    big = ml.sweep("spiral", widths="2:12", seeds=range(6), **kw)
    alone = ml.sweep("spiral", widths=[7], seeds=[4], **kw)
    chunked = ml.sweep("spiral", widths="2:12", seeds=range(6), max_chunk_elements=1, **kw)
    got = _metrics(big).xs((7, 4), level=("width", "seed"), drop_level=False)
    pd.testing.assert_frame_equal(got, _metrics(alone), rtol=1e-12, atol=1e-14)
    pd.testing.assert_frame_equal(_metrics(big), _metrics(chunked), rtol=1e-12, atol=1e-14)
    case = ml.run_case("spiral", 7, 4, method="lemma2", bias=0.5, n_samples=400)
    row = alone[alone.method == "lemma2"].iloc[0]
    for k, v in case.metrics.items():
        assert np.isclose(v, row[k], rtol=1e-12, atol=1e-14, equal_nan=True), k


@pytest.mark.parametrize(
    ("manifold", "kwargs"),
    [("spiral", {}), ("circle", {"noise": 0.01}), ("subspace", {"dim": 2, "ambient_dim": 5})],
)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu:0.2", "identity"])
def test_sector_algorithm_equals_dense(manifold: str, kwargs: dict, activation: str) -> None:
    kw = dict(
        widths="1:12,20,40",
        seeds=range(8),
        activation=activation,
        method=["lemma2"],
        metrics=["nmse", "invertible_fraction", "n_patterns"],
        n_samples=500,
        manifold_kwargs=kwargs,
        progress=False,
    )
    dense = ml.sweep(manifold, algorithm="dense", **kw)
    sector = ml.sweep(manifold, algorithm="sector", **kw)
    assert dense.attrs["provenance"]["parameters"]["algorithm"] == "dense"
    assert sector.attrs["provenance"]["parameters"]["algorithm"] == "sector"
    cols = ["nmse", "invertible_fraction", "n_patterns"]
    np.testing.assert_allclose(sector[cols], dense[cols], rtol=1e-9, atol=1e-12)
    kw["method"], kw["widths"] = ["pinv"], "2:12,20,40"
    np.testing.assert_allclose(
        ml.sweep(manifold, algorithm="sector", **kw)[cols],
        ml.sweep(manifold, algorithm="dense", **kw)[cols],
        rtol=1e-9,
        atol=1e-12,
    )


def test_sector_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(ValueError, match="sector"):
        ml.sweep("spiral", widths=[3], seeds=[0], activation="relu6", algorithm="sector")
    with pytest.raises(ValueError, match="sector"):
        ml.sweep("spiral", widths=[3], seeds=[0], bias=1.0, metrics=["nmse"], algorithm="sector")


def test_float32_close_to_float64(device: str) -> None:
    kw = dict(
        widths=[5, 15],
        seeds=range(3),
        method=["pinv", "lstsq"],
        n_samples=300,
        metrics=["nmse", "jacobian_min_sv", "knn_recall"],
        algorithm="dense",
        device=device,
        progress=False,
    )
    a = ml.sweep("spiral", dtype="float64", **kw)
    b = ml.sweep("spiral", dtype="float32", **kw)
    np.testing.assert_allclose(a.nmse, b.nmse, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(a.jacobian_min_sv, b.jacobian_min_sv, rtol=1e-3, atol=1e-5)


def test_summary_confidence_interval() -> None:
    df = ml.sweep(
        "circle",
        widths=[3, 4],
        seeds=range(7),
        metrics=["nmse", "knn_recall"],
        n_samples=200,
        progress=False,
    )
    s = ml.summarize(df)
    assert set(s.metric) == {"nmse", "knn_recall"} and (s.n_seeds == 7).all()
    row = s[(s.width == 3) & (s.metric == "nmse")].iloc[0]
    vals = df[df.width == 3].nmse.to_numpy()
    lo, hi = stats.t.interval(0.95, len(vals) - 1, loc=vals.mean(), scale=stats.sem(vals))
    assert np.isclose(row.ci_low, lo) and np.isclose(row.ci_high, hi)
    assert s.attrs["provenance"]["parameters"]["seeds"] == list(range(7))


def test_provenance_records_everything() -> None:
    df = ml.sweep("spiral", widths=[3], seeds=[5, 6], metrics=["nmse"], progress=False)
    prov = df.attrs["provenance"]
    assert prov["version"] == ml.__version__
    assert {"commit"} <= set(prov["git"])
    assert prov["parameters"]["seeds"] == [5, 6]
    assert {"cpu", "cpu_count", "cuda"} <= set(prov["hardware"])
    assert prov["command"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"widths": [0, 3]}, "width must be >= 1"),
        ({"widths": []}, "widths is empty"),
        ({"widths": "5:2"}, "empty"),
        ({"seeds": []}, "no seeds"),
        ({"seeds": [-1]}, "non-negative"),
        ({"widths": [1], "method": "pinv"}, "width >= 2"),
        ({"method": "inverse"}, "unknown reconstruction method"),
        ({"activation": "swish"}, "unknown activation"),
        ({"activation": "clipped_relu:-1"}, "clip"),
        ({"activation": "leaky_relu:2"}, "negative_slope"),
        ({"metrics": ["accuracy"]}, "unknown metric"),
        ({"embedding": "sparse"}, "unknown embedding"),
        ({"bias": -1.0}, "bias"),
        ({"bias": float("nan")}, "bias"),
        ({"dtype": "float16"}, "dtype"),
        ({"algorithm": "fast"}, "algorithm"),
        ({"manifold": "klein_bottle"}, "unknown manifold"),
        ({"manifold": np.array([[0.0, 1.0], [np.nan, 0.0]])}, "NaN"),
        ({"manifold": np.ones((10, 2))}, "identical"),
        ({"collapse_tol": 0.0}, "collapse_tol"),
        ({"activation": "gelu", "method": "lemma2"}, "lemma2"),
    ],
)
def test_bad_input_gives_clear_value_error(kwargs: dict, match: str) -> None:
    kwargs = {"manifold": "spiral", "n_samples": 50, "progress": False, **kwargs}
    manifold = kwargs.pop("manifold")
    with pytest.raises(ValueError, match=match):
        ml.sweep(manifold, **kwargs)


def test_run_case_bad_input() -> None:
    with pytest.raises(ValueError, match="width"):
        ml.run_case("spiral", width=0)
    with pytest.raises(ValueError, match="seed"):
        ml.run_case("spiral", width=3, seed=-2)
    with pytest.raises(ValueError, match="shape"):
        ml.run_case((np.zeros((5, 2)), np.zeros(3)))
