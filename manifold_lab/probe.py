"""Activation patterns of MobileNetV2's inverted residuals: the paper's Figure 7 and Lemma 2.

The paper argues (Section 3.2, Appendix A) that the expansion layer ``ReLU6(B x)`` of an
inverted residual keeps the information of its thin input ``x`` when enough expanded channels
are *informative*: Lemma 2 says ``x`` is determined by ``y = ReLU(B x)`` iff the rows of ``B``
at the non-zero coordinates of ``y`` contain ``n = dim x`` linearly independent rows. Figure 7
shows, for every expansion layer of a trained and an untrained MobileNetV2, how many channels
are positive per pixel against that threshold ``n`` (the block's input channels).

:class:`ActivationProbe` measures exactly that, streaming: forward hooks on every inverted
residual (found by structure and named by ``named_modules()``, so torchvision's
``mobilenet_v2()``, :class:`~manifold_lab.mobilenet.MobileNetV2` in every configuration and
TF-slim imports with folded batch norm all work) keep running counts, never activations:

* per expansion layer (the output of the 1x1 conv, its norm and its ReLU6, i.e. module
  ``conv.0``): histograms over pixels of the number of positive (``y > 0``, what Figure 7
  counts), clipped (``y >= 6``) and informative (``0 < y < 6``) channels, from which the
  minimum, maximum, mean and standard deviation follow exactly; per-channel firing counts
  (dead and always-on channels); the fraction of pixels with at least ``in_channels``
  informative channels and the fraction where Lemma 2 holds, i.e. where in addition the rows
  of the expansion weight (batch norm folded in) at the informative channels have full
  column rank;
* per bottleneck (the output of the projection's norm, before the ReLU6 of the
  ``bottleneck_activation="relu6"`` ablation and before the residual addition): the fraction
  of negative coordinates (what a ReLU there would zero);
* seeded reservoir samples of bottleneck and expansion vectors, per pixel and per image
  (global average pooled), with the images' labels, in the layout that
  :func:`manifold_lab.bottleneck.analyse_bottlenecks` reads.

Memory does not depend on the number of images: counts are fixed-size integer tensors and
each reservoir holds at most its size. With ``shortcut="expansion"`` the previous block's
expansion is added to the expanded tensor *after* module ``conv.0``; the probe reads that
module's own output.

Examples
--------
>>> import torch
>>> from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
>>> model = MobileNetV2(MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25))
>>> result = probe(model, torch.rand(8, 3, 32, 32), batch_size=4, progress=False)
>>> frame = result.to_frame()
>>> len(frame), int(frame["n_images"].iloc[0]), bool(frame["has_expansion"].iloc[0])
(17, 8, False)
>>> sorted(result.samples["features.2"])
['images', 'pixels']
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "ActivationProbe",
    "BlockInfo",
    "BlockStats",
    "ProbeResult",
    "find_blocks",
    "id_profile",
    "probe",
]

# Elements per chunk of an activation that the statistics pass at once. On the CPU a float32
# scratch buffer of this size (1 MiB) is reused, small enough to stay in cache between the
# comparison that writes it and the reductions that read it; on a GPU chunks are large (few
# kernel launches) and only bound the scratch memory (64 MiB).
_CHUNK_ELEMENTS = 1 << 18
_GPU_CHUNK_ELEMENTS = 1 << 24
# Elements of the float64 (pixels, hidden, in) tensor formed at once by the rank check.
_RANK_CHUNK_ELEMENTS = 1 << 22
_IMAGE_STREAM = 0x5EED_1A6E


# --------------------------------------------------------------------------------------------
# finding the blocks


@dataclass(frozen=True, eq=False)
class BlockInfo:
    """One inverted residual block as the probe sees it.

    Attributes
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


