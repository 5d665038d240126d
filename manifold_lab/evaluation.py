"""Top-1/top-5 accuracy and throughput of a loaded model on a dataset, streamed in batches.

The dataset yields raw images (uint8 tensors (3, H, W) or PIL images) with integer labels;
:func:`evaluate` applies the preprocessing that the model's weights expect
(``model.weights_info.preprocessing``) inside the data-loader workers and maps labels to
outputs (``label_offset`` for TF-slim's 1001 outputs).

An image that cannot be read (a corrupt or truncated file) does not end the run: with
``on_error="skip"`` (the default) it is left out with one warning at the end and counted in
the result (``n_skipped``, ``skipped``), and every other image counts as usual;
``on_error="raise"`` stops at the first with one line naming the file. :class:`SkipLog` and
:func:`collate_skipping` do this for any loop over a :class:`PreprocessedDataset` (the
probe's too).
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from ._progress import progress_bar
from ._validation import check_scalar, resolve_device
from .data.images import ImageDecodeError
from .registry.settings import PROBE

__all__ = [
    "ON_ERROR",
    "EvalResult",
    "PreprocessedDataset",
    "SkipLog",
    "SkippedImage",
    "collate_skipping",
    "evaluate",
]

ON_ERROR: tuple[str, ...] = PROBE["on_error"].choices
"""What to do with an image that cannot be read: leave it out (counted), or stop."""


@dataclass(frozen=True)
class SkippedImage:
    """An item that could not be read: its position, its name and why."""

    index: int
    name: str
    message: str


def _item_name(dataset: Any, index: int) -> str:
    """The file or name of item ``index`` (``paths``, ``names``), else ``image <index>``."""
    for attr in ("paths", "names"):
        seq = getattr(dataset, attr, None)
        if seq is not None and 0 <= index < len(seq):
            return os.fspath(seq[index])
    return f"image {index}"


class PreprocessedDataset(Dataset):
    """Wrap a dataset of ``(image, label)`` so each image goes through ``preprocess``.

    Parameters
    ----------
    dataset : Dataset
        Items ``(image, label)``.
    preprocess : callable or None
        Applied to every image; None passes the items through as they are.
    limit : int or None, default=None
        Only the first ``limit`` items.
    catch_errors : bool, default=False
        Return a :class:`SkippedImage` instead of raising when an image cannot be read
        (:class:`~manifold_lab.data.ImageDecodeError` or :class:`OSError`); batch such
        items with :func:`collate_skipping`.
    """

    def __init__(
        self,
        dataset: Any,
        preprocess: Any,
        limit: int | None = None,
        *,
        catch_errors: bool = False,
    ) -> None:
        self.dataset = dataset
        self.preprocess = preprocess
        self.n = len(dataset) if limit is None else min(limit, len(dataset))
        self.catch_errors = catch_errors

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Any:
        try:
            item = self.dataset[index]
        except (ImageDecodeError, OSError) as exc:
            if not self.catch_errors:
                raise
            message = str(exc) if isinstance(exc, ImageDecodeError) else f"cannot read {exc}"
            return SkippedImage(index, _item_name(self.dataset, index), message)
        if self.preprocess is None:
            return item
        image, label = item
        return self.preprocess(image), int(label)


def collate_skipping(items: list[Any]) -> tuple[Any, list[SkippedImage]]:
    """Batch items as the default collation does, setting :class:`SkippedImage` items apart.

    Returns
    -------
    batch : object or None
        The default collation of the readable items (None when there are none).
    skipped : list of SkippedImage
    """
    kept = [item for item in items if not isinstance(item, SkippedImage)]
    skipped = [item for item in items if isinstance(item, SkippedImage)]
    return (default_collate(kept) if kept else None), skipped


def check_on_error(on_error: str) -> str:
    """Validate ``on_error`` (one of :data:`ON_ERROR`)."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {list(ON_ERROR)}, got {on_error!r}")
    return on_error


@dataclass
class SkipLog:
    """The unreadable images of a run: raise at the first, or count them and warn once.

    Parameters
    ----------
    on_error : {"skip", "raise"}
        See :data:`ON_ERROR`.

    Examples
    --------
    >>> log = SkipLog("skip")
    >>> log.add([SkippedImage(3, "a/bad.png", "cannot decode image file a/bad.png")])
    >>> log.n_skipped, log.names
    (1, ['a/bad.png'])
    """

    on_error: str = "skip"
    skipped: list[SkippedImage] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_on_error(self.on_error)

    def add(self, skipped: list[SkippedImage]) -> None:
        """Record a batch's unreadable images; with ``on_error="raise"`` raise at the first."""
        if skipped and self.on_error == "raise":
            raise ImageDecodeError(
                f"{skipped[0].message} (pass on_error='skip' to leave such images out)"
            )
        self.skipped.extend(skipped)

    @property
    def n_skipped(self) -> int:
        """How many images were left out."""
        return len(self.skipped)

    @property
    def names(self) -> list[str]:
        """The names of the images left out."""
        return [s.name for s in self.skipped]

    def warn(self, n_read: int) -> None:
        """One warning when images were left out (``n_read``: the images that were used)."""
        if self.skipped:
            warnings.warn(
                f"skipped {self.n_skipped} of {self.n_skipped + n_read} images that could not "
                f"be read (first: {self.skipped[0].message}); the statistics are over the other "
                f"{n_read}. Pass on_error='raise' to stop at the first instead",
                stacklevel=3,
            )

    def nothing_read(self) -> ValueError:
        """The error when no image at all could be read."""
        return ValueError(
            f"none of the {self.n_skipped} images could be read (first: {self.skipped[0].message})"
        )


