"""manifold_lab explorer: the linear-bottleneck argument, from a spiral to a trained network.

Run with ``streamlit run apps/explorer.py``. Four pages, chosen in the sidebar (and by the
``page`` query parameter):

* **Manifold lab**: one case of the paper's Figure 1 (a manifold, a width, an activation).
* **Width sweep**: metrics against width over seeds, with Theorem 1 and the injectivity
  literature, and the injectivity phase diagram.
* **Bottleneck probe**: the paper's Figure 7 and Lemma 2 inside a real MobileNetV2.
* **Ablation results**: linear vs ReLU6 bottlenecks and shortcut variants (Figure 6).

The pages only read settings, call ``manifold_lab`` and show the results; every computation
lives in the library. Every setting is mirrored in the URL, so a link reproduces the view;
unreadable settings fall back to their defaults with a notice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

from manifold_lab.registry import (
    ACTIVATION_REGISTRY,
    IMAGE_SOURCE_REGISTRY,
    MANIFOLD_REGISTRY,
    METHOD_REGISTRY,
    METRIC_REGISTRY,
    MODEL_SOURCE_REGISTRY,
    menu_sources,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the page modules beside this file

import _lesson
import page_ablation
import page_manifold
import page_probe
import page_sweep

PAGES = {
    "manifold": ("Manifold lab", page_manifold.render),
    "sweep": ("Width sweep", page_sweep.render),
    "probe": ("Bottleneck probe", page_probe.render),
    "ablation": ("Ablation results", page_ablation.render),
}


def sidebar_width() -> int:
    """Sidebar width in pixels that shows the longest menu label in full (Streamlit's
    default, 300 px, cuts labels such as the probe's model sources)."""
    menus = [r.labels() for r in (MANIFOLD_REGISTRY, ACTIVATION_REGISTRY, METHOD_REGISTRY)]
    menus += [METRIC_REGISTRY.labels()]
    menus += [menu_sources(MODEL_SOURCE_REGISTRY), menu_sources(IMAGE_SOURCE_REGISTRY)]
    longest = max(len(label) for menu in menus for label in menu.values())
    # about 7.5 px a character at the sidebar's font, plus the box's arrow and the padding
    return max(300, min(600, round(7.2 * longest) + 100))


st.set_page_config(
    page_title="manifold_lab explorer", layout="wide", initial_sidebar_state=sidebar_width()
)
# The app's name small at the top of the sidebar; each page's title is the only heading,
# with less of Streamlit's empty band above it.
st.sidebar.markdown("**manifold_lab explorer**")
st.html("<style>[data-testid='stMainBlockContainer'] {padding-top: 2.5rem}</style>")

bad: list[str] = []
lesson = _lesson.start()
if "page" not in st.session_state:
    requested = st.query_params.get("page", "manifold")
    if requested not in PAGES:
        bad.append(f"page={requested}")
        requested = "manifold"
    st.session_state.page = requested
if "page" in st.session_state._hidden:
    page = st.session_state.page = st.session_state.page
else:
    page = st.sidebar.radio("Page", tuple(PAGES), format_func=lambda key: PAGES[key][0], key="page")
if lesson is not None:
    _lesson.panel(*lesson)
PAGES[page][1](bad)
