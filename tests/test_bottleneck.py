"""What rectifying a bottleneck destroys: synthetic data where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from manifold_lab.bottleneck import (
    BOTTLENECK_ACTIVATIONS,
    RectificationLoss,
    analyse_bottlenecks,
    bottleneck_probe_comparison,
    linear_probe_accuracy,
    rectification_loss,
)


def _gaussian(n: int = 4000, c: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, c))


@pytest.mark.parametrize("activation", ["relu", "relu6"])
def test_positive_vectors_lose_nothing(activation):
    Z = np.random.default_rng(0).uniform(0.1, 5.0, size=(1000, 6))
    res = rectification_loss(Z, activation)
    assert res.zeroed_fraction == 0.0
    assert res.clipped_fraction == 0.0
    assert res.vectors_losing_fraction == 0.0
    assert res.recon_error < 1e-9
    assert res.r2_mean == pytest.approx(1.0, abs=1e-9)


def test_identity_is_a_perfect_baseline():
    res = rectification_loss(_gaussian(), "identity")
    assert res.recon_error < 1e-9
    assert res.zeroed_fraction == res.clipped_fraction == res.vectors_losing_fraction == 0.0


def test_symmetric_gaussian_loses_half_the_coordinates():
    """4,000 standard Gaussian vectors in 8 dims: half the coordinates are zeroed."""
    Z = _gaussian()
    res = rectification_loss(Z, "relu")
    assert res.zeroed_fraction == pytest.approx(0.5, abs=0.01)
    assert res.vectors_losing_fraction == pytest.approx(1 - 0.5**8, abs=0.01)
    assert 0.1 < res.recon_error < 1.0
    assert res.r2_mean == pytest.approx(1 - res.recon_error, abs=0.02)  # equal variances
    # ReLU6 clips almost nothing of a standard Gaussian: the same loss
    res6 = rectification_loss(Z, "relu6")
    assert res6.zeroed_fraction == res.zeroed_fraction
    assert res6.clipped_fraction < 1e-6
    assert res6.recon_error == pytest.approx(res.recon_error, rel=1e-3)


def test_relu6_clips_above_six():
    Z = _gaussian(seed=1) * 2.0 + 6.0
    res6 = rectification_loss(Z, "relu6")
    assert res6.clipped_fraction == pytest.approx(0.5, abs=0.01)
    assert res6.zeroed_fraction == pytest.approx(0.0013, abs=0.002)
    assert res6.recon_error > 0.2
    assert rectification_loss(Z, "relu").recon_error < 0.01


def test_zeroed_is_not_lost_when_the_negative_half_is_kept():
    """Z = [W, -W]: ReLU zeroes half of Z, yet Z = ReLU(W) - ReLU(-W) is linear in ReLU(Z)."""
    W = _gaussian(c=4)
    res = rectification_loss(np.hstack([W, -W]), "relu")
    assert res.zeroed_fraction == pytest.approx(0.5, abs=0.01)
    assert res.recon_error < 1e-9


def test_rectification_loss_is_seeded_and_serialisable():
    Z = _gaussian(n=1000)
    a = rectification_loss(Z, seed=3)
    assert a == rectification_loss(Z, seed=3)
    assert a.recon_error != rectification_loss(Z, seed=4).recon_error
    d = a.to_dict()
    assert d["activation"] == "relu" and d["n_train"] + d["n_test"] == 1000
    assert isinstance(a, RectificationLoss)
    with pytest.raises(AttributeError):
        a.recon_error = 0.0  # type: ignore[misc]
    # torch input gives the same numbers
    assert rectification_loss(torch.from_numpy(Z), seed=3) == a


@pytest.mark.parametrize(
    "Z, kwargs, match",
    [
        (np.ones(10), {}, "2-D"),
        (np.array([[1.0, np.nan]] * 50), {}, "NaN"),
        (np.array([[1.0, np.inf]] * 50), {}, "NaN"),
        (np.ones((10, 8)), {}, "training"),  # 5 training vectors for 8 channels
        (np.ones((2, 1)), {"test_fraction": 0.9}, "training"),
        (np.ones((50, 2)), {"activation": "gelu"}, "activation"),
        (np.ones((50, 2)), {"test_fraction": 1.0}, "test_fraction"),
        (np.ones((50, 2)), {"test_fraction": 0}, "test_fraction"),
        (np.ones((50, 2)), {"ridge": -1.0}, "ridge"),
        (np.ones((50, 2)), {"seed": -1}, "seed"),
    ],
)
def test_rectification_loss_bad_input(Z, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rectification_loss(Z, **kwargs)


def test_probe_survives_when_the_sign_is_kept():
    """Label = sign of a coordinate: ReLU keeps it (positive or zero), the probe survives."""
    Z = _gaussian(n=1000, c=4, seed=2)
    y = (Z[:, 0] > 0).astype(int)
    acc = bottleneck_probe_comparison(Z, y)
    assert list(acc) == list(BOTTLENECK_ACTIVATIONS)
    assert acc["identity"] > 0.97
    # still separable (relu(z0) > 0 or == 0), but with no margin: the L2 penalty costs a little
    assert acc["relu"] > 0.93
    assert acc["relu6"] > 0.93


def test_probe_drops_when_the_label_lives_where_relu_outputs_zero():
    """Label = (z0 < -0.7): every negative z0 maps to 0, so the rectified probe guesses."""
    Z = _gaussian(n=1000, c=4, seed=3)
    y = (Z[:, 0] < -0.7).astype(int)
    acc = bottleneck_probe_comparison(Z, y)
    majority = 1 - y.mean()
    assert acc["identity"] > 0.97
    assert acc["relu"] < majority + 0.05
    assert acc["relu6"] < majority + 0.05


def test_probe_drops_for_relu6_only_above_six():
    """Label = (z0 > 7), z0 ~ N(6, 1.5): ReLU keeps it, ReLU6 clips it away."""
    Z = _gaussian(n=1000, c=4, seed=4) * 1.5 + 6.0
    y = (Z[:, 0] > 7).astype(int)
    acc = bottleneck_probe_comparison(Z, y)
    assert acc["identity"] > 0.97
    assert acc["relu"] > 0.97
    assert acc["relu6"] < max(y.mean(), 1 - y.mean()) + 0.05


def test_linear_probe_multiclass_and_seeding():
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((3, 5)) * 4
    y = np.repeat([0, 1, 2], 100)
    X = centers[y] + rng.standard_normal((300, 5))
    acc = linear_probe_accuracy(X, y)
    assert acc > 0.95
    assert acc == linear_probe_accuracy(X, y)
    assert linear_probe_accuracy(X, y.astype(str)) == acc  # string labels
    assert linear_probe_accuracy(torch.from_numpy(X), torch.from_numpy(y)) == acc


@pytest.mark.parametrize(
    "X, y, kwargs, match",
    [
        (np.ones((20, 2)), np.zeros(20), {}, "2 classes"),
        (np.ones((20, 2)), np.r_[np.zeros(19), 1], {}, "at least 2 samples"),
        (np.ones((20, 2)), np.zeros(19), {}, "shape"),
        (np.ones((20, 2)), np.zeros((20, 1)), {}, "shape"),
        (np.ones(20), np.zeros(20), {}, "2-D"),
        (np.full((20, 2), np.nan), np.r_[np.zeros(10), np.ones(10)], {}, "NaN"),
        (np.ones((20, 2)), np.r_[np.zeros(10), np.ones(9), np.nan], {}, "NaN"),
        (np.ones((20, 2)), np.r_[np.zeros(10), np.ones(10)], {"C": 0.0}, "C must"),
        (np.ones((20, 2)), np.r_[np.zeros(10), np.ones(10)], {"max_iter": 0}, "max_iter"),
        (np.ones((20, 2)), np.r_[np.zeros(10), np.ones(10)], {"test_fraction": 0.01}, "split"),
    ],
)
def test_linear_probe_bad_input(X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        linear_probe_accuracy(X, y, **kwargs)


def test_probe_comparison_bad_activation():
    Z = _gaussian(n=100, c=3)
    y = (Z[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="activation"):
        bottleneck_probe_comparison(Z, y, activations=("relu", "tanh"))
    with pytest.raises(ValueError, match="at least one"):
        bottleneck_probe_comparison(Z, y, activations=())
    assert list(bottleneck_probe_comparison(Z, y, activations="relu")) == ["relu"]


def test_analyse_bottlenecks_table():
    rng = np.random.default_rng(6)
    Zi = rng.standard_normal((200, 4))
    samples = {
        "features.2.conv.3": {"pixels": rng.standard_normal((2000, 4))},
        "features.3.conv.3": {
            "pixels": torch.from_numpy(rng.uniform(0.1, 1.0, (2000, 4))),
            "images": Zi,
            "labels": (Zi[:, 0] < -0.7).astype(int),
        },
    }
    df = analyse_bottlenecks(samples)
    assert isinstance(df, pd.DataFrame)
    assert df["block"].tolist() == list(samples)
    expected = {
        "block",
        "channels",
        "n_pixels",
        "zeroed_fraction_relu",
        "zeroed_fraction_relu6",
        "recon_error_relu",
        "recon_error_relu6",
        "recon_error_identity",
        "probe_acc_identity",
        "probe_acc_relu",
        "probe_acc_relu6",
    }
    assert expected <= set(df.columns)
    first, second = df.iloc[0], df.iloc[1]
    assert first["channels"] == 4 and first["n_pixels"] == 2000
    assert first["zeroed_fraction_relu"] == pytest.approx(0.5, abs=0.02)
    assert first["recon_error_relu"] > 0.1
    assert np.isnan(first["probe_acc_relu"])
    assert second["zeroed_fraction_relu"] == 0.0
    assert second["recon_error_relu"] < 1e-9
    assert second["probe_acc_identity"] > second["probe_acc_relu"]
    assert (df["recon_error_identity"] < 1e-9).all()
    # same seed, same table
    pd.testing.assert_frame_equal(df, analyse_bottlenecks(samples))
    # without any labels there are no probe columns
    no_probe = analyse_bottlenecks({"b": {"pixels": rng.standard_normal((100, 3))}})
    assert "probe_acc_relu" not in no_probe.columns


@pytest.mark.parametrize(
    "samples, match",
    [
        ({}, "non-empty"),
        ([("b", {})], "non-empty"),
        ({"b": np.ones((10, 2))}, "must be a dict"),
        ({"b": {"images": np.ones((10, 2))}}, "no 'pixels'"),
        ({"b": {"pixels": np.ones((100, 2)), "pixel": 1}}, "unknown key"),
        ({"b": {"pixels": np.ones((100, 2)), "labels": np.zeros(10)}}, "no 'images'"),
        (
            {
                "b": {
                    "pixels": np.ones((100, 2)),
                    "images": np.ones((10, 3)),
                    "labels": np.r_[np.zeros(5), np.ones(5)],
                }
            },
            "channels",
        ),
        ({"b": {"pixels": np.full((100, 2), np.nan)}}, "block 'b'.*NaN"),
    ],
)
def test_analyse_bottlenecks_bad_input(samples, match):
    with pytest.raises(ValueError, match=match):
        analyse_bottlenecks(samples)


def test_analyse_bottlenecks_with_too_few_vectors_keeps_the_counts():
    rng = np.random.default_rng(0)
    frame = analyse_bottlenecks({"b": {"pixels": rng.normal(size=(6, 4))}})
    row = frame.iloc[0]
    assert np.isnan(row["recon_error_relu"]) and np.isnan(row["r2_relu6"])
    assert 0 < row["zeroed_fraction_relu"] < 1
