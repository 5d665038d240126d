"""Intrinsic dimension across scale (Gride): truth on data of known dimension, intervals, input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from scipy.special import betaln
from sklearn.base import clone

import manifold_lab as ml
from manifold_lab.intrinsic_dimension import Gride, IDScale, IDScaleResult, estimate_id, id_scale
from manifold_lab.intrinsic_dimension.gride import gride_dimension
from manifold_lab.intrinsic_dimension.neighbors import knn_distances


def _noisy_plane(n: int, noise: float, seed: int, ambient: int = 20) -> np.ndarray:
    """The unit square in a random 2-D plane of R^ambient, plus isotropic Gaussian noise."""
    rng = np.random.default_rng(seed)
    P = np.zeros((n, ambient))
    P[:, :2] = rng.random((n, 2))
    P += noise * rng.standard_normal(P.shape)
    Q = np.linalg.qr(rng.standard_normal((ambient, ambient)))[0]
    return P @ Q


def _gaussian(n: int, d: int, seed: int, ambient: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((ambient, d)))[0]
    return rng.standard_normal((n, d)) @ basis.T


def _regular_polygon(n: int) -> np.ndarray:
    angle = 2 * np.pi * np.arange(n) / n
    return np.column_stack([np.cos(angle), np.sin(angle)])


def _neg_log_likelihood(d: float, mu: np.ndarray, n1: int, n2: int) -> float:
    """Minus Gride's log-likelihood, written from the density in Denti et al. (2022)."""
    return -float(
        np.sum(
            np.log(d)
            + (n2 - n1 - 1) * np.log(mu**d - 1)
            - ((n2 - 1) * d + 1) * np.log(mu)
            - betaln(n2 - n1, n1)
        )
    )


