"""Random embedding matrices ``T`` (width x d) and biases, reproducible per (width, seed).

The matrix for a given ``(seed, width, kind)`` is drawn from its own NumPy generator,
``numpy.random.default_rng([seed, width, kind_id])``, on the CPU in float64. It therefore
does not depend on which other widths or seeds are swept, on chunking, or on the device the
computation later runs on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["EMBEDDINGS", "random_embedding", "random_embeddings"]

EMBEDDINGS: dict[str, int] = {"gaussian": 0, "orthonormal": 1, "uniform": 2}
"""Embedding kinds and the id that enters their random stream."""


def _check_kind(kind: str) -> str:
    key = str(kind).lower()
    if key not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {kind!r}; choose one of {sorted(EMBEDDINGS)}")
    return key


def random_embedding(
    d: int,
    width: int,
    seed: int,
    *,
    kind: str = "gaussian",
    bias: float = 0.0,
    data_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Draw one random embedding ``x -> T x + b`` from R^d into R^width.

    Parameters
    ----------
    d : int
        Input dimension.
    width : int
        Output dimension ``n``.
    seed : int
        Non-negative seed. The same ``(seed, width, kind)`` always gives the same matrix.
    kind : {"gaussian", "orthonormal", "uniform"}, default="gaussian"
        ``"gaussian"``: i.i.d. N(0, 1) entries, as in the paper. ``"orthonormal"``: a Haar
        random matrix with orthonormal columns (orthonormal rows when ``width < d``), scaled
        by ``sqrt(width)`` so that ``||T||_F`` matches the Gaussian case on average.
        ``"uniform"``: i.i.d. entries uniform on ``[-sqrt(3), sqrt(3)]`` (unit variance).
    bias : float, default=0.0
        Relative bias scale. The bias is ``b_j ~ N(0, (bias * data_scale)^2)``; with
        ``data_scale`` the root-mean-square norm of the points, a Gaussian row's
        pre-activation and the bias then have comparable spread when ``bias = 1``.
        ``0`` means no bias (``b`` is ``None``).
    data_scale : float, default=1.0
        Scale of the data the bias is relative to.

    Returns
    -------
    T : ndarray of shape (width, d)
    b : ndarray of shape (width,) or None

    Examples
    --------
    >>> T, b = random_embedding(2, 5, seed=0)
    >>> T.shape, b is None
    ((5, 2), True)
    >>> bool(np.array_equal(T, random_embedding(2, 5, seed=0)[0]))
    True
    """
    key = _check_kind(kind)
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if not np.isfinite(bias) or bias < 0:
        raise ValueError(f"bias must be a finite number >= 0, got {bias}")
    rng = np.random.default_rng([int(seed), int(width), EMBEDDINGS[key]])
    if key == "gaussian":
        T = rng.standard_normal((width, d))
    elif key == "uniform":
        T = rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), (width, d))
    else:
        tall = width >= d
        G = rng.standard_normal((width, d) if tall else (d, width))
        Q, R = np.linalg.qr(G)
        Q = Q * np.where(np.diag(R) < 0, -1.0, 1.0)
        T = (Q if tall else Q.T) * np.sqrt(width)
    b = None
    if bias > 0:
        b = bias * float(data_scale) * rng.standard_normal(width)
    return T, b


def random_embeddings(
    d: int,
    width: int,
    seeds: Sequence[int],
    *,
    kind: str = "gaussian",
    bias: float = 0.0,
    data_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Stack :func:`random_embedding` over seeds.

    Parameters
    ----------
    d, width : int
        Input and output dimensions.
    seeds : sequence of int
        Seeds, one matrix each.
    kind, bias, data_scale
        As in :func:`random_embedding`.

    Returns
    -------
    T : ndarray of shape (n_seeds, width, d)
    b : ndarray of shape (n_seeds, width) or None
    """
    Ts, bs = [], []
    for s in seeds:
        T, b = random_embedding(d, width, int(s), kind=kind, bias=bias, data_scale=data_scale)
        Ts.append(T)
        bs.append(b)
    T_all = np.stack(Ts)
    b_all = None if bias == 0 else np.stack(bs)  # type: ignore[arg-type]
    return T_all, b_all
