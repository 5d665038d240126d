"""Serve the explorer and drive headless Chromium over its DevTools protocol (stdlib + tornado).

Used by the browser benchmarks: :func:`serve` starts ``streamlit run apps/explorer.py`` on a
free port, :class:`Browser` starts ``/usr/bin/chromium --headless`` with a fresh profile and
remote debugging, and :meth:`Browser.page` opens a tab whose ``evaluate`` runs JavaScript in it.
tornado (a dependency of streamlit) supplies the websocket client.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tornado.websocket import WebSocketClientConnection, websocket_connect

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "apps" / "explorer.py"
CHROMIUM = Path("/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(log: Path | None = None, timeout: float = 120.0) -> Iterator[str]:
    """``streamlit run apps/explorer.py`` on a free port; yields its URL once healthy."""
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL
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
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
            try:
                url = f"http://localhost:{port}/_stcore/health"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer within {timeout:.0f} s")
            time.sleep(0.2)
        yield f"http://localhost:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


class Page:
    """One tab, driven over its DevTools websocket."""

    def __init__(self, ws: WebSocketClientConnection, loop: asyncio.AbstractEventLoop) -> None:
        self._ws, self._loop, self._ids = ws, loop, itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools method and return its result (events in between are dropped)."""
        return self._loop.run_until_complete(self._send(method, params))

    async def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        i = next(self._ids)
        await self._ws.write_message(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = await self._ws.read_message()
            if msg is None:
                raise RuntimeError("the DevTools websocket closed")
            data = json.loads(msg)
            if data.get("id") == i:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return dict(data.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return res.get("result", {}).get("value")

    def screenshot(self, path: Path, width: int, height: int) -> None:
        """A PNG of the viewport at ``width`` x ``height`` CSS pixels."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        time.sleep(1.0)  # let the charts re-lay themselves out
        png = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(png))


class Browser:
    """Headless Chromium with a fresh profile and remote debugging on a free port."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        if not CHROMIUM.exists():
            raise RuntimeError("needs /usr/bin/chromium (apt-get install -y chromium)")
        self.profile = Path(tempfile.mkdtemp(prefix="ml_chromium_"))
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--window-size={width},{height}",
                f"--user-data-dir={self.profile}",
                f"--remote-debugging-port={self.port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.loop = asyncio.new_event_loop()
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/json/version", timeout=2
                ) as resp:
                    json.load(resp)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    self.close()
                    raise TimeoutError("chromium's DevTools did not answer within 30 s") from None
                time.sleep(0.1)

    def page(self) -> Page:
        """Open a new, blank tab."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            target = json.load(resp)

        async def connect() -> WebSocketClientConnection:
            return await websocket_connect(target["webSocketDebuggerUrl"], max_message_size=1 << 28)

        ws = self.loop.run_until_complete(connect())
        return Page(ws, self.loop)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.loop.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for(page: Page, expression: str, timeout: float, every: float = 0.05) -> float | None:
    """Seconds until ``expression`` is truthy in ``page`` (polled every ``every`` s), or None."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if page.evaluate(expression):
            return time.perf_counter() - t0
        time.sleep(every)
    return None


MAIN_HEIGHT_JS = (
    "(() => { const m = document.querySelector('[data-testid=\"stMain\"]') "
    "|| document.querySelector('section.main'); return m ? m.scrollHeight : null; })()"
)
"""The height in CSS pixels of the explorer's main column (its scrolling content)."""
