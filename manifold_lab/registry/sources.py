"""Where models and images come from: the source strings of ``--weights`` and ``--images``.

A source string names an entry, optionally followed by ``:ARGUMENT`` (``"torchvision:
IMAGENET1K_V1"``, ``"tflite:model.tflite"``, ``"cifar10:train"``), or is a path that an entry
recognises by its suffix. :func:`resolve_model_source` and :func:`resolve_image_source` parse
it once; :func:`manifold_lab.load_model` and :func:`manifold_lab.open_images` then call the
entry's loader. Reading this module imports no torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ._base import Entry, Registry

__all__ = [
    "IMAGE_SOURCE_REGISTRY",
    "MODEL_SOURCE_REGISTRY",
    "TORCHVISION_WEIGHTS",
    "SourceEntry",
    "image_display_name",
    "menu_sources",
    "model_display_name",
    "resolve_image_source",
    "resolve_model_source",
    "sources_epilog",
]

#: torchvision's MobileNetV2 ImageNet weights: name -> (file name, resize side, top-1 %).
TORCHVISION_WEIGHTS: dict[str, tuple[str, int, float]] = {
    "IMAGENET1K_V1": ("mobilenet_v2-b0353104.pth", 256, 71.878),
    "IMAGENET1K_V2": ("mobilenet_v2-7ebf99e0.pth", 232, 72.154),
}


@dataclass(frozen=True)
class SourceEntry(Entry):
    """A kind of model or image source.

    The loader is called as ``loader(argument, **options)``.

    Parameters
    ----------
    name : str
        Canonical name (what results and URLs record).
    label : str
        Human-readable label for menus.
    description : str
        One or two sentences for tooltips, ``--help`` and the documentation.
    loader : str or object or None, default=None
        ``loader(argument, **options)`` returns the model or the image dataset (or its
        ``"package.module:attribute"``).
    aliases : tuple of str, default=()
        Other names that resolve to this entry.
    argument : str, default=""
        What follows ``name:``: ``""`` (nothing), ``"PATH"`` or ``"NAME"``.
    arguments : tuple of str, default=()
        The accepted ``NAME`` arguments (empty: any).
    default_argument : str, default=""
        The argument when none is given.
    suffixes : tuple of str, default=()
        File suffixes that select this entry for a bare path (``".tflite"``).
    menu : bool, default=False
        Offered in the explorer's menu (with each of ``arguments`` when there are several).
    needs_data_root : bool, default=False
        Reads its files from a data root the user gives (CIFAR-10).
    fetcher : str or callable or None, default=None
        ``fetcher(argument, progress=...)`` downloads the files the loader needs into a
        local cache (a ``"module:attribute"`` string or the callable); None: nothing to
        download.
    display : str, default=""
        How captions, tables and the CLI name a source of this entry: a template where
        ``{argument}`` is the argument and ``{file}`` its last path component (a user's
        file name, never the full path); ``""`` uses :attr:`label`.
    """

    argument: str = ""
    arguments: tuple[str, ...] = ()
    default_argument: str = ""
    suffixes: tuple[str, ...] = ()
    menu: bool = False
    needs_data_root: bool = False
    fetcher: Any = None
    display: str = ""

    def display_name(self, argument: str = "") -> str:
        """This entry's :attr:`display` name for ``argument``.

        Parameters
        ----------
        argument : str, default=""
            What follows ``name:`` in the source string (a path, a split, ...).

        Returns
        -------
        str
            :attr:`display` (or :attr:`label` when it is empty) with ``{argument}`` and
            ``{file}`` (the argument's last path component) filled in.

        Examples
        --------
        >>> MODEL_SOURCE_REGISTRY["checkpoint"].display_name("/runs/linear_s0/model.pt")
        'model.pt'
        """
        template = self.display or self.label
        file = os.path.basename(os.path.normpath(argument)) if argument else ""
        return template.format(argument=argument, file=file)

    def usage(self) -> str:
        """How to write it, e.g. ``"tflite:PATH"`` or ``"cifar10:{test,train}"``.

        Returns
        -------
        str
            The source's syntax for ``--help`` and error messages; an optional argument is
            in brackets (``"cifar10[:{test,train}]"``).
        """
        if not self.argument:
            return self.name
        arg = "{" + ",".join(self.arguments) + "}" if self.arguments else self.argument
        return f"{self.name}[:{arg}]" if self.default_argument else f"{self.name}:{arg}"


_W = "manifold_lab.weights"
_D = "manifold_lab.data"

MODEL_SOURCE_REGISTRY: Registry[SourceEntry] = Registry(
    "model source",
    [
        SourceEntry(
            "builtin",
            "Built-in CIFAR-10 model (trained by manifold_lab)",
            "the CIFAR-10 MobileNetV2 shipped in the package",
            f"{_W}:builtin_source",
            aliases=("built-in", "default"),
            menu=True,
            display="built-in CIFAR-10 model",
        ),
        SourceEntry(
            "random-cifar",
            "CIFAR-10 MobileNetV2 at initialisation (step 0)",
            "a CIFAR-10 MobileNetV2 (32 px stem, 10 classes) with seeded random weights",
            f"{_W}:random_cifar_source",
            menu=True,
            display="random initialisation (CIFAR-10 MobileNetV2)",
        ),
        SourceEntry(
            "random",
            "ImageNet MobileNetV2 at initialisation",
            "freshly initialised weights of the paper's Table 2 network (or of config=)",
            f"{_W}:random_source",
            aliases=("none", "scratch"),
            display="random initialisation (ImageNet MobileNetV2)",
        ),
        SourceEntry(
            "torchvision",
            "torchvision ImageNet weights",
            "torchvision's ImageNet weights from the torch hub cache, downloaded once",
            f"{_W}:torchvision_source",
            aliases=("imagenet",),
            argument="NAME",
            arguments=tuple(TORCHVISION_WEIGHTS),
            default_argument="IMAGENET1K_V2",
            menu=True,
            fetcher=f"{_W}:torchvision_weights_file",
            display="torchvision MobileNetV2 ({argument})",
        ),
        SourceEntry(
            "tflite",
            "TF-slim TFLite file",
            "a TF-slim MobileNetV2 published as .tflite (the paper authors' models)",
            f"{_W}:tflite_source",
            argument="PATH",
            suffixes=(".tflite",),
            display="TF-slim MobileNetV2 (ImageNet), {file}",
        ),
        SourceEntry(
            "checkpoint",
            "Checkpoint file",
            "a checkpoint written by save_checkpoint or manifold-lab train (.pt), or a bare "
            "torchvision-style state dict (.pth)",
            f"{_W}:checkpoint_source",
            argument="PATH",
            suffixes=(".pt", ".pth", ".ckpt", ".bin"),
            display="{file}",
        ),
    ],
)
"""Model sources (``--weights``, ``load_model``, the explorer's model menu)."""

IMAGE_SOURCE_REGISTRY: Registry[SourceEntry] = Registry(
    "image source",
    [
        SourceEntry(
            "cifar10-sample",
            "Built-in CIFAR-10 sample (500 test images)",
            "500 CIFAR-10 test images shipped in the package (50 per class)",
            f"{_D}:sample_source",
            aliases=("sample",),
            menu=True,
            display="built-in CIFAR-10 sample",
        ),
        SourceEntry(
            "cifar10",
            "CIFAR-10",
            "CIFAR-10 from a data root: a torchvision root, an extracted folder or "
            "cifar10-jpeg.tar.gz",
            f"{_D}:cifar10_source",
            argument="SPLIT",
            arguments=("test", "train"),
            default_argument="test",
            menu=True,
            needs_data_root=True,
            display="CIFAR-10 {argument} split",
        ),
        SourceEntry(
            "folder",
            "Folder of images",
            "a folder of images (ImageNet labels from <wnid>_*.JPEG names; other folders "
            "are unlabelled)",
            f"{_D}:folder_source",
            argument="PATH",
            display="folder {file}",
        ),
    ],
)
"""Image sources (``--images``, ``open_images``, the explorer's image menu)."""


def _split_source(text: str, registry: Registry[SourceEntry]) -> tuple[SourceEntry, str] | None:
    head, sep, tail = text.partition(":")
    entry = registry.get(head)
    if entry is None:
        return None
    if not sep:
        if entry.argument and not entry.default_argument:
            raise ValueError(f"{registry.kind} {entry.name!r} needs an argument: {entry.usage()}")
        return entry, entry.default_argument
    if not entry.argument:
        raise ValueError(f"{registry.kind} {entry.name!r} takes no argument, got {text!r}")
    argument = tail.strip()
    if entry.arguments:
        matches = [a for a in entry.arguments if a.lower() == argument.lower()]
        if not matches:
            raise ValueError(
                f"unknown {entry.name} argument {argument!r}; choose one of: "
                f"{', '.join(entry.arguments)}"
            )
        argument = matches[0]
    elif not argument:
        raise ValueError(f"{registry.kind} {entry.name!r} needs an argument: {entry.usage()}")
    return entry, argument


def _by_suffix(text: str, registry: Registry[SourceEntry]) -> SourceEntry | None:
    lowered = text.lower()
    return next((e for e in registry if e.suffixes and lowered.endswith(e.suffixes)), None)


def _check_text(source: Any, what: str) -> str:
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"{what} must be a source name or a path, got {source!r}")
    return source.strip()


def resolve_model_source(weights: Any) -> tuple[SourceEntry, str]:
    """Parse a weights source once: the entry and its argument.

    Parameters
    ----------
    weights : str, path-like or None
        A name from :data:`MODEL_SOURCE_REGISTRY` (``"builtin"``, ``"random"``...), a
        ``NAME:ARGUMENT`` form, a torchvision weights name, or a path to a file whose suffix
        an entry recognises (or that exists: a checkpoint). None means ``"random"``.

    Returns
    -------
    entry : SourceEntry
        The registered model source that reads ``weights``.
    argument : str
        What its loader receives: a path, a weights name (upper case for torchvision), or
        ``""``.

    Raises
    ------
    ValueError
        If ``weights`` is empty or matches no source and no existing file.

    Examples
    --------
    >>> entry, arg = resolve_model_source("torchvision:imagenet1k_v1")
    >>> entry.name, arg
    ('torchvision', 'IMAGENET1K_V1')
    >>> resolve_model_source("models/mnv2.tflite")[0].name
    'tflite'
    """
    if weights is None:
        return MODEL_SOURCE_REGISTRY["random"], ""
    text = _check_text(weights, "weights")
    if text.upper() in TORCHVISION_WEIGHTS:
        return MODEL_SOURCE_REGISTRY["torchvision"], text.upper()
    found = _split_source(text, MODEL_SOURCE_REGISTRY)
    if found is not None:
        return found
    entry = _by_suffix(text, MODEL_SOURCE_REGISTRY)
    if entry is not None:
        return entry, text
    if os.path.exists(text):  # False, not OSError, for a name too long for the OS
        return MODEL_SOURCE_REGISTRY["checkpoint"], text
    usages = ", ".join(e.usage() for e in MODEL_SOURCE_REGISTRY)
    raise ValueError(f"unknown weights source {weights!r}; use one of: {usages}, or a file path")


def resolve_image_source(spec: Any) -> tuple[SourceEntry, str]:
    """Parse an image source once: the entry and its argument.

    Parameters
    ----------
    spec : str or path-like
        A name from :data:`IMAGE_SOURCE_REGISTRY` (``"cifar10-sample"``,
        ``"cifar10:train"``...), ``"folder:PATH"``, or the path of a folder (write
        ``./sample`` for a folder named ``sample``).

    Returns
    -------
    entry : SourceEntry
        The registered image source that reads ``spec``.
    argument : str
        What its loader receives: a folder path, a split name (the entry's default when none
        is given) or ``""``.

    Raises
    ------
    ValueError
        If ``spec`` is empty or matches no source.

    Examples
    --------
    >>> entry, arg = resolve_image_source("cifar10")
    >>> entry.name, arg
    ('cifar10', 'test')
    """
    text = _check_text(spec, "images")
    looks_like_path = os.sep in text or "/" in text or text.startswith((".", "~"))
    if not looks_like_path:
        found = _split_source(text, IMAGE_SOURCE_REGISTRY)
        if found is not None:
            return found
    if looks_like_path or os.path.exists(text):
        return IMAGE_SOURCE_REGISTRY["folder"], text
    usages = ", ".join(e.usage() for e in IMAGE_SOURCE_REGISTRY)
    raise ValueError(f"unknown image source {spec!r}; use one of: {usages}, or a folder path")


def model_display_name(weights: Any) -> str:
    """How captions, tables and the CLI name a weights source: its entry's display name.

    Parameters
    ----------
    weights : str, path-like or None
        As for :func:`resolve_model_source`.

    Returns
    -------
    str
        E.g. ``"built-in CIFAR-10 model"``; a file's name (not its path) for a checkpoint.

    Examples
    --------
    >>> model_display_name("builtin")
    'built-in CIFAR-10 model'
    >>> model_display_name("torchvision")
    'torchvision MobileNetV2 (IMAGENET1K_V2)'
    >>> model_display_name("tflite:/data/mobilenet_v2_1.0_224.tflite")
    'TF-slim MobileNetV2 (ImageNet), mobilenet_v2_1.0_224.tflite'
    """
    entry, argument = resolve_model_source(weights)
    return entry.display_name(argument)


def image_display_name(images: Any) -> str:
    """How captions, tables and the CLI name an image source: its entry's display name.

    Parameters
    ----------
    images : str or path-like
        As for :func:`resolve_image_source`.

    Returns
    -------
    str
        The display name of the source's entry for its argument (a file's name, never
        its full path).

    Examples
    --------
    >>> image_display_name("cifar10-sample"), image_display_name("cifar10:train")
    ('built-in CIFAR-10 sample', 'CIFAR-10 train split')
    """
    entry, argument = resolve_image_source(images)
    return entry.display_name(argument)


def menu_sources(registry: Registry[SourceEntry]) -> dict[str, str]:
    """``{source string: label}`` of the entries offered in menus, arguments expanded.

    Parameters
    ----------
    registry : Registry of SourceEntry
        :data:`MODEL_SOURCE_REGISTRY` or :data:`IMAGE_SOURCE_REGISTRY`.

    Returns
    -------
    dict of str to str
        Source string (``"cifar10:test"``: one item per accepted argument) to its menu
        label, in registration order.

    Examples
    --------
    >>> list(menu_sources(IMAGE_SOURCE_REGISTRY))
    ['cifar10-sample', 'cifar10:test', 'cifar10:train']
    """
    items: dict[str, str] = {}
    for entry in registry:
        if not entry.menu:
            continue
        if entry.arguments:
            for arg in entry.arguments:
                items[f"{entry.name}:{arg}"] = f"{entry.label} ({arg})"
        else:
            items[entry.name] = entry.label
    return items


def sources_epilog() -> str:
    """The ``Weights:`` and ``Images:`` paragraph of ``eval`` and ``probe``'s ``--help``.

    Returns
    -------
    str
        One paragraph listing every model and image source with its syntax and description.
    """

    def describe(registry: Registry[SourceEntry]) -> str:
        return "; ".join(f"{e.usage()}: {e.description}" for e in registry)

    return (
        f"Weights: {describe(MODEL_SOURCE_REGISTRY)}; or the path of a .tflite or .pt file. "
        f"Images: {describe(IMAGE_SOURCE_REGISTRY)}; or the path of a folder."
    )
