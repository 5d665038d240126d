"""Tests of the Streamlit explorer page through streamlit's AppTest (no browser)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import run_app


def _app(**query: str) -> AppTest:
    return run_app(**query)


def _chart(at: AppTest, key: str = "case_chart") -> dict[str, Any]:
    """The figure drawn under the widget key ``key`` (one of the page's charts)."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key)]
    assert len(charts) == 1, [c.proto.id for c in at.get("plotly_chart")]
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
    # one heading: the page's title; the app's name is small text in the sidebar
    assert not at.title
    assert [h.value for h in at.header] == ["Manifold lab"]
    assert any(m.value == "**manifold_lab explorer**" for m in at.sidebar.markdown)
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


def test_width_below_the_span_guides_to_a_method_that_works() -> None:
    at = _app(width="1")  # pinv needs width >= 2 on the spiral
    assert not at.exception and not at.error
    (note,) = at.info
    assert "k = 2" in note.value and "Best affine decoder" in note.value
    assert _chart(at)["layout"]["title"]["text"].endswith("method lstsq, seed 0")
    assert at.sidebar.selectbox(key="method").value == "pinv"  # the user's choice is kept
    assert at.query_params["method"] == "pinv"
    at.sidebar.slider(key="width").set_value(2).run()  # wide enough: no notice, pinv drawn
    assert not at.info and not at.error
    assert _chart(at)["layout"]["title"]["text"].endswith("method pinv, seed 0")


def test_lemma2_with_gelu_falls_back_with_a_notice() -> None:
    at = _app(activation="gelu", method="lemma2")
    assert not at.exception and not at.error
    (note,) = at.info
    assert "no exact inverse" in note.value
    assert "method pinv" in _chart(at)["layout"]["title"]["text"]


@pytest.mark.parametrize("activation", ["gelu", "leaky_relu", "softplus", "identity"])
def test_theorem1_tile_only_where_theorem1_applies(activation: str) -> None:
    at = _app(activation=activation)
    assert not at.exception and not at.error
    assert "Theorem 1" not in _metrics(at)
    assert any("No Theorem 1 tile" in c.value for c in at.caption)
    at.sidebar.selectbox(key="activation").set_value("relu").run()
    assert "Theorem 1" in _metrics(at)
    at.sidebar.slider(key="bias").set_value(0.5).run()  # a bias: Theorem 1 does not apply
    assert "Theorem 1" not in _metrics(at)
    assert any("bias" in c.value for c in at.caption)


def test_intro_and_colour_bar_follow_the_manifold() -> None:
    from manifold_lab.registry import MANIFOLD_REGISTRY

    at = _app()
    for name in ("spiral", "sphere", "torus"):
        at.sidebar.selectbox(key="manifold").set_value(name).run()
        entry = MANIFOLD_REGISTRY[name]
        text = " ".join(m.value for m in at.markdown)
        assert entry.intro_text() in text and entry.color_label in text
        bar = _chart(at)["layout"]["coloraxis"]["colorbar"]["title"]["text"]
        assert bar.replace("<br>", " ") == entry.color_label
    assert "spiral" not in MANIFOLD_REGISTRY["sphere"].intro_text().lower()


def test_shown_code_regenerates_the_figure() -> None:
    """The code under the figure is a library call that draws the same figure."""
    at = _app(manifold="sphere", width="7", activation="relu6", bias="0.1", seed="2")
    (code,) = [c.value for c in at.get("code") if "plot_case" in c.value]
    scope: dict[str, Any] = {}
    exec(code.replace("fig.show()", ""), scope)  # the page's own code string
    assert json.loads(scope["fig"].to_json())["data"] == _chart(at)["data"]


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


def test_mechanism_view_redraws_with_width_and_explains_its_absence() -> None:
    """The partition figure follows the width; smooth activations get a one-line note."""
    at = _app(width="3")
    part = _chart(at, "partition_chart")
    assert "width 3" in part["layout"]["title"]["text"]
    names = [t["name"] for t in part["data"]]
    assert "manifold" in names and any("informative row" in n for n in names)
    at.sidebar.slider(key="width").set_value(5).run()
    assert "width 5" in _chart(at, "partition_chart")["layout"]["title"]["text"]
    (code,) = [c.value for c in at.get("code") if "plot_partition(" in c.value]
    scope: dict[str, Any] = {}
    exec(code.replace("fig.show()", ""), scope)  # the page's own code string
    assert json.loads(scope["fig"].to_json())["data"] == _chart(at, "partition_chart")["data"]
    at.sidebar.selectbox(key="activation").set_value("relu6").run()
    assert "relu6" in _chart(at, "partition_chart")["layout"]["title"]["text"]
    at.sidebar.selectbox(key="activation").set_value("gelu").run()
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("partition_chart")]
    assert any(c.value.startswith("No partition: gelu is smooth") for c in at.caption)
    at.sidebar.selectbox(key="activation").set_value("relu").run()
    at.sidebar.slider(key="width").set_value(100).run()
    assert any("Partition drawn up to width 64" in c.value for c in at.caption)