@pytest.mark.parametrize("n1, n2", [(1, 2), (2, 4), (4, 8), (8, 16), (3, 7)])
def test_root_is_the_likelihood_maximum(n1, n2):
    mu = np.exp(np.random.default_rng(n1).gamma(2.0, 0.1, 400))
    d = float(gride_dimension(torch.from_numpy(np.log(mu)), n1, n2)[0])
    best = minimize_scalar(
        _neg_log_likelihood,
        bounds=(0.01, 100),
        args=(mu, n1, n2),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert d == pytest.approx(best.x, rel=1e-6)


def test_weights_are_resamples():
    log_mu = torch.from_numpy(np.random.default_rng(0).gamma(2.0, 0.1, 50))
    pick = np.random.default_rng(1).integers(0, 50, 50)
    w = torch.from_numpy(np.bincount(pick, minlength=50).astype(np.float64))[None]
    direct = gride_dimension(log_mu[torch.from_numpy(pick)], 4, 8)
    for start in (None, 0.01, 1e6, float("nan")):
        weighted = gride_dimension(log_mu, 4, 8, w, start=start)
        assert float(weighted[0]) == pytest.approx(float(direct[0]), rel=1e-9)


def test_gride_n1_1_is_twonn_mle():
    X = ml.make_ball(1000, dim=4, ambient_dim=8, seed=0)[0]
    dist = knn_distances(torch.from_numpy(X), 2).numpy()
    expected = len(X) / np.log(dist[:, 1] / dist[:, 0]).sum()
    assert Gride(device="cpu").fit(X).dimension_ == pytest.approx(expected, rel=1e-12)
    assert estimate_id(X, "gride", device="cpu") == pytest.approx(expected, rel=1e-12)


def test_noisy_plane_shows_noise_at_small_scales_and_two_dimensions_above():
    X = _noisy_plane(2000, 5e-3, seed=0)
    res = id_scale(X, max_rank=64, n_bootstrap=100, seed=0, device="cpu")
    assert res.n1.tolist() == [1, 2, 4, 8, 16, 32]
    assert res.dimension[0] > 6  # the noise fills the 20 dimensions between nearest pairs
    assert np.all(np.diff(res.dimension) < 0)  # falling as the scale grows
    assert abs(res.dimension[-1] - 2) < 0.3  # the plane at the largest scale
    assert np.all(np.diff(res.scale) > 0) and np.all(np.diff(res.scale_median) > 0)
    # a plane without noise is two-dimensional at every scale
    clean = id_scale(_noisy_plane(2000, 0.0, 0), max_rank=64, n_bootstrap=0, device="cpu")
    assert np.all(np.abs(clean.dimension - 2) < 0.25)


def test_large_noise_approaches_the_ambient_dimension():
    res = id_scale(_noisy_plane(2000, 0.2, seed=1), max_rank=8, n_bootstrap=0, device="cpu")
    assert res.dimension[0] > 15


@pytest.mark.parametrize("d", [3, 6])
def test_gaussian_is_d_dimensional_at_every_scale(d):
    res = id_scale(_gaussian(3000, d, seed=d), max_rank=32, n_bootstrap=100, seed=0, device="cpu")
    assert np.all(np.abs(res.dimension - d) < 0.1 * d)
    assert np.all((res.ci_low <= res.dimension) & (res.dimension <= res.ci_high))


def test_intervals_match_the_spread_over_independent_samples():
    """The bootstrap standard error is the seed-to-seed spread; the 95% intervals cover."""
    d, seeds = 4, range(20)
    runs = [
        id_scale(_gaussian(800, d, seed=s), max_rank=8, n_bootstrap=100, seed=s, device="cpu")
        for s in seeds
    ]
    dims = np.array([r.dimension for r in runs])  # (seeds, scales)
    boot_se = np.array([r.std_error for r in runs]).mean(axis=0)
    ratio = boot_se / dims.std(axis=0, ddof=1)
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    centre = dims.mean(axis=0)  # the estimator's own mean, so its small bias does not count
    covered = np.mean([(r.ci_low <= centre) & (centre <= r.ci_high) for r in runs], axis=0)
    assert np.all(covered >= 0.8), covered


def test_reproducible_with_a_seed():
    X = _gaussian(600, 3, seed=0)
    a = id_scale(X, max_rank=16, n_bootstrap=30, seed=5, device="cpu")
    b = id_scale(X, max_rank=16, n_bootstrap=30, seed=5, device="cpu")
    c = id_scale(X, max_rank=16, n_bootstrap=30, seed=6, device="cpu")
    pd_a, pd_b = a.to_frame(), b.to_frame()
    assert pd_a.equals(pd_b)
    np.testing.assert_array_equal(a.dimension, c.dimension)  # no randomness without a subset
    assert not np.array_equal(a.ci_low, c.ci_low)
    sub = IDScale(max_rank=16, n_bootstrap=0, max_samples=300, seed=1, device="cpu")
    assert sub.fit(X).sample_indices_.tolist() == clone(sub).fit(X).sample_indices_.tolist()


def test_frame_and_attributes():
    X = _gaussian(500, 3, seed=2)
    est = IDScale(max_rank=20, n_bootstrap=10, confidence=0.9, seed=0, device="cpu").fit(X)
    res = est.result_
    assert isinstance(res, IDScaleResult)
    df = res.to_frame()
    assert list(df.columns) == [
        "n1",
        "n2",
        "dimension",
        "ci_low",
        "ci_high",
        "std_error",
        "scale",
        "scale_median",
        "n_points",
    ]
    assert df["n1"].tolist() == [1, 2, 4, 8] and df["n2"].tolist() == [2, 4, 8, 16]
    assert df.attrs["confidence"] == 0.9 and df.attrs["n_bootstrap"] == 10
    np.testing.assert_array_equal(est.dimensions_, res.dimension)
    assert est.n_features_in_ == 20 and res.n_samples_used == 500
    with pytest.raises(AttributeError):
        res.confidence = 0.5  # type: ignore[misc]
    none = id_scale(X, max_rank=4, n_bootstrap=0, device="cpu")
    assert np.isnan(none.ci_low).all() and np.isnan(none.std_error).all()


def test_float32_and_duplicates():
    X = _gaussian(600, 3, seed=3)
    a = id_scale(X, max_rank=16, n_bootstrap=0, device="cpu")
    b = id_scale(X, max_rank=16, n_bootstrap=0, device="cpu", dtype="float32")
    np.testing.assert_allclose(a.dimension, b.dimension, rtol=1e-3)
    dup = np.vstack([X, X[:100]])
    kept = id_scale(dup, max_rank=16, n_bootstrap=0, device="cpu")
    np.testing.assert_allclose(kept.dimension, a.dimension, rtol=1e-12)
    assert kept.n_duplicates == 100
    left = id_scale(dup, max_rank=16, n_bootstrap=0, drop_duplicates=False, device="cpu")
    assert left.n_points[0] == 500  # the 200 points with a copy have r1 = 0 at n1 = 1
    assert left.n_points[1] == 700


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_rank": 1}, "max_rank"),
        ({"max_rank": 2.5}, "max_rank"),
        ({"n_bootstrap": -1}, "n_bootstrap"),
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": 0}, "confidence"),
        ({"max_samples": 10}, "max_samples"),
        ({"device": "tpu"}, "device"),
        ({"dtype": "float16"}, "dtype"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        id_scale(_gaussian(100, 2, seed=0), **kwargs)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.ones(10), "2-D"),
        (np.vstack([np.eye(80, 2), [[np.nan, 2.0]]]), "NaN"),
        (np.zeros((40, 3)), "at least 65"),
        (_regular_polygon(100), "equals 1"),  # both nearest neighbours equidistant
    ],
)
def test_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        IDScale(device="cpu").fit(X)


def test_gride_bad_input():
    X = _gaussian(100, 2, seed=0)
    with pytest.raises(ValueError, match="n1"):
        Gride(n1=0).fit(X)
    with pytest.raises(ValueError, match="n2"):
        Gride(n1=4, n2=4).fit(X)
    with pytest.raises(ValueError, match="at least 101"):
        Gride(n1=50, device="cpu").fit(X)
    with pytest.raises(ValueError, match="n1 < n2"):
        gride_dimension(torch.ones(3), 2, 2)


