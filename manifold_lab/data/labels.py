"""Label spaces: the CIFAR-10 and ImageNet-1k class lists that a dataset's targets index.

The ImageNet lists are read from ``manifold_lab/_data/imagenet_wnids.txt`` on first access.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Literal

from ..fileio import atomic_write_text
from .folders import package_data_file
from .images import IMAGE_EXTENSIONS

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_CLASS_INDEX",
    "IMAGENET_NAMES",
    "IMAGENET_WNIDS",
    "LabelSpace",
    "build_imagenet_wnids",
    "imagenet_wnid_index",
    "wnid_of",
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

#: Class name -> its index in :data:`CIFAR10_CLASSES`.
CIFAR10_CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CIFAR10_CLASSES)}

LabelSpace = Literal["cifar10", "imagenet"]

# Loaded on first access from _data/imagenet_wnids.txt by the module's __getattr__.
IMAGENET_WNIDS: tuple[str, ...]
"""The 1,000 ImageNet-1k WordNet ids, sorted: the standard class index is the position here."""
IMAGENET_NAMES: tuple[str, ...]
"""Human-readable names of the ImageNet classes, in class-index order (torchvision's names)."""

_WNID_PREFIX = re.compile(r"n\d{8}(?!\d)")
_WNID = re.compile(r"n\d{8}")

# torchvision's names for the two ImageNet classes whose short names repeat.
_IMAGENET_DISAMBIGUATION = {"n02012849": "crane bird", "n03710721": "maillot tank suit"}


@functools.cache
def _imagenet_table() -> tuple[tuple[str, ...], tuple[str, ...]]:
    wnids: list[str] = []
    names: list[str] = []
    for line in package_data_file("imagenet_wnids.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        wnid, _, name = line.partition("\t")
        wnids.append(wnid.strip())
        names.append(name.strip() or wnid.strip())
    if len(wnids) != 1000 or wnids != sorted(set(wnids)):
        raise RuntimeError("manifold_lab/_data/imagenet_wnids.txt is damaged: reinstall")
    return tuple(wnids), tuple(names)


@functools.cache
def imagenet_wnid_index() -> dict[str, int]:
    """ImageNet wnid -> its class index (its position in :data:`IMAGENET_WNIDS`)."""
    return {wnid: i for i, wnid in enumerate(_imagenet_table()[0])}


def __getattr__(name: str) -> tuple[str, ...]:
    if name == "IMAGENET_WNIDS":
        return _imagenet_table()[0]
    if name == "IMAGENET_NAMES":
        return _imagenet_table()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "IMAGENET_NAMES", "IMAGENET_WNIDS"})


def wnid_of(path: Path) -> str | None:
    """The ImageNet wnid a file carries, or None.

    Its name's prefix (``n01440764_tench.JPEG``), else the name of its folder (the ImageNet
    validation layout ``n01440764/ILSVRC2012_val_00000293.JPEG``).

    Examples
    --------
    >>> from pathlib import Path
    >>> wnid_of(Path("n01440764_tench.JPEG")), wnid_of(Path("n01440764/x.JPEG"))
    ('n01440764', 'n01440764')
    >>> wnid_of(Path("cat/0001.jpg")) is None
    True
    """
    match = _WNID_PREFIX.match(path.name)
    if match:
        return match.group(0)
    if _WNID.fullmatch(path.parent.name):
        return path.parent.name
    return None


def build_imagenet_wnids(folder: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Write ``imagenet_wnids.txt`` (``<wnid>\\t<name>`` lines, sorted) from sample file names.

    ``folder`` holds one ``<wnid>_<name>.JPEG`` per class (EliSchwartz/imagenet-sample-images);
    underscores in the names become spaces, and the two repeated names are made unique as in
    torchvision's category list.

    Parameters
    ----------
    folder : str or path-like
        The folder of sample images, one per ImageNet class.
    out_path : str or path-like
        The text file to write (atomically).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        If the file names do not name exactly 1000 classes.
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
