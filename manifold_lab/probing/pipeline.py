"""From a weights source and an image source to a probe report, in one call.

:func:`probe_source` loads the model, opens the images and probes them (what
``manifold-lab probe`` does); :func:`probe_report` adds the intrinsic-dimension profile and
what a ReLU on each bottleneck would destroy (what the app's probe page shows). Both report
progress as ``callback(fraction, text)`` for user interfaces.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from .dimension import id_profile
from .result import ProbeResult
from .run import probe

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ProbeReport", "probe_images", "probe_report", "probe_source"]

ReportCallback = Callable[[float, str], None]
ModelLoader = Callable[[str | os.PathLike[str]], nn.Module]

# Shares of probe_report's progress: probing up to 0.8, the ID profile up to 0.9.
_PROBE_SHARE = 0.8
_ID_SHARE = 0.9


@dataclass(frozen=True)
class ProbeReport:
    """A probe and what follows from its samples (see :func:`probe_report`).

    Parameters
    ----------
    result : ProbeResult
        The per-block statistics and reservoir samples.
    id_profile : pandas.DataFrame
        :func:`~manifold_lab.probing.id_profile` of the bottleneck pixel samples.
    bottleneck_loss : pandas.DataFrame
        :func:`~manifold_lab.bottleneck.analyse_bottlenecks` of the bottleneck samples.
    """

    result: ProbeResult
    id_profile: pd.DataFrame
    bottleneck_loss: pd.DataFrame


def _scaled(callback: ReportCallback, share: float) -> ReportCallback:
    """``callback`` with every fraction multiplied by ``share``."""

    def report(fraction: float, text: str) -> None:
        callback(share * fraction, text)

    return report


def _fetch(weights: str | os.PathLike[str], progress: Any) -> None:
    """Download what the weights source needs into its local cache, reporting the bytes.

    Done before the model loader runs, so a caching loader (the app's) needs no progress
    argument; sources without a ``fetcher`` in the registry are local.
    """
    from ..registry import load_object, resolve_model_source

    entry, argument = resolve_model_source(weights)
    if entry.fetcher is not None:
        load_object(entry.fetcher)(argument, progress=progress)


def probe_source(
    weights: str | os.PathLike[str],
    images: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    spread: bool = False,
    batch_size: int = 64,
    device: Any = None,
    num_workers: int = 0,
    seed: int = 0,
    progress: bool = False,
    callback: ReportCallback | None = None,
    model_loader: ModelLoader | None = None,
    model_name: str | None = None,
    images_name: str | None = None,
    **probe_options: Any,
) -> ProbeResult:
    """Load the model ``weights`` names, open the images ``images`` names, and probe them.

    Parameters
    ----------
    weights : str or path-like
        A weights source of :func:`~manifold_lab.load_model` (``"builtin"``, ``"random"``,
        ``"torchvision:IMAGENET1K_V1"``, ``"tflite:PATH"``, a checkpoint path, ...).
    images : str or path-like
        An image source of :func:`~manifold_lab.open_images` (``"cifar10-sample"``,
        ``"cifar10:test"``, a folder of images); also names the images in the metadata.
    data_root : str, path-like or None, default=None
        Where a named dataset lives (see :func:`~manifold_lab.open_images`).
    limit : int or None, default=None
        Probe at most this many images (None: all).
    spread : bool, default=False
        With ``limit`` below the number of images of an in-memory dataset (CIFAR-10, the
        built-in sample), take ``limit`` evenly spaced images instead of the first ones, so
        that every class of a class-sorted set is represented.
    batch_size : int, default=64
        Images per forward pass.
    device : str, torch.device or None, default=None
        Where to probe (None: CUDA when available); the model is loaded on the CPU first.
    num_workers : int, default=0
        Data-loader worker processes.
    seed : int, default=0
        Seeds the reservoir samples and the rank subsample.
    progress : bool, default=False
        Progress bars on the terminal (downloads, CIFAR-10 extraction, batches).
    callback : callable or None, default=None
        Called as ``callback(fraction, text)`` while loading, downloading (bytes) and after
        every batch (images), for progress bars in user interfaces.
    model_loader : callable or None, default=None
        ``model_loader(weights) -> nn.Module`` instead of
        ``load_model(weights, device="cpu")``, e.g. a cached one. torchvision's weights are
        downloaded before it is called.
    model_name, images_name : str or None, default=None
        How captions and tables name the model and the images (``metadata["model_name"]``,
        ``metadata["images_name"]``), e.g. the name of a file a user uploaded; None takes
        the source's display name from the registry
        (:func:`~manifold_lab.registry.model_display_name`, ``"built-in CIFAR-10 model"``).
    **probe_options
        Passed to :func:`~manifold_lab.probing.probe` (``pixel_samples``,
        ``image_samples``, ``sample_expansion``, ``rank_pixels_per_batch``, ``blocks``,
        ``partial``, ...). ``partial(result)`` is also called once as soon as the model
        is loaded, with the structure of its blocks alone
        (:meth:`ProbeResult.from_blocks <manifold_lab.probing.ProbeResult.from_blocks>`,
        ``metadata["n_images"]`` 0): enough to draw the widths and thresholds of Figure 7.

    Returns
    -------
    ProbeResult
        The statistics of every block; its metadata name the weights, the images and the
        settings.

    Examples
    --------
    >>> from manifold_lab.mobilenet import MobileNetV2Config
    >>> from manifold_lab.weights import load_model
    >>> tiny = MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25)
    >>> def loader(weights):
    ...     return load_model(weights, config=tiny, seed=0, progress=False)
    >>> result = probe_source("random", "cifar10-sample", limit=20, spread=True,
    ...                       model_loader=loader)
    >>> result.metadata["n_images"], result.metadata["images"], len(result.blocks)
    (20, 'cifar10-sample', 17)
    >>> result.metadata["model_name"], result.metadata["images_name"]
    ('random initialisation (ImageNet MobileNetV2)', 'built-in CIFAR-10 sample')
    """
    from ..registry import image_display_name, model_display_name
    from ..weights import load_model

    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {callback!r}")
    if model_loader is not None and not callable(model_loader):
        raise ValueError(f"model_loader must be callable or None, got {model_loader!r}")
    names = {
        "model_name": model_name or model_display_name(weights),
        "images_name": images_name or image_display_name(images),
    }
    on_partial = probe_options.pop("partial", None)
    if on_partial is not None and not callable(on_partial):
        raise ValueError(f"partial must be callable or None, got {on_partial!r}")

    def named_partial(part: ProbeResult) -> None:
        part.metadata.update(names)
        on_partial(part)

    if on_partial is not None:
        probe_options["partial"] = named_partial

    report: ReportCallback = callback or (lambda fraction, text: None)
    report(0.0, "Loading the model and the images ...")

    def on_bytes(done: int, total: int | None) -> None:
        size = f" of {total / 1e6:.1f}" if total else ""
        report(done / total if total else 0.0, f"Downloading {weights}: {done / 1e6:.1f}{size} MB")

    fetch_progress = on_bytes if callback is not None else progress
    _fetch(weights, fetch_progress)
    model: nn.Module
    if model_loader is None:
        model = load_model(weights, device="cpu", progress=fetch_progress)
    else:
        model = model_loader(weights)
    if on_partial is not None:
        from .blocks import find_blocks

        structure = ProbeResult.from_blocks(
            find_blocks(model, probe_options.get("blocks")), images=os.fspath(images)
        )
        named_partial(structure)
    dataset = probe_images(
        images, data_root=data_root, limit=limit, spread=spread, progress=progress
    )

    def on_batch(done: int, total: int | None) -> None:
        share = done / total if total else 0.5
        report(share, f"Probing the blocks: {done} of {total or '?'} images ...")

    result = probe(
        model,
        dataset,
        batch_size=batch_size,
        limit=limit,
        device=device,
        num_workers=num_workers,
        seed=seed,
        progress=progress,
        images=os.fspath(images),
        callback=on_batch if callback is not None else None,
        **probe_options,
    )
    result.metadata.update(names)
    return result


def probe_images(
    images: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    spread: bool = False,
    progress: Any = False,
) -> Any:
    """The dataset :func:`probe_source` probes: ``images`` opened, ``limit`` spread over it.

    Parameters
    ----------
    images : str or path-like
        An image source (see :func:`manifold_lab.data.open_images`).
    data_root : str, path-like or None, default=None
        Where CIFAR-10 is, for ``cifar10:...`` sources.
    limit : int or None, default=None
        How many images will be used.
    spread : bool, default=False
        For in-memory datasets (CIFAR-10), take ``limit`` images evenly spaced over the whole
        set instead of the first ``limit`` (so that every class is represented).
    progress : bool or callable, default=False
        Progress while the images are opened (decoding a tarball).

    Returns
    -------
    dataset : torch.utils.data.Dataset
        The images, to pass to :func:`~manifold_lab.probing.probe` or
        :func:`~manifold_lab.probing.ledger` with the same ``limit``.
    """
    from ..data import TensorImageDataset, open_images

    dataset: Any = open_images(images, data_root=data_root, progress=progress)
    if spread and limit is not None and isinstance(dataset, TensorImageDataset):
        if 0 < limit < len(dataset):
            dataset = dataset.subset(np.linspace(0, len(dataset) - 1, limit).round().astype(int))
    return dataset


def probe_report(
    weights: str | os.PathLike[str],
    images: str | os.PathLike[str],
    *,
    id_methods: Sequence[str] = ("twonn", "pca"),
    id_max_points: int | None = 2000,
    callback: ReportCallback | None = None,
    **options: Any,
) -> ProbeReport:
    """Probe ``weights`` on ``images``, then profile the intrinsic dimension of every
    bottleneck and measure what a ReLU there would destroy.

    Parameters
    ----------
    weights, images : str or path-like
        As for :func:`probe_source`.
    id_methods : sequence of str, default=("twonn", "pca")
        Estimators of the ID profile (see :func:`~manifold_lab.probing.id_profile`).
    id_max_points : int or None, default=2000
        At most this many bottleneck pixel samples per block for the ID profile.
    callback : callable or None, default=None
        Called as ``callback(fraction, text)``: loading and probing take the fractions up
        to 0.8, the ID profile up to 0.9, the bottleneck analysis the rest.
    **options
        Passed to :func:`probe_source` (``data_root``, ``limit``, ``spread``, ``seed``,
        ``batch_size``, ``model_loader``, probe options, ...).

    Returns
    -------
    ProbeReport
        The probe result, the intrinsic-dimension profile of the bottlenecks and what a
        ReLU at each bottleneck would destroy.
    """
    from ..bottleneck import analyse_bottlenecks

    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {callback!r}")
    report: ReportCallback = callback or (lambda fraction, text: None)
    inner = None if callback is None else _scaled(callback, _PROBE_SHARE)
    result = probe_source(weights, images, callback=inner, **options)
    report(_PROBE_SHARE, "Intrinsic dimension of every bottleneck ...")
    ids = id_profile(result, methods=id_methods, max_points=id_max_points)
    report(_ID_SHARE, "What a ReLU on the bottleneck would destroy ...")
    loss = analyse_bottlenecks(result.samples)
    report(1.0, "Done.")
    return ProbeReport(result=result, id_profile=ids, bottleneck_loss=loss)
