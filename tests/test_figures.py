"""The paper's Figure 1 (``run_figure1``, then ``plot_figure1``) and ``manifold-lab figure``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from sklearn.neighbors import NearestNeighbors

import manifold_lab as ml
from manifold_lab.cli import main
from manifold_lab.figure1 import FIGURE1_METRICS, Figure1Result, run_figure1
from manifold_lab.plots import plot_figure1, plot_width_curves, save_figure

WIDTHS = (2, 3, 5, 15, 30)
TITLES = ["Input", "Output/dim=2", "Output/dim=3", "Output/dim=5", "Output/dim=15", "Output/dim=30"]
HIGHLIGHTS = ("not invertible (Lemma 2)", "collapsed")


@pytest.fixture(scope="module")
def paper_result() -> Figure1Result:
    """The cases of the paper's Figure 1: spiral, 1,000 points, seed 0, pseudo-inverse."""
    return run_figure1("spiral", WIDTHS, seed=0)


@pytest.fixture(scope="module")
def paper(paper_result: Figure1Result) -> go.Figure:
    """The paper's Figure 1, drawn without colour."""
    return plot_figure1(paper_result)


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
    fig = plot_figure1(run_figure1("spiral", WIDTHS, n_samples=300), color=True)
    assert len(fig.data) == 6
    assert all(t.marker.coloraxis == "coloraxis" and len(t.marker.color) == 300 for t in fig.data)
    assert fig.layout.coloraxis.showscale is True
    assert fig.layout.width > paper.layout.width * 300 / 1000  # room for the colour bar


def test_highlight_adds_two_marker_traces_per_output_panel(paper_result: Figure1Result) -> None:
    fig = plot_figure1(paper_result, highlight=True)
    table = paper_result.to_frame().set_index("width")
    assert len(fig.data) == 6 + 2 * len(WIDTHS)
    marks = [t for t in fig.data if t.name in HIGHLIGHTS]
    assert {t.name for t in marks if t.showlegend} == set(HIGHLIGHTS)  # one legend entry each
    assert sum(bool(t.showlegend) for t in marks) == 2
    assert "x" not in {t.xaxis for t in marks}  # nothing on the input panel
    # the marks are the points behind the panel's metrics
    for w, xaxis in zip(WIDTHS, ("x2", "x3", "x4", "x5", "x6"), strict=True):
        bad, coll = (next(t for t in marks if t.xaxis == xaxis and t.name == n) for n in HIGHLIGHTS)
        assert len(bad.x) == round(1000 * (1 - table.loc[w, "invertible_fraction"]))
        assert len(coll.x) == round(1000 * table.loc[w, "collapsed_fraction"])
    assert fig.layout.showlegend is True


def test_several_seeds_one_row_each() -> None:
    res = run_figure1("spiral", [2, 30], seeds=[0, 1, 2], n_samples=200)
    fig = plot_figure1(res)
    assert len(fig.data) == 3 * 3
    assert _titles(fig) == ["Input", "Output/dim=2", "Output/dim=30"]
    assert [a.text for a in fig.layout.annotations if a.text.startswith("seed ")] == [
        "seed 0",
        "seed 1",
        "seed 2",
    ]
    one = plot_figure1(run_figure1("spiral", [2, 30], n_samples=200))
    assert fig.layout.height > 2.5 * one.layout.height
    table = res.to_frame()
    assert table[table.width == 2]["seed"].tolist() == [0, 1, 2]
    for s in (0, 1, 2):
        assert table.iloc[s]["nmse"] == res.case(2, s).metrics["nmse"]
    # different matrices, different pictures
    assert not np.allclose(fig.data[1].x, fig.data[4].x)


