from __future__ import annotations

import numpy as np
import pytest

import manifold_lab as ml

GENERATORS = {
    "spiral": (2, 1),
    "circle": (2, 1),
    "swiss_roll": (3, 2),
    "s_curve": (3, 2),
    "sphere": (3, 2),
    "torus": (3, 2),
    "subspace": (2, 2),
    "ball": (2, 2),
    "blob": (2, 2),
}


@pytest.mark.parametrize("name", sorted(ml.MANIFOLDS))
def test_shapes_and_reproducibility(name: str) -> None:
    d, k = GENERATORS[name]
    m1 = ml.make_manifold(name, 300, seed=3, noise=0.01)
    m2 = ml.make_manifold(name, 300, seed=3, noise=0.01)
    assert m1.X.shape == (300, d)
    assert m1.t.shape == ((300,) if k == 1 else (300, k))
    assert m1.color.shape == (300,)
    np.testing.assert_array_equal(m1.X, m2.X)
    m3 = ml.make_manifold(name, 300, seed=4, noise=0.01)
    assert not np.array_equal(m1.X, m3.X)


def test_spiral_matches_the_paper() -> None:
    X, t = ml.make_spiral(1001)
    assert t[0] == 0 and np.isclose(t[-1], 20 * np.pi)
    np.testing.assert_allclose(X, np.column_stack([t * np.cos(t), t * np.sin(t)]))
    # deterministic without noise, whatever the seed
    np.testing.assert_array_equal(X, ml.make_spiral(1001, seed=9)[0])


def test_subspace_and_ball_lie_in_a_k_dim_subspace() -> None:
    X, _ = ml.make_subspace(200, dim=3, ambient_dim=10, seed=0)
    assert np.linalg.matrix_rank(X) == 3
    Xb, tb = ml.make_ball(500, dim=4, ambient_dim=9, radius=2.0, seed=1)
    assert np.linalg.matrix_rank(Xb) == 4
    assert np.linalg.norm(Xb, axis=1).max() <= 2.0 + 1e-12
    np.testing.assert_allclose(np.linalg.norm(Xb, axis=1), np.linalg.norm(tb, axis=1))


def test_sphere_and_torus_geometry() -> None:
    X, _ = ml.make_sphere(100, dim=4, radius=3.0, seed=0)
    assert X.shape == (100, 5)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 3.0)
    T = ml.make_torus(100, seed=0)[0]
    np.testing.assert_allclose(np.hypot(np.hypot(T[:, 0], T[:, 1]) - 2.0, T[:, 2]), 1.0)


def test_user_points_and_tuples() -> None:
    X = np.random.default_rng(0).standard_normal((50, 4))
    m = ml.make_manifold(X)
    assert m.name == "points" and m.ambient_dim == 4
    m2 = ml.make_manifold((X, np.arange(50)))
    np.testing.assert_array_equal(m2.t, np.arange(50))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ml.make_manifold("hyperbolic_paraboloid"), "unknown manifold"),
        (lambda: ml.make_spiral(1), "n_samples"),
        (lambda: ml.make_spiral(10, noise=-1), "noise"),
        (lambda: ml.make_ball(10, dim=3, ambient_dim=2), "ambient_dim"),
        (lambda: ml.make_sphere(10, dim=0), "dim"),
        (lambda: ml.make_manifold("spiral", 10, radius=2), "bad arguments"),
        (lambda: ml.make_manifold([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
        (lambda: ml.make_manifold([[0.0, np.inf], [1.0, 2.0]]), "infinite"),
        (lambda: ml.make_manifold(np.zeros(5)), "2-D"),
        (lambda: ml.manifold_from_points(np.zeros((5, 2)), np.zeros(4)), "match X"),
        (lambda: ml.make_spiral(10, sampling="random"), "sampling"),
        (lambda: ml.make_spiral(10, seed=-1), "non-negative"),
    ],
)
def test_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
