"""Your own points on the Manifold lab and Width sweep pages: the upload box and its limits,
and the canvas to draw a curve on.

The file is read with :func:`manifold_lab.uploads.read_points` under
:meth:`~manifold_lab.uploads.PointLimits.for_store` of the explorer's upload limits (the
``MANIFOLD_LAB_UPLOAD_*`` variables), once per file contents (cached by digest). A curve is
drawn with plotly's lasso on :func:`manifold_lab.plots.plot_canvas`; its path is kept in
session state (so it stays across reruns until cleared) and turned into points by
:func:`manifold_lab.curve_from_path`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
from _common import shown, slider

from manifold_lab.freehand import MAX_PATH_VERTICES, curve_from_path
from manifold_lab.plots import plot_canvas
from manifold_lab.registry.manifolds import NOISE
from manifold_lab.registry.settings import CASE
from manifold_lab.uploads import UPLOAD_ENV, PointLimits, UploadError, UploadLimits, read_points

SOURCES = {
    "builtin": "A built-in manifold",
    "upload": "Your points (CSV or NPY)",
    "draw": "Draw a curve",
}
"""Where a page's points come from."""

DRAWN_NAME = "your drawn curve"
"""The name a drawn curve goes by on the pages (its :attr:`UserPoints.name`)."""

SIZE_ENV = next(k for k in UPLOAD_ENV if k.endswith("MAX_TOTAL_MB"))
"""The variable that sets the size limit of a point file (:meth:`PointLimits.for_store`)."""


@dataclass(frozen=True)
class UserPoints:
    """Your points: their name (the file's) and digest (the cache key), the points, their
    colours, what the colour is, and the Python lines that make ``X`` (shown in the pages'
    code panels, after ``import manifold_lab as ml`` and the plots' import: they start with
    their own imports or a blank line)."""

    name: str
    digest: str
    X: np.ndarray
    t: np.ndarray
    code: str = ""
    colour: str = "the label (or the row number)"


def limits() -> PointLimits:
    """The limits on an uploaded point file (from the explorer's upload limits)."""
    return PointLimits.for_store(UploadLimits.from_env())


@st.cache_data(max_entries=4, show_spinner="Reading your points ...")
def _read(digest: str, name: str, _data: bytes, _limits: PointLimits) -> tuple[Any, Any]:
    X, labels = read_points(_data, name, _limits)
    if labels is None:
        t = np.arange(X.shape[0], dtype=np.float64)
    else:  # labels as colours: numbers as they are, anything else by its first appearance
        import pandas as pd

        codes, _ = pd.factorize(labels)
        t = codes.astype(np.float64)
    return X, t


def source(container: Any, key: str) -> str:
    """The choice of where the points come from (``key``: its session-state key): a key of
    :data:`SOURCES`."""
    return str(
        container.radio(
            "Points",
            tuple(SOURCES),
            format_func=SOURCES.__getitem__,
            key=key,
            help="A built-in manifold, points from a CSV or NPY file, or a curve you draw "
            "on a canvas with the lasso.",
        )
    )


def choose_points(
    container: Any, source_key: str, manifold_key: str, key: str
) -> tuple[str, UserPoints | None]:
    """The points' source (``source_key``) and, unless it is the built-in manifold, your
    points (:func:`user_points` under ``key``). A link or lesson that hides the manifold
    choice (``manifold_key``) or the source fixes the points to the built-in manifold."""
    fixed = not (shown(source_key) and shown(manifold_key))
    src = "builtin" if fixed else source(container, source_key)
    return src, None if src == "builtin" else user_points(container, src, key)


def user_points(container: Any, src: str, key: str) -> UserPoints | None:
    """Your points from the source ``src`` (``"upload"`` or ``"draw"``), their controls in
    ``container`` under the keys ``{key}_upload`` or ``{key}_draw...``; None until there are
    points (the page says why in one line)."""
    if src == "upload":
        return uploaded(container, f"{key}_upload")
    return drawn(container, f"{key}_draw")


def uploaded(container: Any, key: str) -> UserPoints | None:
    """The upload box; the points read from the file, or None (an error or no file yet,
    said on the page in one line)."""
    lim = limits()
    text = f"Limits: {lim.describe()}; the size limit is set by {SIZE_ENV}."
    up = container.file_uploader(
        "Points: N rows x D columns (a column named 'label' colours them)",
        type=["csv", "npy"],
        key=key,
        help=text,
    )
    container.caption(text)
    if up is None:
        st.info("Upload a CSV or NPY file of points (one point a row) in the sidebar.")
        return None
    data = up.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    try:
        X, t = _read(digest, up.name, data, lim)
    except UploadError as exc:
        st.error(str(exc))
        return None
    code = (
        "from manifold_lab.uploads import read_points\n\n"
        f"X, labels = read_points(open({up.name!r}, 'rb').read(), {up.name!r})\n"
    )
    return UserPoints(name=up.name, digest=digest, X=X, t=t, code=code)


