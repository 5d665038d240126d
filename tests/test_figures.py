"""The paper's Figure 1 (``plot_figure1``), the data behind it, and ``manifold-lab figure``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from sklearn.neighbors import NearestNeighbors

import manifold_lab as ml
from manifold_lab.cli import main
from manifold_lab.plotting import (
    FIGURE1_METRICS,
    figure1_metrics,
    plot_figure1,
    plot_width_curves,
    save_figure,
)

WIDTHS = (2, 3, 5, 15, 30)
TITLES = ["Input", "Output/dim=2", "Output/dim=3", "Output/dim=5", "Output/dim=15", "Output/dim=30"]
HIGHLIGHTS = ("not invertible (Lemma 2)", "collapsed")


@pytest.fixture(scope="module")
def paper() -> go.Figure:
    """The paper's Figure 1: spiral, 1,000 points, seed 0, pseudo-inverse, no colour."""
    return plot_figure1("spiral", WIDTHS, seed=0)


def _titles(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations if not a.text.startswith("seed ")]


def _in_html(text: str, html: str) -> bool:
    """Whether a figure's string is in plotly's HTML (which escapes ``/``, ``<`` and ``>``)."""
    for ch in "/<>":
        text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text in html


def _knn_recall(X: np.ndarray, X_hat: np.ndarray, k: int = 10) -> float:
    """Mean fraction of each point's k nearest input neighbours kept in the reconstruction."""
    idx_in = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)
    idx_out = NearestNeighbors(n_neighbors=k + 1).fit(X_hat).kneighbors(X_hat)[1]
    return float(
        np.mean([len(set(a[1:]) & set(b[1:])) / k for a, b in zip(idx_in, idx_out, strict=True)])
    )


# --- structure -------------------------------------------------------------------------


def test_panels_titles_and_paper_style(paper: go.Figure) -> None:
    assert _titles(paper) == TITLES
    assert len(paper.data) == 6  # one thin line per panel, nothing else
    assert all(t.mode == "lines" and t.line.width <= 1 for t in paper.data)
    assert {t.xaxis for t in paper.data} == {"x", "x2", "x3", "x4", "x5", "x6"}
    axes = [*paper.select_xaxes(), *paper.select_yaxes()]
    assert len(axes) == 12
    for ax in axes:  # boxed, no ticks, no grid
        assert ax.showticklabels is False and ax.showgrid is False and ax.ticks == ""
        assert ax.showline is True and ax.mirror is True
    for ax in paper.select_xaxes():  # equal aspect in every panel
        assert ax.scaleanchor == ax.anchor and ax.scaleratio == 1
    assert paper.layout.template.layout.plot_bgcolor == "white"
    assert paper.layout.showlegend is False and paper.layout.coloraxis.showscale is False
    # sized for square panels in one row
    assert paper.layout.width > 5 * paper.layout.height


def test_input_panel_is_the_spiral_in_curve_order(paper: go.Figure) -> None:
    X, t = ml.make_spiral(1000)
    tr = paper.data[0]
    np.testing.assert_allclose(np.column_stack([tr.x, tr.y]), X[np.argsort(t)])


def test_color_adds_one_colour_scale(paper: go.Figure) -> None:
    fig = plot_figure1("spiral", WIDTHS, n_samples=300, color=True)
    assert len(fig.data) == 6
    assert all(t.marker.coloraxis == "coloraxis" and len(t.marker.color) == 300 for t in fig.data)
    assert fig.layout.coloraxis.showscale is True
    assert fig.layout.width > paper.layout.width * 300 / 1000  # room for the colour bar


def test_highlight_adds_two_marker_traces_per_output_panel(paper: go.Figure) -> None:
    fig = plot_figure1("spiral", WIDTHS, highlight=True)
    assert len(fig.data) == 6 + 2 * len(WIDTHS)
    marks = [t for t in fig.data if t.name in HIGHLIGHTS]
    assert {t.name for t in marks if t.showlegend} == set(HIGHLIGHTS)  # one legend entry each
    assert sum(bool(t.showlegend) for t in marks) == 2
    assert "x" not in {t.xaxis for t in marks}  # nothing on the input panel
    # the marks are the points behind the panel's metrics
    for w, xaxis in zip(WIDTHS, ("x2", "x3", "x4", "x5", "x6"), strict=True):
        bad, coll = (next(t for t in marks if t.xaxis == xaxis and t.name == n) for n in HIGHLIGHTS)
        meta = fig.layout.meta[w]
        assert len(bad.x) == round(1000 * (1 - meta["invertible_fraction"]))
        assert len(coll.x) == round(1000 * meta["collapsed_fraction"])
    assert fig.layout.showlegend is True


