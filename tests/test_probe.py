"""Tests of manifold_lab.probing: counts known by construction, Lemma 2, reservoirs, hooks."""

from __future__ import annotations

import argparse
import math
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from manifold_lab.mobilenet import InvertedResidual, MobileNetV2, MobileNetV2Config
from manifold_lab.probing import (
    ActivationProbe,
    ProbeReport,
    ProbeResult,
    find_blocks,
    probe,
    probe_report,
    probe_source,
)
from manifold_lab.probing.reservoir import Reservoir, hash_keys, splitmix64, stream_base
from tests.conftest import SHARED_DATA

TINY = MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25)


@pytest.fixture(autouse=True)
def one_thread():
    """These networks are tiny: one intra-op thread is as fast, and far faster on a busy
    machine, where every multi-threaded operation may wait milliseconds for its threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_model(config: MobileNetV2Config = TINY, seed: int = 0) -> MobileNetV2:
    torch.manual_seed(seed)
    return MobileNetV2(config).eval()


class OneBlock(nn.Module):
    """A model whose only layer is one inverted residual (2 -> 6 -> 2 channels)."""

    def __init__(self, norm: str = "folded") -> None:
        super().__init__()
        config = MobileNetV2Config(norm=norm)
        block = InvertedResidual(config, 2, 2, 1, 3)
        self.features = nn.Sequential(OrderedDict([("0", block)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    @property
    def block(self) -> InvertedResidual:
        return self.features[0]  # type: ignore[return-value]


def set_expansion(model: OneBlock, rows: list[tuple[float, float]], bias: list[float]) -> None:
    conv = model.block.conv[0][0]
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(rows, dtype=torch.float32).reshape(6, 2, 1, 1))
        if conv.bias is not None:
            conv.bias.copy_(torch.tensor(bias))


def pattern_input() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three images of 2x3 pixels: x0 in {1, 0.5}, x1 in {+1, -1} in a fixed pattern."""
    x0 = torch.tensor(
        [[[1, 1, 0.5], [0.5, 1, 1]], [[0.5, 0.5, 0.5], [1, 1, 1]], [[1, 0.5, 1], [1, 1, 0.5]]]
    )
    x1 = torch.tensor(
        [[[1, -1, 1], [-1, -1, 1]], [[1, 1, 1], [1, -1, -1]], [[-1, 1, 1], [1, 1, 1]]]
    )
    return torch.stack([x0, x1], dim=1).float(), x0, x1


# ------------------------------------------------------------------------------------------
# counts known by construction


def test_counts_known_by_construction():
    model = OneBlock()
    # c0: x0 (informative); c1: 10 x0 (clipped at 6 when x0 = 1, else 5); c2: x1 > 0;
    # c3: -x0 (dead); c4: -x1 > 0; c5: bias -1 (dead).
    set_expansion(model, [(1, 0), (10, 0), (0, 1), (-1, 0), (0, -1), (0, 0)], [0, 0, 0, 0, 0, -1])
    x, x0, x1 = pattern_input()
    res = probe(model, x, batch_size=2, rank_pixels_per_batch=None, progress=False)
    b = res.block("features.0")
    n = x0.numel()
    n_clipped = int((x0 == 1).sum())
    assert b.n_pixels == n and b.n_images == 3
    assert b.hist_positive.tolist() == [0, 0, 0, n, 0, 0, 0]
    assert b.hist_clipped.tolist() == [n - n_clipped, n_clipped, 0, 0, 0, 0, 0]
    assert b.hist_informative.tolist() == [0, 0, n_clipped, n - n_clipped, 0, 0, 0]
    assert b.channel_positive.tolist() == [n, n, int((x1 > 0).sum()), 0, int((x1 < 0).sum()), 0]
    assert b.channel_clipped.tolist() == [0, n_clipped, 0, 0, 0, 0]
    row = res.to_frame().iloc[0]
    assert row["threshold"] == 2 and row["threshold_rel"] == pytest.approx(2 / 6)
    assert (row["pos_min"], row["pos_max"], row["pos_mean"], row["pos_std"]) == (3, 3, 3, 0)
    assert row["pos_mean_rel"] == pytest.approx(0.5)
    assert row["clipped_mean"] == pytest.approx(n_clipped / n)
    assert row["informative_mean"] == pytest.approx(3 - n_clipped / n)
    expected_std = math.sqrt(n_clipped / n * (1 - n_clipped / n))
    assert row["informative_std"] == pytest.approx(expected_std)
    assert row["dead_channels"] == 2 and row["always_on_channels"] == 2
    assert row["ever_clipped_channels"] == 1
    assert row["enough_channels_fraction"] == 1 and row["below_threshold_fraction"] == 0
    assert row["lemma2_fraction"] == 1 and row["rank_pixels_checked"] == n
    assert row["lemma2_fraction_se"] == 0


