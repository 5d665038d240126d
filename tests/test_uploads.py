"""Uploads (manifold_lab.uploads): limits, zip bombs, lying headers, folder structure, clean-up."""

from __future__ import annotations

import io
import os
import re
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from manifold_lab.uploads import (
    MB,
    StoredUpload,
    UploadError,
    UploadLimits,
    UploadStore,
    clean_stale_uploads,
    upload_root,
)


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _zeros_zip(name: str, n_bytes: int) -> bytes:
    """A zip holding ``n_bytes`` zeros under ``name``, written in chunks (never all in memory)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w") as out:
            chunk = bytes(4 * MB)
            for start in range(0, n_bytes, len(chunk)):
                out.write(chunk[: min(len(chunk), n_bytes - start)])
    return buf.getvalue()


def _lie_about_size(data: bytes, file_size: int) -> bytes:
    """The zip with its (single) entry's uncompressed size replaced in the local header and
    the central directory."""
    raw = bytearray(data)
    local = raw.index(b"PK\x03\x04")
    struct.pack_into("<I", raw, local + 22, file_size)
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, file_size)
    return bytes(raw)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _written(root: Path) -> int:
    return sum(p.stat().st_size for p in _files(root))


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """300 MB of zeros deflate to about 300 KB: refused from the zip's directory."""
    bomb = _zeros_zip("big.png", 300 * MB)
    assert len(bomb) < 1 * MB
    store = UploadStore(tmp_path, "s1", limits=UploadLimits())
    with pytest.raises(UploadError, match=r"^bomb\.zip: big\.png inflates to 300 MB; the limit"):
        store.extract_images(bomb, "bomb.zip")
    assert _files(tmp_path) == [] and list(tmp_path.iterdir()) == []  # no .part left either


