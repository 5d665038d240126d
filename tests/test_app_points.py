"""AppTest tests of your own points on the Manifold lab and Width sweep pages, and of the
width movie on the Manifold lab page."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import manifold_lab as ml
from tests.conftest import APP, run_app


def _csv(n: int = 300) -> bytes:
    """A noisy circle in 3-D with two labels, as a CSV with a header and a label column."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 2 * np.pi, n)
    X = np.c_[np.cos(a), np.sin(a), 0.5 * np.cos(a)]
    lines = ["x,y,z,label"] + [
        f"{x:.6f},{y:.6f},{z:.6f},{'top' if y > 0 else 'bottom'}" for x, y, z in X
    ]
    return ("\n".join(lines) + "\n").encode()


def _upload(at: AppTest, source: str, key: str, name: str, data: bytes) -> AppTest:
    at.radio(key=source).set_value("upload").run()
    assert not at.exception
    at.file_uploader(key=key).set_value((name, data, "application/octet-stream"))
    return at.run()


def _chart_ids(at: AppTest) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def test_manifold_page_runs_on_a_small_csv() -> None:
    at = run_app(timeout=120, width="6")
    at = _upload(at, "points_source", "points_upload", "circle.csv", _csv())
    assert not at.exception and not at.error
    assert any(
        "circle.csv" in m.value and "300 points in 3 dimensions" in m.value for m in at.markdown
    )
    ids = _chart_ids(at)
    assert any("case_chart" in i for i in ids) and any("partition_chart" in i for i in ids)
    code = " ".join(c.value for c in at.code)
    assert "read_points(open('circle.csv'" in code


def test_manifold_page_refuses_a_pickled_npy_in_one_line() -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}, {"b": 2}], dtype=object), allow_pickle=True)
    at = _upload(run_app(timeout=120), "points_source", "points_upload", "evil.npy", buf.getvalue())
    assert not at.exception
    (err,) = at.error
    assert err.value == "evil.npy: a pickled array (refused)"
    assert not _chart_ids(at)


def test_over_limit_file_is_refused_naming_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANIFOLD_LAB_UPLOAD_MAX_TOTAL_MB", "1")
    buf = io.BytesIO()
    np.save(buf, np.zeros((2000, 100)))  # 1.6 MB
    at = _upload(
        run_app(timeout=120, page="sweep", sw_max_width="6", sw_seeds="2"),
        "sw_points_source",
        "sw_points_upload",
        "big.npy",
        buf.getvalue(),
    )
    assert not at.exception
    (err,) = at.error
    assert "big.npy" in err.value and "over the limit of 1 MB" in err.value
    assert "\n" not in err.value
    assert "1 MB" in " ".join(c.value for c in at.caption)  # the limit is stated up front


def test_sweep_page_runs_on_uploaded_points() -> None:
    at = run_app(timeout=240, page="sweep", sw_max_width="6", sw_seeds="2")
    at = _upload(at, "sw_points_source", "sw_points_upload", "circle.csv", _csv())
    assert not at.exception and not at.error
    text = " ".join(c.value for c in at.caption)
    assert "circle.csv, 300 points in 3 dimensions" in text
    assert "cases computed in" in text and "estimated" in text
    assert any("sweep_chart" in i for i in _chart_ids(at))
    code = " ".join(c.value for c in at.code)
    assert "ml.sweep(\n    X," in code and "n_samples" not in code


def test_width_movie_builds_and_offers_html() -> None:
    at = run_app(timeout=240, n_samples="300")
    at.slider(key="movie_widths").set_value((2, 8))
    at.toggle(key="movie_on").set_value(True).run()
    assert not at.exception and not at.error
    ids = _chart_ids(at)
    assert any("movie_chart" in i for i in ids)
    chart = next(c for c in at.get("plotly_chart") if "movie_chart" in c.proto.id)
    import json

    spec = json.loads(chart.proto.spec)
    assert [f["name"] for f in spec["frames"]] == [str(w) for w in range(2, 9)]
    html = next(b for b in at.get("download_button") if "movie_html" in b.proto.id)
    assert html.proto.label == "Download HTML"


