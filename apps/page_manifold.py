"""Manifold lab page: one case of the paper's Figure 1, interactively."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st
from _common import Spec, choice, float_in, init_state, int_in, sync_query, warn_bad

import manifold_lab as ml
from manifold_lab.plots import plot_case

ACTIVATION_CHOICES = ("relu", "relu6", "leaky_relu", "gelu", "softplus", "identity")
DIM_MANIFOLDS = ("sphere", "subspace", "ball", "blob")  # take an intrinsic dimension
AMBIENT_MANIFOLDS = ("subspace", "ball")  # take an ambient dimension
MAX_AMBIENT_DIM = 32

DEFAULTS: dict[str, Any] = {
    "manifold": "spiral",
    "n_samples": 1000,
    "noise": 0.0,
    "dim": 2,
    "ambient_dim": 3,
    "width": 15,
    "activation": "relu",
    "bias": 0.0,
    "seed": 0,
    "method": "pinv",
}


SPEC: Spec = {
    "manifold": (DEFAULTS["manifold"], choice(tuple(ml.MANIFOLDS))),
    "n_samples": (DEFAULTS["n_samples"], int_in(100, 5000)),
    "noise": (DEFAULTS["noise"], float_in(0.0, 1.0)),
    "dim": (DEFAULTS["dim"], int_in(1, 8)),
    "ambient_dim": (DEFAULTS["ambient_dim"], int_in(1, MAX_AMBIENT_DIM)),
    "width": (DEFAULTS["width"], int_in(1, 256)),
    "activation": (DEFAULTS["activation"], choice(ACTIVATION_CHOICES)),
    "bias": (DEFAULTS["bias"], float_in(0.0, 2.0)),
    "seed": (DEFAULTS["seed"], int_in(0)),
    "method": (DEFAULTS["method"], choice(tuple(ml.METHODS))),
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

    bad += init_state(SPEC)
    warn_bad(bad)

    sb = st.sidebar
    sb.subheader("Manifold settings")
    manifold = sb.selectbox("Manifold", tuple(ml.MANIFOLDS), key="manifold")
    n_samples = sb.slider("Number of points", 100, 5000, step=100, key="n_samples")
    noise = sb.slider(
        "Noise", 0.0, 1.0, step=0.01, key="noise", help="Standard deviation of Gaussian noise."
    )
    dim: int | None = None
    ambient_dim: int | None = None
    if manifold in DIM_MANIFOLDS:
        dim = sb.slider("Intrinsic dimension", 1, 8, key="dim")
    if manifold in AMBIENT_MANIFOLDS:
        assert dim is not None
        if st.session_state.ambient_dim < dim:
            st.session_state.ambient_dim = min(dim + 1, MAX_AMBIENT_DIM)
        ambient_dim = sb.slider(
            "Ambient dimension",
            1,
            MAX_AMBIENT_DIM,
            key="ambient_dim",
            help="Dimension of the space the manifold lives in (at least the intrinsic one).",
        )
    width = sb.slider("Width n", 1, 256, key="width", help="Width of the ReLU layer.")
    activation = sb.selectbox("Activation", ACTIVATION_CHOICES, key="activation")
    bias = sb.slider(
        "Bias",
        0.0,
        2.0,
        step=0.05,
        key="bias",
        help="Relative bias scale: b ~ N(0, (bias * data scale)^2); 0 means no bias.",
    )
    seed = sb.number_input(
        "Seed", min_value=0, step=1, key="seed", help="Seed of T (and of the sampled points)."
    )
    method = sb.selectbox(
        "Reconstruction method",
        ml.METHODS,
        key="method",
        help="pinv: the paper's T^-1; lstsq: best affine decoder; lemma2: exact inverse where "
        "Lemma 2 holds.",
    )

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
        theory = float(ml.preserved_fraction(width, span_dim))
        cols = st.columns(6)
        cols[0].metric(
            "Normalised error",
            f"{m['nmse']:.3g}",
            help="Mean squared reconstruction error over the total variance of the input "
            "(0 is perfect, 1 is as bad as predicting the mean).",
        )
        cols[1].metric(
            "Invertible",
            _fraction(m["invertible_fraction"]),
            help="Fraction of points where the layer can be inverted exactly (n/a for GELU).",
        )
        cols[2].metric(
            "Theorem 1",
            _fraction(theory),
            help=f"Predicted invertible fraction P(Binomial(n, 1/2) >= k) for n={width} and "
            f"k={span_dim}, the dimension of the manifold's span (ReLU without bias).",
        )
        cols[3].metric(
            "Collapsed",
            _fraction(m["collapsed_fraction"]),
            help="Fraction of points whose output lies on top of a distinct input's output.",
        )
        cols[4].metric(
            "kNN recall",
            _fraction(m["knn_recall"]),
            help="Fraction of input nearest neighbours that stay neighbours after the layer.",
        )
        cols[5].metric(
            "Activation patterns",
            "n/a" if math.isnan(m["n_patterns"]) else f"{int(m['n_patterns'])}",
            help="Distinct activation patterns (linear regions) the points fall in.",
        )
        st.plotly_chart(plot_case(result), width="stretch", theme=None, key="case_chart")