def lasso_path(state: Any) -> tuple[list[float], list[float]] | None:
    """The vertices ``(x, y)`` of the last lasso in a plotly chart's selection state
    (Streamlit's ``on_select`` value: ``{"selection": {"lasso": [{"x": [...], "y": [...]},
    ...]}}``), or None when it holds no lasso, or one that is not lists of numbers (which
    the browser never sends)."""
    try:
        last = state["selection"]["lasso"][-1]
        return [float(v) for v in last["x"]], [float(v) for v in last["y"]]
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _keep_lasso(key: str) -> None:
    """On a new lasso on the canvas ``key``: keep its path and start a fresh canvas."""
    path = lasso_path(st.session_state.get(f"{key}_canvas"))
    if path is not None:
        st.session_state[f"{key}_path"] = path
        st.session_state[f"{key}_rev"] = st.session_state.get(f"{key}_rev", 0) + 1


def _clear(key: str) -> None:
    st.session_state.pop(f"{key}_path", None)
    st.session_state[f"{key}_rev"] = st.session_state.get(f"{key}_rev", 0) + 1


def drawn_code(path: tuple[list[float], list[float]], n: int, closed: bool, noise: float) -> str:
    """The Python lines that make the points of a drawn curve (the path to 4 decimals)."""
    x, y = ([round(v, 4) for v in c] for c in path)
    return (
        f"\nx = {x}\ny = {y}\n"
        f"X, t = ml.curve_from_path(x, y, {n}, closed={closed}, noise={noise!r}, seed=0)\n"
    )


def drawn(container: Any, key: str) -> UserPoints | None:
    """The canvas to draw a curve on (in the page) and its settings (in ``container``); the
    points on the curve drawn, or None (nothing drawn yet, or a path that cannot be used,
    said on the page in one line). The path stays in session state (``{key}_path``) until
    cleared."""
    st.session_state.setdefault(f"{key}_n", CASE["n_samples"].default)
    st.session_state.setdefault(f"{key}_noise", NOISE.default)
    closed = container.toggle(
        "Closed curve",
        key=f"{key}_closed",
        help="Join the end of the curve back to its start (a loop); off: the lasso's "
        "closing segment is left out.",
    )
    n = int(slider(container, CASE["n_samples"], f"{key}_n"))
    noise = float(slider(container, NOISE, f"{key}_noise"))
    container.button(
        "Clear the drawing", key=f"{key}_clear", on_click=_clear, args=(key,), width="stretch"
    )
    path = st.session_state.get(f"{key}_path")
    # a path too long to use is not drawn either (curve_from_path says why below)
    shown = path if path is not None and len(path[0]) <= MAX_PATH_VERTICES else None
    canvas, note = st.columns([3, 2], vertical_alignment="center")
    canvas.plotly_chart(
        plot_canvas(shown, closed=closed, revision=st.session_state.get(f"{key}_rev", 0)),
        key=f"{key}_canvas",
        on_select=functools.partial(_keep_lasso, key),
        selection_mode="lasso",
        theme=None,
        width="content",
    )
    note.markdown(
        "**Draw a curve** on the canvas: press, drag and release (plotly's lasso). The curve "
        "runs from where you pressed to where you let go; turn on *Closed curve* for a loop. "
        f"It is resampled to {n:,} points evenly spaced along it, centred and scaled to the "
        "unit disc (as the built-in circle), with the noise set in the sidebar. Drawing again "
        "replaces it; *Clear the drawing* empties the canvas."
    )
    if path is None:
        st.info("Draw a curve on the canvas to run the page on it.")
        return None
    try:
        X, t = curve_from_path(*path, n, closed=closed, noise=noise, seed=0)
    except ValueError as exc:
        st.error(f"The drawn curve cannot be used: {exc}")
        return None
    spec = json.dumps([path, n, closed, noise])
    digest = hashlib.sha256(spec.encode()).hexdigest()[:16]
    return UserPoints(
        name=DRAWN_NAME,
        digest=digest,
        X=X,
        t=t,
        code=drawn_code(path, n, closed, noise),
        colour="the position t along the curve, from 0 where you started drawing to 1",
    )
