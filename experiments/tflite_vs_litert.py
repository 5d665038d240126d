"""Imported TFLite MobileNetV2 (PyTorch) against the official LiteRT interpreter, image by image.

Both models get the *same input*: for a quantised file, the uint8 tensor
``TFSlimPreprocess(size=R, input_quantization=(scale, zero_point)).quantize(image)`` goes to the
interpreter, and its dequantised value ``(u8 - zero_point) * scale`` to the imported model; for a
float file both get the float tensor. Labels: the position of the image's wnid in the sorted list
of the folder's wnids; for a 1001-output model, output index = label + 1.

Reported: top-1 agreement between the two, top-1 and top-5 accuracy of each, mean and max
absolute difference of the softmax probabilities, images per second of each (model only, input
preparation timed separately), and the images where the top-1 classes differ. Writes

    experiments/results/tflite_vs_litert.json   numbers, disagreements, provenance
    experiments/results/tflite_vs_litert.md     a short table

Run: ``python experiments/tflite_vs_litert.py`` (about a minute on 2 CPU cores for the 1,000
images of ``imagenet-samples-256``; ``--limit 50`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from manifold_lab.fileio import atomic_write_text
from manifold_lab.preprocessing import TFSlimPreprocess
from manifold_lab.records import provenance
from manifold_lab.tflite import load_tflite

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).parent / "results"
AGREEMENT_REQUIRED = 0.97
ACCURACY_GAP_ALLOWED = 1.0  # percentage points


def image_files(folder: Path) -> tuple[list[Path], list[str]]:
    """The JPEGs of ``folder`` (sorted) and the sorted list of their wnids."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpeg", ".jpg"))
    if not files:
        raise SystemExit(f"no JPEG images in {folder}")
    wnids = sorted({p.name.split("_")[0] for p in files})
    return files, wnids


def prepare(files: list[Path], pre: TFSlimPreprocess, quantized_input: bool) -> torch.Tensor:
    """Batch of inputs (N, 3, R, R): uint8 for a quantised input, float otherwise."""
    from PIL import Image

    out = []
    for path in tqdm(files, desc="preprocess", unit="img", leave=False):
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        out.append(pre.quantize(rgb) if quantized_input else pre(rgb))
    return torch.stack(out)