def test_three_d_and_high_dimensional_manifolds() -> None:
    fig = plot_figure1(run_figure1("swiss_roll", [3, 30], n_samples=200), highlight=True)
    assert all(isinstance(t, go.Scatter3d) for t in fig.data)
    assert len(fig.data) == 3 + 2 * 2
    assert all(s.aspectmode == "data" for s in fig.select_scenes())
    assert not any(t.mode and "lines" in t.mode for t in fig.data)  # a surface: points only
    res = run_figure1("ball", [6, 20], n_samples=200, manifold_kwargs={"dim": 2, "ambient_dim": 6})
    fig = plot_figure1(res)
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    assert "principal components" in fig.layout.title.subtitle.text


def test_figure1_errors() -> None:
    with pytest.raises(ValueError, match="one reconstruction method"):
        run_figure1(method=["pinv", "lstsq"], n_samples=100)
    with pytest.raises(ValueError, match="pseudo-inverse method needs width >= 2"):
        run_figure1(widths=[1, 2], n_samples=100)
    with pytest.raises(ValueError, match="unknown reconstruction method"):
        run_figure1(method="inverse", n_samples=100)
    with pytest.raises(ValueError, match="draws a Figure1Result"):
        plot_figure1(go.Figure())
    res = run_figure1(widths=[2, 3], n_samples=100)
    with pytest.raises(ValueError, match="no case of width 5"):
        res.case(5)


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


def test_table_matches_run_case(paper_result: Figure1Result) -> None:
    table = paper_result.to_frame()
    assert table.columns.tolist() == ["width", "seed", *FIGURE1_METRICS]
    assert table["width"].tolist() == list(WIDTHS) and set(table["seed"]) == {0}
    for w in (2, 15):
        r = ml.run_case("spiral", w, 0, method="pinv", max_neighbor_points=None)
        row = table.set_index("width").loc[w]
        for m in FIGURE1_METRICS:
            assert row[m] == pytest.approx(r.metrics[m])


# Written by the code before the compute/draw split (plot_figure1 then figure1_metrics), once.
OLD_SPIRAL_200 = {
    "nmse": [
        0.4519195878843896,
        0.9280654964214106,
        0.41527019550884114,
        0.3519757796491899,
        0.3646995953696319,
    ],
    "invertible_fraction": [0.345, 0.5, 0.925, 0.995, 0.995],
    "collapsed_fraction": [0.54, 0.25, 0.01, 0.0, 0.0],
    "knn_recall": [0.3375, 0.455, 0.5995, 0.7555, 0.7865],
}
OLD_LEMMA2_SEEDS = {
    "width": [2, 2, 30, 30],
    "seed": [0, 1, 0, 1],
    "nmse": [0.5601422615524657, 0.4182537229504125, 7.512305403222151e-32, 5.858607270855916e-32],
    "invertible_fraction": [0.345, 0.1, 0.995, 0.995],
    "collapsed_fraction": [0.54, 0.555, 0.0, 0.0],
    "knn_recall": [0.3375, 0.296, 0.7865, 0.8875],
}


def test_table_equals_the_numbers_of_the_old_figure_path() -> None:
    table = run_figure1("spiral", WIDTHS, seed=0, n_samples=200).to_frame()
    assert table["width"].tolist() == list(WIDTHS) and table["seed"].tolist() == [0] * 5
    for m, values in OLD_SPIRAL_200.items():
        np.testing.assert_allclose(table[m], values, rtol=1e-12, atol=1e-40)
    table = run_figure1("spiral", [2, 30], seeds=[0, 1], n_samples=200, method="lemma2").to_frame()
    for col, values in OLD_LEMMA2_SEEDS.items():
        np.testing.assert_allclose(table[col], values, rtol=1e-12, atol=1e-40)


def test_plot_figure1_only_draws(paper_result: Figure1Result, paper: go.Figure, monkeypatch):
    import manifold_lab.core
    import manifold_lab.figure1

    def no_computation(*args, **kwargs):
        raise AssertionError("plot_figure1 must not compute")

    for module in (manifold_lab.core, manifold_lab.figure1):
        monkeypatch.setattr(module, "run_case", no_computation)
    again = plot_figure1(paper_result)  # one result, drawn again and again
    assert again.to_json() == paper.to_json()
    styled = plot_figure1(paper_result, color=True, highlight=True, title="Figure 1")
    assert styled.layout.title.text == "Figure 1" and len(styled.data) > len(paper.data)
    assert not paper.layout.meta  # the numbers live in the result, not in the figure