def test_several_seeds_one_row_each() -> None:
    fig = plot_figure1("spiral", [2, 30], seeds=[0, 1, 2], n_samples=200)
    assert len(fig.data) == 3 * 3
    assert _titles(fig) == ["Input", "Output/dim=2", "Output/dim=30"]
    assert [a.text for a in fig.layout.annotations if a.text.startswith("seed ")] == [
        "seed 0",
        "seed 1",
        "seed 2",
    ]
    assert fig.layout.height > 2.5 * plot_figure1("spiral", [2, 30], n_samples=200).layout.height
    meta = fig.layout.meta[2]
    assert sorted(meta["per_seed"]) == [0, 1, 2]
    for m in FIGURE1_METRICS:
        assert meta[m] == pytest.approx(np.mean([v[m] for v in meta["per_seed"].values()]))
    # different matrices, different pictures
    assert not np.allclose(fig.data[1].x, fig.data[4].x)


def test_three_d_and_high_dimensional_manifolds() -> None:
    fig = plot_figure1("swiss_roll", [3, 30], n_samples=200, highlight=True)
    assert all(isinstance(t, go.Scatter3d) for t in fig.data)
    assert len(fig.data) == 3 + 2 * 2
    assert all(s.aspectmode == "data" for s in fig.select_scenes())
    assert not any(t.mode and "lines" in t.mode for t in fig.data)  # a surface: points only
    fig = plot_figure1("ball", [6, 20], n_samples=200, manifold_kwargs={"dim": 2, "ambient_dim": 6})
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    assert "principal components" in fig.layout.title.subtitle.text


def test_figure1_errors() -> None:
    with pytest.raises(ValueError, match="one reconstruction method"):
        plot_figure1(method=["pinv", "lstsq"], n_samples=100)
    with pytest.raises(ValueError, match="pseudo-inverse method needs width >= 2"):
        plot_figure1(widths=[1, 2], n_samples=100)
    with pytest.raises(ValueError, match="unknown reconstruction method"):
        plot_figure1(method="inverse", n_samples=100)
    with pytest.raises(ValueError, match="no Figure 1 metrics"):
        figure1_metrics(go.Figure())


def test_save_figure_uses_the_figures_own_size(paper: go.Figure, tmp_path: Path, monkeypatch):
    seen = {}

    def fake(self, **kwargs):
        seen.update(kwargs)
        return b"\x89PNG fake"

    monkeypatch.setattr(go.Figure, "to_image", fake)
    save_figure(paper, tmp_path / "f.png")
    assert (seen["width"], seen["height"]) == (paper.layout.width, paper.layout.height)
    save_figure(go.Figure(), tmp_path / "g.png")
    assert (seen["width"], seen["height"]) == (1000, 600)
    save_figure(paper, tmp_path / "h.png", width=300, height=100)
    assert (seen["width"], seen["height"]) == (300, 100)


# --- the data behind the picture ----------------------------------------------------------


def test_meta_matches_run_case(paper: go.Figure) -> None:
    meta = paper.layout.meta
    assert sorted(meta) == list(WIDTHS)
    for w in (2, 15):
        r = ml.run_case("spiral", w, 0, method="pinv", max_neighbor_points=None)
        for m in FIGURE1_METRICS:
            assert meta[w][m] == pytest.approx(r.metrics[m])
            assert meta[w]["per_seed"][0][m] == meta[w][m]
    table = figure1_metrics(paper)
    assert table.columns.tolist() == ["width", "seed", *FIGURE1_METRICS]
    assert table["width"].tolist() == list(WIDTHS)


