"""One call over a dataset: :func:`probe` streams batches through an :class:`ActivationProbe`.

Accepts a :class:`torch.utils.data.Dataset` (preprocessed on the fly), a DataLoader, any
iterable of batches or one image tensor; stops each forward pass after the last probed block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .hooks import ActivationProbe
from .result import ProbeResult

__all__ = ["probe"]


def _batches(
    data: Any,
    *,
    batch_size: int,
    preprocess: Any,
    num_workers: int,
    device: torch.device,
) -> tuple[Iterable[Any], int | None]:
    """An iterable of batches and its length (None when unknown)."""
    from torch.utils.data import DataLoader, Dataset

    if isinstance(data, Tensor):
        if data.dim() != 4:
            raise ValueError(f"an image tensor must have shape (N, 3, H, W), got {data.shape}")
        n = data.shape[0]
        return ((data[i : i + batch_size],) for i in range(0, n, batch_size)), -(-n // batch_size)
    if isinstance(data, DataLoader):
        try:
            return data, len(data)
        except TypeError:
            return data, None
    if isinstance(data, Dataset):
        from ..evaluation import PreprocessedDataset, collate_skipping

        loader = DataLoader(
            PreprocessedDataset(data, preprocess, catch_errors=True),
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
            collate_fn=collate_skipping,
        )
        return loader, len(loader)
    if isinstance(data, Iterable):
        return data, None
    raise ValueError(
        f"data must be an image tensor (N, 3, H, W), a Dataset, a DataLoader or an iterable "
        f"of batches, got {type(data).__name__}"
    )


def _split_batch(batch: Any) -> tuple[Tensor, Tensor | None]:
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, Sequence) and batch and isinstance(batch[0], Tensor):
        labels = batch[1] if len(batch) > 1 else None
        if labels is not None and not isinstance(labels, Tensor):
            labels = torch.as_tensor(labels)
        return batch[0], labels
    raise ValueError(
        f"a batch must be a tensor of images or an (images, labels) pair, got {type(batch)}"
    )


def _count_images(data: Any) -> int | None:
    """How many images ``data`` holds, or None when it cannot tell (generators, lists)."""
    if isinstance(data, Tensor):
        return int(data.shape[0])
    if isinstance(data, torch.utils.data.DataLoader):
        data = data.dataset
    elif not isinstance(data, torch.utils.data.Dataset):
        return None
    try:
        return len(data)
    except TypeError:
        return None


def probe(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int = 64,
    limit: int | None = None,
    device: Any = None,
    preprocess: Any = "auto",
    num_workers: int = 0,
    progress: bool = True,
    images: str | None = None,
    stop_early: bool = True,
    blocks: Any = None,
    pixel_samples: int = 4096,
    image_samples: int = 1024,
    sample_expansion: bool = True,
    rank_pixels_per_batch: int | None = 64,
    rank_rtol: float = 1e-5,
    seed: int = 0,
    cpu_threads: int | None = 1,
    callback: Callable[[int, int | None], None] | None = None,
    partial: Callable[[ProbeResult], None] | None = None,
    partial_every: int = 1,
    on_error: str = "skip",
) -> ProbeResult:
    """Probe every inverted residual block of ``model`` over a dataset, in batches.

    Parameters
    ----------
    model : nn.Module
        A MobileNetV2 (ours, torchvision's, or from :func:`manifold_lab.load_model`).
    data : Dataset, DataLoader, iterable of batches or Tensor
        A :class:`torch.utils.data.Dataset` of ``(image, label)`` items (raw images are
        preprocessed, see ``preprocess``); a DataLoader or any other iterable (a list, a
        generator) yielding preprocessed ``(images, labels)`` pairs or image tensors; or one
        tensor of preprocessed images ``(N, 3, H, W)``.
    batch_size : int, default=64
        Images per forward pass (datasets and tensors; a DataLoader keeps its own).
    limit : int or None, default=None
        Only the first ``limit`` images.
    device : str, torch.device or None, default=None
        Where to run; None: CUDA when available. Statistics stay on the device until the end.
    preprocess : "auto", callable or None, default="auto"
        For datasets: ``"auto"`` applies ``model.weights_info.preprocessing`` when the model
        has one (models from :func:`~manifold_lab.load_model`), else nothing; a callable is
        applied to every image; None applies nothing.
    num_workers : int, default=0
        Data-loader worker processes (datasets only).
    progress : bool, default=True
        Show a progress bar.
    images : str or None, default=None
        How to name the images in the metadata (default: the dataset's ``source``).
    stop_early : bool, default=True
        Stop each forward pass after the last probed block (the rest of the network does not
        change the statistics).
    blocks : None, str, sequence of str or callable, default=None
        Blocks to probe, by dotted name; None probes all (see :class:`ActivationProbe`).
    pixel_samples : int, default=4096
        Size of each per-pixel reservoir; 0 disables (see :class:`ActivationProbe`).
    image_samples : int, default=1024
        Size of each per-image reservoir; 0 disables (see :class:`ActivationProbe`).
    sample_expansion : bool, default=True
        Also sample expansion vectors (see :class:`ActivationProbe`).
    rank_pixels_per_batch : int or None, default=64
        Pixels per block and batch that get the Lemma 2 rank check; None: all, 0: none (see
        :class:`ActivationProbe`).
    rank_rtol : float, default=1e-5
        Relative singular-value threshold of the rank check (see :class:`ActivationProbe`).
    seed : int, default=0
        Seeds the reservoirs and the rank subsample (see :class:`ActivationProbe`).
    cpu_threads : int or None, default=1
        Threads for the probe's own CPU work (see :class:`ActivationProbe`).
    callback : callable or None, default=None
        Called after every batch as ``callback(images_done, images_total)``, with
        ``images_total`` None when the data has no length; for progress bars in user
        interfaces (the app's probe page uses it).
    partial : callable or None, default=None
        Called as ``partial(result)`` every ``partial_every`` batches with the statistics so
        far (a :class:`ProbeResult` without reservoir samples; ``metadata["n_images"]`` says
        how many images it counts), e.g. to draw Figure 7 while the probe runs. Not called
        after the last batch: the returned result is the final one.
    partial_every : int, default=1
        Batches between calls of ``partial``.
    on_error : {"skip", "raise"}, default="skip"
        For a Dataset, an image that cannot be read (corrupt file): ``"skip"`` leaves it out
        with a warning, the statistics of every other image are kept and the metadata count
        it (``n_skipped``, ``skipped``: the names); ``"raise"`` stops with an
        :class:`~manifold_lab.data.ImageDecodeError` naming it. (A DataLoader or iterable
        of your own raises what it raises.)

    Returns
    -------
    ProbeResult
        Per-block statistics and reservoir samples; the metadata record the images, their
        number and resolution, and the probe's settings.

    Raises
    ------
    ValueError
        For a model without inverted residual blocks, an empty dataset or bad parameters.
    """
    from .._progress import progress_bar
    from .._validation import check_scalar, resolve_device
    from ..evaluation import SkipLog

    skips = SkipLog(on_error)
    batch_size = check_scalar(batch_size, "batch_size", kind=int, minimum=1)
    limit = check_scalar(limit, "limit", kind=int, minimum=1, allow_none=True)
    num_workers = check_scalar(num_workers, "num_workers", kind=int, minimum=0)
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {callback!r}")
    if partial is not None and not callable(partial):
        raise ValueError(f"partial must be callable or None, got {partial!r}")
    partial_every = check_scalar(partial_every, "partial_every", kind=int, minimum=1)
    dev = resolve_device(device)
    p = ActivationProbe(
        model,
        blocks=blocks,
        pixel_samples=pixel_samples,
        image_samples=image_samples,
        sample_expansion=sample_expansion,
        rank_pixels_per_batch=rank_pixels_per_batch,
        rank_rtol=rank_rtol,
        seed=seed,
        stop_early=stop_early,
        cpu_threads=cpu_threads,
    )
    try:
        n_data = len(data)
    except TypeError:
        n_data = None
    if n_data == 0:
        raise ValueError("the dataset is empty: there are no images to probe")
    info = getattr(model, "weights_info", None)
    if isinstance(preprocess, str):
        if preprocess != "auto":
            raise ValueError(f"preprocess must be 'auto', a callable or None, got {preprocess!r}")
        preprocess = getattr(info, "preprocessing", None)
    elif preprocess is not None and not callable(preprocess):
        raise ValueError(f"preprocess must be 'auto', a callable or None, got {preprocess!r}")
    if images is None:
        images = getattr(data, "source", None) or type(data).__name__
    model.to(dev)
    batches, total = _batches(
        data, batch_size=int(batch_size), preprocess=preprocess, num_workers=num_workers, device=dev
    )
    if limit is not None and total is not None:
        per = getattr(batches, "batch_size", None) or int(batch_size)
        total = min(total, -(-int(limit) // per))
    own_loader = isinstance(data, torch.utils.data.Dataset)
    images_total = _count_images(data)
    if images_total is not None and limit is not None:
        images_total = min(images_total, int(limit))
    seen = n_batches = 0
    with p, torch.no_grad():
        bar = progress_bar(batches, total=total, desc="probe", unit="batch", disable=not progress)
        for batch in bar:
            if own_loader:
                batch, skipped = batch
                skips.add(skipped)
                if batch is None:
                    continue
            x, labels = _split_batch(batch)
            if limit is not None:
                x = x[: int(limit) - seen]
                labels = None if labels is None else labels[: x.shape[0]]
            if x.shape[0] == 0:
                break
            if not torch.is_floating_point(x):
                raise ValueError(
                    f"the images reach the model as {x.dtype} tensors: preprocess them (pass "
                    "preprocess=..., or a model from manifold_lab.load_model whose "
                    "weights_info supplies it)"
                )
            p.run(x.to(dev, non_blocking=True), labels)
            seen += x.shape[0]
            n_batches += 1
            if callback is not None:
                callback(seen + skips.n_skipped, images_total)
            if limit is not None and seen >= limit:
                break
            if partial is not None and n_batches % partial_every == 0:
                partial(p.result(samples=False, images=images, images_total=images_total))
        if hasattr(bar, "close"):
            bar.close()
    if seen == 0:
        if skips.n_skipped:
            raise skips.nothing_read()
        raise ValueError("the dataset is empty: there are no images to probe")
    skips.warn(seen)
    meta: dict[str, Any] = {
        "images": images,
        "device": str(dev),
        "batch_size": int(batch_size),
        # with the images the dataset itself left out when loaded (a corrupt CIFAR-10 JPEG)
        "n_skipped": skips.n_skipped + int(getattr(data, "n_skipped", 0)),
        "skipped": [*getattr(data, "skipped", ()), *skips.names],
    }
    if info is not None:
        meta["label_space"] = getattr(info, "label_space", None)
    return p.result(**meta)
