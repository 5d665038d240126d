"""The information-loss ledger: how much of each block's input survives inside a real network.

The probe measures the paper's *conditions* for invertibility (informative channels, Lemma 2's
rank test); the ledger measures the *loss itself*, with the toy experiment's methods and
metrics, at sampled pixels of every inverted residual block with an expansion:

* ``x``: the block's input at a pixel (the input of the expansion ``conv.0``), ``y``: the
  expansion's output there (after its ReLU6, as the probe reads it);
* the exact Lemma-2 inverse (:func:`~manifold_lab.probing.reconstruction.lemma2_inverse`):
  ``B_I x = y_I - b_I`` on the informative channels, exact where the probe's rank test holds,
  least squares elsewhere; the fraction of pixels it recovers exactly (relative error at most
  ``exact_rtol``) is the Lemma-2 fraction of these pixels;
* an affine ridge decoder from ``y`` to ``x`` fitted on other images' pixels;
* the whole block: an affine ridge decoder from the block's residual branch output (after the
  projection, before the residual addition) at output pixel ``(i, j)`` back to its input at
  pixel ``(s i, s j)`` (``s`` the stride), also fitted on other images: a lower bound on what
  survives the expansion, both activations, the depthwise convolution and the projection;
* per block, the toy's ``nmse``, ``collapsed_fraction`` and ``knn_recall`` of the recovered
  vectors (:func:`manifold_lab.core.nmse`, :func:`manifold_lab.core.neighbor_metrics`), with
  bootstrap 95% intervals over images, and the TwoNN intrinsic dimension of the sampled inputs.

Sampling is the probe's: a pixel's priority is the seeded hash of its global index in the
stream of the probe's expansion samples, so with the same seed and ``pixels_per_block`` equal
to the probe's ``pixel_samples`` the ledger's pixels are the probe's expansion samples. Each
image is a fitting or a held-out image by a seeded hash of its number (the same for every
block). Decoders are fitted from streamed sums over (a hashed subsample of) the fitting
images' pixels, so memory does not depend on the number of images.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import check_scalar
from .blocks import BlockInfo, find_blocks
from .ledger_result import LEDGER_COLUMNS, BlockLedger, Estimate, LedgerResult, column_labels
from .reconstruction import RidgeStats, bootstrap_ratio, expansion_affine, lemma2_inverse
from .reservoir import Reservoir, hash_keys, stream_base

__all__ = [
    "LEDGER_COLUMNS",
    "BlockLedger",
    "LedgerCollector",
    "LedgerResult",
    "column_labels",
    "ledger",
]

_SPLIT_STREAM = 0x5B117
_HASH_RANGE = 1 << 62


# -- collecting ----------------------------------------------------------------------------


class _BlockState:
    """Reservoirs and decoder sums of one block (tensors on the activations' device)."""

    def __init__(
        self,
        info: BlockInfo,
        *,
        pixels: int,
        fit_pixels_per_image: int,
        test_fraction: float,
        seed: int,
    ) -> None:
        self.info = info
        self.pairs = Reservoir(pixels)  # ids, x, y, image
        self.block_pairs = Reservoir(pixels)  # ids, x at (s i, s j), branch output, image
        self.fit = RidgeStats()
        self.block_fit = RidgeStats()
        self.fit_pixels_per_image = fit_pixels_per_image
        self.test_threshold = int(test_fraction * _HASH_RANGE)
        stream = 16 * info.index
        self.base_pairs = stream_base(seed, stream + 2)  # the probe's expansion samples
        self.base_block = stream_base(seed, stream + 5)
        self.base_fit = stream_base(seed, stream + 6)
        self.base_split = stream_base(seed, _SPLIT_STREAM)
        self.images = 0
        # global number of the current batch's first image (set for sharded runs); None: the
        # images counted so far
        self.batch_offset: int | None = None
        self.x: Tensor | None = None

    def _offset(self) -> int:
        return self.images if self.batch_offset is None else self.batch_offset

    def is_test(self, image: Tensor) -> Tensor:
        """Whether images (global numbers) are held out."""
        return hash_keys(image, self.base_split) < self.test_threshold

    def _fit_pixels(self, b: int, hw: int, device: torch.device) -> Tensor:
        """Flat indices (image-major) of this batch's fitting pixels, a hashed subsample."""
        offset = self._offset()
        fit_images = torch.nonzero(~self.is_test(torch.arange(b, device=device) + offset))
        if fit_images.numel() == 0:
            return fit_images[:, 0]
        local = (fit_images * hw + torch.arange(hw, device=device)).reshape(-1)
        rate = min(1.0, self.fit_pixels_per_image / hw)
        if rate < 1.0:
            keys = hash_keys(local + offset * hw, self.base_fit)
            local = local[keys < int(rate * _HASH_RANGE)]
        return local

    def on_input(self, x: Tensor) -> None:
        self.x = x.detach()

    def on_expansion(self, y: Tensor) -> None:
        x = self.x
        if x is None or x.dim() != 4 or y.dim() != 4 or x.shape[-2:] != y.shape[-2:]:
            raise ValueError(
                f"block {self.info.name}: the expansion's input and output do not match"
            )
        self._take(x, y.detach(), self.pairs, self.base_pairs, self.fit)

    def on_output(self, out: Tensor) -> None:
        x = self.x
        self.x = None
        stride = self.info.stride
        if x is None:
            raise ValueError(f"block {self.info.name}: its output came without its input")
        xs = x[:, :, ::stride, ::stride]
        if out.dim() != 4 or xs.shape[-2:] != out.shape[-2:]:
            raise ValueError(
                f"block {self.info.name}: output {tuple(out.shape[-2:])} does not match the input "
                f"{tuple(x.shape[-2:])} at stride {stride}"
            )
        self._take(xs, out.detach(), self.block_pairs, self.base_block, self.block_fit)
        self.images += out.shape[0]

    def _take(
        self, x: Tensor, t: Tensor, pairs: Reservoir, base: int, fit_sums: RidgeStats
    ) -> None:
        """Offer the pixels' ``(x, t)`` pairs to ``pairs`` (hashed by global pixel number
        with ``base``) and add the fitting pixels to the decoder sums ``fit_sums`` (t -> x)."""
        b, _, h, w = t.shape
        hw = h * w
        offset = self._offset()
        xf, tf = x.flatten(2), t.flatten(2)
        ids = torch.arange(b * hw, device=t.device, dtype=torch.int64) + offset * hw

        def gather(local: Tensor) -> list[Tensor]:
            i, s = local // hw, local % hw
            return [ids[local], xf[i, :, s], tf[i, :, s], i + offset]

        pairs.offer(hash_keys(ids, base), gather)
        fit = self._fit_pixels(b, hw, t.device)
        if fit.numel():
            i, s = fit // hw, fit % hw
            fit_sums.add(tf[i, :, s], xf[i, :, s])

    def nbytes(self) -> int:
        return (
            self.pairs.nbytes()
            + self.block_pairs.nbytes()
            + self.fit.nbytes()
            + self.block_fit.nbytes()
        )


class _Stop(Exception):
    """Raised after the last block's output, to skip the rest of the network."""


class LedgerCollector:
    """Scoped hooks that sample ``(x, y)`` pairs and fit the decoders of every block.

    Use it as a context manager around forward passes of ``model`` (alone, or nested with an
    :class:`~manifold_lab.probing.ActivationProbe` to share the forward passes: enter the
    collector first, ``with collector, probe: probe.run(x)``, so that its hooks run before a
    probe that stops early ends the pass), then call :meth:`result`. Every handle is removed
    and each module's ``training`` flag restored on the way out.

    Parameters
    ----------
    model : nn.Module
        A MobileNetV2 (ours, torchvision's, or imported from TF-slim).
    blocks : None, str, sequence of str or callable, default=None
        Blocks to measure (see :func:`~manifold_lab.probing.find_blocks`); blocks without an
        expansion are left out.
    pixels_per_block : int, default=4096
        Sampled pixels per block (at least 16), as in :func:`ledger`.
    fit_pixels_per_image : int, default=64
        Per fitting image and block, about this many pixels enter the decoders' sums.
    test_fraction : float, default=0.5
        Share of images held out from fitting, strictly between 0 and 1.
    seed : int, default=0
        Seeds the pixel samples, the image split and the fitting pixels (and, in
        :meth:`result`, the bootstrap and TwoNN).
    stop_early : bool, default=False
        Abort each forward pass made through :meth:`run` after the last block.
    cpu_threads : int or None, default=1
        Intra-op threads for the collector's own work on CPU tensors, as the probe's (the
        network keeps torch's count); None uses torch's setting.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        blocks: Any = None,
        pixels_per_block: int = 4096,
        fit_pixels_per_image: int = 64,
        test_fraction: float = 0.5,
        seed: int = 0,
        stop_early: bool = False,
        cpu_threads: int | None = 1,
    ) -> None:
        self.model = model
        self.cpu_threads: int | None = check_scalar(
            cpu_threads, "cpu_threads", kind=int, minimum=1, allow_none=True
        )
        self.infos = [b for b in find_blocks(model, blocks) if b.has_expansion]
        if not self.infos:
            raise ValueError("none of the chosen blocks has an expansion layer to invert")
        self.pixels_per_block: int = check_scalar(
            pixels_per_block, "pixels_per_block", kind=int, minimum=16
        )
        self.fit_pixels_per_image: int = check_scalar(
            fit_pixels_per_image, "fit_pixels_per_image", kind=int, minimum=1
        )
        self.test_fraction = check_scalar(
            test_fraction,
            "test_fraction",
            minimum=0,
            maximum=1,
            include_min=False,
            include_max=False,
        )
        self.seed: int = check_scalar(seed, "seed", kind=int, minimum=0)
        self.stop_early = bool(stop_early)
        self._handles: list[Any] = []
        self._training: dict[nn.Module, bool] = {}
        self._in_run = False
        self.states = {
            info.name: _BlockState(
                info,
                pixels=self.pixels_per_block,
                fit_pixels_per_image=self.fit_pixels_per_image,
                test_fraction=self.test_fraction,
                seed=self.seed,
            )
            for info in self.infos
        }

    def __enter__(self) -> LedgerCollector:
        if self._handles:
            raise RuntimeError("this LedgerCollector is already active; leave it first")
        self._training = {m: m.training for m in self.model.modules()}
        try:
            self.model.eval()
            threads = self.cpu_threads
            for info in self.infos:
                state = self.states[info.name]
                assert info.expansion is not None
                branch_out = _branch_output(info)
                self._handles += [
                    info.expansion.register_forward_pre_hook(_pre_hook(state.on_input)),
                    info.expansion.register_forward_hook(_hook(state.on_expansion, threads)),
                    branch_out.register_forward_hook(_hook(state.on_output, threads)),
                ]
            if self.stop_early:
                last = _branch_output(self.infos[-1])
                self._handles.append(last.register_forward_hook(self._stop))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for state in self.states.values():
            state.x = None
        for module, flag in self._training.items():
            module.training = flag
        self._training = {}

    def _stop(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._in_run:
            raise _Stop

    def run(self, x: Tensor, *, offset: int | None = None) -> Any:
        """Forward ``x`` through the model, collecting every block's samples and sums.

        Parameters
        ----------
        x : Tensor of shape (batch, 3, height, width)
            Preprocessed images.
        offset : int or None, default=None
            The global number of the batch's first image, for runs sharded over processes
            (see :mod:`manifold_lab.probing.distributed`); None numbers the images in the
            order they are seen.

        Returns
        -------
        Tensor or None
            The model's output; None when stopped after the last block.

        Raises
        ------
        RuntimeError
            Outside ``with collector:`` (the hooks are not installed).
        """
        if not self._handles:
            raise RuntimeError("run() needs the collector's hooks: use it inside `with ...:`")
        self._in_run = True
        for state in self.states.values():
            state.batch_offset = offset
        try:
            return self.model(x)
        except _Stop:
            return None
        finally:
            self._in_run = False
            for state in self.states.values():
                state.batch_offset = None

    def state_nbytes(self) -> int:
        """Memory held by the collector's state.

        Returns
        -------
        int
            Bytes held by every block's pixel reservoirs and decoder sums.
        """
        return sum(s.nbytes() for s in self.states.values())

    def result(
        self,
        *,
        exact_rtol: float | None = None,
        rank_rtol: float = 1e-5,
        ridge: float = 1e-3,
        n_boot: int = 1000,
        n_neighbors: int = 10,
        max_neighbor_points: int = 1000,
        collapse_tol: float = 0.1,
        device: Any = None,
        progress: bool = False,
        callback: Callable[[int, int], None] | None = None,
        **metadata: Any,
    ) -> LedgerResult:
        """Invert, decode and measure every block from what was collected (see :func:`ledger`).

        Parameters
        ----------
        exact_rtol : float or None, default=None
            A pixel is recovered exactly when ``||x_hat - x|| <= exact_rtol ||x||``; None:
            1e-3 for float32 activations, 1e-9 for float64.
        rank_rtol : float, default=1e-5
            Lemma 2's rank test, as the probe's ``rank_rtol``.
        ridge : float, default=1e-3
            The decoders' ridge, relative to the mean variance of their features.
        n_boot : int, default=1000
            Bootstrap replicates of the 95% intervals over images (0: no intervals).
        n_neighbors : int, default=10
            Neighbours for ``knn_recall``.
        max_neighbor_points : int, default=1000
            The neighbour metrics use at most this many evenly spaced sampled pixels.
        collapse_tol : float, default=0.1
            Relative radius within which a reconstructed pixel counts as collapsed.
        device : str, torch.device or None, default=None
            Where to compute; None: CUDA when available, else the CPU.
        progress : bool, default=False
            Show a progress bar over the blocks.
        callback : callable or None, default=None
            Called as ``callback(blocks_done, blocks_total)`` after every block.
        **metadata : dict
            Further entries of the result's metadata (model, images, ...).

        Returns
        -------
        LedgerResult
            One :class:`~manifold_lab.probing.ledger_result.BlockLedger` per block, and the
            collector's settings with ``metadata`` as metadata.

        Raises
        ------
        ValueError
            When no image has been run through the collector, or for bad parameters.
        """
        from .._progress import progress_bar

        if all(s.images == 0 for s in self.states.values()):
            raise ValueError("no images have been seen yet: run the model inside the collector")
        exact_rtol = check_scalar(
            exact_rtol, "exact_rtol", minimum=0, maximum=1, include_min=False, allow_none=True
        )
        rank_rtol = check_scalar(rank_rtol, "rank_rtol", minimum=1e-7, maximum=1, include_max=False)
        ridge = check_scalar(ridge, "ridge", minimum=0)
        n_boot = check_scalar(n_boot, "n_boot", kind=int, minimum=0)
        n_neighbors = check_scalar(n_neighbors, "n_neighbors", kind=int, minimum=1)
        max_neighbor_points = check_scalar(
            max_neighbor_points, "max_neighbor_points", kind=int, minimum=3
        )
        blocks: list[BlockLedger] = []
        states = list(self.states.values())
        bar = progress_bar(states, desc="ledger", unit="block", disable=not progress)
        for done, state in enumerate(bar, 1):
            blocks.append(
                _finish(
                    state,
                    exact_rtol=exact_rtol,
                    rank_rtol=rank_rtol,
                    ridge=ridge,
                    n_boot=n_boot,
                    n_neighbors=n_neighbors,
                    max_neighbor_points=max_neighbor_points,
                    collapse_tol=collapse_tol,
                    device=device,
                    seed=self.seed,
                )
            )
            if callback is not None:
                callback(done, len(states))
        meta: dict[str, Any] = {
            "n_images": max(s.images for s in states),
            "seed": self.seed,
            "blocks": [info.name for info in self.infos],
            "pixels_per_block": self.pixels_per_block,
            "fit_pixels_per_image": self.fit_pixels_per_image,
            "test_fraction": self.test_fraction,
            "rank_rtol": rank_rtol,
            "ridge": ridge,
            "n_boot": n_boot,
            "n_neighbors": n_neighbors,
            "max_neighbor_points": max_neighbor_points,
            "collapse_tol": collapse_tol,
        }
        meta.update(metadata)
        return LedgerResult(blocks=tuple(blocks), metadata=meta)


def _branch_output(info: BlockInfo) -> nn.Module:
    """The last module of the block's residual branch (its output is the branch's)."""
    conv = info.module.conv
    assert isinstance(conv, nn.Module)
    return list(conv.children())[-1]


def _hook(update: Callable[[Tensor], None], threads: int | None) -> Callable[..., None]:
    from .hooks import _cpu_threads

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        if not isinstance(output, Tensor):
            raise ValueError(
                f"{type(module).__name__} returned {type(output).__name__}, not a tensor"
            )
        with torch.no_grad(), _cpu_threads(output.device, threads):
            update(output)

    return hook


def _pre_hook(update: Callable[[Tensor], None]) -> Callable[..., None]:
    def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
        if not args or not isinstance(args[0], Tensor):
            raise ValueError(f"{type(module).__name__} was called without a tensor input")
        update(args[0])

    return hook


# -- measuring -----------------------------------------------------------------------------


def _nmse_columns(err: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-pixel columns whose sums give the nmse: 1, error, ||x||^2, x."""
    return np.c_[np.ones(len(err)), err, (x**2).sum(1), x]