def test_small_widths_lose_the_spiral_large_widths_keep_it(paper: go.Figure) -> None:
    meta = paper.layout.meta
    for w in (2, 3):  # the paper: "n = 2, 3 result in information loss ... collapse"
        assert meta[w]["invertible_fraction"] < 0.6
        assert meta[w]["collapsed_fraction"] > 0.2
    for w in (15, 30):
        assert meta[w]["invertible_fraction"] > 0.99
        assert meta[w]["collapsed_fraction"] == 0
    # the least-squares decoder recovers the neighbourhoods at n = 15, 30, not at n = 2, 3
    X = ml.make_spiral(1000)[0]
    recall = {w: _knn_recall(X, ml.run_case("spiral", w, 0, method="lstsq").X_hat) for w in WIDTHS}
    assert recall[15] > 0.9 and recall[30] > 0.9
    assert recall[2] < 0.6 and recall[3] < 0.6


def test_lemma2_is_exact_where_invertible() -> None:
    fig = plot_figure1("spiral", [2, 30], method="lemma2", n_samples=300)
    meta = fig.layout.meta
    assert meta[30]["nmse"] < 1e-20 < meta[2]["nmse"]


# --- width curves -------------------------------------------------------------------------


def test_width_curves_name_the_thresholds_and_refuse_mixed_curves() -> None:
    df = ml.sweep(
        "spiral",
        widths=[2, 4, 8],
        seeds=range(3),
        n_samples=100,
        activation=["relu", "identity"],
        method=["pinv", "lstsq"],
        metrics=["nmse", "invertible_fraction"],
        progress=False,
    )
    s = ml.summarize(df)
    fig = plot_width_curves(s[s.method == "lstsq"], color="activation", theory_d=2, thresholds=True)
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert any(n.startswith("necessary n >= 2d (n = 4;") for n in names)
    assert any(n.startswith("Gaussian: 3.4 to 10.5 (n = 6.8 to 21;") for n in names)
    assert any(n.startswith("replica ~6.7 (n = 13.4;") for n in names)
    with pytest.raises(ValueError, match=r"several rows per \(activation.*varying: method"):
        plot_width_curves(s, color="activation")


# --- command line -------------------------------------------------------------------------


def test_cli_figure_html_without_a_browser(tmp_path: Path, capsys) -> None:
    out, data = tmp_path / "fig1.html", tmp_path / "fig1.csv"
    rc = main(["figure", "spiral", "--points", "200", "--out", str(out), "--data", str(data)])
    assert rc == 0, capsys.readouterr().err
    text = out.read_text()
    assert _in_html("Output/dim=30", text) and 'src="http' not in text
    df, prov = ml.read_results(data)
    assert df["width"].tolist() == list(WIDTHS)
    assert set(df["method"]) == {"pinv"} and prov["parameters"]["n_samples"] == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig1.csv", "fig1.html"]


