"""Stacks of random layers: depth 1 is the single layer, deeper stacks lose more."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import manifold_lab as ml
from manifold_lab.activations import get_activation
from manifold_lab.cli import main
from manifold_lab.core import (
    METRICS,
    evaluate_chunk,
    evaluate_stack,
    prepare,
)
from manifold_lab.embedding import random_embeddings, stack_layers
from manifold_lab.theory import stacked_preserved_fraction

ALL = list(METRICS)
KEYS = ["activation", "method", "depth", "width", "seed"]


def _metrics(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index(KEYS)[ALL].sort_index()


def test_depth_one_is_todays_single_layer() -> None:
    kw = dict(widths=[2, 3, 7], seeds=range(4), method=["pinv", "lstsq", "lemma2"], n_samples=300)
    kw.update(progress=False, bias=0.3)
    today = ml.sweep("spiral", **kw)
    explicit = ml.sweep("spiral", depth=1, **kw)
    mixed = ml.sweep("spiral", depth=[1, 3], residual_form="inverted", **kw)
    assert (today["depth"] == 1).all() and (today["residual_form"] == "plain").all()
    pd.testing.assert_frame_equal(today, explicit)
    # the depth-1 rows of a deeper sweep (other chunks) are bit for bit the same
    got = _metrics(mixed).xs(1, level="depth", drop_level=False)
    pd.testing.assert_frame_equal(got, _metrics(today), rtol=0, atol=0)
    for method in ("pinv", "lemma2"):
        a = ml.run_case("spiral", 7, 2, method=method, bias=0.3, n_samples=300)
        b = ml.run_case("spiral", 7, 2, method=method, bias=0.3, n_samples=300, depth=1)
        assert a.metrics == b.metrics and np.array_equal(a.X_hat, b.X_hat)
        assert b.depth == 1 and b.layers == []


@pytest.mark.parametrize("activation", ["relu", "leaky_relu:0.2", "relu6"])
def test_stack_engine_at_depth_one_equals_the_single_layer_engine(activation: str) -> None:
    m = ml.make_manifold("circle", 300, seed=0, noise=0.05)  # a 2-D span in R^2
    prep = prepare(
        m,
        device=torch.device("cpu"),
        dtype=torch.float64,
        neighbors=True,
        max_neighbor_points=200,
        n_neighbors=10,
    )
    act = get_activation(activation)
    T, b = random_embeddings(2, 6, range(5), bias=0.5, data_scale=prep.data_scale)
    Tt, bt = torch.as_tensor(T), torch.as_tensor(b)
    methods = ["pinv", "lstsq", "lemma2"]
    ref = evaluate_chunk(prep, Tt, bt, act, methods, METRICS)
    got = evaluate_stack(prep, Tt, bt, [], act, methods, METRICS, [1])[1]
    for name, value in ref.metrics.items():
        torch.testing.assert_close(got.metrics[name], value, rtol=1e-9, atol=1e-12)
    for name, value in ref.nmse.items():
        torch.testing.assert_close(got.nmse[name], value, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("form", ["plain", "inverted"])
def test_two_wide_layers_are_invertible(form: str) -> None:
    df = ml.sweep(
        "spiral",
        widths=[200],
        seeds=range(3),
        depth=2,
        residual_form=form,
        method=["lemma2", "lstsq"],
        metrics=["nmse", "invertible_fraction", "collapsed_fraction"],
        n_samples=400,
        progress=False,
    )
    assert (df.invertible_fraction >= 0.995).all()  # only points at the origin can fail
    assert (df[df.method == "lemma2"].nmse < 1e-6).all()
    if form == "plain":
        # the wide layers keep distinct points apart and are linearly decodable; the
        # inverted form's projection to R^k between the layers may fold the image globally
        assert (df.collapsed_fraction == 0).all()
        assert (df[df.method == "lstsq"].nmse < 1e-3).all()


@pytest.mark.parametrize("form", ["plain", "inverted"])
def test_invertible_fraction_falls_with_depth_as_theorem_1_compounded(form: str) -> None:
    depths = [1, 2, 4, 8]
    df = ml.sweep(
        "spiral",
        widths=[5],
        seeds=range(20),
        depth=depths,
        residual_form=form,
        method="lemma2",
        metrics=["nmse", "invertible_fraction"],
        n_samples=400,
        progress=False,
    )
    inv = df.groupby("depth").invertible_fraction.mean()
    nmse = df.groupby("depth").nmse.mean()
    assert inv.is_monotonic_decreasing and inv.is_unique
    assert nmse.is_monotonic_increasing
    # Lemma 2 at each layer is an independent Binomial(n, 1/2) >= k event (no bias)
    theory = stacked_preserved_fraction(5, 2, depths)
    sem = df.groupby("depth").invertible_fraction.sem()
    assert (np.abs(inv.to_numpy() - theory) < 3 * sem.to_numpy() + 0.03).all(), (inv, theory)


@pytest.mark.slow
def test_reproducible_and_independent_of_the_rest_of_the_sweep() -> None:
    kw = dict(method=["pinv", "lstsq", "lemma2"], n_samples=300, bias=0.5, progress=False)
    kw.update(residual_form="inverted", max_neighbor_points=100)
    big = ml.sweep("spiral", widths=[2, 6], seeds=range(4), depth=[1, 2, 5], **kw)
    again = ml.sweep("spiral", widths=[2, 6], seeds=range(4), depth=[1, 2, 5], **kw)
    pd.testing.assert_frame_equal(big, again)
    alone = ml.sweep("spiral", widths=[6], seeds=[3], depth=5, **kw)
    chunked = ml.sweep(
        "spiral", widths=[2, 6], seeds=range(4), depth=[1, 2, 5], max_chunk_elements=1, **kw
    )
    got = _metrics(big).xs((5, 6, 3), level=("depth", "width", "seed"), drop_level=False)
    pd.testing.assert_frame_equal(got, _metrics(alone), rtol=1e-12, atol=1e-14)
    pd.testing.assert_frame_equal(_metrics(big), _metrics(chunked), rtol=1e-12, atol=1e-14)
    case = ml.run_case(
        "spiral",
        6,
        3,
        method="lemma2",
        bias=0.5,
        n_samples=300,
        depth=5,
        residual_form="inverted",
        max_neighbor_points=100,
    )
    row = alone[alone.method == "lemma2"].iloc[0]
    for name, value in case.metrics.items():
        assert np.isclose(value, row[name], rtol=1e-12, atol=1e-14, equal_nan=True), name
    assert case.Y.shape == (300, 6) and len(case.layers) == 4


def test_layers_are_nested_over_depth_and_seeded_by_layer() -> None:
    a = stack_layers(7, 2, [0, 1], 3, residual_form="plain", bias=1.0)
    b = stack_layers(7, 2, [1], 5, residual_form="plain", bias=1.0)
    np.testing.assert_array_equal(a[1].T[1], b[1].T[0])
    np.testing.assert_array_equal(a[0].b[1], b[0].b[0])
    assert not np.allclose(b[0].T, b[1].T)  # layers differ
    inv = stack_layers(4, 2, [0], 2, residual_form="inverted")[0]
    wide = stack_layers(9, 2, [0], 2, residual_form="inverted")[0]
    np.testing.assert_array_equal(inv.T[0], wide.T[0][:4] * np.sqrt(1))  # rows nested
    np.testing.assert_allclose(inv.P[0] * np.sqrt(4 / 2), wide.P[0][:, :4] * np.sqrt(9 / 2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 0}, r"depth must be an integer in \[1, 32\], got 0"),
        ({"depth": 33}, r"depth must be an integer in \[1, 32\], got 33"),
        ({"depth": 1.5}, "depth must be"),
        ({"depth": "two"}, "depth"),
        ({"depth": []}, "depth is empty"),
        ({"depth": 2, "residual_form": "shortcut"}, "unknown residual_form 'shortcut'"),
        ({"depth": 2, "algorithm": "sector"}, "algorithm='sector' computes a single layer"),
    ],
)
def test_bad_depth_gives_clear_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ml.sweep("spiral", widths=[3], seeds=[0], n_samples=100, progress=False, **kwargs)


def test_run_case_bad_depth() -> None:
    with pytest.raises(ValueError, match=r"depth must be an integer in \[1, 32\], got 0"):
        ml.run_case("spiral", 5, depth=0, n_samples=100)
    with pytest.raises(ValueError, match="unknown residual_form"):
        ml.run_case("spiral", 5, depth=2, residual_form="x", n_samples=100)


def test_cli_depth_option(tmp_path, capsys) -> None:
    out = tmp_path / "d.csv"
    argv = ["sweep", "--depth", "1,3", "--residual-form", "inverted", "--widths", "3,5"]
    argv += ["--seeds", "0:1", "--n-samples", "150", "--metrics", "invertible_fraction"]
    assert main([*argv, "--no-progress", "--out", str(out)]) == 0
    df = pd.read_csv(out, comment="#")
    assert sorted(set(df.depth)) == [1, 3] and set(df.residual_form) == {"inverted"}
    assert len(df) == 2 * 2 * 2
    assert main(["sweep", "--depth", "0", "--no-progress"]) == 2
    assert "depth must be an integer in [1, 32], got 0" in capsys.readouterr().err


def test_crossing_widths_interpolates_the_mean_curve() -> None:
    summary = pd.DataFrame(
        {
            "residual_form": "plain",
            "depth": [1, 1, 1, 2, 2, 2],
            "width": [2, 4, 6, 2, 4, 6],
            "metric": "invertible_fraction",
            "mean": [0.2, 0.6, 1.0, 0.1, 0.3, 0.5],
        }
    )
    c = ml.sweeps.crossing_widths(summary, levels=[0.5, 0.9])
    got = {(int(r.depth), r.level): r.width for r in c.itertuples()}
    assert got[(1, 0.5)] == pytest.approx(3.5) and got[(1, 0.9)] == pytest.approx(5.5)
    assert got[(2, 0.5)] == pytest.approx(6.0) and np.isnan(got[(2, 0.9)])
    with pytest.raises(ValueError, match="no metric 'knn_recall'"):
        ml.sweeps.crossing_widths(summary, metric="knn_recall")


def test_stacked_theory() -> None:
    p = ml.preserved_fraction(np.arange(2, 12), 2)
    np.testing.assert_allclose(ml.stacked_preserved_fraction(np.arange(2, 12), 2, 3), p**3)
    n50 = ml.stacked_width_needed(0.5, 2, 4)
    assert (
        ml.stacked_preserved_fraction(n50, 2, 4)
        >= 0.5
        > ml.stacked_preserved_fraction(n50 - 1, 2, 4)
    )
    assert n50 - 1 < ml.stacked_width_needed(0.5, 2, 4, interpolate=True) <= n50
    with pytest.raises(ValueError, match="depth must be integers >= 1"):
        ml.stacked_preserved_fraction(5, 2, 0)


def test_plot_depth_curves() -> None:
    from manifold_lab.plots import plot_depth_curves

    df = pd.concat(
        [
            ml.sweep(
                "spiral",
                widths="2:7",
                seeds=range(3),
                depth=[1, 3],
                residual_form=form,
                method="lstsq",
                metrics=["nmse", "invertible_fraction"],
                n_samples=150,
                progress=False,
            )
            for form in ("inverted", "plain")
        ]
    )
    s = ml.summarize(df)
    metrics = ["nmse", "invertible_fraction"]
    fig = plot_depth_curves(
        s, ml.sweeps.crossing_widths(s), k=2, metrics=metrics, note="a prediction"
    )
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:2] == ["plain: normalised error", "plain: invertible fraction (Lemma 2)"]
    assert "a prediction" in titles
    names = {t.name for t in fig.data if t.showlegend}
    assert {"L = 1", "L = 3", "measured, plain", "measured, inverted"} <= names
    assert "Theorem 1 compounded" in names
    with pytest.raises(ValueError, match="several rows"):
        plot_depth_curves(pd.concat([s, s]), ml.sweeps.crossing_widths(s), k=2, metrics=["nmse"])
