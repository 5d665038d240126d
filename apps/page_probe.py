"""Bottleneck probe page: the paper's Appendix A measured inside a real MobileNetV2."""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import streamlit as st
from _common import (
    Spec,
    figure_downloads,
    from_param,
    init_state,
    shown,
    slider,
    sync_query,
    warn_bad,
)

import manifold_lab as ml
from manifold_lab.bottleneck import LOSS_COLUMN_LABELS, analyse_bottlenecks
from manifold_lab.plots import (
    plot_figure7,
    plot_id_profile,
    plot_ledger_blocks,
    plot_ledger_phase,
)
from manifold_lab.probing import (
    SUMMARY_COLUMNS,
    ProbeReport,
    ProbeResult,
    id_profile,
    ledger,
    probe_images,
    probe_source,
    split_constants,
)
from manifold_lab.probing.ledger_result import column_labels
from manifold_lab.registry import (
    IMAGE_SOURCE_REGISTRY,
    MODEL_SOURCE_REGISTRY,
    menu_sources,
    resolve_image_source,
)
from manifold_lab.registry.settings import PROBE
from manifold_lab.uploads import UPLOAD_ENV, StoredUpload, UploadStore, clean_stale_uploads
from manifold_lab.weights import builtin_checkpoint

UPLOAD = {"upload": "Upload a checkpoint (.pt) or TF-slim .tflite file"}
MODELS = {**menu_sources(MODEL_SOURCE_REGISTRY), **UPLOAD}
IMAGES = {**menu_sources(IMAGE_SOURCE_REGISTRY), "upload": "Upload a zip of images"}


def spec() -> Spec:
    """The page's URL settings, read with the library's definitions (registries, ranges)."""
    return {
        "pr_model": from_param(PROBE["model"], tuple(MODELS)),
        "pr_images": from_param(PROBE["images"], tuple(IMAGES)),
        "pr_limit": from_param(PROBE["limit"]),
        "pr_seed": from_param(PROBE["seed"]),
        "pr_ledger": from_param(PROBE["ledger"]),
    }


def _builtin_available() -> bool:
    try:
        builtin_checkpoint()
    except FileNotFoundError:
        return False
    return True


def _session() -> str:
    """This browser session's name: its uploads are kept under it (and removed with it)."""
    if "pr_session" not in st.session_state:
        st.session_state.pr_session = uuid.uuid4().hex[:16]
    return str(st.session_state.pr_session)


@st.cache_resource
def _clean_at_start_up() -> None:
    """Once per server process: remove unfinished and expired uploads of earlier runs."""
    clean_stale_uploads()


Report = Callable[[float, str], None]
Partial = Callable[[ProbeResult], None]
MAX_RESULTS = 8
# Shares of the progress bar: probing up to 0.8, the ID profile up to 0.9 (as probe_report).
PROBE_SHARE, ID_SHARE = 0.8, 0.9
ID_METHODS = ("twonn", "pca")
ID_MAX_POINTS = 2000
BATCH_SIZE = 25
REDRAW_S = 1.0  # at most one partial Figure 7 per second


@st.cache_resource(max_entries=4, show_spinner=False)
def load(source: str) -> Any:
    """The model for ``source`` (the library downloads torchvision's weights before)."""
    return ml.load_model(source, progress=False)


@st.cache_resource
def _results() -> OrderedDict[tuple[Any, ...], dict[str, Any]]:
    """Finished stages of probes (``result``, ``ids``, ``loss``), shared by all sessions (a
    small LRU; st.cache_data cannot be used because the computation draws partial results
    outside it)."""
    return OrderedDict()


def _entry(key: tuple[Any, ...]) -> dict[str, Any]:
    cache = _results()
    if key in cache:
        cache.move_to_end(key)
    else:
        cache[key] = {}
        while len(cache) > MAX_RESULTS:
            cache.popitem(last=False)
    return cache[key]


