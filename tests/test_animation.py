"""Width animations: frames, slider, and files (HTML always; GIF and MP4 need Chromium)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

import manifold_lab as ml
from manifold_lab.partition import partition_cases
from manifold_lab.plots.animation import plot_width_animation, save_animation


@pytest.fixture(scope="module")
def cases() -> list[ml.CaseResult]:
    return [ml.run_case("spiral", width=w, seed=0, n_samples=300) for w in (5, 2, 3)]


@pytest.mark.parametrize("view", ["partition", "case"])
def test_frames_follow_the_widths_with_a_slider(cases: list, view: str) -> None:
    fig = plot_width_animation(cases, view=view)
    assert [f.name for f in fig.frames] == ["2", "3", "5"]
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["2", "3", "5"]
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["Play", "Pause"]
    if view == "partition":  # the same traces in every frame, so frames morph in place
        assert len({len(f.data) for f in fig.frames}) == 1
        assert "width 5" in fig.frames[-1].layout.title.text


def test_mixed_settings_and_unknown_views_are_refused(cases: list) -> None:
    other = ml.run_case("spiral", width=4, seed=1, n_samples=300)
    with pytest.raises(ValueError, match="differ"):
        plot_width_animation([*cases, other])
    with pytest.raises(ValueError, match="unknown view"):
        plot_width_animation(cases, view="movie")
    with pytest.raises(ValueError, match="no cases"):
        plot_width_animation([])


def test_the_partition_movie_from_partition_cases_is_the_same_figure(cases: list) -> None:
    light = partition_cases("spiral", widths=[3, 5, 2], seed=0, n_samples=300)
    fast = plot_width_animation(light)
    assert [f.name for f in fast.frames] == ["2", "3", "5"]
    assert fast.to_json() == plot_width_animation(cases).to_json()
    with pytest.raises(ValueError, match="full cases"):
        plot_width_animation(light, view="case")


def test_html_is_self_contained_and_written_atomically(cases: list, tmp_path: Path) -> None:
    out = save_animation(plot_width_animation(cases), tmp_path / "widths.html")
    text = out.read_text()
    assert "Plotly.addFrames" in text or '"frames"' in text
    assert list(tmp_path.iterdir()) == [out]
    with pytest.raises(ValueError, match="format"):
        save_animation(plot_width_animation(cases), tmp_path / "widths.avi")


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
    reason="GIF/MP4 frames are rendered by kaleido, which needs Chromium",
)
@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_gif_and_mp4_have_one_frame_per_width(cases: list, tmp_path: Path, suffix: str) -> None:
    if suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        pytest.skip("MP4 export needs imageio-ffmpeg (pip install imageio-ffmpeg)")
    seen: list[tuple[int, int]] = []
    out = save_animation(
        plot_width_animation(cases[:2]),
        tmp_path / f"widths{suffix}",
        width=320,
        height=240,
        progress=False,
        callback=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 2), (2, 2)]
    if suffix == ".gif":
        from PIL import Image

        with Image.open(out) as im:
            assert im.n_frames == 2 and im.size == (320, 240)
    else:
        import imageio_ffmpeg

        reader = imageio_ffmpeg.read_frames(str(out))
        meta = next(reader)
        assert tuple(meta["size"]) == (320, 240)
        assert sum(1 for _ in reader) == 2
