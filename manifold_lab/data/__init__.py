"""Images to probe and evaluate networks on: CIFAR-10, ImageNet-style folders, a built-in sample.

Everything here returns a :class:`torch.utils.data.Dataset` of ``(image, target)`` pairs that
also says what its labels mean (``classes`` and ``label_space``). One module per concept:
:mod:`~manifold_lab.data.folders` (default data root and cache folder),
:mod:`~manifold_lab.data.images` (image files), :mod:`~manifold_lab.data.labels` (the CIFAR-10
and ImageNet class lists), :mod:`~manifold_lab.data.datasets` (:class:`TensorImageDataset`,
:class:`ImageFolderDataset`, :func:`make_loader`), :mod:`~manifold_lab.data.cifar10`
(:func:`load_cifar10` from any form of CIFAR-10), :mod:`~manifold_lab.data.sample`
(:func:`cifar10_sample`, 500 test images shipped in the package),
:mod:`~manifold_lab.data.safe_pickle` (:func:`load_data_pickle`, pickles of plain data read
without running code) and :mod:`~manifold_lab.data.sources` (:func:`open_images` and the
image sources' loaders).

Examples
--------
>>> from manifold_lab.data import cifar10_sample, make_loader
>>> ds = cifar10_sample()
>>> len(ds), ds.classes[ds[0][1]], ds[0][0].shape, ds[0][0].dtype
(500, 'airplane', torch.Size([3, 32, 32]), torch.uint8)
>>> images, targets = next(iter(make_loader(ds, batch_size=64)))
>>> images.shape, targets[:3].tolist()
(torch.Size([64, 3, 32, 32]), [0, 0, 0])
"""

from __future__ import annotations

from . import labels
from .cifar10 import Split, load_cifar10
from .datasets import ImageFolderDataset, TensorImageDataset, Transform, make_loader
from .folders import default_cache_dir, default_data_root
from .images import IMAGE_EXTENSIONS, ImageDecodeError, load_image
from .labels import CIFAR10_CLASSES, LabelSpace, build_imagenet_wnids
from .safe_pickle import UnsafePickleError, load_data_pickle
from .sample import build_cifar10_sample, cifar10_sample
from .sources import cifar10_source, folder_source, open_images, sample_source

__all__ = [
    "CIFAR10_CLASSES",
    "IMAGENET_NAMES",
    "IMAGENET_WNIDS",
    "IMAGE_EXTENSIONS",
    "ImageDecodeError",
    "ImageFolderDataset",
    "LabelSpace",
    "Split",
    "TensorImageDataset",
    "Transform",
    "UnsafePickleError",
    "build_cifar10_sample",
    "build_imagenet_wnids",
    "cifar10_sample",
    "cifar10_source",
    "default_cache_dir",
    "default_data_root",
    "folder_source",
    "load_cifar10",
    "load_data_pickle",
    "load_image",
    "make_loader",
    "open_images",
    "sample_source",
]

# Read from manifold_lab/_data/imagenet_wnids.txt on first access (see labels.__getattr__).
IMAGENET_WNIDS: tuple[str, ...]
IMAGENET_NAMES: tuple[str, ...]


def __getattr__(name: str) -> tuple[str, ...]:
    if name in ("IMAGENET_WNIDS", "IMAGENET_NAMES"):
        value: tuple[str, ...] = getattr(labels, name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "IMAGENET_NAMES", "IMAGENET_WNIDS"})
