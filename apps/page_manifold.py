"""Manifold lab page: one case of the paper's Figure 1, interactively."""

from __future__ import annotations

import math
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from _common import (
    Spec,
    figure_downloads,
    from_param,
    init_state,
    select,
    slider,
    sync_query,
    warn_bad,
)
from _common import (
    shown as control_shown,
)
from _points import UserPoints, choose_points

import manifold_lab as ml
from manifold_lab.core import span_basis
from manifold_lab.partition import (
    DRAWN_MAX_WIDTH,
    case_partition,
    partition_cases,
    partition_note,
)
from manifold_lab.plots import plot_case, plot_partition
from manifold_lab.plots.animation import ANIMATION_VIEWS, plot_width_animation, save_animation
from manifold_lab.registry import (
    ACTIVATION_REGISTRY,
    MANIFOLD_REGISTRY,
    METHOD_REGISTRY,
    METRIC_REGISTRY,
)
from manifold_lab.registry.manifolds import AMBIENT_DIM, DIM, NOISE
from manifold_lab.registry.settings import CASE


def spec() -> Spec:
    """The page's URL settings, read with the library's definitions (registries, ranges)."""
    return {
        "manifold": from_param(CASE["manifold"], MANIFOLD_REGISTRY.names()),
        "n_samples": from_param(CASE["n_samples"]),
        "noise": from_param(NOISE),
        "dim": from_param(DIM),
        "ambient_dim": from_param(AMBIENT_DIM),
        "width": from_param(CASE["width"]),
        "activation": from_param(CASE["activation"], ACTIVATION_REGISTRY.names()),
        "bias": from_param(CASE["bias"]),
        "seed": from_param(CASE["seed"]),
        "method": from_param(CASE["method"], METHOD_REGISTRY.names()),
    }


def _manifold_kwargs(noise: float, dim: int | None, ambient_dim: int | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"noise": noise}
    if dim is not None:
        kwargs["dim"] = dim
    if ambient_dim is not None:
        kwargs["ambient_dim"] = ambient_dim
    return kwargs


@st.cache_data(max_entries=64, show_spinner=False)
def span_dim(
    manifold: str,
    n_samples: int,
    noise: float,
    dim: int | None,
    ambient_dim: int | None,
    seed: int,
) -> int:
    """Dimension of the manifold's linear span (Theorem 1's ``k``), as the case computes it."""
    m = ml.make_manifold(
        manifold, n_samples, seed=seed, **_manifold_kwargs(noise, dim, ambient_dim)
    )
    return int(span_basis(m.X).shape[1])


@st.cache_data(max_entries=64, show_spinner="Embedding the manifold ...")
def compute_case(
    manifold: str,
    n_samples: int,
    noise: float,
    dim: int | None,
    ambient_dim: int | None,
    width: int,
    activation: str,
    bias: float,
    seed: int,
    method: str,
) -> ml.CaseResult:
    """Run one case (``result.k`` is the dimension of the manifold's span)."""
    return ml.run_case(
        manifold,
        width=width,
        seed=seed,
        activation=activation,
        method=method,
        bias=bias,
        n_samples=n_samples,
        manifold_seed=seed,
        manifold_kwargs=_manifold_kwargs(noise, dim, ambient_dim),
        max_neighbor_points=None,
    )


@st.cache_data(max_entries=64, show_spinner=False)
def compute_partition(**case: Any) -> Any:
    """The figure of the case's linear regions (:func:`plot_partition`), cached per case."""
    result = compute_case(**case)
    return plot_partition(case_partition(result), case=result)


@st.cache_data(max_entries=8, show_spinner=False)
def compute_partition_cases(widths: tuple[int, ...], **case: Any) -> list[Any]:
    """The partition movie's frames at ``widths`` (:func:`partition_cases`: the regions and
    collapsed pairs of each width, without the rest of :func:`compute_case`)."""
    return partition_cases(
        case["manifold"],
        widths,
        case["seed"],
        activation=case["activation"],
        bias=case["bias"],
        n_samples=case["n_samples"],
        manifold_seed=case["seed"],
        manifold_kwargs=_manifold_kwargs(case["noise"], case["dim"], case["ambient_dim"]),
        max_neighbor_points=None,
    )


MAX_USER_POINTS = CASE["n_samples"].maximum or 5000
"""Uploaded point clouds larger than this are shown as a random sample of this many points
(the Width sweep page takes them whole)."""


