"""Every figure of manifold_lab: one module per kind of figure, all in the house style.

Figure functions draw results that were computed elsewhere (compute, then draw): they return
a :class:`plotly.graph_objects.Figure` and never show it; the caller decides (``fig.show()``,
``st.plotly_chart(fig)``, :func:`save_figure`). Nothing here imports Streamlit, and no
compute module imports this package.

==========================  ============================================================
module                      figures
==========================  ============================================================
:mod:`.case`                :func:`plot_case`: one case, input and reconstruction
:mod:`.figure1`             :func:`plot_figure1`: the paper's Figure 1
:mod:`.curves`              :func:`plot_width_curves`: metrics against width
:mod:`.depth`               :func:`plot_depth_curves`: stacks of several depths
:mod:`.phase`               :func:`plot_phase_diagram`: the injectivity phase diagram
:mod:`.figure7`             :func:`plot_figure7`: positive channels per expansion layer
:mod:`.id_profile`          :func:`plot_id_profile`: intrinsic dimension across blocks
:mod:`.id_scale`            :func:`plot_id_scale`: intrinsic dimension against scale
:mod:`.ledger`              :func:`plot_ledger_phase`: real layers on the phase diagram
:mod:`.ledger_blocks`       :func:`plot_ledger_blocks`: the ledger block by block
:mod:`.ledger_training`     :func:`plot_ledger_training`: the ledger over training epochs
:mod:`.partition`           :func:`plot_partition`: a layer's linear regions in the plane
:mod:`.ablation`            :func:`plot_learning_curves`, :func:`plot_toy_ablation`,
                            :func:`plot_ablation_findings`
:mod:`.animation`           :func:`plot_width_animation`, :func:`save_animation`
:mod:`.canvas`              :func:`plot_canvas`: a square to draw a curve on (lasso)
:mod:`.export`              :func:`save_figure`, :func:`figure_format`
:mod:`.style`               the palette, template and axis styles
==========================  ============================================================
"""

from __future__ import annotations

from .ablation import plot_ablation_findings, plot_learning_curves, plot_toy_ablation
from .animation import plot_width_animation, save_animation
from .canvas import plot_canvas
from .case import plot_case
from .curves import plot_width_curves
from .depth import plot_depth_curves
from .export import FIGURE_FORMATS, figure_format, save_figure
from .figure1 import plot_figure1
from .figure7 import figure7_frame, plot_figure7
from .id_profile import plot_id_profile
from .id_scale import plot_id_scale
from .ledger import plot_ledger_phase
from .ledger_blocks import plot_ledger_blocks
from .ledger_training import plot_ledger_training
from .partition import plot_partition
from .phase import plot_phase_diagram

__all__ = [
    "FIGURE_FORMATS",
    "figure7_frame",
    "figure_format",
    "plot_ablation_findings",
    "plot_canvas",
    "plot_case",
    "plot_depth_curves",
    "plot_figure1",
    "plot_figure7",
    "plot_id_profile",
    "plot_id_scale",
    "plot_learning_curves",
    "plot_ledger_blocks",
    "plot_ledger_phase",
    "plot_ledger_training",
    "plot_partition",
    "plot_phase_diagram",
    "plot_toy_ablation",
    "plot_width_animation",
    "plot_width_curves",
    "save_animation",
    "save_figure",
]
