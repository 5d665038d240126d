"""The probe and the ledger under torch.distributed: two gloo processes on the CPU give the
result of one process (counts and samples exactly, float64 sums to rounding)."""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from manifold_lab.data import ImageDecodeError
from manifold_lab.mobilenet import MobileNetV2Config, mobilenet_v2
from manifold_lab.probing import ledger, probe
from manifold_lab.probing.ledger_result import Estimate

ROOT = Path(__file__).resolve().parents[1]
TINY = MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25)
N_IMAGES, BATCH, BAD = 37, 8, 13  # 5 batches (3 on rank 0, 2 on rank 1), the last of 5
PROBE = {
    "batch_size": BATCH,
    "pixel_samples": 512,  # fewer than the pixels of every block: the reservoirs must choose
    "image_samples": 16,
    "rank_pixels_per_batch": 16,  # subsampled: lemma2_pixels is a float sum
    "seed": 3,
    "device": "cpu",
    "progress": False,
}
LEDGER = {
    "batch_size": BATCH,
    "pixels_per_block": 256,
    "n_boot": 50,
    "blocks": ["features.2", "features.8", "features.14"],
    "seed": 3,
    "device": "cpu",
    "progress": False,
}
# float64 sums added in another order: the stated tolerances (see probing.distributed)
RTOL_SUMS = 1e-12
RTOL_DECODERS = 1e-9


class Images(torch.utils.data.Dataset):
    """Seeded random images with labels; item ``BAD`` cannot be read (a corrupt file)."""

    paths: ClassVar[list[str]] = [f"img{i:02d}.png" for i in range(N_IMAGES)]

    def __len__(self) -> int:
        return N_IMAGES

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if index == BAD:
            raise ImageDecodeError(f"cannot decode image file {self.paths[index]}")
        g = torch.Generator().manual_seed(1000 + index)
        return torch.rand(3, 32, 32, generator=g), index % 10


def _run() -> tuple[Any, Any]:
    model = mobilenet_v2(TINY, seed=0)
    with pytest.warns(UserWarning, match="skipped 1") if _rank() == 0 else _nothing():
        result = probe(model, Images(), **PROBE)
    return result, ledger(model, Images(), **LEDGER)


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        result = _run()
        Path(out, f"rank{rank}.pkl").write_bytes(pickle.dumps(result))
        dist.barrier()  # both done with the group before either tears it down
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _same(a: Any, b: Any, rtol: float, where: str) -> None:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert np.array_equal(np.asarray(a), np.asarray(b)), where
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol), (
            f"{where}: {a!r} != {b!r}"
        )
    elif isinstance(a, Estimate):
        for f in ("value", "low", "high"):
            _same(getattr(a, f), getattr(b, f), rtol, f"{where}.{f}")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _same_probe(one: Any, two: Any) -> None:
    assert [b.name for b in one.blocks] == [b.name for b in two.blocks]
    for a, b in zip(one.blocks, two.blocks, strict=True):
        for f in dataclasses.fields(a):
            va, vb = getattr(a, f.name), getattr(b, f.name)
            rtol = RTOL_SUMS if f.name == "lemma2_pixels" else 0.0
            _same(va, vb, rtol, f"{a.name}.{f.name}")
    for attr in ("samples", "expansion_samples", "preactivation_samples", "sample_image_index"):
        da, db = getattr(one, attr), getattr(two, attr)
        assert da.keys() == db.keys(), attr
        for name in da:
            assert da[name].keys() == db[name].keys(), (attr, name)
            for key in da[name]:
                _same(da[name][key], db[name][key], 0.0, f"{attr}[{name}][{key}]")
    for key in ("n_images", "n_skipped", "skipped", "resolution", "seed"):
        assert one.metadata[key] == two.metadata[key], key


