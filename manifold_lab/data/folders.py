"""Where data lives: the default data root, the cache folder, the files shipped in the package.

Environment variables: ``MANIFOLD_LAB_CACHE`` is the base folder of caches (default
``$XDG_CACHE_HOME/manifold_lab``, i.e. ``~/.cache/manifold_lab``); ``MANIFOLD_LAB_DATA`` is the
default data root (default ``<cache base>/data``).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["default_cache_dir", "default_data_root", "package_data_file"]


def package_data_file(name: str) -> Any:
    """A :class:`importlib.resources.abc.Traversable` for a file in ``manifold_lab/_data``."""
    return resources.files("manifold_lab").joinpath("_data").joinpath(name)


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

    Returns
    -------
    pathlib.Path
        The folder (not created here).
    """
    env = os.environ.get("MANIFOLD_LAB_DATA")
    return Path(env).expanduser() if env else _cache_base() / "data"


def default_cache_dir() -> Path:
    """Where decoded CIFAR-10 arrays are cached by default: ``<cache base>/cifar10``.

    Returns
    -------
    pathlib.Path
        The folder (not created here).
    """
    return _cache_base() / "cifar10"