def _spiral_path() -> tuple[list[float], list[float]]:
    """The vertices of a spiral as the canvas's lasso gives them (coordinates in [-1, 1])."""
    a = np.linspace(0, 3 * np.pi, 30)
    r = 0.1 + 0.25 * a / np.pi
    return [float(v) for v in r * np.cos(a)], [float(v) for v in r * np.sin(a)]


def test_lasso_path_reads_streamlits_selection_state(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.elements.plotly_chart import PlotlyChartSelectionSerde

    monkeypatch.syspath_prepend(str(APP.parent))
    from _points import lasso_path

    # what the frontend sends after two lassos (the path of each, M/L/Z parsed to x, y)
    sent = (
        '{"selection": {"points": [], "point_indices": [], "box": [], "lasso": ['
        '{"xref": "x", "yref": "y", "x": [0, 1, 1], "y": [0, 0, 1]}, '
        '{"xref": "x", "yref": "y", "x": [0.5, -0.25, 0.1], "y": [0.2, 0.3, -0.4]}]}}'
    )
    state = PlotlyChartSelectionSerde().deserialize(sent)
    assert lasso_path(state) == ([0.5, -0.25, 0.1], [0.2, 0.3, -0.4])  # the last lasso
    assert lasso_path(PlotlyChartSelectionSerde().deserialize(None)) is None
    assert lasso_path(None) is None
    # not the browser's: refused quietly, the drawing kept as it was
    crafted = {"selection": {"lasso": [{"x": ["a", 1, 2], "y": [0, 1, 2]}]}}
    assert lasso_path(crafted) is None
    assert lasso_path({"selection": {"lasso": [{"x": [0, 1]}]}}) is None


def test_manifold_page_runs_on_a_drawn_curve_and_clears_it() -> None:
    at = run_app(timeout=120, width="6")
    at.radio(key="points_source").set_value("draw").run()
    assert not at.exception and not at.error
    assert [i.value for i in at.info] == ["Draw a curve on the canvas to run the page on it."]
    assert any("points_draw_canvas" in i for i in _chart_ids(at))
    assert not any("case_chart" in i for i in _chart_ids(at))
    at.session_state["points_draw_path"] = _spiral_path()  # what the lasso's callback keeps
    at.slider(key="points_draw_n").set_value(500).run()
    assert not at.exception and not at.error
    assert any(
        "your drawn curve" in m.value and "500 points in 2 dimensions" in m.value
        for m in at.markdown
    )
    ids = _chart_ids(at)
    assert any("case_chart" in i for i in ids) and any("partition_chart" in i for i in ids)
    chart = next(c for c in at.get("plotly_chart") if "case_chart" in c.proto.id)
    # the case figure's input is the drawn path resampled: curve_from_path's points
    X, _ = ml.curve_from_path(*_spiral_path(), 500)
    import json

    data = json.loads(chart.proto.spec)["data"][0]
    assert data["name"] == "input"
    shown = np.c_[[np.frombuffer(base64.b64decode(data[c]["bdata"]), "f8") for c in "xy"]].T
    np.testing.assert_allclose(shown, X, atol=1e-12)
    code = " ".join(c.value for c in at.code)
    assert "ml.curve_from_path(x, y, 500, closed=False, noise=0.0, seed=0)" in code
    # the code shown regenerates the points the page ran on
    scope: dict[str, object] = {}
    exec(code[code.index("x = [") : code.index("result = ")], {"ml": ml}, scope)
    np.testing.assert_allclose(scope["X"], X, atol=1e-3)  # the path is shown to 4 decimals
    # the drawing stays across reruns until cleared
    at.toggle(key="points_draw_closed").set_value(True).run()
    assert not at.exception and any("case_chart" in i for i in _chart_ids(at))
    at.button(key="points_draw_clear").click().run()
    assert "points_draw_path" not in at.session_state
    assert not any("case_chart" in i for i in _chart_ids(at))


def test_a_drawn_path_that_cannot_be_used_is_said_in_one_line() -> None:
    at = run_app(timeout=120)
    at.radio(key="points_source").set_value("draw").run()
    at.session_state["points_draw_path"] = ([0.2, 0.2, 0.2], [0.5, 0.5, 0.5])  # a click
    at.run()
    assert not at.exception
    (err,) = at.error
    assert err.value == (
        "The drawn curve cannot be used: a drawn path needs at least 3 distinct vertices, got 1"
    )
    assert not any("case_chart" in i for i in _chart_ids(at))
    # a path over the limit (only a crafted message can hold one) is neither drawn nor run
    at.session_state["points_draw_path"] = ([0.0, 1.0] * 6000, [0.0, 1.0] * 6000)
    at.run()
    assert not at.exception
    (err,) = at.error
    assert "at most 10,000 vertices, got 12,000" in err.value


def test_sweep_page_runs_on_a_drawn_curve() -> None:
    at = run_app(timeout=240, page="sweep", sw_max_width="6", sw_seeds="2", sw_points="700")
    at.radio(key="sw_points_source").set_value("draw").run()
    at.session_state["sw_points_draw_path"] = _spiral_path()
    at.slider(key="sw_points_draw_n").set_value(300).run()
    assert not at.exception and not at.error
    text = " ".join(c.value for c in at.caption)
    assert "your drawn curve, 300 points in 2 dimensions" in text
    assert "cases computed in" in text
    assert any("sweep_chart" in i for i in _chart_ids(at))
    code = " ".join(c.value for c in at.code)
    assert "ml.curve_from_path(x, y, 300" in code and "ml.sweep(\n    X," in code
    # the built-in manifold's number of points stays as the link set it (it once became 0,
    # an unreadable link setting on the next run)
    at.run()
    assert not at.warning and at.query_params["sw_points"] == "700"


def _npy(X: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()


def _cloud(n: int, d: int, k: int = 3) -> np.ndarray:
    """``n`` Gaussian points in a random ``k``-dimensional subspace of R^d."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((d, k)))[0]
    return rng.standard_normal((n, k)) @ basis.T


@pytest.mark.slow
def test_sweep_page_estimates_and_runs_the_largest_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 points in 100 dimensions (the sweep's limit): the estimate is shown, the
    sweep waits to be started, then runs and says how long it took against the estimate."""
    from manifold_lab.uploads import PointLimits
    from tests.conftest import APP

    monkeypatch.syspath_prepend(str(APP.parent))
    import page_sweep

    monkeypatch.setattr(page_sweep, "CONFIRM_S", 0.0)  # ask before any sweep
    X = _cloud(100_000, 100)
    assert X.size == PointLimits().max_sweep_values
    at = run_app(timeout=300, page="sweep", sw_max_width="4", sw_seeds="2", ph_max_dim="1")
    at = _upload(at, "sw_points_source", "sw_points_upload", "cloud.npy", _npy(X))
    assert not at.exception and not at.error
    text = " ".join(c.value for c in at.caption)
    assert "100,000 points in 100 dimensions; widths 3..4" in text
    assert "Estimated time:" in text and "4 cases (2 widths x 2 seeds" in text
    assert PointLimits().describe_sweep() in text  # the limit is stated up front
    assert any("would take about" in i.value for i in at.info)
    assert not any("sweep_chart" in i for i in _chart_ids(at))
    at.button(key="sw_go").click().run()
    assert not at.exception and not at.error
    done = [c.value for c in at.caption if "cases computed in" in c.value]
    assert done and "4 cases computed in" in done[0] and "estimated" in done[0]
    assert any("sweep_chart" in i for i in _chart_ids(at))


@pytest.mark.slow
def test_sweep_page_refuses_an_upload_over_its_limit() -> None:
    """One value over the width sweep's limit: refused in one line naming it, before any
    work on the points."""
    from manifold_lab.uploads import PointLimits

    limit = PointLimits().max_sweep_values
    X = np.zeros((limit // 1000 + 1, 1000))
    X[:, :2] = _cloud(len(X), 2, k=2)
    at = run_app(timeout=240, page="sweep", sw_max_width="4", sw_seeds="2", ph_max_dim="1")
    at = _upload(at, "sw_points_source", "sw_points_upload", "wide.npy", _npy(X))
    assert not at.exception
    (err,) = at.error
    assert err.value.startswith("wide.npy: 10,001 points x 1,000 coordinates")
    assert f"over the width sweep's limit of {limit:,} values" in err.value
    assert "\n" not in err.value
    assert not any("sweep_chart" in i for i in _chart_ids(at))
    assert not any("Estimated time" in c.value for c in at.caption)
