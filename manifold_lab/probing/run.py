"""One call over a dataset: :func:`probe` streams batches through an :class:`ActivationProbe`.

Accepts a :class:`torch.utils.data.Dataset` (preprocessed on the fly), a DataLoader, any
iterable of batches or one image tensor; stops each forward pass after the last probed block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .hooks import ActivationProbe
from .result import ProbeResult

__all__ = ["probe"]


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


def _global_batches(
    data: Any,
    *,
    batch_size: int,
    limit: int | None,
    preprocess: Any,
    num_workers: int,
    device: torch.device,
    rank: int = 0,
    world: int = 1,
) -> tuple[Iterator[tuple[int, Tensor | None, Tensor | None, list[Any]]], int | None]:
    """This process's share of the batches a single process would form, and how many.

    Yields ``(offset, images, labels, skipped)``: the global number of the batch's first
    image, the images (None when none of them could be read), their labels (None when there
    are none) and the batch's unreadable items (:class:`~manifold_lab.evaluation.SkippedImage`).
    Global batch ``i`` goes to rank ``i % world``. For a Dataset or a tensor only this
    process's images are read, ``limit`` keeps the first ``limit`` items and image numbers
    are dataset positions (a batch with unreadable items numbers its readable ones from its
    first position on); any other iterable is iterated by every process (to number the
    images), each keeping its own batches.
    """
    from torch.utils.data import DataLoader, Dataset

    def mine(n_batches: int) -> list[int]:
        return list(range(rank, n_batches, world))

    if isinstance(data, Tensor) or (isinstance(data, Dataset) and not isinstance(data, DataLoader)):
        if isinstance(data, Tensor) and data.dim() != 4:
            raise ValueError(f"an image tensor must have shape (N, 3, H, W), got {data.shape}")
        n = int(data.shape[0]) if isinstance(data, Tensor) else len(data)  # type: ignore[arg-type]
        n = n if limit is None else min(n, limit)
        ks = mine(-(-n // batch_size))
        if isinstance(data, Tensor):
            return (
                (k * batch_size, data[k * batch_size : min(n, (k + 1) * batch_size)], None, [])
                for k in ks
            ), len(ks)
        from ..evaluation import PreprocessedDataset, collate_skipping

        loader = DataLoader(
            PreprocessedDataset(data, preprocess, catch_errors=True),
            batch_sampler=[list(range(k * batch_size, min(n, (k + 1) * batch_size))) for k in ks],
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
            collate_fn=collate_skipping,
        )

        def from_dataset() -> Iterator[tuple[int, Tensor | None, Tensor | None, list[Any]]]:
            for k, (batch, skipped) in zip(ks, loader, strict=True):
                if batch is None:
                    yield k * batch_size, None, None, skipped
                else:
                    yield (k * batch_size, *_split_batch(batch), skipped)

        return from_dataset(), len(ks)
    if not isinstance(data, Iterable):
        raise ValueError(
            f"data must be an image tensor (N, 3, H, W), a Dataset, a DataLoader or an "
            f"iterable of batches, got {type(data).__name__}"
        )
    try:
        total: int | None = len(data)  # type: ignore[arg-type]
    except TypeError:
        total = None
    if total is not None and limit is not None:
        per = getattr(data, "batch_size", None) or batch_size
        total = min(total, -(-limit // per))

    def from_iterable() -> Iterator[tuple[int, Tensor | None, Tensor | None, list[Any]]]:
        seen = 0
        for k, batch in enumerate(data):
            x, labels = _split_batch(batch)
            if limit is not None:
                x = x[: limit - seen]
                labels = None if labels is None else labels[: x.shape[0]]
            if x.shape[0] == 0:
                return
            if k % world == rank:
                yield seen, x, labels, []
            seen += x.shape[0]
            if limit is not None and seen >= limit:
                return

    return from_iterable(), None if total is None else len(mine(total))


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


def resolve_preprocess(model: nn.Module, preprocess: Any) -> Any:
    """The preprocessing :func:`probe` and :func:`~manifold_lab.probing.ledger` apply.

    ``"auto"`` is the model's ``weights_info.preprocessing`` (None without one); a callable or
    None is kept; anything else is refused.
    """
    if isinstance(preprocess, str):
        if preprocess != "auto":
            raise ValueError(f"preprocess must be 'auto', a callable or None, got {preprocess!r}")
        return getattr(getattr(model, "weights_info", None), "preprocessing", None)
    if preprocess is not None and not callable(preprocess):
        raise ValueError(f"preprocess must be 'auto', a callable or None, got {preprocess!r}")
    return preprocess


def images_to_read(data: Any, limit: int | None) -> int | None:
    """How many images a pass over ``data`` reads (None when ``data`` has no length)."""
    total = _count_images(data)
    return total if total is None or limit is None else min(total, int(limit))


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

    Notes
    -----
    Under ``torchrun`` (:mod:`torch.distributed` initialised with more than one process) the
    batches are shared out: global batch ``i`` goes to rank ``i % world`` (``device`` None
    or ``"cuda"`` then means ``cuda:LOCAL_RANK``), and at the end every process's counts,
    sums and reservoirs are merged, so that every process returns the result one process
    would (counts and samples exactly, ``lemma2_pixels`` to float64 rounding; see
    :mod:`manifold_lab.probing.distributed`). ``callback`` and ``partial`` then report this
    process's own share. Images are numbered by their position in the dataset (as the
    batches would be read by one process), so samples do not depend on the number of
    processes.
    """
    from .._progress import progress_bar
    from .._validation import check_scalar
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
    from .distributed import local_device, process_group

    rank, world = process_group()
    dev = local_device(device, world)
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
    preprocess = resolve_preprocess(model, preprocess)
    if images is None:
        images = getattr(data, "source", None) or type(data).__name__
    model.to(dev)
    if world > 1:
        from .distributed import broadcast_model

        broadcast_model(model)
    batches, total = _global_batches(
        data,
        batch_size=int(batch_size),
        limit=limit,
        preprocess=preprocess,
        num_workers=num_workers,
        device=dev,
        rank=rank,
        world=world,
    )
    images_total = images_to_read(data, limit)
    seen = n_batches = 0
    with p, torch.no_grad():
        bar = progress_bar(batches, total=total, desc="probe", unit="batch", disable=not progress)
        for done, (offset, x, labels, skipped) in enumerate(bar, 1):
            skips.add(skipped)
            if x is None:
                continue
            if not torch.is_floating_point(x):
                raise ValueError(
                    f"the images reach the model as {x.dtype} tensors: preprocess them (pass "
                    "preprocess=..., or a model from manifold_lab.load_model whose "
                    "weights_info supplies it)"
                )
            p.run(x.to(dev, non_blocking=True), labels, offset=offset)
            seen += x.shape[0]
            n_batches += 1
            if callback is not None:
                callback(seen + skips.n_skipped, images_total)
            last = total is not None and done >= total
            if partial is not None and n_batches % partial_every == 0 and not last:
                partial(p.result(samples=False, images=images, images_total=images_total))
        if hasattr(bar, "close"):
            bar.close()
    if world > 1:
        from ..evaluation import SkippedImage
        from .distributed import gather_objects, reduce_probe

        reduce_probe(p, dev)
        parts = gather_objects([(s.index, s.name, s.message) for s in skips.skipped])
        skips.skipped = [SkippedImage(*item) for part in parts for item in part]
        skips.skipped.sort(key=lambda item: item.index)
        seen = sum(gather_objects(seen))
    if seen == 0:
        if skips.n_skipped:
            raise skips.nothing_read()
        raise ValueError("the dataset is empty: there are no images to probe")
    if rank == 0:
        skips.warn(seen)
    meta: dict[str, Any] = {
        "images": images,
        "device": str(dev),
        "batch_size": int(batch_size),
        # with the images the dataset itself left out when loaded (a corrupt CIFAR-10 JPEG)
        "n_skipped": skips.n_skipped + int(getattr(data, "n_skipped", 0)),
        "skipped": [*getattr(data, "skipped", ()), *skips.names],
    }
    if world > 1:
        meta["world_size"] = world
    if info is not None:
        meta["label_space"] = getattr(info, "label_space", None)
    return p.result(**meta)