def _nmse_of_sums(s: np.ndarray) -> np.ndarray:
    n = s[:, 0]
    mean = s[:, 3:] / n[:, None]
    tv = s[:, 2] / n - (mean**2).sum(1)
    return (s[:, 1] / n) / tv


def _fraction_of_sums(s: np.ndarray) -> np.ndarray:
    return s[:, 1] / s[:, 0]


def _neighbour_subsample(p: int, max_points: int) -> np.ndarray:
    """Evenly spaced positions, as the toy's neighbour metrics take them."""
    from ..core import neighbor_points

    return np.unique(np.linspace(0, p - 1, neighbor_points(p, max_points)).round().astype(np.int64))


def _measure(
    x: Tensor,
    x_hat: Tensor,
    images: np.ndarray,
    *,
    n_boot: int,
    seed: list[int],
    n_neighbors: int,
    max_neighbor_points: int,
    collapse_tol: float,
) -> tuple[Estimate, Estimate, Estimate]:
    """nmse, collapsed fraction and kNN recall of reconstructions, with their intervals."""
    from ..core import neighbor_metrics, neighbor_structure, nmse

    nan = Estimate()
    if x.shape[0] < 3:
        return nan, nan, nan
    value = float(nmse(x_hat, x))
    err = ((x_hat - x) ** 2).sum(1).cpu().numpy()
    x_np = x.cpu().numpy()
    low, high = bootstrap_ratio(
        images, _nmse_columns(err, x_np), _nmse_of_sums, n_boot=n_boot, seed=seed
    )
    nmse_est = Estimate(value, low, high)
    sub = _neighbour_subsample(x.shape[0], max_neighbor_points)
    xs = x[sub]
    DX, delta, knn_X = neighbor_structure(xs, n_neighbors)
    collapsed, recall = neighbor_metrics(
        DX.to(xs.dtype), delta, knn_X, xs, x_hat[sub][None].to(xs.dtype), collapse_tol=collapse_tol
    )
    out = []
    for per_point in (collapsed[0].to(torch.float64), recall[0].to(torch.float64)):
        v = per_point.cpu().numpy()
        cols = np.c_[np.ones(len(v)), v]
        lo, hi = bootstrap_ratio(images[sub], cols, _fraction_of_sums, n_boot=n_boot, seed=seed)
        out.append(Estimate(float(v.mean()), lo, hi))
    return nmse_est, out[0], out[1]