def test_lemma2_fails_on_rank_deficient_rows():
    model = OneBlock()
    # Rows c0..c2 are multiples of (1, 0): three informative channels but rank 1. c3 adds
    # the direction (0, 1) where x1 > 0: only there does Lemma 2 hold.
    set_expansion(model, [(1, 0), (2, 0), (3, 0), (0, 1), (-1, 0), (-2, 0)], [0] * 6)
    x, _, x1 = pattern_input()
    res = probe(model, x, batch_size=3, rank_pixels_per_batch=None, progress=False)
    row = res.to_frame().iloc[0]
    assert row["enough_channels_fraction"] == 1
    assert row["lemma2_fraction"] == pytest.approx(float((x1 > 0).float().mean()))
    assert row["rank_full_fraction"] == pytest.approx(float((x1 > 0).float().mean()))
    # With only duplicated directions Lemma 2 never holds although counts are enough.
    set_expansion(model, [(1, 0), (2, 0), (3, 0), (-1, 0), (-2, 0), (-3, 0)], [0] * 6)
    row = probe(model, x, rank_pixels_per_batch=None, progress=False).to_frame().iloc[0]
    assert row["enough_channels_fraction"] == 1 and row["lemma2_fraction"] == 0
    # Too few informative channels: neither.
    set_expansion(model, [(1, 0), (-1, 0), (-2, 0), (-3, 0), (-1, 0), (-2, 0)], [0] * 6)
    row = probe(model, x, rank_pixels_per_batch=None, progress=False).to_frame().iloc[0]
    assert row["enough_channels_fraction"] == 0 and row["lemma2_fraction"] == 0
    assert row["below_threshold_fraction"] == 1 and row["pos_mean"] == 1


def test_lemma2_folds_batch_norm():
    model = OneBlock(norm="batchnorm")
    set_expansion(model, [(1, 0), (0, 1), (-1, 0), (-1, 0), (-1, 0), (-1, 0)], [0] * 6)
    bn = model.block.conv[0][1]
    with torch.no_grad():
        bn.weight[1] = 0.0  # channel 1 is the constant beta = 1: positive, but carries nothing
        bn.bias[1] = 1.0
    x = torch.rand(2, 2, 3, 3) + 0.1  # x0 > 0, so channel 0 is informative everywhere
    row = probe(model, x, rank_pixels_per_batch=None, progress=False).to_frame().iloc[0]
    assert row["enough_channels_fraction"] == 1
    assert row["lemma2_fraction"] == 0  # the folded row of channel 1 is zero
    with torch.no_grad():
        bn.weight[1] = 0.5
    row = probe(model, x, rank_pixels_per_batch=None, progress=False).to_frame().iloc[0]
    assert row["lemma2_fraction"] == 1


def test_rank_subsample_is_an_unbiased_estimate():
    model = OneBlock()
    set_expansion(model, [(1, 0), (2, 0), (3, 0), (0, 1), (-1, 0), (-2, 0)], [0] * 6)
    torch.manual_seed(0)
    x = torch.stack([torch.ones(8, 16, 16), torch.randn(8, 16, 16)], dim=1)
    exact = probe(model, x, rank_pixels_per_batch=None, progress=False).to_frame().iloc[0]
    est = probe(model, x, rank_pixels_per_batch=40, batch_size=2, progress=False)
    row = est.to_frame().iloc[0]
    assert row["rank_pixels_checked"] == 4 * 40
    assert est.block("features.0").rank_subsampled
    assert abs(row["lemma2_fraction"] - exact["lemma2_fraction"]) < 4 * row["lemma2_fraction_se"]
    off = probe(model, x, rank_pixels_per_batch=0, progress=False).to_frame().iloc[0]
    assert math.isnan(off["lemma2_fraction"]) and off["rank_pixels_checked"] == 0
    assert off["enough_channels_fraction"] == exact["enough_channels_fraction"]


