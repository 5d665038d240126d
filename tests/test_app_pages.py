"""AppTest tests of the explorer's sweep, probe and ablation pages, and of page routing."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from manifold_lab.data import cifar10_sample
from manifold_lab.mobilenet import MobileNetV2Config
from manifold_lab.probing import ProbeReport
from manifold_lab.weights import load_model, save_checkpoint
from tests.conftest import APP, run_app


def _app(**query: str) -> AppTest:
    return run_app(timeout=240, **query)


def _chart(at: AppTest, key: str) -> dict[str, Any]:
    charts = [c for c in at.get("plotly_chart") if json.loads(c.proto.spec)]
    for c in charts:
        if c.proto.id and key in c.proto.id:
            return json.loads(c.proto.spec)
    raise AssertionError(f"no chart {key!r} among {[c.proto.id for c in charts]}")


def _array(value: Any) -> np.ndarray:
    """A figure's array as NumPy (plotly's JSON packs arrays as base64 ``bdata``)."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def _trace(fig: dict[str, Any], name: str, yaxis: str = "y") -> dict[str, Any]:
    (trace,) = [t for t in fig["data"] if t.get("name") == name and t.get("yaxis") == yaxis]
    return trace


def _data(fig: dict[str, Any]) -> str:
    return json.dumps(fig["data"], sort_keys=True)


def test_unknown_page_falls_back_with_a_notice() -> None:
    at = _app(page="nonsense")
    assert not at.exception
    assert any("page=nonsense" in w.value for w in at.warning)
    assert at.header[0].value == "Manifold lab"


def test_sweep_page_reacts_and_round_trips() -> None:
    at = _app(
        page="sweep", sw_max_width="12", sw_seeds="4", sw_points="200", ph_max_dim="2", ph_seeds="5"
    )
    assert not at.exception and not at.error
    before = _data(_chart(at, "sweep_chart"))
    phase = _data(_chart(at, "phase_chart"))
    at.slider(key="sw_max_width").set_value(16).run()
    assert not at.exception
    assert _data(_chart(at, "sweep_chart")) != before
    assert at.query_params["sw_max_width"] == ["16"] or at.query_params["sw_max_width"] == "16"
    at.multiselect(key="sw_activations").set_value(["relu", "identity"]).run()
    assert "identity" in _data(_chart(at, "sweep_chart"))
    at.slider(key="ph_seeds").set_value(6).run()
    assert _data(_chart(at, "phase_chart")) != phase
    for widget, key, value in [
        ("selectbox", "sw_method", "lstsq"),
        ("slider", "sw_points", 300),
        ("slider", "sw_seeds", 5),
        ("selectbox", "sw_manifold", "circle"),
        ("multiselect", "sw_metrics", ["nmse", "knn_recall"]),
    ]:
        before = _data(_chart(at, "sweep_chart"))
        getattr(at, widget)(key=key).set_value(value).run()
        assert not at.exception and not at.error, key
        assert _data(_chart(at, "sweep_chart")) != before, key
    at.slider(key="ph_max_dim").set_value(3).run()
    assert _data(_chart(at, "phase_chart")) != phase
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("PNG") == 2 and labels.count("CSV") == 2  # both figures


SMALL_SWEEP = {
    "page": "sweep",
    "sw_max_width": "12",
    "sw_seeds": "4",
    "sw_points": "200",
    "ph_max_dim": "1",
    "ph_seeds": "5",
}


def test_sweep_page_shows_estimate_result_and_readable_figures() -> None:
    at = _app(**SMALL_SWEEP, sw_metrics="knn_recall,nmse,invertible_fraction")
    assert not at.exception and not at.error
    (note,) = [c.value for c in at.caption if "cases computed" in c.value]
    assert "44 cases computed in" in note and "estimated" in note
    fig = _chart(at, "sweep_chart")
    titles = [a["text"] for a in fig["layout"]["annotations"]][:3]
    assert titles == ["kNN recall", "normalised error", "invertible fraction (Lemma 2)"]
    assert fig["layout"]["height"] >= 2 * 250 + 120  # two rows of panels >= 250 px each
    # the log panel's band stops at a tenth of the mean (the raw interval reaches <= 0)
    (band,) = [t for t in fig["data"] if t.get("fill") == "toself" and t["yaxis"] == "y2"]
    mean = _array(_trace(fig, "relu", "y2")["y"])
    lower = _array(band["y"])[len(mean) :][::-1]
    assert (lower / mean >= 0.1 - 1e-12).all()
    assert "band is drawn down to 0.1 x the mean" in fig["layout"]["title"]["subtitle"]["text"]
    phase = _chart(at, "phase_chart")
    assert not phase["layout"]["annotations"][0]["text"].startswith("(")
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "input dimension k",
        "P(injective) reaches",
        "critical ratio n/k",
        "95% CI low",
        "95% CI high",
        "seeds",
        "injectivity check",
    ]
    assert set(table["injectivity check"]) == {"exact (1-D)"}