@dataclass(frozen=True)
class EvalResult:
    """What :func:`evaluate` measured.

    Attributes
    ----------
    n_images : int
        Images processed.
    n_labeled : int
        Images with a label (accuracy is over these).
    top1, top5 : float or None
        Accuracy in [0, 1]; None without labels.
    seconds : float
        Wall-clock time, loading and preprocessing included.
    images_per_second : float
        ``n_images / seconds`` (end to end).
    model_images_per_second : float
        Throughput of the forward passes alone.
    device : str
        Where the model ran.
    n_skipped : int
        Images left out because they could not be read (``on_error="skip"``); they count
        neither in ``n_images`` nor in the accuracy.
    skipped : tuple of str
        Their names (file paths for a folder of images).
    """

    n_images: int
    n_labeled: int
    top1: float | None
    top5: float | None
    seconds: float
    images_per_second: float
    model_images_per_second: float
    device: str
    n_skipped: int = 0
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)


def evaluate(
    model: torch.nn.Module,
    dataset: Any,
    *,
    batch_size: int = 64,
    device: Any = None,
    num_workers: int = 0,
    limit: int | None = None,
    progress: bool | None = True,
    on_error: str = "skip",
) -> EvalResult:
    """Classify every image of ``dataset`` and score top-1/top-5 against its labels.

    Parameters
    ----------
    model : MobileNetV2
        A model from :func:`manifold_lab.load_model` (its ``weights_info`` supplies the
        preprocessing, label space and label offset).
    dataset : Dataset
        Items ``(image, label)``; label -1 means unlabelled. Its ``label_space`` attribute
        (``"imagenet"``, ``"cifar10"`` or None) must match the model's when labels are present.
    batch_size : int, default=64
        Images per forward pass.
    device : str or torch.device, optional
        Default: CUDA when available.
    num_workers : int, default=0
        Data-loader worker processes (decoding and preprocessing run there).
    limit : int, optional
        Only the first ``limit`` images.
    progress : bool or None, default=True
        Show a progress bar; ``None`` shows it only on a terminal.
    on_error : {"skip", "raise"}, default="skip"
        An image that cannot be read (corrupt file): ``"skip"`` leaves it out with a
        warning and counts it in ``n_skipped``; ``"raise"`` stops with an
        :class:`~manifold_lab.data.ImageDecodeError` naming it.

    Returns
    -------
    EvalResult
        Accuracy, counts, throughput and the names of skipped images.
    """
    info = getattr(model, "weights_info", None)
    if info is None:
        raise ValueError("the model has no weights_info; load it with manifold_lab.load_model")
    check_scalar(batch_size, "batch_size", kind=int, minimum=1)
    check_scalar(limit, "limit", kind=int, minimum=1, allow_none=True)
    skips = SkipLog(on_error)
    if len(dataset) == 0:
        raise ValueError("the dataset is empty")
    data_space = getattr(dataset, "label_space", None)
    if data_space is not None and info.label_space is not None and data_space != info.label_space:
        raise ValueError(
            f"the images are labelled in the {data_space} label space but the model predicts "
            f"{info.label_space} classes ({info.source}:{info.name}); accuracy would be "
            "meaningless. Use a model trained on these labels, or unlabelled images."
        )
    score = data_space is not None and data_space == info.label_space
    dev = resolve_device(device)
    model = model.to(dev).eval()
    loader = DataLoader(
        PreprocessedDataset(dataset, info.preprocessing, limit, catch_errors=True),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=dev.type == "cuda",
        collate_fn=collate_skipping,
    )
    offset = int(info.label_offset)
    n = n_labeled = correct1 = correct5 = 0
    model_seconds = 0.0
    start = time.perf_counter()
    with torch.inference_mode():
        for batch, skipped in progress_bar(
            loader, progress=progress, desc="evaluate", unit="batch"
        ):
            skips.add(skipped)
            if batch is None:
                continue
            x, y = batch
            x = x.to(dev, non_blocking=True)
            t0 = time.perf_counter()
            logits = model(x)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            model_seconds += time.perf_counter() - t0
            n += len(x)
            if not score:
                continue
            labeled = y >= 0
            if not labeled.any():
                continue
            k = min(5, logits.shape[1])
            top = logits.topk(k, dim=1).indices.cpu()[labeled] - offset
            target = y[labeled].unsqueeze(1)
            n_labeled += int(labeled.sum())
            correct1 += int((top[:, :1] == target).any(dim=1).sum())
            correct5 += int((top == target).any(dim=1).sum())
    seconds = time.perf_counter() - start
    if n == 0:
        raise skips.nothing_read()
    skips.warn(n)
    return EvalResult(
        n_images=n,
        n_labeled=n_labeled,
        top1=correct1 / n_labeled if n_labeled else None,
        top5=correct5 / n_labeled if n_labeled else None,
        seconds=seconds,
        images_per_second=n / seconds if seconds > 0 else float("inf"),
        model_images_per_second=n / model_seconds if model_seconds > 0 else float("inf"),
        device=str(dev),
        # images the dataset itself left out when it was loaded (a corrupt CIFAR-10 JPEG)
        n_skipped=skips.n_skipped + int(getattr(dataset, "n_skipped", 0)),
        skipped=(*tuple(getattr(dataset, "skipped", ())), *skips.names),
    )
