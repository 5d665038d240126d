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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the page modules beside this file

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

st.set_page_config(page_title="manifold_lab explorer", layout="wide")
st.title("manifold_lab explorer")

bad: list[str] = []
if "page" not in st.session_state:
    requested = st.query_params.get("page", "manifold")
    if requested not in PAGES:
        bad.append(f"page={requested}")
        requested = "manifold"
    st.session_state.page = requested
page = st.sidebar.radio("Page", tuple(PAGES), format_func=lambda key: PAGES[key][0], key="page")
PAGES[page][1](bad)
