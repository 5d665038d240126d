"""What rectifying a bottleneck destroys, measured on real features.

MobileNetV2 keeps its bottlenecks linear: "non-linearity destroys information in
low-dimensional space" (Sandler et al. 2018, Sections 3.2 and 6.4). These functions take the
vectors a network actually produces at its linear bottlenecks and measure what a ReLU or
ReLU6 applied there would lose:

- how many coordinates it sets to 0 (``z <= 0``) or clips at 6 (``z >= 6``, ReLU6 only):
  the coordinates Lemma 2 of the paper counts as carrying no information;
- how well the best affine map recovers the bottleneck vectors from the rectified ones on
  held-out vectors (:func:`rectification_loss`);
- how much a linear probe of the image labels loses (:func:`bottleneck_probe_comparison`).

Input of :func:`analyse_bottlenecks`
------------------------------------
A dict from block name (e.g. ``"features.3.conv.3"``, the BatchNorm after the projection) to
a dict of arrays, NumPy or torch:

``"pixels"`` : array of shape (n_pixels, channels), required
    Bottleneck vectors, one per spatial position (and image): the block's linear output
    before any residual addition, ``z.permute(0, 2, 3, 1).reshape(-1, channels)`` for an
    NCHW tensor ``z``. A random subset of positions is fine (a few thousand to a few
    hundred thousand; at least ``channels + 1`` training vectors are needed).
``"images"`` : array of shape (n_images, channels), optional
    One vector per image, e.g. the bottleneck output averaged over space.
``"labels"`` : array of shape (n_images,), optional
    Class labels of those images (at least 2 classes, each at least twice); with
    ``"images"`` they add the linear-probe columns (``"images"`` without labels are
    ignored).

Every function is deterministic given its ``seed`` (an int by default; ``random_state`` is its
deprecated alias).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import torch

from ._deprecation import renamed_parameters
from ._validation import check_points, check_random_state, check_scalar

__all__ = [
    "BOTTLENECK_ACTIVATIONS",
    "LOSS_COLUMN_LABELS",
    "RectificationLoss",
    "analyse_bottlenecks",
    "bottleneck_probe_comparison",
    "linear_probe_accuracy",
    "rectification_loss",
]

BOTTLENECK_ACTIVATIONS: tuple[str, ...] = ("identity", "relu", "relu6")
"""Activations that :func:`rectification_loss` can apply to a bottleneck."""

LOSS_COLUMN_LABELS: dict[str, str] = {
    "block": "block",
    "channels": "channels",
    "n_pixels": "pixel vectors",
    "zeroed_fraction_relu": "zeroed by ReLU",
    "zeroed_fraction_relu6": "zeroed by ReLU6",
    "clipped_fraction_relu6": "clipped at 6 by ReLU6",
    "vectors_losing_relu": "vectors losing a coordinate, ReLU",
    "vectors_losing_relu6": "vectors losing a coordinate, ReLU6",
    "recon_error_identity": "reconstruction error, linear",
    "recon_error_relu": "reconstruction error, ReLU",
    "recon_error_relu6": "reconstruction error, ReLU6",
    "r2_relu": "R² after ReLU",
    "r2_relu6": "R² after ReLU6",
    "n_images": "images",
    "probe_acc_identity": "linear-probe accuracy, linear",
    "probe_acc_relu": "linear-probe accuracy, ReLU",
    "probe_acc_relu6": "linear-probe accuracy, ReLU6",
}
"""Human names of the columns of :func:`analyse_bottlenecks` (for tables shown to people)."""

_RELU6_CAP = 6.0


def _check_activation(activation: Any) -> str:
    key = str(activation).lower()
    if key not in BOTTLENECK_ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {list(BOTTLENECK_ACTIVATIONS)}"
        )
    return key


def _apply(Z: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(Z, 0.0)
    if activation == "relu6":
        return np.clip(Z, 0.0, _RELU6_CAP)
    return Z


def _check_test_fraction(value: Any) -> float:
    return check_scalar(
        value, "test_fraction", minimum=0, maximum=1, include_min=False, include_max=False
    )


def _as_array(X: Any, name: str, min_samples: int) -> np.ndarray:
    return check_points(X, name=name, min_samples=min_samples)


def _int_seed(seed: Any) -> int:
    """An int seed for scikit-learn from an int or a numpy Generator."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        check_random_state(seed)  # refuses negative seeds with our message
        return int(seed)
    return int(check_random_state(seed).integers(2**31 - 1))


