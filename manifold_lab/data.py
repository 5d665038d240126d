"""Images to probe and evaluate networks on: CIFAR-10, ImageNet-style folders, a built-in sample.

Everything here returns a :class:`torch.utils.data.Dataset` of ``(image, target)`` pairs that
also says what its labels mean: ``classes`` (a tuple of names, or None) and ``label_space``
(``"cifar10"``, ``"imagenet"`` or None for unlabeled images), so an evaluator can map a
model's outputs onto the dataset's targets.

:func:`load_cifar10`
    CIFAR-10 from a torchvision root (``cifar-10-batches-py``, also downloaded on request),
    from the JPEG ImageFolder tarball ``cifar10-jpeg.tar.gz`` read as it is, or from its
    extracted folder. JPEG sources are decoded once and kept as a uint8 cache file.
:func:`cifar10_sample`
    500 CIFAR-10 test images (50 per class) shipped inside the package: probing works on a
    fresh machine with no data and no network.
:class:`ImageFolderDataset`
    Any folder of images; ImageNet file names (``n01440764_tench.JPEG``) or the ImageNet
    validation layout (``n01440764/xxx.JPEG``) give ImageNet class indices.
:func:`open_images`
    One entry point for a spec string (``"cifar10:test"``, ``"cifar10-sample"``, a folder),
    as used by ``manifold-lab eval --images SPEC --data-root ROOT``.

Transforms differ by kind of dataset: a :class:`TensorImageDataset` (CIFAR-10, the sample)
passes the uint8 ``(3, H, W)`` tensor of an item to its ``transform``, an
:class:`ImageFolderDataset` passes an RGB :class:`PIL.Image.Image`. torchvision's ``v2``
transforms accept both.

Environment variables: ``MANIFOLD_LAB_CACHE`` is the base folder of caches (default
``$XDG_CACHE_HOME/manifold_lab``, i.e. ``~/.cache/manifold_lab``); ``MANIFOLD_LAB_DATA`` is the
default data root (default ``<cache base>/data``).

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

import functools
import hashlib
import io
import os
import pickle
import re
import tarfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ._progress import progress_bar as tqdm
from .fileio import atomic_path, atomic_write_bytes, atomic_write_text
from .registry import resolve_image_source

__all__ = [
    "CIFAR10_CLASSES",
    "IMAGENET_NAMES",
    "IMAGENET_WNIDS",
    "IMAGE_EXTENSIONS",
    "ImageDecodeError",
    "ImageFolderDataset",
    "TensorImageDataset",
    "cifar10_sample",
    "default_cache_dir",
    "default_data_root",
    "load_cifar10",
    "load_image",
    "make_loader",
    "open_images",
]

#: CIFAR-10 class names in torchvision's (and the original batches') label order.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

#: File name extensions read as images (compared case-insensitively).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# Loaded on first access from _data/imagenet_wnids.txt by the module's __getattr__.
IMAGENET_WNIDS: tuple[str, ...]
"""The 1,000 ImageNet-1k WordNet ids, sorted: the standard class index is the position here."""
IMAGENET_NAMES: tuple[str, ...]
"""Human-readable names of the ImageNet classes, in class-index order (torchvision's names)."""

LabelSpace = Literal["cifar10", "imagenet"]
Split = Literal["train", "test"]
Transform = Callable[[Any], Any]

_SPLITS: tuple[str, ...] = ("train", "test")
_CLASS_INDEX = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
_CIFAR_SHAPE = (3, 32, 32)
_WNID_PREFIX = re.compile(r"n\d{8}(?!\d)")
_WNID = re.compile(r"n\d{8}")
_TARBALL_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_TARBALL_NAMES = ("cifar10-jpeg.tar.gz", "cifar10-jpeg.tgz", "cifar10-jpeg.tar")
_CACHE_VERSION = 1
_SAMPLE_FILE = "cifar10_sample.tar"
_SAMPLE_PER_CLASS = 50
# DecompressionBombError derives from Exception, not OSError.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
_EXPECTED_LAYOUTS = (
    "a torchvision CIFAR-10 root (a folder holding cifar-10-batches-py/), "
    "the JPEG ImageFolder tarball (cifar10-jpeg.tar.gz, or a folder holding it), "
    "or its extracted folder (holding train/ and test/, or cifar10-jpeg/, "
    "or one split folder with the 10 class folders airplane ... truck)"
)


class ImageDecodeError(ValueError):
    """An image file (or tar member) that PIL cannot decode; the message names the file."""


# --------------------------------------------------------------------------------------------
# ImageNet class list (lazy)
# --------------------------------------------------------------------------------------------


def _data_file(name: str) -> Any:
    """A :class:`importlib.resources.abc.Traversable` for a file in ``manifold_lab/_data``."""
    return resources.files("manifold_lab").joinpath("_data").joinpath(name)


@functools.cache
def _imagenet_table() -> tuple[tuple[str, ...], tuple[str, ...]]:
    wnids: list[str] = []
    names: list[str] = []
    for line in _data_file("imagenet_wnids.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        wnid, _, name = line.partition("\t")
        wnids.append(wnid.strip())
        names.append(name.strip() or wnid.strip())
    if len(wnids) != 1000 or wnids != sorted(set(wnids)):
        raise RuntimeError("manifold_lab/_data/imagenet_wnids.txt is damaged: reinstall")
    return tuple(wnids), tuple(names)


@functools.cache
def _wnid_index() -> dict[str, int]:
    return {wnid: i for i, wnid in enumerate(_imagenet_table()[0])}


def __getattr__(name: str) -> tuple[str, ...]:
    if name == "IMAGENET_WNIDS":
        return _imagenet_table()[0]
    if name == "IMAGENET_NAMES":
        return _imagenet_table()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "IMAGENET_NAMES", "IMAGENET_WNIDS"})


