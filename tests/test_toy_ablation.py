"""The miniature Figure 6 ablation (toy inverted-residual MLPs) and the ablation statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from manifold_lab.ablation import count_madds, load_runs, paired_difference
from manifold_lab.mobilenet import MobileNetV2Config, mobilenet_v2
from manifold_lab.plots import plot_learning_curves
from manifold_lab.toy import make_task, toy_ablation, train_toy


def test_seeds_trained_together_equal_seeds_trained_alone() -> None:
    both = train_toy(width=3, expansion=2, depth=2, seeds=[0, 1], steps=30)
    alone = train_toy(width=3, expansion=2, depth=2, seeds=[1], steps=30)
    assert np.isclose(both["score"][1], alone["score"][0])
    assert np.isclose(both["train_loss"][1], alone["train_loss"][0], rtol=1e-5)


def test_variants_share_initial_weights_and_differ_only_in_the_forward_pass() -> None:
    kw = {"width": 4, "expansion": 2, "depth": 2, "seeds": [0], "steps": 1}
    a = train_toy(bottleneck_activation="linear", **kw)
    b = train_toy(bottleneck_activation="relu6", **kw)
    assert a["parameters"] == b["parameters"]
    assert a["train_loss"] != b["train_loss"]


def test_a_wide_linear_bottleneck_learns_the_spirals() -> None:
    res = train_toy(width=8, expansion=4, depth=2, seeds=[0, 1], steps=400)
    assert min(res["score"]) > 0.85


def test_regression_task_and_records() -> None:
    kw = {"task": "spiral_coordinate", "width": 4, "expansion": 2, "depth": 1, "seeds": [0]}
    trained, untrained = train_toy(steps=200, **kw), train_toy(steps=1, **kw)
    assert np.isfinite(trained["score"][0]) and trained["score"][0] > untrained["score"][0] + 0.1
    records = toy_ablation(
        widths=[2], expansions=[2], seeds=[0, 1], depth=1, steps=5, progress=False
    )
    assert len(records) == 6 * 2
    assert {r["variant"] for r in records} == {
        f"{a}/{s}" for a in ("linear", "relu6") for s in ("bottleneck", "expansion", "none")
    }


def test_toy_bad_input() -> None:
    with pytest.raises(ValueError, match="task"):
        make_task("circles")
    with pytest.raises(ValueError, match="width"):
        train_toy(width=0, steps=1)
    with pytest.raises(ValueError, match="shortcut"):
        train_toy(shortcut="both", steps=1)
    with pytest.raises(ValueError, match="seeds"):
        train_toy(seeds=[], steps=1)
    X, y, _, _ = make_task("spirals", 100, seed=3)
    X2, *_ = make_task("spirals", 100, seed=3)
    assert X.shape == (100, 2) and set(y.tolist()) == {0, 1} and (X == X2).all()


def test_paired_difference_decisions() -> None:
    up = paired_difference([0.9, 0.91, 0.92, 0.93], [0.8, 0.82, 0.81, 0.8], names=("a", "b"))
    assert up["decision"] == "a wins" and up["ci_low"] > 0
    down = paired_difference([0.8, 0.82, 0.81, 0.8], [0.9, 0.91, 0.92, 0.93], names=("a", "b"))
    assert down["decision"] == "b wins"
    mixed = paired_difference([0.9, 0.8, 0.85], [0.8, 0.9, 0.85])
    assert mixed["decision"] == "inconclusive" and mixed["ci_low"] < 0 < mixed["ci_high"]
    one = paired_difference([0.9], [0.8])
    assert one["decision"] == "inconclusive" and one["n"] == 1
    # the interval is the textbook one: mean +- t(0.975, n-1) * sd / sqrt(n)
    d = np.array([0.01, 0.03, 0.02, 0.04])
    r = paired_difference(d, np.zeros(4))
    half = 3.182446305284263 * d.std(ddof=1) / 2
    assert np.isclose(r["ci_high"] - r["mean"], half)
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        paired_difference([np.nan], [1.0])


def test_count_madds() -> None:
    assert round(count_madds(mobilenet_v2(), (1, 3, 224, 224)) / 1e6) == 301  # paper: 300M
    cifar = mobilenet_v2(MobileNetV2Config(num_classes=10, stem="cifar"))
    stride1 = mobilenet_v2(MobileNetV2Config(num_classes=10, stem="stride1"))
    a, b = count_madds(cifar, (1, 3, 32, 32)), count_madds(stride1, (1, 3, 32, 32))
    assert 2 * b < a < 5 * b


def test_load_runs_and_learning_curves(tmp_path: Path) -> None:
    for variant in ("linear", "relu6"):
        for seed in (0, 1):
            d = tmp_path / f"{variant}_s{seed}"
            d.mkdir()
            records = [{"epoch": e, "step": 10 * e, "test_acc": 0.5 + 0.1 * e} for e in (1, 2)]
            (d / "metrics.json").write_text(json.dumps({"provenance": {}, "records": records}))
    df = load_runs(tmp_path)
    assert len(df) == 8 and set(df["variant"]) == {"linear", "relu6"}
    fig = plot_learning_curves(df)
    assert len(fig.data) == 6  # 2 seeds + mean, per variant
    # a variant keeps its colour whichever other variants are in the figure
    colour = {t.legendgroup: t.line.color for t in fig.data}
    alone = plot_learning_curves(df[df["variant"] == "relu6"])
    assert {t.line.color for t in alone.data} == {colour["relu6"]} != {colour["linear"]}
    with pytest.raises(ValueError, match="no runs"):
        load_runs(tmp_path / "empty")


def test_studies_are_read_and_superseded_ones_marked(tmp_path: Path) -> None:
    import shutil

    from manifold_lab.ablation import SUPERSEDED_FILE, find_studies, findings_frame, read_study
    from manifold_lab.plots import plot_ablation_findings

    results = Path(__file__).resolve().parents[1] / "experiments" / "results"
    for name in ("ablation_cpu", "ablation_cpu_6ep_v1"):
        shutil.copytree(results / name, tmp_path / name)
    studies = find_studies(tmp_path)
    assert [s.name for s in studies] == ["ablation_cpu", "ablation_cpu_6ep_v1"]
    assert [s.superseded for s in studies] == [False, True]
    recipe = dict(zip(studies[0].recipe["setting"], studies[0].recipe["value"], strict=True))
    assert recipe["epochs"] == "12" and "seed" not in recipe
    assert "model.bottleneck_activation" not in recipe  # differs between variants
    table = studies[0].comparison_table()
    assert table["95% CI (pts)"].iloc[0] == "[+6.71, +7.75]"
    fig = plot_ablation_findings(findings_frame(studies[:1]))
    assert sum(len(t.x) for t in fig.data) == len(table)
    # the marker decides, whatever the folder is called
    (tmp_path / "ablation_cpu_6ep_v1" / SUPERSEDED_FILE).unlink()
    (tmp_path / "ablation_cpu" / SUPERSEDED_FILE).write_text(
        json.dumps({"superseded_by": "ablation_cpu_6ep_v1", "reason": "test"})
    )
    assert [s.name for s in find_studies(tmp_path) if s.superseded] == ["ablation_cpu"]
    (tmp_path / "ablation_cpu" / SUPERSEDED_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="is not JSON"):
        read_study(tmp_path / "ablation_cpu")
    with pytest.raises(ValueError, match=r"has no summary\.csv"):
        read_study(tmp_path)
