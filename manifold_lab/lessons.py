"""Lessons: short sequences of explorer views, each asking a question before showing the answer.

A lesson is a registry entry (:data:`LESSONS`) with an id, a title and steps. Each
:class:`Step` names an explorer page, the URL settings that fix its view, the controls to
hide, a question (answer options, or a number), and a *measurement*: a function of the step's
settings that computes the answer with the library when the reader asks for it (nothing is
typed in). The explorer opens a lesson at ``?lesson=<id>&step=<i>`` (``i`` from 1).

Examples
--------
>>> lesson = LESSONS["figure1"]
>>> lesson.title
'Figure 1 and Theorem 1: when does the spiral survive?'
>>> step = lesson.steps[0]
>>> step.page, step.settings["width"], "width" in step.hide
('manifold', '2', True)
>>> answer = step.measure()
>>> answer.answer in step.options
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["LESSONS", "Answer", "Lesson", "Step", "get_lesson"]


@dataclass(frozen=True)
class Answer:
    """A measured answer.

    Attributes
    ----------
    answer : str or float
        The right option, or the measured number.
    text : str
        One or two sentences giving the measurement (Markdown).
    tolerance : float
        For a numeric answer, how far a guess may be from ``answer`` and still count.
    """

    answer: str | float
    text: str
    tolerance: float = 0.0

    def check(self, given: str | float) -> bool:
        """Whether the reader's answer ``given`` matches the measurement."""
        if isinstance(self.answer, str):
            return str(given) == self.answer
        return abs(float(given) - float(self.answer)) <= self.tolerance


@dataclass(frozen=True)
class Step:
    """One view of a lesson with its question.

    Attributes
    ----------
    page : str
        The explorer page (``"manifold"``, ``"sweep"``, ``"probe"``, ``"ablation"``).
    settings : mapping of str to str
        URL settings of the page that fix the view.
    hide : tuple of str
        Controls (their URL names) hidden in this step; ``"page"`` hides the page menu.
    text : str
        What the reader looks at (Markdown).
    question : str
        Asked before the answer is shown.
    options : tuple of str
        Answer options; empty: the answer is a number.
    measurement : callable
        ``measurement(settings) -> Answer``, computed with the library on request.
    reveal : tuple of str, default=("metrics",)
        Parts of the page that give the answer away, hidden until the reader has answered
        and asked for the measured answer: ``"metrics"`` (the Manifold lab page's metric
        tiles), ``"figure7"`` (the probe page's Figure 7, its downloads and its table of
        blocks), ``"findings"`` (the Ablation page's findings, learning curves and
        miniature).
    """

    page: str
    settings: Mapping[str, str]
    hide: tuple[str, ...]
    text: str
    question: str
    options: tuple[str, ...]
    measurement: Callable[[Mapping[str, str]], Answer] = field(repr=False)
    reveal: tuple[str, ...] = ("metrics",)

    def measure(self) -> Answer:
        """The measured answer for this step's settings."""
        return self.measurement(self.settings)


@dataclass(frozen=True)
class Lesson:
    """A lesson: an id (used in the URL), a title, a summary and its steps."""

    name: str
    title: str
    summary: str
    steps: tuple[Step, ...]

    def step(self, number: int) -> Step:
        """Step ``number``, counted from 1.

        Raises
        ------
        ValueError
            When there is no such step.
        """
        if not 1 <= number <= len(self.steps):
            raise ValueError(f"lesson {self.name!r} has steps 1 to {len(self.steps)}, not {number}")
        return self.steps[number - 1]


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


@lru_cache(maxsize=32)
def _case(manifold: str, width: int, activation: str, n_samples: int, seed: int) -> Any:
    from .core import run_case

    return run_case(
        manifold,
        width=width,
        seed=seed,
        activation=activation,
        method="lstsq",
        n_samples=n_samples,
        manifold_seed=seed,
        manifold_kwargs={"noise": 0.0},
        max_neighbor_points=None,
    )


def _case_of(s: Mapping[str, str]) -> Any:
    return _case(
        s.get("manifold", "spiral"),
        int(s["width"]),
        s.get("activation", "relu"),
        int(s.get("n_samples", 500)),
        int(s.get("seed", 0)),
    )


def _band(fraction: float) -> str:
    """The option of :data:`_FRACTIONS` a fraction falls in."""
    return _FRACTIONS[0] if fraction < 0.25 else _FRACTIONS[1] if fraction < 0.75 else _FRACTIONS[2]


_FRACTIONS = (
    "less than a quarter",
    "between a quarter and three quarters",
    "more than three quarters",
)


def _invertible(s: Mapping[str, str]) -> Answer:
    from .theory import preserved_fraction

    case = _case_of(s)
    inv = float(case.metrics["invertible_fraction"])
    text = (
        f"Measured: the layer can be inverted at **{_pct(inv)}** of the points, and "
        f"{_pct(float(case.metrics['collapsed_fraction']))} collapse onto other points."
    )
    if s.get("activation", "relu") == "relu":
        theory = float(preserved_fraction(case.width, case.k))
        text += f" Theorem 1 predicts {_pct(theory)} for n = {case.width}, k = {case.k}."
    return Answer(_band(inv), text)


