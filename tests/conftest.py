from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    """CPU, plus CUDA where there is one."""
    return request.param


@pytest.fixture
def torchvision_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A stand-in for download.pytorch.org: a file:// folder serving a (random-weight)
    torchvision MobileNetV2 state dict under a correctly hashed name and under a wrongly
    hashed one; an empty torch hub cache in tmp_path. Returns the paths by role."""
    import hashlib

    import torchvision

    import manifold_lab.weights.torchvision_hub as hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    server = tmp_path / "server"
    server.mkdir()
    blob = server / "state.pth"
    torch.save(torchvision.models.mobilenet_v2().state_dict(), blob)
    digest = hashlib.sha256(blob.read_bytes()).hexdigest()
    good = server / f"mobilenet_v2-{digest[:8]}.pth"
    bad = server / "mobilenet_v2-00000000.pth"
    for path in (good, bad):
        path.write_bytes(blob.read_bytes())
    monkeypatch.setattr(hub, "TORCHVISION_URL", server.as_uri() + "/")
    monkeypatch.setitem(hub.TORCHVISION_WEIGHTS, "IMAGENET1K_V1", (good.name, 256, 71.878))
    return {"good": good, "bad": bad, "hub": tmp_path / "torch" / "hub" / "checkpoints"}


APP = ROOT / "apps" / "explorer.py"


def run_app(timeout: float = 60, **query: str) -> AppTest:
    """The explorer run once through streamlit's AppTest with these URL query parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()
