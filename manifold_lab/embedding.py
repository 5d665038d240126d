"""Random embedding matrices ``T`` (width x d) and biases, reproducible per (width, seed).

Matrices are *nested* across widths: for a seed, ``T`` of width ``n`` is the first ``n``
rows of one infinite stream of rows, drawn by ``numpy.random.default_rng([seed, stream])``
on the CPU in float64. Widening a layer therefore adds channels to the same layer (common
random numbers across widths, which makes width curves smoother without biasing any
per-width mean), and the matrix for ``(width, seed)`` depends on nothing else: not on the
other widths or seeds swept, the chunking, or the device the computation later runs on.

``"gaussian"`` and ``"orthonormal"`` share the Gaussian stream (the orthonormal matrix is
the Gaussian one orthonormalised); ``"uniform"`` has its own; the bias has its own.

A stack of ``L`` layers (:func:`stack_layers`) keeps this first layer exactly and draws layer
``l >= 2`` (its matrix, its bias and the projection before it) from
``default_rng([seed, stream, l])``, so a stack's first ``L`` layers are those of any deeper
stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._validation import check_scalar
from .registry.settings import CASE

__all__ = ["EMBEDDINGS", "RESIDUAL_FORMS", "StackLayer", "random_embedding", "random_embeddings"]

EMBEDDINGS: dict[str, int] = {"gaussian": 0, "orthonormal": 0, "uniform": 2}
"""Embedding kinds and the random stream their rows come from."""

_BIAS_STREAM = 100
_PROJECTION_STREAM = 200

RESIDUAL_FORMS: tuple[str, ...] = CASE["residual_form"].choices
"""How the layers of a stack are joined (see :func:`stack_layers`)."""


def check_embedding_kind(kind: str) -> str:
    """Validate an embedding name (see :data:`EMBEDDINGS`) and return it in lower case."""
    key = str(kind).lower()
    if key not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {kind!r}; choose one of {sorted(EMBEDDINGS)}")
    return key


def _check_args(d: int, width: int, seeds: Sequence[int], kind: str, bias: float) -> str:
    key = check_embedding_kind(kind)
    check_scalar(width, "width", kind=int, minimum=1)
    check_scalar(d, "d", kind=int, minimum=1)
    if len(seeds) == 0:
        raise ValueError("no seeds given")
    if min(seeds) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {min(seeds)}")
    check_scalar(bias, "bias", minimum=0)
    return key


def draw_rows(
    d: int, max_width: int, seeds: Sequence[int], kind: str, bias: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """The first ``max_width`` raw rows of each seed's stream (and raw N(0, 1) biases).

    Returns arrays of shape (n_seeds, max_width, d) and (n_seeds, max_width) or None; any
    prefix of them is what a smaller ``max_width`` would give.
    """
    stream = EMBEDDINGS[kind]
    rows = np.empty((len(seeds), max_width, d))
    b = np.empty((len(seeds), max_width)) if bias else None
    for i, s in enumerate(seeds):
        rng = np.random.default_rng([int(s), stream])
        if kind == "uniform":
            rows[i] = rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), (max_width, d))
        else:
            rows[i] = rng.standard_normal((max_width, d))
        if b is not None:
            b[i] = np.random.default_rng([int(s), _BIAS_STREAM]).standard_normal(max_width)
    return rows, b


def finish(rows: np.ndarray, kind: str) -> np.ndarray:
    """Turn raw rows of shape (..., width, d) into the embedding matrices of ``kind``."""
    if kind != "orthonormal":
        return rows
    width, d = rows.shape[-2:]
    tall = width >= d
    G = rows if tall else np.swapaxes(rows, -1, -2)
    Q, R = np.linalg.qr(G)
    signs = np.where(np.diagonal(R, axis1=-2, axis2=-1) < 0, -1.0, 1.0)
    Q = Q * signs[..., None, :]
    return (Q if tall else np.swapaxes(Q, -1, -2)) * np.sqrt(width)


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
        Non-negative seed. The same ``(seed, width, kind)`` always gives the same matrix,
        and ``T`` of width ``n`` is the first ``n`` rows of ``T`` of any larger width
        (for ``"orthonormal"``: of the Gaussian matrix it orthonormalises).
    kind : {"gaussian", "orthonormal", "uniform"}, default="gaussian"
        ``"gaussian"``: i.i.d. N(0, 1) entries, as in the paper. ``"orthonormal"``: the
        Gaussian matrix with its columns orthonormalised (its rows when ``width < d``; a
        Haar random matrix), scaled by ``sqrt(width)`` so that ``||T||_F`` matches the
        Gaussian case on average. ``"uniform"``: i.i.d. entries uniform on
        ``[-sqrt(3), sqrt(3)]`` (unit variance).
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
        The embedding matrix.
    b : ndarray of shape (width,) or None
        The bias; None when ``bias == 0``.

    Examples
    --------
    >>> T, b = random_embedding(2, 5, seed=0)
    >>> T.shape, b is None
    ((5, 2), True)
    >>> bool(np.array_equal(T, random_embedding(2, 30, seed=0)[0][:5]))
    True
    """
    T, b = random_embeddings(d, width, [seed], kind=kind, bias=bias, data_scale=data_scale)
    return T[0], None if b is None else b[0]


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
    kind : {"gaussian", "orthonormal", "uniform"}, default="gaussian"
        Distribution of the entries, as in :func:`random_embedding`.
    bias : float, default=0.0
        Relative bias scale, as in :func:`random_embedding`.
    data_scale : float, default=1.0
        Scale of the data the bias is relative to.

    Returns
    -------
    T : ndarray of shape (n_seeds, width, d)
        ``T[i]`` is ``random_embedding(d, width, seeds[i], ...)``'s matrix.
    b : ndarray of shape (n_seeds, width) or None
        The biases; None when ``bias == 0``.
    """
    seeds = [int(s) for s in seeds]
    key = _check_args(d, width, seeds, kind, bias)
    rows, b = draw_rows(d, width, seeds, key, bias > 0)
    return finish(rows, key), None if b is None else b * (bias * float(data_scale))


@dataclass(frozen=True)
class StackLayer:
    """Layer ``l >= 2`` of a stack, for a batch of seeds (see :func:`stack_layers`).

    Parameters
    ----------
    T : ndarray of shape (n_seeds, width, fan_in)
        The layer's matrix; ``fan_in`` is ``width`` (plain) or ``k`` (inverted).
    b : ndarray of shape (n_seeds, width) or None
        The layer's bias (None without bias).
    P : ndarray of shape (n_seeds, k, width) or None
        The projection applied to the previous layer's output before ``T`` (inverted
        form only).
    """

    T: np.ndarray
    b: np.ndarray | None
    P: np.ndarray | None


def check_residual_form(form: str) -> str:
    """Validate a residual form (see :data:`RESIDUAL_FORMS`) and return it in lower case."""
    key = str(form).lower()
    if key not in RESIDUAL_FORMS:
        raise ValueError(f"unknown residual_form {form!r}; choose one of {list(RESIDUAL_FORMS)}")
    return key


def _raw(rng: np.random.Generator, kind: str, shape: tuple[int, int]) -> np.ndarray:
    if kind == "uniform":
        return rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), shape)
    return rng.standard_normal(shape)


def stack_layers(
    width: int,
    k: int,
    seeds: Sequence[int],
    depth: int,
    *,
    residual_form: str = "plain",
    kind: str = "gaussian",
    bias: float = 0.0,
    data_scale: float = 1.0,
) -> list[StackLayer]:
    """Draw layers ``2 .. depth`` of a stack of random layers of one width.

    The first layer is :func:`random_embedding`'s ``T_1`` (width x d) and ``b_1``, unchanged.
    Layer ``l >= 2`` is drawn from ``default_rng([seed, stream, l])`` (its bias from
    ``[seed, 100, l]``, the projection before it from ``[seed, 200, l]``), so it depends
    only on ``(seed, l, width, k)``:

    ``"plain"``
        ``h_l = phi(T_l h_{l-1} + b_l)`` with ``T_l`` of shape (width, width).
    ``"inverted"``
        ``h_l = phi(T_l P_l h_{l-1} + b_l)``: the previous layer's output is projected back
        to ``R^k`` by a random ``P_l`` (k x width), then expanded by ``T_l`` (width x k): an
        inverted residual block (expand, activation, linear projection) without its
        shortcut, the projection placed between the layers. Rows of ``T_l`` and columns of
        ``P_l`` are nested across widths as for the first layer.

    The entries have the distribution ``kind`` with variance ``2 / fan_in`` for a matrix
    applied to an activation's output (``T_l`` plain, ``P_l``) and ``1 / k`` for ``T_l``
    after a projection (He's scaling), so every layer's pre-activations have about the
    spread of the first layer's (for ReLU); the bias ``b_l ~ N(0, (bias * data_scale)^2)``
    is then comparable at every layer. Neither scale matters for a positively homogeneous
    activation without bias.

    Parameters
    ----------
    width : int
        Width ``n`` of every layer.
    k : int
        Dimension of the manifold's span (the bottleneck of the inverted form).
    seeds : sequence of int
        One stack per seed.
    depth : int
        Number of layers ``L`` (>= 1); ``depth - 1`` layers are returned.
    residual_form : {"plain", "inverted"}, default="plain"
        How the layers are joined.
    kind : {"gaussian", "orthonormal", "uniform"}, default="gaussian"
        Distribution of the matrices, as in :func:`random_embedding`.
    bias : float, default=0.0
        Relative bias scale (0: no bias).
    data_scale : float, default=1.0
        Scale of the data the bias is relative to.

    Returns
    -------
    layers : list of StackLayer
        Layers ``2 .. depth``, each batched over ``seeds``.

    Examples
    --------
    >>> layers = stack_layers(5, 2, [0, 1], 3, residual_form="inverted")
    >>> len(layers), layers[0].T.shape, layers[0].P.shape
    (2, (2, 5, 2), (2, 2, 5))
    >>> deeper = stack_layers(5, 2, [0, 1], 4, residual_form="inverted")
    >>> bool(np.array_equal(deeper[1].T, layers[1].T))
    True
    """
    form = check_residual_form(residual_form)
    key = _check_args(k, width, [int(s) for s in seeds], kind, bias)
    depth = check_scalar(depth, "depth", kind=int, minimum=1)
    stream = EMBEDDINGS[key]
    out = []
    for layer in range(2, depth + 1):
        Ts, bs, Ps = [], [], []
        for s in seeds:
            rng = np.random.default_rng([int(s), stream, layer])
            if form == "plain":
                Ts.append(finish(_raw(rng, key, (width, width)), key) * np.sqrt(2.0 / width))
            else:
                Ts.append(finish(_raw(rng, key, (width, k)), key) * np.sqrt(1.0 / k))
                prng = np.random.default_rng([int(s), _PROJECTION_STREAM, layer])
                Ps.append(finish(_raw(prng, key, (width, k)).T, key) * np.sqrt(2.0 / width))
            if bias > 0:
                brng = np.random.default_rng([int(s), _BIAS_STREAM, layer])
                bs.append(brng.standard_normal(width) * (bias * float(data_scale)))
        out.append(
            StackLayer(
                T=np.stack(Ts),
                b=np.stack(bs) if bs else None,
                P=np.stack(Ps) if Ps else None,
            )
        )
    return out
