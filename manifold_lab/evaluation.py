"""Top-1/top-5 accuracy and throughput of a loaded model on a dataset, streamed in batches.

The dataset yields raw images (uint8 tensors (3, H, W) or PIL images) with integer labels;
:func:`evaluate` applies the preprocessing that the model's weights expect
(``model.weights_info.preprocessing``) inside the data-loader workers and maps labels to
outputs (``label_offset`` for TF-slim's 1001 outputs).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ._progress import progress_bar
from ._validation import check_scalar, resolve_device

__all__ = ["EvalResult", "PreprocessedDataset", "evaluate"]


class PreprocessedDataset(Dataset):
    """Wrap a dataset of ``(image, label)`` so each image goes through ``preprocess``."""

    def __init__(self, dataset: Any, preprocess: Any, limit: int | None = None) -> None:
        self.dataset = dataset
        self.preprocess = preprocess
        self.n = len(dataset) if limit is None else min(limit, len(dataset))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.dataset[index]
        return self.preprocess(image), int(label)


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
    """

    n_images: int
    n_labeled: int
    top1: float | None
    top5: float | None
    seconds: float
    images_per_second: float
    model_images_per_second: float
    device: str

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
    device : str or torch.device, optional
        Default: CUDA when available.
    num_workers : int, default=0
        Data-loader worker processes (decoding and preprocessing run there).
    limit : int, optional
        Only the first ``limit`` images.
    progress : bool or None, default=True
        Show a progress bar; ``None`` shows it only on a terminal.

    Returns
    -------
    EvalResult
    """
    info = getattr(model, "weights_info", None)
    if info is None:
        raise ValueError("the model has no weights_info; load it with manifold_lab.load_model")
    check_scalar(batch_size, "batch_size", kind=int, minimum=1)
    check_scalar(limit, "limit", kind=int, minimum=1, allow_none=True)
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
        PreprocessedDataset(dataset, info.preprocessing, limit),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=dev.type == "cuda",
    )
    offset = int(info.label_offset)
    n = n_labeled = correct1 = correct5 = 0
    model_seconds = 0.0
    start = time.perf_counter()
    with torch.inference_mode():
        for x, y in progress_bar(loader, progress=progress, desc="evaluate", unit="batch"):
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
    return EvalResult(
        n_images=n,
        n_labeled=n_labeled,
        top1=correct1 / n_labeled if n_labeled else None,
        top5=correct5 / n_labeled if n_labeled else None,
        seconds=seconds,
        images_per_second=n / seconds if seconds > 0 else float("inf"),
        model_images_per_second=n / model_seconds if model_seconds > 0 else float("inf"),
        device=str(dev),
    )
