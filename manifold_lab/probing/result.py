"""What the probe measured: :class:`BlockStats` per block and :class:`ProbeResult` (tables,
histograms, files).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["BlockStats", "ProbeResult"]


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
    name : str
        As in :class:`~manifold_lab.probing.BlockInfo`.
    index, in_channels, hidden_channels, out_channels, stride : int
        As in :class:`~manifold_lab.probing.BlockInfo`.
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
    """What :class:`~manifold_lab.probing.ActivationProbe` or :func:`~manifold_lab.probing.probe`
    measured.

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
    preactivation_samples : dict
        Per block name, ``{"pixels": (n, hidden_channels)}``: the expansion before its
        activation (the norm's output) at the same pixels as ``expansion_samples``.
    """

    blocks: list[BlockStats]
    samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    expansion_samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    sample_image_index: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    preactivation_samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

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
        from ..records import provenance
        from ..results import write_results

        p = Path(path)
        if p.suffix.lower() not in (".csv", ".json"):
            raise ValueError(f"the statistics file must end in .csv or .json, got {p.name!r}")
        return write_results(self.to_frame(), p, provenance(self.metadata))

    def save_samples(self, path: str | os.PathLike[str]) -> Path:
        """Write the reservoir samples and metadata with :func:`torch.save`, atomically.

        The file loads with ``torch.load(path, weights_only=True)``: a dict with
        ``"samples"``, ``"expansion_samples"``, ``"preactivation_samples"``,
        ``"sample_image_index"`` (tensors) and
        ``"metadata"``.
        """
        from ..fileio import atomic_write_text
        from ..records import provenance

        def tensors(d: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Tensor]]:
            return {k: {kk: torch.from_numpy(vv) for kk, vv in v.items()} for k, v in d.items()}

        payload = {
            "samples": tensors(self.samples),
            "expansion_samples": tensors(self.expansion_samples),
            "preactivation_samples": tensors(self.preactivation_samples),
            "sample_image_index": tensors(self.sample_image_index),
            "metadata": provenance(self.metadata),
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return atomic_write_text(path, buffer.getvalue())