def probe_stage(
    key: tuple[Any, ...],
    *,
    model_name: str | None = None,
    images_name: str | None = None,
    report: Report | None = None,
    partial: Partial | None = None,
) -> ProbeResult:
    """:func:`manifold_lab.probing.probe_source` for ``key = (source, images, data_root,
    limit, seed)``, cached; ``report(fraction, text)`` tracks progress and ``partial(result)``
    receives the structure, then the counts so far, while it is computed."""
    entry = _entry(key)
    if "result" not in entry:
        source, images, data_root, limit, seed = key
        entry["result"] = probe_source(
            source,
            images,
            data_root=data_root or None,
            limit=limit,
            spread=True,
            seed=seed,
            batch_size=BATCH_SIZE,
            callback=report,
            partial=partial,
            model_loader=load,
            model_name=model_name,
            images_name=images_name,
        )
    return entry["result"]  # type: ignore[no-any-return]


def id_stage(key: tuple[Any, ...], result: ProbeResult) -> Any:
    """:func:`manifold_lab.probing.id_profile` of the probe ``key``, cached."""
    entry = _entry(key)
    if "ids" not in entry:
        entry["ids"] = id_profile(result, methods=ID_METHODS, max_points=ID_MAX_POINTS)
    return entry["ids"]


def loss_stage(key: tuple[Any, ...], result: ProbeResult) -> Any:
    """:func:`manifold_lab.bottleneck.analyse_bottlenecks` of the probe ``key``, cached."""
    entry = _entry(key)
    if "loss" not in entry:
        entry["loss"] = analyse_bottlenecks(result.samples)
    return entry["loss"]


def ledger_stage(key: tuple[Any, ...], report: Report | None = None) -> Any:
    """:func:`manifold_lab.probing.ledger` on the probe ``key``'s model and images, cached."""
    entry = _entry(key)
    if "ledger" not in entry:
        source, images, data_root, limit, seed = key
        dataset = probe_images(images, data_root=data_root, limit=limit, spread=True)

        def on_batch(done: int, total: int | None) -> None:
            if report is not None:
                report(done / total if total else 0.5, f"Ledger: {done} of {total} images ...")

        entry["ledger"] = ledger(
            load(source),
            dataset,
            pixels_per_block=PROBE["ledger_pixels"].default,
            seed=seed,
            batch_size=BATCH_SIZE,
            limit=limit,
            progress=False,
            callback=on_batch,
            images=str(images),
        )
    return entry["ledger"]


def run_probe(
    source: str,
    images: str,
    data_root: str | None,
    limit: int,
    seed: int,
    report: Report | None = None,
) -> ProbeReport:
    """All three stages as one :class:`~manifold_lab.probing.ProbeReport`, cached (what the
    page shows, without drawing); ``report(fraction, text)`` tracks progress."""
    key = (source, images, data_root, limit, seed)
    say: Report = report or (lambda fraction, text: None)
    inner = None if report is None else (lambda f, t: say(PROBE_SHARE * f, t))
    result = probe_stage(key, report=inner)
    say(PROBE_SHARE, "Intrinsic dimension of every bottleneck ...")
    ids = id_stage(key, result)
    say(ID_SHARE, "What a ReLU on the bottleneck would destroy ...")
    loss = loss_stage(key, result)
    say(1.0, "Done.")
    return ProbeReport(result=result, id_profile=ids, bottleneck_loss=loss)


class _Signals:
    """Calls into Streamlit from the library's callbacks.

    When the browser leaves or a widget changes, Streamlit raises its stop/rerun signal
    from the next st call: note it, let the computation finish (so that it is cached for the
    next run) and re-raise it afterwards with :meth:`check`.
    """

    def __init__(self) -> None:
        self.stopped: list[BaseException] = []

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self.stopped:
            return
        try:
            fn(*args, **kwargs)
        except BaseException as signal:  # re-raised by check()
            self.stopped.append(signal)

    def check(self) -> None:
        if self.stopped:
            raise self.stopped[0]