# --------------------------------------------------------------------------------------------
# Default folders
# --------------------------------------------------------------------------------------------


def _cache_base() -> Path:
    env = os.environ.get("MANIFOLD_LAB_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path("~/.cache")).expanduser() / "manifold_lab"


def default_data_root() -> Path:
    """The data root used when none is given: ``$MANIFOLD_LAB_DATA`` or ``<cache base>/data``.

    The cache base is ``$MANIFOLD_LAB_CACHE``, else ``~/.cache/manifold_lab`` (honouring
    ``$XDG_CACHE_HOME``).
    """
    env = os.environ.get("MANIFOLD_LAB_DATA")
    return Path(env).expanduser() if env else _cache_base() / "data"


def default_cache_dir() -> Path:
    """Where decoded CIFAR-10 arrays are cached by default: ``<cache base>/cifar10``."""
    return _cache_base() / "cifar10"


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------


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

    Attributes
    ----------
    images, targets, classes, transform, source, label_space, names

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
        """The first ``n`` images (a view, no copy)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self.subset(slice(0, n))

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.images.shape[1:])
        return (
            f"TensorImageDataset({len(self)} images of {shape}, label_space={self.label_space!r}, "
            f"source={self.source!r})"
        )


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image file as an RGB :class:`PIL.Image.Image`, fully decoded.

    Raises
    ------
    ImageDecodeError
        When PIL cannot read the file; the message names it.
    """
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except FileNotFoundError:
        raise
    except _DECODE_ERRORS as exc:
        raise ImageDecodeError(f"cannot decode image file {path}: {exc}") from None


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
            _imagenet_table()[1]
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


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _list_images(root: Path, *, recursive: bool, extensions: Sequence[str]) -> list[Path]:
    suffixes = tuple(e.lower() for e in extensions)
    found: list[tuple[str, Path]] = []
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
            for name in filenames:
                if not _is_hidden(name) and name.lower().endswith(suffixes):
                    path = Path(dirpath, name)
                    found.append((path.relative_to(root).as_posix(), path))
    else:
        for entry in os.scandir(root):
            if entry.is_file() and not _is_hidden(entry.name):
                if entry.name.lower().endswith(suffixes):
                    found.append((entry.name, Path(entry.path)))
    found.sort(key=lambda item: item[0])
    return [path for _, path in found]


def _infer_labels(paths: Sequence[Path]) -> tuple[list[int], LabelSpace | None]:
    wnids: list[str | None] = []
    for path in paths:
        match = _WNID_PREFIX.match(path.name)
        if match:
            wnids.append(match.group(0))
        elif _WNID.fullmatch(path.parent.name):
            wnids.append(path.parent.name)
        else:
            wnids.append(None)
    known = [w for w in wnids if w is not None]
    with_wnid = len(known)
    if with_wnid == len(paths):
        index = _wnid_index()
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
    if all(p.parent.name in _CLASS_INDEX for p in paths):
        return [_CLASS_INDEX[p.parent.name] for p in paths], "cifar10"
    return [-1] * len(paths), None


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------


def _check_split(split: str) -> Split:
    if split == "train":
        return "train"
    if split == "test":
        return "test"
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _check_classes(found: Iterable[str], where: str) -> None:
    found_set = set(found)
    missing = [c for c in CIFAR10_CLASSES if c not in found_set]
    unexpected = sorted(found_set - set(CIFAR10_CLASSES))
    if missing or unexpected:
        parts = []
        if unexpected:
            parts.append(f"unexpected class folder(s) {', '.join(unexpected)}")
        if missing:
            parts.append(f"missing class folder(s) {', '.join(missing)}")
        raise ValueError(
            f"{where} is not a CIFAR-10 ImageFolder: {'; '.join(parts)} "
            f"(expected exactly {', '.join(CIFAR10_CLASSES)})"
        )


def _decode_image_bytes(data: bytes, name: str) -> npt.NDArray[np.uint8]:
    """Decode one encoded image to an (H, W, 3) uint8 array; errors name ``name``."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = im if im.mode == "RGB" else im.convert("RGB")
            return np.asarray(rgb, dtype=np.uint8)
    except _DECODE_ERRORS as exc:
        raise ImageDecodeError(f"cannot decode image {name}: {exc}") from None


def _check_cifar_image(array: npt.NDArray[np.uint8], name: str) -> None:
    if array.shape != (32, 32, 3):
        raise ValueError(f"{name} is {array.shape[1]}x{array.shape[0]}, not a 32x32 CIFAR image")


_Decoded = tuple[Tensor, Tensor, tuple[str, ...]]


def _stack(records: list[tuple[int, str, npt.NDArray[np.uint8]]]) -> _Decoded:
    records.sort(key=lambda r: (r[0], r[1]))
    images = torch.from_numpy(np.stack([r[2] for r in records])).permute(0, 3, 1, 2).contiguous()
    targets = torch.tensor([r[0] for r in records], dtype=torch.int64)
    return images, targets, tuple(r[1] for r in records)


def _split_member(name: str, split: str) -> tuple[str, str] | None:
    """``(class, file name)`` for a tar member ``.../<split>/<class>/<file>``, else None."""
    parts = PurePosixPath(name).parts
    if len(parts) < 3 or parts[-3] != split:
        return None
    file_name = parts[-1]
    if _is_hidden(file_name) or _is_hidden(parts[-2]):
        return None
    if not file_name.lower().endswith(IMAGE_EXTENSIONS):
        return None
    return parts[-2], file_name


def _decode_cifar_tar(
    fileobj: IO[bytes] | None, where: str, split: Split, *, progress: bool, path: Path | None = None
) -> _Decoded:
    """One sequential pass over a tar (any compression), decoding the members of ``split``."""
    records: list[tuple[int, str, npt.NDArray[np.uint8]]] = []
    classes_seen: set[str] = set()
    splits_seen: set[str] = set()
    bar = tqdm(
        desc=f"Decoding CIFAR-10 {split} ({Path(where).name})", unit="img", disable=not progress
    )
    try:
        with tarfile.open(name=path, fileobj=fileobj, mode="r:*") as tf:
            for member in tf:
                if not member.isfile():
                    continue
                parts = PurePosixPath(member.name).parts
                if len(parts) >= 3:
                    splits_seen.add(parts[-3])
                hit = _split_member(member.name, split)
                if hit is None:
                    continue
                cls, file_name = hit
                classes_seen.add(cls)
                if cls not in _CLASS_INDEX:
                    continue
                handle = tf.extractfile(member)
                if handle is None:
                    continue
                label = f"{where}:{member.name}"
                array = _decode_image_bytes(handle.read(), label)
                _check_cifar_image(array, label)
                records.append((_CLASS_INDEX[cls], f"{cls}/{file_name}", array))
                bar.update()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ValueError(f"cannot read {where} as a tar archive: {exc}") from None
    finally:
        bar.close()
    if not classes_seen:
        other = sorted(s for s in splits_seen if s in _SPLITS)
        if other:
            raise ValueError(f"{where} has no {split!r} split (it has {', '.join(other)})")
        raise ValueError(
            f"{where} is not a CIFAR-10 ImageFolder tarball: expected members like "
            f"cifar10-jpeg/{split}/airplane/0000.jpg"
        )
    _check_classes(classes_seen, f"the {split!r} split of {where}")
    return _stack(records)


def _list_cifar_folder(split_dir: Path) -> list[tuple[int, str, Path]]:
    class_dirs = [e for e in os.scandir(split_dir) if e.is_dir() and not _is_hidden(e.name)]
    _check_classes((e.name for e in class_dirs), str(split_dir))
    files: list[tuple[int, str, Path]] = []
    for entry in class_dirs:
        for item in os.scandir(entry.path):
            name = item.name
            if item.is_file() and not _is_hidden(name) and name.lower().endswith(IMAGE_EXTENSIONS):
                files.append((_CLASS_INDEX[entry.name], f"{entry.name}/{name}", Path(item.path)))
    if not files:
        raise ValueError(f"{split_dir} has the CIFAR-10 class folders but no images in them")
    files.sort(key=lambda f: (f[0], f[1]))
    return files


def _decode_cifar_folder(
    files: list[tuple[int, str, Path]], split: Split, *, progress: bool
) -> _Decoded:
    records: list[tuple[int, str, npt.NDArray[np.uint8]]] = []
    for label, name, path in tqdm(
        files, desc=f"Decoding CIFAR-10 {split} (folder)", unit="img", disable=not progress
    ):
        array = _decode_image_bytes(path.read_bytes(), str(path))
        _check_cifar_image(array, str(path))
        records.append((label, name, array))
    return _stack(records)


def _unpickle(path: Path) -> dict[str, Any]:
    # The CIFAR-10 python batches are Python 2 pickles (torchvision reads them the same way).
    with open(path, "rb") as fh:
        try:
            obj = pickle.load(fh, encoding="latin1")
        except Exception as exc:  # any unpickling failure means a bad file
            raise ValueError(f"cannot read the CIFAR-10 batch file {path}: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} does not hold a CIFAR-10 batch (a dict)")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _read_cifar_batches(folder: Path, split: Split) -> tuple[Tensor, Tensor]:
    """Read ``cifar-10-batches-py`` with pickle, as torchvision does, without its md5 check."""
    files = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    missing = [f for f in [*files, "batches.meta"] if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(missing)}: an incomplete torchvision CIFAR-10 folder "
            "(download it again with download=True)"
        )
    meta = _unpickle(folder / "batches.meta")
    label_names = [
        n.decode("latin1") if isinstance(n, bytes) else str(n) for n in meta.get("label_names", [])
    ]
    _check_classes(label_names, f"{folder / 'batches.meta'}")
    if len(label_names) != len(CIFAR10_CLASSES):
        raise ValueError(f"{folder / 'batches.meta'} lists {len(label_names)} label names")
    relabel = np.array([_CLASS_INDEX[n] for n in label_names], dtype=np.int64)
    data_parts, label_parts = [], []
    for name in files:
        entry = _unpickle(folder / name)
        labels = entry.get("labels", entry.get("fine_labels"))
        if "data" not in entry or labels is None:
            raise ValueError(f"{folder / name} lacks 'data' or 'labels'")
        data = np.asarray(entry["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != len(labels):
            raise ValueError(f"{folder / name}: data of shape {data.shape} is not N x 3072")
        data_parts.append(data.reshape(-1, *_CIFAR_SHAPE))
        label_parts.append(relabel[np.asarray(labels, dtype=np.int64)])
    images = torch.from_numpy(np.concatenate(data_parts))
    return images, torch.from_numpy(np.concatenate(label_parts))


def _download_cifar10(base: Path, split: Split) -> Path:
    from torchvision.datasets import CIFAR10

    base.mkdir(parents=True, exist_ok=True)
    CIFAR10(str(base), train=split == "train", download=True)
    return base / "cifar-10-batches-py"


_Found = tuple[Literal["torchvision", "tarball", "folder"], Path]


def _find_cifar10(folder: Path, split: Split) -> _Found | None:
    """Recognise a CIFAR-10 source in ``folder``, or None."""
    if (folder / "cifar-10-batches-py").is_dir():
        return "torchvision", folder / "cifar-10-batches-py"
    if (folder / "batches.meta").is_file() or folder.name == "cifar-10-batches-py":
        return "torchvision", folder
    for candidate in (folder, folder / "cifar10-jpeg"):
        if (candidate / split).is_dir():
            return "folder", candidate / split
    subdirs = {e.name for e in os.scandir(folder) if e.is_dir()}
    if subdirs & set(CIFAR10_CLASSES):
        if folder.name in _SPLITS and folder.name != split:
            raise ValueError(
                f"{folder} looks like the {folder.name!r} split, but split={split!r} was asked for"
            )
        return "folder", folder
    for name in _TARBALL_NAMES:
        if (folder / name).is_file():
            return "tarball", folder / name
    return None


def _resolve_cifar10(root: str | os.PathLike[str] | None, split: Split, download: bool) -> _Found:
    if root is None:
        base = default_data_root()
        found = _find_cifar10(base, split) if base.is_dir() else None
        if found is not None:
            return found
        if download:
            return "torchvision", _download_cifar10(base, split)
        raise FileNotFoundError(
            f"no CIFAR-10 data in the default data root {base} (looked for "
            f"{base / 'cifar-10-batches-py'}, {base / 'cifar10-jpeg'}, "
            f"{base / 'cifar10-jpeg.tar.gz'}). Pass root= a torchvision CIFAR-10 root, an "
            "extracted cifar10-jpeg folder or the cifar10-jpeg.tar.gz file (CLI: --data-root); "
            "or download=True when online; or set MANIFOLD_LAB_DATA to a folder holding one."
        )
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"CIFAR-10 root {path} does not exist")
    if path.is_file():
        if path.name.lower().endswith(_TARBALL_SUFFIXES):
            return "tarball", path
        raise ValueError(
            f"{path} is a file but not a tarball (.tar.gz, .tgz, .tar); expected "
            + _EXPECTED_LAYOUTS
        )
    found = _find_cifar10(path, split)
    if found is not None:
        return found
    if download:
        return "torchvision", _download_cifar10(path, split)
    raise ValueError(f"{path} holds no CIFAR-10 data: expected {_EXPECTED_LAYOUTS}")


def _cache_key(kind: str, path: Path, split: Split, files: Sequence[tuple[int, str, Path]]) -> str:
    if kind == "tarball":
        st = path.stat()
        stamp = f"{st.st_size}|{st.st_mtime_ns}"
    else:
        stats = [f[2].stat() for f in files]
        stamp = (
            f"{len(stats)}|{sum(s.st_size for s in stats)}|"
            f"{max((s.st_mtime_ns for s in stats), default=0)}"
        )
    return f"v{_CACHE_VERSION}|{kind}|{path.resolve()}|{split}|{stamp}"


def _cache_problem(obj: Any, key: str) -> str | None:
    """Why a loaded cache object cannot be used, or None when it is sound."""
    if not isinstance(obj, dict):
        return "not a dict"
    if obj.get("key") != key:
        return "it belongs to another source"
    images, targets, names = obj.get("images"), obj.get("targets"), obj.get("names")
    if not isinstance(images, Tensor) or images.dtype != torch.uint8:
        return "no uint8 images"
    if images.dim() != 4 or tuple(images.shape[1:]) != _CIFAR_SHAPE:
        return f"images of shape {tuple(images.shape)}"
    n = images.shape[0]
    if not isinstance(targets, Tensor) or targets.dtype != torch.int64 or targets.shape != (n,):
        return "targets do not match the images"
    if n and (int(targets.min()) < 0 or int(targets.max()) >= len(CIFAR10_CLASSES)):
        return "targets out of range"
    if not isinstance(names, list) or len(names) != n or not all(isinstance(s, str) for s in names):
        return "names do not match the images"
    return None


def _load_cache(file: Path, key: str) -> _Decoded | None:
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle...: corrupt
        problem: str | None = f"{type(exc).__name__}: {exc}"
    else:
        problem = _cache_problem(obj, key)
        if problem is None:
            return obj["images"], obj["targets"], tuple(obj["names"])
    warnings.warn(
        f"discarding the unusable CIFAR-10 cache file {file} ({problem}); decoding again",
        RuntimeWarning,
        stacklevel=4,
    )
    try:
        file.unlink()
    except FileNotFoundError:
        pass
    return None


def _save_cache(file: Path, key: str, decoded: _Decoded) -> None:
    """``torch.save`` the decoded set to ``file`` atomically; a failure only warns."""
    images, targets, names = decoded
    try:
        payload = {"key": key, "images": images, "targets": targets, "names": list(names)}
        # through a file object: saved to a path, torch names the archive's records after
        # the (random) temporary name, and equal caches would differ byte for byte
        with atomic_path(file, make_parents=True) as tmp, tmp.open("wb") as fh:
            torch.save(payload, fh)
    except OSError as exc:
        warnings.warn(
            f"could not write the CIFAR-10 cache {file}: {exc}", RuntimeWarning, stacklevel=4
        )


def _cached_decode(
    kind: Literal["tarball", "folder"],
    path: Path,
    split: Split,
    cache_dir: str | os.PathLike[str] | None,
    progress: bool,
) -> _Decoded:
    files = _list_cifar_folder(path) if kind == "folder" else []
    key = _cache_key(kind, path, split, files)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    file = directory / f"cifar10-{split}-{kind}-{digest}.pt"
    if file.is_file():
        cached = _load_cache(file, key)
        if cached is not None:
            return cached
    if kind == "tarball":
        decoded = _decode_cifar_tar(None, str(path), split, progress=progress, path=path)
    else:
        decoded = _decode_cifar_folder(files, split, progress=progress)
    _save_cache(file, key, decoded)
    return decoded


def load_cifar10(
    split: str = "test",
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    transform: Transform | None = None,
    progress: bool = True,
) -> TensorImageDataset:
    """Load a CIFAR-10 split as uint8 tensors, from whichever form of CIFAR-10 is at hand.

    Parameters
    ----------
    split : {"train", "test"}, default="test"
        50,000 training or 10,000 test images.
    root : str, path-like or None, default=None
        One of:

        - a torchvision CIFAR-10 root (a folder holding ``cifar-10-batches-py/``), or that
          ``cifar-10-batches-py`` folder itself;
        - the JPEG ImageFolder tarball (``.tar.gz``, ``.tgz`` or ``.tar``, members
          ``cifar10-jpeg/<split>/<class>/NNNN.jpg``), read in one sequential pass, or a folder
          holding ``cifar10-jpeg.tar.gz``;
        - its extracted folder: the one holding ``train/`` and ``test/``, the folder holding
          ``cifar10-jpeg/``, or one split folder with the 10 class folders;
        - None: the default data root (:func:`default_data_root`), searched for any of the
          above; with ``download=True`` torchvision downloads CIFAR-10 there when absent.
    download : bool, default=False
        Let torchvision download CIFAR-10 into the root when no CIFAR-10 is found there.
    cache_dir : str, path-like or None, default=None
        Where JPEG sources keep their decoded uint8 arrays (one file per source and split,
        keyed by the source's absolute path, size and modification time); default
        :func:`default_cache_dir`. A corrupt cache file is deleted and rebuilt with a warning.
    transform : callable or None, default=None
        Applied to each item's uint8 (3, 32, 32) tensor.
    progress : bool, default=True
        Show a progress bar while decoding JPEGs.

    Returns
    -------
    TensorImageDataset
        ``images`` uint8 (N, 3, 32, 32), ``targets`` indices into :data:`CIFAR10_CLASSES`
        (whatever the order of the source's class folders or label names),
        ``label_space="cifar10"``; for JPEG sources sorted by class, then file name, with
        ``names`` ``"<class>/<file name>"``.

    Raises
    ------
    ValueError
        For a bad ``split``, or a root that is not CIFAR-10 (the message says what was
        expected, and names unexpected or missing class folders).
    FileNotFoundError
        For a missing ``root``, or no data in the default root.
    ImageDecodeError
        For an image that cannot be decoded (naming it).

    Notes
    -----
    The torchvision batches are read with :mod:`pickle` directly (as torchvision itself does,
    minus its md5 check), so only point ``root`` at files you trust. Images decoded from the
    JPEG re-encoding of CIFAR-10 differ slightly from the original pixels: accuracies measured
    on them are a little lower than on the original data.
    """
    split = _check_split(split)
    kind, path = _resolve_cifar10(root, split, download)
    names: tuple[str, ...] | None
    if kind == "torchvision":
        images, targets = _read_cifar_batches(path, split)
        names = None
        source = f"CIFAR-10 {split} split, torchvision batches {path.resolve()}"
    else:
        images, targets, names = _cached_decode(kind, path, split, cache_dir, progress)
        what = "JPEG tarball" if kind == "tarball" else "JPEG folder"
        source = f"CIFAR-10 {split} split, {what} {path.resolve()}"
    return TensorImageDataset(
        images,
        targets,
        CIFAR10_CLASSES,
        transform=transform,
        source=source,
        label_space="cifar10",
        names=names,
    )


# --------------------------------------------------------------------------------------------
# Built-in sample
# --------------------------------------------------------------------------------------------


@functools.cache
def _sample_decoded() -> _Decoded:
    with _data_file(_SAMPLE_FILE).open("rb") as fh:
        return _decode_cifar_tar(fh, _SAMPLE_FILE, "test", progress=False)


def cifar10_sample(transform: Transform | None = None) -> TensorImageDataset:
    """500 CIFAR-10 test images (50 per class) that ship with the package.

    The first 50 file names of each class (sorted) of the test split of the JPEG re-encoding
    of CIFAR-10, kept as the original JPEG bytes, so the pixels equal those that
    :func:`load_cifar10` decodes from ``cifar10-jpeg.tar.gz``. No data and no network needed.

    Parameters
    ----------
    transform : callable or None, default=None
        Applied to each item's uint8 (3, 32, 32) tensor.

    Returns
    -------
    TensorImageDataset
        Sorted by class, then file name; ``names`` like ``"airplane/0000.jpg"``.

    Examples
    --------
    >>> ds = cifar10_sample()
    >>> ds.images.shape, ds.targets.bincount().tolist() == [50] * 10, ds.names[50]
    (torch.Size([500, 3, 32, 32]), True, 'automobile/0000.jpg')
    """
    images, targets, names = _sample_decoded()
    return TensorImageDataset(
        images.clone(),
        targets.clone(),
        CIFAR10_CLASSES,
        transform=transform,
        source=(
            "manifold_lab built-in CIFAR-10 sample: 50 test images per class "
            "(JPEG re-encoding of CIFAR-10, Krizhevsky 2009)"
        ),
        label_space="cifar10",
        names=names,
    )


def _build_cifar10_sample(
    tarball: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    per_class: int = _SAMPLE_PER_CLASS,
) -> Path:
    """Write the built-in sample: the first ``per_class`` test files of each class, as a tar.

    The members keep their names (``cifar10-jpeg/test/<class>/NNNN.jpg``), bytes and mtimes;
    owner, group and mode are normalised, so the output is byte-for-byte reproducible.
    """
    chosen: dict[str, dict[str, tuple[bytes, int]]] = {c: {} for c in CIFAR10_CLASSES}
    with tarfile.open(tarball, "r:*") as tf:  # one sequential pass
        for member in tf:
            hit = _split_member(member.name, "test") if member.isfile() else None
            if hit is None or hit[0] not in chosen:
                continue
            handle = tf.extractfile(member)
            if handle is not None:
                chosen[hit[0]][hit[1]] = (handle.read(), int(member.mtime))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as out:
        for cls in CIFAR10_CLASSES:
            names = sorted(chosen[cls])[:per_class]
            if len(names) < per_class:
                raise ValueError(f"{tarball} has only {len(names)} test images of class {cls}")
            for name in names:
                data, mtime = chosen[cls][name]
                info = tarfile.TarInfo(f"cifar10-jpeg/test/{cls}/{name}")
                info.size, info.mtime, info.mode = len(data), mtime, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                out.addfile(info, io.BytesIO(data))
    return atomic_write_bytes(out_path, buffer.getvalue())


# torchvision's names for the two ImageNet classes whose short names repeat.
_IMAGENET_DISAMBIGUATION = {"n02012849": "crane bird", "n03710721": "maillot tank suit"}


def _build_imagenet_wnids(folder: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Write ``imagenet_wnids.txt`` (``<wnid>\\t<name>`` lines, sorted) from sample file names.

    ``folder`` holds one ``<wnid>_<name>.JPEG`` per class (EliSchwartz/imagenet-sample-images);
    underscores in the names become spaces, and the two repeated names are made unique as in
    torchvision's category list.
    """
    rows: dict[str, str] = {}
    for path in Path(folder).iterdir():
        match = _WNID_PREFIX.match(path.name)
        if match and path.name.lower().endswith(IMAGE_EXTENSIONS):
            wnid = match.group(0)
            rows[wnid] = path.stem[len(wnid) :].lstrip("_").replace("_", " ")
    if len(rows) != 1000:
        raise ValueError(f"{folder} names {len(rows)} wnids, expected 1000")
    rows.update(_IMAGENET_DISAMBIGUATION)
    text = "".join(f"{wnid}\t{rows[wnid]}\n" for wnid in sorted(rows))
    return atomic_write_text(out_path, text)


# --------------------------------------------------------------------------------------------
# One entry point
# --------------------------------------------------------------------------------------------


def sample_source(argument: str = "", *, transform: Transform | None = None, **_: Any) -> Any:
    """The built-in CIFAR-10 sample (image source ``"cifar10-sample"``)."""
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
    """A CIFAR-10 split from ``data_root`` (image source ``"cifar10[:SPLIT]"``)."""
    return load_cifar10(
        _check_split(argument or "test"),
        data_root,
        download=download,
        transform=transform,
        progress=progress,
    )


def folder_source(argument: str, *, transform: Transform | None = None, **_: Any) -> Any:
    """A folder of images (image source ``"folder:PATH"`` or a bare folder path)."""
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
    shuffle : bool, default=False
    num_workers : int, default=0
    seed : int or None, default=None
        Seeds the shuffling generator (and the workers' base seed).
    drop_last : bool, default=False
    pin_memory : bool, default=False

    Returns
    -------
    DataLoader
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
