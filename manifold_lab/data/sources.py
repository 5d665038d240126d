"""Images by name: the loaders of the image sources the registry names, and :func:`open_images`.

Each loader ``x_source(argument, *, data_root, transform, download, progress)`` is the
implementation of an entry of :data:`manifold_lab.registry.IMAGE_SOURCE_REGISTRY`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..registry import resolve_image_source
from .cifar10 import check_split, load_cifar10
from .datasets import ImageFolderDataset, TensorImageDataset, Transform
from .sample import cifar10_sample

__all__ = ["cifar10_source", "folder_source", "open_images", "sample_source"]


def sample_source(argument: str = "", *, transform: Transform | None = None, **_: Any) -> Any:
    """The built-in CIFAR-10 sample (image source ``"cifar10-sample"``).

    Parameters
    ----------
    argument : str, default=""
        Unused (the source takes no argument).
    transform : callable or None, default=None
        Applied to each uint8 (3, 32, 32) image tensor when an item is read.
    **_
        Options meant for other sources (``data_root``...), ignored.

    Returns
    -------
    TensorImageDataset
        The 500 test images of the built-in sample (50 per class).
    """
    return cifar10_sample(transform=transform)


def cifar10_source(
    argument: str = "test",
    *,
    data_root: str | os.PathLike[str] | None = None,
    transform: Transform | None = None,
    download: bool = False,
    progress: bool = True,
    **_: Any,
) -> Any:
    """A CIFAR-10 split from ``data_root`` (image source ``"cifar10[:SPLIT]"``).

    Parameters
    ----------
    argument : {"test", "train"}, default="test"
        The split; ``""`` means ``"test"``.
    data_root : str, path-like or None, default=None
        Where CIFAR-10 is (see :func:`load_cifar10`); None: the default data root.
    transform : callable or None, default=None
        Applied to each uint8 (3, 32, 32) image tensor when an item is read.
    download : bool, default=False
        Let torchvision download CIFAR-10 when it is not found.
    progress : bool, default=True
        Show a progress bar while decoding JPEGs.
    **_
        Options meant for other sources, ignored.

    Returns
    -------
    TensorImageDataset
        The split's images in memory, with CIFAR-10's class names.
    """
    return load_cifar10(
        check_split(argument or "test"),
        data_root,
        download=download,
        transform=transform,
        progress=progress,
    )


def folder_source(argument: str, *, transform: Transform | None = None, **_: Any) -> Any:
    """A folder of images (image source ``"folder:PATH"`` or a bare folder path).

    Parameters
    ----------
    argument : str
        Path of the folder (``~`` is expanded).
    transform : callable or None, default=None
        Applied to each RGB PIL image when an item is read.
    **_
        Options meant for other sources (``data_root``...), ignored.

    Returns
    -------
    ImageFolderDataset
        The folder's images, decoded lazily.

    Raises
    ------
    ValueError
        If the path is a file.
    FileNotFoundError
        If the path does not exist.
    """
    path = Path(argument).expanduser()
    if path.is_dir():
        return ImageFolderDataset(path, transform=transform)
    if path.exists():
        raise ValueError(f"{argument!r} is a file, not a folder of images")
    raise FileNotFoundError(f"no such folder {path}")


def open_images(
    spec: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    transform: Transform | None = None,
    download: bool = False,
    progress: bool = True,
) -> TensorImageDataset | ImageFolderDataset:
    """Open the images named by ``spec`` (the CLI's ``--images``).

    Parameters
    ----------
    spec : str or path-like
        An image source of :data:`manifold_lab.registry.IMAGE_SOURCE_REGISTRY`:
        ``"cifar10:test"`` / ``"cifar10:train"`` (``"cifar10"`` means the test split):
        :func:`load_cifar10` with ``root=data_root``; ``"cifar10-sample"`` or ``"sample"``:
        :func:`cifar10_sample`; ``"folder:PATH"`` or the path of a folder:
        :class:`ImageFolderDataset` (write ``./sample`` for a folder named ``sample``).
    data_root : str, path-like or None, default=None
        CIFAR-10's ``root`` (see :func:`load_cifar10`); ignored by the other forms.
    transform : callable or None, default=None
        Per item: on a uint8 (3, H, W) tensor for CIFAR-10 and the sample, on an RGB PIL image
        for a folder.
    download : bool, default=False
        Passed to :func:`load_cifar10`.
    progress : bool, default=True
        Passed to :func:`load_cifar10`.

    Returns
    -------
    TensorImageDataset or ImageFolderDataset
        With ``classes`` (tuple of names, or None) and ``label_space`` (``"cifar10"``,
        ``"imagenet"`` or None).

    Raises
    ------
    ValueError
        For a spec of none of these forms (the message lists them).
    FileNotFoundError
        For a path that does not exist.

    Examples
    --------
    >>> ds = open_images("cifar10-sample")
    >>> len(ds), ds.label_space, ds.classes[:2]
    (500, 'cifar10', ('airplane', 'automobile'))
    """
    entry, argument = resolve_image_source(spec)
    return entry.load()(
        argument,
        data_root=data_root,
        transform=transform,
        download=download,
        progress=progress,
    )
