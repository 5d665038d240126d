"""Intrinsic dimension across blocks: :func:`id_profile` of a probe's reservoir samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._deprecation import renamed_parameters
from .result import ProbeResult

__all__ = ["id_profile"]


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
    layer : {"bottleneck", "expansion"}, default="bottleneck"
        Which samples.
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
    if layer not in ("bottleneck", "expansion"):
        raise ValueError(f"layer must be 'bottleneck' or 'expansion', got {layer!r}")
    if isinstance(methods, str):
        methods = [methods]
    if not methods:
        raise ValueError("methods is empty: name at least one estimator, e.g. 'twonn'")
    max_points = check_scalar(max_points, "max_points", kind=int, minimum=3, allow_none=True)
    source = result.samples if layer == "bottleneck" else result.expansion_samples
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
