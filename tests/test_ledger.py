"""The information-loss ledger: exact recovery where Lemma 2 holds, agreement with the probe."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
from manifold_lab.probing import probe
from manifold_lab.probing.ledger import LedgerCollector, LedgerResult, column_labels, ledger
from manifold_lab.probing.reconstruction import (
    bootstrap_ratio,
    expansion_affine,
    lemma2_inverse,
)

BLOCKS = ["features.2", "features.8"]
TINY = MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25)


def _model(shift: float = 0.0, gain: float = 1.0, dtype: torch.dtype = torch.float32):
    """A random-init tiny CIFAR MobileNetV2. With ``gain``, the batch norms are first
    calibrated on the images (running statistics of one pass), then the expansions of
    ``BLOCKS`` scaled by ``gain`` and shifted by ``shift``, so that fewer channels are
    informative (Lemma 2 fails at some pixels) and some clip at 6."""
    torch.manual_seed(0)
    model = MobileNetV2(TINY).to(dtype).eval()
    if gain == 1.0 and shift == 0.0:
        return model
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
                m.reset_running_stats()
        model.train()
        model(_images(dtype=dtype))
        model.eval()
        for name in BLOCKS:
            norm = dict(model.named_modules())[name].conv[0][1]
            norm.weight.fill_(gain)
            norm.bias.fill_(shift)
    return model


def _images(n: int = 8, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(2)).to(dtype)


FAST = {"n_boot": 50, "blocks": BLOCKS, "progress": False, "device": "cpu", "batch_size": 4}


@pytest.mark.parametrize(("dtype", "limit"), [(torch.float64, 1e-24), (torch.float32, 1e-10)])
def test_exact_recovery_where_lemma2_holds(dtype, limit):
    # random initialisation: every pixel has enough informative channels of full rank
    model, x = _model(dtype=dtype), _images(dtype=dtype)
    res = ledger(model, x, pixels_per_block=100_000, **FAST)
    for b in res.blocks:
        assert b.lemma2_fraction == 1.0
        assert b.exact_fraction.value == 1.0
        assert b.nmse_lemma2.value < limit
        assert b.knn_recall_lemma2.value == 1.0 and b.collapsed_lemma2.value == 0.0
    # the inverse itself, to float precision, on the collected pairs
    collector = LedgerCollector(model, blocks=BLOCKS, pixels_per_block=100_000)
    with collector, torch.no_grad():
        collector.run(x)
    state = collector.states["features.8"]
    _, X, Y, _ = state.pairs.arrays()
    B, bias = expansion_affine(state.info)
    x_hat, _, full = lemma2_inverse(torch.as_tensor(Y), B, bias, state.info.clip)
    rel = (x_hat - torch.as_tensor(X, dtype=torch.float64)).norm(dim=1) / torch.as_tensor(
        X, dtype=torch.float64
    ).norm(dim=1)
    assert bool(full.all())
    assert float(rel.max()) < (1e-12 if dtype == torch.float64 else 1e-4)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_exact_fraction_equals_the_probes_lemma2_fraction_on_the_same_pixels(dtype):
    # shifted batch norm: some pixels lack informative channels, some channels clip at 6
    model, x = _model(shift=-5.0, gain=4.0, dtype=dtype), _images(dtype=dtype)
    pixels = 8 * 32 * 32  # every pixel of every block is sampled
    res = ledger(model, x, pixels_per_block=pixels, **FAST)
    probed = probe(
        model,
        x,
        blocks=BLOCKS,
        rank_pixels_per_batch=None,  # rank-check every pixel
        pixel_samples=pixels,
        progress=False,
        device="cpu",
        batch_size=4,
    )
    frame = probed.to_frame().set_index("name")
    for b in res.blocks:
        row = frame.loc[b.name]
        assert row["clipped_max"] > 0  # ReLU6 clipping happens at some pixels
        assert 0.05 < b.lemma2_fraction < 0.95  # Lemma 2 holds at some pixels and not others
        assert b.n_pixels == row["n_pixels"]
        assert b.lemma2_fraction == pytest.approx(row["lemma2_fraction"], abs=1e-12)
        assert b.enough_fraction == pytest.approx(row["enough_channels_fraction"], abs=1e-12)
        if dtype == torch.float64:  # exactness tolerance 1e-9
            assert b.exact_fraction.value == pytest.approx(b.lemma2_fraction, abs=1e-12)
        else:
            # tolerance 1e-3: a pixel where Lemma 2 fails still counts as recovered when its
            # input lies within 1e-3 of the directions the informative rows determine (the
            # least-squares solution); by chance a few per thousand such pixels do
            failing = b.n_pixels * (1 - b.lemma2_fraction)
            extra = b.n_pixels * (b.exact_fraction.value - b.lemma2_fraction)
            assert 0 <= extra <= 0.003 * failing + 2
        assert b.exact_fraction.low <= b.exact_fraction.value <= b.exact_fraction.high
        assert b.nmse_lemma2.value > 1e-6  # where it fails, least squares loses something


def test_ledger_samples_are_the_probes_expansion_samples():
    model, x = _model(shift=-5.0, gain=4.0), _images()
    collector = LedgerCollector(model, blocks=BLOCKS, pixels_per_block=300, seed=3)
    with collector, torch.no_grad():
        for i in range(0, 8, 3):  # another batching than the probe's
            collector.run(x[i : i + 3])
    probed = probe(model, x, blocks=BLOCKS, pixel_samples=300, seed=3, progress=False, batch_size=4)
    for name in BLOCKS:
        _, _, y, _ = collector.states[name].pairs.arrays()
        np.testing.assert_array_equal(y, probed.expansion_samples[name]["pixels"])


def test_reproducible_with_a_seed_and_saved_with_provenance(tmp_path):
    model, x = _model(shift=-5.0, gain=4.0), _images()
    a = ledger(model, x, pixels_per_block=200, seed=1, **FAST).to_frame()
    b = ledger(model, x, pixels_per_block=200, seed=1, **FAST)
    c = ledger(model, x, pixels_per_block=200, seed=2, **FAST).to_frame()
    assert a.equals(b.to_frame())
    assert not a["nmse_lemma2"].equals(c["nmse_lemma2"])
    path = b.save(tmp_path / "ledger.csv")
    assert path.read_text().startswith("# provenance: ")
    back = LedgerResult.load(path)
    assert back.blocks == b.blocks
    assert back.metadata["seed"] == 1 and back.metadata["pixels_per_block"] == 200
    labelled = b.to_frame(labels=True)
    assert "Recovered exactly (CI low)" in labelled.columns
    assert column_labels(["nmse_block"]) == {"nmse_block": "Normalised error, whole block (affine)"}


def test_relu_without_clip_and_rank_deficient_rows():
    g = torch.Generator().manual_seed(0)
    B = torch.randn(10, 3, generator=g, dtype=torch.float64)
    B[5:] = B[:5]  # duplicated rows: five distinct directions
    x = torch.randn(400, 3, generator=g, dtype=torch.float64)
    y = torch.relu(x @ B.T)
    x_hat, enough, full = lemma2_inverse(y, B, torch.zeros(10, dtype=torch.float64), math.inf)
    ok = ((x_hat - x).norm(dim=1) / x.norm(dim=1)) < 1e-9
    assert torch.equal(ok, full)
    assert 0 < int(full.sum()) < 400 and bool((enough & ~full).any())


def test_bootstrap_interval_covers_the_value():
    images = np.repeat(np.arange(30), 10)
    v = np.random.default_rng(0).random(300)
    cols = np.c_[np.ones(300), v]
    lo, hi = bootstrap_ratio(images, cols, lambda s: s[:, 1] / s[:, 0], n_boot=300, seed=0)
    assert lo < v.mean() < hi
    one_image = bootstrap_ratio(images[:10], cols[:10], len, n_boot=5, seed=0)
    assert all(math.isnan(v) for v in one_image)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pixels_per_block": 0}, "pixels_per_block"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"exact_rtol": -1.0}, "exact_rtol"),
        ({"blocks": ["features.1"]}, "no.*expansion|none of the chosen blocks"),
        ({"blocks": ["nope"]}, "not an inverted residual block"),
        ({"batch_size": 0}, "batch_size"),
        ({"callback": 3}, "callback"),
    ],
)
def test_bad_input(kwargs, match):
    options = {**FAST, **kwargs}
    with pytest.raises(ValueError, match=match):
        ledger(_model(), _images(4), **options)


def test_bad_data_and_files(tmp_path):
    with pytest.raises(ValueError, match="at least 2 images"):
        ledger(_model(), _images(1), **FAST)
    with pytest.raises(ValueError, match="no inverted residual blocks"):
        ledger(torch.nn.Linear(2, 2), _images(4), **FAST)
    res = ledger(_model(), _images(4), pixels_per_block=64, **FAST)
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        res.save(tmp_path / "ledger.txt")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a ledger file"):
        LedgerResult.load(other)


def test_phase_figure_draws_every_block_twice_over_the_curves():
    import pandas as pd

    from manifold_lab.plots import plot_ledger_phase

    res = ledger(_model(shift=-5.0, gain=4.0), _images(), pixels_per_block=200, **FAST)
    phase = pd.DataFrame(
        {"k": [1, 1, 2, 2], "ratio": [1.0, 2.0, 1.0, 2.0], "injective": [False, True] * 2}
    )
    fig = plot_ledger_phase(res, phase=phase, theory_k=(1, 2))
    blocks = [t for t in fig.data if t.name == "blocks"]
    assert len(blocks) == 2
    frame = res.to_frame()
    np.testing.assert_allclose(blocks[0].x, frame["hidden_channels"] / frame["in_channels"])
    np.testing.assert_allclose(blocks[1].x, frame["hidden_channels"] / frame["input_id"])
    np.testing.assert_allclose(blocks[0].y, frame["exact_fraction"])
    names = [t.name for t in fig.data]
    assert names.count("P(injective on the k-ball), k = 2") == 2
    with pytest.raises(ValueError, match="color"):
        plot_ledger_phase(res, color="bogus")
    with pytest.raises(ValueError, match="no column"):
        plot_ledger_phase(frame.drop(columns="input_id"))


def test_blocks_figure_draws_each_metric_with_its_interval_per_group():
    import pandas as pd

    from manifold_lab.plots import plot_ledger_blocks

    res = ledger(_model(shift=-5.0, gain=4.0), _images(), pixels_per_block=200, **FAST)
    frame = res.to_frame()
    fig = plot_ledger_blocks(res)
    assert len(fig.data) == 5
    exact = fig.data[0]
    np.testing.assert_allclose(exact.x, frame.sort_values("index")["index"])
    np.testing.assert_allclose(exact.y, frame.sort_values("index")["exact_fraction"])
    np.testing.assert_allclose(
        np.asarray(exact.error_y.array) + exact.y,
        frame.sort_values("index")["exact_fraction_high"],
    )
    nmse = fig.data[2]  # the exact inverse's error, on a log axis: floored, never 0
    assert min(nmse.y) >= 1e-16
    assert fig.layout.yaxis3.type == "log"
    two = pd.concat([frame.assign(net="a"), frame.assign(net="b")])
    fig2 = plot_ledger_blocks(two, by="net")
    assert len(fig2.data) == 10
    assert [t.name for t in fig2.data if t.showlegend] == ["a", "b"]
    with pytest.raises(ValueError, match="group by"):
        plot_ledger_blocks(frame, by="net")
    with pytest.raises(ValueError, match="no column 'nmse_block'"):
        plot_ledger_blocks(frame.drop(columns="nmse_block"))
    with pytest.raises(ValueError, match="non-empty"):
        plot_ledger_blocks(frame.iloc[:0])


def test_cli_probe_writes_the_ledger_beside_its_outputs(tmp_path, capsys):
    from manifold_lab.cli import main

    out = tmp_path / "probe.csv"
    argv = ["probe", "--weights", "random-cifar", "--images", "cifar10-sample", "--limit", "4"]
    argv += ["--out", str(out), "--ledger", "--ledger-pixels", "64", "--no-progress"]
    bad = main([*argv, "--phase-results", str(tmp_path / "missing.csv")])
    assert bad == 2 and "is not a file" in capsys.readouterr().err
    assert not out.exists()  # refused before computing
    assert main(argv) == 0
    res = LedgerResult.load(tmp_path / "probe.ledger.csv")
    assert res.metadata["n_images"] == 4 and res.metadata["pixels_per_block"] == 64
    assert (tmp_path / "probe.ledger.html").stat().st_size > 0
    assert "nmse block" in capsys.readouterr().out


def test_collector_shares_the_probes_forward_passes():
    from manifold_lab.probing import ActivationProbe

    model, x = _model(shift=-5.0, gain=4.0), _images()
    alone = ledger(model, x, pixels_per_block=200, **FAST)
    collector = LedgerCollector(model, blocks=BLOCKS, pixels_per_block=200)
    p = ActivationProbe(model, blocks=BLOCKS, stop_early=True)
    with collector, p, torch.no_grad():
        for i in range(0, 8, 4):
            p.run(x[i : i + 4])
    shared = collector.result(n_boot=50, device="cpu")
    assert shared.blocks == alone.blocks
    assert p.result().blocks[0].n_images == 8
