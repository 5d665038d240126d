"""Build hook of the documentation site: publish the results' figures without copying them.

The PNG figures under ``experiments/results`` are added to the site as
``results/figures/<path>`` at build time (mkdocs needs them among its files; keeping a second
copy under ``docs/`` in git would duplicate them). Pages link them through the ``fig`` macro.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "results"
FIGURE_URI = "results/figures"


def on_files(files: Files, config: Any) -> Files:
    """Add every PNG of ``experiments/results`` as ``results/figures/<relative path>``."""
    for png in sorted(RESULTS.rglob("*.png")):
        uri = f"{FIGURE_URI}/{png.relative_to(RESULTS).as_posix()}"
        files.append(File.generated(config, uri, abs_src_path=str(png)))
    return files
