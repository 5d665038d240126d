"""One MobileNetV2 builder for every network the project probes or trains.

With default settings :class:`MobileNetV2` *is* torchvision's ``mobilenet_v2``: the same module
tree (``features.0`` stem, ``features.1..17`` inverted residuals with a ``.conv`` sequence,
``features.18`` the 1x1 conv to 1280 channels, ``classifier = Dropout, Linear``), the same
parameter and buffer names, the same initialisation, so a torchvision state dict loads unchanged
and gives the same logits. Every option the paper's ablations need (its Figure 6) is a field of
:class:`MobileNetV2Config`:

``bottleneck_activation``
    ``"linear"`` (the design) or ``"relu6"``: a ReLU6 after the projection's batch norm, as
    module ``conv.4`` (``conv.3`` in the expansion-free first block), applied *before* the
    residual addition.
``shortcut``
    ``"bottleneck"`` (the design): ``x + F(x)`` between the thin layers whenever the stride is 1
    and the channel counts agree. ``"expansion"``: the skip instead joins the *expanded* tensors
    of consecutive blocks (after the expansion's ReLU6), wherever their shapes agree, the
    classical residual that the paper compares against. ``"none"``: no residual at all.
``stem``
    ``"imagenet"``: stride-2 stem conv, as in Table 2. ``"cifar"``: stride 1 in the stem *and*
    in the first stride-2 stage (the ``(6, 24, 2, 2)`` row), as CIFAR MobileNetV2s do, so a
    32x32 image leaves the network at 4x4 rather than 1x1. ``"stride1"``: stride 1 in the stem
    only (the body as in Table 2; 32x32 leaves at 2x2), about half the cost of ``"cifar"``.
``norm`` / ``padding``
    ``"batchnorm"`` and ``"torch"`` for trainable networks; ``"folded"`` (convolutions with bias,
    ``nn.Identity`` in the norm slots so names do not shift) and ``"tf_same"`` (TensorFlow
    ``SAME`` padding) for networks imported from TF-slim/TFLite files.

Examples
--------
>>> import torch
>>> from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
>>> model = MobileNetV2()
>>> sum(p.numel() for p in model.parameters())
3504872
>>> small = MobileNetV2(MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.5))
>>> small.eval()(torch.zeros(2, 3, 32, 32)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CONFIG_CHOICES",
    "TABLE2",
    "Conv2dSame",
    "ConvNormActivation",
    "InvertedResidual",
    "MobileNetV2",
    "MobileNetV2Config",
    "describe_blocks",
    "make_divisible",
    "mobilenet_v2",
]

#: The paper's Table 2 body: (expansion t, output channels c, repeats n, first stride s).
TABLE2: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

BottleneckActivation = Literal["linear", "relu6"]
Shortcut = Literal["bottleneck", "expansion", "none"]
Stem = Literal["imagenet", "cifar", "stride1"]
Norm = Literal["batchnorm", "folded"]
Padding = Literal["torch", "tf_same"]

CONFIG_CHOICES: dict[str, tuple[str, ...]] = {
    "bottleneck_activation": ("linear", "relu6"),
    "shortcut": ("bottleneck", "expansion", "none"),
    "stem": ("imagenet", "cifar", "stride1"),
    "norm": ("batchnorm", "folded"),
    "padding": ("torch", "tf_same"),
}


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` (TF-slim's and torchvision's rule).

    The result is never below ``min_value`` (default ``divisor``) and never more than 10% below
    ``value``.

    Examples
    --------
    >>> make_divisible(32 * 0.35), make_divisible(1280 * 1.4), make_divisible(16 * 0.75)
    (16, 1792, 16)
    """
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