def _finish(
    state: _BlockState,
    *,
    exact_rtol: float | None,
    rank_rtol: float,
    ridge: float,
    n_boot: int,
    n_neighbors: int,
    max_neighbor_points: int,
    collapse_tol: float,
    device: Any,
    seed: int,
) -> BlockLedger:
    from .._validation import resolve_device
    from ..intrinsic_dimension import TwoNN

    info = state.info
    dev = resolve_device(device)
    cols = state.pairs.arrays()
    _, X_np, Y_np, img = cols
    work_dtype = torch.float64
    if exact_rtol is None:
        exact_rtol = 1e-9 if X_np.dtype == np.float64 else 1e-3
    X = torch.as_tensor(X_np, device=dev).to(work_dtype)
    Y = torch.as_tensor(Y_np, device=dev)
    B, b = expansion_affine(info)
    x_hat, enough, full = lemma2_inverse(Y, B, b, info.clip, rank_rtol=rank_rtol)
    norm = X.norm(dim=1).clamp_min(torch.finfo(work_dtype).tiny)
    exact = ((x_hat - X).norm(dim=1) / norm <= exact_rtol).to(torch.float64).cpu().numpy()
    boot_seed = [seed, info.index]
    lo, hi = bootstrap_ratio(
        img, np.c_[np.ones(len(exact)), exact], _fraction_of_sums, n_boot=n_boot, seed=boot_seed
    )
    exact_est = Estimate(float(exact.mean()), lo, hi)
    options: dict[str, Any] = {
        "n_boot": n_boot,
        "seed": boot_seed,
        "n_neighbors": n_neighbors,
        "max_neighbor_points": max_neighbor_points,
        "collapse_tol": collapse_tol,
    }
    nmse_l, coll_l, knn_l = _measure(X, x_hat, img, **options)
    test = state.is_test(torch.as_tensor(img)).numpy()
    nan = Estimate()
    nmse_a = coll_a = knn_a = nan
    if test.any() and state.fit.n >= 2:
        decode = state.fit.decoder(ridge)
        t = torch.as_tensor(test, device=dev)
        nmse_a, coll_a, knn_a = _measure(X[t], decode(Y[t].to(work_dtype)), img[test], **options)
    _, X2_np, O_np, img2 = state.block_pairs.arrays()
    test2 = state.is_test(torch.as_tensor(img2)).numpy()
    nmse_b = nan
    if test2.any() and state.block_fit.n >= 2:
        decode = state.block_fit.decoder(ridge)
        t2 = torch.as_tensor(test2, device=dev)
        X2 = torch.as_tensor(X2_np, device=dev)[t2].to(work_dtype)
        O2 = torch.as_tensor(O_np, device=dev)[t2].to(work_dtype)
        nmse_b = _measure(X2, decode(O2), img2[test2], **options)[0]
    try:
        input_id = float(TwoNN(seed=seed, device=dev).fit(X).dimension_)
    except ValueError:
        input_id = math.nan
    return BlockLedger(
        name=info.name,
        index=info.index,
        in_channels=info.in_channels,
        hidden_channels=info.hidden_channels,
        stride=info.stride,
        clip=info.clip,
        n_images=state.images,
        n_pixels=int(X.shape[0]),
        n_test_pixels=int(test.sum()),
        n_fit_pixels=state.fit.n,
        input_id=input_id,
        enough_fraction=float(enough.to(torch.float64).mean()),
        lemma2_fraction=float(full.to(torch.float64).mean()),
        exact_fraction=exact_est,
        nmse_lemma2=nmse_l,
        collapsed_lemma2=coll_l,
        knn_recall_lemma2=knn_l,
        nmse_affine=nmse_a,
        collapsed_affine=coll_a,
        knn_recall_affine=knn_a,
        nmse_block=nmse_b,
        exact_rtol=float(exact_rtol),
    )


