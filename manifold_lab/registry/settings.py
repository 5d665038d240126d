"""The settings of every experiment, with their defaults and the ranges interfaces offer.

The library's signatures take their defaults from here, ``manifold-lab`` builds its options
and help from here, and the explorer builds its sliders, menus and URL parsing from here, so a
default or a range is written once. Each group is a ``{name: Param}`` mapping.
"""

from __future__ import annotations

from ._base import Param

__all__ = [
    "ABLATION",
    "CASE",
    "CURVES",
    "DEFAULT_DEVICE",
    "DEFAULT_WIDTHS",
    "FIGURE1",
    "PHASE",
    "PROBE",
    "SWEEP",
]

DEFAULT_WIDTHS: tuple[int, ...] = (2, 3, 5, 15, 30)
"""The paper's Figure 1 widths: the default of sweeps and of Figure 1."""

DEFAULT_DEVICE: str | None = None
"""``None``: CUDA when present, else the CPU (every computation uses this default)."""


def _group(*params: Param) -> dict[str, Param]:
    return {p.name: p for p in params}


_MANIFOLD = Param("manifold", "Manifold", "The manifold to embed.", "choice", "spiral")
_N_SAMPLES = Param(
    "n_samples", "Number of points", "Points sampled on the manifold.", "int", 1000, 100, 5000, 100
)
_ACTIVATION = Param("activation", "Activation", "The layer's activation.", "choice", "relu")
_METHOD = Param("method", "Reconstruction method", "How the input is read back.", "choice", "pinv")
_BIAS = Param(
    "bias",
    "Bias",
    "Relative bias scale: b ~ N(0, (bias * data scale)^2); 0 means no bias.",
    "float",
    0.0,
    0.0,
    2.0,
    0.05,
)
_SEED = Param("seed", "Seed", "Seed of the random matrix T.", "int", 0, 0)
_DEPTH = Param(
    "depth",
    "Depth L",
    "Random layers stacked, each of the same width (1: the single layer).",
    "int",
    1,
    1,
    32,
)
_RESIDUAL_FORM = Param(
    "residual_form",
    "Between layers",
    "plain: layer after layer; inverted: a random linear projection back to the span's "
    "dimension k between layers (an inverted residual block without its shortcut).",
    "choice",
    "plain",
    choices=("plain", "inverted"),
)

CASE: dict[str, Param] = _group(
    _MANIFOLD,
    _N_SAMPLES,
    Param("width", "Width n", "Width of the ReLU layer.", "int", 15, 1, 256),
    _ACTIVATION,
    _BIAS,
    _SEED.replace(help="Seed of T (and of the sampled points)."),
    _METHOD,
    _DEPTH,
    _RESIDUAL_FORM,
)
"""One case of Figure 1 (:func:`manifold_lab.run_case`, the explorer's manifold page)."""

SWEEP: dict[str, Param] = _group(
    _MANIFOLD,
    _N_SAMPLES,
    Param("manifold_seed", "Seed of the points", "Seed of the sampled points.", "int", 0, 0),
    Param("widths", "Widths", "e.g. 2,3,5,15,30 or 2:64 (inclusive).", "str", "2,3,5,15,30"),
    Param("seeds", "Seeds", "Seed list or inclusive range, e.g. 0,1,2 or 0:9.", "str", "0:9"),
    _DEPTH.replace(help="Random layers stacked, e.g. 1 or 1,2,4,8 (each in [1, 32])."),
    _RESIDUAL_FORM,
    _ACTIVATION,
    _METHOD,
    Param("embedding", "Embedding", "Distribution of T.", "choice", "gaussian"),
    _BIAS,
    Param("device", "Device", "cpu or cuda (default: cuda when present).", "str", None),
    Param(
        "dtype",
        "Precision",
        "Floating-point type.",
        "choice",
        "float64",
        choices=("float32", "float64"),
    ),
)
"""``manifold-lab sweep`` and :func:`manifold_lab.sweep`."""

CURVES: dict[str, Param] = _group(
    Param("widths", "Widths", "Widths of the curves.", "str", "2:40"),
    Param("n_seeds", "Seeds", "Number of seeds of T.", "int", 20, 2, 100),
    Param("max_width", "Largest width", "Widths 2..this.", "int", 40, 4, 128),
    Param("n_samples", "Points", "Points sampled on the manifold.", "int", 500, 100, 5000, 100),
    Param(
        "metrics",
        "Metrics",
        "Metrics to draw against width.",
        "choices",
        ("nmse", "invertible_fraction", "collapsed_fraction", "knn_recall"),
    ),
)
"""Width curves (``manifold-lab curves``, the explorer's sweep page)."""

FIGURE1: dict[str, Param] = _group(
    Param("widths", "Widths", "Widths of the panels.", "str", "2,3,5,15,30"),
    Param("n_samples", "Number of points", "Points on the manifold.", "int", 1000, 2),
    _METHOD,
    _SEED,
)
"""The paper's Figure 1 (``manifold-lab figure1``)."""

PHASE: dict[str, Param] = _group(
    Param("dims", "Input dimensions", "Input dimensions k, e.g. 1:8.", "str", "1:8"),
    Param("max_dim", "Largest input dimension k", "Input dimensions 1..this.", "int", 3, 1, 5),
    Param("n_seeds", "Seeds (phase diagram)", "Number of random matrices.", "int", 20, 5, 100),
    Param("max_ratio", "Largest width / dimension", "Largest n/k.", "float", 10.0, 1.0, 50.0),
)
"""The injectivity phase diagram (``manifold-lab phase``, the explorer's sweep page)."""

PROBE: dict[str, Param] = _group(
    Param("model", "Model", "Weights to probe.", "choice", "builtin"),
    Param("images", "Images", "Images to run through the network.", "choice", "cifar10-sample"),
    Param("limit", "Images to probe", "Only the first N images.", "int", 200, 8, 500, 8),
    Param("seed", "Seed (samples)", "Seed of the sampled vectors.", "int", 0, 0),
    Param("batch_size", "Batch size", "Images per batch.", "int", 32, 1, 4096),
    Param(
        "rank_pixels",
        "Rank-checked pixels",
        "Pixels rank-checked per block and batch for Lemma 2 (0 disables).",
        "int",
        64,
        0,
    ),
    Param("pixel_samples", "Pixel samples", "Per-pixel reservoir size.", "int", 4096, 0),
    Param("image_samples", "Image samples", "Per-image reservoir size.", "int", 1024, 0),
    Param(
        "ledger",
        "Information-loss ledger",
        "Also read every block's input back from its expansion and from the whole block (Lemma "
        "2's exact inverse and affine decoders, the toy's metrics): a second pass over the "
        "images.",
        "bool",
        False,
    ),
    Param(
        "ledger_pixels",
        "Ledger pixels",
        "Sampled pixels per block of the information-loss ledger.",
        "int",
        4096,
        16,
    ),
    Param("workers", "Loader processes", "Data-loader processes.", "int", 0, 0, 64),
    Param(
        "on_error",
        "Unreadable images",
        "An image that cannot be read (a corrupt file): skip it (counted, with a warning) "
        "or stop at it.",
        "choice",
        "skip",
        choices=("skip", "raise"),
    ),
)
"""The probe (``manifold-lab probe``, the explorer's probe page) and ``manifold-lab eval``."""

ABLATION: dict[str, Param] = _group(
    Param(
        "curve",
        "Curve",
        "Which learning curve to draw (columns of a run's metrics.json).",
        "choice",
        "test_acc",
        choices=("test_acc", "train_loss", "test_loss"),
    ),
)
"""The ablation results (the explorer's ablation page)."""