def _resolution(meta: dict[str, Any]) -> str:
    res = meta.get("resolution")
    if isinstance(res, list | tuple):
        return "/".join(
            "x".join(map(str, r)) if isinstance(r, list | tuple) else str(r) for r in res
        )
    return str(res)


def _call(source: str, images: str, data_root: str | None, limit: int, seed: int) -> str:
    """The library call that probes like the page does (for the regenerating code)."""
    root = f", data_root={data_root!r}" if data_root else ""
    return (
        "from manifold_lab.probing import probe_source\n"
        f"result = probe_source({source!r}, {images!r}{root}, limit={limit}, spread=True,\n"
        f"                      seed={seed}, batch_size={BATCH_SIZE})\n"
    )


def render(bad: list[str]) -> None:
    """Draw the page (``bad``: unreadable URL settings to report)."""
    bad += init_state(spec())
    if st.session_state.pr_model == "builtin" and not _builtin_available():
        st.session_state.pr_model = "random-cifar"
    warn_bad(bad)
    st.header("Bottleneck probe")
    st.markdown(
        "For every inverted-residual block: how many expansion channels are positive per "
        "pixel (the paper's Figure 7) against the invertibility threshold (the block's input "
        "channels: below it Lemma 2 cannot hold), how often Lemma 2 holds exactly, the "
        "intrinsic dimension of the bottleneck vectors, and what a ReLU on the bottleneck "
        "would destroy. Blocks are numbered from 1 (`features.1`) in every figure and table."
    )
    sb = st.sidebar
    sb.subheader("Probe settings")
    state = st.session_state
    source = (
        sb.selectbox("Model", tuple(MODELS), format_func=MODELS.__getitem__, key="pr_model")
        if shown("pr_model")
        else state.pr_model
    )
    images = (
        sb.selectbox("Images", tuple(IMAGES), format_func=IMAGES.__getitem__, key="pr_images")
        if shown("pr_images")
        else state.pr_images
    )
    limit = slider(sb, PROBE["limit"], "pr_limit")
    seed = (
        sb.number_input(
            PROBE["seed"].label, min_value=0, step=1, key="pr_seed", help=PROBE["seed"].help
        )
        if shown("pr_seed")
        else state.pr_seed
    )
    with_ledger = sb.toggle(PROBE["ledger"].label, key="pr_ledger", help=PROBE["ledger"].help)
    sync_query(
        "probe",
        {
            "pr_model": source,
            "pr_images": images,
            "pr_limit": limit,
            "pr_seed": seed,
            "pr_ledger": with_ledger,
        },
    )
    data_root = None
    model_name = images_name = None  # None: the registry's display names
    store: UploadStore | None = None
    try:
        _clean_at_start_up()
        store = UploadStore.from_env(_session())
        limits = (
            f"Limits: {store.limits.describe()}; set by the environment variables "
            f"{', '.join(UPLOAD_ENV)} (docs/ARCHITECTURE.md)."
        )
        up = zipped = None
        if source == "upload":
            up = sb.file_uploader(
                "Checkpoint or TFLite file",
                type=["pt", "pth", "tflite"],
                key="pr_upload_model",
                help=limits,
            )
        if images == "upload":
            zipped = sb.file_uploader(
                "Zip of images", type=["zip"], key="pr_upload_zip", help=limits
            )
        if up is not None or zipped is not None:
            sb.caption(limits)
        in_use: list[StoredUpload] = []
        try:
            if up is not None:
                in_use.append(store.store_file(up.getvalue(), up.name))
                source, model_name = str(in_use[-1].path), up.name
            if zipped is not None:
                in_use.append(store.extract_images(zipped.getvalue(), zipped.name))
                images, images_name = str(in_use[-1].path), zipped.name
        finally:
            store.prune(keep=in_use)  # this session's earlier uploads, or all after use
        if source == "upload":
            st.info("Upload a checkpoint (.pt, .pth) or a TF-slim .tflite file.")
            return
        if source == "builtin" and not _builtin_available():
            st.error("This installation has no built-in model; choose another.")
            return
        if images == "upload":
            st.info("Upload a zip of images (.jpg, .png, ...).")
            return
        if resolve_image_source(images)[0].needs_data_root:
            data_root = sb.text_input(
                "CIFAR-10 data root",
                key="pr_data_root",
                help="A torchvision root, cifar10-jpeg.tar.gz or its extracted folder.",
            )
        key = (source, images, data_root or None, int(limit), int(seed))
        # a lesson asks what Figure 7 shows before it shows it (the step's reveal)
        _show(key, model_name, images_name, with_ledger, figure7=shown("figure7"))
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as exc:
        message = str(exc) if store is None else store.explain(str(exc))
        st.error(f"Could not probe: {message}")


