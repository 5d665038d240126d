"""The acceptance checks of the core issue and the definitions of the metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import manifold_lab as ml

WIDTHS = [2, 3, 5, 15, 30]


@pytest.mark.parametrize("manifold", ["spiral", "sphere", "swiss_roll"])
@pytest.mark.parametrize("method", list(ml.METHODS))
def test_identity_recovers_the_input_exactly(manifold: str, method: str) -> None:
    m = ml.make_manifold(manifold, 300, seed=0)
    df = ml.sweep(
        m,
        widths=range(m.ambient_dim, 20),
        seeds=range(3),
        activation="identity",
        method=method,
        metrics=["nmse", "invertible_fraction", "collapsed_fraction", "n_patterns"],
        progress=False,
    )
    assert (df.nmse < 1e-20).all(), df.nmse.max()
    assert (df.invertible_fraction == 1).all()
    assert (df.collapsed_fraction == 0).all()
    assert (df.n_patterns == 1).all()


def test_subspace_needs_rank_k_not_d() -> None:
    m = ml.make_manifold("subspace", 300, dim=2, ambient_dim=8, seed=0)
    df = ml.sweep(
        m,
        widths=[2, 3],
        seeds=range(3),
        activation="identity",
        method=["pinv", "lemma2"],
        metrics=["nmse", "invertible_fraction"],
        progress=False,
    )
    assert (df.k == 2).all() and (df.d == 8).all()
    assert (df.invertible_fraction == 1).all()
    assert (df.nmse < 1e-20).all()


def test_relu_at_width_2_loses_information_with_every_method() -> None:
    df = ml.sweep(
        "spiral",
        widths=[2],
        seeds=range(10),
        method=list(ml.METHODS),
        metrics=["nmse", "invertible_fraction", "collapsed_fraction"],
        progress=False,
    )
    for method, g in df.groupby("method"):
        assert (g.nmse > 0.05).all(), (method, g.nmse.min())
    assert (df.invertible_fraction < 0.9).all()
    assert (df.collapsed_fraction > 0).all()


def test_relu_at_width_30_lemma2_and_lstsq_recover_pinv_does_not() -> None:
    for seed in range(5):
        r = ml.run_case("spiral", width=30, seed=seed, method="lemma2")
        X = r.manifold.X
        assert r.invertible is not None
        not_inv = np.flatnonzero(~r.invertible)
        assert not_inv.tolist() == [0], not_inv  # only the origin, t = 0
        err = np.abs(r.X_hat - X).max(axis=1)
        assert err[1:].max() < 1e-9 * np.abs(X).max()
        lst = ml.run_case("spiral", width=30, seed=seed, method="lstsq")
        assert lst.metrics["nmse"] < 0.01
        pinv = ml.run_case("spiral", width=30, seed=seed, method="pinv")
        assert pinv.metrics["nmse"] > 0.1


def test_theorem1_binomial_matches_the_measured_invertible_fraction() -> None:
    n_points, n_seeds = 1000, 200
    theory = ml.preserved_fraction(WIDTHS, 2)
    for algorithm in ("dense", "sector"):
        df = ml.sweep(
            "spiral",
            widths=WIDTHS,
            seeds=range(n_seeds),
            method="lemma2",
            metrics=["invertible_fraction"],
            n_samples=n_points,
            algorithm=algorithm,
            progress=False,
        )
        g = df.groupby("width").invertible_fraction
        mean, se = g.mean().to_numpy(), (g.std() / np.sqrt(n_seeds)).to_numpy()
        assert np.all(np.abs(mean - theory) <= 4 * se + 1 / n_points), (mean, theory, se)


def test_pinv_reconstruction_is_the_papers_t_inverse() -> None:
    r = ml.run_case("spiral", width=5, seed=1, method="pinv", n_samples=300)
    X = r.manifold.X
    expected = np.maximum(X @ r.T.T, 0) @ np.linalg.pinv(r.T).T
    np.testing.assert_allclose(r.X_hat, expected, rtol=1e-10, atol=1e-10)
    tv = ((X - X.mean(0)) ** 2).sum(1).mean()
    assert np.isclose(r.metrics["nmse"], ((expected - X) ** 2).sum(1).mean() / tv)


def test_lstsq_is_the_best_affine_decoder() -> None:
    r = ml.run_case("circle", width=4, seed=0, method="lstsq", n_samples=300)
    X = r.manifold.X
    A = np.column_stack([r.Y, np.ones(len(X))])
    coef, *_ = np.linalg.lstsq(A, X, rcond=None)
    np.testing.assert_allclose(r.X_hat, A @ coef, atol=1e-9)


def test_relu6_only_counts_unclipped_coordinates() -> None:
    X = np.array([[1.0, 0.0], [0.0, 1.0], [100.0, 100.0]])
    m = ml.manifold_from_points(X)
    r = ml.run_case(
        m, width=2, seed=0, activation="relu6", method="lemma2", max_neighbor_points=None
    )
    Z = X @ r.T.T
    informative = ((Z > 0) & (Z < 6)).sum(1)
    assert r.invertible is not None
    np.testing.assert_array_equal(r.invertible, informative >= 2)
    assert not r.invertible[2]  # far out: everything clipped or zero


def test_bias_shifts_the_active_set() -> None:
    r = ml.run_case("spiral", width=30, seed=0, method="lemma2", bias=1.0)
    assert r.b is not None and r.b.shape == (30,)
    Z = r.manifold.X @ r.T.T + r.b
    assert r.invertible is not None
    np.testing.assert_array_equal(r.invertible, (Z > 0).sum(1) >= 2)
    ok = r.invertible
    np.testing.assert_allclose(r.X_hat[ok], r.manifold.X[ok], atol=1e-8)


def test_orthonormal_identity_is_an_isometry_up_to_scale() -> None:
    df = ml.sweep(
        "swiss_roll",
        widths=[3, 10],
        seeds=range(2),
        activation="identity",
        embedding="orthonormal",
        n_samples=400,
        progress=False,
    )
    assert np.allclose(df.knn_recall, 1.0)
    assert np.allclose(df.jacobian_min_sv, 1.0)
    assert (df.collapsed_fraction == 0).all()


def test_smooth_activations_report_jacobian_not_patterns() -> None:
    df = ml.sweep(
        "spiral",
        widths=[5, 30],
        seeds=range(2),
        activation=["gelu", "softplus"],
        n_samples=300,
        progress=False,
    )
    gelu = df[df.activation == "gelu"]
    assert gelu.invertible_fraction.isna().all() and gelu.n_patterns.isna().all()
    assert (gelu.jacobian_min_sv > 0).all()
    soft = df[df.activation == "softplus"]
    assert soft.invertible_fraction.notna().all()
    with pytest.raises(ValueError, match="lemma2"):
        ml.run_case("spiral", 5, 0, activation="gelu", method="lemma2")


def test_leaky_relu_is_invertible_everywhere_relu_is_not() -> None:
    df = ml.sweep(
        "spiral",
        widths=[3],
        seeds=range(5),
        activation=["leaky_relu", "relu"],
        method="lemma2",
        metrics=["nmse", "invertible_fraction"],
        progress=False,
    )
    leaky = df[df.activation == "leaky_relu(0.01)"]
    assert (leaky.invertible_fraction == 1).all() and (leaky.nmse < 1e-18).all()
    assert (df[df.activation == "relu"].invertible_fraction < 1).all()


def test_callable_activation_uses_autograd_derivative() -> None:
    r = ml.run_case("circle", 5, 0, activation=torch.tanh, method="pinv", n_samples=100)
    assert r.activation == "tanh" and np.isfinite(r.metrics["jacobian_min_sv"])
    act = ml.get_activation(torch.tanh)
    z = torch.linspace(-2, 2, 9, dtype=torch.float64)
    torch.testing.assert_close(act.derivative(z), 1 - torch.tanh(z) ** 2)
    with pytest.raises(ValueError, match="NaN"):
        ml.run_case("circle", 5, 0, activation=lambda z: torch.log(z), n_samples=100)


def test_collapse_and_patterns_at_width_2() -> None:
    r = ml.run_case("spiral", width=2, seed=0, method="pinv", max_neighbor_points=None)
    Z = r.manifold.X @ r.T.T
    dead = (Z <= 0).all(axis=1)  # all these points map to the origin
    assert dead.sum() > 10
    assert r.collapsed[dead].all()
    assert r.metrics["n_patterns"] == len({tuple(p) for p in (Z > 0)})


def test_metric_columns_and_nan_for_unrequested() -> None:
    df = ml.sweep("circle", widths=[4], seeds=[0], metrics=["nmse"], progress=False)
    assert set(ml.METRICS) <= set(df.columns)
    assert df.invertible_fraction.isna().all()


def test_count_patterns_equals_unique_rows() -> None:
    from manifold_lab.core import count_patterns

    g = torch.Generator().manual_seed(0)
    for n in (3, 31, 32, 70):
        p = torch.randint(0, 3, (3, 400, n), generator=g).to(torch.int8)
        p[:, 200:] = p[:, :200]
        if n > 10:
            p[:, :, : n // 2] = 0
        ref = [torch.unique(p[s], dim=0).shape[0] for s in range(3)]
        assert count_patterns(p.transpose(1, 2)).tolist() == ref