# ------------------------------------------------------------------------------------------
# a probed network: the expansion before its activation, and the profile across scales


def _probed(blocks=("features.2", "features.9"), n_images=3, **kwargs):
    from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
    from manifold_lab.probing import probe

    torch.manual_seed(0)
    config = MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25)
    model = MobileNetV2(config).eval()
    x = torch.rand(n_images, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    kw = {"progress": False, "rank_pixels_per_batch": 0, "pixel_samples": 300, "seed": 2}
    return model, x, probe(model, x, blocks=list(blocks), **{**kw, **kwargs})


def test_probe_samples_the_expansion_before_its_activation():
    from manifold_lab.probing import find_blocks

    model, x, res = _probed()
    assert (
        set(res.preactivation_samples)
        == set(res.expansion_samples)
        == {
            "features.2",
            "features.9",
        }
    )
    for info in find_blocks(model, ["features.2", "features.9"]):
        pre = res.preactivation_samples[info.name]["pixels"]
        post = res.expansion_samples[info.name]["pixels"]
        n = min(300, res.block(info.name).n_pixels)
        assert pre.shape == post.shape == (n, info.hidden_channels)
        assert set(res.preactivation_samples[info.name]) == {"pixels"}
        # the same pixels: the activation of the pre-activation sample is the post sample
        np.testing.assert_array_equal(np.clip(pre, 0, info.clip), post)
        assert (pre < 0).any()  # really before the ReLU6
        # and they are the expansion's norm output at those pixels (computed directly)
        seen: dict[str, torch.Tensor] = {}

        def keep(m, a, out, seen=seen):
            seen.setdefault("y", out.detach().clone())

        handle = info.expansion_norm.register_forward_hook(keep)
        with torch.no_grad():
            model(x)
        handle.remove()
        y = seen["y"].permute(0, 2, 3, 1).reshape(-1, info.hidden_channels).numpy()
        rows = {tuple(np.round(v, 4)) for v in y}
        assert all(tuple(np.round(v, 4)) in rows for v in pre[:20])
    # disabled with the expansion samples
    _, _, off = _probed(sample_expansion=False)
    assert off.preactivation_samples == {} and off.expansion_samples == {}


def test_preactivation_samples_saved(tmp_path):
    _, _, res = _probed(blocks=("features.2",))
    path = res.save_samples(tmp_path / "s.pt")
    loaded = torch.load(path, weights_only=True)
    np.testing.assert_array_equal(
        loaded["preactivation_samples"]["features.2"]["pixels"].numpy(),
        res.preactivation_samples["features.2"]["pixels"],
    )


def test_id_scale_profile_and_plot():
    from manifold_lab.plots import plot_id_scale
    from manifold_lab.probing import id_profile, id_scale_profile

    _, _, res = _probed()
    df = id_scale_profile(res, max_rank=16, n_bootstrap=20, max_points=200, device="cpu")
    assert list(df["layer"].unique()) == ["bottleneck", "preactivation", "expansion"]
    assert list(df["name"].unique()) == ["features.2", "features.9"]
    assert df.groupby(["name", "layer"]).size().eq(4).all()  # n1 = 1, 2, 4, 8
    assert {"ci_low", "ci_high", "scale", "n_duplicates", "n_features"} <= set(df.columns)
    ok = df["ci_low"].notna()
    assert ((df["ci_low"] <= df["dimension"]) & (df["dimension"] <= df["ci_high"]))[ok].all()
    assert (df["n_points"] <= 200).all()
    again = id_scale_profile(res, max_rank=16, n_bootstrap=20, max_points=200, device="cpu")
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(df, again)
    pre = id_profile(res, methods="pca", layer="preactivation", device="cpu")
    assert (pre["n_features"] == pre["n_features"].max()).any()
    fig = plot_id_scale(df)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 6 and sum(t.showlegend for t in lines) == 3
    assert len([t for t in fig.data if t.fill == "toself"]) == 6
    assert plot_id_scale(df, x="scale").layout.xaxis.type == "log"
    single = plot_id_scale(id_scale(_gaussian(300, 3, 0), max_rank=8, seed=0).to_frame())
    assert len(single.data) == 2
    with pytest.raises(ValueError, match="layer"):
        id_scale_profile(res, layers=["voxels"])
    with pytest.raises(ValueError, match="layers is empty"):
        id_scale_profile(res, layers=[])
    with pytest.raises(ValueError, match="x must"):
        plot_id_scale(df, x="distance")
    with pytest.raises(ValueError, match="non-empty"):
        plot_id_scale(df.iloc[:0])
    _, _, none = _probed(pixel_samples=0)
    with pytest.raises(ValueError, match="no pixel samples"):
        id_scale_profile(none)