def user_sample(points: UserPoints) -> tuple[np.ndarray, np.ndarray]:
    """The uploaded points the page draws: all, or a fixed random sample of
    :data:`MAX_USER_POINTS` (seed 0, so the same file shows the same points)."""
    n = points.X.shape[0]
    if n <= MAX_USER_POINTS:
        return points.X, points.t
    keep = np.sort(np.random.default_rng(0).choice(n, MAX_USER_POINTS, replace=False))
    return points.X[keep], points.t[keep]


@st.cache_data(max_entries=16, show_spinner="Embedding your points ...")
def compute_user_case(
    digest: str,
    _points: UserPoints,
    width: int,
    activation: str,
    bias: float,
    seed: int,
    method: str,
) -> ml.CaseResult:
    """One case on uploaded points (``digest``: the file's, the cache key)."""
    return ml.run_case(
        user_sample(_points),
        width=width,
        seed=seed,
        activation=activation,
        method=method,
        bias=bias,
        max_neighbor_points=None,
    )


@st.cache_data(max_entries=16, show_spinner=False)
def compute_user_partition(digest: str, _points: UserPoints, **case: Any) -> Any:
    """The partition figure of a case on uploaded points."""
    result = compute_user_case(digest, _points, **case)
    return plot_partition(case_partition(result), case=result)


@st.cache_data(max_entries=4, show_spinner=False)
def compute_user_partition_cases(
    digest: str,
    _points: UserPoints,
    widths: tuple[int, ...],
    activation: str,
    bias: float,
    seed: int,
) -> list[Any]:
    """The partition movie's frames on uploaded points (``digest``: the cache key)."""
    return partition_cases(
        user_sample(_points),
        widths,
        seed,
        activation=activation,
        bias=bias,
        max_neighbor_points=None,
    )


def partition_code(settings: dict[str, Any]) -> str:
    """The library call that regenerates the partition figure."""
    return (
        case_code(settings)
        .replace("fig = plot_case(result)\n", "")
        .replace(
            "from manifold_lab.plots import plot_case",
            "from manifold_lab.plots import plot_partition\n"
            "from manifold_lab.partition import case_partition",
        )
        .replace(
            "fig.show()", "fig = plot_partition(case_partition(result), case=result)\nfig.show()"
        )
    )


def mechanism(case: dict[str, Any], points: UserPoints | None = None) -> None:
    """The layer's linear regions under the case figure (or one line on why there are none);
    ``points``: uploaded points the case was computed on."""
    st.subheader("Mechanism: the layer's linear regions")
    note = partition_note(case["activation"], case["width"])
    if note:
        st.caption(note)
        return
    st.caption(
        "The input plane cut into the regions where the layer is linear (exact: the lines "
        "t_j . x + b_j = breakpoint). Darker regions keep more rows informative; hatched red "
        "regions have fewer independent informative rows than the manifold's dimension k, so "
        "Lemma 2 fails and points there cannot be recovered; orange segments join each "
        "collapsed point to the distinct input its output lands on."
    )
    if points is None:
        fig = compute_partition(**case)
    else:
        fig = compute_user_partition(points.digest, points, **_user_args(case))
    st.plotly_chart(fig, width="stretch", theme=None, key="partition_chart")
    figure_downloads(
        st,
        fig,
        name=f"partition_{case['manifold']}_w{case['width']}_{case['activation']}",
        key="partition_dl",
        code=partition_code(case),
    )


def _user_args(case: dict[str, Any]) -> dict[str, Any]:
    return {k: case[k] for k in ("width", "activation", "bias", "seed", "method")}


def user_code(settings: dict[str, Any], load: str, n_points: int) -> str:
    """The library call that regenerates the page's figure on your points (``load``: the
    lines that make ``X``, :attr:`UserPoints.code`)."""
    s = settings
    sample = (
        ""
        if n_points <= MAX_USER_POINTS
        else (
            "import numpy as np\n"
            f"keep = np.sort(np.random.default_rng(0).choice(len(X), {MAX_USER_POINTS}, "
            "replace=False))\nX = X[keep]  # the page's random sample\n"
        )
    )
    return (
        "import manifold_lab as ml\n"
        "from manifold_lab.plots import plot_case\n"
        f"{load}"
        f"{sample}"
        "result = ml.run_case(\n"
        "    X,\n"
        f"    width={s['width']},\n"
        f"    seed={s['seed']},\n"
        f"    activation={s['activation']!r},\n"
        f"    method={s['method']!r},\n"
        f"    bias={s['bias']!r},\n"
        "    max_neighbor_points=None,\n"
        ")\n"
        "fig = plot_case(result)\n"
        "fig.show()"
    )


