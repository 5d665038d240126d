"""The paper's Figure 6 ablation on CIFAR-10: linear vs ReLU6 bottleneck (and shortcut variants).

Runs every (variant, seed) of a preset as its own resumable run directory, several at once
(one thread each), then reports paired differences with 95% confidence intervals.

    python experiments/ablation.py run --preset cpu --seeds 0 1 --parallel 4 \\
        --data-root ../shared/data/cifar10-jpeg.tar.gz
    python experiments/ablation.py report --preset cpu

Run directories go to ``experiments/runs/<preset>/<variant>_s<seed>/`` (checkpoints are not
committed); ``report`` copies each finished run's metrics into
``experiments/results/ablation_<preset>/`` and writes the tables and the learning-curve figure
there.

Decision rule, fixed before the runs: for each comparison (the design minus the alternative,
paired by seed), linear wins if the 95% t-interval of the mean difference in final test
accuracy lies above 0, the alternative wins if it lies below 0, otherwise the comparison is
inconclusive at this scale.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {
    "linear": [],
    "relu6": ["model_bottleneck_activation=relu6"],
    "expansion": ["model_shortcut=expansion"],
    "noshortcut": ["model_shortcut=none"],
}


def build_jobs(
    preset: str,
    variants: list[str],
    seeds: list[int],
    *,
    data_root: str | None = None,
    device: str | None = None,
    overrides: list[str] | None = None,
    runs_root: Path | None = None,
) -> list[tuple[Path, list[str]]]:
    """One ``manifold-lab train`` command per (variant, seed) not finished yet.

    A run with a ``last.pt`` is resumed; ``overrides`` are extra ``--set`` values shared by
    every run (e.g. ``epochs=20``).
    """
    jobs = []
    for variant in variants:
        for seed in seeds:
            run_dir = (runs_root or ROOT / "experiments" / "runs" / preset) / f"{variant}_s{seed}"
            if (run_dir / "model.pt").exists():
                print(f"{run_dir.name}: finished already")
                continue
            cmd = [
                sys.executable,
                "-m",
                "manifold_lab.cli",
                "train",
                "--preset",
                preset,
                "--run-dir",
                str(run_dir),
                "--no-progress",
                "--set",
                f"seed={seed}",
                *VARIANTS[variant],
                *(overrides or []),
            ]
            if data_root:
                cmd += ["--data-root", data_root]
            if (run_dir / "last.pt").exists():
                cmd.append("--resume")
            if device:
                cmd += ["--device", device]
            jobs.append((run_dir, cmd))
    return jobs


def run_jobs(
    jobs: list[tuple[Path, list[str]]],
    parallel: int,
    env: dict[str, str],
    *,
    deadline: float | None = None,
    on_tick: Callable[[], None] | None = None,
    poll_seconds: float = 5.0,
) -> list[tuple[str, int | None]]:
    """Run the jobs, ``parallel`` at a time, each logging to ``<run_dir>/train.log``.

    Jobs still running at ``deadline`` (a :func:`time.time` value) are terminated; they can be
    resumed later from their last checkpoint. ``on_tick`` is called every ``poll_seconds``.
    Returns (run name, exit code or None when stopped at the deadline) per job.
    """
    jobs = list(jobs)
    done: list[tuple[str, int | None]] = []
    running: list[tuple[Path, subprocess.Popen, object]] = []
    while jobs or running:
        while jobs and len(running) < parallel:
            run_dir, cmd = jobs.pop(0)
            run_dir.mkdir(parents=True, exist_ok=True)
            log = open(run_dir / "train.log", "a")
            print(f"start {run_dir.name}: {' '.join(cmd[2:])}", flush=True)
            running.append((run_dir, subprocess.Popen(cmd, stdout=log, stderr=log, env=env), log))
        time.sleep(poll_seconds)
        if on_tick is not None:
            on_tick()
        late = deadline is not None and time.time() > deadline
        for item in list(running):
            run_dir, proc, log = item
            if late and proc.poll() is None:
                proc.terminate()
                proc.wait(30)
                print(f"stopped {run_dir.name} at the deadline", flush=True)
                done.append((run_dir.name, None))
            elif proc.poll() is not None:
                print(f"done {run_dir.name}: exit {proc.returncode}", flush=True)
                done.append((run_dir.name, proc.returncode))
            else:
                continue
            log.close()  # type: ignore[attr-defined]
            running.remove(item)
        if late:
            jobs.clear()
    return done


def run(args: argparse.Namespace) -> None:
    jobs = build_jobs(
        args.preset,
        args.variants,
        args.seeds,
        data_root=args.data_root,
        device=args.device,
        overrides=[f"--set={o}" for o in args.set or []],
    )
    run_jobs(jobs, args.parallel, {**os.environ, "OMP_NUM_THREADS": str(args.threads)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--preset", default="cpu")
    r.add_argument("--variants", nargs="+", default=["linear", "relu6"], choices=list(VARIANTS))
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    r.add_argument("--parallel", type=int, default=2)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--data-root", default=None)
    r.add_argument("--device", default=None)
    r.add_argument(
        "--set", nargs="+", action="extend", metavar="KEY=VALUE", help="change the preset"
    )
    rep = sub.add_parser("report")
    rep.add_argument("--preset", default="cpu")
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    else:
        report(args)


def report(args: argparse.Namespace) -> None:
    import json
    import shutil

    import pandas as pd

    from manifold_lab.ablation import count_madds, load_runs, paired_difference
    from manifold_lab.fileio import atomic_write_text
    from manifold_lab.mobilenet import MobileNetV2
    from manifold_lab.plots import plot_learning_curves, save_figure
    from manifold_lab.records import provenance
    from manifold_lab.train import TrainConfig

    runs = ROOT / "experiments" / "runs" / args.preset
    out = ROOT / "experiments" / "results" / f"ablation_{args.preset}"
    out.mkdir(parents=True, exist_ok=True)
    # keep the metrics of finished runs (the numbers below trace to these files); a run is
    # finished when it logged every epoch of its config (runs made on a lent GPU come back
    # without their checkpoints)
    for metrics in sorted(runs.glob("*/metrics.json")):
        records = json.loads(metrics.read_text())["records"]
        planned = json.loads((metrics.parent / "config.json").read_text())["train_config"]
        if records and records[-1]["epoch"] == planned["epochs"]:
            (out / metrics.parent.name).mkdir(exist_ok=True)
            shutil.copy2(metrics, out / metrics.parent.name / "metrics.json")
            shutil.copy2(metrics.parent / "config.json", out / metrics.parent.name / "config.json")
    df = load_runs(out)
    final = df.sort_values("epoch").groupby("run").tail(1)
    per_run = df.groupby("run").agg({"epoch_seconds": "sum", "train_images_per_second": "mean"})
    # every run must share the preset's recipe: only the variant's fields and the seed differ
    recipes = {}
    for run_name in final["run"]:
        cfg = json.loads((out / run_name / "config.json").read_text())["train_config"]
        model_cfg = dict(cfg.pop("model"))
        for key in ("bottleneck_activation", "shortcut"):
            model_cfg.pop(key)
        cfg.pop("seed")
        recipes[run_name] = json.dumps({**cfg, "model": model_cfg}, sort_keys=True)
    if len(set(recipes.values())) > 1:
        raise SystemExit(
            f"the runs in {out} were trained with different recipes; move the older ones away:"
            f" {recipes}"
        )
    rows = []
    for variant in sorted(final["variant"].unique(), key=list(VARIANTS).index):
        g = final[final["variant"] == variant]
        cfg = json.loads((out / g["run"].iloc[0] / "config.json").read_text())["train_config"]
        model = MobileNetV2(TrainConfig.from_dict(cfg).model)
        acc = g["test_acc"].to_numpy()
        rows.append(
            {
                "variant": variant,
                "seeds": len(acc),
                "mean_test_acc": acc.mean(),
                "std": acc.std(ddof=1) if len(acc) > 1 else float("nan"),
                "min": acc.min(),
                "max": acc.max(),
                "epochs": int(g["epoch"].max()),
                "minutes_per_run": per_run.loc[g["run"], "epoch_seconds"].mean() / 60,
                "images_per_second": per_run.loc[g["run"], "train_images_per_second"].mean(),
                "parameters": sum(p.numel() for p in model.parameters()),
                "MAdds": count_madds(model, (1, 3, 32, 32)),
            }
        )
    table = pd.DataFrame(rows)
    by = final.pivot(index="seed", columns="variant", values="test_acc")
    # every epoch's test accuracy, to count the epochs in which linear is ahead (same seed)
    curves = df.pivot_table(index=["seed", "epoch"], columns="variant", values="test_acc")
    comparisons = []
    for alt in sorted((v for v in by.columns if v != "linear"), key=list(VARIANTS).index):
        pair = by[["linear", alt]].dropna()
        both = curves[["linear", alt]].dropna().loc[pair.index.tolist()]
        comparisons.append(
            {
                **paired_difference(pair["linear"], pair[alt], names=("linear", alt)),
                "seeds": pair.index.tolist(),
                "differences": (pair["linear"] - pair[alt]).round(6).tolist(),
                "epochs_linear_ahead": int((both["linear"] > both[alt]).sum()),
                "epochs_compared": len(both),
            }
        )
    prov = provenance({"preset": args.preset, "runs": sorted(final["run"])})
    atomic_write_text(out / "summary.csv", table.to_csv(index=False))
    atomic_write_text(
        out / "comparisons.json",
        json.dumps({"provenance": prov, "comparisons": comparisons}, indent=1, default=float)
        + "\n",
    )
    fig = plot_learning_curves(
        df, title=f"CIFAR-10, preset '{args.preset}': test accuracy during training"
    )
    save_figure(fig, out / "learning_curves.png")
    lines = [
        f"# CIFAR-10 ablation, preset `{args.preset}`",
        "",
        f"Recipe of every run (the variant's fields and the seed aside): "
        f"`{next(iter(recipes.values()))}`",
        "",
        "Minutes per run and images/s depend on how many runs shared the machine (see each "
        "run's metrics.json provenance).",
        "",
        "| variant | seeds | test acc (mean) | std | min | max | epochs | min/run | img/s "
        "| params | MAdds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['seeds']} | {100 * r['mean_test_acc']:.2f}% | "
            f"{100 * r['std']:.2f} | {100 * r['min']:.2f}% | {100 * r['max']:.2f}% | "
            f"{r['epochs']} | "
            f"{r['minutes_per_run']:.1f} | {r['images_per_second']:.0f} | {r['parameters']:,} | "
            f"{r['MAdds'] / 1e6:.1f}M |"
        )
    lines += [
        "",
        "| comparison (paired by seed) | n | mean difference | 95% CI | decision "
        "| per seed | epochs linear ahead |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        per_seed = ", ".join(f"{100 * d:+.2f}" for d in c["differences"])
        lines.append(
            f"| {c['comparison']} | {c['n']} | {100 * c['mean']:+.2f} pts | "
            f"[{100 * c['ci_low']:+.2f}, {100 * c['ci_high']:+.2f}] | {c['decision']} | "
            f"{per_seed} | {c['epochs_linear_ahead']} of {c['epochs_compared']} |"
        )
    atomic_write_text(out / "summary.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
