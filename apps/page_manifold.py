"""Manifold lab page: one case of the paper's Figure 1, interactively."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st
from _common import Spec, from_param, init_state, select, slider, sync_query, warn_bad

import manifold_lab as ml
from manifold_lab.plots import plot_case
from manifold_lab.registry import (
    ACTIVATION_REGISTRY,
    MANIFOLD_REGISTRY,
    METHOD_REGISTRY,
    METRIC_REGISTRY,
)
from manifold_lab.registry.manifolds import AMBIENT_DIM, DIM, NOISE
from manifold_lab.registry.settings import CASE


def spec() -> Spec:
    """The page's URL settings, read with the library's definitions (registries, ranges)."""
    return {
        "manifold": from_param(CASE["manifold"], MANIFOLD_REGISTRY.names()),
        "n_samples": from_param(CASE["n_samples"]),
        "noise": from_param(NOISE),
        "dim": from_param(DIM),
        "ambient_dim": from_param(AMBIENT_DIM),
        "width": from_param(CASE["width"]),
        "activation": from_param(CASE["activation"], ACTIVATION_REGISTRY.names()),
        "bias": from_param(CASE["bias"]),
        "seed": from_param(CASE["seed"]),
        "method": from_param(CASE["method"], METHOD_REGISTRY.names()),
    }


@st.cache_data(max_entries=64, show_spinner="Embedding the manifold ...")
def compute_case(
    manifold: str,
    n_samples: int,
    noise: float,
    dim: int | None,
    ambient_dim: int | None,
    width: int,
    activation: str,
    bias: float,
    seed: int,
    method: str,
) -> ml.CaseResult:
    """Run one case (``result.k`` is the dimension of the manifold's span)."""
    kwargs: dict[str, Any] = {"noise": noise}
    if dim is not None:
        kwargs["dim"] = dim
    if ambient_dim is not None:
        kwargs["ambient_dim"] = ambient_dim
    return ml.run_case(
        manifold,
        width=width,
        seed=seed,
        activation=activation,
        method=method,
        bias=bias,
        n_samples=n_samples,
        manifold_seed=seed,
        manifold_kwargs=kwargs,
        max_neighbor_points=None,
    )


def _fraction(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f} %"


def _check_dims() -> list[str]:
    """The link's ``ambient_dim`` when it is below its ``dim`` (for a manifold that takes
    both): reported like an unreadable setting, and reset to its default."""
    entry = MANIFOLD_REGISTRY[st.session_state.manifold]
    state = st.session_state
    if not (entry.param("dim") and entry.param("ambient_dim")) or state.ambient_dim >= state.dim:
        return []
    bad = f"ambient_dim={state.ambient_dim} (below dim={state.dim})"
    state.ambient_dim = AMBIENT_DIM.default  # raised above dim below, as for the slider
    return [bad]


def render(bad: list[str]) -> None:
    """Draw the page (``bad``: unreadable URL settings to report)."""
    st.header("Manifold lab")
    st.markdown(
        "Figure 1 of the MobileNetV2 paper embeds a 2-D spiral into *n* dimensions with a "
        "random matrix *T*, applies ReLU and projects back with *T*<sup>-1</sup>: for small "
        "*n* points of the spiral collapse into each other (information is lost), for large "
        "*n* the map stays invertible. Pick a manifold, a width and an activation to see where "
        "the layer stops losing information; red crosses mark points where the paper's "
        "Lemma 2 fails, circles mark collapsed points.",
        unsafe_allow_html=True,
    )

    first_run = "ambient_dim" not in st.session_state
    bad += init_state(spec())
    if first_run:
        bad += _check_dims()
    warn_bad(bad)

    sb = st.sidebar
    sb.subheader("Manifold settings")
    manifold = select(sb, "Manifold", MANIFOLD_REGISTRY, "manifold")
    entry = MANIFOLD_REGISTRY[manifold]
    n_samples = slider(sb, CASE["n_samples"], "n_samples")
    noise = slider(sb, NOISE, "noise") if entry.param("noise") else 0.0
    dim: int | None = None
    ambient_dim: int | None = None
    if entry.param("dim"):
        dim = slider(sb, DIM, "dim")
    if entry.param("ambient_dim"):
        lowest = dim or 1
        if st.session_state.ambient_dim < lowest:
            st.session_state.ambient_dim = min(lowest + 1, AMBIENT_DIM.maximum or lowest + 1)
        ambient_dim = slider(sb, AMBIENT_DIM, "ambient_dim")
    width = slider(sb, CASE["width"], "width")
    activation = select(sb, "Activation", ACTIVATION_REGISTRY, "activation")
    bias = slider(sb, CASE["bias"], "bias")
    seed = sb.number_input(
        CASE["seed"].label, min_value=0, step=1, key="seed", help=CASE["seed"].help
    )
    method = select(sb, "Reconstruction method", METHOD_REGISTRY, "method")

    settings: dict[str, Any] = {
        "manifold": manifold,
        "n_samples": n_samples,
        "noise": noise,
        "dim": dim,
        "ambient_dim": ambient_dim,
        "width": width,
        "activation": activation,
        "bias": bias,
        "seed": int(seed),
        "method": method,
    }
    sync_query("manifold", settings)

    try:
        result = compute_case(**settings)
        span_dim = result.k  # Theorem 1 concerns the span's dimension, as invertible_fraction
    except ValueError as exc:
        st.error(str(exc))
    else:
        m = result.metrics
        act = ACTIVATION_REGISTRY[activation]
        tiles = ["nmse", "invertible_fraction", "theorem1", "collapsed_fraction", "knn_recall"]
        tiles.append("n_patterns")
        cols = st.columns(len(tiles))
        for col, name in zip(cols, tiles, strict=True):
            if name == "theorem1":
                applies = act.theorem1 and bias == 0
                theory = float(ml.preserved_fraction(width, span_dim)) if applies else math.nan
                col.metric(
                    "Theorem 1",
                    _fraction(theory),
                    help=f"Predicted invertible fraction P(Binomial(n, 1/2) >= k) for n={width} "
                    f"and k={span_dim}, the dimension of the manifold's span"
                    + ("." if applies else f"; does not apply to {act.label} with this bias."),
                )
                continue
            metric = METRIC_REGISTRY[name]
            value = m[name]
            if metric.fraction:
                text = _fraction(value)
            elif name == "n_patterns":
                text = "n/a" if math.isnan(value) else f"{int(value)}"
            else:
                text = f"{value:.3g}"
            col.metric(metric.label, text, help=metric.description)
        st.plotly_chart(plot_case(result), width="stretch", theme=None, key="case_chart")
