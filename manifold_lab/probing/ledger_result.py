"""What the information-loss ledger measured: :class:`BlockLedger` per block and
:class:`LedgerResult` (tables with human-readable labels, files with provenance).

:func:`~manifold_lab.probing.ledger` computes them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LEDGER_COLUMNS", "BlockLedger", "Estimate", "LedgerResult", "column_labels"]

_ESTIMATES = (
    "exact_fraction",
    "nmse_lemma2",
    "collapsed_lemma2",
    "knn_recall_lemma2",
    "nmse_affine",
    "collapsed_affine",
    "knn_recall_affine",
    "nmse_block",
)

LEDGER_COLUMNS: dict[str, str] = {
    "name": "Block",
    "index": "Block number",
    "in_channels": "Input channels k",
    "hidden_channels": "Expansion channels n",
    "expansion_ratio": "Expansion ratio n/k",
    "stride": "Stride",
    "clip": "Activation clip",
    "n_images": "Images",
    "n_pixels": "Sampled pixels",
    "n_test_pixels": "Held-out sampled pixels",
    "n_fit_pixels": "Decoder fitting pixels",
    "input_id": "Input ID (TwoNN)",
    "expansion_ratio_id": "n / input ID",
    "enough_fraction": "Enough informative channels",
    "lemma2_fraction": "Lemma 2 holds (rank test)",
    "exact_fraction": "Recovered exactly",
    "nmse_lemma2": "Normalised error, exact inverse",
    "collapsed_lemma2": "Collapsed, exact inverse",
    "knn_recall_lemma2": "kNN recall, exact inverse",
    "nmse_affine": "Normalised error, affine decoder",
    "collapsed_affine": "Collapsed, affine decoder",
    "knn_recall_affine": "kNN recall, affine decoder",
    "nmse_block": "Normalised error, whole block (affine)",
    "exact_rtol": "Exactness tolerance",
}
"""Human-readable labels of :meth:`LedgerResult.to_frame`'s columns (CI columns add
``" (CI low)"`` / ``" (CI high)"``)."""


@dataclass(frozen=True)
class Estimate:
    """A value with its bootstrap interval over images (NaN when it cannot be computed).

    Attributes
    ----------
    value : float
        The estimate on all sampled pixels.
    low : float
        Lower end of the 95% bootstrap interval (NaN without bootstrap).
    high : float
        Upper end of the 95% bootstrap interval (NaN without bootstrap).
    """

    value: float = math.nan
    low: float = math.nan
    high: float = math.nan


@dataclass(frozen=True)
class BlockLedger:
    """What the ledger measured in one block (see :func:`ledger`; labels in
    :data:`LEDGER_COLUMNS`).

    Attributes
    ----------
    name : str
        The block's dotted module name, e.g. ``"features.2"``.
    index : int
        Position among the model's inverted residuals, from 1 (``features.1`` is 1).
    in_channels : int
        Channels ``k`` of the block's input (the bottleneck).
    hidden_channels : int
        Channels ``n`` of the expansion.
    stride : int
        The block's stride (its depthwise convolution's).
    clip : float
        The expansion activation's upper clip (6 for ReLU6, ``inf`` for ReLU).
    n_images : int
        Images seen.
    n_pixels : int
        Sampled pixels.
    n_test_pixels : int
        Sampled pixels of held-out images.
    n_fit_pixels : int
        Pixels the expansion's decoder was fitted on.
    input_id : float
        TwoNN intrinsic dimension of the sampled inputs ``x``.
    enough_fraction : float
        Fraction of the sampled pixels with at least ``in_channels`` informative channels.
    lemma2_fraction : float
        Fraction of the sampled pixels where Lemma 2's rank test holds.
    exact_fraction : Estimate
        Fraction of the sampled pixels the exact Lemma-2 inverse recovers to ``exact_rtol``.
    nmse_lemma2 : Estimate
        Normalised error of the exact Lemma-2 inverse (least squares where it fails) on all
        sampled pixels.
    collapsed_lemma2 : Estimate
        Fraction of collapsed points among its reconstructions.
    knn_recall_lemma2 : Estimate
        kNN recall of its reconstructions.
    nmse_affine : Estimate
        Normalised error of the affine decoder ``y -> x`` on held-out images' sampled pixels.
    collapsed_affine : Estimate
        Fraction of collapsed points among its reconstructions.
    knn_recall_affine : Estimate
        kNN recall of its reconstructions.
    nmse_block : Estimate
        Normalised error of the affine decoder from the block's branch output to its input,
        on held-out images.
    exact_rtol : float
        Relative error at or below which a pixel counts as recovered exactly.
    """

    name: str
    index: int
    in_channels: int
    hidden_channels: int
    stride: int
    clip: float
    n_images: int
    n_pixels: int
    n_test_pixels: int
    n_fit_pixels: int
    input_id: float
    enough_fraction: float
    lemma2_fraction: float
    exact_fraction: Estimate
    nmse_lemma2: Estimate
    collapsed_lemma2: Estimate
    knn_recall_lemma2: Estimate
    nmse_affine: Estimate
    collapsed_affine: Estimate
    knn_recall_affine: Estimate
    nmse_block: Estimate
    exact_rtol: float

    def row(self) -> dict[str, Any]:
        """One row of :meth:`LedgerResult.to_frame`."""
        rec: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Estimate):
                rec[f.name] = value.value
                rec[f.name + "_low"] = value.low
                rec[f.name + "_high"] = value.high
            else:
                rec[f.name] = value
            if f.name == "hidden_channels":
                rec["expansion_ratio"] = self.hidden_channels / self.in_channels
            if f.name == "input_id":
                ok = math.isfinite(self.input_id) and self.input_id > 0
                rec["expansion_ratio_id"] = self.hidden_channels / self.input_id if ok else math.nan
        return rec

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> BlockLedger:
        """Rebuild from a row of :meth:`LedgerResult.to_frame` (or its CSV)."""
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in _ESTIMATES:
                kwargs[f.name] = Estimate(
                    float(row[f.name]), float(row[f.name + "_low"]), float(row[f.name + "_high"])
                )
            elif f.name == "name":
                kwargs[f.name] = str(row[f.name])
            elif f.type in ("int",):
                kwargs[f.name] = int(row[f.name])
            else:
                kwargs[f.name] = float(row[f.name])
        return cls(**kwargs)


@dataclass(frozen=True)
class LedgerResult:
    """The ledger of every probed block with an expansion (see :func:`ledger`).

    Parameters
    ----------
    blocks : tuple of BlockLedger
        One entry per block, in the network's order.
    metadata : mapping, default={}
        Model, images, seed and the ledger's settings.

    Attributes
    ----------
    blocks : tuple of BlockLedger
        One entry per block, in the network's order.
    metadata : mapping
        Model, images, seed and the ledger's settings.
    """

    blocks: tuple[BlockLedger, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_frame(self, *, labels: bool = False) -> pd.DataFrame:
        """One row per block; ``*_low`` / ``*_high`` columns hold the 95% intervals.

        Parameters
        ----------
        labels : bool, default=False
            Human-readable column names (:data:`LEDGER_COLUMNS`) instead of the short ones.

        Returns
        -------
        pandas.DataFrame
            ``attrs["metadata"]`` holds :attr:`metadata`.
        """
        import pandas as pd

        df = pd.DataFrame([b.row() for b in self.blocks])
        for key in ("images", "model"):
            if key in self.metadata:
                df.insert(0, key, str(self.metadata[key]))
        if labels:
            df = df.rename(columns=column_labels(df.columns))
        df.attrs["metadata"] = dict(self.metadata)
        return df

    def block(self, name: str) -> BlockLedger:
        """The ledger of one block.

        Parameters
        ----------
        name : str
            The block's dotted module name, e.g. ``"features.2"``.

        Returns
        -------
        BlockLedger
            What was measured in that block.

        Raises
        ------
        ValueError
            When no block of the ledger has that name.
        """
        for b in self.blocks:
            if b.name == name:
                return b
        raise ValueError(
            f"no block {name!r} in the ledger; blocks: {[b.name for b in self.blocks]}"
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_frame` as CSV (or JSON by suffix) with provenance, atomically.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write; its suffix, ``.csv`` or ``.json``, chooses the format.

        Returns
        -------
        pathlib.Path
            The path written (:meth:`load` reads it back).

        Raises
        ------
        ValueError
            When the suffix is neither ``.csv`` nor ``.json``.
        """
        from ..records import provenance
        from ..results import write_results

        p = Path(path)
        if p.suffix.lower() not in (".csv", ".json"):
            raise ValueError(f"the ledger file must end in .csv or .json, got {p.name!r}")
        return write_results(self.to_frame(), p, provenance(dict(self.metadata)))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LedgerResult:
        """Read a file written by :meth:`save`; ``metadata`` is its provenance's parameters."""
        from ..results import read_results

        df, prov = read_results(path)
        missing = [c for c in ("name", "exact_fraction", "nmse_block") if c not in df.columns]
        if missing:
            raise ValueError(f"{path} is not a ledger file: it has no column {missing[0]!r}")
        blocks = tuple(BlockLedger.from_row(r) for r in df.to_dict("records"))
        return cls(blocks=blocks, metadata=dict(prov.get("parameters") or {}))


def column_labels(columns: Any) -> dict[str, str]:
    """Human-readable names of ledger columns (CI columns included)."""
    out: dict[str, str] = {}
    for c in columns:
        base, suffix = str(c), ""
        for end, text in (("_low", " (CI low)"), ("_high", " (CI high)")):
            if base.endswith(end) and base[: -len(end)] in LEDGER_COLUMNS:
                base, suffix = base[: -len(end)], text
        out[str(c)] = LEDGER_COLUMNS.get(base, base.replace("_", " ")) + suffix
    return out
