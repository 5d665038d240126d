"""The documentation site in a headless browser: it builds, serves, and its pages render.

Builds the site with ``mkdocs build --strict`` (or uses ``$MANIFOLD_LAB_DOCS_SITE`` when CI
built it already), serves it with ``python -m http.server`` on a free port, and opens pages in
headless Chromium. Screenshots of the home page (``docs_home.png``), a guide page, a results
page, an API reference page and the API's cross-reference links (``docs_api_links.png``) go to
``$MANIFOLD_LAB_ARTIFACTS`` (default ``ci-artifacts/``).
"""

from __future__ import annotations

import os
import re
import shutil
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
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="headless browser test needs /usr/bin/chromium (apt-get install -y chromium)",
    ),
    pytest.mark.skipif(
        shutil.which("mkdocs") is None and not os.environ.get("MANIFOLD_LAB_DOCS_SITE"),
        reason='building the docs needs mkdocs (pip install -e ".[docs]")',
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site: CI's, or one built here (strict) into a temporary folder."""
    given = os.environ.get("MANIFOLD_LAB_DOCS_SITE")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=site,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _open(url: str, shot: Path, profile: Path) -> str:
    """The page's DOM after scripts ran, and a screenshot of its top."""
    shot.unlink(missing_ok=True)
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--window-size=1400,1000",
        "--dump-dom",
        f"--screenshot={shot}",
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    return done.stdout


def _artifacts() -> Path:
    folder = Path(os.environ.get("MANIFOLD_LAB_ARTIFACTS", ROOT / "ci-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# page -> (path in the site, screenshot name, texts the rendered page must contain)
PAGES = {
    "home": ("", "docs_home.png", ["manifold_lab", "Where to go", "Figure 1"]),
    "guide": ("guide/manifolds/", "docs_guide.png", ["Manifolds and widths", "Swiss roll"]),
    "results": (
        "results/ablation-cifar/",
        "docs_results.png",
        ["CIFAR-10 ablation", "linear wins", "Provenance of"],
    ),
    # mkdocstrings renders the signature of sweep, with its parameters
    "api": (
        "reference/experiments/",
        "docs_api.png",
        ["doc-signature", 'id="manifold_lab.sweeps.sweep"', "widths", "Parameters"],
    ),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_docs_page_renders_in_chromium(server: str, tmp_path: Path, page: str) -> None:
    path, name, texts = PAGES[page]
    shot = _artifacts() / name
    dom = _open(server + path, shot, tmp_path / "profile")
    missing = [t for t in texts if t not in dom]
    assert not missing, f"{page}: {missing} not in the DOM; it starts with {dom[:500]!r}"
    # the theme's scripts ran (search is built by JavaScript) and no macro error was rendered
    assert "md-search" in dom
    assert "Macro Rendering Error" not in dom and "docs macro:" not in dom
    assert shot.exists() and shot.stat().st_size > 20_000, "the screenshot looks empty"


def test_api_cross_references_are_links(server: str, tmp_path: Path) -> None:
    """The docstrings' Sphinx roles (``:class:`~manifold_lab.probing.ActivationProbe```) are
    rendered as links to the documented object (docs/_ext/sphinx_roles.py), not as raw text."""
    shot = _artifacts() / "docs_api_links.png"
    # (no #fragment: headless Chromium screenshots a scrolled page blank)
    dom = _open(server + "reference/probing/", shot, tmp_path / "profile")
    assert 'id="manifold_lab.probing.ProbeResult"' in dom, dom[:500]
    raw = re.findall(r":(?:func|class|meth|mod|data|attr):(?:<code>|`)", dom)
    assert not raw, f"{len(raw)} Sphinx roles rendered as raw text"
    links = re.findall(r'<a class="autorefs autorefs-internal"[^>]*href="([^"]+)"', dom)
    assert "#manifold_lab.probing.ActivationProbe" in links
    assert any(href.startswith("../") for href in links), "no link to another API page"
    assert shot.exists() and shot.stat().st_size > 20_000, "the screenshot looks empty"


def test_results_figures_are_served(server: str) -> None:
    """The results' figures, published by the build hook, are reachable from the pages."""
    with urllib.request.urlopen(server + "results/figures/figure1.png", timeout=10) as resp:
        assert resp.status == 200
        assert resp.read(8) == b"\x89PNG\r\n\x1a\n"
