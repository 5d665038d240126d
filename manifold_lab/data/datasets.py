"""The datasets returned here: images held in memory, or a folder of image files, with labels.

Each is a :class:`torch.utils.data.Dataset` of ``(image, target)`` pairs that also says what
its labels mean: ``classes`` (a tuple of names, or None) and ``label_space`` (``"cifar10"``,
``"imagenet"`` or None for unlabeled images), so an evaluator can map a model's outputs onto
the dataset's targets. A :class:`TensorImageDataset` passes the uint8 ``(3, H, W)`` tensor of
an item to its ``transform``, an :class:`ImageFolderDataset` passes an RGB
:class:`PIL.Image.Image`; torchvision's ``v2`` transforms accept both. :func:`make_loader`
batches either.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from . import labels
from .images import IMAGE_EXTENSIONS, is_hidden, load_image
from .labels import CIFAR10_CLASS_INDEX, CIFAR10_CLASSES, LabelSpace, imagenet_wnid_index, wnid_of

__all__ = ["ImageFolderDataset", "TensorImageDataset", "Transform", "make_loader"]

Transform = Callable[[Any], Any]


class TensorImageDataset(Dataset[tuple[Any, int]]):
    """Images held in memory as one uint8 tensor, with integer targets.

    Parameters
    ----------
    images : Tensor of shape (N, 3, H, W), dtype uint8
        The images, RGB, channels first.
    targets : Tensor or sequence of int, length N
        Class indices into ``classes`` (-1 for unlabeled images).
    classes : sequence of str or None, default=None
        Class names; ``classes[targets[i]]`` names image ``i``.
    transform : callable or None, default=None
        Applied to the uint8 ``(3, H, W)`` tensor of each item.
    source : str, default=""
        Where the images came from (kept in :attr:`source`).
    label_space : {"cifar10", "imagenet"} or None, default=None
        What the targets index: lets an evaluator map model outputs to them.
    names : sequence of str or None, default=None
        An identifier per image (for CIFAR-10 JPEG sources ``"<class>/<file name>"``).
    skipped : sequence of str, default=()
        The images of the source left out because they could not be decoded (their names).

    Attributes
    ----------
    images, targets, classes, transform, source, label_space, names, skipped
    n_skipped : int
        ``len(skipped)``.

    Examples
    --------
    >>> import torch
    >>> ds = TensorImageDataset(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), [0, 1, 1, 0],
    ...                         ("a", "b"), transform=lambda x: x.float() / 255)
    >>> len(ds), ds[1][0].dtype, ds[1][1]
    (4, torch.float32, 1)
    >>> ds.head(2).targets.tolist(), ds.subset([2, 0]).targets.tolist()
    ([0, 1], [1, 0])
    """

    def __init__(
        self,
        images: Tensor,
        targets: Tensor | Sequence[int],
        classes: Sequence[str] | None = None,
        *,
        transform: Transform | None = None,
        source: str = "",
        label_space: LabelSpace | None = None,
        names: Sequence[str] | None = None,
        skipped: Sequence[str] = (),
    ) -> None:
        if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError("images must be a uint8 tensor of shape (N, 3, H, W)")
        if images.shape[1] != 3:
            raise ValueError(f"images must have 3 channels first, got shape {tuple(images.shape)}")
        target_tensor = torch.as_tensor(targets, dtype=torch.int64)
        if target_tensor.shape != (images.shape[0],):
            raise ValueError(
                f"targets must have shape ({images.shape[0]},), got {tuple(target_tensor.shape)}"
            )
        self.classes: tuple[str, ...] | None = tuple(classes) if classes is not None else None
        if target_tensor.numel():
            low, high = int(target_tensor.min()), int(target_tensor.max())
            top = len(self.classes) if self.classes is not None else None
            if low < -1 or (top is not None and high >= top):
                raise ValueError(f"targets must lie in [-1, {top}), got [{low}, {high}]")
        if names is not None and len(names) != images.shape[0]:
            raise ValueError(f"names has {len(names)} entries for {images.shape[0]} images")
        self.images = images
        self.targets = target_tensor
        self.transform = transform
        self.source = source
        self.label_space: LabelSpace | None = label_space
        self.names: tuple[str, ...] | None = tuple(names) if names is not None else None
        self.skipped: tuple[str, ...] = tuple(skipped)

    @property
    def n_skipped(self) -> int:
        """How many images of the source were left out as undecodable."""
        return len(self.skipped)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image: Any = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    def subset(
        self, indices: slice | Sequence[int] | Tensor | npt.NDArray[Any]
    ) -> TensorImageDataset:
        """A dataset of the images at ``indices`` (a slice, integer indices or a boolean mask).

        A slice shares memory with this dataset; other indices copy the selected images.

        Parameters
        ----------
        indices : slice, sequence of int, Tensor or ndarray
            Positions (negative ones count from the end) or a boolean mask.

        Returns
        -------
        TensorImageDataset
            The selected images with their labels and names; classes, transform, source
            and label space are kept.

        Raises
        ------
        IndexError
            If an index is out of range.
        """
        if isinstance(indices, slice):
            idx: slice | Tensor = indices
            positions: Iterable[int] = range(len(self))[indices]
        else:
            idx = torch.as_tensor(
                np.asarray(indices) if not isinstance(indices, Tensor) else indices
            )
            if idx.dtype == torch.bool:
                idx = idx.nonzero().flatten()
            idx = idx.to(torch.int64).flatten()
            if idx.numel() and (int(idx.max()) >= len(self) or int(idx.min()) < -len(self)):
                raise IndexError(f"indices out of range for a dataset of {len(self)} images")
            positions = idx.tolist()
        names = None if self.names is None else tuple(self.names[i] for i in positions)
        return TensorImageDataset(
            self.images[idx],
            self.targets[idx],
            self.classes,
            transform=self.transform,
            source=self.source,
            label_space=self.label_space,
            names=names,
        )

    def head(self, n: int) -> TensorImageDataset:
        """The first ``n`` images (a view, no copy).

        Parameters
        ----------
        n : int
            Number of images, >= 0 (more than there are takes all).

        Returns
        -------
        TensorImageDataset
            A dataset sharing memory with this one.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self.subset(slice(0, n))

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.images.shape[1:])
        return (
            f"TensorImageDataset({len(self)} images of {shape}, label_space={self.label_space!r}, "
            f"source={self.source!r})"
        )