@dataclass(frozen=True)
class RectificationLoss:
    """What an activation applied to bottleneck vectors loses.

    Attributes
    ----------
    activation : str
        ``"identity"``, ``"relu"`` or ``"relu6"``.
    n_samples : int
        Number of vectors.
    channels : int
        Number of coordinates per vector.
    zeroed_fraction : float
        Fraction of all coordinates set to 0 (``z <= 0``); 0 for the identity.
    clipped_fraction : float
        Fraction of all coordinates clipped at 6 (``z >= 6``); ReLU6 only, else 0.
    vectors_losing_fraction : float
        Fraction of vectors with at least one zeroed or clipped coordinate.
    recon_error : float
        Held-out ``||Z - Z_hat||_F^2 / ||Z - mean(Z)||_F^2`` of the best affine map from
        the activated vectors back to ``Z`` (0: perfect; 1: no better than the mean).
    r2_mean : float
        Held-out coefficient of determination of each coordinate, averaged over
        coordinates (a constant coordinate counts 1 when recovered exactly, else 0).
    n_train : int
        Vectors the affine map was fitted on.
    n_test : int
        Vectors it was evaluated on.
    """

    activation: str
    n_samples: int
    channels: int
    zeroed_fraction: float
    clipped_fraction: float
    vectors_losing_fraction: float
    recon_error: float
    r2_mean: float
    n_train: int
    n_test: int

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict."""
        return asdict(self)


def _fit_affine(Y: np.ndarray, Z: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine map ``Z ~ Y W + c`` with a ridge relative to Y's mean variance."""
    y_mean, z_mean = Y.mean(axis=0), Z.mean(axis=0)
    Yc, Zc = Y - y_mean, Z - z_mean
    gram = Yc.T @ Yc
    scale = float(np.trace(gram)) / gram.shape[0]
    lam = ridge * scale if scale > 0 else ridge
    gram[np.diag_indices_from(gram)] += lam
    rhs = Yc.T @ Zc
    try:
        W = scipy.linalg.solve(gram, rhs, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        W = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    return W, z_mean - y_mean @ W


@renamed_parameters(random_state="seed")
def rectification_loss(
    Z: Any,
    activation: str = "relu",
    *,
    test_fraction: float = 0.5,
    seed: Any = 0,
    ridge: float = 1e-6,
) -> RectificationLoss:
    """Measure what ReLU or ReLU6 applied to bottleneck vectors destroys.

    The vectors are split at random into a training and a test part. The best affine map
    from the activated vectors ``phi(Z)`` back to ``Z`` is fitted by least squares on the
    training part, with a ridge of ``ridge`` times the mean variance of ``phi(Z)``'s
    coordinates (it only matters for coordinates that the activation made constant), and
    evaluated on the test part.

    Parameters
    ----------
    Z : array-like or torch.Tensor of shape (n_samples, channels)
        Linear bottleneck vectors (pre-activation).
    activation : {"relu", "relu6", "identity"}, default="relu"
        Activation to apply; ``"identity"`` is the sanity baseline (error close to 0).
    test_fraction : float, default=0.5
        Fraction of the vectors held out, in ``(0, 1)``.
    seed : int, numpy.random.Generator or None, default=0
        Seed of the split.
    ridge : float, default=1e-6
        Relative ridge of the least-squares fit (non-negative).

    Returns
    -------
    result : RectificationLoss
        Frozen dataclass; ``result.to_dict()`` gives a dict.

    Raises
    ------
    ValueError
        If ``Z`` is not 2-D, holds NaN or infinity, or has too few vectors: the training
        part needs more vectors than channels and the test part at least 2.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.random.default_rng(0).standard_normal((2000, 8))
    >>> res = rectification_loss(Z, "relu")
    >>> round(res.zeroed_fraction, 1)
    0.5
    >>> res.recon_error > 0.1
    True
    >>> rectification_loss(Z, "identity").recon_error < 1e-9
    True
    """
    act = _check_activation(activation)
    frac = _check_test_fraction(test_fraction)
    ridge = check_scalar(ridge, "ridge", minimum=0)
    Zn = _as_array(Z, "Z", min_samples=2)
    n, c = Zn.shape
    n_test = math.ceil(frac * n)
    n_train = n - n_test
    if n_train < c + 1 or n_test < 2:
        raise ValueError(
            f"Z has {n} vectors of {c} channels: with test_fraction={test_fraction} that leaves "
            f"{n_train} for training and {n_test} for testing; the affine map needs at least "
            f"{c + 1} training vectors (channels + 1) and 2 test vectors"
        )
    Y = _apply(Zn, act)
    zeroed = Zn <= 0 if act != "identity" else np.zeros_like(Zn, dtype=bool)
    clipped = Zn >= _RELU6_CAP if act == "relu6" else np.zeros_like(Zn, dtype=bool)
    lost = zeroed | clipped

    perm = check_random_state(seed).permutation(n)
    tr, te = perm[:n_train], perm[n_train:]
    W, b = _fit_affine(Y[tr], Zn[tr], float(ridge))
    Z_hat = Y[te] @ W + b
    Zt = Zn[te]
    sse = ((Zt - Z_hat) ** 2).sum(axis=0)
    sst = ((Zt - Zt.mean(axis=0)) ** 2).sum(axis=0)
    total = float(sst.sum())
    recon = float(sse.sum()) / total if total > 0 else (0.0 if float(sse.sum()) == 0 else 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), (sse == 0) * 1.0)
    return RectificationLoss(
        activation=act,
        n_samples=n,
        channels=c,
        zeroed_fraction=float(zeroed.mean()),
        clipped_fraction=float(clipped.mean()),
        vectors_losing_fraction=float(lost.any(axis=1).mean()),
        recon_error=recon,
        r2_mean=float(r2.mean()),
        n_train=n_train,
        n_test=n_test,
    )


