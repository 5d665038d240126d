"""Make the package's built-in CIFAR-10 model from a finished training run.

    python experiments/make_builtin_model.py experiments/runs/cpu/linear_s0

Copies the run's final weights (``model.pt``, written by ``manifold_lab.train``) to
``manifold_lab/_data/cifar10_mobilenetv2.pt`` and records in its metadata how they were
trained: the training config, the run's provenance (commit, hardware, command), its learning
curve and its wall time. The file is written atomically. The run must use a linear
bottleneck (the paper's design) and the file must stay within 5 MB: a full-width model needs
``--half`` (float16 storage).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from manifold_lab.weights import builtin_checkpoint, load_checkpoint, save_checkpoint

MAX_BYTES = 5 * 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a finished run of manifold-lab train")
    parser.add_argument("--out", type=Path, default=None, help="default: the package's file")
    parser.add_argument(
        "--half", action="store_true", help="store the weights in float16 (for a full-width model)"
    )
    args = parser.parse_args()
    run = args.run_dir
    if not (run / "model.pt").exists():
        raise SystemExit(f"{run} has no model.pt: the run has not finished")
    model, payload = load_checkpoint(run / "model.pt")
    if model.config.bottleneck_activation != "linear":
        raise SystemExit("the built-in model must have a linear bottleneck")
    record = json.loads((run / "metrics.json").read_text())
    rows = record["records"]
    prov = record["provenance"]
    meta = dict(payload["meta"])
    meta["data"] = Path(str(meta.get("data") or "cifar10")).name
    meta["run"] = run.name
    meta["train_provenance"] = {
        k: prov.get(k) for k in ("git", "hardware", "created", "torch", "python")
    }
    meta["train_wall_seconds"] = round(sum(r["epoch_seconds"] for r in rows), 1)
    meta["learning_curve"] = [
        {"epoch": r["epoch"], "step": r["step"], "test_acc": r["test_acc"]} for r in rows
    ]
    out = args.out or builtin_checkpoint()
    try:
        save_checkpoint(model, out, meta=meta, half=args.half, max_bytes=MAX_BYTES)
    except ValueError as exc:
        raise SystemExit(f"{out} not written: {exc}") from None
    size = out.stat().st_size
    print(f"wrote {out} ({size:,} bytes): test accuracy {meta['test_acc']:.4f}")


if __name__ == "__main__":
    main()
