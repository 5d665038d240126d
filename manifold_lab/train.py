"""Train MobileNetV2 variants on CIFAR-10, resumably, with a learning-curve log.

Only torch, torchvision, numpy and the standard library are imported here (plus pillow through
torchvision), so training runs on a bare GPU machine.

The whole data set sits in memory as uint8 (150 MB for the training split; on the GPU when
there is one); augmentation (random crop with 4 pixels of zero padding, horizontal flip) is done
on whole batches with tensor indexing, so no data-loader processes are needed and every epoch's
order and augmentation come from a generator seeded by ``(seed, epoch)``. That, and seeding
dropout at the start of each epoch, is what makes a resumed run end with the same weights as an
uninterrupted one (on the CPU; cuDNN kernels are not bitwise deterministic).

A run directory holds:

``config.json``
    The :class:`TrainConfig` and the model's configuration.
``last.pt``
    A checkpoint written atomically after every epoch: weights, optimizer and scheduler state,
    metrics so far. ``resume=True`` continues from it.
``metrics.csv`` / ``metrics.json``
    One row per epoch (step, learning rate, train loss/accuracy, test loss/accuracy, time),
    with provenance.
``model.pt``
    The final weights, loadable by :func:`manifold_lab.load_model`.

Examples
--------
>>> import tempfile
>>> cfg = PRESETS["smoke"].replace(train_limit=256, test_limit=128, epochs=1)
>>> with tempfile.TemporaryDirectory() as d:  # doctest: +SKIP
...     result = train(cfg, d, data_root="../shared/data/cifar10-jpeg.tar.gz")
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._parsing import split_key_value
from ._progress import progress_bar
from ._validation import check_scalar, resolve_device
from .fileio import atomic_write_text
from .mobilenet import CONFIG_CHOICES, MobileNetV2, MobileNetV2Config, mobilenet_v2
from .preprocessing import CIFAR10_MEAN, CIFAR10_STD
from .records import provenance
from .weights import load_checkpoint, save_checkpoint

__all__ = [
    "PRESETS",
    "TrainConfig",
    "TrainResult",
    "augment_batch",
    "normalize_cifar",
    "param_groups",
    "preset_config",
    "train",
]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (and so must match when resuming).

    Parameters
    ----------
    model : MobileNetV2Config
        The architecture (``num_classes`` must be 10).
    epochs : int
        Passes over the training set.
    batch_size : int
        Images per optimisation step (over all processes under DDP).
    lr : float
        Peak learning rate of SGD (reached after the warm-up).
    momentum : float
        SGD momentum (Nesterov).
    weight_decay : float
        Applied to convolution and linear weights, not to biases or batch-norm parameters.
    warmup_epochs : float
        Linear warm-up from 0 to ``lr``; cosine decay to 0 afterwards (per step).
    label_smoothing : float
        Label smoothing of the cross-entropy loss (0: none).
    seed : int
        Initial weights, data order, augmentation and dropout.
    augment : bool
        Random crop (padding 4) and horizontal flip.
    train_limit, test_limit : int or None
        Use only the first images of each split (for smoke tests).
    amp : bool
        bfloat16 autocast on CUDA (ignored on the CPU).
    channels_last : bool
        Channels-last memory format.
    compile : bool
        ``torch.compile`` the model.
    name : str
        A label for tables.
    """

    model: MobileNetV2Config = field(
        default_factory=lambda: MobileNetV2Config(num_classes=10, stem="cifar")
    )
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.0
    seed: int = 0
    augment: bool = True
    train_limit: int | None = None
    test_limit: int | None = None
    amp: bool = True
    channels_last: bool = False
    compile: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        if self.model.num_classes != 10:
            raise ValueError(
                f"CIFAR-10 training needs num_classes=10, got {self.model.num_classes}"
            )
        for name in ("epochs", "batch_size"):
            check_scalar(getattr(self, name), name, kind=int, minimum=1)
        for name in ("train_limit", "test_limit"):
            check_scalar(getattr(self, name), name, kind=int, minimum=1, allow_none=True)
        check_scalar(self.seed, "seed", kind=int, minimum=0)
        check_scalar(self.lr, "lr", minimum=0, maximum=10, include_min=False)
        check_scalar(self.momentum, "momentum", minimum=0, maximum=1, include_max=False)
        check_scalar(self.weight_decay, "weight_decay", minimum=0, maximum=1, include_max=False)
        check_scalar(self.warmup_epochs, "warmup_epochs", minimum=0, maximum=self.epochs)
        check_scalar(
            self.label_smoothing, "label_smoothing", minimum=0, maximum=1, include_max=False
        )
        for name in ("augment", "amp", "channels_last", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.name, str):
            raise ValueError(f"name must be a string, got {self.name!r}")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed; ``model_*`` keys change the model config.

        Parameters
        ----------
        **changes
            New values of fields (``epochs=2``), or of the model config's fields with a
            ``model_`` prefix (``model_width_mult=0.5``).

        Returns
        -------
        TrainConfig
            A new config; this one is unchanged.
        """
        model_changes = {k[6:]: changes.pop(k) for k in list(changes) if k.startswith("model_")}
        if model_changes:
            changes["model"] = self.model.replace(**model_changes)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict.

        Returns
        -------
        dict
            Field name to value, with ``model`` as :meth:`MobileNetV2Config.to_dict`; what
            :meth:`from_dict` reads back and what a run's ``config.json`` stores.
        """
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training config keys {unknown}")
        d["model"] = MobileNetV2Config.from_dict(d.get("model") or {})
        return cls(**d)


