"""Tests of the injectivity phase diagram (manifold_lab.injectivity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import manifold_lab as ml
from manifold_lab.injectivity import (
    critical_ratios,
    min_active_rows,
    phase_diagram,
)
from manifold_lab.plots import plot_phase_diagram


def _dense_min(T: np.ndarray, n_dir: int, seed: int = 123) -> int:
    """Brute force: the minimum active count over many random directions."""
    U = np.random.default_rng(seed).standard_normal((n_dir, T.shape[1]))
    return int(((T @ U.T) > 0).sum(0).min())


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return phase_diagram([1, 2, 3, 4], max_ratio=3, seeds=range(40), n_samples=200, progress=False)


# ------------------------------------------------------------------ (a) pointwise fraction


def test_pointwise_fraction_matches_theorem1(small: pd.DataFrame) -> None:
    g = small.groupby(["k", "width"])
    mean, sd, n = g.invertible_fraction.mean(), g.invertible_fraction.std(), g.size()
    th = g.theorem1.first()
    assert np.allclose(th, [ml.preserved_fraction(w, k) for k, w in th.index])
    tol = 4 * sd / np.sqrt(n) + 1 / 200
    bad = (mean - th).abs() > tol
    assert not bad.any(), pd.DataFrame({"mean": mean, "theorem1": th, "tol": tol})[bad]


def test_pointwise_fraction_is_the_sweeps(small: pd.DataFrame) -> None:
    ref = ml.sweep(
        "ball",
        widths=[3, 5, 9],
        seeds=range(40),
        method="lemma2",
        metrics=["invertible_fraction"],
        n_samples=200,
        manifold_kwargs={"dim": 3},
        progress=False,
    ).set_index(["width", "seed"])["invertible_fraction"]
    mine = small[small.k == 3].set_index(["width", "seed"])["invertible_fraction"]
    assert np.array_equal(mine.loc[ref.index].to_numpy(), ref.to_numpy())


# ------------------------------------------------------------- (b) exact minimum counts


def test_hand_made_examples() -> None:
    assert min_active_rows(np.array([[1.0], [-2.0]])) == (1, "exact-1d")  # injective
    assert min_active_rows(np.array([[1.0], [2.0], [0.5]])) == (0, "exact-1d")
    T = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    assert min_active_rows(T) == (1, "exact-sectors")
    assert min_active_rows(T, method="exact-vertices") == (1, "exact-vertices")
    # ... and indeed two points collide: only row 3 is active on the cone x, y < 0.
    x, y = np.array([-1.0, -2.0]), np.array([-2.0, -1.0])
    assert np.array_equal(np.maximum(T @ x, 0), np.maximum(T @ y, 0))
    angles = 2 * np.pi * np.arange(5) / 5  # a regular pentagon: every half-plane holds >= 2
    assert min_active_rows(np.c_[np.cos(angles), np.sin(angles)]) == (2, "exact-sectors")
    # [e1, e2, -e1, -e2]: not in general position, but the sector method is exact anyway.
    assert min_active_rows(np.array([[1.0, 0], [0, 1], [-1, 0], [0, -1]]))[0] == 2
    # k = 3: rows in the positive octant leave the cell u < 0 empty; a Fibonacci sphere of
    # 50 well-spread rows has every open hemisphere holding many of them.
    P = np.abs(np.random.default_rng(0).standard_normal((10, 3)))
    assert min_active_rows(P) == (0, "exact-vertices")
    i = np.arange(50) + 0.5
    phi, th = np.arccos(1 - 2 * i / 50), np.pi * (1 + 5**0.5) * i
    F = np.c_[np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)]
    assert min_active_rows(F) == (22, "exact-vertices")
    assert min_active_rows(F, method="sampled+refined") == (22, "sampled+refined")


def test_sectors_equal_vertices_and_brute_force_k2() -> None:
    for seed in range(30):
        for n in (2, 3, 4, 5, 8, 13):
            T = ml.random_embedding(2, n, seed)[0]
            c, m = min_active_rows(T)
            assert m == "exact-sectors"
            assert c == min_active_rows(T, method="exact-vertices")[0]
            theta = np.linspace(0, 2 * np.pi, 20001)[:-1] + 1e-4
            U = np.c_[np.cos(theta), np.sin(theta)]
            assert c <= int(((T @ U.T) > 0).sum(0).min())
            if seed < 10:
                assert c == _dense_min(T, 200_000)


def test_vertices_equal_dense_sampling_k3() -> None:
    agree = 0
    cases = 0
    for seed in range(20):
        for n in (3, 4, 6, 8):
            T = ml.random_embedding(3, n, seed)[0]
            c, m = min_active_rows(T)
            assert m == "exact-vertices"
            dense = _dense_min(T, 200_000, seed)
            assert dense >= c  # sampling can only miss cells
            agree += dense == c
            cases += 1
    assert agree >= 0.95 * cases


def test_n_at_most_k_has_an_empty_cell() -> None:
    for k in (2, 3, 5):
        for n in range(1, k + 1):
            assert min_active_rows(ml.random_embedding(k, n, 0)[0])[0] == 0


def test_sampled_never_below_exact_and_mostly_equal() -> None:
    kw = dict(max_ratio=6, seeds=range(30), pointwise=False, progress=False)
    exact = phase_diagram([3, 4], method="exact-vertices", **kw)
    samp = phase_diagram([3, 4], method="sampled+refined", n_directions=5000, **kw)
    assert set(exact.method) == {"exact-vertices"} and set(samp.method) == {"sampled+refined"}
    diff = samp.min_active.to_numpy() - exact.min_active.to_numpy()
    assert (diff >= 0).all()
    assert (diff == 0).mean() >= 0.95
    three = (samp.k == 3).to_numpy()
    assert (diff[three] == 0).mean() >= 0.98
    assert (samp.injective.to_numpy() == exact.injective.to_numpy()).mean() >= 0.98


def test_min_active_is_monotone_in_width_and_matches_single_matrix() -> None:
    df = phase_diagram([3, 5], max_ratio=4, seeds=range(6), pointwise=False, progress=False)
    for (_, _), g in df.groupby(["k", "seed"]):
        assert (np.diff(g.sort_values("width").min_active.to_numpy()) >= 0).all()
    for _, r in df.sample(12, random_state=0).iterrows():
        T = ml.random_embedding(int(r.k), int(r.width), int(r.seed))[0]
        assert min_active_rows(T) == (r.min_active, r.method)
    assert (df.injective == (df.min_active >= df.k)).all()
    assert not df[df.width < 2 * df.k].injective.any()  # n >= 2k is necessary


def test_phase_diagram_columns_methods_and_reproducibility(device: str) -> None:
    kw = dict(max_ratio=3, seeds=[0, 3], n_samples=50, progress=False, device=device)
    df = phase_diagram([2, 6], exact_max_subsets=100, n_directions=500, **kw)
    assert list(df.columns) == [
        "k",
        "width",
        "ratio",
        "seed",
        "invertible_fraction",
        "theorem1",
        "min_active",
        "injective",
        "method",
        "n_directions",
    ]
    six = df[df.k == 6].groupby("width").method.first()
    assert six[6] == "exact-vertices" and six[18] == "sampled+refined"  # C(18, 5) > 100
    assert (df[df.method == "sampled+refined"].n_directions == 500).all()
    assert (df[df.method != "sampled+refined"].n_directions == 0).all()
    assert df.width.tolist()[:3] == [2, 2, 3]  # by k, width, seed
    prov = df.attrs["provenance"]["parameters"]
    assert prov["per_k"]["6"]["sampled_widths"] == [10, 18]  # C(8, 5) = 56, C(10, 5) = 252
    again = phase_diagram([2, 6], exact_max_subsets=100, n_directions=500, **kw)
    pd.testing.assert_frame_equal(df, again)
    cpu = phase_diagram([2, 6], exact_max_subsets=100, n_directions=500, **{**kw, "device": "cpu"})
    assert np.array_equal(df.min_active, cpu.min_active)


def test_k1_probability_is_exact() -> None:
    """For k = 1, P(injective) = P(both signs among n entries) = 1 - 2^(1 - n)."""
    df = phase_diagram(1, max_ratio=6, seeds=range(400), pointwise=False, progress=False)
    p = df.groupby("width").injective.mean()
    theory = 1 - 2.0 ** (1 - p.index.to_numpy())
    se = np.sqrt(theory * (1 - theory) / 400)
    assert (np.abs(p.to_numpy() - theory) <= 4 * se + 1e-12).all()


# ------------------------------------------------------------------- critical ratios


def _synthetic() -> pd.DataFrame:
    # k = 2, widths 4..10, 4 seeds: P(injective) = 0, 0.25, 0.75, 1.
    inj = {4: [0, 0, 0, 0], 6: [1, 0, 0, 0], 8: [1, 1, 1, 0], 10: [1, 1, 1, 1]}
    rows = [
        {"k": 2, "width": w, "seed": s, "injective": bool(v), "method": "exact-sectors"}
        for w, vals in inj.items()
        for s, v in enumerate(vals)
    ]
    return pd.DataFrame(rows)


def test_critical_ratios_interpolates() -> None:
    cr = critical_ratios(_synthetic(), levels=(0.5, 0.95), n_boot=0)
    assert list(cr.columns) == ["k", "level", "ratio", "ci_low", "ci_high", "n_seeds", "method"]
    # 50%: between n = 6 (0.25) and 8 (0.75): n = 7, ratio 3.5.
    # 95%: between n = 8 (0.75) and 10 (1.0): n = 8 + 0.8 * 2 = 9.6, ratio 4.8.
    assert cr.ratio.tolist() == pytest.approx([3.5, 4.8])
    assert cr.n_seeds.tolist() == [4, 4] and cr.method.tolist() == ["exact-sectors"] * 2
    assert cr.ci_low.isna().all()
    cr = critical_ratios(_synthetic(), levels=[0.25, 1.0], n_boot=0)
    assert cr.ratio.tolist() == pytest.approx([3.0, 5.0])  # reached exactly at a grid width
    df = _synthetic()
    df["injective"] = df.width >= 8
    assert critical_ratios(df, levels=0.5, n_boot=0).ratio.tolist() == [3.5]  # 6 -> 8: 0 -> 1
    df["injective"] = False
    assert critical_ratios(df, levels=0.5, n_boot=0).ratio.isna().all()  # never reached


def test_critical_ratios_bootstrap() -> None:
    df = _synthetic()
    a = critical_ratios(df, n_boot=300, seed=1)
    b = critical_ratios(df, n_boot=300, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert (a.ci_low <= a.ratio).all() and (a.ratio <= a.ci_high.fillna(np.inf)).all()
    assert (a.ci_low >= 2.0).all()


# ----------------------------------------------------------------------------- figure


def test_plot_phase_diagram_structure(small: pd.DataFrame) -> None:
    ratios = critical_ratios(small)
    fig = plot_phase_diagram(small, ratios=ratios)
    assert isinstance(fig, go.Figure)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 4  # one per k
    assert all(t.coloraxis == "coloraxis" for t in heat)
    names = {t.name for t in fig.data if t.type == "scatter"}
    assert {"50% boundary (measured)", "95% boundary (measured)"} <= names
    lit = [t for t in fig.data if t.name and t.name.startswith("literature")]
    assert sorted({t.x[0] for t in lit}) == [2.0, 3.4, 6.698, 10.5]
    assert fig.layout.xaxis.title.text == "expansion ratio n / k"
    assert fig.layout.yaxis.title.text == "intrinsic dimension k"
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 1

    both = plot_phase_diagram(
        small, quantity=("invertible_fraction", "injective"), x="width", ratios=ratios
    )
    assert len([t for t in both.data if t.type == "heatmap"]) == 8
    assert both.layout.xaxis2.title.text == "width n"
    assert not any(t.name and t.name.startswith("literature") for t in both.data)
    assert any(t.name == "50%: Theorem 1" for t in both.data)
    assert both.layout.annotations[0].text.startswith("(a) pointwise")


def test_plot_phase_diagram_draws_the_ratios_it_is_given(small: pd.DataFrame) -> None:
    ratios = critical_ratios(small, levels=(0.5, 0.95), n_boot=1000, seed=0)
    given = plot_phase_diagram(small, ratios=ratios)
    with pytest.raises(ValueError, match=r"pass ratios=critical_ratios\(df"):
        plot_phase_diagram(small)  # a figure draws results; it does not compute them
    pointwise = plot_phase_diagram(small, quantity="invertible_fraction")  # needs no ratios
    assert len([t for t in pointwise.data if t.type == "heatmap"]) == 4
    bars = next(t for t in given.data if t.name == "50% boundary (measured)")
    np.testing.assert_allclose(
        bars.x, ratios[ratios.level == 0.5].sort_values("k")["ratio"], equal_nan=True
    )
    with pytest.raises(ValueError, match=r"no rows at level 0\.95"):
        plot_phase_diagram(small, ratios=ratios[ratios.level == 0.5])


# -------------------------------------------------------------------------- bad input


def test_bad_input_raises() -> None:
    T = ml.random_embedding(3, 8, 0)[0]
    with pytest.raises(ValueError, match="2-D"):
        min_active_rows(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        min_active_rows(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="unknown method"):
        min_active_rows(T, method="lp")
    with pytest.raises(ValueError, match="k = 2"):
        min_active_rows(T, method="exact-sectors")
    with pytest.raises(ValueError, match="k = 1"):
        min_active_rows(T, method="exact-1d")
    with pytest.raises(ValueError, match="n_directions"):
        min_active_rows(T, method="sampled+refined", n_directions=0)
    kw = dict(progress=False, pointwise=False)
    with pytest.raises(ValueError, match="empty"):
        phase_diagram([], **kw)
    with pytest.raises(ValueError, match=">= 1"):
        phase_diagram([0, 2], **kw)
    with pytest.raises(ValueError, match="max_ratio"):
        phase_diagram([2], max_ratio=0.5, **kw)
    with pytest.raises(ValueError, match="seeds"):
        phase_diagram([2], seeds=[], **kw)
    with pytest.raises(ValueError, match="unknown method"):
        phase_diagram([2], method="bogus", **kw)
    with pytest.raises(ValueError, match="one k only"):
        phase_diagram([2], method="exact-sectors", **kw)
    with pytest.raises(ValueError, match="width_step"):
        phase_diagram([2], width_step=0, **kw)
    with pytest.raises(ValueError, match="'injective'"):
        critical_ratios(_synthetic().drop(columns="injective"))
    with pytest.raises(ValueError, match="level"):
        critical_ratios(_synthetic(), levels=[0.0])
    with pytest.raises(ValueError, match="level"):
        critical_ratios(_synthetic(), levels=[1.5])
    with pytest.raises(ValueError, match="n_boot"):
        critical_ratios(_synthetic(), n_boot=-1)
    with pytest.raises(ValueError, match="every seed"):
        critical_ratios(_synthetic().iloc[1:])
    with pytest.raises(ValueError, match="unknown quantity"):
        plot_phase_diagram(_synthetic(), quantity="nmse")
    with pytest.raises(ValueError, match="'invertible_fraction'"):
        plot_phase_diagram(_synthetic(), quantity="invertible_fraction")
    with pytest.raises(ValueError, match="x must be"):
        plot_phase_diagram(_synthetic(), x="seed")