def test_matches_brute_force_on_torchvision_model(monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    from manifold_lab.probing import statistics

    # small chunks: early blocks are split within images, late ones grouped across images
    monkeypatch.setattr(statistics, "CHUNK_ELEMENTS", 5000)
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(weights=None).eval()
    for m in model.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 3.0)
    x = torch.randn(2, 3, 32, 32)
    res = probe(model, x, rank_pixels_per_batch=None, progress=False, stop_early=False)
    assert [b.name for b in res.blocks] == [f"features.{i}" for i in range(1, 18)]
    seen: dict[str, torch.Tensor] = {}
    handles = [
        model.get_submodule(f"features.{i}.conv.0").register_forward_hook(
            lambda m, a, out, i=i: seen.__setitem__(f"e{i}", out.clone())
        )
        for i in range(2, 18)
    ] + [
        model.get_submodule(f"features.{i}.conv.{2 if i == 1 else 3}").register_forward_hook(
            lambda m, a, out, i=i: seen.__setitem__(f"b{i}", out.clone())
        )
        for i in range(1, 18)
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    frame = res.to_frame().set_index("name")
    for i in range(2, 18):
        y = seen[f"e{i}"]
        b = res.block(f"features.{i}")
        c = y.shape[1]
        npos = (y > 0).sum(1).flatten()
        ninf = ((y > 0) & (y < 6)).sum(1).flatten()
        assert b.hist_positive.tolist() == torch.bincount(npos, minlength=c + 1).tolist()
        assert b.hist_informative.tolist() == torch.bincount(ninf, minlength=c + 1).tolist()
        assert b.channel_positive.tolist() == (y > 0).sum((0, 2, 3)).tolist()
        conv = model.get_submodule(f"features.{i}.conv.0.0")
        bn = model.get_submodule(f"features.{i}.conv.0.1")
        assert b.in_channels == conv.in_channels and b.hidden_channels == c
        W = conv.weight.double().reshape(c, -1)
        W = W * (bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps))[:, None]
        d = W.shape[1]
        mask = ((y > 0) & (y < 6)).permute(0, 2, 3, 1).reshape(-1, c).double()
        ranks = torch.linalg.matrix_rank(mask[:, :, None] * W[None])
        holds = float(((ninf >= d) & (ranks == d)).double().mean())
        assert frame.loc[f"features.{i}", "lemma2_fraction"] == pytest.approx(holds, abs=1e-12)
    for i in range(1, 18):
        z = seen[f"b{i}"]
        assert frame.loc[f"features.{i}", "bottleneck_negative_fraction"] == pytest.approx(
            float((z < 0).double().mean())
        )
        pixels = res.samples[f"features.{i}"]["pixels"]
        all_pixels = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).numpy()
        assert pixels.shape[1] == z.shape[1] and len(pixels) == min(4096, len(all_pixels))
        assert np.isin(pixels[:, 0], all_pixels[:, 0]).all()
        images = res.samples[f"features.{i}"]["images"]
        np.testing.assert_allclose(images, z.mean((2, 3)).numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------
# variants of the builder


@pytest.mark.parametrize(
    "changes",
    [
        {"bottleneck_activation": "relu6"},
        {"shortcut": "expansion"},
        {"norm": "folded", "padding": "tf_same", "stem": "imagenet"},
        {"width_mult": 0.35, "expand_ratio": 4},
    ],
)
def test_builder_variants(changes):
    model = tiny_model(TINY.replace(**changes))
    x = torch.rand(2, 3, 32, 32)
    res = probe(model, x, progress=False)
    frame = res.to_frame()
    assert len(frame) == 17 and frame["has_expansion"].sum() == 16
    exp = frame[frame["has_expansion"]]
    assert (exp["n_pixels"] > 0).all()
    assert (exp["hidden_channels"] == [b.hidden_channels for b in model.blocks()[1:]]).all()
    assert (exp["pos_max"] <= exp["hidden_channels"]).all()
    assert exp["lemma2_fraction"].notna().all()
    if changes.get("bottleneck_activation") == "relu6":
        # read before the ReLU6: negative coordinates are visible
        assert (frame["bottleneck_activation"] == "relu6").all()
        assert (frame["bottleneck_negative_fraction"] > 0).all()
    if changes.get("shortcut") == "expansion":
        assert frame["expansion_skip"].any()


def test_torchvision_blocks_found_by_structure():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.mobilenet_v2(weights=None, width_mult=0.5)
    infos = find_blocks(model)
    assert len(infos) == 17 and infos[0].name == "features.1" and not infos[0].has_expansion
    assert [i.in_channels for i in infos[1:4]] == [8, 16, 16]
    assert all(i.clip == 6 for i in infos[1:])
    ours = find_blocks(MobileNetV2(width_mult=0.5))
    assert [(i.in_channels, i.hidden_channels, i.out_channels, i.stride) for i in infos] == [
        (i.in_channels, i.hidden_channels, i.out_channels, i.stride) for i in ours
    ]


def test_block_filter():
    model = tiny_model()
    res = probe(
        model, torch.rand(1, 3, 32, 32), blocks=["features.2", "features.5"], progress=False
    )
    assert [b.name for b in res.blocks] == ["features.2", "features.5"]
    assert [b.index for b in res.blocks] == [2, 5]
    res = probe(
        model, torch.rand(1, 3, 32, 32), blocks=lambda n: n == "features.17", progress=False
    )
    assert [b.name for b in res.blocks] == ["features.17"]
    with pytest.raises(ValueError, match=r"features\.99"):
        find_blocks(model, "features.99")
    with pytest.raises(ValueError, match="keeps none"):
        find_blocks(model, lambda n: False)


# ------------------------------------------------------------------------------------------
# reservoirs


def test_hash_is_splitmix64():
    base = stream_base(7, 3)
    idx = torch.tensor([0, 1, 2, 12345, 2**40 + 17], dtype=torch.int64)
    got = hash_keys(idx, base).tolist()
    mask = (1 << 64) - 1
    for i, k in zip(idx.tolist(), got, strict=True):
        z = (i * 0x9E3779B97F4A7C15 + base) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        assert k == z & ((1 << 62) - 1)
    assert splitmix64(0) == 0xE220A8397B1DCDAF


def _samples(res: ProbeResult) -> dict[str, np.ndarray]:
    out = {}
    for name, d in res.samples.items():
        for key, value in d.items():
            out[f"b/{name}/{key}"] = value
    for name, d in res.expansion_samples.items():
        for key, value in d.items():
            out[f"e/{name}/{key}"] = value
    return out


def test_same_seed_same_reservoir_whatever_the_batch_size():
    model = tiny_model()
    x = torch.rand(12, 3, 32, 32)
    labels = torch.arange(12) % 10
    loader = [(x[i : i + 5], labels[i : i + 5]) for i in range(0, 12, 5)]
    kw = {"pixel_samples": 300, "image_samples": 5, "progress": False, "seed": 3}
    kw["blocks"] = ["features.2", "features.16"]
    a = _samples(probe(model, loader, **kw))
    b = _samples(probe(model, [(x[i : i + 3], labels[i : i + 3]) for i in range(0, 12, 3)], **kw))
    c = _samples(probe(model, loader, **{**kw, "seed": 4}))
    assert a.keys() == b.keys() and "b/features.2/labels" in a
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6)
    assert a["b/features.2/pixels"].shape == (300, 8)
    assert a["e/features.2/pixels"].shape == (300, 48)
    assert a["b/features.16/pixels"].shape == (12 * 16, 40)  # fewer pixels than the reservoir
    assert a["b/features.2/images"].shape == (5, 8)
    assert not np.array_equal(a["b/features.2/labels"], c["b/features.2/labels"]) or not (
        np.allclose(a["b/features.2/pixels"], c["b/features.2/pixels"])
    )
    # the same images are sampled in every block, with their labels
    res = probe(model, loader, **kw)
    idx = res.sample_image_index
    np.testing.assert_array_equal(idx["features.2"]["images"], idx["features.16"]["images"])
    np.testing.assert_array_equal(
        res.samples["features.2"]["labels"], labels.numpy()[idx["features.2"]["images"]]
    )


