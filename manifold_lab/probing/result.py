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

__all__ = ["COLUMN_LABELS", "SUMMARY_COLUMNS", "BlockStats", "ProbeResult", "split_constants"]

_COUNT_LABELS = {"pos": "positive", "informative": "informative", "clipped": "clipped"}
_STAT_LABELS = {"min": "min", "max": "max", "mean": "mean", "std": "std"}

#: A human name for every column of :meth:`ProbeResult.to_frame` (``to_frame(labels=True)``).
COLUMN_LABELS: dict[str, str] = {
    "model": "model",
    "images": "images",
    "name": "block",
    "index": "block index",
    "expansion_layer": "expansion layer",
    "has_expansion": "has expansion",
    "in_channels": "input channels",
    "hidden_channels": "expansion channels",
    "out_channels": "output channels",
    "stride": "stride",
    "use_res_connect": "residual",
    "expansion_skip": "expansion shortcut",
    "bottleneck_activation": "bottleneck activation",
    "threshold": "threshold (input channels)",
    "threshold_rel": "threshold / width",
    "n_images": "images probed",
    "n_pixels": "pixels",
    **{
        f"{key}_{stat}{rel}": f"{label} channels, {slabel}" + (" / width" if rel else "")
        for key, label in _COUNT_LABELS.items()
        for stat, slabel in _STAT_LABELS.items()
        for rel in ("", "_rel")
    },
    "below_threshold_fraction": "pixels below threshold",
    "positive_enough_fraction": "pixels with >= threshold positive",
    "enough_channels_fraction": "pixels with >= threshold informative",
    "lemma2_fraction": "pixels where Lemma 2 holds",
    "rank_full_fraction": "full rank among checked",
    "lemma2_fraction_se": "Lemma 2 fraction, s.e.",
    "rank_pixels_checked": "pixels rank-checked",
    "dead_channels": "dead channels",
    "always_on_channels": "always-on channels",
    "dead_channels_rel": "dead channels / width",
    "always_on_channels_rel": "always-on channels / width",
    "firing_rate_mean": "firing rate, mean",
    "firing_rate_min": "firing rate, min",
    "firing_rate_max": "firing rate, max",
    "ever_clipped_channels": "channels ever clipped",
    "bottleneck_pixels": "bottleneck pixels",
    "bottleneck_negative_fraction": "bottleneck negative fraction",
}

#: The columns of a short table of a probe (the explorer's): structure, Figure 7, Lemma 2.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "model",
    "images",
    "name",
    "index",
    "expansion_layer",
    "in_channels",
    "hidden_channels",
    "out_channels",
    "stride",
    "use_res_connect",
    "bottleneck_activation",
    "n_images",
    "pos_mean",
    "pos_std",
    "pos_min",
    "pos_max",
    "informative_mean",
    "below_threshold_fraction",
    "lemma2_fraction",
    "dead_channels",
    "bottleneck_negative_fraction",
)


