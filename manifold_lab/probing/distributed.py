"""The probe and the ledger, data-parallel under ``torchrun``: sharding and exact merging.

When :mod:`torch.distributed` is initialised with more than one process (``torchrun``;
gloo on the CPU, NCCL on GPUs), :func:`~manifold_lab.probing.probe` and
:func:`~manifold_lab.probing.ledger` give global batch ``i`` (the batches a single process
would form) to rank ``i % world``. Every image keeps its global number (the position of its
batch's first image plus its position in the batch), and every sampling decision (reservoir
priorities, the rank-check subsample, the ledger's held-out images and fitting pixels) is a
seeded hash of global numbers, so each process makes the decisions a single process would.
At the end:

* counts (histograms, pixels, images, rank checks) are summed exactly as int64;
* floating-point sums are summed in float64: the probe's ``lemma2_pixels`` and the ledger's
  decoder sums differ from a single process only by the order of additions (relative
  differences around 1e-15; the fitted decoders' errors within 1e-9 relative);
* reservoirs are merged by gathering every process's kept items and keeping the
  ``size`` highest priorities: the single process's sample exactly (each process kept the top
  of its own items, so the union holds the global top).

Rank 0's weights are broadcast to every process first (as DistributedDataParallel does), so
unseeded random weights are the same network everywhere. Every process returns the same
merged result; callers write files on rank 0 only.

Examples
--------
Without an initialised process group everything is one process:

>>> process_group()
(0, 1)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from .reservoir import Reservoir

if TYPE_CHECKING:
    from .hooks import ActivationProbe
    from .ledger import LedgerCollector

__all__ = [
    "broadcast_model",
    "gather_objects",
    "init_from_env",
    "local_device",
    "merge_reservoir",
    "process_group",
    "reduce_ledger",
    "reduce_probe",
]


def process_group() -> tuple[int, int]:
    """``(rank, world size)`` of the initialised default process group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: Any = None) -> tuple[int, int, bool, Any]:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE``).

    Parameters
    ----------
    device : str, torch.device or None
        The device asked for; NCCL is used when it is None or ``"cuda"`` and CUDA is
        available (each process then takes ``cuda:LOCAL_RANK``), gloo otherwise.

    Returns
    -------
    rank, world : int
    owns : bool
        Whether this call initialised the group (the caller then destroys it).
    device : str, torch.device or None
        The device this process should use.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False, device
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    use_cuda = torch.cuda.is_available() and device in (None, "cuda")
    if use_cuda:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
        owns = True
    return dist.get_rank(), dist.get_world_size(), owns, device