def test_sweep_page_code_regenerates_its_figure() -> None:
    at = _app(**SMALL_SWEEP)
    (code,) = [c.value for c in at.get("code") if "plot_width_curves" in c.value]
    scope: dict[str, Any] = {}
    exec(code.replace("fig.show()", ""), scope)  # the page's own code string
    assert json.loads(scope["fig"].to_json())["data"] == _chart(at, "sweep_chart")["data"]


def test_long_sweep_asks_before_running(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(page="sweep", sw_max_width="128", sw_seeds="100", sw_points="5000", ph_max_dim="1")
    assert not at.exception and not at.error
    assert any("Estimated time" in c.value and "12,700 cases" in c.value for c in at.caption)
    assert any("would take about" in i.value for i in at.info)
    assert next(b.label for b in at.button if b.key == "sw_go").startswith("Run the sweep")
    assert not [c for c in at.get("plotly_chart") if "sweep_chart" in c.proto.id]
    # a sweep above the threshold runs when asked
    monkeypatch.syspath_prepend(str(APP.parent))
    import page_sweep

    monkeypatch.setattr(page_sweep, "CONFIRM_S", 0.0)
    at = _app(**{**SMALL_SWEEP, "sw_seeds": "3"})
    assert not [c for c in at.get("plotly_chart") if "sweep_chart" in c.proto.id]
    at.button(key="sw_go").click().run()
    assert not at.exception and not at.error
    _chart(at, "sweep_chart")


def test_stopped_sweep_keeps_its_part_and_continues(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop (a rerun in the middle) keeps the widths done; Continue does the rest."""
    monkeypatch.syspath_prepend(str(APP.parent))
    import page_sweep

    import manifold_lab as ml

    kwargs = page_sweep.sweep_kwargs("spiral", ["relu"], "pinv", 10, 3, 200, ["nmse"])
    key = repr(sorted(kwargs.items()))
    part = ml.sweep(**{**kwargs, "widths": [2, 3, 4]}, progress=False)
    at = AppTest.from_file(str(APP), default_timeout=240)
    for name, value in {**SMALL_SWEEP, "sw_max_width": "10", "sw_seeds": "3"}.items():
        at.query_params[name] = value
    at.query_params["sw_metrics"] = "nmse"
    run = {"parts": [part], "done": [2, 3, 4], "elapsed": 0.1, "stopped": True}
    monkeypatch.setitem(page_sweep.RUNS, key, run)  # shared by the sessions of the process
    at.run()
    assert not at.exception and not at.error
    assert any("Stopped after 3 of 9 widths" in w.value for w in at.warning)
    assert _array(_trace(_chart(at, "sweep_chart"), "relu")["x"]).tolist() == [2, 3, 4]
    at.button(key="sw_go").click().run()
    assert not at.warning and not at.error
    assert any("27 cases computed" in c.value for c in at.caption)
    full = _chart(at, "sweep_chart")
    assert _array(_trace(full, "relu")["x"]).tolist() == list(range(2, 11))


def test_sweep_page_bad_parameters_fall_back() -> None:
    at = _app(
        page="sweep",
        sw_max_width="999",
        sw_activations="relu,bogus",
        sw_seeds="3",
        sw_points="200",
        ph_max_dim="1",
        ph_seeds="5",
    )
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    assert "sw_max_width=999" in text and "sw_activations=relu,bogus" in text


@pytest.fixture(scope="module")
def probe_app() -> AppTest:
    return _app(page="probe", pr_model="random-cifar", pr_limit="16")


def test_probe_page_shows_figure7_and_reacts(probe_app: AppTest) -> None:
    at = probe_app
    assert not at.exception and not at.error
    fig = _chart(at, "fig7_chart")
    assert any("threshold" in (t.get("name") or "").lower() for t in fig["data"])
    _chart(at, "id_chart")
    assert len(at.dataframe) >= 2
    before = at.dataframe[0].value.to_json()
    at.slider(key="pr_limit").set_value(24).run()
    assert not at.exception
    assert at.dataframe[0].value.to_json() != before
    ids = _data(_chart(at, "id_chart"))
    at.number_input(key="pr_seed").set_value(1).run()
    assert not at.exception
    assert _data(_chart(at, "id_chart")) != ids  # another seeded sample of vectors


def test_probe_page_labels_and_code(probe_app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Display names, human column names, constants once, registry labels in legends, and
    regenerating code that runs."""
    at = probe_app
    text = " ".join(c.value for c in at.caption)
    assert "random initialisation (CIFAR-10 MobileNetV2)" in text
    assert "built-in CIFAR-10 sample" in text
    assert "17 inverted-residual blocks, 16 with an expansion layer" in text  # the structure
    table = at.dataframe[0].value
    assert {"block", "expansion channels", "threshold (input channels)"} & set(table.columns)
    assert "hidden_channels" not in table.columns and "model" not in table.columns
    assert "In every row: model: random initialisation" in text
    names = {t.get("name") for t in _chart(at, "id_chart")["data"]}
    assert {"TwoNN", "PCA (90% variance)"} <= names
    fig7 = _chart(at, "fig7_chart")
    assert fig7["layout"]["xaxis"]["title"]["text"] == "block index"
    assert _chart(at, "id_chart")["layout"]["xaxis"]["title"]["text"] == "block index"
    codes = [c.value for c in at.code]
    assert len(codes) == 2
    for code in codes:
        assert _run_code(code, monkeypatch).data


def test_probe_page_names_the_builtin_model() -> None:
    at = _app(page="probe", pr_model="builtin", pr_limit="8")
    assert not at.exception and not at.error
    text = " ".join(c.value for c in at.caption)
    assert "built-in CIFAR-10 model" in text
    shown = text + " ".join(d.value.to_csv() for d in at.dataframe)
    assert "_data/" not in shown and "checkpoint:" not in shown


def test_probe_page_uploads(tmp_path: Path) -> None:
    at = _app(page="probe", pr_model="upload", pr_images="upload", pr_limit="8")
    assert not at.exception
    # a corrupt checkpoint: a clear message, the app stays usable
    at.file_uploader(key="pr_upload_model").set_value(
        ("bad.pt", b"\x00garbage", "application/octet-stream")
    )
    at.run()
    assert not at.exception
    at.file_uploader(key="pr_upload_zip").set_value(("imgs.zip", b"not a zip", "application/zip"))
    at.run()
    assert not at.exception
    assert any("zip" in e.value or "checkpoint" in e.value for e in at.error)
    # a checkpoint of another architecture (10 classes, width 0.35) and a zip of real images
    model = load_model(
        None, config=MobileNetV2Config(num_classes=10, stem="cifar", width_mult=0.35)
    )
    path = save_checkpoint(model, tmp_path / "small.pt")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        sample = cifar10_sample()
        for i in range(8):
            img = Image.fromarray(sample[i][0].permute(1, 2, 0).numpy())
            b = io.BytesIO()
            img.save(b, format="PNG")
            zf.writestr(f"img_{i}.png", b.getvalue())
        zf.writestr("notes.txt", "not an image")
    at.file_uploader(key="pr_upload_model").set_value(
        ("small.pt", path.read_bytes(), "application/octet-stream")
    )
    at.file_uploader(key="pr_upload_zip").set_value(("imgs.zip", buf.getvalue(), "application/zip"))
    at.run()
    assert not at.exception and not at.error
    _chart(at, "fig7_chart")


def test_probe_page_rejects_a_non_image_zip() -> None:
    at = _app(page="probe", pr_model="random-cifar", pr_images="upload", pr_limit="8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    at.file_uploader(key="pr_upload_zip").set_value(("x.zip", buf.getvalue(), "application/zip"))
    at.run()
    assert not at.exception
    assert any("no images" in e.value for e in at.error)


def test_ablation_page_runs() -> None:
    at = _app(page="ablation")
    assert not at.exception and not at.error
    curves = _data(_chart(at, "curves_ablation_cpu"))
    _chart(at, "toy_chart")
    at.selectbox(key="ab_metric").set_value("train_loss").run()
    assert _data(_chart(at, "curves_ablation_cpu")) != curves
    assert at.query_params["ab_metric"] in ("train_loss", ["train_loss"])
    results = APP.parents[1] / "experiments" / "results" / "ablation_cpu_6ep_v1"
    at.text_input(key="ab_folder").set_value(str(results)).run()
    assert not at.exception and not at.error
    assert "relu6" in _data(_chart(at, "user_curves"))
    at.text_input(key="ab_folder").set_value("/nonexistent/runs").run()
    assert not at.exception
    assert any("Could not read runs" in e.value for e in at.error)


def _run_code(code: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run a page's regenerating code from the repository root; return its ``fig``."""
    monkeypatch.chdir(APP.parents[1])
    namespace: dict[str, Any] = {}
    exec(compile(code, "<figure code>", "exec"), namespace)
    return namespace["fig"]


def test_ablation_page_leads_with_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(page="ablation")
    assert not at.exception and not at.error
    table = at.dataframe[0].value  # the findings lead the page
    assert {"comparison", "decision", "95% CI (pts)"} <= set(table.columns)
    assert "linear - relu6" in set(table["comparison"])
    assert not table["study"].str.contains("6ep").any()
    assert not table["95% CI (pts)"].str.contains("inf").any()
    _chart(at, "findings_chart")
    # no raw JSON recipe in the page's text; recipes are tables inside expanders
    assert not any('{"amp"' in m.value or '"batch_size"' in m.value for m in at.markdown)
    recipes = [e for e in at.expander if e.label.startswith("Recipe")]
    assert recipes and all(len(e.dataframe) == 1 for e in recipes)
    assert "epochs" in set(recipes[0].dataframe[0].value["setting"])
    # the superseded study is archived (decided by its superseded.json), not among the findings
    archived = [e for e in at.expander if e.label.startswith("Archived runs")]
    assert len(archived) == 1
    assert any("ablation_cpu_6ep_v1" in m.value for m in archived[0].markdown)
    # every figure's regenerating code really regenerates it
    codes = [c.value for c in at.code]
    assert len(codes) >= 4
    for code in codes:
        fig = _run_code(code, monkeypatch)
        assert fig.data, code


def test_page_switch_keeps_the_url_in_step() -> None:
    at = _app()
    at.radio(key="page").set_value("ablation").run()
    assert not at.exception
    assert at.header[0].value == "Ablation results"
    page = at.query_params["page"]
    assert page in ("ablation", ["ablation"])


def test_checkpoint_for_another_architecture_is_explained(tmp_path: Path) -> None:
    torch.manual_seed(0)
    at = _app(page="probe", pr_model="upload", pr_limit="8")
    sd = {"features.0.0.weight": torch.zeros(1, 2, 3, 3)}
    buf = io.BytesIO()
    torch.save(sd, buf)
    at.file_uploader(key="pr_upload_model").set_value(
        ("other.pt", buf.getvalue(), "application/octet-stream")
    )
    at.run()
    assert not at.exception
    assert any("do not fit" in e.value or "shape" in e.value for e in at.error)


def test_probe_runner_drives_a_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe page's progress bar: fractions rise from 0 to 1, counting images."""
    monkeypatch.syspath_prepend(str(APP.parent))
    import page_probe

    page_probe._results().clear()
    calls: list[tuple[float, str]] = []
    found = page_probe.run_probe(
        "random-cifar", "cifar10-sample", None, 120, 0, report=lambda f, t: calls.append((f, t))
    )
    assert isinstance(found, ProbeReport) and found.result.metadata["n_images"] == 120
    again = page_probe.run_probe("random-cifar", "cifar10-sample", None, 120, 0)  # cached
    assert again.result is found.result and again.id_profile is found.id_profile
    assert again.bottleneck_loss is found.bottleneck_loss
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    texts = [t for _, t in calls]
    assert any("50 of 120 images" in t for t in texts) and any("120 of 120" in t for t in texts)
    assert len(calls) >= 6  # loading, five batches, ID, bottleneck loss, done


def test_probe_page_downloads_torchvision_weights(torchvision_server: dict[str, Path]) -> None:
    """Choosing torchvision's weights downloads them (here from a file:// stand-in) into the
    hub cache and probes with them."""
    at = _app(page="probe", pr_model="torchvision:IMAGENET1K_V1", pr_limit="8")
    assert not at.exception and not at.error, [e.value for e in at.error]
    _chart(at, "fig7_chart")
    assert [p.name for p in torchvision_server["hub"].iterdir()] == [
        torchvision_server["good"].name
    ]


def test_probe_page_shows_the_ledger_when_asked() -> None:
    at = _app(page="probe", pr_limit="16", pr_ledger="true")
    assert not at.exception and not at.error
    (table,) = [d.value for d in at.dataframe if "Block" in d.value.columns]
    assert len(table) >= 10
    assert not any("checkpoint:" in c.value for c in at.caption)  # display names only
    fig = _chart(at, "ledger_chart")
    assert fig["data"]
    (code,) = [c.value for c in at.get("code") if "plot_ledger_phase" in c.value]
    assert "ledger(ml.load_model('builtin')" in code
    blocks = _chart(at, "ledger_blocks_chart")  # the ledger block by block, same numbers
    assert len(blocks["data"]) == 5  # recovered, kNN recall and three errors
    exact = _array(blocks["data"][0]["y"])
    phase = next(t for t in fig["data"] if t.get("name") == "blocks")  # the same blocks
    np.testing.assert_allclose(np.sort(exact), np.sort(_array(phase["y"])))
    assert any("plot_ledger_blocks(book)" in c.value for c in at.get("code"))
    # off by default: a note, no second pass over the images
    off = _app(page="probe", pr_limit="16")
    assert not [d for d in off.dataframe if "Block" in d.value.columns]
    assert any("Information-loss ledger" in c.value for c in off.caption)