def split_constants(frame: Any) -> tuple[Any, dict[str, Any]]:
    """Split the columns that hold one value in every row off a table.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, e.g. :meth:`ProbeResult.to_frame`'s one row per block.

    Returns
    -------
    varying : pandas.DataFrame
        The other columns (all of them when the table has one row).
    constants : dict
        ``{column: value}`` of the constant columns (NaN counts as a value), in order.

    Examples
    --------
    >>> import pandas as pd
    >>> varying, constants = split_constants(pd.DataFrame({"a": [1, 2], "b": ["x", "x"]}))
    >>> list(varying.columns), constants
    (['a'], {'b': 'x'})
    """
    if len(frame) < 2:
        return frame, {}
    same = [c for c in frame.columns if frame[c].nunique(dropna=False) == 1]
    return frame.drop(columns=same), {c: frame[c].iloc[0] for c in same}


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

    Parameters
    ----------
    name : str
        As in :class:`~manifold_lab.probing.BlockInfo`.
    index : int
        As in :class:`~manifold_lab.probing.BlockInfo`.
    expansion_layer : int or None
        Position among the expansion layers, from 1 (Figure 7's x axis); None without one.
    in_channels, hidden_channels, out_channels, stride : int
        As in :class:`~manifold_lab.probing.BlockInfo`.
    has_expansion : bool
        The block has an expansion layer (t > 1); the expansion statistics are None or zero
        otherwise.
    use_res_connect, expansion_skip : bool
        As in :class:`~manifold_lab.probing.BlockInfo`.
    bottleneck_activation : str
        As in :class:`~manifold_lab.probing.BlockInfo` (``"linear"`` in MobileNetV2).
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
        """One row of :meth:`ProbeResult.to_frame`.

        Parameters
        ----------
        rank_enabled : bool
            Whether the probe ran the Lemma 2 rank check; without it ``lemma2_fraction`` is
            NaN rather than 0.

        Returns
        -------
        dict
            Column name to value: the block's description, the threshold, and the minimum,
            maximum, mean and standard deviation of the positive, informative and clipped
            channel counts.
        """
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

    Parameters
    ----------
    blocks : list of BlockStats
        One per probed block, in order.
    samples : dict, default={}
        Bottleneck samples per block name: ``{"pixels": (n, out_channels),
        "images": (n_img, out_channels)}`` float32 arrays (the projection's output, per pixel
        and global-average pooled per image) and ``"labels"`` (n_img,) int64 when the images
        are labelled: the input of :func:`manifold_lab.bottleneck.analyse_bottlenecks`.
    expansion_samples : dict, default={}
        The same for the expansion layers (after their ReLU6; blocks with an expansion only).
    sample_image_index : dict, default={}
        Per block name, the positions (in the order seen) of the images in
        ``samples[name]["images"]``, and ``"pixels_image"``: the image of every pixel sample.
    metadata : dict, default={}
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

    def to_frame(self, *, labels: bool = False, columns: Any = None) -> Any:
        """One row per block: channels, threshold, Figure 7 statistics, Lemma 2, channels.

        Counts are absolute and relative to the width (``*_rel``). ``pos_*`` count positive
        channels (y > 0, Figure 7), ``informative_*`` channels with 0 < y < 6 and
        ``clipped_*`` channels at 6. ``threshold`` is the block's input channels.
        ``enough_channels_fraction``: pixels with at least ``threshold`` informative channels;
        ``lemma2_fraction``: pixels where, in addition, the expansion rows (batch norm folded)
        at those channels have full column rank. Rows of blocks without an expansion hold NaN
        in these columns.

        Parameters
        ----------
        labels : bool, default=False
            Human column names (:data:`COLUMN_LABELS`, e.g. ``"expansion channels"`` for
            ``hidden_channels``), and the model and images by their display names
            (``metadata["model_name"]``, ``metadata["images_name"]``) instead of their
            source strings: a table for people. False keeps the names files and code use.
        columns : sequence of str or None, default=None
            Only these columns (names as with ``labels=False``, e.g.
            :data:`SUMMARY_COLUMNS`), in this order; None: all.

        Returns
        -------
        pandas.DataFrame
            ``attrs["metadata"]`` holds :attr:`metadata`.

        Examples
        --------
        >>> import torch
        >>> from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
        >>> from manifold_lab.probing import probe
        >>> model = MobileNetV2(MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25))
        >>> res = probe(model, torch.rand(2, 3, 32, 32), progress=False, images="noise")
        >>> res.to_frame(labels=True, columns=["name", "hidden_channels"]).columns.tolist()
        ['block', 'expansion channels']
        """
        import pandas as pd

        rank_enabled = self.metadata.get("rank_pixels_per_batch", 1) != 0
        df = pd.DataFrame([b.row(rank_enabled) for b in self.blocks])
        for key in ("model", "images"):
            if key in self.metadata:
                value = self.metadata.get(f"{key}_name") if labels else None
                df.insert(0, key, str(value or self.metadata[key]))
        if columns is not None:
            missing = [c for c in columns if c not in df.columns]
            if missing:
                raise ValueError(f"no probe columns {missing}; see COLUMN_LABELS for the names")
            df = df[list(columns)]
        if labels:
            df = df.rename(columns=COLUMN_LABELS)
        df.attrs["metadata"] = dict(self.metadata)
        return df

    @classmethod
    def from_blocks(cls, blocks: Any, **metadata: Any) -> ProbeResult:
        """A result that has counted nothing yet: the structure of the blocks alone.

        Its table holds the blocks' channels, strides and thresholds, and NaN (or 0) in
        every count, so :func:`~manifold_lab.plots.plot_figure7` draws the widths and the
        invertibility threshold before the first batch has been probed.

        Parameters
        ----------
        blocks : sequence of BlockInfo
            From :func:`~manifold_lab.probing.find_blocks`.
        **metadata
            Stored in :attr:`metadata` (``n_images`` is 0).

        Returns
        -------
        ProbeResult

        Examples
        --------
        >>> from manifold_lab.mobilenet import MobileNetV2
        >>> from manifold_lab.probing import find_blocks
        >>> empty = ProbeResult.from_blocks(find_blocks(MobileNetV2()))
        >>> frame = empty.to_frame()
        >>> int(frame["threshold"].iloc[1]), int(frame["n_images"].iloc[1])
        (16, 0)
        """
        stats = []
        layer = 0
        for info in blocks:
            layer += int(info.has_expansion)
            stats.append(
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
                    n_images=0,
                    n_pixels=0,
                    n_bottleneck_pixels=0,
                    hist_positive=None,
                    hist_informative=None,
                    hist_clipped=None,
                    channel_positive=None,
                    channel_clipped=None,
                    rank_checked=0,
                    rank_full=0,
                    lemma2_pixels=0.0,
                    rank_subsampled=False,
                    bottleneck_negative=0,
                )
            )
        return cls(blocks=stats, metadata={**metadata, "n_images": 0})

    def histograms(self, kind: str = "positive", *, relative: bool = False) -> Any:
        """Long table of a per-pixel count histogram: block, count, pixels (or fraction).

        Parameters
        ----------
        kind : {"positive", "informative", "clipped"}, default="positive"
            Which count: channels with y > 0, with 0 < y < clip, or with y >= clip.
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
        """The statistics of the block called ``name``.

        Parameters
        ----------
        name : str
            Dotted module name, e.g. ``"features.3"``.

        Returns
        -------
        BlockStats
            The block's counts.

        Raises
        ------
        ValueError
            If no probed block has that name (the message lists those probed).
        """
        for b in self.blocks:
            if b.name == name:
                return b
        raise ValueError(f"no probed block {name!r}; blocks: {[b.name for b in self.blocks]}")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_frame` as CSV (or JSON by suffix) with provenance, atomically.

        Parameters
        ----------
        path : str or path-like
            Target file, ending in ``.csv`` or ``.json``.

        Returns
        -------
        pathlib.Path
            The file written (read it back with :func:`manifold_lab.read_results`).

        Raises
        ------
        ValueError
            If the suffix is neither ``.csv`` nor ``.json``.
        """
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

        Parameters
        ----------
        path : str or path-like
            Target file (``.pt`` by convention).

        Returns
        -------
        pathlib.Path
            The file written.
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