def test_cli_figure_options(tmp_path: Path) -> None:
    out = tmp_path / "f.html"
    args = ["--points", "150", "--widths", "3,8", "--out", str(out)]
    assert main(["figure", "circle", "--seeds", "0,1", "--color", "--highlight", *args]) == 0
    assert "seed 1" in out.read_text()
    assert main(["figure", "--manifold", "circle", "--method", "lemma2", *args]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["figure", "nope"], "unknown manifold"),
        (["figure", "circle", "--manifold", "spiral"], "two manifolds"),
        (["figure", "spiral", "--dims", "1:3"], "--dims does not apply to Figure 1"),
        (["figure", "curves", "--highlight"], "--highlight does not apply to 'figure curves'"),
        (["figure", "spiral", "--method", "pinv,lstsq"], "one reconstruction method"),
        (["figure", "spiral", "--seed", "1", "--seeds", "0,1"], "not both"),
        (["figure", "spiral", "--widths", "1"], "needs width >= 2"),
        (["figure", "spiral", "--data", "x.txt"], "--data must end in .csv or .json"),
    ],
)
def test_cli_figure_errors_exit_2(tmp_path: Path, capsys, argv, message) -> None:
    assert main([*argv, "--points", "100", "--out", str(tmp_path / "f.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("manifold-lab: error: ") and message in err
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_cli_figure_bad_target_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["figure", "spiral", "--out", str(tmp_path / "f.gif")]) == 2
    assert "unknown figure format 'gif'" in capsys.readouterr().err
    assert main(["figure", "spiral", "--out", str(tmp_path / "no" / "f.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # --out is required: argparse's own exit 2
        main(["figure", "spiral"])
    assert exc.value.code == 2


def test_cli_export_failure_names_the_fix(tmp_path: Path, capsys, monkeypatch) -> None:
    def broken(self, **kwargs):
        raise RuntimeError("Chrome not found")

    monkeypatch.setattr(go.Figure, "to_image", broken)
    assert main(["figure", "--points", "100", "--out", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("manifold-lab: error: static export to PNG failed")
    assert "apt-get install -y chromium" in err and "Traceback" not in err


def test_cli_curves_figure_and_csv(tmp_path: Path, capsys) -> None:
    out, data = tmp_path / "curves.html", tmp_path / "curves.csv"
    argv = [
        "figure",
        "curves",
        "--widths",
        "2:6",
        "--n-seeds",
        "3",
        "--points",
        "150",
        "--method",
        "pinv,lstsq,lemma2",
        "--no-progress",
        "--out",
        str(out),
        "--data",
        str(data),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    text = out.read_text()
    assert _in_html("Theorem 1: P(Bin(n, 1/2) >= 2)", text)
    df, prov = ml.read_results(data)
    assert set(df["metric"]) == {"nmse", "invertible_fraction", "collapsed_fraction", "knn_recall"}
    assert set(df["method"]) == {"pinv", "lstsq", "lemma2"}
    assert set(df["width"]) == {2, 3, 4, 5, 6} and set(df["n_seeds"]) == {3}
    assert prov["parameters"]["seeds"] == [0, 1, 2]
    # several activations: one curve per activation
    argv = ["figure", "curves", "--widths", "2:4", "--n-seeds", "2", "--points", "100"]
    argv += ["--activation", "relu,identity", "--metrics", "nmse", "--out", str(out)]
    assert main(argv) == 0
    assert main([*argv, "--method", "pinv,lstsq"]) == 2  # two methods and two activations
    assert "varying: method" in capsys.readouterr().err


def test_cli_curves_defaults(tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    argv = ["figure", "curves", "--widths", "2:3", "--points", "50", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "c.html"), "--data", str(data)]) == 0
    df, prov = ml.read_results(data)
    assert prov["parameters"]["seeds"] == list(range(20))
    assert set(df["method"]) == {"pinv"}
    assert set(df["metric"]) == {"nmse", "invertible_fraction", "collapsed_fraction", "knn_recall"}


def test_cli_phase_without_the_module_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "manifold_lab.injectivity", None)  # import fails
    assert main(["figure", "phase", "--out", str(tmp_path / "p.html")]) == 2
    assert "needs manifold_lab.injectivity" in capsys.readouterr().err


# With so few widths a level may never be crossed, and critical_ratios' bootstrap then
# takes percentiles of infinities (numpy warns); that is the estimator's business, not the CLI's.
@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract:RuntimeWarning")
def test_cli_phase(tmp_path: Path, capsys, monkeypatch) -> None:
    inj = pytest.importorskip(
        "manifold_lab.injectivity", reason="manifold_lab.injectivity is not written yet"
    )
    real = inj.phase_diagram

    def small(**kwargs):  # the CLI's wiring, not the estimator's accuracy
        return real(**kwargs, n_samples=200, n_directions=500)

    monkeypatch.setattr(inj, "phase_diagram", small)
    out, data = tmp_path / "phase.html", tmp_path / "phase.csv"
    argv = ["figure", "phase", "--dims", "1:2", "--n-seeds", "2", "--max-ratio", "4"]
    assert main([*argv, "--no-progress", "--out", str(out), "--data", str(data)]) == 0, (
        capsys.readouterr().err
    )
    assert out.stat().st_size > 10_000
    df, _ = ml.read_results(data)
    assert len(df) > 0


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium for kaleido")
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_cli_figure_static_formats(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"fig1.{fmt}"
    assert main(["figure", "spiral", "--widths", "2,3,5,15,30", "--out", str(out)]) == 0
    data = out.read_bytes()
    if fmt == "svg":
        assert b"<svg" in data[:2000] and b"Output/dim=30" in data
    else:
        assert data.startswith({"png": b"\x89PNG", "pdf": b"%PDF"}[fmt])
        assert len(data) > 10_000
