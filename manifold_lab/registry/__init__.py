"""Registries: the single source of truth for every choice the toolkit offers.

Each registry holds entries that say what a user interface needs (a name, a label, a
description, parameters with their valid ranges, properties) and where the implementation
lives (loaded on first use). The library resolves names through them; ``manifold-lab`` and
the explorer build their choices, help texts, menus, tooltips and ranges from them and list
nothing by hand. This package imports only the standard library (no torch), so reading it is
cheap.

=========================  ====================================================================
registry                   entries
=========================  ====================================================================
``ACTIVATION_REGISTRY``    activations, with their properties (Theorem 1 applies, exact
                           inverse, piecewise linear, positively homogeneous)
``MANIFOLD_REGISTRY``      manifold generators and their parameters
``METHOD_REGISTRY``        reconstruction methods
``METRIC_REGISTRY``        metrics (label, description, fraction, log scale)
``MODEL_SOURCE_REGISTRY``  where MobileNetV2 weights come from (``--weights``)
``IMAGE_SOURCE_REGISTRY``  where images come from (``--images``)
``settings``               defaults and ranges of every experiment's settings
=========================  ====================================================================

Examples
--------
>>> from manifold_lab import registry
>>> registry.ACTIVATION_REGISTRY["relu"].theorem1
True
>>> registry.ACTIVATION_REGISTRY["gelu"].theorem1
False
"""

from __future__ import annotations

from . import settings
from ._base import Entry, LoadedView, Param, Registry, load_object, normalise_name
from .activations import ACTIVATION_REGISTRY, ActivationEntry, register_activation
from .manifolds import MANIFOLD_REGISTRY, ManifoldEntry, register_manifold
from .measures import (
    ID_ESTIMATOR_LABELS,
    METHOD_REGISTRY,
    METRIC_REGISTRY,
    MethodEntry,
    MetricEntry,
)
from .sources import (
    IMAGE_SOURCE_REGISTRY,
    MODEL_SOURCE_REGISTRY,
    TORCHVISION_WEIGHTS,
    SourceEntry,
    image_display_name,
    menu_sources,
    model_display_name,
    resolve_image_source,
    resolve_model_source,
    sources_epilog,
)

__all__ = [
    "ACTIVATION_REGISTRY",
    "ID_ESTIMATOR_LABELS",
    "IMAGE_SOURCE_REGISTRY",
    "MANIFOLD_REGISTRY",
    "METHOD_REGISTRY",
    "METRIC_REGISTRY",
    "MODEL_SOURCE_REGISTRY",
    "TORCHVISION_WEIGHTS",
    "ActivationEntry",
    "Entry",
    "LoadedView",
    "ManifoldEntry",
    "MethodEntry",
    "MetricEntry",
    "Param",
    "Registry",
    "SourceEntry",
    "image_display_name",
    "load_object",
    "menu_sources",
    "model_display_name",
    "normalise_name",
    "register_activation",
    "register_manifold",
    "resolve_image_source",
    "resolve_model_source",
    "settings",
    "sources_epilog",
]
