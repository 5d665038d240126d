"""The paper's Figure 6 ablation in miniature: inverted-residual MLPs on manifold data.

A network here is a stack of fully connected inverted-residual blocks acting on a narrow
*bottleneck* of ``width`` channels:

    expansion ``e = ReLU6(W1 x + b1)`` (``width * expansion`` channels),
    projection ``p = W2 e + b2`` (``width`` channels), optionally followed by ReLU6,
    residual: ``x + p`` between bottlenecks (the design), ``e + e_previous`` between
    expansions, or none.

An input layer embeds the data into the bottleneck width, a linear head reads the last
bottleneck. Every variant of one (width, expansion, depth) has *the same parameters*, so for a
given seed all variants start from identical weights and see identical data: differences
between variants are paired.

Many seeds train at once: parameters carry a leading seed axis and the loss is summed over
seeds, which leaves each seed's gradients (and Adam's per-parameter updates) exactly those of
training it alone.

Tasks (from :mod:`manifold_lab.manifolds`):

``"spirals"``
    Two interleaved spiral arms in 2-D (one rotated by pi): classify the arm. Accuracy on
    held-out points.
``"spiral_coordinate"``
    Regress the intrinsic coordinate t of the paper's spiral from its 2-D points; the score is
    1 - held-out normalised MSE (R^2).

Examples
--------
>>> res = train_toy(task="spirals", width=4, expansion=6, seeds=range(2), steps=50)
>>> sorted(res)[:3], len(res["score"])
(['bottleneck_activation', 'depth', 'expansion'], 2)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._deprecation import renamed_parameters
from ._progress import progress_bar
from ._validation import resolve_device

__all__ = ["TASKS", "make_task", "toy_ablation", "train_toy"]

TASKS = ("spirals", "spiral_coordinate")
BOTTLENECKS = ("linear", "relu6")
SHORTCUTS = ("bottleneck", "expansion", "none")


@renamed_parameters(random_state="seed")
def make_task(
    task: str = "spirals",
    n_samples: int = 2000,
    *,
    turns: float = 2.0,
    noise: float = 0.02,
    seed: int = 0,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Train/test tensors ``(X_train, y_train, X_test, y_test)`` for a toy task.

    Parameters
    ----------
    task : {"spirals", "spiral_coordinate"}, default="spirals"
        Classify the arm of two interleaved spirals, or regress the spiral's intrinsic
        coordinate (see the module's description).
    n_samples : int, default=2000
        Points in each of the train and test sets.
    turns : float, default=2.0
        Turns of each spiral arm.
    noise : float, default=0.02
        Gaussian noise added to the points, relative to the spiral's radius.
    seed : int, default=0
        Seed of the points (``random_state`` is a deprecated alias).

    Returns
    -------
    X_train, y_train, X_test, y_test : Tensor
        Points are scaled to unit radius; labels are int64 (spirals) or float (coordinate,
        standardised).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {TASKS}")
    if not isinstance(n_samples, int) or n_samples < 10:
        raise ValueError(f"n_samples must be an integer >= 10, got {n_samples!r}")
    if not (turns > 0 and math.isfinite(turns)):
        raise ValueError(f"turns must be positive, got {turns!r}")
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    n = 2 * n_samples
    t = np.sqrt(rng.uniform(0.02, 1.0, n)) * turns * 2 * np.pi  # uniform along the arm
    if task == "spirals":
        arm = rng.integers(0, 2, n)
        angle = t + np.pi * arm
        target = arm
    else:
        angle = t
        target = (t - t.mean()) / t.std()
    r = t / (turns * 2 * np.pi)
    X = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    X = X + rng.normal(0, noise, X.shape)
    Xt = torch.tensor(X, dtype=torch.float32)
    yt = torch.tensor(target, dtype=torch.int64 if task == "spirals" else torch.float32)
    return Xt[:n_samples], yt[:n_samples], Xt[n_samples:], yt[n_samples:]


def _init(shape: tuple[int, ...], fan_in: int, gen: torch.Generator) -> Tensor:
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound


def _init_params(
    seeds: Sequence[int], d_in: int, width: int, expansion: int, depth: int, d_out: int
) -> list[Tensor]:
    """Per-seed parameters stacked on a leading seed axis (PyTorch's Linear initialisation)."""
    hidden = width * expansion
    per_seed: list[list[Tensor]] = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed))
        p = [_init((d_in, width), d_in, gen), _init((width,), d_in, gen)]
        for _ in range(depth):
            p += [_init((width, hidden), width, gen), _init((hidden,), width, gen)]
            p += [_init((hidden, width), hidden, gen), _init((width,), hidden, gen)]
        p += [_init((width, d_out), width, gen), _init((d_out,), width, gen)]
        per_seed.append(p)
    return [torch.stack(ps) for ps in zip(*per_seed, strict=True)]


