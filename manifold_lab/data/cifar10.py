"""CIFAR-10 from whichever form is at hand: torchvision batches, the JPEG tarball or its folder.

JPEG sources are decoded once and kept as a uint8 cache file (:func:`default_cache_dir`).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from .._progress import progress_bar as tqdm
from ..fileio import atomic_path
from ..registry.settings import PROBE
from .datasets import TensorImageDataset, Transform
from .folders import default_cache_dir, default_data_root
from .images import IMAGE_EXTENSIONS, ImageDecodeError, decode_image_bytes, is_hidden
from .labels import CIFAR10_CLASS_INDEX, CIFAR10_CLASSES
from .safe_pickle import load_data_pickle

__all__ = ["Decoded", "Split", "check_split", "decode_cifar_tar", "load_cifar10", "split_member"]

Split = Literal["train", "test"]

_SPLITS: tuple[str, ...] = ("train", "test")
_CIFAR_SHAPE = (3, 32, 32)
_TARBALL_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_TARBALL_NAMES = ("cifar10-jpeg.tar.gz", "cifar10-jpeg.tgz", "cifar10-jpeg.tar")
_CACHE_VERSION = 2
_EXPECTED_LAYOUTS = (
    "a torchvision CIFAR-10 root (a folder holding cifar-10-batches-py/), "
    "the JPEG ImageFolder tarball (cifar10-jpeg.tar.gz, or a folder holding it), "
    "or its extracted folder (holding train/ and test/, or cifar10-jpeg/, "
    "or one split folder with the 10 class folders airplane ... truck)"
)


def check_split(split: str) -> Split:
    """``split`` as a :data:`Split`; a :class:`ValueError` for anything but train or test."""
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


def _check_cifar_image(array: npt.NDArray[np.uint8], name: str) -> None:
    if array.shape != (32, 32, 3):
        raise ValueError(f"{name} is {array.shape[1]}x{array.shape[0]}, not a 32x32 CIFAR image")


#: A decoded CIFAR-10 set: uint8 images (N, 3, 32, 32), int64 targets (N,), a name per image.
Decoded = tuple[Tensor, Tensor, tuple[str, ...]]


def _stack(records: list[tuple[int, str, npt.NDArray[np.uint8]]], where: str) -> Decoded:
    if not records:
        raise ValueError(f"none of the images of {where} could be decoded")
    records.sort(key=lambda r: (r[0], r[1]))
    images = torch.from_numpy(np.stack([r[2] for r in records])).permute(0, 3, 1, 2).contiguous()
    targets = torch.tensor([r[0] for r in records], dtype=torch.int64)
    return images, targets, tuple(r[1] for r in records)


def split_member(name: str, split: str) -> tuple[str, str] | None:
    """``(class, file name)`` for a tar member ``.../<split>/<class>/<file>``, else None."""
    parts = PurePosixPath(name).parts
    if len(parts) < 3 or parts[-3] != split:
        return None
    file_name = parts[-1]
    if is_hidden(file_name) or is_hidden(parts[-2]):
        return None
    if not file_name.lower().endswith(IMAGE_EXTENSIONS):
        return None
    return parts[-2], file_name


def _decode_or_skip(
    raw: bytes, label: str, name: str, skipped: list[str] | None
) -> npt.NDArray[np.uint8] | None:
    """The decoded image; None (``name`` appended to ``skipped``) when it cannot be decoded
    and ``skipped`` is a list, else :class:`ImageDecodeError`."""
    try:
        array = decode_image_bytes(raw, label)
    except ImageDecodeError as exc:
        if skipped is None:
            raise ImageDecodeError(
                f"{exc} (pass on_error='skip' to leave such images out)"
            ) from None
        skipped.append(name)
        return None
    _check_cifar_image(array, label)
    return array


def decode_cifar_tar(
    fileobj: IO[bytes] | None,
    where: str,
    split: Split,
    *,
    progress: bool,
    path: Path | None = None,
    skipped: list[str] | None = None,
) -> Decoded:
    """One sequential pass over a tar (any compression), decoding the members of ``split``.

    With ``skipped`` a list, a member that cannot be decoded is left out and its name
    appended to it; with None (the default) it raises :class:`ImageDecodeError` naming it.
    """
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
                hit = split_member(member.name, split)
                if hit is None:
                    continue
                cls, file_name = hit
                classes_seen.add(cls)
                if cls not in CIFAR10_CLASS_INDEX:
                    continue
                handle = tf.extractfile(member)
                if handle is None:
                    continue
                label = f"{where}:{member.name}"
                array = _decode_or_skip(handle.read(), label, member.name, skipped)
                if array is None:
                    continue
                records.append((CIFAR10_CLASS_INDEX[cls], f"{cls}/{file_name}", array))
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
    return _stack(records, f"the {split!r} split of {where}")


def _list_cifar_folder(split_dir: Path) -> list[tuple[int, str, Path]]:
    class_dirs = [e for e in os.scandir(split_dir) if e.is_dir() and not is_hidden(e.name)]
    _check_classes((e.name for e in class_dirs), str(split_dir))
    files: list[tuple[int, str, Path]] = []
    for entry in class_dirs:
        for item in os.scandir(entry.path):
            name = item.name
            if item.is_file() and not is_hidden(name) and name.lower().endswith(IMAGE_EXTENSIONS):
                files.append(
                    (CIFAR10_CLASS_INDEX[entry.name], f"{entry.name}/{name}", Path(item.path))
                )
    if not files:
        raise ValueError(f"{split_dir} has the CIFAR-10 class folders but no images in them")
    files.sort(key=lambda f: (f[0], f[1]))
    return files


def _decode_cifar_folder(
    files: list[tuple[int, str, Path]],
    split: Split,
    *,
    progress: bool,
    skipped: list[str] | None = None,
) -> Decoded:
    records: list[tuple[int, str, npt.NDArray[np.uint8]]] = []
    for label, name, path in tqdm(
        files, desc=f"Decoding CIFAR-10 {split} (folder)", unit="img", disable=not progress
    ):
        array = _decode_or_skip(path.read_bytes(), str(path), str(path), skipped)
        if array is None:
            continue
        records.append((label, name, array))
    return _stack(records, f"the CIFAR-10 {split} folder {files[0][2].parent.parent}")


def _unpickle(path: Path) -> dict[str, Any]:
    # The CIFAR-10 python batches are Python 2 pickles of plain data and numpy arrays; they
    # are read without running anything else they might name (torchvision uses pickle.load).
    obj = load_data_pickle(path)
    if not isinstance(obj, dict):
        raise ValueError(
            f"{path} does not hold a CIFAR-10 batch: a dict, not a {type(obj).__name__}"
        )
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _batch_labels(file: Path, entry: dict[str, Any], n_images: int, n_classes: int) -> Any:
    """The batch's labels as int64, checked: one per image, each a class index."""
    key = "labels" if "labels" in entry else "fine_labels"
    labels = entry.get(key)
    if isinstance(labels, list | tuple) and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in labels
    ):
        array = np.array(labels, dtype=np.int64)
    elif isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iu":
        array = labels.astype(np.int64)
    else:
        raise ValueError(
            f"{file}: {key!r} is {_describe(labels)}, expected a list of class indices"
        )
    if len(array) != n_images:
        raise ValueError(f"{file} has {n_images} images but {len(array)} {key}")
    if len(array) and (array.min() < 0 or array.max() >= n_classes):
        raise ValueError(
            f"{file}: {key} range over {array.min()}..{array.max()}, "
            f"expected class indices 0..{n_classes - 1}"
        )
    return array


