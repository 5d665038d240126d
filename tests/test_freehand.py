"""Tests of :func:`manifold_lab.curve_from_path`: a path drawn by hand as points on a curve."""

from __future__ import annotations

import numpy as np
import pytest

import manifold_lab as ml
from manifold_lab.freehand import MAX_PATH_VERTICES


def _square() -> tuple[list[float], list[float]]:
    """The unit square's corners, anticlockwise from the origin (a lasso's vertices)."""
    return [0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]


def test_open_path_is_resampled_evenly_by_arc_length() -> None:
    x, y = _square()
    X, t = ml.curve_from_path(x, y, 301, normalize=False)
    assert X.shape == (301, 2) and t.shape == (301,)
    # open: the closing side back to the origin is left out; three sides of length 1
    assert X[0].tolist() == [0.0, 0.0] and X[-1].tolist() == [0.0, 1.0]
    assert t[0] == 0.0 and t[-1] == 1.0
    gaps = np.linalg.norm(np.diff(X, axis=0), axis=1)
    # equal steps of 3/300 along the path (chords across a corner are shorter)
    assert np.isclose(np.median(gaps), 3 / 300)
    assert np.all(gaps <= 3 / 300 + 1e-12)
    assert not np.any(np.isclose(X[:, 1], 0.5) & np.isclose(X[:, 0], 0.0))  # no fourth side


def test_closed_path_goes_back_to_its_start_without_repeating_it() -> None:
    x, y = _square()
    X, t = ml.curve_from_path(x, y, 400, closed=True, normalize=False)
    assert t[0] == 0.0 and t[-1] == pytest.approx(399 / 400)
    gaps = np.linalg.norm(np.diff(np.vstack([X, X[:1]]), axis=0), axis=1)
    assert np.allclose(gaps, 4 / 400)  # corners fall on samples: every step is 1/100
    # the same loop given with its first vertex repeated at the end
    X2, t2 = ml.curve_from_path([*x, x[0]], [*y, y[0]], 400, closed=True, normalize=False)
    assert np.array_equal(X, X2) and np.array_equal(t, t2)


def test_normalize_centres_and_scales_like_the_circle() -> None:
    # a circle of radius 3 about (5, -2), drawn with 200 vertices
    a = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    X, _ = ml.curve_from_path(5 + 3 * np.cos(a), -2 + 3 * np.sin(a), 500, closed=True)
    assert np.allclose(X.mean(axis=0), 0, atol=1e-12)
    r = np.linalg.norm(X, axis=1)
    assert r.max() == pytest.approx(1.0)
    assert np.allclose(r, 1.0, atol=1e-3)  # the polygon's chords sag less than 1e-3
    circle, _ = ml.make_circle(500)
    assert np.abs(X).max() == pytest.approx(np.abs(circle).max(), abs=1e-3)


def test_repeated_vertices_count_once() -> None:
    X, t = ml.curve_from_path([0, 0, 0, 1, 1, 2], [0, 0, 0, 0, 0, 1], 50)
    X2, t2 = ml.curve_from_path([0, 1, 2], [0, 0, 1], 50)
    assert np.array_equal(X, X2) and np.array_equal(t, t2)


def test_noise_is_seeded_and_added_after_normalising() -> None:
    x, y = _square()
    clean, _ = ml.curve_from_path(x, y, 200)
    a, _ = ml.curve_from_path(x, y, 200, noise=0.05, seed=3)
    b, _ = ml.curve_from_path(x, y, 200, noise=0.05, seed=3)
    c, _ = ml.curve_from_path(x, y, 200, noise=0.05, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.std(a - clean) == pytest.approx(0.05, rel=0.15)


def test_a_drawn_curve_runs_through_a_case() -> None:
    a = np.linspace(0, 1.5 * np.pi, 40)
    X, t = ml.curve_from_path(a * np.cos(a), a * np.sin(a), 300)
    result = ml.run_case((X, t), width=8, seed=0)
    assert result.k == 2 and np.isfinite(result.metrics["invertible_fraction"])


@pytest.mark.parametrize(
    ("path", "kwargs", "message"),
    [
        (([0, 1, np.nan], [0, 1, 2]), {}, "must be finite: 1 of 3 vertices are not"),
        (([0, 1, np.inf, 3], [0, 1, 2, 3]), {}, "must be finite: 1 of 4 vertices are not"),
        (([0, 1, 2], [0, 1]), {}, "has 3 x values and 2 y values"),
        (([[0, 1, 2]], [[0, 1, 2]]), {}, "must be 1-D, got shapes (1, 3) and (1, 3)"),
        (([], []), {}, "at least 3 distinct vertices, got 0"),
        (([0.5] * 10, [0.5] * 10), {}, "at least 3 distinct vertices, got 1"),
        (([0, 1, 0, 1], [0, 0, 0, 0]), {}, "at least 3 distinct vertices, got 2"),
        (([0, 1, "a"], [0, 1, 2]), {}, "must be numbers"),
        ((np.arange(MAX_PATH_VERTICES + 1), np.zeros(MAX_PATH_VERTICES + 1)), {}, "at most"),
        (([0, 1, 1], [0, 0, 1]), {"n_samples": 1}, "n_samples"),
        (([0, 1, 1], [0, 0, 1]), {"noise": -0.1}, "noise"),
        # an open path that ends where it starts, sampled at its two ends only
        (([0, 1, 1, 0], [0, 0, 1, 0]), {"n_samples": 2}, "the 2 points on the drawn path"),
    ],
)
def test_bad_paths_are_refused_in_one_line(
    path: tuple[object, object], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError) as info:
        ml.curve_from_path(*path, **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value) and "\n" not in str(info.value)


def test_collinear_paths_are_curves_spanning_one_dimension() -> None:
    X, _ = ml.curve_from_path([0, 1, 2, 3], [0, 1, 2, 3], 100)
    assert np.linalg.matrix_rank(X, tol=1e-9) == 1
