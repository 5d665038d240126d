"""Image preprocessing that matches where a network's weights came from.

Three recipes, each a small callable object that accepts a PIL image or a uint8 tensor
(3, H, W) and returns a float tensor (3, size, size):

* :class:`TorchvisionPreprocess`: resize the shorter side (256, or 232 for IMAGENET1K_V2),
  centre crop 224, scale to [0, 1], ImageNet mean/std: exactly torchvision's
  ``weights.transforms()``.
* :class:`TFSlimPreprocess`: TF-slim's ``inception_preprocessing.preprocess_for_eval``: central
  crop of 87.5% of each side, bilinear resize with TensorFlow 1's legacy sampling
  (``align_corners=False``, no half-pixel centres, no antialiasing), scale to [-1, 1]. With
  ``input_quantization=(scale, zero_point)`` the image is first quantised to uint8 as a TFLite
  quantised model's input would be, then dequantised, so a float model sees exactly what the
  quantised interpreter sees.
* :class:`CifarPreprocess`: per-channel CIFAR-10 mean/std at native resolution.

Examples
--------
>>> import torch
>>> pre = TFSlimPreprocess(size=224)
>>> x = pre(torch.full((3, 256, 300), 255, dtype=torch.uint8))
>>> tuple(x.shape), round(float(x.max()), 4)
((3, 224, 224), 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import check_scalar

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CifarPreprocess",
    "TFSlimPreprocess",
    "TorchvisionPreprocess",
    "to_uint8_tensor",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def to_uint8_tensor(image: Any) -> Tensor:
    """A PIL image, HWC uint8 array or CHW uint8 tensor as a uint8 tensor of shape (3, H, W).

    Grayscale and RGBA images become RGB.
    """
    if isinstance(image, Tensor):
        t = image
        if t.dtype != torch.uint8:
            raise ValueError(
                f"expected a uint8 image tensor (3, H, W), got dtype {t.dtype}; "
                "pass raw pixels, not an already normalised tensor"
            )
        if t.ndim == 2:
            t = t.unsqueeze(0)
        if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
            raise ValueError(f"expected an image tensor of shape (3, H, W), got {tuple(t.shape)}")
        if t.shape[0] == 1:
            t = t.expand(3, -1, -1)
        return t[:3].contiguous()
    if isinstance(image, np.ndarray):
        a = image
        if a.dtype != np.uint8:
            raise ValueError(f"expected a uint8 image array (H, W, 3), got dtype {a.dtype}")
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
            raise ValueError(f"expected an image array of shape (H, W, 3), got {a.shape}")
        if a.shape[2] == 1:
            a = np.repeat(a, 3, axis=2)
        return torch.from_numpy(np.ascontiguousarray(a[:, :, :3])).permute(2, 0, 1).contiguous()
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow comes with torchvision
        raise ImportError("reading images needs pillow: pip install pillow") from exc
    if isinstance(image, Image.Image):
        arr = np.asarray(image.convert("RGB"), dtype=np.uint8)
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()
    raise TypeError(
        f"expected a PIL image, a uint8 numpy array (H, W, 3) or a uint8 tensor (3, H, W), "
        f"got {type(image).__name__}"
    )


def _legacy_tf_resize_bilinear(x: Tensor, size: tuple[int, int]) -> Tensor:
    """``tf.compat.v1.image.resize_bilinear(align_corners=False, half_pixel_centers=False)``.

    ``x`` is float (C, H, W). Source coordinate of output pixel i is ``i * in / out``.
    """
    _, h, w = x.shape
    oh, ow = size

    def axis(n_in: int, n_out: int) -> tuple[Tensor, Tensor, Tensor]:
        src = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
        lo = torch.floor(src).long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        frac = (src - lo.double()).to(x.dtype)
        return lo, hi, frac

    y0, y1, fy = axis(h, oh)
    x0, x1, fx = axis(w, ow)
    top = x[:, y0, :] * (1 - fy)[None, :, None] + x[:, y1, :] * fy[None, :, None]
    return top[:, :, x0] * (1 - fx)[None, None, :] + top[:, :, x1] * fx[None, None, :]


@dataclass(frozen=True)
class TFSlimPreprocess:
    """TF-slim evaluation preprocessing (central crop 87.5%, bilinear resize, [-1, 1]).

    Parameters
    ----------
    size : int, default=224
        Output side.
    central_fraction : float, default=0.875
        Fraction of each side kept by the central crop (TF ``central_crop``).
    input_quantization : tuple of (float, int) or None, default=None
        ``(scale, zero_point)`` of a quantised model's uint8 input. When given, the [-1, 1]
        image is quantised to uint8 with these parameters (round, clip) and dequantised again.
    """

    size: int = 224
    central_fraction: float = 0.875
    input_quantization: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        check_scalar(self.size, "size", kind=int, minimum=1)
        check_scalar(
            self.central_fraction, "central_fraction", minimum=0, maximum=1, include_min=False
        )

    def resize_uint8(self, image: Any) -> Tensor:
        """Crop and resize only, as a float tensor of pixel values in [0, 255]."""
        x = to_uint8_tensor(image).float()
        _, h, w = x.shape
        if self.central_fraction < 1:
            # tf.image.central_crop: start = int((h - h * f) / 2), size = h - 2 * start
            top = int((h - h * self.central_fraction) / 2)
            left = int((w - w * self.central_fraction) / 2)
            x = x[:, top : h - top, left : w - left]
        return _legacy_tf_resize_bilinear(x, (self.size, self.size))

    def quantize(self, image: Any) -> Tensor:
        """The uint8 tensor a quantised TFLite model would be fed (needs ``input_quantization``)."""
        if self.input_quantization is None:
            raise ValueError("quantize() needs input_quantization=(scale, zero_point)")
        scale, zero_point = self.input_quantization
        x = self.resize_uint8(image) / 255.0 * 2.0 - 1.0
        q = torch.round(x / scale + zero_point).clamp(0, 255)
        return q.to(torch.uint8)

    def __call__(self, image: Any) -> Tensor:
        if self.input_quantization is not None:
            scale, zero_point = self.input_quantization
            return (self.quantize(image).float() - zero_point) * scale
        return self.resize_uint8(image) / 255.0 * 2.0 - 1.0


@dataclass(frozen=True)
class TorchvisionPreprocess:
    """torchvision's ImageNet classification preprocessing (``weights.transforms()``).

    Parameters
    ----------
    crop_size : int, default=224
    resize_size : int, default=256
        Shorter side after resizing (torchvision's IMAGENET1K_V2 weights use 232).
    mean, std : tuple of float
        Normalisation, default ImageNet's.
    """

    crop_size: int = 224
    resize_size: int = 256
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __call__(self, image: Any) -> Tensor:
        from torchvision.transforms._presets import ImageClassification

        if isinstance(image, Tensor | np.ndarray):
            image = to_uint8_tensor(image)
        else:
            image = image.convert("RGB")
        transform = ImageClassification(
            crop_size=self.crop_size,
            resize_size=self.resize_size,
            mean=self.mean,
            std=self.std,
        )
        return transform(image)


@dataclass(frozen=True)
class CifarPreprocess:
    """Per-channel mean/std normalisation at native resolution (CIFAR-10 statistics).

    Parameters
    ----------
    size : int or None, default=None
        Resize (bilinear, antialiased) to a square of this side first; None keeps the size.
    mean, std : tuple of float
        Default: CIFAR-10 training-set statistics.
    """

    size: int | None = None
    mean: tuple[float, float, float] = CIFAR10_MEAN
    std: tuple[float, float, float] = CIFAR10_STD

    def __call__(self, image: Any) -> Tensor:
        x = to_uint8_tensor(image).float() / 255.0
        if self.size is not None and tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(
                x[None], size=(self.size, self.size), mode="bilinear", antialias=True
            )[0]
        mean = torch.tensor(self.mean).view(3, 1, 1)
        std = torch.tensor(self.std).view(3, 1, 1)
        return (x - mean) / std
