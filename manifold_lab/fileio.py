"""Atomic file writes: a target holds its old content or its new content, never half of one.

Every writer goes through a temporary file beside the target (same folder, so the final
:func:`os.replace` is atomic on POSIX and Windows) that is renamed over the target only once
it is complete; on any error the temporary file is removed and the target is untouched.

This module imports only the standard library: the training path uses it on machines that
have nothing but torch, torchvision and numpy.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_folder(target: Path, make_parents: bool) -> None:
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    elif not target.parent.exists():
        raise ValueError(
            f"the folder {target.parent} does not exist; create it first "
            "(or pass make_parents=True)"
        )


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, make_parents: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds.

    For writers that need a path or a file name of their own (``torch.save``, a download
    loop). The temporary file exists (empty) when the block starts. If the block raises,
    the temporary file is deleted and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        The target file.
    make_parents : bool, default=False
        Create missing parent folders; otherwise a missing folder is a ``ValueError``.

    Yields
    ------
    tmp : pathlib.Path
        Where to write. The file gets the mode of a normally created file (``0o666`` less
        the umask) before the rename.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     target = pathlib.Path(d) / "out.txt"
    ...     with atomic_path(target) as tmp:
    ...         _ = tmp.write_text("done")
    ...     target.read_text()
    'done'
    """
    target = Path(path)
    _check_folder(target, make_parents)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give a normal file's mode
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # gone after a successful replace; removed after an error


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, make_parents: bool = False
) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, then a rename).

    Parameters
    ----------
    path : str or path-like
        The target file.
    data : bytes
        The new content.
    make_parents : bool, default=False
        Create missing parent folders; otherwise a missing folder is a ``ValueError``.

    Returns
    -------
    path : pathlib.Path
        The target.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = atomic_write_bytes(pathlib.Path(d) / "a.bin", b"\\x00\\x01")
    ...     p.read_bytes()
    b'\\x00\\x01'
    """
    target = Path(path)
    with atomic_path(target, make_parents=make_parents) as tmp:
        tmp.write_bytes(data)
    return target


def atomic_write_text(
    path: str | os.PathLike[str],
    text: str | bytes,
    *,
    encoding: str = "utf-8",
    make_parents: bool = False,
) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file, then a rename).

    Parameters
    ----------
    path : str or path-like
        The target file.
    text : str or bytes
        The new content; a ``str`` is encoded with ``encoding``, bytes are written as they
        are (as :func:`atomic_write_bytes`).
    encoding : str, default="utf-8"
        Encoding of ``text``.
    make_parents : bool, default=False
        Create missing parent folders; otherwise a missing folder is a ``ValueError``.

    Returns
    -------
    path : pathlib.Path
        The target.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = atomic_write_text(pathlib.Path(d) / "a.txt", "hello")
    ...     p.read_text()
    'hello'
    """
    data = text.encode(encoding) if isinstance(text, str) else text
    return atomic_write_bytes(path, data, make_parents=make_parents)
