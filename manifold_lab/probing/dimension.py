"""Intrinsic dimension across blocks of a probe's reservoir samples.

:func:`id_profile` gives one number per block and estimator; :func:`id_scale_profile` gives,
per block, the dimension against the neighbourhood scale (Gride with bootstrap intervals,
:func:`~manifold_lab.intrinsic_dimension.id_scale`) of the bottleneck and of the expansion
before and after its activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._deprecation import renamed_parameters
from .result import ProbeResult

__all__ = ["SAMPLED_LAYERS", "id_profile", "id_scale_profile"]

SAMPLED_LAYERS = ("bottleneck", "preactivation", "expansion")
"""The sampled layers: the bottleneck, the expansion before its activation, and after it."""


def _layer_samples(result: ProbeResult, layer: str) -> dict[str, dict[str, np.ndarray]]:
    if layer not in SAMPLED_LAYERS:
        raise ValueError(f"layer must be one of {list(SAMPLED_LAYERS)}, got {layer!r}")
    return {
        "bottleneck": result.samples,
        "preactivation": result.preactivation_samples,
        "expansion": result.expansion_samples,
    }[layer]


@renamed_parameters(random_state="seed")
def id_profile(
    result: ProbeResult,
    methods: Sequence[str] = ("twonn", "mle", "pca"),
    *,
    which: str = "pixels",
    layer: str = "bottleneck",
    max_points: int | None = None,
    seed: Any = 0,
    device: Any = None,
) -> Any:
    """Intrinsic dimension of the sampled vectors of every block, by several estimators.

    Uses :func:`manifold_lab.intrinsic_dimension.estimate_id` on the reservoir samples.

    Parameters
    ----------
    result : ProbeResult
        With samples (``pixel_samples`` / ``image_samples`` > 0 when probing).
    methods : sequence of str, default=("twonn", "mle", "pca")
        Estimator names understood by ``estimate_id``.
    which : {"pixels", "images"}, default="pixels"
        Per-pixel vectors or per-image pooled vectors.
    layer : {"bottleneck", "preactivation", "expansion"}, default="bottleneck"
        Which samples: the bottleneck, the expansion before its activation (pixels only) or
        after it.
    max_points : int or None, default=None
        Use at most this many points per block (a seeded subsample).
    seed : None, int or numpy Generator, default=0
        Seeds the subsample (``random_state`` is a deprecated alias).
    device : str, torch.device or None, default=None
        Where the estimators run (None: CUDA when available).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``name``, ``index``, ``layer``, ``which``, ``estimator``,
        ``dimension``, ``n_points``, ``n_features``.
    """
    import pandas as pd

    from .._validation import check_random_state, check_scalar
    from ..intrinsic_dimension import estimate_id

    if which not in ("pixels", "images"):
        raise ValueError(f"which must be 'pixels' or 'images', got {which!r}")
    if isinstance(methods, str):
        methods = [methods]
    if not methods:
        raise ValueError("methods is empty: name at least one estimator, e.g. 'twonn'")
    max_points = check_scalar(max_points, "max_points", kind=int, minimum=3, allow_none=True)
    source = _layer_samples(result, layer)
    rng = check_random_state(seed)
    rows = []
    for b in result.blocks:
        X = source.get(b.name, {}).get(which)
        if X is None:
            continue
        if max_points is not None and X.shape[0] > max_points:
            X = X[np.sort(rng.choice(X.shape[0], max_points, replace=False))]
        for method in methods:
            dim = estimate_id(np.asarray(X, dtype=np.float64), method, device=device)
            rows.append(
                {
                    "model": result.metadata.get("model"),
                    "name": b.name,
                    "index": b.index,
                    "layer": layer,
                    "which": which,
                    "estimator": str(method),
                    "dimension": float(dim),
                    "n_points": int(X.shape[0]),
                    "n_features": int(X.shape[1]),
                }
            )
    if not rows:
        raise ValueError(
            f"the result holds no {layer} {which} samples: probe with "
            f"{'pixel' if which == 'pixels' else 'image'}_samples > 0"
        )
    return pd.DataFrame(rows)


def id_scale_profile(
    result: ProbeResult,
    layers: Sequence[str] = SAMPLED_LAYERS,
    *,
    max_rank: int = 64,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    max_points: int | None = None,
    seed: Any = 0,
    device: Any = None,
) -> Any:
    """Intrinsic dimension against neighbourhood scale for every block and sampled layer.

    :func:`~manifold_lab.intrinsic_dimension.id_scale` (Gride over ``n1 = 1, 2, 4, ...``,
    ``n2 = 2 n1``, percentile-bootstrap intervals) on the per-pixel reservoir samples of the
    bottleneck and of the expansion before and after its activation. The expansion's two
    samples hold the same pixels, so their curves differ only by the activation.

    Parameters
    ----------
    result : ProbeResult
        With pixel samples (``pixel_samples > 0`` and ``sample_expansion=True`` when probing).
    layers : sequence of {"bottleneck", "preactivation", "expansion"}, default=all three
        Which samples.
    max_rank : int, default=64
        Largest neighbour rank (``n1`` up to ``max_rank / 2``).
    n_bootstrap : int, default=200
        Bootstrap resamples per curve (0: no intervals).
    confidence : float, default=0.95
        Level of the intervals.
    max_points : int or None, default=None
        Use at most this many points per block and layer (a seeded subsample; the same
        pixels before and after the expansion's activation).
    seed : None, int or numpy Generator, default=0
        Seeds the subsample and the bootstrap.
    device : str, torch.device or None, default=None
        Where the estimator runs (None: CUDA when available).

    Returns
    -------
    pandas.DataFrame
        One row per block, layer and scale: ``model``, ``name``, ``index``, ``layer``,
        ``n1``, ``n2``, ``dimension``, ``ci_low``, ``ci_high``, ``std_error``, ``scale``,
        ``scale_median``, ``n_points`` (points in the estimate), ``n_duplicates`` (identical
        pixels dropped first, e.g. all-zero ReLU vectors), ``n_features``;
        ``attrs["confidence"]`` and ``attrs["n_bootstrap"]``.
    """
    import pandas as pd

    from .._validation import check_random_state, check_scalar
    from ..intrinsic_dimension import id_scale

    if isinstance(layers, str):
        layers = [layers]
    if not layers:
        raise ValueError(f"layers is empty: name at least one of {list(SAMPLED_LAYERS)}")
    sources = {layer: _layer_samples(result, layer) for layer in layers}
    max_points = check_scalar(
        max_points, "max_points", kind=int, minimum=max_rank + 1, allow_none=True
    )
    rng = check_random_state(seed)
    frames = []
    for b in result.blocks:
        picks: dict[int, np.ndarray] = {}  # by sample size: pre and post activation share one
        for layer, source in sources.items():
            X = source.get(b.name, {}).get("pixels")
            if X is None:
                continue
            if max_points is not None and X.shape[0] > max_points:
                n = X.shape[0]
                if n not in picks:
                    picks[n] = np.sort(rng.choice(n, max_points, replace=False))
                X = X[picks[n]]
            res = id_scale(
                X,
                max_rank=max_rank,
                n_bootstrap=n_bootstrap,
                confidence=confidence,
                seed=rng,
                device=device,
            )
            df = res.to_frame()
            df.insert(0, "layer", layer)
            df.insert(0, "index", b.index)
            df.insert(0, "name", b.name)
            df.insert(0, "model", result.metadata.get("model"))
            df["n_duplicates"] = res.n_duplicates
            df["n_features"] = res.n_features
            frames.append(df)
    if not frames:
        raise ValueError(
            f"the result holds no pixel samples of {list(layers)}: probe with pixel_samples > 0 "
            "(and sample_expansion=True for the expansion)"
        )
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(confidence=float(confidence), n_bootstrap=int(n_bootstrap))
    return out