def case_code(settings: dict[str, Any]) -> str:
    """The library call that regenerates the page's figure (shown under it)."""
    s = settings
    kwargs = _manifold_kwargs(s["noise"], s["dim"], s["ambient_dim"])
    return (
        "import manifold_lab as ml\n"
        "from manifold_lab.plots import plot_case\n\n"
        f"result = ml.run_case(\n"
        f"    {s['manifold']!r},\n"
        f"    width={s['width']},\n"
        f"    seed={s['seed']},\n"
        f"    activation={s['activation']!r},\n"
        f"    method={s['method']!r},\n"
        f"    bias={s['bias']!r},\n"
        f"    n_samples={s['n_samples']},\n"
        f"    manifold_seed={s['seed']},\n"
        f"    manifold_kwargs={kwargs!r},\n"
        "    max_neighbor_points=None,\n"
        ")\n"
        "fig = plot_case(result)\n"
        "fig.show()"
    )


def case_data(result: ml.CaseResult) -> pd.DataFrame:
    """The figure's numbers: each point, its reconstruction, colour and marks."""
    m = result.manifold
    d = m.ambient_dim
    cols: dict[str, Any] = {f"x{i + 1}": m.X[:, i] for i in range(d)}
    cols.update({f"x_hat{i + 1}": result.X_hat[:, i] for i in range(d)})
    cols["color"] = m.color
    if result.invertible is not None:
        cols["invertible"] = result.invertible
    cols["collapsed"] = result.collapsed
    return pd.DataFrame(cols)


def _fraction(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f} %"


def _check_dims() -> list[str]:
    """The link's ``ambient_dim`` when it is below its ``dim`` (for a manifold that takes
    both): reported like an unreadable setting, and reset to its default."""
    entry = MANIFOLD_REGISTRY[st.session_state.manifold]
    state = st.session_state
    if not (entry.param("dim") and entry.param("ambient_dim")) or state.ambient_dim >= state.dim:
        return []
    bad = f"ambient_dim={state.ambient_dim} (below dim={state.dim})"
    state.ambient_dim = AMBIENT_DIM.default  # raised above dim below, as for the slider
    return [bad]


def usable_method(method: str, width: int, k: int, activation: str) -> tuple[str, str]:
    """The method to compute with, and why it replaces ``method`` (empty: it does not).

    A method that needs ``width >= k`` (``needs_span_width``) or the activation's exact
    inverse (``needs_inverse``) is replaced by the first registered method that works here.
    """
    act = ACTIVATION_REGISTRY[activation]

    def problem(name: str) -> str:
        entry = METHOD_REGISTRY[name]
        if entry.needs_span_width and width < k:
            plural = "s" if width > 1 else ""
            return (
                f"{entry.label} needs a width of at least k = {k}, the dimension of the "
                f"manifold's linear span: with n = {width} row{plural}, T maps the span onto at "
                f"most {width} dimension{plural} and cannot be undone"
            )
        if entry.needs_inverse and not act.exact_inverse:
            return (
                f"{entry.label} reads the pre-activation back, and {act.label} has no exact inverse"
            )
        return ""

    why = problem(method)
    if not why:
        return method, ""
    works = next((e for e in METHOD_REGISTRY if not problem(e.name)), None)
    if works is None:
        return method, ""  # nothing works: the library's error says why
    return works.name, f"{why}. Showing the **{works.label}** instead, which works here."