_CIFAR = MobileNetV2Config(num_classes=10, stem="cifar")

#: Presets chosen by measurement; the figures: docs/results/ablation-cifar.md.
PRESETS: dict[str, TrainConfig] = {
    "smoke": TrainConfig(
        model=_CIFAR.replace(width_mult=0.25),
        epochs=2,
        batch_size=64,
        lr=0.05,
        warmup_epochs=0.5,
        train_limit=512,
        test_limit=256,
        name="smoke",
    ),
    "cpu": TrainConfig(
        model=_CIFAR.replace(width_mult=0.5, stem="stride1", dropout=0.0),
        epochs=12,
        batch_size=128,
        lr=0.1,
        warmup_epochs=0.5,
        weight_decay=5e-4,
        label_smoothing=0.1,
        channels_last=True,
        name="cpu",
    ),
    # 25 epochs: what six runs at once fit into the lease on an H200 by the measured throughput
    # (experiments/device_run.py; experiments/results/ablation_gpu/plan.json)
    "gpu": TrainConfig(
        model=_CIFAR.replace(dropout=0.0),
        epochs=25,
        batch_size=256,
        lr=0.2,
        warmup_epochs=1.0,
        weight_decay=5e-4,
        label_smoothing=0.1,
        channels_last=True,
        name="gpu",
    ),
}


def parse_override(text: str) -> tuple[str, Any]:
    """One ``--set KEY=VALUE`` item as ``(field, value)`` (``model-x`` reads ``model_x``).

    A value that names a choice of a model field stays that name: ``model_shortcut=none``
    is the shortcut ``"none"``, not None.

    Examples
    --------
    >>> parse_override("model_shortcut=none")
    ('model_shortcut', 'none')
    >>> parse_override("epochs=5")
    ('epochs', 5)
    """
    key, value = split_key_value(text, "--set")
    key = key.replace("-", "_")
    raw = text.split("=", 1)[1].strip()
    if value is None and raw in CONFIG_CHOICES.get(key.removeprefix("model_"), ()):
        value = raw
    return key, value


