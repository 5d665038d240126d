"""Inverted residual blocks found by structure: :class:`BlockInfo` and :func:`find_blocks`.

A block is recognised by its layout, not its class, so torchvision's ``mobilenet_v2()``,
:class:`~manifold_lab.mobilenet.MobileNetV2` in every configuration and TF-slim imports with
folded batch norm all work; blocks are named by ``named_modules()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["BlockInfo", "find_blocks"]


@dataclass(frozen=True, eq=False)
class BlockInfo:
    """One inverted residual block as the probe sees it.

    Parameters
    ----------
    name : str
        Dotted module name, e.g. ``"features.3"``.
    index : int
        Position among the model's inverted residuals, from 1 (``features.1`` is 1).
    module : nn.Module
        The block.
    expansion : nn.Module or None
        The module whose output is the expanded tensor after its activation (``conv.0``);
        None for a block without expansion (t = 1).
    expansion_conv, expansion_norm : nn.Module or None
        The 1x1 expansion convolution and its norm (``nn.BatchNorm2d``, or ``nn.Identity``
        for folded networks; None when absent).
    clip : float
        Upper clip of the expansion activation: 6 for ReLU6, ``inf`` for ReLU.
    bottleneck : nn.Module
        The module whose output is the bottleneck: the projection's norm (or the projection
        conv when there is no norm).
    projection_conv : nn.Conv2d
        The 1x1 projection.
    in_channels, hidden_channels, out_channels, stride : int
        Taken from the convolutions, so torchvision's blocks (which lack these attributes)
        work too.
    use_res_connect, expansion_skip : bool
        The block's bottleneck shortcut and expansion shortcut (False when the block does not
        say).
    bottleneck_activation : str
        ``"linear"`` or the activation after the projection's norm (``"relu6"``, ``"relu"``).
    """

    name: str
    index: int
    module: nn.Module
    expansion: nn.Module | None
    expansion_conv: nn.Conv2d | None
    expansion_norm: nn.Module | None
    clip: float
    bottleneck: nn.Module
    projection_conv: nn.Conv2d
    in_channels: int
    hidden_channels: int
    out_channels: int
    stride: int
    use_res_connect: bool
    expansion_skip: bool
    bottleneck_activation: str

    @property
    def has_expansion(self) -> bool:
        """Whether the block has an expansion layer (t != 1)."""
        return self.expansion is not None

    def expansion_rows(self) -> Tensor:
        """Rows of the expansion's effective linear map (batch norm folded in), float64 (C, d).

        Returns
        -------
        Tensor of shape (hidden_channels, in_channels)
            Row ``c`` is the weight vector of expansion channel ``c`` after folding the
            norm's scale ``gamma / sqrt(var + eps)`` (the bias does not matter for rank).

        Raises
        ------
        ValueError
            When the block has no expansion, or its norm cannot be folded (a
            :class:`~torch.nn.BatchNorm2d` without running statistics, or another norm).
        """
        conv = self.expansion_conv
        if conv is None:
            raise ValueError(f"block {self.name} has no expansion layer")
        weight = conv.weight.detach().to(torch.float64).reshape(conv.out_channels, -1)
        norm = self.expansion_norm
        if norm is None or isinstance(norm, nn.Identity):
            return weight
        if isinstance(norm, nn.BatchNorm2d):
            if norm.running_var is None:
                raise ValueError(
                    f"block {self.name}: its BatchNorm2d keeps no running statistics, so its "
                    "scale depends on the batch and cannot be folded for the rank check; pass "
                    "rank_pixels_per_batch=0"
                )
            scale = 1.0 / torch.sqrt(norm.running_var.detach().to(torch.float64) + norm.eps)
            if norm.weight is not None:
                scale = scale * norm.weight.detach().to(torch.float64)
            return weight * scale[:, None]
        raise ValueError(
            f"block {self.name}: cannot fold a {type(norm).__name__} into the expansion weight "
            "for the rank check (BatchNorm2d and Identity are supported); pass "
            "rank_pixels_per_batch=0"
        )


_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU, nn.SiLU, nn.GELU, nn.Hardswish)


def _activation_clip(act: nn.Module) -> float | None:
    """Upper clip of a ReLU-type activation, or None when it is not ReLU-like."""
    if isinstance(act, nn.ReLU6):
        return 6.0
    if isinstance(act, nn.ReLU):
        return math.inf
    if isinstance(act, nn.Hardtanh) and float(act.min_val) == 0.0:
        return float(act.max_val)
    return None


def _conv_stage(m: nn.Module) -> tuple[nn.Conv2d, nn.Module | None, nn.Module] | None:
    """``(conv, norm, activation)`` of a conv-norm-activation sequence, else None."""
    if isinstance(m, nn.Conv2d):
        return None
    children = list(m.children())
    if len(children) not in (2, 3) or not isinstance(children[0], nn.Conv2d):
        return None
    norm = children[1] if len(children) == 3 else None
    return children[0], norm, children[-1]


def _is_pointwise(conv: nn.Conv2d) -> bool:
    return conv.groups == 1 and tuple(conv.kernel_size) == (1, 1)


def _parse_block(name: str, index: int, module: nn.Module) -> BlockInfo | None:
    seq = getattr(module, "conv", None)
    if not isinstance(seq, nn.Sequential):
        return None
    children = list(seq.children())
    proj_pos = None
    for i, child in enumerate(children):
        if isinstance(child, nn.Conv2d) and _is_pointwise(child):
            proj_pos = i
    if proj_pos is None or proj_pos not in (1, 2):
        return None
    stages = [_conv_stage(c) for c in children[:proj_pos]]
    if any(s is None for s in stages):
        return None
    dw_conv = stages[-1][0]  # type: ignore[index]
    if dw_conv.groups < 2 or dw_conv.groups != dw_conv.in_channels:
        return None
    projection = children[proj_pos]
    assert isinstance(projection, nn.Conv2d)
    rest = children[proj_pos + 1 :]
    bottleneck: nn.Module = projection
    if rest and not isinstance(rest[0], _ACTIVATIONS):
        bottleneck = rest.pop(0)
    activation = "linear"
    if rest:
        act = rest[0]
        activation = {nn.ReLU6: "relu6", nn.ReLU: "relu"}.get(type(act), type(act).__name__)
    expansion = expansion_conv = expansion_norm = None
    clip = math.nan
    if len(stages) == 2:
        exp_conv, exp_norm, exp_act = stages[0]  # type: ignore[misc]
        if not _is_pointwise(exp_conv):
            return None
        found = _activation_clip(exp_act)
        if found is None:
            raise ValueError(
                f"block {name}: the expansion activation is {type(exp_act).__name__}, not a "
                "ReLU, ReLU6 or clipped ReLU; positive-channel counts (Figure 7) and Lemma 2 "
                "need a ReLU-type activation"
            )
        clip = found
        expansion, expansion_conv, expansion_norm = children[0], exp_conv, exp_norm
        in_channels, hidden = exp_conv.in_channels, exp_conv.out_channels
        if dw_conv.in_channels != hidden:
            return None
    else:
        in_channels = hidden = dw_conv.in_channels
    return BlockInfo(
        name=name,
        index=index,
        module=module,
        expansion=expansion,
        expansion_conv=expansion_conv,
        expansion_norm=expansion_norm,
        clip=clip,
        bottleneck=bottleneck,
        projection_conv=projection,
        in_channels=int(in_channels),
        hidden_channels=int(hidden),
        out_channels=int(projection.out_channels),
        stride=int(dw_conv.stride[0]),
        use_res_connect=bool(getattr(module, "use_res_connect", False)),
        expansion_skip=bool(getattr(module, "expansion_skip", False)),
        bottleneck_activation=activation,
    )


def find_blocks(model: nn.Module, blocks: Any = None) -> list[BlockInfo]:
    """The inverted residual blocks of ``model``, found by structure, in module order.

    A block is a module with a ``.conv`` :class:`~torch.nn.Sequential` holding an optional
    1x1 expansion conv-norm-activation, a depthwise conv-norm-activation and a 1x1
    projection conv, optionally followed by a norm and an activation: torchvision's and
    :mod:`manifold_lab.mobilenet`'s layout.

    Parameters
    ----------
    model : nn.Module
        Any network holding such blocks.
    blocks : None, str, sequence of str or callable, default=None
        Which blocks to keep, by dotted name: None keeps all, a name or a list keeps those,
        a callable ``f(name) -> bool`` keeps those it accepts.

    Returns
    -------
    list of BlockInfo
        ``index`` counts every block of the model from 1, whatever the filter keeps.

    Raises
    ------
    ValueError
        When the model has no such block, a requested name is not a block, or the filter
        keeps nothing.

    Examples
    --------
    >>> from manifold_lab.mobilenet import MobileNetV2
    >>> found = find_blocks(MobileNetV2())
    >>> len(found), found[0].name, found[0].has_expansion, found[1].in_channels
    (17, 'features.1', False, 16)
    >>> [(b.name, b.hidden_channels) for b in find_blocks(MobileNetV2(), "features.17")]
    [('features.17', 960)]
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    found: list[BlockInfo] = []
    inside: list[str] = []
    for name, module in model.named_modules():
        if any(name.startswith(prefix + ".") for prefix in inside):
            continue
        info = _parse_block(name, len(found) + 1, module)
        if info is not None:
            found.append(info)
            inside.append(name)
    if not found:
        raise ValueError(
            f"no inverted residual blocks found in {type(model).__name__}: the probe looks for "
            "modules with a `.conv` nn.Sequential of [1x1 expansion conv-norm-ReLU6,] 3x3 "
            "depthwise conv-norm-ReLU6, 1x1 projection conv[, norm] (the layout of "
            "torchvision's and manifold_lab's MobileNetV2)"
        )
    if blocks is None:
        return found
    names = [b.name for b in found]
    if callable(blocks):
        keep = [b for b in found if blocks(b.name)]
    else:
        wanted = [blocks] if isinstance(blocks, str) else list(blocks)
        unknown = [w for w in wanted if w not in names]
        if unknown:
            raise ValueError(
                f"{unknown[0]!r} is not an inverted residual block of this model; blocks are "
                f"{names[0]} .. {names[-1]}: {names}"
            )
        keep = [b for b in found if b.name in set(wanted)]
    if not keep:
        raise ValueError(f"the block filter {blocks!r} keeps none of the blocks {names}")
    return keep
