"""Fuzz the model importers and record how the outcomes are distributed.

Runs seeded structural mutations (``tests/fuzz_mutations.py``) of the published MobileNetV2
``.tflite`` file in ``../shared/data`` and of a ``.pt`` checkpoint written by
``save_checkpoint`` (a CIFAR-10 MobileNetV2, width 0.25) and of a zip of six images of the
built-in CIFAR-10 sample (unpacked with ``UploadStore.extract_images``), each case in a
worker process with a time limit, and writes the distribution of outcomes (a model or a
folder of images, a one-line ``ValueError``, or a failure: another exception, a multi-line
error, a timeout, a crash, files written outside the upload folder), overall and by kind of
mutation, to ``benchmarks/results/fuzz_importers.json``. The CI test
(``tests/test_fuzz_importers.py``) runs the first 300, 200 and 160 of these cases.

Run: ``python benchmarks/fuzz_importers.py`` (``--tflite N --checkpoint N --zips N`` for other
counts).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz_mutations import ZIP_LIMITS, run_cases, summarise  # noqa: E402
from tests.test_fuzz_importers import (  # noqa: E402
    MODEL,
    TIME_LIMIT,
    small_checkpoint,
    small_image_zip,
)


def image_zip_result(cases: int, workers: int) -> dict:
    """The outcome distribution of ``cases`` mutated image zips."""
    t = time.perf_counter()
    outcomes = run_cases(
        "image_zip", small_image_zip(), range(cases), workers=workers, time_limit=TIME_LIMIT
    )
    return {
        "file": "zip of 6 CIFAR-10 sample images (PNG and JPEG, stored and deflated)",
        "limits": ZIP_LIMITS,
        **summarise(outcomes),
        "seconds": round(time.perf_counter() - t, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflite", type=int, default=1000, help="cases for the .tflite file")
    parser.add_argument("--checkpoint", type=int, default=500, help="cases for the checkpoint")
    parser.add_argument("--zips", type=int, default=400, help="cases for the image zip")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/fuzz_importers.json"))
    args = parser.parse_args()
    result: dict = {"time_limit_s": TIME_LIMIT}
    if MODEL.exists():
        t = time.perf_counter()
        outcomes = run_cases(
            "tflite",
            MODEL.read_bytes(),
            range(args.tflite),
            workers=args.workers,
            time_limit=TIME_LIMIT,
        )
        result["tflite"] = {
            "file": MODEL.name,
            **summarise(outcomes),
            "seconds": round(time.perf_counter() - t, 1),
        }
    else:
        result["tflite"] = f"skipped: {MODEL} not found"
    with tempfile.TemporaryDirectory() as tmp:
        raw = small_checkpoint(Path(tmp) / "small.pt")
    t = time.perf_counter()
    outcomes = run_cases(
        "checkpoint", raw, range(args.checkpoint), workers=args.workers, time_limit=TIME_LIMIT
    )
    result["checkpoint"] = {
        "file": "save_checkpoint of a CIFAR-10 MobileNetV2 (width 0.25)",
        **summarise(outcomes),
        "seconds": round(time.perf_counter() - t, 1),
    }
    result["image_zips"] = image_zip_result(args.zips, args.workers)
    text = json.dumps(result, indent=1)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
