"""AppTest tests of your own points on the Manifold lab and Width sweep pages, and of the
width movie on the Manifold lab page."""

from __future__ import annotations

import io

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import run_app


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
    at.toggle(key=source).set_value(True).run()
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
