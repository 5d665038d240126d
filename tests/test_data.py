"""manifold_lab.data: CIFAR-10 from every source, the built-in sample, image folders."""

from __future__ import annotations

import hashlib
import pickle
import re
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import manifold_lab.data as data
import manifold_lab.data.cifar10 as cifar10_module
from manifold_lab.data import (
    CIFAR10_CLASSES,
    ImageDecodeError,
    ImageFolderDataset,
    TensorImageDataset,
    cifar10_sample,
    load_cifar10,
    make_loader,
    open_images,
)
from tests.conftest import SHARED_DATA

TARBALL = SHARED_DATA / "cifar10-jpeg.tar.gz"
IMAGENET_SAMPLES = SHARED_DATA / "imagenet-samples-256"
SAMPLE_FILE = Path(data.__file__).parent.parent / "_data" / "cifar10_sample.tar"

needs_tarball = pytest.mark.skipif(
    not TARBALL.is_file(), reason=f"shared data {TARBALL} absent (present in CI)"
)
needs_imagenet_samples = pytest.mark.skipif(
    not IMAGENET_SAMPLES.is_dir(), reason=f"shared data {IMAGENET_SAMPLES} absent (present in CI)"
)


@pytest.fixture(autouse=True)
def _isolated_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caches and the default data root live in tmp_path, never in the home folder."""
    monkeypatch.setenv("MANIFOLD_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MANIFOLD_LAB_DATA", str(tmp_path / "default-data"))


def _cache_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cache" / "cifar10"
    return sorted(folder.glob("*.pt")) if folder.is_dir() else []


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(raw: bytes, name: str) -> Any:
        raise AssertionError(f"decoded {name} although a cache exists")

    monkeypatch.setattr(cifar10_module, "decode_image_bytes", fail)


# --------------------------------------------------------------------------------------------
# Fake CIFAR-10 sources (no shared data needed)
# --------------------------------------------------------------------------------------------

FAKE_COUNTS = {"train": 2, "test": 3}


def _fake_pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)


def _make_fake_tree(base: Path) -> dict[str, tuple[torch.Tensor, list[int], list[str]]]:
    """``base/cifar10-jpeg/{train,test}/<class>/NNNN.png|jpg``; returns what a loader must give.

    Classes are written in reverse order and one class uses upper-case ``.JPG`` JPEGs; expected
    pixels are what PIL decodes from the written files.
    """
    expected = {}
    for split, count in FAKE_COUNTS.items():
        records = []
        for label in reversed(range(10)):
            cls = CIFAR10_CLASSES[label]
            folder = base / "cifar10-jpeg" / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                name = f"{i:04d}.JPG" if cls == "cat" else f"{i:04d}.png"
                Image.fromarray(_fake_pixels(100 * label + i + len(split))).save(
                    folder / name, format="JPEG" if cls == "cat" else "PNG"
                )
                pixels = np.asarray(Image.open(folder / name).convert("RGB"))
                records.append((label, f"{cls}/{name}", pixels))
            (folder / ".DS_Store").write_bytes(b"junk")
            (folder / "notes.txt").write_text("not an image")
        records.sort(key=lambda r: (r[0], r[1]))
        images = torch.from_numpy(np.stack([r[2] for r in records])).permute(0, 3, 1, 2)
        expected[split] = (images, [r[0] for r in records], [r[1] for r in records])
    return expected


@pytest.fixture
def fake_tree(tmp_path: Path) -> tuple[Path, dict[str, tuple[torch.Tensor, list[int], list[str]]]]:
    base = tmp_path / "extracted"
    return base, _make_fake_tree(base)


@pytest.fixture
def fake_tarball(
    fake_tree: tuple[Path, dict[str, Any]], tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    base, expected = fake_tree
    path = tmp_path / "fake-cifar10-jpeg.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        tf.add(base / "cifar10-jpeg", arcname="cifar10-jpeg")
    return path, expected


def _assert_matches(ds: TensorImageDataset, expected: tuple[torch.Tensor, list[int], list[str]]):
    images, targets, names = expected
    assert ds.images.dtype == torch.uint8
    assert torch.equal(ds.images, images)
    assert ds.targets.tolist() == targets
    assert list(ds.names or ()) == names
    assert ds.classes == CIFAR10_CLASSES
    assert ds.label_space == "cifar10"


def _make_fake_batches(
    root: Path, label_names: tuple[str, ...] = CIFAR10_CLASSES, bytes_keys: bool = False
) -> dict[str, tuple[np.ndarray, list[int]]]:
    """A ``cifar-10-batches-py`` folder in torchvision's format; returns raw data and labels."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def key(k: str) -> str | bytes:
        return k.encode() if bytes_keys else k

    def dump(name: str, obj: dict[str | bytes, Any]) -> None:
        with open(folder / name, "wb") as fh:
            pickle.dump(obj, fh, protocol=2)

    dump("batches.meta", {key("label_names"): list(label_names), key("num_vis"): 3072})
    rng = np.random.default_rng(1)
    raw: dict[str, list[tuple[np.ndarray, list[int]]]] = {"train": [], "test": []}
    for name, split, n in [
        *((f"data_batch_{i}", "train", 3) for i in range(1, 6)),
        ("test_batch", "test", 7),
    ]:
        pixels = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        dump(name, {key("batch_label"): name, key("data"): pixels, key("labels"): labels})
        raw[split].append((pixels, labels))
    return {
        split: (
            np.concatenate([p for p, _ in parts]),
            [lab for _, labels in parts for lab in labels],
        )
        for split, parts in raw.items()
    }


