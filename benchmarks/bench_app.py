"""Benchmark: how fast the explorer's manifold page reruns when the width slider moves.

Drives ``apps/explorer.py`` through streamlit's AppTest (no browser): 2,000 points on the
spiral (the issue's setting), then moves the width slider to widths not computed before and
times each rerun (script run plus the library's computation; the browser's drawing is not
included). Reports the median and the spread. Target: median under 300 ms on this CPU.

Run: ``python benchmarks/bench_app.py``. Writes ``benchmarks/results/bench_app.json``.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from manifold_lab.provenance import atomic_write_text, provenance

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "bench_app.json"
WIDTHS = [3, 5, 8, 12, 16, 20, 24, 30, 40, 50, 64, 80, 100, 128, 160, 200, 256]


def main() -> None:
    at = AppTest.from_file(str(ROOT / "apps" / "explorer.py"), default_timeout=120)
    at.query_params["n_samples"] = "2000"
    at.run()
    assert not at.exception, at.exception
    at.slider(key="width").set_value(2).run()  # warm-up: imports, first computation
    times = []
    for width in WIDTHS:
        t0 = time.perf_counter()
        at.slider(key="width").set_value(width).run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    median = statistics.median(times)
    print(
        f"width slider, 2,000 points, {len(WIDTHS)} uncached widths: median "
        f"{1000 * median:.0f} ms, min {1000 * min(times):.0f} ms, max {1000 * max(times):.0f} ms"
    )
    record = {
        "provenance": provenance({"n_samples": 2000, "widths": WIDTHS}),
        "seconds": dict(zip(map(str, WIDTHS), times, strict=True)),
        "median_ms": 1000 * median,
        "target_ms": 300,
    }
    atomic_write_text(OUT, json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