def run_litert(model_path: Path, inputs: torch.Tensor, threads: int) -> tuple[np.ndarray, float]:
    """Probabilities (N, classes) from the LiteRT interpreter, and seconds spent in invoke()."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model_path), num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    nhwc = inputs.permute(0, 2, 3, 1).contiguous().numpy().astype(inp["dtype"], copy=False)
    scale, zero_point = out["quantization"]
    rows = []
    seconds = 0.0
    for x in tqdm(nhwc, desc="LiteRT", unit="img", leave=False):
        interp.set_tensor(inp["index"], x[None])
        t0 = time.perf_counter()
        interp.invoke()
        seconds += time.perf_counter() - t0
        y = interp.get_tensor(out["index"]).reshape(-1)
        if np.issubdtype(y.dtype, np.integer):
            y = (y.astype(np.float64) - zero_point) * scale
        rows.append(y.astype(np.float64))
    return np.stack(rows), seconds


def run_torch(
    model: torch.nn.Module, inputs: torch.Tensor, dequant: tuple[float, int] | None, batch: int
) -> tuple[np.ndarray, float]:
    """Softmax probabilities from the imported model (batched), and seconds spent in forward."""
    model = model.to(memory_format=torch.channels_last)
    probs = []
    seconds = 0.0
    with torch.inference_mode():
        for i in tqdm(range(0, len(inputs), batch), desc="PyTorch", unit="batch", leave=False):
            x = inputs[i : i + batch]
            if dequant is not None:
                scale, zero_point = dequant
                x = (x.float() - zero_point) * scale
            x = x.contiguous(memory_format=torch.channels_last)
            t0 = time.perf_counter()
            logits = model(x)
            seconds += time.perf_counter() - t0
            probs.append(torch.softmax(logits.double(), dim=1).numpy())
    return np.concatenate(probs), seconds


def topk_hits(probs: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    # stable sort on -p: ties are broken towards the lower index, like argmax
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return (order == targets[:, None]).any(axis=1)


def compare(
    p_lite: np.ndarray, p_torch: np.ndarray, labels: np.ndarray, offset: int
) -> dict[str, Any]:
    """Agreement and accuracy numbers (accuracies in %)."""
    targets = labels + offset
    top_lite = p_lite.argmax(1)
    top_torch = p_torch.argmax(1)
    agree = top_lite == top_torch
    # the interpreter's output is quantised (uint8 softmax: steps of 1/256), so its maximum can
    # be shared by several classes; argmax then takes the lowest index
    tied = (p_lite == p_lite.max(1, keepdims=True)).sum(1) > 1
    ours_among_lite_max = p_lite[np.arange(len(p_lite)), top_torch] == p_lite.max(1)
    diff = np.abs(p_lite - p_torch)
    rows = np.flatnonzero(~agree)
    # how close the calls were where the two disagree: each model's probability margin between
    # its own top-1 class and the other's
    margin_lite = p_lite[rows, top_lite[rows]] - p_lite[rows, top_torch[rows]]
    margin_torch = p_torch[rows, top_torch[rows]] - p_torch[rows, top_lite[rows]]
    return {
        "images": len(labels),
        "top1_agreement": float(agree.mean()),
        "top1_agreement_up_to_ties": float(ours_among_lite_max.mean()),
        "litert_top1_ties": int(tied.sum()),
        "top1_litert": 100 * float((top_lite == targets).mean()),
        "top1_torch": 100 * float((top_torch == targets).mean()),
        "top5_litert": 100 * float(topk_hits(p_lite, targets, 5).mean()),
        "top5_torch": 100 * float(topk_hits(p_torch, targets, 5).mean()),
        "top1_diff_points": 100
        * float((top_torch == targets).mean() - (top_lite == targets).mean()),
        "prob_abs_diff_mean": float(diff.mean()),
        "prob_abs_diff_max": float(diff.max()),
        "prob_abs_diff_max_per_image_mean": float(diff.max(1).mean()),
        "disagreements": len(rows),
        "disagreement_margin_litert_median": float(np.median(margin_lite)) if len(rows) else 0.0,
        "disagreement_margin_torch_median": float(np.median(margin_torch)) if len(rows) else 0.0,
        "top1_prob_abs_diff_mean": float(
            np.abs(p_lite[np.arange(len(p_lite)), top_lite] - p_torch.max(1)).mean()
        ),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=SHARED / "mobilenet_v2_1.0_224_quant.tflite")
    ap.add_argument("--images", type=Path, default=SHARED / "imagenet-samples-256")
    ap.add_argument("--labels", type=Path, default=SHARED / "imagenet_labels_1001.txt")
    ap.add_argument("--limit", type=int, default=None, help="use the first N images only")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for PyTorch and LiteRT (default 1: on a busy shared 2-core machine two "
        "threads that wait on each other were several times slower; 0 keeps the defaults)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    lite_threads = args.threads if args.threads > 0 else -1
    args.out.mkdir(parents=True, exist_ok=True)

    load_before = os.getloadavg()
    t_start = time.perf_counter()
    model, info = load_tflite(args.model)
    t_load = time.perf_counter() - t_start
    files, wnids = image_files(args.images)
    index = {w: i for i, w in enumerate(wnids)}
    if args.limit is not None:
        files = files[: args.limit]
    labels = np.array([index[p.name.split("_")[0]] for p in files])
    offset = 1 if info.num_classes == len(wnids) + 1 else 0
    names = None
    if args.labels.exists():
        names = args.labels.read_text(encoding="utf-8").splitlines()

    pre = info.preprocessing()
    quantized_input = info.input_quantization is not None
    t0 = time.perf_counter()
    inputs = prepare(files, pre, quantized_input)
    t_pre = time.perf_counter() - t0

    p_lite, s_lite = run_litert(args.model, inputs, lite_threads)
    p_torch, s_torch = run_torch(model, inputs, info.input_quantization, args.batch_size)
    res = compare(p_lite, p_torch, labels, offset)
    res["litert_images_per_s"] = len(files) / s_lite
    res["torch_images_per_s"] = len(files) / s_torch
    res["preprocess_images_per_s"] = len(files) / t_pre
    res["import_s"] = t_load
    # the machine may be shared: the load average says how busy it was around the timings
    res["load_average_1min_before_after"] = [load_before[0], os.getloadavg()[0]]
    res["passed"] = bool(
        res["top1_agreement"] >= AGREEMENT_REQUIRED
        and abs(res["top1_diff_points"]) <= ACCURACY_GAP_ALLOWED
    )

    def name(i: int) -> str:
        return names[i] if names and i < len(names) else str(i)

    disagreements = []
    for i in np.flatnonzero(p_lite.argmax(1) != p_torch.argmax(1)):
        a, b = int(p_lite[i].argmax()), int(p_torch[i].argmax())
        disagreements.append(
            {
                "image": files[i].name,
                "label": name(int(labels[i]) + offset),
                "litert_top1": name(a),
                "litert_p": round(float(p_lite[i, a]), 4),
                "litert_p_of_torch_top1": round(float(p_lite[i, b]), 4),
                "torch_top1": name(b),
                "torch_p": round(float(p_torch[i, b]), 4),
                "torch_p_of_litert_top1": round(float(p_torch[i, a]), 4),
            }
        )
    params = {
        "model": str(args.model),
        "images": str(args.images),
        "limit": args.limit,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "required": {
            "top1_agreement": AGREEMENT_REQUIRED,
            "abs_top1_diff_points": ACCURACY_GAP_ALLOWED,
        },
    }
    info_d = {
        "sha256": info.sha256,
        "resolution": info.resolution,
        "num_classes": info.num_classes,
        "quantized": info.quantized,
        "input_quantization": info.input_quantization,
        "weight_quantization": info.weight_quantization,
        "num_ops": info.num_ops,
        "op_counts": dict(info.op_counts),
        "explicit_padding_layers": info.explicit_padding_layers,
        "notes": info.notes,
    }
    import ai_edge_litert

    prov = provenance(
        params,
        litert=getattr(ai_edge_litert, "__version__", "unknown"),
        tflite=__import__("tflite").__version__,
        timing_s=round(time.perf_counter() - t_start, 1),
    )
    doc = {
        "provenance": prov,
        "tflite_info": info_d,
        "results": res,
        "disagreements": disagreements,
    }
    json_path = atomic_write_text(
        args.out / "tflite_vs_litert.json", json.dumps(doc, indent=1) + "\n"
    )
    md = markdown(res, info_d, prov, args)
    md_path = atomic_write_text(args.out / "tflite_vs_litert.md", md)
    print(md)
    print(f"wrote {json_path} and {md_path}")
    if not res["passed"]:
        sys.exit(1)


def markdown(res: dict[str, Any], info: dict[str, Any], prov: dict[str, Any], args: Any) -> str:
    hw = prov["hardware"]
    lines = [
        "# Imported TFLite MobileNetV2 (PyTorch) vs the LiteRT interpreter",
        "",
        f"`{Path(args.model).name}` ({info['weight_quantization']} weights, "
        f"{'quantised' if info['quantized'] else 'float'} activations, {info['resolution']}px, "
        f"{info['num_classes']} outputs), {res['images']} images of `{Path(args.images).name}`, "
        "both fed the same uint8 input (ours dequantised). "
        "Labels: sorted-wnid index (+1 for 1001 outputs); this sample is likely drawn from "
        "ImageNet's training split, so accuracies here are not validation accuracies.",
        "",
        "| | LiteRT (uint8 interpreter) | imported PyTorch (float) |",
        "|---|---|---|",
        f"| top-1 accuracy | {res['top1_litert']:.1f}% | {res['top1_torch']:.1f}% |",
        f"| top-5 accuracy | {res['top5_litert']:.1f}% | {res['top5_torch']:.1f}% |",
        f"| images / s | {res['litert_images_per_s']:.1f} | {res['torch_images_per_s']:.1f} |",
        "",
        f"- top-1 agreement: **{100 * res['top1_agreement']:.1f}%** (required >= "
        f"{100 * AGREEMENT_REQUIRED:.0f}%); {100 * res['top1_agreement_up_to_ties']:.1f}% counting "
        f"ours as agreeing when it is one of the interpreter's tied maxima "
        f"({res['litert_top1_ties']} images have a tie in the interpreter's 8-bit softmax)",
        f"- where the top-1 classes differ ({res['disagreements']} images, listed in the JSON "
        "file), the median margin between the two classes is "
        f"{res['disagreement_margin_litert_median']:.3f} in the interpreter's probabilities and "
        f"{res['disagreement_margin_torch_median']:.3f} in ours",
        f"- top-1 accuracy difference (ours - LiteRT): {res['top1_diff_points']:+.1f} points "
        f"(allowed +-{ACCURACY_GAP_ALLOWED:.0f})",
        f"- softmax probabilities: mean |diff| {res['prob_abs_diff_mean']:.2e}, max |diff| "
        f"{res['prob_abs_diff_max']:.3f}, mean over images of the per-image max "
        f"{res['prob_abs_diff_max_per_image_mean']:.4f} (the interpreter's output is itself "
        "quantised in steps of 1/256)",
        f"- {'PASSED' if res['passed'] else 'FAILED'}",
        "",
        f"Speeds: model only, batch {args.batch_size} for PyTorch, one image per invoke for "
        f"LiteRT, {args.threads or 'default'} thread(s) each, on {hw['cpu']} "
        f"({hw['cpu_count']} cores, shared; 1-minute load average "
        f"{res['load_average_1min_before_after'][0]:.1f} before, "
        f"{res['load_average_1min_before_after'][1]:.1f} after); preprocessing "
        f"{res['preprocess_images_per_s']:.0f} images/s. "
        f"Command: `{prov['command']}`; commit {prov['git'].get('commit')}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
