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

Spec = dict[str, tuple[Any, Callable[[str], Any]]]


def int_in(lo: int, hi: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < lo or (hi is not None and value > hi):
            raise ValueError(text)
        return value

    return parse


def float_in(lo: float, hi: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not lo <= value <= hi:  # also refuses nan
            raise ValueError(text)
        return value

    return parse


def choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(text)
        return text

    return parse


def choices(options: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        values = [v for v in text.split(",") if v]
        if not values or any(v not in options for v in values):
            raise ValueError(text)
        return values

    return parse


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

    st.query_params.from_dict(
        {"page": page, **{k: text(v) for k, v in settings.items() if v is not None}}
    )