def test_a_zip_whose_header_lies_about_sizes_never_writes_past_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 300 MB entry claims 1000 bytes: the directory passes, inflating stops at 1000
    bytes (the CRC then fails) and nothing stays on disk."""
    lying = _lie_about_size(_zeros_zip("x.png", 300 * MB), 1000)
    assert zipfile.ZipFile(io.BytesIO(lying)).infolist()[0].file_size == 1000
    read = 0
    original = zipfile.ZipExtFile.read

    def counting_read(self: Any, n: int = -1) -> bytes:
        nonlocal read
        data = original(self, n)
        read += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    store = UploadStore(tmp_path, "s1", limits=UploadLimits())
    with pytest.raises(UploadError, match=r"^lies\.zip: cannot unpack x\.png: Bad CRC"):
        store.extract_images(lying, "lies.zip")
    assert read <= 1000
    assert list(tmp_path.iterdir()) == []


class _Endless(io.RawIOBase):
    """A stream of zeros that never ends (an inflater that ignores the header's size)."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        n = 1 << 20 if n is None or n < 0 else n
        self.read_bytes += n
        return bytes(n)


@pytest.mark.parametrize(
    ("declared", "limits", "message"),
    [
        (1000, UploadLimits(), "holds more than the 1,000 bytes its header says"),
        (10**12, UploadLimits(max_file_bytes=10**13, max_total_bytes=3 * MB), "in total"),
        (10**12, UploadLimits(max_file_bytes=2 * MB, max_total_bytes=10**13), "per file"),
    ],
)
def test_bytes_are_counted_while_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    declared: int,
    limits: UploadLimits,
    message: str,
) -> None:
    """Whatever the inflater yields, writing stops at the header's size and at the limits."""
    data = _zip({"x.png": b"\x00" * 100}, method=zipfile.ZIP_STORED)
    streams: list[_Endless] = []

    def endless_open(self: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        streams.append(_Endless())
        return streams[-1]

    def check(self: Any, archive: Any, name: str) -> Any:  # a directory that says `declared`
        info = archive.infolist()[0]
        info.file_size, info.compress_size = declared, declared
        return [(info, ("x.png",))]

    monkeypatch.setattr(zipfile.ZipFile, "open", endless_open)
    monkeypatch.setattr(UploadStore, "_check_directory", check)
    writes: list[int] = []
    real_open = open

    def spying_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        f = real_open(path, mode, *args, **kwargs)
        if "w" in mode:
            write = f.write
            f.write = lambda b: writes.append(len(b)) or write(b)  # type: ignore[method-assign]
        return f

    monkeypatch.setattr("builtins.open", spying_open)
    store = UploadStore(tmp_path, "s1", limits=limits)
    with pytest.raises(UploadError, match=message):
        store.extract_images(data, "mine.zip")
    assert sum(writes) <= min(declared, limits.max_file_bytes, limits.max_total_bytes)
    assert writes or declared == 1000  # the limits were reached by writing, then stopped
    assert streams[0].read_bytes <= sum(writes) + (1 << 20)  # at most one chunk past
    assert list(tmp_path.iterdir()) == []


def test_limits_on_the_directory(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, "s1", limits=UploadLimits(max_files=3, max_total_bytes=2 * MB))
    many = _zip({f"{i}.png": b"x" for i in range(4)})
    with pytest.raises(UploadError, match=r"many\.zip holds 4 files; the limit is 3"):
        store.extract_images(many, "many.zip")
    big = _zip({f"{i}.png": os.urandom(MB) for i in range(3)})
    with pytest.raises(UploadError, match=r"more than 2 MB, the limit in total"):
        store.extract_images(big, "big.zip")
    ratio = _zeros_zip("z.png", 10 * MB)  # 10 MB of zeros: about 1000:1
    with pytest.raises(UploadError, match=r"z\.png is compressed [\d,]+:1; the limit is 100:1"):
        UploadStore(tmp_path, "s1").extract_images(ratio, "ratio.zip")
    assert list(tmp_path.iterdir()) == []


def test_bad_zips_are_named(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, "s1", limits=UploadLimits())
    with pytest.raises(UploadError, match=r"^mine\.zip is not a zip archive$"):
        store.extract_images(b"not a zip", "mine.zip")
    with pytest.raises(UploadError, match=r"mine\.zip holds no images"):
        store.extract_images(_zip({"readme.txt": b"hi", "__MACOSX/._x.png": b"x"}), "mine.zip")
    with pytest.raises(UploadError, match=r"'\.\./x\.png' points outside the zip"):
        store.extract_images(_zip({"ok.png": b"x", "../x.png": b"x"}), "mine.zip")
    with pytest.raises(UploadError, match=r"absolute path"):
        store.extract_images(_zip({"/etc/x.png": b"x"}), "mine.zip")
    raw = bytearray(_zip({"x.png": b"some image bytes" * 100}))
    start = raw.index(b"PK\x03\x04") + 30 + len("x.png")
    raw[start : start + 20] = b"\xff" * 20  # corrupt the deflate stream
    with pytest.raises(UploadError, match=r"^mine\.zip: cannot unpack x\.png"):
        store.extract_images(bytes(raw), "mine.zip")
    assert list(tmp_path.iterdir()) == []


def test_folders_stay_apart_and_reuse(tmp_path: Path) -> None:
    data = _zip({"a/x.png": b"first", "b/x.png": b"second", "c/.hidden.png": b"x", "t.txt": b""})
    store = UploadStore(tmp_path, "s1")
    up = store.extract_images(data, "mine.zip")
    assert up.name == "mine.zip" and up.path.parent == tmp_path
    assert (up.path / "a" / "x.png").read_bytes() == b"first"
    assert (up.path / "b" / "x.png").read_bytes() == b"second"
    assert [p.relative_to(up.path).as_posix() for p in _files(up.path)] == ["a/x.png", "b/x.png"]
    assert store.extract_images(data, "again.zip").path == up.path  # unpacked once


def test_store_file_limit_and_error_names(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, "s1", limits=UploadLimits(max_file_bytes=10))
    with pytest.raises(UploadError, match=r"^model\.pt is 1e-05 MB; the limit"):
        UploadStore(tmp_path, "s1", limits=UploadLimits(max_file_bytes=5)).store_file(
            b"0123456789", "model.pt"
        )
    up = store.store_file(b"0123456789", "My Model.PT")
    assert up.path.suffix == ".pt" and up.path.read_bytes() == b"0123456789"
    message = f"could not read the checkpoint {up.path}: truncated"
    assert store.explain(message) == "could not read the checkpoint My Model.PT: truncated"
    assert StoredUpload(up.path, "x.pt").explain(f"file {up.path.name}") == "file x.pt"


def test_prune_removes_only_this_sessions_other_uploads(tmp_path: Path) -> None:
    mine, other = UploadStore(tmp_path, "s1"), UploadStore(tmp_path, "s2")
    first = mine.store_file(b"one", "a.pt")
    second = mine.store_file(b"two", "b.pt")
    images = mine.extract_images(_zip({"x.png": b"x"}), "i.zip")
    theirs = other.store_file(b"one", "a.pt")
    assert mine.prune(keep=[second, images]) == [first.path]
    assert second.path.exists() and images.path.exists() and theirs.path.exists()
    assert sorted(mine.prune()) == sorted([second.path, images.path])  # after use: all
    assert [p.name for p in tmp_path.iterdir()] == [theirs.path.name]


def test_clean_stale_uploads(tmp_path: Path) -> None:
    now = time.time()
    fresh = UploadStore(tmp_path, "s1").store_file(b"new", "a.pt").path
    old = UploadStore(tmp_path, "s2").store_file(b"old", "a.pt").path
    part = tmp_path / "s3_0123.abc.part"
    (part / "sub").mkdir(parents=True)
    new_part = tmp_path / "s4_0123.abc.part"
    new_part.mkdir()
    os.utime(old, (now - 2 * 3600, now - 2 * 3600))
    os.utime(part, (now - 3600, now - 3600))
    removed = clean_stale_uploads(tmp_path, max_age_s=3600, now=now)
    assert sorted(removed) == sorted([old, part])
    assert fresh.exists() and new_part.exists()
    assert clean_stale_uploads(tmp_path / "missing") == []


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert UploadLimits.from_env({}) == UploadLimits()
    assert UploadLimits().describe() == (
        "at most 256 MB uncompressed in total, 10,000 files, 64 MB per file and a "
        "compression ratio of 100:1"
    )
    env = {
        "MANIFOLD_LAB_UPLOAD_MAX_TOTAL_MB": "1",
        "MANIFOLD_LAB_UPLOAD_MAX_FILES": "7",
        "MANIFOLD_LAB_UPLOAD_MAX_FILE_MB": "0.5",
        "MANIFOLD_LAB_UPLOAD_MAX_RATIO": "20",
        "MANIFOLD_LAB_UPLOAD_MAX_AGE_HOURS": "2",
        "MANIFOLD_LAB_UPLOAD_DIR": str(tmp_path),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = UploadStore.from_env("s1")
    assert store.root == tmp_path == upload_root()
    assert store.limits == UploadLimits(
        max_total_bytes=MB, max_files=7, max_file_bytes=MB // 2, max_ratio=20, max_age_s=7200
    )
    monkeypatch.setenv("MANIFOLD_LAB_UPLOAD_MAX_FILES", "lots")
    with pytest.raises(ValueError, match=r"MANIFOLD_LAB_UPLOAD_MAX_FILES='lots' must be a posi"):
        UploadLimits.from_env()
    with pytest.raises(ValueError, match="session"):
        UploadStore(tmp_path, "../x")


def test_read_points_accepts_csv_and_npy_and_refuses_bad_files_in_one_line() -> None:
    import io

    import numpy as np

    from manifold_lab.uploads import PointLimits, UploadError, read_points

    X = np.arange(12.0).reshape(6, 2)
    buf = io.BytesIO()
    np.save(buf, X)
    got, labels = read_points(buf.getvalue(), "x.npy")
    assert np.array_equal(got, X) and labels is None
    got, labels = read_points(b"a,b,label\n1,2,u\n3,4,v\n", "x.csv")
    assert got.tolist() == [[1.0, 2.0], [3.0, 4.0]] and labels.tolist() == ["u", "v"]
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    bad = {
        "pickled array (refused)": (pickled.getvalue(), "p.npy"),
        "column 'b' holds text": (b"a,b\n1,x\n2,y\n", "t.csv"),
        "NaN or infinite values (point 2)": (b"a,b\n1,2\n3,inf\n", "n.csv"),
        "need an N x D table": (b"a\n1\n", "one.csv"),
        "use a .csv or .npy file": (b"1,2", "x.xlsx"),
        "over the limit (4 points": (b"a\n1\n2\n3\n4\n5\n", "big.csv"),
    }
    for why, (data, name) in bad.items():
        with pytest.raises(UploadError, match=re.escape(why)) as info:
            read_points(data, name, PointLimits(max_rows=4))
        assert "\n" not in str(info.value) and str(info.value).startswith(name)
