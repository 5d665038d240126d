"""The built-in CIFAR-10 sample: 500 test images shipped in the package, and how it is built."""

from __future__ import annotations

import functools
import io
import os
import tarfile
from pathlib import Path

from ..fileio import atomic_write_bytes
from .cifar10 import Decoded, decode_cifar_tar, split_member
from .datasets import TensorImageDataset, Transform
from .folders import package_data_file
from .labels import CIFAR10_CLASSES

__all__ = ["build_cifar10_sample", "cifar10_sample"]

_SAMPLE_FILE = "cifar10_sample.tar"
_SAMPLE_PER_CLASS = 50


@functools.cache
def _sample_decoded() -> Decoded:
    with package_data_file(_SAMPLE_FILE).open("rb") as fh:
        return decode_cifar_tar(fh, _SAMPLE_FILE, "test", progress=False)


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


def build_cifar10_sample(
    tarball: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    per_class: int = _SAMPLE_PER_CLASS,
) -> Path:
    """Write the built-in sample: the first ``per_class`` test files of each class, as a tar.

    The members keep their names (``cifar10-jpeg/test/<class>/NNNN.jpg``), bytes and mtimes;
    owner, group and mode are normalised, so the output is byte-for-byte reproducible.

    Parameters
    ----------
    tarball : str or path-like
        The ``cifar10-jpeg.tar.gz`` archive of the full data set.
    out_path : str or path-like
        The tar file to write (atomically).
    per_class : int, default=50
        Test images per class.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        If a class has fewer than ``per_class`` test images in the archive.
    """
    chosen: dict[str, dict[str, tuple[bytes, int]]] = {c: {} for c in CIFAR10_CLASSES}
    with tarfile.open(tarball, "r:*") as tf:  # one sequential pass
        for member in tf:
            hit = split_member(member.name, "test") if member.isfile() else None
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