# -- one call ------------------------------------------------------------------------------


def _iterate(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int,
    limit: int | None,
    device: torch.device,
    preprocess: Any,
    num_workers: int,
    progress: bool,
    callback: Callable[[int, int | None], None] | None,
    rank: int = 0,
    world: int = 1,
) -> Iterator[tuple[int, Tensor]]:
    """This process's preprocessed image batches of ``data`` on ``device``, with the global
    number of each batch's first image (as :func:`probe` reads them)."""
    from .._progress import progress_bar
    from ..evaluation import SkipLog
    from .run import _global_batches, images_to_read, resolve_preprocess

    skips = SkipLog("skip")
    batches, total = _global_batches(
        data,
        batch_size=batch_size,
        limit=limit,
        preprocess=resolve_preprocess(model, preprocess),
        num_workers=num_workers,
        device=device,
        rank=rank,
        world=world,
    )
    images_total = images_to_read(data, limit)
    seen = 0
    bar = progress_bar(batches, total=total, desc="ledger", unit="batch", disable=not progress)
    for offset, x, _, skipped in bar:
        skips.add(skipped)
        if x is None:
            continue
        if not torch.is_floating_point(x):
            raise ValueError(
                f"the images reach the model as {x.dtype} tensors: preprocess them (pass "
                "preprocess=..., or a model from manifold_lab.load_model)"
            )
        yield offset, x.to(device, non_blocking=True)
        seen += x.shape[0]
        if callback is not None:
            callback(seen, images_total)
    if hasattr(bar, "close"):
        bar.close()
    skips.warn(seen)


