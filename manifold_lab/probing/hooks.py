"""Scoped hooks on every inverted residual block: :class:`ActivationProbe`.

A context manager installs forward hooks on each block's expansion and bottleneck, feeds
their outputs to one :class:`~manifold_lab.probing.statistics.BlockState` per block, and
removes every handle (and restores each module's ``training`` flag) on the way out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import check_scalar
from .blocks import find_blocks
from .result import BlockStats, ProbeResult
from .statistics import BlockState, Scratch

__all__ = ["ActivationProbe"]


class ActivationProbe:
    """Scoped hooks that count activation patterns in every inverted residual block.

    Use it as a context manager around your own forward passes (hooks are installed in
    ``__enter__``; every handle is removed and each module's ``training`` flag restored in
    ``__exit__``, also after an exception), or call :func:`~manifold_lab.probing.probe` for
    a whole dataset. The model runs in eval mode while probed (batch norm with running
    statistics, as the rank check folds them).

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
        ``rank_rtol`` times their largest, tested in float64 on the Gram matrix ``W_A^T W_A``
        as ``lambda_min > rank_rtol**2 * lambda_max`` (see
        :func:`~manifold_lab.probing.statistics.lemma2_full_rank`, which certifies most
        pixels from a subset of their rows); must lie in [1e-7, 1) because the Gram matrix
        cannot resolve smaller ratios.
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
        self.pixel_samples: int = check_scalar(pixel_samples, "pixel_samples", kind=int, minimum=0)
        self.image_samples: int = check_scalar(image_samples, "image_samples", kind=int, minimum=0)
        self.rank_pixels_per_batch: int | None = check_scalar(
            rank_pixels_per_batch, "rank_pixels_per_batch", kind=int, minimum=0, allow_none=True
        )
        self.rank_rtol = check_scalar(
            rank_rtol, "rank_rtol", minimum=1e-7, maximum=1, include_max=False
        )
        self.seed: int = check_scalar(seed, "seed", kind=int, minimum=0)
        cpu_threads = check_scalar(cpu_threads, "cpu_threads", kind=int, minimum=1, allow_none=True)
        self.cpu_threads: int | None = cpu_threads
        self.sample_expansion: bool = bool(sample_expansion)
        self._handles: list[Any] = []
        self._training: dict[nn.Module, bool] = {}
        self._labels: Tensor | None = None
        self._in_run: bool = False
        self._scratch: Scratch = Scratch()
        self._resolutions: list[tuple[int, int]] = []
        self._stop_after: nn.Module | None = self.infos[-1].bottleneck if stop_early else None
        self.reset()

    # -- life cycle --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything counted and sampled so far."""
        self._states: dict[str, BlockState] = {
            info.name: BlockState(
                info,
                scratch=self._scratch,
                pixel_samples=self.pixel_samples,
                image_samples=self.image_samples,
                sample_expansion=self.sample_expansion,
                rank_pixels_per_batch=self.rank_pixels_per_batch,
                rank_rtol=self.rank_rtol,
                seed=self.seed,
            )
            for info in self.infos
        }
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
                        self._states[info.name].rows = info.expansion_rows()
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
            self._scratch.release()
            for module, flag in self._training.items():
                module.training = flag
            self._training = {}

    def _install(self) -> None:
        self._handles.append(self.model.register_forward_pre_hook(self._on_model_input))
        for info in self.infos:
            state = self._states[info.name]
            if info.expansion is not None:
                hook = self._hook(state.on_expansion)
                self._handles.append(info.expansion.register_forward_hook(hook))
                before = info.expansion_norm or info.expansion_conv  # output before activation
                if state.pre_pixels.size and before is not None:
                    hook = self._hook(state.on_preactivation)
                    self._handles.append(before.register_forward_hook(hook))
            hook = self._hook(state.on_bottleneck)
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

    def _hook(self, update: Callable[[Tensor, Tensor | None], None]) -> Callable[..., None]:
        """A forward hook passing a module's output and the current batch's labels to
        ``update``."""
        return _make_hook(lambda output: update(output, self._labels), self.cpu_threads)

    # -- running -----------------------------------------------------------------------------

    def run(self, x: Tensor, labels: Any = None, *, offset: int | None = None) -> Any:
        """Forward ``x`` through the model, recording ``labels`` with the per-image samples.

        Parameters
        ----------
        x : Tensor of shape (batch, 3, height, width)
            Preprocessed images.
        labels : array-like of shape (batch,) or None, default=None
            Integer labels (-1: unlabelled).
        offset : int or None, default=None
            The global number of the batch's first image, for runs sharded over processes
            (see :mod:`manifold_lab.probing.distributed`): reservoir priorities and the rank
            subsample hash global numbers. None numbers the images in the order they are
            seen.

        Returns
        -------
        Tensor or None
            The model's output; None when the probe stopped the forward after the last
            block (``stop_early=True``).

        Raises
        ------
        RuntimeError
            Outside ``with probe:`` (the hooks are not installed).
        ValueError
            If the number of labels differs from the batch size.
        """
        if not self.active:
            raise RuntimeError("run() needs the probe's hooks: use it inside `with probe:`")
        if labels is not None:
            labels = torch.as_tensor(labels).reshape(-1)
            if labels.numel() != x.shape[0]:
                raise ValueError(f"{labels.numel()} labels for a batch of {x.shape[0]} images")
        self._labels = labels
        self._in_run = True
        for state in self._states.values():
            state.batch_offset = offset
        try:
            return self.model(x)
        except _StopForward:
            return None
        finally:
            self._labels = None
            self._in_run = False
            for state in self._states.values():
                state.batch_offset = None

    def state_nbytes(self) -> int:
        """Bytes held by the running statistics and reservoirs (not the scratch buffer).

        Returns
        -------
        int
            The sum over the probed blocks, on whatever device they live.
        """
        return sum(s.nbytes() for s in self._states.values())

    def result(self, *, samples: bool = True, **metadata: Any) -> ProbeResult:
        """The statistics so far as a :class:`ProbeResult` (moved to the CPU).

        Parameters
        ----------
        samples : bool, default=True
            Also copy the reservoir samples; False leaves them out (cheaper: for partial
            results while the probe runs).
        **metadata
            Stored in :attr:`ProbeResult.metadata` (e.g. ``images="cifar10-sample"``).

        Returns
        -------
        ProbeResult
            Per-block statistics and the reservoir samples, as NumPy arrays; the probe keeps
            counting if run again.

        Raises
        ------
        ValueError
            If no image has been probed yet.
        """
        states = list(self._states.values())
        if all(s.bn_images == 0 for s in states):
            raise ValueError("no images have been probed yet: run the model inside the probe")
        blocks: list[BlockStats] = []
        bn_samples: dict[str, dict[str, np.ndarray]] = {}
        exp_samples: dict[str, dict[str, np.ndarray]] = {}
        pre_samples: dict[str, dict[str, np.ndarray]] = {}
        index: dict[str, dict[str, np.ndarray]] = {}
        layer = 0
        for s in states:
            name = s.info.name
            if s.info.has_expansion:
                layer += 1
            blocks.append(s.stats(layer if s.info.has_expansion else None))
            if not samples:
                continue
            entry, idx, exp_entry, pre_entry = s.samples()
            if entry:
                bn_samples[name] = entry
                index[name] = idx
            if exp_entry:
                exp_samples[name] = exp_entry
            if pre_entry:
                pre_samples[name] = pre_entry
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
            samples=bn_samples,
            expansion_samples=exp_samples,
            preactivation_samples=pre_samples,
            sample_image_index=index,
            metadata=meta,
        )


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