def _batch_images(file: Path, entry: dict[str, Any]) -> Any:
    """The batch's ``data`` as uint8 (N, 3, 32, 32), checked."""
    data = entry["data"]
    size = int(np.prod(_CIFAR_SHAPE))
    if not (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[1] == size
    ):
        raise ValueError(
            f"{file}: 'data' is {_describe(data)}, expected a uint8 array of shape (N, {size})"
        )
    return data.reshape(-1, *_CIFAR_SHAPE)


def _read_cifar_batches(folder: Path, split: Split) -> tuple[Tensor, Tensor]:
    """Read ``cifar-10-batches-py`` (as torchvision does, without its md5 check), checked."""
    files = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    missing = [f for f in [*files, "batches.meta"] if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(missing)}: an incomplete torchvision CIFAR-10 folder "
            "(download it again with download=True)"
        )
    meta_file = folder / "batches.meta"
    names = _unpickle(meta_file).get("label_names")
    if not isinstance(names, list | tuple) or not all(isinstance(n, str | bytes) for n in names):
        raise ValueError(f"{meta_file}: 'label_names' is {_describe(names)}, expected a list")
    label_names = [n.decode("latin1") if isinstance(n, bytes) else n for n in names]
    _check_classes(label_names, f"{meta_file}")
    if len(label_names) != len(CIFAR10_CLASSES):
        raise ValueError(f"{meta_file} lists {len(label_names)} label names")
    relabel = np.array([CIFAR10_CLASS_INDEX[n] for n in label_names], dtype=np.int64)
    data_parts, label_parts = [], []
    for name in files:
        file = folder / name
        entry = _unpickle(file)
        if "data" not in entry or not {"labels", "fine_labels"} & entry.keys():
            raise ValueError(
                f"{file} lacks 'data' or 'labels': not a CIFAR-10 batch "
                f"(its keys: {', '.join(map(repr, entry)) or 'none'})"
            )
        images = _batch_images(file, entry)
        data_parts.append(images)
        label_parts.append(relabel[_batch_labels(file, entry, len(images), len(relabel))])
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
    skipped = obj.get("skipped")
    if not isinstance(skipped, list) or not all(isinstance(s, str) for s in skipped):
        return "no list of skipped images"
    return None


