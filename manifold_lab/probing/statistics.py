"""Running statistics of one inverted residual block: counts and reservoirs, never activations.

:class:`BlockState` turns each batch's expansion output into per-pixel histograms of positive,
informative and clipped channels, per-channel firing counts and Lemma 2's rank check, and
each batch's bottleneck into the count of negative coordinates; seeded reservoirs keep
samples of both, and of the expansion before its activation (the same pixels as after it).
Memory does not depend on the number of images.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from .blocks import BlockInfo
from .reservoir import Reservoir, hash_keys, stream_base
from .result import BlockStats

__all__ = [
    "CHUNK_ELEMENTS",
    "GPU_CHUNK_ELEMENTS",
    "RANK_CHUNK_ELEMENTS",
    "BlockState",
    "RankRows",
    "Scratch",
    "lemma2_full_rank",
]

# Elements per chunk of an activation that the statistics pass at once. On the CPU a float32
# scratch buffer of this size (1 MiB) is reused, small enough to stay in cache between the
# comparison that writes it and the reductions that read it; on a GPU chunks are large (few
# kernel launches) and only bound the scratch memory (64 MiB).
CHUNK_ELEMENTS = 1 << 18
GPU_CHUNK_ELEMENTS = 1 << 24
# Elements of the float64 (pixels, hidden, in) tensor formed at once by the rank check.
RANK_CHUNK_ELEMENTS = 1 << 22
_IMAGE_STREAM = 0x5EED_1A6E


class Scratch:
    """Scratch tensors that the block states of one probe share.

    Named temporaries reused across batches, each grown to the largest size asked for
    (:meth:`tensor`; :meth:`buffer` is the float32 chunk buffer), and rows of ones (the
    channel-summing matrix) per width and device.
    """

    def __init__(self) -> None:
        self._tensors: dict[tuple[str, torch.dtype, torch.device], Tensor] = {}
        self._ones: dict[tuple[int, torch.device], Tensor] = {}

    def buffer(self, numel: int, device: torch.device) -> Tensor:
        """A float32 buffer of ``numel`` elements on ``device`` (contents undefined)."""
        return self.tensor("chunk", (numel,), torch.float32, device)

    def tensor(
        self, key: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
    ) -> Tensor:
        """A tensor of ``shape`` for the scratch use ``key``, reused across calls (contents
        undefined): large temporaries are not allocated, and their pages faulted in, at every
        batch."""
        numel = math.prod(shape)
        full = (key, dtype, device)
        buf = self._tensors.get(full)
        if buf is None or buf.numel() < numel:
            buf = torch.empty(numel, dtype=dtype, device=device)
            self._tensors[full] = buf
        return buf[:numel].view(shape)

    def ones(self, c: int, device: torch.device) -> Tensor:
        """A float32 ``(1, c)`` tensor of ones on ``device``."""
        key = (c, device)
        ones = self._ones.get(key)
        if ones is None:
            ones = torch.ones(1, c, dtype=torch.float32, device=device)
            self._ones[key] = ones
        return ones

    def release(self) -> None:
        """Free the buffers (the probe calls it when its hooks are removed)."""
        self._tensors = {}


def _full_rank(gram: Tensor, tol: float) -> Tensor:
    """Which Gram matrices ``A^T A`` (batch, d, d) satisfy ``lambda_min > tol * lambda_max``.

    A Cholesky factorisation of ``G - 2 tol trace(G) I`` certifies it cheaply (it succeeds
    only if ``lambda_min > 2 tol trace(G) >= 2 tol lambda_max``, with a factor of 2 to spare
    for rounding); the eigenvalues decide for the matrices it does not certify. ``gram`` is
    left unchanged.
    """
    trace = gram.diagonal(dim1=-2, dim2=-1).sum(-1)
    shifted = gram.clone()
    shifted.diagonal(dim1=-2, dim2=-1).sub_((2 * tol * trace)[:, None])
    ok = (torch.linalg.cholesky_ex(shifted).info == 0) & (trace > 0)
    unsure = torch.nonzero(~ok).squeeze(1)
    if unsure.numel():
        ev = torch.linalg.eigvalsh(gram[unsure])  # ascending
        ok[unsure] = (ev[:, -1] > 0) & (ev[:, 0] > tol * ev[:, -1])
    return ok


_U32 = 2.0**-24  # unit roundoff of float32
_ETA32 = 2.0**-149  # smallest positive (subnormal) float32


def _gamma(n: int) -> float:
    """Higham's ``gamma_n = n u / (1 - n u)`` for float32 (the bound of an n-term sum)."""
    return n * _U32 / (1 - n * _U32)


