"""Fuzz tests of the model importers: seeded structural mutations of real files.

Every mutated ``.tflite`` file (the published MobileNetV2 in ``../shared/data``) and every
mutated ``.pt`` checkpoint (written by :func:`manifold_lab.weights.save_checkpoint`) must give
either a model or one clear one-line ``ValueError``: never another exception (a traceback for
the user), a crash or a hang (each case runs in a worker process under a time limit). The
mutations and the runner are in ``tests/fuzz_mutations.py``; ``benchmarks/fuzz_importers.py``
runs more cases and records the outcome distribution in
``benchmarks/results/fuzz_importers.json``.

Mutated zips of images (as uploaded to the explorer's probe page) must unpack with
:meth:`manifold_lab.uploads.UploadStore.extract_images` into a folder that
:func:`manifold_lab.data.open_images` opens, or raise one ``UploadError``; nothing may be
written outside the upload folder or beyond its limits.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import torch

from manifold_lab.mobilenet import MobileNetV2, MobileNetV2Config
from manifold_lab.tflite import load_tflite
from manifold_lab.weights import load_model, save_checkpoint
from tests.conftest import SHARED_DATA
from tests.fuzz_mutations import (
    image_zip_mutation,
    run_cases,
    summarise,
    tflite_mutation,
    tflite_sites,
)

MODEL = SHARED_DATA / "mobilenet_v2_1.0_224_quant.tflite"
TFLITE_CASES = 300
CHECKPOINT_CASES = 200
ZIP_CASES = 160
TIME_LIMIT = 20  # seconds per case; an unmutated file loads in well under one


def small_checkpoint(path: Path) -> bytes:
    torch.manual_seed(0)
    model = MobileNetV2(MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.25))
    return save_checkpoint(model, path).read_bytes()


def small_image_zip(n: int = 6) -> bytes:
    """A zip of ``n`` images of the built-in CIFAR-10 sample, PNG and JPEG, deflated and
    stored, in class folders."""
    from PIL import Image

    from manifold_lab.data import cifar10_sample

    ds = cifar10_sample()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for i in range(n):
            index = 50 * i + i
            image = Image.fromarray(ds.images[index].permute(1, 2, 0).numpy())
            fmt, suffix = ("PNG", "png") if i % 2 else ("JPEG", "jpg")
            buf = io.BytesIO()
            image.save(buf, fmt)
            method = zipfile.ZIP_DEFLATED if i % 3 else zipfile.ZIP_STORED
            name = f"{ds.classes[ds.targets[index]]}/{i:04d}.{suffix}"
            zf.writestr(name, buf.getvalue(), compress_type=method)
    return out.getvalue()


def _report(name: str, outcomes: list) -> dict:
    summary = summarise(outcomes)
    print(f"\n{name}: {json.dumps(summary, indent=1)}")
    return summary


@pytest.mark.slow
def test_mutated_tflite_files_load_or_raise_one_value_error() -> None:
    if not MODEL.exists():
        pytest.skip(f"shared data not found: {MODEL} (present in CI)")
    outcomes = run_cases("tflite", MODEL.read_bytes(), range(TFLITE_CASES), time_limit=TIME_LIMIT)
    summary = _report("tflite", outcomes)
    assert not summary["failures"], summary
    # the mutations reach the structure: most are refused, some still load
    assert summary["outcomes"].get("ValueError", 0) > TFLITE_CASES // 2
    assert summary["outcomes"].get("model", 0) > 0


@pytest.mark.slow
def test_mutated_checkpoints_load_or_raise_one_value_error(tmp_path: Path) -> None:
    raw = small_checkpoint(tmp_path / "small.pt")
    outcomes = run_cases("checkpoint", raw, range(CHECKPOINT_CASES), time_limit=TIME_LIMIT)
    summary = _report("checkpoint", outcomes)
    assert not summary["failures"], summary
    assert summary["outcomes"].get("ValueError", 0) > CHECKPOINT_CASES // 2


@pytest.mark.slow
def test_mutated_image_zips_unpack_or_raise_one_upload_error() -> None:
    outcomes = run_cases("image_zip", small_image_zip(), range(ZIP_CASES), time_limit=TIME_LIMIT)
    summary = _report("image_zip", outcomes)
    assert not summary["failures"], summary
    assert summary["outcomes"].get("ValueError", 0) > ZIP_CASES // 4
    assert summary["outcomes"].get("images", 0) > 0


def test_image_zip_mutations_are_seeded() -> None:
    raw = small_image_zip()
    assert image_zip_mutation(raw, 3) == image_zip_mutation(raw, 3)
    assert all(image_zip_mutation(raw, s)[1] != raw for s in range(8))


# -- the bugs the fuzz found, as plain regression tests ------------------------------------
def test_an_image_zip_entry_without_a_name_is_skipped(tmp_path: Path) -> None:
    """Was ``IndexError: string index out of range`` (``ZipInfo.is_dir`` on an empty name)."""
    from manifold_lab.data import open_images
    from manifold_lab.uploads import UploadStore

    raw = small_image_zip(2)
    zf = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as new:
        new.writestr(zipfile.ZipInfo(""), b"no name")
        for info in zf.infolist():
            new.writestr(info, zf.read(info))
    stored = UploadStore(tmp_path / "up", "s1").extract_images(out.getvalue(), "x.zip")
    assert len(open_images(stored.path)) == 2


def _mutated_tflite(tmp_path: Path, edit: str) -> Path:
    if not MODEL.exists():
        pytest.skip(f"shared data not found: {MODEL} (present in CI)")
    import struct

    raw = bytearray(MODEL.read_bytes())
    sites = tflite_sites(bytes(raw))
    if edit == "no outputs":  # the first operator's output vector emptied
        site = next(s for s in sites["vector length"] if _is_op_outputs(raw, s.pos))
        struct.pack_into("<I", raw, site.pos, 0)
    else:  # every quantisation scale set to NaN (or 0)
        value = {"nan scales": float("nan"), "zero scales": 0.0}[edit]
        for site in sites["quantisation scale"]:
            struct.pack_into("<f", raw, site.pos, value)
    path = tmp_path / "edited.tflite"
    path.write_bytes(bytes(raw))
    return path


def _is_op_outputs(raw: bytearray, pos: int) -> bool:
    import tflite

    sg = tflite.Model.GetRootAsModel(bytes(raw), 0).Subgraphs(0)
    op = sg.Operators(0)
    o = op._tab.Offset(8)
    return bool(o) and op._tab.Vector(o) - 4 == pos


def test_an_operator_without_outputs_is_a_value_error(tmp_path: Path) -> None:
    """Was ``IndexError: tuple index out of range`` from the graph walker."""
    with pytest.raises(ValueError, match="no output tensor"):
        load_tflite(_mutated_tflite(tmp_path, "no outputs"))


@pytest.mark.parametrize("edit", ["nan scales", "zero scales"])
def test_quantisation_scales_must_be_positive(tmp_path: Path, edit: str) -> None:
    """Was a model whose weights are all NaN (or all zero), loaded without a word."""
    with pytest.raises(ValueError, match="quantisation scale"):
        load_tflite(_mutated_tflite(tmp_path, edit))


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("meta", True, "meta is a bool"),
        ("meta", {"label_space": 7}, r"meta\['label_space'\] is 7"),
        ("meta", {"resolution": [224]}, r"meta\['resolution'\]"),
        ("meta", {"classes": ["a", "b"]}, "should be 10 names"),
        ("config", 5, "invalid model configuration"),
        ("config", {"norm": 0}, "invalid model configuration: norm"),
    ],
)
def test_checkpoint_fields_of_the_wrong_type_are_value_errors(
    tmp_path: Path, key: str, value: object, match: str
) -> None:
    """Was ``AttributeError: 'bool' object has no attribute 'get'`` (meta), or a message
    that did not name the file (config)."""
    path = tmp_path / "m.pt"
    small_checkpoint(path)
    payload = torch.load(path, weights_only=True)
    payload[key] = value
    torch.save(payload, path)
    with pytest.raises(ValueError, match=match):
        load_model(path, progress=False)


def test_mutations_are_seeded(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.skip(f"shared data not found: {MODEL} (present in CI)")
    raw = MODEL.read_bytes()
    sites = tflite_sites(raw)
    assert tflite_mutation(raw, sites, 7) == tflite_mutation(raw, sites, 7)
    assert tflite_mutation(raw, sites, 7)[1] != raw
