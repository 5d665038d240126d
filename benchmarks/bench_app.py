"""Benchmark: how fast the explorer responds.

1. **Manifold page, width slider.** Drives ``apps/explorer.py`` through streamlit's AppTest
   (no browser): 2,000 points on the spiral (the issue's setting), then moves the width slider
   to widths not computed before and times each rerun (script run plus the library's
   computation; the browser's drawing is not included). Reports the median and the spread.
   Target: median under 300 ms on this CPU.
2. **Probe page from cold.** In a fresh Python process each time (imports, model loading and
   every cache empty, as after a fresh install), opens ``?page=probe`` with its defaults (the
   built-in CIFAR-10 model on the built-in samples) and times until the script has drawn
   Figure 7. Target: under 30 s on this CPU.

Run: ``python benchmarks/bench_app.py``. Writes ``benchmarks/results/bench_app.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from manifold_lab.fileio import atomic_write_text
from manifold_lab.records import provenance

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "bench_app.json"
WIDTHS = [3, 5, 8, 12, 16, 20, 24, 30, 40, 50, 64, 80, 100, 128, 160, 200, 256]
COLD_RUNS = 3
_COLD_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=300)
at.query_params["page"] = "probe"
at.run()
seconds = time.perf_counter() - t0
assert not at.exception and not at.error, (at.exception, at.error)
ids = [c.proto.id for c in at.get("plotly_chart")]
assert any("fig7_chart" in i for i in ids), ids
print(json.dumps({"seconds": seconds, "caption": [c.value for c in at.caption][:1]}))
"""


def cold_probe_page() -> list[float]:
    """Seconds from a fresh interpreter to the probe page's Figure 7, ``COLD_RUNS`` times."""
    times = []
    for _ in range(COLD_RUNS):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "MANIFOLD_LAB_CACHE": cache}
            out = subprocess.run(
                [sys.executable, "-c", _COLD_PROBE, str(ROOT / "apps" / "explorer.py")],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
        times.append(float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"]))
    return times


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
    cold = cold_probe_page()
    print(
        f"probe page from a fresh process to Figure 7 (built-in model and samples), "
        f"{COLD_RUNS} runs: median {statistics.median(cold):.1f} s, max {max(cold):.1f} s"
    )
    record = {
        "provenance": provenance({"n_samples": 2000, "widths": WIDTHS, "cold_runs": COLD_RUNS}),
        "seconds": dict(zip(map(str, WIDTHS), times, strict=True)),
        "median_ms": 1000 * median,
        "target_ms": 300,
        "probe_page_cold_seconds": cold,
        "probe_page_cold_median_s": statistics.median(cold),
        "probe_page_target_s": 30,
    }
    atomic_write_text(OUT, json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
