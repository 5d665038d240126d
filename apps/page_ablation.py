"""Ablation page: the committed Figure 6 results and the run directories the user points to
(inside :func:`manifold_lab.ablation.run_roots`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from _common import Spec, from_param, init_state, sync_query, warn_bad

from manifold_lab.ablation import RUNS_ROOT_ENV, load_runs, run_roots
from manifold_lab.plots import plot_learning_curves, plot_toy_ablation
from manifold_lab.registry.settings import ABLATION

RESULTS = Path(__file__).resolve().parent.parent / "experiments" / "results"

SPEC: Spec = {"ab_metric": from_param(ABLATION["curve"])}


def render(bad: list[str]) -> None:
    """Draw the page (``bad``: unreadable URL settings to report)."""
    bad += init_state(SPEC)
    warn_bad(bad)
    st.header("Ablation results")
    curve = ABLATION["curve"]
    metric = st.sidebar.selectbox(curve.label, curve.choices, key="ab_metric", help=curve.help)
    sync_query("ablation", {"ab_metric": metric})
    shown = False
    first = ("ablation_gpu", "ablation_cpu")  # the headline results, then older ones
    folders = sorted(
        RESULTS.glob("ablation_*"),
        key=lambda f: (first.index(f.name) if f.name in first else len(first), f.name),
    )
    for folder in folders:
        st.subheader(f"CIFAR-10, preset `{folder.name.removeprefix('ablation_')}`")
        summary = folder / "summary.md"
        if summary.exists():
            st.markdown(summary.read_text(encoding="utf-8").split("\n", 1)[1])
        try:
            df = load_runs(folder, require=(metric,))
            st.plotly_chart(
                plot_learning_curves(df, y=metric), theme=None, key=f"curves_{folder.name}"
            )
            shown = True
        except ValueError as exc:
            st.info(str(exc))
    toy = RESULTS / "manifold_ablation.csv"
    if toy.exists():
        st.subheader("Figure 6 in miniature: inverted-residual MLPs on two spirals")
        df = pd.read_csv(toy, comment="#")
        st.plotly_chart(plot_toy_ablation(df), theme=None, key="toy_chart")
        md = RESULTS / "manifold_ablation.md"
        if md.exists():
            st.markdown(md.read_text(encoding="utf-8").split("\n", 1)[1])
        shown = True
    if not shown:
        st.info("No committed ablation results were found next to this app.")
    st.subheader("Your own runs")
    roots = run_roots()
    folder_text = st.text_input(
        "Run directory",
        key="ab_folder",
        help="A folder of runs (<variant>_s<seed>/metrics.json), as written by "
        "experiments/ablation.py or manifold-lab train, or one run's folder. Only folders "
        f"under {', '.join(map(str, roots))} are read (relative paths are looked up there); "
        f"the environment variable {RUNS_ROOT_ENV} adds folders (docs/ARCHITECTURE.md).",
    )
    if folder_text.strip():
        try:
            df = load_runs(folder_text.strip(), roots=roots, require=(metric,))
            st.plotly_chart(plot_learning_curves(df, y=metric), theme=None, key="user_curves")
        except (ValueError, OSError) as exc:
            st.error(f"Could not read runs from {folder_text.strip()}: {exc}")
