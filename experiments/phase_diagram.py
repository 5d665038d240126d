"""Injectivity phase diagram: k-balls under Gaussian T (no bias), k = 1..8, n = k..12k.

For every (k, width, seed) this measures (a) the pointwise Lemma-2 invertible fraction of a
k-ball (checked against Theorem 1's P(Bin(n, 1/2) >= k)) and (b) whether x -> ReLU(T x)
is injective on the whole ball (min over directions of the active rows >= k), then the
expansion ratio n/k where P(injective) reaches 50% and 95%, with bootstrap CIs over seeds,
beside the literature's ratios. It also reruns the sampled+refined method wherever the
main run enumerated vertices exactly, and counts how often the two disagree.

Writes (all CSVs carry their provenance):

    experiments/results/phase_diagram.csv            one row per (k, width, seed)
    experiments/results/phase_critical_ratios.csv    one row per (k, level)
    experiments/results/phase_validation.csv         sampled+refined vs exact, per k
    experiments/results/phase_diagram.png            both panels, with the boundaries
    experiments/results/phase_critical_ratios.md     the table and what it says

Run: ``python experiments/phase_diagram.py`` (about 6 to 8 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import manifold_lab as ml
from manifold_lab.injectivity import critical_ratios, phase_diagram
from manifold_lab.plots import plot_phase_diagram, save_figure

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", default="1:8", help="intrinsic dimensions k (default 1:8)")
    ap.add_argument("--seeds", type=int, default=100, help="seeds for k <= 4 (default 100)")
    ap.add_argument("--seeds-large", type=int, default=60, help="seeds for k >= 5 (default 60)")
    ap.add_argument("--max-ratio", type=float, default=12.0)
    ap.add_argument("--n-points", type=int, default=1000, help="points of the ball for (a)")
    ap.add_argument("--n-directions", type=int, default=20000)
    ap.add_argument(
        "--exact-max-subsets",
        type=int,
        default=500_000,
        help="enumerate vertices exactly while C(n, k-1) is at most this (default 500000)",
    )
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    ap.add_argument("--no-validation", action="store_true", help="skip the sampled-vs-exact rerun")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dims = _int_list(args.dims)
    t0 = time.perf_counter()
    common = dict(
        max_ratio=args.max_ratio,
        n_samples=args.n_points,
        n_directions=args.n_directions,
        exact_max_subsets=args.exact_max_subsets,
        device=args.device,
    )
    runs, times = [], {}
    for group, n_seeds in (
        ([k for k in dims if k <= 4], args.seeds),
        ([k for k in dims if k > 4], args.seeds_large),
    ):
        if group:
            t = time.perf_counter()
            runs.append(phase_diagram(group, seeds=range(n_seeds), **common))
            times[f"k={group[0]}..{group[-1]}"] = round(time.perf_counter() - t, 1)
            print(f"phase diagram k={group}: {times[f'k={group[0]}..{group[-1]}']} s", flush=True)
    df = pd.concat(runs, ignore_index=True)

    validation = None
    if not args.no_validation:
        t = time.perf_counter()
        validation = validate(df, common)
        times["validation"] = round(time.perf_counter() - t, 1)
        print(f"validation: {times['validation']} s", flush=True)

    cr = critical_ratios(df, levels=(0.5, 0.95), n_boot=args.n_boot, seed=0)
    total = round(time.perf_counter() - t0, 1)
    prov = ml.provenance(
        {"runs": [r.attrs["provenance"]["parameters"] for r in runs], "n_boot": args.n_boot},
        timing_s=times,
        elapsed_s=total,
    )
    df.attrs["provenance"] = prov
    ml.write_results(df, out / "phase_diagram.csv", prov)
    ml.write_results(cr, out / "phase_critical_ratios.csv", prov)
    if validation is not None:
        ml.write_results(validation, out / "phase_validation.csv", prov)

    fig = plot_phase_diagram(
        df,
        ratios=cr,
        quantity=("invertible_fraction", "injective"),
        title=(
            "ReLU(T x) on a k-ball, Gaussian T (n x k), no bias: mean over seeds "
            f"({args.seeds} seeds for k <= 4, {args.seeds_large} for k >= 5)"
        ),
    )
    save_figure(fig, out / "phase_diagram.png", width=1300, height=560, scale=1.0)
    text = report(df, cr, validation, args, times, total)
    (out / "phase_critical_ratios.md").write_text(text)
    print(text)
    print(f"wrote {out}/phase_*: diagram.csv, critical_ratios.csv/.md, validation.csv, diagram.png")


def _int_list(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        if ":" in part:
            a, b = part.split(":")
            out.extend(range(int(a), int(b) + 1))
        elif part.strip():
            out.append(int(part))
    return sorted(set(out))


def validate(df: pd.DataFrame, common: dict) -> pd.DataFrame:
    """Rerun sampled+refined (injectivity only) where the main run was exact; compare."""
    rows = []
    exact = df[df.method == "exact-vertices"]
    for k in sorted(exact.k.unique()):
        part = exact[exact.k == k]
        seeds = sorted(part.seed.unique())
        samp = phase_diagram(
            [int(k)],
            seeds=seeds,
            method="sampled+refined",
            pointwise=False,
            **common,
        )
        m = part.merge(samp, on=["k", "width", "seed"], suffixes=("", "_s"))
        diff = m.min_active_s - m.min_active
        rows.append(
            {
                "k": int(k),
                "widths": f"{m.width.min()}..{m.width.max()}",
                "seeds": len(seeds),
                "cases": len(m),
                "min_active_differs": int((diff != 0).sum()),
                "injective_differs": int((m.injective_s != m.injective).sum()),
                "max_overestimate": int(diff.max()),
                "sampled_below_exact": int((diff < 0).sum()),
            }
        )
    return pd.DataFrame(rows)


def _fmt(r: pd.Series) -> str:
    if not np.isfinite(r.ratio):
        return "not reached"
    lo = "?" if not np.isfinite(r.ci_low) else f"{r.ci_low:.2f}"
    hi = "beyond grid" if not np.isfinite(r.ci_high) else f"{r.ci_high:.2f}"
    dagger = " †" if "sampled" in str(r.method) else ""
    return f"{r.ratio:.2f} [{lo}, {hi}]{dagger}"


def report(
    df: pd.DataFrame,
    cr: pd.DataFrame,
    validation: pd.DataFrame | None,
    args: argparse.Namespace,
    times: dict,
    total: float,
) -> str:
    lit = {t.label: t for t in ml.INJECTIVITY_THRESHOLDS}
    lines = [
        "# Injectivity phase diagram: ReLU(T x) on a k-ball, Gaussian T (n x k), no bias",
        "",
        "Critical expansion ratio n/k where P(ReLU(T x) injective on the ball) first reaches "
        "50% and 95% (linear interpolation between grid widths; [95% bootstrap CI over seeds, "
        f"{args.n_boot} resamples, seed 0]). † : the crossing lies at widths measured by "
        "sampled+refined (an upper bound of the minimum active count).",
        "",
        "| k | seeds | widths (step) | method (exact up to n) | 50% ratio [CI] | 95% ratio [CI] "
        "| first injective seed at n/k |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in sorted(cr.k.unique()):
        c = cr[cr.k == k].set_index("level")
        part = df[df.k == k]
        ws = sorted(part.width.unique())
        step = ws[1] - ws[0] if len(ws) > 1 else 1
        methods = part.groupby("width").method.first()
        exact_w = [w for w in ws if methods[w] != "sampled+refined"]
        meth = methods[ws[0]]
        if len(set(methods)) > 1:
            meth = f"exact-vertices (n <= {max(exact_w)}), sampled+refined above"
        inj = part[part.injective]
        first = f"{inj.width.min() / k:.2f}" if len(inj) else "none"
        lines.append(
            f"| {k} | {part.seed.nunique()} | {ws[0]}..{ws[-1]} ({step}) | {meth} | "
            f"{_fmt(c.loc[0.5])} | {_fmt(c.loc[0.95])} | {first} |"
        )
    lines += [
        f"| literature (all of R^k) | | | | necessary: >= {lit['necessary n >= 2d'].ratio_low:g} "
        f"(Puthawala et al.); Gaussian bounds {lit['Gaussian: 3.4 to 10.5'].ratio_low:g} to "
        f"{lit['Gaussian: 3.4 to 10.5'].ratio_high:g}; replica alpha_c ~ "
        f"{lit['replica ~6.7'].ratio_low:g} as k -> infinity (Maillard et al., rigorous upper "
        "bound ~7.65) | | |",
        "",
    ]
    # (a) against Theorem 1
    g = df.groupby(["k", "width"])
    mean, sd, n = g.invertible_fraction.mean(), g.invertible_fraction.std(), g.size()
    th = g.theorem1.first()
    tol = 4 * sd / np.sqrt(n) + 1 / args.n_points
    ok = ((mean - th).abs() <= tol).all()
    worst = ((mean - th).abs() / (sd / np.sqrt(n)).replace(0, np.nan)).max()
    below_2k = df[(df.width < 2 * df.k) & df.injective]
    r50 = cr[cr.level == 0.5].set_index("k").ratio
    r95 = cr[cr.level == 0.95].set_index("k").ratio
    lines.append("## What it says")
    lines.append("")
    bad = (mean - th).abs() > tol
    fails = ""
    if bad.any():
        where = ", ".join(f"(k, n) = ({k}, {n})" for k, n in bad[bad].index)
        fails = f"; it fails at {where}"
        if (sd[bad] == 0).all():
            fails += (
                ", where every seed gave the same fraction: the empirical standard error is 0 "
                "because the rare seeds that lose points were not drawn"
            )
    ks = list(r50.index)
    first_inj = df[df.injective].groupby("k").ratio.min()
    gap = r95 - r50
    inc = r50.diff().dropna()
    inside = [k for k in ks if 3.4 <= r50[k] <= 10.5]
    s2 = (
        f"No matrix with n < 2k is injective ({len(below_2k)} of "
        f"{int((df.width < 2 * df.k).sum())} such cases), as the necessary condition n >= 2k "
        "(Puthawala et al.) demands, but it is far from sufficient: the first injective seed "
        f"appears at n/k = {first_inj.min():.2f} to {first_inj.max():.2f}, and the 50% ratio "
        f"rises with k from {r50.iloc[0]:.2f} (k = {ks[0]}) to {r50.iloc[-1]:.2f} (k = {ks[-1]})"
    )
    if ks[0] == 1:
        s2 += (
            " (for k = 1 exactly P(injective) = 1 - 2^(1-n), so 50% falls at n/k = 2 and 95% at "
            "5.40 on the integer grid)"
        )
    sentences = [
        f"(a) The pointwise Lemma-2 fraction matches Theorem 1 at every (k, n) of the grid "
        f"within 4 standard errors (over seeds) + 1/{args.n_points} (points): "
        f"{'yes' if ok else 'NO'} (largest deviation {worst:.1f} standard errors){fails}.",
        s2 + ".",
        "The 50% ratios lie inside Puthawala et al.'s Gaussian range 3.4 to 10.5 for k = "
        + ", ".join(str(k) for k in inside)
        + " and "
        + (
            "below the replica value 6.698 for every k"
            if (r50 < 6.698).all()
            else "below the replica value 6.698 except for k = "
            + ", ".join(str(k) for k in ks if r50[k] >= 6.698)
        )
        + "; the replica value is a k -> infinity limit, the 50% ratio changes by "
        + ", ".join(f"{v:+.2f}" for v in inc)
        + f" from one k to the next, and at k = {ks[-1]} it is {6.698 - r50.iloc[-1]:.2f} "
        "below 6.698: whether it converges there cannot be read off k <= " + f"{ks[-1]}.",
        f"The 95% ratios range from {r95.min():.2f} to {r95.max():.2f}, so the transition from "
        f"50% to 95% spans {gap.iloc[0]:.2f} in n/k at k = {ks[0]} and {gap.iloc[-1]:.2f} at "
        f"k = {ks[-1]}"
        + (
            ", narrowing as k grows, as it must if it sharpens into a threshold."
            if gap.iloc[-1] < gap.iloc[0]
            else "."
        ),
    ]
    if validation is not None and len(validation):
        tot = validation.cases.sum()
        sampled_k = sorted(int(k) for k in cr[cr.method.str.contains("sampled")].k.unique())
        lines_v = (
            f"Sampled+refined ({args.n_directions} random directions, then a local vertex search) "
            f"was rerun on all {tot} (k, n, seed) cases where the main run enumerated vertices "
            f"exactly (k = {validation.k.min()}..{validation.k.max()}): its minimum was larger in "
            f"{validation.min_active_differs.sum()} cases (by at most "
            f"{validation.max_overestimate.max()}), smaller in "
            f"{validation.sampled_below_exact.sum()}, and its injectivity verdict "
            f"differed in {validation.injective_differs.sum()}; since it can only over-estimate "
            "injectivity, the ratios marked with a dagger (k = "
            + ", ".join(str(k) for k in sampled_k)
            + ", where the crossing lies in the sampled widths) are, if anything, slightly low."
        )
        sentences.append(lines_v)
    lines += [" ".join(sentences), ""]
    if validation is not None and len(validation):
        lines += ["## Sampled+refined against exact vertex enumeration", ""]
        lines.append("| " + " | ".join(validation.columns) + " |")
        lines.append("|" + "---|" * len(validation.columns))
        for _, r in validation.iterrows():
            lines.append("| " + " | ".join(str(v) for v in r.to_numpy()) + " |")
        lines.append("")
    lines += [
        "## Run",
        "",
        "```",
        "python " + " ".join(sys.argv),
        "```",
        "",
        f"Runtime {total:.0f} s on {ml.provenance()['hardware']['cpu']} "
        f"({ml.provenance()['hardware']['cpu_count']} cores); parts: "
        + ", ".join(f"{k} {v} s" for k, v in times.items())
        + f". Points of the ball for (a): {args.n_points}; exact vertex enumeration while "
        f"C(n, k-1) <= {args.exact_max_subsets:,}; {args.n_directions} random directions "
        "otherwise.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