def test_reservoir_keeps_the_highest_priorities():
    keys = hash_keys(torch.arange(1000), stream_base(5, 9))
    res = Reservoir(50)
    start = 0
    for size in (7, 30, 13, 200, 1, 0, 749):  # filling, filling up, then in-place replacement
        ids = torch.arange(start, start + size)

        def gather(local, ids=ids):
            return [ids[local], ids[local].double()[:, None] * torch.ones(1, 3)]

        res.offer(keys[start : start + size], gather)
        start += size
    ids, values = res.arrays()
    expected = torch.sort(torch.topk(keys, 50).indices).values.numpy()
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_array_equal(values, np.repeat(expected[:, None], 3, axis=1))


def test_reservoir_is_uniform():
    # Priorities of distinct items are i.i.d.: every item is kept with probability k / n.
    base = stream_base(0, 1)
    keys = hash_keys(torch.arange(100_000), base)
    kept = torch.topk(keys, 10_000).indices
    counts = torch.bincount(kept // 10_000, minlength=10).double()
    assert ((counts - 1000).abs() < 5 * math.sqrt(1000)).all()


def test_memory_does_not_grow_with_images():
    model = tiny_model()
    p = ActivationProbe(model, pixel_samples=64, image_samples=4, rank_pixels_per_batch=8)
    sizes = []
    with p, torch.no_grad():
        for step in range(6):
            p.run(torch.rand(4, 3, 32, 32))
            if step in (1, 5):
                sizes.append(p.state_nbytes())
    assert sizes[0] == sizes[1] > 0
    assert p.result().metadata["n_images"] == 24


# ------------------------------------------------------------------------------------------
# scoping, datasets, bad input


def test_hooks_removed_and_training_restored_after_exception():
    model = tiny_model()
    model.train()
    model.features[3].eval()  # a mixed state must come back as it was
    flags = {n: m.training for n, m in model.named_modules()}
    p = ActivationProbe(model)
    with pytest.raises(RuntimeError, match="boom"):
        with p:
            assert not model.training
            assert model.features[2].conv[0]._forward_hooks
            model(torch.rand(1, 3, 32, 32))
            raise RuntimeError("boom")
    assert {n: m.training for n, m in model.named_modules()} == flags
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    assert not p.active
    with pytest.raises(RuntimeError, match="inside"):
        p.run(torch.rand(1, 3, 32, 32))


def test_dataset_with_preprocessing_and_labels():
    from manifold_lab.data import cifar10_sample
    from manifold_lab.weights import load_model

    model = load_model("random", config=TINY, seed=0)
    res = probe(model, cifar10_sample(), limit=10, batch_size=4, progress=False)
    meta = res.metadata
    assert meta["n_images"] == 10 and meta["resolution"] == [[32, 32]]
    assert meta["model"] == "random:seed=0" and "cifar" in meta["images"].lower()
    labels = res.samples["features.4"]["labels"]
    assert labels.shape == (10,) and (labels >= 0).all()


def test_callback_reports_progress_in_images():
    from torch.utils.data import DataLoader, TensorDataset

    model = tiny_model()
    x = torch.rand(10, 3, 32, 32)
    calls: list[tuple[int, int | None]] = []
    probe(model, x, batch_size=4, progress=False, callback=lambda *a: calls.append(a))
    assert calls == [(4, 10), (8, 10), (10, 10)]
    calls.clear()
    probe(model, x, batch_size=4, limit=6, progress=False, callback=lambda *a: calls.append(a))
    assert calls == [(4, 6), (6, 6)]
    calls.clear()
    loader = DataLoader(TensorDataset(x, torch.zeros(10, dtype=torch.long)), batch_size=5)
    probe(model, loader, progress=False, callback=lambda *a: calls.append(a))
    assert calls == [(5, 10), (10, 10)]  # images, not batches
    calls.clear()
    probe(model, [x[:3], x[3:]], progress=False, callback=lambda *a: calls.append(a))
    assert calls == [(3, None), (10, None)]
    with pytest.raises(ValueError, match="callback"):
        probe(model, x, progress=False, callback="yes")


def test_probe_report_from_sources():
    """The app's pipeline: model source, evenly spaced images, probe, ID profile, loss."""
    from manifold_lab.weights import load_model

    loaded: list[str] = []

    def loader(weights: str) -> nn.Module:
        loaded.append(weights)
        return load_model(weights, config=TINY, seed=0, progress=False)

    calls: list[tuple[float, str]] = []
    options = {"limit": 30, "spread": True, "batch_size": 16, "seed": 1, "model_loader": loader}
    report = probe_report(
        "random", "cifar10-sample", callback=lambda f, t: calls.append((f, t)), **options
    )
    assert isinstance(report, ProbeReport) and loaded == ["random"]
    result = report.result
    assert result.metadata["n_images"] == 30 and result.metadata["images"] == "cifar10-sample"
    assert result.metadata["seed"] == 1 and result.metadata["batch_size"] == 16
    # the sample is sorted by class: the evenly spaced subset holds every class
    assert set(result.samples["features.2"]["labels"].tolist()) == set(range(10))
    assert set(report.id_profile["estimator"]) == {"twonn", "pca"}
    assert len(report.bottleneck_loss) == len(result.samples)
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    texts = [t for _, t in calls]
    assert "Probing the blocks: 16 of 30 images ..." in texts and texts[-1] == "Done."
    # probe_source is the same probe without the analysis
    direct = probe_source("random", "cifar10-sample", **options)
    pd.testing.assert_frame_equal(direct.to_frame(), result.to_frame())
    first = probe_source("random", "cifar10-sample", **{**options, "spread": False})
    assert len(set(first.samples["features.2"]["labels"].tolist())) < 10
    with pytest.raises(ValueError, match="callback"):
        probe_source("random", "cifar10-sample", callback="yes")
    with pytest.raises(ValueError, match="model_loader"):
        probe_source("random", "cifar10-sample", model_loader=3)


def test_bad_input():
    with pytest.raises(ValueError, match="no inverted residual"):
        ActivationProbe(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()))
    model = tiny_model()
    with pytest.raises(ValueError, match="empty"):
        probe(model, torch.empty(0, 3, 32, 32), progress=False)
    from manifold_lab.data import TensorImageDataset

    empty = TensorImageDataset(torch.empty(0, 3, 32, 32, dtype=torch.uint8), [])
    with pytest.raises(ValueError, match="empty"):
        probe(model, empty, progress=False)
    with pytest.raises(ValueError, match="uint8"):
        probe(model, torch.zeros(2, 3, 32, 32, dtype=torch.uint8), progress=False)
    for kwargs, match in [
        ({"pixel_samples": -1}, "pixel_samples"),
        ({"rank_pixels_per_batch": 1.5}, "rank_pixels_per_batch"),
        ({"rank_rtol": 0.0}, "rank_rtol"),
        ({"seed": -2}, "seed"),
        ({"batch_size": 0}, "batch_size"),
        ({"limit": 0}, "limit"),
        ({"preprocess": "magic"}, "preprocess"),
    ]:
        with pytest.raises(ValueError, match=match):
            probe(model, torch.rand(1, 3, 32, 32), progress=False, **kwargs)
    with pytest.raises(ValueError, match="no images"):
        ActivationProbe(model).result()


