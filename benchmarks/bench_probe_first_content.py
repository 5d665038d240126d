"""Benchmark: how soon the probe page shows something, opened in a new tab of a warm server.

Serves ``apps/explorer.py`` with ``streamlit run``, opens it once (its default page, so the
server has imported everything: warm), then opens ``?page=probe`` (the defaults: the built-in
CIFAR-10 model on 200 built-in images, not computed before) ``--runs`` times, each in a fresh
headless Chromium profile, and records when elements appear in the page's DOM:

* ``header``: the page's heading (the script has started drawing the page);
* ``first content``: the sentence on the model's structure (blocks, expansion widths,
  invertibility thresholds), written as soon as the model is loaded;
* ``first chart``: the first plotly chart drawn, the same structure as Figure 7's widths and
  threshold lines, then filled in with the probe's partial counts as batches arrive;
* ``figure 7 complete``: the caption that says every image has been probed.

Method: Chromium's DevTools protocol over a websocket (``benchmarks/_cdp.py``); the test
``document.querySelector(...)`` is evaluated every 50 ms from the moment the navigation is
sent, so each time is exact to about 50 ms plus one DevTools round trip (a few ms). Each run
after the first uses a new seed (``pr_seed``), so no run finds the probe cached.

Baseline, measured in the same run: right after each run, the same URL opened again in
another fresh profile, when the server has every stage of that probe cached. Its times are
the browser's and Streamlit's own floor for a fresh profile (loading the front end's
scripts and plotly's, opening the websocket, drawing the charts), with no computation. The
probe page's first chart is reported in seconds and as a ratio to that floor.

Target (issue 16): the probe page's first content within 3 s on a quiet machine. The
machine's load average before and after is recorded with the numbers.

Run: ``python benchmarks/bench_probe_first_content.py [--runs 3]``. Writes
``benchmarks/results/bench_probe_first_content.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cdp import Browser, serve, wait_for

from manifold_lab.fileio import atomic_write_text
from manifold_lab.records import provenance

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "bench_probe_first_content.json"
TARGET_S = 3.0

HEADER = "document.querySelector('[data-testid=\"stHeading\"], h2') !== null"
CHART = "document.querySelector('.js-plotly-plot .main-svg') !== null"
DONE = "document.body.innerText.includes('{marker}')"


def open_page(url: str, marks: dict[str, str], timeout: float) -> dict[str, float | None]:
    """Seconds from sending the navigation until each of ``marks`` is true (fresh profile)."""
    with Browser() as browser:
        page = browser.page()
        page.send("Page.navigate", url=url)
        t0 = time.perf_counter()
        times: dict[str, float | None] = {}
        for name, expression in marks.items():
            left = timeout - (time.perf_counter() - t0)
            found = wait_for(page, expression, max(left, 0.1))
            times[name] = None if found is None else time.perf_counter() - t0
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh-profile openings per page")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per opening")
    args = parser.parse_args()
    load = os.getloadavg()
    with serve() as url:
        warm = open_page(url, {"header": HEADER, "chart": CHART}, args.timeout)
        print(f"warm-up (default page): {warm}", flush=True)
        probe_runs, floor_runs = [], []
        marks = {
            "header": HEADER,
            "first content": DONE.format(marker="with an expansion layer"),
            "first chart": CHART,
            "figure 7 complete": DONE.format(marker="200 images probed at"),
            "page complete": "document.body.innerText.includes('What a ReLU') && "
            "!document.querySelector('[data-testid=\"stProgress\"]')",
        }
        for run in range(args.runs):
            page = url + f"?page=probe&pr_seed={100 + run}"
            times = open_page(page, marks, args.timeout)
            probe_runs.append(times)
            floor = open_page(page, marks, args.timeout)  # now cached on the server
            floor_runs.append(floor)
            print(f"run {run}: probe page {times}; cached {floor}", flush=True)

    def med(runs: list[dict[str, float | None]], key: str) -> float | None:
        values = [r[key] for r in runs if r[key] is not None]
        return statistics.median(values) if len(values) == len(runs) else None

    first = med(probe_runs, "first chart")
    floor_chart = med(floor_runs, "first chart")
    content, floor_content = med(probe_runs, "first content"), med(floor_runs, "first content")
    summary = {
        "probe_header_s": med(probe_runs, "header"),
        "probe_first_content_s": content,
        "floor_first_content_s": floor_content,
        "first_content_over_floor": content / floor_content if content and floor_content else None,
        "probe_first_chart_s": first,
        "probe_figure7_complete_s": med(probe_runs, "figure 7 complete"),
        "probe_page_complete_s": med(probe_runs, "page complete"),
        "floor_header_s": med(floor_runs, "header"),
        "floor_first_chart_s": floor_chart,
        "first_chart_over_floor": first / floor_chart if first and floor_chart else None,
        "target_s": TARGET_S,
        "load_average_before": load,
        "load_average_after": os.getloadavg(),
    }
    for key, value in summary.items():
        print(f"{key}: {value}")
    record = {
        "provenance": provenance({"runs": args.runs, "poll_interval_s": 0.05}),
        "probe_runs": probe_runs,
        "floor_runs": floor_runs,
        "warm_up": warm,
        **summary,
    }
    atomic_write_text(OUT, json.dumps(record, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