def preset_config(preset: str, overrides: Sequence[str] = ()) -> TrainConfig:
    """A training preset with ``--set KEY=VALUE`` overrides applied.

    Parameters
    ----------
    preset : str
        A name from :data:`PRESETS`.
    overrides : sequence of str
        ``KEY=VALUE`` items, as given to ``manifold-lab train --set`` (``model_`` fields
        change the model, e.g. ``model_shortcut=none``).

    Returns
    -------
    TrainConfig
        The preset's config with the overrides applied (validated).

    Raises
    ------
    ValueError
        For an unknown preset, a malformed item, an unknown field or an impossible value.

    Examples
    --------
    >>> preset_config("smoke", ["epochs=2"]).epochs
    2
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    changes = dict(parse_override(item) for item in overrides)
    try:
        return PRESETS[preset].replace(**changes)
    except (TypeError, ValueError) as exc:
        shown = " ".join(item.encode("unicode_escape").decode("ascii") for item in overrides)
        raise ValueError(f"bad --set {shown}: {exc}") from None


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Parameters
    ----------
    run_dir : Path
        The run's folder (checkpoints, metrics, config).
    model : MobileNetV2
        The trained network (eval mode, on the CPU).
    metrics : list of dict
        One row per epoch.
    config : TrainConfig
        The run's training configuration.
    finished : bool
        False when stopped early by ``stop_after_epochs``.
    replica_max_abs_diff : float or None, default=None
        Under DDP, the largest difference between the ranks' final parameters.
    """

    run_dir: Path
    model: MobileNetV2
    metrics: list[dict[str, Any]]
    config: TrainConfig
    finished: bool
    replica_max_abs_diff: float | None = None

    @property
    def test_accuracy(self) -> float:
        """Test accuracy after the last epoch run."""
        return float(self.metrics[-1]["test_acc"]) if self.metrics else float("nan")