def _forward(
    params: Sequence[Tensor], x: Tensor, depth: int, bottleneck: str, shortcut: str
) -> Tensor:
    """x: (S, N, d_in) -> (S, N, d_out)."""
    h = torch.baddbmm(params[1][:, None, :], x, params[0])
    previous: Tensor | None = None
    for layer in range(depth):
        w1, b1, w2, b2 = params[2 + 4 * layer : 6 + 4 * layer]
        e = torch.clamp(torch.baddbmm(b1[:, None, :], h, w1), 0.0, 6.0)
        if shortcut == "expansion" and previous is not None:
            e = e + previous
        previous = e
        p = torch.baddbmm(b2[:, None, :], e, w2)
        if bottleneck == "relu6":
            p = torch.clamp(p, 0.0, 6.0)
        h = h + p if shortcut == "bottleneck" else p
    return torch.baddbmm(params[-1][:, None, :], h, params[-2])


def train_toy(
    *,
    task: str = "spirals",
    width: int = 4,
    expansion: int = 6,
    depth: int = 4,
    bottleneck_activation: str = "linear",
    shortcut: str = "bottleneck",
    seeds: Iterable[int] = range(10),
    steps: int = 2000,
    lr: float = 3e-3,
    n_samples: int = 2000,
    data_seed: int = 0,
    device: Any = "cpu",
) -> dict[str, Any]:
    """Train one variant for several seeds at once; return per-seed held-out scores.

    Parameters
    ----------
    task : {"spirals", "spiral_coordinate"}, default="spirals"
        Classify the arm of two interleaved spirals, or regress the spiral's intrinsic
        coordinate (see the module's description).
    width : int, default=4
        Bottleneck channels.
    expansion : int, default=6
        Expansion ratio t.
    depth : int, default=4
        Inverted-residual blocks.
    bottleneck_activation : {"linear", "relu6"}, default="linear"
        What follows the projection: nothing (the paper's linear bottleneck) or ReLU6.
    shortcut : {"bottleneck", "expansion", "none"}, default="bottleneck"
        Residual connections between bottlenecks (the paper's design), between expansions,
        or none.
    seeds : iterable of int, default=range(10)
        One network per seed (the seed sets the initial weights).
    steps : int, default=2000
        Full-batch Adam steps with cosine learning-rate decay.
    lr : float, default=3e-3
        Initial learning rate of Adam (decayed to 0 by the cosine schedule).
    n_samples : int, default=2000
        Training points (and as many test points).
    data_seed : int, default=0
        The data set (shared by all seeds and variants).
    device : str or torch.device, default="cpu"
        Where to train (all seeds at once).

    Returns
    -------
    dict
        The settings, ``seeds`` and ``score`` (held-out accuracy, or R^2 for regression),
        ``train_loss`` per seed, and ``parameters`` (per network).
    """
    for name, value, minimum in (
        ("width", width, 1),
        ("expansion", expansion, 1),
        ("depth", depth, 1),
        ("steps", steps, 1),
    ):
        if not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if bottleneck_activation not in BOTTLENECKS:
        raise ValueError(f"bottleneck_activation must be one of {BOTTLENECKS}")
    if shortcut not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    dev = resolve_device(device)
    Xtr, ytr, Xte, yte = make_task(task, n_samples, seed=data_seed)
    classify = task == "spirals"
    d_out = 2 if classify else 1
    params = [
        p.to(dev).requires_grad_() for p in _init_params(seeds, 2, width, expansion, depth, d_out)
    ]
    S = len(seeds)
    xtr = Xtr.to(dev).expand(S, -1, -1)
    xte = Xte.to(dev).expand(S, -1, -1)
    ytr, yte = ytr.to(dev), yte.to(dev)
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)

    def losses(out: Tensor, y: Tensor) -> Tensor:
        if classify:
            logp = torch.log_softmax(out, dim=-1)
            return -logp.gather(-1, y.expand(S, -1)[..., None]).squeeze(-1).mean(1)
        return ((out.squeeze(-1) - y) ** 2).mean(1)

    for _ in range(steps):
        per_seed = losses(_forward(params, xtr, depth, bottleneck_activation, shortcut), ytr)
        opt.zero_grad(set_to_none=True)
        per_seed.sum().backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        train_loss = losses(_forward(params, xtr, depth, bottleneck_activation, shortcut), ytr)
        out = _forward(params, xte, depth, bottleneck_activation, shortcut)
        if classify:
            score = (out.argmax(-1) == yte).float().mean(1)
        else:
            mse = ((out.squeeze(-1) - yte) ** 2).mean(1)
            score = 1 - mse / yte.var(unbiased=False)
    n_params = sum(int(p[0].numel()) for p in params)
    return {
        "task": task,
        "width": width,
        "expansion": expansion,
        "depth": depth,
        "bottleneck_activation": bottleneck_activation,
        "shortcut": shortcut,
        "steps": steps,
        "seeds": seeds,
        "score": [float(v) for v in score.cpu()],
        "train_loss": [float(v) for v in train_loss.cpu()],
        "parameters": n_params,
    }