# --------------------------------------------------------------------------------------------
# Constants and the built-in sample
# --------------------------------------------------------------------------------------------


def test_class_lists() -> None:
    assert CIFAR10_CLASSES == (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    )
    wnids = data.IMAGENET_WNIDS
    assert len(wnids) == 1000 and list(wnids) == sorted(set(wnids))
    assert all(re.fullmatch(r"n\d{8}", w) for w in wnids)
    assert wnids[0] == "n01440764" and data.IMAGENET_NAMES[0] == "tench"
    assert "IMAGENET_WNIDS" in dir(data)
    with pytest.raises(AttributeError):
        _ = data.NO_SUCH_THING


def test_imagenet_names_are_torchvisions() -> None:
    from torchvision.models import MobileNet_V2_Weights

    assert list(data.IMAGENET_NAMES) == MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]


@needs_imagenet_samples
def test_imagenet_wnids_are_those_of_the_shared_samples() -> None:
    from_files = sorted(p.name.split("_", 1)[0] for p in IMAGENET_SAMPLES.glob("*.JPEG"))
    assert tuple(from_files) == data.IMAGENET_WNIDS


def test_sample() -> None:
    ds = cifar10_sample()
    assert len(ds) == 500
    assert ds.images.shape == (500, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.targets.dtype == torch.int64
    assert ds.targets.bincount().tolist() == [50] * 10
    assert ds.targets.tolist() == sorted(ds.targets.tolist())
    assert ds.names is not None
    assert ds.names[:2] == ("airplane/0000.jpg", "airplane/0001.jpg")
    assert all(
        n.split("/")[0] == CIFAR10_CLASSES[t]
        for n, t in zip(ds.names, ds.targets.tolist(), strict=True)
    )
    assert ds.classes == CIFAR10_CLASSES and ds.label_space == "cifar10"
    assert "Krizhevsky" in ds.source
    x, y = ds[123]
    assert x.shape == (3, 32, 32) and y == 2
    # Each call gives its own tensors.
    ds.images[0] = 0
    assert not torch.equal(cifar10_sample().images, ds.images)
    assert SAMPLE_FILE.stat().st_size < 1_000_000


def test_sample_with_transform() -> None:
    ds = cifar10_sample(transform=lambda x: x.float() / 255)
    x, _ = ds[0]
    assert x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1


@needs_tarball
@pytest.mark.slow
def test_sample_rebuilds_byte_for_byte(tmp_path: Path) -> None:
    out = data.build_cifar10_sample(TARBALL, tmp_path / "sample.tar")
    assert out.read_bytes() == SAMPLE_FILE.read_bytes()


@needs_imagenet_samples
def test_imagenet_wnid_file_rebuilds_byte_for_byte(tmp_path: Path) -> None:
    out = data.build_imagenet_wnids(IMAGENET_SAMPLES, tmp_path / "wnids.txt")
    shipped = SAMPLE_FILE.parent / "imagenet_wnids.txt"
    assert (
        hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(shipped.read_bytes()).digest()
    )


# --------------------------------------------------------------------------------------------
# CIFAR-10 from the real tarball
# --------------------------------------------------------------------------------------------


@needs_tarball
@pytest.mark.slow
def test_tarball_test_split_cache_and_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = load_cifar10("test", TARBALL, progress=False)
    assert len(ds) == 10_000
    assert ds.images.shape == (10_000, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.targets.bincount().tolist() == [1000] * 10
    assert ds.names is not None
    assert [CIFAR10_CLASSES[t] for t in ds.targets.tolist()] == [n.split("/")[0] for n in ds.names]
    assert "tarball" in ds.source and str(TARBALL.resolve()) in ds.source
    assert len(_cache_files(tmp_path)) == 1

    # The built-in sample is the first 50 files of each class, pixel for pixel.
    sample = cifar10_sample()
    assert sample.names is not None
    position = {name: i for i, name in enumerate(ds.names)}
    index = torch.tensor([position[name] for name in sample.names])
    assert torch.equal(ds.images[index], sample.images)
    assert torch.equal(ds.targets[index], sample.targets)
    assert all(int(n.split("/")[1][:4]) < 50 for n in sample.names)

    _forbid_decoding(monkeypatch)
    again = load_cifar10("test", TARBALL, progress=False)
    assert torch.equal(again.images, ds.images) and torch.equal(again.targets, ds.targets)
    assert again.names == ds.names


# --------------------------------------------------------------------------------------------
# CIFAR-10 from fake sources
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["test", "train"])
def test_fake_tarball(fake_tarball: tuple[Path, dict[str, Any]], split: str) -> None:
    path, expected = fake_tarball
    ds = load_cifar10(split, path, progress=False)
    _assert_matches(ds, expected[split])
    assert len(ds) == 10 * FAKE_COUNTS[split]


def test_cache_is_reused_and_corrupt_cache_rebuilt(
    fake_tarball: tuple[Path, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, expected = fake_tarball
    load_cifar10("test", path, progress=False)
    (cache,) = _cache_files(tmp_path)
    assert cache.name.startswith("cifar10-test-tarball-")
    good = cache.read_bytes()

    with monkeypatch.context() as m:
        _forbid_decoding(m)
        _assert_matches(load_cifar10("test", path, progress=False), expected["test"])

    # Truncated, garbage, and well-formed-but-wrong cache files are all rebuilt with a warning.
    wrong = {"key": "v1|elsewhere", "images": torch.zeros(1, 3, 32, 32, dtype=torch.uint8)}
    torch.save(wrong, tmp_path / "wrong.pt")
    for broken in (good[: len(good) // 2], b"garbage", (tmp_path / "wrong.pt").read_bytes()):
        cache.write_bytes(broken)
        with pytest.warns(RuntimeWarning, match="unusable CIFAR-10 cache"):
            ds = load_cifar10("test", path, progress=False)
        _assert_matches(ds, expected["test"])
        assert cache.read_bytes() == good

    # A changed source gets a new cache file.
    path.touch()
    load_cifar10("test", path, progress=False)
    assert len(_cache_files(tmp_path)) == 2


def test_explicit_cache_dir(fake_tarball: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    path, _ = fake_tarball
    load_cifar10("train", path, cache_dir=tmp_path / "mine", progress=False)
    assert len(list((tmp_path / "mine").glob("cifar10-train-*.pt"))) == 1
    assert _cache_files(tmp_path) == []


def test_unwritable_cache_only_warns(
    fake_tarball: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, expected = fake_tarball
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="could not write"):
        ds = load_cifar10("test", path, cache_dir=blocker / "sub", progress=False)
    _assert_matches(ds, expected["test"])


@pytest.mark.parametrize("where", ["base", "cifar10-jpeg", "split"])
def test_extracted_folder_roots(
    fake_tree: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    base, expected = fake_tree
    for split in ("test", "train"):
        root = {
            "base": base,
            "cifar10-jpeg": base / "cifar10-jpeg",
            "split": base / "cifar10-jpeg" / split,
        }[where]
        ds = load_cifar10(split, root, progress=False)
        _assert_matches(ds, expected[split])
        assert "JPEG folder" in ds.source
    with monkeypatch.context() as m:  # cached now
        _forbid_decoding(m)
        load_cifar10("test", base, progress=False)


def test_split_folder_of_the_other_split(fake_tree: tuple[Path, dict[str, Any]]) -> None:
    base, _ = fake_tree
    with pytest.raises(ValueError, match="'test' split, but split='train'"):
        load_cifar10("train", base / "cifar10-jpeg" / "test", progress=False)


def test_folder_holding_the_tarball(
    fake_tarball: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, expected = fake_tarball
    holder = tmp_path / "holder"
    holder.mkdir()
    path.rename(holder / "cifar10-jpeg.tar.gz")
    _assert_matches(load_cifar10("test", holder, progress=False), expected["test"])


@pytest.mark.parametrize("bytes_keys", [False, True])
def test_torchvision_layout(tmp_path: Path, bytes_keys: bool) -> None:
    raw = _make_fake_batches(tmp_path / "tv", bytes_keys=bytes_keys)
    for split in ("test", "train"):
        pixels, labels = raw[split]
        for root in (tmp_path / "tv", tmp_path / "tv" / "cifar-10-batches-py"):
            ds = load_cifar10(split, root)
            assert ds.images.shape == (len(labels), 3, 32, 32) and ds.images.dtype == torch.uint8
            assert torch.equal(ds.images, torch.from_numpy(pixels).reshape(-1, 3, 32, 32))
            assert ds.targets.tolist() == labels
            assert ds.names is None and "torchvision batches" in ds.source
    assert _cache_files(tmp_path) == []  # nothing to cache


def test_torchvision_layout_maps_label_names(tmp_path: Path) -> None:
    shuffled = tuple(reversed(CIFAR10_CLASSES))
    raw = _make_fake_batches(tmp_path, label_names=shuffled)
    ds = load_cifar10("test", tmp_path)
    assert [CIFAR10_CLASSES[t] for t in ds.targets.tolist()] == [
        shuffled[i] for i in raw["test"][1]
    ]


def test_fake_batches_agree_with_torchvision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our fake batches are in torchvision's format: torchvision (md5 check off) reads the same."""
    import torchvision.datasets.cifar as tv_cifar

    _make_fake_batches(tmp_path, label_names=tuple(reversed(CIFAR10_CLASSES)))
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)
    for split in ("test", "train"):
        tv = tv_cifar.CIFAR10(str(tmp_path), train=split == "train")
        ds = load_cifar10(split, tmp_path)
        assert torch.equal(ds.images, torch.from_numpy(tv.data).permute(0, 3, 1, 2))
        assert [ds.classes[t] for t in ds.targets] == [tv.classes[t] for t in tv.targets]  # type: ignore[index]


class _RunsCode:
    """Unpickling this runs ``os.mkdir(marker)``: what a crafted pickle can do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.mkdir, (self.marker,))


def _dump(path: Path, obj: object, protocol: int = 2) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)


@pytest.mark.parametrize(
    ("spec", "file"),
    [
        ("cifar10:test", "test_batch"),
        ("cifar10:train", "data_batch_2"),
        ("cifar10:test", "batches.meta"),
    ],
)
def test_a_cifar_batch_that_would_run_code_is_refused(tmp_path: Path, spec: str, file: str) -> None:
    _make_fake_batches(tmp_path)
    marker = tmp_path / "code_ran"
    payload = {"data": np.zeros((1, 3072), np.uint8), "labels": [0], "x": _RunsCode(str(marker))}
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        _dump(tmp_path / "cifar-10-batches-py" / file, payload, protocol)
        with pytest.raises(ValueError, match=rf"^refusing to read \S*{file}: it would run code"):
            open_images(spec, data_root=tmp_path)
        assert not marker.exists()
    with pytest.raises(data.UnsafePickleError, match=r"names (posix|nt)\.mkdir"):
        load_cifar10(spec.split(":")[1], tmp_path)


def test_cifar_batches_written_by_numpy_1_still_load(tmp_path: Path) -> None:
    """The real batches name numpy.core.multiarray._reconstruct (numpy 1's module)."""
    raw = _make_fake_batches(tmp_path)
    file = tmp_path / "cifar-10-batches-py" / "test_batch"
    pixels, labels = raw["test"]
    blob = pickle.dumps({b"data": pixels, b"labels": labels, b"batch_label": b"x"}, protocol=2)
    blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"cnumpy.core.multiarray\n_reconstruct" in blob
    file.write_bytes(blob)
    ds = load_cifar10("test", tmp_path)
    assert torch.equal(ds.images, torch.from_numpy(pixels).reshape(-1, 3, 32, 32))
    assert ds.targets.tolist() == labels


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        ([1, 2], "does not hold a CIFAR-10 batch: a dict, not a list"),
        ({"labels": [0]}, "lacks 'data' or 'labels'"),
        ({"data": np.zeros((1, 3072), np.float32), "labels": [0]}, "'data' is a float32 array"),
        ({"data": [[0] * 3072], "labels": [0]}, "'data' is a list, expected a uint8 array"),
        ({"data": np.zeros((1, 3073), np.uint8), "labels": [0]}, r"of shape \(1, 3073\)"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, "2 images but 1 labels"),
        ({"data": np.zeros((1, 3072), np.uint8), "labels": 3}, "'labels' is an int"),
        ({"data": np.zeros((1, 3072), np.uint8), "labels": ["cat"]}, "list of class indices"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, -1]}, r"range over -1\.\.0"),
        ({"data": np.zeros((1, 3072), np.uint8), "labels": [10]}, "class indices 0..9"),
    ],
)
def test_a_cifar_batch_of_the_wrong_schema_is_refused(
    tmp_path: Path, batch: object, match: str
) -> None:
    _make_fake_batches(tmp_path)
    _dump(tmp_path / "cifar-10-batches-py" / "test_batch", batch)
    with pytest.raises(ValueError, match=rf"test_batch\b.*{match}"):
        load_cifar10("test", tmp_path)


def test_cifar_batch_labels_as_an_array(tmp_path: Path) -> None:
    """Labels may be an integer array; protocol 5 (numpy's _frombuffer) is read too."""
    raw = _make_fake_batches(tmp_path)
    pixels, labels = raw["test"]
    batch = {"data": pixels, "labels": np.array(labels, dtype=np.uint8)}
    _dump(tmp_path / "cifar-10-batches-py" / "test_batch", batch, pickle.HIGHEST_PROTOCOL)
    assert load_cifar10("test", tmp_path).targets.tolist() == labels


def test_incomplete_torchvision_layout(tmp_path: Path) -> None:
    _make_fake_batches(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    load_cifar10("test", tmp_path)
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10("train", tmp_path)


def test_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match=r"root=.*download=True"):
        load_cifar10("test")
    monkeypatch.delenv("MANIFOLD_LAB_DATA")
    assert data.default_data_root() == tmp_path / "cache" / "data"
    assert data.default_cache_dir() == tmp_path / "cache" / "cifar10"
    raw = _make_fake_batches(tmp_path / "cache" / "data")
    assert load_cifar10("test").targets.tolist() == raw["test"][1]


def test_download_goes_through_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    calls = []

    def fake_cifar10(root: str, train: bool, download: bool) -> None:
        calls.append((root, train, download))
        _make_fake_batches(Path(root))

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", fake_cifar10)
    ds = load_cifar10("train", download=True)
    assert calls == [(str(tmp_path / "default-data"), True, True)]
    assert len(ds) == 15
    load_cifar10("test", download=True)  # present now: no second download
    assert len(calls) == 1


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------


def test_bad_split(fake_tree: tuple[Path, dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_cifar10("val", fake_tree[0])


def test_missing_root(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_cifar10("test", missing)


def test_non_cifar_folders(tmp_path: Path) -> None:
    other = tmp_path / "other"
    for cls in ("cats", "dogs"):
        (other / cls).mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no CIFAR-10 data: expected"):
        load_cifar10("test", other)
    (other / "test" / "cats").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"unexpected class folder.*cats.*missing class folder"):
        load_cifar10("test", other)


def test_missing_and_extra_class(fake_tree: tuple[Path, dict[str, Any]]) -> None:
    base, _ = fake_tree
    test = base / "cifar10-jpeg" / "test"
    (test / "truck").rename(test / "lorry")
    with pytest.raises(ValueError, match=r"unexpected class folder.*lorry.*missing.*truck"):
        load_cifar10("test", base, progress=False)


def test_non_cifar_tarball_and_files(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    Image.fromarray(_fake_pixels(0)).save(tmp_path / "x" / "a.png")
    with tarfile.open(tmp_path / "other.tar.gz", "w:gz") as tf:
        tf.add(tmp_path / "x", arcname="x")
    with pytest.raises(ValueError, match="not a CIFAR-10 ImageFolder tarball"):
        load_cifar10("test", tmp_path / "other.tar.gz", progress=False)
    (tmp_path / "fake.tar.gz").write_bytes(b"not a tarball at all")
    with pytest.raises(ValueError, match=r"cannot read .* as a tar archive"):
        load_cifar10("test", tmp_path / "fake.tar.gz", progress=False)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a tarball"):
        load_cifar10("test", tmp_path / "notes.txt")


def test_tarball_without_the_split(tmp_path: Path, fake_tree: tuple[Path, dict[str, Any]]) -> None:
    base, _ = fake_tree
    with tarfile.open(tmp_path / "only-train.tar", "w") as tf:
        tf.add(base / "cifar10-jpeg" / "train", arcname="cifar10-jpeg/train")
    with pytest.raises(ValueError, match="no 'test' split"):
        load_cifar10("test", tmp_path / "only-train.tar", progress=False)


def test_corrupt_image_named(fake_tree: tuple[Path, dict[str, Any]]) -> None:
    base, _ = fake_tree
    bad = base / "cifar10-jpeg" / "test" / "dog" / "0001.png"
    bad.write_bytes(b"\x89PNG broken")
    with pytest.raises(ImageDecodeError, match=re.escape(str(bad))):
        load_cifar10("test", base, progress=False, on_error="raise")


def test_wrong_size_image_named(fake_tree: tuple[Path, dict[str, Any]]) -> None:
    base, _ = fake_tree
    big = base / "cifar10-jpeg" / "test" / "ship" / "0000.png"
    Image.new("RGB", (64, 48)).save(big)
    with pytest.raises(ValueError, match=r"ship/0000.png is 64x48, not a 32x32"):
        load_cifar10("test", base, progress=False)


# --------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------


@needs_imagenet_samples
def test_imagenet_samples_folder() -> None:
    ds = ImageFolderDataset(IMAGENET_SAMPLES)
    assert len(ds) == 1000 and ds.labeled and ds.label_space == "imagenet"
    assert ds.targets.tolist() == list(range(1000))
    assert ds.classes == data.IMAGENET_NAMES
    assert ds.paths[0].name == "n01440764_tench.JPEG"
    x, y = ds[1]
    assert y == 1 and x.dtype == torch.uint8 and x.shape[0] == 3 and min(x.shape[1:]) == 256


def _write_image(path: Path, size: tuple[int, int] = (20, 10), mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color=128 if mode == "L" else (10, 20, 30)).save(path)


def test_imagenet_val_layout(tmp_path: Path) -> None:
    wnids = data.IMAGENET_WNIDS
    _write_image(tmp_path / wnids[5] / "ILSVRC2012_val_00000002.JPEG")
    _write_image(tmp_path / wnids[999] / "ILSVRC2012_val_00000001.png")
    _write_image(tmp_path / wnids[0] / "ILSVRC2012_val_00000003.jpeg")
    ds = ImageFolderDataset(tmp_path)
    assert ds.label_space == "imagenet" and ds.targets.tolist() == [0, 5, 999]
    assert ImageFolderDataset(tmp_path / wnids[5]).targets.tolist() == [5]


def test_unknown_wnids_are_unlabeled(tmp_path: Path) -> None:
    _write_image(tmp_path / "n99999999_mystery.jpg")
    with pytest.warns(UserWarning, match="not ImageNet-1k classes"):
        ds = ImageFolderDataset(tmp_path)
    assert not ds.labeled and ds.targets.tolist() == [-1]


def test_unlabeled_folder(tmp_path: Path) -> None:
    _write_image(tmp_path / "b.PNG", size=(7, 5))
    _write_image(tmp_path / "a.jpg", mode="L")
    _write_image(tmp_path / "sub" / "c.webp")
    _write_image(tmp_path / "sub" / "d.bmp")
    _write_image(tmp_path / ".hidden" / "e.png")
    _write_image(tmp_path / "._f.png")
    (tmp_path / "readme.txt").write_text("not an image")
    ds = ImageFolderDataset(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in ds.paths] == [
        "a.jpg",
        "b.PNG",
        "sub/c.webp",
        "sub/d.bmp",
    ]
    assert not ds.labeled and ds.label_space is None and ds.classes is None
    assert ds.targets.tolist() == [-1] * 4
    x, y = ds[0]  # a grey image comes back RGB
    assert x.shape == (3, 10, 20) and x.dtype == torch.uint8 and y == -1
    assert ds[1][0].shape == (3, 5, 7)
    assert len(ImageFolderDataset(tmp_path, recursive=False)) == 2

    seen: list[Image.Image] = []

    def remember(image: Image.Image) -> tuple[int, int]:
        seen.append(image)
        return image.size

    with_transform = ImageFolderDataset(tmp_path, transform=remember)
    assert with_transform[1] == ((7, 5), -1)
    assert isinstance(seen[0], Image.Image) and seen[0].mode == "RGB"


def test_cifar_class_folders_give_cifar_labels(fake_tree: tuple[Path, dict[str, Any]]) -> None:
    base, expected = fake_tree
    ds = ImageFolderDataset(base / "cifar10-jpeg" / "test")
    assert ds.label_space == "cifar10" and ds.targets.tolist() == expected["test"][1]
    assert torch.equal(torch.stack([ds[i][0] for i in range(len(ds))]), expected["test"][0])


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolderDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images")
    with pytest.raises(ValueError, match="no image files"):
        ImageFolderDataset(tmp_path / "empty")
    _write_image(tmp_path / "imgs" / "fine.png")
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(NotADirectoryError):
        ImageFolderDataset(tmp_path / "imgs" / "fine.png")
    ds = ImageFolderDataset(tmp_path / "imgs")  # constructing does not decode
    assert ds[1][0].shape == (3, 10, 20)
    with pytest.raises(ImageDecodeError, match=r"cannot decode image file .*broken\.jpg") as info:
        ds[0]
    assert info.value.__cause__ is None and info.value.__suppress_context__


# --------------------------------------------------------------------------------------------
# open_images, TensorImageDataset, make_loader
# --------------------------------------------------------------------------------------------


def test_open_images_forms(fake_tree: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    base, expected = fake_tree
    for spec in ("cifar10-sample", "sample", "SAMPLE"):
        ds = open_images(spec)
        assert len(ds) == 500 and ds.label_space == "cifar10"
    for spec, split in (("cifar10:test", "test"), ("cifar10:train", "train"), ("cifar10", "test")):
        ds = open_images(spec, data_root=base, progress=False)
        assert isinstance(ds, TensorImageDataset)
        _assert_matches(ds, expected[split])
    _write_image(tmp_path / "plain" / "x.png")
    ds = open_images(str(tmp_path / "plain"))
    assert isinstance(ds, ImageFolderDataset) and ds.classes is None and ds.label_space is None
    again = open_images(tmp_path / "plain")
    assert isinstance(again, ImageFolderDataset) and again.paths == ds.paths


def test_open_images_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cifar10-sample.*cifar10\[:\{test,train\}\].*folder"):
        open_images("imagenet")
    with pytest.raises(
        ValueError, match="unknown cifar10 argument 'val'; choose one of: test, train"
    ):
        open_images("cifar10:val")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        open_images(str(tmp_path / "missing"))
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(ValueError, match="not a folder"):
        open_images(str(tmp_path / "file.png"))
    with pytest.raises(FileNotFoundError, match="default data root"):
        open_images("cifar10:test")


def test_tensor_dataset_subsets_and_checks() -> None:
    images = torch.arange(6 * 3 * 2 * 2, dtype=torch.int64).reshape(6, 3, 2, 2).to(torch.uint8)
    ds = TensorImageDataset(images, [0, 1, 2, 0, 1, 2], ("a", "b", "c"), names=list("uvwxyz"))
    head = ds.head(2)
    assert len(head) == 2 and head.names == ("u", "v")
    assert head.images.data_ptr() == ds.images.data_ptr()  # a view
    picked = ds.subset([5, 0])
    assert picked.targets.tolist() == [2, 0] and picked.names == ("z", "u")
    assert torch.equal(picked.images[0], images[5])
    mask = ds.targets == 1
    assert ds.subset(mask).names == ("v", "y")
    assert ds.subset(np.array([1])).targets.tolist() == [1]
    assert ds.subset(slice(None, None, 2)).names == ("u", "w", "y")
    with pytest.raises(IndexError):
        ds.subset([6])
    with pytest.raises(ValueError):
        ds.head(-1)
    with pytest.raises(ValueError, match="uint8"):
        TensorImageDataset(images.float(), [0] * 6)
    with pytest.raises(ValueError, match="3 channels"):
        TensorImageDataset(images[:, :1], [0] * 6)
    with pytest.raises(ValueError, match="targets must have shape"):
        TensorImageDataset(images, [0] * 5)
    with pytest.raises(ValueError, match="targets must lie"):
        TensorImageDataset(images, [0, 1, 2, 3, 0, 0], ("a", "b", "c"))
    with pytest.raises(ValueError, match="names has"):
        TensorImageDataset(images, [0] * 6, names=["a"])
    assert "6 images of 3x2x2" in repr(ds)


def test_make_loader() -> None:
    ds = cifar10_sample(transform=lambda x: x.float())
    batches = list(make_loader(ds, batch_size=128))
    assert [len(b[1]) for b in batches] == [128, 128, 128, 116]
    assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64
    first = [make_loader(ds, 64, shuffle=True, seed=3) for _ in range(2)]
    a, b = (next(iter(loader))[1] for loader in first)
    assert torch.equal(a, b) and not torch.equal(a, ds.targets[:64])


def _tarball_with_a_corrupt_member(base: Path, tmp_path: Path) -> Path:
    """The fake tarball with ``test/cat/0001.JPG`` replaced by bytes that are no image."""
    (base / "cifar10-jpeg" / "test" / "cat" / "0001.JPG").write_bytes(b"not a jpeg at all")
    path = tmp_path / "corrupt-cifar10-jpeg.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        tf.add(base / "cifar10-jpeg", arcname="cifar10-jpeg")
    return path


def test_corrupt_jpeg_in_tarball_is_skipped_warned_and_counted(
    fake_tree: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """One undecodable member: one fewer image, one warning naming it, the count on the
    dataset, also when the set comes from the cache; on_error='raise' names it in one line."""
    base, expected = fake_tree
    path = _tarball_with_a_corrupt_member(base, tmp_path)
    member = "cifar10-jpeg/test/cat/0001.JPG"
    n = len(expected["test"][1])
    for _ in range(2):  # decoded, then from the cache
        with pytest.warns(RuntimeWarning, match=r"skipped 1 image\(s\).*0001\.JPG") as rec:
            ds = load_cifar10("test", path, progress=False)
        assert len([w for w in rec if "skipped" in str(w.message)]) == 1
        assert len(ds) == n - 1 and ds.n_skipped == 1 and ds.skipped == (member,)
        assert "cat/0001.JPG" not in (ds.names or ())
    assert len(_cache_files(tmp_path)) == 1
    with pytest.raises(ImageDecodeError, match=re.escape(member)) as err:  # from the cache
        load_cifar10("test", path, progress=False, on_error="raise")
    assert "\n" not in str(err.value) and "on_error='skip'" in str(err.value)
    for file in _cache_files(tmp_path):
        file.unlink()
    with pytest.raises(ImageDecodeError, match=re.escape(member)) as err:  # decoding
        load_cifar10("test", path, progress=False, on_error="raise")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="on_error must be one of"):
        load_cifar10("test", path, progress=False, on_error="ignore")


def test_corrupt_jpeg_in_folder_is_skipped(
    fake_tree: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    base, expected = fake_tree
    _tarball_with_a_corrupt_member(base, tmp_path)
    with pytest.warns(RuntimeWarning, match="skipped 1 image"):
        ds = load_cifar10("test", base, progress=False)
    assert len(ds) == len(expected["test"][1]) - 1 and ds.n_skipped == 1
    assert ds.skipped[0].endswith("0001.JPG")