def _check_labels(y: Any, n: int) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) to match X, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("y contains NaN or infinite labels")
    classes, counts = np.unique(arr, return_counts=True)
    if classes.size < 2:
        raise ValueError(f"y needs at least 2 classes for a probe, got {classes.size}")
    if counts.min() < 2:
        raise ValueError(
            f"every class needs at least 2 samples for a stratified split; class "
            f"{classes[np.argmin(counts)]!r} has {int(counts.min())}"
        )
    return arr


def _probe_split(
    n: int, y: np.ndarray, test_fraction: float, seed: Any
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    try:
        tr, te = train_test_split(
            np.arange(n), test_size=test_fraction, stratify=y, random_state=_int_seed(seed)
        )
    except ValueError as exc:  # e.g. fewer test samples than classes
        raise ValueError(
            f"cannot split {n} samples of {np.unique(y).size} classes with "
            f"test_fraction={test_fraction}: {exc}"
        ) from exc
    return np.sort(tr), np.sort(te)


def _probe_fit_score(
    X: np.ndarray, y: np.ndarray, tr: np.ndarray, te: np.ndarray, C: float, max_iter: int
) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    model.fit(X[tr], y[tr])
    return float(model.score(X[te], y[te]))


def _check_probe_params(C: Any, max_iter: Any) -> tuple[float, int]:
    C_ = check_scalar(C, "C", minimum=0, include_min=False)
    return C_, check_scalar(max_iter, "max_iter", kind=int, minimum=1)


@renamed_parameters(random_state="seed")
def linear_probe_accuracy(
    X: Any,
    y: Any,
    *,
    test_fraction: float = 0.3,
    seed: Any = 0,
    C: float = 1.0,
    max_iter: int = 1000,
) -> float:
    """Held-out accuracy of a multinomial logistic regression on standardized features.

    The split is stratified by class and seeded; the model is scikit-learn's
    ``StandardScaler`` followed by ``LogisticRegression(C=C, max_iter=max_iter)``
    (L2-penalised, multinomial for more than two classes).

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Features.
    y : array-like of shape (n_samples,)
        Class labels; at least 2 classes with at least 2 samples each.
    test_fraction : float, default=0.3
        Fraction held out, in ``(0, 1)``.
    seed : int, numpy.random.Generator or None, default=0
        Seed of the split.
    C : float, default=1.0
        Inverse regularisation strength.
    max_iter : int, default=1000
        Iterations of the solver.

    Returns
    -------
    accuracy : float
        Fraction of held-out samples classified correctly.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((400, 3))
    >>> linear_probe_accuracy(X, (X[:, 0] > 0).astype(int)) > 0.95
    True
    """
    frac = _check_test_fraction(test_fraction)
    C_, it = _check_probe_params(C, max_iter)
    Xn = _as_array(X, "X", min_samples=4)
    yn = _check_labels(y, Xn.shape[0])
    tr, te = _probe_split(Xn.shape[0], yn, frac, seed)
    return _probe_fit_score(Xn, yn, tr, te, C_, it)


@renamed_parameters(random_state="seed")
def bottleneck_probe_comparison(
    Z_images: Any,
    y: Any,
    activations: Sequence[str] = BOTTLENECK_ACTIVATIONS,
    *,
    test_fraction: float = 0.3,
    seed: Any = 0,
    C: float = 1.0,
    max_iter: int = 1000,
) -> dict[str, float]:
    """Linear-probe accuracy of bottleneck vectors before and after rectification.

    Every activation is probed on the same stratified, seeded split, so the accuracies
    differ only by what the activation did to the vectors.

    Parameters
    ----------
    Z_images : array-like or torch.Tensor of shape (n_images, channels)
        One bottleneck vector per image (e.g. averaged over space).
    y : array-like of shape (n_images,)
        Class labels; at least 2 classes with at least 2 images each.
    activations : sequence of {"identity", "relu", "relu6"}, default=("identity", "relu", "relu6")
        Activations to compare.
    test_fraction : float, default=0.3
        Fraction held out, in ``(0, 1)``.
    seed : int, numpy.random.Generator or None, default=0
        Seed of the split.
    C : float, default=1.0
        Inverse regularisation strength of the logistic regression.
    max_iter : int, default=1000
        Iterations of the solver.

    Returns
    -------
    accuracy : dict of str to float
        Held-out accuracy for each activation, in the order given.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.random.default_rng(0).standard_normal((600, 4))
    >>> y = (Z[:, 0] < -0.7).astype(int)  # lives where ReLU outputs 0
    >>> acc = bottleneck_probe_comparison(Z, y)
    >>> acc["identity"] > 0.95, acc["relu"] < 0.9
    (True, True)
    """
    if isinstance(activations, str):
        activations = [activations]
    acts = [_check_activation(a) for a in activations]
    if not acts:
        raise ValueError(f"give at least one activation of {list(BOTTLENECK_ACTIVATIONS)}")
    frac = _check_test_fraction(test_fraction)
    C_, it = _check_probe_params(C, max_iter)
    Zn = _as_array(Z_images, "Z_images", min_samples=4)
    yn = _check_labels(y, Zn.shape[0])
    tr, te = _probe_split(Zn.shape[0], yn, frac, seed)
    return {a: _probe_fit_score(_apply(Zn, a), yn, tr, te, C_, it) for a in dict.fromkeys(acts)}


_SAMPLE_KEYS = frozenset({"pixels", "images", "labels"})


def _rectification_or_counts(
    pix: np.ndarray, activation: str, test_fraction: float, seed: Any, ridge: float
) -> RectificationLoss:
    """:func:`rectification_loss`, or only the zeroed/clipped counts (errors NaN) when there
    are too few vectors to fit the affine map (e.g. a wide block probed on a few images)."""
    n, c = pix.shape
    n_test = int(np.ceil(n * test_fraction))
    if n - n_test >= c + 1 and n_test >= 2:
        return rectification_loss(
            pix, activation, test_fraction=test_fraction, seed=seed, ridge=ridge
        )
    zeroed = pix <= 0 if activation != "identity" else np.zeros_like(pix, dtype=bool)
    clipped = pix >= 6 if activation == "relu6" else np.zeros_like(pix, dtype=bool)
    return RectificationLoss(
        activation=activation,
        n_samples=n,
        channels=c,
        zeroed_fraction=float(zeroed.mean()),
        clipped_fraction=float(clipped.mean()),
        vectors_losing_fraction=float((zeroed | clipped).any(axis=1).mean()),
        recon_error=float("nan"),
        r2_mean=float("nan"),
        n_train=0,
        n_test=0,
    )


def _probe_possible(labels: Any, test_fraction: float) -> bool:
    """Whether a stratified linear probe can be fitted: 2+ classes, 2+ images each, room."""
    arr = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).reshape(-1)
    classes, counts = np.unique(arr, return_counts=True)
    n_test = int(np.ceil(arr.size * test_fraction))
    return bool(
        classes.size >= 2
        and counts.min() >= 2
        and n_test >= classes.size
        and arr.size - n_test >= classes.size
    )