def _float32_products_are_ieee(device: torch.device) -> bool:
    """Whether float32 matrix products on ``device`` are IEEE float32 (not TF32 or bfloat16,
    which ``torch.set_float32_matmul_precision`` or the backends' ``fp32_precision`` can
    select), on the CPU or a CUDA device."""
    if device.type not in ("cpu", "cuda"):
        return False
    try:
        if torch.get_float32_matmul_precision() != "highest":
            return False
    except RuntimeError:  # torch refuses when the legacy and new precision APIs were mixed
        return False
    backend = torch.backends.mkldnn if device.type == "cpu" else torch.backends.cuda
    if getattr(backend.matmul, "fp32_precision", "none") not in ("none", "ieee"):
        return False
    return not (device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32)


def _magnitudes_fit_float32(rows: Tensor) -> bool:
    """Whether products of ``rows`` in float32 can neither overflow nor underflow: every
    nonzero ``|row entry|`` within ``[2**-40, 2**40]``."""
    a = rows.abs()
    lo = torch.where(a > 0, a, torch.ones_like(a)).amin()
    return bool((a.amax() <= 2.0**40) & (lo >= 2.0**-40))


class RankRows:
    """A linear map's rows, prepared once for many calls of :func:`lemma2_full_rank`.

    Parameters
    ----------
    rows : Tensor of shape (c, d)
        The rows (any float dtype; kept in float64).
    device : torch.device or None, default=None
        Where to keep them (None: where ``rows`` are).

    Attributes
    ----------
    rows : Tensor, float64 (c, d)
    squared_norms : Tensor, float64 (c,)
        Each row's squared norm (the Gram matrix's trace is their sum over active rows).
    padded32 : Tensor, float32 (c + 1, d)
        The rows in float32 and a zero row (index ``c``), for the float32 certificate.
    fits_float32 : bool
        Whether the rows' magnitudes allow the float32 certificate's error bounds.
    """

    def __init__(self, rows: Tensor, device: torch.device | None = None) -> None:
        rows = rows.to(device=device or rows.device, dtype=torch.float64)
        self.rows = rows
        self.squared_norms = (rows * rows).sum(1)
        zero = rows.new_zeros(1, rows.shape[1], dtype=torch.float32)
        self.padded32 = torch.cat([rows.to(torch.float32), zero])
        self.fits_float32 = _magnitudes_fit_float32(rows)


def _first_active(m: Tensor, s: int) -> Tensor:
    """Indices (pixels, s) of each pixel's first ``s`` active channels, in increasing order;
    ``c`` (a zero row appended to the rows) where a pixel has fewer."""
    p, c = m.shape
    rank = m.cumsum(1, dtype=torch.int32)  # at an active channel: 1 + how many precede it
    dest = torch.where(m & (rank <= s), rank - 1, s).to(torch.int64)  # column s: discarded
    out = torch.full((p, s + 1), c, dtype=torch.int64, device=m.device)
    channels = torch.arange(c, device=m.device).expand(p, c)
    out.scatter_(1, dest, channels)
    return out[:, :s]