def test_small_widths_lose_the_spiral_large_widths_keep_it(paper_result: Figure1Result) -> None:
    meta = paper_result.to_frame().set_index("width")
    for w in (2, 3):  # the paper: "n = 2, 3 result in information loss ... collapse"
        assert meta.loc[w, "invertible_fraction"] < 0.6
        assert meta.loc[w, "collapsed_fraction"] > 0.2
    for w in (15, 30):
        assert meta.loc[w, "invertible_fraction"] > 0.99
        assert meta.loc[w, "collapsed_fraction"] == 0
    # the least-squares decoder recovers the neighbourhoods at n = 15, 30, not at n = 2, 3
    X = ml.make_spiral(1000)[0]
    recall = {w: _knn_recall(X, ml.run_case("spiral", w, 0, method="lstsq").X_hat) for w in WIDTHS}
    assert recall[15] > 0.9 and recall[30] > 0.9
    assert recall[2] < 0.6 and recall[3] < 0.6


def test_lemma2_is_exact_where_invertible() -> None:
    table = run_figure1("spiral", [2, 30], method="lemma2", n_samples=300).to_frame()
    nmse = table.set_index("width")["nmse"]
    assert nmse[30] < 1e-20 < nmse[2]


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
    fig = plot_width_curves(s[s.method == "lstsq"], color="activation", theory_k=2, thresholds=True)
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert any(n.startswith("necessary n >= 2d (n = 4;") for n in names)
    assert any(n.startswith("Gaussian: 3.4 to 10.5 (n = 6.8 to 21;") for n in names)
    assert any(n.startswith("replica ~6.7 (n = 13.4;") for n in names)
    with pytest.raises(ValueError, match=r"several rows per \(activation.*varying: method"):
        plot_width_curves(s, color="activation")


# --- command line -------------------------------------------------------------------------


def test_cli_figure_html_without_a_browser(tmp_path: Path, capsys) -> None:
    out, data = tmp_path / "fig1.html", tmp_path / "fig1.csv"
    argv = ["figure1", "--manifold", "spiral", "--n-samples", "200"]
    rc = main([*argv, "--out", str(out), "--data", str(data)])
    assert rc == 0, capsys.readouterr().err
    text = out.read_text()
    assert _in_html("Output/dim=30", text) and 'src="http' not in text
    df, prov = ml.read_results(data)
    assert df["width"].tolist() == list(WIDTHS)
    assert set(df["method"]) == {"pinv"} and prov["parameters"]["n_samples"] == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig1.csv", "fig1.html"]


def test_cli_deprecated_figure_command_still_works(tmp_path: Path, capsys) -> None:
    old = tmp_path / "old.csv"
    new = tmp_path / "new.csv"
    args = ["--widths", "3,8", "--out", str(tmp_path / "f.html")]
    assert main(["figure", "circle", "--points", "100", *args, "--data", str(old)]) == 0
    err = capsys.readouterr().err
    assert "'figure' is deprecated; use 'manifold-lab figure1 --manifold circle" in err
    assert "--points is deprecated; use --n-samples" in err
    argv = ["figure1", "--manifold", "circle", "--n-samples", "100", *args, "--data", str(new)]
    assert main(argv) == 0
    assert ml.read_results(old)[0].equals(ml.read_results(new)[0])
    phase = ["figure", "phase", "--dims", "1", "--n-seeds", "2"]
    assert main([*phase, "--out", str(tmp_path / "p.html")]) == 0
    assert "use 'manifold-lab phase" in capsys.readouterr().err


