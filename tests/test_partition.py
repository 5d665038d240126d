"""The exact partition of the input plane into a layer's linear regions."""

from __future__ import annotations

import numpy as np
import pytest

import manifold_lab as ml
from manifold_lab.partition import (
    case_partition,
    collapse_partners,
    layer_partition,
    partition_cases,
)


def _inside(poly: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Points inside a counter-clockwise convex polygon or on its boundary."""
    edges = np.roll(poly, -1, axis=0) - poly
    rel = uv[:, None, :] - poly[None]
    cross = edges[None, :, 0] * rel[..., 1] - edges[None, :, 1] * rel[..., 0]
    return (cross > -1e-9).all(1)


@pytest.mark.parametrize("activation", ["relu", "relu6", "leaky_relu"])
@pytest.mark.parametrize("width", [2, 3, 5, 15])
def test_sector_algorithm_agrees_on_the_spiral(activation: str, width: int) -> None:
    # no bias, 2-D span: the sweep's exact sector algorithm gives the fraction of points
    # where Lemma 2 holds and the number of patterns the points visit (ReLU6 is not
    # positively homogeneous, so it has no sectors: the dense computation instead)
    rows = ml.sweep(
        "spiral",
        widths=[width],
        seeds=[0, 1],
        activation=activation,
        method="lemma2",
        metrics=["invertible_fraction", "n_patterns"],
        n_samples=2000,
        algorithm="dense" if activation == "relu6" else "sector",
        progress=False,
    )
    for seed in (0, 1):
        case = ml.run_case("spiral", width=width, seed=seed, n_samples=2000, activation=activation)
        part = case_partition(case)
        region = part.region_of(part.coords)
        ok = region >= 0
        # only a point on every line (the spiral's centre) belongs to no open region
        assert (~ok).sum() <= 1 and np.allclose(part.coords[~ok], 0.0)
        assert case.invertible is not None
        assert np.array_equal(part.lemma2[region[ok]], case.invertible[ok])
        fraction = (part.lemma2[region[ok]].sum() + case.invertible[~ok].sum()) / len(region)
        row = rows[rows["seed"] == seed].iloc[0]
        assert fraction == pytest.approx(row["invertible_fraction"], abs=1e-12)
        assert len(np.unique(region[ok])) + int((~ok).any()) == row["n_patterns"]


@pytest.mark.parametrize("activation", ["relu", "relu6", "leaky_relu"])
@pytest.mark.parametrize("bias", [0.0, 1.0])
def test_regions_match_a_dense_evaluation(activation: str, bias: float) -> None:
    case = ml.run_case("spiral", width=12, seed=3, n_samples=500, activation=activation, bias=bias)
    part = case_partition(case)
    u0, u1, v0, v1 = part.bounds
    # the polygons tile the box
    assert part.areas.sum() == pytest.approx((u1 - u0) * (v1 - v0), rel=1e-9)
    assert (part.areas > 0).all()
    grid = np.stack(np.meshgrid(np.linspace(u0, u1, 157), np.linspace(v0, v1, 151)), -1).reshape(
        -1, 2
    )
    act = ml.get_activation(activation)
    import torch

    z = grid @ (case.T @ part.basis).T + (0 if case.b is None else case.b)
    pieces = act.pattern(torch.from_numpy(z)).numpy()
    region = part.region_of(grid)
    assert (region >= 0).mean() > 0.999  # only points exactly on a line may miss
    hit = region >= 0
    assert (part.pieces[region[hit]] == pieces[hit]).all()
    # geometric check: each grid point lies in the polygon of its region (or on its edge)
    for r in np.unique(region[hit])[:40]:
        pts = grid[region == r]
        inside = _inside(part.polygons[r], pts)
        assert inside.all()
    # patterns are distinct per region, informative counts agree with the activation
    assert len({p.tobytes() for p in part.pieces}) == len(part.polygons)
    informative = act.inverse(act(torch.from_numpy(z)))[1].numpy().sum(1)
    assert (part.n_informative[region[hit]] == informative[hit]).all()


def test_relu6_has_two_lines_per_row_and_leaky_relu_is_invertible_everywhere() -> None:
    X = np.random.default_rng(0).normal(size=(300, 2)) * 4
    T = np.random.default_rng(1).normal(size=(6, 2))
    r6 = layer_partition(X, T, activation="relu6")
    assert r6.lines.shape == (12, 3)
    assert set(np.unique(r6.pieces)) <= {0, 1, 2}
    leaky = layer_partition(X, T, activation="leaky_relu")
    assert leaky.lemma2.all() and (leaky.n_informative == 6).all()


def test_a_manifold_in_higher_dimensions_uses_its_principal_plane() -> None:
    case = ml.run_case("sphere", width=8, seed=0, n_samples=400)
    part = case_partition(case)
    assert part.k == 3 and part.basis.shape == (3, 2)
    assert np.allclose(part.basis.T @ part.basis, np.eye(2))
    assert (part.rank <= 3).all() and part.lemma2.any() and not part.lemma2.all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"activation": "gelu"}, "piecewise-linear"),
        ({"T": np.ones((3, 5))}, "T must be"),
        ({"b": np.ones(2)}, "b must have"),
        ({"X": np.full((4, 2), np.nan)}, "NaN"),
        ({"bounds": (1.0, 0.0, 0.0, 1.0)}, "bounds"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs: dict, match: str) -> None:
    args = {
        "X": np.random.default_rng(0).normal(size=(20, 2)),
        "T": np.random.default_rng(1).normal(size=(4, 2)),
        "b": None,
        "activation": "relu",
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        layer_partition(args.pop("X"), args.pop("T"), **args)


@pytest.mark.parametrize("activation", ["relu", "relu6", "leaky_relu"])
def test_collapse_partners_are_the_nearest_distinct_inputs_in_the_output(activation: str) -> None:
    case = ml.run_case(
        "spiral", width=3, seed=0, n_samples=600, activation=activation, max_neighbor_points=None
    )
    pairs = collapse_partners(case)
    assert len(pairs) == case.collapsed.sum() > 0
    assert (pairs[:, 0] != pairs[:, 1]).all()  # never the point itself
    # brute force in numpy: distinct inputs are at least the median nearest-neighbour
    # distance apart; the partner's output is the nearest of theirs
    X, Y = case.manifold.X, case.Y
    dx = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    np.fill_diagonal(dx, np.inf)
    delta = np.sort(dx.min(1))[(len(X) - 1) // 2]
    i, j = pairs.T
    assert (dx[i, j] >= delta * (1 - 1e-9)).all()
    dy = np.sqrt(((Y[i][:, None] - Y[None]) ** 2).sum(-1))
    dy[(dx[i] < delta) | (np.arange(len(X))[None] == i[:, None])] = np.inf
    assert np.allclose(dy[np.arange(len(i)), j], dy.min(1), rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "activation,bias,manifold,neighbours",
    [
        ("relu", 0.0, "spiral", None),
        ("relu6", 1.0, "spiral", None),
        ("leaky_relu", 0.5, "spiral", None),
        ("relu", 0.5, "sphere", 200),
    ],
)
def test_partition_cases_match_run_case(
    activation: str, bias: float, manifold: str, neighbours: int | None
) -> None:
    widths = [2, 3, 7]
    settings = {
        "seed": 1,
        "activation": activation,
        "bias": bias,
        "n_samples": 500,
        "manifold_seed": 2,
        "max_neighbor_points": neighbours,
    }
    light = partition_cases(manifold, widths, **settings)
    assert [c.width for c in light] == widths
    for w, fast in zip(widths, light, strict=True):
        case = ml.run_case(manifold, width=w, method="lstsq", **settings)  # type: ignore[arg-type]
        part = case_partition(case)
        assert np.array_equal(fast.collapsed, case.collapsed)
        assert np.array_equal(fast.pairs, collapse_partners(case))
        assert len(fast.partition.polygons) == len(part.polygons)
        assert all(
            np.array_equal(a, b)
            for a, b in zip(fast.partition.polygons, part.polygons, strict=True)
        )
        assert np.array_equal(fast.partition.pieces, part.pieces)
        assert (fast.seed, fast.activation) == (1, case.activation)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"activation": "gelu"}, "piecewise-linear"),
        ({"widths": []}, "no widths"),
        ({"widths": [3, 0]}, "width"),
    ],
)
def test_partition_cases_refuse_bad_input(kwargs: dict, match: str) -> None:
    args: dict = {"widths": [2, 3], "n_samples": 100, **kwargs}
    with pytest.raises(ValueError, match=match):
        partition_cases("spiral", **args)


def test_plot_partition_takes_pairs_already_computed() -> None:
    from manifold_lab.plots import plot_partition

    case = ml.run_case("spiral", width=2, seed=0, n_samples=300)
    part = case_partition(case)
    fig = plot_partition(part, case=case)
    assert fig.data[-1].name == f"collapsed pairs ({int(case.collapsed.sum())})"
    assert plot_partition(part, pairs=collapse_partners(case)).to_json() == fig.to_json()
    assert not any(
        t.name.startswith("collapsed") for t in plot_partition(part, case=case, partners=False).data
    )


def test_partition_cases_fall_back_to_the_dense_collapse_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # when a pair of outputs lies too close to the collapse radius to decide from the exact
    # distances, run_case's own dense distances decide: forced here for every width
    import manifold_lab.partition as partition

    widths = [2, 4]
    sparse = partition_cases("spiral", widths, activation="relu6", n_samples=400)
    monkeypatch.setattr(partition, "_sparse_collapse", lambda *args: None)
    dense = partition_cases("spiral", widths, activation="relu6", n_samples=400)
    for w, a, b in zip(widths, sparse, dense, strict=True):
        case = ml.run_case("spiral", width=w, activation="relu6", n_samples=400)
        assert np.array_equal(b.collapsed, case.collapsed)
        assert np.array_equal(a.collapsed, b.collapsed) and a.collapsed.any()
        assert np.array_equal(a.pairs, b.pairs)


@pytest.mark.parametrize("k", [1, 2, 16])
def test_partner_search_gives_the_same_partners_whatever_the_neighbours_listed(k: int) -> None:
    # few listed neighbours leave more rows to the cluster and brute-force searches
    from manifold_lab.partition import _distinct_nearest

    case = ml.run_case("spiral", width=2, seed=0, n_samples=500, activation="relu6")
    rows = np.nonzero(case.collapsed)[0]
    X, Y = case.manifold.X, case.Y
    got = _distinct_nearest(X, Y, rows, k=k)
    dx = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    np.fill_diagonal(dx, np.inf)
    delta = np.sort(dx.min(1))[(len(X) - 1) // 2]
    dy = np.sqrt(((Y[rows][:, None] - Y[None]) ** 2).sum(-1))
    dy[(dx[rows] < delta) | (np.arange(len(X))[None] == rows[:, None])] = np.inf
    assert np.array_equal(got, dy.argmin(1))  # the lowest index among the nearest


@pytest.mark.parametrize("k", [1, 3, 16])
def test_sparse_collapse_test_is_run_case_s_whatever_the_neighbours_listed(k: int) -> None:
    # few listed neighbours leave more points to the search of all outputs within reach
    import torch

    from manifold_lab.core import prepare
    from manifold_lab.partition import _sparse_collapse

    for activation, width in (("relu6", 2), ("relu", 3), ("leaky_relu", 5)):
        case = ml.run_case("spiral", width=width, n_samples=400, activation=activation)
        prep = prepare(
            case.manifold,
            device=torch.device("cpu"),
            dtype=torch.float64,
            neighbors=True,
            max_neighbor_points=1000,
            n_neighbors=1,
        )
        assert prep.DX is not None
        X, Y = case.manifold.X, case.Y
        tvx = ((X - X.mean(0)) ** 2).sum(1).mean()
        tvy = ((Y - Y.mean(0)) ** 2).sum(1).mean()
        radius = 0.1 * np.sqrt(tvy / tvx) * prep.delta
        eps = float(np.finfo(np.float64).eps)
        got = _sparse_collapse(Y, prep.DX.numpy(), prep.delta, radius, eps, k=k)
        assert got is not None and np.array_equal(got, case.collapsed)