def _same_ledger(one: Any, two: Any) -> None:
    for a, b in zip(one.blocks, two.blocks, strict=True):
        for f in dataclasses.fields(a):
            decoded = f.name.endswith(("_affine", "_block"))
            rtol = RTOL_DECODERS if decoded else 0.0
            _same(getattr(a, f.name), getattr(b, f.name), rtol, f"{a.name}.{f.name}")
    assert one.metadata["n_images"] == two.metadata["n_images"]


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    port = _free_port()
    # spawned processes re-run the parent's __main__, which an earlier AppTest in this
    # process leaves as the explorer's script: start them from a bare __main__
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        mp.start_processes(_worker, args=(2, port, str(tmp_path)), nprocs=2, start_method="spawn")
    finally:
        sys.modules["__main__"] = main
    # the forward passes must round alike: the same thread count as the workers
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single_probe, single_ledger = _run()
    finally:
        torch.set_num_threads(threads)
    assert single_probe.metadata["n_images"] == N_IMAGES - 1
    assert single_probe.metadata["skipped"] == [Images.paths[BAD]]
    sampled = single_probe.samples["features.2"]["pixels"]
    assert sampled.shape[0] == PROBE["pixel_samples"]
    assert any(b.rank_subsampled for b in single_probe.blocks)
    for rank in range(2):
        dist_probe, dist_ledger = pickle.loads((tmp_path / f"rank{rank}.pkl").read_bytes())
        assert dist_probe.metadata["world_size"] == 2
        _same_probe(single_probe, dist_probe)
        _same_ledger(single_ledger, dist_ledger)
        frame_one, frame_two = single_probe.to_frame(), dist_probe.to_frame()
        assert list(frame_one.columns) == list(frame_two.columns)
    # images are numbered by dataset position (a batch with an unreadable item numbers its
    # readable ones from the batch's first position on), whatever the number of processes
    index = single_probe.sample_image_index["features.2"]["images"]
    assert len(set(index.tolist())) == len(index) and index.max() < N_IMAGES


@pytest.mark.slow
def test_cli_probe_with_ledger_under_torchrun(tmp_path: Path) -> None:
    """``manifold-lab probe --ledger`` under torchrun: rank 0 writes what one process writes."""

    def cli(out: Path, procs: int) -> subprocess.CompletedProcess[str]:
        args = ["-m", "manifold_lab.cli", "probe", "--weights", "random-cifar",
                "--images", "cifar10-sample", "--limit", "21", "--batch-size", "4",
                "--device", "cpu", "--no-progress", "--ledger", "--ledger-pixels", "256",
                "--out", str(out)]  # fmt: skip
        if procs > 1:
            args = ["-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={procs}",
                    f"--master-port={_free_port()}", *args]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        return subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT
        )

    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    for out, procs in ((one, 1), (two, 2)):
        proc = cli(out, procs)
        assert proc.returncode == 0, proc.stderr[-3000:]
    import pandas as pd

    def table(path: Path) -> pd.DataFrame:
        return pd.read_csv(path, comment="#")

    pd.testing.assert_frame_equal(table(one), table(two), rtol=RTOL_SUMS)
    ledger_one = table(tmp_path / "one.ledger.csv")
    ledger_two = table(tmp_path / "two.ledger.csv")
    pd.testing.assert_frame_equal(ledger_one, ledger_two, rtol=RTOL_DECODERS)


def test_reservoirs_sharing_keys_stay_independent() -> None:
    """Two reservoirs offered the same keys tensor (the expansion before and after its
    activation) keep the sample one offer of everything gives, also when the first batch
    fills them exactly (a regression: they shared the keys and eviction corrupted both)."""
    from manifold_lab.probing.reservoir import Reservoir, hash_keys, stream_base

    ids = torch.arange(64)
    keys = hash_keys(ids, stream_base(0, 2))
    whole = Reservoir(16)
    whole.offer(keys, lambda local: [ids[local]])
    pre, post = Reservoir(16), Reservoir(16)
    for start in range(0, 64, 16):
        batch = keys[start : start + 16]
        for res in (pre, post):
            res.offer(batch, lambda local, start=start: [ids[start + local]])
    for res in (pre, post):
        assert np.array_equal(res.arrays()[0], whole.arrays()[0])
