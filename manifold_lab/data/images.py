"""Image files: which files are images, and decoding them to RGB."""

from __future__ import annotations

import io
import os

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = ["IMAGE_EXTENSIONS", "ImageDecodeError", "decode_image_bytes", "is_hidden", "load_image"]

#: File name extensions read as images (compared case-insensitively).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# DecompressionBombError derives from Exception, not OSError.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


class ImageDecodeError(ValueError):
    """An image file (or tar member) that PIL cannot decode; the message names the file."""


def is_hidden(name: str) -> bool:
    """Whether a file or folder name is hidden (starts with a dot): listings skip those."""
    return name.startswith(".")


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image file as an RGB :class:`PIL.Image.Image`, fully decoded.

    Parameters
    ----------
    path : str or path-like
        The image file (any format PIL reads).

    Returns
    -------
    PIL.Image.Image
        The image in RGB mode, the file closed.

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


def decode_image_bytes(data: bytes, name: str) -> npt.NDArray[np.uint8]:
    """Decode one encoded image to an (H, W, 3) uint8 array; errors name ``name``."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = im if im.mode == "RGB" else im.convert("RGB")
            return np.asarray(rgb, dtype=np.uint8)
    except _DECODE_ERRORS as exc:
        raise ImageDecodeError(f"cannot decode image {name}: {exc}") from None
