"""Intrinsic-dimension estimators: truth, agreement with scikit-dimension, robustness."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.base import clone
from sklearn.decomposition import PCA

import manifold_lab as ml
from manifold_lab.intrinsic_dimension import (
    ID_ESTIMATORS,
    MLE,
    ParticipationRatio,
    PCADimension,
    TwoNN,
    estimate_id,
)
from manifold_lab.intrinsic_dimension.neighbors import knn_distances

N = 2000  # sample size of every reference data set below


def _ball5_in_r20(seed: int = 0) -> np.ndarray:
    """Uniform 5-ball embedded linearly (random orthonormal basis) in R^20."""
    return ml.make_ball(N, dim=5, ambient_dim=20, seed=seed)[0]


def _swiss_roll(seed: int = 0) -> np.ndarray:
    """scikit-learn's swiss roll (2-D surface in R^3)."""
    return ml.make_swiss_roll(N, seed=seed)[0]


def _gaussian10_in_r50(seed: int = 0) -> np.ndarray:
    """Standard Gaussian in a random 10-D subspace of R^50."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((50, 10)))[0]
    return rng.standard_normal((N, 10)) @ basis.T


DATASETS = {
    "ball5_in_R20_n2000": (_ball5_in_r20, 5),
    "swiss_roll_n2000": (_swiss_roll, 2),
    "gaussian10_in_R50_n2000": (_gaussian10_in_r50, 10),
}
NEIGHBOUR_ESTIMATORS = {"twonn": TwoNN, "mle": MLE}


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return {name: make() for name, (make, _) in DATASETS.items()}


@pytest.mark.parametrize("est_name", sorted(NEIGHBOUR_ESTIMATORS))
@pytest.mark.parametrize("data_name", sorted(DATASETS))
def test_true_dimension_within_10_percent(data, data_name, est_name):
    """2,000 points of each reference set: the estimate is within 10% of the true dimension."""
    true_dim = DATASETS[data_name][1]
    est = NEIGHBOUR_ESTIMATORS[est_name](device="cpu").fit(data[data_name])
    assert abs(est.dimension_ - true_dim) / true_dim < 0.10, est.dimension_


@pytest.mark.parametrize("est_name", sorted(NEIGHBOUR_ESTIMATORS))
@pytest.mark.parametrize("data_name", sorted(DATASETS))
def test_agrees_with_scikit_dimension_within_5_percent(data, data_name, est_name):
    """2,000 points of each reference set: ours and skdim's default estimator agree."""
    skdim = pytest.importorskip("skdim")
    X = data[data_name]
    ours = NEIGHBOUR_ESTIMATORS[est_name](device="cpu").fit(X).dimension_
    ref_cls = {"twonn": skdim.id.TwoNN, "mle": skdim.id.MLE}[est_name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ref_cls().fit(X).dimension_
    assert abs(ours - ref) / ref < 0.05, (ours, ref)
    # the recipes are the same: in practice the agreement is to rounding error
    assert ours == pytest.approx(ref, rel=1e-6)


def _with_duplicates(X: np.ndarray, seed: int = 1) -> np.ndarray:
    """X plus 30% of its rows again and 10% all-zero rows, shuffled."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    dup = X[rng.choice(n, int(0.3 * n), replace=False)]
    zeros = np.zeros((int(0.1 * n), X.shape[1]))
    out = np.vstack([X, dup, zeros])
    return out[rng.permutation(out.shape[0])]


@pytest.mark.parametrize("est_cls", [TwoNN, MLE])
def test_duplicates_and_zero_rows_are_dropped(data, est_cls):
    """Ball in R^20 (2,000 points) + 600 duplicated rows + 200 zero rows ~ the clean estimate."""
    X = data["ball5_in_R20_n2000"]
    Xd = _with_duplicates(X)
    clean = est_cls(device="cpu").fit(X)
    dirty = est_cls(device="cpu").fit(Xd)
    assert np.isfinite(dirty.dimension_)
    assert dirty.dimension_ == pytest.approx(clean.dimension_, rel=0.02)
    # 600 duplicates plus 199 zero rows beyond the first one (X has no zero row)
    assert dirty.n_duplicates_ == 799
    assert dirty.n_samples_used_ == N + 1
    assert len(np.unique(Xd[dirty.sample_indices_], axis=0)) == dirty.n_samples_used_


def test_twonn_without_dropping_leaves_out_zero_distances(data):
    """drop_duplicates=False: points with r1 = 0 are left out (as in skdim), still finite."""
    Xd = _with_duplicates(data["ball5_in_R20_n2000"])
    est = TwoNN(drop_duplicates=False, device="cpu").fit(Xd)
    assert np.isfinite(est.dimension_)
    assert est.n_duplicates_ == 0
    assert np.isinf(est.mu_).sum() > 0
    mle = MLE(drop_duplicates=False, device="cpu").fit(Xd)
    assert np.isfinite(mle.dimension_)
    assert np.isnan(mle.dimension_pw_).sum() > 0


def test_knn_distances_match_brute_force():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((301, 7)) * 3.0 + 50.0
    X[10] = X[11] + 1e-9  # a near-duplicate pair, far from the origin
    ref = np.sort(cdist(X, X), axis=1)[:, 1:]
    T = torch.from_numpy(X)
    for k, block in [(1, None), (2, 7), (5, 37), (20, 300), (300, 64)]:
        got = knn_distances(T, k, block).numpy()
        np.testing.assert_allclose(got, ref[:, :k], rtol=1e-9, atol=1e-12)
    got32 = knn_distances(T.float(), 5, 50).double().numpy()
    keep = np.ones(len(X), dtype=bool)
    keep[[10, 11]] = False  # equal in float32
    np.testing.assert_allclose(got32[keep], ref[keep, :5], rtol=1e-4)


def test_block_size_does_not_change_the_estimate(data):
    X = data["swiss_roll_n2000"]
    auto = TwoNN(device="cpu").fit(X).dimension_
    small = TwoNN(block_size=123, device="cpu").fit(X).dimension_
    assert small == pytest.approx(auto, rel=1e-12)
    m_auto = MLE(device="cpu").fit(X).dimension_
    m_small = MLE(block_size=500, device="cpu").fit(X).dimension_
    assert m_small == pytest.approx(m_auto, rel=1e-12)


def test_float32_and_tensor_input(data, device):
    X = data["gaussian10_in_R50_n2000"]
    ref = TwoNN(device="cpu").fit(X).dimension_
    got = TwoNN(device=device).fit(torch.from_numpy(X)).dimension_
    assert got == pytest.approx(ref, rel=1e-9)
    got32 = TwoNN(device=device, dtype="float32").fit(torch.from_numpy(X).float()).dimension_
    assert got32 == pytest.approx(ref, rel=1e-3)
    mle32 = MLE(device=device, dtype="float32").fit(X).dimension_
    assert mle32 == pytest.approx(MLE(device="cpu").fit(X).dimension_, rel=1e-3)


def test_subsample_is_seeded(data):
    X = data["ball5_in_R20_n2000"]
    a = TwoNN(max_samples=500, seed=3, device="cpu").fit(X)
    b = TwoNN(max_samples=500, seed=3, device="cpu").fit(X)
    c = TwoNN(max_samples=500, seed=4, device="cpu").fit(X)
    assert a.dimension_ == b.dimension_
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    assert not np.array_equal(a.sample_indices_, c.sample_indices_)
    assert a.n_samples_used_ == 500
    m1 = MLE(max_samples=500, seed=3, device="cpu").fit(X).dimension_
    m2 = MLE(max_samples=500, seed=3, device="cpu").fit(X).dimension_
    assert m1 == m2
    # no subsampling: deterministic and independent of the seed
    assert TwoNN(seed=1).fit(X).dimension_ == TwoNN(seed=2).fit(X).dimension_


def test_mle_k_range(data):
    X = data["swiss_roll_n2000"]
    rng_est = MLE(k=(10, 20), device="cpu").fit(X)
    assert sorted(rng_est.dimension_by_k_) == list(range(10, 21))
    assert rng_est.dimension_by_k_[20] == pytest.approx(MLE(k=20).fit(X).dimension_, rel=1e-12)
    assert rng_est.dimension_ == pytest.approx(np.mean(list(rng_est.dimension_by_k_.values())))
    assert rng_est.dimension_pw_.shape == (N,)


def test_pca_dimension_of_exact_subspace():
    """600 points in an exact 3-D subspace of R^20: 90% of the variance needs <= 3 components."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 3)) @ rng.standard_normal((3, 20)) + 5.0
    est = PCADimension(device="cpu").fit(X)
    assert 1 <= est.dimension_ <= 3
    assert PCADimension(threshold=1.0, device="cpu").fit(X).dimension_ == 3
    assert est.explained_variance_ratio_[:3].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(
        est.explained_variance_ratio_[:3], PCA().fit(X).explained_variance_ratio_[:3], rtol=1e-9
    )


def test_pca_dimension_counts_and_gram_path():
    # isotropic in 10 dimensions, exact spectrum: the threshold counts components exactly
    X = np.vstack([np.eye(10), -np.eye(10)]) * np.sqrt(19 / 2)
    ev = PCADimension(device="cpu").fit(X).explained_variance_
    np.testing.assert_allclose(ev, np.ones(10))
    assert PCADimension(threshold=0.9, device="cpu").fit(X).dimension_ == 9
    assert PCADimension(threshold=0.95, device="cpu").fit(X).dimension_ == 10
    # fewer samples than features: the Gram matrix gives the same spectrum
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((15, 40))
    est = PCADimension(device="cpu").fit(Y)
    assert est.explained_variance_.shape == (15,)
    np.testing.assert_allclose(
        est.explained_variance_[:14], PCA().fit(Y).explained_variance_[:14], rtol=1e-9
    )


@pytest.mark.parametrize("d", [1, 5, 20])
def test_participation_ratio_of_isotropic_gaussian(d):
    """20,000 points of a standard Gaussian in R^d embedded in R^64: PR ~ d."""
    rng = np.random.default_rng(d)
    basis = np.linalg.qr(rng.standard_normal((64, d)))[0]
    X = rng.standard_normal((20_000, d)) @ basis.T
    assert ParticipationRatio(device="cpu").fit(X).dimension_ == pytest.approx(d, rel=0.03)


def test_participation_ratio_analytic_spectrum():
    """Variances (4, 1, 1, 1): PR = 49 / 19."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50_000, 4)) * np.sqrt([4.0, 1.0, 1.0, 1.0])
    assert ParticipationRatio(device="cpu").fit(X).dimension_ == pytest.approx(49 / 19, rel=0.02)


def test_zero_variance():
    X = np.ones((10, 3))
    assert PCADimension(device="cpu").fit(X).dimension_ == 0
    assert ParticipationRatio(device="cpu").fit(X).dimension_ == 0.0
    with pytest.raises(ValueError, match="distinct"):
        TwoNN(device="cpu").fit(X)
    with pytest.raises(ValueError, match="distinct"):
        MLE(device="cpu").fit(np.ones((30, 3)))


def test_regular_grid_is_refused():
    X = np.arange(100.0).reshape(-1, 1)
    with pytest.raises(ValueError, match="equals 1"):
        TwoNN(device="cpu").fit(X)


@pytest.mark.parametrize("est_cls", list(ID_ESTIMATORS.values()))
@pytest.mark.parametrize(
    "X, match",
    [
        (np.ones(10), "2-D"),
        (np.ones((2, 3, 4)), "2-D"),
        (np.vstack([np.eye(30, 2), [[np.nan, 2.0]]]), "NaN"),
        (np.vstack([np.eye(30, 2), [[np.inf, 2.0]]]), "NaN"),
        (np.zeros((1, 3)), "at least"),
        (np.zeros((0, 3)), "at least"),
        (torch.ones(5), "2-D"),
        (torch.cat([torch.eye(30, 2), torch.tensor([[float("nan"), 2.0]])]), "NaN"),
        ([["a", "b"], ["c", "d"]], "numeric"),
    ],
)
def test_bad_input_raises(est_cls, X, match):
    with pytest.raises(ValueError, match=match):
        est_cls(device="cpu").fit(X)


def test_too_few_samples_for_k():
    X = np.random.default_rng(0).standard_normal((10, 3))
    with pytest.raises(ValueError, match="at least 21"):
        MLE(k=20, device="cpu").fit(X)
    with pytest.raises(ValueError, match="at least 3"):
        TwoNN(device="cpu").fit(X[:2])


@pytest.mark.parametrize(
    "est, match",
    [
        (TwoNN(discard_fraction=1.0), "discard_fraction"),
        (TwoNN(discard_fraction=-0.1), "discard_fraction"),
        (TwoNN(discard_fraction=float("nan")), "discard_fraction"),
        (TwoNN(max_samples=2), "max_samples"),
        (TwoNN(block_size=0), "block_size"),
        (TwoNN(dtype="float16"), "dtype"),
        (TwoNN(device="tpu"), "device"),
        (MLE(k=1), "k must"),
        (MLE(k=(10, 5)), "k must"),
        (MLE(k=2.5), "k must"),
        (MLE(k=(2, 3, 4)), "k must"),
        (PCADimension(threshold=0.0), "threshold"),
        (PCADimension(threshold=1.5), "threshold"),
    ],
)
def test_bad_parameters_raise(est, match):
    X = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.raises(ValueError, match=match):
        est.fit(X)


def test_registry_and_helper(data):
    X = data["swiss_roll_n2000"]
    assert set(ID_ESTIMATORS) == {"twonn", "mle", "gride", "pca", "pr"}
    assert estimate_id(X, device="cpu") == TwoNN(device="cpu").fit(X).dimension_
    assert estimate_id(X, "MLE", k=10, device="cpu") == MLE(k=10).fit(X).dimension_
    assert estimate_id(X, "pca", threshold=0.99, device="cpu") == 3
    assert 1.0 < estimate_id(X, "pr", device="cpu") < 3.0
    with pytest.raises(ValueError, match="unknown method"):
        estimate_id(X, "danco")


def test_scikit_learn_api():
    est = MLE(k=(5, 10), max_samples=100, seed=0)
    assert est.get_params()["k"] == (5, 10)
    assert clone(est).get_params() == est.get_params()
    assert "MLE(k=(5, 10)" in repr(est)
    X = np.random.default_rng(0).standard_normal((200, 4))
    assert est.fit(X) is est
    assert est.n_features_in_ == 4
    assert isinstance(est.dimension_, float)
    assert isinstance(PCADimension().fit(X).dimension_, int)


def test_cuda_refused_when_absent():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match="CUDA"):
        TwoNN(device="cuda").fit(np.random.default_rng(0).standard_normal((20, 3)))
