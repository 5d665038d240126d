"""End-to-end test: serve the explorer with ``streamlit run`` and load it in headless Chromium.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``). A screenshot goes to the folder
named by ``MANIFOLD_LAB_ARTIFACTS`` (default ``ci-artifacts/`` in the repository root).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "apps" / "explorer.py"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="headless browser test needs /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer {url} within {timeout:.0f} s")


def _chromium(url: str, profile: Path, *extra: str, budget_ms: int) -> str:
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
        *extra,
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(APP),
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "localhost",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(f"http://localhost:{port}/_stcore/health", proc)
            yield f"http://localhost:{port}/"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _has_chart(dom: str) -> bool:
    return "js-plotly-plot" in dom or "stPlotlyChart" in dom


def _load(
    server: str,
    query: str,
    shot: Path,
    profile: Path,
    height: int = 1000,
    ready: str = "",
    chart: bool = True,
) -> str:
    # Virtual time runs ahead of the websocket that delivers the page's content, so a load
    # can end before the chart arrives (the first one also waits for the server's cold
    # imports): poll, taking the DOM and the screenshot in the same load.
    dom = ""
    for attempt, budget in enumerate((15_000, 20_000, 30_000, 30_000, 45_000, 60_000, 90_000)):
        shot.unlink(missing_ok=True)
        dom = _chromium(
            server + query,
            profile / f"profile-{attempt}",
            "--dump-dom",
            f"--screenshot={shot}",
            f"--window-size=1400,{height}",
            budget_ms=budget,
        )
        if (_has_chart(dom) or not chart) and ready in dom:
            break
        time.sleep(2.0)
    return dom


PAGES = {
    "explorer": ("", "stMetric"),
    # the sweep's result, not its progress bar: the note that replaces the estimate
    "sweep": ("?page=sweep&sw_seeds=5&sw_max_width=20&ph_max_dim=2&ph_seeds=10", "cases computed"),
    "probe": ("?page=probe&pr_limit=48", "Figure 7"),
    "ablation": ("?page=ablation", "Ablation results"),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_a_chart_in_chromium(server: str, tmp_path: Path, page: str) -> None:
    artifacts = Path(os.environ.get("MANIFOLD_LAB_ARTIFACTS", ROOT / "ci-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    query, marker = PAGES[page]
    shot = artifacts / f"{page}.png"
    dom = _load(server, query, shot, tmp_path)
    assert _has_chart(dom), f"no plotly chart in the page; DOM starts with {dom[:500]!r}"
    assert "stException" not in dom
    assert "manifold_lab explorer" in dom
    assert marker in dom
    assert "stAppDeployButton" not in dom  # .streamlit/config.toml: toolbarMode = "viewer"
    assert shot.exists() and shot.stat().st_size > 50_000, "the screenshot looks empty"


@pytest.mark.parametrize("width", [2, 3, 5, 15])
def test_partition_view_screenshot(server: str, tmp_path: Path, width: int) -> None:
    """The mechanism view (the layer's linear regions) at Figure 1's widths, screenshotted
    with the partition scrolled into view (a tall window shows the case figure above it)."""
    artifacts = Path(os.environ.get("MANIFOLD_LAB_ARTIFACTS", ROOT / "ci-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / f"partition_w{width}.png"
    dom = _load(
        server,
        f"?page=manifold&width={width}&n_samples=500",
        shot,
        tmp_path,
        height=1900,
        ready="Linear regions of relu",
    )
    assert "stException" not in dom
    assert f"width {width}:" in dom and "Linear regions of relu" in dom
    assert shot.exists() and shot.stat().st_size > 50_000, "the screenshot looks empty"


def _lesson_views() -> list[tuple[str, int]]:
    from manifold_lab.lessons import LESSONS

    return [(n, i) for n, lesson in LESSONS.items() for i in sorted({1, len(lesson.steps)})]


@pytest.mark.parametrize(("lesson", "step"), _lesson_views())
def test_lesson_step_screenshot(server: str, tmp_path: Path, lesson: str, step: int) -> None:
    """Each lesson's first and last step: the lesson box with its question, the view."""
    from manifold_lab.lessons import get_lesson

    artifacts = Path(os.environ.get("MANIFOLD_LAB_ARTIFACTS", ROOT / "ci-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / f"lesson_{lesson}_step{step}.png"
    n_steps = len(get_lesson(lesson).steps)
    ready = f"step {step} of {n_steps}"
    # a probe or ablation step draws its figures only with the answer (the step's reveal
    # beyond the metric tiles): wait for the note that says so, not for a chart (the
    # ablation page has none before the answer)
    hidden = "appear once you have answered"
    noted = bool(set(get_lesson(lesson).step(step).reveal) - {"metrics"})
    dom = _load(
        server,
        f"?lesson={lesson}&step={step}",
        shot,
        tmp_path,
        ready=hidden if noted else ready,
        chart=not noted,
    )
    assert "stException" not in dom and ready in dom and (hidden in dom) == noted
    assert get_lesson(lesson).step(step).question in dom
    assert shot.exists() and shot.stat().st_size > 50_000, "the screenshot looks empty"


def _mouse(page: Any, kind: str, x: float, y: float, buttons: int) -> None:
    extra = {} if kind == "mouseMoved" else {"clickCount": 1}
    page.send(
        "Input.dispatchMouseEvent",
        type=kind,
        x=x,
        y=y,
        button="left" if buttons or kind != "mouseMoved" else "none",
        buttons=buttons,
        **extra,
    )


def _rect(page: Any, selector_js: str) -> list[float]:
    """The viewport rectangle ``[x, y, width, height]`` of an element, scrolled into view."""
    rect = page.evaluate(
        f"(() => {{ const e = {selector_js}; e.scrollIntoView({{block: 'center'}}); "
        "const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })()"
    )
    assert rect, f"no element {selector_js}"
    return [float(v) for v in rect]


def _drawn_figures(traces: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The canvas's and the case figure's traces by name, from the page's plotly charts."""
    figs = json.loads(traces)
    canvas = next(f for f in figs if "your curve" in f)
    case = next(f for f in figs if "input" in f and "reconstruction" in f)
    return canvas, case


def _check_drawn_case(traces: str, mouse: Any, pixel: float) -> None:
    """The canvas's kept path runs through the mouse's positions ``mouse`` (data units, to
    within three pixels: plotly keeps some of them as the lasso's vertices) and the case
    figure's input is :func:`manifold_lab.curve_from_path` of that path."""
    import numpy as np

    import manifold_lab as ml

    canvas_fig, case_fig = _drawn_figures(traces)
    path = np.array(canvas_fig["your curve"]).T
    gap = np.linalg.norm(path[:, None, :] - mouse[None, :, :], axis=2).min(axis=1)
    assert len(path) >= 10 and gap.max() < 3 * pixel, (len(path), gap.max())
    assert np.linalg.norm(path[0] - mouse[0]) < 3 * pixel
    assert np.linalg.norm(path[-1] - mouse[-1]) < 3 * pixel
    X, _ = ml.curve_from_path(path[:, 0], path[:, 1], 1000)
    np.testing.assert_allclose(np.array(case_fig["input"]).T, X, atol=1e-9)


def test_freehand_curve_drawn_with_the_mouse_runs_the_case(server: str) -> None:
    """Choose "Draw a curve", draw a spiral on the canvas with real mouse events (press, moves,
    release with plotly's lasso) and check the page computes the case on that curve; then
    draw a circle, which replaces it."""
    import numpy as np

    from benchmarks._cdp import Browser, wait_for

    artifacts = Path(os.environ.get("MANIFOLD_LAB_ARTIFACTS", ROOT / "ci-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    text = "document.body.innerText"
    canvas = "document.querySelector('.js-plotly-plot .nsewdrag')"
    figures = (
        "JSON.stringify([...document.querySelectorAll('.js-plotly-plot')].map(g => "
        "Object.fromEntries(g._fullData.map(d => [d.name, [Array.from(d.x || []), "
        "Array.from(d.y || [])]]))))"
    )
    s = np.linspace(0.0, 1.0, 80)
    r = 0.1 + 0.8 * s
    spiral = np.c_[r * np.cos(3.5 * np.pi * s), r * np.sin(3.5 * np.pi * s)]
    a = np.linspace(0.0, 1.9 * np.pi, 40)
    circle = np.c_[0.2 + 0.5 * np.cos(a), -0.1 + 0.5 * np.sin(a)]
    with Browser(1400, 1000) as browser:
        page = browser.page()

        def draw(mouse: Any) -> float:
            """Drag through ``mouse`` (data units) on the canvas; the size of a pixel."""
            x0, y0, w, h = _rect(page, canvas)  # the plot area: [-1, 1] on both axes
            pixels = np.c_[x0 + w * (1 + mouse[:, 0]) / 2, y0 + h * (1 - mouse[:, 1]) / 2]
            _mouse(page, "mouseMoved", *pixels[0], 0)
            _mouse(page, "mousePressed", *pixels[0], 1)
            for px, py in pixels[1:]:
                _mouse(page, "mouseMoved", px, py, 1)
                time.sleep(0.01)
            _mouse(page, "mouseReleased", *pixels[-1], 0)
            return 2.0 / w

        page.send("Page.navigate", url=server + "?page=manifold&width=6")
        label = "[...document.querySelectorAll('label')].find(l => l.innerText === 'Draw a curve')"
        assert wait_for(page, f"!!{label}", 120) is not None, "no 'Draw a curve' choice"
        x, y, _, h = _rect(page, label)
        _mouse(page, "mouseMoved", x + 8, y + h / 2, 0)
        _mouse(page, "mousePressed", x + 8, y + h / 2, 1)
        _mouse(page, "mouseReleased", x + 8, y + h / 2, 0)
        ready = f"{text}.includes('Draw a curve on the canvas to run') && !!{canvas}"
        assert wait_for(page, ready, 60) is not None, "no drawing canvas"
        time.sleep(1.0)
        pixel = draw(spiral)
        done = (
            f"{text}.includes('Your points: your drawn curve') && "
            f"{text}.includes('Linear regions of relu') && "
            "document.querySelectorAll('.js-plotly-plot').length >= 3"
        )
        assert wait_for(page, done, 120) is not None, "no case on the drawn curve"
        time.sleep(1.0)
        first = page.evaluate(figures)
        assert page.evaluate("!document.querySelector('[data-testid=stException]')")
        page.evaluate("document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
        shot = artifacts / "freehand.png"
        page.screenshot(shot, 1400, 1900)
        _check_drawn_case(first, spiral, pixel)
        # drawing again replaces the curve, and the case follows
        page.send("Emulation.clearDeviceMetricsOverride")
        time.sleep(1.0)
        canvas_fig, case_fig = _drawn_figures(first)
        path_x0, case_x0 = canvas_fig["your curve"][0][0], case_fig["input"][0][0]
        pixel = draw(circle)
        changed = (  # both the canvas's path and the case figure's input
            "(() => { const d = [...document.querySelectorAll('.js-plotly-plot')]"
            ".flatMap(g => g._fullData || []); "
            "const p = d.find(t => t.name === 'your curve'), c = d.find(t => t.name === 'input'); "
            f"return !!p && !!c && p.x[0] !== {path_x0} && c.x[0] !== {case_x0}; }})()"
        )
        assert wait_for(page, changed, 120) is not None, "the second curve did not replace it"
        time.sleep(1.0)
        second = page.evaluate(figures)
        assert page.evaluate("!document.querySelector('[data-testid=stException]')")
    _check_drawn_case(second, circle, pixel)
    assert shot.exists() and shot.stat().st_size > 50_000, "the screenshot looks empty"