def _pil_to_tensor(image: Image.Image) -> Tensor:
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


class ImageFolderDataset(Dataset[tuple[Any, int]]):
    """Every image in a folder, in the order of their relative paths.

    Labels are inferred from the names: when every file name starts with an ImageNet wnid
    (``n01440764_tench.JPEG``), or sits in a folder named by one (the ImageNet validation
    layout ``n01440764/ILSVRC2012_val_00000293.JPEG``), the target is the wnid's index in
    :data:`IMAGENET_WNIDS` (``label_space="imagenet"``). When every file sits in a folder
    named by a CIFAR-10 class, the target is the class index (``label_space="cifar10"``).
    Otherwise all targets are -1 and ``labeled`` is False.

    Parameters
    ----------
    root : str or path-like
        The folder.
    transform : callable or None, default=None
        Applied to the RGB :class:`PIL.Image.Image` of each item; without one an item's image
        is a uint8 tensor of shape (3, H, W).
    recursive : bool, default=True
        Also read images in sub-folders (needed for the ImageNet validation layout).
    extensions : sequence of str, default=IMAGE_EXTENSIONS
        File name endings read as images, case-insensitive; hidden files are skipped.

    Attributes
    ----------
    root : Path
    paths : list of Path
        The image files, sorted by their path relative to ``root``.
    targets : Tensor of shape (N,), dtype int64
    classes : tuple of str or None
        :data:`IMAGENET_NAMES`, :data:`CIFAR10_CLASSES` or None.
    label_space : {"imagenet", "cifar10"} or None
    labeled : bool
    source : str

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        When ``root`` does not exist or is not a folder.
    ValueError
        When the folder holds no images.

    Notes
    -----
    A file that cannot be decoded raises :class:`ImageDecodeError` (naming it) when its item
    is loaded, not at construction.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        transform: Transform | None = None,
        recursive: bool = True,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
    ) -> None:
        self.root = Path(root).expanduser()
        if not self.root.exists():
            raise FileNotFoundError(f"image folder {self.root} does not exist")
        if not self.root.is_dir():
            raise NotADirectoryError(f"{self.root} is not a folder of images")
        self.transform = transform
        self.paths = _list_images(self.root, recursive=recursive, extensions=extensions)
        if not self.paths:
            where = "or its sub-folders " if recursive else ""
            raise ValueError(
                f"no image files ({', '.join(extensions)}) in {self.root} {where}".rstrip()
            )
        targets, space = _infer_labels(self.paths)
        self.targets = torch.tensor(targets, dtype=torch.int64)
        self.label_space: LabelSpace | None = space
        self.labeled = space is not None
        self.classes: tuple[str, ...] | None = (
            labels.IMAGENET_NAMES
            if space == "imagenet"
            else CIFAR10_CLASSES
            if space == "cifar10"
            else None
        )
        kind = f"{space} labels from the file names" if space else "unlabeled"
        self.source = f"image folder {self.root} ({len(self.paths)} images, {kind})"

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = load_image(self.paths[index])
        target = int(self.targets[index])
        if self.transform is not None:
            return self.transform(image), target
        return _pil_to_tensor(image), target

    def __repr__(self) -> str:
        return f"ImageFolderDataset({self.source!r})"


def _list_images(root: Path, *, recursive: bool, extensions: Sequence[str]) -> list[Path]:
    suffixes = tuple(e.lower() for e in extensions)
    found: list[tuple[str, Path]] = []
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not is_hidden(d)]
            for name in filenames:
                if not is_hidden(name) and name.lower().endswith(suffixes):
                    path = Path(dirpath, name)
                    found.append((path.relative_to(root).as_posix(), path))
    else:
        for entry in os.scandir(root):
            if entry.is_file() and not is_hidden(entry.name):
                if entry.name.lower().endswith(suffixes):
                    found.append((entry.name, Path(entry.path)))
    found.sort(key=lambda item: item[0])
    return [path for _, path in found]


def _infer_labels(paths: Sequence[Path]) -> tuple[list[int], LabelSpace | None]:
    wnids = [wnid_of(path) for path in paths]
    known = [w for w in wnids if w is not None]
    with_wnid = len(known)
    if with_wnid == len(paths):
        index = imagenet_wnid_index()
        unknown = sorted({w for w in known if w not in index})
        if not unknown:
            return [index[w] for w in known], "imagenet"
        warnings.warn(
            f"{len(unknown)} wnid(s) are not ImageNet-1k classes (e.g. {', '.join(unknown[:5])}); "
            "treating the folder as unlabeled",
            stacklevel=3,
        )
    elif with_wnid:
        warnings.warn(
            f"only {with_wnid} of {len(paths)} files carry an ImageNet wnid; "
            "treating the folder as unlabeled",
            stacklevel=3,
        )
    if all(p.parent.name in CIFAR10_CLASS_INDEX for p in paths):
        return [CIFAR10_CLASS_INDEX[p.parent.name] for p in paths], "cifar10"
    return [-1] * len(paths), None


def make_loader(
    dataset: Dataset[Any],
    batch_size: int = 128,
    *,
    shuffle: bool = False,
    num_workers: int = 0,
    seed: int | None = None,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> DataLoader[Any]:
    """A :class:`~torch.utils.data.DataLoader` with reproducible shuffling.

    Parameters
    ----------
    dataset : Dataset
        Items must collate: give an :class:`ImageFolderDataset` of mixed image sizes a
        transform that resizes.
    batch_size : int, default=128
        Items per batch.
    shuffle : bool, default=False
        Reshuffle the items every epoch.
    num_workers : int, default=0
        Worker processes that read and transform items (0: in the main process).
    seed : int or None, default=None
        Seeds the shuffling generator (and the workers' base seed).
    drop_last : bool, default=False
        Drop the last batch when it is smaller than ``batch_size``.
    pin_memory : bool, default=False
        Put batches in page-locked memory (faster copies to a GPU).

    Returns
    -------
    DataLoader
        Yields ``(images, labels)`` batches; the same seed gives the same order.
    """
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
        drop_last=drop_last,
        pin_memory=pin_memory,
    )