def test_save_and_samples_roundtrip(tmp_path):
    from manifold_lab.results import read_results

    model = tiny_model()
    res = probe(model, torch.rand(3, 3, 32, 32), progress=False, images="noise")
    path = res.save(tmp_path / "stats.csv")
    df, prov = read_results(path)
    assert len(df) == 17 and prov["parameters"]["images"] == "noise"
    assert df["pos_mean"].iloc[1] == pytest.approx(res.to_frame()["pos_mean"].iloc[1])
    spath = res.save_samples(tmp_path / "samples.pt")
    loaded = torch.load(spath, weights_only=True)
    np.testing.assert_array_equal(
        loaded["samples"]["features.3"]["pixels"].numpy(), res.samples["features.3"]["pixels"]
    )
    hist = res.histograms("informative", relative=True)
    sums = hist.groupby("name")["fraction"].sum()
    assert np.allclose(sums, 1.0) and len(sums) == 16
    with pytest.raises(ValueError, match="csv"):
        res.save(tmp_path / "stats.txt")


def test_cpu_threads_restored():
    torch.set_num_threads(2)
    model = tiny_model()
    seen = []
    x = torch.rand(2, 3, 32, 32)
    with ActivationProbe(model, blocks="features.3", cpu_threads=1) as p:
        model.features[3].conv[0].register_forward_hook(
            lambda *a: seen.append(torch.get_num_threads())
        )
        with torch.no_grad():
            p.run(x)
    assert torch.get_num_threads() == 2 and seen == [2]  # the network keeps its threads
    a = p.result().to_frame()
    b = probe(model, x, blocks="features.3", cpu_threads=None, progress=False).to_frame()
    assert torch.get_num_threads() == 2
    drop = {"columns": ["images", "model"], "errors": "ignore"}
    pd.testing.assert_frame_equal(a.drop(**drop), b.drop(**drop))
    with pytest.raises(ValueError, match="cpu_threads"):
        ActivationProbe(model, cpu_threads=0)