def local_device(device: Any, world: int) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` for ``device`` None or ``"cuda"`` in a
    multi-process run on GPUs, else :func:`~manifold_lab._validation.resolve_device`'s."""
    from .._validation import resolve_device

    if world > 1 and torch.cuda.is_available() and device in (None, "cuda"):
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return resolve_device(device)


def _comm_device() -> torch.device:
    """Where collective tensors must live: the current GPU for NCCL, else the CPU."""
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_sum(t: Tensor) -> Tensor:
    """The element-wise sum of ``t`` over the processes (a new tensor on ``t``'s device)."""
    import torch.distributed as dist

    work = t.detach().to(_comm_device()).clone()
    dist.all_reduce(work)
    return work.to(t.device)


def gather_objects(obj: Any) -> list[Any]:
    """Every process's ``obj`` (picklable), in rank order; ``[obj]`` alone."""
    import torch.distributed as dist

    _, world = process_group()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def broadcast_model(model: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers into every process's ``model`` (in place).

    As DistributedDataParallel does when it wraps a model: processes that built their model
    from unseeded random weights would otherwise probe different networks.
    """
    import torch.distributed as dist

    _, world = process_group()
    if world == 1:
        return
    device = _comm_device()
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            work = t.detach().to(device).clone()
            dist.broadcast(work, 0)
            t.copy_(work.to(t.device))


def merge_reservoir(res: Reservoir, device: torch.device) -> None:
    """Replace ``res`` by the top ``res.size`` priorities over all processes' reservoirs.

    Ties (equal 62-bit priorities) are broken by the first column, the global index.
    """
    if res.size == 0:
        return
    mine = None
    if res.keys is not None:
        mine = (res.keys.cpu().numpy(), [c.cpu().numpy() for c in res.cols])
    parts = [p for p in gather_objects(mine) if p is not None]
    if not parts:
        return
    keys = np.concatenate([p[0] for p in parts])
    cols = [np.concatenate(c) for c in zip(*(p[1] for p in parts), strict=True)]
    order = np.lexsort((cols[0], -keys))[: res.size]  # highest priority first
    res.replace(
        torch.as_tensor(keys[order], device=device),
        [torch.as_tensor(c[order], device=device) for c in cols],
    )


def _sum_optional(
    tensors: list[Tensor | None], shapes: list[tuple[int, ...]], dtype: Any, device: torch.device
) -> list[Tensor | None]:
    """Sum tensors that some processes may not have allocated (None: zeros where another
    process has one; None everywhere stays None)."""
    present = _all_sum(torch.tensor([t is not None for t in tensors], dtype=torch.int64))
    sizes = [int(np.prod(s)) for s in shapes]
    flat = torch.zeros(sum(sizes), dtype=dtype, device=device)
    start = 0
    for t, n in zip(tensors, sizes, strict=True):
        if t is not None:
            flat[start : start + n] = t.reshape(-1).to(device=device, dtype=dtype)
        start += n
    total = _all_sum(flat)
    out: list[Tensor | None] = []
    start = 0
    for k, (shape, n) in enumerate(zip(shapes, sizes, strict=True)):
        out.append(total[start : start + n].view(shape).clone() if int(present[k]) else None)
        start += n
    return out


def reduce_probe(p: ActivationProbe, device: torch.device) -> None:
    """Merge every process's counts, sums and reservoirs into each process's ``p``.

    Integers (and the float64 channel counts, which hold integers) are summed exactly as
    int64; ``lemma2_pixels`` in float64; reservoirs by :func:`merge_reservoir`.
    """
    states = list(p._states.values())
    ints: list[Tensor | None] = []
    shapes: list[tuple[int, ...]] = []
    for s in states:
        c = s.info.hidden_channels
        ints += [
            s.hist_pos,
            s.hist_clip,
            s.hist_inf,
            None if s.chan_pos is None else s.chan_pos.round().to(torch.int64),
            None if s.chan_clip is None else s.chan_clip.round().to(torch.int64),
            None if s.bn_negative is None else s.bn_negative.round().to(torch.int64),
        ]
        shapes += [(c + 1,), (c + 1,), (c + 1,), (c,), (c,), ()]
    summed = _sum_optional(ints, shapes, torch.int64, device)
    scalars = torch.tensor(
        [
            [
                s.exp_images,
                s.bn_images,
                s.n_pixels,
                s.n_bn_pixels,
                s.rank_checked,
                s.rank_full,
                int(s.rank_subsampled),
            ]
            for s in states
        ],
        dtype=torch.int64,
    )
    scalars = _all_sum(scalars)
    lemma2 = _all_sum(torch.tensor([s.lemma2_pixels for s in states], dtype=torch.float64))
    for k, s in enumerate(states):
        hp, hc, hi, cp, cc, neg = summed[6 * k : 6 * k + 6]
        s.hist_pos, s.hist_clip, s.hist_inf = hp, hc, hi
        s.chan_pos = None if cp is None else cp.to(torch.float64)
        s.chan_clip = None if cc is None else cc.to(torch.float64)
        s.bn_negative = None if neg is None else neg.to(torch.float64)
        (
            s.exp_images,
            s.bn_images,
            s.n_pixels,
            s.n_bn_pixels,
            s.rank_checked,
            s.rank_full,
            subsampled,
        ) = (int(v) for v in scalars[k].tolist())
        s.rank_subsampled = bool(subsampled)
        s.lemma2_pixels = float(lemma2[k])
        for res in (s.bn_pixels, s.bn_images_res, s.exp_pixels, s.exp_images_res, s.pre_pixels):
            merge_reservoir(res, device)
    resolutions: list[tuple[int, int]] = []
    for part in gather_objects(p._resolutions):
        for r in part:
            if tuple(r) not in resolutions:
                resolutions.append(tuple(r))
    p._resolutions = resolutions


def reduce_ledger(collector: LedgerCollector, device: torch.device) -> None:
    """Merge every process's reservoirs, decoder sums and image counts into ``collector``.

    Pixel and image counts are summed exactly; the decoders' float64 sums in float64.
    """
    states = list(collector.states.values())
    counts = _all_sum(
        torch.tensor([[s.images, s.fit.n, s.block_fit.n] for s in states], dtype=torch.int64)
    )
    sums: list[Tensor | None] = []
    shapes: list[tuple[int, ...]] = []
    for s in states:
        info = s.info
        for stats, q in ((s.fit, info.hidden_channels), (s.block_fit, info.out_channels)):
            d = info.in_channels
            sums += [stats.sf, stats.st, stats.ff, stats.ft]
            shapes += [(q,), (d,), (q, q), (q, d)]
    summed = _sum_optional(sums, shapes, torch.float64, device)
    for k, s in enumerate(states):
        s.images, s.fit.n, s.block_fit.n = (int(v) for v in counts[k].tolist())
        for j, stats in enumerate((s.fit, s.block_fit)):
            stats.sf, stats.st, stats.ff, stats.ft = summed[8 * k + 4 * j : 8 * k + 4 * j + 4]
        merge_reservoir(s.pairs, device)
        merge_reservoir(s.block_pairs, device)
