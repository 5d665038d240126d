from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import manifold_lab as ml


def test_preserved_fraction_is_the_binomial_tail() -> None:
    n = np.arange(1, 40)
    for d in (1, 2, 5):
        expected = [sum(stats.binom.pmf(j, w, 0.5) for j in range(d, w + 1)) for w in n]
        np.testing.assert_allclose(ml.preserved_fraction(n, d), expected)
    # Theorem 1 in the paper's form: 1 - N(m, n) / 2^m with N = sum_{k<=m-n} C(m, k)
    from math import comb

    m, dd = 10, 3
    paper = sum(comb(m, k) for k in range(m - dd + 1)) / 2**m
    assert np.isclose(ml.preserved_fraction(m, dd), paper)
    with pytest.raises(ValueError):
        ml.preserved_fraction(3, 0)


def test_thresholds_come_from_the_literature() -> None:
    labels = {t.label: t for t in ml.INJECTIVITY_THRESHOLDS}
    assert labels["necessary n >= 2d"].widths(3) == (6.0, 6.0)
    assert labels["Gaussian: 3.4 to 10.5"].ratio_high == 10.5
    assert np.isclose(labels["replica ~6.7"].ratio_low, 6.698)


@pytest.mark.parametrize("kind", sorted(ml.EMBEDDINGS))
def test_embeddings_reproducible_and_independent(kind: str) -> None:
    T1, _ = ml.random_embedding(3, 8, 5, kind=kind)
    T2, _ = ml.random_embedding(3, 8, 5, kind=kind)
    np.testing.assert_array_equal(T1, T2)
    stack, _ = ml.random_embeddings(3, 8, [4, 5, 6], kind=kind)
    np.testing.assert_array_equal(stack[1], T1)
    assert not np.array_equal(ml.random_embedding(3, 8, 6, kind=kind)[0], T1)
    wider = ml.random_embedding(3, 9, 5, kind=kind)[0]
    if kind == "orthonormal":  # the orthonormalised nested Gaussian rows
        G = ml.random_embedding(3, 9, 5)[0]
        Q = wider / 3.0
        np.testing.assert_allclose(Q @ (Q.T @ G), G, atol=1e-12)  # same column space
    else:  # widening a layer adds rows to the same layer
        np.testing.assert_array_equal(wider[:8], T1)


def test_bias_is_nested_too() -> None:
    _, b1 = ml.random_embedding(2, 4, 3, bias=1.0)
    _, b2 = ml.random_embedding(2, 10, 3, bias=1.0)
    assert b1 is not None and b2 is not None
    np.testing.assert_array_equal(b2[:4], b1)


def test_orthonormal_columns_and_bias_scale() -> None:
    T, _ = ml.random_embedding(3, 10, 0, kind="orthonormal")
    np.testing.assert_allclose(T.T @ T, 10 * np.eye(3), atol=1e-12)
    Tw, _ = ml.random_embedding(5, 2, 0, kind="orthonormal")
    np.testing.assert_allclose(Tw @ Tw.T, 2 * np.eye(2), atol=1e-12)
    bs = np.stack([ml.random_embedding(2, 50, s, bias=0.5, data_scale=4.0)[1] for s in range(40)])
    assert abs(bs.std() - 2.0) < 0.1


def test_embedding_bad_input() -> None:
    with pytest.raises(ValueError, match="width"):
        ml.random_embedding(2, 0, 0)
    with pytest.raises(ValueError, match="seed"):
        ml.random_embedding(2, 3, -1)
    with pytest.raises(ValueError, match="embedding"):
        ml.random_embedding(2, 3, 0, kind="cauchy")