def _stop_collapsing(s: Mapping[str, str]) -> Answer:
    from .theory import preserved_fraction

    top = 40
    widths = np.arange(2, top + 1)
    collapsed = np.array(
        [float(_case_of({**s, "width": str(w)}).metrics["collapsed_fraction"]) for w in widths]
    )
    # the smallest width from which no point collapses, up to `top`
    bad = np.nonzero(collapsed > 0)[0]
    first = int(widths[bad[-1]]) + 1 if bad.size else int(widths[0])
    k = int(_case_of(s).k)
    theory = next(int(n) for n in range(1, 1000) if preserved_fraction(n, k) >= 0.99)
    return Answer(
        float(first),
        f"Measured (this seed, widths 2 to {top}): from width **n = {first}** no point of the "
        f"spiral collapses. Theorem 1 puts 99 % of the points in invertible position from "
        f"n = {theory} (k = {k}); the paper's Figure 1 shows the spiral intact at n = 15.",
        tolerance=max(2.0, 0.25 * first),
    )


def _lemma2_regions(s: Mapping[str, str]) -> Answer:
    from .partition import case_partition

    part = case_partition(_case_of(s))
    fail = int((~part.lemma2).sum())
    share = float(part.areas[~part.lemma2].sum() / part.areas.sum())
    return Answer(
        float(fail),
        f"Measured: the plane is cut into {len(part.polygons)} regions and Lemma 2 fails in "
        f"**{fail}** of them ({_pct(share)} of the drawn area).",
        tolerance=0.0,
    )


def _linear_vs_relu(s: Mapping[str, str]) -> Answer:
    case = _case_of(s)
    nmse = float(case.metrics["nmse"])
    inv = float(case.metrics["invertible_fraction"])
    act = s.get("activation", "relu")
    return Answer(
        _band(inv),
        f"Measured with {act} at n = k = {case.width}: the layer is invertible at "
        f"**{_pct(inv)}** of the points, normalised reconstruction error {nmse:.3g}.",
    )


_RESULTS = "experiments/results"


def _ablation(s: Mapping[str, str]) -> Answer:
    from pathlib import Path

    from .ablation import find_studies, findings_frame

    root = Path(__file__).resolve().parent.parent / _RESULTS
    studies = [st for st in find_studies(root) if not st.superseded] if root.is_dir() else []
    if not studies:
        raise ValueError(f"no ablation results under {root}; run the ablation first")
    f = findings_frame(studies)
    f = f[f["comparison"] == "linear - relu6"]
    wins = (f["ci_low"] > 0).all()
    loses = (f["ci_high"] < 0).all()
    answer = _ABLATION[0] if wins else _ABLATION[1] if loses else _ABLATION[2]
    parts = [
        f"{row.study.removeprefix('ablation_')}: linear - ReLU6 = {100 * row.mean:+.2f} points "
        f"(95 % CI {100 * row.ci_low:+.2f} to {100 * row.ci_high:+.2f}, {row.n} seeds)"
        for row in f.itertuples()
    ]
    return Answer(answer, "Measured test accuracy differences: " + "; ".join(parts) + ".")


_ABLATION = ("the linear bottleneck", "the ReLU6 bottleneck", "no clear difference")


def _probe(s: Mapping[str, str]) -> Answer:
    result = _probe_result(int(s.get("pr_limit", 48)), int(s.get("pr_seed", 0)))
    df = result.to_frame()
    frac = df["lemma2_fraction"].dropna()
    text = (
        f"Measured on {int(df['n_images'].iloc[0])} CIFAR-10 images: Lemma 2 holds at "
        f"**{_pct(float(frac.mean()))}** of the pixels on average over the expansion layers "
        f"(lowest {_pct(float(frac.min()))}, highest {_pct(float(frac.max()))})."
    )
    return Answer(_band(float(frac.mean())), text)


@lru_cache(maxsize=2)
def _probe_result(limit: int, seed: int) -> Any:
    from .probing import probe_source

    return probe_source(
        "builtin", "cifar10-sample", limit=limit, spread=True, seed=seed, progress=False
    )


def _positive(s: Mapping[str, str]) -> Answer:
    df = _probe_result(int(s.get("pr_limit", 48)), int(s.get("pr_seed", 0))).to_frame()
    df = df[df["has_expansion"].astype(bool)]
    share = df["pos_mean_rel"].astype(float)
    ratio = (df["pos_mean"].astype(float) / df["in_channels"].astype(float)).min()
    return Answer(
        _band(float(share.mean())),
        f"Measured: on average **{_pct(float(share.mean()))}** of an expansion layer's channels "
        f"are positive at a pixel (from {_pct(float(share.min()))} to "
        f"{_pct(float(share.max()))} across blocks); in every block that is at least "
        f"{ratio:.1f} times the number of the block's input channels, the k of Lemma 2.",
    )