def _tiles(result: ml.CaseResult, activation: str, bias: float, width: int) -> None:
    """The metric tiles; the Theorem 1 tile only where Theorem 1 applies."""
    m = result.metrics
    act = ACTIVATION_REGISTRY[activation]
    applies = act.theorem1 and bias == 0
    tiles = ["nmse", "invertible_fraction", "collapsed_fraction", "knn_recall", "n_patterns"]
    if applies:
        tiles.insert(2, "theorem1")
    shown = [n for n in tiles if n == "theorem1" or not math.isnan(m[n])]
    per_row = 3
    for row in range(0, len(shown), per_row):
        cols = st.columns(per_row)
        for col, name in zip(cols, shown[row : row + per_row], strict=False):
            if name == "theorem1":
                theory = float(ml.preserved_fraction(width, result.k))
                col.metric(
                    "Theorem 1",
                    _fraction(theory),
                    help=f"Predicted invertible fraction P(Binomial(n, 1/2) >= k) for "
                    f"n={width} and k={result.k}, the dimension of the manifold's span.",
                )
                continue
            metric = METRIC_REGISTRY[name]
            value = m[name]
            if metric.fraction:
                text = _fraction(value)
            elif name == "n_patterns":
                text = "n/a" if math.isnan(value) else f"{int(value)}"
            else:
                text = f"{value:.3g}"
            col.metric(metric.label, text, help=metric.description)
    skipped = [METRIC_REGISTRY[n].label for n in tiles if n != "theorem1" and math.isnan(m[n])]
    notes = []
    if not applies:
        theorem_acts = " or ".join(e.label for e in ACTIVATION_REGISTRY if e.theorem1)
        why = f"the layer has a bias ({bias:g})" if act.theorem1 else f"this is {act.label}"
        notes.append(
            f"No Theorem 1 tile: the theorem describes a Gaussian layer with {theorem_acts} "
            f"and no bias, and {why}."
        )
    if skipped:
        notes.append(f"{' and '.join(skipped)}: not defined for {act.label}.")
    if notes:
        st.caption(" ".join(notes))


def render(bad: list[str]) -> None:
    """Draw the page (``bad``: unreadable URL settings to report)."""
    st.header("Manifold lab")
    intro = st.container()

    first_run = "ambient_dim" not in st.session_state
    bad += init_state(spec())
    if first_run:
        bad += _check_dims()
    warn_bad(bad)

    sb = st.sidebar
    sb.subheader("Manifold settings")
    src, points = choose_points(sb, "points_source", "manifold", "points")
    from_file = src != "builtin"  # uploaded or drawn: your points
    if from_file and points is None:
        return
    manifold = (
        select(sb, "Manifold", MANIFOLD_REGISTRY, "manifold")
        if not from_file
        else (st.session_state.manifold)
    )
    entry = MANIFOLD_REGISTRY[manifold]
    # on your points the built-in manifold's settings keep their values (and the link's)
    n_samples = (
        slider(sb, CASE["n_samples"], "n_samples") if not from_file else st.session_state.n_samples
    )
    noise = 0.0
    if entry.param("noise"):
        noise = slider(sb, NOISE, "noise") if not from_file else st.session_state.noise
    dim: int | None = None
    ambient_dim: int | None = None
    if entry.param("dim") and not from_file:
        dim = slider(sb, DIM, "dim")
    if entry.param("ambient_dim") and not from_file:
        lowest = dim or 1
        if st.session_state.ambient_dim < lowest:
            st.session_state.ambient_dim = min(lowest + 1, AMBIENT_DIM.maximum or lowest + 1)
        ambient_dim = slider(sb, AMBIENT_DIM, "ambient_dim")
    width = slider(sb, CASE["width"], "width")
    activation = select(sb, "Activation", ACTIVATION_REGISTRY, "activation")
    bias = slider(sb, CASE["bias"], "bias")
    seed = (
        sb.number_input(CASE["seed"].label, min_value=0, step=1, key="seed", help=CASE["seed"].help)
        if control_shown("seed")
        else st.session_state.seed
    )
    method = select(sb, "Reconstruction method", METHOD_REGISTRY, "method")

    settings: dict[str, Any] = {
        "manifold": manifold,
        "n_samples": n_samples,
        "noise": noise,
        "dim": dim,
        "ambient_dim": ambient_dim,
        "width": width,
        "activation": activation,
        "bias": bias,
        "seed": int(seed),
        "method": method,
    }
    sync_query("manifold", settings)
    if points is not None:
        _render_user(intro, points, settings)
        return

    intro.markdown(
        f"**{entry.label}.** {entry.intro_text()} The layer embeds the points into *n* "
        "dimensions with a random Gaussian matrix *T*, applies the activation and reads the "
        "input back (the reconstruction method); where too few rows stay informative, points "
        "collapse into each other and information is lost. Red crosses mark points where the "
        "paper's Lemma 2 fails, circles collapsed points; the colour is the "
        f"{entry.color_label}."
    )
    try:
        k = span_dim(manifold, n_samples, noise, dim, ambient_dim, int(seed))
        shown, why = usable_method(method, width, k, activation)
        if why:
            st.info(why, icon=":material/info:")
        case = {**settings, "method": shown}
        result = compute_case(**case)
    except ValueError as exc:
        st.error(str(exc))
        return
    if control_shown("metrics"):
        _tiles(result, activation, bias, width)
    fig = plot_case(result)
    st.plotly_chart(fig, width="stretch", theme=None, key="case_chart")
    figure_downloads(
        st,
        fig,
        name=f"case_{manifold}_w{width}_{activation}_{shown}",
        key="case_dl",
        data=case_data(result),
        code=case_code(case),
    )
    mechanism(case)
    movie(case)