def _load_cache(file: Path, key: str) -> tuple[Decoded, tuple[str, ...]] | None:
    try:
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle...: corrupt
        problem: str | None = f"{type(exc).__name__}: {exc}"
    else:
        problem = _cache_problem(obj, key)
        if problem is None:
            return (obj["images"], obj["targets"], tuple(obj["names"])), tuple(obj["skipped"])
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


def _save_cache(file: Path, key: str, decoded: Decoded, skipped: Sequence[str]) -> None:
    """``torch.save`` the decoded set (and the names of the images it left out) to ``file``
    atomically; a failure only warns."""
    images, targets, names = decoded
    try:
        payload = {
            "key": key,
            "images": images,
            "targets": targets,
            "names": list(names),
            "skipped": list(skipped),
        }
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
    on_error: str,
) -> tuple[Decoded, tuple[str, ...]]:
    """The decoded set and the names of the images left out, from the cache when it is
    there; with ``on_error="raise"`` an :class:`ImageDecodeError` for the first such image."""
    files = _list_cifar_folder(path) if kind == "folder" else []
    key = _cache_key(kind, path, split, files)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    file = directory / f"cifar10-{split}-{kind}-{digest}.pt"
    if file.is_file():
        cached = _load_cache(file, key)
        if cached is not None:
            if cached[1] and on_error == "raise":
                raise ImageDecodeError(
                    f"{path}: {cached[1][0]} cannot be decoded as an image "
                    "(pass on_error='skip' to leave such images out)"
                )
            return cached
    skipped: list[str] | None = [] if on_error == "skip" else None
    if kind == "tarball":
        decoded = decode_cifar_tar(
            None, str(path), split, progress=progress, path=path, skipped=skipped
        )
    else:
        decoded = _decode_cifar_folder(files, split, progress=progress, skipped=skipped)
    _save_cache(file, key, decoded, skipped or [])
    return decoded, tuple(skipped or ())


def load_cifar10(
    split: str = "test",
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    transform: Transform | None = None,
    progress: bool = True,
    on_error: str = "skip",
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
    on_error : {"skip", "raise"}, default="skip"
        A JPEG source's image that cannot be decoded: ``"skip"`` leaves it out with one
        warning naming how many and which (also when the decoded set comes from the cache)
        and records them in ``skipped`` / ``n_skipped``; ``"raise"`` stops with an
        :class:`ImageDecodeError` naming it.

    Returns
    -------
    TensorImageDataset
        ``images`` uint8 (N, 3, 32, 32), ``targets`` indices into :data:`CIFAR10_CLASSES`
        (whatever the order of the source's class folders or label names),
        ``label_space="cifar10"``; for JPEG sources sorted by class, then file name, with
        ``names`` ``"<class>/<file name>"``; ``skipped`` the tar members (or files) left
        out as undecodable.

    Raises
    ------
    ValueError
        For a bad ``split``, or a root that is not CIFAR-10 (the message says what was
        expected, and names unexpected or missing class folders); for a torchvision batch
        file that would run code when unpickled (refused, never run) or whose keys, shapes
        or dtypes are not CIFAR-10's (naming the file).
    FileNotFoundError
        For a missing ``root``, or no data in the default root.
    ImageDecodeError
        For an image that cannot be decoded (naming it), with ``on_error="raise"``.

    Notes
    -----
    The torchvision batches are pickles: they are read by
    :func:`~manifold_lab.data.safe_pickle.load_data_pickle`, which builds only plain data and
    numpy arrays and refuses (``ValueError``) a file that would run code when unpickled;
    their keys, shapes and dtypes are checked. Images decoded from the
    JPEG re-encoding of CIFAR-10 differ slightly from the original pixels: accuracies measured
    on them are a little lower than on the original data.
    """
    split = check_split(split)
    if on_error not in PROBE["on_error"].choices:
        raise ValueError(
            f"on_error must be one of {list(PROBE['on_error'].choices)}, got {on_error!r}"
        )
    kind, path = _resolve_cifar10(root, split, download)
    names: tuple[str, ...] | None
    skipped: tuple[str, ...] = ()
    if kind == "torchvision":
        images, targets = _read_cifar_batches(path, split)
        names = None
        source = f"CIFAR-10 {split} split, torchvision batches {path.resolve()}"
    else:
        (images, targets, names), skipped = _cached_decode(
            kind, path, split, cache_dir, progress, on_error
        )
        what = "JPEG tarball" if kind == "tarball" else "JPEG folder"
        source = f"CIFAR-10 {split} split, {what} {path.resolve()}"
        if skipped:
            shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
            warnings.warn(
                f"skipped {len(skipped)} image(s) of {path} that could not be decoded "
                f"({shown}); the dataset holds the other {len(images)}. "
                "Pass on_error='raise' to stop at the first instead",
                RuntimeWarning,
                stacklevel=2,
            )
    return TensorImageDataset(
        images,
        targets,
        CIFAR10_CLASSES,
        transform=transform,
        source=source,
        label_space="cifar10",
        names=names,
        skipped=skipped,
    )