def test_cli_figure_options(tmp_path: Path) -> None:
    out = tmp_path / "f.html"
    args = ["--n-samples", "150", "--widths", "3,8", "--out", str(out)]
    assert (
        main(["figure1", "--manifold", "circle", "--seeds", "0,1", "--color", "--highlight", *args])
        == 0
    )
    assert "seed 1" in out.read_text()
    assert main(["figure1", "--manifold", "circle", "--method", "lemma2", *args]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["figure1", "--manifold", "nope"], "unknown manifold"),
        (["figure1", "--method", "pinv,lstsq"], "one reconstruction method"),
        (["figure1", "--seed", "1", "--seeds", "0,1"], "not both"),
        (["figure1", "--widths", "1"], "needs width >= 2"),
        (["figure1", "--data", "x.txt"], "--data must end in .csv or .json"),
        (["figure1", "--method", "pinv,,lstsq"], "--method has an empty item"),
        (["figure1", "--n-samples", "100", "--points", "100"], "not both"),
        (["curves", "--activation", "relu,"], "--activation has an empty item"),
    ],
)
def test_cli_figure_errors_exit_2(tmp_path: Path, capsys, argv, message) -> None:
    extra = [] if "--n-samples" in argv else ["--n-samples", "100"]
    assert main([*argv, *extra, "--out", str(tmp_path / "f.html")]) == 2
    err = capsys.readouterr().err
    assert "manifold-lab: error: " in err and message in err
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv",
    [
        ["figure1", "--dims", "1:3"],  # an option of 'phase'
        ["curves", "--highlight"],  # an option of 'figure1'
        ["phase", "--manifold", "spiral"],
    ],
)
def test_cli_options_of_another_figure_are_refused(tmp_path: Path, capsys, argv) -> None:
    with pytest.raises(SystemExit) as exc:  # argparse: unrecognized arguments
        main([*argv, "--out", str(tmp_path / "f.html")])
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_cli_figure_bad_target_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["figure1", "--out", str(tmp_path / "f.gif")]) == 2
    assert "unknown figure format 'gif'" in capsys.readouterr().err
    assert main(["figure1", "--out", str(tmp_path / "no" / "f.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # --out is required: argparse's own exit 2
        main(["figure1"])
    assert exc.value.code == 2


def test_cli_export_failure_names_the_fix(tmp_path: Path, capsys, monkeypatch) -> None:
    def broken(self, **kwargs):
        raise RuntimeError("Chrome not found")

    monkeypatch.setattr(go.Figure, "to_image", broken)
    assert main(["figure1", "--n-samples", "100", "--out", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("manifold-lab: error: static export to PNG failed")
    assert "apt-get install -y chromium" in err and "Traceback" not in err


def test_cli_curves_figure_and_csv(tmp_path: Path, capsys) -> None:
    out, data = tmp_path / "curves.html", tmp_path / "curves.csv"
    argv = [
        "curves",
        "--widths",
        "2:6",
        "--n-seeds",
        "3",
        "--n-samples",
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
    argv = ["curves", "--widths", "2:4", "--n-seeds", "2", "--n-samples", "100"]
    argv += ["--activation", "relu,identity", "--metrics", "nmse", "--out", str(out)]
    assert main(argv) == 0
    assert main([*argv, "--method", "pinv,lstsq"]) == 2  # two methods and two activations
    assert "varying: method" in capsys.readouterr().err


def test_cli_curves_defaults(tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    argv = ["curves", "--widths", "2:3", "--n-samples", "50", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "c.html"), "--data", str(data)]) == 0
    df, prov = ml.read_results(data)
    assert prov["parameters"]["seeds"] == list(range(20))
    assert set(df["method"]) == {"pinv"}
    assert set(df["metric"]) == {"nmse", "invertible_fraction", "collapsed_fraction", "knn_recall"}


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
    argv = ["phase", "--dims", "1:2", "--n-seeds", "2", "--max-ratio", "4"]
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
    assert main(["figure1", "--widths", "2,3,5,15,30", "--out", str(out)]) == 0
    data = out.read_bytes()
    if fmt == "svg":
        assert b"<svg" in data[:2000] and b"Output/dim=30" in data
    else:
        assert data.startswith({"png": b"\x89PNG", "pdf": b"%PDF"}[fmt])
        assert len(data) > 10_000