def test_device(device):
    model = tiny_model()
    x = torch.rand(3, 3, 32, 32)
    kw = {"progress": False, "rank_pixels_per_batch": None, "blocks": ["features.2", "features.9"]}
    cpu = probe(model, x, device="cpu", **kw).to_frame()
    other = probe(model, x, device=device, **kw).to_frame()
    model.to("cpu")
    pd.testing.assert_frame_equal(
        cpu.drop(columns=["images"]), other.drop(columns=["images"]), rtol=1e-6
    )


# ------------------------------------------------------------------------------------------
# figures, ID profile and CLI


def test_figure7_and_id_profile():
    from manifold_lab.plots import plot_figure7, plot_id_profile

    res = probe(tiny_model(), torch.rand(2, 3, 32, 32), progress=False, rank_pixels_per_batch=0)
    fig = plot_figure7(res)
    names = {t.name for t in fig.data}
    assert names == {"average +- std", "average", "min", "max", "total", "threshold"}
    avg = [t for t in fig.data if t.name == "average"]
    assert list(avg[0].x) == list(range(1, 17))
    assert max(avg[1].y) <= 1  # the relative panel
    both = plot_figure7({"a": res, "b": res.to_frame()}, relative=True, x="block")
    assert len([t for t in both.data if t.name == "average"]) == 2
    assert list(both.data[1].x) == list(range(2, 18))
    with pytest.raises(ValueError, match="relative"):
        plot_figure7(res, relative="sometimes")
    df = pd.DataFrame({"block": [2, 3], "estimator": ["twonn"] * 2, "dimension": [3.0, 4.0]})
    assert [t.name for t in plot_id_profile(df).data] == ["TwoNN"]
    assert [t.name for t in plot_id_profile(df, labels={"twonn": "2-NN"}).data] == ["2-NN"]
    structure = plot_figure7(ProbeResult.from_blocks(find_blocks(tiny_model())))
    assert {t.name for t in structure.data} == {"total", "threshold"}


def test_id_profile():
    pytest.importorskip("manifold_lab.intrinsic_dimension")
    from manifold_lab.probing import id_profile

    blocks = ["features.2", "features.9", "features.17"]
    x = torch.rand(4, 3, 32, 32)
    res = probe(tiny_model(), x, blocks=blocks, progress=False, rank_pixels_per_batch=0)
    df = id_profile(res, methods=("twonn", "pca"), max_points=200, device="cpu")
    assert set(df["estimator"]) == {"twonn", "pca"} and list(df["index"].unique()) == [2, 9, 17]
    assert (df["dimension"] > 0).all() and (df["n_points"] <= 200).all()
    images = id_profile(res, methods="pca", which="images", layer="expansion", device="cpu")
    assert (images["n_points"] == 4).all() and (images["n_features"] > 8).all()
    with pytest.raises(ValueError, match="which"):
        id_profile(res, which="voxels")


def test_cli(tmp_path, capsys):
    from manifold_lab.cli.probe import add_parser, run
    from manifold_lab.weights import save_checkpoint

    weights = save_checkpoint(tiny_model(), tmp_path / "tiny.pt")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "stats.csv"
    args = parser.parse_args(
        [
            "probe",
            "--weights",
            str(weights),
            "--images",
            "cifar10-sample",
            "--limit",
            "2",
            "--batch-size",
            "2",
            "--out",
            str(out),
            "--figure",
            str(tmp_path / "fig7.html"),
            "--samples",
            str(tmp_path / "samples.pt"),
            "--rank-pixels",
            "4",
            "--no-progress",
        ]
    )
    run(args)
    text = capsys.readouterr().out
    assert "features.17" in text and "40>240" in text
    assert out.exists() and (tmp_path / "fig7.html").exists() and (tmp_path / "samples.pt").exists()
    with pytest.raises(SystemExit):
        parser.parse_args(["probe", "--weights", "random", "--images", "x", "--out", "o.csv",
                           "--rank-pixels", "-3"])  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(
    not (SHARED_DATA / "mobilenet_v2_1.0_224_quant.tflite").exists(),
    reason="the TF-slim TFLite model is not in ../shared/data",
)
def test_tflite_import_folded_norms():
    from manifold_lab.weights import load_model

    model = load_model(f"tflite:{SHARED_DATA / 'mobilenet_v2_1.0_224_quant.tflite'}")
    infos = find_blocks(model)
    assert all(isinstance(i.expansion_norm, nn.Identity) for i in infos[1:])
    res = probe(model, torch.rand(1, 3, 224, 224) * 2 - 1, progress=False)
    frame = res.to_frame()
    assert frame["lemma2_fraction"].notna().sum() == 16
    assert list(frame["threshold"].dropna().astype(int)) == [
        16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160
    ]  # fmt: skip