@renamed_parameters(random_state="seed")
def analyse_bottlenecks(
    samples: Mapping[str, Mapping[str, Any]],
    *,
    test_fraction: float = 0.5,
    probe_test_fraction: float = 0.3,
    seed: Any = 0,
    ridge: float = 1e-6,
    C: float = 1.0,
    max_iter: int = 1000,
) -> pd.DataFrame:
    """Tabulate what ReLU and ReLU6 would destroy at each bottleneck of a network.

    Parameters
    ----------
    samples : dict of str to dict of str to array
        For each block name, a dict with ``"pixels"`` of shape (n_pixels, channels) and
        optionally ``"images"`` of shape (n_images, channels) with ``"labels"`` of shape
        (n_images,); see the module documentation.
    test_fraction : float, default=0.5
        Held-out fraction of the pixel vectors for the reconstruction.
    probe_test_fraction : float, default=0.3
        Held-out fraction of the images for the linear probe.
    seed : int, numpy.random.Generator or None, default=0
        Seed of every split (the same seed for every block).
    ridge : float, default=1e-6
        Relative ridge of the reconstruction (see :func:`rectification_loss`).
    C : float, default=1.0
        Inverse regularisation strength of the probe.
    max_iter : int, default=1000
        Iterations of the probe's solver.

    Returns
    -------
    table : pandas.DataFrame
        One row per block, in the order given, with columns ``block``, ``channels``,
        ``n_pixels``, ``zeroed_fraction_relu``, ``zeroed_fraction_relu6``,
        ``clipped_fraction_relu6``, ``vectors_losing_relu``, ``vectors_losing_relu6``,
        ``recon_error_identity``, ``recon_error_relu``, ``recon_error_relu6``,
        ``r2_relu``, ``r2_relu6`` and, when any block has labels, ``n_images``,
        ``probe_acc_identity``, ``probe_acc_relu`` and ``probe_acc_relu6`` (NaN for blocks
        without labels, or whose labels cannot support a stratified probe: fewer than two
        classes, a class with a single image, or too few images for the split). The
        reconstruction errors are NaN for blocks with too few pixel vectors to fit the affine
        map (fewer than ``channels + 1`` training vectors); the zeroed fractions are kept.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> samples = {"block1": {"pixels": rng.standard_normal((1000, 4))},
    ...            "block2": {"pixels": rng.random((1000, 4)) + 0.1}}
    >>> df = analyse_bottlenecks(samples)
    >>> df[["block", "zeroed_fraction_relu"]].round(1).values.tolist()
    [['block1', 0.5], ['block2', 0.0]]
    """
    if not isinstance(samples, Mapping) or not samples:
        raise ValueError(
            "samples must be a non-empty dict {block name: {'pixels': array, ...}}, got "
            f"{type(samples).__name__}"
        )
    rows: list[dict[str, Any]] = []
    any_labels = False
    for name, entry in samples.items():
        if not isinstance(entry, Mapping):
            raise ValueError(
                f"samples[{name!r}] must be a dict with key 'pixels', got {type(entry).__name__}"
            )
        unknown = set(entry) - _SAMPLE_KEYS
        if unknown:
            raise ValueError(
                f"samples[{name!r}] has unknown key(s) {sorted(unknown)}; "
                f"use {sorted(_SAMPLE_KEYS)}"
            )
        if "pixels" not in entry:
            raise ValueError(f"samples[{name!r}] has no 'pixels' array")
        if "labels" in entry and "images" not in entry:
            raise ValueError(f"samples[{name!r}] has 'labels' but no 'images' to probe")
        try:
            pix = _as_array(entry["pixels"], "pixels", min_samples=2)
            res = {
                a: _rectification_or_counts(pix, a, test_fraction, seed, ridge)
                for a in BOTTLENECK_ACTIVATIONS
            }
            row: dict[str, Any] = {
                "block": str(name),
                "channels": pix.shape[1],
                "n_pixels": pix.shape[0],
                "zeroed_fraction_relu": res["relu"].zeroed_fraction,
                "zeroed_fraction_relu6": res["relu6"].zeroed_fraction,
                "clipped_fraction_relu6": res["relu6"].clipped_fraction,
                "vectors_losing_relu": res["relu"].vectors_losing_fraction,
                "vectors_losing_relu6": res["relu6"].vectors_losing_fraction,
                "recon_error_identity": res["identity"].recon_error,
                "recon_error_relu": res["relu"].recon_error,
                "recon_error_relu6": res["relu6"].recon_error,
                "r2_relu": res["relu"].r2_mean,
                "r2_relu6": res["relu6"].r2_mean,
            }
            if "labels" in entry:
                any_labels = True
            if "labels" in entry and _probe_possible(entry["labels"], probe_test_fraction):
                imgs = _as_array(entry["images"], "images", min_samples=4)
                if imgs.shape[1] != pix.shape[1]:
                    raise ValueError(
                        f"images have {imgs.shape[1]} channels but pixels have {pix.shape[1]}"
                    )
                acc = bottleneck_probe_comparison(
                    imgs,
                    entry["labels"],
                    test_fraction=probe_test_fraction,
                    seed=seed,
                    C=C,
                    max_iter=max_iter,
                )
                row["n_images"] = imgs.shape[0]
                row.update({f"probe_acc_{a}": v for a, v in acc.items()})
        except ValueError as exc:
            raise ValueError(f"block {name!r}: {exc}") from exc
        rows.append(row)
    df = pd.DataFrame(rows)
    if any_labels:
        for col in ("n_images", *(f"probe_acc_{a}" for a in BOTTLENECK_ACTIVATIONS)):
            if col not in df:
                df[col] = np.nan
    return df