def _render_user(intro: Any, points: UserPoints, settings: dict[str, Any]) -> None:
    """The page on uploaded points: the case figure, its tiles and the partition."""
    n, d = points.X.shape
    sampled = n > MAX_USER_POINTS
    intro.markdown(
        f"**Your points: {points.name}**, {n:,} points in {d} dimensions"
        + (f" (a fixed random sample of {MAX_USER_POINTS:,} is shown)" if sampled else "")
        + ". The layer embeds them into *n* dimensions with a random Gaussian matrix *T*, "
        "applies the activation and reads the input back; red crosses mark points where the "
        f"paper's Lemma 2 fails, circles collapsed points; the colour is {points.colour}."
    )
    s = settings
    X, _ = user_sample(points)
    try:
        k = int(span_basis(X).shape[1])
        shown, why = usable_method(s["method"], s["width"], k, s["activation"])
        if why:
            st.info(why, icon=":material/info:")
        case = {**s, "method": shown}
        result = compute_user_case(points.digest, points, **_user_args(case))
    except ValueError as exc:
        st.error(str(exc))
        return
    if control_shown("metrics"):
        _tiles(result, s["activation"], s["bias"], s["width"])
    fig = plot_case(result)
    st.plotly_chart(fig, width="stretch", theme=None, key="case_chart")
    stem = points.name.rsplit(".", 1)[0]
    figure_downloads(
        st,
        fig,
        name=f"case_{stem}_w{s['width']}_{s['activation']}_{shown}",
        key="case_dl",
        data=case_data(result),
        code=user_code(case, points.code, n),
    )
    mechanism(case, points)
    movie(case, points)


MOVIE_FRAMES = 30
"""Most frames of the width movie (wider ranges are stepped)."""

MOVIE_VIEWS = {"partition": "Linear regions (partition)", "case": "Input and reconstruction"}
"""The movie's views, labelled (the keys are :data:`ANIMATION_VIEWS`)."""

RENDERS: dict[str, dict[str, Any]] = {}
"""GIF/MP4 renders by movie and format, shared by the sessions of this process: each is
written by a background thread that updates ``done``/``total`` and sets ``path`` or
``error``."""

_RENDERS_LOCK = threading.Lock()


def movie_widths(lo: int, hi: int) -> list[int]:
    """Widths ``lo..hi``, stepped to at most :data:`MOVIE_FRAMES` frames (``hi`` kept)."""
    step = max(1, math.ceil((hi - lo + 1) / MOVIE_FRAMES))
    widths = list(range(lo, hi + 1, step))
    if widths[-1] != hi:
        widths[-1] = hi
    return widths


def _movie_case(case: dict[str, Any], points: UserPoints | None, width: int, k: int) -> Any:
    shown, _ = usable_method(case["method"], width, k, case["activation"])
    one = {**case, "width": width, "method": shown}
    if points is None:
        return compute_case(**one)
    return compute_user_case(points.digest, points, **_user_args(one))


