"""Width sweep page: metrics against width over many seeds, and the injectivity phase diagram."""

from __future__ import annotations

from typing import Any

import streamlit as st
from _common import Spec, from_param, init_state, select, slider, sync_query, warn_bad

import manifold_lab as ml
from manifold_lab.injectivity import critical_ratios, phase_diagram
from manifold_lab.plots import plot_phase_diagram, plot_width_curves
from manifold_lab.registry import (
    ACTIVATION_REGISTRY,
    MANIFOLD_REGISTRY,
    METHOD_REGISTRY,
    METRIC_REGISTRY,
)
from manifold_lab.registry.settings import CURVES, PHASE, SWEEP


def spec() -> Spec:
    """The page's URL settings, read with the library's definitions (registries, ranges)."""
    return {
        "sw_manifold": from_param(SWEEP["manifold"], MANIFOLD_REGISTRY.names()),
        "sw_activations": from_param(
            SWEEP["activation"].replace(kind="choices", default=(SWEEP["activation"].default,)),
            ACTIVATION_REGISTRY.names(),
        ),
        "sw_method": from_param(SWEEP["method"], METHOD_REGISTRY.names()),
        "sw_max_width": from_param(CURVES["max_width"]),
        "sw_seeds": from_param(CURVES["n_seeds"]),
        "sw_points": from_param(CURVES["n_samples"]),
        "sw_metrics": from_param(
            CURVES["metrics"].replace(default=CURVES["metrics"].default[:3]),
            METRIC_REGISTRY.names(),
        ),
        "ph_max_dim": from_param(PHASE["max_dim"]),
        "ph_seeds": from_param(PHASE["n_seeds"]),
    }


@st.cache_data(max_entries=16, show_spinner="Sweeping widths and seeds ...")
def compute_sweep(
    manifold: str,
    activations: tuple[str, ...],
    method: str,
    max_width: int,
    n_seeds: int,
    n_points: int,
    metrics: tuple[str, ...],
) -> Any:
    return ml.sweep(
        manifold,
        widths=range(2, max_width + 1),
        seeds=range(n_seeds),
        activation=list(activations),
        method=method,
        metrics=list(metrics),
        n_samples=n_points,
        progress=False,
    )


@st.cache_data(max_entries=8, show_spinner="Computing the injectivity phase diagram ...")
def compute_phase(max_dim: int, n_seeds: int) -> Any:
    return phase_diagram(
        range(1, max_dim + 1),
        max_ratio=PHASE["max_ratio"].default,
        seeds=range(n_seeds),
        progress=False,
    )


def _downloads(fig: Any, data: Any, stem: str, key: str) -> None:
    cols = st.columns(4)
    cols[0].download_button(
        "Data (CSV)", data.to_csv(index=False), f"{stem}.csv", "text/csv", key=f"{key}_csv"
    )
    cols[1].download_button(
        "Figure (HTML)",
        fig.to_html(include_plotlyjs="cdn"),
        f"{stem}.html",
        "text/html",
        key=f"{key}_html",
    )
    if cols[2].button("Prepare PNG and SVG", key=f"{key}_static"):
        try:
            st.session_state[f"{key}_png"] = fig.to_image(format="png", scale=2)
            st.session_state[f"{key}_svg"] = fig.to_image(format="svg")
        except Exception as exc:  # kaleido needs Chromium; say so instead of failing
            st.error(f"Static export needs Chrome/Chromium for kaleido: {exc}")
    if f"{key}_png" in st.session_state:
        cols[2].download_button(
            "Figure (PNG)", st.session_state[f"{key}_png"], f"{stem}.png", key=f"{key}_dpng"
        )
        cols[3].download_button(
            "Figure (SVG)", st.session_state[f"{key}_svg"], f"{stem}.svg", key=f"{key}_dsvg"
        )


def render(bad: list[str]) -> None:
    """Draw the page (``bad``: unreadable URL settings to report)."""
    bad += init_state(spec())
    warn_bad(bad)
    st.header("Width sweep")
    st.markdown(
        "Each curve is the mean over seeds with its 95% confidence band; the dashed curve is "
        "Theorem 1's prediction P(Binomial(n, 1/2) >= k) for the invertible fraction, and the "
        "vertical lines the injectivity literature's widths for all of R^k."
    )
    sb = st.sidebar
    sb.subheader("Sweep settings")
    manifold = select(sb, "Manifold", MANIFOLD_REGISTRY, "sw_manifold")
    act_labels = ACTIVATION_REGISTRY.labels()
    activations = sb.multiselect(
        "Activations", tuple(act_labels), format_func=act_labels.__getitem__, key="sw_activations"
    )
    method = select(sb, "Reconstruction method", METHOD_REGISTRY, "sw_method")
    max_width = slider(sb, CURVES["max_width"], "sw_max_width")
    n_seeds = slider(sb, CURVES["n_seeds"], "sw_seeds")
    n_points = slider(sb, CURVES["n_samples"], "sw_points")
    metric_labels = METRIC_REGISTRY.labels()
    metrics = sb.multiselect(
        "Metrics", tuple(metric_labels), format_func=metric_labels.__getitem__, key="sw_metrics"
    )
    sb.subheader("Phase diagram")
    max_dim = slider(sb, PHASE["max_dim"], "ph_max_dim")
    ph_seeds = slider(sb, PHASE["n_seeds"], "ph_seeds")
    sync_query(
        "sweep",
        {
            "sw_manifold": manifold,
            "sw_activations": activations,
            "sw_method": method,
            "sw_max_width": max_width,
            "sw_seeds": n_seeds,
            "sw_points": n_points,
            "sw_metrics": metrics,
            "ph_max_dim": max_dim,
            "ph_seeds": ph_seeds,
        },
    )
    if not activations or not metrics:
        st.info("Choose at least one activation and one metric.")
        return
    try:
        df = compute_sweep(
            manifold, tuple(activations), method, max_width, n_seeds, n_points, tuple(metrics)
        )
        summary = ml.summarize(df)
        span = int(df["k"].iloc[0])  # dimension of the manifold's span (Theorem 1's k)
        fig = plot_width_curves(
            summary,
            color="activation",
            theory_k=span if "invertible_fraction" in metrics else None,
            thresholds=True,
            title=f"{manifold}: {', '.join(activations)}, {method}, {n_seeds} seeds",
        )
    except ValueError as exc:
        st.error(str(exc))
        return
    st.plotly_chart(fig, width="stretch", theme=None, key="sweep_chart")
    _downloads(fig, df, f"width_sweep_{manifold}", "sweep")

    st.subheader("Injectivity phase diagram")
    st.markdown(
        "Probability that x -> ReLU(Wx) with Gaussian W (n x k) is injective on all of R^k, "
        "against the ratio n/k; the committed full diagram (k = 1..8, 100 seeds) is in "
        "`experiments/results/phase_diagram.png`."
    )
    try:
        ph = compute_phase(max_dim, ph_seeds)
        ratios = critical_ratios(ph)
        ph_fig = plot_phase_diagram(ph, ratios=ratios, title=f"k = 1..{max_dim}, {ph_seeds} seeds")
    except ValueError as exc:
        st.error(str(exc))
        return
    st.plotly_chart(ph_fig, width="stretch", theme=None, key="phase_chart")
    st.dataframe(ratios, hide_index=True)
    _downloads(ph_fig, ph, "phase_diagram", "phase")
