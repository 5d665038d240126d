"""The registries decide: a new activation or manifold is offered by the CLI and the app."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from conftest import run_app

import manifold_lab as ml
from manifold_lab.activations import Activation
from manifold_lab.cli import build_parser
from manifold_lab.registry import (
    ACTIVATION_REGISTRY,
    IMAGE_SOURCE_REGISTRY,
    MANIFOLD_REGISTRY,
    METHOD_REGISTRY,
    METRIC_REGISTRY,
    MODEL_SOURCE_REGISTRY,
    Param,
    menu_sources,
    register_activation,
    register_manifold,
    resolve_image_source,
    resolve_model_source,
)


def make_figure_eight(n_samples: int = 1000, *, noise: float = 0.0, seed: object = None):
    """A lemniscate: a test manifold."""
    rng = ml.check_random_state(seed)
    t = np.linspace(0, 2 * np.pi, n_samples, endpoint=False)
    X = np.stack([np.sin(t), np.sin(t) * np.cos(t)], axis=1)
    return X + noise * rng.standard_normal(X.shape), t


SQUARED_RELU = Activation(
    name="squared_relu",
    fn=lambda z: torch.relu(z) ** 2,
    derivative=lambda z: 2 * torch.relu(z),
)


@pytest.fixture
def registered() -> Iterator[None]:
    register_activation(SQUARED_RELU, label="Squared ReLU", description="relu(z)^2")
    register_manifold("figure_eight", make_figure_eight, label="Figure eight")
    try:
        yield
    finally:
        ACTIVATION_REGISTRY.unregister("squared_relu")
        MANIFOLD_REGISTRY.unregister("figure_eight")


def _help(command: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command].format_help()  # type: ignore[attr-defined]


def test_new_entries_reach_the_library_the_cli_and_the_app(registered: None) -> None:
    assert ml.get_activation("squared_relu") is SQUARED_RELU
    assert ml.make_manifold("figure_eight", 50).X.shape == (50, 2)
    result = ml.run_case("figure_eight", width=8, activation="squared_relu", n_samples=64)
    assert 0 <= result.metrics["nmse"]
    text = " ".join(_help("sweep").split())
    assert "squared_relu" in text and "figure_eight" in text
    assert "figure_eight" in " ".join(_help("figure1").split())

    at = run_app(page="manifold")
    assert not at.exception
    manifold_box = at.selectbox(key="manifold")
    assert "figure_eight" in manifold_box.options or "Figure eight" in manifold_box.options
    act_box = at.selectbox(key="activation")
    assert "Squared ReLU" in act_box.options or "squared_relu" in act_box.options
    at.selectbox(key="manifold").set_value("figure_eight")
    at.selectbox(key="activation").set_value("squared_relu").run()
    assert not at.exception and not at.error
    sweep = run_app(page="sweep")
    assert "Figure eight" in sweep.selectbox(key="sw_manifold").options


def test_duplicate_and_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_manifold("spiral", make_figure_eight)
    with pytest.raises(ValueError, match="unknown manifold 'nope'; choose one of: spiral"):
        MANIFOLD_REGISTRY.resolve("nope")
    with pytest.raises(ValueError, match="unknown activation"):
        ml.get_activation("nope")


def test_registered_properties_match_the_implementations() -> None:
    for entry in ACTIVATION_REGISTRY:
        act = entry.load()
        assert act.name.split("(")[0] == entry.name  # "leaky_relu(0.01)"
        assert entry.exact_inverse == (act.inverse is not None)
        assert entry.piecewise_linear == (act.pattern is not None)
        assert entry.positively_homogeneous == act.positively_homogeneous
    assert [e.name for e in ACTIVATION_REGISTRY if e.theorem1] == ["relu", "relu6"]
    assert ml.METHODS == METHOD_REGISTRY.names() and ml.METRICS == METRIC_REGISTRY.names()
    for entry in MANIFOLD_REGISTRY:  # every generator takes the parameters its entry offers
        kwargs = {p.name: p.default for p in entry.params}
        if "ambient_dim" in kwargs:
            kwargs["ambient_dim"] = max(kwargs["ambient_dim"], kwargs.get("dim", 1))
        X, _ = entry.load()(20, seed=0, **kwargs)
        assert X.shape[0] == 20


def test_every_source_resolves_once_and_loads() -> None:
    assert resolve_model_source("builtin")[0].name == "builtin"
    assert resolve_model_source("TORCHVISION")[1] == "IMAGENET1K_V2"
    assert resolve_model_source(None)[0].name == "random"
    with pytest.raises(ValueError, match="needs an argument"):
        resolve_model_source("tflite")
    with pytest.raises(ValueError, match="unknown torchvision argument"):
        resolve_model_source("torchvision:V9")
    model = ml.load_model("random-cifar")
    assert model.config.stem == "cifar" and model.config.num_classes == 10
    assert model.weights_info.source == "random"
    assert resolve_image_source("cifar10:TRAIN")[1] == "train"
    with pytest.raises(ValueError, match="must be a source name or a path"):
        resolve_image_source("")
    for registry in (MODEL_SOURCE_REGISTRY, IMAGE_SOURCE_REGISTRY):
        for source in menu_sources(registry):
            assert resolve_model_source(source) if registry is MODEL_SOURCE_REGISTRY else True


def test_param_parse_is_strict_and_names_the_range() -> None:
    width = Param("width", "Width", "Layer width.", "int", 15, 1, 256)
    assert width.parse("256") == 256
    for bad in ("257", "0", "3.5", "x", "nan"):
        with pytest.raises(ValueError, match=r"width must be an integer in \[1, 256\]"):
            width.parse(bad)
    names = Param("metrics", "Metrics", "Metrics.", "choices", ("nmse",), choices=("nmse", "x"))
    assert names.parse("nmse,x") == ["nmse", "x"]
    with pytest.raises(ValueError, match="empty item"):
        names.parse("nmse,,x")


def test_the_cli_parser_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from manifold_lab.cli import build_parser\n"
        "p = build_parser()\n"
        "heavy = ('torch', 'pandas', 'plotly', 'scipy', 'streamlit')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    for argv in (["--help"], ["sweep", "--help"], ["probe", "--help"]):
        code = (
            "import sys\nfrom manifold_lab.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, file=sys.stderr)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.stderr.strip().endswith("False"), out.stderr


def test_the_training_path_imports_only_torch_torchvision_numpy_and_the_stdlib() -> None:
    code = (
        "import sys\n"
        "import manifold_lab.train as t, manifold_lab.data, manifold_lab.weights\n"
        "t.preset_config('smoke', ['epochs=1'])\n"
        "heavy = ('pandas', 'plotly', 'scipy', 'sklearn', 'streamlit', 'matplotlib')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