def _expansion_rows(info: BlockInfo) -> Tensor:
    """Rows of the expansion's effective linear map (batch norm folded in), float64 (C, d)."""
    conv = info.expansion_conv
    assert conv is not None
    weight = conv.weight.detach().to(torch.float64).reshape(conv.out_channels, -1)
    norm = info.expansion_norm
    if norm is None or isinstance(norm, nn.Identity):
        return weight
    if isinstance(norm, nn.BatchNorm2d):
        if norm.running_var is None:
            raise ValueError(
                f"block {info.name}: its BatchNorm2d keeps no running statistics, so its "
                "scale depends on the batch and cannot be folded for the rank check; pass "
                "rank_pixels_per_batch=0"
            )
        scale = 1.0 / torch.sqrt(norm.running_var.detach().to(torch.float64) + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight.detach().to(torch.float64)
        return weight * scale[:, None]
    raise ValueError(
        f"block {info.name}: cannot fold a {type(norm).__name__} into the expansion weight "
        "for the rank check (BatchNorm2d and Identity are supported); pass "
        "rank_pixels_per_batch=0"
    )


# --------------------------------------------------------------------------------------------
# seeded hashing and reservoirs

_MASK64 = (1 << 64) - 1


def _signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN = _signed64(0x9E3779B97F4A7C15)
_MIX1 = _signed64(0xBF58476D1CE4E5B9)
_MIX2 = _signed64(0x94D049BB133111EB)


def _splitmix64(value: int) -> int:
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _stream_base(seed: int, stream: int) -> int:
    return _signed64(_splitmix64(_splitmix64(seed) ^ (stream & _MASK64)))


def _hash_keys(index: Tensor, base: int) -> Tensor:
    """A seeded splitmix64 hash of int64 ``index``, as non-negative int64 priorities.

    The priority of an item depends only on the seed, the stream and the item's global
    index, so reservoirs do not depend on the batch size or the device.
    """
    z = index * _GOLDEN + base  # int64 arithmetic wraps modulo 2**64
    z = z ^ ((z >> 30) & ((1 << 34) - 1))  # logical shifts of the unsigned value
    z = z * _MIX1
    z = z ^ ((z >> 27) & ((1 << 37) - 1))
    z = z * _MIX2
    z = z ^ ((z >> 31) & ((1 << 33) - 1))
    return z & ((1 << 62) - 1)


class _Reservoir:
    """The ``size`` items of highest seeded priority seen so far (bottom-k sampling).

    Keeping the k largest i.i.d. priorities is a uniform sample without replacement of
    everything offered, like Algorithm R, but independent of the order of batches.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.keys: Tensor | None = None
        self.cols: list[Tensor] = []
        self._min: Tensor | None = None

    def offer(self, keys: Tensor, gather: Callable[[Tensor], list[Tensor]]) -> None:
        """Offer items with priorities ``keys``; ``gather(i)`` returns their columns."""
        if self.size == 0 or keys.numel() == 0:
            return
        local = torch.arange(keys.numel(), device=keys.device)
        if self._min is not None:  # full: only items above the smallest kept priority matter
            local = torch.nonzero(keys > self._min).squeeze(1)
            if local.numel() == 0:
                return
            keys = keys[local]
        if keys.numel() > self.size:
            top = torch.topk(keys, self.size, sorted=False).indices
            keys, local = keys[top], local[top]
        n_old = 0 if self.keys is None else self.keys.numel()
        if self.keys is None or n_old + keys.numel() <= self.size:  # still filling
            cols = gather(local)
            if self.keys is None:
                self.keys, self.cols = keys, cols
            else:
                self.keys = torch.cat([self.keys, keys])
                self.cols = [torch.cat([a, b]) for a, b in zip(self.cols, cols, strict=True)]
        elif n_old < self.size:  # fills up now
            cols = gather(local)
            all_keys = torch.cat([self.keys, keys])
            top = torch.topk(all_keys, self.size, sorted=False).indices
            self.keys = all_keys[top]
            self.cols = [torch.cat([a, b])[top] for a, b in zip(self.cols, cols, strict=True)]
        else:  # full: replace the evicted items in place, gathering only the newcomers
            top = torch.topk(torch.cat([self.keys, keys]), self.size, sorted=False).indices
            kept = torch.zeros(n_old + keys.numel(), dtype=torch.bool, device=keys.device)
            kept[top] = True
            evict = torch.nonzero(~kept[:n_old]).squeeze(1)
            insert = torch.nonzero(kept[n_old:]).squeeze(1)
            if insert.numel():
                self.keys[evict] = keys[insert]
                for col, new in zip(self.cols, gather(local[insert]), strict=True):
                    col[evict] = new
        if self.keys.numel() >= self.size:
            self._min = self.keys.min()

    def nbytes(self) -> int:
        tensors = ([self.keys] if self.keys is not None else []) + self.cols
        return sum(t.numel() * t.element_size() for t in tensors)

    def arrays(self) -> list[np.ndarray]:
        """The columns on the CPU, ordered by the first column (the items' global index)."""
        if self.keys is None:
            return []
        order = torch.argsort(self.cols[0])
        return [c[order].cpu().numpy() for c in self.cols]


# --------------------------------------------------------------------------------------------
# running statistics of one block


def _full_rank(gram: Tensor, tol: float) -> Tensor:
    """Which Gram matrices ``A^T A`` (batch, d, d) satisfy ``lambda_min > tol * lambda_max``.

    A Cholesky factorisation of ``G - 2 tol trace(G) I`` certifies it cheaply (it succeeds
    only if ``lambda_min > 2 tol trace(G) >= 2 tol lambda_max``, with a factor of 2 to spare
    for rounding); the eigenvalues decide for the matrices it does not certify.
    """
    d = gram.shape[-1]
    trace = gram.diagonal(dim1=-2, dim2=-1).sum(-1)
    eye = torch.eye(d, dtype=gram.dtype, device=gram.device)
    shifted = gram - (2 * tol * trace)[:, None, None] * eye
    ok = (torch.linalg.cholesky_ex(shifted).info == 0) & (trace > 0)
    unsure = torch.nonzero(~ok).squeeze(1)
    if unsure.numel():
        ev = torch.linalg.eigvalsh(gram[unsure])  # ascending
        ok[unsure] = (ev[:, -1] > 0) & (ev[:, 0] > tol * ev[:, -1])
    return ok


def _chunks(b: int, c: int, hw: int, device: torch.device) -> Iterator[tuple[int, int, int, int]]:
    """``(i0, i1, s0, s1)``: images ``i0:i1``, pixels ``s0:s1``, about one chunk each."""
    size = _CHUNK_ELEMENTS if device.type == "cpu" else _GPU_CHUNK_ELEMENTS
    if c * hw <= size:
        per = max(1, size // (c * hw))
        for i0 in range(0, b, per):
            yield i0, min(b, i0 + per), 0, hw
        return
    step = max(1, size // c)
    for i in range(b):
        for s0 in range(0, hw, step):
            yield i, i + 1, s0, min(hw, s0 + step)


class _BlockState:
    """Running counts and reservoirs of one block (tensors live on the activations' device)."""

    def __init__(self, info: BlockInfo, owner: ActivationProbe) -> None:
        self.info = info
        self.owner = owner
        c = info.hidden_channels
        self.exp_images = 0
        self.bn_images = 0
        self.n_pixels = 0
        self.n_bn_pixels = 0
        self.hist_pos: Tensor | None = None  # (c + 1,) int64
        self.hist_clip: Tensor | None = None
        self.hist_inf: Tensor | None = None
        self.chan_pos: Tensor | None = None  # (c,) float64 (exact integers)
        self.chan_clip: Tensor | None = None
        self.bn_negative: Tensor | None = None  # () float64
        self.rank_checked = 0
        self.rank_full = 0
        self.lemma2_pixels = 0.0
        self.rank_subsampled = False
        self.rows: Tensor | None = None  # float64 (c, d), set by the probe when enabled
        n = owner.pixel_samples
        m = owner.image_samples
        self.bn_pixels = _Reservoir(n)
        self.bn_images_res = _Reservoir(m)
        keep_exp = owner.sample_expansion and info.has_expansion
        self.exp_pixels = _Reservoir(n if keep_exp else 0)
        self.exp_images_res = _Reservoir(m if keep_exp else 0)
        stream = 16 * info.index
        seed = owner.seed
        self.base_bn = _stream_base(seed, stream + 1)
        self.base_exp = _stream_base(seed, stream + 2)
        self.base_rank = _stream_base(seed, stream + 3)
        self.base_images = _stream_base(seed, _IMAGE_STREAM)
        self._c = c

    def _alloc(self, device: torch.device) -> None:
        c = self._c
        self.hist_pos = torch.zeros(c + 1, dtype=torch.int64, device=device)
        self.hist_clip = torch.zeros(c + 1, dtype=torch.int64, device=device)
        self.hist_inf = torch.zeros(c + 1, dtype=torch.int64, device=device)
        self.chan_pos = torch.zeros(c, dtype=torch.float64, device=device)
        self.chan_clip = torch.zeros(c, dtype=torch.float64, device=device)

    def nbytes(self) -> int:
        tensors = [
            t
            for t in (
                self.hist_pos,
                self.hist_clip,
                self.hist_inf,
                self.chan_pos,
                self.chan_clip,
                self.bn_negative,
            )
            if t is not None
        ]
        total = sum(t.numel() * t.element_size() for t in tensors)
        for res in (self.bn_pixels, self.bn_images_res, self.exp_pixels, self.exp_images_res):
            total += res.nbytes()
        return total

    # -- expansion ---------------------------------------------------------------------------

    def on_expansion(self, y: Tensor) -> None:
        owner = self.owner
        if y.dim() != 4:
            raise ValueError(f"block {self.info.name}: expected a 4-D expansion, got {y.shape}")
        y = y.contiguous()
        b, c, h, w = y.shape
        hw = h * w
        if self.hist_pos is None:
            self._alloc(y.device)
        assert self.hist_pos is not None and self.hist_clip is not None
        assert self.hist_inf is not None and self.chan_pos is not None
        assert self.chan_clip is not None
        offset = self.exp_images
        clip = self.info.clip
        clipped = math.isfinite(clip)
        ones = owner._ones(c, y.device)
        y3 = y.view(b, c, hw)
        npos = torch.empty(b, 1, hw, dtype=torch.float32, device=y.device)
        nclip = torch.zeros(b, 1, hw, dtype=torch.float32, device=y.device) if clipped else None
        chan_pos = torch.zeros(c, dtype=torch.float32, device=y.device)
        chan_clip = torch.zeros(c, dtype=torch.float32, device=y.device)
        want_pool = self.exp_images_res.size > 0
        pooled = torch.zeros(b, c, dtype=torch.float32, device=y.device) if want_pool else None
        # Cache-sized chunks: the 0/1 buffer written by a comparison is read back by the two
        # reductions while it is still in cache, so each chunk costs about one read of y.
        for i0, i1, s0, s1 in _chunks(b, c, hw, y.device):
            yc = y3[i0:i1, :, s0:s1]
            buf = owner._buffer(yc.numel(), y.device)[: yc.numel()].view(yc.shape)
            torch.gt(yc, 0, out=buf)
            npos[i0:i1, :, s0:s1] = torch.matmul(ones, buf)
            chan_pos += buf.sum(2).sum(0)
            if pooled is not None:
                pooled[i0:i1] += yc.sum(2)
            if nclip is not None:
                torch.ge(yc, clip, out=buf)
                nclip[i0:i1, :, s0:s1] = torch.matmul(ones, buf)
                chan_clip += buf.sum(2).sum(0)
        npos_i = npos.view(-1).to(torch.int64)
        ninf_i = npos_i - nclip.view(-1).to(torch.int64) if nclip is not None else npos_i
        self.hist_pos += torch.bincount(npos_i, minlength=c + 1)
        self.hist_inf += torch.bincount(ninf_i, minlength=c + 1)
        if nclip is not None:
            self.hist_clip += torch.bincount(nclip.view(-1).to(torch.int64), minlength=c + 1)
        else:
            self.hist_clip[0] += b * hw
        self.chan_pos += chan_pos.to(torch.float64)
        self.chan_clip += chan_clip.to(torch.float64)
        self.n_pixels += b * hw
        if self.rows is not None:
            enough = torch.nonzero(ninf_i >= self.info.in_channels).squeeze(1)
            self._rank_check(y, enough, offset)
        if self.exp_pixels.size:
            self._sample_pixels(self.exp_pixels, y, offset, self.base_exp)
        if pooled is not None:
            self._sample_images(self.exp_images_res, pooled / hw, offset)
        self.exp_images += b

    def _rank_check(self, y: Tensor, enough: Tensor, offset: int) -> None:
        owner = self.owner
        rows = self.rows
        assert rows is not None
        _, c, h, w = y.shape
        hw = h * w
        n_enough = int(enough.numel())
        if n_enough == 0:
            return
        limit = owner.rank_pixels_per_batch
        sel = enough
        if limit is not None and n_enough > limit:
            keys = _hash_keys(enough + offset * hw, self.base_rank)
            sel = enough[torch.topk(keys, limit, sorted=False).indices]
            self.rank_subsampled = True
        vectors = y.flatten(2)[sel // hw, :, sel % hw]  # (r, c)
        clip = self.info.clip
        mask = (vectors > 0) & (vectors < clip) if math.isfinite(clip) else vectors > 0
        mask64 = mask.to(torch.float64)
        d = rows.shape[1]
        rows = rows.to(y.device)
        step = max(1, _RANK_CHUNK_ELEMENTS // max(1, c * d))
        full = 0
        tol = owner.rank_rtol**2
        for start in range(0, mask64.shape[0], step):
            m = mask64[start : start + step]
            active = m[:, :, None] * rows[None]  # (r, c, d): rows at inactive channels zeroed
            gram = active.transpose(1, 2) @ active
            full += int(_full_rank(gram, tol).sum())
        r = int(sel.numel())
        self.rank_checked += r
        self.rank_full += full
        self.lemma2_pixels += n_enough * full / r

    # -- bottleneck --------------------------------------------------------------------------

    def on_bottleneck(self, z: Tensor) -> None:
        if z.dim() != 4:
            raise ValueError(f"block {self.info.name}: expected a 4-D bottleneck, got {z.shape}")
        z = z.contiguous()
        b, c, h, w = z.shape
        hw = h * w
        offset = self.bn_images
        if self.bn_negative is None:
            self.bn_negative = torch.zeros((), dtype=torch.float64, device=z.device)
        z3 = z.view(b, c, hw)
        negative = torch.zeros((), dtype=torch.float64, device=z.device)
        want_pool = self.bn_images_res.size > 0
        pooled = torch.zeros(b, c, dtype=torch.float32, device=z.device) if want_pool else None
        for i0, i1, s0, s1 in _chunks(b, c, hw, z.device):
            zc = z3[i0:i1, :, s0:s1]
            buf = self.owner._buffer(zc.numel(), z.device)[: zc.numel()].view(zc.shape)
            torch.lt(zc, 0, out=buf)
            negative += buf.sum()
            if pooled is not None:
                pooled[i0:i1] += zc.sum(2)
        self.bn_negative += negative
        self.n_bn_pixels += b * hw
        if self.bn_pixels.size:
            self._sample_pixels(self.bn_pixels, z, offset, self.base_bn)
        if pooled is not None:
            self._sample_images(self.bn_images_res, pooled / hw, offset)
        self.bn_images += b

    # -- reservoirs --------------------------------------------------------------------------

    def _sample_pixels(self, res: _Reservoir, v: Tensor, offset: int, base: int) -> None:
        b, _, h, w = v.shape
        hw = h * w
        ids = torch.arange(b * hw, device=v.device, dtype=torch.int64) + offset * hw
        flat = v.flatten(2)

        def gather(local: Tensor) -> list[Tensor]:
            return [
                ids[local],
                flat[local // hw, :, local % hw].to(torch.float32),
                local // hw + offset,
            ]

        res.offer(_hash_keys(ids, base), gather)

    def _sample_images(self, res: _Reservoir, pooled: Tensor, offset: int) -> None:
        b = pooled.shape[0]
        ids = torch.arange(b, device=pooled.device, dtype=torch.int64) + offset
        labels = self.owner._current_labels(b, pooled.device)

        def gather(local: Tensor) -> list[Tensor]:
            return [ids[local], pooled[local], labels[local]]

        res.offer(_hash_keys(ids, self.base_images), gather)


# --------------------------------------------------------------------------------------------
# results


def _hist_summary(hist: np.ndarray | None) -> tuple[float, float, float, float]:
    """(min, max, mean, population std) of the counts a histogram describes."""
    if hist is None or hist.sum() == 0:
        return (math.nan,) * 4
    k = np.arange(hist.size, dtype=np.float64)
    h = hist.astype(np.float64)
    n = h.sum()
    nz = np.flatnonzero(hist)
    mean = float((k * h).sum() / n)
    std = float(math.sqrt(max(0.0, ((k - mean) ** 2 * h).sum() / n)))
    return float(nz[0]), float(nz[-1]), mean, std


@dataclass
class BlockStats:
    """Everything the probe counted in one block (NumPy arrays on the CPU).

    Attributes
    ----------
    name, index, in_channels, hidden_channels, out_channels, stride : as :class:`BlockInfo`
    expansion_layer : int or None
        Position among the expansion layers, from 1 (Figure 7's x axis); None without one.
    has_expansion, use_res_connect, expansion_skip : bool
    bottleneck_activation : str
    clip : float
        Upper clip of the expansion activation (6 for ReLU6).
    n_images : int
        Images seen.
    n_pixels : int
        Pixels of the expansion layer seen (images x height x width).
    n_bottleneck_pixels : int
        Pixels of the bottleneck seen.
    hist_positive, hist_informative, hist_clipped : ndarray of shape (hidden + 1,) or None
        ``hist[k]`` = number of pixels with exactly k positive (y > 0), informative
        (0 < y < clip) or clipped (y >= clip) channels.
    channel_positive, channel_clipped : ndarray of shape (hidden,) or None
        Per channel, the number of pixels where it is positive / clipped.
    rank_checked, rank_full : int
        Pixels with enough informative channels whose active rows were rank-checked, and
        how many of them had full column rank.
    lemma2_pixels : float
        Estimated number of pixels where Lemma 2 holds (exact when ``rank_subsampled`` is
        False).
    rank_subsampled : bool
        Whether some batch had more candidate pixels than ``rank_pixels_per_batch``.
    bottleneck_negative : int
        Negative bottleneck coordinates seen.
    """

    name: str
    index: int
    expansion_layer: int | None
    in_channels: int
    hidden_channels: int
    out_channels: int
    stride: int
    has_expansion: bool
    use_res_connect: bool
    expansion_skip: bool
    bottleneck_activation: str
    clip: float
    n_images: int
    n_pixels: int
    n_bottleneck_pixels: int
    hist_positive: np.ndarray | None
    hist_informative: np.ndarray | None
    hist_clipped: np.ndarray | None
    channel_positive: np.ndarray | None
    channel_clipped: np.ndarray | None
    rank_checked: int
    rank_full: int
    lemma2_pixels: float
    rank_subsampled: bool
    bottleneck_negative: int

    def row(self, rank_enabled: bool) -> dict[str, Any]:
        """One row of :meth:`ProbeResult.to_frame`."""
        hidden = self.hidden_channels
        d = self.in_channels
        nan = math.nan
        pos = _hist_summary(self.hist_positive)
        inf = _hist_summary(self.hist_informative)
        clp = _hist_summary(self.hist_clipped)
        n = self.n_pixels
        rec: dict[str, Any] = {
            "name": self.name,
            "index": self.index,
            "expansion_layer": self.expansion_layer,
            "has_expansion": self.has_expansion,
            "in_channels": self.in_channels,
            "hidden_channels": hidden,
            "out_channels": self.out_channels,
            "stride": self.stride,
            "use_res_connect": self.use_res_connect,
            "expansion_skip": self.expansion_skip,
            "bottleneck_activation": self.bottleneck_activation,
            "threshold": d if self.has_expansion else nan,
            "threshold_rel": d / hidden if self.has_expansion else nan,
            "n_images": self.n_images,
            "n_pixels": n if self.has_expansion else 0,
        }
        for prefix, (lo, hi, mean, std) in (("pos", pos), ("informative", inf), ("clipped", clp)):
            rec[f"{prefix}_min"] = lo
            rec[f"{prefix}_max"] = hi
            rec[f"{prefix}_mean"] = mean
            rec[f"{prefix}_std"] = std
        for prefix in ("pos", "informative", "clipped"):
            for stat in ("min", "max", "mean", "std"):
                rec[f"{prefix}_{stat}_rel"] = rec[f"{prefix}_{stat}"] / hidden
        have = self.has_expansion and n > 0
        hp, hi_ = self.hist_positive, self.hist_informative
        rec["below_threshold_fraction"] = (
            float(hp[:d].sum() / n) if have and hp is not None else nan
        )
        rec["positive_enough_fraction"] = (
            float(hp[d:].sum() / n) if have and hp is not None else nan
        )
        enough = float(hi_[d:].sum() / n) if have and hi_ is not None else nan
        rec["enough_channels_fraction"] = enough
        if have and rank_enabled:
            checked = self.rank_checked
            q = self.rank_full / checked if checked else nan
            rec["lemma2_fraction"] = self.lemma2_pixels / n
            rec["rank_full_fraction"] = q
            se = 0.0
            if self.rank_subsampled and checked:
                se = enough * math.sqrt(q * (1 - q) / checked)
            rec["lemma2_fraction_se"] = se
        else:
            rec["lemma2_fraction"] = rec["rank_full_fraction"] = rec["lemma2_fraction_se"] = nan
        rec["rank_pixels_checked"] = self.rank_checked
        cp = self.channel_positive
        if have and cp is not None:
            rate = cp / n
            rec["dead_channels"] = int((cp == 0).sum())
            rec["always_on_channels"] = int((cp == n).sum())
            rec["dead_channels_rel"] = rec["dead_channels"] / hidden
            rec["always_on_channels_rel"] = rec["always_on_channels"] / hidden
            rec["firing_rate_mean"] = float(rate.mean())
            rec["firing_rate_min"] = float(rate.min())
            rec["firing_rate_max"] = float(rate.max())
        else:
            for key in (
                "dead_channels",
                "always_on_channels",
                "dead_channels_rel",
                "always_on_channels_rel",
                "firing_rate_mean",
                "firing_rate_min",
                "firing_rate_max",
            ):
                rec[key] = nan
        cc = self.channel_clipped
        rec["ever_clipped_channels"] = int((cc > 0).sum()) if have and cc is not None else nan
        nb = self.n_bottleneck_pixels
        rec["bottleneck_pixels"] = nb
        rec["bottleneck_negative_fraction"] = (
            self.bottleneck_negative / (nb * self.out_channels) if nb else nan
        )
        return rec


@dataclass
class ProbeResult:
    """What :class:`ActivationProbe` or :func:`probe` measured.

    Attributes
    ----------
    blocks : list of BlockStats
        One per probed block, in order.
    samples : dict
        Bottleneck samples per block name: ``{"pixels": (n, out_channels),
        "images": (n_img, out_channels)}`` float32 arrays (the projection's output, per pixel
        and global-average pooled per image) and ``"labels"`` (n_img,) int64 when the images
        are labelled: the input of :func:`manifold_lab.bottleneck.analyse_bottlenecks`.
    expansion_samples : dict
        The same for the expansion layers (after their ReLU6; blocks with an expansion only).
    sample_image_index : dict
        Per block name, the positions (in the order seen) of the images in
        ``samples[name]["images"]``, and ``"pixels_image"``: the image of every pixel sample.
    metadata : dict
        Model source, images, ``n_images``, ``resolution``, seed, the probe's settings.
    """

    blocks: list[BlockStats]
    samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    expansion_samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    sample_image_index: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> Any:
        """One row per block: channels, threshold, Figure 7 statistics, Lemma 2, channels.

        Counts are absolute and relative to the width (``*_rel``). ``pos_*`` count positive
        channels (y > 0, Figure 7), ``informative_*`` channels with 0 < y < 6 and
        ``clipped_*`` channels at 6. ``threshold`` is the block's input channels.
        ``enough_channels_fraction``: pixels with at least ``threshold`` informative channels;
        ``lemma2_fraction``: pixels where, in addition, the expansion rows (batch norm folded)
        at those channels have full column rank. Rows of blocks without an expansion hold NaN
        in these columns.

        Returns
        -------
        pandas.DataFrame
            ``attrs["metadata"]`` holds :attr:`metadata`.
        """
        import pandas as pd

        rank_enabled = self.metadata.get("rank_pixels_per_batch", 1) != 0
        df = pd.DataFrame([b.row(rank_enabled) for b in self.blocks])
        for key in ("model", "images"):
            if key in self.metadata:
                df.insert(0, key, str(self.metadata[key]))
        df.attrs["metadata"] = dict(self.metadata)
        return df

    def histograms(self, kind: str = "positive", *, relative: bool = False) -> Any:
        """Long table of a per-pixel count histogram: block, count, pixels (or fraction).

        Parameters
        ----------
        kind : {"positive", "informative", "clipped"}, default="positive"
        relative : bool, default=False
            Report the fraction of pixels instead of the number.

        Returns
        -------
        pandas.DataFrame
            Columns ``name``, ``index``, ``expansion_layer``, ``count``, ``count_rel`` and
            ``pixels`` (or ``fraction``).
        """
        import pandas as pd

        attr = {
            "positive": "hist_positive",
            "informative": "hist_informative",
            "clipped": "hist_clipped",
        }
        if kind not in attr:
            raise ValueError(f"kind must be one of {sorted(attr)}, got {kind!r}")
        frames = []
        for b in self.blocks:
            hist = getattr(b, attr[kind])
            if hist is None:
                continue
            k = np.arange(hist.size)
            value = hist / max(1, b.n_pixels) if relative else hist
            frames.append(
                pd.DataFrame(
                    {
                        "name": b.name,
                        "index": b.index,
                        "expansion_layer": b.expansion_layer,
                        "count": k,
                        "count_rel": k / b.hidden_channels,
                        "fraction" if relative else "pixels": value,
                    }
                )
            )
        if not frames:
            raise ValueError("no block with an expansion layer was probed")
        return pd.concat(frames, ignore_index=True)

    def block(self, name: str) -> BlockStats:
        """The statistics of the block called ``name``."""
        for b in self.blocks:
            if b.name == name:
                return b
        raise ValueError(f"no probed block {name!r}; blocks: {[b.name for b in self.blocks]}")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_frame` as CSV (or JSON by suffix) with provenance, atomically."""
        from .records import provenance, write_results

        p = Path(path)
        if p.suffix.lower() not in (".csv", ".json"):
            raise ValueError(f"the statistics file must end in .csv or .json, got {p.name!r}")
        return write_results(self.to_frame(), p, provenance(self.metadata))

    def save_samples(self, path: str | os.PathLike[str]) -> Path:
        """Write the reservoir samples and metadata with :func:`torch.save`, atomically.

        The file loads with ``torch.load(path, weights_only=True)``: a dict with
        ``"samples"``, ``"expansion_samples"``, ``"sample_image_index"`` (tensors) and
        ``"metadata"``.
        """
        from .fileio import atomic_write_text
        from .records import provenance

        def tensors(d: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Tensor]]:
            return {k: {kk: torch.from_numpy(vv) for kk, vv in v.items()} for k, v in d.items()}

        payload = {
            "samples": tensors(self.samples),
            "expansion_samples": tensors(self.expansion_samples),
            "sample_image_index": tensors(self.sample_image_index),
            "metadata": provenance(self.metadata),
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return atomic_write_text(path, buffer.getvalue())


# --------------------------------------------------------------------------------------------
# the probe


def _check_count(value: Any, name: str, *, allow_none: bool = False) -> int:
    """A non-negative int; None (when allowed) becomes -1."""
    if value is None and allow_none:
        return -1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be a non-negative integer{extra}, got {value!r}")
    return int(value)


class ActivationProbe:
    """Scoped hooks that count activation patterns in every inverted residual block.

    Use it as a context manager around your own forward passes (hooks are installed in
    ``__enter__``; every handle is removed and each module's ``training`` flag restored in
    ``__exit__``, also after an exception), or call :func:`probe` for a whole dataset. The
    model runs in eval mode while probed (batch norm with running statistics, as the rank
    check folds them).

    Parameters
    ----------
    model : nn.Module
        A MobileNetV2 (ours, torchvision's, or imported from TF-slim).
    blocks : None, str, sequence of str or callable, default=None
        Blocks to probe, by dotted name (see :func:`find_blocks`); None probes all.
    pixel_samples : int, default=4096
        Size of each per-pixel reservoir (bottleneck and expansion, per block); 0 disables.
    image_samples : int, default=1024
        Size of each per-image (pooled) reservoir; 0 disables.
    sample_expansion : bool, default=True
        Also sample expansion vectors (they are 6x wider than the bottleneck's).
    rank_pixels_per_batch : int or None, default=64
        Per block and batch, how many of the pixels with enough informative channels get
        the Lemma 2 rank check (chosen by seeded hashing); None checks all of them, 0
        disables the check (``lemma2_fraction`` is then NaN).
    rank_rtol : float, default=1e-5
        The active rows have full column rank when their smallest singular value exceeds
        ``rank_rtol`` times their largest. Computed in float64 as the eigenvalues of the Gram
        matrix ``W_A^T W_A`` (so tested as ``lambda_min > rank_rtol**2 * lambda_max``);
        must lie in [1e-7, 1) because the Gram matrix cannot resolve smaller ratios.
    seed : int, default=0
        Seeds the reservoirs and the rank subsample. An item's priority depends only on the
        seed and its global position (image number, pixel), so samples do not depend on the
        batch size or the device.
    stop_early : bool, default=False
        Abort each forward pass after the last probed block (:meth:`run` then returns None),
        saving the rest of the network. Only for forward passes made through :meth:`run`.
    cpu_threads : int or None, default=1
        Intra-op threads for the probe's own work on CPU tensors (torch's count is restored
        for the network's layers). One thread keeps the many small statistics operations
        cheap, especially on a shared machine; None uses torch's setting.

    Attributes
    ----------
    infos : list of BlockInfo
        The probed blocks.

    Examples
    --------
    >>> import torch
    >>> from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
    >>> model = MobileNetV2(MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25))
    >>> with ActivationProbe(model, blocks=["features.2", "features.3"], seed=0) as p:
    ...     with torch.no_grad():
    ...         _ = p.run(torch.rand(4, 3, 32, 32), labels=torch.tensor([0, 1, 2, 3]))
    >>> res = p.result()
    >>> [b.name for b in res.blocks], res.samples["features.2"]["labels"].tolist()
    (['features.2', 'features.3'], [0, 1, 2, 3])
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        blocks: Any = None,
        pixel_samples: int = 4096,
        image_samples: int = 1024,
        sample_expansion: bool = True,
        rank_pixels_per_batch: int | None = 64,
        rank_rtol: float = 1e-5,
        seed: int = 0,
        stop_early: bool = False,
        cpu_threads: int | None = 1,
    ) -> None:
        self.model = model
        self.infos = find_blocks(model, blocks)
        self.pixel_samples: int = _check_count(pixel_samples, "pixel_samples")
        self.image_samples: int = _check_count(image_samples, "image_samples")
        rank_pixels = _check_count(rank_pixels_per_batch, "rank_pixels_per_batch", allow_none=True)
        self.rank_pixels_per_batch: int | None = None if rank_pixels < 0 else rank_pixels
        try:
            rtol = float(rank_rtol)
        except (TypeError, ValueError):
            raise ValueError(f"rank_rtol must be a number, got {rank_rtol!r}") from None
        if not 1e-7 <= rtol < 1:
            raise ValueError(f"rank_rtol must be in [1e-7, 1), got {rank_rtol!r}")
        self.rank_rtol = rtol
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed: int = int(seed)
        if cpu_threads is not None:
            cpu_threads = _check_count(cpu_threads, "cpu_threads")
            if cpu_threads < 1:
                raise ValueError(
                    f"cpu_threads must be a positive integer or None, got {cpu_threads}"
                )
        self.cpu_threads: int | None = cpu_threads
        self.sample_expansion: bool = bool(sample_expansion)
        self._handles: list[Any] = []
        self._training: dict[nn.Module, bool] = {}
        self._labels: Tensor | None = None
        self._in_run: bool = False
        self._buffers: dict[torch.device, Tensor] = {}
        self._ones_cache: dict[tuple[int, torch.device], Tensor] = {}
        self._resolutions: list[tuple[int, int]] = []
        self._stop_after: nn.Module | None = self.infos[-1].bottleneck if stop_early else None
        self.reset()

    # -- life cycle --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything counted and sampled so far."""
        self._states = {info.name: _BlockState(info, self) for info in self.infos}
        self._resolutions = []

    @property
    def active(self) -> bool:
        """Whether the hooks are installed."""
        return bool(self._handles)

    def __enter__(self) -> ActivationProbe:
        if self.active:
            raise RuntimeError("this ActivationProbe is already active; leave it first")
        self._training = {m: m.training for m in self.model.modules()}
        try:
            if self.rank_pixels_per_batch != 0:
                for info in self.infos:
                    if info.has_expansion:
                        self._states[info.name].rows = _expansion_rows(info)
            self.model.eval()
            self._install()
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        try:
            for handle in self._handles:
                handle.remove()
        finally:
            self._handles = []
            self._labels = None
            self._buffers = {}
            for module, flag in self._training.items():
                module.training = flag
            self._training = {}

    def _install(self) -> None:
        self._handles.append(self.model.register_forward_pre_hook(self._on_model_input))
        for info in self.infos:
            state = self._states[info.name]
            if info.expansion is not None:
                hook = _make_hook(state.on_expansion, self.cpu_threads)
                self._handles.append(info.expansion.register_forward_hook(hook))
            hook = _make_hook(state.on_bottleneck, self.cpu_threads)
            self._handles.append(info.bottleneck.register_forward_hook(hook))
        if self._stop_after is not None:
            self._handles.append(self._stop_after.register_forward_hook(self._stop))

    def _stop(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._in_run:
            raise _StopForward

    def _on_model_input(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if args and isinstance(args[0], Tensor) and args[0].dim() == 4:
            size = (int(args[0].shape[-2]), int(args[0].shape[-1]))
            if size not in self._resolutions:
                self._resolutions.append(size)

    # -- helpers used by the block states ----------------------------------------------------

    def _buffer(self, numel: int, device: torch.device) -> Tensor:
        buf = self._buffers.get(device)
        if buf is None or buf.numel() < numel:
            buf = torch.empty(numel, dtype=torch.float32, device=device)
            self._buffers[device] = buf
        return buf

    def _ones(self, c: int, device: torch.device) -> Tensor:
        key = (c, device)
        ones = self._ones_cache.get(key)
        if ones is None:
            ones = torch.ones(1, c, dtype=torch.float32, device=device)
            self._ones_cache[key] = ones
        return ones

    def _current_labels(self, b: int, device: torch.device) -> Tensor:
        labels = self._labels
        if labels is None or labels.numel() != b:
            return torch.full((b,), -1, dtype=torch.int64, device=device)
        return labels.to(device=device, dtype=torch.int64)

    # -- running -----------------------------------------------------------------------------

    def run(self, x: Tensor, labels: Any = None) -> Any:
        """Forward ``x`` through the model, recording ``labels`` with the per-image samples.

        Parameters
        ----------
        x : Tensor of shape (batch, 3, height, width)
            Preprocessed images.
        labels : array-like of shape (batch,) or None, default=None
            Integer labels (-1: unlabelled).

        Returns
        -------
        The model's output (None when the probe stopped the forward after the last block).
        """
        if not self.active:
            raise RuntimeError("run() needs the probe's hooks: use it inside `with probe:`")
        if labels is not None:
            labels = torch.as_tensor(labels).reshape(-1)
            if labels.numel() != x.shape[0]:
                raise ValueError(f"{labels.numel()} labels for a batch of {x.shape[0]} images")
        self._labels = labels
        self._in_run = True
        try:
            return self.model(x)
        except _StopForward:
            return None
        finally:
            self._labels = None
            self._in_run = False

    def state_nbytes(self) -> int:
        """Bytes held by the running statistics and reservoirs (not the scratch buffer)."""
        return sum(s.nbytes() for s in self._states.values())

    def result(self, **metadata: Any) -> ProbeResult:
        """The statistics so far as a :class:`ProbeResult` (moved to the CPU).

        Parameters
        ----------
        **metadata
            Stored in :attr:`ProbeResult.metadata` (e.g. ``images="cifar10-sample"``).
        """
        states = list(self._states.values())
        if all(s.bn_images == 0 for s in states):
            raise ValueError("no images have been probed yet: run the model inside the probe")
        blocks: list[BlockStats] = []
        samples: dict[str, dict[str, np.ndarray]] = {}
        exp_samples: dict[str, dict[str, np.ndarray]] = {}
        index: dict[str, dict[str, np.ndarray]] = {}
        layer = 0

        def cpu(t: Tensor | None) -> np.ndarray | None:
            return None if t is None else t.detach().cpu().numpy()

        for s in states:
            info = s.info
            if info.has_expansion:
                layer += 1
            chan_pos = cpu(s.chan_pos)
            chan_clip = cpu(s.chan_clip)
            blocks.append(
                BlockStats(
                    name=info.name,
                    index=info.index,
                    expansion_layer=layer if info.has_expansion else None,
                    in_channels=info.in_channels,
                    hidden_channels=info.hidden_channels,
                    out_channels=info.out_channels,
                    stride=info.stride,
                    has_expansion=info.has_expansion,
                    use_res_connect=info.use_res_connect,
                    expansion_skip=info.expansion_skip,
                    bottleneck_activation=info.bottleneck_activation,
                    clip=info.clip,
                    n_images=s.bn_images,
                    n_pixels=s.n_pixels,
                    n_bottleneck_pixels=s.n_bn_pixels,
                    hist_positive=cpu(s.hist_pos),
                    hist_informative=cpu(s.hist_inf),
                    hist_clipped=cpu(s.hist_clip),
                    channel_positive=None if chan_pos is None else chan_pos.astype(np.int64),
                    channel_clipped=None if chan_clip is None else chan_clip.astype(np.int64),
                    rank_checked=s.rank_checked,
                    rank_full=s.rank_full,
                    lemma2_pixels=float(s.lemma2_pixels),
                    rank_subsampled=s.rank_subsampled,
                    bottleneck_negative=round(float(s.bn_negative))
                    if s.bn_negative is not None
                    else 0,
                )
            )
            entry, idx = _sample_dict(s.bn_pixels, s.bn_images_res)
            if entry:
                samples[info.name] = entry
                index[info.name] = idx
            entry, _ = _sample_dict(s.exp_pixels, s.exp_images_res)
            if entry:
                exp_samples[info.name] = entry
        n_images = max(s.bn_images for s in states)
        meta: dict[str, Any] = {
            "model": _model_name(self.model),
            "n_images": n_images,
            "resolution": [list(r) for r in self._resolutions],
            "seed": self.seed,
            "blocks": [info.name for info in self.infos],
            "pixel_samples": self.pixel_samples,
            "image_samples": self.image_samples,
            "sample_expansion": self.sample_expansion,
            "rank_pixels_per_batch": self.rank_pixels_per_batch,
            "rank_rtol": self.rank_rtol,
            "cpu_threads": self.cpu_threads,
        }
        meta.update(metadata)
        return ProbeResult(
            blocks=blocks,
            samples=samples,
            expansion_samples=exp_samples,
            sample_image_index=index,
            metadata=meta,
        )


def _sample_dict(
    pixels: _Reservoir, images: _Reservoir
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    entry: dict[str, np.ndarray] = {}
    index: dict[str, np.ndarray] = {}
    cols = pixels.arrays()
    if cols:
        entry["pixels"] = cols[1]
        index["pixels_image"] = cols[2]
    cols = images.arrays()
    if cols:
        entry["images"] = cols[1]
        index["images"] = cols[0]
        if (cols[2] >= 0).any():
            entry["labels"] = cols[2]
    return entry, index


def _model_name(model: nn.Module) -> str:
    info = getattr(model, "weights_info", None)
    if info is not None and getattr(info, "source", None):
        return f"{info.source}:{info.name}"
    return type(model).__name__


class _StopForward(Exception):
    """Raised by the probe after the last probed block, to skip the rest of the network."""


def _make_hook(callback: Callable[[Tensor], None], threads: int | None) -> Callable[..., None]:
    def hook(module: nn.Module, args: Any, output: Any) -> None:
        if not isinstance(output, Tensor):
            raise ValueError(
                f"{type(module).__name__} returned {type(output).__name__}, not a tensor"
            )
        with torch.no_grad(), _cpu_threads(output.device, threads):
            callback(output.detach())

    return hook


@contextlib.contextmanager
def _cpu_threads(device: torch.device, threads: int | None) -> Iterator[None]:
    """Run the probe's own CPU work on ``threads`` intra-op threads, then restore the count.

    The statistics are many small, memory-bound operations (and small batched LAPACK calls
    for the rank check): on a busy machine each multi-threaded operation can wait
    milliseconds for its threads, which made them cost several forward passes; on one
    thread they cost a few percent of one.
    """
    current = torch.get_num_threads()
    if device.type != "cpu" or threads is None or threads == current:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(current)


# --------------------------------------------------------------------------------------------
# one call over a dataset


def _batches(
    data: Any,
    *,
    batch_size: int,
    preprocess: Any,
    num_workers: int,
    device: torch.device,
) -> tuple[Iterable[Any], int | None]:
    """An iterable of batches and its length (None when unknown)."""
    from torch.utils.data import DataLoader, Dataset

    if isinstance(data, Tensor):
        if data.dim() != 4:
            raise ValueError(f"an image tensor must have shape (N, 3, H, W), got {data.shape}")
        n = data.shape[0]
        return ((data[i : i + batch_size],) for i in range(0, n, batch_size)), -(-n // batch_size)
    if isinstance(data, DataLoader):
        try:
            return data, len(data)
        except TypeError:
            return data, None
    if isinstance(data, Dataset):
        if preprocess is not None:
            from .evaluation import PreprocessedDataset

            data = PreprocessedDataset(data, preprocess)
        loader = DataLoader(
            data,
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
        )
        return loader, len(loader)
    if isinstance(data, Iterable):
        return data, None
    raise ValueError(
        f"data must be an image tensor (N, 3, H, W), a Dataset, a DataLoader or an iterable "
        f"of batches, got {type(data).__name__}"
    )


def _split_batch(batch: Any) -> tuple[Tensor, Tensor | None]:
    if isinstance(batch, Tensor):
        return batch, None
    if isinstance(batch, Sequence) and batch and isinstance(batch[0], Tensor):
        labels = batch[1] if len(batch) > 1 else None
        if labels is not None and not isinstance(labels, Tensor):
            labels = torch.as_tensor(labels)
        return batch[0], labels
    raise ValueError(
        f"a batch must be a tensor of images or an (images, labels) pair, got {type(batch)}"
    )


def _count_images(data: Any) -> int | None:
    """How many images ``data`` holds, or None when it cannot tell (generators, lists)."""
    if isinstance(data, Tensor):
        return int(data.shape[0])
    if isinstance(data, torch.utils.data.DataLoader):
        data = data.dataset
    elif not isinstance(data, torch.utils.data.Dataset):
        return None
    try:
        return len(data)
    except TypeError:
        return None


def probe(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int = 64,
    limit: int | None = None,
    device: Any = None,
    preprocess: Any = "auto",
    num_workers: int = 0,
    progress: bool = True,
    images: str | None = None,
    stop_early: bool = True,
    blocks: Any = None,
    pixel_samples: int = 4096,
    image_samples: int = 1024,
    sample_expansion: bool = True,
    rank_pixels_per_batch: int | None = 64,
    rank_rtol: float = 1e-5,
    seed: int = 0,
    cpu_threads: int | None = 1,
    callback: Callable[[int, int | None], None] | None = None,
) -> ProbeResult:
    """Probe every inverted residual block of ``model`` over a dataset, in batches.

    Parameters
    ----------
    model : nn.Module
        A MobileNetV2 (ours, torchvision's, or from :func:`manifold_lab.load_model`).
    data : Dataset, DataLoader, iterable of batches or Tensor
        A :class:`torch.utils.data.Dataset` of ``(image, label)`` items (raw images are
        preprocessed, see ``preprocess``); a DataLoader or any other iterable (a list, a
        generator) yielding preprocessed ``(images, labels)`` pairs or image tensors; or one
        tensor of preprocessed images ``(N, 3, H, W)``.
    batch_size : int, default=64
        Images per forward pass (datasets and tensors; a DataLoader keeps its own).
    limit : int or None, default=None
        Only the first ``limit`` images.
    device : str, torch.device or None, default=None
        Where to run; None: CUDA when available. Statistics stay on the device until the end.
    preprocess : "auto", callable or None, default="auto"
        For datasets: ``"auto"`` applies ``model.weights_info.preprocessing`` when the model
        has one (models from :func:`~manifold_lab.load_model`), else nothing; a callable is
        applied to every image; None applies nothing.
    num_workers : int, default=0
        Data-loader worker processes (datasets only).
    progress : bool, default=True
        Show a progress bar.
    images : str or None, default=None
        How to name the images in the metadata (default: the dataset's ``source``).
    stop_early : bool, default=True
        Stop each forward pass after the last probed block (the rest of the network does not
        change the statistics).
    blocks, pixel_samples, image_samples, sample_expansion, rank_pixels_per_batch, rank_rtol, \
seed, cpu_threads
        See :class:`ActivationProbe`.
    callback : callable or None, default=None
        Called after every batch as ``callback(images_done, images_total)``, with
        ``images_total`` None when the data has no length; for progress bars in user
        interfaces (the app's probe page uses it).

    Returns
    -------
    ProbeResult

    Raises
    ------
    ValueError
        For a model without inverted residual blocks, an empty dataset or bad parameters.
    """
    from ._progress import progress_bar
    from ._validation import resolve_device

    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1
    ):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {callback!r}")
    dev = resolve_device(device)
    p = ActivationProbe(
        model,
        blocks=blocks,
        pixel_samples=pixel_samples,
        image_samples=image_samples,
        sample_expansion=sample_expansion,
        rank_pixels_per_batch=rank_pixels_per_batch,
        rank_rtol=rank_rtol,
        seed=seed,
        stop_early=stop_early,
        cpu_threads=cpu_threads,
    )
    try:
        n_data = len(data)
    except TypeError:
        n_data = None
    if n_data == 0:
        raise ValueError("the dataset is empty: there are no images to probe")
    info = getattr(model, "weights_info", None)
    if isinstance(preprocess, str):
        if preprocess != "auto":
            raise ValueError(f"preprocess must be 'auto', a callable or None, got {preprocess!r}")
        preprocess = getattr(info, "preprocessing", None)
    elif preprocess is not None and not callable(preprocess):
        raise ValueError(f"preprocess must be 'auto', a callable or None, got {preprocess!r}")
    if images is None:
        images = getattr(data, "source", None) or type(data).__name__
    model.to(dev)
    batches, total = _batches(
        data, batch_size=int(batch_size), preprocess=preprocess, num_workers=num_workers, device=dev
    )
    if limit is not None and total is not None:
        per = getattr(batches, "batch_size", None) or int(batch_size)
        total = min(total, -(-int(limit) // per))
    images_total = _count_images(data)
    if images_total is not None and limit is not None:
        images_total = min(images_total, int(limit))
    seen = 0
    with p, torch.no_grad():
        bar = progress_bar(batches, total=total, desc="probe", unit="batch", disable=not progress)
        for batch in bar:
            x, labels = _split_batch(batch)
            if limit is not None:
                x = x[: int(limit) - seen]
                labels = None if labels is None else labels[: x.shape[0]]
            if x.shape[0] == 0:
                break
            if not torch.is_floating_point(x):
                raise ValueError(
                    f"the images reach the model as {x.dtype} tensors: preprocess them (pass "
                    "preprocess=..., or a model from manifold_lab.load_model whose "
                    "weights_info supplies it)"
                )
            p.run(x.to(dev, non_blocking=True), labels)
            seen += x.shape[0]
            if callback is not None:
                callback(seen, images_total)
            if limit is not None and seen >= limit:
                break
        if hasattr(bar, "close"):
            bar.close()
    if seen == 0:
        raise ValueError("the dataset is empty: there are no images to probe")
    meta: dict[str, Any] = {"images": images, "device": str(dev), "batch_size": int(batch_size)}
    if info is not None:
        meta["label_space"] = getattr(info, "label_space", None)
    return p.result(**meta)


# --------------------------------------------------------------------------------------------
# intrinsic dimension across blocks


def id_profile(
    result: ProbeResult,
    methods: Sequence[str] = ("twonn", "mle", "pca"),
    *,
    which: str = "pixels",
    layer: str = "bottleneck",
    max_points: int | None = None,
    random_state: Any = 0,
    device: Any = None,
) -> Any:
    """Intrinsic dimension of the sampled vectors of every block, by several estimators.

    Uses :func:`manifold_lab.intrinsic_dimension.estimate_id` on the reservoir samples.

    Parameters
    ----------
    result : ProbeResult
        With samples (``pixel_samples`` / ``image_samples`` > 0 when probing).
    methods : sequence of str, default=("twonn", "mle", "pca")
        Estimator names understood by ``estimate_id``.
    which : {"pixels", "images"}, default="pixels"
        Per-pixel vectors or per-image pooled vectors.
    layer : {"bottleneck", "expansion"}, default="bottleneck"
        Which samples.
    max_points : int or None, default=None
        Use at most this many points per block (a seeded subsample).
    random_state : None, int or numpy Generator, default=0
        Seeds the subsample.
    device : str, torch.device or None, default=None
        Where the estimators run (None: CUDA when available).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``name``, ``index``, ``layer``, ``which``, ``estimator``,
        ``dimension``, ``n_points``, ``n_features``.
    """
    import pandas as pd

    from ._validation import check_random_state
    from .intrinsic_dimension import estimate_id

    if which not in ("pixels", "images"):
        raise ValueError(f"which must be 'pixels' or 'images', got {which!r}")
    if layer not in ("bottleneck", "expansion"):
        raise ValueError(f"layer must be 'bottleneck' or 'expansion', got {layer!r}")
    if isinstance(methods, str):
        methods = [methods]
    if not methods:
        raise ValueError("methods is empty: name at least one estimator, e.g. 'twonn'")
    if max_points is not None and (not isinstance(max_points, int) or max_points < 3):
        raise ValueError(f"max_points must be an integer >= 3 or None, got {max_points!r}")
    source = result.samples if layer == "bottleneck" else result.expansion_samples
    rng = check_random_state(random_state)
    rows = []
    for b in result.blocks:
        X = source.get(b.name, {}).get(which)
        if X is None:
            continue
        if max_points is not None and X.shape[0] > max_points:
            X = X[np.sort(rng.choice(X.shape[0], max_points, replace=False))]
        for method in methods:
            dim = estimate_id(np.asarray(X, dtype=np.float64), method, device=device)
            rows.append(
                {
                    "model": result.metadata.get("model"),
                    "name": b.name,
                    "index": b.index,
                    "layer": layer,
                    "which": which,
                    "estimator": str(method),
                    "dimension": float(dim),
                    "n_points": int(X.shape[0]),
                    "n_features": int(X.shape[1]),
                }
            )
    if not rows:
        raise ValueError(
            f"the result holds no {layer} {which} samples: probe with "
            f"{'pixel' if which == 'pixels' else 'image'}_samples > 0"
        )
    return pd.DataFrame(rows)