def _scratch_tensor(
    workspace: Scratch | None,
    key: str,
    shape: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    if workspace is None:
        return torch.empty(shape, dtype=dtype, device=device)
    return workspace.tensor(key, shape, dtype, device)


def _certify_float32(
    m: Tensor, rows: RankRows, traces: Tensor, tol: float, workspace: Scratch | None = None
) -> Tensor:
    """Pixels whose active rows provably satisfy ``lambda_min(G) > 2 tol trace(G)``, found
    in float32 (the float64 certificate's condition, proven with rounding bounds).

    For each pixel the float32 Gram ``G32`` of its first ``s = 1.5 d`` active rows ``A``
    (all of them if fewer) is factorised after subtracting ``sigma I``. If the float32
    Cholesky factorisation succeeds, ``lambda_min(fl(G32 - sigma I)) >= -gamma_{d+1}
    trace / (1 - gamma_{d+1})`` (Demmel's backward error bound for Cholesky), the diagonal
    subtraction rounds by at most ``u`` of each entry, the float32 product differs from
    ``A32^T A32`` by at most ``gamma_s trace(A32^T A32)`` in norm, and rounding the rows to
    float32 moves ``sigma_min(A)`` by at most ``u ||A||_F``. ``sigma`` is twice the sum of
    these bounds plus what the condition needs, so success proves ``lambda_min(A^T A) >
    2 tol trace(G)``, hence the same for ``G`` (more rows only add a positive semi-definite
    term). Pixels it does not certify are left to the float64 test.
    """
    c, d = rows.rows.shape
    s = min(c, -(-3 * d // 2))
    order = _first_active(m, s)
    p, dev = m.shape[0], m.device
    sub = _scratch_tensor(workspace, "rank.rows", (p * s, d), torch.float32, dev)
    torch.index_select(rows.padded32, 0, order.reshape(-1), out=sub)
    sub = sub.view(p, s, d)
    gram = _scratch_tensor(workspace, "rank.gram", (p, d, d), torch.float32, dev)
    torch.bmm(sub.transpose(1, 2), sub, out=gram)
    diag = gram.diagonal(dim1=-2, dim2=-1)
    tr32 = diag.sum(-1, dtype=torch.float64)  # trace(G32), float64
    k = _gamma(d + 1) / (1 - _gamma(d + 1)) + _U32 / (1 - _U32) + _gamma(s) / (1 - _gamma(s))
    need = k * tr32 + (torch.sqrt(2 * tol * traces) + _U32 * torch.sqrt(traces)) ** 2
    underflow = 8 * (d + 1) * (2 * (d + 1) + tr32) * _ETA32
    sigma = (2 * need + underflow) * (1 + 2.0**-20)  # float32 rounding cannot go below
    diag.sub_(sigma.to(torch.float32)[:, None])
    info = _scratch_tensor(workspace, "rank.info", (p,), torch.int32, dev)
    torch.linalg.cholesky_ex(gram, out=(gram, info))  # in place: only success matters
    return (info == 0) & (traces > 0)


def lemma2_full_rank(
    mask: Tensor, rows: Tensor | RankRows, rtol: float, *, workspace: Scratch | None = None
) -> Tensor:
    """Lemma 2's rank test: which pixels' active rows of ``rows`` have full column rank.

    A pixel passes when the Gram matrix ``G`` of its active rows (``mask``) satisfies
    ``lambda_min(G) > rtol**2 * lambda_max(G)``, i.e. the active rows' smallest singular value
    exceeds ``rtol`` times their largest.

    The test is exact but cheap for the common case. Since adding rows only adds a positive
    semi-definite term, ``lambda_min(G) >= lambda_min(G_J)`` for the Gram matrix ``G_J`` of
    any subset ``J`` of the active rows, and ``lambda_max(G) <= trace(G)``, the sum of the
    active rows' squared norms (one matrix-vector product); so a Cholesky factorisation of
    ``G_J - 2 rtol**2 trace(G) I`` certifies the pixel (with a factor of 2 to spare for
    rounding). Three stages, each on the pixels the previous one did not certify:

    1. in float32, ``J`` the first ``1.5 d`` active rows, with the shift enlarged by a
       proven bound on the float32 rounding errors (so it certifies only pixels that
       satisfy the float64 condition; skipped where the bound does not apply, e.g. under
       TF32 matrix products);
    2. in float64, ``J`` the first ``d + max(4, d // 16)`` active rows;
    3. in float64, all active rows, and the eigenvalues decide the pixels left.

    The decision is the one the full eigenvalue test makes, at about ``d / c`` of its cost
    (and half of that in float32) on the pixels certified by a subset.

    Parameters
    ----------
    mask : Tensor of bool, shape (pixels, c)
        Which rows are active at each pixel.
    rows : Tensor of shape (c, d), or RankRows
        The linear map's rows (float64 recommended); :class:`RankRows` prepares them once
        for many calls.
    rtol : float
        Relative singular-value tolerance.
    workspace : Scratch or None, default=None
        Where to keep the float32 stage's temporaries between calls (None: allocate them).

    Returns
    -------
    full : Tensor of bool, shape (pixels,)

    Examples
    --------
    >>> import torch
    >>> rows = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    >>> mask = torch.tensor([[True, True, False], [True, False, False], [False, True, True]])
    >>> lemma2_full_rank(mask, rows, 1e-5).tolist()
    [True, False, True]
    """
    r, c = mask.shape
    out = torch.zeros(r, dtype=torch.bool, device=mask.device)
    if r == 0:
        return out
    prepared = rows if isinstance(rows, RankRows) else RankRows(rows, mask.device)
    if prepared.rows.device != mask.device:
        prepared = RankRows(prepared.rows, mask.device)
    rows = prepared.rows
    d = rows.shape[1]
    tol = rtol**2
    counts = mask.sum(1)
    candidates = torch.nonzero(counts >= d).squeeze(1)  # fewer than d active rows: rank < d
    if candidates.numel() == 0:
        return out
    m = mask[candidates]
    traces = m.to(torch.float64) @ prepared.squared_norms  # trace(G) of every pixel
    unsure, counts = candidates, counts[candidates]

    def keep(ok: Tensor) -> None:
        nonlocal unsure, counts, traces, m
        out[unsure[ok]] = True
        rest = ~ok
        unsure, counts, traces, m = unsure[rest], counts[rest], traces[rest], m[rest]

    if prepared.fits_float32 and _float32_products_are_ieee(mask.device):
        keep(_certify_float32(m, prepared, traces, tol, workspace))
    s = min(c, d + max(4, d // 16))
    enough = counts >= s
    if s < c and bool(enough.any()):
        # the first s active rows of each pixel that has that many (inactive ones sort last)
        first = torch.nonzero(enough).squeeze(1)
        order = _first_active(m[first], s)
        sub = rows.index_select(0, order.reshape(-1)).view(*order.shape, d)  # (p, s, d)
        gram = sub.transpose(1, 2) @ sub
        gram.diagonal(dim1=-2, dim2=-1).sub_((2 * tol * traces[first])[:, None])
        ok = torch.zeros(unsure.numel(), dtype=torch.bool, device=mask.device)
        ok[first] = (torch.linalg.cholesky_ex(gram).info == 0) & (traces[first] > 0)
        keep(ok)
    if unsure.numel() == 0:
        return out
    step = max(1, RANK_CHUNK_ELEMENTS // max(1, c * d))
    for start in range(0, unsure.numel(), step):
        mm = m[start : start + step].to(torch.float64)
        active = mm[:, :, None] * rows[None]  # (p, c, d): rows at inactive channels zeroed
        gram = active.transpose(1, 2) @ active
        out[unsure[start : start + step]] = _full_rank(gram, tol)
    return out


def _chunks(b: int, c: int, hw: int, device: torch.device) -> Iterator[tuple[int, int, int, int]]:
    """``(i0, i1, s0, s1)``: images ``i0:i1``, pixels ``s0:s1``, about one chunk each."""
    size = CHUNK_ELEMENTS if device.type == "cpu" else GPU_CHUNK_ELEMENTS
    if c * hw <= size:
        per = max(1, size // (c * hw))
        for i0 in range(0, b, per):
            yield i0, min(b, i0 + per), 0, hw
        return
    step = max(1, size // c)
    for i in range(b):
        for s0 in range(0, hw, step):
            yield i, i + 1, s0, min(hw, s0 + step)


class BlockState:
    """Running counts and reservoirs of one block (tensors live on the activations' device).

    :class:`~manifold_lab.probing.ActivationProbe` keeps one per probed block and feeds it
    the block's expansion and bottleneck outputs from its hooks; :meth:`stats` and
    :meth:`samples` turn what it counted into NumPy arrays.

    Parameters
    ----------
    info : BlockInfo
        The block.
    scratch : Scratch
        Scratch tensors shared with the other blocks of the probe.
    pixel_samples, image_samples : int
        Sizes of the per-pixel and per-image reservoirs (0 disables).
    sample_expansion : bool
        Also sample the expansion layer's vectors, per pixel before and after its activation
        (the same pixels) and per image after it.
    rank_pixels_per_batch : int or None
        Pixels rank-checked per batch (None: all); the check runs only while :attr:`rows`
        is set.
    rank_rtol : float
        Relative singular-value tolerance of the rank check.
    seed : int
        Seeds the reservoirs and the rank subsample.

    Attributes
    ----------
    rows : Tensor or None
        The expansion's rows with batch norm folded in (:meth:`BlockInfo.expansion_rows`),
        set by the probe while Lemma 2's rank check is enabled.
    """

    def __init__(
        self,
        info: BlockInfo,
        *,
        scratch: Scratch,
        pixel_samples: int,
        image_samples: int,
        sample_expansion: bool,
        rank_pixels_per_batch: int | None,
        rank_rtol: float,
        seed: int,
    ) -> None:
        self.info = info
        self.scratch = scratch
        self.rank_pixels_per_batch = rank_pixels_per_batch
        self.rank_rtol = rank_rtol
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
        self._rows: Tensor | None = None  # float64 (c, d), set by the probe when enabled
        self._rank_rows: RankRows | None = None  # the rows prepared for the rank check
        n = pixel_samples
        m = image_samples
        self.bn_pixels = Reservoir(n)
        self.bn_images_res = Reservoir(m)
        keep_exp = sample_expansion and info.has_expansion
        self.exp_pixels = Reservoir(n if keep_exp else 0)
        self.exp_images_res = Reservoir(m if keep_exp else 0)
        self.pre_pixels = Reservoir(n if keep_exp else 0)  # before the activation
        self._keys: tuple[int, int, int, Tensor] | None = None  # last (base, offset, n, keys)
        # global number of the current batch's first image (set by the probe for sharded
        # runs); None: the images counted so far
        self.batch_offset: int | None = None
        stream = 16 * info.index
        self.base_bn = stream_base(seed, stream + 1)
        self.base_exp = stream_base(seed, stream + 2)
        self.base_rank = stream_base(seed, stream + 3)
        self.base_images = stream_base(seed, _IMAGE_STREAM)
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
        for res in (
            self.bn_pixels,
            self.bn_images_res,
            self.exp_pixels,
            self.exp_images_res,
            self.pre_pixels,
        ):
            total += res.nbytes()
        return total

    @property
    def rows(self) -> Tensor | None:
        """The expansion's rows (see the class docstring)."""
        return self._rows

    @rows.setter
    def rows(self, rows: Tensor | None) -> None:
        self._rows, self._rank_rows = rows, None  # prepared again on first use

    # -- expansion ---------------------------------------------------------------------------

    def on_preactivation(self, y: Tensor, labels: Tensor | None = None) -> None:
        """Sample the expansion before its activation, ``y`` (batch, hidden, height, width).

        The pixels kept are those :meth:`on_expansion` keeps after the activation (the same
        seeded priorities), so the two samples are paired. ``labels`` is unused.
        """
        if y.dim() != 4:
            raise ValueError(f"block {self.info.name}: expected a 4-D expansion, got {y.shape}")
        if self.pre_pixels.size:
            offset = self.exp_images if self.batch_offset is None else self.batch_offset
            self._sample_pixels(self.pre_pixels, y, offset, self.base_exp)

    def on_expansion(self, y: Tensor, labels: Tensor | None = None) -> None:
        """Count the expansion output ``y`` (batch, hidden, height, width) of one batch.

        ``labels`` (batch,) go with the per-image samples (None: unlabelled).
        """
        scratch = self.scratch
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
        offset = self.exp_images if self.batch_offset is None else self.batch_offset
        clip = self.info.clip
        clipped = math.isfinite(clip)
        ones = scratch.ones(c, y.device)
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
            buf = scratch.buffer(yc.numel(), y.device)[: yc.numel()].view(yc.shape)
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
            self._sample_images(self.exp_images_res, pooled / hw, offset, labels)
        self.exp_images += b

    def _rank_check(self, y: Tensor, enough: Tensor, offset: int) -> None:
        assert self.rows is not None
        h, w = y.shape[2:]
        hw = h * w
        n_enough = int(enough.numel())
        if n_enough == 0:
            return
        limit = self.rank_pixels_per_batch
        sel = enough
        if limit is not None and n_enough > limit:
            keys = hash_keys(enough + offset * hw, self.base_rank)
            sel = enough[torch.topk(keys, limit, sorted=False).indices]
            self.rank_subsampled = True
        prepared = self._rank_rows
        if prepared is None or prepared.rows.device != y.device:
            prepared = RankRows(self.rows, y.device)  # once per probe, not per batch
            self._rank_rows = prepared
        vectors = y.flatten(2)[sel // hw, :, sel % hw]  # (r, c)
        clip = self.info.clip
        mask = (vectors > 0) & (vectors < clip) if math.isfinite(clip) else vectors > 0
        full = int(lemma2_full_rank(mask, prepared, self.rank_rtol, workspace=self.scratch).sum())
        r = int(sel.numel())
        self.rank_checked += r
        self.rank_full += full
        self.lemma2_pixels += n_enough * full / r

    # -- bottleneck --------------------------------------------------------------------------

    def on_bottleneck(self, z: Tensor, labels: Tensor | None = None) -> None:
        """Count the bottleneck ``z`` (batch, out, height, width) of one batch.

        ``labels`` (batch,) go with the per-image samples (None: unlabelled).
        """
        if z.dim() != 4:
            raise ValueError(f"block {self.info.name}: expected a 4-D bottleneck, got {z.shape}")
        z = z.contiguous()
        b, c, h, w = z.shape
        hw = h * w
        offset = self.bn_images if self.batch_offset is None else self.batch_offset
        if self.bn_negative is None:
            self.bn_negative = torch.zeros((), dtype=torch.float64, device=z.device)
        z3 = z.view(b, c, hw)
        negative = torch.zeros((), dtype=torch.float64, device=z.device)
        want_pool = self.bn_images_res.size > 0
        pooled = torch.zeros(b, c, dtype=torch.float32, device=z.device) if want_pool else None
        for i0, i1, s0, s1 in _chunks(b, c, hw, z.device):
            zc = z3[i0:i1, :, s0:s1]
            buf = self.scratch.buffer(zc.numel(), z.device)[: zc.numel()].view(zc.shape)
            torch.lt(zc, 0, out=buf)
            negative += buf.sum()
            if pooled is not None:
                pooled[i0:i1] += zc.sum(2)
        self.bn_negative += negative
        self.n_bn_pixels += b * hw
        if self.bn_pixels.size:
            self._sample_pixels(self.bn_pixels, z, offset, self.base_bn)
        if pooled is not None:
            self._sample_images(self.bn_images_res, pooled / hw, offset, labels)
        self.bn_images += b

    # -- reservoirs --------------------------------------------------------------------------

    def _sample_pixels(self, res: Reservoir, v: Tensor, offset: int, base: int) -> None:
        b, _, h, w = v.shape
        hw = h * w
        ids = torch.arange(b * hw, device=v.device, dtype=torch.int64) + offset * hw
        flat = v.flatten(2)
        cached = self._keys
        if cached is not None and cached[:3] == (base, offset, b * hw):
            keys = cached[3]  # the expansion before and after its activation share them
        else:
            keys = hash_keys(ids, base)
            self._keys = (base, offset, b * hw, keys)

        def gather(local: Tensor) -> list[Tensor]:
            return [
                ids[local],
                flat[local // hw, :, local % hw].to(torch.float32),
                local // hw + offset,
            ]

        res.offer(keys, gather)

    def _sample_images(
        self, res: Reservoir, pooled: Tensor, offset: int, labels: Tensor | None
    ) -> None:
        b = pooled.shape[0]
        ids = torch.arange(b, device=pooled.device, dtype=torch.int64) + offset
        batch_labels = _batch_labels(labels, b, pooled.device)

        def gather(local: Tensor) -> list[Tensor]:
            return [ids[local], pooled[local], batch_labels[local]]

        res.offer(hash_keys(ids, self.base_images), gather)

    # -- results -----------------------------------------------------------------------------

    def stats(self, expansion_layer: int | None) -> BlockStats:
        """What was counted so far, on the CPU.

        Parameters
        ----------
        expansion_layer : int or None
            The block's position among the probed expansion layers (from 1), None without one.
        """
        info = self.info

        def cpu(t: Tensor | None) -> np.ndarray | None:
            return None if t is None else t.detach().cpu().numpy()

        chan_pos = cpu(self.chan_pos)
        chan_clip = cpu(self.chan_clip)
        return BlockStats(
            name=info.name,
            index=info.index,
            expansion_layer=expansion_layer,
            in_channels=info.in_channels,
            hidden_channels=info.hidden_channels,
            out_channels=info.out_channels,
            stride=info.stride,
            has_expansion=info.has_expansion,
            use_res_connect=info.use_res_connect,
            expansion_skip=info.expansion_skip,
            bottleneck_activation=info.bottleneck_activation,
            clip=info.clip,
            n_images=self.bn_images,
            n_pixels=self.n_pixels,
            n_bottleneck_pixels=self.n_bn_pixels,
            hist_positive=cpu(self.hist_pos),
            hist_informative=cpu(self.hist_inf),
            hist_clipped=cpu(self.hist_clip),
            channel_positive=None if chan_pos is None else chan_pos.astype(np.int64),
            channel_clipped=None if chan_clip is None else chan_clip.astype(np.int64),
            rank_checked=self.rank_checked,
            rank_full=self.rank_full,
            lemma2_pixels=float(self.lemma2_pixels),
            rank_subsampled=self.rank_subsampled,
            bottleneck_negative=round(float(self.bn_negative))
            if self.bn_negative is not None
            else 0,
        )

    def samples(
        self,
    ) -> tuple[
        dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]
    ]:
        """The reservoirs on the CPU: bottleneck samples, their image index, expansion samples
        after and before the activation.

        The layout of one block's entries in :attr:`ProbeResult.samples`,
        :attr:`ProbeResult.sample_image_index`, :attr:`ProbeResult.expansion_samples` and
        :attr:`ProbeResult.preactivation_samples` (empty dicts when nothing was sampled).
        """
        bottleneck, index = _sample_dict(self.bn_pixels, self.bn_images_res)
        expansion, _ = _sample_dict(self.exp_pixels, self.exp_images_res)
        preactivation, _ = _sample_dict(self.pre_pixels, Reservoir(0))
        return bottleneck, index, expansion, preactivation


def _batch_labels(labels: Tensor | None, b: int, device: torch.device) -> Tensor:
    """``labels`` as int64 on ``device``; -1 for all ``b`` images when there are none."""
    if labels is None or labels.numel() != b:
        return torch.full((b,), -1, dtype=torch.int64, device=device)
    return labels.to(device=device, dtype=torch.int64)


def _sample_dict(
    pixels: Reservoir, images: Reservoir
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
