"""The shared helpers: scalar checks, atomic writes, progress bars, deprecated aliases."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import manifold_lab as ml
from manifold_lab._deprecation import renamed_parameters
from manifold_lab._progress import progress_bar
from manifold_lab._validation import check_points_tensor, check_scalar
from manifold_lab.fileio import atomic_path, atomic_write_bytes, atomic_write_text

# ------------------------------------------------------------------------------ check_scalar


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (3, {"kind": int}, 3),
        (np.int64(3), {"kind": int, "minimum": 3}, 3),
        (2, {}, 2.0),
        (np.float32(0.5), {"minimum": 0, "maximum": 1}, 0.5),
        (None, {"allow_none": True}, None),
        (0.0, {"minimum": 0}, 0.0),
        (1.0, {"maximum": 1}, 1.0),
    ],
)
def test_check_scalar_accepts(value, kwargs, expected) -> None:
    out = check_scalar(value, "x", **kwargs)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (True, {"kind": int}, "x must be an integer, got True"),
        (False, {}, "x must be a finite number, got False"),
        (2.0, {"kind": int}, "x must be an integer, got 2.0"),
        ("1", {}, "x must be a finite number, got '1'"),
        (float("nan"), {}, "x must be a finite number, got nan"),
        (float("inf"), {"minimum": 0}, "x must be a finite number >= 0, got inf"),
        (1, {"kind": int, "minimum": 2}, "x must be an integer >= 2, got 1"),
        (0.0, {"minimum": 0, "include_min": False}, "x must be a finite number > 0, got 0.0"),
        (1.0, {"maximum": 1, "include_max": False}, "x must be a finite number < 1, got 1.0"),
        (
            1.0,
            {"minimum": 0, "maximum": 1, "include_min": False, "include_max": False},
            r"x must be a finite number in \(0, 1\), got 1.0",
        ),
        (None, {}, "x must be a finite number, got None"),
        (0, {"kind": int, "minimum": 1, "allow_none": True}, "None or an integer >= 1, got 0"),
    ],
)
def test_check_scalar_refuses_with_the_value_and_the_range(value, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_scalar(value, "x", **kwargs)


def test_check_points_tensor_matches_check_points() -> None:
    import torch

    cpu = torch.device("cpu")
    X = np.arange(6.0).reshape(3, 2)
    T = check_points_tensor(X, dtype=torch.float32, device=cpu)
    assert T.dtype == torch.float32 and T.shape == (3, 2)
    assert check_points_tensor(torch.from_numpy(X), dtype=torch.float64, device=cpu).equal(
        torch.from_numpy(X)
    )
    with pytest.raises(ValueError, match="2-D"):
        check_points_tensor(torch.ones(4), dtype=torch.float64, device=cpu)
    with pytest.raises(ValueError, match="real numbers"):
        check_points_tensor(torch.ones(3, 2, dtype=torch.bool), dtype=torch.float64, device=cpu)
    with pytest.raises(ValueError, match=r"in torch.float32\) in 1 point"):
        check_points_tensor([[1e300, 0.0], [0.0, 0.0]], dtype=torch.float32, device=cpu)


# ------------------------------------------------------------------------------ atomic writes


def test_atomic_writes(tmp_path: Path) -> None:
    p = atomic_write_text(tmp_path / "a.txt", "héllo")
    assert p.read_text(encoding="utf-8") == "héllo"
    assert atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert atomic_write_text(tmp_path / "c.bin", b"raw").read_bytes() == b"raw"
    mask = os.umask(0)
    os.umask(mask)
    assert (p.stat().st_mode & 0o777) == 0o666 & ~mask
    with pytest.raises(ValueError, match="does not exist"):
        atomic_write_text(tmp_path / "missing" / "a.txt", "x")
    deep = atomic_write_text(tmp_path / "new" / "dir" / "a.txt", "x", make_parents=True)
    assert deep.read_text() == "x"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.bin", "new"]


def test_atomic_path_leaves_the_target_alone_on_error(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "t.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["t.txt"]  # no temporary file left
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


# ------------------------------------------------------------------------------ progress


def test_progress_bar_modes() -> None:
    from tqdm.auto import tqdm

    assert not isinstance(progress_bar([1], progress=False), tqdm)
    assert not isinstance(progress_bar([1], disable=True), tqdm)
    on = progress_bar([1, 2], progress=True)
    assert isinstance(on, tqdm) and list(on) == [1, 2]
    auto = progress_bar(total=3, progress=None)  # tqdm's auto mode: off without a terminal
    auto.set_postfix_str("k=1")
    auto.close()
    quiet = progress_bar(total=3, progress=False)
    quiet.update(1)
    quiet.set_postfix_str("k=1")
    quiet.close()


# ------------------------------------------------------------------------------ deprecation


def test_renamed_parameters() -> None:
    @renamed_parameters(random_state="seed", d="k")
    def f(x, *, seed=None, k=1):
        return x, seed, k

    with pytest.warns(DeprecationWarning, match="'random_state' is deprecated.*use 'seed'"):
        assert f(1, random_state=5) == (1, 5, 1)
    with pytest.warns(DeprecationWarning, match="'d'"):
        assert f(1, d=3) == (1, None, 3)
    with pytest.raises(TypeError, match=r"both 'random_state'.*and 'seed'"):
        f(1, random_state=5, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(2, seed=1, k=2) == (2, 1, 2)
    assert f.__name__ == "f"
    with pytest.raises(ValueError):
        renamed_parameters(a="a")


def test_deprecated_random_state_still_works_everywhere() -> None:
    with pytest.warns(DeprecationWarning, match="make_spiral"):
        X_old = ml.make_spiral(50, sampling="uniform", random_state=3)[0]
    np.testing.assert_array_equal(X_old, ml.make_spiral(50, sampling="uniform", seed=3)[0])
    with pytest.warns(DeprecationWarning, match="make_manifold"):
        m = ml.make_manifold("ball", 40, random_state=1)
    np.testing.assert_array_equal(m.X, ml.make_manifold("ball", 40, seed=1).X)
    assert m.params["seed"] == 1
    Z = np.random.default_rng(0).standard_normal((200, 3))
    with pytest.warns(DeprecationWarning, match="rectification_loss"):
        old = ml.rectification_loss(Z, random_state=2)
    assert old == ml.rectification_loss(Z, seed=2)
    with pytest.warns(DeprecationWarning, match="preserved_fraction"):
        assert ml.preserved_fraction(3, d=2) == ml.preserved_fraction(3, k=2)
    th = ml.INJECTIVITY_THRESHOLDS[0]
    with pytest.warns(DeprecationWarning, match="widths"):
        assert th.widths(d=3) == th.widths(3) == th.widths(k=3)
    with pytest.raises(ValueError, match="manifold_seed"):
        ml.run_case("spiral", manifold_kwargs={"seed": 1})


@pytest.mark.parametrize("cls", [ml.TwoNN, ml.MLE])
def test_estimators_take_seed_and_the_deprecated_random_state(cls) -> None:
    est = cls(max_samples=100, seed=4)
    assert est.get_params()["seed"] == 4 and "random_state" not in est.get_params()
    assert clone(est).get_params() == est.get_params()
    with pytest.warns(DeprecationWarning, match=f"{cls.__name__}\\(\\).*'random_state'"):
        old = cls(max_samples=100, random_state=4)
    assert old.get_params() == est.get_params()
    assert clone(old).get_params() == est.get_params()
    X = np.random.default_rng(0).standard_normal((300, 3))
    assert old.fit(X).dimension_ == est.fit(X).dimension_


def test_phase_diagram_takes_n_samples_and_the_deprecated_n_points() -> None:
    from manifold_lab.injectivity import phase_diagram

    kw = dict(max_ratio=2, seeds=range(2), progress=False, device="cpu")
    new = phase_diagram([1], n_samples=20, **kw)
    with pytest.warns(DeprecationWarning, match="'n_points'.*'n_samples'"):
        old = phase_diagram([1], n_points=20, **kw)
    cols = ["k", "width", "seed", "invertible_fraction", "injective"]
    assert old[cols].equals(new[cols])
