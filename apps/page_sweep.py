"""Width sweep page: metrics against width over many seeds, and the injectivity phase diagram."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any

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
from _points import UserPoints, choose_points

import manifold_lab as ml
from manifold_lab.core import span_basis
from manifold_lab.injectivity import critical_ratios, phase_diagram, ratio_table
from manifold_lab.plots import plot_phase_diagram, plot_width_curves
from manifold_lab.registry import (
    ACTIVATION_REGISTRY,
    MANIFOLD_REGISTRY,
    METHOD_REGISTRY,
    METRIC_REGISTRY,
)
from manifold_lab.registry.settings import CURVES, PHASE, SWEEP
from manifold_lab.sweep_cost import SweepEstimate, calibrate, estimate_sweep
from manifold_lab.uploads import PointLimits

CONFIRM_S = 20.0
"""Sweeps estimated to take longer than this many seconds start only when asked."""

# Calibrate the cost model in the background as soon as the explorer starts, so the page's
# first estimate does not wait for it (calibrate() is cached and waits for this thread). Not a
# daemon: a process that exits while it runs waits the few seconds it takes, where a daemon
# thread inside a torch operation at interpreter exit aborts the process.
threading.Thread(target=calibrate, name="sweep-cost-calibration", daemon=False).start()

STEP_S = 1.0
"""The sweep runs in parts of about this many seconds (never shorter than the points'
preparation that every part repeats: see SweepEstimate.n_parts), so progress shows and Stop
is quick."""


def spec() -> Spec:
    """The page's URL settings, read with the library's definitions (registries, ranges)."""
    return {
        "sw_manifold": from_param(SWEEP["manifold"], MANIFOLD_REGISTRY.names()),
        "sw_activations": from_param(
            SWEEP["activation"].replace(kind="choices", default=(SWEEP["activation"].default,)),
            ACTIVATION_REGISTRY.names(),
        ),
        "sw_method": from_param(SWEEP["method"], METHOD_REGISTRY.names()),
        "sw_max_width": from_param(CURVES["max_width"]),
        "sw_seeds": from_param(CURVES["n_seeds"]),
        "sw_points": from_param(CURVES["n_samples"]),
        "sw_metrics": from_param(
            CURVES["metrics"].replace(default=CURVES["metrics"].default[:3]),
            METRIC_REGISTRY.names(),
        ),
        "ph_max_dim": from_param(PHASE["max_dim"]),
        "ph_seeds": from_param(PHASE["n_seeds"]),
    }


def sweep_kwargs(
    manifold: str,
    activations: list[str],
    method: str,
    max_width: int,
    n_seeds: int,
    n_points: int,
    metrics: list[str],
) -> dict[str, Any]:
    """The page's settings as :func:`manifold_lab.sweep`'s arguments."""
    return {
        "manifold": manifold,
        "widths": list(range(2, max_width + 1)),
        "seeds": list(range(n_seeds)),
        "activation": list(activations),
        "method": method,
        "metrics": list(metrics),
        "n_samples": n_points,
    }


@st.cache_data(max_entries=64, show_spinner="Estimating the sweep's time ...")
def estimate(kwargs_key: str, _kwargs: dict[str, Any]) -> SweepEstimate:
    """Estimated time of the sweep (``kwargs_key``: its settings, for the cache; uploaded
    points are keyed by their file's digest, not hashed on every rerun)."""
    return estimate_sweep(**_kwargs)


@st.cache_data(max_entries=4, show_spinner=False)
def span_dim(digest: str, _X: Any) -> int:
    """Dimension of the uploaded points' linear span (``digest``: the file's)."""
    return int(span_basis(_X).shape[1])


def with_points(kwargs: dict[str, Any], points: UserPoints) -> tuple[dict[str, Any], str]:
    """The sweep's arguments on uploaded points, and the settings key that names them.

    A method that needs ``width >= k`` sweeps the widths from ``k`` (the dimension of the
    points' span) up; :class:`ValueError` when none is left.
    """
    on_points = {k: v for k, v in kwargs.items() if k != "n_samples"}
    if METHOD_REGISTRY[kwargs["method"]].needs_span_width:
        k = span_dim(points.digest, points.X)
        widths = [w for w in kwargs["widths"] if w >= k]
        if not widths:
            raise ValueError(
                f"{points.name} spans k = {k} dimensions and "
                f"{METHOD_REGISTRY[kwargs['method']].label} needs a width of at least k: "
                f"set the largest width to {k} or more, or choose another method"
            )
        on_points["widths"] = widths
    key = repr(sorted({**on_points, "manifold": f"upload:{points.digest}"}.items()))
    return {**on_points, "manifold": points.X}, key


def _calibrated() -> None:
    """Calibrate the cost model once per process (a spinner says so the first time)."""
    if "sw_calibrated" not in st.session_state:
        with st.spinner("Measuring this machine's speed for the time estimate (once) ..."):
            calibrate()
        st.session_state.sw_calibrated = True


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _parts(widths: list[int], n: int) -> list[list[int]]:
    """``widths`` in ``n`` consecutive parts (fewer when there are fewer widths)."""
    size = math.ceil(len(widths) / max(1, min(len(widths), n)))
    return [widths[i : i + size] for i in range(0, len(widths), size)]


MAX_RUNS = 16
"""Sweeps (finished or not) kept for every session; the oldest goes first."""

RUNS: OrderedDict[str, dict[str, Any]] = OrderedDict()
"""Sweeps by settings, shared by every session of this process (a sweep's numbers depend
only on its settings): the parts done so far survive a Stop, a closed tab or a change of
settings, and a finished sweep is drawn at once for anyone who asks for it again."""

_RUNS_LOCK = threading.Lock()


def _run_of(key: str) -> dict[str, Any]:
    """The shared record of the sweep ``key`` (created empty; the newest kept last)."""
    with _RUNS_LOCK:
        run = RUNS.setdefault(key, {"parts": [], "done": [], "elapsed": 0.0, "stopped": False})
        RUNS.move_to_end(key)
        while len(RUNS) > MAX_RUNS:
            RUNS.popitem(last=False)
        return run


def _stop(key: str) -> None:
    _run_of(key)["stopped"] = True


def sweep_code(
    kwargs: dict[str, Any], plot: dict[str, Any], label: str | None = None, load: str = ""
) -> str:
    """The library calls that regenerate the sweep's figure (``label``: the name of your
    points, None: the registry's manifold; ``load``: the lines that make your points ``X``,
    :attr:`UserPoints.code`)."""
    w = kwargs["widths"]
    args = ",\n".join(
        f"    {k}={v!r}"
        for k, v in {
            "widths": f"range({w[0]}, {w[-1] + 1})",
            "seeds": f"range({len(kwargs['seeds'])})",
        }.items()
    ).replace("'", "")
    rest = ",\n".join(
        f"    {k}={kwargs[k]!r}"
        for k in ("activation", "method", "metrics", "n_samples")
        if k in kwargs
    )
    read = ""
    what = repr(kwargs["manifold"])
    if label is not None:
        read = load
        what = "X"
    plot_args = ",\n".join(f"    {k}={v!r}" for k, v in plot.items())
    return (
        "import manifold_lab as ml\n"
        "from manifold_lab.plots import plot_width_curves\n"
        f"{read or chr(10)}"
        f"df = ml.sweep(\n    {what},\n{args},\n{rest},\n)\n"
        f"fig = plot_width_curves(\n    ml.summarize(df),\n{plot_args},\n)\n"
        "fig.show()"
    )


def phase_code(max_dim: int, n_seeds: int, title: str) -> str:
    """The library calls that regenerate the phase diagram."""
    return (
        "from manifold_lab.injectivity import critical_ratios, phase_diagram\n"
        "from manifold_lab.plots import plot_phase_diagram\n\n"
        f"df = phase_diagram(range(1, {max_dim + 1}), max_ratio={PHASE['max_ratio'].default!r}, "
        f"seeds=range({n_seeds}))\n"
        f"fig = plot_phase_diagram(df, ratios=critical_ratios(df), title={title!r})\n"
        "fig.show()"
    )


def _run_sweep(key: str, kwargs: dict[str, Any], est: SweepEstimate) -> None:
    """Run the widths not done yet in parts, with a progress bar and a Stop button; each
    finished part is kept in :data:`RUNS` at once, so a stop (a rerun) keeps it."""
    run = _run_of(key)
    run["stopped"] = False
    total = len(kwargs["widths"])
    todo = [w for w in kwargs["widths"] if w not in set(run["done"])]
    stop = st.empty()
    stop.button("Stop", key="sw_stop", on_click=_stop, args=(key,), icon=":material/stop:")
    bar = st.progress(len(run["done"]) / total, text="Sweeping widths and seeds ...")
    t0 = time.perf_counter()
    n_parts = est.n_parts(len(todo), STEP_S)
    seconds = est.in_parts(n_parts)
    for part in _parts(todo, n_parts):
        part = [w for w in part if w not in set(run["done"])]  # another session's?
        if not part:
            continue
        started = time.perf_counter()
        df = ml.sweep(**{**kwargs, "widths": part}, progress=False)
        with _RUNS_LOCK:
            if not set(part) & set(run["done"]):
                run["parts"].append(df)
                run["done"] += part
                run["elapsed"] += time.perf_counter() - started
        bar.progress(
            len(run["done"]) / total,
            text=f"{len(run['done'])} of {total} widths, {time.perf_counter() - t0:.0f} s "
            f"(estimated {_duration(seconds)} in all)",
        )
    bar.empty()
    stop.empty()
    with _RUNS_LOCK:
        if len(run["done"]) == total and len(run["parts"]) > 1:  # keep one combined table
            run["parts"] = [ml.combine_sweeps(run["parts"])]


def _sweep_section(
    kwargs: dict[str, Any],
    key: str,
    est: SweepEstimate,
    label: str | None = None,
    load: str = "",
) -> None:
    total = len(kwargs["widths"])
    seconds = est.in_parts(est.n_parts(total, STEP_S))  # as run: each part prepares again
    n_cases = total * len(kwargs["seeds"]) * len(kwargs["activation"])
    run = RUNS.get(key)
    complete = run is not None and len(run["done"]) == total
    note = st.empty()
    notice: Any = None
    if not complete:
        note.caption(
            f"Estimated time: {_duration(seconds)} for {n_cases:,} cases ({total} widths x "
            f"{len(kwargs['seeds'])} seeds x {len(kwargs['activation'])} activation"
            f"{'s' if len(kwargs['activation']) > 1 else ''})."
        )
        if run is not None and run["done"] and (run["stopped"] or seconds > CONFIRM_S):
            start = st.button(
                f"Continue ({total - len(run['done'])} widths left)", key="sw_go", type="primary"
            )
            notice = st.empty()
            notice.warning(f"Stopped after {len(run['done'])} of {total} widths; showing those.")
        elif seconds > CONFIRM_S:
            notice = st.empty()
            notice.info(
                f"This sweep would take about {_duration(seconds)}. Start it, or choose fewer "
                "widths, seeds or points in the sidebar."
            )
            start = st.button(
                f"Run the sweep (about {_duration(seconds)})", key="sw_go", type="primary"
            )
        else:
            start = True
        if start:
            _run_sweep(key, kwargs, est)
            run = RUNS[key]
            if notice is not None:
                notice.empty()
    if run is not None and len(run["done"]) == total:
        note.caption(
            f"{n_cases:,} cases computed in {run['elapsed']:.1f} s (estimated "
            f"{_duration(seconds)} before they ran)."
        )
    if run is None or not run["parts"]:
        return
    df = ml.combine_sweeps(run["parts"])
    summary = ml.summarize(df)
    span = int(df["k"].iloc[0])  # dimension of the manifold's span (Theorem 1's k)
    metrics = kwargs["metrics"]
    plot = {
        "metrics": metrics,
        "color": "activation",
        "theory_k": span if "invertible_fraction" in metrics else None,
        "thresholds": True,
        "log_y": [m for m in metrics if METRIC_REGISTRY[m].log_scale],
        "title": f"{label or kwargs['manifold']}: {', '.join(kwargs['activation'])}, "
        f"{kwargs['method']}, {len(kwargs['seeds'])} seeds",
    }
    fig = plot_width_curves(summary, **plot)
    st.plotly_chart(fig, width="stretch", theme=None, key="sweep_chart")
    figure_downloads(
        st,
        fig,
        name=f"width_sweep_{(label or kwargs['manifold']).rsplit('.', 1)[0]}",
        key="sweep_dl",
        data=df,
        code=sweep_code(kwargs, plot, label, load),
    )


@st.cache_data(max_entries=8, show_spinner="Computing the injectivity phase diagram ...")
def compute_phase(max_dim: int, n_seeds: int) -> Any:
    return phase_diagram(
        range(1, max_dim + 1),
        max_ratio=PHASE["max_ratio"].default,
        seeds=range(n_seeds),
        progress=False,
    )


def render(bad: list[str]) -> None:
    """Draw the page (``bad``: unreadable URL settings to report)."""
    bad += init_state(spec())
    warn_bad(bad)
    st.header("Width sweep")
    st.markdown(
        "Each curve is the mean over seeds with its 95% confidence band; the dashed curve is "
        "Theorem 1's prediction P(Binomial(n, 1/2) >= k) for the invertible fraction, and the "
        "vertical lines the injectivity literature's widths for all of R^k. On log-scale "
        "panels the band is drawn down to a tenth of the mean at most (the CSV keeps the "
        "raw interval)."
    )
    sb = st.sidebar
    sb.subheader("Sweep settings")
    src, points = choose_points(sb, "sw_points_source", "sw_manifold", "sw_points")
    from_file = src != "builtin"  # uploaded or drawn: your points
    if src == "upload":
        sb.caption(PointLimits().describe_sweep() + ".")
    manifold = (
        select(sb, "Manifold", MANIFOLD_REGISTRY, "sw_manifold")
        if not from_file
        else st.session_state.sw_manifold
    )
    act_labels = ACTIVATION_REGISTRY.labels()
    activations = sb.multiselect(
        "Activations", tuple(act_labels), format_func=act_labels.__getitem__, key="sw_activations"
    )
    method = select(sb, "Reconstruction method", METHOD_REGISTRY, "sw_method")
    max_width = slider(sb, CURVES["max_width"], "sw_max_width")
    n_seeds = slider(sb, CURVES["n_seeds"], "sw_seeds")
    # on your points the built-in manifold's number of points keeps its value (and the link's)
    n_points = (
        slider(sb, CURVES["n_samples"], "sw_points")
        if not from_file
        else st.session_state.sw_points
    )
    metric_labels = METRIC_REGISTRY.labels()
    metrics = sb.multiselect(
        "Metrics", tuple(metric_labels), format_func=metric_labels.__getitem__, key="sw_metrics"
    )
    sb.subheader("Phase diagram")
    max_dim = slider(sb, PHASE["max_dim"], "ph_max_dim")
    ph_seeds = slider(sb, PHASE["n_seeds"], "ph_seeds")
    sync_query(
        "sweep",
        {
            "sw_manifold": manifold,
            "sw_activations": activations,
            "sw_method": method,
            "sw_max_width": max_width,
            "sw_seeds": n_seeds,
            "sw_points": n_points,
            "sw_metrics": metrics,
            "ph_max_dim": max_dim,
            "ph_seeds": ph_seeds,
        },
    )
    if not activations or not metrics:
        st.info("Choose at least one activation and one metric.")
        return
    kwargs = sweep_kwargs(manifold, activations, method, max_width, n_seeds, n_points, metrics)
    key = repr(sorted(kwargs.items()))
    label = None
    if from_file:
        if points is None:
            return
        try:
            PointLimits().check_sweep(points.X.shape, points.name)
            kwargs, key = with_points(kwargs, points)
        except ValueError as exc:
            st.error(str(exc))
            return
        label = points.name
        n, d = points.X.shape
        st.caption(
            f"Your points: {points.name}, {n:,} points in {d} dimensions; widths "
            f"{kwargs['widths'][0]}..{kwargs['widths'][-1]}."
        )
    try:
        _calibrated()
        _sweep_section(kwargs, key, estimate(key, kwargs), label, points.code if points else "")
    except ValueError as exc:
        st.error(str(exc))

    st.subheader("Injectivity phase diagram")
    st.markdown(
        "Probability that x -> ReLU(Wx) with Gaussian W (n x k) is injective on all of R^k, "
        "against the ratio n/k; the committed full diagram (k = 1..8, 100 seeds) is in "
        "`experiments/results/phase_diagram.png`."
    )
    try:
        ph = compute_phase(max_dim, ph_seeds)
        ratios = critical_ratios(ph)
        title = f"k = 1..{max_dim}, {ph_seeds} seeds"
        ph_fig = plot_phase_diagram(ph, ratios=ratios, title=title)
    except ValueError as exc:
        st.error(str(exc))
        return
    st.plotly_chart(ph_fig, width="stretch", theme=None, key="phase_chart")
    figure_downloads(
        st,
        ph_fig,
        name="phase_diagram",
        key="phase_dl",
        data=ph,
        code=phase_code(max_dim, ph_seeds, title),
    )
    st.dataframe(ratio_table(ratios), hide_index=True)