def _show(
    key: tuple[Any, ...],
    model_name: str | None,
    images_name: str | None,
    with_ledger: bool,
    figure7: bool = True,
) -> None:
    """Draw the probe ``key``: the blocks' structure at once, Figure 7 filled in as batches
    arrive, then the table, the ID profile and the bottleneck analysis as each is ready.

    ``figure7=False`` (a lesson's question not answered yet) leaves out what gives its
    answer away: Figure 7, its downloads, the table of blocks and the ledger (which repeats
    Lemma 2's fraction)."""
    source, images, data_root, limit, seed = key
    caption = st.empty()
    bar = st.progress(0.0, text="Loading the model ...")
    chart = st.empty()
    signals = _Signals()
    last = [0.0]

    def draw_partial(part: ProbeResult) -> None:
        done = int(part.metadata.get("n_images", 0))
        now = time.monotonic()
        if done and now - last[0] < REDRAW_S:
            return
        last[0] = now
        meta = part.metadata
        if not figure7:
            return
        state = f"{done} of {limit} images probed so far ..." if done else "probing ..."
        signals.call(
            caption.caption,
            f"{meta.get('model_name')} on {meta.get('images_name')}: {_structure(part)}. {state}",
        )
        fig = plot_figure7(part, x="block")
        signals.call(chart.plotly_chart, fig, width="stretch", theme=None, key=f"fig7_part_{done}")

    def report(fraction: float, text: str) -> None:
        signals.call(bar.progress, min(max(PROBE_SHARE * fraction, 0.0), 1.0), text)

    try:
        result = probe_stage(
            key, model_name=model_name, images_name=images_name, report=report, partial=draw_partial
        )
    except (ValueError, FileNotFoundError, RuntimeError, OSError):
        bar.empty()  # no empty "Loading ..." bar above the message
        chart.empty()
        caption.empty()
        raise
    signals.check()
    meta = result.metadata
    caption.caption(
        f"{meta.get('model_name')} on {meta.get('images_name')}: {_structure(result)}. "
        f"{meta.get('n_images')} images probed at {_resolution(meta)} px; Lemma 2's "
        "rank check on "
        f"{meta.get('rank_pixels_per_batch')} pixels per batch."
    )
    call = _call(source, images, data_root, limit, seed)
    if figure7:
        fig = plot_figure7(result, x="block")
        chart.plotly_chart(fig, width="stretch", theme=None, key="fig7_chart")
        figure_downloads(
            st,
            fig,
            name="figure7",
            key="fig7_dl",
            data=result.to_frame(),
            code=call
            + "from manifold_lab.plots import plot_figure7\n"
            + 'fig = plot_figure7(result, x="block")\n',
        )
        table, same = split_constants(result.to_frame(labels=True, columns=SUMMARY_COLUMNS))
        st.dataframe(table, hide_index=True, key="probe_table")
        if same:
            st.caption(
                "In every row: " + "; ".join(f"{k}: {_fmt(v)}" for k, v in same.items()) + "."
            )
    else:
        chart.caption(
            "Figure 7 and the table of blocks appear once you have answered the lesson's "
            "question and asked for the measured answer."
        )
    st.subheader("Intrinsic dimension of the bottleneck vectors")
    bar.progress(PROBE_SHARE, "Intrinsic dimension of every bottleneck ...")
    ids = id_stage(key, result)
    id_fig = plot_id_profile(ids, dash=None)
    st.plotly_chart(id_fig, width="stretch", theme=None, key="id_chart")
    figure_downloads(
        st,
        id_fig,
        name="id_profile",
        key="id_dl",
        data=ids,
        code=call
        + "from manifold_lab.probing import id_profile\n"
        + "from manifold_lab.plots import plot_id_profile\n"
        + f"ids = id_profile(result, methods={ID_METHODS!r}, max_points={ID_MAX_POINTS})\n"
        + "fig = plot_id_profile(ids, dash=None)\n",
    )
    st.subheader("What a ReLU on the bottleneck would destroy")
    bar.progress(ID_SHARE, "What a ReLU on the bottleneck would destroy ...")
    loss = loss_stage(key, result)
    shown, same = split_constants(loss.rename(columns=LOSS_COLUMN_LABELS))
    st.dataframe(shown, hide_index=True, key="loss_table")
    if same:
        st.caption("In every row: " + "; ".join(f"{k}: {_fmt(v)}" for k, v in same.items()) + ".")
    st.subheader("The information-loss ledger")
    if with_ledger and not figure7:
        st.caption("The ledger appears with the lesson's answer (it repeats Lemma 2's fraction).")
        bar.empty()
        return
    if not with_ledger:
        st.caption(
            f"Turn on '{PROBE['ledger'].label}' in the sidebar to read every block's input back "
            "from its expansion (Lemma 2's exact inverse, an affine decoder) and from the whole "
            "block, with the toy's metrics, and to place the blocks on the toy's phase diagram "
            "(a second pass over the images)."
        )
        bar.empty()
        return
    bar.progress(0.0, "The information-loss ledger ...")
    book = ledger_stage(key, report=lambda f, t: signals.call(bar.progress, min(f, 1.0), t))
    signals.check()
    frame = book.to_frame()
    reads = (
        f"images = probe_images({images!r}, data_root={data_root!r}, limit={limit}, "
        "spread=True)\n"
        f"book = ledger(ml.load_model({source!r}), images, seed={seed}, "
        f"batch_size={BATCH_SIZE}, limit={limit})\n"
    )
    # the blocks on the toy's phase diagram, then block by block
    for plot, name, widget in (
        (plot_ledger_phase, "ledger_phase", "ledger"),
        (plot_ledger_blocks, "ledger_blocks", "ledger_blocks"),
    ):
        fig = plot(book)
        st.plotly_chart(fig, width="stretch", theme=None, key=f"{widget}_chart")
        code = (
            "import manifold_lab as ml\n"
            "from manifold_lab.probing import ledger, probe_images\n"
            f"from manifold_lab.plots import {plot.__name__}\n{reads}fig = {plot.__name__}(book)\n"
        )
        figure_downloads(st, fig, name=name, key=f"{widget}_dl", data=frame, code=code)
    raw = frame.drop(columns=["model", "images"], errors="ignore")
    shown, same = split_constants(raw.rename(columns=column_labels(raw.columns)))
    st.dataframe(shown, hide_index=True, key="ledger_table")
    if same:
        st.caption("In every row: " + "; ".join(f"{k}: {_fmt(v)}" for k, v in same.items()) + ".")
    bar.empty()


def _structure(result: ProbeResult) -> str:
    """The blocks in one sentence: how many, their expansion widths and thresholds."""
    frame = result.to_frame()
    expanded = frame[frame["has_expansion"].astype(bool)]
    text = f"{len(frame)} inverted-residual blocks, {len(expanded)} with an expansion layer"
    if len(expanded):
        width, threshold = expanded["hidden_channels"], expanded["threshold"]
        text += (
            f" ({width.min()} to {width.max()} channels; invertibility thresholds "
            f"{threshold.min():.0f} to {threshold.max():.0f} input channels)"
        )
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:g}"
    return str(value)
