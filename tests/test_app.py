"""Tests of the Streamlit explorer page through streamlit's AppTest (no browser)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import run_app


def _app(**query: str) -> AppTest:
    return run_app(**query)


def _chart(at: AppTest) -> dict[str, Any]:
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def _traces(at: AppTest) -> str:
    """The figure's trace data, serialised (to compare two runs)."""
    return json.dumps(_chart(at)["data"], sort_keys=True)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def default_app() -> AppTest:
    return _app()


def test_runs_with_defaults(default_app: AppTest) -> None:
    at = default_app
    assert not at.exception
    assert not at.error
    assert not at.warning
    assert at.title[0].value == "manifold_lab explorer"
    fig = _chart(at)
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles[:2] == ["Input", "Output/dim=15"]
    metrics = _metrics(at)
    assert set(metrics) == {
        "Normalised error",
        "Invertible",
        "Theorem 1",
        "Collapsed",
        "kNN recall",
        "Activation patterns",
    }
    assert metrics["Theorem 1"] == "100.0 %"  # P(Bin(15, 1/2) >= 2) rounds to 100 %
    # Every widget has a key and the settings are mirrored in the URL.
    params = {k: at.query_params[k] for k in at.query_params}
    assert params.items() >= {"manifold": "spiral", "width": "15", "method": "pinv"}.items()


@pytest.mark.parametrize(
    ("widget", "key", "value"),
    [
        ("slider", "width", 3),
        ("selectbox", "activation", "relu6"),
        ("selectbox", "manifold", "circle"),
        ("selectbox", "method", "lstsq"),
        ("slider", "n_samples", 500),
        ("slider", "noise", 0.1),
        ("slider", "bias", 0.5),
        ("number_input", "seed", 3),
    ],
)
def test_widgets_change_the_view(widget: str, key: str, value: Any) -> None:
    at = _app()
    before_traces, before_metrics = _traces(at), _metrics(at)
    getattr(at.sidebar, widget)(key=key).set_value(value)
    at.run()
    assert not at.exception
    assert not at.error
    assert _traces(at) != before_traces or _metrics(at) != before_metrics
    assert at.query_params[key] == str(value)


def test_dimension_widgets_only_for_manifolds_that_take_them() -> None:
    at = _app()
    keys = {s.key for s in at.sidebar.slider}
    assert "dim" not in keys and "ambient_dim" not in keys
    at.sidebar.selectbox(key="manifold").set_value("ball").run()
    keys = {s.key for s in at.sidebar.slider}
    assert {"dim", "ambient_dim"} <= keys
    at.sidebar.slider(key="dim").set_value(5).run()
    assert not at.exception and not at.error
    # the ambient dimension follows when it would fall below the intrinsic one
    ambient = at.sidebar.slider(key="ambient_dim").value
    assert isinstance(ambient, int) and ambient >= 5
    assert at.query_params["dim"] == "5"


def test_invalid_method_width_shows_an_error() -> None:
    at = _app(width="1")  # pinv needs width >= 2 on the spiral
    assert not at.exception
    assert len(at.error) == 1
    assert "width" in at.error[0].value
    assert not at.get("plotly_chart")
    # the page stays usable: fixing the width brings the chart back
    at.sidebar.selectbox(key="method").set_value("lstsq").run()
    assert not at.exception and not at.error
    assert _chart(at)


def test_lemma2_with_gelu_shows_an_error() -> None:
    at = _app(activation="gelu", method="lemma2")
    assert not at.exception
    assert len(at.error) == 1
    assert "lemma2" in at.error[0].value


def test_bad_query_parameter_falls_back_with_a_warning() -> None:
    at = _app(width="abc", manifold="nope", activation="relu6")
    assert not at.exception
    assert len(at.warning) == 1
    assert "width=abc" in at.warning[0].value and "manifold=nope" in at.warning[0].value
    assert at.sidebar.slider(key="width").value == 15
    assert at.sidebar.selectbox(key="manifold").value == "spiral"
    assert at.sidebar.selectbox(key="activation").value == "relu6"  # good ones are kept
    assert at.query_params["width"] == "15"
    assert _chart(at)
