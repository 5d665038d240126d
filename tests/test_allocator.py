"""keep_freed_memory: freed blocks stay in the process, so a repeated forward pass faults no
new pages in (Linux with glibc; elsewhere it reports that it did nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from manifold_lab.allocator import KEEP_FREED_MEMORY_ENV, keep_freed_memory

_CHILD = """
import json, resource, sys
import torch
from manifold_lab.allocator import keep_freed_memory
from manifold_lab.mobilenet import mobilenet_v2
torch.set_num_threads(1)
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
model = mobilenet_v2(seed=0).eval()
x = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
counts = []
with torch.no_grad():
    for _ in range(4):
        before = faults()
        model(x)
        counts.append(faults() - before)
print(json.dumps({"applied": applied, "faults": counts}))
"""

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="the allocator thresholds are glibc's",
)


def _child(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop(KEEP_FREED_MEMORY_ENV, None)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@glibc
def test_freed_blocks_are_reused_without_page_faults() -> None:
    plain, kept = _child("plain"), _child("keep")
    assert kept["applied"] is True
    # MobileNetV2 on 4 images at 224x224 makes activations of up to 19 MB: with glibc's
    # defaults their pages are faulted in again at every forward pass (thousands of 4 KiB
    # pages); kept, the heap stops growing after a pass or two and is reused
    assert min(plain["faults"][1:]) > 1000
    assert kept["faults"][-1] < 100


def test_the_environment_variable_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEEP_FREED_MEMORY_ENV, "0")
    assert keep_freed_memory() is False


@glibc
def test_it_is_idempotent() -> None:
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True
