"""Regenerate the files in ``manifold_lab/_data/`` from the shared data folder.

Usage::

    python experiments/make_cifar10_sample.py [DATA_FOLDER]

``DATA_FOLDER`` (default ``../shared/data`` from the project root) holds
``cifar10-jpeg.tar.gz`` and ``imagenet-samples-256/``. Writes
``manifold_lab/_data/cifar10_sample.tar`` (first 50 test files per class, original JPEG bytes)
and ``manifold_lab/_data/imagenet_wnids.txt``; both come out byte-for-byte the same on every
run. See ``manifold_lab/_data/ATTRIBUTION.md``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from manifold_lab.data import build_cifar10_sample, build_imagenet_wnids

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    data = Path(argv[0]) if argv else ROOT.parent / "shared" / "data"
    out = ROOT / "manifold_lab" / "_data"
    written = [
        build_cifar10_sample(data / "cifar10-jpeg.tar.gz", out / "cifar10_sample.tar"),
        build_imagenet_wnids(data / "imagenet-samples-256", out / "imagenet_wnids.txt"),
    ]
    for path in written:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size} bytes  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