def augment_batch(images: Tensor, generator: torch.Generator, *, padding: int = 4) -> Tensor:
    """Random crop with zero padding and random horizontal flip of a uint8 batch (B, C, H, W).

    Parameters
    ----------
    images : Tensor of shape (B, C, H, W)
        A batch of uint8 images, on any device.
    generator : torch.Generator
        CPU generator that draws the offsets and flips (so augmentation is reproducible).
    padding : int, default=4
        Zero padding on each side before the random ``H x W`` crop.

    Returns
    -------
    Tensor of shape (B, C, H, W)
        The augmented batch, on the device of ``images``.

    Examples
    --------
    >>> x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).reshape(2, 3, 8, 8)
    >>> augment_batch(x, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 8, 8])
    """
    b, _, h, w = images.shape
    dev = images.device
    padded = F.pad(images, (padding, padding, padding, padding))
    oy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(dev)
    ox = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(dev)
    flip = (torch.rand(b, generator=generator) < 0.5).to(dev)
    rows = oy[:, None] + torch.arange(h, device=dev)[None, :]
    cols = ox[:, None] + torch.arange(w, device=dev)[None, :]
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    idx = torch.arange(b, device=dev)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def normalize_cifar(images: Tensor) -> Tensor:
    """Normalise uint8 images (N, 3, H, W) with CIFAR-10's per-channel mean and std.

    Parameters
    ----------
    images : Tensor of shape (N, 3, H, W)
        uint8 images.

    Returns
    -------
    Tensor of shape (N, 3, H, W)
        Float32 images, ``(images / 255 - mean) / std``.
    """
    mean = torch.tensor(CIFAR10_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Optimizer groups: weight decay on conv and linear weights only (not norms, biases).

    Parameters
    ----------
    model : nn.Module
        The network.
    weight_decay : float
        Weight decay of the convolution and linear weights.

    Returns
    -------
    list of dict
        Two groups for a ``torch.optim`` optimizer: those weights with ``weight_decay``,
        every other trainable parameter with 0.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            is_weight = name == "weight" and isinstance(module, nn.Conv2d | nn.Linear)
            (decay if is_weight else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _lr_lambda(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def fn(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return fn


def _load_split(
    split: str, data_root: Any, limit: int | None, progress: bool
) -> tuple[Tensor, Tensor]:
    from .data import load_cifar10

    ds = load_cifar10(split, data_root, progress=progress)
    images, targets = ds.images, ds.targets
    if limit is not None and limit < len(images):
        # A fixed random subset (the files are sorted by class, so the first ones are not).
        keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(12345))
        keep = keep[:limit].sort().values
        images, targets = images[keep], targets[keep]
    return images.contiguous(), targets.long().contiguous()


@torch.inference_mode()
def _evaluate(
    model: nn.Module,
    images: Tensor,
    targets: Tensor,
    batch_size: int,
    amp: bool,
    cl: bool,
    rank: int = 0,
    world: int = 1,
) -> tuple[float, float]:
    """Test loss and accuracy; under DDP each rank takes every ``world``-th image and the
    sums are added up across ranks (every rank gets the same result)."""
    model.eval()
    dev = next(model.parameters()).device
    images, targets = images[rank::world], targets[rank::world]
    total_loss, correct = 0.0, 0
    for start in range(0, len(images), batch_size):
        x = normalize_cifar(images[start : start + batch_size].to(dev, non_blocking=True))
        y = targets[start : start + batch_size].to(dev, non_blocking=True)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        total_loss += float(F.cross_entropy(logits.float(), y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    loss_all, correct_all, count = _sum_across_ranks(world, dev, total_loss, correct, len(images))
    return loss_all / count, correct_all / count


def _sum_across_ranks(world: int, dev: torch.device, *values: float) -> list[float]:
    """Element-wise sum of a few numbers over the DDP ranks (the numbers themselves if alone)."""
    if world <= 1:
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=dev)
    dist.all_reduce(t)
    return [float(v) for v in t.tolist()]


def _write_metrics(run_dir: Path, metrics: list[dict[str, Any]], prov: dict[str, Any]) -> None:
    if not metrics:
        return
    buffer = io.StringIO()
    buffer.write("# provenance: " + json.dumps(prov, sort_keys=True) + "\n")
    fieldnames = list(dict.fromkeys(k for row in metrics for k in row))
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(metrics)
    atomic_write_text(run_dir / "metrics.csv", buffer.getvalue())
    text = json.dumps({"provenance": prov, "records": metrics}, indent=1) + "\n"
    atomic_write_text(run_dir / "metrics.json", text)


def _init_distributed(device: Any) -> tuple[int, int, bool]:
    """(rank, world size, whether we initialised the process group) from torchrun's env."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    owns = False
    if not dist.is_initialized():
        use_nccl = torch.cuda.is_available() and device in (None, "cuda")
        dist.init_process_group("nccl" if use_nccl else "gloo")
        owns = True
    return dist.get_rank(), dist.get_world_size(), owns


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def _replica_difference(model: nn.Module, world: int) -> float | None:
    """Largest absolute difference between the ranks' parameters (0 when replicas agree)."""
    if world <= 1:
        return None
    import torch.distributed as dist

    flat = torch.cat([p.detach().reshape(-1).float() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    return max(float((g - gathered[0]).abs().max()) for g in gathered[1:])


def train(
    config: TrainConfig | str,
    run_dir: str | os.PathLike[str],
    *,
    data_root: Any = None,
    resume: bool = False,
    device: Any = None,
    progress: bool = True,
    stop_after_epochs: int | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    keep_epochs: Sequence[int] = (),
) -> TrainResult:
    """Train a MobileNetV2 on CIFAR-10 and keep everything in ``run_dir``.

    Parameters
    ----------
    config : TrainConfig or str
        The run, or a preset name from :data:`PRESETS`.
    run_dir : path-like
        Created if needed. If it already holds a run, ``resume=True`` continues it; otherwise
        an error says so (never silently overwritten).
    data_root : optional
        Where CIFAR-10 is (see :func:`manifold_lab.data.load_cifar10`): a torchvision root,
        the ``cifar10-jpeg.tar.gz`` tarball or its extracted folder.
    resume : bool, default=False
        Continue from ``run_dir/last.pt`` (an error when there is none); the stored training
        config must equal ``config``.
    device : str or torch.device, optional
        Default: CUDA when available.
    progress : bool, default=True
        Progress bars.
    stop_after_epochs : int, optional
        Return after this many epochs *in this call* (the run can be resumed later).
    on_epoch_end : callable, optional
        Called with each epoch's metrics row after the checkpoint is written.
    keep_epochs : sequence of int, default=()
        Also keep the weights after these epochs (1-based) as ``run_dir/epoch_NNN.pt``, for
        following a quantity over training (e.g. the information-loss ledger). Each is a
        model checkpoint that :func:`~manifold_lab.weights.load_checkpoint` reads.

    Returns
    -------
    TrainResult
        The trained model, the per-epoch metrics and whether the run finished.
    """
    if isinstance(config, str):
        if config not in PRESETS:
            raise ValueError(f"unknown preset {config!r}; choose from {sorted(PRESETS)}")
        config = PRESETS[config]
    run = Path(run_dir)
    keep = set()
    for e in keep_epochs:
        check_scalar(e, "keep_epochs", kind=int, minimum=1, maximum=config.epochs)
        keep.add(int(e))
    if resume and not (run / "last.pt").is_file():
        raise ValueError(
            f"there is no run to resume in {run} (no last.pt checkpoint there); "
            "check the run directory, or start a new run without resume=True (--resume)"
        )
    rank, world, owns_group = _init_distributed(device)
    main_process = rank == 0
    progress = progress and main_process
    if world > 1 and torch.cuda.is_available() and device in (None, "cuda"):
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    else:
        dev = resolve_device(device)
    if main_process:
        run.mkdir(parents=True, exist_ok=True)
    _barrier(world)
    last = run / "last.pt"
    if not resume and (last.exists() or (run / "model.pt").exists()):
        raise ValueError(
            f"{run} already holds a training run; pass resume=True (--resume) to continue it, "
            "or choose a new run directory"
        )

    model = mobilenet_v2(config.model, seed=config.seed)
    metrics: list[dict[str, Any]] = []
    start_epoch = 0
    optimizer_state = scheduler_state = None
    if resume and last.exists():
        model, payload = load_checkpoint(last)
        extra = payload["extra"]
        stored = TrainConfig.from_dict(extra["train_config"])
        if stored != config:
            differ = [k for k, v in config.to_dict().items() if stored.to_dict().get(k) != v]
            raise ValueError(
                f"{last} was written by a run with a different training config (fields "
                f"{differ}); resume with the same settings or use a new run directory"
            )
        start_epoch = int(extra["epoch"])
        metrics = list(extra["metrics"])
        optimizer_state = extra["optimizer"]
        scheduler_state = extra["scheduler"]
        model.train()
    if main_process:
        atomic_write_text(
            run / "config.json",
            json.dumps({"train_config": config.to_dict(), "world_size": world}, indent=1) + "\n",
        )

    train_x, train_y = _load_split("train", data_root, config.train_limit, progress)
    test_x, test_y = _load_split("test", data_root, config.test_limit, progress)
    if dev.type == "cuda":
        train_x, train_y = train_x.to(dev), train_y.to(dev)
        test_x, test_y = test_x.to(dev), test_y.to(dev)

    model = model.to(dev)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest kernels
    cl = config.channels_last
    if cl:
        model = model.to(memory_format=torch.channels_last)
    amp = config.amp and dev.type == "cuda"
    optimizer = torch.optim.SGD(
        param_groups(model, config.weight_decay),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.momentum > 0,
    )
    steps_per_epoch = math.ceil(len(train_x) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(total_steps, warmup_steps))
    if optimizer_state is not None and scheduler_state is not None:
        optimizer.load_state_dict(optimizer_state)
        scheduler.load_state_dict(scheduler_state)
    forward: Callable[[Tensor], Tensor] = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    if config.compile:
        forward = torch.compile(forward)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    prov = provenance({"train_config": config.to_dict(), "device": str(dev), "world_size": world})

    epochs_run = 0
    for epoch in range(start_epoch, config.epochs):
        if stop_after_epochs is not None and epochs_run >= stop_after_epochs:
            break
        model.train()
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        torch.manual_seed(config.seed * 7_919 + epoch)  # dropout, per epoch: resumable
        order = torch.randperm(len(train_x), generator=gen)
        t0 = time.perf_counter()
        # running sums stay on the device: reading them every step would make the CPU wait for
        # the GPU at each step (on the CPU it costs nothing, so the loss is checked every step)
        loss_acc = torch.zeros((), dtype=torch.float64, device=dev)
        correct_acc = torch.zeros((), dtype=torch.int64, device=dev)
        seen = 0
        bar = progress_bar(
            range(steps_per_epoch),
            disable=not progress,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            unit="step",
            leave=False,
        )
        for step in bar:
            idx = order[step * config.batch_size : (step + 1) * config.batch_size][rank::world]
            idx = idx.to(train_x.device, non_blocking=True)
            x_u8, y = train_x[idx], train_y[idx]
            if config.augment:
                x_u8 = augment_batch(x_u8, gen)
            x = normalize_cifar(x_u8)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                logits = forward(x)
                loss = criterion(logits.float(), y)
            check = dev.type != "cuda" or step % 50 == 0 or step == steps_per_epoch - 1
            if check and not torch.isfinite(loss_acc + loss.detach()):
                raise RuntimeError(
                    f"the loss became {float(loss)} by epoch {epoch + 1}, step {step + 1}; "
                    "lower the learning rate"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_acc += loss.detach().double() * len(y)
            correct_acc += (logits.argmax(1) == y).sum()
            seen += len(y)
            if progress and step % 10 == 0:
                bar.set_postfix(
                    loss=f"{float(loss_acc) / seen:.3f}", acc=f"{int(correct_acc) / seen:.3f}"
                )
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        train_seconds = time.perf_counter() - t0
        loss_all, correct_all, seen_all = _sum_across_ranks(
            world, dev, float(loss_acc), int(correct_acc), seen
        )
        test_loss, test_acc = _evaluate(model, test_x, test_y, 500, amp, cl, rank, world)
        row = {
            "epoch": epoch + 1,
            "step": (epoch + 1) * steps_per_epoch,
            "images_seen": (epoch + 1) * len(train_x),
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": loss_all / seen_all,
            "train_acc": correct_all / seen_all,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "train_seconds": train_seconds,
            "train_images_per_second": seen_all / train_seconds,
            "epoch_seconds": time.perf_counter() - t0,
        }
        if world > 1:
            row["world_size"] = world
        metrics.append(row)
        epochs_run += 1
        if not main_process:
            _barrier(world)
            continue
        save_checkpoint(
            model,
            last,
            meta={"label_space": "cifar10", "test_acc": test_acc, "epoch": epoch + 1},
            extra={
                "train_config": config.to_dict(),
                "epoch": epoch + 1,
                "metrics": metrics,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
            },
        )
        if epoch + 1 in keep:
            save_checkpoint(
                model,
                run / f"epoch_{epoch + 1:03d}.pt",
                meta={
                    "label_space": "cifar10",
                    "test_acc": test_acc,
                    "epoch": epoch + 1,
                    "train_config": config.to_dict(),
                    "trained_with": "manifold_lab.train",
                },
            )
        _write_metrics(run, metrics, prov)
        _barrier(world)
        if progress:
            print(
                f"epoch {epoch + 1}/{config.epochs}: train loss {row['train_loss']:.3f} "
                f"acc {row['train_acc']:.3f}, test acc {test_acc:.4f} "
                f"({row['train_images_per_second']:.0f} img/s)",
                flush=True,
            )
        if on_epoch_end is not None:
            on_epoch_end(row)

    finished = len(metrics) >= config.epochs
    replica_diff = _replica_difference(model, world)
    if owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
    model = model.to(memory_format=torch.contiguous_format).cpu().eval()
    if replica_diff is not None and main_process:
        metrics[-1]["replica_max_abs_diff"] = replica_diff
        _write_metrics(run, metrics, prov)
    if finished and main_process:
        final = metrics[-1]
        save_checkpoint(
            model,
            run / "model.pt",
            meta={
                "label_space": "cifar10",
                "test_acc": final["test_acc"],
                "epochs": config.epochs,
                "train_config": config.to_dict(),
                "trained_with": "manifold_lab.train",
                "data": str(data_root) if data_root is not None else "default CIFAR-10 root",
                "notes": (
                    f"trained by manifold_lab.train on CIFAR-10, {config.epochs} epochs, seed "
                    f"{config.seed}; test accuracy {final['test_acc']:.4f} on {len(test_x)} "
                    "test images"
                ),
            },
        )
    return TrainResult(
        run_dir=run,
        model=model,
        metrics=metrics,
        config=config,
        finished=finished,
        replica_max_abs_diff=replica_diff,
    )
