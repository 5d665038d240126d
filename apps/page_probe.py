"""Bottleneck probe page: the paper's Appendix A measured inside a real MobileNetV2."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import streamlit as st
from _common import Spec, from_param, init_state, slider, sync_query, warn_bad

import manifold_lab as ml
from manifold_lab.plots import plot_figure7, plot_id_profile
from manifold_lab.probing import ProbeReport, probe_report
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
MAX_RESULTS = 8


@st.cache_resource(max_entries=4, show_spinner="Loading the model ...")
def load(source: str) -> Any:
    """The model for ``source`` (the library downloads torchvision's weights before)."""
    return ml.load_model(source, progress=False)


@st.cache_resource
def _results() -> OrderedDict[tuple[Any, ...], ProbeReport]:
    """Finished probes, shared by all sessions (a small LRU; st.cache_data cannot be used
    because the computation updates a progress bar drawn outside it)."""
    return OrderedDict()


def run_probe(
    source: str,
    images: str,
    data_root: str | None,
    limit: int,
    seed: int,
    report: Report | None = None,
) -> ProbeReport:
    """:func:`manifold_lab.probing.probe_report`, cached; ``report(fraction, text)`` tracks
    progress when it is computed."""
    key = (source, images, data_root, limit, seed)
    cache = _results()
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    cache[key] = probe_report(
        source,
        images,
        data_root=data_root or None,
        limit=limit,
        spread=True,
        seed=seed,
        batch_size=50,
        callback=report,
        model_loader=load,
    )
    while len(cache) > MAX_RESULTS:
        cache.popitem(last=False)
    return cache[key]


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
        "would destroy."
    )
    sb = st.sidebar
    sb.subheader("Probe settings")
    source = sb.selectbox("Model", tuple(MODELS), format_func=MODELS.__getitem__, key="pr_model")
    images = sb.selectbox("Images", tuple(IMAGES), format_func=IMAGES.__getitem__, key="pr_images")
    limit = slider(sb, PROBE["limit"], "pr_limit")
    seed = sb.number_input(
        PROBE["seed"].label, min_value=0, step=1, key="pr_seed", help=PROBE["seed"].help
    )
    sync_query(
        "probe", {"pr_model": source, "pr_images": images, "pr_limit": limit, "pr_seed": seed}
    )
    data_root = None
    bar = None
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
                source = str(in_use[-1].path)
            if zipped is not None:
                in_use.append(store.extract_images(zipped.getvalue(), zipped.name))
                images = str(in_use[-1].path)
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
        bar = progress = st.progress(0.0, text=f"Probing on {limit} images ...")
        stopped: list[BaseException] = []

        def show(fraction: float, text: str) -> None:
            # When the browser leaves or a widget changes, Streamlit raises its stop/rerun
            # signal from the next st call: note it, finish the probe so that it is cached
            # for the next run, and re-raise it afterwards.
            if stopped:
                return
            try:
                progress.progress(min(max(fraction, 0.0), 1.0), text)
            except BaseException as signal:  # re-raised below
                stopped.append(signal)

        found = run_probe(source, images, data_root, int(limit), int(seed), report=show)
        if stopped:
            raise stopped[0]
        bar.empty()
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as exc:
        if bar is not None:
            bar.empty()  # no empty "Loading ..." bar above the message
        message = str(exc) if store is None else store.explain(str(exc))
        st.error(f"Could not probe: {message}")
        return
    result, ids, loss = found.result, found.id_profile, found.bottleneck_loss
    meta = result.metadata
    res = meta.get("resolution")
    if isinstance(res, list | tuple):
        res = "/".join(
            "x".join(map(str, r)) if isinstance(r, list | tuple) else str(r) for r in res
        )
    st.caption(
        f"{meta.get('model', source)}: {meta.get('n_images')} images at "
        f"{res} px; Lemma 2's rank check on "
        f"{meta.get('rank_pixels_per_batch')} pixels per batch."
    )
    st.plotly_chart(plot_figure7(result), width="stretch", theme=None, key="fig7_chart")
    frame = result.to_frame()
    st.dataframe(frame, hide_index=True)
    st.download_button("Statistics (CSV)", frame.to_csv(index=False), "probe_stats.csv", "text/csv")
    st.subheader("Intrinsic dimension of the bottleneck vectors")
    st.plotly_chart(plot_id_profile(ids, dash=None), width="stretch", theme=None, key="id_chart")
    st.subheader("What a ReLU on the bottleneck would destroy")
    st.dataframe(loss, hide_index=True)