@dataclass(frozen=True)
class MobileNetV2Config:
    """Everything that defines a MobileNetV2 architecture (and nothing about its weights).

    Parameters
    ----------
    num_classes : int, default=1000
        Outputs of the classifier (1001 for TF-slim ImageNet models: index 0 is "background").
    width_mult : float, default=1.0
        Width multiplier applied to every layer's channels, rounded by :func:`make_divisible`.
    expand_ratio : float or None, default=None
        Overrides the expansion t of every row whose t is not 1 (None keeps Table 2's 6).
    stem : {"imagenet", "cifar", "stride1"}, default="imagenet"
        See the module docstring.
    bottleneck_activation : {"linear", "relu6"}, default="linear"
        Activation after the projection (the paper's Figure 6a).
    shortcut : {"bottleneck", "expansion", "none"}, default="bottleneck"
        Where the residual connections go (the paper's Figure 6b).
    dropout : float, default=0.2
        Dropout before the classifier.
    first_channel : int, default=32
        Stem channels before the width multiplier.
    last_channel : int or None, default=None
        Channels of the final 1x1 conv; None means torchvision's rule
        ``make_divisible(1280 * max(1, width_mult))``.
    setting : tuple of (t, c, n, s) or None, default=None
        The network body; None is :data:`TABLE2`.
    round_nearest : int, default=8
        Channel counts are multiples of this.
    norm : {"batchnorm", "folded"}, default="batchnorm"
        ``"folded"``: convolutions with bias and identity norms (batch norm folded in).
    padding : {"torch", "tf_same"}, default="torch"
        ``"tf_same"``: TensorFlow ``SAME`` padding (asymmetric for stride 2).
    """

    num_classes: int = 1000
    width_mult: float = 1.0
    expand_ratio: float | None = None
    stem: Stem = "imagenet"
    bottleneck_activation: BottleneckActivation = "linear"
    shortcut: Shortcut = "bottleneck"
    dropout: float = 0.2
    first_channel: int = 32
    last_channel: int | None = None
    setting: tuple[tuple[int, int, int, int], ...] | None = field(default=None)
    round_nearest: int = 8
    norm: Norm = "batchnorm"
    padding: Padding = "torch"

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {self.num_classes!r}")
        if not (isinstance(self.width_mult, int | float) and 0 < self.width_mult <= 8):
            raise ValueError(f"width_mult must be in (0, 8], got {self.width_mult!r}")
        if self.expand_ratio is not None and not (
            isinstance(self.expand_ratio, int | float) and 1 <= self.expand_ratio <= 64
        ):
            raise ValueError(f"expand_ratio must be in [1, 64] or None, got {self.expand_ratio!r}")
        for name, allowed in CONFIG_CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not (isinstance(self.dropout, int | float) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("first_channel", "round_nearest"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.last_channel is not None and (
            not isinstance(self.last_channel, int) or self.last_channel < 1
        ):
            raise ValueError(f"last_channel must be a positive integer, got {self.last_channel!r}")
        if self.setting is not None:
            rows = tuple(tuple(int(v) for v in row) for row in self.setting)
            if not rows or any(len(r) != 4 for r in rows):
                raise ValueError(
                    "setting must be a non-empty sequence of (t, c, n, s) rows, "
                    f"got {self.setting!r}"
                )
            for t, c, n, s in rows:
                if t < 1 or c < 1 or n < 1 or s not in (1, 2):
                    raise ValueError(
                        f"bad setting row (t={t}, c={c}, n={n}, s={s}): need t, c, n >= 1 and s "
                        "in {1, 2}"
                    )
            object.__setattr__(self, "setting", rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (tuples become lists) that :meth:`from_dict` reads back.

        Returns
        -------
        dict
            Field name to value; ``setting`` as a list of ``[t, c, n, s]`` lists, or None.
        """
        d = asdict(self)
        if d["setting"] is not None:
            d["setting"] = [list(r) for r in d["setting"]]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MobileNetV2Config:
        """Build a config from :meth:`to_dict` output; unknown keys raise ``ValueError``."""
        if not isinstance(data, dict):
            raise ValueError(f"a MobileNetV2 config must be a dict, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown MobileNetV2 config keys {unknown}; known keys are {sorted(known)}"
            )
        d = dict(data)
        if d.get("setting") is not None:
            d["setting"] = tuple(tuple(r) for r in d["setting"])
        return cls(**d)

    def replace(self, **changes: Any) -> MobileNetV2Config:
        """A copy with some fields changed (validated again).

        Parameters
        ----------
        **changes
            New values of fields, by name (``width_mult=0.5``, ``stem="cifar"``).

        Returns
        -------
        MobileNetV2Config
            A new config; this one is unchanged.

        Raises
        ------
        ValueError
            If a changed value is invalid.
        """
        return replace(self, **changes)

    def rows(self) -> list[tuple[int, int, int, int]]:
        """The body rows (t, c, n, s) after ``expand_ratio`` and the CIFAR stem are applied.

        Channels here are before the width multiplier.

        Returns
        -------
        list of tuple of (int, int, int, int)
            Expansion ratio ``t``, output channels ``c``, repeats ``n`` and first stride
            ``s`` of each row (Table 2 of the paper unless ``setting`` replaces it).
        """
        rows = [tuple(r) for r in (self.setting or TABLE2)]
        out: list[tuple[int, int, int, int]] = []
        first_s2_seen = False
        for t, c, n, s in rows:
            if self.expand_ratio is not None and t != 1:
                t = self.expand_ratio  # type: ignore[assignment]
            if self.stem == "cifar" and s == 2 and not first_s2_seen:
                first_s2_seen = True
                s = 1
            out.append((t, c, n, s))
        return out


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow padding: ``SAME`` computed from the input size, or explicit.

    ``SAME`` pads ``max((ceil(H / s) - 1) * s + k - H, 0)`` rows in total, the smaller half on
    top/left, so a stride-2 3x3 conv on an even input pads (0, 1), unlike PyTorch's symmetric 1.
    Set ``explicit_padding = (left, right, top, bottom)`` to reproduce a TF ``PAD`` operator
    followed by a ``VALID`` convolution instead. Parameter names are those of ``nn.Conv2d``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["padding"] = 0
        super().__init__(*args, **kwargs)
        self.explicit_padding: tuple[int, int, int, int] | None = None

    def _tf_pad(self, x: Tensor) -> tuple[int, int, int, int]:
        if self.explicit_padding is not None:
            return self.explicit_padding
        pads = []
        for size, k, s, d in zip(
            x.shape[-2:], self.kernel_size, self.stride, self.dilation, strict=True
        ):
            out = math.ceil(size / s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        return (left, right, top, bottom)

    def forward(self, x: Tensor) -> Tensor:
        left, right, top, bottom = self._tf_pad(x)
        if left == right and top == bottom:  # symmetric: let the convolution pad (no copy)
            return F.conv2d(
                x, self.weight, self.bias, self.stride, (top, left), self.dilation, self.groups
            )
        return super().forward(F.pad(x, (left, right, top, bottom)))

    def extra_repr(self) -> str:
        mode = "SAME" if self.explicit_padding is None else f"explicit={self.explicit_padding}"
        return super().extra_repr() + f", tf_padding={mode}"


def _conv(config: MobileNetV2Config, cin: int, cout: int, k: int, stride: int, groups: int):
    bias = config.norm == "folded"
    if config.padding == "tf_same":
        return Conv2dSame(cin, cout, k, stride=stride, groups=groups, bias=bias)
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=bias)


def _norm(config: MobileNetV2Config, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if config.norm == "batchnorm" else nn.Identity()


class ConvNormActivation(nn.Sequential):
    """``[0]`` conv, ``[1]`` norm, ``[2]`` ReLU6: torchvision's ``Conv2dNormActivation`` layout."""

    def __init__(
        self,
        config: MobileNetV2Config,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        super().__init__(
            _conv(config, in_channels, out_channels, kernel_size, stride, groups),
            _norm(config, out_channels),
            nn.ReLU6(),
        )
        self.out_channels = out_channels


class InvertedResidual(nn.Module):
    """The MobileNetV2 block: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 projection.

    Attributes
    ----------
    conv : nn.Sequential
        ``[0]`` expansion (absent when t = 1), then depthwise, projection conv, projection norm
        and, for ``bottleneck_activation="relu6"``, a ``ReLU6``.
    use_res_connect : bool
        Whether ``forward`` returns ``x + conv(x)`` (the bottleneck shortcut).
    expansion_skip : bool
        Whether the previous block's expanded tensor is added to this block's expansion
        (only with ``shortcut="expansion"``; set by :class:`MobileNetV2`).
    """

    def __init__(
        self,
        config: MobileNetV2Config,
        inp: int,
        oup: int,
        stride: int,
        expand_ratio: float,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        self.stride = stride
        self.in_channels = inp
        self.hidden_channels = round(inp * expand_ratio)
        self.out_channels = oup
        self.has_expansion = expand_ratio != 1
        self.use_res_connect = config.shortcut == "bottleneck" and stride == 1 and inp == oup
        self.expansion_skip = False
        hidden = self.hidden_channels
        layers: list[nn.Module] = []
        if self.has_expansion:
            layers.append(ConvNormActivation(config, inp, hidden, kernel_size=1))
        layers.append(ConvNormActivation(config, hidden, hidden, stride=stride, groups=hidden))
        layers.append(_conv(config, hidden, oup, 1, 1, 1))
        layers.append(_norm(config, oup))
        if config.bottleneck_activation == "relu6":
            layers.append(nn.ReLU6())
        self.conv = nn.Sequential(*layers)
        self._is_cn = stride > 1

    @property
    def projection_activation(self) -> nn.Module | None:
        """The module after the projection norm (ReLU6), or None for a linear bottleneck."""
        last = self.conv[-1]
        return last if isinstance(last, nn.ReLU6) else None

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)

    def forward_with_expansion(self, x: Tensor, previous: Tensor | None) -> tuple[Tensor, Tensor]:
        """Forward pass for ``shortcut="expansion"``: returns (output, expanded tensor)."""
        start = 1 if self.has_expansion else 0
        expanded = self.conv[0](x) if self.has_expansion else x
        if self.expansion_skip:
            if previous is None or previous.shape != expanded.shape:
                raise RuntimeError("expansion shortcut without a matching previous expansion")
            expanded = expanded + previous
        out = expanded
        for module in list(self.conv)[start:]:
            out = module(out)
        return out, expanded


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al., 2018) built from a :class:`MobileNetV2Config`.

    Parameters
    ----------
    config : MobileNetV2Config, optional
        The architecture; the default is torchvision's ``mobilenet_v2()``.
    **overrides
        Config fields, e.g. ``MobileNetV2(num_classes=10, stem="cifar")``.

    Attributes
    ----------
    config : MobileNetV2Config
    features : nn.Sequential
        Stem, 17 inverted residuals (for Table 2), final 1x1 conv.
    classifier : nn.Sequential
        ``Dropout``, ``Linear``.
    weights_info : object or None
        Set by :func:`manifold_lab.weights.load_model` to describe where the weights came from
        and how to preprocess images for them.
    """

    def __init__(self, config: MobileNetV2Config | None = None, **overrides: Any) -> None:
        super().__init__()
        config = config or MobileNetV2Config()
        if overrides:
            config = config.replace(**overrides)
        self.config = config
        self.weights_info: Any = None
        rn = config.round_nearest
        input_channel = make_divisible(config.first_channel * config.width_mult, rn)
        self.last_channel = (
            config.last_channel
            if config.last_channel is not None
            else make_divisible(1280 * max(1.0, config.width_mult), rn)
        )
        stem_stride = 2 if config.stem == "imagenet" else 1
        features: list[nn.Module] = [
            ConvNormActivation(config, 3, input_channel, stride=stem_stride)
        ]
        for t, c, n, s in config.rows():
            output_channel = make_divisible(c * config.width_mult, rn)
            for i in range(n):
                stride = s if i == 0 else 1
                features.append(InvertedResidual(config, input_channel, output_channel, stride, t))
                input_channel = output_channel
        features.append(ConvNormActivation(config, input_channel, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(
            nn.Dropout(p=config.dropout), nn.Linear(self.last_channel, config.num_classes)
        )
        if config.shortcut == "expansion":
            previous: InvertedResidual | None = None
            for block in self.blocks():
                block.expansion_skip = (
                    previous is not None
                    and previous.stride == 1
                    and previous.hidden_channels == block.hidden_channels
                )
                previous = block
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def blocks(self) -> list[InvertedResidual]:
        """The inverted residual blocks in order (``features.1`` .. ``features.17`` by default).

        Returns
        -------
        list of InvertedResidual
            The blocks themselves (not copies).
        """
        return [m for m in self.features if isinstance(m, InvertedResidual)]

    def block_names(self) -> list[str]:
        """Dotted module names of :meth:`blocks`, e.g. ``["features.1", ..., "features.17"]``.

        Returns
        -------
        list of str
            One name per block, as ``model.get_submodule`` reads them.
        """
        return [
            f"features.{i}" for i, m in enumerate(self.features) if isinstance(m, InvertedResidual)
        ]

    def forward_features(self, x: Tensor) -> Tensor:
        """The feature map before pooling, shape (batch, last_channel, h, w).

        Parameters
        ----------
        x : Tensor of shape (batch, 3, height, width)
            Preprocessed images.

        Returns
        -------
        Tensor of shape (batch, last_channel, h, w)
            The output of the last 1x1 convolution (``features.18``).
        """
        if self.config.shortcut != "expansion":
            return self.features(x)
        previous: Tensor | None = None
        for module in self.features:
            if isinstance(module, InvertedResidual):
                x, previous = module.forward_with_expansion(x, previous)
            else:
                x = module(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Classify a batch: features, global average pooling, dropout and the linear layer.

        Parameters
        ----------
        x : Tensor of shape (batch, 3, height, width)
            Preprocessed images.

        Returns
        -------
        Tensor of shape (batch, num_classes)
            Logits.
        """
        x = self.forward_features(x)
        x = F.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


def mobilenet_v2(
    config: MobileNetV2Config | None = None, *, seed: int | None = None, **overrides: Any
) -> MobileNetV2:
    """Build a randomly initialised :class:`MobileNetV2`, reproducibly when ``seed`` is given.

    Parameters
    ----------
    config : MobileNetV2Config, optional
        The architecture (default: Table 2, 1000 classes).
    seed : int, optional
        Seed for the initial weights; the global torch RNG is left untouched.
    **overrides
        Config fields.

    Returns
    -------
    MobileNetV2
        The network, in training mode, on the CPU.

    Examples
    --------
    >>> a, b = mobilenet_v2(seed=0), mobilenet_v2(seed=0)
    >>> bool((a.classifier[1].weight == b.classifier[1].weight).all())
    True
    """
    if seed is None:
        return MobileNetV2(config, **overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MobileNetV2(config, **overrides)


def describe_blocks(model: MobileNetV2) -> list[dict[str, Any]]:
    """One row per block: name, channels, stride, shortcut kind, projection activation."""
    rows = []
    for name, block in zip(model.block_names(), model.blocks(), strict=True):
        rows.append(
            {
                "name": name,
                "in": block.in_channels,
                "hidden": block.hidden_channels,
                "out": block.out_channels,
                "stride": block.stride,
                "bottleneck_shortcut": block.use_res_connect,
                "expansion_shortcut": block.expansion_skip,
                "projection_activation": block.projection_activation is not None,
            }
        )
    return rows
