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

The package holds one concept per module:

* :mod:`~manifold_lab.probing.blocks`: :class:`BlockInfo` and :func:`find_blocks`, blocks
  found by structure;
* :mod:`~manifold_lab.probing.reservoir`: seeded hashing and bottom-k reservoirs;
* :mod:`~manifold_lab.probing.statistics`: the running counts of one block;
* :mod:`~manifold_lab.probing.result`: :class:`BlockStats` and :class:`ProbeResult` (tables,
  histograms, files);
* :mod:`~manifold_lab.probing.hooks`: :class:`ActivationProbe`, the scoped hooks;
* :mod:`~manifold_lab.probing.run`: :func:`probe`, one call over a dataset;
* :mod:`~manifold_lab.probing.dimension`: :func:`id_profile`, intrinsic dimension across
  blocks;
* :mod:`~manifold_lab.probing.pipeline`: :func:`probe_source` and :func:`probe_report`,
  from a weights source and an image source to a report (the CLI's and the app's probe);
* :mod:`~manifold_lab.probing.reconstruction`: Lemma 2's exact inverse, ridge decoders and
  bootstrap intervals over images;
* :mod:`~manifold_lab.probing.ledger`: :func:`ledger` and :class:`LedgerCollector`, the
  information-loss ledger (how much of each block's input can be read back);
* :mod:`~manifold_lab.probing.ledger_result`: :class:`LedgerResult` (tables, files).

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

from .blocks import BlockInfo, find_blocks
from .dimension import id_profile, id_scale_profile
from .hooks import ActivationProbe
from .ledger import LedgerCollector, ledger
from .ledger_result import LedgerResult
from .pipeline import ProbeReport, probe_images, probe_report, probe_source
from .result import COLUMN_LABELS, SUMMARY_COLUMNS, BlockStats, ProbeResult, split_constants
from .run import probe

__all__ = [
    "COLUMN_LABELS",
    "SUMMARY_COLUMNS",
    "ActivationProbe",
    "BlockInfo",
    "BlockStats",
    "LedgerCollector",
    "LedgerResult",
    "ProbeReport",
    "ProbeResult",
    "find_blocks",
    "id_profile",
    "id_scale_profile",
    "ledger",
    "probe",
    "probe_images",
    "probe_report",
    "probe_source",
    "split_constants",
]
