from __future__ import annotations

import shutil
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import pytest

import manifold_lab as ml
from manifold_lab.plots import plot_case, plot_width_curves, save_figure


@pytest.fixture(scope="module")
def summary():
    df = ml.sweep(
        "spiral",
        widths=[2, 3, 5, 8],
        seeds=range(5),
        n_samples=200,
        method=["pinv", "lstsq"],
        progress=False,
    )
    return ml.summarize(df)


def test_width_curves_shared_metric_drawn_once(summary) -> None:
    fig = plot_width_curves(
        summary, metrics=["nmse", "invertible_fraction"], theory_k=2, thresholds=True
    )
    names = [t.name for t in fig.data if t.mode and "lines" in t.mode]
    assert names.count("pinv") == 1 and names.count("lstsq") == 1  # nmse differs by method
    assert names.count("every method") == 1  # invertible fraction does not
    theory = next(t for t in fig.data if t.name and t.name.startswith("Theorem 1"))
    assert list(theory.x) == [2, 3, 4, 5, 6, 7, 8]
    assert fig.layout.yaxis.type == "log"  # nmse panel
    assert len(fig.layout.shapes) > 0  # injectivity thresholds marked


def test_width_curves_theory_d_is_a_deprecated_alias(summary) -> None:
    new = plot_width_curves(summary, theory_k=2, thresholds=True)
    with pytest.warns(DeprecationWarning, match="theory_k"):
        old = plot_width_curves(summary, theory_d=2, thresholds=True)
    assert old.to_json() == new.to_json()
    with pytest.raises(ValueError, match="not both"):
        plot_width_curves(summary, theory_k=2, theory_d=2)


def test_plots_use_the_house_style(summary) -> None:
    from manifold_lab.plots import style

    fig = plot_width_curves(summary, metrics=["nmse"])
    assert fig.layout.template == go.layout.Template(pio.templates[style.TEMPLATE])
    lines = [t for t in fig.data if t.mode and t.fill != "toself"]  # the bands are fills
    assert [t.line.color for t in lines] == list(style.PALETTE[:2])


def test_width_curves_bad_input(summary) -> None:
    with pytest.raises(ValueError, match="colour"):
        plot_width_curves(summary, color="optimizer")
    with pytest.raises(ValueError, match="no metric"):
        plot_width_curves(summary, metrics=["accuracy"])


def test_save_html_is_self_contained_and_atomic(tmp_path: Path) -> None:
    fig = plot_case(ml.run_case("circle", 4, 0, n_samples=100))
    out = save_figure(fig, tmp_path / "case.html")
    text = out.read_text()
    assert "plotly" in text and len(text) > 1_000_000  # plotly.js is inlined
    assert 'src="http' not in text
    assert [p.name for p in tmp_path.iterdir()] == ["case.html"]
    with pytest.raises(ValueError, match="format"):
        save_figure(fig, tmp_path / "case.gif")
    with pytest.raises(ValueError, match="does not exist"):
        save_figure(fig, tmp_path / "nope" / "case.png")


def test_static_export_error_names_the_fix(tmp_path: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("Chrome not found")

    fig = go.Figure()
    monkeypatch.setattr(fig, "to_image", broken)
    with pytest.raises(RuntimeError, match="apt-get install -y chromium"):
        save_figure(fig, tmp_path / "f.png")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium for kaleido")
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_static_export(tmp_path: Path, fmt: str) -> None:
    fig = plot_case(ml.run_case("spiral", 5, 0, n_samples=200))
    out = save_figure(fig, tmp_path / f"case.{fmt}", width=600, height=300)
    head = out.read_bytes()[:8]
    assert head.startswith({"png": b"\x89PNG", "svg": b"<svg", "pdf": b"%PDF"}[fmt])
