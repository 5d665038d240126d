"""Shared helpers of the explorer's pages: settings that live in the URL's query parameters.

Every page declares its settings as ``{name: (default, parser)}``; :func:`init_state` fills
``st.session_state`` from the URL (or the defaults) once, and :func:`sync_query` writes the
current page and its settings back, so a link reproduces the view. A setting that cannot be
read falls back to its default and is reported, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from manifold_lab.registry import Param, Registry

Spec = dict[str, tuple[Any, Callable[[str], Any]]]


def from_param(
    param: Param, choices: tuple[str, ...] | None = None
) -> tuple[Any, Callable[[str], Any]]:
    """A URL setting read with the library's definition of ``param`` (its range, its choices).

    ``choices`` (e.g. a registry's names) replaces the parameter's own choices.
    """
    p = param if choices is None else param.replace(choices=tuple(choices))
    default = list(p.default) if p.kind == "choices" else p.default
    return default, p.parse


KEPT = ("lesson", "step", "hide")
"""URL parameters that are not a page's settings and stay in the URL (lessons, hidden
controls)."""


def shown(key: str) -> bool:
    """Whether the control ``key`` is drawn: False when the URL (``hide=a,b``) or the lesson
    step hides it; its value then stays as the link set it."""
    if key in st.session_state.get("_hidden", ()):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]  # kept while its widget is absent
        return False
    return True


def slider(container: Any, param: Param, key: str, **kwargs: Any) -> Any:
    """A slider with the label, range, step and tooltip of ``param`` (none when hidden)."""
    if not shown(key):
        return st.session_state[key]
    return container.slider(
        param.label,
        param.minimum,
        param.maximum,
        step=param.step,
        key=key,
        help=param.help,
        **kwargs,
    )


def select(container: Any, label: str, registry: Registry[Any], key: str, **kwargs: Any) -> Any:
    """A select box over a registry's entries, labelled and explained by the entries (none
    when hidden)."""
    if not shown(key):
        return st.session_state[key]
    labels = registry.labels()
    return container.selectbox(
        label,
        tuple(labels),
        format_func=labels.__getitem__,
        key=key,
        help="; ".join(f"{e.label}: {e.description}" for e in registry),
        **kwargs,
    )


def init_state(spec: Spec) -> list[str]:
    """Fill missing settings in session state from the URL (or the defaults).

    Returns the ``name=value`` query parameters that could not be read.
    """
    bad = []
    for name, (default, parse) in spec.items():
        if name in st.session_state:
            continue
        value = default
        if name in st.query_params:
            text = st.query_params[name]
            try:
                value = parse(text)
            except ValueError:
                bad.append(f"{name}={text}")
        st.session_state[name] = value
    return bad


def warn_bad(bad: list[str]) -> None:
    if bad:
        st.warning(
            "Ignored unreadable link settings "
            + ", ".join(f"`{p}`" for p in bad)
            + "; using the defaults instead."
        )


def sync_query(page: str, settings: dict[str, Any]) -> None:
    """Mirror the page and its settings in the URL."""

    def text(v: Any) -> str:
        return ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v)

    kept = {k: st.query_params[k] for k in KEPT if k in st.query_params}
    st.query_params.from_dict(
        {"page": page, **{k: text(v) for k, v in settings.items() if v is not None}, **kept}
    )


def figure_downloads(
    container: Any,
    fig: Any,
    *,
    name: str,
    key: str,
    data: Any = None,
    code: str | None = None,
) -> None:
    """Download buttons under a figure: PNG, SVG and PDF (made on click), its data as CSV, and
    the library call that regenerates it.

    Parameters
    ----------
    container : streamlit container
        Where the buttons go (``st`` or a column).
    fig : plotly.graph_objects.Figure
        The figure shown.
    name : str
        File name stem, e.g. ``"figure1_spiral_w15"``.
    key : str
        Unique widget-key prefix on the page.
    data : pandas.DataFrame or None
        The numbers drawn, offered as CSV.
    code : str or None
        Python that regenerates the figure with the library, shown in a code block.
    """
    from manifold_lab.plots.export import figure_bytes

    box = container.popover("Download figure, data and code")
    cols = box.columns(4)
    mimes = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
    for col, (fmt, mime) in zip(cols, mimes.items(), strict=False):
        col.download_button(
            fmt.upper(),
            data=lambda fmt=fmt: figure_bytes(fig, fmt),
            file_name=f"{name}.{fmt}",
            mime=mime,
            key=f"{key}_{fmt}",
            on_click="ignore",
        )
    if data is not None:
        cols[3].download_button(
            "CSV",
            data=data.to_csv(index=False).encode(),
            file_name=f"{name}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            on_click="ignore",
        )
    if code:
        box.caption("Regenerate it with the library:")
        box.code(code, language="python")