@pytest.mark.parametrize("c,d", [(24, 4), (96, 16), (200, 32)])
def test_lemma2_rank_test_equals_the_eigenvalue_test(c: int, d: int) -> None:
    from manifold_lab.probing.statistics import lemma2_full_rank

    gen = torch.Generator().manual_seed(c)
    rows = torch.randn(c, d, generator=gen, dtype=torch.float64)
    rows[: c // 4] = 0.0  # dead channels (batch norm scale 0)
    rows[c // 4 : c // 2] = rows[c // 2 : c // 2 + c // 4]  # duplicated channels
    rows[-3:, 1:] = 0.0  # rows that only see the first coordinate
    rows[-6:-3] *= 1e-9  # nearly vanishing rows
    # masks from sparse to dense, so that some pixels fail and some pass
    density = torch.linspace(0.05, 0.95, 400, dtype=torch.float64)[:, None]
    mask = torch.rand(400, c, generator=gen, dtype=torch.float64) < density
    got = lemma2_full_rank(mask, rows, 1e-5)
    expected = []
    for m in mask:
        a = rows[m]
        ev = torch.linalg.eigvalsh(a.T @ a)
        expected.append(bool(a.shape[0] >= d and ev[-1] > 0 and ev[0] > 1e-10 * ev[-1]))
    assert got.tolist() == expected
    assert 0 < sum(expected) < len(expected)


def test_lemma2_prepared_rows_and_reused_workspace_give_the_same_decisions() -> None:
    """RankRows (prepared once per probe) and a Scratch workspace reused across calls of
    different sizes decide exactly as the plain call, which allocates everything."""
    from manifold_lab.probing.statistics import RankRows, Scratch, lemma2_full_rank

    gen = torch.Generator().manual_seed(3)
    c, d = 96, 16
    rows = torch.randn(c, d, generator=gen, dtype=torch.float64)
    rows[:8] = 0.0
    prepared, workspace = RankRows(rows), Scratch()
    for n, density in [(200, 0.3), (7, 0.6), (120, 0.2), (64, 0.9)]:
        mask = torch.rand(n, c, generator=gen) < density
        plain = lemma2_full_rank(mask, rows, 1e-5)
        assert torch.equal(lemma2_full_rank(mask, prepared, 1e-5, workspace=workspace), plain)
    assert 0 < int(plain.sum()) <= 64


def test_first_active_channels_in_increasing_order_padded_with_c() -> None:
    from manifold_lab.probing.statistics import _first_active

    gen = torch.Generator().manual_seed(5)
    m = torch.rand(300, 50, generator=gen) < torch.linspace(0, 1, 300)[:, None]
    for s in (1, 7, 50):
        got = _first_active(m, s)
        for row, mask in zip(got.tolist(), m, strict=True):
            active = torch.nonzero(mask).squeeze(1).tolist()[:s]
            assert row == active + [50] * (s - len(active))


def test_partial_results_stream_the_counts():
    """``partial`` gets the structure first (through probe_source), then growing counts; the
    final result is the same as without it."""
    from manifold_lab.data import cifar10_sample
    from manifold_lab.weights import load_model

    def loader(weights):
        return load_model(weights, config=TINY, seed=0, progress=False)

    parts: list[ProbeResult] = []
    options = {"limit": 40, "spread": True, "batch_size": 10, "model_loader": loader}
    with_parts = probe_source("random", "cifar10-sample", partial=parts.append, **options)
    plain = probe_source("random", "cifar10-sample", **options)
    seen = [p.metadata["n_images"] for p in parts]
    assert seen == [0, 10, 20, 30]  # the structure, then every batch but the last
    structure = parts[0].to_frame()
    assert structure["pos_mean"].isna().all() and (structure["threshold"].dropna() > 0).all()
    assert parts[1].samples == {} and parts[1].metadata["model_name"].startswith("random")
    pd.testing.assert_frame_equal(with_parts.to_frame(), plain.to_frame())
    assert len(cifar10_sample()) >= 40
    with pytest.raises(ValueError, match="partial must be callable"):
        probe_source("random", "cifar10-sample", partial="no", **options)


def test_display_names_and_labelled_tables(tmp_path):
    from manifold_lab.probing import COLUMN_LABELS, SUMMARY_COLUMNS, split_constants
    from manifold_lab.registry import model_display_name

    assert model_display_name("builtin") == "built-in CIFAR-10 model"
    assert model_display_name(tmp_path / "mine.pt") == "mine.pt"
    assert model_display_name("random") == "random initialisation (ImageNet MobileNetV2)"
    res = probe(MobileNetV2(TINY), torch.rand(2, 3, 32, 32), progress=False, images="noise")
    res.metadata.update(model_name="my model", images_name="two noise images")
    raw = res.to_frame()
    assert set(raw.columns) <= set(COLUMN_LABELS)  # every column has a human name
    labelled = res.to_frame(labels=True)
    assert list(labelled.columns) == [COLUMN_LABELS[c] for c in raw.columns]
    assert set(labelled["model"]) == {"my model"} and set(raw["model"]) == {"MobileNetV2"}
    short, same = split_constants(res.to_frame(columns=SUMMARY_COLUMNS))
    assert same["model"] == "MobileNetV2" and same["n_images"] == 2
    assert "model" not in short.columns and "hidden_channels" in short.columns
    with pytest.raises(ValueError, match="no probe columns"):
        res.to_frame(columns=["bogus"])


def test_loss_columns_are_labelled():
    from manifold_lab.bottleneck import LOSS_COLUMN_LABELS, analyse_bottlenecks

    rng = np.random.default_rng(0)
    samples = {
        "b": {
            "pixels": rng.standard_normal((300, 4)).astype(np.float32),
            "images": rng.standard_normal((40, 4)).astype(np.float32),
            "labels": np.arange(40) % 2,
        }
    }
    assert set(analyse_bottlenecks(samples).columns) <= set(LOSS_COLUMN_LABELS)


def test_id_estimator_labels_match_the_estimators():
    from manifold_lab.intrinsic_dimension import MLE, PCADimension
    from manifold_lab.intrinsic_dimension.estimate import ID_ESTIMATORS
    from manifold_lab.registry import ID_ESTIMATOR_LABELS

    assert set(ID_ESTIMATOR_LABELS) == set(ID_ESTIMATORS)
    assert f"{PCADimension().threshold:.0%} variance" in ID_ESTIMATOR_LABELS["pca"]
    assert f"k={MLE().k}" in ID_ESTIMATOR_LABELS["mle"]


@pytest.mark.parametrize("precision", ["highest", "medium"])
def test_lemma2_float32_certificate_near_singular(monkeypatch, precision: str) -> None:
    """Near the rank threshold the float32 certificate must abstain (its rounding bound
    exceeds the margin) and leave the pixel to the float64 stages: the decisions stay those
    of the float64 eigenvalue test, with some pixels certified in float32 and some not.
    Under reduced-precision float32 products ("medium": bfloat16 or TF32) it is skipped."""
    from manifold_lab.probing import statistics

    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(precision)
    try:
        _check_lemma2_near_singular(monkeypatch, statistics, precision == "highest")
    finally:
        torch.set_float32_matmul_precision(before)


def _check_lemma2_near_singular(monkeypatch, statistics, float32: bool) -> None:

    seen = {"certified": 0, "passed_on": 0}
    certify = statistics._certify_float32

    def spy(m, rows, traces, tol, *workspace):
        ok = certify(m, rows, traces, tol, *workspace)
        seen["certified"] += int(ok.sum())
        seen["passed_on"] += int((~ok).sum())
        return ok

    monkeypatch.setattr(statistics, "_certify_float32", spy)
    gen = torch.Generator().manual_seed(7)
    c, d, rtol = 48, 8, 1e-5
    density = torch.linspace(0.2, 0.95, 60, dtype=torch.float64)[:, None]
    got: list[bool] = []
    expected: list[bool] = []
    # the smallest singular value of the active rows from 1e-8 to 1e-2 of the largest
    for eps in torch.logspace(-8, -2, 25, dtype=torch.float64).tolist():
        # nearly rank-deficient along a random direction (not a coordinate, which float32
        # would resolve as well as float64)
        q = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64)).Q
        scale = torch.ones(d, dtype=torch.float64)
        scale[0] = eps
        rows = torch.randn(c, d, generator=gen, dtype=torch.float64) @ (q * scale) @ q.T
        mask = torch.rand(60, c, generator=gen, dtype=torch.float64) < density
        got += statistics.lemma2_full_rank(mask, rows, rtol).tolist()
        for m in mask:
            a = rows[m]
            ev = torch.linalg.eigvalsh(a.T @ a)
            expected.append(bool(a.shape[0] >= d and ev[-1] > 0 and ev[0] > rtol**2 * ev[-1]))
    assert got == expected
    assert 0 < sum(expected) < len(expected)
    if not float32:
        assert seen == {"certified": 0, "passed_on": 0}
        return
    assert seen["certified"] > 0 and seen["passed_on"] > 0
    # some pixels the float32 stage passed on were full rank: the float64 stages decided them
    assert seen["certified"] < sum(expected)