def toy_ablation(
    *,
    task: str = "spirals",
    widths: Sequence[int] = (2, 3, 4, 8, 16),
    expansions: Sequence[int] = (6,),
    variants: Sequence[tuple[str, str]] | None = None,
    seeds: Iterable[int] = range(10),
    depth: int = 4,
    steps: int = 2000,
    progress: bool = True,
    device: Any = "cpu",
) -> list[dict[str, Any]]:
    """Train every (width, expansion, variant) on the same seeds; one record per network.

    ``variants`` are (bottleneck_activation, shortcut) pairs; default: all six.

    Parameters
    ----------
    task : {"spirals", "spiral_coordinate"}, default="spirals"
        The task (see the module's description).
    widths : sequence of int, default=(2, 3, 4, 8, 16)
        Bottleneck widths.
    expansions : sequence of int, default=(6,)
        Expansion ratios t.
    variants : sequence of (str, str) or None, default=None
        ``(bottleneck_activation, shortcut)`` pairs; None: every pair of
        ``{"linear", "relu6"}`` and ``{"bottleneck", "expansion", "none"}``.
    seeds : iterable of int, default=range(10)
        One network per seed for every setting, sharing its initial weights across variants.
    depth : int, default=4
        Inverted-residual blocks.
    steps : int, default=2000
        Full-batch Adam steps.
    progress : bool, default=True
        Show a progress bar over the settings.
    device : str or torch.device, default="cpu"
        Where to train.

    Returns
    -------
    list of dict
        Records with ``seed`` and ``score`` (tidy: one per network), ready for a DataFrame.
    """
    variants = list(variants or itertools.product(BOTTLENECKS, SHORTCUTS))
    seeds = list(seeds)
    grid = list(itertools.product(widths, expansions, variants))
    records: list[dict[str, Any]] = []
    for width, expansion, (act, shortcut) in progress_bar(
        grid, disable=not progress, desc="toy ablation", unit="variant"
    ):
        res = train_toy(
            task=task,
            width=int(width),
            expansion=int(expansion),
            depth=depth,
            bottleneck_activation=act,
            shortcut=shortcut,
            seeds=seeds,
            steps=steps,
            device=device,
        )
        for seed, score, loss in zip(res["seeds"], res["score"], res["train_loss"], strict=True):
            records.append(
                {
                    "task": task,
                    "width": int(width),
                    "expansion": int(expansion),
                    "depth": depth,
                    "bottleneck_activation": act,
                    "shortcut": shortcut,
                    "variant": f"{act}/{shortcut}",
                    "seed": seed,
                    "score": score,
                    "train_loss": loss,
                    "parameters": res["parameters"],
                    "steps": steps,
                }
            )
    return records