def _movie_cases(
    case: dict[str, Any], points: UserPoints | None, widths: list[int], view: str
) -> list[Any]:
    """The movie's cases: for the partition view only the regions and collapsed pairs
    (:func:`partition_cases`), for the case view the full cases."""
    if view == "partition":
        if points is None:
            # the width and the reconstruction method do not enter the partition
            settings = {k: v for k, v in case.items() if k not in ("width", "method")}
            return compute_partition_cases(tuple(widths), **settings)
        return compute_user_partition_cases(
            points.digest,
            points,
            tuple(widths),
            case["activation"],
            case["bias"],
            case["seed"],
        )
    if points is None:
        k = span_dim(
            case["manifold"],
            case["n_samples"],
            case["noise"],
            case["dim"],
            case["ambient_dim"],
            case["seed"],
        )
    else:
        k = int(span_basis(user_sample(points)[0]).shape[1])
    return [_movie_case(case, points, w, k) for w in widths]


def _render(key: str, fig: Any, suffix: str) -> None:
    """Write ``fig`` as GIF or MP4 in a thread, recording progress in :data:`RENDERS`."""
    job = RENDERS[key]

    def step(done: int, total: int) -> None:
        job["done"], job["total"] = done, total

    def work() -> None:
        try:
            folder = Path(tempfile.mkdtemp(prefix="manifold_lab_movie_"))
            job["path"] = save_animation(
                fig, folder / f"width_movie{suffix}", progress=False, callback=step
            )
        except (RuntimeError, ValueError, OSError) as exc:
            job["error"] = str(exc).splitlines()[0]

    threading.Thread(target=work, name=f"movie-{key}", daemon=True).start()


@st.fragment(run_every=1.0)
def _render_progress(key: str, name: str) -> None:
    """The background render's progress bar, then its file (polled every second)."""
    job = RENDERS.get(key)
    if job is None:
        return
    if job.get("error"):
        st.error(job["error"])
    elif job.get("path") is not None:
        path = Path(job["path"])
        st.download_button(
            f"Download {path.suffix[1:].upper()}",
            path.read_bytes(),
            file_name=f"{name}{path.suffix}",
            key=f"movie_file_{key}",
            icon=":material/download:",
        )
    else:
        total = max(job["total"], 1)
        st.progress(job["done"] / total, text=f"Rendering frame {job['done']} of {total} ...")


def movie(case: dict[str, Any], points: UserPoints | None = None) -> None:
    """The expander "Width as a movie": the case or partition over a range of widths, as an
    animated figure, an HTML download at once, and a GIF or MP4 rendered in the background."""
    if not control_shown("movie"):
        return
    with st.expander("Width as a movie"):
        top = min(DRAWN_MAX_WIDTH, CASE["width"].maximum or DRAWN_MAX_WIDTH)
        lo, hi = st.slider("Widths", 1, top, (2, min(top, 30)), key="movie_widths")
        views = [
            v
            for v in ANIMATION_VIEWS
            if v != "partition" or not partition_note(case["activation"], hi)
        ]
        view = st.radio(
            "View", views, format_func=MOVIE_VIEWS.__getitem__, key="movie_view", horizontal=True
        )
        if not st.toggle("Build the movie", key="movie_on"):
            st.caption(
                f"One frame per width ({len(movie_widths(lo, hi))} frames), with Play and a "
                "slider; download it as HTML at once, or as GIF/MP4 (rendered in the background)."
            )
            return
        widths = movie_widths(lo, hi)
        try:
            with st.spinner(f"Computing {len(widths)} widths ..."):
                cases = _movie_cases(case, points, widths, view)
            fig = plot_width_animation(cases, view=view)
        except ValueError as exc:
            st.error(str(exc))
            return
        st.plotly_chart(fig, width="stretch", theme=None, key="movie_chart")
        stem = case["manifold"] if points is None else points.name.rsplit(".", 1)[0]
        name = f"width_movie_{stem}_{case['activation']}_{view}_w{widths[0]}-{widths[-1]}"
        st.download_button(
            "Download HTML",
            fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False),
            file_name=f"{name}.html",
            mime="text/html",
            key="movie_html",
            icon=":material/download:",
        )
        fmt = st.radio(
            "Slides", ("gif", "mp4"), key="movie_fmt", horizontal=True, format_func=str.upper
        )
        key = f"{name}|{points.digest if points else repr(sorted(case.items()))}|{fmt}"
        if st.button(f"Render {fmt.upper()} (about a second a frame)", key="movie_render"):
            with _RENDERS_LOCK:
                if key not in RENDERS or RENDERS[key].get("error"):
                    RENDERS[key] = {"done": 0, "total": len(widths), "path": None}
                    _render(key, fig, f".{fmt}")
        _render_progress(key, name)
