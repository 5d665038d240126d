"""The MobileNetV2 builder: torchvision equivalence, Figure 6 variants, CIFAR stem, padding."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from manifold_lab.mobilenet import (
    TABLE2,
    Conv2dSame,
    InvertedResidual,
    MobileNetV2,
    MobileNetV2Config,
    describe_blocks,
    make_divisible,
    mobilenet_v2,
)

# torchvision's blocks with a residual: stride 1 and in == out (indices into features).
RESIDUAL_BLOCKS = [3, 5, 6, 8, 9, 10, 12, 13, 15, 16]
# Blocks whose expansion is joined to the previous block's expansion (same width, stride 1).
EXPANSION_SKIPS = [4, 6, 7, 9, 10, 11, 13, 14, 16, 17]


def _randomise_batchnorm(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.randn(n, generator=g) * 0.5 + 1)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)


@pytest.mark.parametrize("width_mult", [1.0, 0.5, 1.4])
def test_default_builder_is_torchvision(width_mult: float) -> None:
    torch.manual_seed(0)
    tv = torchvision.models.mobilenet_v2(width_mult=width_mult)
    with torch.no_grad():
        _randomise_batchnorm(tv)
    ours = MobileNetV2(width_mult=width_mult)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in tv.named_modules()]
    assert list(ours.state_dict()) == list(tv.state_dict())
    ours.load_state_dict(tv.state_dict())  # strict
    tv.eval()
    ours.eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = tv(x), ours(x)
    rel = ((a - b).norm() / a.norm()).item()
    assert rel < 1e-5
    if width_mult == 1.0:
        assert sum(p.numel() for p in ours.parameters()) == 3_504_872
        assert ours.block_names() == [f"features.{i}" for i in range(1, 18)]


def test_table2_and_make_divisible() -> None:
    assert TABLE2[0] == (1, 16, 1, 1) and TABLE2[-1] == (6, 320, 1, 1)
    assert sum(n for _, _, n, _ in TABLE2) == 17
    assert make_divisible(32 * 0.35) == 16
    assert make_divisible(1280 * 1.4) == 1792
    assert make_divisible(17, 1) == 17


@pytest.mark.parametrize(
    ("shortcut", "activation", "stem"),
    [
        *itertools.product(["bottleneck", "expansion", "none"], ["linear", "relu6"], ["cifar"]),
        ("bottleneck", "linear", "imagenet"),
        ("expansion", "relu6", "imagenet"),
    ],
)
def test_figure6_variants_build_run_and_have_the_expected_structure(
    shortcut: str, activation: str, stem: str
) -> None:
    config = MobileNetV2Config(
        num_classes=10,
        stem=stem,
        shortcut=shortcut,
        bottleneck_activation=activation,  # type: ignore[arg-type]
    )
    model = mobilenet_v2(config, seed=0)
    rows = describe_blocks(model)
    assert len(rows) == 17
    bottleneck = [int(r["name"].split(".")[1]) for r in rows if r["bottleneck_shortcut"]]
    expansion = [int(r["name"].split(".")[1]) for r in rows if r["expansion_shortcut"]]
    assert bottleneck == (RESIDUAL_BLOCKS if shortcut == "bottleneck" else [])
    assert expansion == (EXPANSION_SKIPS if shortcut == "expansion" else [])
    for block in model.blocks():
        last = block.conv[-1]
        if activation == "relu6":
            assert isinstance(last, nn.ReLU6)
            assert isinstance(block.conv[-2], nn.BatchNorm2d)
        else:
            assert isinstance(last, nn.BatchNorm2d)
            assert block.projection_activation is None
    # parameters do not depend on the variant: the same state dict loads into all of them
    reference = mobilenet_v2(MobileNetV2Config(num_classes=10, stem=stem), seed=0)
    model.load_state_dict(reference.state_dict())
    size = 32 if stem == "cifar" else 64
    model.train()
    x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(0))
    out = model(x)
    assert out.shape == (4, 10)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.features[1].conv[0][0].weight.grad.abs().sum() > 0


def test_bottleneck_shortcut_adds_the_input() -> None:
    model = mobilenet_v2(MobileNetV2Config(num_classes=10, stem="cifar"), seed=0).eval()
    block = model.features[3]
    with torch.no_grad():
        block.conv[3].weight.zero_()
        block.conv[3].bias.zero_()
        x = torch.randn(2, block.in_channels, 8, 8)
        assert torch.equal(block(x), x)
    none = mobilenet_v2(MobileNetV2Config(shortcut="none"), seed=0).eval()
    nb = none.features[3]
    with torch.no_grad():
        nb.conv[3].weight.zero_()
        nb.conv[3].bias.zero_()
        assert torch.equal(nb(x), torch.zeros_like(x))


def test_relu6_bottleneck_clips_the_block_output() -> None:
    model = mobilenet_v2(
        MobileNetV2Config(bottleneck_activation="relu6", shortcut="none"), seed=0
    ).eval()
    x = torch.randn(2, 3, 64, 64)
    seen = []
    handles = [b.register_forward_hook(lambda m, i, o: seen.append(o)) for b in model.blocks()]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    assert len(seen) == 17
    assert all(o.min() >= 0 and o.max() <= 6 for o in seen)


def test_expansion_shortcut_joins_consecutive_expansions() -> None:
    model = mobilenet_v2(MobileNetV2Config(shortcut="expansion"), seed=0).eval()
    block = model.features[4]
    assert block.expansion_skip
    prev = model.features[3]
    x = torch.randn(1, prev.in_channels, 16, 16)
    with torch.no_grad():
        out_prev, e_prev = prev.forward_with_expansion(x, None)
        expanded_alone = block.conv[0](out_prev)
        captured = {}
        h = block.conv[1].register_forward_pre_hook(lambda m, a: captured.update(x=a[0]))
        block.forward_with_expansion(out_prev, e_prev)
        h.remove()
    assert torch.allclose(captured["x"], expanded_alone + e_prev)
    # skipping the addition changes the network's output
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        y = model.forward_features(x)
        for b in model.blocks():
            b.expansion_skip = False
        y0 = model.forward_features(x)
    assert ((y - y0).norm() / y.norm()).item() > 1e-2


@pytest.mark.parametrize(("stem", "size", "final"), [("imagenet", 224, 7), ("cifar", 32, 4)])
def test_stems_downsample_as_documented(stem: str, size: int, final: int) -> None:
    model = mobilenet_v2(MobileNetV2Config(num_classes=10, stem=stem), seed=0).eval()  # type: ignore[arg-type]
    with torch.no_grad():
        f = model.forward_features(torch.zeros(1, 3, size, size))
    assert f.shape == (1, 1280, final, final)
    strides = [m.stride if isinstance(m, InvertedResidual) else None for m in model.features]
    if stem == "cifar":
        assert model.features[0][0].stride == (1, 1)
        assert strides[2] == 1  # first stride-2 stage made stride 1
        assert strides[4] == 2  # later ones unchanged


def test_expand_ratio_and_setting_overrides() -> None:
    model = MobileNetV2(MobileNetV2Config(expand_ratio=4, num_classes=10))
    hidden = [b.hidden_channels / b.in_channels for b in model.blocks()]
    assert hidden[0] == 1 and all(h == 4 for h in hidden[1:])
    custom = MobileNetV2(MobileNetV2Config(setting=((1, 16, 1, 1), (6, 24, 2, 2)), last_channel=64))
    assert len(custom.blocks()) == 3 and custom.last_channel == 64


def test_config_roundtrip_and_validation() -> None:
    config = MobileNetV2Config(num_classes=10, width_mult=0.5, stem="cifar", shortcut="none")
    assert MobileNetV2Config.from_dict(config.to_dict()) == config
    custom = MobileNetV2Config(setting=[[1, 16, 1, 1]])  # type: ignore[arg-type]
    assert MobileNetV2Config.from_dict(custom.to_dict()) == custom
    bad = [
        {"num_classes": 0},
        {"width_mult": -1},
        {"width_mult": float("nan")},
        {"expand_ratio": 0.5},
        {"stem": "tiny"},
        {"shortcut": "both"},
        {"bottleneck_activation": "relu"},
        {"dropout": 1.0},
        {"setting": ()},
        {"setting": ((6, 24, 2, 3),)},
        {"last_channel": 0},
    ]
    for kwargs in bad:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            MobileNetV2Config(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown MobileNetV2 config keys"):
        MobileNetV2Config.from_dict({"width": 1.0})


def test_seed_reproducibility_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = mobilenet_v2(seed=1)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = mobilenet_v2(seed=1)
    c = mobilenet_v2(seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.classifier[1].weight, c.classifier[1].weight)


@pytest.mark.parametrize("size", [224, 225, 7, 8])
def test_conv2d_same_matches_tensorflow_padding(size: int) -> None:
    conv = Conv2dSame(3, 4, 3, stride=2, bias=False)
    x = torch.randn(1, 3, size, size)
    total = max((-(-size // 2) - 1) * 2 + 3 - size, 0)
    before, after = total // 2, total - total // 2
    expected = F.conv2d(F.pad(x, (before, after, before, after)), conv.weight, stride=2)
    assert torch.allclose(conv(x), expected, atol=1e-6)
    if size % 2 == 0:
        assert (before, after) == (0, 1)  # TF pads the bottom/right only, unlike PyTorch
    conv.explicit_padding = (1, 1, 1, 1)
    assert torch.allclose(conv(x), F.conv2d(F.pad(x, (1, 1, 1, 1)), conv.weight, stride=2))


def test_folded_mode_uses_biases_and_identity_norms() -> None:
    model = MobileNetV2(MobileNetV2Config(norm="folded", padding="tf_same", num_classes=1001))
    names = [n for n, _ in model.named_modules()]
    assert names == [n for n, _ in MobileNetV2(num_classes=1001).named_modules()]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(isinstance(c, Conv2dSame) and c.bias is not None for c in convs)
    assert model.eval()(torch.zeros(1, 3, 96, 96)).shape == (1, 1001)
