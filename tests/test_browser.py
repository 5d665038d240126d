"""End-to-end test: serve the explorer with ``streamlit run`` and load it in headless Chromium.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``). A screenshot goes to the folder
named by ``MANIFOLD_LAB_ARTIFACTS`` (default ``ci-artifacts/`` in the repository root).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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
    server: str, query: str, shot: Path, profile: Path, height: int = 1000, ready: str = ""
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
        if _has_chart(dom) and ready in dom:
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
    # a probe step draws Figure 7 only with the answer: wait for the note that says so
    hidden = "appear once you have answered"
    probe = get_lesson(lesson).step(step).page == "probe"
    dom = _load(
        server, f"?lesson={lesson}&step={step}", shot, tmp_path, ready=hidden if probe else ready
    )
    assert "stException" not in dom and ready in dom and (hidden in dom) == probe
    assert get_lesson(lesson).step(step).question in dom
    assert shot.exists() and shot.stat().st_size > 50_000, "the screenshot looks empty"
