"""torchvision's MobileNetV2 weights files: found in torch's hub cache or downloaded into it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import torch

from ..fileio import atomic_path
from ..registry import TORCHVISION_WEIGHTS
from .state_dicts import safe_torch_load

__all__ = [
    "TORCHVISION_URL",
    "ProgressCallback",
    "WeightsUnavailableError",
    "torchvision_state_dict",
    "torchvision_weights_file",
]

#: Where torchvision's weights files are downloaded from.
TORCHVISION_URL = "https://download.pytorch.org/models/"
#: ``callback(bytes_done, bytes_total)`` for downloads (``bytes_total`` None when unknown).
ProgressCallback = Callable[[int, int | None], None]


class WeightsUnavailableError(RuntimeError):
    """Weights that must be downloaded could not be, and are not in the local cache."""


def _hash_prefix(filename: str) -> str | None:
    """The SHA-256 prefix in torchvision's file names (``name-<prefix>.pth``), if any."""
    found = re.search(r"-([0-9a-f]{6,})\.", filename)
    return found.group(1) if found else None


def _download(url: str, dest: Path, callback: ProgressCallback, chunk: int = 1 << 20) -> None:
    """Download ``url`` to ``dest`` atomically, calling ``callback(bytes_done, bytes_total)``.

    When the file name carries a hash prefix (torchvision's ``name-<sha256 prefix>.pth``), the
    download's SHA-256 must start with it.
    """
    import urllib.request

    digest = hashlib.sha256()
    with atomic_path(dest, make_parents=True) as tmp:
        with tmp.open("wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
            done = 0
            callback(0, total)
            while block := response.read(chunk):
                out.write(block)
                digest.update(block)
                done += len(block)
                callback(done, total)
        prefix = _hash_prefix(dest.name)
        if prefix and not digest.hexdigest().startswith(prefix):
            raise ValueError(
                f"the file downloaded from {url} does not match the hash in its name "
                f"({prefix}); the download is corrupt, try again"
            )


def torchvision_weights_file(
    name: str = "IMAGENET1K_V2", *, progress: bool | ProgressCallback = True
) -> Path:
    """Path of torchvision's MobileNetV2 weights file in the hub cache, downloaded first when
    missing (hash-checked against the prefix in its name, written atomically).

    Parameters
    ----------
    name : {"IMAGENET1K_V1", "IMAGENET1K_V2"}, default="IMAGENET1K_V2"
        The weights name.
    progress : bool or callable, default=True
        True: a progress bar on the terminal while downloading; a callable is called as
        ``progress(bytes_done, bytes_total)`` instead (for user interfaces).

    Returns
    -------
    pathlib.Path
        The weights file in torch hub's ``checkpoints`` folder.

    Raises
    ------
    WeightsUnavailableError
        Offline and not cached: the message names the file and the folder to put it in.
    """
    if name not in TORCHVISION_WEIGHTS:
        raise ValueError(
            f"unknown torchvision weights {name!r}; choose from {sorted(TORCHVISION_WEIGHTS)}"
        )
    filename = TORCHVISION_WEIGHTS[name][0]
    url = TORCHVISION_URL + filename
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    cached = folder / filename
    if cached.exists():
        return cached
    try:
        if callable(progress):
            _download(url, cached, progress)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(
                url, str(cached), hash_prefix=_hash_prefix(filename), progress=progress
            )
    except Exception as exc:  # URLError, HTTPError, socket errors, hash mismatch...
        raise WeightsUnavailableError(
            f"torchvision weights {name} are not cached and could not be downloaded from {url} "
            f"({type(exc).__name__}: {exc}). On a machine without internet, copy {filename} "
            f"into {folder} (torch's hub cache; set TORCH_HOME to move it), or pass the file "
            f"itself: load_model('{cached}')."
        ) from None
    return cached


def torchvision_state_dict(
    name: str = "IMAGENET1K_V2", *, progress: bool | ProgressCallback = True
) -> dict:
    """Load torchvision's MobileNetV2 state dict from the hub cache, or download it first.

    Parameters
    ----------
    name : {"IMAGENET1K_V1", "IMAGENET1K_V2"}, default="IMAGENET1K_V2"
        The weights name.
    progress : bool or callable, default=True
        As for :func:`torchvision_weights_file`.

    Returns
    -------
    dict
        Parameter name to tensor, loaded on the CPU with ``weights_only=True``.

    Raises
    ------
    WeightsUnavailableError
        Offline and not cached (see :func:`torchvision_weights_file`).
    ValueError
        If the cached file is not a state dict (delete it to download it again).
    """
    path = torchvision_weights_file(name, progress=progress)
    data = safe_torch_load(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a state dict; delete it so it is downloaded again")
    return data