_SPIRAL = {"manifold": "spiral", "n_samples": "500", "seed": "0", "method": "lstsq"}
_HIDE = (
    "page",
    "manifold",
    "width",
    "activation",
    "method",
    "bias",
    "seed",
    "n_samples",
    "noise",
)

_FIGURE7 = ("figure7",)
"""The probe page's Figure 7 and its table answer both of the trained-network questions."""

LESSONS: dict[str, Lesson] = {
    lesson.name: lesson
    for lesson in (
        Lesson(
            "figure1",
            "Figure 1 and Theorem 1: when does the spiral survive?",
            "A spiral passed through a random ReLU layer of growing width: where it collapses, "
            "why (the layer's linear regions) and the width Theorem 1 predicts.",
            (
                Step(
                    "manifold",
                    {**_SPIRAL, "width": "2", "activation": "relu"},
                    _HIDE,
                    "A spiral in the plane goes through a random ReLU layer of width n = 2 and "
                    "is read back.",
                    "What share of the spiral's points can the layer invert?",
                    _FRACTIONS,
                    _invertible,
                ),
                Step(
                    "manifold",
                    {**_SPIRAL, "width": "3", "activation": "relu"},
                    _HIDE,
                    "Under the figure, the mechanism: the plane cut into the layer's linear "
                    "regions; in the hatched ones too few rows are active.",
                    "At what width n does the spiral stop collapsing?",
                    (),
                    _stop_collapsing,
                ),
                Step(
                    "manifold",
                    {**_SPIRAL, "width": "15", "activation": "relu"},
                    _HIDE,
                    "The paper's width n = 15.",
                    "In how many of the linear regions does Lemma 2 fail at n = 15?",
                    (),
                    _lemma2_regions,
                ),
            ),
        ),
        Lesson(
            "linear-bottleneck",
            "Why the bottleneck must be linear",
            "A k-dimensional manifold squeezed into k channels: through ReLU it loses "
            "information, through a linear layer it does not; the ablation says the same "
            "about training.",
            (
                Step(
                    "manifold",
                    {**_SPIRAL, "width": "2", "activation": "relu"},
                    _HIDE,
                    "The spiral spans k = 2 dimensions; the bottleneck has n = k = 2 channels "
                    "and a ReLU.",
                    "What share of the points survives (can be read back)?",
                    _FRACTIONS,
                    _linear_vs_relu,
                ),
                Step(
                    "manifold",
                    {**_SPIRAL, "width": "2", "activation": "identity"},
                    _HIDE,
                    "The same bottleneck, linear: no activation.",
                    "And now, what share survives?",
                    _FRACTIONS,
                    _linear_vs_relu,
                ),
                Step(
                    "ablation",
                    {},
                    ("page", "ab_metric"),
                    "MobileNetV2 trained on CIFAR-10 with a linear or a ReLU6 bottleneck "
                    "(the paper's Figure 6a), several seeds each.",
                    "Which bottleneck reaches the higher test accuracy?",
                    _ABLATION,
                    _ablation,
                    reveal=("findings",),
                ),
            ),
        ),
        Lesson(
            "trained-network",
            "What happens in a trained network",
            "Inside a trained MobileNetV2: how many channels of each expansion layer are "
            "active, and how often Lemma 2's condition holds (the paper's Figure 7).",
            (
                Step(
                    "probe",
                    {"pr_limit": "48"},
                    ("page", "pr_model", "pr_images", "pr_limit", "pr_seed"),
                    "The built-in CIFAR-10 MobileNetV2 probed on 48 test images; Figure 7 "
                    "appears with the answer.",
                    "What share of an expansion layer's channels is positive at a pixel?",
                    _FRACTIONS,
                    _positive,
                    reveal=_FIGURE7,
                ),
                Step(
                    "probe",
                    {"pr_limit": "48"},
                    ("page", "pr_model", "pr_images", "pr_limit", "pr_seed"),
                    "Lemma 2: the layer is invertible at a pixel when the active channels, "
                    "restricted to the input's span, have full rank.",
                    "At what share of the pixels does Lemma 2 hold?",
                    _FRACTIONS,
                    _probe,
                    reveal=_FIGURE7,
                ),
            ),
        ),
    )
}
"""The shipped lessons, by id (``?lesson=<id>`` in the explorer)."""


def get_lesson(name: str) -> Lesson:
    """The lesson ``name``.

    Raises
    ------
    ValueError
        For an unknown id (the message lists the known ones).

    Examples
    --------
    >>> get_lesson("trained-network").steps[0].page
    'probe'
    """
    if name not in LESSONS:
        raise ValueError(f"unknown lesson {name!r}; choose from {', '.join(LESSONS)}")
    return LESSONS[name]
