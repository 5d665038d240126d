"""Ablation page: the findings of the committed Figure 6 results first, their details and the
archived (superseded) studies collapsed, then the run directories the user points to (inside
:func:`manifold_lab.ablation.run_roots`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from _common import Spec, figure_downloads, from_param, init_state, shown, sync_query, warn_bad

from manifold_lab.ablation import (
    RUNS_ROOT_ENV,
    AblationStudy,
    find_studies,
    findings_frame,
    load_runs,
    run_roots,
)
from manifold_lab.plots import plot_ablation_findings, plot_learning_curves, plot_toy_ablation
from manifold_lab.registry.settings import ABLATION

RESULTS = Path(__file__).resolve().parent.parent / "experiments" / "results"
TOY = RESULTS / "manifold_ablation.csv"
# how the page names the results folder in the regenerating code
RESULTS_CODE = 'RESULTS = Path("experiments/results")  # in a clone of the repository\n'

SPEC: Spec = {"ab_metric": from_param(ABLATION["curve"])}


def _label(study: AblationStudy) -> str:
    return study.title.removeprefix("CIFAR-10 ablation, ").replace("`", "")


def _study_details(study: AblationStudy, metric: str, key: str) -> None:
    """One study's variants, learning curves and recipe."""
    st.dataframe(study.variant_table(), hide_index=True, key=f"variants_{key}")
    try:
        df = load_runs(study.path, require=(metric,))
    except ValueError as exc:
        st.info(str(exc))
    else:
        fig = plot_learning_curves(df, y=metric)
        fig.update_layout(height=360, margin={"t": 30, "b": 50})  # a short page
        st.plotly_chart(fig, theme=None, key=f"curves_{key}")
        figure_downloads(
            st,
            fig,
            name=f"learning_curves_{study.name}",
            key=f"curves_dl_{key}",
            data=df,
            code="from pathlib import Path\n"
            "from manifold_lab.ablation import load_runs\n"
            "from manifold_lab.plots import plot_learning_curves\n"
            + RESULTS_CODE
            + f"df = load_runs(RESULTS / {study.name!r}, require=({metric!r},))\n"
            f"fig = plot_learning_curves(df, y={metric!r})\n"
            'fig.update_layout(height=360, margin={"t": 30, "b": 50})\n',
        )
    with st.expander("Recipe: the training settings every run shares"):
        st.dataframe(study.recipe, hide_index=True, key=f"recipe_{key}")


def render(bad: list[str]) -> None:
    """Draw the page (``bad``: unreadable URL settings to report)."""
    bad += init_state(SPEC)
    warn_bad(bad)
    st.header("Ablation results")
    curve = ABLATION["curve"]
    metric = (
        st.sidebar.selectbox(curve.label, curve.choices, key="ab_metric", help=curve.help)
        if shown("ab_metric")
        else st.session_state.ab_metric
    )
    sync_query("ablation", {"ab_metric": metric})
    studies = find_studies(RESULTS) if RESULTS.is_dir() else []
    current = [s for s in studies if not s.superseded]
    archived = [s for s in studies if s.superseded]
    if not shown("findings"):  # a lesson asks which bottleneck wins before showing it
        st.caption(
            "The findings, learning curves and the miniature appear once you have answered "
            "the lesson's question and asked for the measured answer."
        )
        current, archived, show_toy = [], [], False
    else:
        show_toy = TOY.exists()
    if current:
        st.subheader("Findings: linear bottlenecks against the alternatives (CIFAR-10)")
        st.markdown(
            "Differences in final test accuracy, paired by seed, with 95% t-intervals; the "
            "decision rule was fixed before the runs (a variant wins when the interval "
            "excludes 0)."
        )
        findings = findings_frame(current)
        table = pd.concat(
            [s.comparison_table().assign(study=_label(s)) for s in current], ignore_index=True
        )
        table = table[["study", *[c for c in table.columns if c != "study"]]]
        st.dataframe(table, hide_index=True, key="findings_table")
        fig = plot_ablation_findings(
            findings.assign(study=findings["study"].str.removeprefix("ablation_"))
        )
        st.plotly_chart(fig, theme=None, key="findings_chart")
        figure_downloads(
            st,
            fig,
            name="ablation_findings",
            key="findings_dl",
            data=findings.drop(columns=["seeds", "differences"], errors="ignore"),
            code="from pathlib import Path\n"
            "from manifold_lab.ablation import find_studies, findings_frame\n"
            "from manifold_lab.plots import plot_ablation_findings\n"
            + RESULTS_CODE
            + "current = [s for s in find_studies(RESULTS) if not s.superseded]\n"
            "findings = findings_frame(current)\n"
            'fig = plot_ablation_findings(findings.assign(study=findings["study"]'
            '.str.removeprefix("ablation_")))\n',
        )
        st.subheader("Learning curves and settings")
        for tab, study in zip(st.tabs([_label(s) for s in current]), current, strict=True):
            with tab:
                _study_details(study, metric, study.name)
    if show_toy:
        st.subheader("Figure 6 in miniature: inverted-residual MLPs on two spirals")
        df = pd.read_csv(TOY, comment="#")
        toy = plot_toy_ablation(df)
        toy.update_layout(height=380, margin={"t": 40, "b": 50})
        st.plotly_chart(toy, theme=None, key="toy_chart")
        figure_downloads(
            st,
            toy,
            name="toy_ablation",
            key="toy_dl",
            data=df,
            code="import pandas as pd\n"
            "from manifold_lab.plots import plot_toy_ablation\n"
            'df = pd.read_csv("experiments/results/manifold_ablation.csv", comment="#")\n'
            "fig = plot_toy_ablation(df)\n"
            'fig.update_layout(height=380, margin={"t": 40, "b": 50})\n',
        )
        md = RESULTS / "manifold_ablation.md"
        if md.exists():
            with st.expander("Every paired comparison of the miniature"):
                st.markdown(md.read_text(encoding="utf-8").split("\n", 1)[1])
    if not current and not TOY.exists() and shown("findings"):
        st.info("No committed ablation results were found next to this app.")
    if archived:
        with st.expander(f"Archived runs ({len(archived)} superseded)"):
            for study in archived:
                st.markdown(
                    f"**{study.name}**, superseded by `{study.superseded_by}`: "
                    f"{study.superseded_reason}"
                )
                st.dataframe(study.comparison_table(), hide_index=True, key=f"arch_{study.name}")
                _study_details(study, metric, study.name)
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
        except (ValueError, OSError) as exc:
            st.error(f"Could not read runs from {folder_text.strip()}: {exc}")
        else:
            fig = plot_learning_curves(df, y=metric)
            st.plotly_chart(fig, theme=None, key="user_curves")
            figure_downloads(
                st,
                fig,
                name="learning_curves",
                key="user_curves_dl",
                data=df,
                code="from manifold_lab.ablation import load_runs\n"
                "from manifold_lab.plots import plot_learning_curves\n"
                f"df = load_runs({folder_text.strip()!r}, require=({metric!r},))\n"
                f"fig = plot_learning_curves(df, y={metric!r})\n",
            )