def ledger(
    model: nn.Module,
    data: Any,
    *,
    pixels_per_block: int = 4096,
    fit_pixels_per_image: int = 64,
    test_fraction: float = 0.5,
    exact_rtol: float | None = None,
    rank_rtol: float = 1e-5,
    ridge: float = 1e-3,
    n_boot: int = 1000,
    n_neighbors: int = 10,
    max_neighbor_points: int = 1000,
    collapse_tol: float = 0.1,
    blocks: Any = None,
    seed: int = 0,
    batch_size: int = 64,
    limit: int | None = None,
    device: Any = None,
    preprocess: Any = "auto",
    num_workers: int = 0,
    progress: bool = True,
    callback: Callable[[int, int | None], None] | None = None,
    images: str | None = None,
) -> LedgerResult:
    """Measure how much of every block's input survives its expansion, and the whole block.

    Parameters
    ----------
    model : nn.Module
        A MobileNetV2 (ours, torchvision's, or from :func:`manifold_lab.load_model`).
    data : Dataset, DataLoader, iterable of batches or Tensor
        As for :func:`~manifold_lab.probing.probe`; at least 2 images.
    pixels_per_block : int, default=4096
        Sampled pixels per block (seeded, the probe's expansion-sample hashing): all methods
        are measured on them (decoders on those of held-out images).
    fit_pixels_per_image : int, default=64
        Per fitting image and block, about this many pixels (hashed) enter the decoders'
        sums.
    test_fraction : float, default=0.5
        Share of images held out from fitting (chosen by a seeded hash of the image number).
    exact_rtol : float or None, default=None
        A pixel is recovered exactly when ``||x_hat - x|| <= exact_rtol ||x||``; None: 1e-3
        for float32 activations (the rank test admits condition numbers up to
        ``1 / rank_rtol``, and the inputs carry float32 rounding), 1e-9 for float64.
    rank_rtol : float, default=1e-5
        Lemma 2's rank test, as the probe's ``rank_rtol``.
    ridge : float, default=1e-3
        The decoders' ridge, relative to the mean variance of their features.
    n_boot : int, default=1000
        Bootstrap replicates of the 95% intervals (0: no intervals).
    n_neighbors : int, default=10
        Neighbours for ``knn_recall``, the toy's neighbour metric
        (:func:`manifold_lab.core.neighbor_metrics`).
    max_neighbor_points : int, default=1000
        The neighbour metrics use at most this many evenly spaced sampled pixels (at least 3).
    collapse_tol : float, default=0.1
        Relative radius within which a reconstructed pixel counts as collapsed onto another's
        (as the toy's ``collapsed_fraction``).
    blocks : None, str, sequence of str or callable, default=None
        Blocks to measure (those with an expansion).
    seed : int, default=0
        Seeds the pixel samples, the image split, the fitting pixels, the bootstrap and TwoNN.
    batch_size : int, default=64
        Images per forward pass (datasets and tensors; a DataLoader keeps its own), as for
        :func:`~manifold_lab.probing.probe`.
    limit : int or None, default=None
        Only the first ``limit`` images.
    device : str, torch.device or None, default=None
        Where to run the network and the measurements; None: CUDA when available, else the
        CPU.
    preprocess : "auto", callable or None, default="auto"
        For datasets: ``"auto"`` applies ``model.weights_info.preprocessing`` when the model
        has one (models from :func:`~manifold_lab.load_model`), else nothing; a callable is
        applied to every image; None applies nothing.
    num_workers : int, default=0
        Data-loader worker processes (datasets only).
    progress : bool, default=True
        Show progress bars (over batches, then over blocks).
    callback : callable or None, default=None
        Called after every batch as ``callback(images_done, images_total)`` (None when
        unknown), for progress bars in user interfaces.
    images : str or None, default=None
        How to name the images in the metadata (default: the dataset's ``source``).

    Returns
    -------
    LedgerResult
        One :class:`~manifold_lab.probing.ledger_result.BlockLedger` per measured block, and
        metadata (model, images, seed, the settings above and the device used).

    Raises
    ------
    ValueError
        For a model without blocks with an expansion, fewer than 2 images or bad parameters.

    Notes
    -----
    Under ``torchrun`` the batches are shared out as by :func:`~manifold_lab.probing.probe`
    and every process returns the result one process would: the same sampled pixels,
    held-out images and bootstrap draws (all seeded by global image numbers), image and pixel
    counts exactly, the decoders' float64 sums to rounding (see
    :mod:`manifold_lab.probing.distributed`).

    Examples
    --------
    >>> from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
    >>> model = MobileNetV2(MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25))
    >>> res = ledger(model, torch.rand(8, 3, 32, 32), pixels_per_block=256, n_boot=50,
    ...              blocks=["features.2", "features.3"], progress=False, device="cpu")
    >>> frame = res.to_frame()
    >>> list(frame["name"]), bool((frame["exact_fraction"] == frame["lemma2_fraction"]).all())
    (['features.2', 'features.3'], True)
    """
    from .distributed import local_device, process_group, reduce_ledger

    batch_size = check_scalar(batch_size, "batch_size", kind=int, minimum=1)
    limit = check_scalar(limit, "limit", kind=int, minimum=1, allow_none=True)
    num_workers = check_scalar(num_workers, "num_workers", kind=int, minimum=0)
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {callback!r}")
    rank, world = process_group()
    dev = local_device(device, world)
    collector = LedgerCollector(
        model,
        blocks=blocks,
        pixels_per_block=pixels_per_block,
        fit_pixels_per_image=fit_pixels_per_image,
        test_fraction=test_fraction,
        seed=seed,
        stop_early=True,
    )
    if images is None:
        images = getattr(data, "source", None) or type(data).__name__
    model.to(dev)
    if world > 1:
        from .distributed import broadcast_model

        broadcast_model(model)
    with collector, torch.no_grad():
        for offset, x in _iterate(
            model,
            data,
            batch_size=batch_size,
            limit=limit,
            device=dev,
            preprocess=preprocess,
            num_workers=num_workers,
            progress=progress,
            callback=callback,
            rank=rank,
            world=world,
        ):
            collector.run(x, offset=offset)
    if world > 1:
        reduce_ledger(collector, dev)
    n_images = max(s.images for s in collector.states.values())
    if n_images < 2:
        raise ValueError(
            f"the ledger needs at least 2 images (its decoders are fitted on some images and "
            f"tested on others), got {n_images}"
        )
    return collector.result(
        exact_rtol=exact_rtol,
        rank_rtol=rank_rtol,
        ridge=ridge,
        n_boot=n_boot,
        n_neighbors=n_neighbors,
        max_neighbor_points=max_neighbor_points,
        collapse_tol=collapse_tol,
        device=dev,
        progress=progress,
        model=_model_name(model),
        images=str(images),
        device_used=str(dev),
        batch_size=batch_size,
    )


def _model_name(model: nn.Module) -> str:
    info = getattr(model, "weights_info", None)
    if info is not None and getattr(info, "source", None):
        return f"{info.source}:{info.name}"
    return type(model).__name__
